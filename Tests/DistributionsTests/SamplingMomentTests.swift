#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Distributions
import Autodiff
import Numerics

/// A law with closed-form mean and variance.
struct MomentCase: Sendable, CustomTestStringConvertible {
    let dist: String
    let params: [String: [Double]]
    let mean: Double
    let variance: Double
    var testDescription: String { "\(dist) \(params)" }
}

/// Draws of 10⁵ samples against closed-form moments: sample mean and variance within 4
/// standard errors computed from the same draws (sqrt(var/n), sqrt((m4 − s⁴)/n)); the laws'
/// own `mean()`/`variance()` nodes against the same hand formulas to 1e-12.
@Suite struct SamplingMomentTests {
    static let n = 100_000

    static let cases: [MomentCase] = {
        func lognormal(_ m: Double, _ s: Double) -> MomentCase {
            MomentCase(dist: "LogNormal", params: ["loc": [m], "scale": [s]],
                       mean: exp(m + s * s / 2), variance: expm1(s * s) * exp(2 * m + s * s))
        }
        func gamma(_ a: Double, _ b: Double) -> MomentCase {
            MomentCase(dist: "Gamma", params: ["concentration": [a], "rate": [b]], mean: a / b, variance: a / (b * b))
        }
        func beta(_ a: Double, _ b: Double) -> MomentCase {
            MomentCase(dist: "Beta", params: ["concentration1": [a], "concentration0": [b]],
                       mean: a / (a + b), variance: a * b / ((a + b) * (a + b) * (a + b + 1)))
        }
        func binomial(_ n: Double, _ p: Double) -> MomentCase {
            MomentCase(dist: "Binomial", params: ["total_count": [n], "probs": [p]], mean: n * p, variance: n * p * (1 - p))
        }
        func poisson(_ r: Double) -> MomentCase { MomentCase(dist: "Poisson", params: ["rate": [r]], mean: r, variance: r) }
        let sigmoid = { (l: Double) in 1 / (1 + exp(-l)) }
        return [
            MomentCase(dist: "Normal", params: ["loc": [1.5], "scale": [2]], mean: 1.5, variance: 4),
            lognormal(0.3, 0.5),
            MomentCase(dist: "HalfNormal", params: ["scale": [1.7]], mean: 1.7 * (2 / Double.pi).squareRoot(), variance: 1.7 * 1.7 * (1 - 2 / Double.pi)),
            MomentCase(dist: "StudentT", params: ["df": [10], "loc": [-0.5], "scale": [1.5]], mean: -0.5, variance: 2.25 * 10 / 8),
            MomentCase(dist: "Laplace", params: ["loc": [1], "scale": [2]], mean: 1, variance: 8),
            MomentCase(dist: "Exponential", params: ["rate": [2.5]], mean: 0.4, variance: 0.16),
            gamma(0.3, 2), gamma(4.5, 0.7), gamma(1, 1.5),
            beta(0.5, 2), beta(3, 4),
            MomentCase(dist: "Uniform", params: ["low": [-2], "high": [3.5]], mean: 0.75, variance: 5.5 * 5.5 / 12),
            MomentCase(dist: "Bernoulli", params: ["probs": [0.3]], mean: 0.3, variance: 0.21),
            MomentCase(dist: "Bernoulli", params: ["logits": [-1.2]], mean: sigmoid(-1.2), variance: sigmoid(-1.2) * (1 - sigmoid(-1.2))),
            binomial(20, 0.3),     // inversion
            binomial(1000, 0.4),   // BTRS
            binomial(50, 0.8),     // p > 1/2 through the complement, BTRS
            binomial(10, 0.85),    // p > 1/2 through the complement, inversion
            MomentCase(dist: "Binomial", params: ["total_count": [12], "logits": [0.4]], mean: 12 * sigmoid(0.4), variance: 12 * sigmoid(0.4) * (1 - sigmoid(0.4))),
            poisson(0.2), poisson(3.5),  // inversion
            poisson(25), poisson(1000),  // PTRS
        ]
    }()

