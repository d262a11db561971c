import Foundation
import Testing
@testable import JobService
@testable import ModelSpec

/// Replicas of the real service as child processes on one PostgreSQL database (the tests'
/// server): jobs submitted to any replica run on any; a replica `kill -9`'d mid-run loses
/// nothing — its jobs' leases run out and another replica continues them from their
/// checkpoints — and one stopped with SIGTERM hands its jobs back; every job ends exactly once
/// with the result of an uninterrupted run, bit for bit.
@Suite(.serialized) struct ReplicaTests {
    /// A `sviserve serve` on `url` with 2-second leases.
    static func replica(_ url: String) throws -> ServiceProcess {
        try ServiceProcess(dataDirectory: "/nonexistent/unused", arguments: ["--database-url", url, "--lease-seconds", "2"])
    }

    /// Ids of the jobs `service` started running (from its log).
    static func started(on service: ServiceProcess) -> Set<String> {
        Set(service.logLines().filter { $0.contains(#""event":"job""#) && $0.contains(#""status":"running""#) }
            .compactMap { RecoveryTests.json($0)["id"] as? String })
    }

    /// Whether `service` runs a job that is past its first checkpoints, as `observer` sees it.
    static func runsCheckpointedJob(_ service: ServiceProcess, _ jobs: [String: [String: Any]]) -> Bool {
        let mine = started(on: service)
        return jobs.contains { id, job in
            mine.contains(id) && job["status"] as? String == "running" && ((job["progress"] as? [String: Any])?["step"] as? Int ?? 0) >= 20_000
        }
    }

    @Test func aReplicaKilledMidRunAndAnotherStoppedLoseNothingAndRunNothingTwice() throws {
        let url = try PostgresCluster.shared.newDatabase()
        _ = RecoveryTests.references
        let a = try Self.replica(url), b = try Self.replica(url)
        var ids: [String: Int] = [:]
        for i in 0..<24 { ids.merge(RecoveryTests.submit(i..<(i + 1), to: i % 2 == 0 ? a : b)) { $1 } }
        #expect(ids.count == 24)
        #expect(RecoveryTests.wait(b, seconds: 90) { Self.runsCheckpointedJob(a, $0) }, "A runs a job past its checkpoints")
        let heldByA = Self.started(on: a)
        a.crash()

        let c = try Self.replica(url)
        #expect(RecoveryTests.wait(c, seconds: 90) { Self.runsCheckpointedJob(b, $0) || RecoveryTests.count($0, "queued") == 0 })
        let (status, _) = b.terminate()
        #expect(status == 0, "B hands its jobs back and exits 0")

        #expect(RecoveryTests.wait(c, seconds: 180) { RecoveryTests.count($0, "succeeded") == ids.count }, "every job finishes on the last replica")
        for (id, i) in ids {
            let r = JobAPITests.request("GET", "\(c.base)/v1/jobs/\(id)/result")
            #expect(r.status == 200)
            let got = try RecoveryTests.decodeResult(r.body), want = RecoveryTests.references[i]
            #expect(got == want, "job \(i) (\(id)) equals the uninterrupted run: \(RecoveryTests.difference(got, want))")
        }
        #expect(!RecoveryTests.resumedFromCheckpoint(c).isEmpty, "a job interrupted mid-run continues from its checkpoint")
        #expect(c.terminate().status == 0)

        let store = try PostgresJobStore(.init(url: url))
        var takenOver = 0
        for id in ids.keys {
            let history = try store.transitions(of: id)
            #expect(history.filter { $0.status.isTerminal }.map(\.status) == [.succeeded], "job \(id) ended exactly once: \(history)")
            // A takeover: a running claim of A's ended by another replica's requeue.
            if zip(history, history.dropFirst()).contains(where: { $0.status == .running && $1.status == .queued && $0.replica != $1.replica }) {
                takenOver += 1
                #expect(heldByA.contains(id), "only the killed replica's jobs are taken over: \(history)")
            }
            let claims = history.filter { $0.status == .running }.map(\.claim)
            #expect(claims == Array(1...max(1, claims.count)), "each claim takes the next fencing token: \(claims)")
        }
        #expect(takenOver >= 1, "the killed replica's running jobs were taken over after their leases ran out")
    }

    @Test func theDatabaseStoppedForTenSecondsFailsReadinessAndLosesNoAcceptedJob() throws {
        let cluster = try PostgresCluster.own()
        let url = try cluster.newDatabase()
        _ = RecoveryTests.references
        let service = try Self.replica(url)
        var ids = RecoveryTests.submit(0..<8, to: service)
        #expect(RecoveryTests.wait(service, seconds: 60) { RecoveryTests.count($0, "running") >= 1 })

        try cluster.pause()
        let stopped = Date()
        #expect(PostgresLeaseTests.waitUntil(seconds: 5) { JobAPITests.request("GET", "\(service.base)/readyz").status == 503 },
                "readiness fails while the database is away")
        let refused = JobAPITests.request("POST", "\(service.base)/v1/jobs", body: RecoveryTests.spec(8))
        #expect(refused.status == 503, "a submission is refused, not lost: \(refused.status) \(refused.body)")
        #expect(JobAPITests.request("GET", "\(service.base)/healthz").status == 200, "the process stays up")
        Thread.sleep(forTimeInterval: max(0, 10 - Date().timeIntervalSince(stopped)))
        #expect(JobAPITests.request("GET", "\(service.base)/readyz").status == 503)
        try cluster.resume()

        #expect(PostgresLeaseTests.waitUntil(seconds: 10) { JobAPITests.request("GET", "\(service.base)/readyz").status == 200 },
                "ready again once the database is back")
        ids.merge(RecoveryTests.submit(8..<10, to: service)) { $1 }
        #expect(ids.count == 10)
        #expect(RecoveryTests.wait(service, seconds: 120) { RecoveryTests.count($0, "succeeded") == ids.count }, "every accepted job finishes")
        for (id, i) in ids {
            let r = JobAPITests.request("GET", "\(service.base)/v1/jobs/\(id)/result")
            let got = try RecoveryTests.decodeResult(r.body), want = RecoveryTests.references[i]
            #expect(got == want, "job \(i) (\(id)) equals the uninterrupted run: \(RecoveryTests.difference(got, want))")
        }
        #expect(service.terminate().status == 0)
    }
}
