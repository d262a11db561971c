import JSON
import Testing
import Foundation
@testable import JobService
@testable import ModelSpec
import Inference

/// The job store's contract, run against the memory store, the SQLite store and the
/// PostgreSQL store (a real server, `PostgresCluster`), and what only the SQLite store promises: everything survives reopening, interrupted jobs are requeued in
/// order, a full store refuses writes (and says so) without losing what it acknowledged, a
/// corrupt file is refused with its reason.
@Suite struct JobStoreTests {
    /// A fresh directory under the temporary directory, removed by the caller.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "sviserve-store-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    enum Kind: String, CaseIterable, CustomStringConvertible { case memory, sqlite, postgres; var description: String { rawValue } }

    /// A store of `kind` (the SQLite one in a new temporary directory, the PostgreSQL one in a
    /// new database of the tests' server).
    static func store(_ kind: Kind) throws -> any JobStore {
        switch kind {
        case .memory: MemoryJobStore()
        case .sqlite: try SQLiteJobStore(.inDirectory(temporaryDirectory()))
        case .postgres: try PostgresJobStore(.init(url: PostgresCluster.shared.newDatabase()))
        }
    }

    static func record(_ id: String, owner: String = "a", steps: Int = 10) -> JobRecord {
        JobRecord(id: id, name: "job \(id)", owner: owner, createdAt: Date(), steps: steps, specDigest: "digest-\(id)", spec: Array("spec of \(id)".utf8))
    }

    static let result = JobResult(finalELBO: -1.25, params: [NamedTensor(name: "loc", shape: [2], values: [0.1, 1e-300])],
                                  posterior: [], elboTrace: [TracePoint(step: 1, elbo: -2)], steps: 10, seconds: 0.5, stepsPerSecond: 20)

    @Test(arguments: Kind.allCases) func ownersSeeOnlyTheirJobsInPagesNewestFirst(kind: Kind) throws {
        let store = try Self.store(kind)
        for i in 0..<5 { try store.create(Self.record("j\(i)", owner: i < 3 ? "a" : "b"), idempotency: nil) }
        #expect(throws: JobStoreError.notFound) { try store.get("j4", owner: "a") }
        let first = try store.list(owner: "a", status: nil, pageSize: 2, after: nil)
        #expect(first.jobs.map(\.id) == ["j2", "j1"] && first.next == "j1")
        let second = try store.list(owner: "a", status: nil, pageSize: 2, after: first.next)
        #expect(second.jobs.map(\.id) == ["j0"] && second.next == nil)
        #expect(try store.list(owner: "b", status: .queued, pageSize: 10, after: nil).jobs.map(\.id) == ["j4", "j3"])
        #expect(throws: JobStoreError.self) { try store.delete("j0", owner: "a") }
        #expect(throws: JobStoreError.notFound) { try store.delete("j0", owner: "b") }
    }

    @Test(arguments: Kind.allCases) func aJobThatStopsItsWorkerIsRequeuedUntilItsThirdStopFailsIt(kind: Kind) throws {
        let store = try Self.store(kind)
        for i in 0..<2 { try store.create(Self.record("j\(i)"), idempotency: nil) }
        let first = try #require(try store.claimNext())
        #expect(first.id == "j0" && first.attempts == 1)
        try store.saveCheckpoint("j0", StoredCheckpoint(step: 4, state: [4], lastEventID: 3))
        let requeued = try store.recordStop("j0", reason: "the worker crashed (SIGILL)", maxAttempts: 3)
        #expect(requeued.status == .queued && requeued.error == nil)
        #expect(try store.checkpoint(of: "j0")?.step == 4, "it continues from its checkpoint")
        #expect(try store.claimNext()?.id == "j0", "in its original place, ahead of the later job")
        try store.release("j0")
        #expect(try store.get("j0", owner: "a").attempts == 1, "a clean hand-back gives its attempt back")
        #expect(try store.claimNext()?.attempts == 2)
        _ = try store.recordStop("j0", reason: "the worker crashed (SIGILL)", maxAttempts: 3)
        #expect(try store.claimNext()?.attempts == 3)
        let failed = try store.recordStop("j0", reason: "the worker exceeded its memory limit of 512 MiB", maxAttempts: 3)
        #expect(failed.status == .failed && failed.finishedAt != nil)
        #expect(failed.error == "the job stopped its worker 3 times: the worker exceeded its memory limit of 512 MiB")
        #expect(try store.get("j0", owner: "a").status == .failed)
        #expect(try store.checkpoint(of: "j0") == nil)
        #expect(try store.claimNext()?.id == "j1")
    }

