import Foundation
import JSON
import Testing
import Inference
import Autodiff
@testable import ModelSpec

/// The job checkpoint the service stores keeps its text format: jobs checkpointed by an
/// earlier version of the service continue after a deploy, and a run suspended through
/// `JobRun` continues to the uninterrupted run's result bit for bit.
@Suite struct RunCheckpointTests {
    /// Little-endian 8-byte words, base64 (how the trace and the final-ELBO window are stored).
    static func base64(_ words: [UInt64]) -> String {
        var bytes: [UInt8] = []
        for w in words { withUnsafeBytes(of: w.littleEndian) { bytes.append(contentsOf: $0) } }
        return Data(bytes).base64EncodedString()
    }

    static func state() throws -> SVIState {
        let svi = try SVI(program: try compiled(conjugateSpec).program, optimizer: .adam(lr: 0.01), seed: 3)
        for _ in 0..<5 { try svi.step() }
        return svi.state
    }

    @Test func aCheckpointInTheStoredFormatDecodes() throws {
        let state = try Self.state()
        let svi = try JSONSerialization.jsonObject(with: Data(JSONValueEncoder().text(state).utf8))
        let stored: [String: Any] = [
            "svi": svi,
            "trace": Self.base64([5, (-2.5).bitPattern]),
            "recent": Self.base64([(-3.0).bitPattern, (-2.5).bitPattern]),
            "seconds": 1.25,
        ]
        let decoded = try JSONValueDecoder().decode(RunCheckpoint.self, from: Array(JSONSerialization.data(withJSONObject: stored)))
        #expect(decoded.run == SVIRunner.Checkpoint(svi: state, trace: [TracePoint(step: 5, elbo: -2.5)], recent: [-3, -2.5], seconds: 1.25))
        #expect(decoded.transport.isEmpty && decoded.step == 5)
    }

    @Test func aCheckpointIsWrittenInTheStoredFormat() throws {
        let state = try Self.state()
        let distances = [TransportProgress(step: 5, distances: [NamedTransportDistance(reference: "p", site: "z", w2: 1, w2Mean: 0.5, w2Cov: 0.5)])]
        let checkpoint = RunCheckpoint(run: SVIRunner.Checkpoint(svi: state, trace: [TracePoint(step: 5, elbo: -2.5)], recent: [-2.5], seconds: 2),
                                       transport: distances)
        let written = try #require(try JSONSerialization.jsonObject(with: Data(JSONValueEncoder().text(checkpoint).utf8)) as? [String: Any])
        #expect(Set(written.keys) == ["svi", "trace", "recent", "seconds", "transport"])
        #expect(written["trace"] as? String == Self.base64([5, (-2.5).bitPattern]))
        #expect(written["recent"] as? String == Self.base64([(-2.5).bitPattern]))
        #expect(try JSONValueDecoder().decode(RunCheckpoint.self, from: Array(JSONValueEncoder().text(checkpoint).utf8)) == checkpoint)
    }

    /// Runs the spec `text` whole, and again suspended at `step`, saved, decoded and resumed:
    /// the two results must be equal (but for the timings).
    static func expectResumedRunEqualsTheWholeRun(_ text: String, suspendingAt step: Int,
                                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        let whole = try JobRun(try compiled(text)).run()
        let stop = StopSignal()
        let first = try JobRun(try compiled(text))
        do {
            _ = try first.run(stop: stop, progress: { if $0.step == step { stop.suspend() } })
            Issue.record("the run should have been suspended", sourceLocation: sourceLocation)
        } catch {
            guard case .suspended(step: step) = error else { Issue.record("\(error)", sourceLocation: sourceLocation); return }
        }
        let saved = try JSONValueDecoder().decode(RunCheckpoint.self, from: Array(JSONValueEncoder().text(first.checkpoint).utf8))
        var resumed = try JobRun(try compiled(text), from: saved).run()
        #expect(resumed.seconds >= saved.run.seconds, sourceLocation: sourceLocation)
        var expected = whole
        resumed.seconds = 0; resumed.stepsPerSecond = 0
        expected.seconds = 0; expected.stepsPerSecond = 0
        #expect(resumed == expected, sourceLocation: sourceLocation)
    }

    @Test func aJobRunSuspendedAndResumedReturnsTheUninterruptedResult() throws {
        try Self.expectResumedRunEqualsTheWholeRun(editing(conjugateSpec, "/inference/steps", "700"), suspendingAt: 300)
    }
    /// A score-function mixture whose Categorical draw, log q and `mu[z]` run as one fused
    /// instruction (`categoricalDrawPlate`), with each stateful baseline (the decaying average's
    /// running value, the learned baseline's own params and optimiser state in the checkpoint):
    /// suspended at step 40, saved, decoded and resumed, it returns the uninterrupted result.
    @Test(arguments: [#"{"decaying_avg": 0.9}"#, #"{"learned": {"inputs": ["f"], "hidden": 2}}"#])
    func aFusedScoreMixtureSuspendedAndResumedReturnsTheUninterruptedResult(baseline: String) throws {
        let xs = (0..<30).map { i in Double((i * 37) % 23) / 2 - 5.5 }
        let text = """
            {"data": {"x": \(xs), "f": \(xs.map { [$0 / 5] })}, "plates": {"data": {"size": "len(x)"}},
             "model": [{"sample": "mu", "dist": "Normal", "args": {"loc": "zeros(3)", "scale": 10.0}, "event_dims": 1},
                       {"sample": "z", "dist": "Categorical", "args": {"logits": "zeros(3)"}, "plates": ["data"]},
                       {"sample": "x_obs", "dist": "Normal", "args": {"loc": "mu[z]", "scale": 1.0}, "plates": ["data"], "obs": "x"}],
             "guide": [{"param": "mu_loc", "init": [-1.0, 0.0, 1.0]}, {"param": "mu_scale", "init": "ones(3)", "constraint": "positive"},
                       {"sample": "mu", "dist": "Normal", "args": {"loc": "mu_loc", "scale": "mu_scale"}, "event_dims": 1},
                       {"param": "z_logits", "init": "zeros(30, 3)"},
                       {"sample": "z", "dist": "Categorical", "args": {"logits": "z_logits"}, "plates": ["data"],
                        "estimator": {"name": "score", "baseline": \(baseline)}}],
             "inference": {"elbo": "tracegraph", "steps": 90, "particles": 1, "seed": 5,
                           "optimizer": {"name": "adam", "lr": 0.05}, "report_every": 10}}
            """
        #expect(try compiled(text).program.tape.appliedFusions.contains { $0.fusion == .categoricalDrawPlate })
        try Self.expectResumedRunEqualsTheWholeRun(text, suspendingAt: 40)
    }
}
