import Testing
import Foundation
import JSON
import CAllocationCounter
import Numerics
import Autodiff
import Distributions
@testable import Inference
import Workloads

/// The one training loop's contract: stop requests read before every step, checkpoints offered
/// as the policy says that continue bit for bit, the final ELBO's window and the thinned trace,
/// the time limit, faults found in a step's values, and no allocation per step.
@Suite struct SVIRunnerTests {
    static func runner(_ program: CompiledProgram, steps: Int, reportEvery: Int = 10, maxSeconds: Double? = nil,
                       checkpoint: CheckpointPolicy = .never, from resume: SVIRunner.Checkpoint? = nil) throws -> SVIRunner {
        try SVIRunner(program: program, optimizer: .clippedAdam(lr: 0.01, lrDecay: 0.999), seed: 4,
                      settings: RunSettings(steps: steps, reportEvery: reportEvery, maxSeconds: maxSeconds, checkpoint: checkpoint),
                      from: resume)
    }

    static func scoreProgram() throws -> CompiledProgram {
        try NormalNormal.program(particles: 2, estimator: .score(baseline: .decayingAverage(beta: 0.9)))
    }

    @Test func aSuspendedRunResumedFromItsCheckpointEndsAsTheUninterruptedOne() throws {
        let whole = try Self.runner(try Self.scoreProgram(), steps: 3000)
        let expected = try whole.run()

        let stop = StopSignal()
        let first = try Self.runner(try Self.scoreProgram(), steps: 3000)
        do {
            _ = try first.run(stop: stop, progress: { if $0.step == 1230 { stop.suspend() } })
            Issue.record("the run should have been suspended")
        } catch {
            guard case .suspended(step: 1230) = error else { Issue.record("\(error)"); return }
        }
        // Saved as the service saves it: JSON text through the JSON module.
        let saved = Array(try JSONValueEncoder().text(first.checkpoint).utf8)
        let restored = try JSONValueDecoder().decode(SVIRunner.Checkpoint.self, from: saved)
        #expect(restored.step == 1230)
        let second = try Self.runner(try Self.scoreProgram(), steps: 3000, from: restored)
        let resumed = try second.run()

        #expect(resumed.steps == 3000)
        #expect(resumed.trace == expected.trace)
        #expect(resumed.finalELBO.bitPattern == expected.finalELBO.bitPattern)
        #expect(second.svi.state.parameters == whole.svi.state.parameters)
        #expect(second.svi.state.baselines == whole.svi.state.baselines)
    }

    @Test func checkpointsAreOfferedAsThePolicySaysAndNeverAfterTheLastStep() throws {
        let runner = try Self.runner(try NormalNormal.program(), steps: 100, checkpoint: CheckpointPolicy(steps: 30, seconds: .infinity))
        var offered: [Int] = []
        _ = try runner.run(checkpoint: { offered.append($0.step) })
        #expect(offered == [30, 60, 90])
    }

    @Test func aCancelEndsTheRunBeforeTheNextStepEvenWhenASuspendFollows() throws {
        let stop = StopSignal()
        stop.cancel()
        stop.suspend()
        #expect(stop.request == .cancel)
        let runner = try Self.runner(try NormalNormal.program(), steps: 100)
        #expect(throws: RunFailure.self) { try runner.run(stop: stop) }
        #expect(runner.svi.stepCount == 0)
    }

    @Test func reportsTheTraceThinnedAndTheFinalELBOOverTheLastTenth() throws {
        let runner = try Self.runner(try NormalNormal.program(), steps: 2500, reportEvery: 500)
        var reports: [StepReport] = []
        let outcome = try runner.run(progress: { reports.append($0) })
        #expect(reports.map(\.step) == [500, 1000, 1500, 2000, 2500])
        #expect(outcome.trace.map(\.step) == Array(stride(from: 2, through: 2500, by: 2)))
        // The window is the last 100 steps' ELBOs (a tenth of 2500, at most 100), oldest first.
        let window = runner.checkpoint.recent
        #expect(window.count == 100)
        #expect(window.last == outcome.last?.elbo)
        #expect(outcome.finalELBO == window.reduce(0, +) / 100)
        #expect(outcome.steps == 2500 && outcome.stepsPerSecond > 0)
    }

