import Foundation
import HTTPServer
import JSON
import ModelSpec

/// The job API of api.md as routes on the HTTP server: submission, status, lists, results,
/// cancellation, deletion, validation, capabilities, the event stream (SSE or NDJSON,
/// resumable), the spec's JSON Schema, metrics, health. With API keys configured every `/v1`
/// route needs a bearer key, and a job is visible only to the key that created it (another
/// key gets 404); with a metrics key, `/metrics` needs that key. A request with a body is
/// refused before its body is read when its key is wrong (`401`) or its body is not JSON (`415`).
public struct JobAPI: Sendable {
    public let manager: JobManager
    public let keys: APIKeys
    /// The keys `/metrics` needs (none: it is open, as api.md's default is).
    public let metricsKeys: APIKeys
    public let readiness: Readiness
    /// Request counters and latencies, filled by a `LoggedResponder` sharing this instance.
    public let requests: RequestMetrics

    public init(manager: JobManager, keys: APIKeys = .none, metricsKeys: APIKeys = .none, readiness: Readiness = Readiness(),
                requests: RequestMetrics = RequestMetrics()) {
        self.manager = manager; self.keys = keys; self.metricsKeys = metricsKeys; self.readiness = readiness; self.requests = requests
    }

    /// `401` with the Bearer challenge.
    static func unauthorized() -> HTTPResponse {
        HTTPResponse.problem(status: 401, detail: "missing or unknown API key (send Authorization: Bearer <key>)",
                             headers: ["WWW-Authenticate": "Bearer"])
    }

    /// Runs `handler` as the request's owner, or answers 401.
    func authenticated(_ handler: @escaping @Sendable (HTTPRequest, PathParameters, String) -> HTTPResponse) -> Router.Handler {
        { [keys] req, p in
            guard let owner = keys.owner(authorization: req.headers["Authorization"]) else { return Self.unauthorized() }
            return handler(req, p, owner)
        }
    }

    /// The check of a `/v1` request's head before its body is read: its key, and for a route
    /// that takes a spec (`json`), that the body is JSON.
    func admission(json: Bool) -> Router.Admission {
        { [keys] head, _ in
            guard keys.owner(authorization: head.headers["Authorization"]) != nil else { return Self.unauthorized() }
            return json ? Self.unsupportedMediaType(head) : nil
        }
    }

    /// `415` unless the body is declared JSON: `application/json` or a `+json` type, with any
    /// parameters (`charset=utf-8`); no Content-Type at all is read as JSON.
    static func unsupportedMediaType(_ head: HTTPRequestHead) -> HTTPResponse? {
        guard let value = head.headers["Content-Type"] else { return nil }
        let type = value.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json")) { return nil }
        return HTTPResponse.problem(status: 415, detail: "a job spec is JSON: send it with Content-Type: application/json (got \(value))",
                                    headers: ["Accept": "application/json"])
    }

    /// The router serving every route.
    public func router() -> Router {
        var r = Router()
        let v1 = admission(json: false), spec = admission(json: true)
        r.add("POST", "/v1/jobs", admission: spec, handler: authenticated { req, _, o in
            Self.unsupportedMediaType(req.head) ?? submit(req, o)
        })
        r.add("GET", "/v1/jobs", admission: v1, handler: authenticated { req, _, o in list(req, o) })
        r.add("GET", "/v1/jobs/{id}", admission: v1, handler: authenticated { _, p, o in withJob(p, o) { json(200, text: Representations.resource($0)) } })
        r.add("DELETE", "/v1/jobs/{id}", admission: v1, handler: authenticated { _, p, o in delete(p["id"] ?? "", o) })
        r.add("GET", "/v1/jobs/{id}/result", admission: v1, handler: authenticated { _, p, o in result(p, o) })
        r.add("GET", "/v1/jobs/{id}/spec", admission: v1, handler: authenticated { _, p, o in self.spec(p["id"] ?? "", o) })
        r.add("GET", "/v1/jobs/{id}/draws", admission: v1, handler: authenticated { req, p, o in draws(req, p, o, netcdf: false) })
        r.add("GET", "/v1/jobs/{id}/result.nc", admission: v1, handler: authenticated { req, p, o in draws(req, p, o, netcdf: true) })
        r.add("POST", "/v1/jobs/{id}/cancel", admission: v1, handler: authenticated { _, p, o in cancel(p["id"] ?? "", o) })
        r.add("GET", "/v1/jobs/{id}/events", admission: v1, handler: authenticated { req, p, o in events(req, p["id"] ?? "", o) })
        r.add("POST", "/v1/validate", admission: spec, handler: authenticated { req, _, o in
            Self.unsupportedMediaType(req.head) ?? validate(req, o)
        })
        r.add("GET", "/v1/capabilities", admission: v1, handler: authenticated { _, _, _ in json(200, Representations.capabilities()) })
        r.add("GET", "/v1/schema", admission: v1, handler: authenticated { _, _, _ in HTTPResponse(contentType: "application/schema+json", text: JobSpecSchema.json) })
        r.add("GET", "/") { _, _ in HTTPResponse(contentType: "text/html; charset=utf-8", text: Dashboard.html) }
        r.add("GET", "/metrics", admission: { [metricsKeys] head, _ in
            metricsKeys.owner(authorization: head.headers["Authorization"]) == nil ? Self.unauthorized() : nil
        }) { [metricsKeys] req, _ in
            metricsKeys.owner(authorization: req.headers["Authorization"]) == nil ? Self.unauthorized() : metrics()
        }
        r.add("GET", "/healthz") { _, _ in HTTPResponse(contentType: "application/json", text: (["status": "ok"] as JSONValue).serialized()) }
        r.add("GET", "/readyz") { [readiness, manager] _, _ in
            if readiness.isDraining { return HTTPResponse.problem(status: 503, detail: "the service is draining") }
            if let reason = manager.store.unavailability() { return HTTPResponse.problem(status: 503, detail: reason) }
            return HTTPResponse(contentType: "application/json", text: (["status": "ready"] as JSONValue).serialized())
        }
        return r
    }

