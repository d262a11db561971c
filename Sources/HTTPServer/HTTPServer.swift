import Dispatch

/// The service's HTTP/1.1 server: non-blocking POSIX sockets driven by Dispatch sources.
///
/// ```swift
/// let server = HTTPServer(configuration: .init(port: 0), responder: router)
/// try server.start()
/// print("listening on", server.port)
/// …
/// await server.shutdown(grace: .seconds(25))
/// ```
///
/// Design: a serial I/O queue owns the listening socket, the lifecycle and the connection
/// table; each connection lives on one of ``Configuration/ioQueues`` serial shard queues
/// (spread round-robin), so parsing and writing use every core while each connection's state
/// stays confined to one queue. Readiness comes from `DispatchSource` read and write sources
/// (epoll on Linux), so an idle connection costs no thread — blocking reads would tie one
/// libdispatch thread each, and the pool stops near 256 (docs/toolchain-notes.md). Handlers
/// run on a separate concurrent queue, at most
/// ``Configuration/maxConcurrentHandlers`` at a time, and report back to the I/O queue, so a
/// slow handler delays only its own connection. Pipelined requests are handled concurrently
/// and answered in order. Writes use `MSG_NOSIGNAL`, and `SIGPIPE` is ignored process-wide.
///
/// HTTPS: given ``Configuration/tls``, every connection speaks TLS through OpenSSL on the same
/// sources (the handshake and records never block; see ``Connection``); otherwise plain HTTP.
///
/// Limits and timeouts are described, with the threat each defends against, on
/// ``Configuration``; request limits on ``HTTPLimits``; stream buffering on ``ResponseWriter``.
///
/// Thread safety: the public methods may be called from any thread except the server's own
/// queues. The server's mutable state is confined to the I/O queue, each connection's to its
/// shard queue, and the handler slots are behind a lock, which is why the unchecked
/// `Sendable` conformance is safe.
public final class HTTPServer: @unchecked Sendable {
    /// Where the server is in its life.
    enum Lifecycle {
        /// Created; not yet listening.
        case idle
        /// Listening and serving.
        case running(listener: Int32, acceptSource: DispatchSourceRead)
        /// ``shutdown(grace:completion:)`` was called: no longer accepting; open connections
        /// finish what they owe. `waiters` are called when the last one closes, or when
        /// `graceTimer` fires and closes the rest.
        case draining(waiters: [@Sendable () -> Void], graceTimer: DispatchSourceTimer)
        /// Every connection is closed; the server cannot be started again.
        case stopped
    }

    /// The configuration the server was created with.
    public let configuration: Configuration
    /// The queue that owns the listener and the mutable state below (not the connections').
    let ioQueue = DispatchQueue(label: "sviserve.http.io")

    /// A serial queue that owns some of the connections, with their read scratch space.
    struct Shard: @unchecked Sendable {
        // @unchecked: `readBuffer` is used only on `queue`.
        let queue: DispatchQueue
        let readBuffer: UnsafeMutableRawBufferPointer
    }

    /// The connections' queues.
    let shards: [Shard]
    private let handlerQueue = DispatchQueue(label: "sviserve.http.handlers", attributes: .concurrent)
    /// What answers requests (and admits their bodies; see ``HTTPResponder/admit(_:)``).
    let responder: any HTTPResponder
    /// Request-body bytes held across every connection (``Configuration/maxBufferedBodyBytes``).
    let bodyBudget: BodyBudget
    /// Scratch space for the reads of refused connections. I/O queue only.
    let readBuffer: UnsafeMutableRawBufferPointer

    private var lifecycle = Lifecycle.idle
    private var boundPort = 0
    private var connections: [UInt64: Connection] = [:]
    private var nextConnectionID: UInt64 = 0
    private var isAcceptPaused = false
    private var sweepTimer: DispatchSourceTimer?
    /// Handlers running, and requests waiting for a handler slot (taken from every shard).
    private let handlerSlots = Locked(HandlerSlots())

