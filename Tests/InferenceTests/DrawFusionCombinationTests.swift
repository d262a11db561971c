import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference

/// The draw-density fusions (`normalDrawLogProb`, `mvnDrawLogProb`) in programs that combine
/// features — subsampled plates, several particles, scalar and constrained scales, model sites
/// that read the guide's own params, a scale computed from the loc, a score-function site
/// upstream under TraceGraph with each baseline, batched MVN locs, a covariance_matrix guide —
/// each run as an SVI trajectory next to the same program with the fusion removed (the oracle:
/// the rewrite is an identity of the value and of every parameter's total derivative, so the
/// two trajectories agree to rounding), and the cases where the identity does not hold (OMT
/// and AVF draws, a scale_tril that is not structurally lower triangular, a score-function
/// draw) left unfused.
@Suite struct DrawFusionCombinationTests {
    /// Builds the program `body` makes with all fusions and without `fusion` and compares
    /// them: the ELBO and every parameter's gradient at the initial params for several draws,
    /// then an SGD trajectory of `steps` steps from the same seed (ELBOs and final constrained
    /// params). Returns how often the fused program applied `fusion` and the largest
    /// difference, each relative to max(1, |per-node value|).
    static func trajectories(_ fusion: Fusion, particles: Int, elbo: ELBOKind, steps: Int = 25,
                             _ body: (ProgramBuilder) throws -> Void) throws -> (applied: Int, worst: Double) {
        func make(_ on: Bool) throws -> SVI {
            let b = ProgramBuilder(particles: particles, elbo: elbo)
            if !on { b.graph.fusions.remove(fusion) }
            try body(b)
            return try SVI(program: try b.compile(), optimizer: .sgd(lr: 0.01), seed: 21)
        }
        let fused = try make(true), plain = try make(false)
        #expect(!plain.program.tape.appliedFusions.contains { $0.fusion == fusion })
        var worst = 0.0
        func note(_ a: Double, _ b: Double) { worst = Swift.max(worst, Swift.abs(a - b) / Swift.max(1, Swift.abs(b))) }
        for step in UInt64(100)..<104 {
            for p in [fused.program, plain.program] { p.tape.seed = 3; p.tape.step = step; p.tape.forward(); p.tape.backward() }
            note(fused.program.tape.scalar(of: fused.program.elbo), plain.program.tape.scalar(of: plain.program.elbo))
            for (fp, pp) in zip(fused.program.parameters, plain.program.parameters) {
                for (a, b) in zip(fused.program.tape.gradient(of: fp.raw).scalars, plain.program.tape.gradient(of: pp.raw).scalars) { note(a, b) }
            }
        }
        for _ in 0..<steps { note(try fused.step().elbo, try plain.step().elbo) }
        for (fp, pp) in zip(fused.program.parameters, plain.program.parameters) {
            for (a, b) in zip(fused.program.tape.value(of: fp.value).scalars, plain.program.tape.value(of: pp.value).scalars) { note(a, b) }
        }
        return (fused.program.tape.appliedFusions.filter { $0.fusion == fusion }.count, worst)
    }

    /// Rounding bound of the comparison: the fused and per-node forms differ per entry by the
    /// rounding of (loc + s·ε − loc)/s against ε and of the cancelled path terms, a few ulp of
    /// terms of size ≤ 10² here (≈ 10⁻¹⁴), summed over a few dozen entries and carried by 25
    /// SGD steps of rate 0.01 without growth; a lost or doubled path is an O(1) relative
    /// change of some gradient.
    static let tolerance = 1e-11

    // MARK: Normal

