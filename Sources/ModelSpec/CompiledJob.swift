import Autodiff
import Distributions
import Inference
import Numerics

/// A spec compiled to a program ready to run: the SVI program, its settings, and what the
/// result needs about every latent site.
public struct CompiledJob {
    public let name: String
    public let program: CompiledProgram
    public let inference: InferenceSpec
    /// Latent sites in guide order.
    public let sites: [SiteInfo]
    /// Warnings that do not stop the job (reported by `validate`).
    public let warnings: [SpecDiagnostic]
    /// Fitted Gaussians, references, W₂ and coupled estimates (nil when the guide has no
    /// Gaussian site).
    public internal(set) var transport: TransportPlan? = nil
    /// What posterior draws report: latent sites, `let` values, and predictive draws of
    /// observed sites when compiled with `predictive: true`.
    public internal(set) var posteriorOutputs: [PosteriorOutput] = []
    /// The observed sites' values (for predictive checks), when compiled with `predictive: true`.
    public internal(set) var observedData: [(name: String, value: Tensor)] = []
    /// The graph the program was compiled from (posterior tapes are compiled from it too).
    var graph: Graph? = nil
    /// What the job holds while it runs, part by part.
    public var memory = JobMemoryEstimate()

    /// Every byte the job holds while it runs (``JobMemoryEstimate/total``): what a worker's
    /// memory limit is derived from.
    public var estimatedBytes: Int { memory.total }
}

/// What the result reports about a latent site: its guide value node (shape `[P] + plates +
/// event`), its estimator, and — for Gaussian guide and prior — the distributions whose W₂
/// distance is reported.
public struct SiteInfo {
    public let name: String
    public let estimator: Estimator
    public let distribution: String
    public let value: Node
    /// Per-particle shape of the value.
    public let shape: [Int]
    let guide: (any Distribution)?
    let prior: (any Distribution)?
}
