import Testing
import Foundation
@testable import Numerics

/// A random non-commuting pair of D-dimensional normals.
private struct RandomPair {
    let meanQ: Tensor, covQ: Tensor, meanP: Tensor, covP: Tensor

    init(dimension d: Int, seed: UInt64) {
        var rng = LinalgFixtures(seed: seed)
        meanQ = Tensor(rng.values(d))
        covQ = rng.spd(d)
        meanP = Tensor(rng.values(d).map { 3 * $0 })
        covP = rng.spd(d, ridge: 0.2)
    }

    func w2Squared() throws -> Double {
        try GaussianTransport.w2Squared(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP)
    }

    func map() throws -> GaussianTransportMap {
        try GaussianTransport.transportMap(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP)
    }
}

private func squaredDistance(_ a: Tensor, _ b: Tensor) -> Double {
    zip(a.scalars, b.scalars).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
}

/// Σᵢ (√aᵢ − √bᵢ)²: W₂² between zero-mean normals with eigenvalues a and b in one basis.
private func rootSpread(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { sum, pair in
        let gap = pair.0.squareRoot() - pair.1.squareRoot()
        return sum + gap * gap
    }
}

/// ‖X‖_F².
private func squaredFrobenius(_ a: Tensor) -> Double {
    a.scalars.reduce(0) { $0 + $1 * $1 }
}

@Suite struct GaussianTransportTests {
    @Test(arguments: [(0.0, 1.0, 0.0, 1.0), (1.5, 2.0, -0.5, 0.5), (-3.0, 0.1, 4.0, 7.0)])
    func oneDimensionalDistanceIsTheClosedForm(
        muQ: Double, sigmaQ: Double, muP: Double, sigmaP: Double
    ) throws {
        let w2Squared = try GaussianTransport.w2Squared(
            meanQ: Tensor([muQ]), covQ: Tensor(rows: [[sigmaQ * sigmaQ]]),
            meanP: Tensor([muP]), covP: Tensor(rows: [[sigmaP * sigmaP]]))
        let expected = (muQ - muP) * (muQ - muP) + (sigmaQ - sigmaP) * (sigmaQ - sigmaP)
        #expect(scaledError(w2Squared, expected) < 1e-12)
        let w2 = try GaussianTransport.w2Distance(
            meanQ: Tensor([muQ]), covQ: Tensor(rows: [[sigmaQ * sigmaQ]]),
            meanP: Tensor([muP]), covP: Tensor(rows: [[sigmaP * sigmaP]]))
        #expect(scaledError(w2, expected.squareRoot()) < 1e-7 || expected == 0)
    }

    @Test func oneDimensionalMapScalesBySigmaRatio() throws {
        let map = try GaussianTransport.transportMap(
            meanQ: Tensor([1.5]), covQ: Tensor(rows: [[4]]), meanP: Tensor([-0.5]), covP: Tensor(rows: [[0.25]]))
        #expect(scaledError(map.A.scalar, 0.5 / 2) < 1e-14)
        #expect(scaledError(map.apply(Tensor([3.5])).scalars, [-0.5 + 0.25 * 2]) < 1e-14)
    }

    @Test func diagonalCovariancesGiveTheDifferenceOfStandardDeviations() throws {
        let a = [0.5, 2, 9, 0.01], b = [4, 1, 0.3, 0.02]
        let meanQ = Tensor([1, 2, 3, 4]), meanP = Tensor([0, 2, -1, 4.5])
        let w2Squared = try GaussianTransport.w2Squared(
            meanQ: meanQ, covQ: diagonal(a), meanP: meanP, covP: diagonal(b))
        let spread = rootSpread(a, b)
        #expect(scaledError(w2Squared, squaredDistance(meanQ, meanP) + spread) < 1e-12)
    }

