#if canImport(Glibc)
import Glibc
#endif
extension HTTPServer {
    /// Where a server listens and the limits it enforces. Every default is the service's
    /// documented value (docs/api.md); tests shorten the timeouts.
    public struct Configuration: Sendable {
        /// The numeric IPv4 or IPv6 address to bind. Default `127.0.0.1`: the service listens
        /// on loopback unless told otherwise, so it is never exposed by accident.
        public var host: String
        /// The TCP port; 0 picks a free one (read it back from ``HTTPServer/port``). Default 8080.
        public var port: Int
        /// The request parser's limits (request line, headers, body).
        public var limits: HTTPLimits
        /// How long a connection may sit without the client sending or accepting a byte while
        /// the server waits on it. Default 60 s.
        ///
        /// Threat: idle or abandoned connections holding descriptors and memory forever, and
        /// clients that stop reading a response (slow read) to pin a connection. Time spent
        /// waiting on a handler or a quiet stream is not counted.
        public var idleTimeout: Duration
        /// How long a client may take from the first byte of a request to the end of its
        /// header section. Default 10 s.
        ///
        /// Threat: slow-loris, a client trickling header bytes to hold a connection open just
        /// under the idle timeout. Answered `408`, then the connection is closed.
        public var headerReadTimeout: Duration
        /// How long a request body may take before ``minBodyBytesPerSecond`` applies to it,
        /// counted from the end of its head (or from `100 Continue`). Default 10 s.
        public var bodyGrace: Duration
        /// The slowest average rate, in bytes per second, at which a request body may arrive
        /// once ``bodyGrace`` has passed: a body of `n` bytes must be complete within
        /// `bodyGrace + n / minBodyBytesPerSecond`. Default 1024.
        ///
        /// Threat: slow bodies. The idle timeout restarts on every byte, so without a rate a
        /// client sending one body byte every 30 s holds its connection (and its share of
        /// ``maxBufferedBodyBytes``) forever, and a thousand such clients keep everyone else
        /// out. Answered `408`, then the connection is closed. Time the server spends not
        /// reading (pipelined requests at their limit) is not counted.
        public var minBodyBytesPerSecond: Int
        /// The most request-body bytes held at once across every connection. Default 256 MiB.
        ///
        /// Threat: many connections each sending a body within ``HTTPLimits/maxBodyLength``
        /// together exhausting memory. See `BodyBudget`: a request that does not fit is
        /// answered `503` with `Retry-After` before its body is read.
        public var maxBufferedBodyBytes: Int
        /// How long, after the last response of a closing connection, the client's further
        /// bytes are read and discarded before the socket is closed. Default 2 s.
        ///
        /// Closing a socket with unread input makes the kernel reset the connection, which can
        /// destroy the final response (often an error) before the client reads it; lingering
        /// avoids that, and the bound stops a client from holding a closing connection open.
        public var lingerTimeout: Duration
        /// The most open connections. Default 1024.
        ///
        /// Threat: descriptor and memory exhaustion by many connections. A connection beyond
        /// the limit is accepted, sent `503` with `Connection: close` (best effort, one
        /// non-blocking write) and closed at once, so clients get an answer instead of waiting
        /// in the kernel's backlog.
        public var maxConnections: Int
        /// The most requests one connection may have received and not yet been answered.
        /// Default 32.
        ///
        /// Threat: a client pipelining thousands of requests without reading responses, making
        /// the server queue requests and responses without bound. At the limit the server stops
        /// reading that socket until responses go out; a single read that carries more requests
        /// than the limit has the first excess one answered `503` and the connection closed.
        public var maxPipelinedRequests: Int
        /// The most handlers running at once, across all connections. Default 64.
        ///
        /// Threat: handlers that block (disk, locks) taking every libdispatch worker thread
        /// (the pool stops near 256), which would stall the I/O queue and so every connection.
        /// Requests beyond the limit wait, first come first served.
        public var maxConcurrentHandlers: Int
        /// The most bytes of a streamed response that may wait for a slow client.
        /// Default 1 MiB. See ``ResponseWriter``.
        public var maxStreamBufferBytes: Int
        /// The listen backlog passed to `listen(2)`. Default 511.
        public var backlog: Int32
        /// Serial I/O queues the connections are spread over (each connection stays on one).
        /// Default: one per online CPU, so that parsing and writing use every core; 1 puts
        /// every connection on one queue.
        public var ioQueues: Int
        /// The certificate and key to serve HTTPS with; `nil` (the default) serves plain HTTP.
        ///
        /// The handshake counts against ``headerReadTimeout`` from the moment the connection is
        /// accepted (a client that connects and never completes it is closed like a
        /// slow-loris), and ``idleTimeout`` applies as before. A connection whose handshake
        /// fails — a plain-HTTP request sent to the HTTPS port, among others — is closed at
        /// once without a response.
        public var tls: TLSContext?
        /// Called on one of the server's I/O queues with OpenSSL's reason (or a timeout) when a TLS
        /// handshake fails; not called when the client simply disconnects. For a log line: it
        /// must return quickly. Default `nil`.
        public var onHandshakeFailure: (@Sendable (_ reason: String) -> Void)?

        /// CPUs online now (at least 1).
        public static var onlineCPUs: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

        /// Creates a configuration; every argument defaults to the documented value.
        ///
        /// - Precondition: every count and duration is positive.
        public init(host: String = "127.0.0.1", port: Int = 8080, limits: HTTPLimits = HTTPLimits(),
                    idleTimeout: Duration = .seconds(60), headerReadTimeout: Duration = .seconds(10),
                    bodyGrace: Duration = .seconds(10), minBodyBytesPerSecond: Int = 1024,
                    maxBufferedBodyBytes: Int = 256 << 20,
                    lingerTimeout: Duration = .seconds(2), maxConnections: Int = 1024,
                    maxPipelinedRequests: Int = 32, maxConcurrentHandlers: Int = 64,
                    maxStreamBufferBytes: Int = 1 << 20, backlog: Int32 = 511, ioQueues: Int = Configuration.onlineCPUs,
                    tls: TLSContext? = nil, onHandshakeFailure: (@Sendable (_ reason: String) -> Void)? = nil) {
            precondition(idleTimeout > .zero && headerReadTimeout > .zero && lingerTimeout > .zero && bodyGrace > .zero,
                         "timeouts must be positive")
            precondition(minBodyBytesPerSecond > 0 && maxBufferedBodyBytes > 0, "body limits must be positive")
            precondition(maxConnections > 0 && maxPipelinedRequests > 0 && maxConcurrentHandlers > 0
                && maxStreamBufferBytes > 0 && backlog > 0 && ioQueues > 0, "server limits must be positive")
            self.host = host
            self.port = port
            self.limits = limits
            self.idleTimeout = idleTimeout
            self.headerReadTimeout = headerReadTimeout
            self.bodyGrace = bodyGrace
            self.minBodyBytesPerSecond = minBodyBytesPerSecond
            self.maxBufferedBodyBytes = maxBufferedBodyBytes
            self.lingerTimeout = lingerTimeout
            self.maxConnections = maxConnections
            self.maxPipelinedRequests = maxPipelinedRequests
            self.maxConcurrentHandlers = maxConcurrentHandlers
            self.maxStreamBufferBytes = maxStreamBufferBytes
            self.backlog = backlog
            self.ioQueues = ioQueues
            self.tls = tls
            self.onHandshakeFailure = onHandshakeFailure
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `UInt64.max`.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}
