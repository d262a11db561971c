import Foundation
import Testing
@testable import JobService

/// Jobs run in worker processes (issue 15, item 1): whatever a job does to its worker — trap,
/// exhaust its memory limit, exit, hang past a cancel — ends that job's attempt only; after
/// three stops (a crash of the service while it ran counts as one) the job is failed with the
/// reason, and the server serves throughout, across restarts too. The faults come from the
/// tests' worker binary (`sviserve-test-worker`), which injects them into jobs by name.
@Suite(.serialized) struct WorkerIsolationTests {
    /// The tests' worker, built beside the service.
    static var testWorker: String {
        ServiceProcess.binary.deletingLastPathComponent().appendingPathComponent("sviserve-test-worker").path
    }

    /// A service over a fresh data directory whose workers are the tests' worker.
    static func service(_ directory: String, _ arguments: [String] = []) throws -> ServiceProcess {
        try ServiceProcess(dataDirectory: directory, arguments: arguments, environment: ["SVISERVE_WORKER_EXECUTABLE": testWorker])
    }

    /// The example `name` as a job called `jobName` of `steps` steps.
    static func spec(_ example: String = "normal_normal_reparam", named jobName: String, steps: Int) -> [UInt8] {
        var json = try! JSONSerialization.jsonObject(with: Data(JobManagerTests.spec(example, steps: steps))) as! [String: Any]
        json["name"] = jobName
        return Array(try! JSONSerialization.data(withJSONObject: json))
    }

    static func submit(_ service: ServiceProcess, _ body: [UInt8]) throws -> String {
        let r = JobAPITests.request("POST", "\(service.base)/v1/jobs", body: body)
        #expect(r.status == 202, "\(r.body)")
        return try #require(RecoveryTests.json(r.body)["id"] as? String)
    }

    static func job(_ service: ServiceProcess, _ id: String) -> [String: Any] {
        RecoveryTests.json(JobAPITests.request("GET", "\(service.base)/v1/jobs/\(id)").body)
    }

    /// Waits (bounded) for job `id` to end; its resource.
    static func ended(_ service: ServiceProcess, _ id: String, seconds: Double = 60) -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        var last: [String: Any] = [:]
        while Date() < deadline {
            last = job(service, id)
            if let status = last["status"] as? String, ["succeeded", "failed", "cancelled"].contains(status) { return last }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return last
    }

    /// `/healthz` answered, the process alive and its peak RSS under `bound`.
    static func expectHealthy(_ service: ServiceProcess, under bound: Int = 512 << 20, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(service.process.isRunning, sourceLocation: sourceLocation)
        #expect(JobAPITests.request("GET", "\(service.base)/healthz").status == 200, sourceLocation: sourceLocation)
        #expect(service.memory.peak < bound, "peak RSS \(service.memory.peak >> 20) MiB", sourceLocation: sourceLocation)
    }

