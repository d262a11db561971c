import Autodiff
import Numerics

/// A map from unconstrained reals onto a constrained set, as torch defines them:
/// `transformTo` (how Pyro's param store constrains params) and `bijectTo` (how autoguides
/// map latent sites). Each maps graph nodes forward with its log-|det Jacobian| where torch
/// defines one, and tensors both ways (for initial values and for reporting).
public enum Transform: Equatable, Sendable, CustomStringConvertible {
    /// y = x.
    case identity
    /// y = exp x (`positive`).
    case exp
    /// y = σ(x) (`unit_interval`).
    case sigmoid
    /// y = lower + (upper − lower)·σ(x) (`interval(lower, upper)`).
    case affineSigmoid(lower: Double, upper: Double)
    /// y = softmax(x) over the last axis (`transform_to(simplex)`; not a bijection, no Jacobian).
    case softmax
    /// torch's stick-breaking bijection `[..., k−1]` → `[..., k]` (`biject_to(simplex)`).
    case stickBreaking
    /// Strict lower triangle kept, diagonal exponentiated (`lower_cholesky`).
    case lowerCholesky

    public var description: String {
        switch self {
        case .identity: "identity"
        case .exp: "exp"
        case .sigmoid: "sigmoid"
        case let .affineSigmoid(a, b): "interval(\(a), \(b))"
        case .softmax: "softmax"
        case .stickBreaking: "stick_breaking"
        case .lowerCholesky: "lower_cholesky"
        }
    }

    /// torch's `transform_to(constraint)`.
    public static func transformTo(_ c: Constraint) throws(DistributionError) -> Transform {
        switch c {
        case .real, .realVector: .identity
        case .positive, .nonnegative: .exp
        case .unitInterval: .sigmoid
        case let .interval(a, b), let .openInterval(a, b): .affineSigmoid(lower: a, upper: b)
        case .simplex: .softmax
        case .lowerCholesky: .lowerCholesky
        default: throw .unsupported("no transform onto \(c)")
        }
    }

    /// torch's `biject_to(constraint)`: like `transformTo` but a bijection (stick-breaking for
    /// the simplex), so densities can be carried through it.
    public static func bijectTo(_ c: Constraint) throws(DistributionError) -> Transform {
        let t = try transformTo(c)
        return t == .softmax ? .stickBreaking : t
    }

    /// Shape of the unconstrained value for a constrained value of `shape`.
    public func unconstrainedShape(_ shape: [Int]) -> [Int] {
        guard self == .stickBreaking, let k = shape.last else { return shape }
        return Array(shape.dropLast()) + [k - 1]
    }

    /// Axes at the end of the value that one Jacobian spans (0: element-wise).
    public var eventDims: Int {
        switch self {
        case .softmax, .stickBreaking: 1
        case .lowerCholesky: 2
        default: 0
        }
    }

    /// The constrained value of `x` in the graph.
    public func callAsFunction(_ x: Node) -> Node {
        let g = x.graph
        switch self {
        case .identity: return x
        case .exp: return g.exp(x)
        case .sigmoid: return g.sigmoid(x)
        case let .affineSigmoid(a, b): return g.sigmoid(x) * (b - a) + a
        case .softmax: return g.softmax(x)
        case .stickBreaking: return g.stickBreaking(x)
        case .lowerCholesky: return g.lowerCholeskyFactor(x)
        }
    }

    /// log |det ∂y/∂x|, element-wise for element-wise maps and summed over the last axis for
    /// stick-breaking (torch's convention). `y` is `self(x)`.
    public func logAbsDetJacobian(_ x: Node, _ y: Node) throws(DistributionError) -> Node {
        let g = x.graph
        switch self {
        case .identity: return g.broadcast(g.constant(0), to: x.shape)
        case .exp: return x
        case .sigmoid: return -g.softplus(-x) - g.softplus(x)
        case let .affineSigmoid(a, b): return -g.softplus(-x) - g.softplus(x) + logarithm(b - a)
        case .stickBreaking:
            guard let k1 = x.shape.last else { throw .shapeMismatch("stick-breaking needs a last axis") }
            let offsets = g.constant(Tensor((0..<k1).map { logarithm(Double(k1 - $0)) }))
            let z = x - offsets
            let yCrop = g.slice(y, axis: -1, 0..<k1)
            return g.sum(-z + g.logSigmoid(z) + g.log(yCrop), axes: [-1])
        case .softmax, .lowerCholesky:
            throw .unsupported("torch's \(self) transform has no log-det-Jacobian (it constrains params, not densities)")
        }
    }

    /// The unconstrained value whose image is `y` (torch's `_inverse`, with its clamps).
    public func inverse(_ y: Tensor) -> Tensor {
        func logit(_ p: Double) -> Double {
            let c = Swift.min(Swift.max(p, smallestNormal), 1 - probabilityEpsilon)
            return logarithm(c) - Special.log1p(-c)
        }
        switch self {
        case .identity: return y
        case .exp: return y.map(logarithm)
        case .sigmoid: return y.map(logit)
        case let .affineSigmoid(a, b): return y.map { logit(($0 - a) / (b - a)) }
        case .softmax: return y.map(logarithm)
        case .stickBreaking:
            guard let k = y.shape.last, k >= 1 else { return y }
            var out: [Double] = []
            for r in 0..<(y.count / k) {
                var cum = 0.0
                for j in 0..<(k - 1) {
                    let p = y.scalars[r * k + j]
                    cum += p
                    let rest = Swift.max(1 - cum, smallestNormal)
                    out.append(logarithm(p) - logarithm(rest) + logarithm(Double(k - 1 - j)))
                }
            }
            return Tensor(shape: unconstrainedShape(y.shape), scalars: out)
        case .lowerCholesky:
            guard let d = y.shape.last else { return y }
            var x = y
            for i in 0..<x.count {
                let col = i % d, row = (i / d) % d
                x.scalars[i] = col > row ? 0 : (col == row ? logarithm(y.scalars[i]) : y.scalars[i])
            }
            return x
        }
    }

    /// The constrained value of a tensor (evaluated through the same graph ops).
    public func forward(_ x: Tensor) -> Tensor {
        let g = Graph()
        let y = self(g.constant(x))
        guard let tape = try? g.compile(outputs: [y]) else { return x }
        tape.forward()
        return tape.value(of: y)
    }
}

