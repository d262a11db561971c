import Testing
import Numerics
import Autodiff
@testable import Distributions

/// Closed-form KL(p ‖ q) against the Monte Carlo mean of log p(x) − log q(x), x ~ p,
/// within 4 standard errors of the same draws.
@Suite struct KLDivergenceTests {
    static let draws = 100_000

    typealias Pair = @Sendable (Graph) throws -> (any Distribution, any Distribution)
    static let pairs: [(String, Pair)] = [
        ("Normal", { g in (try Normal(loc: g.constant(Tensor([0.3, -1])), scale: g.constant(Tensor([0.8, 1.5]))),
                           try Normal(loc: g.constant(Tensor([-0.2, 0.4])), scale: g.constant(Tensor([1.1, 0.9])))) }),
        ("LogNormal", { g in (try LogNormal(loc: g.constant(0.2), scale: g.constant(0.5)), try LogNormal(loc: g.constant(-0.1), scale: g.constant(0.7))) }),
        ("HalfNormal", { g in (try HalfNormal(scale: g.constant(0.8)), try HalfNormal(scale: g.constant(1.3))) }),
        ("MultivariateNormal", { g in
            (try MultivariateNormal(loc: g.constant(Tensor([0.1, -0.3, 0.5])), scaleTril: g.constant(Tensor(rows: [[0.9, 0, 0], [0.3, 0.7, 0], [-0.2, 0.1, 1.2]]))),
             try MultivariateNormal(loc: g.constant(Tensor([-0.4, 0.2, 0.0])), scaleTril: g.constant(Tensor(rows: [[1.1, 0, 0], [-0.1, 0.8, 0], [0.4, 0.2, 0.6]])))) }),
        ("Bernoulli", { g in (try Bernoulli(.probs(g.constant(Tensor([0.3, 0.8])))), try Bernoulli(.logits(g.constant(Tensor([0.4, -1]))))) }),
        ("Categorical", { g in (try Categorical(.probs(g.constant(Tensor([0.2, 0.5, 0.3])))), try Categorical(.logits(g.constant(Tensor([0.1, -0.6, 0.9]))))) }),
        ("OneHotCategorical", { g in (try OneHotCategorical(.probs(g.constant(Tensor([0.2, 0.5, 0.3])))), try OneHotCategorical(.probs(g.constant(Tensor([0.4, 0.4, 0.2]))))) }),
        ("Exponential", { g in (try Exponential(rate: g.constant(1.5)), try Exponential(rate: g.constant(0.7))) }),
        ("Gamma", { g in (try Gamma(concentration: g.constant(2.5), rate: g.constant(1.5)), try Gamma(concentration: g.constant(1.7), rate: g.constant(0.9))) }),
        ("Beta", { g in (try Beta(concentration1: g.constant(2), concentration0: g.constant(3)), try Beta(concentration1: g.constant(1.5), concentration0: g.constant(1.2))) }),
        ("Dirichlet", { g in (try Dirichlet(concentration: g.constant(Tensor([2, 3, 1.5]))), try Dirichlet(concentration: g.constant(Tensor([1.2, 1.1, 2])))) }),
        ("Laplace", { g in (try Laplace(loc: g.constant(0.5), scale: g.constant(0.8)), try Laplace(loc: g.constant(-0.2), scale: g.constant(1.3))) }),
        ("Poisson", { g in (try Poisson(rate: g.constant(3.5)), try Poisson(rate: g.constant(2.0))) }),
        ("Uniform", { g in (try Uniform(low: g.constant(0.2), high: g.constant(0.7)), try Uniform(low: g.constant(0), high: g.constant(1.5))) }),
    ]

    @Test(arguments: pairs.map(\.0))
    func closedFormKLMatchesMonteCarlo(_ name: String) throws {
        let g = Graph()
        let (p, q) = try Self.pairs.first { $0.0 == name }!.1(g)
        let x = p.sample([Self.draws], stream: 1)
        let diff = try p.logProb(x) - q.logProb(x)
        let kl = try klDivergence(p, q)
        let tape = try g.compile(outputs: [diff, kl])
        tape.seed = 11
        tape.forward()
        let d = tape.value(of: diff), k = tape.value(of: kl)
        // Per batch element: mean over draws and its standard error.
        let b = max(k.count, 1)
        for j in 0..<b {
            var s = 0.0, s2 = 0.0
            for i in 0..<Self.draws { let v = d.scalars[i * b + j]; s += v; s2 += v * v }
            let n = Double(Self.draws), m = s / n
            let se = (Swift.max(s2 / n - m * m, 0) / n).squareRoot()
            #expect(Swift.abs(m - k.scalars[j]) < 4 * se + 1e-12, "\(name)[\(j)]: closed form \(k.scalars[j]), Monte Carlo \(m) ± \(se)")
        }
    }

    @Test func uniformKLIsInfiniteOutsideTheSupport() throws {
        let g = Graph()
        let kl = try klDivergence(try Uniform(low: g.constant(0), high: g.constant(2)), try Uniform(low: g.constant(0), high: g.constant(1)))
        let tape = try g.compile(outputs: [kl])
        tape.forward()
        #expect(tape.scalar(of: kl) == .infinity)
    }

    @Test func unsupportedPairsSayWhich() throws {
        let g = Graph()
        #expect(throws: DistributionError.self) {
            try klDivergence(try Normal(loc: g.constant(0), scale: g.constant(1)), try Cauchy(loc: g.constant(0), scale: g.constant(1)))
        }
    }
}