    @Test func commutingCovariancesGiveTheFrobeniusDistanceOfTheirRoots() throws {
        var rng = LinalgFixtures(seed: 31)
        let d = 5
        let basis = rng.orthogonal(d)
        let a = [0.3, 1, 2.5, 4, 0.7], b = [2, 0.2, 2.5, 1.1, 3]
        let covQ = naiveProduct(naiveProduct(basis, diagonal(a)), naiveTranspose(basis))
        let covP = naiveProduct(naiveProduct(basis, diagonal(b)), naiveTranspose(basis))
        let meanQ = Tensor(rng.values(d)), meanP = Tensor(rng.values(d))
        let w2Squared = try GaussianTransport.w2Squared(meanQ: meanQ, covQ: covQ, meanP: meanP, covP: covP)
        let rootGap = naiveDifference(LinearAlgebra.symmetricFunction(covQ) { $0.squareRoot() },
                                      LinearAlgebra.symmetricFunction(covP) { $0.squareRoot() })
        let expected = squaredDistance(meanQ, meanP) + squaredFrobenius(rootGap)
        #expect(scaledError(w2Squared, expected) < 1e-12)
        let spread = rootSpread(a, b)
        #expect(scaledError(w2Squared, squaredDistance(meanQ, meanP) + spread) < 1e-12)
    }

    @Test func distanceFromANormalToItselfIsZeroUpToRounding() throws {
        let pair = RandomPair(dimension: 6, seed: 32)
        let w2Squared = try GaussianTransport.w2Squared(
            meanQ: pair.meanQ, covQ: pair.covQ, meanP: pair.meanQ, covP: pair.covQ)
        // The trace formula cancels: the error scale is ε · (tr Σ_q + tr Σ_p).
        #expect(w2Squared >= 0)
        #expect(w2Squared < 1e-12 * 2 * trace(pair.covQ))
        let map = try GaussianTransport.transportMap(
            meanQ: pair.meanQ, covQ: pair.covQ, meanP: pair.meanQ, covP: pair.covQ)
        #expect(scaledError(map.A, Tensor.eye(6)) < 1e-10)
    }

    @Test(arguments: [1, 2, 4, 9])
    func distanceIsSymmetricInItsArguments(dimension: Int) throws {
        let pair = RandomPair(dimension: dimension, seed: 33 + UInt64(dimension))
        let forward = try pair.w2Squared()
        let backward = try GaussianTransport.w2Squared(
            meanQ: pair.meanP, covQ: pair.covP, meanP: pair.meanQ, covP: pair.covQ)
        #expect(scaledError(forward, backward) < 1e-10)
    }

    @Test func distanceSatisfiesTheTriangleInequality() throws {
        var rng = LinalgFixtures(seed: 40)
        let normals = (0..<3).map { _ in (Tensor(rng.values(4)), rng.spd(4)) }
        func w2(_ i: Int, _ j: Int) throws -> Double {
            try GaussianTransport.w2Distance(meanQ: normals[i].0, covQ: normals[i].1,
                                             meanP: normals[j].0, covP: normals[j].1)
        }
        #expect(try w2(0, 2) <= w2(0, 1) + w2(1, 2))
    }

    @Test(arguments: [2, 3, 7])
    func mapPushesQOntoPWithASymmetricPositiveLinearPart(dimension d: Int) throws {
        let pair = RandomPair(dimension: d, seed: 50 + UInt64(d))
        let map = try pair.map()
        let a = map.A
        #expect(a == naiveTranspose(a))
        #expect(LinearAlgebra.symmetricEigen(a).values.allSatisfy { $0 > 0 })
        let pushed = naiveProduct(naiveProduct(a, pair.covQ), naiveTranspose(a))
        #expect(scaledError(pushed, pair.covP) < 1e-10)
        #expect(scaledError(map.apply(pair.meanQ), pair.meanP) < 1e-14)
    }

    @Test(arguments: [2, 3, 7])
    func expectedSquaredDisplacementOfTheMapEqualsW2Squared(dimension d: Int) throws {
        let pair = RandomPair(dimension: d, seed: 60 + UInt64(d))
        let map = try pair.map()
        // z − T(z) = (I − A)(z − μ_q) + (μ_q − μ_p), so
        // E‖z − T(z)‖² = tr((I − A) Σ_q (I − A)ᵀ) + ‖μ_q − μ_p‖².
        let residual = naiveDifference(Tensor.eye(d), map.A)
        let displacement = trace(naiveProduct(naiveProduct(residual, pair.covQ), naiveTranspose(residual)))
            + squaredDistance(pair.meanQ, pair.meanP)
        #expect(scaledError(displacement, try pair.w2Squared()) < 1e-10)
    }