    /// Global z in a plate of 2, read by a model prior on the same loc and scale nodes; local
    /// u in a subsampled plate with its loc gathered by the subsample and its scale a function
    /// of that loc; a scalar scale with an interval constraint on a third site; a hierarchical
    /// h whose loc is z plus a Delta site's draw.
    static func normalMix(_ b: ProgramBuilder, particles: Int) throws {
        let g = b.graph
        let d = try b.plate("d", size: 6, subsample: 4)
        let p = try b.plate("p", size: 2)
        let m = try b.param("m", Tensor([0.3, -0.2]))
        let s = try b.param("s", Tensor([0.7, 1.3]), constraint: .positive)
        let z = try b.sample("z", try Normal(loc: m, scale: s), plates: [p])
        _ = try b.latent("z", try Normal(loc: m, scale: s), plates: [p])
        let locU = try b.rows(try b.param("loc_u", Tensor([0.1, -0.4, 0.2, 0.9, -1.1, 0.5])), in: d)
        let u = try b.sample("u", try Normal(loc: locU, scale: g.softplus(locU) + 0.1), plates: [d])
        _ = try b.latent("u", try Normal(loc: g.constant(0), scale: g.constant(2)), plates: [d])
        let k = try b.plate("k", size: 3)
        let t = try b.param("t_scale", Tensor([0.4]), constraint: .interval(0.05, 3))
        let w = try b.sample("w", try Normal(loc: try b.param("t_loc", Tensor([0.2, 0.1, -0.3])), scale: t), plates: [k])
        _ = try b.latent("w", try Normal(loc: g.constant(0), scale: g.constant(1)), plates: [k])
        // A Delta (point-mass) site and a Normal h whose loc is z + a: the draw's density does
        // not depend on its loc, so nothing of h's −log q may reach z's or a's params.
        let a = try b.sample("a", try Delta(v: try b.param("a_v", Tensor([0.25, -0.1]))), plates: [p])
        _ = try b.latent("a", try Normal(loc: g.constant(0), scale: g.constant(1)), plates: [p])
        let h = try b.sample("h", try Normal(loc: z + a, scale: try b.param("h_scale", Tensor([0.5]), constraint: .positive)), plates: [p])
        _ = try b.latent("h", try Normal(loc: z, scale: g.constant(1)), plates: [p])
        let x = try b.rows(g.constant(Tensor([0.5, -0.3, 1.2, 0.8, -0.9, 0.1])), in: d)
        let zsum = g.reshape(g.sum(h, axes: [-1]) + g.sum(w, axes: [-1]), [particles, 1])
        try b.observe("x", try Normal(loc: u + zsum, scale: g.constant(0.5)), value: x, plates: [d])
    }

    @Test(arguments: [(1, ELBOKind.trace), (3, .trace), (1, .tracegraph), (2, .tracegraph)])
    func normalDrawsInSubsampledPlatesAndSharedModelParamsFollowThePerNodeTrajectory(_ c: (Int, ELBOKind)) throws {
        let (applied, worst) = try Self.trajectories(.normalDrawLogProb, particles: c.0, elbo: c.1) { try Self.normalMix($0, particles: c.0) }
        // The guide's z, u, w, h and the model's z prior (the same loc and scale nodes).
        #expect(applied == 5, "P=\(c.0) \(c.1): applied \(applied)")
        #expect(worst <= Self.tolerance, "P=\(c.0) \(c.1): \(worst)")
    }

    /// A score-function Bernoulli c upstream of a reparameterised Normal z whose loc reads c:
    /// under TraceGraph, z's −log q (the fused term) is part of c's downstream cost, so its
    /// value drives c's score gradient and the baselines that learn from it.
    static func scoreUpstream(_ b: ProgramBuilder, particles: Int, baseline: Baseline) throws {
        let g = b.graph
        let plate = try b.plate("n", size: 3)
        b.feature("x", g.constant(Tensor(shape: [3, 1], scalars: [0.2, -0.5, 1.0])))
        let c = try b.sample("c", try Bernoulli(.logits(try b.param("c_logits", Tensor([0.2, -0.3, 0.5])))), plates: [plate],
                             estimator: .score(baseline: baseline))
        _ = try b.latent("c", try Bernoulli(.probs(g.constant(0.4))), plates: [plate])
        let z = try b.sample("z", try Normal(loc: try b.param("z_loc", Tensor([0.1, 0.0, -0.2])) + c * 1.5,
                                              scale: try b.param("z_scale", Tensor([0.8, 0.6, 1.1]), constraint: .positive)), plates: [plate])
        _ = try b.latent("z", try Normal(loc: c * 2.0, scale: g.constant(1)), plates: [plate])
        try b.observe("y", try Normal(loc: z, scale: g.constant(0.5)), value: g.constant(Tensor([1.4, -0.2, 2.1])), plates: [plate])
    }

    @Test(arguments: [Baseline.none, .decayingAverage(beta: 0.9), .leaveOneOut, .learned(inputs: ["x"], hidden: 2)])
    func aFusedTermInAScoreSitesDownstreamCostGivesThePerNodeTrajectory(_ baseline: Baseline) throws {
        let particles = baseline == .leaveOneOut ? 3 : 2
        for elbo in [ELBOKind.tracegraph, .trace] {
            let (applied, worst) = try Self.trajectories(.normalDrawLogProb, particles: particles, elbo: elbo) {
                try Self.scoreUpstream($0, particles: particles, baseline: baseline)
            }
            #expect(applied == 1, "\(baseline) \(elbo)")
            #expect(worst <= Self.tolerance, "\(baseline) \(elbo): \(worst)")
        }
    }

    // MARK: Multivariate Normal

    enum MVNCase: String, CaseIterable, Sendable { case batchedLoc, covariance, dimensionOne, modelShares }