    /// The sample of `d` at (`seed`, step 0), read back with the nodes `extra`.
    static func draw(_ d: any Distribution, _ g: Graph, seed: UInt64, extra: [Node] = []) throws -> (Tensor, Tape) {
        let x = d.sample([n], stream: 0)
        #expect(x.shape == [n] + d.batchShape + d.eventShape)
        let tape = try replay(g, outputs: [x] + extra, seed: seed)
        #expect(tape.fault == nil)
        let t = tape.value(of: x)
        #expect(d.support.firstViolation(in: t) == nil, "\(d.name): a draw lies outside the support \(d.support)")
        return (t, tape)
    }

    @Test("sample mean and variance agree with the closed forms within 4 standard errors", arguments: cases)
    func sampleMomentsMatchTheClosedForm(_ c: MomentCase) throws {
        let g = Graph()
        let d = try makeDistribution(c.dist, c.params, in: g)
        let mean = try d.mean(), variance = try d.variance()
        let (x, tape) = try Self.draw(d, g, seed: 20_240_601, extra: [mean, variance])
        let m = SampleMoments(x.scalars)
        #expect(m.mean.agrees(with: c.mean), "mean \(m.mean) vs \(c.mean): z = \(m.mean.zScore(c.mean))")
        #expect(m.variance.agrees(with: c.variance), "variance \(m.variance) vs \(c.variance): z = \(m.variance.zScore(c.variance))")
        // The law's own moment nodes are the same closed forms.
        #expect(close(tape.scalar(of: mean), c.mean, rel: 1e-12), "mean() = \(tape.scalar(of: mean)), want \(c.mean)")
        #expect(close(tape.scalar(of: variance), c.variance, rel: 1e-12), "variance() = \(tape.scalar(of: variance)), want \(c.variance)")
    }

    @Test func multivariateNormalDrawsHaveTheMeanVectorAndCovarianceLLT() throws {
        let loc = [1.0, -2.0, 0.5]
        let l = [2.0, 0, 0, 0.5, 1.5, 0, -0.3, 0.8, 0.7]
        var cov = Array(repeating: 0.0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { cov[i * 3 + j] += l[i * 3 + k] * l[j * 3 + k] } } }
        for params in [["loc": loc, "scale_tril": l], ["loc": loc, "covariance_matrix": cov]] {
            let g = Graph()
            let d = try makeDistribution("MultivariateNormal", params, in: g) as! MultivariateNormal
            let (meanNode, varianceNode, covarianceNode) = (d.mean(), d.variance(), d.covariance())
            let (x, tape) = try Self.draw(d, g, seed: 11, extra: [meanNode, varianceNode, covarianceNode])
            #expect(x.shape == [Self.n, 3])
            let rows = (0..<Self.n).map { Array(x.scalars[($0 * 3)..<($0 * 3 + 3)]) }
            var sampleMean = [Double](repeating: 0, count: 3)
            for i in 0..<3 {
                let e = MeanEstimate(rows.map { $0[i] })
                sampleMean[i] = e.mean
                #expect(e.agrees(with: loc[i]), "mean[\(i)] \(e) vs \(loc[i])")
            }
            for i in 0..<3 {
                for j in 0...i {
                    let e = MeanEstimate(rows.map { ($0[i] - sampleMean[i]) * ($0[j] - sampleMean[j]) })
                    #expect(e.agrees(with: cov[i * 3 + j]), "cov[\(i),\(j)] \(e) vs \(cov[i * 3 + j]): z = \(e.zScore(cov[i * 3 + j]))")
                }
            }
            #expect(tape.value(of: meanNode).scalars == loc)
            for i in 0..<3 { #expect(close(tape.value(of: varianceNode).scalars[i], cov[i * 4], rel: 1e-13)) }
            for k in 0..<9 { #expect(close(tape.value(of: covarianceNode).scalars[k], cov[k], rel: 1e-13, abs: 1e-15)) }
        }
    }

    @Test func dirichletComponentsHaveTheirBetaMarginalMoments() throws {
        let a = [0.4, 2.0, 3.5], total = a.reduce(0, +)
        let g = Graph()
        let d = try Dirichlet(concentration: g.constant(Tensor(a)))
        let (meanNode, varianceNode) = (d.mean(), d.variance())
        let (x, tape) = try Self.draw(d, g, seed: 12, extra: [meanNode, varianceNode])
        for i in 0..<3 {
            let mean = a[i] / total, variance = a[i] * (total - a[i]) / (total * total * (total + 1))
            let m = SampleMoments((0..<Self.n).map { x.scalars[$0 * 3 + i] })
            #expect(m.mean.agrees(with: mean), "component \(i): mean \(m.mean) vs \(mean)")
            #expect(m.variance.agrees(with: variance), "component \(i): variance \(m.variance) vs \(variance)")
            #expect(close(tape.value(of: meanNode).scalars[i], mean, rel: 1e-13))
            #expect(close(tape.value(of: varianceNode).scalars[i], variance, rel: 1e-13))
        }
    }

    /// Class frequencies of `indices` (values 0..<k) within 4 standard errors sqrt(p(1−p)/n) of `probs`.
    static func expectFrequencies(_ indices: [Int], _ probs: [Double], _ label: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        for (k, p) in probs.enumerated() {
            let e = MeanEstimate(indices.map { $0 == k ? 1.0 : 0.0 })
            let se = (p * (1 - p) / Double(indices.count)).squareRoot()
            #expect(Swift.abs(e.mean - p) <= standardErrors * se, "\(label): class \(k) frequency \(e.mean), want \(p) ± \(se)",
                    sourceLocation: sourceLocation)
        }
    }

