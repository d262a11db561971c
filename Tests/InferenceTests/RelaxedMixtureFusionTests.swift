import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference
import Workloads

/// Mixture programs with a relaxed or straight-through assignment, compiled with the fused
/// relaxed one-hot instruction and without it: the ELBO and every parameter's gradient agree
/// to a rounding bound, for K = 2, 3, 5, one or two particles, a full or a subsampled plate.
/// (The fused instruction's values and gradient against an extended-precision reference and
/// finite differences: `RelaxedOneHotFusionTests`.)
@Suite struct RelaxedMixtureFusionTests {
    struct Case: CustomStringConvertible, Sendable {
        let k: Int, straightThrough: Bool, particles: Int, subsample: Int?
        var description: String { "K=\(k) \(straightThrough ? "ST" : "relaxed") P=\(particles) subsample=\(subsample.map(String.init) ?? "-")" }
    }
    static let cases: [Case] = [2, 3, 5].flatMap { k in [false, true].map { Case(k: k, straightThrough: $0, particles: 1, subsample: nil) } }
        + [Case(k: 3, straightThrough: true, particles: 2, subsample: nil), Case(k: 3, straightThrough: true, particles: 1, subsample: 5),
           Case(k: 5, straightThrough: false, particles: 2, subsample: 4)]

    /// The benchmark's mixture (means ~ Normal(0, 10), assignments in a plate, unit-noise
    /// likelihood) with random initial logits spread over ±3.
    static func program(_ c: Case, fused: Bool) throws -> CompiledProgram {
        let n = 12, k = c.k
        var state: UInt64 = 0x5DEECE66D &* UInt64(k + 7)
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / 9007199254740992 }
        let b = ProgramBuilder(particles: c.particles, elbo: .trace)
        if !fused { b.graph.fusions.subtract([.relaxedOneHotPlate, .rowDot]) }
        let g = b.graph
        let plate = try b.plate("data", size: n, subsample: c.subsample)
        let m = try b.param("m", Tensor((0..<k).map { Double($0) - Double(k - 1) / 2 }))
        let s = try b.param("s", Tensor.ones([k]), constraint: .positive)
        try b.sample("mu", try Independent(Normal(loc: m, scale: s), reinterpretedDims: 1))
        let logits = try b.rows(try b.param("logits", Tensor(shape: [n, k], scalars: (0..<(n * k)).map { _ in 6 * uniform() - 3 })), in: plate)
        let estimator: Estimator = c.straightThrough ? .straightThrough(temperature: 0.5) : .relaxed(temperature: 0.5)
        try b.sample("z", try OneHotCategorical(.logits(logits)), plates: [plate], estimator: estimator)
        let mu = try b.latent("mu", try Independent(Normal(loc: g.constant(Tensor.zeros([k])), scale: g.constant(10)), reinterpretedDims: 1))
        let z = try b.latent("z", try OneHotCategorical(.probs(g.constant(Tensor(repeating: 1 / Double(k), shape: [k])))), plates: [plate])
        let x = try b.rows(g.constant(Tensor((0..<n).map { _ in 8 * uniform() - 4 })), in: plate)
        let mean = g.sum(z * g.reshape(mu, [c.particles, 1, k]), axes: [-1])
        try b.observe("x", try Normal(loc: mean, scale: g.constant(1)), value: x, plates: [plate])
        return try b.compile()
    }

    @Test(arguments: cases)
    func theFusedAndPerNodeProgramsAgreeOnTheELBOAndEveryGradient(_ c: Case) throws {
        let fused = try Self.program(c, fused: true), plain = try Self.program(c, fused: false)
        #expect(fused.tape.appliedFusions.contains { $0.fusion == .relaxedOneHotPlate })
        #expect(fused.tape.appliedFusions.contains { $0.fusion == .rowDot })
        #expect(!plain.tape.appliedFusions.contains { $0.fusion == .relaxedOneHotPlate || $0.fusion == .rowDot })
        #expect(fused.tape.instructionCounts.forward < plain.tape.instructionCounts.forward)
        let eps = 2.220446049250313e-16
        for step in [UInt64(0), 5, 9] {
            for p in [fused, plain] { p.tape.seed = 11; p.tape.step = step; p.tape.forward(); p.tape.backward() }
            let fv = fused.tape.scalar(of: fused.elbo), pv = plain.tape.scalar(of: plain.elbo)
            // Both round the same operations in the same order, but for the absorbed log-softmax
            // (scores shifted by up to |ℓ| + log K ≈ 5, then divided by τ = 0.5), τ's
            // reciprocal, the vector log in the log-density's logsumexp and the kernel's
            // identity forms of log C and e^{T − c} (≤ 6·|log ε| + 2τ·84 + 20 ≈ 320 ulp an entry,
            // RelaxedOneHotFusionTests): ≤ 64 ε per score of magnitude ≤ 2·(3 + 2 + 37) (5,376 ulp),
            // summed over n·K ≤ 60 terms.
            let bound = 60 * 64 * eps * 84
            #expect(Swift.abs(fv - pv) <= bound * Swift.max(1, Swift.abs(pv)), "\(c) step \(step)")
            for (fp, pp) in zip(fused.parameters, plain.parameters) {
                let fg = fused.tape.gradient(of: fp.raw).scalars, pg = plain.tape.gradient(of: pp.raw).scalars
                let scale = Swift.max(1, pg.map(Swift.abs).max() ?? 0)
                for i in 0..<fg.count {
                    #expect(Swift.abs(fg[i] - pg[i]) <= bound * scale, "\(c) step \(step) \(fp.name)[\(i)]: \(fg[i]) vs \(pg[i])")
                }
            }
        }
    }

    @Test func theBenchmarkMixtureAndItsCheckpointedRunsUseTheFusedInstruction() throws {
        // CheckpointTests' relaxed and straight-through runs and ReplayAllocationTests' mixture
        // (bit-exact resume, zero allocations per step) are these programs: they test the
        // fused path only if it applies to them.
        for assignment in [Estimator.straightThrough(temperature: 0.5), .relaxed(temperature: 0.5)] {
            let p = try GaussianMixture.program(points: 20, assignment: assignment)
            #expect(p.tape.appliedFusions.contains { $0.fusion == .relaxedOneHotPlate })
        }
    }
}
