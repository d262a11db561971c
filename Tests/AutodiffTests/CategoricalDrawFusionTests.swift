import Testing
import Foundation
import Numerics
import Distributions
import CVecMath
@testable import Autodiff

/// The fused categorical draw (`categoricalDrawPlate`: Gumbel-max draw and log q in one pass)
/// against an independent reference — the same law written out in extended precision
/// (Float80) from the stream's uniforms drawn by `RandomStream` — and against the per-node
/// path (the same noise bit for bit and the same draws, log q and the gradient to rounding);
/// and the look-alikes that differ in one piece, which the fusion refuses.
@Suite struct CategoricalDrawFusionTests {
    struct Site { let tape: Tape, logits: Node, draw: Node, logProb: Node, loss: Node }

    /// `Categorical(logits).sample(prefix)` (stream 3 of the law: noise stream 12) and its
    /// log-density, loss = Σ w ⊙ log q.
    static func site(_ l0: Tensor, prefix: [Int] = [], weights w: [Double], fusions: Set<Fusion> = Set(Fusion.allCases)) throws -> Site {
        let g = Graph()
        g.fusions = fusions
        let logits = g.parameter("logits", l0)
        let law = try Categorical(.logits(logits))
        let z = law.sample(prefix, stream: 3)
        let lq = try law.logProb(z)
        let loss = g.sum(lq * g.constant(Tensor(shape: lq.shape, scalars: w)))
        return Site(tape: try g.compile(loss: loss, outputs: [z, lq]), logits: logits, draw: z, logProb: lq, loss: loss)
    }

    /// The uniforms the site's noise node reads at `step`, drawn by the engine's generator.
    static func uniforms(seed: UInt64, step: UInt64, count: Int) -> [Double] {
        var rng = RandomStream(seed: seed, stream: 12, counter: step << 32)
        var u = [Double](repeating: 0, count: count)
        u.withUnsafeMutableBufferPointer { rng.fillUniform($0.baseAddress!, count: count) }
        return u
    }

    /// Draw, log q and ∂(Σ w log q)/∂ℓ in Float80: log-softmax, Gumbel-max, w(δ − softmax).
    static func reference(_ l: [Double], _ u: [Double], k: Int, weights w: [Double]) -> (draw: [Int], logProb: [Float80], gradient: [Float80]) {
        let rows = l.count / k
        var draw = [Int](), lp = [Float80](), grad = [Float80](repeating: 0, count: l.count)
        for r in 0..<rows {
            let row = (0..<k).map { Float80(l[r * k + $0]) }
            let m = row.max()!, lse = m + logl(row.map { expl($0 - m) }.reduce(0, +))
            let lq = row.map { $0 - lse }
            var best = 0, top = -Float80.infinity
            for j in 0..<k {
                let a = lq[j] - logl(-logl(Float80(u[r * k + j])))
                if a > top { top = a; best = j }
            }
            draw.append(best); lp.append(lq[best])
            for j in 0..<k { grad[r * k + j] = Float80(w[r]) * ((j == best ? 1 : 0) - expl(lq[j])) }
        }
        return (draw, lp, grad)
    }

