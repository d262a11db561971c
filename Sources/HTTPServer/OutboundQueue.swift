#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes waiting to be written to one socket, in order.
///
/// Small pieces (heads, chunks, interim responses) are appended into the last segment so that a
/// typical response leaves in one `send`; large bodies stay their own segment and are never
/// copied.
struct OutboundQueue {
    /// The result of one attempt to write.
    enum SendResult {
        /// Some bytes were written (possibly all).
        case progressed
        /// The socket's send buffer is full; wait until it is writable.
        case wouldBlock
        /// The connection failed (reset, broken pipe); it must be closed.
        case failed
    }

    private static let coalesceLimit = 16 * 1024
    private var segments: [[UInt8]] = []
    /// Bytes of `segments[0]` already written.
    private var offset = 0
    /// The bytes not yet written.
    private(set) var byteCount = 0

    var isEmpty: Bool { byteCount == 0 }

    /// Adds `bytes` after everything queued.
    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        byteCount += bytes.count
        if let last = segments.indices.last, bytes.count < Self.coalesceLimit,
           segments[last].count + bytes.count <= Self.coalesceLimit {
            segments[last].append(contentsOf: bytes)
        } else {
            segments.append(bytes)
        }
    }

    /// Forgets every queued byte.
    mutating func removeAll() {
        segments.removeAll()
        offset = 0
        byteCount = 0
    }

    /// Writes as much of the first segment as the socket takes, without blocking.
    mutating func send(to socket: Int32) -> SendResult {
        guard !segments.isEmpty else { return .progressed }
        let start = offset
        let written = segments[0].withUnsafeBytes { buffer in
            Socket.send(socket, UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
        if written < 0 {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wouldBlock : .failed
        }
        consume(written)
        return .progressed
    }

    /// Encrypts and sends as much of the first segment as the session takes (one record at a
    /// time), without blocking.
    ///
    /// A write OpenSSL asks to repeat is repeated here with the same first bytes: the segment
    /// is only ever appended to, so it may have moved or grown, which the session allows.
    /// OpenSSL asking to read before it can write only happens with renegotiation, which the
    /// context disables, so it is taken as a failure.
    mutating func send(through session: TLSSession) -> SendResult {
        guard !segments.isEmpty else { return .progressed }
        let start = offset
        let outcome = segments[0].withUnsafeBytes { buffer in
            session.write(UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
        switch outcome {
        case .bytes(let written):
            consume(written)
            return .progressed
        case .wantWrite:
            return .wouldBlock
        case .wantRead, .end, .failed:
            return .failed
        }
    }

    /// Forgets the first `count` bytes, which were written.
    private mutating func consume(_ count: Int) {
        offset += count
        byteCount -= count
        if offset == segments[0].count {
            segments.removeFirst()
            offset = 0
        }
    }
}
