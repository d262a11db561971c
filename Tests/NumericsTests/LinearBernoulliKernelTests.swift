#if canImport(Glibc)
import Glibc
#endif
import CVecMath
import Testing
import TestSupport

/// The fused logistic likelihood over a block-transposed design matrix
/// (`svm_linear_bernoulli`), every variant this CPU has, against the same sum and gradient
/// formed in x87 extended precision (Float80), with bounds derived beforehand from the
/// per-element bounds of `bernoulli_logits` (6 ulp of max(|v|, 1) for the log-mass, 5 ulp for
/// σ, VectorKernelAccuracyTests) and the standard bound of a sum of k rounded terms,
/// (k − 1)·u·Σ|terms|, for the logits' dot products and the two sums over rows. The AVX-512
/// variant tiles particles two at a time over each row block and sums even and odd features
/// apart, so the shapes cover odd and even particle and feature counts (a lone particle and a
/// lone feature left over) and the benchmark's 16 particles.
@Suite struct LinearBernoulliKernelTests {
    /// (rows, features, particles, label stride): full blocks only, a partial last block,
    /// one label for all rows, many particles over one feature, the 16-particle benchmark row,
    /// three tiles of two plus one, and three of two, over partial blocks and odd features;
    /// then a lone partial block (N < 32) under eight tiles of two plus one at odd D, a single
    /// row, feature and particle, one row past a full block at even D, and three full blocks.
    static let shapes: [(Int, Int, Int, Int)] = [(1000, 10, 1, 1), (77, 3, 2, 1), (500, 50, 3, 0), (64, 1, 16, 1),
                                                 (1000, 10, 16, 1), (77, 3, 7, 1), (45, 5, 6, 0),
                                                 (31, 9, 17, 1), (1, 1, 1, 0), (33, 2, 4, 1), (96, 7, 5, 0)]

    static func softplus(_ x: Float80) -> Float80 { x > 0 ? x + log1pl(expl(-x)) : log1pl(expl(x)) }

    @Test(arguments: [0, 1, 2], shapes.indices)
    func matchesTheExtendedPrecisionSumAndGradient(_ level: Int32, _ which: Int) {
        let (n, d, p, ys) = Self.shapes[which]
        var g = SplitMix64(seed: UInt64(40 + which))
        func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * Double(g.next() >> 11) * 0x1p-53 }
        let x = (0..<(n * d)).map { _ in uniform(-1, 1) }
        let w = (0..<(p * d)).map { _ in uniform(-2, 2) }
        let y = (0..<(ys == 0 ? 1 : p * n)).map { _ in Double(g.next() & 1) }
        // Block-transposed: rows 32b ..< 32b + nb as one [d, nb] row-major slab at 32b·d.
        var xt = [Double](repeating: 0, count: n * d)
        for start in stride(from: 0, to: n, by: 32) {
            let nb = Swift.min(32, n - start)
            for i in 0..<nb { for j in 0..<d { xt[start * d + j * nb + i] = x[(start + i) * d + j] } }
        }
        var grad = [Double](repeating: 0, count: p * d), tmp = [Double](repeating: 0, count: svm_linear_bernoulli_scratch(d, p))
        let sum = svm_linear_bernoulli_at(level, xt, n, d, w, p, y, ys, &grad, &tmp)

