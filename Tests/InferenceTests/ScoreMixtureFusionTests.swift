import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference

/// The benchmark's score-function mixture (integer assignments z_n ~ Categorical(logits_n) with
/// a decaying-average baseline under TraceGraph_ELBO, x_n ~ Normal(mu[z_n], 1)), compiled with
/// the fused categorical draw and without it; and its score gradient against oracles written
/// out independently of the engine: exact enumeration of each z_n in expectation (the mean over
/// draws within 4 standard errors, estimators.md §7), and the per-step estimator
/// (δ − q)(C − b) of every plate element from the step's own draws and a baseline set per
/// element.
@Suite struct ScoreMixtureFusionTests {
    struct Case: CustomStringConvertible, Sendable {
        let n: Int, k: Int, subsample: Int?
        var description: String { "N=\(n) K=\(k) subsample=\(subsample.map(String.init) ?? "-")" }
    }

    struct Mixture {
        let program: CompiledProgram, logits: Node, mu: Node, z: Node, x: [Double], logitValues: [Double]
    }

    static func mixture(_ c: Case, fused: Bool = true) throws -> Mixture {
        let n = c.n, k = c.k
        var state: UInt64 = 0x2545F4914F6CDD1D &* UInt64(n + 3 * k)
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / 9007199254740992 }
        let b = ProgramBuilder(particles: 1, elbo: .tracegraph)
        if !fused { b.graph.fusions.remove(.categoricalDrawPlate) }
        let g = b.graph
        let plate = try b.plate("data", size: n, subsample: c.subsample)
        let m = try b.param("m", Tensor((0..<k).map { 2 * Double($0) - Double(k - 1) }))
        let s = try b.param("s", Tensor(repeating: 0.5, shape: [k]), constraint: .positive)
        try b.sample("mu", try Independent(Normal(loc: m, scale: s), reinterpretedDims: 1))
        let l0 = (0..<(n * k)).map { _ in 4 * uniform() - 2 }
        let logitsParam = try b.param("logits", Tensor(shape: [n, k], scalars: l0))
        let logits = try b.rows(logitsParam, in: plate)
        try b.sample("z", try Categorical(.logits(logits)), plates: [plate], estimator: .score(baseline: .decayingAverage(beta: 0.9)))
        let mu = try b.latent("mu", try Independent(Normal(loc: g.constant(Tensor.zeros([k])), scale: g.constant(10)), reinterpretedDims: 1))
        let z = try b.latent("z", try Categorical(.probs(g.constant(Tensor(repeating: 1 / Double(k), shape: [k])))), plates: [plate])
        let x = (0..<n).map { _ in 6 * uniform() - 3 }
        let mean = g.pick(g.reshape(mu, [1, 1, k]), index: z)
        try b.observe("x", try Normal(loc: mean, scale: g.constant(1)), value: try b.rows(g.constant(Tensor(x)), in: plate), plates: [plate])
        let p = try b.compile()
        return Mixture(program: p, logits: p.parameters.first { $0.name == "logits" }!.raw, mu: b.guideValue("mu")!,
                       z: b.guideValue("z")!, x: x, logitValues: l0)
    }

    static let cases = [Case(n: 12, k: 3, subsample: nil), Case(n: 70, k: 4, subsample: nil), Case(n: 130, k: 3, subsample: nil),
                        Case(n: 20, k: 5, subsample: 7)]

    @Test(arguments: cases)
    func theFusedAndPerNodeProgramsDrawTheSameAndAgreeOnTheELBOAndEveryGradient(_ c: Case) throws {
        let fused = try Self.mixture(c), plain = try Self.mixture(c, fused: false)
        #expect(fused.program.tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        #expect(!plain.program.tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        // The draw's three picks (log q, the prior's log-probability, mu[z]) are the fused
        // instruction's, and so are mu's and the prior's broadcasts over the plate.
        #expect(!fused.program.tape.listing.contains(": pick "))
        #expect(plain.program.tape.listing.split(separator: "\n").filter { $0.contains(": pick ") }.count == 3)
        let eps = 2.220446049250313e-16
        for step in [UInt64(0), 3, 8] {
            for p in [fused.program, plain.program] { p.tape.seed = 21; p.tape.step = step; p.tape.forward(); p.tape.backward() }
            #expect(fused.program.tape.value(of: fused.z).scalars == plain.program.tape.value(of: plain.z).scalars)
            // log q within a few ulp (≤ 8 ε (8 + log K), CategoricalDrawFusionTests) an element,
            // summed over the plate with the likelihood's terms (|x − μ| ≤ 3 + |μ|).
            let fv = fused.program.tape.scalar(of: fused.program.elbo), pv = plain.program.tape.scalar(of: plain.program.elbo)
            #expect(Swift.abs(fv - pv) <= Double(c.n) * 64 * eps * (1 + Swift.abs(pv)))
            for (fp, pp) in zip(fused.program.parameters, plain.program.parameters) {
                let fg = fused.program.tape.gradient(of: fp.raw).scalars, pg = plain.program.tape.gradient(of: pp.raw).scalars
                let scale = pg.map(Swift.abs).max() ?? 1
                for i in 0..<fg.count { #expect(Swift.abs(fg[i] - pg[i]) <= 1e3 * eps * Swift.max(1, scale), "\(fp.name)[\(i)]") }
            }
        }
    }

    /// The exact gradient of the ELBO in the logits given the step's draw of μ: each element's
    /// Categorical enumerated, ∂ℓ_rj = q_j (f_j − Σ_i q_i f_i) with f_i = log(1/K) + log N(x_r | μ_i, 1)
    /// − log q_i (estimators.md §7's closed form), in Float80.
    static func exactGradient(logits l: [Double], x: [Double], mu: [Double], k: Int) -> [Float80] {
        var out = [Float80]()
        for r in 0..<x.count {
            let row = (0..<k).map { Float80(l[r * k + $0]) }
            let m = row.max()!, lse = m + logl(row.map { expl($0 - m) }.reduce(0, +))
            let lq = row.map { $0 - lse }, q = lq.map { expl($0) }
            let f = (0..<k).map { i -> Float80 in
                let d = Float80(x[r]) - Float80(mu[i])
                return -logl(Float80(k)) - d * d / 2 - 0.918938533204672741780329736405617639861 - lq[i]
            }
            let total = (0..<k).reduce(Float80(0)) { $0 + q[$1] * f[$1] }
            out += (0..<k).map { q[$0] * (f[$0] - total) }
        }
        return out
    }

    @Test func theFusedScoreGradientMatchesExactEnumerationWithinStandardErrors() throws {
        let c = Case(n: 6, k: 3, subsample: nil)
        let mix = try Self.mixture(c)
        let tape = mix.program.tape
        #expect(tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        tape.seed = 8
        // d = (−∂ surrogate) − exact(μ of the step): the estimator's error given the step's μ,
        // mean zero; the baseline (updated between steps from the costs just drawn) only
        // changes its variance.
        var rows: [[Double]] = []
        for step in 0..<20_000 {
            tape.step = UInt64(step)
            tape.forward(); tape.backward()
            let exact = Self.exactGradient(logits: mix.logitValues, x: mix.x, mu: tape.value(of: mix.mu).scalars, k: c.k)
            let g = tape.gradient(of: mix.logits).scalars
            rows.append((0..<g.count).map { -g[$0] - Double(exact[$0]) })
            updateDecayingBaselines(mix.program)
        }
        let (mean, se, _) = meanAndError(rows)
        for i in 0..<mean.count { #expect(Swift.abs(mean[i]) < 4 * se[i], "ℓ[\(i / c.k), \(i % c.k)]: \(mean[i]) ± \(se[i])") }
    }

    @Test(arguments: [Case(n: 9, k: 3, subsample: nil), Case(n: 70, k: 4, subsample: nil)])
    func eachPlateElementsScoreTermUsesItsOwnCostAndBaseline(_ c: Case) throws {
        let mix = try Self.mixture(c)
        let tape = mix.program.tape, baseline = try #require(mix.program.decayingBaselines.first)
        #expect(tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        // A baseline far apart for every element: a term scored against a neighbour's is off by ≥ 7.
        let b = (0..<c.n).map { 7 * Double($0) - 20 }
        tape.setValue(baseline.state, Tensor(shape: baseline.state.shape, scalars: b))
        for step in [UInt64(1), 2] {
            tape.seed = 4; tape.step = step
            tape.forward(); tape.backward()
            let z = tape.value(of: mix.z).scalars.map { Int($0) }, mu = tape.value(of: mix.mu).scalars
            let g = tape.gradient(of: mix.logits).scalars, cost = tape.value(of: baseline.costMean).scalars
            for r in 0..<c.n {
                let row = (0..<c.k).map { Float80(mix.logitValues[r * c.k + $0]) }
                let m = row.max()!, lse = m + logl(row.map { expl($0 - m) }.reduce(0, +))
                let d = Float80(mix.x[r]) - Float80(mu[z[r]])
                // The element's downstream cost: log p(z_r) + log p(x_r | μ_{z_r}) − log q(z_r).
                let cr = -logl(Float80(c.k)) - d * d / 2 - 0.918938533204672741780329736405617639861 - (row[z[r]] - lse)
                #expect(Swift.abs(cost[r] - Double(cr)) <= 1e-12 * (1 + Swift.abs(Double(cr))))
                for j in 0..<c.k {
                    let expected = -((j == z[r] ? 1 : 0) - expl(row[j] - lse)) * (cr - Float80(b[r]))
                    #expect(Swift.abs(g[r * c.k + j] - Double(expected)) <= 1e-12 * (1 + Swift.abs(Double(expected))), "row \(r), class \(j)")
                }
            }
        }
    }
}
