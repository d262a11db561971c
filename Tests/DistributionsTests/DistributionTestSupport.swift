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
    precondition(DistributionCatalog.checkNames(name, Array(params.keys)).isEmpty, "\(name): \(params.keys.sorted())")
    var nodes: [String: Node] = [:]
    for (key, v) in params {
        switch DistributionCatalog.eventRank(name, key) {
        case 0: nodes[key] = g.constant(Tensor(v[0]))
        case 1: nodes[key] = g.constant(Tensor(v))
        default:
            let d = Int(Double(v.count).squareRoot().rounded())
            precondition(d * d == v.count, "\(name): '\(key)' has \(v.count) entries, not a square matrix")
            nodes[key] = g.constant(Tensor(shape: [d, d], scalars: v))
        }
    }
    return try DistributionCatalog.make(name, nodes, graph: g)
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
