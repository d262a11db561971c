import CSSL
import Foundation
@testable import HTTPServer

/// A self-signed certificate for `localhost` and 127.0.0.1 with its key, made by the `openssl`
/// command in a fresh temporary directory, once per test process.
struct TestCertificate: Sendable {
    let directory: String
    let certificatePath: String
    let keyPath: String

    static let shared: TestCertificate = {
        do { return try TestCertificate() } catch { fatalError("cannot make a test certificate: \(error)") }
    }()

    private init() throws {
        directory = NSTemporaryDirectory() + "sviserve-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        certificatePath = directory + "/c.pem"
        keyPath = directory + "/k.pem"
        try Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certificatePath,
                          "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    }

    /// The server-side context for this certificate.
    func context() throws -> TLSContext {
        try TLSContext(certificateFile: certificatePath, keyFile: keyPath)
    }

    /// A second, unrelated key in the same directory (for the mismatch test).
    func otherKey() throws -> String {
        let path = directory + "/other-key.pem"
        try Self.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
        return path
    }

    /// Writes `text` to a file in the directory and returns its path.
    func file(named name: String, containing text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestClientError(description: "openssl \(arguments.first ?? "") exited \(process.terminationStatus)")
        }
    }
}

/// The client side of a TLS session on a blocking socket, for ``TestClient``: verifies the
/// server's certificate against the test certificate and the name `localhost`, and offers
/// ALPN `http/1.1`.
final class TestTLSChannel {
    private let context: OpaquePointer
    private let session: OpaquePointer

    /// Handshakes on the connected socket `fd`; `maxVersion` caps the protocol (e.g.
    /// `TLS1_2_VERSION`).
    init(fd: Int32, trusting certificate: TestCertificate, maxVersion: Int32? = nil) throws {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw TestClientError(description: "SSL_CTX_new failed") }
        self.context = context
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        guard SSL_CTX_load_verify_locations(context, certificate.certificatePath, nil) == 1 else {
            SSL_CTX_free(context)
            throw TestClientError(description: "cannot load the test certificate")
        }
        if let maxVersion {
            _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MAX_PROTO_VERSION, Int(maxVersion), nil)
        }
        guard let session = SSL_new(context) else {
            SSL_CTX_free(context)
            throw TestClientError(description: "SSL_new failed")
        }
        self.session = session
        let alpn: [UInt8] = [8] + Array("http/1.1".utf8)
        _ = SSL_set_alpn_protos(session, alpn, UInt32(alpn.count))
        _ = SSL_set1_host(session, "localhost")
        _ = SSL_set_fd(session, fd)
        guard SSL_connect(session) == 1 else {
            let reason = ERR_get_error()
            throw TestClientError(description: "handshake failed: \(ERR_reason_error_string(reason).map { String(cString: $0) } ?? "\(reason)")")
        }
    }

    deinit {
        SSL_free(session)
        SSL_CTX_free(context)
    }

    /// The protocol ALPN selected, if any.
    var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(session, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The protocol version's name, such as `TLSv1.3`.
    var version: String {
        String(cString: SSL_get_version(session))
    }

    /// The cipher's OpenSSL name.
    var cipher: String {
        String(cString: SSL_CIPHER_get_name(SSL_get_current_cipher(session)))
    }

    /// Whether decrypted bytes wait in the session.
    var hasBufferedInput: Bool {
        SSL_pending(session) > 0
    }

    /// Writes all of `bytes`.
    func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            var count = 0
            let result = bytes[sent...].withUnsafeBytes { SSL_write_ex(session, $0.baseAddress, $0.count, &count) }
            guard result == 1 else { throw TestClientError(description: "SSL_write failed: \(SSL_get_error(session, result))") }
            sent += count
        }
    }

    /// Reads into `buffer`: the byte count, 0 at close_notify or end of stream; throws on a
    /// timeout or failure (a reset included).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        ERR_clear_error()
        var count = 0
        let result = SSL_read_ex(session, buffer.baseAddress, buffer.count, &count)
        if result == 1 { return count }
        let code = SSL_get_error(session, result)
        if code == SSL_ERROR_ZERO_RETURN { return 0 }
        let systemError = errno
        ERR_clear_error()
        if code == SSL_ERROR_SYSCALL && systemError == ECONNRESET { throw TestClientError(description: "reset") }
        throw TestClientError(description: "SSL_read failed: error \(code), errno \(systemError)")
    }
}