    static func mvn(_ b: ProgramBuilder, _ c: MVNCase, particles: Int) throws {
        let g = b.graph
        let d = c == .dimensionOne ? 1 : 3
        let loc0 = (0..<d).map { 0.2 * Double($0) - 0.1 }
        let tril0 = Tensor(shape: [d, d], scalars: (0..<(d * d)).map { i in i / d == i % d ? 0.7 + 0.1 * Double(i % d) : (i / d > i % d ? 0.3 : 0) })
        let dist: MultivariateNormal
        var plates: [Plate] = []
        switch c {
        case .batchedLoc:
            plates = [try b.plate("b", size: 2)]
            let m = try b.param("m", Tensor(rows: [loc0, loc0.map { -$0 }]))
            dist = try MultivariateNormal(loc: m + 0.0, scaleTril: try b.param("L", tril0, constraint: .lowerCholesky))
        case .covariance:
            let a = try b.param("A", Tensor(shape: [d, d], scalars: (0..<(d * d)).map { 0.1 * Double($0 % 4) - 0.15 }))
            let cov = g.matmul(a, g.transpose(a)) + g.constant(Tensor.eye(d))
            dist = try MultivariateNormal(loc: try b.param("m", Tensor(loc0)), covarianceMatrix: cov)
        case .dimensionOne, .modelShares:
            dist = try MultivariateNormal(loc: try b.param("m", Tensor(loc0)), scaleTril: try b.param("L", tril0, constraint: .lowerCholesky))
        }
        let w = try b.sample("w", dist, plates: plates)
        if c == .modelShares {
            _ = try b.latent("w", dist, plates: plates)
        } else {
            _ = try b.latent("w", try MultivariateNormal(loc: g.constant(Tensor.zeros([d])), scaleTril: g.constant(Tensor.eye(d))), plates: plates)
        }
        let total = g.reshape(g.sum(w, axes: c == .batchedLoc ? [-1, -2] : [-1]), [particles, 1])
        let obs = try b.plate("obs", size: 3)
        try b.observe("y", try Normal(loc: total, scale: g.constant(0.7)), value: g.constant(Tensor([0.3, 1.1, -0.4])), plates: [obs])
    }

    @Test(arguments: MVNCase.allCases)
    func mvnDrawsFollowThePerNodeTrajectory(_ c: MVNCase) throws {
        for particles in [1, 3] {
            let (applied, worst) = try Self.trajectories(.mvnDrawLogProb, particles: particles, elbo: .trace) { try Self.mvn($0, c, particles: particles) }
            // A batched loc [2, 3] fuses over several particles too: the draw and the density
            // read it through broadcasts of their own by the same table. Left unfused (the
            // per-node form, exact) over several particles: a one-element loc that the draw's
            // add reads in place (stride 0).
            let expected = switch c {
            case .modelShares: 2
            case .covariance, .batchedLoc: 1
            case .dimensionOne: particles == 1 ? 1 : 0
            }
            #expect(applied == expected, "\(c) P=\(particles): applied \(applied)")
            #expect(worst <= Self.tolerance, "\(c) P=\(particles): \(worst)")
        }
    }

    /// Where x = loc + ε Lᵀ does not make the density −‖ε‖²/2 − Σ log L_ii the rewrite must
    /// not apply: OMT and AVF draws (their own backward rules), a scale_tril param with no
    /// constraint (its upper triangle is free, so the draw uses it while the density's log-det
    /// reads only the diagonal), a constant factor, and a score-function draw.
    @Test func drawsWhoseDensityIsNotTheNoiseIdentityAreNotFused() throws {
        let d = 3
        let tril0 = Tensor(shape: [d, d], scalars: [0.8, 0, 0, 0.3, 0.9, 0, 0.1, 0.2, 0.7])
        let full = Tensor(shape: [d, d], scalars: [0.8, 0.2, 0.1, 0.3, 0.9, -0.2, 0.1, 0.2, 0.7])
        for kind in ["omt", "avf", "real", "constant", "score"] {
            let b = ProgramBuilder(particles: 2, elbo: .trace)
            let g = b.graph
            let m = try b.param("m", Tensor([0.1, 0.2, 0.3]))
            let l = kind == "real" ? try b.param("L", full) : kind == "constant" ? g.constant(Tensor.eye(d))
                : try b.param("L", tril0, constraint: .lowerCholesky)
            let est: Estimator = switch kind { case "omt": .omt; case "avf": .avf(rank: 2); case "score": .score(baseline: .none); default: .reparam }
            try b.sample("w", try MultivariateNormal(loc: m, scaleTril: l), estimator: est)
            _ = try b.latent("w", try MultivariateNormal(loc: g.constant(Tensor.zeros([d])), scaleTril: g.constant(Tensor.eye(d))))
            let program = try b.compile()
            #expect(!program.tape.appliedFusions.contains { $0.fusion == .mvnDrawLogProb }, "\(kind)")
        }
    }
}
