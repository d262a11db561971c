#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Distributions
import Autodiff
import Numerics

// Shared plumbing for the distribution tests: building a law from torch-named parameters,
// replaying a graph, and the statistics (means with standard errors computed from the same
// draws) that every Monte Carlo check uses. Statistical checks allow 4 standard errors
// (docs/estimators.md §7); seeds are fixed, so every run sees the same draws.

/// The number of standard errors a Monte Carlo estimate may miss its closed form by.
let standardErrors = 4.0

/// |actual − expected| ≤ rel · |expected| + abs, with exact agreement required for infinities
/// and NaN matching only NaN.
func close(_ actual: Double, _ expected: Double, rel: Double, abs absolute: Double = 0) -> Bool {
    if expected.isNaN { return actual.isNaN }
    if expected.isInfinite || actual.isInfinite { return actual == expected }
    return Swift.abs(actual - expected) <= rel * Swift.abs(expected) + absolute
}

/// A law built from parameters named as torch names them (`"scale_tril"`, `"total_count"`,
/// `"concentration1"`, …), each held in a constant node. Univariate laws take scalar
/// parameters; vector parameters (MVN's loc, categorical probs/logits, Dirichlet's
/// concentration) keep their length, and matrices are d × d from the row-major list.
func makeDistribution(_ name: String, _ params: [String: [Double]], in g: Graph) throws(DistributionError) -> any Distribution {
    func list(_ key: String) -> [Double] {
        guard let v = params[key] else { preconditionFailure("\(name): no parameter '\(key)' in \(params.keys.sorted())") }
        return v
    }
    func scalar(_ key: String) -> Node { g.constant(Tensor(list(key)[0])) }
    func vector(_ key: String) -> Node { g.constant(Tensor(list(key))) }
    func matrix(_ key: String) -> Node {
        let v = list(key), d = Int(Double(v.count).squareRoot().rounded())
        precondition(d * d == v.count, "\(name): '\(key)' has \(v.count) entries, not a square matrix")
        return g.constant(Tensor(shape: [d, d], scalars: v))
    }
    func discrete(vector isVector: Bool) -> DiscreteParameter {
        let read = isVector ? vector : scalar
        return params["probs"] != nil ? .probs(read("probs")) : .logits(read("logits"))
    }
    switch name {
    case "Normal": return try Normal(loc: scalar("loc"), scale: scalar("scale"))
    case "LogNormal": return try LogNormal(loc: scalar("loc"), scale: scalar("scale"))
    case "HalfNormal": return try HalfNormal(scale: scalar("scale"))
    case "Cauchy": return try Cauchy(loc: scalar("loc"), scale: scalar("scale"))
    case "HalfCauchy": return try HalfCauchy(scale: scalar("scale"))
    case "StudentT": return try StudentT(df: scalar("df"), loc: scalar("loc"), scale: scalar("scale"))
    case "Laplace": return try Laplace(loc: scalar("loc"), scale: scalar("scale"))
    case "Exponential": return try Exponential(rate: scalar("rate"))
    case "Gamma": return try Gamma(concentration: scalar("concentration"), rate: scalar("rate"))
    case "Beta": return try Beta(concentration1: scalar("concentration1"), concentration0: scalar("concentration0"))
    case "Uniform": return try Uniform(low: scalar("low"), high: scalar("high"))
    case "MultivariateNormal":
        if params["covariance_matrix"] != nil {
            return try MultivariateNormal(loc: vector("loc"), covarianceMatrix: matrix("covariance_matrix"))
        }
        return try MultivariateNormal(loc: vector("loc"), scaleTril: matrix("scale_tril"))
    case "Bernoulli": return try Bernoulli(discrete(vector: false))
    case "Categorical": return try Categorical(discrete(vector: true))
    case "OneHotCategorical": return try OneHotCategorical(discrete(vector: true))
    case "Binomial": return try Binomial(totalCount: scalar("total_count"), discrete(vector: false))
    case "Poisson": return try Poisson(rate: scalar("rate"))
    case "Dirichlet": return try Dirichlet(concentration: vector("concentration"))
    case "Delta":
        return try Delta(v: scalar("v"), logDensity: params["log_density"] != nil ? scalar("log_density") : nil)
    case "RelaxedBernoulli": return try RelaxedBernoulli(temperature: scalar("temperature"), discrete(vector: false))
    case "RelaxedOneHotCategorical": return try RelaxedOneHotCategorical(temperature: scalar("temperature"), discrete(vector: true))
    default: preconditionFailure("no builder for distribution '\(name)'")
    }
}

