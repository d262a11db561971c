import Foundation
import Testing
@testable import Numerics

/// One case of Reference/transport_reference.json (make_transport_reference.py): two normals
/// and W₂ and the map computed by SciPy (`sqrtm`, `inv`) and by mpmath at 60 digits.
private struct TransportCase: Decodable {
    struct Answer: Decodable {
        let w2_squared: Double
        let mean_squared: Double
        let covariance_squared: Double
        let a: [[Double]]
    }
    let name: String
    let kind: String
    let mean_q: [Double], cov_q: [[Double]], mean_p: [Double], cov_p: [[Double]]
    let scipy: Answer
    let exact: Answer

    var meanQ: Tensor { Tensor(mean_q) }
    var meanP: Tensor { Tensor(mean_p) }
    var covQ: Tensor { Tensor(rows: cov_q) }
    var covP: Tensor { Tensor(rows: cov_p) }
}

private struct TransportReference: Decodable {
    let cases: [TransportCase]

    static let all: [TransportCase] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Reference/transport_reference.json")
        // The fixture is committed; a missing or unreadable file fails every test that uses it.
        guard let data = try? Data(contentsOf: url),
              let reference = try? JSONDecoder().decode(TransportReference.self, from: data) else { return [] }
        return reference.cases
    }()
}

/// max |x − y| / max |y| over two matrices.
private func relativeMatrixError(_ x: Tensor, _ y: [[Double]]) -> Double {
    let flat = y.flatMap { $0 }
    let scale = flat.map(abs).max() ?? 1
    return zip(x.scalars, flat).map { abs($0 - $1) }.max()! / scale
}

private func relative(_ x: Double, _ y: Double) -> Double { abs(x - y) / max(abs(y), 1e-300) }

@Suite struct GaussianTransportReferenceTests {
    @Test func theFixtureHoldsEveryKindOfCase() {
        let kinds = Set(TransportReference.all.map(\.kind))
        #expect(kinds == ["random", "commuting", "diagonal", "ill-conditioned"])
        #expect(TransportReference.all.count >= 16)
    }

    @Test func distanceAndMapAgreeWithSciPyToTenDigitsOnWellConditionedCovariances() throws {
        for c in TransportReference.all where c.kind != "ill-conditioned" {
            let (parts, map) = try GaussianTransport.solve(meanQ: c.meanQ, covQ: c.covQ, meanP: c.meanP, covP: c.covP)
            #expect(relative(parts.squared, c.scipy.w2_squared) < 1e-10, "\(c.name)")
            #expect(relative(parts.meanSquared, c.scipy.mean_squared) < 1e-10, "\(c.name)")
            #expect(abs(parts.covarianceSquared - c.scipy.covariance_squared) < 1e-10 * c.scipy.w2_squared, "\(c.name)")
            #expect(relativeMatrixError(map.A, c.scipy.a) < 1e-10, "\(c.name)")
            #expect(relativeMatrixError(map.A, c.exact.a) < 1e-10, "\(c.name)")
            let w2 = try GaussianTransport.w2Parts(meanQ: c.meanQ, covQ: c.covQ, meanP: c.meanP, covP: c.covP)
            #expect(w2 == parts, "\(c.name): the distance alone and with the map share one computation")
        }
    }

    @Test func theMapPushesQOntoPOnEveryReferenceCase() throws {
        for c in TransportReference.all {
            let map = try GaussianTransport.transportMap(meanQ: c.meanQ, covQ: c.covQ, meanP: c.meanP, covP: c.covP)
            let pushed = LinearAlgebra.matmul(LinearAlgebra.matmul(map.A, c.covQ), map.A)
            let scale = c.covP.scalars.map(abs).max()!
            let error = zip(pushed.scalars, c.covP.scalars).map { abs($0 - $1) }.max()! / scale
            #expect(error < 1e-10, "\(c.name): A Σ_q A differs from Σ_p by \(error) relative")
        }
    }

