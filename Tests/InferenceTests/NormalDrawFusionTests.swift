import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference
import Workloads

/// The guide's Normal log-density of its own reparameterised draw, fused into
/// `normalDrawLogProb` (−ε²/2 − log scale − log √(2π)): against the per-node program, and
/// against the conjugate model's closed form at the exact posterior, where every draw's ELBO is
/// log p(x) and its gradient is known draw by draw (below), so a wrong factor or a lost path in
/// the fused gradient shows on each step.
@Suite struct NormalDrawFusionTests {
    struct Case: CustomStringConvertible, Sendable {
        let particles: Int, scalarScale: Bool, score: Bool
        var description: String { "P=\(particles) \(scalarScale ? "scalar" : "vector") scale\(score ? " score function" : "")" }
    }
    static let cases = [Case(particles: 1, scalarScale: false, score: false), Case(particles: 3, scalarScale: false, score: false),
                        Case(particles: 2, scalarScale: true, score: false), Case(particles: 2, scalarScale: false, score: true)]

    /// The Normal–Normal benchmark model (workloads' `NormalNormal`), its guide started at
    /// `loc`, `scale`, built with or without the fusion.
    static func program(_ c: Case, fused: Bool, loc: [Double] = [0.3, -0.2], scale: [Double] = [0.7, 1.3]) throws -> CompiledProgram {
        try build(c, fused: fused, loc: loc, scale: scale).program
    }

    static func build(_ c: Case, fused: Bool, loc: [Double], scale: [Double]) throws -> (program: CompiledProgram, draw: Node) {
        let b = ProgramBuilder(particles: c.particles, elbo: .tracegraph)
        if !fused { b.graph.fusions.remove(.normalDrawLogProb) }
        let g = b.graph
        let d = try b.plate("d", size: NormalNormal.data.count)
        let p = try b.plate("p", size: 2)
        let m = try b.param("loc", Tensor(loc))
        let s = try b.param("scale", c.scalarScale ? Tensor([scale[0]]) : Tensor(scale), constraint: .positive)
        let estimator: Estimator = c.score ? .score(baseline: .none) : .reparam
        let draw = try b.sample("z", try Normal(loc: m, scale: s), plates: [p], estimator: estimator)
        let prior = try Normal(loc: g.constant(Tensor(NormalNormal.priorLoc)), scale: g.constant(1 / NormalNormal.priorPrecision.squareRoot()))
        let z = try b.latent("z", prior, plates: [p])
        let noise = g.constant(Tensor(NormalNormal.noisePrecision.map { 1 / $0.squareRoot() }))
        try b.observe("obs", try Normal(loc: g.reshape(z, [c.particles, 1, 2]), scale: noise),
                      value: g.constant(Tensor(rows: NormalNormal.data)), plates: [d, p])
        return (try b.compile(), draw)
    }

    @Test(arguments: cases)
    func theFusedAndPerNodeProgramsAgreeOnTheELBOAndEveryGradient(_ c: Case) throws {
        let fused = try Self.program(c, fused: true), plain = try Self.program(c, fused: false)
        let applied = fused.tape.appliedFusions.contains { $0.fusion == .normalDrawLogProb }
        // A score-function site's draw is not a differentiable function of loc and scale: the
        // density keeps its own rule (its gradient is the score).
        #expect(applied == !c.score, "\(c)")
        #expect(!plain.tape.appliedFusions.contains { $0.fusion == .normalDrawLogProb })
        // Summed, the density is one instruction either way (`normalLogProbSum` of x, loc and
        // scale, or `normalDrawLogProbSum` of ε and scale): never more instructions fused.
        if applied { #expect(fused.tape.instructionCounts.forward <= plain.tape.instructionCounts.forward) }
        let eps = Double.ulpOfOne
        for step in [UInt64(0), 3, 8] {
            for p in [fused, plain] { p.tape.seed = 5; p.tape.step = step; p.tape.forward(); p.tape.backward() }
            // Per entry the two forms differ by the rounding of (loc + s·ε − loc)/s against ε (a few
            // ulp of |ε| ≤ 8, squared) and of the cancelled path terms in the gradient (a few ulp of
            // the largest term, ≤ 10³ here); 2·P entries each.
            let fv = fused.tape.scalar(of: fused.elbo), pv = plain.tape.scalar(of: plain.elbo)
            #expect(Swift.abs(fv - pv) <= 64 * eps * Double(2 * c.particles) * Swift.max(1, Swift.abs(pv)), "\(c) step \(step)")
            for (fp, pp) in zip(fused.parameters, plain.parameters) {
                let fg = fused.tape.gradient(of: fp.raw).scalars, pg = plain.tape.gradient(of: pp.raw).scalars
                for i in 0..<fg.count {
                    #expect(Swift.abs(fg[i] - pg[i]) <= 1e3 * 64 * eps * Double(2 * c.particles), "\(c) step \(step) \(fp.name)[\(i)]: \(fg[i]) vs \(pg[i])")
                }
            }
        }
    }

    /// At the exact posterior (μ*, σ* of NormalNormal.posterior) q(z) = p(z | x), so every draw
    /// z = μ* + σ*ε has ELBO log p(x), and its gradient is, coordinate j, over P particles:
    /// ∂/∂loc_j = mean_q(−ε_qj/σ*_j) (the posterior's ∂/∂z; q's density of its own draw does not
    /// depend on loc) and ∂/∂log σ_j = mean_q(1 − ε_qj²) (−ε² from the posterior's path, +1 from
    /// −log σ). The loss is −ELBO.
    @Test(arguments: [1, 3])
    func theGradientIsTheClosedFormForEveryDrawAtTheExactPosterior(_ particles: Int) throws {
        let post = NormalNormal.posterior()
        let c = Case(particles: particles, scalarScale: false, score: false)
        let (fused, draw) = try Self.build(c, fused: true, loc: post.mean, scale: post.scale)
        #expect(fused.tape.appliedFusions.contains { $0.fusion == .normalDrawLogProb })
        let loc = try #require(fused.parameters.first { $0.name == "loc" }), scale = try #require(fused.parameters.first { $0.name == "scale" })
        var elbos: [Double] = []
        for step in UInt64(0)..<6 {
            fused.tape.seed = 13; fused.tape.step = step; fused.tape.forward(); fused.tape.backward()
            elbos.append(fused.tape.scalar(of: fused.elbo))
            let z = fused.tape.value(of: draw).scalars
            let gLoc = fused.tape.gradient(of: loc.raw).scalars, gScale = fused.tape.gradient(of: scale.raw).scalars
            for j in 0..<2 {
                let eps = (0..<particles).map { (z[$0 * 2 + j] - post.mean[j]) / post.scale[j] }
                let wantLoc = eps.reduce(0) { $0 - $1 / post.scale[j] } / Double(particles)
                let wantScale = eps.reduce(0) { $0 + 1 - $1 * $1 } / Double(particles)
                // Rounding only: terms of size ≤ |ε|·25/σ* ≈ 10³, a few dozen operations each.
                #expect(Swift.abs(-gLoc[j] - wantLoc) <= 1e3 * 64 * Double.ulpOfOne, "step \(step) loc[\(j)]: \(-gLoc[j]) vs \(wantLoc)")
                #expect(Swift.abs(-gScale[j] - wantScale) <= 1e3 * 64 * Double.ulpOfOne, "step \(step) scale[\(j)]: \(-gScale[j]) vs \(wantScale)")
            }
        }
        // …and the ELBO is the same log-evidence for every draw.
        for e in elbos { #expect(Swift.abs(e - elbos[0]) <= 1e-12 * Swift.abs(elbos[0])) }
    }
}