    /// A JSON response from text already written.
    func json(_ status: Int, text: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", text: text, headers: headers)
    }

    func json<T: Encodable>(_ status: Int, _ value: T, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        json(status, text: Representations.jsonText(value), headers: headers)
    }

    func problem(_ p: Representations.Problem) -> HTTPResponse {
        HTTPResponse(status: p.status, contentType: "application/problem+json", text: Representations.jsonText(p))
    }

    func notFound() -> HTTPResponse { HTTPResponse.problem(status: 404, detail: "no such job") }

    /// The answer for a store error: 404, 409 or 503.
    func failure(_ error: JobStoreError) -> HTTPResponse {
        switch error {
        case .notFound: notFound()
        case .conflict(let m): HTTPResponse.problem(status: 409, detail: m)
        case .unavailable(let m): HTTPResponse.problem(status: 503, detail: m)
        }
    }

    func withJob(_ p: PathParameters, _ owner: String, _ body: (JobRecord) -> HTTPResponse) -> HTTPResponse {
        do { return body(try manager.store.get(p["id"] ?? "", owner: owner)) } catch { return failure(error) }
    }

    // MARK: Routes

    func submit(_ req: HTTPRequest, _ owner: String) -> HTTPResponse {
        if readiness.isDraining {
            return problem(Representations.problem(.unavailable("the service is shutting down; retry against another instance")))
        }
        do {
            var job: JobRecord, created = true
            if let key = req.headers["Idempotency-Key"], !key.isEmpty {
                (job, created) = try manager.submit(Array(req.body), owner: owner, idempotencyKey: key)
            } else {
                job = try manager.submit(Array(req.body), owner: owner)
            }
            var headers = HTTPHeaders()
            headers.append(name: "Location", value: "/v1/jobs/\(job.id)")
            return json(created ? 202 : 200, text: Representations.resource(job), headers: headers)
        } catch {
            var response = problem(Representations.problem(error))
            switch error {
            case .queueFull, .ownerQueueFull, .busy: response.headers.append(name: "Retry-After", value: "5")
            default: break
            }
            return response
        }
    }

    /// `400` naming the query parameter or header that cannot be used (RFC 9457, with the
    /// `errors` member spec problems use: `/query/NAME` or `/headers/NAME`).
    func badParameter(_ pointer: String, _ message: String) -> HTTPResponse {
        problem(Representations.Problem(type: "about:blank", title: "Bad request parameter", status: 400, detail: message,
                                        errors: [SpecDiagnostic(pointer: pointer, message: message)]))
    }

