#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLAPACK
import CVecMath

/// Dense float64 linear algebra on OpenBLAS (CBLAS) and LAPACKE.
///
/// **Layout.** Every matrix is row-major: element (i, j) of a matrix stored at `a` with leading
/// dimension `lda` is `a[i * lda + j]`. A leading dimension is the distance in elements between
/// the starts of consecutive rows, so it must be at least `max(1, columns as stored)`; larger
/// values address a sub-block of a wider matrix. Vector strides (`incx`, `incy`) are in elements
/// and follow BLAS conventions.
///
/// **Raw forms** (`gemm`, `gemv`, `ger`, `trsm`, `trsv`, `potrf`, `syev`, `axpy`, `dot`) take
/// unsafe pointers and never allocate: they are the engine's hot path. They check nothing that
/// BLAS does not; the caller guarantees extents, leading dimensions and buffer sizes, and that an
/// output does not alias an input unless the routine says it works in place.
///
/// **Tensor forms** (`matmul`, `cholesky`, `solveLowerTriangular`, `symmetricEigen`,
/// `symmetricFunction`, `transpose`, `inverseSPD`, `logDeterminantSPD`) allocate their results
/// and trap on shape errors; they are for tests and setup code.
public enum LinearAlgebra {
    /// Whether a matrix operand is used as stored or transposed.
    public enum Transpose: Sendable, Hashable {
        /// op(A) = A.
        case normal
        /// op(A) = Aᵀ.
        case transposed

        var cblas: CBLAS_TRANSPOSE { self == .normal ? CblasNoTrans : CblasTrans }
    }

    /// The side from which a triangular matrix multiplies the unknown in `trsm`.
    public enum Side: Sendable, Hashable {
        /// Solve op(A) X = α B.
        case left
        /// Solve X op(A) = α B.
        case right

        var cblas: CBLAS_SIDE { self == .left ? CblasLeft : CblasRight }
    }
}

/// A matrix handed to Cholesky is not positive definite.
public struct NotPositiveDefiniteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The order (1-based) of the first leading principal minor that is not positive; the
    /// factorisation stopped there.
    public let minor: Int

    /// An error for the leading minor of order `minor`.
    public init(minor: Int) { self.minor = minor }

    /// A sentence naming the failing minor.
    public var description: String {
        "matrix is not positive definite: its leading minor of order \(minor) is not positive"
    }
}

// MARK: - Threads and build information

extension LinearAlgebra {
    /// Sets the number of threads OpenBLAS may use for one call. The engine calls this with 1 at
    /// start-up and parallelises across its own workers instead. Not safe to call while another
    /// thread is inside a BLAS or LAPACK routine.
    /// - Precondition: `n ≥ 1`.
    public static func configureThreads(_ n: Int) {
        precondition(n >= 1, "thread count must be at least 1, got \(n)")
        openblas_set_num_threads(Int32(n))
    }

    /// The name of the CPU kernel family OpenBLAS selected at load time (e.g. "Haswell"), for
    /// reporting next to any performance figure; "unknown" if OpenBLAS reports none.
    public static func blasCoreName() -> String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}

// MARK: - Raw BLAS

