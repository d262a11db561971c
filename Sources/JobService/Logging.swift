import Foundation
import HTTPServer
import JSON
import Synchronization

/// Where the service's structured log lines go: one JSON object per line (stderr by default).
/// Lines never contain request headers, so API keys are never logged.
public final class LogSink: Sendable {
    /// Held while a line is written, so lines never interleave.
    private let writing = Locked(())
    private let output: @Sendable (String) -> Void

    public init(_ output: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }) {
        self.output = output
        buffer = nil
    }

    private init(buffer: LogBuffer) {
        output = { buffer.append($0) }
        self.buffer = buffer
    }

    /// A sink writing to standard error through a buffer flushed every `interval` seconds (and
    /// when it holds 64 KiB), so a request's log line costs a copy rather than a system call on
    /// the server's I/O thread. Lines written in the last interval before a `kill -9` are lost;
    /// call ``flush()`` before a normal exit.
    public static func bufferedStandardError(interval: Double = 0.02) -> LogSink {
        LogSink(buffer: LogBuffer(fd: STDERR_FILENO, interval: interval))
    }

    private let buffer: LogBuffer?

    /// Writes out whatever is buffered (nothing to do for an unbuffered sink).
    public func flush() { buffer?.flush() }

    /// Writes one line: the fields, with `ts` (RFC 3339 UTC) first.
    public func write(_ fields: [(String, Any)]) {
        var line = #"{"ts":""#
        line.reserveCapacity(160)
        line += Representations.rfc3339(Date()) ?? ""
        line += "\""
        for (k, v) in fields {
            line += ",\""; line += k; line += "\":"
            switch v {
            case let s as String: JSONWriter.appendString(s, to: &line)
            case let d as Double: line += JSONWriter.floatText(d)
            case let i as Int: line += String(i)
            default: JSONWriter.appendString("\(v)", to: &line)
            }
        }
        line += "}"
        writing.withLock { _ in output(line) }
    }
}

/// Bytes waiting to be written to a file descriptor, flushed by a timer or when large.
final class LogBuffer: @unchecked Sendable {
    // @unchecked: `timer` is set once in init.
    private let bytes: Locked<[UInt8]>
    /// Held through a flush, so lines leave in the order they were appended.
    private let flushing = Locked(())
    private let fd: Int32
    private var timer: (any DispatchSourceTimer)?

    init(fd: Int32, interval: Double) {
        self.fd = fd
        var bytes = [UInt8]()
        bytes.reserveCapacity(1 << 16)
        self.bytes = Locked(bytes)
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(5))
        timer.setEventHandler { [weak self] in self?.flush() }
        timer.resume()
        self.timer = timer
    }

    func append(_ line: String) {
        let full = bytes.withLock { bytes in
            bytes.append(contentsOf: line.utf8)
            bytes.append(0x0A)
            return bytes.count >= 1 << 16
        }
        if full { flush() }
    }

    func flush() {
        flushing.withLock { _ in write(taking()) }
    }

    /// The bytes appended so far, leaving the buffer empty (its capacity kept).
    private func taking() -> [UInt8] {
        bytes.withLock { bytes in
            defer { bytes.removeAll(keepingCapacity: true) }
            return bytes
        }
    }

    private func write(_ pending: [UInt8]) {
        pending.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { break }
            }
        }
    }

    deinit { timer?.cancel() }
}

/// A responder that logs one line per request (method, path, status, handler milliseconds)
/// around a router, and counts the request in `metrics` under its route pattern.
public struct LoggedResponder: HTTPResponder {
    let inner: Router
    let log: LogSink
    let metrics: RequestMetrics?

    public init(_ inner: Router, log: LogSink, metrics: RequestMetrics? = nil) {
        self.inner = inner; self.log = log; self.metrics = metrics
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        let (response, route) = inner.respondLabelled(to: request)
        record(request.head, route, response, since: start)
        return response
    }

    /// The router's admission; a request refused before its body is logged and counted like
    /// any other.
    public func admit(_ head: HTTPRequestHead) -> HTTPResponse? {
        let start = DispatchTime.now().uptimeNanoseconds
        let (refusal, route) = inner.admitLabelled(head)
        if let refusal { record(head, route, refusal, since: start) }
        return refusal
    }

    private func record(_ head: HTTPRequestHead, _ route: String?, _ response: HTTPResponse, since start: UInt64) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        log.write([("event", "request"), ("method", head.method), ("path", head.path), ("status", response.status), ("ms", seconds * 1e3)])
        metrics?.record(method: head.method, route: route, status: response.status, seconds: seconds)
    }
}

/// Whether the service takes new work: `/readyz` answers 503 once draining starts. One
/// atomic flag that only ever goes from taking work to draining.
public final class Readiness: Sendable {
    private let draining = Atomic<Bool>(false)
    public init() {}
    public var isDraining: Bool { draining.load(ordering: .acquiring) }
    /// Starts draining (SIGTERM): readiness fails from now on.
    public func drain() { draining.store(true, ordering: .releasing) }
}
