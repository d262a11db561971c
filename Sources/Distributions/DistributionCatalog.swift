import Autodiff
import Numerics

/// Every distribution by its torch name, in one table: each entry names a law whose type
/// declares its arguments (``ParameterDeclaration``: constraints, shape roles, alternatives
/// such as probs | logits, defaults) and says how to build it from named argument nodes. The
/// job language (its decoder, compiler, schema, `/v1/capabilities`) and the reference tests
/// all read this table; adding a distribution is its type plus one entry here.
public enum DistributionCatalog {
    /// One law of the catalog.
    public struct Entry: Sendable {
        /// torch's class name.
        public let name: String
        /// The law's declared arguments (its type's `parameters`).
        public let parameters: [ParameterDeclaration]
        /// Builds the law from argument nodes whose names passed ``checkNames(_:_:)``.
        let build: @Sendable (Arguments) throws(DistributionError) -> any Distribution
        /// Whether a law is this entry's type (not wrapped: `Independent` of it is not).
        public let isInstance: @Sendable (any Distribution) -> Bool

        init<D: Distribution>(_ name: String, _ type: D.Type, _ build: @escaping @Sendable (Arguments) throws(DistributionError) -> any Distribution) {
            self.name = name; self.parameters = type.parameters; self.build = build
            isInstance = { $0 is D }
        }
    }

    /// The argument nodes of one law being built, by torch's names.
    public struct Arguments {
        let nodes: [String: Node]
        let graph: Graph
        let declared: [ParameterDeclaration]
        /// The argument `name`, or its declared default as a constant when it was left out
        /// (presence is checked by ``checkNames(_:_:)`` before anything is built).
        subscript(_ name: String) -> Node {
            if let node = nodes[name] { return node }
            guard case let .optional(value)? = declared[name]?.presence else { preconditionFailure("\(name) was not given") }
            return graph.constant(value)
        }
        /// An argument if it was given.
        func given(_ name: String) -> Node? { nodes[name] }
        /// probs | logits, whichever was given.
        var discrete: DiscreteParameter { nodes["probs"].map(DiscreteParameter.probs) ?? .logits(self["logits"]) }
    }

    /// The laws, in the order the job language lists them.
    public static let entries: [Entry] = [
        Entry("Normal", Normal.self) { a throws(DistributionError) in try Normal(loc: a["loc"], scale: a["scale"]) },
        Entry("LogNormal", LogNormal.self) { a throws(DistributionError) in try LogNormal(loc: a["loc"], scale: a["scale"]) },
        Entry("HalfNormal", HalfNormal.self) { a throws(DistributionError) in try HalfNormal(scale: a["scale"]) },
        Entry("Cauchy", Cauchy.self) { a throws(DistributionError) in try Cauchy(loc: a["loc"], scale: a["scale"]) },
        Entry("HalfCauchy", HalfCauchy.self) { a throws(DistributionError) in try HalfCauchy(scale: a["scale"]) },
        Entry("StudentT", StudentT.self) { a throws(DistributionError) in
            try StudentT(df: a["df"], loc: a["loc"], scale: a["scale"])
        },
        Entry("Laplace", Laplace.self) { a throws(DistributionError) in try Laplace(loc: a["loc"], scale: a["scale"]) },
        Entry("Exponential", Exponential.self) { a throws(DistributionError) in try Exponential(rate: a["rate"]) },
        Entry("Gamma", Gamma.self) { a throws(DistributionError) in try Gamma(concentration: a["concentration"], rate: a["rate"]) },
        Entry("Beta", Beta.self) { a throws(DistributionError) in try Beta(concentration1: a["concentration1"], concentration0: a["concentration0"]) },
        Entry("Uniform", Uniform.self) { a throws(DistributionError) in try Uniform(low: a["low"], high: a["high"]) },
        Entry("MultivariateNormal", MultivariateNormal.self) { a throws(DistributionError) in
            if let l = a.given("scale_tril") { return try MultivariateNormal(loc: a["loc"], scaleTril: l) }
            return try MultivariateNormal(loc: a["loc"], covarianceMatrix: a["covariance_matrix"])
        },
        Entry("Bernoulli", Bernoulli.self) { a throws(DistributionError) in try Bernoulli(a.discrete) },
        Entry("Categorical", Categorical.self) { a throws(DistributionError) in try Categorical(a.discrete) },
        Entry("OneHotCategorical", OneHotCategorical.self) { a throws(DistributionError) in try OneHotCategorical(a.discrete) },
        Entry("Binomial", Binomial.self) { a throws(DistributionError) in
            try Binomial(totalCount: a["total_count"], a.discrete)
        },
        Entry("Poisson", Poisson.self) { a throws(DistributionError) in try Poisson(rate: a["rate"]) },
        Entry("Dirichlet", Dirichlet.self) { a throws(DistributionError) in try Dirichlet(concentration: a["concentration"]) },
        Entry("Delta", Delta.self) { a throws(DistributionError) in try Delta(v: a["v"], logDensity: a["log_density"]) },
        Entry("RelaxedOneHotCategorical", RelaxedOneHotCategorical.self) { a throws(DistributionError) in
            try RelaxedOneHotCategorical(temperature: a["temperature"], a.discrete)
        },
        Entry("RelaxedBernoulli", RelaxedBernoulli.self) { a throws(DistributionError) in try RelaxedBernoulli(temperature: a["temperature"], a.discrete) },
    ]

    /// The entry named `name`, if the catalog has one.
    public static func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// Argument names each distribution accepts; alternatives are listed together.
    public static var signatures: [String: (required: [[String]], optional: [String])] {
        Dictionary(uniqueKeysWithValues: entries.map { ($0.name, ($0.parameters.requiredGroups, $0.parameters.optionalNames)) })
    }

    /// Axes at the end of each argument that belong to one draw (the natural event shape).
    public static func eventRank(_ dist: String, _ arg: String) -> Int {
        entry(dist)?.parameters[arg]?.role.eventRank ?? 0
    }

    /// Problems with the argument names (unknown, missing, conflicting alternatives).
    public static func checkNames(_ dist: String, _ names: [String]) -> [String] {
        guard let parameters = entry(dist)?.parameters else { return ["unknown distribution '\(dist)'"] }
        var problems: [String] = []
        let known = parameters.requiredGroups.flatMap { $0 } + parameters.optionalNames
        for n in names where !known.contains(n) {
            problems.append("\(dist) has no argument '\(n)' (it takes: \(known.joined(separator: ", ")))")
        }
        for group in parameters.requiredGroups {
            let given = group.filter(names.contains)
            if given.isEmpty { problems.append("\(dist) needs '\(group.joined(separator: "' or '"))'") }
            if given.count > 1 { problems.append("\(dist) takes only one of '\(group.joined(separator: "' and '"))'") }
        }
        return problems
    }

    /// The distribution over `args` (nodes, by torch's argument names); `checkNames` must have
    /// found no problem with the names.
    public static func make(_ dist: String, _ args: [String: Node], graph g: Graph) throws(DistributionError) -> any Distribution {
        guard let entry = entry(dist) else { throw .unsupported("unknown distribution '\(dist)'") }
        return try entry.build(Arguments(nodes: args, graph: g, declared: entry.parameters))
    }

    /// `dist` with its last `n` batch axes made event axes (Pyro's `.to_event(n)`).
    public static func toEvent(_ dist: any Distribution, _ n: Int) throws(DistributionError) -> any Distribution {
        n > 0 ? try Independent(dist, reinterpretedDims: n) : dist
    }
}
