import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference

/// A multivariate Normal guide's log-density of its own reparameterised draw, fused into
/// `mvnDrawLogProb` (−‖ε‖²/2 − Σ log L_ii − d log √(2π)), on a conjugate Bayesian linear
/// regression (w ~ N(0, I), y_n ~ N(x_n·w, σ)): against the per-node program at a generic
/// guide, and at the exact posterior N(μ*, L*L*ᵀ) against the closed-form gradient of each draw.
@Suite struct MVNDrawFusionTests {
    static let d = 3, sigma = 0.5
    static let x: [[Double]] = [[0.3, -1.2, 0.8], [1.1, 0.4, -0.5], [-0.7, 0.9, 0.2], [0.5, 0.5, 1.5], [-1.3, -0.2, 0.6]]
    static let y: [Double] = [0.4, -0.9, 1.3, 0.2, -0.6]

    /// The regression with the guide N(loc, L Lᵀ) started at `loc`, `l` (lower triangular),
    /// `particles` draws a step, the fusion on or off.
    static func build(particles: Int, fused: Bool, loc: [Double], l: [Double], estimator: Estimator = .reparam) throws
        -> (program: CompiledProgram, draw: Node) {
        let b = ProgramBuilder(particles: particles, elbo: .trace)
        if !fused { b.graph.fusions.remove(.mvnDrawLogProb) }
        let g = b.graph
        let plate = try b.plate("data", size: x.count)
        let m = try b.param("loc", Tensor(loc))
        let tril = try b.param("scale_tril", Tensor(shape: [d, d], scalars: l), constraint: .lowerCholesky)
        let draw = try b.sample("w", try MultivariateNormal(loc: m, scaleTril: tril), estimator: estimator)
        let w = try b.latent("w", try MultivariateNormal(loc: g.constant(Tensor.zeros([d])), scaleTril: g.constant(Tensor.eye(d))))
        let mean = g.reshape(g.matmul(g.constant(Tensor(rows: x)), g.reshape(w, [particles, d, 1])), [particles, x.count])
        try b.observe("y", try Normal(loc: mean, scale: g.constant(sigma)), value: g.constant(Tensor(y)), plates: [plate])
        return (try b.compile(), draw)
    }