    @Test func mapAgreesWithTheEigenFormOfTheSameMatrix() throws {
        // The map is computed in the Cholesky form L⁻ᵀ (Lᵀ Σ_p L)^{1/2} L⁻¹; the unique
        // symmetric positive solution of A Σ_q A = Σ_p is also
        // Σ_q^{-1/2} (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2} Σ_q^{-1/2}: an independent route to A.
        let pair = RandomPair(dimension: 5, seed: 70)
        let rootQ = LinearAlgebra.symmetricFunction(pair.covQ) { $0.squareRoot() }
        let inverseRootQ = LinearAlgebra.symmetricFunction(pair.covQ) { 1 / $0.squareRoot() }
        let middle = LinearAlgebra.symmetricFunction(naiveProduct(rootQ, naiveProduct(pair.covP, rootQ))) { $0.squareRoot() }
        let viaEigen = naiveProduct(inverseRootQ, naiveProduct(middle, inverseRootQ))
        #expect(scaledError(try pair.map().A, viaEigen) < 1e-10)
    }

    @Test func applyToABatchMapsEachRow() throws {
        let pair = RandomPair(dimension: 3, seed: 80)
        let map = try pair.map()
        var rng = LinalgFixtures(seed: 81)
        let batch = rng.matrix(4, 3)
        let mapped = map.apply(batch)
        #expect(mapped.shape == [4, 3])
        for r in 0..<4 {
            let row = Tensor(Array(batch.scalars[(3 * r)..<(3 * r + 3)]))
            let shift = naiveProduct(map.A, naiveDifference(row, pair.meanQ).reshaped([3, 1]))
            let expected = naiveSum(pair.meanP, shift.reshaped([3]))
            #expect(scaledError(Array(mapped.scalars[(3 * r)..<(3 * r + 3)]), expected.scalars) < 1e-14)
        }
    }

