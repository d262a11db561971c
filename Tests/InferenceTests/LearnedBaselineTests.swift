import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference

/// Pyro's `nn_baseline`: a regressor on named inputs, trained alongside the guide, that
/// removes per-element cost offsets a constant baseline cannot see.
@Suite struct LearnedBaselineTests {
    static let n = 8
    static let features = (0..<n).map { Double($0) / 2 - 2 }

    /// Per-point Bernoulli assignments whose cost carries an offset 15·x_n that only a
    /// regressor on x can predict.
    func program(_ estimator: Estimator) throws -> (CompiledProgram, Node) {
        let b = ProgramBuilder(particles: 1)
        let plate = try b.plate("data", size: Self.n)
        let x = b.graph.constant(Tensor(Self.features))
        b.feature("x", b.graph.reshape(x, [Self.n, 1]))
        let logits = try b.param("logits", Tensor(shape: [Self.n], scalars: (0..<Self.n).map { 0.2 * Double($0) - 0.7 }), learningRate: 0)
        let z = try b.sample("z", try Bernoulli(.logits(logits)), plates: [plate], estimator: estimator)
        try b.latent("z", try Bernoulli(.probs(b.graph.constant(0.5))), plates: [plate])
        try b.factor("f", (z - 0.3).square() * 3.0 + x * 15.0 + z * x, plates: [plate])
        let p = try b.compile()
        return (p, p.parameters.first { $0.name == "logits" }!.raw)
    }

    @Test func learnedBaselineIsUnbiasedAndLowersTheVariance() throws {
        let (exactProgram, exactRaw) = try program(.enumerate)
        exactProgram.tape.forward(); exactProgram.tape.backward()
        let exact = exactProgram.tape.gradient(of: exactRaw).scalars

        let (plain, plainRaw) = try program(.score(baseline: .none))
        let plainStats = meanAndError(gradientDraws(plain, [plainRaw], draws: 20_000))

        let (learned, learnedRaw) = try program(.score(baseline: .learned(inputs: ["x"], hidden: 0)))
        // Train only the regressor (the logits have learning rate 0), then freeze it.
        let svi = try SVI(program: learned, optimizer: .adam(lr: 0.05), seed: 11)
        _ = try svi.run(steps: 3000)
        let stats = meanAndError(gradientDraws(learned, [learnedRaw], draws: 20_000, seed: 5))
        for j in 0..<Self.n {
            #expect(Swift.abs(stats.mean[j] - exact[j]) < 4 * stats.se[j], "element \(j): \(stats.mean[j]) ± \(stats.se[j]) vs \(exact[j])")
            #expect(Swift.abs(plainStats.mean[j] - exact[j]) < 4 * plainStats.se[j])
        }
        let total = stats.variance.reduce(0, +), plainTotal = plainStats.variance.reduce(0, +)
        #expect(total < 0.2 * plainTotal, "learned \(total) vs plain \(plainTotal)")
    }

    @Test func unknownInputsAreNamed() throws {
        let b = ProgramBuilder()
        let p = try b.param("p", Tensor(0.3), constraint: .unitInterval)
        try b.sample("z", try Bernoulli(.probs(p)), estimator: .score(baseline: .learned(inputs: ["nope"], hidden: 2)))
        try b.latent("z", try Bernoulli(.probs(b.graph.constant(0.5))))
        #expect(throws: ProgramError.self) { try b.compile() }
    }
}