/// A flat value list shaped as one event of `d` (a scalar for univariate laws).
func eventTensor(_ values: [Double], of d: any Distribution) -> Tensor {
    Tensor(shape: d.eventShape, scalars: values)
}

/// Compiles `g` (with `loss` when given), replays it once at (`seed`, `step`) and returns the tape.
func replay(_ g: Graph, loss: Node? = nil, outputs: [Node], seed: UInt64 = 1, step: UInt64 = 0) throws -> Tape {
    let tape = try g.compile(loss: loss, outputs: outputs)
    tape.seed = seed
    tape.step = step
    tape.forward()
    if loss != nil { tape.backward() }
    return tape
}

/// The mean of per-draw values with its standard error sd/√n (sd from the same values).
struct MeanEstimate: CustomStringConvertible {
    let mean: Double, standardError: Double, count: Int

    init(_ xs: [Double]) {
        let n = Double(xs.count)
        let m = xs.reduce(0, +) / n
        let v = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)
        mean = m; standardError = (v / n).squareRoot(); count = xs.count
    }

    /// Whether `expected` lies within `standardErrors` standard errors of the estimate.
    func agrees(with expected: Double) -> Bool { Swift.abs(mean - expected) <= standardErrors * standardError }
    /// How many standard errors the estimate is from `expected`.
    func zScore(_ expected: Double) -> Double { (mean - expected) / standardError }

    var description: String { "\(mean) ± \(standardError) (n = \(count))" }
}

/// Sample mean and (biased, 1/n) variance with their standard errors: sqrt(var/n) for the mean,
/// sqrt((m4 − s⁴)/n) for the variance, m4 the sample fourth central moment.
struct SampleMoments: CustomStringConvertible {
    let mean: MeanEstimate
    let variance: MeanEstimate

    init(_ xs: [Double]) {
        mean = MeanEstimate(xs)
        let m = mean.mean
        // The variance is the mean of the squared deviations; its standard error from their
        // spread is sqrt((m4 − s⁴)/n).
        variance = MeanEstimate(xs.map { ($0 - m) * ($0 - m) })
    }

    var description: String { "mean \(mean), variance \(variance)" }
}

/// The sample `p`-quantile (the order statistic at ⌊p·n⌋ of the sorted draws).
func sampleQuantile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(p * Double(sorted.count)))]
}

/// Standard error of the sample `p`-quantile of `n` draws from a density `density` at the
/// true quantile: sqrt(p(1−p)/n) / f(q).
func quantileStandardError(p: Double, n: Int, density: Double) -> Double {
    (p * (1 - p) / Double(n)).squareRoot() / density
}

/// Runs `body`, which must throw a ``DistributionError`` that `matches` accepts.
func expectDistributionError(_ comment: String, matches: (DistributionError) -> Bool,
                             sourceLocation: SourceLocation = #_sourceLocation,
                             _ body: () throws(DistributionError) -> Void) {
    do {
        try body()
        Issue.record("\(comment): expected an error, nothing was thrown", sourceLocation: sourceLocation)
    } catch {
        #expect(matches(error), "\(comment): unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

extension LogProbCase: CustomTestStringConvertible {
    var testDescription: String { "\(dist) \(params) at \(value): \(note)" }
}

extension SupportViolationCase: CustomTestStringConvertible {
    var testDescription: String { "\(dist) \(params) at \(value): \(note)" }
}