    @Test func invalidInputsAreRejectedWithTheirProblemNamed() {
        let mean = Tensor([0, 0]), cov = Tensor.eye(2)
        #expect(throws: GaussianTransportError.meanNotAVector(argument: "meanQ", shape: [2, 1])) {
            try GaussianTransport.w2Squared(meanQ: mean.reshaped([2, 1]), covQ: cov, meanP: mean, covP: cov)
        }
        #expect(throws: GaussianTransportError.shapeMismatch(argument: "meanP", expected: [2], actual: [3])) {
            try GaussianTransport.w2Squared(meanQ: mean, covQ: cov, meanP: Tensor([0, 0, 0]), covP: cov)
        }
        #expect(throws: GaussianTransportError.shapeMismatch(argument: "covP", expected: [2, 2], actual: [2, 3])) {
            try GaussianTransport.transportMap(meanQ: mean, covQ: cov, meanP: mean, covP: Tensor.zeros([2, 3]))
        }
        #expect(throws: GaussianTransportError.nonFinite(argument: "covQ")) {
            try GaussianTransport.w2Squared(meanQ: mean, covQ: Tensor(rows: [[1, .nan], [.nan, 1]]), meanP: mean, covP: cov)
        }
        #expect(throws: GaussianTransportError.notSymmetric(argument: "covP", row: 1, column: 0)) {
            try GaussianTransport.w2Distance(meanQ: mean, covQ: cov, meanP: mean, covP: Tensor(rows: [[1, 0.2], [0.1, 1]]))
        }
        #expect(throws: GaussianTransportError.notPositiveDefinite(argument: "covQ", minor: 2)) {
            try GaussianTransport.transportMap(meanQ: mean, covQ: Tensor(rows: [[1, 2], [2, 1]]), meanP: mean, covP: cov)
        }
        #expect(throws: GaussianTransportError.notPositiveDefinite(argument: "covP", minor: 1)) {
            try GaussianTransport.w2Squared(meanQ: mean, covQ: cov, meanP: mean, covP: Tensor(rows: [[0, 0], [0, 1]]))
        }
        #expect(GaussianTransportError.notSymmetric(argument: "covP", row: 1, column: 0).description
            == "covP is not symmetric: entries (1, 0) and (0, 1) differ")
    }

    /// The factor form (no covariance, Cholesky factor or singular vector) against the
    /// covariance form's SVD of the Cholesky factors: with each factor a Cholesky factor turned
    /// by an orthogonal matrix (not triangular, the same covariance), with a diagonal prior
    /// factor (the O(D²) path) and the identity, and against the closed form of diagonal pairs.
    @Test(arguments: [1, 2, 5, 12])
    func distanceFromFactorsIsTheCovarianceFormsDistance(d: Int) throws {
        let pair = RandomPair(dimension: d, seed: UInt64(40 + d))
        var rng = LinalgFixtures(seed: UInt64(90 + d))
        /// L·R with R a product of Givens rotations of random angles: L·R·Rᵀ·Lᵀ = L·Lᵀ.
        func turned(_ l: Tensor) -> Tensor {
            var t = l
            for i in 0..<d { for j in (i + 1)..<max(d, i + 1) {
                let angle = 6 * rng.uniform(), (c, s) = (cos(angle), sin(angle))
                for r in 0..<d {
                    let (a, b) = (t.scalars[r * d + i], t.scalars[r * d + j])
                    t.scalars[r * d + i] = c * a - s * b
                    t.scalars[r * d + j] = s * a + c * b
                }
            } }
            return t
        }
        let lq = try LinearAlgebra.cholesky(pair.covQ), lp = try LinearAlgebra.cholesky(pair.covP)
        let byCovariance = try GaussianTransport.w2Parts(meanQ: pair.meanQ, covQ: pair.covQ, meanP: pair.meanP, covP: pair.covP)
        for (fq, fp) in [(lq, lp), (turned(lq), turned(lp))] {
            let byFactors = try GaussianTransport.w2Parts(meanQ: pair.meanQ, scaleQ: fq, meanP: pair.meanP, scaleP: fp)
            #expect(byFactors.meanSquared == byCovariance.meanSquared)
            #expect(abs(byFactors.covarianceSquared - byCovariance.covarianceSquared) <= 1e-12 * (1 + byCovariance.covarianceSquared))
        }
        let sigmas = (0..<d).map { 0.5 + Double($0) / Double(d) }
        var diagonal = Tensor.zeros([d, d])
        for i in 0..<d { diagonal.scalars[i * d + i] = sigmas[i] }
        let diagonalCov = LinearAlgebra.matmul(diagonal, diagonal)
        for (p, cov) in [(diagonal, diagonalCov), (Tensor.eye(d), Tensor.eye(d))] {
            let byFactors = try GaussianTransport.w2Parts(meanQ: pair.meanQ, scaleQ: turned(lq), meanP: pair.meanP, scaleP: p)
            let expected = try GaussianTransport.w2Parts(meanQ: pair.meanQ, covQ: pair.covQ, meanP: pair.meanP, covP: cov)
            #expect(abs(byFactors.covarianceSquared - expected.covarianceSquared) <= 1e-12 * (1 + expected.covarianceSquared))
        }
        // Both diagonal: Σᵢ (σ_q,i − σ_p,i)².
        let other = (0..<d).map { 2 - Double($0) / Double(d) }
        var q = Tensor.zeros([d, d])
        for i in 0..<d { q.scalars[i * d + i] = other[i] }
        let closed = zip(other, sigmas).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let parts = try GaussianTransport.w2Parts(meanQ: pair.meanQ, scaleQ: q, meanP: pair.meanQ, scaleP: diagonal)
        #expect(parts.meanSquared == 0)
        #expect(abs(parts.covarianceSquared - closed) <= 1e-12 * (1 + closed))
    }

    @Test func factorFormRejectsMismatchedOrNonFiniteInputs() {
        let mean = Tensor([0, 0]), eye = Tensor.eye(2)
        #expect(throws: GaussianTransportError.shapeMismatch(argument: "scaleP", expected: [2, 2], actual: [2, 3])) {
            try GaussianTransport.w2Parts(meanQ: mean, scaleQ: eye, meanP: mean, scaleP: Tensor.zeros([2, 3]))
        }
        #expect(throws: GaussianTransportError.nonFinite(argument: "scaleQ")) {
            try GaussianTransport.w2Parts(meanQ: mean, scaleQ: Tensor(rows: [[1, 0], [.infinity, 1]]), meanP: mean, scaleP: eye)
        }
        #expect(throws: GaussianTransportError.meanNotAVector(argument: "meanQ", shape: [2, 1])) {
            try GaussianTransport.w2Parts(meanQ: mean.reshaped([2, 1]), scaleQ: eye, meanP: mean, scaleP: eye)
        }
    }

    @Test func roundingLevelAsymmetryIsAccepted() throws {
        let covQ = Tensor(rows: [[2, 0.5 + 1e-15], [0.5, 1]])
        let w2Squared = try GaussianTransport.w2Squared(meanQ: Tensor([0, 0]), covQ: covQ, meanP: Tensor([0, 0]), covP: covQ)
        #expect(w2Squared < 1e-12)
    }
}
