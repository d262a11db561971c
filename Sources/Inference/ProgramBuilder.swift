import Autodiff
import Distributions
import Numerics

/// Builds an SVI program the way a Pyro user writes one: params, then the guide's sample
/// sites (each with its estimator), then the model's latent and observed sites, all on one
/// ``Graph`` with the particles as a leading batch axis. `compile()` turns the recorded sites
/// into the surrogate loss of the chosen ELBO (estimators as backward rules on the graph) and
/// a ``CompiledProgram`` that the SVI loop replays.
///
/// Shapes: a site's value is `[particles] + plate sizes (in the program's plate order) +
/// event shape`. Distributions whose parameters do not depend on a draw get the particle axis
/// (and any plate axes missing from their batch shape) added by the builder.
public final class ProgramBuilder {
    public let graph = Graph()
    public let particles: Int
    public let elbo: ELBOKind
    /// Replace −log q by the closed-form entropy where one exists (the spec's `entropy: analytic`).
    public let analyticEntropy: Bool

    var plates: [Plate] = []
    var plateIndices: [String: Node] = [:]
    var params: [ParameterRecord] = []
    var guideSites: [GuideSite] = []
    var modelSites: [ModelSite] = []
    var features: [String: Node] = [:]
    var auxiliaryNames: Set<String> = []
    var names: Set<String> = []
    var nextStream = 1

    public init(particles: Int = 1, elbo: ELBOKind = .tracegraph, analyticEntropy: Bool = false) {
        precondition(particles >= 1, "at least one particle")
        self.particles = particles; self.elbo = elbo; self.analyticEntropy = analyticEntropy
    }

    func claim(_ name: String) throws(ProgramError) {
        guard names.insert(name).inserted else { throw .duplicateName(name) }
    }

    func stream() -> Int { defer { nextStream += 1 }; return nextStream }

    // MARK: Plates and params

    /// Declares a plate; sites list the plates they lie in, in declaration order.
    public func plate(_ name: String, size: Int, subsample: Int? = nil) throws(ProgramError) -> Plate {
        try claim(name)
        guard size >= 1 else { throw .invalid("plate '\(name)': size must be positive, got \(size)") }
        if let b = subsample, !(1...size).contains(b) {
            throw .invalid("plate '\(name)': subsample \(b) must lie in 1...\(size)")
        }
        let p = Plate(name: name, size: size, subsample: subsample, position: plates.count)
        plates.append(p)
        if let b = subsample {
            plateIndices[name] = graph.subsampleIndices(size: b, population: size, stream: stream())
        }
        return p
    }

    /// The rows of `data` (first axis indexed by `plate`) present in this step: all of them,
    /// or the subsample's rows when the plate is subsampled.
    public func rows(_ data: Node, in plate: Plate) throws(ProgramError) -> Node {
        guard data.shape.first == plate.size else {
            throw .plateMismatch(site: plate.name, "data indexed by the plate must have \(plate.size) rows, got \(data.shape)")
        }
        guard let idx = plateIndices[plate.name] else { return data }
        return graph.gather(data, index: idx)
    }

    /// A learnable tensor given by its constrained initial value (Pyro's `pyro.param`); the
    /// optimiser works on the unconstrained value through torch's `transform_to`. Returns the
    /// constrained value node.
    public func param(_ name: String, _ initial: Tensor, constraint: Constraint = .real,
                      learningRate: Double? = nil) throws(ProgramError) -> Node {
        try claim(name)
        if let i = constraint.firstViolation(in: initial) {
            throw .invalid("param '\(name)': initial element \(i) = \(initial.scalars[i]) is not \(constraint)")
        }
        let transform: Transform
        do { transform = try Transform.transformTo(constraint) } catch { throw .invalid("param '\(name)': \(error)") }
        let raw = graph.parameter(name, transform.inverse(initial))
        let value = transform(raw)
        params.append(ParameterRecord(name: name, raw: raw, value: value, transform: transform, learningRate: learningRate, role: .program))
        return value
    }

    /// Registers a node as a named input of learned baselines.
    public func feature(_ name: String, _ node: Node) { features[name] = node }

    // MARK: Sites

