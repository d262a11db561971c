import Foundation
import HTTPServer

/// Request counts and handler latencies by method, route pattern and status, exposed on
/// `/metrics` in Prometheus text format. Routes are labelled by pattern (`/v1/jobs/{id}`),
/// never by the raw path, so the series stay bounded; unmatched paths share `unmatched`.
/// Latency is the handler's time to produce the response head (a stream's body is not timed).
public final class RequestMetrics: Sendable {
    private struct Tables {
        var counts: [Series: Int] = [:]
        var latencies: [Route: Histogram] = [:]
    }

    private let tables = Locked(Tables())

    /// Upper bounds (seconds) of the latency histogram's buckets; `+Inf` is implied.
    public static let bucketBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    struct Route: Hashable { var method: String; var route: String }
    struct Series: Hashable { var route: Route; var status: Int }
    struct Histogram {
        var buckets = [Int](repeating: 0, count: RequestMetrics.bucketBounds.count)
        var count = 0
        var sum = 0.0
    }

    public init() {}

    /// Records one request served by `route` (or `nil` when unmatched) with `status`, whose
    /// handler took `seconds`.
    public func record(method: String, route: String?, status: Int, seconds: Double) {
        let key = Route(method: method, route: route ?? "unmatched")
        let bucket = Self.bucketBounds.firstIndex(where: { seconds <= $0 })
        tables.withLock { t in
            t.counts[Series(route: key, status: status), default: 0] += 1
            var h = t.latencies[key] ?? Histogram()
            if let bucket { h.buckets[bucket] += 1 }
            h.count += 1
            h.sum += seconds
            t.latencies[key] = h
        }
    }

    /// Requests counted for `method` and `route` with `status` (for tests).
    public func count(method: String, route: String, status: Int) -> Int {
        tables.withLock { $0.counts[Series(route: Route(method: method, route: route), status: status)] ?? 0 }
    }

    /// The counter and histogram families in Prometheus text exposition format, series sorted.
    public func exposition() -> String {
        let (counts, latencies) = tables.withLock { ($0.counts, $0.latencies) }
        func labels(_ r: Route) -> String { "method=\"\(r.method)\",route=\"\(r.route)\"" }
        var text = "# HELP sviserve_http_requests_total HTTP requests by method, route pattern and status.\n# TYPE sviserve_http_requests_total counter\n"
        for (s, n) in counts.sorted(by: { ($0.key.route.route, $0.key.route.method, $0.key.status) < ($1.key.route.route, $1.key.route.method, $1.key.status) }) {
            text += "sviserve_http_requests_total{\(labels(s.route)),status=\"\(s.status)\"} \(n)\n"
        }
        text += "# HELP sviserve_http_request_duration_seconds Handler time to the response head.\n# TYPE sviserve_http_request_duration_seconds histogram\n"
        for (r, h) in latencies.sorted(by: { ($0.key.route, $0.key.method) < ($1.key.route, $1.key.method) }) {
            var cumulative = 0
            for (bound, n) in zip(Self.bucketBounds, h.buckets) {
                cumulative += n
                text += "sviserve_http_request_duration_seconds_bucket{\(labels(r)),le=\"\(bound)\"} \(cumulative)\n"
            }
            text += "sviserve_http_request_duration_seconds_bucket{\(labels(r)),le=\"+Inf\"} \(h.count)\n"
            text += "sviserve_http_request_duration_seconds_sum{\(labels(r))} \(h.sum)\n"
            text += "sviserve_http_request_duration_seconds_count{\(labels(r))} \(h.count)\n"
        }
        return text
    }
}