    @Test(arguments: Kind.allCases) func queuedJobsAreCountedAndClaimedByOwner(kind: Kind) throws {
        let store = try Self.store(kind)
        for (i, owner) in ["a", "b", "a", "c", "a"].enumerated() { try store.create(Self.record("j\(i)", owner: owner), idempotency: nil) }
        #expect(store.queuedByOwner() == ["a": 3, "b": 1, "c": 1])
        #expect([nil, "a", "b", "c", "0"].map(store.nextQueuedOwner(after:)) == ["a", "b", "c", nil, "a"])
        #expect([0, 2, 3, 4].map { store.queuedCount(owner: "a", upTo: $0) } == [0, 2, 3, 3] && store.queuedCount(owner: "z", upTo: 5) == 0
                && [4, 5, 6].map { store.queuedCount(owner: nil, upTo: $0) } == [4, 5, 5])
        #expect(try store.claimNext(owner: "a")?.id == "j0")
        #expect(try store.claimNext(owner: "c")?.id == "j3")
        #expect(try store.claimNext(owner: "c") == nil)
        #expect(store.queuedByOwner() == ["a": 2, "b": 1])
        _ = try store.requestCancel("j1", owner: "b")
        #expect(store.queuedByOwner() == ["a": 2] && store.nextQueuedOwner(after: nil) == "a" && store.nextQueuedOwner(after: "a") == nil)
        #expect(try store.claimNext()?.id == "j2", "without an owner, the oldest queued job")
    }

    @Test func aJobRunningAtItsThirdRestartIsFailedNotRequeued() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try SQLiteJobStore(.inDirectory(directory))
            try store.create(Self.record("j0"), idempotency: nil)
            try store.create(Self.record("j1"), idempotency: nil)
        }
        for restart in 1...3 {
            let store = try SQLiteJobStore(.inDirectory(directory))
            #expect(try store.recoverInterrupted(maxAttempts: 3).map(\.id) == (restart == 1 ? [] : ["j0"]))
            #expect(try store.claimNext()?.id == "j0", "restart \(restart)")
        }
        let store = try SQLiteJobStore(.inDirectory(directory))
        #expect(try store.recoverInterrupted(maxAttempts: 3).isEmpty)
        let job = try store.get("j0", owner: "a")
        #expect(job.status == .failed && job.error == "the job stopped its worker 3 times: the service stopped while the job was running")
        #expect(try store.claimNext()?.id == "j1")
    }

    @Test(arguments: Kind.allCases) func tagsFilterListsAndTheSpecIsKeptWithItsJob(kind: Kind) throws {
        let store = try Self.store(kind)
        for (i, tags) in [["x", "a_b"], ["a"], [], ["a_b", "x.y"]].enumerated() {
            var job = Self.record("t\(i)")
            job.tags = tags
            try store.create(job, idempotency: nil)
        }
        // Exact matches only: "a" does not match "a_b" (nor would a LIKE pattern's "_").
        #expect(try store.list(owner: "a", status: nil, tag: "a", pageSize: 10, after: nil).jobs.map(\.id) == ["t1"])
        #expect(try store.list(owner: "a", status: nil, tag: "a_b", pageSize: 10, after: nil).jobs.map(\.id) == ["t3", "t0"])
        let page = try store.list(owner: "a", status: .queued, tag: "a_b", pageSize: 1, after: nil)
        #expect(page.jobs.map(\.id) == ["t3"] && page.next == "t3")
        #expect(try store.list(owner: "a", status: nil, tag: "a_b", pageSize: 1, after: page.next).jobs.map(\.id) == ["t0"])
        #expect(try store.list(owner: "a", status: nil, tag: "x", pageSize: 10, after: nil).jobs.map(\.id) == ["t0"])
        #expect(try store.list(owner: "b", status: nil, tag: "x", pageSize: 10, after: nil).jobs.isEmpty)
        #expect(try store.get("t3", owner: "a").tags == ["a_b", "x.y"])
        #expect(try store.spec("t2", owner: "a") == Array("spec of t2".utf8))
        #expect(throws: JobStoreError.notFound) { try store.spec("t2", owner: "b") }
    }

    @Test(arguments: Kind.allCases) func jobsAreClaimedInOrderAndEndWithTheirResult(kind: Kind) throws {
        let store = try Self.store(kind)
        for i in 0..<3 { try store.create(Self.record("j\(i)"), idempotency: nil) }
        let claimed = try #require(try store.claimNext())
        #expect(claimed.id == "j0" && claimed.status == .running && claimed.spec == Array("spec of j0".utf8))
        try store.updateProgress("j0", JobProgress(step: 5, steps: 10, elbo: -3))
        #expect(try store.get("j0", owner: "a").progress.step == 5)
        #expect(store.queuedCount() == 2)
        let checkpoint = StoredCheckpoint(step: 5, state: [1, 2, 3], lastEventID: 7)
        try store.saveCheckpoint("j0", checkpoint)
        #expect(try store.checkpoint(of: "j0") == checkpoint)
        try store.finish("j0", status: .succeeded, result: Self.result, error: nil, lastEventID: 9)
        #expect(try store.result("j0", owner: "a") == Self.result, "the result comes back exactly, doubles included")
        #expect(try store.checkpoint(of: "j0") == nil, "finishing drops the checkpoint")
        #expect(throws: JobStoreError.self) { try store.saveCheckpoint("j0", checkpoint) }
        #expect(try store.claimNext()?.id == "j1")
        #expect(try store.requestCancel("j1", owner: "a").cancelRequested)
        #expect(store.isCancelRequested("j1"))
        #expect(try store.requestCancel("j2", owner: "a").status == .cancelled, "a queued job is cancelled at once")
        #expect(try store.claimNext() == nil)
        let stats = store.statistics().counts
        #expect(stats[.succeeded] == 1 && stats[.running] == 1 && stats[.cancelled] == 1)
        try store.delete("j0", owner: "a")
        #expect(throws: JobStoreError.notFound) { try store.get("j0", owner: "a") }
    }

    @Test(arguments: Kind.allCases) func anIdempotencyKeyIsStoredWithItsJob(kind: Kind) throws {
        let store = try Self.store(kind)
        try store.create(Self.record("j0"), idempotency: IdempotencyRecord(key: "k", requestDigest: "d0"))
        let found = try #require(try store.idempotentJob(owner: "a", key: "k"))
        #expect(found.requestDigest == "d0" && found.job.id == "j0")
        #expect(try store.idempotentJob(owner: "b", key: "k") == nil, "keys are per owner")
        #expect(throws: JobStoreError.self) { try store.create(Self.record("j1"), idempotency: IdempotencyRecord(key: "k", requestDigest: "d1")) }
        #expect(throws: JobStoreError.notFound) { try store.get("j1", owner: "a") }
    }

    @Test(arguments: Kind.allCases) func finishedJobsPastTheirRetentionAreRemoved(kind: Kind) throws {
        let store = try Self.store(kind)
        for i in 0..<3 { try store.create(Self.record("j\(i)"), idempotency: IdempotencyRecord(key: "k\(i)", requestDigest: "d")) }
        _ = try store.claimNext()
        try store.finish("j0", status: .succeeded, result: Self.result, error: nil, lastEventID: 9)
        _ = try store.requestCancel("j1", owner: "a")
        #expect(try store.removeFinished(before: Date().addingTimeInterval(-60)).isEmpty)
        #expect(Set(try store.removeFinished(before: Date().addingTimeInterval(1))) == ["j0", "j1"])
        #expect(throws: JobStoreError.notFound) { try store.get("j0", owner: "a") }
        #expect(try store.idempotentJob(owner: "a", key: "k0") == nil)
        #expect(try store.get("j2", owner: "a").status == .queued, "unfinished jobs stay")
    }

    @Test func everythingSurvivesReopeningAndInterruptedJobsAreRequeuedInOrder() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try SQLiteJobStore(.inDirectory(directory))
            for i in 0..<5 { try store.create(Self.record("j\(i)"), idempotency: i == 0 ? IdempotencyRecord(key: "k", requestDigest: "d") : nil) }
            for _ in 0..<3 { _ = try store.claimNext() }
            try store.updateProgress("j0", JobProgress(step: 4, steps: 10))
            try store.saveCheckpoint("j0", StoredCheckpoint(step: 4, state: [9], lastEventID: 12))
            try store.finish("j1", status: .succeeded, result: Self.result, error: nil, lastEventID: 9)
            _ = try store.requestCancel("j2", owner: "a")
        }
        let store = try SQLiteJobStore(.inDirectory(directory))
        #expect(try store.get("j1", owner: "a").status == .succeeded && (try store.result("j1", owner: "a")) == Self.result)
        #expect(try store.idempotentJob(owner: "a", key: "k")?.job.id == "j0")
        let requeued = try store.recoverInterrupted()
        #expect(requeued.map(\.id) == ["j0"], "the running job goes back to the queue; the one asked to cancel does not")
        #expect(try store.get("j2", owner: "a").status == .cancelled)
        #expect(try store.get("j0", owner: "a").progress.step == 4, "progress as of the last checkpoint")
        #expect(try store.checkpoint(of: "j0") == StoredCheckpoint(step: 4, state: [9], lastEventID: 12))
        #expect(try [store.claimNext(), store.claimNext(), store.claimNext()].map { $0?.id } == ["j0", "j3", "j4"],
                "the requeued job keeps its place ahead of the later ones")
        let history = try store.transitions(of: "j0")
        #expect(history.map(\.status) == [.queued, .running, .queued, .running] && history.map(\.attempt) == [0, 1, 1, 2])
    }

    @Test func aFullStoreRefusesWritesAndSaysSoUntilThereIsRoom() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteJobStore(.inDirectory(directory, maxBytes: 512 << 10))
        #expect(store.unavailability() == nil)
        func job(_ id: String) -> JobRecord {
            JobRecord(id: id, name: id, owner: "a", createdAt: Date(), steps: 10, specDigest: "d", spec: Array(repeating: 32, count: 8192))
        }
        for i in 0..<8 {
            try store.create(job("old\(i)"), idempotency: nil)
            _ = try store.requestCancel("old\(i)", owner: "a")
        }
        var accepted: [String] = []
        var refusal: JobStoreError?
        for i in 0..<1000 {
            do { try store.create(job("j\(i)"), idempotency: nil); accepted.append("j\(i)") } catch { refusal = error; break }
        }
        guard case .unavailable(let reason)? = refusal else { Issue.record("the store never filled: \(String(describing: refusal))"); return }
        #expect(reason.contains("full"), "\(reason)")
        #expect(store.unavailability()?.contains("full") == true)
        #expect(!accepted.isEmpty)
        for id in accepted { #expect(try store.get(id, owner: "a").id == id) }
        let reopened = try SQLiteJobStore(.inDirectory(directory))
        #expect(try reopened.list(owner: "a", status: .queued, pageSize: 10_000, after: nil).jobs.count == accepted.count,
                "every acknowledged job is on disk, the refused one is not")
        #expect(try store.removeFinished(before: Date().addingTimeInterval(1)).count == 8)
        #expect(store.unavailability() == nil, "readiness returns once there is room")
        try store.create(job("after"), idempotency: nil)
    }

    @Test func aCorruptFileIsRefusedWithItsReason() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = SQLiteJobStoreConfiguration.inDirectory(directory)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: configuration.path))
        #expect { try SQLiteJobStore(configuration) } throws: { error in
            guard case .unavailable(let reason)? = error as? JobStoreError else { return false }
            return reason.contains("corrupt") || reason.contains("not a database")
        }
    }
}

