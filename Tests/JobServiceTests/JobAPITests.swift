import Testing
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPServer
@testable import JobService

/// The job API over real loopback sockets against a server started by the test.
@Suite(.serialized) struct JobAPITests {
    /// A blocking request through URLSession (loopback only), with a bounded wait.
    static func request(_ method: String, _ url: String, body: [UInt8]? = nil, headers: [String: String] = [:]) -> (status: Int, headers: [String: String], body: String) {
        var req = URLRequest(url: URL(string: url)!, timeoutInterval: 30)
        req.httpMethod = method
        if let body { req.httpBody = Data(body); req.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var out: (Int, [String: String], String) = (0, [:], "")
        URLSession.shared.dataTask(with: req) { data, response, _ in
            let http = response as? HTTPURLResponse
            let fields = (http?.allHeaderFields as? [String: String]) ?? [:]
            out = (http?.statusCode ?? 0, fields, data.map { String(decoding: $0, as: UTF8.self) } ?? "")
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 40)
        return out
    }

    /// A blocking HTTP client: method, URL, body, headers → status, headers, body.
    typealias Client = (_ method: String, _ url: String, _ body: [UInt8]?, _ headers: [String: String]) -> (status: Int, headers: [String: String], body: String)

    /// Runs `body` against a job manager and the job API served on a loopback port (over TLS
    /// with `tls`), shutting both down afterwards.
    static func withLiveAPI(_ configuration: JobManagerConfiguration = .init(workers: 1), tls: TLSContext? = nil,
                            _ body: (JobManager, HTTPServer) throws -> Void) throws {
        let manager = JobManager(configuration: configuration)
        defer { manager.shutdown() }
        let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, tls: tls), responder: JobAPI(manager: manager).router())
        try server.start()
        defer { server.shutdown(grace: .seconds(1)) { } }
        try body(manager, server)
    }

    @Test func submitStreamPollResultCancelAndErrors() throws {
        try JobAPITests.withLiveAPI { _, server in
            Self.jobFlow(base: "http://127.0.0.1:\(server.port)", client: Self.request)
        }
    }

    /// The job API's flow, through `client` against the server at `base`: submit, stream the
    /// events (SSE) to the result, poll, fetch the result, NDJSON replay, list, validate,
    /// capabilities, metrics, idempotency, errors, cancel, delete.
    static func jobFlow(base: String, client: Client) {
        func request(_ method: String, _ url: String, body: [UInt8]? = nil, headers: [String: String] = [:]) -> (status: Int, headers: [String: String], body: String) {
            client(method, url, body, headers)
        }

        // Submit → 202 with Location.
        let submitted = request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("normal_normal_reparam"))
        #expect(submitted.status == 202, "\(submitted)")
        let location = submitted.headers["Location"] ?? ""
        #expect(location.hasPrefix("/v1/jobs/"))

        // Stream the events to the terminal one (SSE), then poll and fetch the result.
        let stream = request("GET", "\(base)\(location)/events")
        #expect(stream.status == 200 && stream.body.contains("event: status") && stream.body.contains("event: result"), "\(stream.body.prefix(300))")
        let resource = request("GET", "\(base)\(location)")
        #expect(resource.status == 200 && resource.body.contains("\"status\":\"succeeded\""))
        let result = request("GET", "\(base)\(location)/result")
        #expect(result.status == 200 && result.body.contains("\"final_elbo\""))

        // NDJSON replay after the first event.
        let ndjson = request("GET", "\(base)\(location)/events?after=1", headers: ["Accept": "application/x-ndjson"])
        #expect(ndjson.status == 200 && !ndjson.body.contains("\"id\":1,") && ndjson.body.contains("\"event\":\"result\""))

        // List, validate, capabilities.
        #expect(request("GET", "\(base)/v1/jobs?page_size=5").body.contains(location.replacingOccurrences(of: "/v1/jobs/", with: "")))
        let invalid = request("POST", "\(base)/v1/validate", body: Array(#"{"model": [], "guide": [], "oops": 1}"#.utf8))
        #expect(invalid.status == 422 && invalid.body.contains("\"pointer\":\"/oops\""), "\(invalid)")
        #expect(request("GET", "\(base)/v1/capabilities").body.contains("\"straight_through\""))
        let metrics = request("GET", "\(base)/metrics")
        #expect(metrics.status == 200 && metrics.body.contains("sviserve_jobs{status=\"succeeded\"} 1"), "\(metrics.body)")

        // Idempotency: the same key and body give the original job; another body is refused.
        let spec = JobManagerTests.spec("normal_normal_reparam")
        let first = request("POST", "\(base)/v1/jobs", body: spec, headers: ["Idempotency-Key": "k1"])
        let again = request("POST", "\(base)/v1/jobs", body: spec, headers: ["Idempotency-Key": "k1"])
        #expect(first.status == 202 && again.status == 200 && first.headers["Location"] == again.headers["Location"])
        let other = request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("logreg"), headers: ["Idempotency-Key": "k1"])
        #expect(other.status == 422)

        // Errors: malformed JSON, unknown job, wrong method, result before it exists.
        #expect(request("POST", "\(base)/v1/jobs", body: Array("{".utf8)).status == 400)
        #expect(request("GET", "\(base)/v1/jobs/nope").status == 404)
        let wrongMethod = request("PUT", "\(base)/v1/jobs")
        #expect(wrongMethod.status == 405 && (wrongMethod.headers["Allow"] ?? "").contains("POST"))

        // Cancel a long job; delete the finished one.
        let long = request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("gmm_relaxed_st", steps: 5_000_000))
        let longLocation = long.headers["Location"] ?? ""
        #expect(request("GET", "\(base)\(longLocation)/result").status == 409)
        #expect(request("POST", "\(base)\(longLocation)/cancel").status == 202)
        let deadline = Date().addingTimeInterval(10)
        while !request("GET", "\(base)\(longLocation)").body.contains("\"cancelled\"") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(request("GET", "\(base)\(longLocation)").body.contains("\"status\":\"cancelled\""))
        #expect(request("DELETE", "\(base)\(location)").status == 204)
        #expect(request("GET", "\(base)\(location)").status == 404)
    }
}