extension LinearAlgebra {
    /// C ← α op(A) op(B) + β C, where op(A) is m×k, op(B) is k×n and C is m×n (row-major).
    /// A is stored m×k when `transA == .normal` and k×m otherwise (likewise B: k×n or n×k).
    /// When β = 0, C need not be initialised. Does not allocate.
    public static func gemm(
        transA: Transpose, transB: Transpose, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y ← α op(A) x + β y, where A is stored m×n (row-major); x has n elements and y m when
    /// `trans == .normal`, the other way round otherwise. When β = 0, y need not be initialised.
    /// Does not allocate.
    public static func gemv(
        trans: Transpose, m: Int, n: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, x: UnsafePointer<Double>, incx: Int,
        beta: Double, y: UnsafeMutablePointer<Double>, incy: Int
    ) {
        cblas_dgemv(CblasRowMajor, trans.cblas, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, Int32(incx), beta, y, Int32(incy))
    }

    /// Rank-one update A ← α x yᵀ + A, where A is m×n (row-major), x has m elements and y n.
    /// Does not allocate.
    public static func ger(
        m: Int, n: Int, alpha: Double,
        x: UnsafePointer<Double>, incx: Int, y: UnsafePointer<Double>, incy: Int,
        a: UnsafeMutablePointer<Double>, lda: Int
    ) {
        cblas_dger(CblasRowMajor, Int32(m), Int32(n), alpha, x, Int32(incx), y, Int32(incy),
                   a, Int32(lda))
    }

    /// Triangular solve with many right-hand sides, in place: B (m×n, row-major) is overwritten
    /// by X solving op(A) X = α B (`side == .left`, A is m×m) or X op(A) = α B
    /// (`side == .right`, A is n×n). Only the `lower` (or upper) triangle of A is read; with
    /// `unitDiag` its diagonal is taken to be 1 and not read. A must be non-singular (a zero
    /// pivot yields infinities or NaN, not an error). Does not allocate.
    public static func trsm(
        side: Side, lower: Bool, transA: Transpose, unitDiag: Bool, m: Int, n: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafeMutablePointer<Double>, ldb: Int
    ) {
        cblas_dtrsm(CblasRowMajor, side.cblas, lower ? CblasLower : CblasUpper, transA.cblas,
                    unitDiag ? CblasUnit : CblasNonUnit, Int32(m), Int32(n), alpha, a, Int32(lda),
                    b, Int32(ldb))
    }

    /// Triangular solve with one right-hand side, in place: x (n elements, stride `incx`) is
    /// overwritten by the solution of op(A) x = b, where A is n×n (row-major) and only its
    /// `lower` (or upper) triangle is read; with `unitDiag` its diagonal is taken to be 1.
    /// A must be non-singular. Does not allocate.
    public static func trsv(
        lower: Bool, trans: Transpose, unitDiag: Bool, n: Int,
        a: UnsafePointer<Double>, lda: Int, x: UnsafeMutablePointer<Double>, incx: Int
    ) {
        cblas_dtrsv(CblasRowMajor, lower ? CblasLower : CblasUpper, trans.cblas,
                    unitDiag ? CblasUnit : CblasNonUnit, Int32(n), a, Int32(lda), x, Int32(incx))
    }

    /// y ← α x + y over n elements. Does not allocate.
    public static func axpy(
        n: Int, alpha: Double, x: UnsafePointer<Double>, incx: Int,
        y: UnsafeMutablePointer<Double>, incy: Int
    ) {
        cblas_daxpy(Int32(n), alpha, x, Int32(incx), y, Int32(incy))
    }

    /// xᵀ y over n elements. Does not allocate.
    public static func dot(
        n: Int, x: UnsafePointer<Double>, incx: Int, y: UnsafePointer<Double>, incy: Int
    ) -> Double {
        cblas_ddot(Int32(n), x, Int32(incx), y, Int32(incy))
    }
}

// MARK: - Raw LAPACK

extension LinearAlgebra {
    /// Lower Cholesky factorisation in place: on success the lower triangle (diagonal included)
    /// of the n×n row-major matrix A holds L with A = L Lᵀ. Only the lower triangle of A is
    /// read; the strictly upper triangle is left untouched.
    ///
    /// Returns 0 on success, or k > 0 when the leading minor of order k is not positive definite
    /// or holds a NaN or infinity; A is then partly overwritten. A negative value means argument
    /// -value was illegal (a caller bug).
    ///
    /// OpenBLAS's own dpotrf lets NaN through (√NaN is not "≤ 0"), so a successful factorisation
    /// is followed by a scan of L's diagonal: a NaN or infinity anywhere in the lower triangle of
    /// A reaches the diagonal of its row or a later one, and the first such row is reported.
    ///
    /// Does not allocate: a row-major lower triangle is a column-major upper triangle, so LAPACK
    /// works on the caller's buffer directly instead of LAPACKE transposing it into a copy.
    public static func potrf(n: Int, a: UnsafeMutablePointer<Double>, lda: Int) -> Int {
        let info = Int(LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(n),
                                           a, Int32(lda)))
        guard info == 0 else { return info }
        for i in 0..<n where !(a[i * lda + i].isFinite && a[i * lda + i] > 0) { return i + 1 }
        return 0
    }

