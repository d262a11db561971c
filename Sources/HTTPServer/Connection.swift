import Dispatch
import Synchronization

/// One accepted socket: reads requests into the parser, hands complete requests to the server's
/// handlers, and writes their responses back in request order.
///
/// TLS: with a ``TLSSession`` the connection first drives the handshake, then reads and writes
/// through the session instead of the socket; plain connections check the optional session
/// once per read and per write and pay nothing else. OpenSSL's "want read" waits for the read
/// source, which is active whenever the connection reads; its "want write" activates the write
/// source, whose handler resumes the handshake or the read that asked (`awaitsWritableForTLS`)
/// before writing. A session can hold decrypted bytes that the socket's readiness will not
/// announce, so a TLS read repeats until OpenSSL wants more bytes, and resuming reading looks
/// for bytes left in the session.
///
/// Thread ownership: every stored property is read and written only on the connection's I/O
/// queue (`queue`, serial — one of the server's shards). The read and write sources deliver
/// their events there, handlers report back through `queue.async`, streams wake the
/// connection the same way, and the server's timeout sweeps and drains are sent there; no
/// method may be called from anywhere else (``start()`` excepted, before the sources run).
/// That confinement is why the unchecked `Sendable` conformance is safe: it only lets those
/// closures carry the reference to the queue.
final class Connection: @unchecked Sendable {
    /// Where the connection is in its life.
    enum State {
        /// Reading and answering requests.
        case active
        /// No more requests will be read — the last one asked to close, the stream was
        /// malformed or timed out, the client closed its side, or the server is draining — and
        /// the responses still owed are being written.
        case finishing
        /// Every response is written and the sending side is shut down; the client's further
        /// bytes are read and discarded until it closes or the linger timeout passes, so that
        /// closing does not reset the connection before the client has read the last
        /// response. `since` is when lingering began (monotonic nanoseconds).
        case lingering(since: UInt64)
        /// The sources are cancelled; the descriptor is closed once both cancellation
        /// handlers have run, so that it is never reused while a source still watches it.
        case closed
    }

    /// Bytes of streamed output allowed to wait in the send queue before the connection stops
    /// taking more from the stream, so that a slow client's backlog stays in the stream, where
    /// it is bounded.
    private static let outboundWatermark = 64 * 1024

    let id: UInt64
    /// The serial queue that owns this connection.
    let queue: DispatchQueue
    /// Scratch space for socket reads, shared by the connections of `queue`.
    private let readBuffer: UnsafeMutableRawBufferPointer
    private let fd: Int32
    /// The TLS session, or `nil` for plain HTTP.
    private let tls: TLSSession?
    private let server: HTTPServer
    private let configuration: HTTPServer.Configuration
    private var state = State.active
    private var parser: HTTPRequestParser
    private var exchanges: [Exchange] = []
    private var nextSequence: UInt64 = 0
    private var outbound = OutboundQueue()
    private let readSource: DispatchSourceRead
    private let writeSource: DispatchSourceWrite
    private var isReadSuspended = false
    private var isWriteSourceActive = false
    /// Whether the TLS handshake or a TLS read waits for the socket to become writable, so
    /// the write source must stay active even with nothing queued.
    private var awaitsWritableForTLS = false
    private var uncancelledSources = 2
    /// Whether the client has closed its sending side.
    private var peerClosed = false
    /// When a byte last moved in either direction (monotonic nanoseconds).
    private var lastActivity: UInt64
    /// When the first byte of the request head being read arrived, while one is; for a TLS
    /// connection, also when it was accepted, until its handshake completes.
    private var headStartedAt: UInt64?

    /// The most TLS records decrypted per read event, so that one busy client cannot hold the
    /// I/O queue; the rest are read on a later turn.
    private static let tlsReadsPerEvent = 16

