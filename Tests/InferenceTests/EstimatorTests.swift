import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference

/// Each estimator's gradient of the ELBO against a closed form (or exact enumeration):
/// unbiased ones within 4 standard errors of the same draws; exact ones to rounding.
@Suite struct EstimatorTests {
    static let f0 = 0.45 * 0.45, f1 = 0.55 * 0.55

    /// Bernoulli guide q(p), prior Bernoulli(0.5), factor f(z) = (z − 0.45)².
    func bernoulliProgram(_ estimator: Estimator, particles: Int = 1, elbo: ELBOKind = .tracegraph) throws -> (CompiledProgram, Node, Double) {
        let b = ProgramBuilder(particles: particles, elbo: elbo)
        let p = try b.param("p", Tensor(0.3), constraint: .unitInterval)
        let z = try b.sample("z", try Bernoulli(.probs(p)), estimator: estimator)
        try b.latent("z", try Bernoulli(.probs(b.graph.constant(0.5))))
        try b.factor("f", (z - 0.45).square())
        let program = try b.compile()
        let raw = program.parameters[0].raw
        // d ELBO / d p = f(1) − f(0) + log((1 − p)/p); the raw parameter is logit p.
        let pv = 0.3
        let dRaw = (Self.f1 - Self.f0 + Foundation.log((1 - pv) / pv)) * pv * (1 - pv)
        return (program, raw, -dRaw)
    }

    @Test func enumerationGivesTheExactGradient() throws {
        let (program, raw, exact) = try bernoulliProgram(.enumerate)
        let g = gradientDraws(program, [raw], draws: 3)
        for row in g { #expect(Swift.abs(row[0] - exact) < 1e-12) }
        // And the ELBO itself is exact: Σ q(z)[log ½ + f(z) − log q(z)].
        let p = 0.3
        let elbo = Foundation.log(0.5) + p * Self.f1 + (1 - p) * Self.f0 - p * Foundation.log(p) - (1 - p) * Foundation.log(1 - p)
        #expect(Swift.abs(program.tape.scalar(of: program.elbo) - elbo) < 1e-12)
    }

    @Test(arguments: [(Baseline.none, 1), (.leaveOneOut, 4), (.none, 4)])
    func scoreFunctionIsUnbiased(_ baseline: Baseline, _ particles: Int) throws {
        let (program, raw, exact) = try bernoulliProgram(.score(baseline: baseline), particles: particles)
        let (mean, se, _) = meanAndError(gradientDraws(program, [raw], draws: 40_000))
        #expect(Swift.abs(mean[0] - exact) < 4 * se[0], "\(baseline): \(mean[0]) ± \(se[0]) vs \(exact)")
    }

    @Test func traceELBOScoreIsUnbiasedToo() throws {
        let (program, raw, exact) = try bernoulliProgram(.score(baseline: .none), elbo: .trace)
        let (mean, se, _) = meanAndError(gradientDraws(program, [raw], draws: 40_000))
        #expect(Swift.abs(mean[0] - exact) < 4 * se[0])
    }

    /// Normal guide N(μ, σ), prior N(0, 1), factor z²: d/dμ = μ, d/dσ = σ + 1/σ (ELBO sign).
    @Test(arguments: [ELBOKind.tracegraph, .meanfield])
    func reparameterisedGradientIsUnbiased(_ elbo: ELBOKind) throws {
        let b = ProgramBuilder(particles: 2, elbo: elbo)
        let mu = try b.param("mu", Tensor(0.4))
        let sigma = try b.param("sigma", Tensor(0.7), constraint: .positive)
        let z = try b.sample("z", try Normal(loc: mu, scale: sigma))
        try b.latent("z", try Normal(loc: b.graph.constant(0), scale: b.graph.constant(1)))
        try b.factor("f", z.square())
        let program = try b.compile()
        let raws = program.parameters.map(\.raw)
        let (mean, se, _) = meanAndError(gradientDraws(program, raws, draws: 20_000))
        let exact = [-0.4, -(0.7 + 1 / 0.7) * 0.7]
        for j in 0..<2 { #expect(Swift.abs(mean[j] - exact[j]) < 4 * se[j] + 1e-12, "\(elbo)[\(j)]: \(mean[j]) ± \(se[j]) vs \(exact[j])") }
    }

    @Test func eachBaselineLowersTheScoreVariance() throws {
        // A cost with a large constant offset: the plain score estimator's variance is dominated
        // by it, and every baseline removes most of it.
        func variance(_ baseline: Baseline, particles: Int) throws -> (Double, Double) {
            let b = ProgramBuilder(particles: particles)
            let p = try b.param("p", Tensor(0.3), constraint: .unitInterval)
            let z = try b.sample("z", try Bernoulli(.probs(p)), estimator: .score(baseline: baseline))
            try b.latent("z", try Bernoulli(.probs(b.graph.constant(0.5))))
            try b.factor("f", (z - 0.45).square() + 20)
            let program = try b.compile()
            let draws = gradientDraws(program, [program.parameters[0].raw], draws: 20_000) { prog in
                updateDecayingBaselines(prog)
            }
            let stats = meanAndError(Array(draws.dropFirst(200)))
            return (stats.variance[0], stats.mean[0])
        }
        let plain = try variance(.none, particles: 4).0
        for baseline in [Baseline.decayingAverage(beta: 0.9), .leaveOneOut] {
            let v = try variance(baseline, particles: 4).0
            #expect(v < 0.1 * plain, "\(baseline): \(v) vs \(plain)")
        }
    }
}

/// The baseline update the SVI loop makes after each step, for tests that replay by hand.
func updateDecayingBaselines(_ program: CompiledProgram) {
    for b in program.decayingBaselines {
        let mean = program.tape.value(of: b.costMean)
        var state = program.tape.value(of: b.state)
        for i in 0..<state.count { state.scalars[i] = b.beta * state.scalars[i] + (1 - b.beta) * mean.scalars[i] }
        program.tape.setValue(b.state, state)
    }
}
