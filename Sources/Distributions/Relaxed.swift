import Autodiff
import Numerics

/// A relaxed draw together with its quantised value: the straight-through estimator's forward
/// value is `hard`, its gradient is the Jacobian of `soft`, and the guide scores `soft`.
public struct StraightThroughDraw {
    /// The quantised value with the straight-through gradient rule attached.
    public let hard: Node
    /// The relaxed draw.
    public let soft: Node
}

/// RelaxedOneHotCategorical(temperature, probs | logits): the Concrete / Gumbel-softmax law
/// on the simplex (Maddison et al. 2017), torch's construction: y = softmax((logits + G)/τ),
/// clamped into [eps, 1 − eps].
public struct RelaxedOneHotCategorical: Distribution {
    public let temperature: Node
    public let categorical: Categorical
    public var graph: Graph { temperature.graph }
    public var name: String { "RelaxedOneHotCategorical" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("temperature", .positive)] + Categorical.parameters
    public var parameterNodes: [Node] { [temperature] + categorical.parameterNodes }
    public var batchShape: [Int] { categorical.batchShape }
    public var eventShape: [Int] { [categorical.classes] }
    public var support: Constraint { .simplex }
    public var hasRSample: Bool { true }

    public init(temperature: Node, _ parameter: DiscreteParameter) throws(DistributionError) {
        try Parameters.require(["temperature": temperature], declared: Self.parameters, "RelaxedOneHotCategorical")
        self.temperature = temperature
        categorical = try Categorical(parameter)
    }

    /// log p(y) = lgamma(K) + (K−1) log τ + Σ(α − τ x) − K·logsumexp(α − τ x) − Σ x, x = log y.
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph, x = g.log(try checked(value)), k = Double(categorical.classes)
        let score = categorical.logits - x * temperature
        let logScale = (k - 1) * g.log(temperature) + Special.lgamma(k)
        return g.sum(score, axes: [-1]) - k * g.logsumexp(score) + logScale - g.sum(x, axes: [-1])
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let g = graph
        let u = g.clampProbabilities(g.noise(.uniform, shape: shape(sampleShape), stream: 4 * stream))
        let gumbel = -g.log(-g.log(u))
        let scores = (categorical.logits + gumbel) / temperature
        return g.clampProbabilities(g.softmax(scores))
    }
    /// Relaxed draw and its one-hot argmax with the straight-through rule (Pyro's
    /// `RelaxedOneHotCategoricalStraightThrough`).
    public func rsampleStraightThrough(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> StraightThroughDraw {
        let soft = try rsample(sampleShape, stream: stream)
        let hard = graph.oneHot(graph.argmax(soft), classes: categorical.classes)
        return StraightThroughDraw(hard: graph.straightThrough(hard: hard, soft: soft), soft: soft)
    }
    public func mean() throws(DistributionError) -> Node { throw .unsupported("RelaxedOneHotCategorical has no closed-form mean") }
    public func variance() throws(DistributionError) -> Node { throw .unsupported("RelaxedOneHotCategorical has no closed-form variance") }
}

/// RelaxedBernoulli(temperature, probs | logits) on (0, 1) (the binary Concrete law), torch's
/// construction: y = σ((logit p + log u − log(1−u))/τ) clamped into [eps, 1 − eps].
public struct RelaxedBernoulli: Distribution {
    public let temperature: Node
    public let bernoulli: Bernoulli
    public var graph: Graph { temperature.graph }
    public var name: String { "RelaxedBernoulli" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("temperature", .positive)] + Bernoulli.parameters
    public var parameterNodes: [Node] { [temperature] + bernoulli.parameterNodes }
    public var batchShape: [Int] { bernoulli.batchShape }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .unitInterval }
    public var hasRSample: Bool { true }

    public init(temperature: Node, _ parameter: DiscreteParameter) throws(DistributionError) {
        try Parameters.require(["temperature": temperature], declared: Self.parameters, "RelaxedBernoulli")
        self.temperature = temperature
        bernoulli = try Bernoulli(parameter)
    }

    /// With x = logit(y) (y clamped into [tiny, 1 − eps]) and d = ℓ − τx:
    /// log p(y) = log τ + d − 2·softplus(d) − log(y(1−y)), the last term through softplus of ±x.
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph
        let y = g.clamp(try checked(value), lower: smallestNormal, upper: 1 - probabilityEpsilon)
        let x = g.log(y) - g.log1p(-y)
        let d = bernoulli.logits - x * temperature
        return g.log(temperature) + d - 2 * g.softplus(d) + g.softplus(-x) + g.softplus(x)
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let g = graph
        let p = g.clampProbabilities(bernoulli.probs)
        let u = g.clampProbabilities(g.noise(.uniform, shape: shape(sampleShape), stream: 4 * stream))
        let x = (g.log(u) - g.log1p(-u) + g.log(p) - g.log1p(-p)) / temperature
        return g.clampProbabilities(g.sigmoid(x))
    }
    /// Relaxed draw and its rounding with the straight-through rule (Pyro's
    /// `RelaxedBernoulliStraightThrough`).
    public func rsampleStraightThrough(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> StraightThroughDraw {
        let soft = try rsample(sampleShape, stream: stream)
        let hard = graph.less(graph.constant(0.5), soft)
        return StraightThroughDraw(hard: graph.straightThrough(hard: hard, soft: soft), soft: soft)
    }
    public func mean() throws(DistributionError) -> Node { throw .unsupported("RelaxedBernoulli has no closed-form mean") }
    public func variance() throws(DistributionError) -> Node { throw .unsupported("RelaxedBernoulli has no closed-form variance") }
}

/// Pyro's `to_event`: reinterprets the last `reinterpretedDims` batch axes of `base` as event
/// axes, so `logProb` and `entropy` sum over them. The base is an existential so programs
/// chosen at run time (the job language) can wrap any law.
public struct Independent: Distribution {
    public let base: any Distribution
    public let reinterpretedDims: Int
    public var graph: Graph { base.graph }
    public var name: String { base.name }
    /// torch's `arg_constraints` (none: it wraps another law: its parameters are the base's).
    public static let parameters: [ParameterDeclaration] = []
    public var parameterNodes: [Node] { base.parameterNodes }
    public var batchShape: [Int] { Array(base.batchShape.dropLast(reinterpretedDims)) }
    public var eventShape: [Int] { Array(base.batchShape.suffix(reinterpretedDims)) + base.eventShape }
    public var support: Constraint { base.support }
    public var hasRSample: Bool { base.hasRSample }

    public init(_ base: any Distribution, reinterpretedDims: Int) throws(DistributionError) {
        guard reinterpretedDims >= 0, reinterpretedDims <= base.batchShape.count else {
            throw .shapeMismatch("to_event(\(reinterpretedDims)) exceeds the batch shape \(base.batchShape) of \(base.name)")
        }
        self.base = base; self.reinterpretedDims = reinterpretedDims
    }
    /// Sums the last `reinterpretedDims` axes of a per-element node.
    func reduce(_ x: Node) -> Node { reinterpretedDims == 0 ? x : graph.sum(x, axes: Array((-reinterpretedDims)...(-1))) }
    public func logProb(_ value: Node) throws(DistributionError) -> Node { reduce(try base.logProb(value)) }
    public func sample(_ sampleShape: [Int], stream: Int) -> Node { base.sample(sampleShape, stream: stream) }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node { try base.rsample(sampleShape, stream: stream) }
    public func mean() throws(DistributionError) -> Node { try base.mean() }
    public func variance() throws(DistributionError) -> Node { try base.variance() }
    public func entropy() throws(DistributionError) -> Node { reduce(try base.entropy()) }
}