    /// A guide sample site: draws the site's value with the chosen estimator. An `auxiliary`
    /// site has no model site of its name (Pyro's autoguide latents: a joint draw that other
    /// guide sites take slices of); its −log q still enters the ELBO.
    @discardableResult
    public func sample(_ name: String, _ dist: any Distribution, plates sitePlates: [Plate] = [],
                       estimator: Estimator? = nil, auxiliary: Bool = false) throws(ProgramError) -> Node {
        if auxiliary { auxiliaryNames.insert(name) }
        try claim("guide:" + name)
        let est = estimator ?? (dist.hasRSample ? .reparam : .score(baseline: .decayingAverage(beta: 0.9)))
        let prefix = try samplePrefix(name, dist, sitePlates)
        let s = stream()
        var value: Node, scored: Node
        var control: (Node, Node)? = nil
        do {
            switch est {
            case .reparam:
                guard dist.hasRSample else {
                    throw ProgramError.estimatorMismatch(site: name, "\(dist.name) has no reparameterised sampler; use score or enum")
                }
                value = try dist.rsample(prefix, stream: s); scored = value
            case .omt, .avf:
                guard let mvn = dist as? MultivariateNormal else {
                    throw ProgramError.estimatorMismatch(site: name, "\(est) needs a MultivariateNormal, got \(dist.name)")
                }
                (value, control) = try mvnDraw(name, mvn, est, prefix, s)
                scored = value
            case .score:
                value = dist.sample(prefix, stream: s); scored = value
            case let .relaxed(t), let .straightThrough(t):
                guard t > 0 else { throw ProgramError.estimatorMismatch(site: name, "temperature must be positive, got \(t)") }
                let relaxed = try relaxedCounterpart(name, dist, temperature: t)
                if case .straightThrough = est {
                    let draw = try straightThroughDraw(relaxed, prefix, s)
                    value = draw.hard; scored = draw.soft
                } else {
                    value = try relaxed.rsample(prefix, stream: s); scored = value
                }
                guideSites.append(GuideSite(name: name, distribution: relaxed, estimator: est, plates: sitePlates,
                                            value: value, scoredValue: scored, logProb: try relaxed.logProb(scored), control: nil, original: dist,
                                            drawSources: [value, scored]))
                return value
            case .enumerate:
                value = try enumerationValues(name, dist, sitePlates); scored = value
            }
            // A transformed law scores its draw through the unconstrained value it came from.
            let unconstrained = (dist as? TransformedDistribution)?.unconstrained(of: value)
            guideSites.append(GuideSite(name: name, distribution: dist, estimator: est, plates: sitePlates,
                                        value: value, scoredValue: scored, logProb: try dist.logProb(scored), control: control, original: dist,
                                        drawSources: [value, scored] + (unconstrained.map { [$0] } ?? [])))
        } catch let e as ProgramError { throw e } catch let e as DistributionError { throw ProgramError.wrap(name, e) } catch {
            throw .invalid("site '\(name)': \(error)")
        }
        return value
    }

    /// A model latent site: scores the guide's value of the same name under `dist` and returns
    /// that value (Pyro replays the model against the guide's trace).
    @discardableResult
    public func latent(_ name: String, _ dist: any Distribution, plates sitePlates: [Plate] = []) throws(ProgramError) -> Node {
        try claim("model:" + name)
        guard let g = guideSites.first(where: { $0.name == name }) else { throw .unmatchedSite(name) }
        guard Set(g.plates) == Set(sitePlates), sitePlates.count == g.plates.count else {
            throw .plateMismatch(site: name, "the model lists plates \(sitePlates.map(\.name)) but the guide lists \(g.plates.map(\.name)); a site lies in the same plates in both")
        }
        var scoring: any Distribution = dist
        var scored = g.value
        switch g.estimator {
        case let .relaxed(t):
            scoring = try relaxedCounterpart(name, dist, temperature: t)
        case .straightThrough where dist is RelaxedOneHotCategorical || dist is RelaxedBernoulli:
            // A relaxed law in the model scores the soft draw, as Pyro's straight-through
            // distributions do (`_unquantize`); a discrete law scores the hard value.
            scored = g.scoredValue
        default: break
        }
        // One enumerated site per term: an enumerated site's model law cannot itself depend on
        // another enumerated site (its values and the other's would share the values axis).
        if g.estimator == .enumerate {
            let parameters = dist.parameterNodes
            if let e = guideSites.first(where: { e in e.name != name && e.estimator == .enumerate && parameters.contains { graph.dependence(on: e.drawSources)[$0.id] } }) {
                throw .estimatorMismatch(site: name, "the model's law of the enumerated site '\(name)' depends on the enumerated site '\(e.name)'; enumerate at most one of them (use score for the other)")
            }
        }
        // The guide's value has its plate axes in the guide's listed order; the model may
        // list the same plates in another order.
        let modelValue = reorder(g.value, from: g.plates, to: sitePlates, site: g)
        scored = reorder(scored, from: g.plates, to: sitePlates, site: g)
        do {
            let lp = try scoring.logProb(scored)
            modelSites.append(ModelSite(name: name, distribution: scoring, plates: sitePlates, logProb: lp, observed: false))
        } catch { throw ProgramError.wrap(name, error) }
        return modelValue
    }

