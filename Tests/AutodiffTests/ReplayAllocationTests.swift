import Testing
import CAllocationCounter
import Numerics
@testable import Autodiff
import Workloads

/// The steady-state replay (forward, backward, optimiser) makes no heap allocation: counted
/// by the interposed malloc of CAllocationCounter on this thread. The guarantee is for
/// optimised builds (how `make test` and the service run): an unoptimised build boxes a few
/// temporaries per step, so there the count is only reported.
@Suite struct ReplayAllocationTests {
    func expectNone(_ n: UInt) {
        #if DEBUG
        print("unoptimised build: \(n) allocations (the zero-allocation check applies to release builds)")
        #else
        #expect(n == 0)
        #endif
    }

    func allocations(over steps: Int, _ body: () -> Void) -> UInt {
        for _ in 0..<10 { body() }
        let before = allocation_count()
        for _ in 0..<steps { body() }
        return allocation_count() - before
    }

    @Test func normalNormalStepAllocatesNothing() throws {
        let model = try NormalNormal(particles: 4)
        let adam = Adam(parameters: model.tape.parameters, lr: 0.01)
        var step: UInt64 = 0
        let n = allocations(over: 1000) {
            model.tape.step = step; step += 1
            model.tape.forward(); model.tape.backward(); adam.step(model.tape)
        }
        expectNone(n)
    }

    @Test func logisticRegressionStepAllocatesNothing() throws {
        let model = try LogisticRegression(points: 200, dimension: 5, particles: 3)
        let adam = Adam(parameters: model.tape.parameters, lr: 0.01)
        var step: UInt64 = 0
        let n = allocations(over: 200) {
            model.tape.step = step; step += 1
            model.tape.forward(); model.tape.backward(); adam.step(model.tape)
        }
        expectNone(n)
    }

    @Test func counterSeesAllocations() {
        let n = allocations(over: 10) { _ = [Double](repeating: 1, count: Int.random(in: 100...200)) }
        #expect(n >= 10)
    }
}