    /// Creates a server that answers with `responder`. Nothing happens until ``start()``.
    public init(configuration: Configuration = Configuration(), responder: some HTTPResponder) {
        self.configuration = configuration
        self.responder = responder
        self.bodyBudget = BodyBudget(capacity: configuration.maxBufferedBodyBytes)
        self.readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        self.shards = (0..<configuration.ioQueues).map { i in
            Shard(queue: DispatchQueue(label: "sviserve.http.io.\(i)"), readBuffer: .allocate(byteCount: 64 * 1024, alignment: 16))
        }
    }

    deinit {
        readBuffer.deallocate()
        shards.forEach { $0.readBuffer.deallocate() }
    }

    /// Runs `body` with each shard's open connections, on that shard's queue. I/O queue only.
    private func forEachShard(_ body: @escaping @Sendable ([Connection]) -> Void) {
        var byShard: [ObjectIdentifier: [Connection]] = [:]
        for c in connections.values { byShard[ObjectIdentifier(c.queue), default: []].append(c) }
        for shard in shards {
            guard let members = byShard[ObjectIdentifier(shard.queue)] else { continue }
            shard.queue.async { body(members) }
        }
    }

    /// Binds, listens and starts accepting connections.
    ///
    /// - Throws: ``HTTPServerError`` if the address is invalid, the port is taken, or the
    ///   server was already started.
    public func start() throws(HTTPServerError) {
        let result: Result<Void, HTTPServerError> = ioQueue.sync {
            guard case .idle = lifecycle else { return .failure(.notStartable) }
            Socket.ignoreBrokenPipeSignal()
            let listener: Int32
            do throws(HTTPServerError) {
                listener = try Socket.listen(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
            } catch {
                return .failure(error)
            }
            boundPort = Socket.localPort(listener)
            let source = DispatchSource.makeReadSource(fileDescriptor: listener, queue: ioQueue)
            source.setEventHandler { self.acceptConnections() }
            source.setCancelHandler { Socket.close(listener) }
            lifecycle = .running(listener: listener, acceptSource: source)
            source.resume()
            startSweeping()
            return .success(())
        }
        try result.get()
    }

    /// The port the server listens on; useful after binding port 0. Zero before ``start()``.
    public var port: Int {
        ioQueue.sync { boundPort }
    }

    /// The number of open connections.
    public var connectionCount: Int {
        ioQueue.sync { connections.count }
    }

    /// Shuts down gracefully: stops accepting at once, lets every connection finish the
    /// responses it owes (no further requests are read from it; it closes when done), and after
    /// `grace` closes whatever is still open, terminating unfinished streams with
    /// ``ResponseWriter/Termination/serverShutdown``. Calls `completion` on an arbitrary thread
    /// once every connection is closed. Calling it again adds another completion.
    public func shutdown(grace: Duration, completion: @escaping @Sendable () -> Void) {
        ioQueue.async { [self] in
            switch lifecycle {
            case .idle, .stopped:
                lifecycle = .stopped
                completion()
            case .draining(let waiters, let graceTimer):
                lifecycle = .draining(waiters: waiters + [completion], graceTimer: graceTimer)
            case .running(_, let acceptSource):
                acceptSource.cancel()
                if isAcceptPaused {
                    acceptSource.resume()
                    isAcceptPaused = false
                }
                let graceTimer = DispatchSource.makeTimerSource(queue: ioQueue)
                graceTimer.schedule(deadline: .now() + .nanoseconds(Int(clamping: grace.nanoseconds)))
                graceTimer.setEventHandler { [self] in
                    forEachShard { $0.forEach { $0.close(.serverShutdown) } }
                }
                lifecycle = .draining(waiters: [completion], graceTimer: graceTimer)
                graceTimer.resume()
                forEachShard { $0.forEach { $0.drain() } }
                stopIfDrained()
            }
        }
    }

    /// Shuts down gracefully (see ``shutdown(grace:completion:)``) and returns once every
    /// connection is closed.
    public func shutdown(grace: Duration) async {
        await withCheckedContinuation { continuation in
            shutdown(grace: grace) { continuation.resume() }
        }
    }

    // MARK: Accepting

    private func acceptConnections() {
        guard case .running(let listener, let acceptSource) = lifecycle else { return }
        // Bounded per wake-up, so that a flood of connections cannot starve the others' I/O.
        for _ in 0..<64 {
            switch Socket.accept(listener) {
            case .none:
                return
            case .exhausted:
                // Out of descriptors: the listener stays readable, so pause rather than spin.
                acceptSource.suspend()
                isAcceptPaused = true
                ioQueue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in
                    guard isAcceptPaused, case .running(_, let pausedSource) = lifecycle else { return }
                    isAcceptPaused = false
                    pausedSource.resume()
                }
                return
            case .connection(let fd):
                guard connections.count < configuration.maxConnections else {
                    reject(fd)
                    continue
                }
                var session: TLSSession?
                if let context = configuration.tls {
                    guard let created = TLSSession(context: context, fd: fd) else {
                        Socket.close(fd)
                        continue
                    }
                    session = created
                }
                let connection = Connection(id: nextConnectionID, fd: fd, tls: session, server: self,
                                            shard: shards[Int(nextConnectionID % UInt64(shards.count))])
                nextConnectionID += 1
                connections[connection.id] = connection
                connection.start()
            }
        }
    }

