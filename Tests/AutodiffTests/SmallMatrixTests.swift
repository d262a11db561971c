import Testing
@testable import Autodiff

/// The loops that replace OpenBLAS for tiny products and solves, against the definitions
/// written out element by element (every transpose combination, β of 0, 1 and another value,
/// leading dimensions wider than the matrices), and the solves (up to the limit and past it,
/// where dtrsm takes over) against multiplying back.
@Suite struct SmallMatrixTests {
    /// Deterministic values in [−1, 1).
    struct Values {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) * 0x1p-52 - 1
        }
        mutating func array(_ n: Int) -> [Double] { (0..<n).map { _ in next() } }
    }

    @Test(arguments: [false, true], [false, true])
    func productMatchesTheDefinition(_ ta: Bool, _ tb: Bool) {
        var values = Values(state: 11)
        let (m, n, k) = (3, 5, 4), (lda, ldb, ldc) = ((ta ? m : k) + 2, (tb ? k : n) + 1, n + 3)
        let a = values.array((ta ? k : m) * lda), b = values.array((tb ? n : k) * ldb), c0 = values.array(m * ldc)
        for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
            var c = c0
            SmallMatrix.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, &c, ldc)
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]) }
                    let want = alpha * s + (beta == 0 ? 0 : beta * c0[i * ldc + j])
                    #expect(abs(c[i * ldc + j] - want) <= 1e-14, "α \(alpha) β \(beta) at (\(i), \(j))")
                }
                for j in n..<ldc { #expect(c[i * ldc + j] == c0[i * ldc + j], "padding untouched") }
            }
        }
    }

    @Test(arguments: [false, true], [(3, 4), (64, 8), (1, 1), (100, 8)])
    func rowSolvesInvertTheTriangle(_ transpose: Bool, _ size: (rows: Int, d: Int)) {
        var values = Values(state: 23)
        let (rows, d) = size
        var l = values.array(d * d)
        for i in 0..<d {
            for j in (i + 1)..<max(i + 1, d) { l[i * d + j] = 0 }
            l[i * d + i] = 1.5 + 0.5 * values.next()
        }
        let rhs = values.array(rows * d)
        var x = rhs
        SmallMatrix.solveRows(transpose, rows: rows, d: d, l, &x)
        // Multiply back: x Lᵀ (transpose) or x L must give the right-hand side.
        for s in 0..<rows {
            for j in 0..<d {
                var t = 0.0
                for q in 0..<d { t += x[s * d + q] * (transpose ? l[j * d + q] : l[q * d + j]) }
                #expect(abs(t - rhs[s * d + j]) <= 1e-13, "row \(s), column \(j)")
            }
        }
    }
}
