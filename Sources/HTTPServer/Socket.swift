#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the server could not start listening.
public enum HTTPServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The host is not a numeric IPv4 or IPv6 address (names are not resolved, so that
    /// binding never waits on DNS).
    case invalidHost(String)
    /// A system call failed, with its `errno`.
    case systemCall(String, errno: Int32)
    /// ``HTTPServer/start()`` was called twice, or after shutdown.
    case notStartable

    /// A short description for logs.
    public var description: String {
        switch self {
        case .invalidHost(let host): "invalid listen address \(host)"
        case .systemCall(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        case .notStartable: "server already started or shut down"
        }
    }
}

#if canImport(Glibc)
private let systemAccept = Glibc.accept
private let systemListen = Glibc.listen
#elseif canImport(Darwin)
private let systemAccept = Darwin.accept
private let systemListen = Darwin.listen
#endif

/// Thin wrappers over the POSIX socket calls the server makes, hiding Glibc/Darwin spelling.
/// Every descriptor they create is non-blocking and close-on-exec.
enum Socket {
    #if os(Linux)
    private static let noSignal = Int32(MSG_NOSIGNAL)
    #else
    private static let noSignal: Int32 = 0
    #endif

    /// Creates a listening socket bound to `host`:`port` (0 for any free port), with
    /// `SO_REUSEADDR` so a restarted server can bind while old connections sit in TIME_WAIT.
    static func listen(host: String, port: Int, backlog: Int32) throws(HTTPServerError) -> Int32 {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let family: Int32
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        } else {
            throw .invalidHost(host)
        }
        guard (0...65535).contains(port) else { throw .invalidHost("\(host):\(port)") }
        let fd = try create(family: family)
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, name: "SO_REUSEADDR")
            let result = family == AF_INET
                ? withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                : withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            guard result == 0 else { throw HTTPServerError.systemCall("bind", errno: errno) }
            guard systemListen(fd, backlog) == 0 else { throw HTTPServerError.systemCall("listen", errno: errno) }
        } catch let error as HTTPServerError {
            close(fd)
            throw error
        } catch {
            close(fd)
            throw .systemCall("listen", errno: EINVAL)
        }
        return fd
    }

    /// The port a bound socket listens on.
    static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return 0 }
        let family = Int32(storage.ss_family)
        return withUnsafePointer(to: &storage) { pointer in
            if family == AF_INET6 {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        }
    }

    /// The outcome of one `accept`.
    enum Accepted {
        /// A new connection, already non-blocking with `TCP_NODELAY` set.
        case connection(Int32)
        /// No connection is waiting.
        case none
        /// The process or system is out of descriptors or memory: stop accepting for a while.
        case exhausted
    }

    /// Accepts one pending connection without blocking.
    static func accept(_ listener: Int32) -> Accepted {
        while true {
            // accept4 is not exported by Swift's Glibc module; two fcntl calls do its job.
            let fd = systemAccept(listener, nil, nil)
            if fd >= 0 {
                configureDescriptor(fd)
                try? setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, name: "TCP_NODELAY")
                #if !os(Linux)
                try? setOption(fd, SOL_SOCKET, SO_NOSIGPIPE, 1, name: "SO_NOSIGPIPE")
                #endif
                return .connection(fd)
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .exhausted
            default: return .none
            }
        }
    }

    /// Sends bytes without blocking and without raising `SIGPIPE`; returns `send`'s result.
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        #if os(Linux)
        return Glibc.send(fd, base, bytes.count, noSignal)
        #else
        return Darwin.send(fd, base, bytes.count, noSignal)
        #endif
    }

    /// The outcome of one non-blocking read.
    enum ReadResult {
        /// This many bytes (more than zero) were read to the start of the buffer.
        case bytes(Int)
        /// The peer closed its sending side.
        case end
        /// Nothing to read yet.
        case wouldBlock
        /// The connection failed (reset); it must be closed.
        case failed
    }

    /// Reads into `buffer` without blocking.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        #if canImport(Glibc)
        let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
        #else
        let count = Darwin.read(fd, buffer.baseAddress, buffer.count)
        #endif
        if count > 0 { return .bytes(count) }
        if count == 0 { return .end }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wouldBlock : .failed
    }

    /// Shuts down the sending side, so the peer reads end-of-stream after the last response.
    static func shutdownWriting(_ fd: Int32) {
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes a descriptor.
    static func close(_ fd: Int32) {
        #if os(Linux)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }

    /// Makes writes to closed sockets fail with `EPIPE` instead of killing the process, for any
    /// code path (or library) that writes without `MSG_NOSIGNAL`. Process-wide, idempotent.
    static func ignoreBrokenPipeSignal() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    private static func create(family: Int32) throws(HTTPServerError) -> Int32 {
        #if os(Linux)
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(family, SOCK_STREAM, 0)
        if fd >= 0 { configureDescriptor(fd) }
        #endif
        guard fd >= 0 else { throw .systemCall("socket", errno: errno) }
        return fd
    }

    private static func configureDescriptor(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    private static func setOption(_ fd: Int32, _ level: Int32, _ option: Int32, _ value: Int32, name: String) throws(HTTPServerError) {
        var value = value
        guard setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw .systemCall("setsockopt \(name)", errno: errno)
        }
    }
}