    /// Workspace sizes that `syev` needs for an n×n matrix: `work` doubles and `iwork` 32-bit
    /// integers (LAPACK's dsyevd minimum with eigenvectors: 1 + 6n + 2n² and 3 + 5n).
    public static func syevWorkspace(n: Int) -> (work: Int, iwork: Int) {
        n <= 1 ? (work: 1, iwork: 1) : (work: 1 + 6 * n + 2 * n * n, iwork: 3 + 5 * n)
    }

    /// Symmetric eigendecomposition in place (LAPACK dsyevd, divide and conquer). Reads the lower
    /// triangle of the n×n row-major matrix A; on success A = V diag(w) Vᵀ with the eigenvalues in
    /// `eigenvalues[0..<n]` in ascending order and A overwritten by the orthonormal V, whose
    /// column j (`a[i * lda + j]` over i) is the eigenvector of `eigenvalues[j]`.
    ///
    /// The caller passes the workspace, sized at least by `syevWorkspace(n:)`, so repeated calls
    /// allocate nothing: LAPACK runs column-major on the caller's buffer (a row-major lower
    /// triangle is a column-major upper one) and the eigenvectors, which come back as rows, are
    /// transposed in place.
    ///
    /// Returns 0 on success; k > 0 if the algorithm failed to converge (A and `eigenvalues` are
    /// then unspecified); a negative value means argument -value was illegal (a caller bug).
    public static func syev(
        n: Int, a: UnsafeMutablePointer<Double>, lda: Int, eigenvalues: UnsafeMutablePointer<Double>,
        work: UnsafeMutablePointer<Double>, lwork: Int, iwork: UnsafeMutablePointer<Int32>, liwork: Int
    ) -> Int {
        let info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")),
                                       CChar(UInt8(ascii: "U")), Int32(n), a, Int32(lda),
                                       eigenvalues, work, Int32(lwork), iwork, Int32(liwork))
        if info == 0 { transposeSquareInPlace(n: n, a: a, lda: lda) }
        return Int(info)
    }

    /// Largest n for which the OMT backward rule uses ``smallEigen(n:a:lda:eigenvalues:work:)``
    /// rather than LAPACK's blocked `dsyevd`: the small solver is unblocked (O(n³) in rotations
    /// of rows), which wins where call overheads and reference LAPACK's scalar loops dominate.
    public static let smallEigenLimit = 64

    /// Doubles of workspace ``smallEigen(n:a:lda:eigenvalues:work:)`` needs: 560 for n ≤ 16 (the
    /// fixed-width path, rows of 16), n² + 7n above, and (3n + 7)·⌈n/8⌉·8 + 2n more for
    /// 17 ≤ n ≤ 64 (Vᵀ padded and the divide and conquer's rows; see SmallEigen.h).
    public static func smallEigenWorkspace(n: Int) -> Int { sme_workspace(n) }

    /// Symmetric eigendecomposition in place by the project's small eigensolver (CVecMath's
    /// `SmallEigen.c`: Householder tridiagonalisation, implicit QR with Wilkinson's shift, the
    /// rotations applied to rows in line). The same contract as `syev`: reads the lower triangle
    /// of the n×n row-major A; on success (0) A holds V, column j the eigenvector of
    /// `eigenvalues[j]`, ascending. Returns 1 for a non-finite A, 2 if QR did not converge.
    /// Allocates nothing: `work` holds `smallEigenWorkspace(n:)` doubles.
    public static func smallEigen(
        n: Int, a: UnsafeMutablePointer<Double>, lda: Int, eigenvalues: UnsafeMutablePointer<Double>,
        work: UnsafeMutablePointer<Double>
    ) -> Int {
        Int(sme_symmetric_eigen(n, a, lda, eigenvalues, work))
    }

    /// Swaps a[i, j] and a[j, i] for every i < j of an n×n block.
    static func transposeSquareInPlace(n: Int, a: UnsafeMutablePointer<Double>, lda: Int) {
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) {
                let upper = a[i * lda + j]
                a[i * lda + j] = a[j * lda + i]
                a[j * lda + i] = upper
            }
        }
    }
}

// MARK: - Tensor forms