    @Test(arguments: [(1, 2), (70, 3), (64, 4), (130, 5), (500, 3)])
    func theFusedDrawMatchesAnExtendedPrecisionReference(rows: Int, k: Int) throws {
        var r = TestValues(seed: UInt64(31 * rows + k))
        let l0 = r.tensor([rows, k], -3, 3), w = r.tensor([rows]).scalars
        let site = try Self.site(l0, weights: w)
        #expect(site.tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        let eps = 2.220446049250313e-16
        for step in [UInt64(0), 1, 23] {
            site.tape.step = step
            site.tape.forward(); site.tape.backward()
            let ref = Self.reference(l0.scalars, Self.uniforms(seed: site.tape.seed, step: step, count: rows * k), k: k, weights: w)
            #expect(site.tape.value(of: site.draw).scalars == ref.draw.map(Double.init))
            // log q = (ℓ − max ℓ) − log Σ: a few roundings of terms ≤ |ℓ − max ℓ| + log K ≤ 6 + log K.
            let lp = site.tape.value(of: site.logProb).scalars
            for i in 0..<rows { #expect(Swift.abs(lp[i] - Double(ref.logProb[i])) <= 16 * eps * (8 + log(Double(k)))) }
            let grad = site.tape.gradient(of: site.logits).scalars
            for i in 0..<(rows * k) { #expect(Swift.abs(grad[i] - Double(ref.gradient[i])) <= 16 * eps * Swift.abs(w[i / k]) + 1e-300) }
        }
    }

    @Test(arguments: [(70, 3, [Int]()), (130, 5, []), (500, 3, [1]), (33, 2, [1])])
    func theFusedAndPerNodeSitesDrawTheSameAndAgreeToRounding(rows: Int, k: Int, prefix: [Int]) throws {
        var r = TestValues(seed: UInt64(7 * rows + k))
        let l0 = r.tensor([rows, k], -4, 4), w = r.tensor([rows]).scalars
        let fused = try Self.site(l0, prefix: prefix, weights: w)
        let plain = try Self.site(l0, prefix: prefix, weights: w, fusions: Set(Fusion.allCases).subtracting([.categoricalDrawPlate]))
        #expect(fused.tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        #expect(!plain.tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        #expect(fused.tape.instructionCounts.forward < plain.tape.instructionCounts.forward)
        let eps = 2.220446049250313e-16
        for step in [UInt64(0), 4, 9] {
            for t in [fused.tape, plain.tape] { t.seed = 17; t.step = step; t.forward(); t.backward() }
            // The same noise, and log q within a few ulp: the same draw (but for a tie of two
            // scores within rounding, which these draws do not meet).
            #expect(fused.tape.value(of: fused.draw).scalars == plain.tape.value(of: plain.draw).scalars)
            // log q = D − log Σe^D differs by the exponentials (CVecMath's ≤ 1 ulp against
            // libmvec's ≤ 4) and the row's log (≤ 1 ulp against glibc's) of Σ ∈ [1, K]: ≤ 8 ε
            // absolute, with the subtraction's rounding of |log q| ≤ 8 + log K: 8 ε (8 + log K);
            // the gradient by the softmax weights, e^D/Σ against e^{log q}: 8 ε (8 + log K)|w|.
            let bound = 8 * eps * (8 + log(Double(k)))
            for (a, b) in zip(fused.tape.value(of: fused.logProb).scalars, plain.tape.value(of: plain.logProb).scalars) {
                #expect(Swift.abs(a - b) <= bound)
            }
            let fg = fused.tape.gradient(of: fused.logits).scalars, pg = plain.tape.gradient(of: plain.logits).scalars
            for i in 0..<fg.count { #expect(Swift.abs(fg[i] - pg[i]) <= bound * Swift.abs(w[i / k]) + 1e-300) }
        }
    }

    /// Picks at the draw from a table broadcast over the rows (a model's `mu[z]`) are read from
    /// the table by the fused instruction, bit for bit the per-node values and adjoints; a pick
    /// from a per-row table (no broadcast) and one whose broadcast is read elsewhere too stay
    /// picks of their own.
    /// A NaN or +∞ logit in a row makes that row's log q non-finite, whichever class is drawn
    /// (the row's normalising sum is NaN or ∞, and its log stays so); the other rows keep
    /// their bits.
    @Test func aNonFiniteLogitMakesItsRowsLogQNonFinite() {
        let rows = 70, k = 3
        var r = TestValues(seed: 31)
        let l = (0..<(rows * k)).map { _ in r.uniform(-2, 2) }
        var z = [Double](repeating: 0, count: rows), lq = z, probs = [Double](repeating: 0, count: rows * k)
        var scratch = [Double](repeating: 0, count: 64 * (4 * k + 2))
        svm_categorical_draw(l, rows, k, 5, 7, 0, &z, &lq, &probs, &scratch)
        let finite = lq
        var bad = l
        bad[1] = .nan; bad[k] = .infinity; bad[2 * k + 2] = .nan
        svm_categorical_draw(bad, rows, k, 5, 7, 0, &z, &lq, &probs, &scratch)
        for i in 0..<3 { #expect(!lq[i].isFinite, "row \(i): \(lq[i])") }
        #expect(Array(lq[3...]).map(\.bitPattern) == Array(finite[3...]).map(\.bitPattern))
    }

    @Test func gathersAtTheDrawReadTheirTablesAndLookAlikeGathersStayPicks() throws {
        let rows = 70, k = 3
        var r = TestValues(seed: 44)
        let l0 = r.tensor([rows, k], -2, 2), t0 = r.tensor([k], -3, 3), u0 = r.tensor([k]), w0 = r.tensor([rows, k])
        let weights = (0..<4).map { _ in r.tensor([1, rows]) }
        func compiled(_ fusions: Set<Fusion>) throws -> (tape: Tape, params: [Node], outputs: [Node]) {
            let g = Graph()
            g.fusions = fusions
            let logits = g.parameter("logits", l0), table = g.parameter("table", t0), shared = g.parameter("shared", u0)
            let perRow = g.parameter("perRow", w0)
            let law = try Categorical(.logits(logits))
            let z = law.sample([1], stream: 3), lq = try law.logProb(z)
            let loc = g.pick(g.reshape(table, [1, 1, k]), index: z)
            let own = g.pick(g.reshape(perRow, [1, rows, k]), index: z)
            let broadcast = g.broadcast(g.reshape(shared, [1, 1, k]), to: [1, rows, k])
            let sharedPick = g.pick(broadcast, index: z)
            let terms = [lq, loc, own, sharedPick]
            var loss = g.sum(broadcast * broadcast)
            for (t, w) in zip(terms, weights) { loss = loss + g.sum(t * g.constant(w)) }
            return (try g.compile(loss: loss, outputs: [z] + terms), [logits, table, shared, perRow], [z] + terms)
        }
        let fused = try compiled(Set(Fusion.allCases)), plain = try compiled(Set(Fusion.allCases).subtracting([.categoricalDrawPlate]))
        #expect(fused.tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        func picks(_ t: Tape) -> Int { t.listing.split(separator: "\n").filter { $0.contains(": pick ") }.count }
        #expect(picks(plain.tape) == 4)
        #expect(picks(fused.tape) == 2)
        let eps = 2.220446049250313e-16
        for step in [UInt64(0), 6] {
            for t in [fused.tape, plain.tape] { t.seed = 9; t.step = step; t.forward(); t.backward() }
            for i in [0, 2, 3, 4] {
                #expect(fused.tape.value(of: fused.outputs[i]).scalars == plain.tape.value(of: plain.outputs[i]).scalars, "output \(i)")
            }
            for (a, b) in zip(fused.tape.value(of: fused.outputs[1]).scalars, plain.tape.value(of: plain.outputs[1]).scalars) {
                #expect(Swift.abs(a - b) <= 8 * eps * (8 + log(Double(k))))
            }
            for i in 1..<4 { #expect(fused.tape.gradient(of: fused.params[i]).scalars == plain.tape.gradient(of: plain.params[i]).scalars, "param \(i)") }
            let fg = fused.tape.gradient(of: fused.params[0]).scalars, pg = plain.tape.gradient(of: plain.params[0]).scalars
            for i in 0..<fg.count { #expect(Swift.abs(fg[i] - pg[i]) <= 8 * eps * (8 + log(Double(k))) * 2) }
        }
    }

    /// A graph that differs from the pattern in one piece: compiled with every fusion, the
    /// categorical fusion does not apply and every value and gradient is the per-node path's.
    struct LookAlike: CustomStringConvertible, Sendable {
        let description: String
        let build: @Sendable (Graph, Node) throws -> (outputs: [Node], loss: Node)
    }

    static let lookAlikes: [LookAlike] = [
        LookAlike(description: "the normalised logits read by the entropy too") { g, l in
            let law = try Categorical(.logits(l))
            let z = law.sample([], stream: 3), lq = try law.logProb(z)
            return ([z, lq], g.sum(lq) + g.sum(law.entropy()))
        },
        LookAlike(description: "uniform noise in place of Gumbel noise") { g, l in
            let lsm = g.logSoftmax(l)
            let z = g.argmax(lsm + g.noise(.uniform, shape: l.shape, stream: 12))
            let lq = g.pick(lsm, index: z)
            return ([z, lq], g.sum(lq))
        },
        LookAlike(description: "the unnormalised logits in the draw") { g, l in
            let z = g.argmax(l + g.noise(.gumbel, shape: l.shape, stream: 12))
            let lq = g.pick(g.logSoftmax(l), index: z)
            return ([z, lq], g.sum(lq))
        },
        LookAlike(description: "the log-density picked at another index") { g, l in
            let lsm = g.logSoftmax(l)
            let z = g.argmax(lsm + g.noise(.gumbel, shape: l.shape, stream: 12))
            let other = g.argmax(g.noise(.gumbel, shape: l.shape, stream: 16))
            let lq = g.pick(lsm, index: other)
            return ([z, lq], g.sum(lq))
        },
        LookAlike(description: "the normalisation along the plate's axis") { g, l in
            let lsm = g.logSoftmax(l, axis: 0)
            let z = g.argmax(lsm + g.noise(.gumbel, shape: l.shape, stream: 12))
            let lq = g.pick(lsm, index: z)
            return ([z, lq], g.sum(lq))
        },
        LookAlike(description: "the noisy scores a requested output") { g, l in
            let lsm = g.logSoftmax(l), scores = lsm + g.noise(.gumbel, shape: l.shape, stream: 12)
            let z = g.argmax(scores)
            let lq = g.pick(lsm, index: z)
            return ([z, lq, scores], g.sum(lq))
        },
        LookAlike(description: "two particles of one law") { g, l in
            let law = try Categorical(.logits(l))
            let z = law.sample([2], stream: 3), lq = try law.logProb(z)
            return ([z, lq], g.sum(lq))
        },
    ]

    @Test(arguments: lookAlikes)
    func lookAlikesThatDifferInOnePieceStayUnfused(_ c: LookAlike) throws {
        var r = TestValues(seed: 5)
        let l0 = r.tensor([40, 3], -2, 2)
        func compiled(_ fusions: Set<Fusion>) throws -> (Tape, Node, [Node]) {
            let g = Graph()
            g.fusions = fusions
            let l = g.parameter("logits", l0)
            let (outputs, loss) = try c.build(g, l)
            return (try g.compile(loss: loss, outputs: outputs), l, outputs)
        }
        let (fused, fl, fo) = try compiled(Set(Fusion.allCases))
        let (plain, pl, po) = try compiled(Set(Fusion.allCases).subtracting([.categoricalDrawPlate]))
        #expect(!fused.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        for step in [UInt64(0), 3] {
            for t in [fused, plain] { t.seed = 2; t.step = step; t.forward(); t.backward() }
            for (a, b) in zip(fo, po) { #expect(fused.value(of: a).scalars == plain.value(of: b).scalars) }
            #expect(fused.gradient(of: fl).scalars == plain.gradient(of: pl).scalars)
        }
    }
}
