/// What a job's result reports about its transport references and coupled estimates
/// (docs/transport.md).
public struct TransportResult: Codable, Equatable, Sendable {
    public var references: [ReferenceResult]
    public var estimates: [CoupledEstimateResult]
}

/// W₂ from the fitted guide (q) to one reference (p), its parts, the transport map and the
/// W₂ trace over the run.
public struct ReferenceResult: Codable, Equatable, Sendable {
    public var name: String
    public var site: String
    /// `prior`, `given` or `job`.
    public var source: String
    /// The earlier job the reference was read from (source `job`).
    public var job: String?
    /// W₂(q, p), and its mean and covariance parts (w2² = w2_mean² + w2_cov²).
    public var w2: Double
    public var w2Mean: Double
    public var w2Cov: Double
    /// Per batch element of a batched MultivariateNormal site (nil otherwise).
    public var batch: [TransportDistance]?
    /// T(z) = mean_p + A (z − mean_q), one map per batch element (one for an unbatched site).
    public var maps: [TransportMapResult]
    /// W₂ at the steps it was computed while the job ran (at most about 1000 points).
    public var trace: [TransportTracePoint]

    enum CodingKeys: String, CodingKey {
        case name, site, source, job, w2, w2Mean = "w2_mean", w2Cov = "w2_cov", batch, maps, trace
    }
}

/// W₂ and its parts.
public struct TransportDistance: Codable, Equatable, Sendable {
    public var w2: Double
    public var w2Mean: Double
    public var w2Cov: Double

    public init(w2: Double, w2Mean: Double, w2Cov: Double) { self.w2 = w2; self.w2Mean = w2Mean; self.w2Cov = w2Cov }

    enum CodingKeys: String, CodingKey { case w2, w2Mean = "w2_mean", w2Cov = "w2_cov" }
}

/// One transport map: `a` (D×D rows) for a full map, or `a_diagonal` (D) when both
/// Gaussians are diagonal; means of q and of the reference.
public struct TransportMapResult: Codable, Equatable, Sendable {
    public var a: [[Double]]?
    public var aDiagonal: [Double]?
    public var meanQ: [Double]
    public var meanP: [Double]

    enum CodingKeys: String, CodingKey { case a, aDiagonal = "a_diagonal", meanQ = "mean_q", meanP = "mean_p" }
}

/// W₂ to a reference at one step.
public struct TransportTracePoint: Codable, Equatable, Sendable {
    public var step: Int
    public var w2: Double
    public var w2Mean: Double
    public var w2Cov: Double

    enum CodingKeys: String, CodingKey { case step, w2, w2Mean = "w2_mean", w2Cov = "w2_cov" }
}

/// E_q[f] − E_ref[f] from `draws` coupled pairs (z, T(z)): the difference with its standard
/// error, the two means, and the variance-reduction factor against as many independent pairs,
/// (Var_q f + Var_ref f) / Var(f(z) − f(T(z))), estimated from the same draws.
public struct CoupledEstimateResult: Codable, Equatable, Sendable {
    public var name: String
    public var reference: String
    public var f: String
    public var draws: Int
    public var difference: Double
    public var se: Double
    public var meanQ: Double
    public var meanReference: Double
    /// The standard error independent draws would give.
    public var seIndependent: Double
    public var varianceReduction: Double

    enum CodingKeys: String, CodingKey {
        case name, reference, f, draws, difference, se, meanQ = "mean_q", meanReference = "mean_reference"
        case seIndependent = "se_independent", varianceReduction = "variance_reduction"
    }
}

/// The W₂ values a run computed at one report step (a progress event's `transport`).
public struct TransportProgress: Codable, Equatable, Sendable {
    public var step: Int
    public var distances: [NamedTransportDistance]
}

/// W₂ to one named reference at a report step.
public struct NamedTransportDistance: Codable, Equatable, Sendable {
    public var reference: String
    public var site: String
    public var w2: Double
    public var w2Mean: Double
    public var w2Cov: Double

    enum CodingKeys: String, CodingKey { case reference, site, w2, w2Mean = "w2_mean", w2Cov = "w2_cov" }
}

/// A Gaussian guide site's fitted normal (what a later job's reference by job id reads):
/// its mean (site shape) and either per-element standard deviations (`scale`) or, for a
/// MultivariateNormal, the covariance shared by its batch (`cov`, D×D).
public struct FittedGaussian: Codable, Equatable, Sendable {
    public var site: String
    public var shape: [Int]
    public var mean: [Double]
    public var scale: [Double]?
    public var cov: [[Double]]?
}