/// The job manager over the durable store, in process: a shutdown checkpoints the running job
/// and a new manager continues it to the uninterrupted result, with event ids above the ones
/// already sent; a stored job whose spec no longer compiles fails with the reason.
@Suite(.serialized) struct ResumeTests {
    @Test func aSuspendedJobContinuesInTheNextManagerWithHigherEventIDs() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spec = JobManagerTests.spec("logreg", steps: 400_000)
        let reference = RecoveryTests.untimed(try JobRun(try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(spec)))).run())
        let first = JobManager(store: try SQLiteJobStore(.inDirectory(directory)), configuration: .init(workers: 1))
        let job = try first.submit(spec, owner: "a")
        let deadline = Date().addingTimeInterval(30)
        while (try first.store.get(job.id, owner: "a")).progress.step < 50_000 && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        let lastSeen = first.events(for: job).lastID
        #expect(first.shutdown() == [job.id], "the running job is checkpointed")
        let stepAtStop = try #require(try first.store.checkpoint(of: job.id)).step
        #expect(stepAtStop >= 50_000 && stepAtStop < 400_000)

        let second = JobManager(store: try SQLiteJobStore(.inDirectory(directory)), configuration: .init(workers: 1))
        defer { second.shutdown() }
        let events = JobManagerTests().drain(second.events(for: try second.store.get(job.id, owner: "a")), seconds: 60)
        #expect(events.first.map { $0.id > lastSeen } == true, "event ids continue above \(lastSeen): \(events.first?.id ?? 0)")
        #expect(events.last?.kind == .result)
        let result = try #require(try second.store.result(job.id, owner: "a"))
        #expect(RecoveryTests.untimed(result) == reference, "the continued run's result is the uninterrupted one")
    }

    @Test func finishedJobsPastTheirRetentionLeaveWithTheirEventLogs() throws {
        let manager = JobManager(configuration: .init(workers: 1, retention: 3600))
        defer { manager.shutdown() }
        let job = try manager.submit(JobManagerTests.spec("normal_normal_reparam", steps: 50), owner: "a")
        let log = manager.events(for: job)
        #expect(JobManagerTests().drain(log).last?.kind == .result)
        manager.removeExpired(now: Date().addingTimeInterval(60))
        #expect(try manager.store.get(job.id, owner: "a").status == .succeeded, "kept within its retention")
        manager.removeExpired(now: Date().addingTimeInterval(3700))
        #expect(throws: JobStoreError.notFound) { try manager.store.get(job.id, owner: "a") }
        #expect(manager.events(for: job) !== log, "its event log went with it")
    }

    @Test func aFinishedJobsLogIsReleasedAndRebuiltWithTheSameTerminalEvent() throws {
        let manager = JobManager(store: try SQLiteJobStore(.inDirectory(JobStoreTests.temporaryDirectory())),
                                 configuration: .init(workers: 1, finishedLogLifetime: 0.05))
        defer { manager.shutdown() }
        let job = try manager.submit(JobManagerTests.spec("normal_normal_reparam", steps: 50), owner: "a")
        let log = manager.events(for: job)
        let terminal = try #require(JobManagerTests().drain(log).last)
        #expect(terminal.kind == .result)
        Thread.sleep(forTimeInterval: 0.3)
        let rebuilt = manager.events(for: try manager.store.get(job.id, owner: "a"))
        #expect(rebuilt !== log, "the manager let go of the finished job's log")
        let again = rebuilt.events(after: terminal.id - 1)
        #expect(again.events == [terminal] && again.finished, "a reader resuming before the end gets the same terminal event")
        #expect(rebuilt.events(after: terminal.id).events.isEmpty)
    }

    @Test func aStoredJobWhoseSpecNoLongerCompilesFailsWithTheReason() throws {
        let store = MemoryJobStore()
        try store.create(JobRecord(id: "old", name: "old", owner: "a", createdAt: Date(), steps: 10, specDigest: "d",
                                   spec: Array(#"{"name": "old", "model": [{"sample": "x", "dist": "NoSuchLaw"}]}"#.utf8)), idempotency: nil)
        let manager = JobManager(store: store, configuration: .init(workers: 1))
        defer { manager.shutdown() }
        let events = JobManagerTests().drain(manager.events(for: try store.get("old", owner: "a")), seconds: 10)
        #expect(events.last?.kind == .error)
        let failed = try store.get("old", owner: "a")
        #expect(failed.status == .failed && failed.error?.contains("no longer compiles") == true, "\(failed.error ?? "")")
    }
}
