import JSON
import Testing
@testable import HTTPServer

/// Routing without sockets: matching, specificity, 404 and 405 answers, the route table.
@Suite struct RouterTests {
    private static func request(_ method: String, _ path: String) -> HTTPRequest {
        HTTPRequest(head: HTTPRequestHead(method: method, target: path, path: path, queryItems: [],
                                          version: .http1_1, headers: ["Host": "a"], keepAlive: true))
    }

    private static func text(_ response: HTTPResponse) -> String {
        guard case .bytes(let bytes) = response.body else { return "<stream>" }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func jobRouter() -> Router {
        var router = Router()
        router.add("GET", "/v1/jobs") { _, _ in HTTPResponse(contentType: "text/plain", text: "list") }
        router.add("POST", "/v1/jobs") { _, _ in HTTPResponse(contentType: "text/plain", text: "submit") }
        router.add("GET", "/v1/jobs/{id}") { _, parameters in
            HTTPResponse(contentType: "text/plain", text: "job \(parameters["id"] ?? "?")")
        }
        router.add("DELETE", "/v1/jobs/{id}") { _, _ in HTTPResponse(status: 204) }
        router.add("GET", "/v1/jobs/{id}/events") { _, parameters in
            HTTPResponse(contentType: "text/plain", text: "events \(parameters["id"] ?? "?")")
        }
        router.add("GET", "/v1/jobs/stats") { _, _ in HTTPResponse(contentType: "text/plain", text: "stats") }
        return router
    }

    @Test func parametersAreBoundByName() {
        let router = Self.jobRouter()
        #expect(Self.text(router.respond(to: Self.request("GET", "/v1/jobs/j-42"))) == "job j-42")
        #expect(Self.text(router.respond(to: Self.request("GET", "/v1/jobs/j-42/events"))) == "events j-42")
        #expect(Self.text(router.respond(to: Self.request("POST", "/v1/jobs"))) == "submit")
    }

    @Test func aLiteralSegmentBeatsAParameterWhateverTheOrderAdded() {
        #expect(Self.text(Self.jobRouter().respond(to: Self.request("GET", "/v1/jobs/stats"))) == "stats")
    }

    @Test(arguments: ["/v1/jobs/", "/v1/jobs//events", "/v1", "/v1/jobs/a/b", "/V1/jobs"])
    func pathsThatMatchNoPatternAre404(path: String) {
        let response = Self.jobRouter().respond(to: Self.request("GET", path))
        #expect(response.status == 404)
        #expect(response.headers["Content-Type"] == "application/problem+json")
    }

    @Test func wrongMethodIs405WithTheAllowedMethods() {
        let response = Self.jobRouter().respond(to: Self.request("PATCH", "/v1/jobs/7"))
        #expect(response.status == 405)
        #expect(response.headers["Allow"] == "GET, DELETE, HEAD")
        #expect(Self.text(response).contains(#""status":405"#))
        #expect(Self.jobRouter().respond(to: Self.request("DELETE", "/v1/jobs")).headers["Allow"] == "GET, POST, HEAD")
    }

    @Test func headIsServedByGet() {
        #expect(Self.text(Self.jobRouter().respond(to: Self.request("HEAD", "/v1/jobs/3"))) == "job 3")
    }

    @Test func theRouteTableListsEveryRouteInOrder() {
        #expect(Self.jobRouter().routes.map(\.description) == [
            "GET /v1/jobs", "POST /v1/jobs", "GET /v1/jobs/{id}", "DELETE /v1/jobs/{id}",
            "GET /v1/jobs/{id}/events", "GET /v1/jobs/stats",
        ])
        #expect(Self.jobRouter().routes[2].pattern.segments == [.literal("v1"), .literal("jobs"), .parameter("id")])
    }
}

/// Response building and encoding without sockets.
@Suite struct ResponseTests {
    @Test func problemDocumentHasTheStandardMembersThenExtrasInKeyOrder() {
        let response = HTTPResponse.problem(status: 422, detail: "spec invalid \"here\"", extra: [
            "errors": [["message": "unknown distribution", "pointer": "/model/0"]],
            "status": 999,
            "attempt": 2,
        ])
        guard case .bytes(let bytes) = response.body else {
            Issue.record("problem body must be bytes")
            return
        }
        #expect(response.status == 422)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"type":"about:blank","title":"Unprocessable Content","status":422,"#
            + #""detail":"spec invalid \"here\"","attempt":2,"errors":[{"message":"unknown distribution","pointer":"/model/0"}]}"#)
    }

    @Test func encoderOwnsFramingFields() {
        let response = HTTPResponse(status: 200, headers: ["Content-Length": "999", "Connection": "keep-alive", "X-A": "1"],
                                    body: .bytes(Array("hey".utf8)))
        let request = ResponseEncoder.RequestSummary(isHead: false, version: .http1_1, keepAlive: true)
        let encoded = ResponseEncoder.encode(response, to: request, close: true)
        let head = String(decoding: encoded.head, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\nDate: "))
        #expect(head.hasSuffix("Content-Length: 3\r\nConnection: close\r\nX-A: 1\r\n\r\n"))
        #expect(!head.contains("999"))
        #expect(encoded.closesConnection)
    }

    @Test func noContentHasNoLengthAndAStreamToHTTP10EndsByClosing() {
        let summary11 = ResponseEncoder.RequestSummary(isHead: false, version: .http1_1, keepAlive: true)
        let noContent = ResponseEncoder.encode(HTTPResponse(status: 204), to: summary11, close: false)
        #expect(!String(decoding: noContent.head, as: UTF8.self).contains("Content-Length"))

        let summary10 = ResponseEncoder.RequestSummary(isHead: false, version: .http1_0, keepAlive: true)
        let stream = ResponseEncoder.encode(HTTPResponse(body: .stream { $0.finish() }), to: summary10, close: false)
        #expect(stream.closesConnection)
        #expect(!String(decoding: stream.head, as: UTF8.self).contains("Transfer-Encoding"))
    }

    @Test func chunksAreFramedInHex() {
        #expect(ResponseEncoder.chunk(Array(repeating: 0x61, count: 26)) == Array("1a\r\n".utf8) + Array(repeating: 0x61, count: 26) + [13, 10])
    }

    @Test func httpDateIsIMFFixdate() {
        #expect(HTTPDate.format(secondsSinceEpoch: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func writerRefusesAWriteThatWouldPassItsLimit() {
        let writer = ResponseWriter(maxBufferedBytes: 10) {}
        #expect(writer.write(Array(repeating: 1, count: 6)))
        #expect(!writer.write(Array(repeating: 1, count: 5)))
        #expect(!writer.isOpen)
        let reason = Locked<ResponseWriter.Termination?>(nil)
        writer.onTermination { ending in reason.withLock { $0 = ending } }
        #expect(reason.withLock { $0 } == .clientTooSlow)
        guard case .terminated(.clientTooSlow) = writer.take() else {
            Issue.record("a terminated writer must report its reason")
            return
        }
    }

    @Test func writerHandsOverPendingBytesThenFinishes() {
        let wakes = Locked(0)
        let writer = ResponseWriter(maxBufferedBytes: 100) { wakes.withLock { $0 += 1 } }
        writer.write("ab")
        writer.write("")
        writer.write("cd")
        writer.finish()
        #expect(wakes.withLock { $0 } == 1)
        guard case .chunks(let chunks, isLast: true) = writer.take() else {
            Issue.record("expected the final chunks")
            return
        }
        #expect(chunks == [Array("ab".utf8), Array("cd".utf8)])
        #expect(!writer.write("late"))
    }
}