    @Test func aJobThatTrapsItsWorkerFailsAfterThreeAttemptsAndNothingElse() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try Self.service(directory)
        let poison = try Self.submit(service, Self.spec(named: "fault-trap-50", steps: 1000))
        let healthy = try Self.submit(service, Self.spec(named: "healthy", steps: 20_000))
        let failed = Self.ended(service, poison)
        #expect(failed["status"] as? String == "failed")
        let error = failed["error"] as? String ?? ""
        #expect(error.hasPrefix("the job stopped its worker 3 times: the worker crashed (SIG"), "\(error)")
        #expect(Self.ended(service, healthy)["status"] as? String == "succeeded", "the other job is untouched")
        func stops() -> [String] { service.logLines().filter { $0.contains(#""event":"worker_stopped""#) && $0.contains(poison) } }
        for _ in 0..<100 where stops().count < 3 { Thread.sleep(forTimeInterval: 0.02) }
        #expect(stops().count == 3, "\(stops())")
        let events = JobAPITests.request("GET", "\(service.base)/v1/jobs/\(poison)/events").body
        #expect(events.contains("attempt 2 of 3") && events.contains("event: error"), "\(events.prefix(600))")
        Self.expectHealthy(service)
        #expect(service.terminate().status == 0)
        let store = try SQLiteJobStore(.inDirectory(directory))
        #expect(try store.transitions(of: poison).map(\.status) == [.queued, .running, .queued, .running, .queued, .running, .failed])
    }

    @Test func aJobPastItsMemoryLimitFailsWithTheLimitInItsReason() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try Self.service(directory)
        let id = try Self.submit(service, Self.spec(named: "fault-allocate-10", steps: 1000))
        let failed = Self.ended(service, id)
        let error = failed["error"] as? String ?? ""
        #expect(failed["status"] as? String == "failed")
        #expect(error.contains("the worker exceeded its memory limit of ") && error.contains(" MiB"), "\(error)")
        Self.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }

    @Test func aPoisonJobIsQuarantinedAcrossARestartAndTheServiceKeepsServing() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Self.service(directory, ["--workers", "1"])
        // Traps after 200,000 steps (a fraction of a second), so a restart can come between attempts.
        let poison = try Self.submit(first, Self.spec(named: "fault-trap-200000", steps: 1_000_000))
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !first.logLines().contains(where: { $0.contains(#""event":"worker_stopped""#) }) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(Self.job(first, poison)["status"] as? String != "failed", "one stop so far")
        first.crash()
        let second = try Self.service(directory, ["--workers", "1"])
        let after = try Self.submit(second, Self.spec(named: "after-restart", steps: 1000))
        let failed = Self.ended(second, poison)
        #expect(failed["status"] as? String == "failed")
        #expect((failed["error"] as? String ?? "").hasPrefix("the job stopped its worker 3 times: "), "\(failed)")
        #expect(Self.ended(second, after)["status"] as? String == "succeeded")
        Self.expectHealthy(second)
        #expect(second.terminate().status == 0)
        let attempts = try SQLiteJobStore(.inDirectory(directory)).transitions(of: poison).filter { $0.status == .running }.map(\.attempt)
        #expect(attempts == [1, 2, 3], "three claims in all, over two processes: \(attempts)")
    }

    @Test func aJobRunningAtThreeCrashesIsQuarantinedInsteadOfCrashLooping() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spec = Self.spec("logreg", named: "long", steps: 10_000_000)
        var service = try Self.service(directory, ["--workers", "1"])
        let id = try Self.submit(service, spec)
        for crash in 1...3 {
            #expect(RecoveryTests.wait(service, seconds: 30) { $0[id]?["status"] as? String == "running" }, "running before crash \(crash)")
            service.crash()
            service = try Self.service(directory, ["--workers", "1"])
        }
        let failed = Self.job(service, id)
        #expect(failed["status"] as? String == "failed")
        #expect(failed["error"] as? String == "the job stopped its worker 3 times: the service stopped while the job was running", "\(failed)")
        Self.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }

    @Test func aCancelledJobWhoseStepNeverReturnsHasItsWorkerKilled() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try Self.service(directory)
        let id = try Self.submit(service, Self.spec(named: "fault-hang-100", steps: 1000))
        #expect(RecoveryTests.wait(service, seconds: 30) { $0[id]?["status"] as? String == "running" })
        Thread.sleep(forTimeInterval: 0.5)
        let asked = Date()
        #expect(JobAPITests.request("POST", "\(service.base)/v1/jobs/\(id)/cancel").status == 202)
        let cancelled = Self.ended(service, id, seconds: 30)
        #expect(cancelled["status"] as? String == "cancelled")
        #expect((cancelled["error"] as? String ?? "").contains("did not stop within 5 s and was killed"), "\(cancelled)")
        let took = Date().timeIntervalSince(asked)
        #expect(took >= 4.5 && took < 15, "killed after the grace: \(took) s")
        Self.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }

    @Test func theServiceTimeLimitStopsAJobAndASpecCanOnlyLowerIt() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try ServiceProcess(dataDirectory: directory, arguments: ["--max-job-seconds", "1"])
        let long = try Self.submit(service, Self.spec("logreg", named: "long", steps: 10_000_000))
        var asking = try JSONSerialization.jsonObject(with: Data(Self.spec("logreg", named: "asks-for-more", steps: 10_000_000))) as! [String: Any]
        var inference = asking["inference"] as! [String: Any]
        inference["max_seconds"] = 3600
        asking["inference"] = inference
        let greedy = try Self.submit(service, Array(try JSONSerialization.data(withJSONObject: asking)))
        inference["max_seconds"] = 0.3
        asking["inference"] = inference
        asking["name"] = "asks-for-less"
        let modest = try Self.submit(service, Array(try JSONSerialization.data(withJSONObject: asking)))
        for id in [long, greedy] {
            let failed = Self.ended(service, id, seconds: 30)
            #expect(failed["status"] as? String == "failed")
            #expect((failed["error"] as? String ?? "").contains("the service's limit of 1 s of training per job"), "\(failed)")
        }
        let lowered = Self.ended(service, modest, seconds: 30)
        #expect((lowered["error"] as? String ?? "").contains("max_seconds (0.3"), "\(lowered)")
        Self.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }
}