        let u = Float80(Double.ulpOfOne / 2)
        var refSum: Float80 = 0, sumBound: Float80 = 0, sumAbs: Float80 = 0
        for q in 0..<p {
            for j in 0..<d {
                var refGrad: Float80 = 0, bound: Float80 = 0, gradAbs: Float80 = 0
                for i in 0..<n {
                    var l: Float80 = 0, lAbs: Float80 = 0
                    for k in 0..<d { let t = Float80(x[i * d + k]) * Float80(w[q * d + k]); l += t; lAbs += Swift.abs(t) }
                    let label = Float80(y[ys == 0 ? 0 : q * n + i]), xij = Float80(x[i * d + j])
                    let r = label - 1 / (1 + expl(-l))
                    refGrad += r * xij
                    gradAbs += Swift.abs(r * xij)
                    // σ to 5 ulp (10u), y − σ rounded (u), the logit's error (d·u·Σ|x w|) through σ' ≤ ¼.
                    bound += Swift.abs(xij) * (11 * u + Float80(d) * u * lAbs / 4)
                    if j == 0 {
                        let v = label * l - Self.softplus(l)
                        refSum += v
                        sumAbs += Swift.abs(v)
                        // 6 ulp of max(|v|, 1), and the logit's error through |∂v/∂ℓ| ≤ 1.
                        sumBound += 12 * u * Swift.max(Swift.abs(v), 1) + Float80(d) * u * lAbs
                    }
                }
                bound += Float80(n) * u * gradAbs
                let err = Swift.abs(Float80(grad[q * d + j]) - refGrad)
                #expect(err <= bound, "level \(level), shape \(which): ∂w[\(q), \(j)] off by \(err), bound \(bound)")
            }
        }
        sumBound += Float80(n * p) * u * sumAbs
        let err = Swift.abs(Float80(sum) - refSum)
        #expect(err <= sumBound, "level \(level), shape \(which): sum off by \(err), bound \(sumBound)")
    }

    /// A level above the CPU's falls back to the best it has; the AVX-512 and AVX2 variants
    /// differ only in summation order.
    @Test func variantsAgreeToRounding() {
        let n = 1000, d = 10
        var g = SplitMix64(seed: 7)
        let xt = (0..<(n * d)).map { _ in Double(g.next() >> 11) * 0x1p-52 - 1 }
        let w = (0..<d).map { _ in Double(g.next() >> 11) * 0x1p-51 - 2 }
        let y = (0..<n).map { _ in Double(g.next() & 1) }
        var tmp = [Double](repeating: 0, count: svm_linear_bernoulli_scratch(d, 1))
        var sums: [Double] = [], grads: [[Double]] = []
        for level in Int32(0)...2 {
            var grad = [Double](repeating: 0, count: d)
            sums.append(svm_linear_bernoulli_at(level, xt, n, d, w, 1, y, 1, &grad, &tmp))
            grads.append(grad)
        }
        for k in 1...2 {
            #expect(Swift.abs(sums[k] - sums[0]) <= 1e-12 * Swift.abs(sums[0]))
            for j in 0..<d { #expect(Swift.abs(grads[k][j] - grads[0][j]) <= 1e-12 * Swift.max(1, Swift.abs(grads[0][j]))) }
        }
        var grad = [Double](repeating: 0, count: d)
        #expect(svm_linear_bernoulli_at(9, xt, n, d, w, 1, y, 1, &grad, &tmp) == svm_linear_bernoulli(xt, n, d, w, 1, y, 1, &grad, &tmp))
    }

    /// Many particles in one call give each particle the gradient it gets alone, bit for bit
    /// (a particle's logits, residuals and gradient lanes are summed in the same order whatever
    /// tile it shares), and the sum of the single-particle sums to rounding.
    @Test(arguments: [0, 1, 2])
    func particlesTogetherMatchParticlesAlone(_ level: Int32) {
        let n = 77, d = 3, p = 7
        var g = SplitMix64(seed: 23)
        let xt = (0..<(n * d)).map { _ in Double(g.next() >> 11) * 0x1p-52 - 1 }
        let w = (0..<(p * d)).map { _ in Double(g.next() >> 11) * 0x1p-51 - 2 }
        let y = (0..<(p * n)).map { _ in Double(g.next() & 1) }
        var tmp = [Double](repeating: 0, count: svm_linear_bernoulli_scratch(d, p))
        var grad = [Double](repeating: 0, count: p * d)
        let sum = svm_linear_bernoulli_at(level, xt, n, d, w, p, y, 1, &grad, &tmp)
        var alone: [Double] = [], sumAlone = 0.0, sumAbs = 0.0
        for q in 0..<p {
            var gq = [Double](repeating: 0, count: d)
            let s = svm_linear_bernoulli_at(level, xt, n, d, Array(w[(q * d)..<((q + 1) * d)]), 1,
                                            Array(y[(q * n)..<((q + 1) * n)]), 1, &gq, &tmp)
            alone += gq
            sumAlone += s
            sumAbs += Swift.abs(s)
        }
        #expect(grad == alone)
        // Two orders of summing n·p terms: each within (n·p)·u·Σ|terms| of the exact sum,
        // Σ|terms| ≥ Σ_q |sum_q| (every term is negative).
        #expect(Swift.abs(sum - sumAlone) <= 2 * Double(n * p) * Double.ulpOfOne / 2 * sumAbs)
    }
}
