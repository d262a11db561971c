import Foundation
import Testing
@testable import JobService

/// The store's size limit and its file: readiness and submission agree, the log does not
/// overrun the limit, and an empty database file is refused rather than started over.
@Suite(.serialized) struct StoreLimitTests {
    @Test func afterDeletesReadinessAndSubmissionAgreeAndTheQueueDrains() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try ServiceProcess(dataDirectory: directory, arguments: ["--store-limit-mb", "1", "--workers", "1"])
        // One long job holds the only worker, so the store changes only by this test's requests.
        let long = JobAPITests.request("POST", "\(service.base)/v1/jobs", body: JobManagerTests.spec("logreg", steps: 10_000_000))
        let longID = try #require(RecoveryTests.json(long.body)["id"] as? String)
        #expect(RecoveryTests.wait(service, seconds: 30) { $0[longID]?["status"] as? String == "running" })
        let spec = JobManagerTests.spec("normal_normal_reparam", steps: 100)
        var queued: [String] = []
        func ready() -> Bool { JobAPITests.request("GET", "\(service.base)/readyz").status == 200 }
        func submits() -> Bool {
            let r = JobAPITests.request("POST", "\(service.base)/v1/jobs", body: spec)
            if r.status == 202, let id = RecoveryTests.json(r.body)["id"] as? String { queued.append(id); return true }
            #expect(r.status == 503 && r.body.contains("full") && !r.body.contains("unavailable("), "\(r.body)")
            return false
        }
        while queued.count < 2000, submits() {}
        #expect(queued.count > 10)
        #expect(!ready(), "full: not ready, as submissions are refused")
        var freed = 0
        while !ready(), let id = queued.first {
            #expect(!submits(), "no submission is accepted while not ready (after \(freed) deletes)")
            queued.removeFirst()
            _ = JobAPITests.request("POST", "\(service.base)/v1/jobs/\(id)/cancel")
            if JobAPITests.request("DELETE", "\(service.base)/v1/jobs/\(id)").status == 204 { freed += 1 }
        }
        #expect(ready(), "readiness returns after \(freed) deletes")
        #expect(submits(), "and submissions with it")
        _ = JobAPITests.request("POST", "\(service.base)/v1/jobs/\(longID)/cancel")
        #expect(RecoveryTests.wait(service, seconds: 60) { jobs in queued.allSatisfy { jobs[$0]?["status"] as? String == "succeeded" } },
                "the queue drains: the store kept room for every accepted job's result")
        let files = ["", "-wal"].map { (try? FileManager.default.attributesOfItem(atPath: SQLiteJobStoreConfiguration.inDirectory(directory).path + $0)[.size] as? Int) ?? 0 }
        #expect(files[0] <= 1 << 20, "database \(files[0]) bytes within the limit")
        #expect(files[0] + files[1] <= (1 << 20) + (64 << 10), "database and log \(files) bytes: the log is checkpointed at a tenth of the limit")
        WorkerIsolationTests.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }

    @Test func anEmptyDatabaseFileIsRefusedNotStartedOver() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = SQLiteJobStoreConfiguration.inDirectory(directory).path
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        let service = try ServiceProcess(dataDirectory: directory)
        let ready = JobAPITests.request("GET", "\(service.base)/readyz")
        #expect(ready.status == 503 && ready.body.contains("empty file"), "\(ready.body)")
        #expect(JobAPITests.request("POST", "\(service.base)/v1/jobs", body: RecoveryTests.spec(1)).status == 503)
        #expect(JobAPITests.request("GET", "\(service.base)/healthz").status == 200)
        WorkerIsolationTests.expectHealthy(service)
        #expect(service.terminate().status == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == 0, "the file is left as it was")
    }
}
