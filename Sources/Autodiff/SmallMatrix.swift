import CLAPACK

/// Matrix products and triangular solves too small for OpenBLAS: its level-3 entry points take
/// a lock and pack their operands (≈ 0.3 µs a call here, with a `sched_yield` now and then),
/// more than the arithmetic of an outer product of two 10-vectors or of a triangular solve
/// for one row. Those run as plain loops over the row-major operands, the innermost loop
/// contiguous where it can be. Square products stay with OpenBLAS: its vector kernels beat
/// the loops already at 10×10×10 (the OMT row at D = 10 ran 14 % slower with them looped).
enum SmallMatrix {
    /// Multiply-adds (m·n·k, or rows·d² for a solve) up to which the loops may run.
    static let limit = 4096
    /// The thinnest dimension of a product the loops take (outer products, matrix × vector).
    static let thinDimension = 2

    /// Whether `gemm` runs an m×k by k×n product as loops.
    @inline(__always)
    static func takes(_ m: Int, _ n: Int, _ k: Int) -> Bool {
        m * n * k <= limit && min(m, n, k) <= thinDimension
    }

    /// C ← α op(A) op(B) + β C, row-major; β = 0 overwrites C without reading it.
    @inline(__always)
    static func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
                     _ a: UnsafePointer<Double>, _ lda: Int, _ b: UnsafePointer<Double>, _ ldb: Int,
                     _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        for i in 0..<m {
            let ci = c + i * ldc
            if beta == 0 { ci.update(repeating: 0, count: n) } else if beta != 1 { for j in 0..<n { ci[j] *= beta } }
            for p in 0..<k {
                let aip = alpha * (ta ? a[p * lda + i] : a[i * lda + p])
                if tb {
                    for j in 0..<n { ci[j] += aip * b[j * ldb + p] }
                } else {
                    let bp = b + p * ldb
                    for j in 0..<n { ci[j] += aip * bp[j] }
                }
            }
        }
    }

    /// Each of the `rows` rows x of X (stride d) becomes the solution of x Lᵀ = x (`transpose`,
    /// forward substitution) or x L = x (back substitution), L lower triangular d×d: BLAS's
    /// `dtrsm` with side Right, Lower, NonUnit, α = 1.
    static func solveRows(_ transpose: Bool, rows: Int, d: Int, _ l: UnsafePointer<Double>, _ x: UnsafeMutablePointer<Double>) {
        guard rows * d * d <= limit else {
            cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, transpose ? CblasTrans : CblasNoTrans, CblasNonUnit,
                        Int32(rows), Int32(d), 1, l, Int32(d), x, Int32(d))
            return
        }
        for s in 0..<rows {
            let row = x + s * d
            if transpose {
                // Row j of L against the solved prefix.
                for j in 0..<d {
                    var t = row[j]
                    for q in 0..<j { t -= l[j * d + q] * row[q] }
                    row[j] = t / l[j * d + j]
                }
            } else {
                // From the last entry back: once entry q is solved, its terms in the entries
                // before it come from row q of L (contiguous, so the update vectorises; the
                // column walk it replaces was one dependent chain a entry).
                for q in stride(from: d - 1, through: 0, by: -1) {
                    let wq = row[q] / l[q * d + q], lq = l + q * d
                    row[q] = wq
                    for j in 0..<q { row[j] -= wq * lq[j] }
                }
            }
        }
    }
}
