import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference
import Workloads

/// Pyro's own integration tests as bars, on each of seeds 0–4 (not a chosen one).
@Suite struct ConvergenceTests {
    /// Sum over the two coordinates of the squared error of (loc, log scale) from the exact posterior.
    func normalNormalErrors(_ estimator: Estimator, steps: Int, seed: UInt64) throws -> (loc: Double, logScale: Double) {
        let exact = NormalNormal.posterior()
        let program = try NormalNormal.program(elbo: .tracegraph, estimator: estimator,
                                               loc: exact.mean.map { $0 + 0.334 },
                                               scale: exact.scale.map { Foundation.exp(Foundation.log($0) - 0.29) })
        let svi = try SVI(program: program, optimizer: .adam(lr: 0.0015, beta1: 0.97, beta2: 0.999), seed: seed)
        _ = try svi.run(steps: steps)
        let fitted = Dictionary(uniqueKeysWithValues: svi.constrainedParameters().map { ($0.name, $0.value.scalars) })
        var e = (loc: 0.0, logScale: 0.0)
        for j in 0..<2 {
            e.loc += Foundation.pow(fitted["loc"]![j] - exact.mean[j], 2)
            e.logScale += Foundation.pow(Foundation.log(fitted["scale"]![j]) - Foundation.log(exact.scale[j]), 2)
        }
        return e
    }

    @Test(arguments: 0..<5)
    func reparameterisedNormalNormalReachesThePosterior(_ seed: Int) throws {
        let e = try normalNormalErrors(.reparam, steps: 1500, seed: UInt64(seed))
        #expect(e.loc < 0.02 && e.logScale < 0.02, "seed \(seed): \(e)")
    }

    @Test(arguments: [Baseline.none, .decayingAverage(beta: 0.9)], 0..<5)
    func scoreFunctionNormalNormalReachesThePosterior(_ baseline: Baseline, _ seed: Int) throws {
        let e = try normalNormalErrors(.score(baseline: baseline), steps: 5000, seed: UInt64(seed))
        #expect(e.loc < 0.05 && e.logScale < 0.05, "\(baseline), seed \(seed): \(e)")
    }

    /// Pyro's relaxed straight-through test: uniform 4-class prior, simplex guide from
    /// (0.1, 0.2, 0.3, 0.4), τ = 0.1, Adam lr 0.001, betas (0.95, 0.999), 6000 steps.
    @Test(arguments: 0..<5)
    func relaxedStraightThroughReachesTheUniformPosterior(_ seed: Int) throws {
        let b = ProgramBuilder()
        let tau = b.graph.constant(0.1)
        let q = try b.param("q", Tensor([0.1, 0.2, 0.3, 0.4]), constraint: .simplex)
        try b.sample("z", try OneHotCategorical(.probs(q)), estimator: .straightThrough(temperature: 0.1))
        try b.latent("z", try RelaxedOneHotCategorical(temperature: tau, .probs(b.graph.constant(Tensor(repeating: 0.25, shape: [4])))))
        let svi = try SVI(program: try b.compile(), optimizer: .adam(lr: 0.001, beta1: 0.95, beta2: 0.999), seed: UInt64(seed))
        _ = try svi.run(steps: 6000)
        let probs = svi.constrainedParameters()[0].value.scalars
        for p in probs { #expect(Swift.abs(p - 0.25) < 0.03, "seed \(seed): \(probs)") }
    }
}