    static let classProbs = [0.1, 0.2, 0.3, 0.4]
    static let classLogits = [1.0, -0.5, 2.0, 0.25]
    static func softmax(_ l: [Double]) -> [Double] {
        let m = l.max()!, e = l.map { exp($0 - m) }, s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    @Test func categoricalClassFrequenciesAreTheProbabilities() throws {
        for (parameter, probs) in [("probs", Self.classProbs), ("logits", Self.softmax(Self.classLogits))] {
            let g = Graph()
            let d = try makeDistribution("Categorical", [parameter: parameter == "probs" ? Self.classProbs : Self.classLogits], in: g)
            let (x, _) = try Self.draw(d, g, seed: 13)
            Self.expectFrequencies(x.scalars.map { Int($0) }, probs, "Categorical(\(parameter))")
        }
    }

    @Test func oneHotCategoricalDrawsAreOneHotWithCoordinateMeansTheProbabilities() throws {
        let g = Graph()
        let d = try OneHotCategorical(.logits(g.constant(Tensor(Self.classLogits))))
        let (meanNode, varianceNode) = (d.mean(), d.variance())
        let (x, tape) = try Self.draw(d, g, seed: 14, extra: [meanNode, varianceNode])
        let p = Self.softmax(Self.classLogits)
        for k in 0..<4 {
            let m = SampleMoments((0..<Self.n).map { x.scalars[$0 * 4 + k] })
            #expect(m.mean.agrees(with: p[k]), "coordinate \(k): mean \(m.mean) vs \(p[k])")
            #expect(m.variance.agrees(with: p[k] * (1 - p[k])), "coordinate \(k): variance \(m.variance)")
            #expect(close(tape.value(of: meanNode).scalars[k], p[k], rel: 1e-13))
            #expect(close(tape.value(of: varianceNode).scalars[k], p[k] * (1 - p[k]), rel: 1e-13))
        }
    }

    @Test func relaxedBernoulliDrawsRoundToTheUnderlyingBernoulli() throws {
        // y > ½ exactly when logit p + logistic noise > 0, an event of probability p.
        for (temperature, p) in [(0.5, 0.3), (2.0, 0.8), (0.1, 0.05)] {
            let g = Graph()
            let d = try RelaxedBernoulli(temperature: g.constant(temperature), .probs(g.constant(p)))
            let (x, _) = try Self.draw(d, g, seed: 15)
            #expect(x.scalars.allSatisfy { $0 > 0 && $0 < 1 })
            Self.expectFrequencies(x.scalars.map { $0 > 0.5 ? 1 : 0 }, [1 - p, p], "RelaxedBernoulli(τ = \(temperature), p = \(p))")
        }
    }

    @Test func relaxedOneHotCategoricalArgmaxHasTheCategoricalFrequencies() throws {
        // argmax softmax((logits + G)/τ) = argmax(logits + G): the Gumbel-max draw, exactly Categorical.
        for temperature in [0.5, 3.0] {
            let g = Graph()
            let d = try RelaxedOneHotCategorical(temperature: g.constant(temperature), .logits(g.constant(Tensor(Self.classLogits))))
            let (x, _) = try Self.draw(d, g, seed: 16)
            let rows = (0..<Self.n).map { Array(x.scalars[($0 * 4)..<($0 * 4 + 4)]) }
            #expect(rows.allSatisfy { Swift.abs($0.reduce(0, +) - 1) < 1e-12 })
            let argmax = rows.map { row in row.indices.max { row[$0] < row[$1] }! }
            Self.expectFrequencies(argmax, Self.softmax(Self.classLogits),
                                   "RelaxedOneHotCategorical(τ = \(temperature))")
        }
    }

    @Test func deltaDrawsAreExactlyV() throws {
        let g = Graph()
        let d = try Delta(v: g.constant(-2.25), logDensity: g.constant(0.7))
        let (meanNode, varianceNode) = (d.mean(), d.variance())
        let (x, tape) = try Self.draw(d, g, seed: 17, extra: [meanNode, varianceNode])
        #expect(x.scalars.allSatisfy { $0 == -2.25 })
        #expect(tape.scalar(of: meanNode) == -2.25)
        #expect(tape.scalar(of: varianceNode) == 0)
    }

    /// Sample quartiles of `x` against the closed-form quantile function and density.
    static func expectQuartiles(_ x: [Double], quantile: (Double) -> Double, density: (Double) -> Double, _ label: String) {
        let sorted = x.sorted()
        for p in [0.25, 0.5, 0.75] {
            let q = quantile(p), se = quantileStandardError(p: p, n: x.count, density: density(q))
            let got = sampleQuantile(sorted, p)
            #expect(Swift.abs(got - q) <= standardErrors * se, "\(label): \(p)-quantile \(got), want \(q) ± \(se)")
        }
    }

    @Test func cauchyQuartilesMatchTheQuantileFunction() throws {
        let loc = 0.5, scale = 2.0
        let g = Graph()
        let d = try Cauchy(loc: g.constant(loc), scale: g.constant(scale))
        let (x, _) = try Self.draw(d, g, seed: 18)
        Self.expectQuartiles(x.scalars, quantile: { loc + scale * tan(Double.pi * ($0 - 0.5)) },
                             density: { let z = ($0 - loc) / scale; return 1 / (Double.pi * scale * (1 + z * z)) }, "Cauchy")
        #expect(throws: DistributionError.self) { try d.mean() }
        #expect(throws: DistributionError.self) { try d.variance() }
    }

    @Test func halfCauchyQuartilesMatchTheQuantileFunction() throws {
        let scale = 1.5
        let g = Graph()
        let d = try HalfCauchy(scale: g.constant(scale))
        let (x, _) = try Self.draw(d, g, seed: 19)
        Self.expectQuartiles(x.scalars, quantile: { scale * tan(Double.pi * $0 / 2) },
                             density: { let z = $0 / scale; return 2 / (Double.pi * scale * (1 + z * z)) }, "HalfCauchy")
    }

    static let studentTVariances: [(Double, Double)] = [
        (10, 2.25 * 10 / 8), (2.5, 2.25 * 2.5 / 0.5), (2, .infinity), (1.5, .infinity), (1, .nan), (0.8, .nan),
    ]

    @Test("StudentT variance follows torch: σ²ν/(ν−2) for ν > 2, +∞ for 1 < ν ≤ 2, NaN for ν ≤ 1",
          arguments: studentTVariances)
    func studentTVarianceFollowsTorchsConventions(_ df: Double, _ want: Double) throws {
        let g = Graph()
        let d = try StudentT(df: g.constant(df), loc: g.constant(0.3), scale: g.constant(1.5))
        let v = d.variance()
        let tape = try replay(g, outputs: [v])
        #expect(close(tape.scalar(of: v), want, rel: 1e-13), "variance at df = \(df): \(tape.scalar(of: v)), want \(want)")
    }

    @Test func replaysAtDifferentStepsDrawFreshNoiseAndTheSameStepRepeats() throws {
        let g = Graph()
        let d = try Normal(loc: g.constant(0), scale: g.constant(1))
        let x = d.sample([1000], stream: 0)
        let tape = try g.compile(outputs: [x])
        tape.seed = 5
        tape.step = 1; tape.forward(); let a = tape.value(of: x)
        tape.step = 2; tape.forward(); let b = tape.value(of: x)
        tape.step = 1; tape.forward(); let c = tape.value(of: x)
        #expect(a == c)
        #expect(zip(a.scalars, b.scalars).allSatisfy { $0 != $1 })
    }
}
