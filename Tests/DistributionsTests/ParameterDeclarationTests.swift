import Autodiff
import Numerics
import Testing
@testable import Distributions

/// Each law declares its arguments (torch's `arg_constraints`, with shape roles): the
/// declarations must match what the law stores (every given argument reaches one of its
/// `parameterNodes`, which the program builder's dependence checks read) and what its
/// initialiser refuses (a constant outside a declared constraint).
@Suite struct ParameterDeclarationTests {
    /// Every catalog law and every way of giving its arguments, from the reference cases.
    static let parameterisations: [(dist: String, params: [String: [Double]])] = {
        var seen = Set<String>(), out: [(String, [String: [Double]])] = []
        for c in logProbReference where seen.insert(c.dist + ":" + c.params.keys.sorted().joined(separator: ",")).inserted {
            out.append((c.dist, c.params))
        }
        return out
    }()

    @Test func theReferenceCasesCoverEveryLawAndEveryArgument() {
        for entry in DistributionCatalog.entries {
            let given = Set(Self.parameterisations.filter { $0.dist == entry.name }.flatMap(\.params.keys))
            for p in entry.parameters where p.presence == .required || p.presence == .alternative {
                #expect(given.contains(p.name), "no reference case gives \(entry.name)'s '\(p.name)'")
            }
        }
    }

    @Test func everyGivenArgumentReachesADeclaredParameterNode() throws {
        for (dist, params) in Self.parameterisations {
            let g = Graph()
            let law = try makeDistribution(dist, params, in: g)
            let nodes = law.parameterNodes
            #expect(!nodes.isEmpty, "\(dist) has no parameter nodes")
            #expect(type(of: law).parameters.map(\.name) == DistributionCatalog.entry(dist)?.parameters.map(\.name))
            for name in params.keys {
                // The argument's node is the constant made for it: the first node whose value is it.
                let dep = g.dependence(on: g.nodesMade(from: params[name]!))
                #expect(nodes.contains { dep[$0.id] }, "\(dist): '\(name)' reaches none of \(nodes.map(\.id))")
            }
        }
    }

    /// A value outside each checkable constraint.
    static func violation(of c: Constraint) -> [Double]? {
        switch c {
        case .positive, .nonnegative, .unitInterval, .nonnegativeInteger: [-1.5]
        case .lowerCholesky: [-1, 0, 0, 1]
        case .positiveDefinite: [1, 2, 2, 1]
        default: nil
        }
    }

    /// Why building `dist` from `params` fails, or nil when it is built.
    static func refusal(_ dist: String, _ params: [String: [Double]]) -> DistributionError? {
        do {
            _ = try makeDistribution(dist, params, in: Graph())
            return nil
        } catch {
            return error
        }
    }

    @Test func aConstantOutsideADeclaredConstraintIsRefusedNamingTheArgument() {
        for (dist, params) in Self.parameterisations {
            for p in DistributionCatalog.entry(dist)!.parameters where params[p.name] != nil {
                guard let c = p.constraint, let bad = Self.violation(of: c) else { continue }
                var edited = params
                edited[p.name] = p.role == .vector ? Array(repeating: bad[0], count: params[p.name]!.count) : bad
                guard case let .invalidParameter(law, parameter, constraint, _, _)? = Self.refusal(dist, edited) else {
                    Issue.record("\(dist) did not refuse \(p.name) = \(edited[p.name]!) as a parameter outside \(c)"); continue
                }
                // A law built on another (OneHotCategorical on Categorical) is refused by the inner one.
                #expect(parameter == p.name && constraint == c, "\(dist).\(p.name): refused as \(law).\(parameter) \(constraint)")
            }
        }
    }
}

extension Graph {
    /// The constant nodes holding exactly `values` (how a test finds the node made for an argument).
    func nodesMade(from values: [Double]) -> [Node] {
        (0..<nodeCount).compactMap { id in
            let n = node(id)
            return constantValue(n).map { $0.scalars == values } == true ? n : nil
        }
    }
}
