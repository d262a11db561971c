import Foundation
import Distributions
import Inference
import JSON
import ModelSpec
import HTTPServer

/// The JSON bodies of the API (api.md): the job resource, job lists, problem details and the
/// capabilities document. Pure functions of the service's values, so routes stay thin.
public enum Representations {
    /// `d` as RFC 3339 UTC with milliseconds (`2026-11-27T12:53:52.123Z`), formatted by hand:
    /// a Foundation date formatter per call cost more than the rest of a status request.
    static func rfc3339(_ d: Date?) -> String? {
        guard let d else { return nil }
        let total = Int((d.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(total.quotientAndRemainder(dividingBy: 1000).quotient - (total % 1000 < 0 ? 1 : 0))
        let millis = (total % 1000 + 1000) % 1000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // "YYYY-MM-DDTHH:MM:SS.mmmZ", digits written in place.
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func digits(_ value: Int, _ width: Int, at offset: Int) {
                var v = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            digits(Int(parts.tm_year) + 1900, 4, at: 0); buffer[4] = UInt8(ascii: "-")
            digits(Int(parts.tm_mon) + 1, 2, at: 5); buffer[7] = UInt8(ascii: "-")
            digits(Int(parts.tm_mday), 2, at: 8); buffer[10] = UInt8(ascii: "T")
            digits(Int(parts.tm_hour), 2, at: 11); buffer[13] = UInt8(ascii: ":")
            digits(Int(parts.tm_min), 2, at: 14); buffer[16] = UInt8(ascii: ":")
            digits(Int(parts.tm_sec), 2, at: 17); buffer[19] = UInt8(ascii: ".")
            digits(millis, 3, at: 20); buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// The job resource (without its result; `GET /v1/jobs/{id}/result` serves that) as JSON
    /// text, keys sorted, absent values left out. Written by hand: a generic encoder took more
    /// time than the rest of a status request.
    public static func resource(_ j: JobRecord) -> String {
        var out = ""
        out.reserveCapacity(768)
        appendResource(j, to: &out)
        return out
    }

    /// A page of job resources as `{"jobs":[…],"next_page_token":"…"}`.
    static func page(_ jobs: [JobRecord], next: String?) -> String {
        var out = #"{"jobs":["#
        out.reserveCapacity(768 * jobs.count + 64)
        for (i, j) in jobs.enumerated() {
            if i > 0 { out += "," }
            appendResource(j, to: &out)
        }
        out += #"],"next_page_token":"#
        JSONWriter.appendString(next ?? "", to: &out)
        out += "}"
        return out
    }

    static func appendResource(_ j: JobRecord, to out: inout String) {
        var first = true
        func key(_ name: String) {
            out += first ? "{\"" : ",\""
            first = false
            out += name
            out += "\":"
        }
        func string(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONWriter.appendString(value, to: &out)
        }
        string("created_at", rfc3339(j.createdAt))
        string("error", j.error)
        string("finished_at", rfc3339(j.finishedAt))
        string("id", j.id)
        key("links")
        out += #"{"cancel":"/v1/jobs/"#; out += j.id
        out += #"/cancel","draws":"/v1/jobs/"#; out += j.id
        out += #"/draws","events":"/v1/jobs/"#; out += j.id
        out += #"/events","result":"/v1/jobs/"#; out += j.id
        out += #"/result","result_nc":"/v1/jobs/"#; out += j.id
        out += #"/result.nc","self":"/v1/jobs/"#; out += j.id
        out += #"","spec":"/v1/jobs/"#; out += j.id
        out += #"/spec"}"#
        string("name", j.name)
        key("progress")
        appendProgress(j.progress, to: &out)
        string("spec_digest", j.specDigest)
        string("started_at", rfc3339(j.startedAt))
        string("status", j.status.rawValue)
        if !j.tags.isEmpty {
            key("tags")
            out += "["
            for (i, t) in j.tags.enumerated() {
                if i > 0 { out += "," }
                JSONWriter.appendString(t, to: &out)
            }
            out += "]"
        }
        out += "}"
    }

    /// api.md's `progress` object, keys sorted, absent values left out.
    static func appendProgress(_ p: JobProgress, to out: inout String) {
        var first = true
        func member(_ name: String, _ text: String?) {
            guard let text else { return }
            out += first ? "{\"" : ",\""
            first = false
            out += name
            out += "\":"
            out += text
        }
        func number(_ x: Double?) -> String? { x.map(JSONWriter.floatText) }
        member("elbo", number(p.elbo))
        member("elbo_smoothed", number(p.elboSmoothed))
        member("grad_norm", number(p.gradNorm))
        member("step", String(p.step))
        member("steps", String(p.steps))
        member("steps_per_second", number(p.stepsPerSecond))
        out += "}"
    }

    /// An RFC 9457 problem document; `errors` carries spec diagnostics (pointer, message).
    public struct Problem: Encodable {
        public let type: String, title: String, status: Int, detail: String
        public let errors: [SpecDiagnostic]?
    }

    /// The problem body for a refused submission, with its status code.
    public static func problem(_ e: SubmitError) -> Problem {
        switch e {
        case let .malformed(p) where p.limit == .maxBytes:
            Problem(type: "about:blank", title: "Content Too Large", status: 413, detail: "\(p)", errors: nil)
        case let .malformed(p) where p.limit != nil:
            Problem(type: "about:blank", title: "Spec too large", status: 422, detail: "\(p)", errors: nil)
        case let .malformed(p):
            Problem(type: "about:blank", title: "Malformed JSON", status: 400, detail: "\(p)", errors: nil)
        case let .invalid(d):
            Problem(type: "about:blank", title: "Invalid job spec", status: 422,
                    detail: "the spec cannot run: \(d.count) problem\(d.count == 1 ? "" : "s")", errors: d)
        case let .queueFull(c):
            Problem(type: "about:blank", title: "Queue full", status: 429, detail: "\(c) jobs are queued; retry later", errors: nil)
        case let .ownerQueueFull(c):
            Problem(type: "about:blank", title: "Queue full for this key", status: 429,
                    detail: "this API key has \(c) jobs queued, as many as one key may; retry when some have started", errors: nil)
        case let .unavailable(m):
            Problem(type: "about:blank", title: "Store unavailable", status: 503, detail: m, errors: nil)
        case let .busy(m):
            Problem(type: "about:blank", title: "Busy", status: 503, detail: m, errors: nil)
        case .idempotencyMismatch:
            Problem(type: "about:blank", title: "Idempotency key reused", status: 422,
                    detail: "this Idempotency-Key was used with a different request body", errors: nil)
        case .idempotencyInFlight:
            Problem(type: "about:blank", title: "Request in progress", status: 409,
                    detail: "a request with this Idempotency-Key is still being accepted; retry shortly", errors: nil)
        }
    }

    /// What the service offers (`GET /v1/capabilities`): distributions with their arguments,
    /// estimators with the distributions each applies to, optimisers, functions.
    public struct Capabilities: Encodable {
        let distributions: [String: [String]]
        let aliases: [String]
        let estimators: [String: [String]]
        let elbos: [String]
        let optimizers: [String: [String]]
        let functions: [String]
        let autoguides: [String]
    }

    public static func capabilities() -> Capabilities {
        var dists: [String: [String]] = [:]
        for (name, sig) in DistributionCatalog.signatures {
            dists[name] = sig.required.map { $0.joined(separator: "|") } + sig.optional.map { "\($0)?" }
        }
        return Capabilities(
            distributions: dists,
            aliases: ["OMTMultivariateNormal", "AVFMultivariateNormal", "RelaxedOneHotCategoricalStraightThrough", "RelaxedBernoulliStraightThrough"],
            estimators: ["reparam": ["every distribution with a pathwise sampler (Gamma, Beta, Dirichlet, StudentT implicitly)"],
                         "omt": ["MultivariateNormal"], "avf": ["MultivariateNormal"], "score": ["any"],
                         "relaxed": ["OneHotCategorical", "Bernoulli"], "straight_through": ["OneHotCategorical", "Bernoulli"],
                         "enum": ["Categorical", "OneHotCategorical", "Bernoulli"]],
            elbos: ["tracegraph", "trace", "meanfield"],
            optimizers: ["adam": ["lr", "betas", "eps"], "clipped_adam": ["lr", "betas", "eps", "clip_norm", "lr_decay"],
                         "sgd": ["lr", "momentum", "nesterov"]],
            functions: BuiltinFunction.names,
            autoguides: ["normal", "mvn", "delta"])
    }

    /// Compact JSON of any encodable value, through the JSON module (`JSONValueEncoder`:
    /// sorted keys, non-finite numbers as strings).
    public static func json<T: Encodable>(_ value: T) -> [UInt8] {
        Array(jsonText(value).utf8)
    }

    /// ``json(_:)`` as text.
    static func jsonText<T: Encodable>(_ value: T) -> String {
        (try? JSONValueEncoder().text(value)) ?? "{}"
    }

    /// Reads back what ``json(_:)`` wrote (non-finite numbers included), with no bound on its
    /// size: only this service's own text is read here.
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: some Collection<UInt8>) throws -> T {
        try JSONValueDecoder().decode(type, from: bytes)
    }
}
