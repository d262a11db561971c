
/// The sending end of a streamed response body (chunked transfer coding, or Server-Sent
/// Events on top of it), which a handler feeds over time from any thread.
///
/// ```swift
/// HTTPResponse(status: 200, headers: ["Content-Type": "text/event-stream"], body: .stream { writer in
///     subscription = events.subscribe { event in
///         if !writer.write("data: \(event)\n\n") { subscription.cancel() }
///     }
///     writer.onTermination { _ in subscription.cancel() }
/// })
/// ```
///
/// Writes never block: bytes are queued here and the connection takes them as the socket
/// accepts them. The queue is bounded by ``maxBufferedBytes``.
///
/// Threat: a client that reads slowly (or not at all) while a producer keeps writing would make
/// the server buffer without bound. When a write would take the queue past the limit, the
/// stream is terminated with ``Termination/clientTooSlow``, the write returns `false`, and the
/// connection is closed without the final chunk, so the client can tell the body is incomplete.
/// A producer that must not lose the newest state (progress events) should coalesce before
/// writing rather than rely on the buffer.
///
/// Thread safety: every method may be called from any thread; state is guarded by a mutex,
/// and neither the wake-up of the connection nor termination handlers run under it.
public final class ResponseWriter: Sendable {
    /// Why a stream ended. Reported once to every ``onTermination(_:)`` handler.
    public enum Termination: Sendable, Hashable {
        /// ``finish()`` was called and every byte was handed to the connection.
        case finished
        /// The connection closed before the stream finished: the client left, the socket failed,
        /// or the connection ended for another reason (an earlier response closed it).
        case connectionClosed
        /// The client fell more than ``ResponseWriter/maxBufferedBytes`` behind the producer.
        case clientTooSlow
        /// The server closed the connection while shutting down.
        case serverShutdown
    }

    /// Where the stream is in its life.
    enum State {
        /// Accepting writes; `pending` bytes wait for the connection to take them.
        case open(Pending)
        /// ``finish()`` was called; the connection still takes `pending`, then ends the body.
        case finishing(Pending)
        /// Nothing more will be sent or accepted.
        case terminated(Termination)
    }

    /// Bytes written but not yet taken by the connection.
    struct Pending {
        var chunks: [[UInt8]] = []
        var byteCount = 0
        /// Whether the connection has been woken since it last took bytes, so that a burst of
        /// writes schedules one wake-up rather than one per write.
        var wakeRequested = false
    }

    /// What the connection finds when it takes bytes.
    enum Taken {
        /// Bytes to send (possibly none); `isLast` when the producer finished and these are
        /// the final ones, so the body ends after them.
        case chunks([[UInt8]], isLast: Bool)
        /// The stream was terminated before it finished; the connection must close.
        case terminated(Termination)
    }

    private struct Guarded {
        var state: State = .open(Pending())
        var handlers: [@Sendable (Termination) -> Void] = []
    }

    /// The most bytes that may wait for a slow client before the stream is terminated.
    public let maxBufferedBytes: Int
    private let guarded = Locked(Guarded())
    /// Schedules the connection to take bytes (hops to its I/O queue; never blocks).
    private let wake: @Sendable () -> Void

    /// Creates a writer that calls `wake` when bytes are ready or the stream ends.
    init(maxBufferedBytes: Int, wake: @escaping @Sendable () -> Void) {
        self.maxBufferedBytes = maxBufferedBytes
        self.wake = wake
    }

    /// Queues `bytes` to be sent as one chunk. Empty writes are ignored (an empty chunk would
    /// end a chunked body).
    ///
    /// - Returns: `false` if the stream is no longer accepting bytes — finished, terminated, or
    ///   terminated by this write because the client fell too far behind — in which case the
    ///   producer should stop.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        var shouldWake = false
        var ended: (Termination, [@Sendable (Termination) -> Void])?
        let accepted = guarded.withLock { guarded -> Bool in
            guard case .open(var pending) = guarded.state else { return false }
            if bytes.isEmpty { return true }
            if pending.byteCount + bytes.count > maxBufferedBytes {
                guarded.state = .terminated(.clientTooSlow)
                ended = (.clientTooSlow, guarded.handlers)
                guarded.handlers = []
                shouldWake = true
                return false
            }
            pending.chunks.append(bytes)
            pending.byteCount += bytes.count
            shouldWake = !pending.wakeRequested
            pending.wakeRequested = true
            guarded.state = .open(pending)
            return true
        }
        if shouldWake { wake() }
        if let (reason, handlers) = ended { handlers.forEach { $0(reason) } }
        return accepted
    }

    /// Queues the UTF-8 bytes of `text` as one chunk; see ``write(_:)-([UInt8])``.
    @discardableResult
    public func write(_ text: String) -> Bool {
        write(Array(text.utf8))
    }

    /// Ends the body once the bytes written so far have been sent. Later writes return
    /// `false`; calling it again, or after termination, does nothing.
    public func finish() {
        let shouldWake = guarded.withLock { guarded -> Bool in
            guard case .open(var pending) = guarded.state else { return false }
            let wasRequested = pending.wakeRequested
            pending.wakeRequested = true
            guarded.state = .finishing(pending)
            return !wasRequested
        }
        if shouldWake { wake() }
    }

    /// Whether writes are still accepted.
    public var isOpen: Bool {
        guarded.withLock { if case .open = $0.state { true } else { false } }
    }

    /// Registers `handler` to be called once when the stream ends, with the reason; at once,
    /// on the calling thread, if it already has. Otherwise it runs on whichever thread ends the
    /// stream (a producer's, or the server's I/O queue), so it must return quickly and must not
    /// block.
    public func onTermination(_ handler: @escaping @Sendable (Termination) -> Void) {
        let reason = guarded.withLock { guarded -> Termination? in
            if case .terminated(let reason) = guarded.state { return reason }
            guarded.handlers.append(handler)
            return nil
        }
        if let reason { handler(reason) }
    }

    /// Why the stream ended early — terminated rather than finished — or `nil`.
    var abortReason: Termination? {
        guarded.withLock { guarded in
            if case .terminated(let reason) = guarded.state, reason != .finished { reason } else { nil }
        }
    }

    /// Takes every pending byte, for the connection. Called on the connection's I/O queue.
    func take() -> Taken {
        var ended: [@Sendable (Termination) -> Void] = []
        let taken = guarded.withLock { guarded -> Taken in
            switch guarded.state {
            case .open(let pending):
                guarded.state = .open(Pending())
                return .chunks(pending.chunks, isLast: false)
            case .finishing(let pending):
                guarded.state = .terminated(.finished)
                ended = guarded.handlers
                guarded.handlers = []
                return .chunks(pending.chunks, isLast: true)
            case .terminated(let reason):
                return .terminated(reason)
            }
        }
        ended.forEach { $0(.finished) }
        return taken
    }

    /// Ends the stream from the connection's side (client gone, server shutting down). Does
    /// nothing if it has already ended.
    func terminate(_ reason: Termination) {
        let handlers = guarded.withLock { guarded -> [@Sendable (Termination) -> Void]? in
            if case .terminated = guarded.state { return nil }
            guarded.state = .terminated(reason)
            defer { guarded.handlers = [] }
            return guarded.handlers
        }
        handlers?.forEach { $0(reason) }
    }
}
