import CVecMath
import Testing
import TestSupport

/// CVecMath's `smp_gemm` (the OMT backward rule's square products on AVX-512) against
/// Float80 sums. Each entry is one chain of k fused multiply-adds then the scaling, so its error
/// is within (k + 2)ε times the sum of the magnitudes of its terms (Higham, Accuracy and
/// Stability of Numerical Algorithms, §3.1, with one rounding per multiply-add).
@Suite struct SmallProductsTests {
    static let eps = Float80(Double.ulpOfOne)

    @Test func onlyAVX512MachinesRunIt() {
        #expect((smp_available() != 0) == (svm_cpu_level() >= 2))
    }

    /// (m, n, k): a single entry, edge blocks narrower than 6 rows and 32 columns, the benchmark's
    /// d = 50, the largest d it serves (64), and rectangular shapes.
    @Test(arguments: [(1, 1, 1), (5, 3, 7), (6, 32, 4), (7, 33, 2), (17, 17, 17), (50, 50, 50), (64, 64, 64), (50, 45, 13)])
    func productsAreWithinTheForwardErrorBound(_ shape: (Int, Int, Int)) {
        guard smp_available() != 0 else { return }
        let (m, n, k) = shape
        var random = SplitMix64(seed: UInt64(m * 10_000 + n * 100 + k))
        func uniform() -> Double { Double(random.next() >> 11) * 0x1p-53 * 2 - 1 }
        for transposeA in [false, true] {
            for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-1.5, 0.25)] {
                // Stored A is m×k or (transposed) k×m, with 3 extra columns; B and C 2 extra.
                let lda = (transposeA ? m : k) + 3, ldb = n + 2, ldc = n + 2
                let a = (0..<((transposeA ? k : m) * lda)).map { _ in uniform() }
                let b = (0..<(k * ldb)).map { _ in uniform() }
                // β = 0 must not read C: NaN there would otherwise show.
                let c0 = (0..<(m * ldc)).map { i in beta == 0 && i % ldc < n ? Double.nan : uniform() }
                var c = c0
                smp_gemm(transposeA ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, &c, ldc)
                for i in 0..<m {
                    for j in 0..<ldc {
                        guard j < n else { #expect(c[i * ldc + j].bitPattern == c0[i * ldc + j].bitPattern); continue }
                        var exact: Float80 = 0, magnitude: Float80 = 0
                        for p in 0..<k {
                            let x = Float80(transposeA ? a[p * lda + i] : a[i * lda + p]) * Float80(b[p * ldb + j])
                            exact += x; magnitude += abs(x)
                        }
                        exact *= Float80(alpha); magnitude *= Float80(abs(alpha))
                        if beta != 0 {
                            exact += Float80(beta) * Float80(c0[i * ldc + j]); magnitude += abs(Float80(beta) * Float80(c0[i * ldc + j]))
                        }
                        let error = abs(Float80(c[i * ldc + j]) - exact)
                        #expect(error <= Float80(k + 2) * Self.eps * magnitude,
                                "m \(m) n \(n) k \(k) transposeA \(transposeA) α \(alpha) β \(beta) at (\(i), \(j)): \(error) vs \(magnitude)")
                    }
                }
            }
        }
    }
}
