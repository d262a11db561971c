import CSSL
import Dispatch
import Testing
@testable import HTTPServer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The server over TLS (a self-signed certificate made by `openssl` in the test), through the
/// same blocking client speaking TLS with libssl. Serialized for the same reason as
/// ``ServerTests``: several tests measure timeouts.
@Suite(.serialized) struct TLSServerTests {
    /// The shared test configuration with the test certificate, reporting handshake failures
    /// to `failures`.
    static func configuration(reporting failures: HandshakeFailures? = nil) throws -> HTTPServer.Configuration {
        var configuration = TestRoutes.configuration
        configuration.tls = try TestCertificate.shared.context()
        if let failures {
            configuration.onHandshakeFailure = { reason in failures.reasons.withLock { $0.append(reason) } }
        }
        return configuration
    }

    /// The reasons the server reported for failed handshakes.
    final class HandshakeFailures: Sendable {
        let reasons = Locked<[String]>([])
        var all: [String] { reasons.withLock { $0 } }
    }

    @Test func keepAliveAndPipelinedRequestsOverTLS() throws {
        try withServer(configuration: Self.configuration()) { server in
            let client = try TestClient(port: server.port, trusting: .shared)
            #expect(client.tls?.negotiatedProtocol == "http/1.1")
            #expect(client.tls?.version == "TLSv1.3")
            for name in ["one", "two"] {
                try client.send("GET /hello?name=\(name) HTTP/1.1\r\nHost: a\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "hello \(name)")
            }
            try ServerTests.expectPipelinedAnswersInRequestOrder(client)
        }
    }

    /// A body of many records each way: the server reads several records per event and, with
    /// the client pausing before it reads the echo, waits on "want write" for the socket.
    @Test func largeBodiesRoundTripOverTLS() throws {
        try withServer(configuration: Self.configuration()) { server in
            let client = try TestClient(port: server.port, trusting: .shared)
            let body = String(decoding: (0..<(12 << 20)).map { UInt8(0x61 + $0 % 26) }, as: UTF8.self)
            try client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            usleep(300_000)
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == body)
            try client.send("GET /hello?name=after HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try client.readResponse().text == "hello after")
        }
    }

    @Test func streamedResponseIsDeliveredInPiecesOverTLS() throws {
        let gate = DispatchSemaphore(value: 0)
        var router = TestRoutes.router()
        router.add("GET", "/stream") { _, _ in
            HTTPResponse(status: 200, headers: ["Content-Type": "text/event-stream"], body: .stream { writer in
                writer.write("data: one\n\n")
                DispatchQueue.global().async {
                    _ = gate.wait(timeout: .now() + 5)
                    writer.write("data: two\n\n")
                    writer.finish()
                }
            })
        }
        try withServer(router: router, configuration: Self.configuration()) { server in
            try ServerTests.expectStreamInPieces(TestClient(port: server.port, trusting: .shared), gate: gate)
        }
    }

    /// OpenSSL recognises the request line as plain HTTP, the handshake fails, and the socket
    /// is closed at once without a response; TLS clients are served as before.
    @Test func plainHTTPRequestToTheTLSPortIsClosedAndTLSStillServed() throws {
        let failures = HandshakeFailures()
        try withServer(configuration: Self.configuration(reporting: failures)) { server in
            let plain = try TestClient(port: server.port)
            let start = DispatchTime.now()
            try plain.send("GET /hello?name=plain HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try plain.readsEndOfStream())
            #expect(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds < 1_000_000_000)
            #expect(failures.all == ["http request"])

            let client = try TestClient(port: server.port, trusting: .shared)
            try client.send("GET /hello?name=tls HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try client.readResponse().text == "hello tls")
            #expect(eventually { server.connectionCount == 1 })
        }
    }

    /// A client that opens TCP and never starts the handshake is closed by the header-read
    /// timeout, as a slow-loris would be, though the idle timeout is far longer.
    @Test func clientThatNeverHandshakesIsCutOffByTheHeaderReadTimeout() throws {
        let failures = HandshakeFailures()
        var configuration = try Self.configuration(reporting: failures)
        configuration.headerReadTimeout = .milliseconds(400)
        try withServer(configuration: configuration) { server in
            let silent = try TestClient(port: server.port)
            let start = DispatchTime.now()
            #expect(try silent.readsEndOfStream())
            let elapsed = DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds
            #expect(elapsed >= 350_000_000 && elapsed < 2_000_000_000, "cut off after \(elapsed) ns")
            #expect(failures.all == ["handshake not completed in time"])
            #expect(eventually { server.connectionCount == 0 })
        }
    }

    /// A TLS 1.2 client gets an ECDHE key exchange with an AEAD cipher.
    @Test func tls12ClientGetsAForwardSecretAEADCipher() throws {
        try withServer(configuration: Self.configuration()) { server in
            let client = try TestClient(port: server.port, trusting: .shared, maxTLSVersion: TLS1_2_VERSION)
            #expect(client.tls?.version == "TLSv1.2")
            let cipher = client.tls?.cipher ?? ""
            #expect(cipher.hasPrefix("ECDHE-") && (cipher.contains("GCM") || cipher.contains("CHACHA20")), "\(cipher)")
            try client.send("GET /hello?name=old HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try client.readResponse().text == "hello old")
        }
    }

    /// Shutdown finishes the in-flight response, then ends the session with close_notify.
    @Test func gracefulShutdownOverTLSFinishesTheResponseAndSendsCloseNotify() throws {
        let server = HTTPServer(configuration: try Self.configuration(), responder: TestRoutes.router())
        try server.start()
        let client = try TestClient(port: server.port, trusting: .shared)
        try client.send("GET /slow?ms=400&tag=inflight HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(100_000)
        let stopped = DispatchSemaphore(value: 0)
        server.shutdown(grace: .seconds(5)) { stopped.signal() }
        let response = try client.readResponse()
        #expect(response.text == "slow inflight")
        #expect(response.header("Connection") == "close")
        // The channel reads end of stream only for close_notify; a bare close throws.
        #expect(try client.readsEndOfStream())
        #expect(stopped.wait(timeout: .now() + 5) == .success)
    }

    @Test func missingUnreadableOrMismatchedCertificateAndKeyThrowNamingTheFile() throws {
        let certificate = TestCertificate.shared
        #expect(throws: TLSContextError.self) {
            try TLSContext(certificateFile: certificate.directory + "/missing.pem", keyFile: certificate.keyPath)
        }
        do {
            _ = try TLSContext(certificateFile: certificate.directory + "/missing.pem", keyFile: certificate.keyPath)
        } catch {
            #expect(error.description.contains("certificate \(certificate.directory)/missing.pem"), "\(error)")
        }
        let garbage = try certificate.file(named: "garbage.pem", containing: "not a certificate\n")
        #expect {
            try TLSContext(certificateFile: garbage, keyFile: certificate.keyPath)
        } throws: { error in
            if case .certificate(let path, _)? = error as? TLSContextError { path == garbage } else { false }
        }
        #expect {
            try TLSContext(certificateFile: certificate.certificatePath, keyFile: certificate.directory + "/nokey.pem")
        } throws: { error in
            guard case .privateKey(let path, _)? = error as? TLSContextError else { return false }
            return path.hasSuffix("/nokey.pem") && "\(error)".contains("private key \(path)")
        }
        let otherKey = try certificate.otherKey()
        #expect(throws: TLSContextError.keyMismatch(certificatePath: certificate.certificatePath, keyPath: otherKey)) {
            try TLSContext(certificateFile: certificate.certificatePath, keyFile: otherKey)
        }
    }
}
