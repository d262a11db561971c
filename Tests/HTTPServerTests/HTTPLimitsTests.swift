import Testing
@testable import HTTPServer

/// Each limit accepts a request exactly at it (the side one byte over is in the malformed table).
@Suite struct HTTPLimitsTests {
    @Test func defaultsAreTheDocumentedLimits() {
        let limits = HTTPLimits()
        #expect(limits.maxRequestLineLength == 8192)
        #expect(limits.maxHeaderSectionLength == 16384)
        #expect(limits.maxHeaderFieldCount == 100)
        #expect(limits.maxBodyLength == 64 << 20)
    }

    @Test func aRequestLineExactlyAtTheLimitIsAccepted() {
        let line = "GET /\(String(repeating: "a", count: 8 * 1024 - 14)) HTTP/1.1"
        #expect(line.utf8.count == 8 * 1024)
        let events = Feed.checkedEvents("\(line)\r\nHost: a\r\n\r\n", splits: 3)
        #expect(Feed.requests(events).count == 1)
    }

    @Test func aHeaderSectionExactlyAtTheLimitIsAccepted() {
        let big = "X-Big: \(String(repeating: "b", count: 16 * 1024 - 7 - 7))"
        #expect("Host: a".utf8.count + big.utf8.count == 16 * 1024)
        let events = Feed.checkedEvents("GET / HTTP/1.1\r\nHost: a\r\n\(big)\r\n\r\n", splits: 3)
        #expect(Feed.requests(events).count == 1)
    }

    @Test func exactlyTheMaximumNumberOfFieldsIsAccepted() {
        let fields = (1...99).map { "X-\($0): v\r\n" }.joined()
        let events = Feed.checkedEvents("GET / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n", splits: 3)
        #expect(Feed.requests(events).first?.headers.count == 100)
    }

    @Test func aBodyExactlyAtTheLimitIsAccepted() {
        let limits = HTTPLimits(maxBodyLength: 11)
        let fixed = Feed.checkedEvents("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", limits: limits)
        let chunked = Feed.checkedEvents("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", limits: limits)
        #expect(Feed.requests(fixed).map(\.bodyText) == ["hello world"])
        #expect(Feed.requests(chunked).map(\.bodyText) == ["hello world"])
    }

    @Test func aRequestLineOverTheLimitIsRefusedBeforeItsEndArrives() {
        var parser = HTTPRequestParser(limits: HTTPLimits(maxRequestLineLength: 16))
        #expect(parser.feed(Array("GET /0123456789abc".utf8)) == [.failure(.requestLineTooLong)])
    }
}
