import Inference

/// What a finished job reports (job-spec.md "Result"): the job language's output, built by
/// ``JobRun`` from the run's outcome and the job's summaries.
public struct JobResult: Codable, Equatable, Sendable {
    /// Mean of the ELBO over the last steps (the last tenth, at most 100 steps).
    public var finalELBO: Double
    /// Fitted params, constrained, by name.
    public var params: [NamedTensor]
    /// Per latent site, the guide's posterior summary from guide draws.
    public var posterior: [SiteSummary]
    /// (step, ELBO), thinned to at most 1000 points.
    public var elboTrace: [TracePoint]
    public var steps: Int
    public var seconds: Double
    public var stepsPerSecond: Double
    /// W₂ to the spec's references, maps and coupled estimates (docs/transport.md).
    public var transport: TransportResult? = nil
    /// The fitted normal of every Gaussian guide site (what a later job's reference by job id reads).
    public var gaussians: [FittedGaussian]? = nil
    /// Summaries of the job's `let` values (derived quantities), from the same draws.
    public var derived: [SiteSummary]? = nil

    enum CodingKeys: String, CodingKey {
        case finalELBO = "final_elbo", params, posterior, elboTrace = "elbo_trace", steps, seconds
        case stepsPerSecond = "steps_per_second", transport, gaussians, derived
    }
}

/// A named tensor in a result.
public struct NamedTensor: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Double]
}

/// Summary of a latent site's guide: element-wise mean, sd and quantiles from draws, its
/// estimator, and its W₂ distance from the prior when both are Gaussian.
public struct SiteSummary: Codable, Equatable, Sendable {
    public var site: String
    public var estimator: String
    public var shape: [Int]
    public var mean: [Double]
    public var sd: [Double]
    public var q05: [Double]
    public var q50: [Double]
    public var q95: [Double]
    public var draws: Int
    public var w2FromPrior: Double?
    /// How the quantiles were computed: `exact` (every draw kept) or `p2` (streamed, P²;
    /// see ``P2Quantile`` for its error). Absent in results of earlier versions (exact).
    public var quantileMethod: String?
    /// Set when the per-element summaries cover only the site's first elements (row-major).
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case site, estimator, shape, mean, sd, q05 = "q5", q50, q95, draws, w2FromPrior = "w2_from_prior"
        case quantileMethod = "quantile_method", note
    }
}
