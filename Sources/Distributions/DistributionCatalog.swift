import Autodiff
import Numerics

/// Every distribution by its torch name: the argument names (with torch's alternatives,
/// probs | logits and scale_tril | covariance_matrix, and defaults), each argument's natural
/// event rank, and a builder from named argument nodes. The job language and the reference
/// tests both build laws through it.
public enum DistributionCatalog {
    /// Argument names each distribution accepts; alternatives are listed together.
    public static let signatures: [String: (required: [[String]], optional: [String])] = [
        "Normal": ([["loc"], ["scale"]], []),
        "LogNormal": ([["loc"], ["scale"]], []),
        "HalfNormal": ([["scale"]], []),
        "Cauchy": ([["loc"], ["scale"]], []),
        "HalfCauchy": ([["scale"]], []),
        "StudentT": ([["df"]], ["loc", "scale"]),
        "Laplace": ([["loc"], ["scale"]], []),
        "Exponential": ([["rate"]], []),
        "Gamma": ([["concentration"], ["rate"]], []),
        "Beta": ([["concentration1"], ["concentration0"]], []),
        "Uniform": ([["low"], ["high"]], []),
        "MultivariateNormal": ([["loc"], ["scale_tril", "covariance_matrix"]], []),
        "Bernoulli": ([["probs", "logits"]], []),
        "Categorical": ([["probs", "logits"]], []),
        "OneHotCategorical": ([["probs", "logits"]], []),
        "Binomial": ([["probs", "logits"]], ["total_count"]),
        "Poisson": ([["rate"]], []),
        "Dirichlet": ([["concentration"]], []),
        "Delta": ([["v"]], ["log_density"]),
        "RelaxedOneHotCategorical": ([["temperature"], ["probs", "logits"]], []),
        "RelaxedBernoulli": ([["temperature"], ["probs", "logits"]], []),
    ]

    /// Axes at the end of each argument that belong to one draw (the natural event shape).
    public static func eventRank(_ dist: String, _ arg: String) -> Int {
        switch (dist, arg) {
        case ("MultivariateNormal", "loc"), ("Dirichlet", "concentration"), ("Categorical", _), ("OneHotCategorical", _),
             ("RelaxedOneHotCategorical", "probs"), ("RelaxedOneHotCategorical", "logits"): return 1
        case ("MultivariateNormal", _): return 2
        default: return 0
        }
    }

    /// Problems with the argument names (unknown, missing, conflicting alternatives).
    public static func checkNames(_ dist: String, _ names: [String]) -> [String] {
        guard let sig = signatures[dist] else { return ["unknown distribution '\(dist)'"] }
        var problems: [String] = []
        let known = sig.required.flatMap { $0 } + sig.optional
        for n in names where !known.contains(n) {
            problems.append("\(dist) has no argument '\(n)' (it takes: \(known.joined(separator: ", ")))")
        }
        for group in sig.required {
            let given = group.filter(names.contains)
            if given.isEmpty { problems.append("\(dist) needs '\(group.joined(separator: "' or '"))'") }
            if given.count > 1 { problems.append("\(dist) takes only one of '\(group.joined(separator: "' and '"))'") }
        }
        return problems
    }

    /// The distribution over `args` (nodes, by torch's argument names); `checkNames` must have
    /// found no problem with the names.
    public static func make(_ dist: String, _ args: [String: Node], graph g: Graph) throws(DistributionError) -> any Distribution {
        func a(_ n: String) -> Node { args[n]! }
        func discrete() -> DiscreteParameter { args["probs"].map(DiscreteParameter.probs) ?? .logits(a("logits")) }
        switch dist {
        case "Normal": return try Normal(loc: a("loc"), scale: a("scale"))
        case "LogNormal": return try LogNormal(loc: a("loc"), scale: a("scale"))
        case "HalfNormal": return try HalfNormal(scale: a("scale"))
        case "Cauchy": return try Cauchy(loc: a("loc"), scale: a("scale"))
        case "HalfCauchy": return try HalfCauchy(scale: a("scale"))
        case "StudentT": return try StudentT(df: a("df"), loc: args["loc"] ?? g.constant(0), scale: args["scale"] ?? g.constant(1))
        case "Laplace": return try Laplace(loc: a("loc"), scale: a("scale"))
        case "Exponential": return try Exponential(rate: a("rate"))
        case "Gamma": return try Gamma(concentration: a("concentration"), rate: a("rate"))
        case "Beta": return try Beta(concentration1: a("concentration1"), concentration0: a("concentration0"))
        case "Uniform": return try Uniform(low: a("low"), high: a("high"))
        case "MultivariateNormal":
            if let l = args["scale_tril"] { return try MultivariateNormal(loc: a("loc"), scaleTril: l) }
            return try MultivariateNormal(loc: a("loc"), covarianceMatrix: a("covariance_matrix"))
        case "Bernoulli": return try Bernoulli(discrete())
        case "Categorical": return try Categorical(discrete())
        case "OneHotCategorical": return try OneHotCategorical(discrete())
        case "Binomial": return try Binomial(totalCount: args["total_count"] ?? g.constant(1), discrete())
        case "Poisson": return try Poisson(rate: a("rate"))
        case "Dirichlet": return try Dirichlet(concentration: a("concentration"))
        case "Delta": return try Delta(v: a("v"), logDensity: args["log_density"])
        case "RelaxedOneHotCategorical": return try RelaxedOneHotCategorical(temperature: a("temperature"), discrete())
        case "RelaxedBernoulli": return try RelaxedBernoulli(temperature: a("temperature"), discrete())
        default: throw .unsupported("unknown distribution '\(dist)'")
        }
    }

    /// `dist` with its last `n` batch axes made event axes (Pyro's `.to_event(n)`).
    public static func toEvent(_ dist: any Distribution, _ n: Int) throws(DistributionError) -> any Distribution {
        n > 0 ? try Independent(dist, reinterpretedDims: n) : dist
    }
}
