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

    /// The residual ‖AV − VΛ‖_F and the loss of orthogonality ‖VᵀV − I‖_F within 4 (units of
    /// nε‖A‖ and nε), and the eigenvalues' error against `against` within `values` nε‖A‖.
    static func expectBackwardStable(_ e: (residual: Float80, orthogonality: Float80, values: Float80), _ label: String,
                                     values: Float80 = 4, against: String = "λ",
                                     sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(e.residual <= 4, "\(label): ‖AV − VΛ‖_F = \(e.residual) nε‖A‖", sourceLocation: sourceLocation)
        #expect(e.orthogonality <= 4, "\(label): ‖VᵀV − I‖_F = \(e.orthogonality) nε", sourceLocation: sourceLocation)
        #expect(e.values <= values, "\(label): max |w − \(against)| = \(e.values) nε‖A‖", sourceLocation: sourceLocation)
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
    /// width with and without padding; 50 (and 48 to 56) the divide and conquer, its halves on
    /// the same rows (`tridiagonal_qr_pair`).
    @Test(arguments: [1, 2, 3, 5, 8, 9, 10, 16, 17, 24, 30, 40, 45, 50, 57, 64])
    func decompositionIsBackwardStableOnKnownSpectra(n: Int) {
        var worst: (Float80, Float80, Float80) = (0, 0, 0)
        for level: Int32 in [0, 1, 2] {
            for (index, (name, lambda)) in Self.spectra(n).enumerated() {
                guard let e = Self.errors(lambda, seed: UInt64(100 * n + index), level: level) else {
                    Issue.record("n = \(n), \(name), level \(level): failed or not ascending"); continue
                }
                Self.expectBackwardStable(e, "n = \(n), \(name), level \(level)")
                worst = (max(worst.0, e.residual), max(worst.1, e.orthogonality), max(worst.2, e.values))
            }
        }
        print("small eigensolver, n = \(n), worst over spectra and variants (units of nε): residual \(Double(worst.0)), orthogonality \(Double(worst.1)), eigenvalues \(Double(worst.2))")
    }

    /// Residual and loss of orthogonality in units of nε (the residual relative to ‖A‖₁ ≥ ‖A‖₂) and
    /// the eigenvalues' largest distance to LAPACK's over ‖A‖₁, for a matrix given exactly in
    /// Double (no known spectrum); nil if the solver failed or the values are not ascending.
    static func errors(exact a: [Double], n: Int, level: Int32) -> (residual: Float80, orthogonality: Float80, values: Double)? {
        let (info, w, v) = solve(a.map { Float80($0) }, n: n, level: level)
        guard info == 0, zip(w, w.dropFirst()).allSatisfy({ $0 <= $1 }) else { return nil }
        var norm = 0.0
        for i in 0..<n {
            var row = 0.0
            for j in 0..<n { row += abs(a[i * n + j]) }
            norm = max(norm, row)
        }
        let unit = Float80(n) * eps, scale = Float80(norm > 0 ? norm : 1)
        var residual: Float80 = 0, orthogonality: Float80 = 0
        for i in 0..<n {
            for j in 0..<n {
                var av: Float80 = 0, vv: Float80 = 0
                for k in 0..<n {
                    av += Float80(a[i * n + k]) * Float80(v[k * n + j])
                    vv += Float80(v[k * n + i]) * Float80(v[k * n + j])
                }
                let r = av - Float80(v[i * n + j]) * Float80(w[j])
                residual += r * r
                let o = vv - (i == j ? 1 : 0)
                orthogonality += o * o
            }
        }
        let reference = LinearAlgebra.symmetricEigen(Tensor(shape: [n, n], scalars: a)).values
        let gap = zip(w, reference).map { abs($0 - $1) }.max() ?? 0
        return (residual.squareRoot() / scale / unit, orthogonality.squareRoot() / unit, gap / (norm > 0 ? norm : 1) / Double(n) / Double.ulpOfOne)
    }

    /// Spectra that make the divide and conquer (48 ≤ n ≤ 56: one split, the halves by QR, a
    /// rank-one update) deflate heavily or solve its secular equation near a pole: eigenvalues
    /// equal to 1e-14 in pairs, clusters 1e-12 wide, graded down to 1e-15 (with and without
    /// alternating signs), half of them zero, one far above a tight cluster, powers of two.
    static func deflatingSpectra(_ n: Int) -> [(String, [Double])] {
        let ramp: [Double] = (0..<n).map { Double($0) / Double(n - 1) }
        let pairs: [Double] = (0..<n).map { Double($0 / 2) + 1e-14 * Double($0 % 2) }
        let clusters: [Double] = (0..<n).map { Double($0 % 5) + 1e-12 * Double($0) }
        let graded: [Double] = ramp.map { pow(10.0, -15.0 * $0) }
        let alternating: [Double] = (0..<n).map { (($0 % 2 == 0) ? 1.0 : -1.0) * pow(10.0, -12.0 * ramp[$0]) }
        let halves: [Double] = (0..<n).map { $0 < n / 2 ? 0.0 : 1.0 }
        let farAbove: [Double] = (0..<n).map { $0 == 0 ? 1e8 : 1.0 + 1e-10 * Double($0) }
        let powers: [Double] = (0..<n).map { Double(sign: .plus, exponent: -$0, significand: 1.0) }
        return [
            ("pairs 1e-14 apart", pairs), ("five clusters 1e-12 wide", clusters), ("graded down to 1e-15", graded),
            ("graded, alternating signs", alternating), ("half zero, half one", halves),
            ("one far above a cluster", farAbove), ("powers of two", powers),
        ]
    }

    /// 48, 49, 50 and 56 take the divide and conquer (even and odd splits, rows of Vᵀ with and
    /// without padding); 17, 33 and 64 the QR over the whole. Every variant keeps the 4nε bounds
    /// where most of the rank-one update deflates.
    @Test(arguments: [17, 33, 48, 49, 50, 56, 64])
    func divideAndConquerStaysBackwardStableWhereItDeflates(n: Int) {
        for level: Int32 in [0, 1, 2] {
            for (index, (name, lambda)) in Self.deflatingSpectra(n).enumerated() {
                guard let e = Self.errors(lambda, seed: UInt64(1000 * n + index), level: level) else {
                    Issue.record("n = \(n), \(name), level \(level): failed or not ascending"); continue
                }
                Self.expectBackwardStable(e, "n = \(n), \(name), level \(level)")
            }
        }
    }

    /// Tridiagonal matrices reach the divide and conquer as they are (the Householder reduction
    /// leaves them be), so the coupling at the split (row ⌊n/2⌋ − 1) can be chosen: zero, 1e-300,
    /// below ε, 1e-8 beside unit couplings; Wilkinson's W⁺ (diagonal |i − n/2|, couplings 1: its
    /// eigenvalues come in pairs equal to many digits, so the halves' eigenvalues nearly coincide),
    /// and two W⁺ glued by 1e-14. Bounds: 4nε as above, the eigenvalues against LAPACK's within 8nε‖A‖.
    @Test(arguments: [17, 33, 48, 49, 50, 56, 64])
    func divideAndConquerHandlesTinyCouplingsAtTheSplit(n: Int) {
        let m = n / 2
        func tridiagonal(_ diagonal: (Int) -> Double, _ coupling: (Int) -> Double) -> [Double] {
            var a = [Double](repeating: 0, count: n * n)
            for i in 0..<n { a[i * n + i] = diagonal(i) }
            for i in 0..<(n - 1) { a[(i + 1) * n + i] = coupling(i); a[i * n + i + 1] = coupling(i) }
            return a
        }
        var cases: [(String, [Double])] = []
        for c: Double in [0, 1e-300, 1e-17, 1e-8] {
            cases.append(("coupling \(c) at the split", tridiagonal({ Double($0 % 3) }, { $0 == m - 1 ? c : 1 })))
        }
        let half = Double(n / 2), quarter = Double(m / 2)
        cases.append(("Wilkinson W+", tridiagonal({ abs(Double($0) - half) }, { _ in 1 })))
        cases.append(("two W+ glued by 1e-14", tridiagonal({ abs(Double($0 % m) - quarter) }, { $0 == m - 1 ? 1e-14 : 1 })))
        for level: Int32 in [0, 1, 2] {
            for (name, a) in cases {
                guard let e = Self.errors(exact: a, n: n, level: level) else {
                    Issue.record("n = \(n), \(name), level \(level): failed or not ascending"); continue
                }
                Self.expectBackwardStable((e.residual, e.orthogonality, Float80(e.values)), "n = \(n), \(name), level \(level)", values: 8, against: "w_LAPACK")
            }
        }
    }

    /// Dense matrices given exactly in Double for the reduction on padded rows (17 ≤ n ≤ 64: A in
    /// rows of ⌈n/8⌉·8, one pass a reflection, Qᵀ formed row by row): every row width with and
    /// without padding and each end of the divide and conquer's range. Random entries in [−1, 1];
    /// graded (A_ij = g_i g_j B_ij with g from 1 down to 1e-6); a cluster (I + 1e-10·B, nearly
    /// repeated eigenvalues); an arrowhead; and a matrix tridiagonal in its leading half and dense
    /// in the trailing one, so that the first reflections are skipped (no tail to reduce) while
    /// the later ones are not. The residual and orthogonality within 4nε, the eigenvalues against
    /// LAPACK's dsyevd within 8nε‖A‖₁.
    @Test(arguments: [17, 23, 24, 25, 31, 32, 33, 40, 47, 48, 49, 50, 52, 55, 56, 57, 63, 64])
    func paddedRowReductionIsBackwardStableOnDenseMatrices(n: Int) {
        var rng = LinalgFixtures(seed: UInt64(7000 + n))
        let b = rng.matrix(n, n).scalars
        func symmetric(_ entry: (Int, Int) -> Double) -> [Double] {
            var a = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for j in 0...i { a[i * n + j] = entry(i, j); a[j * n + i] = a[i * n + j] } }
            return a
        }
        let g = (0..<n).map { pow(10, -6 * Double($0) / Double(n - 1)) }
        let h = n / 2
        let cases: [(String, [Double])] = [
            ("random", symmetric { b[$0 * n + $1] }),
            ("graded to 1e-6", symmetric { g[$0] * g[$1] * b[$0 * n + $1] }),
            ("cluster 1e-10 wide", symmetric { ($0 == $1 ? 1 : 0) + 1e-10 * b[$0 * n + $1] }),
            ("arrowhead", symmetric { $1 == 0 || $0 == $1 ? b[$0 * n + $1] : 0 }),
            ("tridiagonal, then dense", symmetric { i, j in i < h ? (i - j <= 1 ? b[i * n + j] : 0) : (j < h - 1 ? 0 : b[i * n + j]) }),
        ]
        for level: Int32 in [0, 1, 2] {
            for (name, a) in cases {
                guard let e = Self.errors(exact: a, n: n, level: level) else {
                    Issue.record("n = \(n), \(name), level \(level): failed or not ascending"); continue
                }
                Self.expectBackwardStable((e.residual, e.orthogonality, Float80(e.values)), "n = \(n), \(name), level \(level)", values: 8, against: "w_LAPACK")
            }
        }
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

    /// A_ij = 1 where i ≡ j (mod 2): rank two, eigenvalues ⌊n/2⌋ and ⌈n/2⌉ and n − 2 zeros. Its
    /// Householder reduction leaves a tail graded down past 2^−500 (each reflection shrinks it by
    /// about ε), where squares underflow: a reflection's β overflowed into NaN, a QR rotation's
    /// z² from the underflowed (z·e)² was no longer a rotation (VᵀV off by 1e20 with success
    /// reported, n = 21), and the relative deflation test stalled among the subnormals (no
    /// convergence reported, n = 36). Every path: fixed width (15, 16), padded rows with QR and
    /// with the divide and conquer (17–64), the general one (82); every variant.
    @Test(arguments: [15, 16, 17, 21, 22, 26, 36, 50, 59, 64, 82])
    func aRankTwoMatrixWhoseReductionUnderflowsKeepsOrthogonalEigenvectors(n: Int) {
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n where i % 2 == j % 2 { a[i * n + j] = 1 } }
        let exact = [Double](repeating: 0, count: n - 2) + [Double(n / 2), Double((n + 1) / 2)]
        for level: Int32 in [0, 1, 2] {
            let (info, w, _) = Self.solve(a.map { Float80($0) }, n: n, level: level)
            #expect(info == 0, "n = \(n), level \(level): info \(info)")
            guard info == 0, let e = Self.errors(exact: a, n: n, level: level) else { continue }
            let gap = zip(w, exact).map { abs($0 - $1) }.max() ?? 0
            Self.expectBackwardStable((e.residual, e.orthogonality, Float80(gap / Double(n) / Double(n) / Double.ulpOfOne)),
                                      "n = \(n), level \(level)", against: "the exact spectrum")
        }
    }

    /// A matrix of unit entries times 2^p has eigenvalues 2^p times the unit matrix's, for every
    /// p: the solver scales by a power of two beyond 2^±100. With the old ±400 thresholds, A at
    /// 2^−404…2^−348 came out with every eigenvalue 0 and success reported (the red team's
    /// finding, seventh sitting), and an OMT gradient at |L| ≈ 1e52…1e61 (Σ⁻¹ that small) was NaN.
    @Test(arguments: [3, 8, 16, 17, 50, 64])
    func eigenvaluesScaleWithTheMatrixAcrossTheExponentRange(n: Int) {
        var unit = [Float80](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0...i { unit[i * n + j] = i == j ? Float80(2 + i) : 0.3 / Float80(1 + i + j); unit[j * n + i] = unit[i * n + j] } }
        for level: Int32 in [0, 1, 2] {
            let want = Self.solve(unit, n: n, level: level)
            for p in stride(from: -460, through: 460, by: 8) {
                let c = Float80(sign: .plus, exponent: p, significand: 1)
                let got = Self.solve(unit.map { $0 * c }, n: n, level: level)
                let scaled = got.w.map { Double(Float80($0) / c) }
                let error = zip(scaled, want.w).map { abs($0 - $1) }.max() ?? 0
                #expect(got.info == 0 && error <= 64 * Double(n) * Double.ulpOfOne * (want.w.last ?? 1),
                        "n = \(n), level \(level), 2^\(p): info \(got.info), eigenvalues off by \(error)")
            }
        }
    }

    /// `sme_symmetric_eigen_rows` hands over Vᵀ's rows: the same doubles, bit for bit, as the
    /// columns `sme_symmetric_eigen` writes into A, and the same eigenvalues, in every variant, on
    /// the fixed-width path (1, 5, 16), the padded rows with QR (17, 33, 47, 57, 64) and with the
    /// divide and conquer (48, 50, 56), and the general path (70); spectra well conditioned,
    /// κ = 1e7, repeated, all equal, clustered 1e-12 wide, and scaled by 1e-300 and 1e300. Into a
    /// leading dimension of n + 3 with NaN beyond n, which must stay NaN.
    @Test(arguments: [1, 5, 16, 17, 33, 47, 48, 50, 56, 57, 64, 70])
    func rowsOutputIsTheColumnsOutputBitForBit(n: Int) {
        let ramp = (0..<n).map { Double($0) / Double(max(1, n - 1)) }
        let spectra: [[Double]] = [
            ramp.map { 1 + $0 }, ramp.map { pow(10, 7 * $0) }, (0..<n).map { [1.0, 2.0, 5.0][$0 % 3] },
            [Double](repeating: 3, count: n), (0..<n).map { Double($0 % 5) + 1e-12 * Double($0) },
            ramp.map { 1e-300 * (1 + $0) }, ramp.map { 1e300 * (1 + $0) },
        ]
        for level: Int32 in [0, 1, 2] {
            for (index, lambda) in spectra.enumerated() {
                let a = Self.matrix(lambda, seed: UInt64(300 * n + index))
                let columns = Self.solve(a, n: n, level: level)
                var stored = [Double](repeating: .nan, count: n * n)
                for i in 0..<n { for j in 0...i { stored[i * n + j] = Double(a[i * n + j]) } }
                let ldvt = n + 3
                var vt = [Double](repeating: .nan, count: n * ldvt), w = [Double](repeating: 0, count: n)
                var work = [Double](repeating: .nan, count: max(1, LinearAlgebra.smallEigenWorkspace(n: n)))
                let info = sme_symmetric_eigen_rows_at(level, n, &stored, n, &w, &vt, ldvt, &work)
                #expect(info == 0 && columns.info == 0, "n = \(n), spectrum \(index), level \(level)")
                #expect(w.map(\.bitPattern) == columns.w.map(\.bitPattern), "n = \(n), spectrum \(index), level \(level)")
                var same = true
                for j in 0..<n {
                    for i in 0..<n where vt[j * ldvt + i].bitPattern != columns.v[i * n + j].bitPattern { same = false }
                    for i in n..<ldvt where !vt[j * ldvt + i].isNaN { same = false }
                }
                #expect(same, "n = \(n), spectrum \(index), level \(level): rows differ from the columns")
            }
        }
    }

    @Test(arguments: [3, 50, 70])
    func aNonFiniteEntryInTheLowerTriangleIsReportedNotIterated(n: Int) {
        for bad in [Double.nan, .infinity, -.infinity] {
            var a = [Double](repeating: 0, count: n * n)
            for i in 0..<n { a[i * n + i] = Double(i + 2); if i > 0 { a[i * n + i - 1] = 1 } }
            a[(n - 1) * n] = bad
            var w = [Double](repeating: 0, count: n)
            var work = [Double](repeating: 0, count: LinearAlgebra.smallEigenWorkspace(n: n))
            #expect(LinearAlgebra.smallEigen(n: n, a: &a, lda: n, eigenvalues: &w, work: &work) == 1)
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
