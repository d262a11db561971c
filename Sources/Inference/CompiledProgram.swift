import Autodiff
import Distributions
import Numerics

/// A program compiled to one tape whose loss is the surrogate of the chosen ELBO: its value
/// is −ELBO plus zero-valued score terms, and its gradient is the estimator's gradient. Holds
/// what the SVI loop needs besides the tape: the parameters with their roles, the
/// decaying-average baselines' state, and the site table for reports.
public final class CompiledProgram {
    /// The compiled graph; `loss` is the surrogate.
    public let tape: Tape
    /// The ELBO estimate of one step (mean over particles).
    public let elbo: Node
    /// The surrogate loss that `backward` differentiates.
    public let loss: Node
    /// Every learnable tensor with its role and transform.
    public let parameters: [ParameterRecord]
    /// Decaying-average baselines: state input, particle-mean cost, β.
    let decayingBaselines: [DecayingBaseline]
    /// Guide sites in order, with their estimators.
    public let sites: [(name: String, estimator: Estimator)]
    /// Particles per step.
    public let particles: Int
    /// Every site's contribution to the ELBO (a scalar each), to name the one that turned non-finite.
    let siteTerms: [(name: String, node: Node)]

    init(tape: Tape, elbo: Node, loss: Node, parameters: [ParameterRecord], baselines: [DecayingBaseline],
         sites: [(String, Estimator)], particles: Int, siteTerms: [(String, Node)]) {
        self.tape = tape; self.elbo = elbo; self.loss = loss; self.parameters = parameters
        decayingBaselines = baselines; self.sites = sites.map { (name: $0.0, estimator: $0.1) }; self.particles = particles
        self.siteTerms = siteTerms.map { (name: $0.0, node: $0.1) }
    }
}

extension ProgramBuilder {
    /// Compiles the recorded program: checks that model and guide sites match, builds the
    /// ELBO and the surrogate loss, and compiles the tape.
    public func compile() throws(ProgramError) -> CompiledProgram {
        let latentNames = Set(modelSites.filter { !$0.observed }.map(\.name))
        for g in guideSites where !latentNames.contains(g.name) && !auxiliaryNames.contains(g.name) { throw .unmatchedSite(g.name) }
        var layout = TermLayout(graph: graph, guideSites: guideSites, plates: plates, particles: particles)
        try checkEnumeratedSites(&layout)
        let terms = try elboTerms(&layout)
        let scoreSites = Set(guideSites.filter { if case .score = $0.estimator { true } else { false } }.map(\.name))

        // Each term's contribution is kept by name: they are what a divergence report inspects.
        // A score site's own −log q enters the surrogate only through its score term: the
        // direct gradient of log q at a fixed draw has mean zero (Pyro's entropy_term = 0 for
        // non-reparameterised sites), and keeping it would leave variance that no baseline
        // removes, even at the optimum.
        var contributions: [(String, Node)] = []
        var pathwise = graph.constant(0)
        for t in terms where t.enumerated == nil {
            let c = layout.total(t)
            contributions.append((t.label, c))
            pathwise = pathwise + (t.kind == .guide && scoreSites.contains(t.site) ? graph.stopGradient(c) : c)
        }
        var elboNode = contributions.map(\.1).reduce(graph.constant(0), +)
        for (label, contribution) in try enumeratedContributions(terms, &layout) {
            contributions.append((label, contribution))
            elboNode = elboNode + contribution
            pathwise = pathwise + contribution
        }
        var surrogate = -pathwise
        let baselines = try addScoreTerms(terms, &layout, to: &surrogate)

        // The sites' ELBO terms are outputs too, so the fusion pass keeps them (a diverged step
        // names the site whose term is not finite).
        let outputs = [elboNode] + baselines.map(\.costMean) + guideSites.map(\.value) + contributions.map(\.1)
        let tape: Tape
        do { tape = try graph.compile(loss: surrogate, outputs: outputs) } catch { throw .invalid(error.message) }
        return CompiledProgram(tape: tape, elbo: elboNode, loss: surrogate, parameters: params, baselines: baselines,
                               sites: guideSites.map { ($0.name, $0.estimator) }, particles: particles,
                               siteTerms: contributions)
    }
}
