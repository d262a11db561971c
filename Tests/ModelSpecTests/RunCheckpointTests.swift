import Foundation
import JSON
import Testing
import Inference
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

    @Test func aJobRunSuspendedAndResumedReturnsTheUninterruptedResult() throws {
        let text = editing(conjugateSpec, "/inference/steps", "700")
        let whole = try JobRun(try compiled(text)).run()
        let stop = StopSignal()
        let first = try JobRun(try compiled(text))
        do {
            _ = try first.run(stop: stop, progress: { if $0.step == 300 { stop.suspend() } })
            Issue.record("the run should have been suspended")
        } catch {
            guard case .suspended(step: 300) = error else { Issue.record("\(error)"); return }
        }
        let saved = try JSONValueDecoder().decode(RunCheckpoint.self, from: Array(JSONValueEncoder().text(first.checkpoint).utf8))
        var resumed = try JobRun(try compiled(text), from: saved).run()
        #expect(resumed.seconds >= saved.run.seconds)
        var expected = whole
        resumed.seconds = 0; resumed.stepsPerSecond = 0
        expected.seconds = 0; expected.stepsPerSecond = 0
        #expect(resumed == expected)
    }
}
