import Autodiff
import Numerics

/// MultivariateNormal(loc, scale_tril) or (loc, covariance_matrix), event shape `[d]`.
/// A covariance is factorised by a Cholesky node, so gradients reach it. Pathwise draws are
/// `loc + ε Lᵀ` with ε standard normal rows. The scale is shared across the batch (`[d, d]`).
public struct MultivariateNormal: Distribution {
    public let loc: Node
    /// Lower Cholesky factor of the covariance.
    public let scaleTril: Node
    public let batchShape: [Int]
    public var graph: Graph { loc.graph }
    public var name: String { "MultivariateNormal" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("loc", .realVector, role: .vector), .init("scale_tril", .lowerCholesky, role: .matrix, .alternative), .init("covariance_matrix", .positiveDefinite, role: .matrix, .alternative)]
    public var parameterNodes: [Node] { [loc, scaleTril] }
    public var eventShape: [Int] { [dimension] }
    public var support: Constraint { .realVector }
    public var hasRSample: Bool { true }
    /// Event size d.
    public var dimension: Int { scaleTril.shape.last ?? 0 }

    public init(loc: Node, scaleTril: Node) throws(DistributionError) {
        try Parameters.require(["scale_tril": scaleTril], declared: Self.parameters, "MultivariateNormal")
        guard scaleTril.rank == 2, let d = loc.shape.last, scaleTril.shape == [d, d] else {
            throw .shapeMismatch("MultivariateNormal: loc \(loc.shape) needs scale_tril [\(loc.shape.last ?? 0), \(loc.shape.last ?? 0)], got \(scaleTril.shape)")
        }
        self.loc = loc; self.scaleTril = scaleTril
        batchShape = Array(loc.shape.dropLast())
    }

    public init(loc: Node, covarianceMatrix: Node) throws(DistributionError) {
        try Parameters.require(["covariance_matrix": covarianceMatrix], declared: Self.parameters, "MultivariateNormal")
        try self.init(loc: loc, scaleTril: loc.graph.cholesky(covarianceMatrix))
    }

    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let x = try checked(value)
        guard x.shape.last == dimension else {
            throw .shapeMismatch("MultivariateNormal: value \(x.shape) does not end in the event size \(dimension)")
        }
        return graph.mvnLogProb(x, loc: loc, scaleTril: scaleTril)
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let eps = graph.noise(.normal, shape: shape(sampleShape), stream: 4 * stream)
        return loc + graph.matmul(eps, graph.transpose(scaleTril))
    }

    /// A pathwise draw whose ∂scale_tril is the optimal-mass-transport estimator
    /// (estimators.md §2.2, Pyro's `OMTMultivariateNormal`): the same values as
    /// `rsample(sampleShape, stream:)` at the same step, the same gradient mean, lower variance
    /// on smooth costs. The result is `sampleShape + [d]`; its rows share one O(d³) backward.
    /// Throws `.unsupported` when loc has batch axes (the op takes one loc `[d]`).
    public func rsampleOMT(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        try requireUnbatched("rsampleOMT")
        let eps = graph.noise(.normal, shape: sampleShape + eventShape, stream: 4 * stream)
        return graph.mvnSampleOMT(loc: loc, scaleTril: scaleTril, noise: eps)
    }

    /// A pathwise draw whose ∂scale_tril is the adaptive-velocity-field estimator
    /// (estimators.md §2.3, Pyro's `AVFMultivariateNormal`) with control variate
    /// `controlB`, `controlC` (`[K, d]`, K ≥ 1, Pyro's docs start them at 0.1). Same values as
    /// `rsample(sampleShape, stream:)` at the same step and the same gradient mean for any
    /// B, C. The adjoints `backward` leaves in B and C (when they are parameters) minimise the
    /// estimator's second moment and are not gradients of the loss: step them with their own
    /// optimiser (Pyro's example: Adam, lr 0.1, betas (0.5, 0.999)).
    /// Throws `.unsupported` when loc has batch axes, `.shapeMismatch` for B, C not `[K, d]`.
    public func rsampleAVF(_ sampleShape: [Int], stream: Int, controlB: Node, controlC: Node) throws(DistributionError) -> Node {
        try requireUnbatched("rsampleAVF")
        guard controlB.rank == 2, controlB.shape == controlC.shape, controlB.shape[1] == dimension, controlB.shape[0] >= 1 else {
            throw .shapeMismatch("MultivariateNormal.rsampleAVF: control variate B \(controlB.shape) and C \(controlC.shape) must both be [K, \(dimension)] with K ≥ 1")
        }
        let eps = graph.noise(.normal, shape: sampleShape + eventShape, stream: 4 * stream)
        return graph.mvnSampleAVF(loc: loc, scaleTril: scaleTril, noise: eps, controlB: controlB, controlC: controlC)
    }

    private func requireUnbatched(_ method: String) throws(DistributionError) {
        guard batchShape.isEmpty else {
            throw .unsupported("MultivariateNormal.\(method): loc has batch shape \(batchShape); this estimator needs a single loc of shape [\(dimension)] (use rsample, or one distribution per batch element)")
        }
    }

    public func mean() -> Node { loc }
    /// Diagonal of LLᵀ, broadcast over the batch.
    public func variance() -> Node { graph.broadcast(graph.sum(scaleTril.square(), axes: [-1]), to: batchShape + eventShape) }
    /// The covariance LLᵀ.
    public func covariance() -> Node { graph.matmul(scaleTril, graph.transpose(scaleTril)) }
    public func entropy() -> Node {
        let h = graph.sum(graph.log(graph.diag(scaleTril, embed: false))) + Double(dimension) * (0.5 + halfLog2Pi)
        return graph.broadcast(h, to: batchShape)
    }
}

