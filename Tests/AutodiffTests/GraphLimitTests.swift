import Testing
import Foundation
import Numerics
@testable import Autodiff

/// Sizes from users never trap and never allocate past the graph's limits (issue 15): counts
/// saturate, a node past a limit records an error and allocates nothing, compile throws it.
@Suite struct GraphLimitTests {
    @Test func elementCountsSaturateInsteadOfTrapping() {
        #expect(Shape.count([100_000_000, 100_000_000, 100_000_000]) == .max)
        #expect(Shape.checkedCount([100_000_000, 100_000_000, 100_000_000]) == nil)
        #expect(Shape.checkedCount([0, Int.max, Int.max]) == 0)
        #expect(Shape.checkedCount([3, 4]) == 12 && Shape.checkedCount([]) == 1)
    }

    @Test func threeHugePlatesOnOneSiteRecordAnErrorInsteadOfTrapping() {
        let g = Graph()
        let plates = [1, 100_000_000, 100_000_000, 100_000_000]
        let noise = g.noise(.normal, shape: plates, stream: 1)
        let scaled = noise * g.constant(Tensor([2.0]))
        let broadcast = g.broadcast(g.constant(Tensor([1.0, 2.0])), to: [1_000, 100_000_000, 2])
        #expect(g.limitError != nil && noise.shape == [1, 1, 1, 1] && scaled.count == 1 && broadcast.shape == [1, 1, 1])
        #expect(throws: GraphError.self) { try g.compile(outputs: [scaled]) }
    }

    @Test func tablesAreAdmittedBeforeTheyAreBuilt() {
        let g = Graph()
        g.limits = GraphLimits(maxElements: 1 << 40, maxBytes: 64 << 20)
        let v = g.constant(Tensor(Array(repeating: 1.0, count: 30_000)))
        let d = g.diag(v)
        // diag of 30,000 numbers would be a 7.2 GB table: refused, nothing built.
        #expect(d.shape == [1, 1] && g.heldBytes < 1 << 20)
        #expect(g.limitError?.message.contains("64 MiB") == true)
    }

    @Test func theCostModelCountsProductsByMultiplyAdds() {
        let g = Graph()
        let a = g.constant(Tensor(shape: [70, 80], scalars: Array(repeating: 1, count: 5600)))
        let b = g.constant(Tensor(shape: [80, 90], scalars: Array(repeating: 1, count: 7200)))
        let start = g.nodeCount
        let c = g.matmul(a, b)
        #expect(g.foldOperations(nodesFrom: start) == 2 * 70 * 80 * 90)
        #expect(g.foldOperations(of: g.sum(c)) == 2 * 70 * 80 * 90 + 70 * 90)
    }

    @Test func deferredFoldingComputesConstantsAtTheFirstReplay() throws {
        let g = Graph()
        g.defersFolding = true
        let c = g.exp(g.constant(Tensor([0.0, 1.0])))
        let p = g.parameter("p", Tensor([2.0]))
        let loss = g.sum(c) * p
        let tape = try g.compile(loss: loss, outputs: [c])
        #expect(tape.value(of: c).scalars == [0, 0])
        tape.forward()
        #expect(tape.value(of: c).scalars == [1, Foundation.exp(1.0)])
    }

    @Test func backwardWithoutAnyParameterIsANoOp() throws {
        let g = Graph()
        let x = g.noise(.normal, shape: [3], stream: 1)
        let loss = g.sum(x * x)
        let tape = try g.compile(loss: loss)
        tape.forward()
        tape.backward()
        #expect(!tape.hasGradient && tape.drawsNoise)
    }
}