    /// Answers a connection over the limit with `503` and closes it, without blocking. Over
    /// TLS it is closed without an answer: answering would take a handshake, the very cost the
    /// limit is there to refuse, and plain bytes would mean nothing to the client.
    private func reject(_ fd: Int32) {
        if configuration.tls == nil {
            let response = HTTPResponse.problem(status: 503, detail: "too many connections")
            let encoded = ResponseEncoder.encode(response, to: .unparsed, close: true)
            var bytes = encoded.head
            if case .bytes(let body) = encoded.body { bytes += body }
            _ = bytes.withUnsafeBytes { Socket.send(fd, $0) }
        }
        Socket.shutdownWriting(fd)
        // Consume what the client already sent, so that closing does not reset the connection.
        _ = Socket.read(fd, into: readBuffer)
        Socket.close(fd)
    }

    /// Called by a connection, on its queue, once it has closed.
    func connectionDidClose(_ connection: Connection) {
        ioQueue.async { [self] in
            connections[connection.id] = nil
            stopIfDrained()
        }
    }

    private func stopIfDrained() {
        guard case .draining(let waiters, let graceTimer) = lifecycle, connections.isEmpty else { return }
        graceTimer.cancel()
        sweepTimer?.cancel()
        sweepTimer = nil
        lifecycle = .stopped
        waiters.forEach { $0() }
    }

    // MARK: Timeouts

    /// Checks every connection's timeouts at a quarter of the shortest one (5 ms to 1 s), so
    /// that a timeout fires at most 25 % late and idle servers wake rarely.
    private func startSweeping() {
        let shortest = min(configuration.idleTimeout, configuration.headerReadTimeout, configuration.lingerTimeout)
        let interval = min(max(shortest.nanoseconds / 4, 5_000_000), 1_000_000_000)
        let timer = DispatchSource.makeTimerSource(queue: ioQueue)
        timer.schedule(deadline: .now() + .nanoseconds(Int(interval)), repeating: .nanoseconds(Int(interval)),
                       leeway: .nanoseconds(Int(interval / 10)))
        timer.setEventHandler { [self] in
            // The clock is read on each shard's queue: a time read here could precede activity
            // the shard records before it runs the check.
            forEachShard { connections in
                let now = Connection.now()
                connections.forEach { $0.checkTimeouts(now: now) }
            }
        }
        sweepTimer = timer
        timer.resume()
    }

    // MARK: Handlers

    /// Request-body bytes held now, across every connection (for tests and metrics).
    public var bufferedBodyBytes: Int { bodyBudget.inUse }

    /// Runs the handler for `request` (exchange `sequence` of `connection`, holding
    /// `reservedBodyBytes` of the body budget) when a slot is free. Called on the connection's
    /// queue.
    func schedule(_ request: HTTPRequest, reservedBodyBytes: Int, sequence: UInt64, on connection: Connection) {
        let job = HandlerJob(request: request, reservedBodyBytes: reservedBodyBytes, sequence: sequence, connection: connection)
        let runNow = handlerSlots.withLock { slots in
            guard slots.running < configuration.maxConcurrentHandlers else {
                slots.waiting.append(job)
                return false
            }
            slots.running += 1
            return true
        }
        if runNow { run(job) }
    }

