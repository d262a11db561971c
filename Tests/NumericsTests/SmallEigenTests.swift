import CVecMath
import Foundation
import Testing
@testable import Numerics
import TestSupport

/// The small symmetric eigensolver (`SmallEigen.c`, used by the OMT backward rule) against an
/// independent oracle: matrices A = Q diag(λ) Qᵀ built in Float80 from a known spectrum λ and a
/// product of random Householder reflections Q, then rounded to Double. The rounding moves the
/// spectrum by at most ‖ΔA‖₂ ≤ ‖ΔA‖_F ≤ 2⁻⁵³‖A‖_F ≤ 2⁻⁵³√n‖A‖₂ (Weyl), far inside the bounds.
///
/// Bounds: Householder tridiagonalisation and Givens-rotation QR are backward stable — the
/// computed (Λ, V) are an exact decomposition of A + E with V orthogonal to O(nε) and
/// ‖E‖₂ = O(nε‖A‖₂) (Golub & Van Loan, Matrix Computations, §8.3.6, with the rounding of each
/// reflection and rotation counted once per application). Each check below allows 4nε: the
/// residual ‖AV − VΛ‖_F/‖A‖₂, the loss of orthogonality ‖VᵀV − I‖_F, and each eigenvalue's
/// distance to the exact λᵢ over ‖A‖₂ (‖A‖₂ = max |λᵢ|). Residuals are summed in Float80.
@Suite struct SmallEigenTests {
    static let eps = Float80(Double.ulpOfOne)

