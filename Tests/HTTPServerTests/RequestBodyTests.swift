import Dispatch
import Testing
@testable import HTTPServer
#if canImport(Glibc)
import Glibc
#endif

/// What a request body may cost before the server has decided to take it: a body the
/// responder refuses is never read (and `100 Continue` never sent), bodies share one budget,
/// a body must keep to a minimum rate, gzip bodies are inflated within the body limit, and an
/// expectation other than `100-continue` is refused.
@Suite(.serialized) struct RequestBodyTests {
    /// A responder that refuses every body on `/locked` (as a route without its API key
    /// would be) and echoes the rest.
    static func router(admitted: Locked<Int>? = nil) -> Router {
        var router = TestRoutes.router()
        router.add("POST", "/locked", admission: { _, _ in
            .problem(status: 401, detail: "no key", headers: ["WWW-Authenticate": "Bearer"])
        }) { request, _ in
            admitted?.withLock { $0 += 1 }
            return HTTPResponse(contentType: "text/plain", text: "read \(request.body.count) bytes")
        }
        router.add("POST", "/count") { request, _ in
            HTTPResponse(contentType: "text/plain", text: "\(request.body.count) \(request.headers["Content-Encoding"] ?? "identity")")
        }
        return router
    }

    @Test func aRefusedBodyIsNeverReadNorContinued() throws {
        let reached = Locked(0)
        try withServer(router: Self.router(admitted: reached)) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /locked HTTP/1.1\r\nHost: a\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 401, "the refusal comes instead of 100 Continue")
            #expect(response.header("Connection") == "close")
            #expect(response.header("WWW-Authenticate") == "Bearer")
            #expect(server.bufferedBodyBytes == 0, "nothing was reserved for the refused body")

            let plain = try TestClient(port: server.port)
            try plain.send("POST /locked HTTP/1.1\r\nHost: a\r\nContent-Length: 50000000\r\n\r\n" + String(repeating: "x", count: 1000))
            #expect(try plain.readResponse().status == 401, "refused on its head, without waiting for the body")

            let unrouted = try TestClient(port: server.port)
            try unrouted.send("POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 50000000\r\n\r\n")
            #expect(try unrouted.readResponse().status == 404)
            #expect(reached.withLock { $0 } == 0)
        }
    }

    @Test func bodiesBeyondTheServersBudgetGet503BeforeTheyAreRead() throws {
        var configuration = TestRoutes.configuration
        configuration.maxBufferedBodyBytes = 1 << 20
        try withServer(router: Self.router(), configuration: configuration) { server in
            let first = try TestClient(port: server.port)
            try first.send("POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: 800000\r\n\r\nabc")
            #expect(eventually { server.bufferedBodyBytes == 800_000 }, "a declared length is reserved as soon as its head arrives")
            let second = try TestClient(port: server.port)
            try second.send("POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: 800000\r\n\r\n")
            let refused = try second.readResponse()
            #expect(refused.status == 503 && refused.header("Retry-After") != nil)
            let small = try TestClient(port: server.port)
            try small.send("POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
            #expect(try small.readResponse().text == "5 identity", "what still fits is served")
            try first.send(String(repeating: "y", count: 800_000 - 3))
            #expect(try first.readResponse().text == "800000 identity")
            #expect(eventually { server.bufferedBodyBytes == 0 }, "the reservation is returned once the handler has answered")
        }
    }

    @Test func aChunkedBodyIsChargedAsItArrives() throws {
        var configuration = TestRoutes.configuration
        configuration.maxBufferedBodyBytes = 100_000
        try withServer(router: Self.router(), configuration: configuration) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /count HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = "C350\r\n" + String(repeating: "z", count: 50_000) + "\r\n"
            try client.send(chunk)
            #expect(eventually { server.bufferedBodyBytes == 50_000 })
            try? client.send(chunk + chunk)
            let response = try client.readResponse()
            #expect(response.status == 503)
            #expect(eventually { server.bufferedBodyBytes == 0 }, "a refused body gives its bytes back")
        }
    }

    @Test func aBodyTrickledSlowerThanTheMinimumRateIsCutOff() throws {
        var configuration = TestRoutes.configuration
        configuration.bodyGrace = .milliseconds(300)
        configuration.minBodyBytesPerSecond = 100
        try withServer(router: Self.router(), configuration: configuration) { server in
            let client = try TestClient(port: server.port)
            let start = DispatchTime.now()
            try client.send("POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n")
            // One byte every 50 ms (20 bytes/s): never idle, far below 100 bytes/s.
            var answered = false
            for _ in 0..<100 where !answered {
                _ = try? client.send("x")
                answered = client.hasInput(waitingMilliseconds: 50)
            }
            #expect(answered)
            let elapsed = DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds
            #expect(elapsed >= 300_000_000 && elapsed < 3_000_000_000, "cut off after \(elapsed) ns")
            let response = try client.readResponse()
            #expect(response.status == 408 && response.header("Connection") == "close")
            #expect(eventually { server.bufferedBodyBytes == 0 })

            // A body arriving at the minimum rate or faster is read to its end.
            let steady = try TestClient(port: server.port)
            try steady.send("POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: 60\r\n\r\n")
            for _ in 0..<6 {
                usleep(50_000)
                try steady.send(String(repeating: "s", count: 10))
            }
            #expect(try steady.readResponse().text == "60 identity")
        }
    }

    @Test func gzipBodiesAreInflatedWithinTheBodyLimit() throws {
        var configuration = TestRoutes.configuration
        configuration.limits.maxBodyLength = 100_000
        try withServer(router: Self.router(), configuration: configuration) { server in
            func post(_ body: [UInt8], encoding: String) throws -> TestResponse {
                let client = try TestClient(port: server.port)
                try client.send("POST /count HTTP/1.1\r\nHost: a\r\nContent-Encoding: \(encoding)\r\nContent-Length: \(body.count)\r\n\r\n")
                try client.send(bytes: body)
                return try client.readResponse()
            }
            let packed = try #require(Gzip.compress(Array(repeating: UInt8(ascii: "a"), count: 90_000)))
            #expect(try post(packed, encoding: "gzip").text == "90000 identity", "the handler sees the inflated body, without the coding")
            let bomb = try #require(Gzip.compress(Array(repeating: 0, count: 50_000_000)))
            #expect(bomb.count < 100_000)
            let tooLarge = try post(bomb, encoding: "gzip")
            #expect(tooLarge.status == 413, "inflation stops at the body limit: \(tooLarge.text)")
            #expect(try post(Array("not gzip".utf8), encoding: "gzip").status == 400)
            let unsupported = try post(Array("x".utf8), encoding: "br")
            #expect(unsupported.status == 415 && unsupported.header("Accept-Encoding") == "gzip")
            #expect(eventually { server.bufferedBodyBytes == 0 })
        }
    }

    @Test func twoGzipMembersInflateToTheirConcatenation() throws {
        let a = try #require(Gzip.compress(Array("hello ".utf8))), b = try #require(Gzip.compress(Array("world".utf8)))
        #expect(Gzip.decompress(a + b, limit: 100) == .success(Array("hello world".utf8)))
        #expect(Gzip.decompress(a + b, limit: 10) == .failure(.tooLarge))
        #expect(Gzip.decompress(Array(a.dropLast(3)), limit: 100) == .failure(.malformed), "a truncated member is refused")
    }

    @Test func anExpectationOtherThanContinueGets417() throws {
        try withServer(router: Self.router()) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /count HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi")
            let response = try client.readResponse()
            #expect(response.status == 417 && response.header("Connection") == "close")
        }
    }
}
