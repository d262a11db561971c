import JSON
import Numerics

/// The spec's `transport` block (docs/transport.md): reference Gaussians for Gaussian guide
/// sites (or the whole autoguide, `_auto_latent`), whose W₂ distance to the guide is reported
/// while the job runs and in its result with the transport map, and coupled estimates of
/// E_q[f] − E_ref[f].
public struct TransportSpec: Sendable {
    /// References by name, in the order written.
    public var references: [ReferenceSpec]
    /// Coupled estimates by name, in the order written.
    public var estimates: [CoupledEstimateSpec]
    /// Coupled draws per estimate.
    public var draws: Int
    public let pointer: JSONPointer

    /// Coupled draws when `draws` is not given.
    public static let defaultDraws = 4000
    /// The name that stands for the whole autoguide's unconstrained Gaussian.
    public static let autoguideSite = "_auto_latent"
}

/// One reference Gaussian for a site.
public struct ReferenceSpec: Sendable {
    /// Where the reference's numbers come from.
    public enum Source: Sendable {
        /// The model's prior at the site (Gaussian, not depending on other draws).
        case prior
        /// A mean with a covariance, diagonal scale or Cholesky factor (constants or
        /// expressions of the data). `job` names the earlier job they were read from, when
        /// the service resolved a reference by job id.
        case given(mean: ValueSpec, spread: SpreadSpec, job: String?)
        /// An earlier job's fitted guide at the site, not yet resolved (only the service,
        /// which can read that job, turns this into `given`).
        case job(String)
    }
    public let name: String
    public let site: String
    public let source: Source
    public let pointer: JSONPointer
}

/// How a reference Gaussian's spread is written.
public enum SpreadSpec: Sendable {
    /// A full covariance matrix.
    case cov(ValueSpec)
    /// Standard deviations (a diagonal covariance).
    case scale(ValueSpec)
    /// A lower Cholesky factor of the covariance.
    case scaleTril(ValueSpec)
}

/// A coupled estimate: E_q[f] − E_ref[f] from draws z ~ q and T(z) ~ ref.
public struct CoupledEstimateSpec: Sendable {
    public let name: String
    public let reference: String
    /// An expression of the job language over the site's value (named by the site), giving
    /// one number per draw.
    public let f: String
    public let pointer: JSONPointer
}

extension Reader {
    func transportBlock(_ v: JSONValue, _ p: JSONPointer) -> TransportSpec? {
        guard let o = object(v, p, "transport", allowed: ["references", "estimates", "draws"], required: ["references"]) else { return nil }
        let draws = o["draws"].flatMap { integer($0, p.appending("draws"), "transport draws", range: 2...100_000) } ?? TransportSpec.defaultDraws
        var references: [ReferenceSpec] = []
        if let rv = o["references"] {
            let rp = p.appending("references")
            if case let .object(ro) = rv {
                if ro.count > 16 { diagnostics.report(rp, "at most 16 references, got \(ro.count)") }
                for (key, value) in ro.members.prefix(16) where name(key, rp.appending(key), "reference name") {
                    if let r = reference(key, value, rp.appending(key)) { references.append(r) }
                }
            } else {
                diagnostics.report(rp, "references must be an object from reference name to reference, not \(rv.typeName)")
            }
        }
        var estimates: [CoupledEstimateSpec] = []
        if let ev = o["estimates"] {
            let ep = p.appending("estimates")
            if case let .object(eo) = ev {
                if eo.count > 32 { diagnostics.report(ep, "at most 32 estimates, got \(eo.count)") }
                for (key, value) in eo.members.prefix(32) where name(key, ep.appending(key), "estimate name") {
                    let q = ep.appending(key)
                    guard let estimate = object(value, q, "estimate '\(key)'", allowed: ["reference", "f"], required: ["reference", "f"]),
                          let r = string(estimate["reference"], q.appending("reference"), "reference"),
                          let f = string(estimate["f"], q.appending("f"), "f") else { continue }
                    estimates.append(CoupledEstimateSpec(name: key, reference: r, f: f, pointer: q))
                }
            } else {
                diagnostics.report(ep, "estimates must be an object from estimate name to {reference, f}, not \(ev.typeName)")
            }
        }
        return TransportSpec(references: references, estimates: estimates, draws: draws, pointer: p)
    }

    func reference(_ key: String, _ v: JSONValue, _ p: JSONPointer) -> ReferenceSpec? {
        let keys = ["site", "prior", "mean", "cov", "scale", "scale_tril", "job"]
        guard let o = object(v, p, "reference '\(key)'", allowed: keys, required: ["site"]),
              let site = string(o["site"], p.appending("site"), "site") else { return nil }
        let spreads = ["cov", "scale", "scale_tril"].filter { o[$0] != nil }
        if let prior = o["prior"] {
            guard case .bool(true) = prior else { diagnostics.report(p.appending("prior"), "prior must be true (or left out)"); return nil }
            guard o["mean"] == nil, spreads.isEmpty, o["job"] == nil else {
                diagnostics.report(p, "a prior reference takes no mean, cov, scale, scale_tril or job"); return nil
            }
            return ReferenceSpec(name: key, site: site, source: .prior, pointer: p)
        }
        var job: String?
        if let jv = o["job"] {
            guard let id = string(jv, p.appending("job"), "job"), !id.isEmpty, id.unicodeScalars.count <= 64 else {
                if case .string = jv { diagnostics.report(p.appending("job"), "job must be a job id") }
                return nil
            }
            job = id
            if o["mean"] == nil && spreads.isEmpty { return ReferenceSpec(name: key, site: site, source: .job(id), pointer: p) }
        }
        guard let mv = o["mean"] else {
            diagnostics.report(p, "reference '\(key)' needs \"prior\": true, a \"job\" id, or a \"mean\" with one of cov, scale, scale_tril"); return nil
        }
        guard spreads.count == 1, let which = spreads.first, let sv = o[which] else {
            diagnostics.report(p, "reference '\(key)' needs exactly one of cov, scale, scale_tril with its mean"); return nil
        }
        guard let mean = valueSpec(mv, p.appending("mean"), "mean of reference '\(key)'"),
              let spreadValue = valueSpec(sv, p.appending(which), "\(which) of reference '\(key)'") else { return nil }
        let spread: SpreadSpec = which == "cov" ? .cov(spreadValue) : which == "scale" ? .scale(spreadValue) : .scaleTril(spreadValue)
        return ReferenceSpec(name: key, site: site, source: .given(mean: mean, spread: spread, job: job), pointer: p)
    }
}
