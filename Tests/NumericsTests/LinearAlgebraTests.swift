#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Numerics

/// Rows of `t` copied into rows `ld` elements wide, the gap filled with NaN so that any read
/// outside the matrix poisons the result.
private func padded(_ t: Tensor, ld: Int) -> [Double] {
    let (m, n) = (t.shape[0], t.shape[1])
    var out = [Double](repeating: .nan, count: m * ld)
    for i in 0..<m {
        for j in 0..<n { out[i * ld + j] = t[i, j] }
    }
    return out
}

/// The m×n matrix held in rows `ld` elements wide.
private func unpadded(_ buffer: [Double], m: Int, n: Int, ld: Int) -> Tensor {
    var t = Tensor.zeros([m, n])
    for i in 0..<m {
        for j in 0..<n { t[i, j] = buffer[i * ld + j] }
    }
    return t
}

/// Whether every element outside the m×n block of rows `ld` wide is still NaN.
private func paddingUntouched(_ buffer: [Double], m: Int, n: Int, ld: Int) -> Bool {
    (0..<m).allSatisfy { i in (n..<ld).allSatisfy { buffer[i * ld + $0].isNaN } }
}

private func op(_ a: Tensor, _ t: LinearAlgebra.Transpose) -> Tensor {
    t == .normal ? a : naiveTranspose(a)
}

/// `t` with its strictly upper triangle set to zero.
private func lowerTriangle(_ t: Tensor) -> Tensor {
    var l = t
    for i in 0..<t.shape[0] {
        for j in (i + 1)..<max(i + 1, t.shape[1]) { l[i, j] = 0 }
    }
    return l
}

/// A well-conditioned triangular n×n matrix: random entries, diagonal 2 to 3 in size.
private func triangular(_ n: Int, lower: Bool, rng: inout LinalgFixtures) -> Tensor {
    var t = rng.matrix(n, n)
    for i in 0..<n {
        for j in 0..<n where lower ? j > i : j < i { t[i, j] = 0 }
        t[i, i] = 2 + abs(t[i, i])
    }
    return t
}

@Suite struct LinearAlgebraTests {
    @Test(arguments: [LinearAlgebra.Transpose.normal, .transposed],
          [LinearAlgebra.Transpose.normal, .transposed])
    func gemmMatchesTheTripleLoopWithPaddedLeadingDimensions(
        transA: LinearAlgebra.Transpose, transB: LinearAlgebra.Transpose
    ) {
        var rng = LinalgFixtures(seed: 11)
        let (m, n, k) = (5, 4, 7)
        let a = transA == .normal ? rng.matrix(m, k) : rng.matrix(k, m)
        let b = transB == .normal ? rng.matrix(k, n) : rng.matrix(n, k)
        let c0 = rng.matrix(m, n)
        let (alpha, beta) = (0.7, -1.3)
        let (lda, ldb, ldc) = (a.shape[1] + 2, b.shape[1] + 3, n + 1)
        let pa = padded(a, ld: lda), pb = padded(b, ld: ldb)
        var pc = padded(c0, ld: ldc)
        pa.withUnsafeBufferPointer { a in
            pb.withUnsafeBufferPointer { b in
                pc.withUnsafeMutableBufferPointer { c in
                    LinearAlgebra.gemm(transA: transA, transB: transB, m: m, n: n, k: k,
                                       alpha: alpha, a: a.baseAddress!, lda: lda,
                                       b: b.baseAddress!, ldb: ldb, beta: beta,
                                       c: c.baseAddress!, ldc: ldc)
                }
            }
        }
        let product = naiveProduct(op(a, transA), op(b, transB))
        let expected = Tensor(shape: [m, n], scalars: zip(product.scalars, c0.scalars).map {
            alpha * $0 + beta * $1
        })
        #expect(scaledError(unpadded(pc, m: m, n: n, ld: ldc), expected) < 1e-13)
        #expect(paddingUntouched(pc, m: m, n: n, ld: ldc))
    }

