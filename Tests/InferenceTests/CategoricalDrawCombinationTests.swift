import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference

/// `categoricalDrawPlate` (with the picks at the draw it absorbs) in programs that combine
/// features: plates of one row, k = 1, 2 and large, every baseline under both ELBOs, the draw
/// read by the model as an index and as a value, a model param read through the draw and
/// directly, two picks of one table, a table computed from constants alone, a subsampled
/// plate. Each runs as an SVI trajectory beside the same program without the fusion
/// (`DrawFusionCombinationTests.trajectories`: the rewrite keeps the noise, the draw and every
/// total derivative, so the two agree to rounding; a lost, doubled or misplaced adjoint is an
/// O(1) change of some gradient). Five SGD steps: at rate 0.01 a score gradient of cost ≈ 10N
/// drives the logits to ±25 within 25 steps, where the per-node log-softmax backward
/// (g − q·Σg with q → 1) loses the digits that the fused g·([j = z] − q_j) keeps (its gradient
/// was quantised to 2⁻⁴ by then, N = 130): an accuracy gap of the per-node path, not of the
/// rewrite.
@Suite struct CategoricalDrawCombinationTests {
    enum Mean: String, CaseIterable, Sendable {
        /// x ~ Normal(mu[z], 1).
        case gather
        /// x ~ Normal(mu[z] + 0.1·z, 1): the draw read as a value too.
        case indexAndValue
        /// x ~ Normal(w[z] + 0.3·Σw, 1), w a model param (created after the draw, so its pick
        /// stays a node of its own): read through the draw and directly.
        case paramThroughIndexAndDirectly
        /// x ~ Normal(mu[z], 1) and y ~ Normal(0.5·mu[z], 2): two picks of one table.
        case twoPicksOfOneTable
        /// x ~ Normal(mu[z] + c[z], 1), c = 2·(0, 1, …) + 1 from constants alone.
        case constantTable
    }

    struct Case: CustomStringConvertible, Sendable {
        let n: Int, k: Int, subsample: Int?, mean: Mean
        var description: String { "N=\(n) K=\(k) subsample=\(subsample.map(String.init) ?? "-") \(mean.rawValue)" }
    }

    static func mixture(_ b: ProgramBuilder, _ c: Case, baseline: Baseline) throws {
        let g = b.graph, n = c.n, k = c.k
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(n + 7 * k + 1)
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / 9007199254740992 }
        let plate = try b.plate("data", size: n, subsample: c.subsample)
        let xs = (0..<n).map { _ in 6 * uniform() - 3 }
        b.feature("f", try b.rows(g.constant(Tensor(shape: [n, 1], scalars: xs.map { $0 / 3 })), in: plate))
        let m = try b.param("m", Tensor((0..<k).map { Double($0) - Double(k - 1) / 2 }))
        let s = try b.param("s", Tensor(repeating: 0.7, shape: [k]), constraint: .positive)
        try b.sample("mu", try Independent(Normal(loc: m, scale: s), reinterpretedDims: 1))
        let l0 = (0..<(n * k)).map { _ in 3 * uniform() - 1.5 }
        let logits = try b.rows(try b.param("logits", Tensor(shape: [n, k], scalars: l0)), in: plate)
        try b.sample("z", try Categorical(.logits(logits)), plates: [plate], estimator: .score(baseline: baseline))
        let mu = try b.latent("mu", try Independent(Normal(loc: g.constant(Tensor.zeros([k])), scale: g.constant(10)), reinterpretedDims: 1))
        let z = try b.latent("z", try Categorical(.probs(g.constant(Tensor(repeating: 1 / Double(k), shape: [k])))), plates: [plate])
        let x = try b.rows(g.constant(Tensor(xs)), in: plate)
        let table = g.reshape(mu, [1, 1, k])
        switch c.mean {
        case .gather:
            try b.observe("x", try Normal(loc: g.pick(table, index: z), scale: g.constant(1)), value: x, plates: [plate])
        case .indexAndValue:
            try b.observe("x", try Normal(loc: g.pick(table, index: z) + z * 0.1, scale: g.constant(1)), value: x, plates: [plate])
        case .paramThroughIndexAndDirectly:
            let w = try b.param("w", Tensor((0..<k).map { 1.5 * Double($0) - 1 }))
            let mean = g.pick(g.reshape(w, [1, 1, k]), index: z) + g.sum(w) * 0.3
            try b.observe("x", try Normal(loc: mean, scale: g.constant(1)), value: x, plates: [plate])
        case .twoPicksOfOneTable:
            try b.observe("x", try Normal(loc: g.pick(table, index: z), scale: g.constant(1)), value: x, plates: [plate])
            try b.observe("y", try Normal(loc: g.pick(table, index: z) * 0.5, scale: g.constant(2)), value: x * 0.5, plates: [plate])
        case .constantTable:
            let constant = g.reshape(g.constant(Tensor((0..<k).map(Double.init))) * 2.0 + 1.0, [1, 1, k])
            try b.observe("x", try Normal(loc: g.pick(table, index: z) + g.pick(constant, index: z), scale: g.constant(1)),
                          value: x, plates: [plate])
        }
    }

    static let cases: [Case] = [
        Case(n: 1, k: 3, subsample: nil, mean: .gather), Case(n: 12, k: 1, subsample: nil, mean: .gather),
        Case(n: 12, k: 2, subsample: nil, mean: .gather), Case(n: 70, k: 40, subsample: nil, mean: .gather),
        Case(n: 130, k: 3, subsample: nil, mean: .gather), Case(n: 20, k: 4, subsample: 7, mean: .gather),
    ] + Mean.allCases.filter { $0 != .gather }.flatMap { mean in
        [Case(n: 1, k: 2, subsample: nil, mean: mean), Case(n: 70, k: 3, subsample: nil, mean: mean),
         Case(n: 20, k: 5, subsample: 6, mean: mean)]
    }

    @Test(arguments: cases)
    func theFusedSiteGivesThePerNodeTrajectoryWithEveryBaselineAndELBO(_ c: Case) throws {
        for baseline in [Baseline.none, .decayingAverage(beta: 0.9), .learned(inputs: ["f"], hidden: 2)] {
            for elbo in [ELBOKind.tracegraph, .trace] {
                let (applied, worst) = try DrawFusionCombinationTests.trajectories(.categoricalDrawPlate, particles: 1, elbo: elbo, steps: 5) {
                    try Self.mixture($0, c, baseline: baseline)
                }
                #expect(applied == 1, "\(c) \(baseline) \(elbo)")
                #expect(worst <= DrawFusionCombinationTests.tolerance, "\(c) \(baseline) \(elbo): \(worst)")
            }
        }
    }
}