/// API keys: every /v1 route needs a known bearer key, and a job is invisible to other keys.
@Suite(.serialized) struct APIKeyTests {
    @Test func keysIsolateJobsAndUnknownKeysGet401() throws {
        let manager = JobManager(configuration: .init(workers: 1))
        defer { manager.shutdown() }
        let api = JobAPI(manager: manager, keys: APIKeys(keys: ["alpha-key", "# a comment", "beta-key"]))
        let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), responder: api.router())
        try server.start()
        defer { server.shutdown(grace: .seconds(1)) { } }
        let base = "http://127.0.0.1:\(server.port)"
        let alpha = ["Authorization": "Bearer alpha-key"], beta = ["Authorization": "Bearer beta-key"]

        let none = JobAPITests.request("GET", "\(base)/v1/jobs")
        #expect(none.status == 401 && (none.headers["Www-Authenticate"] ?? none.headers["WWW-Authenticate"]) == "Bearer", "\(none)")
        #expect(JobAPITests.request("GET", "\(base)/v1/jobs", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(JobAPITests.request("GET", "\(base)/healthz").status == 200)

        let created = JobAPITests.request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("normal_normal_reparam"), headers: alpha)
        #expect(created.status == 202)
        let location = created.headers["Location"] ?? ""
        #expect(JobAPITests.request("GET", "\(base)\(location)", headers: alpha).status == 200)
        #expect(JobAPITests.request("GET", "\(base)\(location)", headers: beta).status == 404)
        #expect(JobAPITests.request("POST", "\(base)\(location)/cancel", headers: beta).status == 404)
        #expect(!JobAPITests.request("GET", "\(base)/v1/jobs", headers: beta).body.contains(location.replacingOccurrences(of: "/v1/jobs/", with: "")))
    }

    @Test func digestsComeFromLibcryptoAndCompareInConstantTime() {
        #expect(Digest.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.equal(Digest.sha256([1, 2]), Digest.sha256([1, 2])))
        #expect(!Digest.equal(Digest.sha256([1, 2]), Digest.sha256([1, 3])))
        #expect(APIKeys.none.owner(authorization: nil) == "")
        #expect(APIKeys(keys: ["k"]).owner(authorization: "Bearer k") == Digest.sha256Hex(Digest.sha256(Array("k".utf8))))
    }
}

/// One JSON log line per request and per job transition; readiness fails once draining.
@Suite(.serialized) struct LoggingAndReadinessTests {
    final class Lines: @unchecked Sendable {
        let lock = NSLock()
        var all: [String] = []
        func add(_ s: String) { lock.lock(); all.append(s); lock.unlock() }
        var snapshot: [String] { lock.lock(); defer { lock.unlock() }; return all }
    }