    @Test(arguments: [LinearAlgebra.Transpose.normal, .transposed])
    func gemvMatchesTheDoubleLoopWithStrides(trans: LinearAlgebra.Transpose) {
        var rng = LinalgFixtures(seed: 12)
        let (m, n) = (6, 4)
        let a = rng.matrix(m, n)
        let lda = n + 2
        let (xCount, yCount) = trans == .normal ? (n, m) : (m, n)
        let x = rng.values(xCount), y0 = rng.values(yCount)
        let pa = padded(a, ld: lda)
        // x at stride 2 and y at stride 3, with NaN between the used elements.
        var px = [Double](repeating: .nan, count: 2 * xCount)
        for i in 0..<xCount { px[2 * i] = x[i] }
        var py = [Double](repeating: .nan, count: 3 * yCount)
        for i in 0..<yCount { py[3 * i] = y0[i] }
        pa.withUnsafeBufferPointer { a in
            px.withUnsafeBufferPointer { x in
                py.withUnsafeMutableBufferPointer { y in
                    LinearAlgebra.gemv(trans: trans, m: m, n: n, alpha: 2, a: a.baseAddress!,
                                       lda: lda, x: x.baseAddress!, incx: 2, beta: 0.5,
                                       y: y.baseAddress!, incy: 3)
                }
            }
        }
        let product = naiveProduct(op(a, trans), Tensor(shape: [xCount, 1], scalars: x))
        let expected = (0..<yCount).map { 2 * product.scalars[$0] + 0.5 * y0[$0] }
        #expect(scaledError((0..<yCount).map { py[3 * $0] }, expected) < 1e-13)
    }

