/// How supports relate: what static support checks (a guide's support within its model
/// site's) and the replay's draw checks need.
public extension Constraint {
    /// The closed range and integrality of an element-wise constraint (nil for structured ones).
    private var elementRange: (lower: Double, upper: Double, integer: Bool)? {
        switch self {
        case .real, .realVector: (-.infinity, .infinity, false)
        case .positive, .nonnegative: (0, .infinity, false)
        case .unitInterval: (0, 1, false)
        case let .interval(a, b), let .openInterval(a, b): (a, b, false)
        case .boolean: (0, 1, true)
        case let .integerInterval(a, b): (Double(a), Double(b), true)
        case .nonnegativeInteger: (0, .infinity, true)
        case .simplex, .oneHot, .lowerCholesky, .positiveDefinite: nil
        }
    }

    /// Whether every value in `self` lies in `other`, up to boundaries that carry no
    /// probability (a law on x ≥ 0 fits a site on x > 0: its draws are almost surely inside);
    /// nil when the two cannot be compared here.
    func isWithin(_ other: Constraint) -> Bool? {
        switch (self, other) {
        case (.simplex, .simplex), (.oneHot, .oneHot), (.oneHot, .simplex), (.lowerCholesky, .lowerCholesky),
             (.positiveDefinite, .positiveDefinite):
            return true
        case (.simplex, _), (.oneHot, _), (.lowerCholesky, _), (.positiveDefinite, _):
            guard let b = other.elementRange else { return nil }
            let inner: (Double, Double) = self == .simplex || self == .oneHot ? (0, 1) : (-.infinity, .infinity)
            return inner.0 >= b.lower && inner.1 <= b.upper && (!b.integer || self == .oneHot)
        default:
            guard let a = elementRange else { return nil }
            guard let b = other.elementRange else { return false }
            return a.lower >= b.lower && a.upper <= b.upper && (!b.integer || a.integer)
        }
    }

    /// The flat index of the first value in `values` outside the set, checking events of
    /// `eventSize` numbers for structured constraints (simplex, one-hot rows); nil when all
    /// are inside or the constraint is not checked this way (matrices). Allocates nothing.
    func firstViolation(in values: UnsafeBufferPointer<Double>, eventSize: Int) -> Int? {
        switch self {
        case .simplex, .oneHot:
            let k = max(eventSize, 1)
            for r in 0..<(values.count / k) {
                var sum = 0.0, ok = true
                for j in 0..<k {
                    let x = values[r * k + j]
                    sum += x
                    if self == .simplex ? !(x >= 0) : !(x == 0 || x == 1) { ok = false }
                }
                if !ok || !(Swift.abs(sum - 1) < (self == .simplex ? 1e-6 : 0.5)) { return r * k }
            }
            return nil
        case .lowerCholesky, .positiveDefinite:
            return nil
        case .real, .realVector:
            for i in 0..<values.count where values[i].isNaN { return i }
            return nil
        default:
            guard let (lower, upper, integer) = elementRange else { return nil }
            let open = self == .positive
            let openInterval: Bool
            if case .openInterval = self { openInterval = true } else { openInterval = false }
            for i in 0..<values.count {
                let x = values[i]
                let inside = open ? x > 0
                    : openInterval ? (x > lower && x < upper)
                    : (x >= lower && x <= upper)
                if !inside || (integer && x.rounded() != x) { return i }
            }
            return nil
        }
    }

    /// Laws (and an autoguide) whose draws lie in the set: what a refusal suggests.
    var suggestedGuides: String {
        switch self {
        case .positive, .nonnegative: "LogNormal, Gamma or HalfNormal"
        case .unitInterval: "Beta"
        case .interval, .openInterval: "a Uniform over the same interval"
        case .simplex: "Dirichlet"
        case .boolean: "Bernoulli"
        case .integerInterval: "Categorical"
        case .nonnegativeInteger: "Poisson"
        case .oneHot: "OneHotCategorical"
        case .real, .realVector, .lowerCholesky, .positiveDefinite: "a law with the same support"
        }
    }
}
