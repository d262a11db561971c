import Numerics

/// The set a value or parameter must lie in, as torch.distributions.constraints names them.
/// Used to check data against a distribution's support and constant parameters against their
/// domains before anything runs, and to choose the transform of a constrained parameter.
public enum Constraint: Equatable, Sendable, CustomStringConvertible {
    /// Any number but NaN.
    case real
    /// Vectors of reals (event dimension 1).
    case realVector
    /// x > 0.
    case positive
    /// x ≥ 0.
    case nonnegative
    /// 0 ≤ x ≤ 1.
    case unitInterval
    /// lower ≤ x ≤ upper (torch's closed check, also used for Uniform's support).
    case interval(Double, Double)
    /// lower < x < upper (torch's `open_interval`).
    case openInterval(Double, Double)
    /// 0 or 1.
    case boolean
    /// Integers in lower...upper.
    case integerInterval(Int, Int)
    /// Integers ≥ 0.
    case nonnegativeInteger
    /// Last axis non-negative and summing to 1 (within 1e-6, as torch checks).
    case simplex
    /// Last axis a one-hot vector.
    case oneHot
    /// Square matrices, lower triangular with a positive diagonal.
    case lowerCholesky
    /// Symmetric positive-definite matrices.
    case positiveDefinite

    public var description: String {
        switch self {
        case .real: "real"
        case .realVector: "real_vector"
        case .positive: "positive"
        case .nonnegative: "nonnegative"
        case .unitInterval: "unit_interval"
        case let .interval(a, b): "interval(\(a), \(b))"
        case let .openInterval(a, b): "open_interval(\(a), \(b))"
        case .boolean: "boolean"
        case let .integerInterval(a, b): "integer_interval(\(a), \(b))"
        case .nonnegativeInteger: "nonnegative_integer"
        case .simplex: "simplex"
        case .oneHot: "one_hot"
        case .lowerCholesky: "lower_cholesky"
        case .positiveDefinite: "positive_definite"
        }
    }

    /// The flat index of the first element (or first event's first element) of `t` outside
    /// the set, or nil when every element is inside.
    public func firstViolation(in t: Tensor) -> Int? {
        let x = t.scalars
        func scalarCheck(_ ok: (Double) -> Bool) -> Int? { x.firstIndex { !ok($0) } }
        func isInt(_ v: Double) -> Bool { v.rounded() == v }
        switch self {
        case .real, .realVector: return scalarCheck { !$0.isNaN }
        case .positive: return scalarCheck { $0 > 0 }
        case .nonnegative: return scalarCheck { $0 >= 0 }
        case .unitInterval: return scalarCheck { $0 >= 0 && $0 <= 1 }
        case let .interval(a, b): return scalarCheck { $0 >= a && $0 <= b }
        case let .openInterval(a, b): return scalarCheck { $0 > a && $0 < b }
        case .boolean: return scalarCheck { $0 == 0 || $0 == 1 }
        case let .integerInterval(a, b): return scalarCheck { isInt($0) && $0 >= Double(a) && $0 <= Double(b) }
        case .nonnegativeInteger: return scalarCheck { isInt($0) && $0 >= 0 }
        case .simplex, .oneHot:
            guard let k = t.shape.last, k > 0 else { return nil }
            for r in 0..<(x.count / k) {
                let row = x[(r * k)..<(r * k + k)]
                let ok = self == .simplex
                    ? row.allSatisfy { $0 >= 0 } && Swift.abs(row.reduce(0, +) - 1) < 1e-6
                    : row.allSatisfy { $0 == 0 || $0 == 1 } && row.reduce(0, +) == 1
                if !ok { return r * k }
            }
            return nil
        case .lowerCholesky, .positiveDefinite:
            guard t.rank >= 2, let d = t.shape.last, t.shape[t.rank - 2] == d else { return 0 }
            for b in 0..<(x.count / max(d * d, 1)) {
                let m = Array(x[(b * d * d)..<((b + 1) * d * d)])
                if self == .lowerCholesky {
                    for i in 0..<d {
                        if !(m[i * d + i] > 0) { return b * d * d + i * d + i }
                        for j in (i + 1)..<d where m[i * d + j] != 0 { return b * d * d + i * d + j }
                    }
                } else {
                    for i in 0..<d { for j in 0..<i where Swift.abs(m[i * d + j] - m[j * d + i]) > 1e-10 * (1 + Swift.abs(m[i * d + j])) { return b * d * d + i * d + j } }
                    if (try? LinearAlgebra.cholesky(Tensor(shape: [d, d], scalars: m))) == nil { return b * d * d }
                }
            }
            return nil
        }
    }
}
