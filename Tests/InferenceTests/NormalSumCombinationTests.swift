import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference
import Workloads

/// The summed Normal terms (`normalLogProbSum`, `normalDrawLogProbSum`) and the draw's
/// `multiplyAdd` in whole programs: the Normal–Normal step against its closed form away from
/// the optimum, draw by draw (an independent oracle: a wrong plate axis, a lost coefficient or
/// a doubled path changes it), and the combinations of `DrawFusionCombinationTests` run with
/// and without each rule.
@Suite struct NormalSumCombinationTests {
    static let halfLogTwoPi = 0.5 * Foundation.log(2 * Double.pi)

    /// The Normal–Normal program (workloads' model, its guide at loc [0.3, −0.2], scale [0.7, 1.3],
    /// far from the posterior) and its guide's draw.
    static func normalNormal(particles: Int) throws -> (program: CompiledProgram, draw: Node) {
        let b = ProgramBuilder(particles: particles, elbo: .tracegraph)
        let g = b.graph
        let d = try b.plate("d", size: NormalNormal.data.count)
        let p = try b.plate("p", size: 2)
        let m = try b.param("loc", Tensor([0.3, -0.2]))
        let s = try b.param("scale", Tensor([0.7, 1.3]), constraint: .positive)
        let draw = try b.sample("z", try Normal(loc: m, scale: s), plates: [p])
        let prior = try Normal(loc: g.constant(Tensor(NormalNormal.priorLoc)), scale: g.constant(1 / NormalNormal.priorPrecision.squareRoot()))
        let z = try b.latent("z", prior, plates: [p])
        let noise = g.constant(Tensor(NormalNormal.noisePrecision.map { 1 / $0.squareRoot() }))
        try b.observe("obs", try Normal(loc: g.reshape(z, [particles, 1, 2]), scale: noise),
                      value: g.constant(Tensor(rows: NormalNormal.data)), plates: [d, p])
        return (try b.compile(), draw)
    }

    /// Per draw z_q = loc + s·ε_q (P particles, s = exp u), with prior N(μ₀, σ₀), noise σ_j and
    /// data x_ij: ELBO = mean_q Σ_j [log N(z_qj | μ₀j, σ₀) + Σ_i log N(x_ij | z_qj, σ_j) + ε_qj²/2 + u_j + log √(2π)],
    /// and with D_qj = −(z_qj − μ₀j)/σ₀² + Σ_i (x_ij − z_qj)/σ_j² (the model's ∂/∂z):
    /// ∂ELBO/∂loc_j = mean_q D_qj, ∂ELBO/∂u_j = mean_q (D_qj·s_j·ε_qj + 1). The loss is −ELBO.
    @Test(arguments: [1, 3])
    func theNormalNormalStepIsTheClosedFormDrawByDrawAwayFromTheOptimum(_ particles: Int) throws {
        let (program, draw) = try Self.normalNormal(particles: particles)
        let applied = program.tape.appliedFusions.map(\.fusion)
        #expect(applied.filter { $0 == .normalLogProbSum }.count == 3, "\(applied)")
        #expect(applied.contains(.multiplyAdd), "\(applied)")
        #expect(applied.contains(.normalDrawLogProb))
        let loc = try #require(program.parameters.first { $0.name == "loc" }), scale = try #require(program.parameters.first { $0.name == "scale" })
        let u = program.tape.value(of: scale.raw).scalars, m = program.tape.value(of: loc.raw).scalars
        let sigma0 = 1 / NormalNormal.priorPrecision.squareRoot()
        func logN(_ x: Double, _ mu: Double, _ s: Double) -> Double { let z = (x - mu) / s; return -0.5 * z * z - Foundation.log(s) - Self.halfLogTwoPi }
        for step in UInt64(0)..<5 {
            program.tape.seed = 17; program.tape.step = step; program.tape.forward(); program.tape.backward()
            let z = program.tape.value(of: draw).scalars
            var elbo = 0.0, gLoc = [0.0, 0], gU = [0.0, 0]
            for q in 0..<particles {
                for j in 0..<2 {
                    let s = Foundation.exp(u[j]), zq = z[q * 2 + j], eps = (zq - m[j]) / s
                    let sigma = 1 / NormalNormal.noisePrecision[j].squareRoot()
                    var term = logN(zq, NormalNormal.priorLoc[j], sigma0) + 0.5 * eps * eps + u[j] + Self.halfLogTwoPi
                    var dz = -(zq - NormalNormal.priorLoc[j]) / (sigma0 * sigma0)
                    for row in NormalNormal.data {
                        term += logN(row[j], zq, sigma)
                        dz += (row[j] - zq) / (sigma * sigma)
                    }
                    elbo += term / Double(particles)
                    gLoc[j] += dz / Double(particles)
                    gU[j] += (dz * s * eps + 1) / Double(particles)
                }
            }
            // Rounding only: terms of size ≤ 10³ (the data's precision times |z − x|), a few
            // dozen operations each; ε recovered from z loses a few ulp of |loc| + s|ε|.
            let tol = 1e3 * 64 * Double.ulpOfOne
            #expect(Swift.abs(program.tape.scalar(of: program.elbo) - elbo) <= tol, "step \(step)")
            let gl = program.tape.gradient(of: loc.raw).scalars, gs = program.tape.gradient(of: scale.raw).scalars
            for j in 0..<2 {
                #expect(Swift.abs(-gl[j] - gLoc[j]) <= tol, "step \(step) loc[\(j)]: \(-gl[j]) vs \(gLoc[j])")
                #expect(Swift.abs(-gs[j] - gU[j]) <= tol, "step \(step) scale[\(j)]: \(-gs[j]) vs \(gU[j])")
            }
        }
    }

    @Test(arguments: [(1, ELBOKind.trace), (3, .trace), (1, .tracegraph), (2, .tracegraph)])
    func summedTermsAndDrawsInSubsampledPlatesFollowThePerNodeTrajectory(_ c: (Int, ELBOKind)) throws {
        for fusion in [Fusion.normalLogProbSum, .multiplyAdd] {
            let (applied, worst) = try DrawFusionCombinationTests.trajectories(fusion, particles: c.0, elbo: c.1) {
                try DrawFusionCombinationTests.normalMix($0, particles: c.0)
            }
            #expect(applied >= 1, "\(fusion) P=\(c.0) \(c.1): applied \(applied)")
            #expect(worst <= DrawFusionCombinationTests.tolerance, "\(fusion) P=\(c.0) \(c.1): \(worst)")
        }
    }

    @Test(arguments: [Baseline.none, .decayingAverage(beta: 0.9), .leaveOneOut, .learned(inputs: ["x"], hidden: 2)])
    func summedTermsInAScoreSitesDownstreamCostFollowThePerNodeTrajectory(_ baseline: Baseline) throws {
        let particles = baseline == .leaveOneOut ? 3 : 2
        for elbo in [ELBOKind.tracegraph, .trace] {
            for fusion in [Fusion.normalLogProbSum, .multiplyAdd] {
                let (_, worst) = try DrawFusionCombinationTests.trajectories(fusion, particles: particles, elbo: elbo) {
                    try DrawFusionCombinationTests.scoreUpstream($0, particles: particles, baseline: baseline)
                }
                #expect(worst <= DrawFusionCombinationTests.tolerance, "\(fusion) \(baseline) \(elbo): \(worst)")
            }
        }
    }
}
