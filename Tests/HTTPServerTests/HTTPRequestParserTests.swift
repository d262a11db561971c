import Testing
@testable import HTTPServer

/// Valid requests: each is also checked byte-at-a-time and under random splits by
/// `Feed.checkedEvents`.
@Suite struct HTTPRequestParserTests {
    @Test func simpleGetIsParsedIntoItsParts() throws {
        let events = Feed.checkedEvents("GET /v1/jobs/42 HTTP/1.1\r\nHost: localhost:8080\r\nAccept: */*\r\nX-Empty:\r\n\r\n")
        let request = try #require(Feed.requests(events).first)
        #expect(events.count == 1)
        #expect(request.method == "GET")
        #expect(request.target == "/v1/jobs/42")
        #expect(request.path == "/v1/jobs/42")
        #expect(request.queryItems.isEmpty)
        #expect(request.version == .http1_1)
        #expect(request.headers.fields == [
            HTTPField(name: "Host", value: "localhost:8080"),
            HTTPField(name: "Accept", value: "*/*"),
            HTTPField(name: "X-Empty", value: ""),
        ])
        #expect(request.body.isEmpty)
        #expect(request.keepAlive)
    }

    @Test func headerLookupIgnoresCaseAndKeepsOrderAndRepeats() throws {
        let events = Feed.checkedEvents("GET / HTTP/1.1\r\nhOsT: a\r\nX-Tag: one\r\nx-tag:  two \t\r\n\r\n")
        let headers = try #require(Feed.requests(events).first).headers
        #expect(headers["HOST"] == "a")
        #expect(headers["x-TAG"] == "one")
        #expect(headers.values(named: "X-Tag") == ["one", "two"])
        #expect(headers.contains(name: "host"))
        #expect(!headers.contains(name: "Content-Length"))
        #expect(headers.map(\.name) == ["hOsT", "X-Tag", "x-tag"])
    }

    @Test func postWithContentLengthCarriesItsBody() throws {
        let body = #"{"name":"demo","steps":1000}"#
        let events = Feed.checkedEvents("POST /v1/jobs HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let request = try #require(Feed.requests(events).first)
        #expect(request.method == "POST")
        #expect(request.bodyText == body)
    }

    @Test func equalDuplicateContentLengthsAreAcceptedAsOne() throws {
        let events = Feed.checkedEvents("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3, 03\r\n\r\nabc")
        #expect(try #require(Feed.requests(events).first).bodyText == "abc")
    }

    @Test func zeroContentLengthIsAnEmptyBody() throws {
        let events = Feed.checkedEvents("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        #expect(try #require(Feed.requests(events).first).body.isEmpty)
    }

    @Test func chunkedBodyIgnoresExtensionsAndDiscardsTrailers() throws {
        let events = Feed.checkedEvents(
            "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n6 ; ext=\"quoted; text\"\r\n world\r\nA\r\n, chunked!\r\n"
                + "0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n")
        let request = try #require(Feed.requests(events).first)
        #expect(events.count == 2, "the head is announced, then the request")
        #expect(request.bodyText == "hello world, chunked!")
        #expect(!request.headers.contains(name: "X-Checksum"))
        #expect(request.headers["Transfer-Encoding"] == "Chunked")
    }

    @Test func chunkSizesMayHaveLeadingZerosAndEitherCase() throws {
        let events = Feed.checkedEvents("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n000000000000000000000001\r\nx\r\n0a\r\n0123456789\r\n0\r\n\r\n")
        #expect(try #require(Feed.requests(events).first).bodyText == "x0123456789")
    }

    @Test func threePipelinedRequestsInOneBufferComeOutInOrder() {
        let events = Feed.checkedEvents(
            "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
                + "PUT /third HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nend\r\n0\r\n\r\n")
        let requests = Feed.requests(events)
        #expect(events.count == 5, "three requests, two of them announced as having a body")
        #expect(requests.map(\.method) == ["GET", "POST", "PUT"])
        #expect(requests.map(\.path) == ["/first", "/second", "/third"])
        #expect(requests.map(\.bodyText) == ["", "body", "end"])
    }

    @Test func anEmptyLineBeforeARequestLineIsSkipped() {
        let events = Feed.checkedEvents("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(Feed.requests(events).map(\.path) == ["/"])
    }

    /// One row of the persistence table: version, `Connection` value, expected `keepAlive`.
    struct KeepAliveCase: Sendable, CustomTestStringConvertible {
        var version: String
        var connection: String?
        var keepAlive: Bool
        var testDescription: String { "\(version) Connection: \(connection ?? "-") → \(keepAlive)" }
    }

    @Test(arguments: [
        KeepAliveCase(version: "HTTP/1.1", connection: nil, keepAlive: true),
        KeepAliveCase(version: "HTTP/1.1", connection: "close", keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: "keep-alive, Close", keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: "Upgrade", keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: nil, keepAlive: false),
        KeepAliveCase(version: "HTTP/1.0", connection: "keep-alive", keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: "Keep-Alive, TE", keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: "keep-alive, close", keepAlive: false),
        KeepAliveCase(version: "HTTP/1.2", connection: nil, keepAlive: true),
    ])
    func keepAliveFollowsTheVersionAndConnectionRules(_ row: KeepAliveCase) throws {
        let connectionLine = row.connection.map { "Connection: \($0)\r\n" } ?? ""
        let events = Feed.checkedEvents("GET / \(row.version)\r\nHost: a\r\n\(connectionLine)\r\n")
        #expect(try #require(Feed.requests(events).first).keepAlive == row.keepAlive)
    }

    @Test func http10NeedsNoHost() throws {
        let events = Feed.checkedEvents("GET / HTTP/1.0\r\n\r\n")
        #expect(try #require(Feed.requests(events).first).version == .http1_0)
    }

    @Test func bytesAfterAClosingRequestAreNeverParsed() {
        let text = "GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(Feed.requests(Feed.checkedEvents(text)).map(\.path) == ["/a"])
        var parser = HTTPRequestParser()
        let events = parser.feed(Array(text.utf8))
        #expect(Feed.requests(events).map(\.path) == ["/a"])
        #expect(parser.isFinished)
        #expect(parser.error == nil)
        #expect(parser.feed(Array("garbage\r\n\r\n".utf8)).isEmpty)
    }

    @Test func queryItemsAreDecodedWithPlusAsSpaceOnlyInTheQuery() throws {
        let events = Feed.checkedEvents(
            "GET /v1/a+b%20c/%E2%9C%93?status=running&page_size=20&name=a+b%20c&empty=&flag&&x=%2B%3D&caf%C3%A9=%C3%A9t%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n")
        let request = try #require(Feed.requests(events).first)
        #expect(request.path == "/v1/a+b c/✓")
        #expect(request.queryItems == [
            HTTPQueryItem(name: "status", value: "running"),
            HTTPQueryItem(name: "page_size", value: "20"),
            HTTPQueryItem(name: "name", value: "a b c"),
            HTTPQueryItem(name: "empty", value: ""),
            HTTPQueryItem(name: "flag", value: ""),
            HTTPQueryItem(name: "x", value: "+="),
            HTTPQueryItem(name: "café", value: "été"),
        ])
        #expect(request.head.queryValue(named: "page_size") == "20")
        #expect(request.head.queryValue(named: "missing") == nil)
    }

    @Test func optionsAsteriskIsTheOnlyNonOriginTarget() throws {
        let events = Feed.checkedEvents("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        let request = try #require(Feed.requests(events).first)
        #expect(request.target == "*")
        #expect(request.path == "*")
    }

    @Test func expectContinueIsAnnouncedBeforeTheBody() throws {
        var parser = HTTPRequestParser()
        let head = parser.feed(Array("POST /v1/jobs HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n".utf8))
        guard case .bodyFollows(let announced, declaredLength: 2, expectsContinue: true) = try #require(head.first), head.count == 1 else {
            Issue.record("expected one bodyFollows event asking for 100 Continue, got \(head)")
            return
        }
        #expect(announced.path == "/v1/jobs")
        let rest = parser.feed(Array("{}".utf8))
        #expect(rest == [.request(HTTPRequest(head: announced, body: Array("{}".utf8)))])
        let whole = Feed.checkedEvents("POST /v1/jobs HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n{}")
        #expect(whole == head + rest)
    }

    @Test func expectContinueIsAnnouncedForChunkedBodiesToo() {
        let events = Feed.checkedEvents("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n")
        guard case .bodyFollows(_, declaredLength: nil, expectsContinue: true) = events.first else {
            Issue.record("expected bodyFollows (chunked, asking for 100 Continue) first, got \(events)")
            return
        }
        #expect(Feed.requests(events).map(\.bodyText) == ["x"])
    }

    @Test(arguments: [
        "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        "POST / HTTP/1.0\r\nExpect: something-else\r\nContent-Length: 1\r\n\r\nx",
    ])
    func expectContinueIsIgnoredWithoutABodyOrInHTTP10(text: String) {
        let events = Feed.checkedEvents(text)
        #expect(Feed.requests(events).count == 1)
        for event in events {
            if case .bodyFollows(_, _, let expectsContinue) = event { #expect(!expectsContinue) }
        }
    }

    @Test(arguments: [
        "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
        "GET / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, 200-ok\r\nContent-Length: 1\r\n\r\nx",
    ])
    func anExpectationOtherThanContinueIsRefusedWith417(text: String) {
        let events = Feed.checkedEvents(text)
        #expect(events == [.failure(.unsupportedExpectation)])
        #expect(HTTPParseError.unsupportedExpectation.status == 417)
    }

    @Test func aValidRequestBeforeGarbageIsStillDelivered() {
        let events = Feed.checkedEvents("GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n")
        #expect(events.count == 2)
        #expect(Feed.requests(events).map(\.path) == ["/ok"])
        #expect(events.last == .failure(.invalidContentLength))
    }

    @Test func aFailurePoisonsTheParser() {
        var parser = HTTPRequestParser()
        #expect(parser.feed(Array("GET / HTTP/1.1\nHost: a\n\n".utf8)) == [.failure(.bareLF)])
        #expect(parser.error == .bareLF)
        #expect(parser.isFinished)
        #expect(parser.feed(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)).isEmpty)
        #expect(parser.finish() == nil)
    }

    @Test func closingMidRequestIsAnIncompleteRequest() {
        var parser = HTTPRequestParser()
        #expect(parser.feed(Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc".utf8)).count == 1, "the head only")
        #expect(parser.bodyBytesReceived == 3)
        #expect(parser.finish() == .failure(.incompleteRequest))
        #expect(parser.error == .incompleteRequest)
    }

    @Test func closingBetweenRequestsIsClean() {
        var parser = HTTPRequestParser()
        #expect(Feed.requests(parser.feed(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))).count == 1)
        #expect(parser.finish() == nil)
        #expect(parser.error == nil)
    }

    @Test func aRawBufferPointerCanBeFedDirectly() {
        var parser = HTTPRequestParser()
        let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let events = bytes.withUnsafeBytes { parser.feed($0) }
        #expect(Feed.requests(events).count == 1)
    }

    @Test(.timeLimit(.minutes(1)))
    func aLargeBodyFedInSmallPiecesTakesLinearTime() throws {
        let length = 1 << 20
        var parser = HTTPRequestParser()
        var events = parser.feed(Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(length)\r\n\r\n".utf8))
        let piece = [UInt8](repeating: UInt8(ascii: "z"), count: 7)
        var sent = 0
        while sent < length {
            let count = min(piece.count, length - sent)
            events += parser.feed(piece[..<count])
            sent += count
        }
        #expect(try #require(Feed.requests(events).first).body.count == length)
    }

    @Test(.timeLimit(.minutes(1)))
    func aLargeChunkedBodyFedInSmallPiecesTakesLinearTime() throws {
        let chunk = Array("400;x\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "z"), count: 0x400) + Array("\r\n".utf8)
        let chunks = 1024
        var parser = HTTPRequestParser()
        var events = parser.feed(Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        let stream = Array(repeating: chunk, count: chunks).joined() + Array("0\r\n\r\n".utf8)
        var start = stream.startIndex
        while start < stream.endIndex {
            let end = min(stream.endIndex, start + 7)
            events += parser.feed(stream[start..<end])
            start = end
        }
        #expect(try #require(Feed.requests(events).first).body.count == chunks * 0x400)
    }
}