    /// A = Q diag(λ) Qᵀ in Float80, Q a product of n random Householder reflections.
    static func matrix(_ lambda: [Double], seed: UInt64) -> [Float80] {
        let n = lambda.count
        var random = SplitMix64(seed: seed)
        func uniform() -> Float80 { Float80(Double(random.next() >> 11) * 0x1p-53 * 2 - 1) }
        var q = [Float80](repeating: 0, count: n * n)
        for i in 0..<n { q[i * n + i] = 1 }
        for _ in 0..<n {
            let u = (0..<n).map { _ in uniform() }
            let uu = u.reduce(0) { $0 + $1 * $1 }
            guard uu > 0 else { continue }
            // Q ← Q (I − 2uuᵀ/uᵀu)
            for r in 0..<n {
                var t: Float80 = 0
                for c in 0..<n { t += q[r * n + c] * u[c] }
                t *= 2 / uu
                for c in 0..<n { q[r * n + c] -= t * u[c] }
            }
        }
        var a = [Float80](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s: Float80 = 0
                for k in 0..<n { s += q[i * n + k] * Float80(lambda[k]) * q[j * n + k] }
                a[i * n + j] = s
            }
        }
        return a
    }

    /// Runs the solver (variant `level`) on A rounded to Double, with NaN in the strict upper
    /// triangle (only the lower one may be read) and a leading dimension of n + 2.
    static func solve(_ a: [Float80], n: Int, level: Int32) -> (info: Int32, w: [Double], v: [Double]) {
        let lda = n + 2
        var stored = [Double](repeating: .nan, count: max(1, n * lda))
        for i in 0..<n { for j in 0...i { stored[i * lda + j] = Double(a[i * n + j]) } }
        var w = [Double](repeating: 0, count: n)
        var work = [Double](repeating: 0, count: max(1, LinearAlgebra.smallEigenWorkspace(n: n)))
        let info = sme_symmetric_eigen_at(level, n, &stored, lda, &w, &work)
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { v[i * n + j] = stored[i * lda + j] } }
        return (info, w, v)
    }

    /// Residual, orthogonality and eigenvalue errors in units of nε (the first two and the last
    /// relative to ‖A‖₂ = max |λ|).
    static func errors(_ lambda: [Double], seed: UInt64, level: Int32) -> (residual: Float80, orthogonality: Float80, values: Float80)? {
        let n = lambda.count
        let a = matrix(lambda, seed: seed)
        let (info, w, v) = solve(a, n: n, level: level)
        guard info == 0 else { return nil }
        guard zip(w, w.dropFirst()).allSatisfy({ $0 <= $1 }) else { return nil }
        let norm = Float80(lambda.map(abs).max()!)
        let unit = Float80(n) * eps
        var residual: Float80 = 0, orthogonality: Float80 = 0
        for i in 0..<n {
            for j in 0..<n {
                var av: Float80 = 0, vv: Float80 = 0
                for k in 0..<n {
                    av += Float80(Double(a[i * n + k])) * Float80(v[k * n + j])
                    vv += Float80(v[k * n + i]) * Float80(v[k * n + j])
                }
                let r = av - Float80(v[i * n + j]) * Float80(w[j])
                residual += r * r
                let o = vv - (i == j ? 1 : 0)
                orthogonality += o * o
            }
        }
        let sorted = lambda.sorted()
        let values = zip(w, sorted).map { abs(Float80($0) - Float80($1)) }.max() ?? 0
        let scale = norm > 0 ? norm : 1
        return (residual.squareRoot() / scale / unit, orthogonality.squareRoot() / unit, values / scale / unit)
    }

    /// Spectra: well and ill conditioned (κ up to 1e7, like Σ⁻¹ on the D = 50 benchmark row),
    /// exactly repeated eigenvalues, indefinite, and scaled near the ends of the exponent range.
    static func spectra(_ n: Int) -> [(String, [Double])] {
        let ramp = (0..<n).map { Double($0) / Double(max(1, n - 1)) }
        return [
            ("uniform in [1, 2]", ramp.map { 1 + $0 }),
            ("κ = 1e3, log-spaced", ramp.map { pow(10, 3 * $0) }),
            ("κ = 1e7, log-spaced", ramp.map { pow(10, 7 * $0) }),
            ("κ = 3e7, log-spaced", ramp.map { pow(3e7, $0) }),
            ("κ = 1e7, two clusters", ramp.map { $0 < 0.5 ? 1e-7 * (1 + 1e-9 * $0) : 1 + 1e-9 * $0 }),
            ("three repeated values", (0..<n).map { [1.0, 2.0, 5.0][$0 % 3] }),
            ("all equal", [Double](repeating: 3, count: n)),
            ("indefinite", ramp.map { 2 * $0 - 1 }),
            ("scaled by 1e-300", ramp.map { 1e-300 * pow(10, 3 * $0) }),
            ("scaled by 1e300", ramp.map { 1e300 * (1 + $0) }),
        ]
    }

    /// 8, 9 and 16 are on the fixed-width path (rows of 16 lanes); 17 to 64 take the overlapped
    /// QR path (`tridiagonal_qr_overlapped`), whose whole-row register block has ⌈n/8⌉ vectors:
    /// 17, 24 (three), 30 (four), 40 (five), 45 (six), 50 (seven), 57 and 64 (eight) cover every
    /// width with and without padding.
    @Test(arguments: [1, 2, 3, 5, 8, 9, 10, 16, 17, 24, 30, 40, 45, 50, 57, 64])
    func decompositionIsBackwardStableOnKnownSpectra(n: Int) {
        var worst: (Float80, Float80, Float80) = (0, 0, 0)
        for level: Int32 in [0, 1, 2] {
            for (index, (name, lambda)) in Self.spectra(n).enumerated() {
                guard let e = Self.errors(lambda, seed: UInt64(100 * n + index), level: level) else {
                    Issue.record("n = \(n), \(name), level \(level): failed or not ascending"); continue
                }
                #expect(e.residual <= 4, "n = \(n), \(name), level \(level): ‖AV − VΛ‖_F = \(e.residual) nε‖A‖")
                #expect(e.orthogonality <= 4, "n = \(n), \(name), level \(level): ‖VᵀV − I‖_F = \(e.orthogonality) nε")
                #expect(e.values <= 4, "n = \(n), \(name), level \(level): max |w − λ| = \(e.values) nε‖A‖")
                worst = (max(worst.0, e.residual), max(worst.1, e.orthogonality), max(worst.2, e.values))
            }
        }
        print("small eigensolver, n = \(n), worst over spectra and variants (units of nε): residual \(Double(worst.0)), orthogonality \(Double(worst.1)), eigenvalues \(Double(worst.2))")
    }

    @Test func theZeroMatrixAndADiagonalOneNeedNoRotation() {
        for n in [1, 4, 10, 20, 50] {
            let zero = Self.solve([Float80](repeating: 0, count: n * n), n: n, level: 2)
            #expect(zero.info == 0 && zero.w.allSatisfy { $0 == 0 })
            var diagonal = [Float80](repeating: 0, count: n * n)
            for i in 0..<n { diagonal[i * n + i] = Float80(n - i) }
            let d = Self.solve(diagonal, n: n, level: 2)
            #expect(d.w == (1...n).map(Double.init))
            // Each column is ± a unit vector.
            for j in 0..<n { #expect((0..<n).filter { d.v[$0 * n + j] != 0 }.map { abs(d.v[$0 * n + j]) } == [1]) }
        }
    }

    @Test func aNonFiniteEntryInTheLowerTriangleIsReportedNotIterated() {
        for bad in [Double.nan, .infinity, -.infinity] {
            var a: [Double] = [2, 0, 0, 1, 3, 0, bad, 1, 4]
            var w = [Double](repeating: 0, count: 3)
            var work = [Double](repeating: 0, count: LinearAlgebra.smallEigenWorkspace(n: 3))
            #expect(LinearAlgebra.smallEigen(n: 3, a: &a, lda: 3, eigenvalues: &w, work: &work) == 1)
        }
    }

    @Test func everyVariantAgreesWithLAPACKsEigenvaluesOnARandomSymmetricMatrix() {
        var rng = LinalgFixtures(seed: 41)
        let n = 24
        let b = rng.matrix(n, n)
        let a = LinearAlgebra.symmetrised(naiveSum(b, naiveTranspose(b)))
        let reference = LinearAlgebra.symmetricEigen(a).values
        let norm = reference.map(abs).max()!
        for level: Int32 in [0, 1, 2] {
            let (info, w, _) = Self.solve(a.scalars.map { Float80($0) }, n: n, level: level)
            #expect(info == 0)
            let gap = zip(w, reference).map { abs($0 - $1) }.max()!
            #expect(gap <= 8 * Double(n) * Double.ulpOfOne * norm, "level \(level): \(gap)")
        }
    }
}
