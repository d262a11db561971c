import JSON
import Numerics

/// What the service knows about a job a spec refers to (`init_from`, a reference by job id).
public enum ReferencedJob: Sendable {
    /// The job succeeded with this result.
    case succeeded(JobResult)
    /// The job exists for this owner but has not succeeded (its status).
    case unfinished(String)
    /// No such job for this owner.
    case missing
}

/// Resolves what a spec names by job id — `init_from` and transport references with `job` —
/// to the numbers of that job's result, rewriting the spec's JSON so the stored spec is
/// self-contained: the job then compiles, runs and resumes without reading another job
/// (a restart continues bit for bit even if the earlier job is deleted). Every problem is
/// reported with its pointer.
public enum SpecResolver {
    /// The spec with every job id resolved (the same value when it names none).
    public static func resolve(_ json: JSONValue, lookup: (String) -> ReferencedJob) throws(SpecErrors) -> JSONValue {
        guard case var .object(root) = json else { return json }
        let diagnostics = Diagnostics()
        var cache: [String: ReferencedJob] = [:]
        func result(_ id: String, _ p: JSONPointer) -> JobResult? {
            let found = cache[id] ?? lookup(id)
            cache[id] = found
            switch found {
            case let .succeeded(r): return r
            case let .unfinished(status): diagnostics.report(p, "job '\(id)' is \(status); only a succeeded job's fit can be used")
            case .missing: diagnostics.report(p, "no job '\(id)' (of this API key)")
            }
            return nil
        }
        if case let .string(id)? = root["init_from"] {
            let p = JSONPointer().appending("init_from")
            if let r = result(id, p) {
                var params = JSONObject()
                for t in r.params { params[t.name] = nested(t.values, t.shape) }
                root["init_from"] = .object(["job": .string(id), "params": .object(params)])
            }
        }
        if case var .object(transport)? = root["transport"], case var .object(references)? = transport["references"] {
            let base = JSONPointer().appending("transport").appending("references")
            for (name, value) in references.members {
                guard case var .object(reference) = value, case let .string(id)? = reference["job"],
                      reference["mean"] == nil, case let .string(site)? = reference["site"] else { continue }
                let p = base.appending(name).appending("job")
                guard let r = result(id, p) else { continue }
                guard let g = r.gaussians?.first(where: { $0.site == site }) else {
                    let known = r.gaussians?.map(\.site) ?? []
                    diagnostics.report(p, "job '\(id)' has no fitted Gaussian for site '\(site)' (its Gaussian sites: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
                    continue
                }
                reference["mean"] = nested(g.mean, g.shape)
                if let cov = g.cov {
                    reference["cov"] = .array(cov.map { .array($0.map(JSONValue.number)) })
                } else if let scale = g.scale {
                    reference["scale"] = nested(scale, g.shape)
                }
                references[name] = .object(reference)
            }
            transport["references"] = .object(references)
            root["transport"] = .object(transport)
        }
        try diagnostics.throwIfAny()
        return .object(root)
    }

    /// Flat row-major values as nested JSON arrays of `shape`.
    static func nested(_ values: [Double], _ shape: [Int]) -> JSONValue {
        guard let first = shape.first else { return .number(values.first ?? 0) }
        let inner = Shape.count(Array(shape.dropFirst()))
        return .array((0..<first).map { i in nested(Array(values[(i * inner)..<((i + 1) * inner)]), Array(shape.dropFirst())) })
    }

    /// Whether the spec names a job anywhere the resolver reads (so a caller can skip it).
    public static func namesJobs(_ json: JSONValue) -> Bool {
        guard case let .object(root) = json else { return false }
        if case .string? = root["init_from"] { return true }
        if case let .object(t)? = root["transport"], case let .object(refs)? = t["references"] {
            return refs.members.contains { if case let .object(r) = $0.value, r["job"] != nil, r["mean"] == nil { true } else { false } }
        }
        return false
    }
}
