/// Optimal transport between two multivariate normals q = N(μ_q, Σ_q) and p = N(μ_p, Σ_p)
/// under squared Euclidean cost (docs/estimators.md §2.5): the 2-Wasserstein distance, used as
/// a diagnostic, and the optimal map T, used for coupled sampling.
///
/// Means are D-vectors (shape `[D]`) and covariances D×D matrices (shape `[D, D]`). Every entry
/// point validates its inputs and throws `GaussianTransportError` naming the first problem:
/// shapes, non-finite entries, asymmetry beyond `symmetryTolerance`, or a covariance that is not
/// positive definite. Covariances are symmetrised (½(Σ + Σᵀ)) after validation.
public enum GaussianTransport {
    /// The largest accepted asymmetry of a covariance, relative to its largest entry:
    /// |Σᵢⱼ − Σⱼᵢ| ≤ symmetryTolerance · maxₖₗ |Σₖₗ|.
    public static let symmetryTolerance = 1e-10

    /// W₂(q, p), the 2-Wasserstein distance (not squared): `w2Squared(...).squareRoot()`.
    /// Near zero it inherits the cancellation described at `w2Squared`: W₂(q, q) comes out of
    /// order √(ε · tr Σ) rather than exactly 0.
    /// - Throws: `GaussianTransportError` when the inputs do not describe two D-dimensional
    ///   normals with positive-definite covariances.
    public static func w2Distance(
        meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor
    ) throws(GaussianTransportError) -> Double {
        try w2Squared(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP).squareRoot()
    }

    /// W₂²(q, p) = ‖μ_q − μ_p‖² + tr Σ_q + tr Σ_p − 2 tr (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2}.
    ///
    /// The last trace is Σᵢ √λᵢ over the eigenvalues λ of Lᵀ Σ_p L, where Σ_q = L Lᵀ is the
    /// Cholesky factor already computed during validation: that matrix is similar to Σ_q Σ_p and
    /// so to Σ_q^{1/2} Σ_p Σ_q^{1/2}, which saves one eigendecomposition. Eigenvalues that
    /// rounding makes slightly negative are clamped to 0 before the square root.
    ///
    /// The formula subtracts nearly equal traces when q ≈ p, so the absolute error is of order
    /// ε · (tr Σ_q + tr Σ_p); a result rounded below zero is returned as 0.
    /// - Throws: `GaussianTransportError` when the inputs do not describe two D-dimensional
    ///   normals with positive-definite covariances.
    public static func w2Squared(
        meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor
    ) throws(GaussianTransportError) -> Double {
        let pair = try GaussianPair(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP)
        let d = pair.dimension
        guard d > 0 else { return 0 }
        let lq = pair.choleskyQ
        let middle = LinearAlgebra.matmul(LinearAlgebra.transpose(lq), LinearAlgebra.matmul(pair.covP, lq))
        let rootTrace = LinearAlgebra.symmetricEigen(LinearAlgebra.symmetrised(middle)).values
            .reduce(0) { $0 + max($1, 0).squareRoot() }
        var meanGap = 0.0
        for i in 0..<d {
            let delta = pair.meanQ.scalars[i] - pair.meanP.scalars[i]
            meanGap += delta * delta
        }
        var traces = 0.0
        for i in 0..<d { traces += pair.covQ.scalars[i * d + i] + pair.covP.scalars[i * d + i] }
        return max(0, meanGap + traces - 2 * rootTrace)
    }

