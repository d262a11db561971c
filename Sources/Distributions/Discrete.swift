import Autodiff
import Numerics

/// How a discrete law was parameterised: torch keeps both forms and derives one from the other.
public enum DiscreteParameter {
    /// Probabilities (in [0, 1]; for categorical laws rows are normalised).
    case probs(Node)
    /// Log-odds (binary) or unnormalised log-probabilities (categorical).
    case logits(Node)

    var node: Node { switch self { case let .probs(p): p; case let .logits(l): l } }
}

extension Graph {
    /// torch's `clamp_probs`: into [eps, 1 − eps].
    func clampProbabilities(_ p: Node) -> Node { clamp(p, lower: probabilityEpsilon, upper: 1 - probabilityEpsilon) }
    /// torch's `probs_to_logits(p, is_binary=True)`: log p − log(1 − p) of the clamped p.
    func binaryLogits(_ p: Node) -> Node {
        let c = clampProbabilities(p)
        return log(c) - log1p(-c)
    }
}

/// Bernoulli(probs | logits) on {0, 1}.
public struct Bernoulli: Distribution {
    /// Log-odds (from clamped probabilities when built from `probs`, as torch does).
    public let logits: Node
    /// P(x = 1).
    public let probs: Node
    public var graph: Graph { logits.graph }
    public var name: String { "Bernoulli" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("probs", .unitInterval, .alternative), .init("logits", .real, .alternative)]
    public var parameterNodes: [Node] { [logits, probs] }
    public var batchShape: [Int] { logits.shape }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .boolean }

    public init(_ parameter: DiscreteParameter) throws(DistributionError) {
        switch parameter {
        case let .probs(p):
            try Parameters.require(["probs": p], declared: Self.parameters, "Bernoulli")
            probs = p; logits = p.graph.binaryLogits(p)
        case let .logits(l):
            logits = l; probs = l.graph.sigmoid(l)
        }
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node { graph.bernoulliLogProb(try checked(value), logits: logits) }
    public func sample(_ sampleShape: [Int], stream: Int) -> Node {
        graph.less(graph.noise(.uniform, shape: shape(sampleShape), stream: 4 * stream), probs)
    }
    public func mean() -> Node { probs }
    public func variance() -> Node { probs * (1 - probs) }
    /// softplus(ℓ) − ℓ·p.
    public func entropy() -> Node { graph.softplus(logits) - logits * probs }
}

/// Categorical(probs | logits) over `0..<k`, values are class indices (as doubles).
public struct Categorical: Distribution {
    /// Log-probabilities per class (torch's `logits` property): normalised when built from
    /// logits, log of the clamped normalised probabilities when built from probs.
    public let logits: Node
    /// Normalised probabilities.
    public let probs: Node
    public var graph: Graph { logits.graph }
    public var name: String { "Categorical" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("probs", .nonnegative, role: .vector, .alternative), .init("logits", .realVector, role: .vector, .alternative)]
    public var parameterNodes: [Node] { [logits, probs] }
    public var batchShape: [Int] { Array(logits.shape.dropLast()) }
    public var eventShape: [Int] { [] }
    /// Number of classes.
    public var classes: Int { logits.shape.last ?? 0 }
    public var support: Constraint { .integerInterval(0, classes - 1) }