    /// Lower Cholesky factor of the symmetric positive definite d×d `a` (row-major).
    static func cholesky(_ a: [Double]) -> [Double] {
        var l = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0...i {
                var s = a[i * d + j]
                for k in 0..<j { s -= l[i * d + k] * l[j * d + k] }
                l[i * d + j] = i == j ? s.squareRoot() : s / l[j * d + j]
            }
        }
        return l
    }

    /// The exact posterior: precision Λ = I + XᵀX/σ², mean Λ⁻¹Xᵀy/σ², and L* = chol(Λ⁻¹).
    static func posterior() -> (mean: [Double], l: [Double]) {
        var lam = [Double](repeating: 0, count: d * d), rhs = [Double](repeating: 0, count: d)
        for i in 0..<d {
            lam[i * d + i] = 1
            for j in 0..<d { for row in x { lam[i * d + j] += row[i] * row[j] / (sigma * sigma) } }
            for (row, yn) in zip(x, y) { rhs[i] += row[i] * yn / (sigma * sigma) }
        }
        // Λ⁻¹ column by column through Λ's own factor, then its factor.
        let c = cholesky(lam)
        func solve(_ b: [Double]) -> [Double] {
            var z = b
            for i in 0..<d { for k in 0..<i { z[i] -= c[i * d + k] * z[k] }; z[i] /= c[i * d + i] }
            for i in stride(from: d - 1, through: 0, by: -1) { for k in (i + 1)..<d { z[i] -= c[k * d + i] * z[k] }; z[i] /= c[i * d + i] }
            return z
        }
        var cov = [Double](repeating: 0, count: d * d)
        for j in 0..<d {
            let col = solve((0..<d).map { $0 == j ? 1 : 0 })
            for i in 0..<d { cov[i * d + j] = col[i] }
        }
        return (solve(rhs), cholesky(cov))
    }

    @Test(arguments: [1, 3])
    func theFusedAndPerNodeProgramsAgreeOnTheELBOAndEveryGradient(_ particles: Int) throws {
        let loc = [0.2, -0.4, 0.1], l = [0.8, 0, 0, 0.3, 0.6, 0, -0.2, 0.1, 1.1]
        let fused = try Self.build(particles: particles, fused: true, loc: loc, l: l).program
        let plain = try Self.build(particles: particles, fused: false, loc: loc, l: l).program
        #expect(fused.tape.appliedFusions.contains { $0.fusion == .mvnDrawLogProb })
        #expect(!plain.tape.appliedFusions.contains { $0.fusion == .mvnDrawLogProb })
        // The OMT draw keeps its own rule.
        let omt = try Self.build(particles: particles, fused: true, loc: loc, l: l, estimator: .omt).program
        #expect(!omt.tape.appliedFusions.contains { $0.fusion == .mvnDrawLogProb })
        for step in [UInt64(0), 4, 7] {
            for p in [fused, plain] { p.tape.seed = 3; p.tape.step = step; p.tape.forward(); p.tape.backward() }
            let fv = fused.tape.scalar(of: fused.elbo), pv = plain.tape.scalar(of: plain.elbo)
            // The triangular solve L⁻¹(x − loc) against ε, and the cancelled path terms of the
            // gradient: a few dozen roundings of terms ≤ 10³ (the likelihood's precision 4 times
            // Σ x² ≤ 10, times |w − …| ≤ 10).
            #expect(Swift.abs(fv - pv) <= 1e3 * 64 * Double.ulpOfOne, "P=\(particles) step \(step)")
            for (fp, pp) in zip(fused.parameters, plain.parameters) {
                let fg = fused.tape.gradient(of: fp.raw).scalars, pg = plain.tape.gradient(of: pp.raw).scalars
                for i in 0..<fg.count {
                    #expect(Swift.abs(fg[i] - pg[i]) <= 1e3 * 64 * Double.ulpOfOne, "P=\(particles) step \(step) \(fp.name)[\(i)]: \(fg[i]) vs \(pg[i])")
                }
            }
        }
    }

    /// At the exact posterior, per draw z = μ* + L*ε: ∂ELBO/∂loc = −L*⁻ᵀε (the posterior's
    /// ∂/∂z), ∂ELBO/∂L_ij = −(L*⁻ᵀε)_i ε_j + [i = j]/L_ii for i ≥ j (the posterior's path, and
    /// −log det L from the guide's density), the diagonal's raw parameter (log L_ii) that times
    /// L_ii, the upper triangle's zero; means over particles. The loss is −ELBO.
    @Test(arguments: [1, 4])
    func theGradientIsTheClosedFormForEveryDrawAtTheExactPosterior(_ particles: Int) throws {
        let d = Self.d, post = Self.posterior()
        let (program, draw) = try Self.build(particles: particles, fused: true, loc: post.mean, l: post.l)
        #expect(program.tape.appliedFusions.contains { $0.fusion == .mvnDrawLogProb })
        let loc = try #require(program.parameters.first { $0.name == "loc" })
        let tril = try #require(program.parameters.first { $0.name == "scale_tril" })
        let l = post.l
        for step in UInt64(0)..<5 {
            program.tape.seed = 21; program.tape.step = step; program.tape.forward(); program.tape.backward()
            let z = program.tape.value(of: draw).scalars
            var wantLoc = [Double](repeating: 0, count: d), wantL = [Double](repeating: 0, count: d * d)
            for q in 0..<particles {
                // ε = L*⁻¹(z − μ*), then u = L*⁻ᵀε.
                var e = (0..<d).map { z[q * d + $0] - post.mean[$0] }
                for i in 0..<d { for k in 0..<i { e[i] -= l[i * d + k] * e[k] }; e[i] /= l[i * d + i] }
                var u = e
                for i in stride(from: d - 1, through: 0, by: -1) { for k in (i + 1)..<d { u[i] -= l[k * d + i] * u[k] }; u[i] /= l[i * d + i] }
                for i in 0..<d {
                    wantLoc[i] -= u[i] / Double(particles)
                    for j in 0...i {
                        var g = -u[i] * e[j] + (i == j ? 1 / l[i * d + i] : 0)
                        if i == j { g *= l[i * d + i] }
                        wantL[i * d + j] += g / Double(particles)
                    }
                }
            }
            let gLoc = program.tape.gradient(of: loc.raw).scalars, gL = program.tape.gradient(of: tril.raw).scalars
            // Rounding only: terms ≤ |u|·|ε| ≈ 10², a few dozen operations each.
            for i in 0..<d { #expect(Swift.abs(-gLoc[i] - wantLoc[i]) <= 1e2 * 64 * Double.ulpOfOne, "step \(step) loc[\(i)]") }
            for k in 0..<(d * d) { #expect(Swift.abs(-gL[k] - wantL[k]) <= 1e2 * 64 * Double.ulpOfOne, "step \(step) scale_tril[\(k)]: \(-gL[k]) vs \(wantL[k])") }
        }
    }
}