    @Test func requestsAndJobTransitionsAreLoggedWithoutKeysAndReadinessDrains() throws {
        let lines = Lines()
        let log = LogSink { lines.add($0) }
        let manager = JobManager(configuration: .init(workers: 1), log: log)
        defer { manager.shutdown() }
        let readiness = Readiness()
        let api = JobAPI(manager: manager, keys: APIKeys(keys: ["secret-key"]), readiness: readiness)
        let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), responder: LoggedResponder(api.router(), log: log, metrics: api.requests))
        try server.start()
        defer { server.shutdown(grace: .seconds(1)) { } }
        let base = "http://127.0.0.1:\(server.port)"
        let created = JobAPITests.request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("normal_normal_reparam"), headers: ["Authorization": "Bearer secret-key"])
        _ = JobAPITests.request("GET", "\(base)\(created.headers["Location"] ?? "")/events", headers: ["Authorization": "Bearer secret-key"])
        #expect(JobAPITests.request("GET", "\(base)/readyz").status == 200)
        readiness.drain()
        #expect(JobAPITests.request("GET", "\(base)/readyz").status == 503)

        let all = lines.snapshot
        #expect(all.contains { $0.contains("\"event\":\"request\"") && $0.contains("\"method\":\"POST\"") && $0.contains("\"status\":202") })
        for status in ["queued", "running", "succeeded"] {
            #expect(all.contains { $0.contains("\"event\":\"job\"") && $0.contains("\"status\":\"\(status)\"") }, "\(status) in \(all)")
        }
        #expect(!all.contains { $0.contains("secret-key") })
        for line in all { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)") }

        _ = JobAPITests.request("GET", "\(base)/v1/jobs/\(String(repeating: "x", count: 8))/nowhere")
        let metrics = JobAPITests.request("GET", "\(base)/metrics").body
        for series in [#"sviserve_http_requests_total{method="POST",route="/v1/jobs",status="202"} 1"#,
                       #"sviserve_http_requests_total{method="GET",route="/v1/jobs/{id}/events",status="200"} 1"#,
                       #"sviserve_http_requests_total{method="GET",route="/readyz",status="503"} 1"#,
                       #"sviserve_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
                       #"sviserve_http_request_duration_seconds_count{method="GET",route="/readyz"} 2"#,
                       "sviserve_worker_utilisation "] {
            #expect(metrics.contains(series), "\(series) missing from\n\(metrics)")
        }
        #expect(!metrics.contains("xxxxxxxx"), "raw paths must not become labels")
    }
}

/// The latency histogram is cumulative, ends in `+Inf` equal to the count, and sums the times.
@Suite struct RequestMetricsTests {
    @Test func histogramBucketsAreCumulativeAndEndAtTheCount() {
        let metrics = RequestMetrics()
        for seconds in [0.0001, 0.003, 0.003, 0.2, 7.0] {
            metrics.record(method: "GET", route: "/v1/jobs", status: 200, seconds: seconds)
        }
        metrics.record(method: "GET", route: "/v1/jobs", status: 401, seconds: 0.0001)
        #expect(metrics.count(method: "GET", route: "/v1/jobs", status: 200) == 5)
        let lines = metrics.exposition().split(separator: "\n").map(String.init)
        let buckets = lines.filter { $0.hasPrefix("sviserve_http_request_duration_seconds_bucket") }
            .map { Int($0.split(separator: " ").last!)! }
        #expect(buckets.count == RequestMetrics.bucketBounds.count + 1)
        #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(buckets.first == 2 && buckets.last == 6)
        #expect(lines.contains(#"sviserve_http_request_duration_seconds_bucket{method="GET",route="/v1/jobs",le="0.005"} 4"#))
        let sum = lines.first { $0.hasPrefix("sviserve_http_request_duration_seconds_sum") }.flatMap { Double($0.split(separator: " ").last!) }
        #expect(abs((sum ?? 0) - 7.2062) < 1e-12)
    }
}

/// Listing pages through every job, newest first, with an opaque token that ends empty.
@Suite(.serialized) struct PagingTests {
    @Test func listingPagesThroughEveryJobNewestFirst() throws {
        try JobAPITests.withLiveAPI { manager, server in
            let base = "http://127.0.0.1:\(server.port)"
            var ids: [String] = []
            for _ in 0..<5 {
                let r = JobAPITests.request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("normal_normal_reparam", steps: 10))
                ids.append((r.headers["Location"] ?? "").replacingOccurrences(of: "/v1/jobs/", with: ""))
            }
            var seen: [String] = [], token = ""
            repeat {
                let page = JobAPITests.request("GET", "\(base)/v1/jobs?page_size=2&page_token=\(token)")
                let json = try JSONSerialization.jsonObject(with: Data(page.body.utf8)) as! [String: Any]
                let jobs = json["jobs"] as! [[String: Any]]
                #expect(jobs.count <= 2)
                seen += jobs.map { $0["id"] as! String }
                token = json["next_page_token"] as! String
            } while !token.isEmpty && seen.count < 10
            #expect(seen == ids.reversed())
        }    }
}

