import Testing
import Foundation
import Numerics
import Distributions
import CVecMath
@testable import Autodiff

/// The fused relaxed one-hot instruction (`relaxedOneHotPlate`) against an independent
/// reference: the same law written out in extended precision (Float80) from the same
/// uniforms, and its straight-through gradient against central differences of that reference.
@Suite struct RelaxedOneHotFusionTests {
    /// A relaxed (or straight-through) draw of `RelaxedOneHotCategorical(τ, logits)` over `rows`
    /// rows, its log-density, and loss = Σ W ⊙ value + Σ w ⊙ log q.
    struct Site {
        let tape: Tape, logits: Node, value: Node, soft: Node, logProb: Node, loss: Node
        let weights: [Double], densityWeights: [Double], stream: Int
    }

    static func site(rows: Int, k: Int, tau: Double, straightThrough: Bool, logits l0: Tensor, seed: UInt64) throws -> Site {
        let g = Graph()
        let logits = g.parameter("logits", l0)
        let law = try RelaxedOneHotCategorical(temperature: g.constant(tau), .logits(logits))
        let stream = 3
        let value: Node, soft: Node
        if straightThrough {
            let draw = try law.rsampleStraightThrough([], stream: stream)
            value = draw.hard; soft = draw.soft
        } else {
            soft = try law.rsample([], stream: stream); value = soft
        }
        let lp = try law.logProb(soft)
        var r = TestValues(seed: seed)
        let w = r.tensor([rows, k]), wq = r.tensor([rows])
        let loss = g.sum(value * g.constant(w)) + g.sum(lp * g.constant(wq))
        let tape = try g.compile(loss: loss, outputs: [value, soft, lp])
        return Site(tape: tape, logits: logits, value: value, soft: soft, logProb: lp, loss: loss,
                    weights: w.scalars, densityWeights: wq.scalars, stream: 4 * stream)
    }

    /// The draw, log-density and loss in Float80 from the uniforms `u`, with the value taken
    /// from `hard` for the straight-through estimator (the hard value is a function of the soft
    /// draw that is flat almost everywhere; its gradient is the soft draw's).
    static func reference(_ l: [Float80], _ u: [Double], k: Int, tau: Float80, straightThrough: Bool)
        -> (soft: [Float80], hard: [Float80], logProb: [Float80]) {
        let rows = l.count / k, eps = Float80(2.220446049250313e-16)
        var soft = [Float80](repeating: 0, count: l.count), hard = soft, lp = [Float80](repeating: 0, count: rows)
        let logScale = Float80(k - 1) * logl(tau) + lgammal(Float80(k))
        for r in 0..<rows {
            let row = Array(l[(r * k)..<(r * k + k)])
            let m = row.max()!, lse = m + logl(row.map { expl($0 - m) }.reduce(0, +))
            let lg = row.map { $0 - lse }
            let scores = (0..<k).map { j -> Float80 in
                let uj = Float80(Swift.min(Swift.max(u[r * k + j], 2.220446049250313e-16), 1 - 2.220446049250313e-16))
                return (lg[j] - logl(-logl(uj))) / tau
            }
            let ms = scores.max()!, e = scores.map { expl($0 - ms) }, s = e.reduce(0, +)
            let c = e.map { Swift.min(Swift.max($0 / s, eps), 1 - eps) }
            var best = 0
            for j in 1..<k where c[j] > c[best] { best = j }
            let x = c.map { logl($0) }
            let t = (0..<k).map { lg[$0] - x[$0] * tau }
            let mt = t.max()!, lseT = mt + logl(t.map { expl($0 - mt) }.reduce(0, +))
            lp[r] = t.reduce(0, +) - Float80(k) * lseT + logScale - x.reduce(0, +)
            for j in 0..<k { soft[r * k + j] = c[j]; hard[r * k + j] = j == best ? 1 : 0 }
        }
        return (soft, straightThrough ? hard : soft, lp)
    }

