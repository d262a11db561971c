import Testing
import CAllocationCounter
import Numerics
@testable import Inference
import Workloads

/// A steady-state SVI step (noise, forward, backward, baselines, optimiser) makes no heap
/// allocation: counted by the interposed malloc of CAllocationCounter on this thread. The
/// guarantee is for optimised builds (how `make test`, the benchmark and the service run):
/// an unoptimised build boxes a few temporaries per step, so there the count is only reported.
@Suite struct ReplayAllocationTests {
    func allocations(over steps: Int, _ body: () throws -> Void) rethrows -> UInt {
        for _ in 0..<10 { try body() }
        let before = allocation_count()
        for _ in 0..<steps { try body() }
        return allocation_count() - before
    }

    func expectNone(_ n: UInt, _ what: String) {
        #if DEBUG
        print("unoptimised build: \(what) made \(n) allocations (the zero-allocation check applies to release builds)")
        #else
        #expect(n == 0, "\(what): \(n) allocations")
        #endif
    }

    /// OMT at dimension 5 takes the fixed-width routine, at 50 (the benchmark's) the one above 16.
    @Test(arguments: ["normal_normal", "logreg_reparam", "logreg_omt", "logreg_omt_d50", "logreg_avf", "gmm_relaxed_st", "gmm_score", "score_baselines"])
    func sviStepAllocatesNothing(_ workload: String) throws {
        let program: CompiledProgram = switch workload {
        case "normal_normal": try NormalNormal.program(particles: 4)
        case "logreg_reparam": try LogisticRegression.program(points: 200, dimension: 5, particles: 3)
        case "logreg_omt": try LogisticRegression.program(points: 200, dimension: 5, estimator: .omt)
        case "logreg_omt_d50": try LogisticRegression.program(points: 200, dimension: 50, particles: 2, estimator: .omt)
        case "logreg_avf": try LogisticRegression.program(points: 200, dimension: 5, estimator: .avf(rank: 2))
        case "gmm_relaxed_st": try GaussianMixture.program(points: 50)
        case "gmm_score": try GaussianMixture.scoreProgram(points: 130)
        default: try NormalNormal.program(particles: 4, estimator: .score(baseline: .decayingAverage(beta: 0.9)))
        }
        let svi = try SVI(program: program, optimizer: .adam(lr: 0.001), seed: 1)
        expectNone(try allocations(over: 300) { try svi.step() }, workload)
    }

    @Test func counterSeesAllocations() {
        let n = allocations(over: 10) { _ = [Double](repeating: 1, count: Int.random(in: 100...200)) }
        #expect(n >= 10)
    }
}
