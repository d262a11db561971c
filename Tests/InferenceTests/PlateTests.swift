import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference

/// Plates: subsampling with the size/subsample scale, and TraceGraph's per-element costs.
@Suite struct PlateTests {
    static let data = (0..<20).map { 0.1 * Double($0) - 0.7 }

    /// Normal latent mean, N = 20 observations; guide N(m, s).
    func program(subsample: Int?, particles: Int = 1) throws -> (CompiledProgram, Double) {
        let b = ProgramBuilder(particles: particles)
        let plate = try b.plate("data", size: Self.data.count, subsample: subsample)
        let m = try b.param("m", Tensor(0.2))
        let s = try b.param("s", Tensor(0.5), constraint: .positive)
        let mu = try b.sample("mu", try Normal(loc: m, scale: s))
        try b.latent("mu", try Normal(loc: b.graph.constant(0), scale: b.graph.constant(1)))
        let x = try b.rows(b.graph.constant(Tensor(Self.data)), in: plate)
        try b.observe("x", try Normal(loc: b.graph.reshape(mu, [particles, 1]), scale: b.graph.constant(1)), value: x, plates: [plate])
        // Exact ELBO: E[log N(mu; 0, 1)] + Σ_n E[log N(x_n; mu, 1)] + H(q).
        let mv = 0.2, sv = 0.5, h = 0.5 * Foundation.log(2 * Double.pi * M_E * sv * sv)
        let c = -0.5 * Foundation.log(2 * Double.pi)
        var elbo = c - 0.5 * (mv * mv + sv * sv) + h
        for xn in Self.data { elbo += c - 0.5 * ((xn - mv) * (xn - mv) + sv * sv) }
        return (try b.compile(), elbo)
    }

    @Test func subsampledELBOIsAnUnbiasedEstimateOfTheFullOne() throws {
        let (p, exact) = try program(subsample: 5, particles: 2)
        var values: [[Double]] = []
        p.tape.seed = 9
        for step in 0..<20_000 {
            p.tape.step = UInt64(step)
            p.tape.forward()
            values.append([p.tape.scalar(of: p.elbo)])
        }
        let (mean, se, _) = meanAndError(values)
        #expect(Swift.abs(mean[0] - exact) < 4 * se[0], "\(mean[0]) ± \(se[0]) vs \(exact)")
    }

    @Test func fullPlateELBOHasTheSameMean() throws {
        let (p, exact) = try program(subsample: nil, particles: 4)
        var values: [[Double]] = []
        for step in 0..<5_000 {
            p.tape.step = UInt64(step)
            p.tape.forward()
            values.append([p.tape.scalar(of: p.elbo)])
        }
        let (mean, se, _) = meanAndError(values)
        #expect(Swift.abs(mean[0] - exact) < 4 * se[0])
    }

    /// Per-point discrete assignments: TraceGraph's cost for point n is point n's terms only,
    /// so its gradient variance is far below Trace_ELBO's, whose cost is the whole ELBO.
    @Test func traceGraphRestrictsCostsToThePlateElement() throws {
        func draws(_ elbo: ELBOKind) throws -> (mean: [Double], se: [Double], variance: [Double]) {
            let b = ProgramBuilder(particles: 1, elbo: elbo)
            let plate = try b.plate("data", size: 10)
            let logits = try b.param("logits", Tensor(shape: [10], scalars: (0..<10).map { 0.1 * Double($0) - 0.4 }))
            let z = try b.sample("z", try Bernoulli(.logits(logits)), plates: [plate], estimator: .score(baseline: .none))
            try b.latent("z", try Bernoulli(.probs(b.graph.constant(0.5))), plates: [plate])
            let x = b.graph.constant(Tensor((0..<10).map { Double($0 % 3) }))
            try b.observe("x", try Normal(loc: z * 2.0, scale: b.graph.constant(1)), value: x, plates: [plate])
            let p = try b.compile()
            return meanAndError(gradientDraws(p, [p.parameters[0].raw], draws: 20_000))
        }
        let graph = try draws(.tracegraph), trace = try draws(.trace)
        for j in 0..<10 {
            #expect(Swift.abs(graph.mean[j] - trace.mean[j]) < 4 * (graph.se[j] * graph.se[j] + trace.se[j] * trace.se[j]).squareRoot())
            #expect(graph.variance[j] < 0.5 * trace.variance[j])
        }
    }
}
