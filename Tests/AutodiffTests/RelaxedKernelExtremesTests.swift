import Testing
import Foundation
import CVecMath

/// The relaxed one-hot kernel's AVX-512 variant (CVecMath's own log and exp) against the
/// baseline (glibc's log and exp) where the inputs are extreme: temperatures from 10⁻³ to 100,
/// normalised logits spread over 10⁻³ to 10⁵ (scores (ℓ + G)/τ up to 10⁸, exps deep in the
/// underflow range, rows one-hot to rounding), row counts on and off the 64-row blocks; and the
/// backward variants (AVX2 and AVX-512 the same bits, as the header says).
@Suite struct RelaxedKernelExtremesTests {
    @Test(arguments: [2, 3, 7])
    func theOwnLogAndExpVariantAgreesWithTheBaselineOnExtremeInputs(_ k: Int) {
        let eps = 2.220446049250313e-16
        var worst = 0.0
        for rows in [1, 63, 65] {
            for tau in [1e-3, 0.5, 100] {
                for spread in [1e-3, 30, 700, 1e5] {
                    var r = TestValues(seed: UInt64(rows * 31 + k))
                    var l = (0..<(rows * k)).map { _ in r.uniform(-spread, spread) }
                    for row in 0..<rows {
                        let x = l[(row * k)..<(row * k + k)].map(Float80.init), m = x.max()!
                        let lse = m + logl(x.map { expl($0 - m) }.reduce(0, +))
                        for j in 0..<k { l[row * k + j] = Double(x[j] - lse) }
                    }
                    let offset = Double(Float80(k - 1) * logl(Float80(tau)) + lgammal(Float80(k)))
                    let reals = [Double(k), eps, 1 - eps, eps, 1 - eps]
                    var out: [(soft: [Double], hard: [Double], lp: [Double], unclamped: [Double], weights: [Double])] = []
                    for level: Int32 in [0, 2] {
                        var soft = [Double](repeating: 0, count: rows * k), hard = soft, unclamped = soft, weights = soft
                        var lp = [Double](repeating: 0, count: rows), scratch = [Double](repeating: .nan, count: 64 * (4 * k + 7))
                        svm_relaxed_onehot_at(level, l, rows, k, tau, reals, offset, 7, 8, 3 << 32, &soft, &hard, &lp, &unclamped, &weights, &scratch)
                        out.append((soft, hard, lp, unclamped, weights))
                    }
                    let (a, b) = (out[0], out[1])
                    let context = "k \(k), rows \(rows), τ \(tau), spread \(spread)"
                    // Each variant's soft draw is within a few ulp of |A| (the scores (ℓ + G)/τ,
                    // |ℓ| ≤ 2·spread + 37 after normalising, |G| ≤ 37: their rounding, carried
                    // through exp as a relative error) plus 6|X| ulp (|X| ≤ 37) of the exact one,
                    // so the two within twice that: measured against a Float80 reference, both
                    // variants reach ≈ 2,000 ulp at τ = 10⁻³ (|A| ≈ 4·10⁴), the own log and exp
                    // no worse than glibc's. A wrong branch or a lost clamp is O(1).
                    let perEntry = (6 * 37 + 4 * (2 * spread + 37) / tau) * eps
                    #expect(a.hard == b.hard, "\(context)")
                    for i in 0..<(rows * k) {
                        #expect(a.soft[i].isFinite && b.soft[i].isFinite, "\(context) \(i)")
                        #expect(Swift.abs(a.soft[i] - b.soft[i]) <= 2 * perEntry * Swift.max(a.soft[i], 0x1p-1000), "\(context) \(i): \(a.soft[i]) vs \(b.soft[i])")
                    }
                    for row in 0..<rows {
                        let d = Swift.abs(a.lp[row] - b.lp[row])
                        worst = Swift.max(worst, d / Swift.max(1, Swift.abs(a.lp[row])))
                        #expect(a.lp[row].isFinite == b.lp[row].isFinite, "\(context) row \(row)")
                        #expect(d <= 2 * Double(2 * k + 2) * perEntry * Swift.max(1, Swift.abs(a.lp[row])), "\(context) row \(row): \(a.lp[row]) vs \(b.lp[row])")
                    }
                    // The backward pass from the AVX-512 forward's outputs: AVX2 and AVX-512 bit for bit.
                    var r2 = TestValues(seed: 5)
                    let gs = (0..<(rows * k)).map { _ in r2.uniform(-1, 1) }, gh = gs.map { -0.5 * $0 }
                    let glp = (0..<rows).map { _ in r2.uniform(-1, 1) }
                    var grads: [[Double]] = []
                    for level: Int32 in [1, 2] {
                        var g = [Double](repeating: 0, count: rows * k), scratch = [Double](repeating: .nan, count: 64 * (4 * k + 7))
                        svm_relaxed_onehot_backward_at(level, rows, k, tau, reals, b.soft, b.unclamped, b.weights, gs, gh, glp, &g, &scratch)
                        grads.append(g)
                    }
                    #expect(grads[0].map(\.bitPattern) == grads[1].map(\.bitPattern), "\(context)")
                }
            }
        }
        #expect(worst < 1e-9, "measured worst log-density difference \(worst)")
    }
}