    @Test(arguments: [(2, false), (3, false), (4, false), (5, false), (2, true), (3, true), (4, true), (5, true)])
    func theFusedSiteMatchesAnExtendedPrecisionReferenceAndItsFiniteDifferences(k: Int, straightThrough: Bool) throws {
        var r = TestValues(seed: UInt64(10 * k + (straightThrough ? 1 : 0)))
        try Self.checkAgainstTheReference(k: k, straightThrough: straightThrough, logits: r.tensor([70, k], -2, 2))
    }

    /// The last entry's logit 25 below the others: its soft draw (scores ≥ 50 apart) is clamped
    /// at ε in every row while the others are not, so each row's log-density mixes the kernel's
    /// identity form (log S = D − log Σe^D, e^{T − c} = −log u) with the direct form of the
    /// clamped entry.
    @Test(arguments: [(3, true), (4, false), (5, false)])
    func rowsWithClampedAndUnclampedEntriesMatchTheReference(k: Int, straightThrough: Bool) throws {
        var r = TestValues(seed: UInt64(70 + k))
        let rows = 70
        let l0 = Tensor(shape: [rows, k], scalars: (0..<(rows * k)).map { i in (i % k == k - 1 ? -25 : 0) + r.uniform(-1, 1) })
        try Self.checkAgainstTheReference(k: k, straightThrough: straightThrough, logits: l0)
    }