    public init(_ parameter: DiscreteParameter) throws(DistributionError) {
        let g = parameter.node.graph
        guard parameter.node.rank >= 1 else { throw .shapeMismatch("Categorical: parameters need a class axis") }
        switch parameter {
        case let .probs(p):
            try Parameters.require(["probs": p], declared: Self.parameters, "Categorical")
            probs = p / g.sum(p, axes: [-1], keepDims: true)
            logits = g.log(g.clampProbabilities(probs))
        case let .logits(l):
            logits = g.logSoftmax(l)
            probs = g.softmax(l)
        }
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node { graph.pick(logits, index: try checked(value)) }
    /// Gumbel-max: argmax(logits + G).
    public func sample(_ sampleShape: [Int], stream: Int) -> Node {
        let gumbel = graph.noise(.gumbel, shape: sampleShape + batchShape + [classes], stream: 4 * stream)
        return graph.argmax(logits + gumbel)
    }
    public func mean() throws(DistributionError) -> Node { throw .unsupported("Categorical has no mean (torch returns NaN)") }
    public func variance() throws(DistributionError) -> Node { throw .unsupported("Categorical has no variance (torch returns NaN)") }
    /// −Σ p log p, with logits clamped at the most negative finite double (torch).
    public func entropy() -> Node {
        -graph.sum(graph.clamp(logits, lower: -Double.greatestFiniteMagnitude) * probs, axes: [-1])
    }
}

/// OneHotCategorical(probs | logits): values are one-hot vectors, event shape `[k]`.
public struct OneHotCategorical: Distribution {
    public let categorical: Categorical
    public var graph: Graph { categorical.graph }
    public var name: String { "OneHotCategorical" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = Categorical.parameters
    public var parameterNodes: [Node] { categorical.parameterNodes }
    public var batchShape: [Int] { categorical.batchShape }
    public var eventShape: [Int] { [categorical.classes] }
    public var support: Constraint { .oneHot }

    public init(_ parameter: DiscreteParameter) throws(DistributionError) { categorical = try Categorical(parameter) }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        graph.pick(categorical.logits, index: graph.argmax(try checked(value)))
    }
    public func sample(_ sampleShape: [Int], stream: Int) -> Node {
        graph.oneHot(categorical.sample(sampleShape, stream: stream), classes: categorical.classes)
    }
    public func mean() -> Node { categorical.probs }
    public func variance() -> Node { categorical.probs * (1 - categorical.probs) }
    public func entropy() -> Node { categorical.entropy() }
}

/// Binomial(total_count, probs | logits) on `0...total_count`.
public struct Binomial: Distribution {
    public let totalCount: Node
    public let logits: Node, probs: Node
    public let batchShape: [Int]
    public var graph: Graph { logits.graph }
    public var name: String { "Binomial" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("total_count", .nonnegativeInteger, .optional(default: 1)), .init("probs", .unitInterval, .alternative), .init("logits", .real, .alternative)]
    public var parameterNodes: [Node] { [totalCount, logits, probs] }
    public var eventShape: [Int] { [] }
    /// `integer_interval(0, n)` when `total_count` is one constant; otherwise non-negative integers
    /// (and constant values are checked against constant counts element by element).
    public var support: Constraint {
        if let n = graph.constantValue(totalCount), n.count == 1, let top = Int(exactly: n.scalar) { return .integerInterval(0, top) }
        return .nonnegativeInteger
    }

