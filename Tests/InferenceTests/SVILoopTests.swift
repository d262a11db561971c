import Testing
import Foundation
import Numerics
import Autodiff
import Distributions
@testable import Inference
import Workloads

/// The SVI loop's contract: determinism, reports, divergence that names its source, cancellation.
@Suite struct SVILoopTests {
    @Test func runsAreBitForBitDeterministicForASeed() throws {
        func trace(_ seed: UInt64) throws -> [Double] {
            let svi = try SVI(program: try GaussianMixture.program(points: 30), optimizer: .adam(lr: 0.05), seed: seed)
            return try (0..<50).map { _ in try svi.step().elbo }
        }
        #expect(try trace(3) == trace(3))
        #expect(try trace(3) != trace(4))
    }

    @Test func aNonFiniteELBONamesTheSite() throws {
        let b = ProgramBuilder()
        let s = try b.param("s", Tensor(0.05))
        try b.sample("z", try Normal(loc: b.graph.constant(0), scale: s))
        try b.latent("z", try Normal(loc: b.graph.constant(0), scale: b.graph.constant(1)))
        let svi = try SVI(program: try b.compile(), optimizer: .sgd(lr: 10), seed: 0)
        var failure: SVIError?
        for _ in 0..<20 where failure == nil {
            do { try svi.step() } catch { failure = error }
        }
        guard case let .diverged(_, message)? = failure else {
            Issue.record("the run should have diverged, got \(String(describing: failure))"); return
        }
        #expect(message.contains("site 'z'"), "\(message)")
    }

    @Test func aNonFiniteGradientNamesTheParameter() throws {
        let b = ProgramBuilder()
        let p = try b.param("p", Tensor(0))
        try b.factor("f", b.graph.sqrt(p))
        let svi = try SVI(program: try b.compile(), optimizer: .adam(lr: 0.1), seed: 0)
        #expect(throws: SVIError.diverged(step: 0, "the gradient of parameter 'p' is not finite")) { try svi.step() }
    }

    @Test func cancellationIsCheckedEveryStep() throws {
        let svi = try SVI(program: try NormalNormal.program(), optimizer: .adam(lr: 0.01), seed: 0)
        let stop = StopSignal()
        do {
            _ = try svi.run(steps: 100, reportEvery: 1, stop: stop, report: { if $0.step == 7 { stop.cancel() } })
            Issue.record("the run should have been cancelled")
        } catch {
            guard case .cancelled(step: 7) = error else { Issue.record("\(error)"); return }
        }
        #expect(svi.stepCount == 7)
    }

    @Test func reportsCarryELBOAndGradientNorm() throws {
        let svi = try SVI(program: try NormalNormal.program(), optimizer: .adam(lr: 0.01), seed: 0)
        var reports: [StepReport] = []
        let result = try svi.run(steps: 100, reportEvery: 25, report: { reports.append($0) })
        #expect(reports.map(\.step) == [25, 50, 75, 100])
        #expect(reports.allSatisfy { $0.elbo.isFinite && $0.gradientNorm > 0 })
        #expect(result.stepsPerSecond > 0)
    }

    @Test func programErrorsNameTheProblem() throws {
        let b = ProgramBuilder()
        let m = try b.param("m", Tensor(0))
        try b.sample("z", try Normal(loc: m, scale: b.graph.constant(1)))
        #expect(throws: ProgramError.unmatchedSite("z")) { try b.compile() }
        #expect(throws: ProgramError.duplicateName("m")) { try b.param("m", Tensor(1)) }
        let c = ProgramBuilder()
        #expect(throws: ProgramError.self) {
            try c.sample("w", try Normal(loc: c.graph.constant(0), scale: c.graph.constant(1)), estimator: .omt)
        }
        #expect(throws: ProgramError.self) {
            try c.sample("k", try Categorical(.logits(c.graph.constant(Tensor([0, 1])))), estimator: .reparam)
        }
    }
}
