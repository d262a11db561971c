import Autodiff

/// One argument a distribution takes, as it declares it (torch's `arg_constraints`, with the
/// shape role and whether it must be given): the catalog's signatures, the job language's
/// argument checks and `/v1/capabilities` read these, and each law's initialiser checks its
/// constant arguments against them.
public struct ParameterDeclaration: Sendable, Equatable {
    /// torch's argument name (`loc`, `scale_tril`, `probs`).
    public let name: String
    /// Where a value must lie; nil when that depends on another argument (torch's
    /// `constraints.dependent`, e.g. Uniform's `high` > `low`), which the law checks itself.
    public let constraint: Constraint?
    /// The trailing axes of the argument that belong to one draw.
    public let role: ShapeRole
    /// Whether it must be given.
    public let presence: Presence

    public init(_ name: String, _ constraint: Constraint?, role: ShapeRole = .elementwise, _ presence: Presence = .required) {
        self.name = name; self.constraint = constraint; self.role = role; self.presence = presence
    }

    /// The trailing axes of an argument that belong to one draw.
    public enum ShapeRole: Sendable, Equatable {
        /// One number per batch element (`loc`, `scale`, `rate`).
        case elementwise
        /// A vector along the last axis (`MultivariateNormal.loc`, class `probs` and `logits`).
        case vector
        /// A square matrix in the last two axes (`scale_tril`, `covariance_matrix`).
        case matrix

        /// How many trailing axes belong to one draw.
        public var eventRank: Int {
            switch self {
            case .elementwise: 0
            case .vector: 1
            case .matrix: 2
            }
        }
    }

    /// Whether an argument must be given.
    public enum Presence: Sendable, Equatable {
        /// Always.
        case required
        /// Exactly one of a run of adjacent alternatives (torch's `probs` | `logits`).
        case alternative
        /// May be left out; the law then uses this value.
        case optional(default: Double)
    }
}

public extension Array where Element == ParameterDeclaration {
    /// The names that must be given, alternatives grouped (`[["loc"], ["scale_tril", "covariance_matrix"]]`).
    var requiredGroups: [[String]] {
        var groups: [[String]] = []
        var previousWasAlternative = false
        for p in self {
            switch p.presence {
            case .required: groups.append([p.name]); previousWasAlternative = false
            case .alternative:
                if previousWasAlternative { groups[groups.count - 1].append(p.name) } else { groups.append([p.name]) }
                previousWasAlternative = true
            case .optional: previousWasAlternative = false
            }
        }
        return groups
    }

    /// The names that may be left out.
    var optionalNames: [String] {
        compactMap { if case .optional = $0.presence { $0.name } else { nil } }
    }

    /// The declaration of `name`, if there is one.
    subscript(name: String) -> ParameterDeclaration? { first { $0.name == name } }
}

extension Parameters {
    /// Throws for the first given argument (in declaration order) that is a constant outside
    /// its declared constraint. Real-valued arguments are not checked here: a NaN there shows
    /// as a non-finite ELBO naming the site.
    static func require(_ given: KeyValuePairs<String, Node>, declared: [ParameterDeclaration], _ dist: String) throws(DistributionError) {
        for p in declared {
            guard let constraint = p.constraint, constraint != .real, constraint != .realVector,
                  let node = given.first(where: { $0.key == p.name })?.value else { continue }
            try require(node, constraint, dist, p.name)
        }
    }
}