    public init(totalCount: Node, _ parameter: DiscreteParameter) throws(DistributionError) {
        try Parameters.require(["total_count": totalCount], declared: Self.parameters, "Binomial")
        switch parameter {
        case let .probs(p):
            try Parameters.require(["probs": p], declared: Self.parameters, "Binomial")
            probs = p; logits = p.graph.binaryLogits(p)
        case let .logits(l):
            logits = l; probs = l.graph.sigmoid(l)
        }
        self.totalCount = totalCount
        batchShape = try Parameters.batchShape("Binomial", [totalCount, logits])
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph, k = try checked(value), n = totalCount
        if let kv = g.constantValue(k), let nv = g.constantValue(n),
           let b = try? Shape.broadcast(kv.shape, nv.shape), let kb = try? kv.broadcast(to: b), let nb = try? nv.broadcast(to: b),
           let i = kb.scalars.indices.first(where: { kb.scalars[$0] > nb.scalars[$0] }) {
            throw .outsideSupport(distribution: name, constraint: .integerInterval(0, Int(exactly: nb.scalars[i]) ?? .max), index: i, value: kb.scalars[i])
        }
        // torch's k·ℓ − n·softplus(ℓ) + log C(n, k), grouped so that nothing large cancels:
        // k·ℓ − n·softplus(ℓ) = −(n − k)·ℓ − n·softplus(−ℓ) for ℓ > 0 (exactly 0 − n·softplus(−ℓ)
        // at k = n), and log C(n, k) is exactly 0 at k = 0 and k = n. Summing the unsplit terms
        // instead leaves rounding noise of the size of lgamma(n + 1)·eps where the answer is
        // −n·log1p(e^−|ℓ|), e.g. −3.9e-21 at n = 20, ℓ = 50. Both branches are exact forms, so
        // the gradient is right on either side of ℓ = 0.
        let positive = g.less(g.constant(0), logits)
        let upper = -((n - k) * logits) - n * g.softplus(-logits)
        let lower = k * logits - n * g.softplus(logits)
        let logChoose = g.lgamma(n + 1) - g.lgamma(k + 1) - g.lgamma(n - k + 1)
        return logChoose + (positive * upper + (1 - positive) * lower)
    }
    public func sample(_ sampleShape: [Int], stream: Int) -> Node {
        let s = shape(sampleShape)
        return graph.binomialSample(count: graph.broadcast(totalCount, to: s), probability: graph.broadcast(probs, to: s), stream: 4 * stream)
    }
    public func mean() -> Node { totalCount * probs }
    public func variance() -> Node { totalCount * probs * (1 - probs) }
}

/// Poisson(rate) on the non-negative integers.
public struct Poisson: Distribution {
    public let rate: Node
    public var graph: Graph { rate.graph }
    public var name: String { "Poisson" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("rate", .nonnegative)]
    public var parameterNodes: [Node] { [rate] }
    public var batchShape: [Int] { rate.shape }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .nonnegativeInteger }

    public init(rate: Node) throws(DistributionError) {
        try Parameters.require(["rate": rate], declared: Self.parameters, "Poisson")
        self.rate = rate
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph, k = try checked(value)
        return g.xlogy(k, rate) - rate - g.lgamma(k + 1)
    }
    public func sample(_ sampleShape: [Int], stream: Int) -> Node {
        graph.poissonSample(graph.broadcast(rate, to: shape(sampleShape)), stream: 4 * stream)
    }
    public func mean() -> Node { rate }
    public func variance() -> Node { rate }
}

/// Delta(v, log_density): all mass at `v` (Pyro's Delta), with `eventDims` trailing axes
/// forming the event. log_prob is `log_density` at `v` and −∞ elsewhere; draws are `v`
/// itself, so gradients reach it (the MAP autoguide).
public struct Delta: Distribution {
    public let v: Node
    public let logDensity: Node
    public let eventDims: Int
    public var graph: Graph { v.graph }
    public var name: String { "Delta" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("v", .real), .init("log_density", .real, .optional(default: 0))]
    public var parameterNodes: [Node] { [v, logDensity] }
    public var batchShape: [Int] { Array(v.shape.dropLast(eventDims)) }
    public var eventShape: [Int] { Array(v.shape.suffix(eventDims)) }
    public var support: Constraint { .real }
    public var hasRSample: Bool { true }

    public init(v: Node, logDensity: Node? = nil, eventDims: Int = 0) throws(DistributionError) {
        guard eventDims >= 0, eventDims <= v.rank else { throw .shapeMismatch("Delta: event_dim \(eventDims) exceeds the rank of v \(v.shape)") }
        self.v = v; self.eventDims = eventDims
        self.logDensity = logDensity ?? v.graph.constant(0)
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph, x = try checked(value)
        let equal = (1 - g.less(x, v)) * (1 - g.less(v, x))
        var lp = g.log(equal)
        if eventDims > 0 { lp = g.sum(lp, axes: Array((-eventDims)...(-1))) }
        return lp + logDensity
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node { graph.broadcast(v, to: shape(sampleShape)) }
    public func mean() -> Node { v }
    public func variance() -> Node { graph.broadcast(graph.constant(0), to: v.shape) }
}