    /// The polar-factor form keeps A accurate where the eigen form Σ_q^{-1/2}(…)^{1/2}Σ_q^{-1/2}
    /// (SciPy's float64 route) loses digits with the condition number: against mpmath at 60
    /// digits, A's error stays within κ(Σ_q)·ε, the first-order bound of a backward-stable
    /// method, and W₂² within 1e-12 relative (measured figures: docs/transport.md).
    @Test func theMapStaysAccurateOnIllConditionedCovariances() throws {
        for c in TransportReference.all where c.kind == "ill-conditioned" {
            let (parts, map) = try GaussianTransport.solve(meanQ: c.meanQ, covQ: c.covQ, meanP: c.meanP, covP: c.covP)
            let eigen = LinearAlgebra.symmetricEigen(c.covQ).values
            let condition = eigen.last! / eigen.first!
            let error = relativeMatrixError(map.A, c.exact.a)
            #expect(error < condition * 2.2e-16, "\(c.name): A error \(error), κ \(condition)")
            #expect(relative(parts.squared, c.exact.w2_squared) < 1e-12, "\(c.name)")
        }
    }

    @Test func diagonalPairsGiveTheSameAnswerInLinearTime() throws {
        for c in TransportReference.all where c.kind == "diagonal" {
            let d = c.mean_q.count
            let sq = (0..<d).map { c.cov_q[$0][$0].squareRoot() }, sp = (0..<d).map { c.cov_p[$0][$0].squareRoot() }
            let (parts, a) = try GaussianTransport.diagonal(meanQ: c.mean_q, scaleQ: sq, meanP: c.mean_p, scaleP: sp)
            #expect(relative(parts.squared, c.scipy.w2_squared) < 1e-12)
            for i in 0..<d { #expect(relative(a[i], c.scipy.a[i][i]) < 1e-12) }
        }
    }

    @Test func triangleInequalityHoldsOnRandomTriples() throws {
        var rng = LinalgFixtures(seed: 2026)
        for trial in 0..<50 {
            let d = 1 + trial % 6
            let normals = (0..<3).map { k in (Tensor(rng.values(d).map { $0 * Double(k + 1) }), rng.spd(d, ridge: 0.05 + 0.3 * Double(k))) }
            func w2(_ i: Int, _ j: Int) throws -> Double {
                try GaussianTransport.w2Distance(meanQ: normals[i].0, covQ: normals[i].1, meanP: normals[j].0, covP: normals[j].1)
            }
            let (ab, bc, ac) = (try w2(0, 1), try w2(1, 2), try w2(0, 2))
            #expect(ab >= 0 && bc >= 0 && ac >= 0)
            #expect(ac <= ab + bc + 1e-12, "trial \(trial)")
            #expect(ab <= ac + bc + 1e-12, "trial \(trial)")
            #expect(abs(try w2(1, 0) - ab) < 1e-10 * max(ab, 1), "trial \(trial): symmetric")
        }
    }

    @Test func partsAddUpToTheDistanceAndSeparateMeanFromCovariance() throws {
        var rng = LinalgFixtures(seed: 7)
        let cov = rng.spd(3)
        let shifted = try GaussianTransport.w2Parts(meanQ: Tensor([0, 0, 0]), covQ: cov, meanP: Tensor([3, 0, 4]), covP: cov)
        #expect(abs(shifted.mean - 5) < 1e-14)
        #expect(shifted.covariance < 1e-6)
        let scaled = try GaussianTransport.w2Parts(meanQ: Tensor([1, 2, 3]), covQ: cov, meanP: Tensor([1, 2, 3]), covP: cov.map { 4 * $0 })
        // Σ_p = 4 Σ_q: (Σ_q^{1/2} Σ_p Σ_q^{1/2})^{1/2} = 2 Σ_q, so the Bures part is tr Σ_q.
        let trace = (0..<3).reduce(0.0) { $0 + cov[$1, $1] }
        #expect(scaled.meanSquared == 0)
        #expect(relative(scaled.covarianceSquared, trace) < 1e-12)
        #expect(relative(scaled.total, scaled.covariance) < 1e-15)
    }
}