    /// The optimal transport map from q to p: T(z) = μ_p + A (z − μ_q) with
    /// A = Σ_q^{-1/2} (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2} Σ_q^{-1/2}, symmetric positive semi-definite.
    /// T pushes q onto p (A Σ_q A = Σ_p), and the coupling (z, T(z)) attains W₂².
    ///
    /// Symmetric square roots come from eigendecompositions. Eigenvalues of
    /// Σ_q^{1/2} Σ_p Σ_q^{1/2} that rounding makes slightly negative are clamped to 0; Σ_q's
    /// eigenvalues must all be positive for Σ_q^{-1/2} to exist. A is symmetrised exactly.
    /// - Throws: `GaussianTransportError` when the inputs do not describe two D-dimensional
    ///   normals with positive-definite covariances, or when Σ_q is numerically singular
    ///   (an eigenvalue ≤ 0 although its Cholesky factorisation succeeded).
    public static func transportMap(
        meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor
    ) throws(GaussianTransportError) -> GaussianTransportMap {
        let pair = try GaussianPair(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP)
        let (values, vectors) = LinearAlgebra.symmetricEigen(pair.covQ)
        if let smallest = values.first, smallest <= 0 {
            throw .numericallySingular(argument: "covQ", smallestEigenvalue: smallest)
        }
        let rootQ = LinearAlgebra.symmetricFunction(values: values, vectors: vectors) { $0.squareRoot() }
        let inverseRootQ = LinearAlgebra.symmetricFunction(values: values, vectors: vectors) { 1 / $0.squareRoot() }
        let middle = LinearAlgebra.symmetrised(
            LinearAlgebra.matmul(rootQ, LinearAlgebra.matmul(pair.covP, rootQ)))
        let middleRoot = LinearAlgebra.symmetricFunction(middle) { max($0, 0).squareRoot() }
        let a = LinearAlgebra.symmetrised(
            LinearAlgebra.matmul(inverseRootQ, LinearAlgebra.matmul(middleRoot, inverseRootQ)))
        return GaussianTransportMap(A: a, meanQ: pair.meanQ, meanP: pair.meanP)
    }
}

/// The optimal (W₂) transport map between two normals, T(z) = μ_p + A (z − μ_q); built by
/// `GaussianTransport.transportMap`.
public struct GaussianTransportMap: Equatable, Sendable {
    /// The D×D symmetric positive semi-definite linear part.
    public let A: Tensor
    /// μ_q, the mean of the source normal (shape `[D]`).
    public let meanQ: Tensor
    /// μ_p, the mean of the target normal (shape `[D]`).
    public let meanP: Tensor

    /// A map with the given parts; `A` is D×D and both means have shape `[D]`.
    /// - Precondition: the shapes agree.
    public init(A: Tensor, meanQ: Tensor, meanP: Tensor) {
        let d = meanQ.count
        precondition(meanQ.shape == [d] && meanP.shape == [d] && A.shape == [d, d],
                     "transport map parts disagree: A \(A.shape), μ_q \(meanQ.shape), μ_p \(meanP.shape)")
        self.A = A
        self.meanQ = meanQ
        self.meanP = meanP
    }

    /// The dimension D.
    public var dimension: Int { meanQ.count }

    /// T(z) for one point (shape `[D]`, result `[D]`) or for each row of a batch (shape `[N, D]`,
    /// result `[N, D]`). Allocates the result.
    /// - Precondition: `z` has shape `[D]` or `[N, D]`.
    public func apply(_ z: Tensor) -> Tensor {
        let d = dimension
        let single = z.shape == [d]
        precondition(single || (z.rank == 2 && z.shape[1] == d),
                     "transport map of dimension \(d) cannot apply to shape \(z.shape)")
        let rows = single ? 1 : z.shape[0]
        var centred = z
        var out = Tensor.zeros(z.shape)
        for r in 0..<rows {
            for j in 0..<d {
                centred.scalars[r * d + j] -= meanQ.scalars[j]
                out.scalars[r * d + j] = meanP.scalars[j]
            }
        }
        guard rows > 0, d > 0 else { return out }
        // Rows of (z − μ_q) times A equal A (z − μ_q) because A is symmetric.
        A.scalars.withUnsafeBufferPointer { pa in
            centred.scalars.withUnsafeBufferPointer { pz in
                out.scalars.withUnsafeMutableBufferPointer { po in
                    LinearAlgebra.gemm(transA: .normal, transB: .normal, m: rows, n: d, k: d,
                                       alpha: 1, a: pz.baseAddress!, lda: d, b: pa.baseAddress!,
                                       ldb: d, beta: 1, c: po.baseAddress!, ldc: d)
                }
            }
        }
        return out
    }
}

