import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference

/// Relaxed, straight-through, enumeration and score estimators on categorical sites.
@Suite struct DiscreteEstimatorTests {
    static let weights = Tensor([0.3, -1.2, 2.0, 0.5])

    /// One-hot guide with logits, uniform one-hot prior, factor Σ z·w.
    func program(_ estimator: Estimator, particles: Int = 1, elbo: ELBOKind = .tracegraph) throws -> (CompiledProgram, Node) {
        let b = ProgramBuilder(particles: particles, elbo: elbo)
        let logits = try b.param("logits", Tensor([0.1, 0.2, -0.3, 0.4]))
        let z = try b.sample("z", try OneHotCategorical(.logits(logits)), estimator: estimator)
        try b.latent("z", try OneHotCategorical(.probs(b.graph.constant(Tensor(repeating: 0.25, shape: [4])))))
        try b.factor("f", b.graph.sum(z * b.graph.constant(Self.weights), axes: [-1]))
        let p = try b.compile()
        return (p, p.parameters[0].raw)
    }

    @Test func relaxedGradientEqualsFiniteDifferencesUnderCommonNoise() throws {
        let (p, raw) = try program(.relaxed(temperature: 0.5), particles: 3)
        let tape = p.tape
        tape.seed = 5
        for step in [0, 7, 19] {
            tape.step = UInt64(step)
            tape.forward(); tape.backward()
            let grad = tape.gradient(of: raw).scalars
            let x = tape.value(of: raw)
            for i in 0..<x.count {
                var plus = x, minus = x
                plus.scalars[i] += 1e-6; minus.scalars[i] -= 1e-6
                tape.setValue(raw, plus); tape.forward(); let lp = tape.scalar(of: p.loss)
                tape.setValue(raw, minus); tape.forward(); let lm = tape.scalar(of: p.loss)
                tape.setValue(raw, x)
                let fd = (lp - lm) / 2e-6
                #expect(Swift.abs(fd - grad[i]) < 1e-6 * Swift.max(1, Swift.abs(fd)), "step \(step), logit \(i): \(grad[i]) vs \(fd)")
            }
        }
    }

    @Test func straightThroughIsOneHotForwardAndRelaxedBackward() throws {
        for seedStep in 0..<5 {
            func gradient(hard: Bool) throws -> ([Double], [Double]) {
                let g = Graph()
                let logits = g.parameter("logits", Tensor([0.1, 0.2, -0.3, 0.4]))
                let d = try RelaxedOneHotCategorical(temperature: g.constant(0.5), .logits(logits))
                let draw = try d.rsampleStraightThrough([2], stream: 1)
                let value = hard ? draw.hard : draw.soft
                let loss = g.sum(value * g.constant(Self.weights))
                let tape = try g.compile(loss: loss, outputs: [value])
                tape.step = UInt64(seedStep)
                tape.forward(); tape.backward()
                return (tape.value(of: value).scalars, tape.gradient(of: logits).scalars)
            }
            let (hardValue, hardGrad) = try gradient(hard: true)
            let (softValue, softGrad) = try gradient(hard: false)
            for row in 0..<2 {
                let h = Array(hardValue[(row * 4)..<(row * 4 + 4)]), s = Array(softValue[(row * 4)..<(row * 4 + 4)])
                #expect(h.filter { $0 == 1 }.count == 1 && h.filter { $0 == 0 }.count == 3)
                #expect(h.firstIndex(of: 1) == s.indices.max { s[$0] < s[$1] })
            }
            #expect(hardGrad == softGrad)
        }
    }

    @Test func categoricalEnumerationMatchesTheClosedForm() throws {
        // ELBO = Σ_k p_k (w_k + log ¼ − log p_k); ∂/∂α_k = p_k (c_k − Σ_j p_j c_j), c_k = w_k + log ¼ − log p_k − 1 + 1.
        let (p, raw) = try program(.enumerate)
        p.tape.forward(); p.tape.backward()
        let alpha = [0.1, 0.2, -0.3, 0.4], z = alpha.map(Foundation.exp).reduce(0, +)
        let probs = alpha.map { Foundation.exp($0) / z }
        let c = (0..<4).map { Self.weights.scalars[$0] + Foundation.log(0.25) - Foundation.log(probs[$0]) }
        let elbo = zip(probs, c).map(*).reduce(0, +)
        #expect(Swift.abs(p.tape.scalar(of: p.elbo) - elbo) < 1e-12)
        let grad = p.tape.gradient(of: raw).scalars
        for k in 0..<4 {
            // d/dα_k Σ_j p_j c_j(α) = p_k (c_k − ELBO) − p_k·(1 − Σ p) = p_k (c_k − ELBO).
            #expect(Swift.abs(-grad[k] - probs[k] * (c[k] - elbo)) < 1e-12)
        }
    }

    @Test(arguments: [Baseline.none, .leaveOneOut, .decayingAverage(beta: 0.9)])
    func categoricalScoreMatchesEnumerationWithinStandardErrors(_ baseline: Baseline) throws {
        let (exactProgram, exactRaw) = try program(.enumerate)
        exactProgram.tape.forward(); exactProgram.tape.backward()
        let exact = exactProgram.tape.gradient(of: exactRaw).scalars
        let (p, raw) = try program(.score(baseline: baseline), particles: 4)
        let draws = gradientDraws(p, [raw], draws: 30_000) { updateDecayingBaselines($0) }
        let (mean, se, _) = meanAndError(draws)
        for k in 0..<4 { #expect(Swift.abs(mean[k] - exact[k]) < 4 * se[k], "\(baseline) α\(k): \(mean[k]) ± \(se[k]) vs \(exact[k])") }
    }
}