    /// Every variant of the C kernel — baseline and AVX2 with libmvec's log and exp, AVX-512 with
    /// CVecMath's own (a level above the CPU's runs the best below it) — against the Float80
    /// reference with the bounds of `checkAgainstTheReference`, on normalised logits (the fused
    /// instruction's input) whose last entry is 25 below the others in every third row (clamped
    /// and unclamped entries). A row with a NaN or infinite logit has a non-finite log-density
    /// in every variant, the other rows are unchanged: the own log and exp keep what is not
    /// finite not finite.
    @Test(arguments: [0, 1, 2] as [Int32])
    func everyVariantOfTheKernelMatchesTheReference(_ level: Int32) {
        let tau = 0.5, eps = 2.220446049250313e-16, seed: UInt64 = 11, stream: UInt64 = 12, rows = 150
        for k in [2, 3, 5] {
            var r = TestValues(seed: UInt64(90 + k))
            let raw = (0..<(rows * k)).map { i in ((i / k) % 3 == 0 && i % k == k - 1 ? -25 : 0) + r.uniform(-2, 2) }
            var l = raw
            for row in 0..<rows {
                let x = raw[(row * k)..<(row * k + k)].map(Float80.init), m = x.max()!
                let lse = m + logl(x.map { expl($0 - m) }.reduce(0, +))
                for j in 0..<k { l[row * k + j] = Double(x[j] - lse) }
            }
            let offset = Double(Float80(k - 1) * logl(Float80(tau)) + lgammal(Float80(k)))
            let reals = [Double(k), eps, 1 - eps, eps, 1 - eps]
            var soft = [Double](repeating: 0, count: rows * k), hard = soft, unclamped = soft, weights = soft
            var lp = [Double](repeating: 0, count: rows), scratch = [Double](repeating: 0, count: 64 * (4 * k + 7))
            let maxLogit = l.map(Swift.abs).max()!, m = 2 * (maxLogit + 10 + 37.0), bound = 128 * eps * m
            for step in [UInt64(0), 5] {
                svm_relaxed_onehot_at(level, l, rows, k, tau, reals, offset, seed, stream, step << 32,
                                      &soft, &hard, &lp, &unclamped, &weights, &scratch)
                var rng = RandomStream(seed: seed, stream: stream, counter: step << 32)
                var u = [Double](repeating: 0, count: rows * k)
                u.withUnsafeMutableBufferPointer { rng.fillUniform($0.baseAddress!, count: rows * k) }
                let ref = Self.reference(l.map(Float80.init), u, k: k, tau: Float80(tau), straightThrough: true)
                for i in 0..<(rows * k) {
                    #expect(Swift.abs(soft[i] - Double(ref.soft[i])) <= bound * Swift.max(soft[i], 1e-300) + 1e-300, "level \(level), k = \(k), \(i)")
                    #expect(hard[i] == Double(ref.hard[i]), "level \(level), k = \(k), \(i)")
                }
                for i in 0..<rows {
                    #expect(Swift.abs(lp[i] - Double(ref.logProb[i])) <= Double(2 * k + 2) * bound * (tau * m + 37), "level \(level), k = \(k), row \(i)")
                }
            }
            let finite = lp
            var bad = l
            bad[0] = .nan; bad[k + 1] = .infinity; bad[2 * k] = -.infinity; bad[3 * k] = .nan; bad[3 * k + 1] = .nan
            svm_relaxed_onehot_at(level, bad, rows, k, tau, reals, offset, seed, stream, 5 << 32,
                                  &soft, &hard, &lp, &unclamped, &weights, &scratch)
            for i in 0..<4 { #expect(!lp[i].isFinite, "level \(level), k = \(k), row \(i): \(lp[i])") }
            #expect(Array(lp[4...]).map(\.bitPattern) == Array(finite[4...]).map(\.bitPattern), "level \(level), k = \(k)")
        }
    }

    /// The backward pass has no transcendental: its AVX2 and AVX-512 variants (four and eight
    /// lanes, FMA-contracted alike) give the same bits, for every combination of adjoints (the
    /// value's, the straight-through value's, the log-density's) and every k; the variant in use
    /// is checked against finite differences above.
    @Test func theBackwardPassIsTheSameInEveryVectorVariant() {
        let tau = 0.5, eps = 2.220446049250313e-16, rows = 131
        for k in [2, 3, 4, 5] {
            var r = TestValues(seed: UInt64(200 + k))
            let l = (0..<(rows * k)).map { i in (i % k == 0 && i % 3 == 0 ? 40 : 0) + r.uniform(-2, 2) }
            let reals = [Double(k), eps, 1 - eps, eps, 1 - eps]
            var soft = [Double](repeating: 0, count: rows * k), hard = soft, unclamped = soft, weights = soft
            var lp = [Double](repeating: 0, count: rows), scratch = [Double](repeating: 0, count: 64 * (4 * k + 7))
            svm_relaxed_onehot(l, rows, k, tau, reals, 0.3, 9, 4, 0, &soft, &hard, &lp, &unclamped, &weights, &scratch)
            let gSoft = (0..<(rows * k)).map { _ in r.uniform(-1, 1) }, gHard = (0..<(rows * k)).map { _ in r.uniform(-1, 1) }
            let gLP = (0..<rows).map { _ in r.uniform(-1, 1) }
            for (useHard, useLP) in [(false, false), (true, false), (false, true), (true, true)] {
                var results: [[UInt64]] = []
                for level: Int32 in [1, 2] {
                    var g = [Double](repeating: 0.25, count: rows * k)
                    gHard.withUnsafeBufferPointer { gh in
                        gLP.withUnsafeBufferPointer { gl in
                            svm_relaxed_onehot_backward_at(level, rows, k, tau, reals, soft, unclamped, weights, gSoft,
                                                           useHard ? gh.baseAddress : nil, useLP ? gl.baseAddress : nil, &g, &scratch)
                        }
                    }
                    #expect(g.allSatisfy { $0.isFinite })
                    results.append(g.map(\.bitPattern))
                }
                #expect(results[0] == results[1], "k = \(k), hard \(useHard), log-density \(useLP)")
            }
        }
    }

    static func checkAgainstTheReference(k: Int, straightThrough: Bool, logits l0: Tensor) throws {
        let rows = l0.shape[0], tau = 0.5
        let site = try Self.site(rows: rows, k: k, tau: tau, straightThrough: straightThrough, logits: l0, seed: 5)
        #expect(site.tape.appliedFusions.contains { $0.fusion == .relaxedOneHotPlate })
        for step in [UInt64(0), 1, 17] {
            site.tape.step = step
            site.tape.forward(); site.tape.backward()
            var rng = RandomStream(seed: site.tape.seed, stream: UInt64(site.stream), counter: step << 32)
            var u = [Double](repeating: 0, count: rows * k)
            u.withUnsafeMutableBufferPointer { rng.fillUniform($0.baseAddress!, count: rows * k) }
            let ref = Self.reference(l0.scalars.map(Float80.init), u, k: k, tau: Float80(tau), straightThrough: straightThrough)
            // Rounding bound: each element is ≈ 20 rounded operations (with the vector kernels'
            // ≤ 4 ulp), on scores up to M = (max|ℓ| + 2 log n + |log u|)/τ ≤ 2·(max|ℓ| + 10 + 37);
            // the soft draw carries the scores' absolute error relatively: 128 ε M.
            let maxLogit = l0.scalars.map(Swift.abs).max() ?? 0
            let eps = 2.220446049250313e-16, m = 2 * (maxLogit + 10 + 37.0), bound = 128 * eps * m
            let soft = site.tape.value(of: site.soft).scalars, value = site.tape.value(of: site.value).scalars
            let lp = site.tape.value(of: site.logProb).scalars
            for i in 0..<(rows * k) {
                #expect(Swift.abs(soft[i] - Double(ref.soft[i])) <= bound * Swift.max(soft[i], 1e-300) + 1e-300)
                #expect(value[i] == Double(ref.hard[i]) || Swift.abs(value[i] - Double(ref.hard[i])) <= bound * Swift.max(value[i], 1e-300))
            }
            // The log-density sums 2K + 2 terms of magnitude up to τM + |log ε|.
            for i in 0..<rows { #expect(Swift.abs(lp[i] - Double(ref.logProb[i])) <= Double(2 * k + 2) * bound * (tau * m + 37)) }

            // The gradient against central differences of the Float80 reference with the
            // straight-through rule (∂ value/∂ℓ taken as ∂ soft/∂ℓ), at h = 1e-6: truncation
            // O(h²) ≈ 1e-12, the reference's rounding ≈ 1e-19/h ≈ 1e-13.
            let grad = site.tape.gradient(of: site.logits).scalars
            func objective(_ l: [Float80]) -> Float80 {
                let f = Self.reference(l, u, k: k, tau: Float80(tau), straightThrough: false)
                var total: Float80 = 0
                for i in 0..<(rows * k) { total += Float80(site.weights[i]) * f.soft[i] }
                for i in 0..<rows { total += Float80(site.densityWeights[i]) * f.logProb[i] }
                return total
            }
            let base = l0.scalars.map(Float80.init), h: Float80 = 1e-6
            for i in stride(from: 0, to: rows * k, by: 7) {
                var up = base, down = base
                up[i] += h; down[i] -= h
                let fd = Double((objective(up) - objective(down)) / (2 * h))
                #expect(Swift.abs(grad[i] - fd) <= 1e-8 * Swift.max(1, Swift.abs(fd)), "step \(step), element \(i): \(grad[i]) vs \(fd)")
            }
        }
    }

    @Test func theFusedAndPerNodeSitesAgreeWhereTheClampBites() throws {
        // Logits 40 apart: the soft draw sits at the clamp's bounds in most rows, where the
        // log-density's 1/C reaches 1/ε and the clamp's mask stops the softmax gradient.
        let rows = 40, k = 3
        var r = TestValues(seed: 99)
        let l0 = Tensor(shape: [rows, k], scalars: (0..<(rows * k)).map { i in (i % k == 0 ? 40 : 0) + r.uniform(-1, 1) })
        let fused = try Self.site(rows: rows, k: k, tau: 0.5, straightThrough: true, logits: l0, seed: 5)
        #expect(fused.tape.appliedFusions.contains { $0.fusion == .relaxedOneHotPlate })
        let g = Graph()
        g.fusions = []
        let logits = g.parameter("logits", l0)
        let law = try RelaxedOneHotCategorical(temperature: g.constant(0.5), .logits(logits))
        let draw = try law.rsampleStraightThrough([], stream: 3)
        let lp = try law.logProb(draw.soft)
        let loss = g.sum(draw.hard * g.constant(Tensor(shape: [rows, k], scalars: fused.weights)))
            + g.sum(lp * g.constant(Tensor(fused.densityWeights)))
        let plain = try g.compile(loss: loss, outputs: [draw.hard, draw.soft, lp])
        for step in [UInt64(2), 3] {
            for t in [fused.tape, plain] { t.step = step; t.forward(); t.backward() }
            let eps = 2.220446049250313e-16
            let fv = fused.tape.scalar(of: fused.loss), pv = plain.scalar(of: loss)
            // The graph takes X = log C and logsumexp T directly; the kernel, where C = S, takes
            // X = D − log Σe^D (≤ (6|X| + 5 log K + K + 6) ε apart, |X| ≤ |log ε| = 36.1) and
            // e^{T − c} = −log u (T − c = ℓ − τA against −G: ≤ 2 ε |ℓ + G| ≤ 2 ε τM, M ≤ 2·(41 + 37)
            // the scores here), each entry's T, X and the row's logsumexp entering the density
            // with weight ≤ κ = K: per row ≤ 3K·(6·36.1 + 5 log K + K + 6 + 2τM) ε, times Σ|w|.
            let mScores = 2 * (41 + 37.0), perRow = 3 * Double(k) * (6 * 36.1 + 5 * log(Double(k)) + Double(k) + 6 + mScores) * eps
            let identityBound = perRow * fused.densityWeights.map(Swift.abs).reduce(0, +)
            #expect(Swift.abs(fv - pv) <= 1e-12 * Swift.max(1, Swift.abs(pv)) + identityBound)
            let fg = fused.tape.gradient(of: fused.logits).scalars, pg = plain.gradient(of: logits).scalars
            let scale = pg.map(Swift.abs).max() ?? 1
            // The two paths round the same operations in the same order but for the absorbed
            // normalisation (scores shifted by up to 45), τ's reciprocal and the identity forms
            // above (the density's weights softmax(T) = e^{T − c}/Σ relatively as T − c, ≤ 2τM ε
            // = 78 ε here): 1e3 ε of the largest entry (1/ε-sized where the clamp bites).
            for i in 0..<fg.count { #expect(Swift.abs(fg[i] - pg[i]) <= 1e3 * eps * Swift.max(1, scale)) }
            #expect(fused.tape.value(of: fused.value).scalars == plain.value(of: draw.hard).scalars)
            // And the log-density against the Float80 reference, with the first test's bound on
            // these scores (M ≤ 2·(41 + 10 + 37)).
            var rng = RandomStream(seed: fused.tape.seed, stream: UInt64(fused.stream), counter: step << 32)
            var u = [Double](repeating: 0, count: rows * k)
            u.withUnsafeMutableBufferPointer { rng.fillUniform($0.baseAddress!, count: rows * k) }
            let ref = Self.reference(l0.scalars.map(Float80.init), u, k: k, tau: 0.5, straightThrough: true)
            let m = 2 * (41 + 10 + 37.0), bound = 128 * eps * m, flp = fused.tape.value(of: fused.logProb).scalars
            for i in 0..<rows { #expect(Swift.abs(flp[i] - Double(ref.logProb[i])) <= Double(2 * k + 2) * bound * (0.5 * m + 37)) }
        }
    }
}
