import Testing
import Foundation
import Numerics
@testable import Autodiff
import CVecMath

/// The `normalLogProbSum` and `multiplyAdd` rewrites on small graphs, each checked against the
/// closed form of its value and gradients (written out below, independent of the tape) and
/// against the same graph compiled with no fusion; and the cases the rules must leave alone
/// (a requested density, a broadcast another node reads, a requested product).
@Suite struct NormalSumFusionTests {
    static let halfLogTwoPi = 0.5 * Foundation.log(2 * Double.pi)
    static let x: [[Double]] = [[0.5, -1.2, 2.0], [0.1, 0.4, -0.3], [1.5, 0.0, 0.9], [-0.7, 2.2, 0.3]]
    static let loc: [Double] = [0.2, -0.4, 1.1], logScale: [Double] = [-0.3, 0.5, 0.1]

    /// `c · Σ_ij log Normal(x_ij | loc_j, exp(u_j))` with loc and the scale broadcast over the
    /// rows (`select`s), plus `extra(loc)` when given; its tape.
    static func siteSum(fusions: Set<Fusion>, coefficient c: Double = -2.5, keepDensity: Bool = false,
                        extra: ((Graph, Node) -> Node)? = nil) throws -> (tape: Tape, loss: Node, loc: Node, u: Node) {
        let g = Graph()
        g.fusions = fusions
        let m = g.parameter("loc", Tensor(loc)), u = g.parameter("u", Tensor(logScale))
        let shape = [x.count, 3]
        let density = g.normalLogProb(g.constant(Tensor(rows: x)), loc: g.broadcast(m, to: shape), scale: g.broadcast(g.exp(u), to: shape))
        var loss = c * g.sum(density)
        if let extra { loss = loss + extra(g, m) }
        return (try g.compile(loss: loss, outputs: keepDensity ? [density] : []), loss, m, u)
    }

    /// The closed form of `siteSum`'s value and gradients in loc and u (without `extra`).
    static func closedForm(_ c: Double) -> (value: Double, loc: [Double], u: [Double]) {
        var value = 0.0, gl = [0.0, 0, 0], gu = [0.0, 0, 0]
        for row in x {
            for j in 0..<3 {
                let s = Foundation.exp(logScale[j]), z = (row[j] - loc[j]) / s
                value += c * (-0.5 * z * z - logScale[j] - halfLogTwoPi)
                gl[j] += c * z / s
                gu[j] += c * (z * z - 1)
            }
        }
        return (value, gl, gu)
    }

    static func close(_ a: Double, _ b: Double, _ tol: Double = 1e-13) -> Bool { Swift.abs(a - b) <= tol * Swift.max(1, Swift.abs(b)) }

    @Test func aSummedDensityWithBroadcastLocAndScaleIsOneInstructionWithTheClosedFormValueAndGradients() throws {
        let (ft, fl, fm, fu) = try Self.siteSum(fusions: Set(Fusion.allCases))
        let (ut, ul, um, uu) = try Self.siteSum(fusions: [])
        #expect(ft.appliedFusions.contains { $0.fusion == .normalLogProbSum && $0.node == fl.id })
        #expect(ft.instructionCounts.forward < ut.instructionCounts.forward)
        let want = Self.closedForm(-2.5)
        for (t, l, m, u) in [(ft, fl, fm, fu), (ut, ul, um, uu)] {
            t.forward(); t.backward()
            #expect(Self.close(t.scalar(of: l), want.value))
            for j in 0..<3 {
                #expect(Self.close(t.gradient(of: m).scalars[j], want.loc[j]), "loc[\(j)]")
                #expect(Self.close(t.gradient(of: u).scalars[j], want.u[j]), "u[\(j)]")
            }
        }
        // The loc's broadcast is read through its table, not recomputed each replay: of the
        // two selects (loc's and the scale's) only the scale's is left.
        #expect(ft.listing.components(separatedBy: "select").count - 1 == 1)
        #expect(ut.listing.components(separatedBy: "select").count - 1 == 2)
    }

    @Test func aRequestedDensityStaysItsOwnNodeAndIsNotSummedAway() throws {
        let (ft, fl, _, _) = try Self.siteSum(fusions: Set(Fusion.allCases), keepDensity: true)
        #expect(!ft.appliedFusions.contains { $0.fusion == .normalLogProbSum })
        ft.forward()
        #expect(Self.close(ft.scalar(of: fl), Self.closedForm(-2.5).value))
    }

