import Foundation
import Testing
@testable import JobService
@testable import ModelSpec
import JSON

/// Specs that compile to the summed Normal terms (`normalLogProbSum`, `normalDrawLogProbSum`)
/// and the draw's `multiplyAdd`, submitted to a real `sviserve serve` process: its worker's
/// result is the in-process run's, bit for bit (final ELBO, params, posterior means).
@Suite(.serialized) struct FusedSpecServiceTests {
    static let specs = [
        // Normal–Normal with one particle (the identity broadcast read through) and a loc
        // gathered through a table with repeated entries (three particles).
        #"{"name": "nn-fused", "data": {"x": {"value": [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]], "plates": ["d", "p"]}}, "plates": {"d": {"size": 4}, "p": {"size": 2}}, "guide": [{"param": "loc_q", "init": [0.3, -0.2], "plates": ["p"]}, {"param": "scale_q", "init": [0.7, 1.3], "constraint": "positive", "plates": ["p"]}, {"sample": "z", "dist": "Normal", "args": {"loc": "loc_q", "scale": "scale_q"}, "plates": ["p"]}], "model": [{"sample": "z", "dist": "Normal", "args": {"loc": 0.0, "scale": 3.0}, "plates": ["p"]}, {"sample": "obs", "dist": "Normal", "args": {"loc": "z", "scale": 0.5}, "plates": ["d", "p"], "obs": "x"}], "inference": {"steps": 300, "particles": 1, "seed": 3, "optimizer": {"name": "adam", "lr": 0.05}}}"#,
        #"{"name": "gather-fused", "data": {"y": [0.3, 1.1, -0.4, 2.0, 0.9, -1.2], "group": [0, 1, 1, 0, 1, 0]}, "plates": {"data": {"size": 6, "subsample": 4}}, "model": [{"sample": "mu", "dist": "Normal", "args": {"loc": "zeros(2)", "scale": 2}, "event_dims": 1}, {"sample": "obs", "dist": "Normal", "args": {"loc": "mu[group]", "scale": 0.5}, "plates": ["data"], "obs": "y"}], "guide": [{"param": "m", "init": [0.2, -0.3]}, {"param": "s", "init": [0.7, 1.3], "constraint": "positive"}, {"sample": "mu", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "event_dims": 1}], "inference": {"steps": 300, "particles": 3, "seed": 5, "optimizer": {"name": "clipped_adam", "lr": 0.05}}}"#,
    ]

    @Test func aFusedSpecRunByTheServiceGivesTheInProcessResult() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try ServiceProcess(dataDirectory: directory)
        defer { _ = service.terminate() }
        for spec in Self.specs {
            let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(spec)))
            let applied = Set(job.program.tape.appliedFusions.map(\.fusion))
            #expect(applied.contains(.normalLogProbSum) && applied.contains(.multiplyAdd), "\(applied)")
            let local = try JobRun(job).run()
            let id = try WorkerIsolationTests.submit(service, Array(spec.utf8))
            let ended = WorkerIsolationTests.ended(service, id)
            #expect(ended["status"] as? String == "succeeded", "\(ended)")
            let r = JobAPITests.request("GET", "\(service.base)/v1/jobs/\(id)/result")
            #expect(r.status == 200, "\(r.body)")
            // The project's own reader (correctly rounded numbers) into the result type itself.
            let remote = try JSONValueDecoder().decode(JobResult.self, from: Array(r.body.utf8))
            #expect(remote.finalELBO.bitPattern == local.finalELBO.bitPattern, "\(remote.finalELBO) vs \(local.finalELBO)")
            #expect(remote.params == local.params)
            #expect(remote.posterior.map(\.mean) == local.posterior.map(\.mean))
            #expect(remote.posterior.map(\.w2FromPrior) == local.posterior.map(\.w2FromPrior))
        }
        WorkerIsolationTests.expectHealthy(service)
    }
}
