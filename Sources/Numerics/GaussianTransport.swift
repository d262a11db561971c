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

    /// W₂²(q, p) = ‖μ_q − μ_p‖² + tr Σ_q + tr Σ_p − 2 tr (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2}:
    /// `w2Parts(...).squared`.
    /// - Throws: `GaussianTransportError` when the inputs do not describe two D-dimensional
    ///   normals with positive-definite covariances.
    public static func w2Squared(
        meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor
    ) throws(GaussianTransportError) -> Double {
        try w2Parts(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP).squared
    }

    /// W₂² split into its mean part ‖μ_q − μ_p‖² and its covariance part (the squared Bures
    /// distance) tr Σ_q + tr Σ_p − 2 tr (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2}.
    ///
    /// The last trace is Σᵢ sᵢ over the singular values of C = L_pᵀ L_q, with Σ_q = L_q L_qᵀ and
    /// Σ_p = L_p L_pᵀ the Cholesky factors computed during validation: CᵀC = L_qᵀ Σ_p L_q is
    /// similar to Σ_q^{1/2} Σ_p Σ_q^{1/2}, so its square root's trace is C's nuclear norm, and the
    /// SVD gives those square roots directly (accurate to ε‖C‖, where an eigendecomposition of
    /// CᵀC would give their squares to ε‖C‖²).
    ///
    /// The formula subtracts nearly equal traces when Σ_q ≈ Σ_p, so the covariance part's
    /// absolute error is of order ε · (tr Σ_q + tr Σ_p); a part rounded below zero is 0.
    /// - Throws: `GaussianTransportError` when the inputs do not describe two D-dimensional
    ///   normals with positive-definite covariances.
    public static func w2Parts(
        meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor
    ) throws(GaussianTransportError) -> W2Parts {
        try solve(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP).parts
    }

    /// W₂ (in parts) between N(μ_q, L_q L_qᵀ) and N(μ_p, L_p L_pᵀ) given square factors of the
    /// covariances (scale_trils, say), without forming a covariance, a Cholesky factor or a
    /// singular vector: tr Σ = ‖L‖²_F, and tr (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2} is the sum of the
    /// singular values of C = L_pᵀ L_q (CᵀC = L_qᵀ Σ_p L_q is similar to the matrix under the
    /// root whenever L_q is invertible, and both sides are continuous in L_q, so any factors
    /// do, triangular or not, singular or not). A diagonal L_p (an identity prior, say) scales
    /// C's rows in O(D²) instead of a product. Costs one singular-value computation of a D×D
    /// matrix: seconds at D = 2500 where `w2Parts(meanQ:covQ:meanP:covP:)`, which also builds
    /// the transport map's vectors, takes minutes.
    /// - Throws: `GaussianTransportError` when the shapes disagree or an entry is not finite.
    public static func w2Parts(
        meanQ: Tensor, scaleQ: Tensor, meanP: Tensor, scaleP: Tensor
    ) throws(GaussianTransportError) -> W2Parts {
        let d = try GaussianPair.checked(meanQ: meanQ, ("scaleQ", scaleQ), meanP: meanP, ("scaleP", scaleP))
        guard d > 0 else { return W2Parts(meanSquared: 0, covarianceSquared: 0) }
        var meanGap = 0.0, traces = 0.0
        for i in 0..<d { meanGap += (meanQ.scalars[i] - meanP.scalars[i]) * (meanQ.scalars[i] - meanP.scalars[i]) }
        for x in scaleQ.scalars { traces += x * x }
        for x in scaleP.scalars { traces += x * x }
        var diagonal = true
        for i in 0..<d where diagonal { for j in 0..<d where i != j && scaleP.scalars[i * d + j] != 0 { diagonal = false; break } }
        var c: Tensor
        if diagonal {
            // (L_pᵀ L_q)_ij = L_p,ii · L_q,ij.
            c = scaleQ
            for i in 0..<d { for j in 0..<d { c.scalars[i * d + j] *= scaleP.scalars[i * d + i] } }
        } else {
            c = LinearAlgebra.matmul(LinearAlgebra.transpose(scaleP), scaleQ)
        }
        guard let s = LinearAlgebra.singularValues(c) else { throw .nonFinite(argument: "scaleP @ scaleQ") }
        return W2Parts(meanSquared: meanGap, covarianceSquared: max(0, traces - 2 * s.reduce(0, +)))
    }

    /// The optimal transport map from q to p: T(z) = μ_p + A (z − μ_q) with
    /// A = Σ_q^{-1/2} (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2} Σ_q^{-1/2}, symmetric positive semi-definite.
    /// T pushes q onto p (A Σ_q A = Σ_p), and the coupling (z, T(z)) attains W₂².
    ///
    /// Computed without forming a matrix square root: with Cholesky factors Σ_q = L_q L_qᵀ and
    /// Σ_p = L_p L_pᵀ, let C = L_pᵀ L_q = U S Vᵀ (SVD) and R = U Vᵀ its orthogonal polar factor;
    /// then (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2} is similar to (CᵀC)^{1/2} = V S Vᵀ and
    /// A = L_p R L_q⁻¹ (one triangular solve), symmetrised exactly. The eigen form squares the
    /// covariances' condition numbers in Σ_q^{1/2} Σ_p Σ_q^{1/2}, whose small eigenvalues it
    /// then resolves only to ε‖·‖ before taking their square roots; the SVD resolves C's
    /// singular values (the square roots themselves) to ε‖C‖. docs/transport.md records the
    /// accuracy measured against 60-digit references on ill-conditioned covariances.
    /// - Throws: `GaussianTransportError` when the inputs do not describe two D-dimensional
    ///   normals with positive-definite covariances.
    public static func transportMap(
        meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor
    ) throws(GaussianTransportError) -> GaussianTransportMap {
        try solve(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP).map
    }

    /// W₂ (in parts) and the transport map together, from one SVD (see `transportMap`); W₂'s
    /// trace term is Σ sᵢ, the singular values of C.
    /// - Throws: `GaussianTransportError` as `transportMap` does.
    public static func solve(
        meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor
    ) throws(GaussianTransportError) -> (parts: W2Parts, map: GaussianTransportMap) {
        let pair = try GaussianPair(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP)
        let d = pair.dimension
        guard d > 0 else {
            return (W2Parts(meanSquared: 0, covarianceSquared: 0), GaussianTransportMap(A: Tensor.zeros([0, 0]), meanQ: pair.meanQ, meanP: pair.meanP))
        }
        let lq = pair.choleskyQ, lp = pair.choleskyP
        let (u, s, vt) = LinearAlgebra.singularValueDecomposition(LinearAlgebra.matmul(LinearAlgebra.transpose(lp), lq))
        let r = LinearAlgebra.matmul(u, vt)
        // A = L_p R L_q⁻¹: (L_p R) L_q⁻¹ = ((L_q⁻ᵀ (L_p R)ᵀ))ᵀ, one triangular solve with L_qᵀ.
        let right = LinearAlgebra.solveLowerTriangular(lq, LinearAlgebra.transpose(LinearAlgebra.matmul(lp, r)), transpose: true)
        let a = LinearAlgebra.symmetrised(LinearAlgebra.transpose(right))
        return (pair.parts(rootTrace: s.reduce(0, +)), GaussianTransportMap(A: a, meanQ: pair.meanQ, meanP: pair.meanP))
    }

    /// W₂ (in parts) between two normals with diagonal covariances, given by their standard
    /// deviations, in O(D): ‖μ_q − μ_p‖² + ‖σ_q − σ_p‖²; the map's linear part is the diagonal
    /// σ_p / σ_q (returned as that vector).
    /// - Throws: `GaussianTransportError` for unequal lengths, non-finite entries or a standard
    ///   deviation that is not positive.
    public static func diagonal(
        meanQ: [Double], scaleQ: [Double], meanP: [Double], scaleP: [Double]
    ) throws(GaussianTransportError) -> (parts: W2Parts, diagonal: [Double]) {
        let d = meanQ.count
        for (name, v) in [("scaleQ", scaleQ), ("meanP", meanP), ("scaleP", scaleP)] where v.count != d {
            throw .shapeMismatch(argument: name, expected: [d], actual: [v.count])
        }
        for (name, v) in [("meanQ", meanQ), ("scaleQ", scaleQ), ("meanP", meanP), ("scaleP", scaleP)] where !v.allSatisfy(\.isFinite) {
            throw .nonFinite(argument: name)
        }
        if let i = scaleQ.firstIndex(where: { $0 <= 0 }) { throw .notPositiveDefinite(argument: "scaleQ", minor: i + 1) }
        if let i = scaleP.firstIndex(where: { $0 <= 0 }) { throw .notPositiveDefinite(argument: "scaleP", minor: i + 1) }
        var mean = 0.0, cov = 0.0
        var a = [Double](repeating: 0, count: d)
        for i in 0..<d {
            let dm = meanQ[i] - meanP[i], ds = scaleQ[i] - scaleP[i]
            mean += dm * dm; cov += ds * ds
            a[i] = scaleP[i] / scaleQ[i]
        }
        return (W2Parts(meanSquared: mean, covarianceSquared: cov), a)
    }
}