    /// A site's value with its plate axes (after the engine's leading axes) moved from the
    /// order `from` to the order `to`.
    func reorder(_ value: Node, from: [Plate], to: [Plate], site g: GuideSite) -> Node {
        guard from != to else { return value }
        let lead = value.rank - from.count - g.distribution.eventShape.count
        let perm = Array(0..<lead) + to.map { p in lead + from.firstIndex(of: p)! } + Array((lead + from.count)..<value.rank)
        return graph.permute(value, perm)
    }

    /// A model observation: `value` scored under `dist` (a likelihood term).
    public func observe(_ name: String, _ dist: any Distribution, value: Node, plates sitePlates: [Plate] = []) throws(ProgramError) {
        try claim("model:" + name)
        do {
            let lp = try dist.logProb(value)
            modelSites.append(ModelSite(name: name, distribution: dist, plates: sitePlates, logProb: lp, observed: true))
        } catch { throw ProgramError.wrap(name, error) }
    }

    /// An arbitrary log-density term in the model (Pyro's `pyro.factor`): `logDensity` has
    /// shape `[P] + plate sizes` (or plate sizes alone when it depends on no draw).
    public func factor(_ name: String, _ logDensity: Node, plates sitePlates: [Plate] = []) throws(ProgramError) {
        try claim("model:" + name)
        modelSites.append(ModelSite(name: name, distribution: nil, plates: sitePlates, logProb: logDensity, observed: true))
    }

    /// Per-site state the SVI loop reads: the value of the guide site `name` (shape
    /// `[P] + plates + event`), for posterior summaries.
    public func guideValue(_ name: String) -> Node? { guideSites.first { $0.name == name }?.value }

    // MARK: Helpers

    /// The sample shape that gives a draw of shape `[P] + plate sizes + event`.
    func samplePrefix(_ name: String, _ dist: any Distribution, _ sitePlates: [Plate]) throws(ProgramError) -> [Int] {
        let sizes = sitePlates.map(\.batchSize)
        guard Set(sitePlates).count == sitePlates.count else {
            throw .plateMismatch(site: name, "lists a plate twice")
        }
        var batch = dist.batchShape
        let dependsOnDraw = dependsOnDraws(dist)
        if dependsOnDraw {
            let parameters = dist.parameterNodes
            if let e = guideSites.first(where: { g in g.estimator == .enumerate && parameters.contains { graph.dependence(on: g.drawSources)[$0.id] } }) {
                throw .estimatorMismatch(site: e.name, "an enumerated site cannot feed another guide site ('\(name)'); use score for '\(e.name)', or make '\(name)' independent of it")
            }
            guard batch.first == particles else {
                throw .plateMismatch(site: name, "its parameters depend on other draws, so its batch shape must start with the \(particles) particles, got \(batch)")
            }
            batch.removeFirst()
        }
        guard batch.count <= sizes.count, Array(sizes.suffix(batch.count)) == batch else {
            throw .plateMismatch(site: name, "batch shape \(dist.batchShape) does not fit plates \(sitePlates.map(\.name)) of sizes \(sizes)")
        }
        let missing = Array(sizes.prefix(sizes.count - batch.count))
        return dependsOnDraw ? missing : [particles] + missing
    }

