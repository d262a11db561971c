import Testing
import Foundation
import JSON
import Numerics
import Workloads
@testable import Inference

/// Adam's bias corrections from running powers βᵗ = βᵗ⁻¹·β (``BiasPower``): their accuracy
/// against the exact power, and runs restored from a checkpoint continuing bit for bit though
/// the powers are not in the checkpoint.
@Suite struct BiasPowerTests {
    /// The betas of the runs below: torch's defaults, Pyro's control-variate β₁, and values whose
    /// powers reach the flush (0.5 at t = 60, 0.9 at 395, 0.99 at 4,137) within them.
    static let betas: [(Double, Double)] = [(0.9, 0.999), (0.5, 0.99), (0.8, 0.9999), (0.95, 0.99)]

    /// After t updates, each parameter's powers are the t-fold product β·β·…·β rounded at each
    /// step (written out here), and within (1 + 2⁻⁵³)ᵗ − 1 ≈ t·2⁻⁵³ relative of the exact βᵗ
    /// (extended precision: its own error is 2⁻⁶³ relative, inside the 1.01 factor), and so
    /// within (t + 1)·2⁻⁵³·1.01 of glibc's pow (within 2⁻⁵³ of exact); once the product falls
    /// below 2⁻⁶⁰ it is 0, where the exact power is below 2⁻⁶⁰ by the same bound.
    @Test(arguments: 0..<4)
    func runningPowersAreTheSequentialProductWithinTheirBoundOfThePower(_ index: Int) throws {
        let (b1, b2) = Self.betas[index]
        let opt = try ParameterOptimizer(config: .adam(lr: 0.01, beta1: b1, beta2: b2), parameters: [("x", 1, nil)])
        var x = [0.5], g = [0.25]
        var q1 = 1.0, q2 = 1.0
        var worst = 0.0
        for t in 1...6000 {
            x.withUnsafeMutableBufferPointer { xb in g.withUnsafeBufferPointer { opt.step(values: [xb], gradients: [$0]) } }
            q1 *= b1; if q1 < 0x1p-60 { q1 = 0 }
            q2 *= b2; if q2 < 0x1p-60 { q2 = 0 }
            let (p1, p2) = opt.biasPowers(ofParameter: 0)
            #expect(p1.bitPattern == q1.bitPattern && p2.bitPattern == q2.bitPattern, "t = \(t)")
            for (p, beta) in [(p1, b1), (p2, b2)] {
                let exact = powl(Float80(beta), Float80(t))
                let bound = (powl(1 + 0x1p-53, Float80(t)) - 1) * 1.01
                if p == 0 {
                    #expect(exact < 0x1p-60 * (1 + bound), "β = \(beta), t = \(t): flushed at \(exact)")
                } else {
                    let relative = Swift.abs(Float80(p) - exact) / exact
                    #expect(relative <= bound, "β = \(beta), t = \(t): \(p) vs \(exact)")
                    let viaPow = Foundation.pow(beta, Double(t))
                    #expect(Swift.abs(p - viaPow) <= Double(t + 1) * 0x1p-53 * 1.01 * viaPow, "β = \(beta), t = \(t)")
                    worst = Swift.max(worst, Double(relative) / 0x1p-53 / Double(t))
                }
            }
        }
        print("bias powers β = (\(b1), \(b2)), t ≤ 6000: worst relative error \(worst)·t·2⁻⁵³")
    }

