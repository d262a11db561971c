import Testing
import Foundation
import Numerics
@testable import Autodiff

/// The fusion pass against the unfused graph: the same graph compiled with every rule and with
/// none gives the same values and gradients, the fused gradients agree with central
/// differences, and values the caller asked for stay readable.
@Suite struct FusionPassTests {
    var rng = TestValues(seed: 7)

    /// `-(2·Σ a + Σ b·c − 3) + 0.5·Σ a` over parameters, with the ELBO-like chain of scalar links.
    static func buildChain(_ g: Graph, _ a: Tensor, _ b: Tensor) -> (loss: Node, a: Node, b: Node, inner: Node) {
        let pa = g.parameter("a", a), pb = g.parameter("b", b)
        let inner = 2 * g.sum(g.exp(pa)) + g.sum(pb * pb)
        let chain = -(inner - 3) + 0.5 * g.sum(g.square(pa)) + g.constant(1.25)
        return (chain, pa, pb, inner)
    }

    func compiled(fusions: Set<Fusion>, keepInner: Bool = false) throws -> (Tape, Node, Node, Node, Node) {
        var r = rng
        let a = r.tensor([5]), b = r.tensor([2, 3])
        let g = Graph()
        g.fusions = fusions
        let (loss, pa, pb, inner) = Self.buildChain(g, a, b)
        return (try g.compile(loss: loss, outputs: keepInner ? [inner] : []), loss, pa, pb, inner)
    }

    @Test func aScalarChainAndScaledSumsFuseAndKeepTheirValuesAndGradients() throws {
        let (ft, fl, fa, fb, _) = try compiled(fusions: Set(Fusion.allCases))
        let (ut, ul, ua, ub, _) = try compiled(fusions: [])
        #expect(ut.appliedFusions.isEmpty)
        #expect(ft.appliedFusions.contains { $0.fusion == .scalarCombination && $0.node == fl.id })
        #expect(ft.appliedFusions.contains { $0.fusion == .scaledSum })
        #expect(ft.instructionCounts.forward < ut.instructionCounts.forward)
        ft.forward(); ft.backward(); ut.forward(); ut.backward()
        let fv = ft.scalar(of: fl), uv = ut.scalar(of: ul)
        #expect(Swift.abs(fv - uv) <= 1e-13 * Swift.max(1, Swift.abs(uv)))
        for (f, u) in [(fa, ua), (fb, ub)] {
            let fg = ft.gradient(of: f).scalars, ug = ut.gradient(of: u).scalars
            for i in 0..<fg.count { #expect(Swift.abs(fg[i] - ug[i]) <= 1e-13 * Swift.max(1, Swift.abs(ug[i]))) }
        }
        // The fused gradient against central differences, independently of the unfused tape.
        let a0 = ft.value(of: fa)
        let ga = ft.gradient(of: fa).scalars
        for i in 0..<a0.scalars.count {
            let fd = centralDifference(ft, fl, fa, at: a0, i, step: 1e-6)
            #expect(Swift.abs(fd - ga[i]) < 1e-6 * Swift.max(1, Swift.abs(ga[i])))
        }
    }

    @Test func aRequestedIntermediateIsNotFoldedIntoTheChain() throws {
        let (ft, fl, _, _, inner) = try compiled(fusions: Set(Fusion.allCases), keepInner: true)
        let (ut, ul, _, _, uInner) = try compiled(fusions: [])
        ft.forward(); ut.forward()
        #expect(Swift.abs(ft.scalar(of: fl) - ut.scalar(of: ul)) <= 1e-13 * Swift.max(1, Swift.abs(ut.scalar(of: ul))))
        // `inner` (an add of two scaled sums) is an output: it is computed by its own
        // instruction, so its value is readable and right.
        #expect(Swift.abs(ft.scalar(of: inner) - ut.scalar(of: uInner)) <= 1e-13 * Swift.max(1, Swift.abs(ut.scalar(of: uInner))))
    }

    /// A spec may have hundreds of thousands of sites, whose ELBO terms are one chain of scalar
    /// additions: the pass walks it without recursing (a recursion this deep overflows a stack).
    @Test func aChainOfTwoHundredThousandScalarAdditionsFusesWithoutRecursing() throws {
        let g = Graph()
        let p = g.parameter("p", Tensor([0.5, -0.25]))
        let s = g.sum(p)
        var chain = g.constant(0)
        for _ in 0..<200_000 { chain = chain + s }
        let tape = try g.compile(loss: chain)
        #expect(tape.appliedFusions.contains { $0.fusion == .scalarCombination && $0.node == chain.id })
        #expect(tape.instructionCounts.forward == 2)
        tape.forward(); tape.backward()
        #expect(tape.scalar(of: chain) == 50_000)
        #expect(tape.gradient(of: p).scalars == [200_000, 200_000])
    }

    @Test func aBroadcastThatOnlyAddsUnitAxesIsAViewExceptOfALeaf() throws {
        let g = Graph()
        let x = g.parameter("x", Tensor([1, 2, 3]))
        let e = g.exp(x)
        let y = g.broadcast(e, to: [1, 1, 3]), z = g.broadcast(x, to: [1, 3])
        #expect(y.op == .view)
        // A parameter's buffer moves with the optimiser: its broadcast is a copy made at the replay.
        #expect(z.op == .select)
        let tape = try g.compile(loss: g.sum(y * y) + g.sum(z))
        tape.forward(); tape.backward()
        let grad = tape.gradient(of: x).scalars
        for (i, xi) in [1.0, 2, 3].enumerated() {
            #expect(Swift.abs(grad[i] - (2 * Foundation.exp(2 * xi) + 1)) <= 1e-12 * grad[i])
        }
    }
}
