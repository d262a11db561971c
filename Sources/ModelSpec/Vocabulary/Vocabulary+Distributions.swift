import Distributions
import Inference

/// One of Pyro's distribution names that carry an estimator (`OMTMultivariateNormal`): the
/// catalog law it stands for and the estimator it implies. Guide sites only.
public struct DistributionAlias: Sendable {
    /// Pyro's name.
    public let name: String
    /// The catalog law it draws from.
    public let law: String
    /// The estimator it implies.
    public let implies: Implied

    /// The estimator an alias implies.
    public enum Implied: Sendable {
        /// This estimator.
        case estimator(Estimator)
        /// `straight_through` at the constant `temperature` given among the site's `args`
        /// (taken out of the law's arguments).
        case straightThroughAtTemperatureArgument
    }
}

extension Vocabulary {
    /// The distributions a spec may name: the catalog's laws, in its order.
    public static var distributions: [String] { DistributionCatalog.entries.map(\.name) }

    /// Pyro's estimator-carrying names, accepted on guide sites.
    public static let aliases: [DistributionAlias] = [
        DistributionAlias(name: "OMTMultivariateNormal", law: "MultivariateNormal", implies: .estimator(.omt)),
        DistributionAlias(name: "AVFMultivariateNormal", law: "MultivariateNormal", implies: .estimator(.avf(rank: 1))),
        DistributionAlias(name: "RelaxedOneHotCategoricalStraightThrough", law: "OneHotCategorical", implies: .straightThroughAtTemperatureArgument),
        DistributionAlias(name: "RelaxedBernoulliStraightThrough", law: "Bernoulli", implies: .straightThroughAtTemperatureArgument),
    ]

    /// The alias named `name`.
    public static func alias(named name: String) -> DistributionAlias? { aliases.first { $0.name == name } }

    /// Each distribution's arguments as `/v1/capabilities` lists them: `a|b` for alternatives,
    /// `name?` when optional.
    public static var distributionArguments: [String: [String]] {
        Dictionary(uniqueKeysWithValues: DistributionCatalog.entries.map { entry in
            (entry.name, entry.parameters.requiredGroups.map { $0.joined(separator: "|") } + entry.parameters.optionalNames.map { "\($0)?" })
        })
    }
}
