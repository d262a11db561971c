#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Distributions
import Autodiff
import Numerics

/// A law with a closed-form entropy, and (where handy) SciPy's value for it.
struct EntropyCase: Sendable, CustomTestStringConvertible {
    let dist: String
    let params: [String: [Double]]
    /// scipy.stats' entropy (SciPy 1.17, binary64), nil where none was taken.
    let scipy: Double?
    var testDescription: String { "\(dist) \(params)" }
}

/// Closed-form entropies against −mean log p(x) over 10⁵ draws (within 4 standard errors from
/// the spread of the same log-densities), and against SciPy's values to 1e-12 where given.
@Suite struct EntropyTests {
    static let n = 100_000

    static let cases: [EntropyCase] = [
        EntropyCase(dist: "Normal", params: ["loc": [0.5], "scale": [2]], scipy: nil),
        EntropyCase(dist: "LogNormal", params: ["loc": [0.3], "scale": [0.5]], scipy: nil),
        EntropyCase(dist: "HalfNormal", params: ["scale": [1.7]], scipy: nil),
        EntropyCase(dist: "Cauchy", params: ["loc": [0.5], "scale": [2]], scipy: nil),
        EntropyCase(dist: "HalfCauchy", params: ["scale": [1.5]], scipy: 2.24334217451751),
        EntropyCase(dist: "StudentT", params: ["df": [5], "loc": [0.5], "scale": [2]], scipy: 2.3206498529743413),
        EntropyCase(dist: "StudentT", params: ["df": [1.5], "loc": [0], "scale": [0.7]], scipy: nil),
        EntropyCase(dist: "Laplace", params: ["loc": [1], "scale": [2]], scipy: 2.386294361119891),
        EntropyCase(dist: "Exponential", params: ["rate": [2.5]], scipy: nil),
        EntropyCase(dist: "Gamma", params: ["concentration": [2.5], "rate": [1.5]], scipy: 1.3244828013968901),
        EntropyCase(dist: "Gamma", params: ["concentration": [0.4], "rate": [1]], scipy: nil),
        EntropyCase(dist: "Beta", params: ["concentration1": [2], "concentration0": [3]], scipy: -0.2349066497880008),
        EntropyCase(dist: "Beta", params: ["concentration1": [0.7], "concentration0": [1.5]], scipy: nil),
        EntropyCase(dist: "Uniform", params: ["low": [-2], "high": [3.5]], scipy: nil),
        EntropyCase(dist: "MultivariateNormal", params: ["loc": [1, -2, 0.5], "scale_tril": [2, 0, 0, 0.5, 1.5, 0, -0.3, 0.8, 0.7]],
                    scipy: 4.998752944343398),
        EntropyCase(dist: "Dirichlet", params: ["concentration": [0.4, 2, 3.5]], scipy: -2.4429710137746294),
        EntropyCase(dist: "Bernoulli", params: ["probs": [0.3]], scipy: nil),
        EntropyCase(dist: "Bernoulli", params: ["logits": [2.5]], scipy: nil),
        EntropyCase(dist: "Categorical", params: ["probs": [0.1, 0.2, 0.3, 0.4]], scipy: nil),
        EntropyCase(dist: "Categorical", params: ["logits": [1, -0.5, 2, 0.25]], scipy: nil),
        EntropyCase(dist: "OneHotCategorical", params: ["probs": [0.25, 0.25, 0.125, 0.375]], scipy: nil),
    ]

    @Test("the closed-form entropy agrees with −mean log p of draws within 4 standard errors", arguments: cases)
    func entropyMatchesMonteCarlo(_ c: EntropyCase) throws {
        let g = Graph()
        let d = try makeDistribution(c.dist, c.params, in: g)
        let h = try d.entropy()
        #expect(h.shape == d.batchShape)
        let x = d.sample([Self.n], stream: 0)
        let lp = try d.logProb(x)
        #expect(lp.shape == [Self.n])
        let tape = try replay(g, outputs: [h, lp], seed: 31)
        #expect(tape.fault == nil)
        let closed = tape.scalar(of: h)
        let mc = MeanEstimate(tape.value(of: lp).scalars.map { -$0 })
        // Uniform's log-density is constant, so its draws have no spread beyond rounding: allow
        // the rounding of summing 10⁵ terms (1e-12 relative) as a floor under 4 standard errors.
        let allowed = max(standardErrors * mc.standardError, 1e-12 * Swift.abs(closed))
        #expect(Swift.abs(mc.mean - closed) <= allowed, "entropy \(closed), Monte Carlo \(mc), z = \(mc.zScore(closed))")
        if let scipy = c.scipy {
            #expect(close(closed, scipy, rel: 1e-12), "entropy \(closed), SciPy \(scipy)")
        }
    }

    /// StudentT(ν, 0, 1.5) entropies from mpmath (50 digits) around the series threshold and
    /// for large ν, where h·(ψ(h) − ψ(ν/2)) and log B(ν/2, ½) + ½ log ν cancel when formed directly.
    static let studentTEntropies: [(df: Double, entropy: Double)] = [
        (150, 1.8310813694649571), (300, 1.8277397462358004), (1e6, 1.8244046413130871), (1e10, 1.8244036414128371),
    ]

    @Test("StudentT entropy keeps full accuracy for large df", arguments: studentTEntropies)
    func studentTEntropyForLargeDf(_ c: (df: Double, entropy: Double)) throws {
        let g = Graph()
        let h = try StudentT(df: g.constant(c.df), loc: g.constant(0), scale: g.constant(1.5)).entropy()
        let tape = try replay(g, outputs: [h])
        #expect(close(tape.scalar(of: h), c.entropy, rel: 1e-12), "df = \(c.df): \(tape.scalar(of: h)), want \(c.entropy)")
    }

    @Test func entropyOfTheNormalFamiliesAndUniformHasItsTextbookForm() throws {
        let g = Graph()
        let nodes = [
            try Normal(loc: g.constant(0.5), scale: g.constant(2)).entropy(),
            try Exponential(rate: g.constant(2.5)).entropy(),
            try Uniform(low: g.constant(-2), high: g.constant(3.5)).entropy(),
            try LogNormal(loc: g.constant(0.3), scale: g.constant(0.5)).entropy(),
            try Cauchy(loc: g.constant(0), scale: g.constant(2)).entropy(),
        ]
        let want = [0.5 * log(2 * Double.pi * M_E * 4), 1 - log(2.5), log(5.5), 0.3 + 0.5 * log(2 * Double.pi * M_E * 0.25), log(8 * Double.pi)]
        let tape = try replay(g, outputs: nodes)
        for (node, w) in zip(nodes, want) { #expect(close(tape.scalar(of: node), w, rel: 1e-14)) }
    }

    @Test func lawsWithoutAClosedFormEntropySayUnsupported() throws {
        let g = Graph()
        let laws: [any Distribution] = [
            try Poisson(rate: g.constant(2)),
            try Binomial(totalCount: g.constant(10), .probs(g.constant(0.3))),
            try Delta(v: g.constant(1)),
            try RelaxedBernoulli(temperature: g.constant(0.5), .probs(g.constant(0.3))),
        ]
        for d in laws {
            expectDistributionError("\(d.name).entropy()", matches: { if case .unsupported = $0 { true } else { false } }) {
                () throws(DistributionError) in _ = try d.entropy()
            }
        }
    }
}