    /// Whether any parameter of `dist` is computed from an earlier guide draw.
    func dependsOnDraws(_ dist: any Distribution) -> Bool {
        guard !guideSites.isEmpty else { return false }
        let dep = graph.dependence(on: guideSites.flatMap(\.drawSources))
        return dist.parameterNodes.contains { dep[$0.id] }
    }

    func relaxedCounterpart(_ name: String, _ dist: any Distribution, temperature t: Double) throws(ProgramError) -> any Distribution {
        let tau = graph.constant(t)
        do {
            switch dist {
            case let d as OneHotCategorical: return try RelaxedOneHotCategorical(temperature: tau, .logits(d.categorical.logits))
            case let d as Bernoulli: return try RelaxedBernoulli(temperature: tau, .logits(d.logits))
            case let d as RelaxedOneHotCategorical: return d
            case let d as RelaxedBernoulli: return d
            default:
                throw ProgramError.estimatorMismatch(site: name, "relaxed and straight-through estimators need OneHotCategorical or Bernoulli, got \(dist.name)")
            }
        } catch let e as ProgramError { throw e } catch { throw .invalid("site '\(name)': \(error)") }
    }

    func straightThroughDraw(_ relaxed: any Distribution, _ prefix: [Int], _ s: Int) throws(DistributionError) -> StraightThroughDraw {
        if let r = relaxed as? RelaxedOneHotCategorical { return try r.rsampleStraightThrough(prefix, stream: s) }
        if let r = relaxed as? RelaxedBernoulli { return try r.rsampleStraightThrough(prefix, stream: s) }
        throw .unsupported("straight-through needs a relaxed one-hot or Bernoulli law")
    }

    /// Every value of a finite site, along a new leading axis, shaped to broadcast against
    /// `[particles] + plates`: `[K, 1, 1…]` (+ the event axis for one-hot values).
    func enumerationValues(_ name: String, _ dist: any Distribution, _ sitePlates: [Plate]) throws(ProgramError) -> Node {
        let ones = Array(repeating: 1, count: 1 + sitePlates.count)
        switch dist {
        case let d as Categorical:
            let k = d.classes
            return graph.constant(Tensor(shape: [k] + ones, scalars: (0..<k).map(Double.init)))
        case let d as OneHotCategorical:
            let k = d.categorical.classes
            return graph.constant(Tensor(shape: [k] + ones + [k], scalars: Tensor.eye(k).scalars))
        case is Bernoulli:
            return graph.constant(Tensor(shape: [2] + ones, scalars: [0, 1]))
        default:
            throw .estimatorMismatch(site: name, "enumeration needs a Categorical, OneHotCategorical or Bernoulli site, got \(dist.name)")
        }
    }
}

/// A learnable tensor of a program.
public struct ParameterRecord {
    /// What updates the parameter.
    public enum Role: Sendable { case program, controlVariate, baseline }
    public let name: String
    /// The unconstrained value the optimiser updates.
    public let raw: Node
    /// The constrained value the program uses.
    public let value: Node
    public let transform: Transform
    /// A per-parameter learning rate, when overridden.
    public let learningRate: Double?
    public let role: Role
}

/// A recorded guide sample site.
struct GuideSite {
    let name: String
    let distribution: any Distribution
    let estimator: Estimator
    let plates: [Plate]
    /// The value the model sees.
    let value: Node
    /// The value the guide scores (the soft draw for straight-through).
    let scoredValue: Node
    /// log q of `scoredValue`, shape `[P] + plates` (`[K, 1] + plates` when enumerated).
    let logProb: Node
    let control: (Node, Node)?
    /// The distribution as the user wrote it (before relaxation).
    let original: any Distribution
    /// Every node that carries the draw (value, soft draw, unconstrained draw): what lies
    /// downstream of any of them depends on this site.
    let drawSources: [Node]
}

/// A recorded model site.
struct ModelSite {
    let name: String
    /// nil for factors.
    let distribution: (any Distribution)?
    let plates: [Plate]
    let logProb: Node
    let observed: Bool
}