/// Timestamps match Foundation's RFC 3339 formatting to the millisecond.
@Suite struct TimestampTests {
    @Test func rfc3339MatchesFoundation() {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        reference.timeZone = TimeZone(identifier: "UTC")
        for t in [0.0, 1.5, -1.25, 951_782_400.999, 1_795_000_000.0625, 4_102_444_799.5, 1_000_000_000.123] {
            let d = Date(timeIntervalSince1970: t)
            #expect(Representations.rfc3339(d) == reference.string(from: d), "at \(t)")
        }
        #expect(Representations.rfc3339(nil) == nil)
    }
}

/// Open event streams hold no thread: more streams than the Dispatch pool has threads all
/// receive events while the job runs, all end with the job, and none stays registered.
@Suite(.serialized) struct ManyStreamsTests {
    /// A loopback socket that has sent `GET /v1/jobs/{job}/events` and read nothing yet.
    static func openStream(port: Int, job: String, receiveBuffer: Int32? = nil) -> Int32 {
        let fd = RawHTTP.connect(port: port, receiveBuffer: receiveBuffer)
        #expect(fd >= 0)
        let request = "GET /v1/jobs/\(job)/events HTTP/1.1\r\nHost: x\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        return fd
    }

    @Test func manyStreamsFollowOneRunningJobAndAllEnd() throws {
        try JobAPITests.withLiveAPI { manager, server in
            let job = try manager.submit(JobManagerTests.spec("logreg", steps: 10_000_000), owner: "")

            var sockets: [Int32] = []
            defer { sockets.forEach { _ = close($0) } }
            for _ in 0..<300 {
                sockets.append(Self.openStream(port: server.port, job: job.id))
            }
            func readUntil(_ fd: Int32, _ marker: String) -> String {
                var text = "", buffer = [UInt8](repeating: 0, count: 65536)
                while !text.contains(marker) {
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n <= 0 { break }
                    text += String(decoding: buffer[..<n], as: UTF8.self)
                }
                return text
            }
            for fd in sockets { #expect(readUntil(fd, "event: progress").contains("event: progress")) }
            #expect(try manager.store.get(job.id, owner: "").status == .running, "every stream got progress while the job ran")
            _ = try manager.cancel(job.id, owner: "")
            for fd in sockets { #expect(readUntil(fd, "\"cancelled\"").contains("\"cancelled\"")) }
            let log = manager.events(for: job)
            for _ in 0..<200 where log.observerCount > 0 { usleep(10_000) }
            #expect(log.observerCount == 0)
        }    }

    /// A client that opens a stream and reads nothing until its job has finished: the job runs
    /// to its result regardless, and the backlog the reader then finds is bounded — progress
    /// events are rate-limited and the log keeps only the newest — not one event per step.
    @Test func aReaderThatReadsNothingNeitherBlocksTheJobNorGetsAnUnboundedBacklog() throws {
        try JobAPITests.withLiveAPI { manager, server in
            var text = String(decoding: JobManagerTests.spec("normal_normal_reparam", steps: 200_000), as: UTF8.self)
            text = text.replacingOccurrences(of: #""report_every": \d+"#, with: "\"report_every\": 1", options: .regularExpression)
            let job = try manager.submit(Array(text.utf8), owner: "")

            let fd = Self.openStream(port: server.port, job: job.id, receiveBuffer: 4096)
            defer { _ = close(fd) }

            let events = JobManagerTests().drain(manager.events(for: job), seconds: 120)
            #expect(events.last?.kind == .result, "the job finished while its reader read nothing")
            #expect(try manager.store.get(job.id, owner: "").status == .succeeded)
            let log = manager.events(for: job)
            for _ in 0..<200 where log.observerCount > 0 { usleep(10_000) }
            #expect(log.observerCount == 0)

            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var received = "", buffer = [UInt8](repeating: 0, count: 65536)
            while !received.contains("event: result") {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                received += String(decoding: buffer[..<n], as: UTF8.self)
            }
            let progress = received.components(separatedBy: "event: progress").count - 1
            #expect(received.hasPrefix("HTTP/1.1 200"))
            #expect(received.contains("event: result"))
            #expect(progress >= 1 && progress <= log.keptProgress, "\(progress) progress events for 200,000 steps")
            #expect(JobAPITests.request("GET", "http://127.0.0.1:\(server.port)/healthz").status == 200)
        }    }
}