/// Dirichlet(concentration) on the simplex, event shape `[k]`; draws normalise implicitly
/// reparameterised Gamma draws.
public struct Dirichlet: Distribution {
    public let concentration: Node
    public var graph: Graph { concentration.graph }
    public var name: String { "Dirichlet" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("concentration", .positive, role: .vector)]
    public var parameterNodes: [Node] { [concentration] }
    public var batchShape: [Int] { Array(concentration.shape.dropLast()) }
    public var eventShape: [Int] { [concentration.shape.last ?? 0] }
    public var support: Constraint { .simplex }
    public var hasRSample: Bool { true }

    public init(concentration: Node) throws(DistributionError) {
        try Parameters.require(["concentration": concentration], declared: Self.parameters, "Dirichlet")
        guard concentration.rank >= 1 else { throw .shapeMismatch("Dirichlet: concentration must have an event axis") }
        self.concentration = concentration
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph, a = concentration
        return g.sum(g.xlogy(a - 1, try checked(value)), axes: [-1]) + g.lgamma(g.sum(a, axes: [-1])) - g.sum(g.lgamma(a), axes: [-1])
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let g = graph
        let x = g.standardGammaSample(g.broadcast(concentration, to: shape(sampleShape)), stream: 4 * stream)
        return x / g.sum(x, axes: [-1], keepDims: true)
    }
    public func mean() -> Node { concentration / graph.sum(concentration, axes: [-1], keepDims: true) }
    public func variance() -> Node {
        let a0 = graph.sum(concentration, axes: [-1], keepDims: true)
        return concentration * (a0 - concentration) / (a0.square() * (a0 + 1))
    }
    public func entropy() -> Node {
        let g = graph, a = concentration, a0 = g.sum(a, axes: [-1]), k = Double(eventShape[0])
        let lbeta = g.sum(g.lgamma(a), axes: [-1]) - g.lgamma(a0)
        return lbeta + (a0 - k) * g.digamma(a0) - g.sum((a - 1) * g.digamma(a), axes: [-1])
    }
}