extension LinearAlgebra {
    /// The matrix product a·b of an m×k matrix and a k×n matrix (result m×n), or of an m×k
    /// matrix and a k-vector (result an m-vector). Allocates the result.
    /// - Precondition: `a` is 2-D, `b` is 2-D or 1-D, and the inner extents agree.
    public static func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.rank == 2, "matmul needs a matrix on the left, got shape \(a.shape)")
        precondition(b.rank == 1 || b.rank == 2, "matmul needs a matrix or vector on the right, got shape \(b.shape)")
        let (m, k) = (a.shape[0], a.shape[1])
        precondition(b.shape[0] == k, "matmul inner extents differ: \(a.shape) × \(b.shape)")
        let n = b.rank == 2 ? b.shape[1] : 1
        var c = Tensor.zeros(b.rank == 2 ? [m, n] : [m])
        guard m > 0, n > 0, k > 0 else { return c }
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                c.scalars.withUnsafeMutableBufferPointer { pc in
                    if b.rank == 2 {
                        gemm(transA: .normal, transB: .normal, m: m, n: n, k: k, alpha: 1,
                             a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                             beta: 0, c: pc.baseAddress!, ldc: n)
                    } else {
                        gemv(trans: .normal, m: m, n: k, alpha: 1, a: pa.baseAddress!, lda: k,
                             x: pb.baseAddress!, incx: 1, beta: 0, y: pc.baseAddress!, incy: 1)
                    }
                }
            }
        }
        return c
    }

    /// The transpose of a matrix. Allocates the result.
    /// - Precondition: `a` is 2-D.
    public static func transpose(_ a: Tensor) -> Tensor {
        precondition(a.rank == 2, "transpose needs a matrix, got shape \(a.shape)")
        let (m, n) = (a.shape[0], a.shape[1])
        var t = Tensor.zeros([n, m])
        for i in 0..<m {
            for j in 0..<n { t.scalars[j * m + i] = a.scalars[i * n + j] }
        }
        return t
    }

    /// The lower Cholesky factor L of a symmetric positive-definite matrix (A = L Lᵀ), with its
    /// strictly upper triangle zero. Only the lower triangle of `a` is read.
    /// - Throws: `NotPositiveDefiniteError` naming the first leading minor that is not positive
    ///   definite or holds a NaN or infinity.
    /// - Precondition: `a` is square.
    public static func cholesky(_ a: Tensor) throws(NotPositiveDefiniteError) -> Tensor {
        let n = squareExtent(a, "cholesky")
        var l = a
        guard n > 0 else { return l }
        let info = l.scalars.withUnsafeMutableBufferPointer { potrf(n: n, a: $0.baseAddress!, lda: n) }
        if info > 0 { throw NotPositiveDefiniteError(minor: info) }
        precondition(info == 0, "dpotrf rejected argument \(-info)")
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) { l.scalars[i * n + j] = 0 }
        }
        return l
    }

    /// Solves L X = B (or Lᵀ X = B when `transpose`) for a lower-triangular n×n `l` and a
    /// right-hand side `b` that is an n-vector or an n×k matrix; the result has the shape of `b`.
    /// Only the lower triangle of `l` is read.
    /// - Precondition: `l` is square and non-singular; `b`'s first extent is n.
    public static func solveLowerTriangular(_ l: Tensor, _ b: Tensor, transpose: Bool) -> Tensor {
        let n = squareExtent(l, "solveLowerTriangular")
        precondition((b.rank == 1 || b.rank == 2) && b.shape[0] == n,
                     "right-hand side of shape \(b.shape) does not fit a \(n)×\(n) system")
        var x = b
        let columns = b.rank == 2 ? b.shape[1] : 1
        guard n > 0, columns > 0 else { return x }
        let trans: Transpose = transpose ? .transposed : .normal
        l.scalars.withUnsafeBufferPointer { pl in
            x.scalars.withUnsafeMutableBufferPointer { px in
                if b.rank == 2 {
                    trsm(side: .left, lower: true, transA: trans, unitDiag: false, m: n, n: columns,
                         alpha: 1, a: pl.baseAddress!, lda: n, b: px.baseAddress!, ldb: columns)
                } else {
                    trsv(lower: true, trans: trans, unitDiag: false, n: n, a: pl.baseAddress!,
                         lda: n, x: px.baseAddress!, incx: 1)
                }
            }
        }
        return x
    }

    /// Eigendecomposition of a symmetric matrix: eigenvalues ascending, and the orthonormal
    /// matrix whose column j is the eigenvector of `values[j]` (A = V diag(values) Vᵀ).
    /// Only the lower triangle of `a` is read.
    /// - Precondition: `a` is square with finite entries (LAPACK then always converges; a
    ///   failure traps).
    public static func symmetricEigen(_ a: Tensor) -> (values: [Double], vectors: Tensor) {
        let n = squareExtent(a, "symmetricEigen")
        var vectors = a
        var values = [Double](repeating: 0, count: n)
        guard n > 0 else { return (values, vectors) }
        let size = syevWorkspace(n: n)
        var work = [Double](repeating: 0, count: size.work)
        var iwork = [Int32](repeating: 0, count: size.iwork)
        let info = vectors.scalars.withUnsafeMutableBufferPointer { pa in
            values.withUnsafeMutableBufferPointer { pw in
                work.withUnsafeMutableBufferPointer { pwork in
                    iwork.withUnsafeMutableBufferPointer { piwork in
                        syev(n: n, a: pa.baseAddress!, lda: n, eigenvalues: pw.baseAddress!,
                             work: pwork.baseAddress!, lwork: size.work,
                             iwork: piwork.baseAddress!, liwork: size.iwork)
                    }
                }
            }
        }
        precondition(info == 0, "dsyevd failed (info \(info)); is the matrix finite?")
        return (values, vectors)
    }

    /// The matrix function V f(Λ) Vᵀ of a symmetric matrix A = V Λ Vᵀ, e.g. a square root with
    /// `f = { $0.squareRoot() }`. `f` sees every eigenvalue as computed, so a function undefined
    /// below zero should clamp rounding-level negatives itself. The result is symmetrised
    /// exactly (½(X + Xᵀ)). Only the lower triangle of `a` is read.
    /// - Precondition: `a` is square with finite entries.
    public static func symmetricFunction(_ a: Tensor, _ f: (Double) -> Double) -> Tensor {
        let (values, vectors) = symmetricEigen(a)
        return symmetricFunction(values: values, vectors: vectors, f)
    }

    /// V f(Λ) Vᵀ from an eigendecomposition already in hand (`vectors` n×n with eigenvectors
    /// as columns), symmetrised exactly.
    static func symmetricFunction(
        values: [Double], vectors: Tensor, _ f: (Double) -> Double
    ) -> Tensor {
        let n = values.count
        var scaled = vectors
        for i in 0..<n {
            for j in 0..<n { scaled.scalars[i * n + j] *= f(values[j]) }
        }
        var result = Tensor.zeros([n, n])
        guard n > 0 else { return result }
        scaled.scalars.withUnsafeBufferPointer { ps in
            vectors.scalars.withUnsafeBufferPointer { pv in
                result.scalars.withUnsafeMutableBufferPointer { pr in
                    gemm(transA: .normal, transB: .transposed, m: n, n: n, k: n, alpha: 1,
                         a: ps.baseAddress!, lda: n, b: pv.baseAddress!, ldb: n,
                         beta: 0, c: pr.baseAddress!, ldc: n)
                }
            }
        }
        return symmetrised(result)
    }

    /// The singular values of an m×n matrix, descending (LAPACK dgesvd without vectors: the
    /// bidiagonal reduction, O(mn·min(m, n)), then dqds, O(min(m, n)²) — a D = 2500 square matrix
    /// takes seconds where the full decomposition takes minutes). Accurate to ε‖A‖ absolutely.
    /// Returns nil when `a` is not 2-D, holds a NaN or infinity, or LAPACK does not converge.
    /// Allocates.
    public static func singularValues(_ a: Tensor) -> [Double]? {
        guard a.rank == 2, a.scalars.allSatisfy(\.isFinite) else { return nil }
        let (m, n) = (a.shape[0], a.shape[1])
        guard m > 0, n > 0 else { return [] }
        var work = a, s = [Double](repeating: 0, count: min(m, n)), u = 0.0, vt = 0.0
        var superb = [Double](repeating: 0, count: max(min(m, n) - 1, 1))
        let info = work.scalars.withUnsafeMutableBufferPointer { pa in
            LAPACKE_dgesvd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")), Int32(m), Int32(n),
                           pa.baseAddress!, Int32(n), &s, &u, 1, &vt, 1, &superb)
        }
        return info == 0 ? s : nil
    }

    /// The singular value decomposition A = U diag(s) Vᵀ of an m×n matrix (LAPACK dgesvd):
    /// `u` m×m and `vt` n×n orthogonal, `s` the min(m, n) singular values, descending.
    /// Singular values are accurate to ε·‖A‖ absolutely, so the small ones of AᵀA are resolved
    /// far better than by an eigendecomposition of AᵀA itself. Allocates.
    /// - Precondition: `a` is 2-D with finite entries (LAPACK then converges; a failure traps).
    public static func singularValueDecomposition(_ a: Tensor) -> (u: Tensor, s: [Double], vt: Tensor) {
        precondition(a.rank == 2, "singularValueDecomposition needs a matrix, got shape \(a.shape)")
        let (m, n) = (a.shape[0], a.shape[1])
        var work = a
        var u = Tensor.zeros([m, m]), vt = Tensor.zeros([n, n])
        var s = [Double](repeating: 0, count: min(m, n))
        guard m > 0, n > 0 else { return (u, s, vt) }
        var superb = [Double](repeating: 0, count: max(min(m, n) - 1, 1))
        let info = work.scalars.withUnsafeMutableBufferPointer { pa in
            u.scalars.withUnsafeMutableBufferPointer { pu in
                vt.scalars.withUnsafeMutableBufferPointer { pv in
                    LAPACKE_dgesvd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "A")), CChar(UInt8(ascii: "A")), Int32(m), Int32(n),
                                   pa.baseAddress!, Int32(n), &s, pu.baseAddress!, Int32(m), pv.baseAddress!, Int32(n), &superb)
                }
            }
        }
        precondition(info == 0, "dgesvd failed (info \(info)); is the matrix finite?")
        return (u, s, vt)
    }

    /// The inverse of a symmetric positive-definite matrix, from its Cholesky factor
    /// (A⁻¹ = L⁻ᵀ L⁻¹), symmetrised exactly. Only the lower triangle of `a` is read.
    /// - Throws: `NotPositiveDefiniteError` when `a` is not positive definite.
    /// - Precondition: `a` is square.
    public static func inverseSPD(_ a: Tensor) throws(NotPositiveDefiniteError) -> Tensor {
        let l = try cholesky(a)
        let n = l.shape[0]
        let lInverse = solveLowerTriangular(l, Tensor.eye(n), transpose: false)
        return symmetrised(solveLowerTriangular(l, lInverse, transpose: true))
    }

    /// log det A of a symmetric positive-definite matrix, as 2 Σᵢ log Lᵢᵢ from its Cholesky
    /// factor (no overflow for large determinants). Only the lower triangle of `a` is read.
    /// - Throws: `NotPositiveDefiniteError` when `a` is not positive definite.
    /// - Precondition: `a` is square.
    public static func logDeterminantSPD(_ a: Tensor) throws(NotPositiveDefiniteError) -> Double {
        let l = try cholesky(a)
        let n = l.shape[0]
        var sum = 0.0
        for i in 0..<n { sum += log(l.scalars[i * n + i]) }
        return 2 * sum
    }

    /// ½(A + Aᵀ) of a square matrix.
    static func symmetrised(_ a: Tensor) -> Tensor {
        let n = a.shape[0]
        var s = a
        for i in 0..<n {
            for j in 0..<i {
                let mean = 0.5 * (a.scalars[i * n + j] + a.scalars[j * n + i])
                s.scalars[i * n + j] = mean
                s.scalars[j * n + i] = mean
            }
        }
        return s
    }

    /// The extent n of an n×n matrix; traps with the caller's name otherwise.
    static func squareExtent(_ a: Tensor, _ caller: String) -> Int {
        precondition(a.rank == 2 && a.shape[0] == a.shape[1],
                     "\(caller) needs a square matrix, got shape \(a.shape)")
        return a.shape[0]
    }
}
