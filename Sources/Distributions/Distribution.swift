import Autodiff
import Numerics

/// Why a distribution cannot be built or evaluated as asked.
public enum DistributionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A constant parameter outside its domain.
    case invalidParameter(distribution: String, parameter: String, constraint: Constraint, index: Int, value: Double)
    /// A constant value outside the support.
    case outsideSupport(distribution: String, constraint: Constraint, index: Int, value: Double)
    /// Shapes that do not fit together.
    case shapeMismatch(String)
    /// An operation the distribution does not have (rsample of a discrete law, entropy without
    /// a closed form, a KL pair without one).
    case unsupported(String)

    public var description: String {
        switch self {
        case let .invalidParameter(d, p, c, i, v):
            "\(d): parameter '\(p)' must be \(c), but element \(i) is \(v)"
        case let .outsideSupport(d, c, i, v):
            "\(d): value element \(i) = \(v) is outside the support (\(c))"
        case let .shapeMismatch(m): m
        case let .unsupported(m): m
        }
    }
}

/// A probability law whose parameters are nodes of a ``Graph``, with torch.distributions'
/// semantics: values have shape `sampleShape + batchShape + eventShape`; `logProb` sums over
/// the event axes and keeps the rest; sampling adds `sampleShape` in front (particles, draws).
///
/// Randomness comes from the graph's noise streams: `sample(_, stream:)` uses the stream ids
/// `4·stream + j` for `j` in `0..<4`, so distinct sites must use distinct `stream`s.
public protocol Distribution {
    /// The graph that holds the parameters.
    var graph: Graph { get }
    /// torch's class name (`"Normal"`, `"MultivariateNormal"`, …).
    var name: String { get }
    /// The arguments the law takes, with their constraints and shape roles (torch's
    /// `arg_constraints`); a law that wraps another declares none of its own.
    static var parameters: [ParameterDeclaration] { get }
    /// The nodes of its parameters, an inner or wrapped law's included: what the program
    /// builder's dependence checks read (does this law depend on a draw?).
    var parameterNodes: [Node] { get }
    /// Shape over which draws are independent (plates, particles).
    var batchShape: [Int] { get }
    /// Shape of one draw.
    var eventShape: [Int] { get }
    /// Where draws lie.
    var support: Constraint { get }
    /// Whether `rsample` gives a pathwise (reparameterised) draw.
    var hasRSample: Bool { get }
    /// Log-density (or mass) of `value`, summed over the event axes.
    func logProb(_ value: Node) throws(DistributionError) -> Node
    /// A draw with no gradient to the parameters.
    func sample(_ sampleShape: [Int], stream: Int) -> Node
    /// A pathwise draw whose gradient reaches the parameters.
    func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node
    /// E[x].
    func mean() throws(DistributionError) -> Node
    /// Var[x], element-wise over the event.
    func variance() throws(DistributionError) -> Node
    /// Differential (or Shannon) entropy, where a closed form exists.
    func entropy() throws(DistributionError) -> Node
}

public extension Distribution {
    var hasRSample: Bool { false }
    func sample(_ sampleShape: [Int], stream: Int) -> Node {
        if hasRSample, let x = try? rsample(sampleShape, stream: stream) { return graph.stopGradient(x) }
        preconditionFailure("\(name) must implement sample")
    }
    func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        throw .unsupported("\(name) has no reparameterised sampler; use a score-function or enumeration estimator")
    }
    func entropy() throws(DistributionError) -> Node { throw .unsupported("\(name) has no closed-form entropy") }
    /// Shape of `sample(sampleShape)`.
    func shape(_ sampleShape: [Int]) -> [Int] { sampleShape + batchShape + eventShape }

    /// Throws when `value` is a constant outside the support; returns `value` otherwise.
    func checked(_ value: Node) throws(DistributionError) -> Node {
        if let t = graph.constantValue(value), let i = support.firstViolation(in: t) {
            throw .outsideSupport(distribution: name, constraint: support, index: i, value: t.scalars[i])
        }
        return value
    }
}

/// Parameter plumbing shared by the distributions: domain checks of constant parameters and
/// broadcasting of parameters to one batch shape.
enum Parameters {
    /// Throws when `node` is a constant outside `constraint`.
    static func require(_ node: Node, _ constraint: Constraint, _ dist: String, _ name: String) throws(DistributionError) {
        if let t = node.graph.constantValue(node), let i = constraint.firstViolation(in: t) {
            throw .invalidParameter(distribution: dist, parameter: name, constraint: constraint, index: i, value: t.scalars[i])
        }
    }

    /// The broadcast of the parameters' shapes.
    static func batchShape(_ dist: String, _ nodes: [Node], eventDims: Int = 0) throws(DistributionError) -> [Int] {
        do { return try Shape.broadcast(nodes.map { Array($0.shape.dropLast(eventDims)) }) } catch {
            throw .shapeMismatch("\(dist): parameter shapes \(nodes.map(\.shape)) do not broadcast")
        }
    }
}

/// torch.finfo(float64).eps: the clamp torch applies to probabilities (`clamp_probs`).
public let probabilityEpsilon = 2.220446049250313e-16
/// torch.finfo(float64).tiny.
public let smallestNormal = 2.2250738585072014e-308
