import Foundation
import JSON
import Testing
@testable import Inference
@testable import ModelSpec

/// A checkpoint as the service stores it: JSON text through the JSON module, which must give
/// back every double bit for bit (a resumed run is the uninterrupted one only then).
@Suite struct CheckpointTextTests {
    static let awkward: [Double] = [0.1, -0.0, 5e-324, 1.7976931348623157e308, 0.30000000000000004, 1e16 + 2, -123.456e-300, .infinity, .nan]

    static func checkpoint() -> RunCheckpoint {
        let parameter = OptimizerState.Parameter(name: "loc", count: awkward.count, lrOverride: nil, lr: 0.01, step: 7,
                                                  firstMoment: awkward, secondMoment: awkward.map(abs), momentumBuffer: [])
        let svi = SVIState(step: 7, seed: 42, parameters: [NamedValues(name: "loc", values: awkward)],
                           optimizer: OptimizerState(config: .adam(lr: 0.01), steps: 7, parameters: [parameter]),
                           controlOptimizer: nil, baselines: [NamedValues(name: "z", values: [-2.5e-17])])
        return RunCheckpoint(run: SVIRunner.Checkpoint(svi: svi, trace: [TracePoint(step: 1, elbo: -3.25), TracePoint(step: 7, elbo: .nan)],
                                                       recent: awkward, seconds: 0.125))
    }

    static func bits(_ c: RunCheckpoint) -> [UInt64] {
        (c.run.svi.parameters.flatMap(\.values) + c.run.svi.optimizer.parameters.flatMap { $0.firstMoment + $0.secondMoment }
            + c.run.trace.map(\.elbo) + c.run.recent + [c.run.seconds]).map(\.bitPattern)
    }

    @Test func aCheckpointReadsBackBitForBit() throws {
        let saved = Self.checkpoint()
        let text = try JSONValueEncoder().text(saved)
        let restored = try JSONValueDecoder().decode(RunCheckpoint.self, from: Array(text.utf8))
        #expect(Self.bits(restored) == Self.bits(saved))
        #expect(restored.step == 7 && restored.run.svi.seed == 42 && restored.run.trace.map(\.step) == [1, 7])
    }

    @Test func theTraceAndTheFinalWindowAreStoredAsBase64() throws {
        let object = try JSONValueEncoder().encode(Self.checkpoint()).asObject
        #expect(object?["trace"]?.asString != nil)
        #expect(object?["recent"]?.asString != nil)
    }
}
