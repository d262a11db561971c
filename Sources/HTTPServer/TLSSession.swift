internal import CSSL

/// One connection's TLS state: an OpenSSL session reading and writing the connection's
/// non-blocking socket directly (`SSL_set_fd`).
///
/// OpenSSL's "want read" and "want write" are then exactly the socket's readiness, so they map
/// onto the connection's Dispatch read and write sources with no buffer of ciphertext between
/// them; see ``Connection``. OpenSSL writes with `write(2)` rather than `send` with
/// `MSG_NOSIGNAL`, which is safe because the server ignores `SIGPIPE` process-wide.
///
/// Thread ownership: used only on the server's I/O queue, like its connection.
final class TLSSession {
    /// Where the session is in its life.
    enum Phase {
        /// The handshake has not completed.
        case handshaking
        /// Application data flows.
        case established
        /// A fatal error occurred or close_notify was sent: nothing more may be written.
        case ended
    }

    /// The outcome of one step of the handshake.
    enum HandshakeStep {
        /// The handshake completed.
        case complete
        /// Waiting for the socket to become readable.
        case wantRead
        /// Waiting for the socket to become writable.
        case wantWrite
        /// The handshake failed, with OpenSSL's reason; `nil` when the client just went away.
        case failed(reason: String?)
    }

    /// The outcome of one read or write of application data.
    enum Transfer {
        /// This many bytes (more than zero) were decrypted into the buffer, or taken to send.
        case bytes(Int)
        /// The client closed the session (close_notify, or end of stream).
        case end
        /// Waiting for the socket to become readable.
        case wantRead
        /// Waiting for the socket to become writable.
        case wantWrite
        /// The connection failed; it must be closed.
        case failed
    }

    private let session: OpaquePointer
    private(set) var phase = Phase.handshaking

    /// A server-side session on the accepted socket `fd`, or `nil` if OpenSSL cannot make one
    /// (out of memory). The session never closes `fd`.
    init?(context: TLSContext, fd: Int32) {
        OpenSSLError.clear()
        guard let session = SSL_new(context.context) else {
            OpenSSLError.clear()
            return nil
        }
        guard SSL_set_fd(session, fd) == 1 else {
            OpenSSLError.clear()
            SSL_free(session)
            return nil
        }
        SSL_set_accept_state(session)
        self.session = session
    }

    deinit {
        SSL_free(session)
    }

    var isHandshaking: Bool {
        if case .handshaking = phase { true } else { false }
    }

    /// Whether decrypted or received bytes wait inside the session, which the socket's
    /// readiness will not announce.
    var hasBufferedInput: Bool {
        SSL_has_pending(session) == 1
    }

    /// Advances the handshake as far as the socket allows.
    func handshake() -> HandshakeStep {
        OpenSSLError.clear()
        let result = SSL_do_handshake(session)
        if result == 1 {
            phase = .established
            return .complete
        }
        switch SSL_get_error(session, result) {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case let code:
            phase = .ended
            let reason = OpenSSLError.drain()
            return .failed(reason: code == SSL_ERROR_SSL ? reason ?? "protocol error" : reason)
        }
    }

    /// Decrypts up to `buffer.count` bytes to the start of `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Transfer {
        OpenSSLError.clear()
        var count = 0
        let result = SSL_read_ex(session, buffer.baseAddress, buffer.count, &count)
        return result == 1 ? .bytes(count) : failure(of: result)
    }

    /// Encrypts and sends a prefix of `bytes`: at most one record with partial writes on. A
    /// write answered `wantWrite` must be repeated with the same bytes first (the buffer may
    /// move and grow).
    func write(_ bytes: UnsafeRawBufferPointer) -> Transfer {
        guard !bytes.isEmpty else { return .bytes(0) }
        OpenSSLError.clear()
        var count = 0
        let result = SSL_write_ex(session, bytes.baseAddress, bytes.count, &count)
        return result == 1 ? .bytes(count) : failure(of: result)
    }

    /// Sends close_notify once, best effort: without waiting for the socket, and without
    /// waiting for the client's close_notify. Does nothing before the handshake completes or
    /// after a fatal error, where OpenSSL forbids it.
    func shutdown() {
        guard case .established = phase else { return }
        phase = .ended
        OpenSSLError.clear()
        _ = SSL_shutdown(session)
        OpenSSLError.clear()
    }

    private func failure(of result: Int32) -> Transfer {
        let code = SSL_get_error(session, result)
        OpenSSLError.clear()
        switch code {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            return .end
        default:
            phase = .ended
            return .failed
        }
    }
}
