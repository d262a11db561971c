internal import CSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a TLS context could not be built. Each case names the file and OpenSSL's reason.
public enum TLSContextError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The certificate (chain) file could not be read, or is not PEM certificates.
    case certificate(path: String, reason: String)
    /// The private key file could not be read, or is not an unencrypted PEM key.
    case privateKey(path: String, reason: String)
    /// The key is not the certificate's.
    case keyMismatch(certificatePath: String, keyPath: String)
    /// OpenSSL could not create or configure the context itself.
    case library(String)

    /// A one-line message for the command line and logs.
    public var description: String {
        switch self {
        case .certificate(let path, let reason): "cannot load TLS certificate \(path): \(reason)"
        case .privateKey(let path, let reason): "cannot load TLS private key \(path): \(reason)"
        case .keyMismatch(let certificate, let key): "TLS private key \(key) does not match certificate \(certificate)"
        case .library(let reason): "cannot set up TLS: \(reason)"
        }
    }
}

/// The server's TLS settings, built once from a PEM certificate chain and key: an OpenSSL
/// `SSL_CTX` that every accepted connection's session is created from.
///
/// Protocol: TLS 1.2 and 1.3 only. Ciphers: for TLS 1.2, ECDHE key exchange with AEAD ciphers
/// only (AES-GCM, ChaCha20-Poly1305; forward secrecy, no CBC); for TLS 1.3, OpenSSL's defaults,
/// which are all AEAD. ALPN: `http/1.1` is selected when the client offers it; a client that
/// offers only other protocols proceeds without ALPN. Renegotiation and compression are off.
///
/// Thread safety: the context is never changed after `init`, and OpenSSL allows sessions to
/// be created from one context on any thread, which is why the unchecked `Sendable`
/// conformance is safe.
public final class TLSContext: @unchecked Sendable {
    /// TLS 1.2's cipher list (TLS 1.3 suites are configured separately and left at OpenSSL's
    /// defaults).
    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    let context: OpaquePointer

    /// Loads the certificate chain (the server's certificate first, then intermediates) and
    /// its private key, both PEM.
    ///
    /// - Throws: ``TLSContextError`` naming the file that could not be loaded, or whose key
    ///   does not match. An encrypted key is refused rather than prompted for.
    public init(certificateFile: String, keyFile: String) throws(TLSContextError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw .library(OpenSSLError.drain() ?? "SSL_CTX_new failed")
        }
        self.context = context
        guard CSSL_setMinimumVersion(context, TLS1_2_VERSION) == 1,
              SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1 else {
            throw .library(OpenSSLError.drain() ?? "the protocol or cipher settings were refused")
        }
        SSL_CTX_set_options(context, CSSL_serverOptions())
        _ = CSSL_setModes(context, CSSL_nonBlockingModes())
        SSL_CTX_set_default_passwd_cb(context, refusePassphrase)
        SSL_CTX_set_alpn_select_cb(context, selectHTTP11, nil)
        if let problem = Self.unreadable(certificateFile) {
            throw .certificate(path: certificateFile, reason: problem)
        }
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
            throw .certificate(path: certificateFile, reason: "not a PEM certificate chain (\(OpenSSLError.drain() ?? "no reason given"))")
        }
        if let problem = Self.unreadable(keyFile) {
            throw .privateKey(path: keyFile, reason: problem)
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw .privateKey(path: keyFile, reason: "not an unencrypted PEM private key (\(OpenSSLError.drain() ?? "no reason given"))")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            OpenSSLError.clear()
            throw .keyMismatch(certificatePath: certificateFile, keyPath: keyFile)
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// Why the file at `path` cannot be read, or `nil` if it can: OpenSSL's own report of a
    /// missing file is an error number, not a sentence.
    private static func unreadable(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return String(cString: strerror(errno)) }
        fclose(file)
        return nil
    }
}

/// OpenSSL's per-thread error queue, read into messages. Every TLS call starts from an empty
/// queue (`SSL_get_error` reads it) and leaves it empty, because the I/O queue's work moves
/// between threads.
enum OpenSSLError {
    /// Empties the calling thread's queue.
    static func clear() {
        ERR_clear_error()
    }

    /// Empties the calling thread's queue, returning its distinct reasons joined, earliest
    /// first, or `nil` if it was empty.
    static func drain() -> String? {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            let reason = ERR_reason_error_string(code).map { String(cString: $0) } ?? "error \(code)"
            if !reasons.contains(reason) { reasons.append(reason) }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}

/// The passphrase callback: there is none, so an encrypted key fails to load instead of
/// OpenSSL prompting on the terminal.
private let refusePassphrase: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in
    0
}

/// The ALPN callback: picks `http/1.1` from the client's offered protocols (a list of
/// length-prefixed names), or acknowledges none.
private let selectHTTP11: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
                                          UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?) -> Int32 = { _, selected, selectedLength, offered, offeredLength, _ in
    guard let selected, let selectedLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
    let wanted = Array("http/1.1".utf8)
    let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    var index = 0
    while index < list.count {
        let start = index + 1
        let end = start + Int(list[index])
        guard end <= list.count else { break }
        if list[start..<end].elementsEqual(wanted) {
            selected.pointee = offered + start
            selectedLength.pointee = UInt8(wanted.count)
            return SSL_TLSEXT_ERR_OK
        }
        index = end
    }
    return SSL_TLSEXT_ERR_NOACK
}
