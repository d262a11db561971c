/// How a guide sample site's gradient is estimated (estimators.md): the choice a user makes per
/// latent site, with Pyro's names.
public enum Estimator: Equatable, Hashable, Sendable, Codable {
    /// Pathwise gradient through `rsample` (implicit for Gamma, Beta, Dirichlet, StudentT).
    case reparam
    /// MultivariateNormal with the optimal-mass-transport gradient (Pyro's OMTMultivariateNormal).
    case omt
    /// MultivariateNormal with adaptive velocity fields of the given rank (Pyro's AVFMultivariateNormal).
    case avf(rank: Int)
    /// Score function (REINFORCE) with a baseline.
    case score(baseline: Baseline)
    /// Concrete / Gumbel-softmax relaxation at a temperature.
    case relaxed(temperature: Double)
    /// Relaxed straight-through: hard forward value, relaxed gradient.
    case straightThrough(temperature: Double)
    /// Exact enumeration of a finite discrete site.
    case enumerate

    /// Whether the site's draw carries a pathwise gradient.
    public var isPathwise: Bool {
        switch self {
        case .reparam, .omt, .avf, .relaxed, .straightThrough: true
        case .score, .enumerate: false
        }
    }
}

/// A score-function baseline b_s (estimators.md §3): never changes the estimator's mean.
public enum Baseline: Equatable, Hashable, Sendable, Codable {
    /// b = 0.
    case none
    /// b ← β b + (1 − β) C̄ after every step (the old b is used), per plate element.
    case decayingAverage(beta: Double)
    /// b⁽ⁱ⁾ = mean of the other particles' costs (needs at least 2 particles).
    case leaveOneOut
    /// A regressor b = f(inputs) trained to minimise (C − b)²: linear when `hidden` is 0,
    /// else one tanh layer of that width (Pyro's `nn_baseline`). `inputs` name nodes given to
    /// the program builder as baseline features, each of shape `plates + [features]`.
    case learned(inputs: [String], hidden: Int)
}

/// Which ELBO estimator the surrogate loss implements.
public enum ELBOKind: String, Equatable, Hashable, Sendable, Codable {
    /// Pyro's Trace_ELBO: a score site's cost is the whole ELBO particle.
    case trace
    /// Pyro's TraceGraph_ELBO: a score site's cost is what lies downstream of it, per plate element.
    case tracegraph
    /// Pyro's TraceMeanField_ELBO: analytic KL where the prior does not depend on other latents.
    case meanfield
}
