import Testing
@testable import HTTPServer

/// One malformed request and exactly how it must be refused.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var error: HTTPParseError
    var status: Int
    var reason: String
    var limits = HTTPLimits()

    var testDescription: String { name }
}

/// `Host: a` plus a blank line: the tail of a minimal valid HTTP/1.1 head.
private let host = "Host: a\r\n"

private let malformedCases: [MalformedCase] = [
    // Framing and request smuggling.
    MalformedCase(name: "Content-Length with Transfer-Encoding",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  error: .contentLengthWithTransferEncoding, status: 400, reason: "both Content-Length and Transfer-Encoding"),
    MalformedCase(name: "Transfer-Encoding before Content-Length",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
                  error: .contentLengthWithTransferEncoding, status: 400, reason: "both Content-Length and Transfer-Encoding"),
    MalformedCase(name: "unknown coding gzip",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: gzip\r\n\r\n",
                  error: .unsupportedTransferCoding, status: 501, reason: "unsupported transfer coding"),
    MalformedCase(name: "gzip then chunked",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: gzip, chunked\r\n\r\n",
                  error: .unsupportedTransferCoding, status: 501, reason: "unsupported transfer coding"),
    MalformedCase(name: "identity coding",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: identity\r\n\r\n",
                  error: .unsupportedTransferCoding, status: 501, reason: "unsupported transfer coding"),
    MalformedCase(name: "chunked not last",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked, gzip\r\n\r\n",
                  error: .chunkedNotFinal, status: 400, reason: "chunked is not the final transfer coding"),
    MalformedCase(name: "chunked twice in one list",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked, chunked\r\n\r\n",
                  error: .chunkedRepeated, status: 400, reason: "chunked applied more than once"),
    MalformedCase(name: "chunked on two lines",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
                  error: .chunkedRepeated, status: 400, reason: "chunked applied more than once"),
    MalformedCase(name: "empty Transfer-Encoding",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding:\r\n\r\n",
                  error: .malformedTransferEncoding, status: 400, reason: "malformed Transfer-Encoding"),
    MalformedCase(name: "empty list element in Transfer-Encoding",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked,\r\n\r\n",
                  error: .malformedTransferEncoding, status: 400, reason: "malformed Transfer-Encoding"),
    MalformedCase(name: "coding with parameters",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: gzip;q=1, chunked\r\n\r\n",
                  error: .malformedTransferEncoding, status: 400, reason: "malformed Transfer-Encoding"),
    MalformedCase(name: "Transfer-Encoding in HTTP/1.0",
                  text: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  error: .transferEncodingInHTTP10, status: 400, reason: "Transfer-Encoding in HTTP/1.0 request"),
    MalformedCase(name: "differing Content-Length lines",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                  error: .conflictingContentLength, status: 400, reason: "conflicting Content-Length values"),
    MalformedCase(name: "differing Content-Length list",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: 5, 6\r\n\r\nhello!",
                  error: .conflictingContentLength, status: 400, reason: "conflicting Content-Length values"),
    MalformedCase(name: "signed Content-Length",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: +5\r\n\r\nhello",
                  error: .invalidContentLength, status: 400, reason: "invalid Content-Length"),
    MalformedCase(name: "negative Content-Length",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: -1\r\n\r\n",
                  error: .invalidContentLength, status: 400, reason: "invalid Content-Length"),
    MalformedCase(name: "hex Content-Length",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: 0x10\r\n\r\n",
                  error: .invalidContentLength, status: 400, reason: "invalid Content-Length"),
    MalformedCase(name: "space inside Content-Length",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: 1 0\r\n\r\n",
                  error: .invalidContentLength, status: 400, reason: "invalid Content-Length"),
    MalformedCase(name: "empty Content-Length",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length:\r\n\r\n",
                  error: .invalidContentLength, status: 400, reason: "invalid Content-Length"),
    MalformedCase(name: "overflowing Content-Length",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: 99999999999999999999\r\n\r\n",
                  error: .contentLengthOverflow, status: 400, reason: "Content-Length too large to represent"),
    MalformedCase(name: "Content-Length over the body limit",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length: 67108865\r\n\r\n",
                  error: .bodyTooLarge, status: 413, reason: "request body too large"),

    // Field lines.
    MalformedCase(name: "obs-fold continuation line",
                  text: "GET / HTTP/1.1\r\n\(host)X-Long: first\r\n second\r\n\r\n",
                  error: .obsoleteLineFolding, status: 400, reason: "obsolete line folding in header"),
    MalformedCase(name: "whitespace before the first field",
                  text: "GET / HTTP/1.1\r\n \(host)\r\n",
                  error: .obsoleteLineFolding, status: 400, reason: "obsolete line folding in header"),
    MalformedCase(name: "space between name and colon",
                  text: "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                  error: .whitespaceBeforeColon, status: 400, reason: "whitespace between header name and colon"),
    MalformedCase(name: "tab between name and colon",
                  text: "POST / HTTP/1.1\r\n\(host)Content-Length\t: 1\r\n\r\nx",
                  error: .whitespaceBeforeColon, status: 400, reason: "whitespace between header name and colon"),
    MalformedCase(name: "separator in header name",
                  text: "GET / HTTP/1.1\r\n\(host)X(A): b\r\n\r\n",
                  error: .invalidFieldName, status: 400, reason: "invalid header name"),
    MalformedCase(name: "empty header name",
                  text: "GET / HTTP/1.1\r\n\(host): b\r\n\r\n",
                  error: .invalidFieldName, status: 400, reason: "invalid header name"),
    MalformedCase(name: "header line without colon",
                  text: "GET / HTTP/1.1\r\n\(host)NoColonHere\r\n\r\n",
                  error: .missingColon, status: 400, reason: "header line without colon"),
    MalformedCase(name: "control character in value",
                  text: "GET / HTTP/1.1\r\n\(host)X-A: a\u{01}b\r\n\r\n",
                  error: .invalidFieldValue, status: 400, reason: "control character in header value"),
    MalformedCase(name: "NUL in value",
                  text: "GET / HTTP/1.1\r\n\(host)X-A: a\u{00}\r\n\r\n",
                  error: .invalidFieldValue, status: 400, reason: "control character in header value"),
    MalformedCase(name: "DEL in value",
                  text: "GET / HTTP/1.1\r\n\(host)X-A: \u{7F}\r\n\r\n",
                  error: .invalidFieldValue, status: 400, reason: "control character in header value"),

    // Host.
    MalformedCase(name: "HTTP/1.1 without Host",
                  text: "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
                  error: .missingHost, status: 400, reason: "missing Host header"),
    MalformedCase(name: "two Host fields",
                  text: "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
                  error: .multipleHosts, status: 400, reason: "more than one Host header"),
    MalformedCase(name: "two Host fields in HTTP/1.0",
                  text: "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
                  error: .multipleHosts, status: 400, reason: "more than one Host header"),
    MalformedCase(name: "Host joined as a list",
                  text: "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n",
                  error: .invalidHost, status: 400, reason: "invalid Host header"),

    // Line endings.
    MalformedCase(name: "bare CR in request line",
                  text: "GET / HTTP/1.1\rHost: a\r\n\r\n",
                  error: .bareCR, status: 400, reason: "bare CR in request"),
    MalformedCase(name: "bare CR in header value",
                  text: "GET / HTTP/1.1\r\n\(host)X-A: a\rb\r\n\r\n",
                  error: .bareCR, status: 400, reason: "bare CR in request"),
    MalformedCase(name: "LF-only line endings",
                  text: "GET / HTTP/1.1\nHost: a\n\n",
                  error: .bareLF, status: 400, reason: "line not terminated by CRLF"),
    MalformedCase(name: "LF-only end of header section",
                  text: "GET / HTTP/1.1\r\n\(host)\n",
                  error: .bareLF, status: 400, reason: "line not terminated by CRLF"),

    // Request line.
    MalformedCase(name: "two spaces after method",
                  text: "GET  / HTTP/1.1\r\n\(host)\r\n",
                  error: .malformedRequestLine, status: 400, reason: "malformed request line"),
    MalformedCase(name: "trailing space after version",
                  text: "GET / HTTP/1.1 \r\n\(host)\r\n",
                  error: .malformedRequestLine, status: 400, reason: "malformed request line"),
    MalformedCase(name: "HTTP/0.9 style request line",
                  text: "GET /\r\n\r\n",
                  error: .malformedRequestLine, status: 400, reason: "malformed request line"),
    MalformedCase(name: "tab as separator",
                  text: "GET\t/ HTTP/1.1\r\n\(host)\r\n",
                  error: .malformedRequestLine, status: 400, reason: "malformed request line"),
    MalformedCase(name: "separator in method",
                  text: "GE(T / HTTP/1.1\r\n\(host)\r\n",
                  error: .invalidMethod, status: 400, reason: "invalid method"),
    MalformedCase(name: "absolute-form target",
                  text: "GET http://example.com/ HTTP/1.1\r\n\(host)\r\n",
                  error: .targetNotOriginForm, status: 400, reason: "request target must be an absolute path"),
    MalformedCase(name: "authority-form target",
                  text: "CONNECT example.com:443 HTTP/1.1\r\n\(host)\r\n",
                  error: .targetNotOriginForm, status: 400, reason: "request target must be an absolute path"),
    MalformedCase(name: "asterisk target with GET",
                  text: "GET * HTTP/1.1\r\n\(host)\r\n",
                  error: .asteriskTargetNotAllowed, status: 400, reason: "asterisk request target is only allowed with OPTIONS"),
    MalformedCase(name: "fragment in target",
                  text: "GET /a#b HTTP/1.1\r\n\(host)\r\n",
                  error: .invalidTarget, status: 400, reason: "invalid character in request target"),
    MalformedCase(name: "non-ASCII byte in target",
                  text: "GET /é HTTP/1.1\r\n\(host)\r\n",
                  error: .invalidTarget, status: 400, reason: "invalid character in request target"),
    MalformedCase(name: "truncated percent-encoding",
                  text: "GET /a%4 HTTP/1.1\r\n\(host)\r\n",
                  error: .invalidPercentEncoding, status: 400, reason: "invalid percent-encoding in request target"),
    MalformedCase(name: "non-hex percent-encoding in query",
                  text: "GET /a?x=%zz HTTP/1.1\r\n\(host)\r\n",
                  error: .invalidPercentEncoding, status: 400, reason: "invalid percent-encoding in request target"),
    MalformedCase(name: "percent-encoded invalid UTF-8",
                  text: "GET /%FF HTTP/1.1\r\n\(host)\r\n",
                  error: .targetNotUTF8, status: 400, reason: "request target is not UTF-8"),
    MalformedCase(name: "lower-case protocol name",
                  text: "GET / http/1.1\r\n\(host)\r\n",
                  error: .malformedVersion, status: 400, reason: "malformed HTTP version"),
    MalformedCase(name: "two-digit minor version",
                  text: "GET / HTTP/1.10\r\n\(host)\r\n",
                  error: .malformedVersion, status: 400, reason: "malformed HTTP version"),
    MalformedCase(name: "HTTP/2.0",
                  text: "GET / HTTP/2.0\r\n\(host)\r\n",
                  error: .unsupportedVersion, status: 505, reason: "HTTP version not supported"),
    MalformedCase(name: "HTTP/0.9 version",
                  text: "GET / HTTP/0.9\r\n\(host)\r\n",
                  error: .unsupportedVersion, status: 505, reason: "HTTP version not supported"),

    // Chunked bodies.
    MalformedCase(name: "chunk size with 0x prefix",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
                  error: .invalidChunkSize, status: 400, reason: "invalid chunk size"),
    MalformedCase(name: "negative chunk size",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n-1\r\n",
                  error: .invalidChunkSize, status: 400, reason: "invalid chunk size"),
    MalformedCase(name: "trailing space after chunk size",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
                  error: .invalidChunkSize, status: 400, reason: "invalid chunk size"),
    MalformedCase(name: "empty chunk size",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n\r\n",
                  error: .invalidChunkSize, status: 400, reason: "invalid chunk size"),
    MalformedCase(name: "overflowing chunk size",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n",
                  error: .chunkSizeOverflow, status: 400, reason: "chunk size too large to represent"),
    MalformedCase(name: "chunk over the body limit",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n4000001\r\n",
                  error: .bodyTooLarge, status: 413, reason: "request body too large"),
    MalformedCase(name: "chunk data longer than its size",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n",
                  error: .missingChunkTerminator, status: 400, reason: "chunk data not followed by CRLF"),
    MalformedCase(name: "chunk data ended by LF only",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
                  error: .bareLF, status: 400, reason: "line not terminated by CRLF"),
    MalformedCase(name: "control byte in chunk extension",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5;a=\u{01}\r\nhello\r\n0\r\n\r\n",
                  error: .invalidChunkSize, status: 400, reason: "invalid chunk size"),
    MalformedCase(name: "obs-fold in trailer",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n",
                  error: .obsoleteLineFolding, status: 400, reason: "obsolete line folding in header"),

    // Limits, at their exact boundary (the accepted side is tested in HTTPLimitsTests).
    MalformedCase(name: "request line one byte too long",
                  text: "GET /\(String(repeating: "a", count: 8 * 1024 - 13)) HTTP/1.1\r\n\(host)\r\n",
                  error: .requestLineTooLong, status: 414, reason: "request line too long"),
    MalformedCase(name: "endless empty lines",
                  text: String(repeating: "\r\n", count: 4097),
                  error: .tooManyEmptyLines, status: 400, reason: "too many empty lines before request line"),
    MalformedCase(name: "header section one byte too large",
                  text: "GET / HTTP/1.1\r\n\(host)X-Big: \(String(repeating: "b", count: 16 * 1024 - 13))\r\n\r\n",
                  error: .headerSectionTooLarge, status: 431, reason: "header section too large"),
    MalformedCase(name: "101 header fields",
                  text: "GET / HTTP/1.1\r\n\(host)" + (1...100).map { "X-\($0): v\r\n" }.joined() + "\r\n",
                  error: .tooManyFields, status: 431, reason: "too many header fields"),
    MalformedCase(name: "trailers sharing the header budget",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n",
                  error: .tooManyFields, status: 431, reason: "too many header fields",
                  limits: HTTPLimits(maxHeaderFieldCount: 3)),
    MalformedCase(name: "chunk extension too long",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5;\(String(repeating: "e", count: 1024))\r\nhello\r\n0\r\n\r\n",
                  error: .chunkLineTooLong, status: 400, reason: "chunk size line too long"),
    MalformedCase(name: "chunked body over a small limit across chunks",
                  text: "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                  error: .bodyTooLarge, status: 413, reason: "request body too large",
                  limits: HTTPLimits(maxBodyLength: 10)),
]

/// Every malformed request is refused with its exact error, however the bytes are split, and
/// leaves the parser poisoned.
@Suite struct MalformedRequestTests {
    @Test func theTableCoversAtLeastThirtyCases() {
        #expect(malformedCases.count >= 30)
        #expect(Set(malformedCases.map(\.name)).count == malformedCases.count)
    }

    @Test(arguments: malformedCases)
    func malformedRequestIsRefusedWithItsStatusAndReason(_ row: MalformedCase) {
        let events = Feed.checkedEvents(row.text, limits: row.limits, splits: 5)
        // A body's faults come after its head is announced.
        #expect(events.filter { if case .bodyFollows = $0 { false } else { true } } == [.failure(row.error)])
        #expect(events.count <= 2)
        #expect(row.error.status == row.status)
        #expect(row.error.reason == row.reason)
    }

    @Test(arguments: malformedCases)
    func theParserIsPoisonedAfterwards(_ row: MalformedCase) {
        var parser = HTTPRequestParser(limits: row.limits)
        _ = parser.feed(Array(row.text.utf8))
        #expect(parser.error == row.error)
        #expect(parser.isFinished)
        #expect(parser.feed(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)).isEmpty)
    }
}

/// Every malformed request of the table, sent to a live server over a socket: answered with
/// its status as problem+json carrying the reason, and the connection closed.
@Suite(.serialized) struct MalformedRequestsOverSocketsTests {
    static let liveCases = malformedCases.filter { $0.limits == HTTPLimits() }

    @Test func everyMalformedRequestIsRefusedByTheLiveServer() throws {
        #expect(Self.liveCases.count >= 30)
        // A route for the cases' bodies, so that their heads are admitted and their bodies read.
        var router = TestRoutes.router()
        router.add("POST", "/") { request, _ in HTTPResponse(body: .bytes(request.body)) }
        try withServer(router: router) { server in
            for c in Self.liveCases {
                let client = try TestClient(port: server.port)
                try client.send(c.text)
                let response = try client.readResponse()
                #expect(response.status == c.status, "\(c.name): \(response.status)")
                #expect(response.header("Content-Type") == "application/problem+json", "\(c.name)")
                #expect(response.text.contains(c.reason), "\(c.name): \(response.text)")
                #expect(try client.readsEndOfStream(), "\(c.name): the connection must close")
            }
        }
    }
}