    /// Runs `job` on the handler queue (its slot is already taken), then the waiting jobs
    /// its slot passes to.
    private func run(_ job: HandlerJob) {
        let responder = responder
        let limit = configuration.maxStreamBufferBytes
        handlerQueue.async { [self] in
            var request = job.request
            var reserved = job.reservedBodyBytes
            var response = decodeContent(of: &request, reserved: &reserved) ?? responder.respond(to: request)
            // The handler has answered: the body it was given is no longer held.
            request.body = []
            bodyBudget.release(reserved)
            if !ResponseEncoder.isWritable(response) {
                response = .problem(status: 500, detail: "the response could not be encoded")
            }
            var writer: ResponseWriter?
            let connection = job.connection
            if case .stream(let produce) = response.body,
               ResponseEncoder.sendsContent(status: response.status, isHead: request.method == "HEAD") {
                let queue = connection.queue
                let created = ResponseWriter(maxBufferedBytes: limit) {
                    queue.async { connection.streamDidChange() }
                }
                produce(created)
                writer = created
            }
            connection.queue.async { [writer, response] in
                connection.handlerDidReturn(sequence: job.sequence, response: response, writer: writer)
            }
            handlerDidFinish()
        }
    }

    /// Decodes a gzip request body in place (the responder sees it as sent without coding),
    /// never inflating past ``HTTPLimits/maxBodyLength`` and charging the inflated bytes to the
    /// body budget; returns the answer when it cannot: `413` past the limit, `503` past the
    /// budget, `400` for a body that is not gzip. Codings other than gzip were refused with
    /// `415` before the body was read.
    private func decodeContent(of request: inout HTTPRequest, reserved: inout Int) -> HTTPResponse? {
        guard !request.body.isEmpty,
              Gzip.requestCoding(request.headers.lowercasedListElements(named: "Content-Encoding")) == .gzip else { return nil }
        switch Gzip.decompress(request.body, limit: configuration.limits.maxBodyLength) {
        case .failure(.tooLarge):
            return .problem(status: 413, detail: "the request body inflates to more than \(configuration.limits.maxBodyLength) bytes")
        case .failure(.malformed):
            return .problem(status: 400, detail: "the request body is not valid gzip (Content-Encoding: gzip)")
        case .success(let inflated):
            guard bodyBudget.reserve(inflated.count) else {
                return .problem(status: 503, detail: "the server is receiving too many request bodies at once; retry shortly",
                                headers: ["Retry-After": "1"])
            }
            bodyBudget.release(reserved)
            reserved = inflated.count
            request.body = inflated
            request.head.headers.remove(name: "Content-Encoding")
            return nil
        }
    }

    /// Passes the finished handler's slot to the oldest waiting job of an open connection, if any.
    private func handlerDidFinish() {
        var skipped = 0
        let next = handlerSlots.withLock { slots -> HandlerJob? in
            while let next = slots.waiting.popFirst() {
                if !next.connection.hasClosed.load(ordering: .acquiring) { return next }
                skipped += next.reservedBodyBytes
            }
            slots.running -= 1
            return nil
        }
        bodyBudget.release(skipped)
        if let next { run(next) }
    }
}

/// The handler slots: how many handlers run, and the jobs waiting for one.
struct HandlerSlots {
    var running = 0
    var waiting = HandlerQueue()
}

/// A request waiting for, or holding, a handler slot.
struct HandlerJob: Sendable {
    let request: HTTPRequest
    /// The body budget the request holds until its handler has answered.
    let reservedBodyBytes: Int
    let sequence: UInt64
    let connection: Connection
}

/// A first-in, first-out queue of handler jobs with amortised O(1) removal from the front.
struct HandlerQueue {
    private var jobs: [HandlerJob] = []
    private var head = 0

    mutating func append(_ job: HandlerJob) {
        jobs.append(job)
    }

    mutating func popFirst() -> HandlerJob? {
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head >= 64 && head * 2 >= jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }
}