    /// Two parameters whose update counts differ ("b" has no gradient on every third step and
    /// on a run of steps): N steps in one go equal k steps, the state saved as the service saves
    /// it (JSON), restored into a fresh optimiser (and one built from the state), then N − k
    /// steps — values, moments and the powers themselves, to the bit, with k before and after
    /// each β's flush.
    @Test(arguments: [OptimizerConfig.adam(lr: 0.01, beta1: 0.9, beta2: 0.99), .adam(lr: 0.02),
                      .clippedAdam(lr: 0.01, beta1: 0.9, beta2: 0.99, clipNorm: 1, lrDecay: 0.9999)])
    func aRestoredRunContinuesBitForBitWithUnequalUpdateCounts(_ config: OptimizerConfig) throws {
        let n = 5000
        func gradients(_ s: Int) -> (a: [Double]?, b: [Double]?) {
            let a = (0..<3).map { i in sin(Double(s * 3 + i) * 0.37) * (1 + Double(i)) }
            let skip = s % 3 == 1 || (1000..<1200).contains(s)
            return (a, skip ? nil : [cos(Double(s) * 0.21), 0.5 * sin(Double(s) * 0.05)])
        }
        let whole = try makeOptimizer(config, overrides: ["b": 0.005])
        let p = RawParameters(a: [0.1, -0.2, 0.3], b: [1, -1])
        for s in 0..<n { p.step(whole, gradients(s)) }
        #expect(whole.state.parameters[0].step == n && whole.state.parameters[1].step < n - 1000)

        for k in [1, 61, 400, 2500, 4200] {
            let first = try makeOptimizer(config, overrides: ["b": 0.005])
            let q = RawParameters(a: [0.1, -0.2, 0.3], b: [1, -1])
            for s in 0..<k { q.step(first, gradients(s)) }
            let saved = try JSONValueDecoder().decode(OptimizerState.self, from: Array(JSONValueEncoder().text(first.state).utf8))
            let restored = try makeOptimizer(config, overrides: ["b": 0.005])
            try restored.restore(saved)
            let rebuilt = try ParameterOptimizer(state: saved)
            for i in 0..<2 {
                #expect(restored.biasPowers(ofParameter: i) == first.biasPowers(ofParameter: i), "k = \(k), parameter \(i)")
                #expect(rebuilt.biasPowers(ofParameter: i) == first.biasPowers(ofParameter: i), "k = \(k), parameter \(i)")
            }
            let r = q.copy()
            for s in k..<n { q.step(restored, gradients(s)); r.step(rebuilt, gradients(s)) }
            let bits = { (x: RawParameters) in (x.values.a + x.values.b).map(\.bitPattern) }
            #expect(bits(q) == bits(p), "k = \(k)")
            #expect(bits(r) == bits(p), "k = \(k)")
            #expect(restored.state == whole.state && rebuilt.state == whole.state, "k = \(k)")
            for i in 0..<2 {
                let (a, b) = (restored.biasPowers(ofParameter: i), whole.biasPowers(ofParameter: i))
                #expect(a.0.bitPattern == b.0.bitPattern && a.1.bitPattern == b.1.bitPattern, "k = \(k), parameter \(i)")
            }
        }
    }

    /// A restored update count as large as an Int holds ends its recomputation where the powers
    /// flush (β₂ = 0.999: about 41,500 products), not after 2⁶³: the corrections are then 1.
    @Test func aHugeRestoredUpdateCountEndsAtTheFlush() throws {
        let opt = try makeOptimizer(.adam(lr: 0.01))
        var state = opt.state
        state.steps = .max
        state.parameters[0].step = .max
        state.parameters[1].step = 41_000
        try opt.restore(state)
        #expect(opt.biasPowers(ofParameter: 0) == (0, 0))
        let (p1, p2) = opt.biasPowers(ofParameter: 1)
        #expect(p1 == 0 && p2 > 0 && p2 < 0x1p-59)
    }

    /// With β within 2⁻⁵³ of 1 (a valid config) the powers would take ~10¹⁷ products to flush:
    /// a huge restored count is refused before any is made, not looped over; a count the bound
    /// allows is restored.
    @Test func aRestoreThatWouldNotEndIsRefused() throws {
        let beta = 1 - 0x1p-53
        let opt = try ParameterOptimizer(config: .adam(lr: 0.01, beta1: 0.9, beta2: beta), parameters: [("a", 2, nil)])
        var state = opt.state
        state.steps = .max
        state.parameters[0].step = .max
        #expect(throws: OptimizerError.self) { try opt.restore(state) }
        state.steps = 1000
        state.parameters[0].step = 1000
        try opt.restore(state)
        #expect(opt.biasPowers(ofParameter: 0).1 == BiasPower.advance(1, beta, from: 0, to: 1000))
        #expect(BiasPower.productsToRestore(.max, 0.999) < 50_000 && BiasPower.productsToRestore(7, 0.999) == 7)
    }

    /// The service's path bounds the counts by the run: a checkpoint past the run's last step,
    /// or whose optimiser counts more steps than the run, is refused before anything is restored.
    @Test func aCheckpointBeyondItsRunIsRefused() throws {
        let program = try NormalNormal.program()
        let settings = RunSettings(steps: 20)
        let runner = try SVIRunner(program: program, optimizer: .adam(lr: 0.01), seed: 2, settings: settings)
        _ = try runner.run()
        var checkpoint = runner.checkpoint
        #expect(throws: SVIError.self) {
            try SVIRunner(program: try NormalNormal.program(), optimizer: .adam(lr: 0.01), seed: 2, settings: RunSettings(steps: 19),
                          from: checkpoint)
        }
        _ = try SVIRunner(program: try NormalNormal.program(), optimizer: .adam(lr: 0.01), seed: 2, settings: settings, from: checkpoint)
        checkpoint.svi.optimizer.steps = .max
        checkpoint.svi.optimizer.parameters[0].step = .max
        let svi = try SVI(program: try NormalNormal.program(), optimizer: .adam(lr: 0.01), seed: 2)
        #expect(throws: SVIError.self) { try svi.restore(checkpoint.svi) }
        #expect(svi.stepCount == 0)
    }
}