/// W₂² between two normals split into the part due to their means and the part due to their
/// covariances (the squared Bures distance): `squared = meanSquared + covarianceSquared`.
public struct W2Parts: Equatable, Sendable {
    /// ‖μ_q − μ_p‖².
    public let meanSquared: Double
    /// tr Σ_q + tr Σ_p − 2 tr (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2} (clamped at 0).
    public let covarianceSquared: Double

    public init(meanSquared: Double, covarianceSquared: Double) {
        self.meanSquared = meanSquared; self.covarianceSquared = covarianceSquared
    }

    /// W₂².
    public var squared: Double { meanSquared + covarianceSquared }
    /// W₂.
    public var total: Double { squared.squareRoot() }
    /// The mean part as a distance, ‖μ_q − μ_p‖.
    public var mean: Double { meanSquared.squareRoot() }
    /// The covariance part as a distance (the Bures distance).
    public var covariance: Double { covarianceSquared.squareRoot() }

    /// The parts of independent blocks added (W₂² of product measures adds up).
    public static func + (a: W2Parts, b: W2Parts) -> W2Parts {
        W2Parts(meanSquared: a.meanSquared + b.meanSquared, covarianceSquared: a.covarianceSquared + b.covarianceSquared)
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
    let choleskyP: Tensor

    var dimension: Int { meanQ.count }

    /// W₂² in parts given tr (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2}.
    func parts(rootTrace: Double) -> W2Parts {
        let d = dimension
        var meanGap = 0.0, traces = 0.0
        for i in 0..<d {
            let delta = meanQ.scalars[i] - meanP.scalars[i]
            meanGap += delta * delta
            traces += covQ.scalars[i * d + i] + covP.scalars[i * d + i]
        }
        return W2Parts(meanSquared: meanGap, covarianceSquared: max(0, traces - 2 * rootTrace))
    }

    /// D, after checking that `meanQ` is a vector of D entries, `meanP` has D too, both named
    /// matrices are D×D and every entry is finite (the first problem thrown, named).
    static func checked(
        meanQ: Tensor, _ q: (name: String, matrix: Tensor), meanP: Tensor, _ p: (name: String, matrix: Tensor)
    ) throws(GaussianTransportError) -> Int {
        guard meanQ.rank == 1 else { throw .meanNotAVector(argument: "meanQ", shape: meanQ.shape) }
        let d = meanQ.count
        for (name, tensor, shape) in [("meanP", meanP, [d]), (q.name, q.matrix, [d, d]), (p.name, p.matrix, [d, d])]
        where tensor.shape != shape {
            throw .shapeMismatch(argument: name, expected: shape, actual: tensor.shape)
        }
        for (name, tensor) in [("meanQ", meanQ), (q.name, q.matrix), ("meanP", meanP), (p.name, p.matrix)]
        where !tensor.scalars.allSatisfy(\.isFinite) {
            throw .nonFinite(argument: name)
        }
        return d
    }

    init(meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor) throws(GaussianTransportError) {
        _ = try Self.checked(meanQ: meanQ, ("covQ", covQ), meanP: meanP, ("covP", covP))
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
            choleskyP = try LinearAlgebra.cholesky(self.covP)
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