/// Why inputs to `GaussianTransport` do not describe two normals it can compare.
public enum GaussianTransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A mean is not a vector.
    case meanNotAVector(argument: String, shape: [Int])
    /// An argument's shape disagrees with the dimension D that `meanQ` sets.
    case shapeMismatch(argument: String, expected: [Int], actual: [Int])
    /// An argument holds a NaN or infinity.
    case nonFinite(argument: String)
    /// A covariance is asymmetric beyond `GaussianTransport.symmetryTolerance` at (row, column).
    case notSymmetric(argument: String, row: Int, column: Int)
    /// A covariance's Cholesky factorisation failed at the leading minor of this order.
    case notPositiveDefinite(argument: String, minor: Int)
    /// A covariance factorised but has an eigenvalue ≤ 0, so its inverse square root is undefined.
    case numericallySingular(argument: String, smallestEigenvalue: Double)

    /// A sentence naming the argument and what is wrong with it.
    public var description: String {
        switch self {
        case let .meanNotAVector(argument, shape):
            "\(argument) must be a vector, got shape \(shape)"
        case let .shapeMismatch(argument, expected, actual):
            "\(argument) must have shape \(expected), got \(actual)"
        case let .nonFinite(argument):
            "\(argument) contains NaN or infinity"
        case let .notSymmetric(argument, row, column):
            "\(argument) is not symmetric: entries (\(row), \(column)) and (\(column), \(row)) differ"
        case let .notPositiveDefinite(argument, minor):
            "\(argument) is not positive definite: its leading minor of order \(minor) is not positive"
        case let .numericallySingular(argument, smallest):
            "\(argument) is numerically singular: smallest eigenvalue \(smallest)"
        }
    }
}

/// Two validated normals: shapes agree, entries are finite, covariances are symmetric (and
/// symmetrised) and positive definite, with Σ_q's Cholesky factor kept for reuse.
struct GaussianPair {
    let meanQ: Tensor
    let covQ: Tensor
    let meanP: Tensor
    let covP: Tensor
    let choleskyQ: Tensor

    var dimension: Int { meanQ.count }

    init(meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor) throws(GaussianTransportError) {
        guard meanQ.rank == 1 else { throw .meanNotAVector(argument: "meanQ", shape: meanQ.shape) }
        let d = meanQ.count
        for (name, tensor, shape) in [("meanP", meanP, [d]), ("covQ", covQ, [d, d]), ("covP", covP, [d, d])]
        where tensor.shape != shape {
            throw .shapeMismatch(argument: name, expected: shape, actual: tensor.shape)
        }
        for (name, tensor) in [("meanQ", meanQ), ("covQ", covQ), ("meanP", meanP), ("covP", covP)]
        where !tensor.scalars.allSatisfy(\.isFinite) {
            throw .nonFinite(argument: name)
        }
        self.meanQ = meanQ
        self.meanP = meanP
        self.covQ = try Self.symmetricCovariance(covQ, "covQ")
        self.covP = try Self.symmetricCovariance(covP, "covP")
        do {
            choleskyQ = try LinearAlgebra.cholesky(self.covQ)
        } catch {
            throw .notPositiveDefinite(argument: "covQ", minor: error.minor)
        }
        do {
            _ = try LinearAlgebra.cholesky(self.covP)
        } catch {
            throw .notPositiveDefinite(argument: "covP", minor: error.minor)
        }
    }

    /// `cov` symmetrised, after checking its asymmetry against the tolerance.
    private static func symmetricCovariance(
        _ cov: Tensor, _ name: String
    ) throws(GaussianTransportError) -> Tensor {
        let d = cov.shape[0]
        let bound = GaussianTransport.symmetryTolerance * (cov.scalars.map(abs).max() ?? 0)
        for i in 0..<d {
            for j in 0..<i where abs(cov.scalars[i * d + j] - cov.scalars[j * d + i]) > bound {
                throw .notSymmetric(argument: name, row: i, column: j)
            }
        }
        return LinearAlgebra.symmetrised(cov)
    }
}
