import Autodiff
import Numerics

/// A base law pushed through a bijection (torch's `TransformedDistribution` with one
/// `biject_to` transform): draws are `T(u)`, u from the base, and the density of a draw is the
/// base density of u less log |det ∂T/∂u|. Autoguides use it to cover constrained latents from
/// an unconstrained Normal.
///
/// The density is known for the tape's own draws: `logProb` accepts a node made by this
/// distribution's `rsample` or `sample` (whose u it remembers), or values the transform can
/// invert in the graph (`identity`, `exp`). Anything else is refused with a clear error.
public struct TransformedDistribution: Distribution {
    public let base: any Distribution
    public let transform: Transform
    /// Draws made so far and their unconstrained values (the memo that lets the guide score
    /// its own draw without inverting the transform in the graph).
    final class Draws { var pairs: [(value: Node, unconstrained: Node)] = [] }
    let draws = Draws()

    public init(base: any Distribution, transform: Transform) {
        self.base = base; self.transform = transform
    }

    public var graph: Graph { base.graph }
    public var name: String { "Transformed(\(base.name))" }
    /// torch's `arg_constraints` (none: it wraps another law: its parameters are the base's (the transform has none)).
    public static let parameters: [ParameterDeclaration] = []
    public var parameterNodes: [Node] { base.parameterNodes }
    public var batchShape: [Int] { base.batchShape }
    public var eventShape: [Int] {
        guard transform == .stickBreaking, let k = base.eventShape.last else { return base.eventShape }
        return Array(base.eventShape.dropLast()) + [k + 1]
    }
    /// The transform's codomain (torch: the last transform's codomain).
    public var support: Constraint {
        switch transform {
        case .identity: base.support
        case .exp: .positive
        case .sigmoid: .unitInterval
        case let .affineSigmoid(a, b): .interval(a, b)
        case .softmax, .stickBreaking: .simplex
        case .lowerCholesky: .lowerCholesky
        }
    }
    public var hasRSample: Bool { base.hasRSample }

    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let u = try base.rsample(sampleShape, stream: stream)
        let y = transform(u)
        draws.pairs.append((y, u))
        return y
    }

    public func sample(_ sampleShape: [Int], stream: Int) -> Node {
        let u = base.sample(sampleShape, stream: stream)
        let y = transform(u)
        draws.pairs.append((y, u))
        return y
    }

    /// The unconstrained draw behind `value`, when `value` is one of this law's draws.
    public func unconstrained(of value: Node) -> Node? { draws.pairs.first { $0.value == value }?.unconstrained }

    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let u: Node
        if let pair = draws.pairs.first(where: { $0.value == value }) {
            u = pair.unconstrained
        } else {
            switch transform {
            case .identity: u = value
            case .exp: u = graph.log(value)
            default: throw .unsupported("the density of a \(transform)-transformed law is known only for its own draws")
            }
        }
        let y = transform(u)
        var ldj = try transform.logAbsDetJacobian(u, y)
        // Element-wise Jacobians are summed over the base's event axes.
        let extra = base.eventShape.count - transform.eventDims
        if extra > 0 { ldj = graph.sum(ldj, axes: Array((-extra)...(-1))) }
        return try base.logProb(u) - ldj
    }

    public func mean() throws(DistributionError) -> Node { throw .unsupported("a transformed law has no closed-form mean") }
    public func variance() throws(DistributionError) -> Node { throw .unsupported("a transformed law has no closed-form variance") }
}
