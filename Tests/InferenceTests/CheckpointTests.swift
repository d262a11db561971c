import Testing
import Foundation
import JSON
import Numerics
import Autodiff
import Distributions
@testable import Inference
import Workloads

/// A run stopped at step k, its state encoded, decoded and restored into a freshly compiled
/// program, continues bit for bit as the uninterrupted run — for every estimator.
@Suite struct CheckpointTests {
    static let cases = ["reparam", "score_none", "score_decaying", "score_loo", "score_learned",
                        "mvn_reparam", "omt", "avf", "relaxed", "straight_through", "enum", "meanfield", "subsampled"]

    static func program(_ name: String) throws -> CompiledProgram {
        switch name {
        case "reparam": return try NormalNormal.program(particles: 2)
        case "score_none": return try NormalNormal.program(estimator: .score(baseline: .none))
        case "score_decaying": return try NormalNormal.program(particles: 2, estimator: .score(baseline: .decayingAverage(beta: 0.9)))
        case "score_loo": return try NormalNormal.program(particles: 3, estimator: .score(baseline: .leaveOneOut))
        // The lower_cholesky map and the fused MVN draw density (mvnDrawLogProb) of a reparam guide.
        case "mvn_reparam": return try LogisticRegression.program(points: 50, dimension: 3, particles: 2)
        case "omt": return try LogisticRegression.program(points: 50, dimension: 3, estimator: .omt)
        case "avf": return try LogisticRegression.program(points: 50, dimension: 3, estimator: .avf(rank: 2))
        case "relaxed": return try GaussianMixture.program(points: 20, assignment: .relaxed(temperature: 0.5))
        case "straight_through": return try GaussianMixture.program(points: 20)
        case "enum": return try GaussianMixture.program(points: 20, assignment: .enumerate)
        case "meanfield": return try NormalNormal.program(elbo: .meanfield)
        case "subsampled":
            let b = ProgramBuilder(particles: 2)
            let plate = try b.plate("data", size: 30, subsample: 7)
            let m = try b.param("m", Tensor(0.1))
            try b.sample("mu", try Normal(loc: m, scale: b.graph.constant(0.3)))
            let mu = try b.latent("mu", try Normal(loc: b.graph.constant(0), scale: b.graph.constant(1)))
            let x = try b.rows(b.graph.constant(Tensor((0..<30).map { Double($0) / 10 })), in: plate)
            try b.observe("x", try Normal(loc: b.graph.reshape(mu, [2, 1]), scale: b.graph.constant(1)), value: x, plates: [plate])
            return try b.compile()
        default:
            // Learned baseline: a per-point score site with a linear regressor on the data.
            let b = ProgramBuilder(particles: 2)
            let plate = try b.plate("data", size: 6)
            let x = b.graph.constant(Tensor((0..<6).map { Double($0) / 3 }))
            b.feature("x", b.graph.reshape(x, [6, 1]))
            let logits = try b.param("logits", Tensor.zeros([6]))
            try b.sample("z", try Bernoulli(.logits(logits)), plates: [plate], estimator: .score(baseline: .learned(inputs: ["x"], hidden: 3)))
            let z = try b.latent("z", try Bernoulli(.probs(b.graph.constant(0.5))), plates: [plate])
            try b.observe("x", try Normal(loc: z * 2.0, scale: b.graph.constant(1)), value: x, plates: [plate])
            return try b.compile()
        }
    }

    @Test(arguments: cases)
    func resumedRunEqualsTheUninterruptedOne(_ name: String) throws {
        let config = OptimizerConfig.clippedAdam(lr: 0.01, lrDecay: 0.999)
        let full = try SVI(program: try Self.program(name), optimizer: config, seed: 4)
        var fullTrace: [Double] = []
        for _ in 0..<60 { fullTrace.append(try full.step().elbo) }

        let first = try SVI(program: try Self.program(name), optimizer: config, seed: 4)
        var trace: [Double] = []
        for _ in 0..<25 { trace.append(try first.step().elbo) }
        // Saved as the service saves it: JSON text through the JSON module.
        let saved = Array(try JSONValueEncoder().text(first.state).utf8)
        let resumed = try SVI(program: try Self.program(name), optimizer: config, seed: 4)
        try resumed.restore(try JSONValueDecoder().decode(SVIState.self, from: saved))
        for _ in 25..<60 { trace.append(try resumed.step().elbo) }

        #expect(trace == fullTrace)
        #expect(resumed.state == full.state)
    }

    @Test func aStateFromAnotherProgramIsRefused() throws {
        let a = try SVI(program: try NormalNormal.program(), optimizer: .adam(lr: 0.01), seed: 1)
        let b = try SVI(program: try LogisticRegression.program(points: 10, dimension: 2), optimizer: .adam(lr: 0.01), seed: 1)
        #expect(throws: SVIError.self) { try b.restore(a.state) }
    }
}