    @Test func aProgramWithNothingToLearnOrDrawIsEvaluatedOnce() throws {
        let b = ProgramBuilder()
        try b.observe("x", try Normal(loc: b.graph.constant(0), scale: b.graph.constant(1)), value: b.graph.constant(0.5))
        let runner = try Self.runner(try b.compile(), steps: 1000)
        var reports: [Int] = []
        let outcome = try runner.run(progress: { reports.append($0.step) })
        let exact = -0.5 * Foundation.log(2 * Double.pi) - 0.125
        #expect(outcome.steps == 1 && reports == [1] && outcome.trace.map(\.step) == [1])
        #expect(Swift.abs(outcome.finalELBO - exact) < 1e-12)
    }

    @Test func theTimeLimitStopsTheRunAtACheckedStep() throws {
        let runner = try Self.runner(try NormalNormal.program(), steps: 10_000, maxSeconds: 0)
        do {
            _ = try runner.run()
            Issue.record("the run should have stopped at its time limit")
        } catch {
            guard case .timeLimit(step: 64, seconds: 0) = error else { Issue.record("\(error)"); return }
            #expect("\(error)" == "stopped at step 64: max_seconds (0) reached")
        }
    }

    @Test func aFaultInAStepsValuesIsReportedInPlaceOfTheStep() throws {
        let runner = try Self.runner(try NormalNormal.program(), steps: 100)
        var checked: [Int] = []
        runner.stepCheck = { step in
            checked.append(step)
            return step == 4 ? "draw outside its support" : nil
        }
        do {
            _ = try runner.run()
            Issue.record("the run should have failed at step 4")
        } catch {
            guard case .svi(.fault(step: 4, "draw outside its support")) = error else { Issue.record("\(error)"); return }
        }
        #expect(checked == [0, 1, 2, 3, 4])
    }

    @Test func aDivergedStepNamesItsSiteThroughTheRunner() throws {
        let b = ProgramBuilder()
        let s = try b.param("s", Tensor(0.05))
        try b.sample("z", try Normal(loc: b.graph.constant(0), scale: s))
        try b.latent("z", try Normal(loc: b.graph.constant(0), scale: b.graph.constant(1)))
        let runner = try SVIRunner(program: try b.compile(), optimizer: .sgd(lr: 10), seed: 0, settings: RunSettings(steps: 20))
        do {
            _ = try runner.run()
            Issue.record("the run should have diverged")
        } catch {
            guard case .svi(.diverged(_, let message)) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("site 'z'"), "\(message)")
        }
    }

    /// The loop's bookkeeping (stop signal, trace, window, reports, checkpoint test) adds no
    /// allocation per step to `SVI.step`'s none: a run ten times longer allocates the same.
    @Test func theLoopAllocatesNothingPerStep() throws {
        func allocations(steps: Int) throws -> UInt {
            let runner = try Self.runner(try NormalNormal.program(particles: 4), steps: steps, reportEvery: 7,
                                         checkpoint: CheckpointPolicy(steps: .max, seconds: .infinity))
            runner.stepCheck = { _ in nil }
            let stop = StopSignal()
            var reports = 0
            let before = allocation_count()
            _ = try runner.run(stop: stop, progress: { _ in reports += 1 })
            return allocation_count() - before
        }
        _ = try allocations(steps: 50)
        let short = try allocations(steps: 300), long = try allocations(steps: 3000)
        #if DEBUG
        print("unoptimised build: \(short) allocations over 300 steps, \(long) over 3000 (the check applies to release builds)")
        #else
        #expect(long == short, "300 steps: \(short) allocations, 3000 steps: \(long)")
        #endif
    }
}
