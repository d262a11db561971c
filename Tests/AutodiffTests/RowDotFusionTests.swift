import Testing
import Numerics
@testable import Autodiff

/// The `rowDot` fusion (Σ over the last axis of a product with a broadcast) against the same
/// graph compiled without it, and its gradient against central differences.
@Suite struct RowDotFusionTests {
    static func build(_ g: Graph, _ a0: Tensor, _ b0: Tensor, _ w: Tensor) -> (loss: Node, a: Node, b: Node, dot: Node) {
        let a = g.parameter("a", a0), b = g.parameter("b", b0)
        let dot = g.sum(a * g.reshape(b, [2, 1, 3]), axes: [-1])
        return (g.sum(dot * g.constant(w)) + g.sum(g.square(b)), a, b, dot)
    }

    /// The fused tape's gradients against the unfused tape's (4 ε) and central differences.
    static func expectTheUnfusedGradients(_ ft: Tape, _ f: (loss: Node, a: Node, b: Node, dot: Node), _ ut: Tape,
                                          _ u: (loss: Node, a: Node, b: Node, dot: Node), _ a0: Tensor, _ b0: Tensor) {
        for (fp, up) in [(f.a, u.a), (f.b, u.b)] {
            let fgr = ft.gradient(of: fp).scalars, ugr = ut.gradient(of: up).scalars
            for i in 0..<fgr.count { #expect(Swift.abs(fgr[i] - ugr[i]) <= 4 * 2.220446049250313e-16 * Swift.max(1, Swift.abs(ugr[i]))) }
        }
        for (p, x0) in [(f.a, a0), (f.b, b0)] {
            let grad = ft.gradient(of: p).scalars
            for i in 0..<x0.scalars.count {
                let fd = centralDifference(ft, f.loss, p, at: x0, i, step: 1e-6)
                #expect(Swift.abs(fd - grad[i]) < 1e-7 * Swift.max(1, Swift.abs(grad[i])))
            }
        }
    }

    @Test func aBroadcastProductSummedOverTheLastAxisIsOnePassWithTheSameValuesAndGradients() throws {
        var r = TestValues(seed: 21)
        let a0 = r.tensor([2, 5, 3]), b0 = r.tensor([2, 3]), w = r.tensor([2, 5])
        let fg = Graph(), ug = Graph()
        ug.fusions = []
        let f = Self.build(fg, a0, b0, w), u = Self.build(ug, a0, b0, w)
        let ft = try fg.compile(loss: f.loss, outputs: [f.dot]), ut = try ug.compile(loss: u.loss, outputs: [u.dot])
        // A requested sum is still fused (it keeps its own value); the product and broadcast are not readable.
        let ft2 = try fg.compile(loss: f.loss)
        #expect(ft.appliedFusions.contains { $0.fusion == .rowDot && $0.node == f.dot.id })
        #expect(ft2.appliedFusions.contains { $0.fusion == .rowDot && $0.node == f.dot.id })
        for t in [ft, ft2, ut] { t.forward(); t.backward() }
        // The same products summed in the same order: equal to the last bit.
        #expect(ft2.scalar(of: f.loss) == ut.scalar(of: u.loss))
        #expect(ft.value(of: f.dot).scalars == ut.value(of: u.dot).scalars)
        Self.expectTheUnfusedGradients(ft2, f, ut, u, a0, b0)
    }

    /// One particle: every row reads the same k entries of y (the mixture's μ), the path that
    /// keeps y's adjoint in registers; k = 3 (its unrolled loop) and k = 4.
    @Test(arguments: [3, 4])
    func aRowBroadcastTableGivesTheUnfusedValuesAndGradients(k: Int) throws {
        var r = TestValues(seed: UInt64(30 + k))
        let a0 = r.tensor([7, k]), b0 = r.tensor([k]), w = r.tensor([7])
        func build(_ g: Graph) -> (loss: Node, a: Node, b: Node, dot: Node) {
            let a = g.parameter("a", a0), b = g.parameter("b", b0)
            let dot = g.sum(a * g.reshape(b, [1, k]), axes: [-1])
            return (g.sum(dot * g.constant(w)) + g.sum(g.square(b)), a, b, dot)
        }
        let fg = Graph(), ug = Graph()
        ug.fusions = []
        let f = build(fg), u = build(ug)
        let ft = try fg.compile(loss: f.loss, outputs: [f.dot]), ut = try ug.compile(loss: u.loss, outputs: [u.dot])
        #expect(ft.appliedFusions.contains { $0.fusion == .rowDot && $0.node == f.dot.id })
        for t in [ft, ut] { t.forward(); t.backward() }
        #expect(ft.value(of: f.dot).scalars == ut.value(of: u.dot).scalars)
        Self.expectTheUnfusedGradients(ft, f, ut, u, a0, b0)
    }

    @Test func onlyTablesWhoseRowsRepeatTheFirstsDistinctEntriesAreRowBroadcasts() {
        #expect(Tape.isRowBroadcast([0, 1, 2, 0, 1, 2], k: 3))
        #expect(!Tape.isRowBroadcast([0, 1, 2, 3, 4, 5], k: 3))
        #expect(!Tape.isRowBroadcast([0, 0, 1, 0, 0, 1], k: 3))
        #expect(!Tape.isRowBroadcast([0, 1, 2, 0, 1], k: 3))
        #expect(!Tape.isRowBroadcast([], k: 3))
    }
}