    @Test func aLocBroadcastThatAnotherNodeReadsIsNotAbsorbedButTheSumStillFuses() throws {
        // loss + Σ (broadcast loc)²: the broadcast has two readers, so the fused sum reads it.
        let extra: (Graph, Node) -> Node = { g, m in g.sum(g.square(g.broadcast(m, to: [Self.x.count, 3]))) }
        let (ft, fl, fm, fu) = try Self.siteSum(fusions: Set(Fusion.allCases), extra: extra)
        #expect(ft.appliedFusions.contains { $0.fusion == .normalLogProbSum })
        ft.forward(); ft.backward()
        let want = Self.closedForm(-2.5)
        let rows = Double(Self.x.count)
        #expect(Self.close(ft.scalar(of: fl), want.value + rows * Self.loc.reduce(0) { $0 + $1 * $1 }))
        for j in 0..<3 {
            #expect(Self.close(ft.gradient(of: fm).scalars[j], want.loc[j] + 2 * rows * Self.loc[j]), "loc[\(j)]")
            #expect(Self.close(ft.gradient(of: fu).scalars[j], want.u[j]), "u[\(j)]")
        }
    }

    /// A broadcast value (one observation against a vector of locs, stride 0) and a single
    /// scale exp(u) (stride 0): log scale is u itself, and the gradient in u is Σ (z² − 1).
    @Test func aScalarValueAndAScalarExpScaleUseTheirStrideZeroPaths() throws {
        for fusions in [Set(Fusion.allCases), []] {
            let g = Graph()
            g.fusions = fusions
            let m = g.parameter("loc", Tensor(Self.loc)), u = g.parameter("u", Tensor([0.4]))
            let loss = 0.5 * g.sum(g.normalLogProb(g.constant(0.7), loc: m, scale: g.exp(u)))
            let t = try g.compile(loss: loss)
            #expect(t.appliedFusions.contains { $0.fusion == .normalLogProbSum } == !fusions.isEmpty)
            t.forward(); t.backward()
            let s = Foundation.exp(0.4)
            var value = 0.0, gu = 0.0
            for j in 0..<3 {
                let z = (0.7 - Self.loc[j]) / s
                value += 0.5 * (-0.5 * z * z - 0.4 - Self.halfLogTwoPi)
                #expect(Self.close(t.gradient(of: m).scalars[j], 0.5 * z / s), "loc[\(j)]")
                gu += 0.5 * (z * z - 1)
            }
            #expect(Self.close(t.scalar(of: loss), value))
            #expect(Self.close(t.gradient(of: u).scalars[0], gu))
        }
    }

    /// `z = loc + exp(u)·ε` with loc a parameter broadcast over one particle (an identity
    /// `select`) and ε constant, read by `Σ z²`: one `multiplyAdd` reading the parameter
    /// directly, with ∂/∂loc = 2z and ∂/∂u = 2z·exp(u)·ε.
    @Test func aReparameterisedDrawIsOneMultiplyAddWithTheClosedFormGradients() throws {
        let eps: [Double] = [0.3, -1.1, 0.8]
        for (fusions, keepProduct) in [(Set(Fusion.allCases), false), ([], false), (Set(Fusion.allCases), true)] {
            let g = Graph()
            g.fusions = fusions
            let m = g.parameter("loc", Tensor(Self.loc)), u = g.parameter("u", Tensor(Self.logScale))
            let product = g.exp(u) * g.constant(Tensor(eps))
            let z = g.broadcast(m, to: [1, 3]) + g.reshape(product, [1, 3])
            let loss = g.sum(z * z)
            let t = try g.compile(loss: loss, outputs: keepProduct ? [product] : [])
            let fused = t.appliedFusions.contains { $0.fusion == .multiplyAdd }
            #expect(fused == (!fusions.isEmpty && !keepProduct))
            if fused { #expect(!t.listing.contains("select")) }
            t.forward(); t.backward()
            var value = 0.0
            for j in 0..<3 {
                let s = Foundation.exp(Self.logScale[j]), zj = Self.loc[j] + s * eps[j]
                value += zj * zj
                #expect(Self.close(t.gradient(of: m).scalars[j], 2 * zj), "loc[\(j)]")
                #expect(Self.close(t.gradient(of: u).scalars[j], 2 * zj * s * eps[j]), "u[\(j)]")
            }
            #expect(Self.close(t.scalar(of: loss), value))
        }
    }

    /// The fused sums' inline summation is `svm_sum` (what `scaledSum` calls) bit for bit, at
    /// every length around its blocks of eight and its hand-off to the C kernel at 64.
    @Test func theInlineSumIsTheVectorKernelsSumBitForBit() {
        var r = TestValues(seed: 11)
        for n in 0...80 {
            let x = r.tensor([Swift.max(n, 1)]).scalars.enumerated().map { $0.element * Foundation.exp(Double($0.offset % 9) - 4) }
            x.withUnsafeBufferPointer { p in
                #expect(Tape.sumOfTerms(n) { p[$0] }.bitPattern == svm_sum(p.baseAddress!, n).bitPattern, "n = \(n)")
            }
        }
    }
}