    /// Wraps the accepted, non-blocking socket `fd`, speaking TLS through `tls` when given,
    /// owned by `shard`'s queue. Call ``start()`` to begin reading.
    init(id: UInt64, fd: Int32, tls: TLSSession?, server: HTTPServer, shard: HTTPServer.Shard) {
        self.id = id
        self.queue = shard.queue
        self.readBuffer = shard.readBuffer
        self.fd = fd
        self.tls = tls
        self.server = server
        self.configuration = server.configuration
        self.parser = HTTPRequestParser(limits: server.configuration.limits)
        self.readSource = DispatchSource.makeReadSource(fileDescriptor: fd, queue: shard.queue)
        self.writeSource = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: shard.queue)
        self.lastActivity = Self.now()
        if tls != nil {
            headStartedAt = lastActivity
        }
    }

    /// Whether the connection has closed.
    var isClosed: Bool {
        if case .closed = state { true } else { false }
    }

    /// Set once the connection has closed; readable from any thread (the server skips waiting
    /// handler jobs of closed connections).
    let hasClosed = Atomic<Bool>(false)

    /// Activates the read source. The write source stays inactive until output has to wait.
    func start() {
        readSource.setEventHandler { [weak self] in self?.readable() }
        writeSource.setEventHandler { [weak self] in self?.writable() }
        // The cancellation handlers keep the connection alive until the descriptor is closed.
        readSource.setCancelHandler { self.sourceDidCancel() }
        writeSource.setCancelHandler { self.sourceDidCancel() }
        readSource.resume()
    }

    // MARK: Reading

    private func readable() {
        switch state {
        case .active, .lingering: break
        case .finishing, .closed: return
        }
        if let tls {
            readTLS(tls)
        } else {
            consume(Socket.read(fd, into: readBuffer))
        }
    }

    /// Acts on one read's outcome: bytes are parsed (or discarded while lingering).
    private func consume(_ result: Socket.ReadResult) {
        switch result {
        case .bytes(let count):
            lastActivity = Self.now()
            if case .active = state {
                received(UnsafeRawBufferPointer(rebasing: readBuffer[..<count]))
            }
        case .end:
            peerClosed = true
            if case .lingering = state {
                close(.connectionClosed)
            } else {
                receivedEnd()
            }
        case .wouldBlock:
            return
        case .failed:
            close(.connectionClosed)
        }
    }

    /// Advances the handshake, then decrypts records until OpenSSL wants more bytes, reading
    /// stops, or the per-event bound is reached.
    private func readTLS(_ tls: TLSSession) {
        if tls.isHandshaking && !advanceHandshake(tls) {
            return
        }
        for _ in 0..<Self.tlsReadsPerEvent {
            switch state {
            case .active, .lingering: break
            case .finishing, .closed: return
            }
            guard !isReadSuspended else { return }
            switch tls.read(into: readBuffer) {
            case .bytes(let count):
                consume(.bytes(count))
            case .end:
                consume(.end)
                return
            case .wantRead:
                return
            case .wantWrite:
                awaitWritable(forTLS: true)
                return
            case .failed:
                consume(.failed)
                return
            }
        }
        readBufferedTLSInputLater()
    }

    /// Runs the handshake as far as the socket allows.
    ///
    /// - Returns: whether it has completed. A failed handshake closes the connection at once,
    ///   after reading what the client has already sent, so that it sees the close rather
    ///   than a reset.
    private func advanceHandshake(_ tls: TLSSession) -> Bool {
        switch tls.handshake() {
        case .complete:
            lastActivity = Self.now()
            headStartedAt = nil
            return true
        case .wantRead:
            lastActivity = Self.now()
            return false
        case .wantWrite:
            lastActivity = Self.now()
            awaitWritable(forTLS: true)
            return false
        case .failed(let reason):
            if let reason {
                configuration.onHandshakeFailure?(reason)
            }
            _ = Socket.read(fd, into: readBuffer)
            close(.connectionClosed)
            return false
        }
    }

    /// Schedules another read when decrypted bytes wait in the TLS session, since no read
    /// event will announce them.
    private func readBufferedTLSInputLater() {
        guard let tls, tls.hasBufferedInput else { return }
        queue.async { [weak self] in self?.readable() }
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        events: for event in parser.feed(bytes) {
            switch event {
            case .bodyFollows(let head, let declaredLength, let expectsContinue):
                guard hasRoomForExchange() else { break events }
                if let refusal = refusal(of: head) {
                    refuse(refusal)
                    break events
                }
                let reserved = declaredLength ?? 0
                guard server.bodyBudget.reserve(reserved) else {
                    refuse(.problem(status: 503, detail: "the server is receiving too many request bodies at once; retry shortly",
                                    headers: ["Retry-After": "1"]))
                    break events
                }
                append(state: .awaitingBody, request: Self.summary(of: head), owesContinue: expectsContinue,
                       closesConnection: !head.keepAlive)
                exchanges[exchanges.count - 1].reservedBodyBytes = reserved
                exchanges[exchanges.count - 1].bodyClock = expectsContinue ? nil : (Self.now(), 0)
            case .request(let request):
                let sequence: UInt64
                var reserved = 0
                if let index = awaitingBodyIndex {
                    exchanges[index].state = .handling
                    exchanges[index].bodyClock = nil
                    sequence = exchanges[index].sequence
                    // The handler holds the body now: the reservation goes with it, settled to
                    // the body's size (a chunked body was reserved only as far as it was seen).
                    reserved = request.body.count
                    let held = exchanges[index].reservedBodyBytes
                    exchanges[index].reservedBodyBytes = 0
                    if reserved > held { server.bodyBudget.force(reserved - held) } else { server.bodyBudget.release(held - reserved) }
                } else {
                    guard hasRoomForExchange() else { break events }
                    sequence = append(state: .handling, request: Self.summary(of: request.head), owesContinue: false,
                                      closesConnection: !request.keepAlive)
                }
                server.schedule(request, reservedBodyBytes: reserved, sequence: sequence, on: self)
            case .failure(let error):
                refuse(status: error.status, detail: error.reason)
            }
        }
        if parser.isFinished {
            stopReading()
        }
        reserveArrivedBody()
        if case .active = state {
            headStartedAt = parser.isReadingHead ? (headStartedAt ?? Self.now()) : nil
            if exchanges.count >= configuration.maxPipelinedRequests {
                // Not reading is the server's choice, so the client's header clock stops too.
                headStartedAt = nil
                suspendReading()
            }
        }
        pump()
    }

    /// What the server answers instead of reading the body of a request with `head`: the
    /// responder's refusal (unknown route, no API key, wrong media type), or `415` for a
    /// content coding the server cannot decode; `nil` to read the body.
    private func refusal(of head: HTTPRequestHead) -> HTTPResponse? {
        if let refusal = server.responder.admit(head) { return refusal }
        guard Gzip.requestCoding(head.headers.lowercasedListElements(named: "Content-Encoding")) != nil else {
            return .problem(status: 415, detail: "the request body's Content-Encoding is not supported: send it as it is, or gzip",
                            headers: ["Accept-Encoding": "gzip"])
        }
        return nil
    }

    /// Reserves the bytes of a chunked body that arrived past its reservation, or refuses the
    /// request when the server's body budget cannot take them.
    private func reserveArrivedBody() {
        guard case .active = state, let index = awaitingBodyIndex, let received = parser.bodyBytesReceived,
              received > exchanges[index].reservedBodyBytes else { return }
        let more = received - exchanges[index].reservedBodyBytes
        if server.bodyBudget.reserve(more) {
            exchanges[index].reservedBodyBytes = received
        } else {
            refuse(.problem(status: 503, detail: "the server is receiving too many request bodies at once; retry shortly",
                            headers: ["Retry-After": "1"]))
        }
    }

    /// Returns the body budget held by exchange `index` (whose body will not be handled).
    private func releaseBody(at index: Int) {
        server.bodyBudget.release(exchanges[index].reservedBodyBytes)
        exchanges[index].reservedBodyBytes = 0
        exchanges[index].bodyClock = nil
    }

    /// The client closed its side: a request it had begun will never complete, and nobody
    /// would read an answer to it; the responses already owed are still written.
    private func receivedEnd() {
        if parser.finish() != nil, let index = awaitingBodyIndex {
            releaseBody(at: index)
            exchanges.remove(at: index)
        }
        stopReading()
        pump()
    }

    /// Whether another request may be queued; if not, answers `503` in its place and stops
    /// reading.
    private func hasRoomForExchange() -> Bool {
        guard exchanges.count >= configuration.maxPipelinedRequests else { return true }
        refuse(status: 503, detail: "more than \(configuration.maxPipelinedRequests) pipelined requests")
        return false
    }

    /// Answers the request being read with a problem, closes after it, and stops reading.
    private func refuse(status: Int, detail: String) {
        refuse(.problem(status: status, detail: detail))
    }

    /// Answers the request being read with `response`, closes after it, and stops reading.
    private func refuse(_ response: HTTPResponse) {
        if let index = awaitingBodyIndex {
            releaseBody(at: index)
            exchanges[index].state = .ready(response, nil)
            exchanges[index].owesContinue = false
            exchanges[index].closesConnection = true
        } else {
            append(state: .ready(response, nil), request: .unparsed, owesContinue: false, closesConnection: true)
        }
        stopReading()
    }

    @discardableResult
    private func append(state: Exchange.State, request: ResponseEncoder.RequestSummary, owesContinue: Bool,
                        closesConnection: Bool) -> UInt64 {
        let sequence = nextSequence
        nextSequence += 1
        exchanges.append(Exchange(sequence: sequence, state: state, request: request, owesContinue: owesContinue,
                                  closesConnection: closesConnection))
        return sequence
    }

    /// The exchange whose body is still arriving; only ever the last one.
    private var awaitingBodyIndex: Int? {
        guard let last = exchanges.indices.last, case .awaitingBody = exchanges[last].state else { return nil }
        return last
    }

    private static func summary(of head: HTTPRequestHead) -> ResponseEncoder.RequestSummary {
        ResponseEncoder.RequestSummary(isHead: head.method == "HEAD", version: head.version, keepAlive: head.keepAlive,
                                       acceptsGzip: Gzip.accepted(by: head.headers["Accept-Encoding"]))
    }

    private func stopReading() {
        if case .active = state {
            state = .finishing
        }
        headStartedAt = nil
        suspendReading()
    }

    private func suspendReading() {
        guard !isReadSuspended else { return }
        readSource.suspend()
        isReadSuspended = true
    }

    private func resumeReading() {
        guard isReadSuspended else { return }
        readSource.resume()
        isReadSuspended = false
        // A body's rate is not charged for the time the server did not read it.
        if let index = awaitingBodyIndex, exchanges[index].bodyClock != nil {
            exchanges[index].bodyClock = (Self.now(), parser.bodyBytesReceived ?? 0)
        }
        readBufferedTLSInputLater()
    }

    // MARK: Writing

    /// A handler finished: its response waits its turn, then goes out.
    func handlerDidReturn(sequence: UInt64, response: HTTPResponse, writer: ResponseWriter?) {
        guard !isClosed, let index = exchanges.firstIndex(where: { $0.sequence == sequence }) else {
            writer?.terminate(.connectionClosed)
            return
        }
        exchanges[index].state = .ready(response, writer)
        pump()
    }

    /// A stream has bytes, finished, or was terminated.
    func streamDidChange() {
        pump()
    }

    /// The socket is writable: first the TLS handshake or read that waited for it, then the
    /// queued output.
    private func writable() {
        if awaitsWritableForTLS {
            awaitsWritableForTLS = false
            readable()
        }
        pump()
        suspendWritingIfIdle()
    }

    /// Activates the write source, if it is not already; `forTLS` when OpenSSL, not the send
    /// queue, is what waits.
    private func awaitWritable(forTLS: Bool = false) {
        if forTLS {
            awaitsWritableForTLS = true
        }
        if !isWriteSourceActive {
            writeSource.resume()
            isWriteSourceActive = true
        }
    }

    /// Suspends the write source once nothing waits for the socket to become writable.
    private func suspendWritingIfIdle() {
        guard isWriteSourceActive, !isClosed, outbound.isEmpty, !awaitsWritableForTLS else { return }
        writeSource.suspend()
        isWriteSourceActive = false
    }

    /// Moves whatever can be written from the front exchanges into the send queue, writes it,
    /// and then decides whether to read more or to close.
    private func pump() {
        switch state {
        case .active, .finishing: break
        case .lingering, .closed: return
        }
        // A stream that overflowed ends the connection even while the send queue is full.
        if let front = exchanges.first, case .streaming(let writer, _) = front.state, let reason = writer.abortReason {
            close(reason)
            return
        }
        fill()
        guard !isClosed else { return }
        flush()
        guard !isClosed else { return }
        if case .active = state, exchanges.count < configuration.maxPipelinedRequests, isReadSuspended {
            resumeReading()
            if parser.isReadingHead { headStartedAt = Self.now() }
        }
        finishIfDone()
    }

    private func fill() {
        while let front = exchanges.first, outbound.byteCount < Self.outboundWatermark {
            if front.owesContinue {
                exchanges[0].owesContinue = false
                if case .awaitingBody = front.state {
                    outbound.append(ResponseEncoder.continueResponse)
                    // The client sends its body once it reads this: the body's clock starts now.
                    exchanges[0].bodyClock = (Self.now(), parser.bodyBytesReceived ?? 0)
                }
            }
            switch front.state {
            case .awaitingBody, .handling:
                return
            case .ready(let response, let writer):
                let isLast: Bool = if case .finishing = state { exchanges.count == 1 } else { false }
                let encoded = ResponseEncoder.encode(response, to: front.request, close: front.closesConnection || isLast)
                outbound.append(encoded.head)
                exchanges[0].closesConnection = encoded.closesConnection
                switch encoded.body {
                case .none, .bytes:
                    if case .bytes(let bytes) = encoded.body { outbound.append(bytes) }
                    writer?.terminate(.finished)
                    if !completeFront() { return }
                case .chunkedStream, .streamUntilClose:
                    guard let writer else {
                        if !completeFront() { return }
                        continue
                    }
                    if case .chunkedStream = encoded.body {
                        exchanges[0].state = .streaming(writer, chunked: true)
                    } else {
                        exchanges[0].state = .streaming(writer, chunked: false)
                    }
                }
            case .streaming(let writer, let chunked):
                switch writer.take() {
                case .terminated(let reason):
                    // Too slow, or shut down: end without the last chunk, so the client can
                    // tell the body is incomplete.
                    close(reason)
                    return
                case .chunks(let chunks, let isLast):
                    for chunk in chunks where !chunk.isEmpty {
                        outbound.append(chunked ? ResponseEncoder.chunk(chunk) : chunk)
                    }
                    guard isLast else { return }
                    if chunked { outbound.append(ResponseEncoder.lastChunk) }
                    if !completeFront() { return }
                }
            }
        }
    }

    /// Retires the front exchange, whose response is fully queued.
    ///
    /// - Returns: whether later exchanges may be written; `false` when this response closes
    ///   the connection, in which case any later ones are dropped unanswered (a client must
    ///   retry pipelined requests that a close cut off, RFC 9112 §9.3.2).
    private func completeFront() -> Bool {
        let front = exchanges.removeFirst()
        guard front.closesConnection else { return true }
        if let index = awaitingBodyIndex {
            releaseBody(at: index)
        }
        stopReading()
        exchanges.forEach { $0.abandon(.connectionClosed) }
        exchanges.removeAll()
        return false
    }

    private func flush() {
        while !outbound.isEmpty {
            let result = if let tls { outbound.send(through: tls) } else { outbound.send(to: fd) }
            switch result {
            case .progressed:
                lastActivity = Self.now()
            case .wouldBlock:
                awaitWritable()
                return
            case .failed:
                close(.connectionClosed)
                return
            }
        }
        suspendWritingIfIdle()
    }

    /// Once a finishing connection owes nothing, shuts down sending and lingers (or closes at
    /// once if the client has already closed its side).
    private func finishIfDone() {
        guard case .finishing = state, exchanges.isEmpty, outbound.isEmpty else { return }
        if peerClosed {
            close(.connectionClosed)
            return
        }
        tls?.shutdown()
        Socket.shutdownWriting(fd)
        state = .lingering(since: Self.now())
        resumeReading()
    }

    // MARK: Timeouts, draining, closing

    /// Applies the header-read, idle and linger timeouts; called periodically by the server
    /// with the time read on this connection's queue. Times after `now` count as no time
    /// elapsed, never as a wrapped-around eternity.
    func checkTimeouts(now: UInt64) {
        func since(_ t: UInt64) -> UInt64 { now > t ? now - t : 0 }
        switch state {
        case .closed:
            return
        case .lingering(let lingerStart):
            if since(lingerStart) >= configuration.lingerTimeout.nanoseconds {
                close(.connectionClosed)
            }
        case .active, .finishing:
            if let started = headStartedAt, since(started) >= configuration.headerReadTimeout.nanoseconds {
                if tls?.isHandshaking == true {
                    configuration.onHandshakeFailure?("handshake not completed in time")
                    close(.connectionClosed)
                    return
                }
                refuse(status: 408, detail: "request header not received in time")
                pump()
                return
            }
            if let index = awaitingBodyIndex, !isReadSuspended, let clock = exchanges[index].bodyClock {
                let arrived = UInt64(max(0, (parser.bodyBytesReceived ?? 0) - clock.bytes))
                let rate = UInt64(configuration.minBodyBytesPerSecond)
                let (scaled, overflow) = arrived.multipliedReportingOverflow(by: 1_000_000_000)
                let allowed = overflow ? UInt64.max : configuration.bodyGrace.nanoseconds &+ scaled / rate
                if since(clock.since) >= allowed {
                    refuse(status: 408, detail: "request body not received in time (slower than \(rate) bytes per second)")
                    pump()
                    return
                }
            }
            let waitingOnServer = outbound.isEmpty && exchanges.contains {
                if case .awaitingBody = $0.state { false } else { true }
            }
            if !waitingOnServer && since(lastActivity) >= configuration.idleTimeout.nanoseconds {
                close(.connectionClosed)
            }
        }
    }

    /// The server is shutting down: read no more requests, finish the responses owed (a
    /// request not yet fully received is dropped), then close.
    func drain() {
        guard case .active = state else { return }
        if let index = awaitingBodyIndex {
            releaseBody(at: index)
            exchanges.remove(at: index)
        }
        stopReading()
        if exchanges.isEmpty && outbound.isEmpty {
            close(.serverShutdown)
        } else {
            pump()
        }
    }

    /// Closes at once: unwritten bytes are dropped and open streams terminated with `reason`.
    /// A TLS connection that owes nothing (idle, or drained) sends close_notify first; one
    /// cut off mid-response does not, so that the client can tell its response is truncated.
    func close(_ reason: ResponseWriter.Termination) {
        if isClosed { return }
        if let tls, exchanges.isEmpty, outbound.isEmpty, !peerClosed {
            tls.shutdown()
        }
        state = .closed
        hasClosed.store(true, ordering: .releasing)
        if let index = awaitingBodyIndex {
            releaseBody(at: index)
        }
        exchanges.forEach { $0.abandon(reason) }
        exchanges.removeAll()
        outbound.removeAll()
        // A suspended or never-activated source must be resumed for its cancellation to run.
        readSource.cancel()
        resumeReading()
        writeSource.cancel()
        if !isWriteSourceActive {
            writeSource.resume()
            isWriteSourceActive = true
        }
        server.connectionDidClose(self)
    }

    private func sourceDidCancel() {
        uncancelledSources -= 1
        if uncancelledSources == 0 {
            Socket.close(fd)
        }
    }

    static func now() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds
    }
}
