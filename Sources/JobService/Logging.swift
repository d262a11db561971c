import Foundation
import HTTPServer

/// Where the service's structured log lines go: one JSON object per line (stderr by default).
/// Lines never contain request headers, so API keys are never logged.
public final class LogSink: @unchecked Sendable {
    // @unchecked: `write` serialises through `lock`; `output` is immutable.
    private let lock = NSLock()
    private let output: @Sendable (String) -> Void

    public init(_ output: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }) {
        self.output = output
    }

    /// Writes one line: the fields, with `ts` (RFC 3339 UTC) first.
    public func write(_ fields: [(String, Any)]) {
        var parts = ["\"ts\":\"\(Representations.rfc3339(Date()) ?? "")\""]
        for (k, v) in fields {
            switch v {
            case let s as String: parts.append("\"\(k)\":\(ProblemValue.string(s).serialized)")
            case let d as Double: parts.append("\"\(k)\":\(d.isFinite ? String(d) : "null")")
            case let i as Int: parts.append("\"\(k)\":\(i)")
            default: parts.append("\"\(k)\":\(ProblemValue.string("\(v)").serialized)")
            }
        }
        lock.lock(); defer { lock.unlock() }
        output("{" + parts.joined(separator: ",") + "}")
    }
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
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        log.write([("event", "request"), ("method", request.method), ("path", request.path), ("status", response.status), ("ms", seconds * 1e3)])
        metrics?.record(method: request.method, route: route, status: response.status, seconds: seconds)
        return response
    }
}

/// Whether the service takes new work: `/readyz` answers 503 once draining starts.
public final class Readiness: @unchecked Sendable {
    // @unchecked: `draining` is read and written under `lock`.
    private let lock = NSLock()
    private var draining = false
    public init() {}
    public var isDraining: Bool { lock.lock(); defer { lock.unlock() }; return draining }
    /// Starts draining (SIGTERM): readiness fails from now on.
    public func drain() { lock.lock(); draining = true; lock.unlock() }
}