    func list(_ req: HTTPRequest, _ owner: String) -> HTTPResponse {
        var status: JobStatus?
        if let value = req.head.queryValue(named: "status") {
            guard let s = JobStatus(rawValue: value) else {
                return badParameter("/query/status", "unknown status '\(value.prefix(64))' (known: \(JobStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            status = s
        }
        var size = 50
        if let value = req.head.queryValue(named: "page_size") {
            guard let n = Int(value), (1...200).contains(n) else {
                return badParameter("/query/page_size", "page_size must be an integer from 1 to 200, got '\(value.prefix(64))'")
            }
            size = n
        }
        let token = req.head.queryValue(named: "page_token").flatMap { $0.isEmpty ? nil : $0 }
        let tag = req.head.queryValue(named: "tag").flatMap { $0.isEmpty ? nil : $0 }
        let page: (jobs: [JobRecord], next: String?)
        do { page = try manager.store.list(owner: owner, status: status, tag: tag, pageSize: size, after: token) } catch { return failure(error) }
        return json(200, text: Representations.page(page.jobs, next: page.next))
    }

    func result(_ p: PathParameters, _ owner: String) -> HTTPResponse {
        withJob(p, owner) { job in
            guard job.status == .succeeded else {
                return HTTPResponse.problem(status: 409, detail: "job \(job.id) is \(job.status.rawValue); its result exists once it has succeeded")
            }
            do throws(JobStoreError) {
                guard let r = try manager.store.result(job.id, owner: owner) else {
                    return HTTPResponse.problem(status: 500, detail: "job \(job.id) succeeded but its result is missing from the store")
                }
                return json(200, r)
            } catch {
                return failure(error)
            }
        }
    }

    /// The spec as stored: the submitted JSON, with the jobs it named by id (`init_from`,
    /// transport references) replaced by the numbers read from them at submission.
    func spec(_ id: String, _ owner: String) -> HTTPResponse {
        do { return bytes("application/json", try manager.store.spec(id, owner: owner)) } catch { return failure(error) }
    }

    /// Posterior draws of a succeeded job as JSON (`n`, `seed`, `var=a,b`, `reference=` for
    /// coupled pairs), or one ArviZ group as a NetCDF classic file (`group=`, default
    /// `posterior`). Computed by ModelSpec from the stored spec and result; bounded there.
    func draws(_ req: HTTPRequest, _ p: PathParameters, _ owner: String, netcdf: Bool) -> HTTPResponse {
        withJob(p, owner) { job in
            guard job.status == .succeeded else {
                return HTTPResponse.problem(status: 409, detail: "job \(job.id) is \(job.status.rawValue); draws exist once it has succeeded")
            }
            func query(_ name: String) -> String? { req.head.queryValue(named: name).flatMap { $0.isEmpty ? nil : $0 } }
            let nText = query("n"), seedText = query("seed")
            guard let n = nText.map({ Int($0) }) ?? (netcdf ? 1000 : 100) else { return HTTPResponse.problem(status: 400, detail: "n must be an integer") }
            let seed = seedText.flatMap { UInt64($0) }
            if seedText != nil && seed == nil { return HTTPResponse.problem(status: 400, detail: "seed must be a non-negative integer") }
            do throws(JobStoreError) {
                guard let result = try manager.store.result(job.id, owner: owner) else {
                    return HTTPResponse.problem(status: 500, detail: "job \(job.id) succeeded but its result is missing from the store")
                }
                let spec = try manager.store.spec(job.id, owner: owner)
                do throws(PosteriorExport.Failure) {
                    if netcdf {
                        let bytes = try PosteriorExport.netcdf(spec: spec, result: result, n: n, seed: seed, group: query("group") ?? "posterior")
                        return self.bytes("application/x-netcdf", bytes)
                    }
                    let names = query("var").map { $0.split(separator: ",").map(String.init) }
                    return json(200, try PosteriorExport.draws(spec: spec, result: result, n: n, seed: seed, names: names, reference: query("reference")))
                } catch {
                    return HTTPResponse.problem(status: error.status, detail: error.message)
                }
            } catch {
                return failure(error)
            }
        }
    }

    /// A 200 response carrying `body` as `contentType`.
    func bytes(_ contentType: String, _ body: [UInt8]) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.set(name: "Content-Type", value: contentType)
        return HTTPResponse(status: 200, headers: headers, body: .bytes(body))
    }

    func cancel(_ id: String, _ owner: String) -> HTTPResponse {
        do { return json(202, text: Representations.resource(try manager.cancel(id, owner: owner))) } catch { return failure(error) }
    }

    func delete(_ id: String, _ owner: String) -> HTTPResponse {
        do {
            try manager.delete(id, owner: owner)
            return HTTPResponse(status: 204)
        } catch {
            return failure(error)
        }
    }

    func validate(_ req: HTTPRequest, _ owner: String) -> HTTPResponse {
        do {
            var parsed = try JSONParser.parse(Array(req.body))
            if SpecResolver.namesJobs(parsed) { parsed = try manager.resolve(parsed, owner: owner) }
            let compiled = try manager.compile(try SpecDecoder.decode(parsed))
            struct Site: Encodable { let name: String; let shape: [Int]; let estimator: String; let distribution: String }
            struct Report: Encodable { let valid: Bool; let sites: [Site]; let param_count: Int; let estimated_bytes: Int; let warnings: [SpecDiagnostic] }
            let params = compiled.program.parameters.reduce(0) { $0 + $1.raw.count }
            return json(200, Report(valid: true, sites: compiled.sites.map { Site(name: $0.name, shape: $0.shape, estimator: $0.estimator.label, distribution: $0.distribution) },
                                    param_count: params, estimated_bytes: compiled.estimatedBytes, warnings: compiled.warnings))
        } catch let e as JSONParseError {
            return problem(Representations.problem(.malformed(e)))
        } catch let e as SpecErrors {
            return problem(Representations.problem(.invalid(e.diagnostics)))
        } catch let e as SubmitError {
            return problem(Representations.problem(e))
        } catch {
            return HTTPResponse.problem(status: 422, detail: "\(error)")
        }
    }

    /// Prometheus text exposition: jobs by status, queue depth, workers and their utilisation, steps per second of
    /// running jobs, then request counts and latencies by route.
    func metrics() -> HTTPResponse {
        let (counts, runningRate) = manager.store.statistics()
        var text = "# HELP sviserve_jobs Jobs by status.\n# TYPE sviserve_jobs gauge\n"
        for status in JobStatus.allCases { text += "sviserve_jobs{status=\"\(status.rawValue)\"} \(counts[status] ?? 0)\n" }
        text += "# HELP sviserve_queue_depth Jobs waiting for a worker.\n# TYPE sviserve_queue_depth gauge\nsviserve_queue_depth \(manager.store.queuedCount())\n"
        text += "# HELP sviserve_workers Worker threads.\n# TYPE sviserve_workers gauge\nsviserve_workers \(manager.configuration.workers)\n"
        let busy = Double(counts[.running] ?? 0) / Double(max(1, manager.configuration.workers))
        text += "# HELP sviserve_worker_utilisation Fraction of workers running a job.\n# TYPE sviserve_worker_utilisation gauge\nsviserve_worker_utilisation \(busy)\n"
        text += "# HELP sviserve_svi_steps_per_second SVI steps per second over running jobs.\n# TYPE sviserve_svi_steps_per_second gauge\nsviserve_svi_steps_per_second \(runningRate)\n"
        if let bytes = manager.store.sizeInBytes() {
            text += "# HELP sviserve_store_bytes Bytes the job store occupies on disk (database and WAL).\n# TYPE sviserve_store_bytes gauge\nsviserve_store_bytes \(bytes)\n"
        }
        text += requests.exposition()
        return HTTPResponse(contentType: "text/plain; version=0.0.4", text: text)
    }

    /// Server-Sent Events (or NDJSON with `Accept: application/x-ndjson`), from after
    /// `Last-Event-ID` or `?after=N`; a `: ping` every 15 s; closes after the terminal event.
    /// Streams hold no thread while waiting (see `JobEventStream`).
    func events(_ req: HTTPRequest, _ id: String, _ owner: String) -> HTTPResponse {
        let job: JobRecord
        do { job = try manager.store.get(id, owner: owner) } catch { return failure(error) }
        let ndjson = req.headers["Accept"]?.contains("application/x-ndjson") ?? false
        // Both are checked; Last-Event-ID (a reconnecting EventSource's) wins over ?after=.
        var resumeAfter: [Int] = []
        for (pointer, value) in [("/headers/Last-Event-ID", req.headers["Last-Event-ID"]), ("/query/after", req.head.queryValue(named: "after"))] {
            guard let value else { continue }
            guard let n = Int(value.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                return badParameter(pointer, "an event id is a non-negative integer, got '\(value.prefix(64))'")
            }
            resumeAfter.append(n)
        }
        let after = resumeAfter.first ?? 0
        let log = manager.events(for: job)
        var headers = HTTPHeaders()
        headers.append(name: "Cache-Control", value: "no-cache")
        headers.append(name: "Content-Type", value: ndjson ? "application/x-ndjson" : "text/event-stream")
        return HTTPResponse(status: 200, headers: headers, body: .stream { writer in
            JobEventStream(log: log, after: after, ndjson: ndjson, writer: writer).start()
        })
    }
}