    @Test func gerAddsTheOuterProduct() {
        var rng = LinalgFixtures(seed: 13)
        let (m, n) = (3, 5)
        let a0 = rng.matrix(m, n), x = rng.values(m), y = rng.values(n)
        var pa = padded(a0, ld: n + 1)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                pa.withUnsafeMutableBufferPointer { a in
                    LinearAlgebra.ger(m: m, n: n, alpha: -0.25, x: x.baseAddress!, incx: 1,
                                      y: y.baseAddress!, incy: 1, a: a.baseAddress!, lda: n + 1)
                }
            }
        }
        var expected = a0
        for i in 0..<m {
            for j in 0..<n { expected[i, j] += -0.25 * x[i] * y[j] }
        }
        #expect(scaledError(unpadded(pa, m: m, n: n, ld: n + 1), expected) < 1e-14)
        #expect(paddingUntouched(pa, m: m, n: n, ld: n + 1))
    }

    @Test(arguments: [LinearAlgebra.Side.left, .right], [true, false])
    func trsmSolvesEveryTriangularSystemItIsGiven(side: LinearAlgebra.Side, lower: Bool) {
        for transA in [LinearAlgebra.Transpose.normal, .transposed] {
            var rng = LinalgFixtures(seed: 14)
            let (m, n) = (5, 3)
            let order = side == .left ? m : n
            let a = triangular(order, lower: lower, rng: &rng)
            let b = rng.matrix(m, n)
            let alpha = 1.5
            var pb = padded(b, ld: n + 2)
            // The other triangle of A is NaN: trsm must read only the named one.
            var stored = a
            for i in 0..<order {
                for j in 0..<order where lower ? j > i : j < i { stored[i, j] = .nan }
            }
            stored.scalars.withUnsafeBufferPointer { pa in
                pb.withUnsafeMutableBufferPointer { pb in
                    LinearAlgebra.trsm(side: side, lower: lower, transA: transA, unitDiag: false,
                                       m: m, n: n, alpha: alpha, a: pa.baseAddress!, lda: order,
                                       b: pb.baseAddress!, ldb: n + 2)
                }
            }
            let x = unpadded(pb, m: m, n: n, ld: n + 2)
            let back = side == .left ? naiveProduct(op(a, transA), x) : naiveProduct(x, op(a, transA))
            #expect(scaledError(back, b.map { alpha * $0 }) < 1e-13, "transA \(transA)")
            #expect(paddingUntouched(pb, m: m, n: n, ld: n + 2))
        }
    }

    @Test func trsvSolvesALowerSystemAndItsTranspose() {
        var rng = LinalgFixtures(seed: 15)
        let n = 6
        let l = triangular(n, lower: true, rng: &rng)
        let b = rng.values(n)
        for trans in [LinearAlgebra.Transpose.normal, .transposed] {
            var x = b
            l.scalars.withUnsafeBufferPointer { pl in
                x.withUnsafeMutableBufferPointer { px in
                    LinearAlgebra.trsv(lower: true, trans: trans, unitDiag: false, n: n,
                                       a: pl.baseAddress!, lda: n, x: px.baseAddress!, incx: 1)
                }
            }
            let back = naiveProduct(op(l, trans), Tensor(shape: [n, 1], scalars: x))
            #expect(scaledError(back.scalars, b) < 1e-13)
        }
    }

    @Test func axpyAndDotFollowTheirStrides() {
        let x: [Double] = [1, 99, 2, 99, 3]
        var y: [Double] = [10, 20, 30]
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                LinearAlgebra.axpy(n: 3, alpha: 2, x: px.baseAddress!, incx: 2,
                                   y: py.baseAddress!, incy: 1)
            }
        }
        #expect(y == [12, 24, 36])
        let d = x.withUnsafeBufferPointer { px in
            y.withUnsafeBufferPointer { py in
                LinearAlgebra.dot(n: 3, x: px.baseAddress!, incx: 2, y: py.baseAddress!, incy: 1)
            }
        }
        #expect(d == 12 + 48 + 108)
    }

    @Test func potrfFactorsInPlaceAndLeavesTheUpperTriangleAlone() {
        var rng = LinalgFixtures(seed: 16)
        let n = 7, lda = 9
        let a = rng.spd(n)
        var stored = padded(a, ld: lda)
        for i in 0..<n {
            for j in (i + 1)..<n { stored[i * lda + j] = -7 }
        }
        let info = stored.withUnsafeMutableBufferPointer {
            LinearAlgebra.potrf(n: n, a: $0.baseAddress!, lda: lda)
        }
        #expect(info == 0)
        let l = lowerTriangle(unpadded(stored, m: n, n: n, ld: lda))
        #expect(scaledError(naiveProduct(l, naiveTranspose(l)), a) < 1e-13)
        #expect((0..<n).allSatisfy { i in ((i + 1)..<n).allSatisfy { stored[i * lda + $0] == -7 } })
        #expect(paddingUntouched(stored, m: n, n: n, ld: lda))
    }

    @Test func potrfReportsTheFirstMinorThatIsNotPositive() {
        var a: [Double] = [4, 0, 0,
                           2, 1, 0,
                           1, 3, 2]
        let info = a.withUnsafeMutableBufferPointer {
            LinearAlgebra.potrf(n: 3, a: $0.baseAddress!, lda: 3)
        }
        #expect(info == 2)
    }

    @Test func choleskyMatchesAHandComputedFactor() throws {
        let a = Tensor(rows: [[4, 12, -16], [12, 37, -43], [-16, -43, 98]])
        let l = try LinearAlgebra.cholesky(a)
        #expect(scaledError(l, Tensor(rows: [[2, 0, 0], [6, 1, 0], [-8, 5, 3]])) < 1e-15)
    }

    @Test func choleskyOfANonPositiveDefiniteMatrixNamesTheFailingMinor() {
        #expect(throws: NotPositiveDefiniteError(minor: 2)) {
            try LinearAlgebra.cholesky(Tensor(rows: [[1, 2], [2, 1]]))
        }
        #expect(throws: NotPositiveDefiniteError(minor: 1)) {
            try LinearAlgebra.cholesky(Tensor(rows: [[-1]]))
        }
        #expect(throws: NotPositiveDefiniteError(minor: 3)) {
            try LinearAlgebra.cholesky(diagonal([1, 2, .nan]))
        }
        #expect(throws: NotPositiveDefiniteError(minor: 2)) {
            try LinearAlgebra.cholesky(Tensor(rows: [[1, 0, 0], [.nan, 1, 0], [0, 0, 1]]))
        }
        #expect(NotPositiveDefiniteError(minor: 2).description.contains("order 2"))
    }

    @Test func syevReturnsAscendingEigenvaluesAndOrthonormalColumns() {
        var rng = LinalgFixtures(seed: 17)
        let n = 8, lda = 10
        let b = rng.matrix(n, n)
        let a = LinearAlgebra.symmetrised(naiveSum(b, naiveTranspose(b)))
        var stored = padded(a, ld: lda)
        // Only the lower triangle may be read.
        for i in 0..<n {
            for j in (i + 1)..<n { stored[i * lda + j] = .nan }
        }
        let size = LinearAlgebra.syevWorkspace(n: n)
        var w = [Double](repeating: 0, count: n)
        var work = [Double](repeating: 0, count: size.work)
        var iwork = [Int32](repeating: 0, count: size.iwork)
        let info = stored.withUnsafeMutableBufferPointer { pa in
            w.withUnsafeMutableBufferPointer { pw in
                work.withUnsafeMutableBufferPointer { pwork in
                    iwork.withUnsafeMutableBufferPointer { piwork in
                        LinearAlgebra.syev(n: n, a: pa.baseAddress!, lda: lda,
                                           eigenvalues: pw.baseAddress!, work: pwork.baseAddress!,
                                           lwork: size.work, iwork: piwork.baseAddress!,
                                           liwork: size.iwork)
                    }
                }
            }
        }
        #expect(info == 0)
        #expect(zip(w, w.dropFirst()).allSatisfy { $0 <= $1 })
        let v = unpadded(stored, m: n, n: n, ld: lda)
        #expect(scaledError(naiveProduct(naiveTranspose(v), v), Tensor.eye(n)) < 1e-13)
        // A v_j = w_j v_j for every column j.
        let av = naiveProduct(a, v)
        var vw = v
        for i in 0..<n {
            for j in 0..<n { vw[i, j] *= w[j] }
        }
        #expect(scaledError(av, vw) < 1e-13)
        #expect(paddingUntouched(stored, m: n, n: n, ld: lda))
    }

    @Test func symmetricEigenOfAKnownMatrixAndReconstruction() {
        let (values, vectors) = LinearAlgebra.symmetricEigen(Tensor(rows: [[2, 1], [1, 2]]))
        #expect(scaledError(values, [1, 3]) < 1e-15)
        #expect(abs(abs(vectors[0, 1]) - 0.5.squareRoot()) < 1e-15)
        #expect(abs(vectors[0, 1] - vectors[1, 1]) < 1e-15)

        var rng = LinalgFixtures(seed: 18)
        let a = rng.spd(6)
        let (w, v) = LinearAlgebra.symmetricEigen(a)
        let rebuilt = naiveProduct(naiveProduct(v, diagonal(w)), naiveTranspose(v))
        #expect(scaledError(rebuilt, a) < 1e-13)
        #expect(scaledError(naiveProduct(naiveTranspose(v), v), Tensor.eye(6)) < 1e-13)
    }

    @Test func symmetricFunctionGivesSquareRootsAndInverseSquareRoots() {
        var rng = LinalgFixtures(seed: 19)
        let a = rng.spd(5)
        let root = LinearAlgebra.symmetricFunction(a) { $0.squareRoot() }
        let inverseRoot = LinearAlgebra.symmetricFunction(a) { 1 / $0.squareRoot() }
        #expect(root == naiveTranspose(root))
        #expect(scaledError(naiveProduct(root, root), a) < 1e-13)
        #expect(scaledError(naiveProduct(naiveProduct(inverseRoot, a), inverseRoot), Tensor.eye(5)) < 1e-12)
    }

    @Test func matmulMultipliesMatricesAndVectors() {
        var rng = LinalgFixtures(seed: 20)
        let a = rng.matrix(4, 3), b = rng.matrix(3, 5), x = rng.values(3)
        #expect(scaledError(LinearAlgebra.matmul(a, b), naiveProduct(a, b)) < 1e-14)
        let ax = LinearAlgebra.matmul(a, Tensor(x))
        #expect(ax.shape == [4])
        #expect(scaledError(ax.scalars, naiveProduct(a, Tensor(shape: [3, 1], scalars: x)).scalars) < 1e-14)
        #expect(LinearAlgebra.matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3])) == Tensor.zeros([2, 3]))
    }

    @Test func transposeSwapsRowsAndColumns() {
        let a = Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        #expect(LinearAlgebra.transpose(a) == Tensor(rows: [[1, 4], [2, 5], [3, 6]]))
    }

    @Test func solveLowerTriangularHandlesVectorsMatricesAndTheTranspose() throws {
        var rng = LinalgFixtures(seed: 21)
        let l = try LinearAlgebra.cholesky(rng.spd(5))
        let b = rng.matrix(5, 2), v = Tensor(rng.values(5))
        for transpose in [false, true] {
            let lop = transpose ? naiveTranspose(l) : l
            let x = LinearAlgebra.solveLowerTriangular(l, b, transpose: transpose)
            #expect(scaledError(naiveProduct(lop, x), b) < 1e-13)
            let y = LinearAlgebra.solveLowerTriangular(l, v, transpose: transpose)
            #expect(y.shape == [5])
            #expect(scaledError(naiveProduct(lop, y.reshaped([5, 1])).scalars, v.scalars) < 1e-13)
        }
    }

    @Test func inverseAndLogDeterminantOfAPositiveDefiniteMatrix() throws {
        var rng = LinalgFixtures(seed: 22)
        let a = rng.spd(6)
        let inverse = try LinearAlgebra.inverseSPD(a)
        #expect(inverse == naiveTranspose(inverse))
        #expect(scaledError(naiveProduct(a, inverse), Tensor.eye(6)) < 1e-12)
        let logDet = try LinearAlgebra.logDeterminantSPD(a)
        let fromEigenvalues = LinearAlgebra.symmetricEigen(a).values.map { log($0) }.reduce(0, +)
        #expect(scaledError(logDet, fromEigenvalues) < 1e-12)
        #expect(scaledError(try LinearAlgebra.logDeterminantSPD(Tensor(rows: [[2, 1], [1, 2]])), log(3)) < 1e-15)
        #expect(throws: NotPositiveDefiniteError(minor: 2)) {
            try LinearAlgebra.inverseSPD(Tensor(rows: [[1, 2], [2, 1]]))
        }
    }

    @Test func blasReportsItsKernel() {
        #expect(!LinearAlgebra.blasCoreName().isEmpty)
    }
}
