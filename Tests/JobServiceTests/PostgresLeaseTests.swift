import Testing
import Foundation
@testable import JobService
import HTTPServer
@testable import ModelSpec

/// Leases, takeover and fencing on a real PostgreSQL server: two store instances on one
/// database stand for two replicas. A claim is exclusive even when replicas race for it; a
/// held lease is renewed by the heartbeat and by checkpoints; a lease that runs out is taken
/// over by another replica, which continues from the last checkpoint; the replica that lost it
/// can no longer write anything for the job; a cancel asked through one replica reaches the
/// one running the job.
@Suite struct PostgresLeaseTests {
    static func replicas(_ count: Int, leaseSeconds: Double = 15, heartbeatSeconds: Double = 0.2) throws -> [PostgresJobStore] {
        let url = try PostgresCluster.shared.newDatabase()
        return try (0..<count).map {
            try PostgresJobStore(.init(url: url, leaseSeconds: leaseSeconds, heartbeatSeconds: heartbeatSeconds, replica: "replica-\($0)"))
        }
    }

    static func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    @Test func replicasRacingForJobsEachClaimADifferentOneInQueueOrder() throws {
        let stores = try Self.replicas(3)
        let count = 60
        for i in 0..<count { try stores[0].create(JobStoreTests.record(String(format: "j%03d", i)), idempotency: nil) }
        let claimed = Locked<[(replica: Int, id: String)]>([])
        let done = DispatchGroup()
        for worker in 0..<6 {
            done.enter()
            Thread {
                let store = stores[worker % 3]
                while let job = try? store.claimNext() {
                    claimed.withLock { $0.append((worker % 3, job.id)) }
                    Thread.sleep(forTimeInterval: 0.002)   // the job's run, during which the others claim
                }
                done.leave()
            }.start()
        }
        done.wait()
        let ids = claimed.withLock { $0.map(\.id) }
        #expect(ids.count == count && Set(ids).count == count, "every job claimed exactly once: \(ids.count) claims of \(Set(ids).count) jobs")
        #expect(Set(claimed.withLock { $0.map(\.replica) }).count > 1, "more than one replica took jobs")
        for id in ids.prefix(5) {
            let history = try stores[1].transitions(of: id)
            #expect(history.map(\.status) == [.queued, .running] && history.last?.claim == 1)
        }
    }

    @Test func aHeldLeaseIsRenewedSoNoOtherReplicaTakesTheJob() throws {
        let stores = try Self.replicas(2, leaseSeconds: 1, heartbeatSeconds: 0.2)
        try stores[0].create(JobStoreTests.record("j0"), idempotency: nil)
        #expect(try stores[0].claimNext()?.id == "j0")
        try stores[0].updateProgress("j0", JobProgress(step: 7, steps: 10))
        // Three lease lengths: only the heartbeat keeps the claim.
        Thread.sleep(forTimeInterval: 3)
        #expect(stores[0].holdsLease("j0"), "renewed by the heartbeat, on the replica's own clock too")
        #expect(try stores[1].recoverInterrupted(maxAttempts: 3).isEmpty)
        #expect(try stores[1].claimNext() == nil)
        let seen = try stores[1].get("j0", owner: "a")
        #expect(seen.status == .running && seen.attempts == 1)
        #expect(seen.progress.step == 7, "the heartbeat writes the running job's progress for the other replicas")
        try stores[0].finish("j0", status: .succeeded, result: JobStoreTests.result, error: nil, lastEventID: 3)
        #expect(try stores[1].result("j0", owner: "a") == JobStoreTests.result)
    }

    @Test func aCheckpointRenewsTheLeaseWithoutTheHeartbeat() throws {
        let stores = try Self.replicas(2, leaseSeconds: 1.5, heartbeatSeconds: 0.2)
        stores[0].stopHeartbeat()
        try stores[0].create(JobStoreTests.record("j0"), idempotency: nil)
        _ = try #require(try stores[0].claimNext())
        for step in 1...6 {
            Thread.sleep(forTimeInterval: 0.5)
            try stores[0].saveCheckpoint("j0", StoredCheckpoint(step: step, state: [UInt8(step)], lastEventID: step))
        }
        #expect(try stores[1].get("j0", owner: "a").status == .running, "3 s after the claim, still held through its checkpoints")
        #expect(try stores[1].claimNext() == nil)
    }

    /// A checkpoint writes the job's progress to its row; the events up to it go with it, in
    /// the same transaction, so a replica that sees a step can also stream it (before this, a
    /// job checkpointed between two heartbeats showed its step but none of its events, and a
    /// replica killed then left followers nothing of its run).
    @Test func progressSeenThroughAnotherReplicaComesWithTheEventsUpToIt() throws {
        let stores = try Self.replicas(2)
        stores[0].stopHeartbeat()
        try stores[0].create(JobStoreTests.record("j0", steps: 100), idempotency: nil)
        _ = try #require(try stores[0].claimNext())
        let log = JobEventLog()
        stores[0].sharedEvents(of: "j0", after: 0).forEach(log.append(replaying:))
        stores[0].share(log, of: "j0")
        log.append(.status(.running))
        for step in 1...5 {
            let progress = JobProgress(step: step * 10, steps: 100)
            log.append(.progress(progress))
            try stores[0].updateProgress("j0", progress)
        }
        try stores[0].saveCheckpoint("j0", StoredCheckpoint(step: 50, state: [5], lastEventID: log.lastID))
        #expect(try stores[1].get("j0", owner: "a").progress.step == 50)
        let shared = stores[1].sharedEvents(of: "j0", after: 0)
        #expect(shared.map(\.id) == Array(1...7) && shared.map(\.id) == log.events(after: 0).events.map(\.id))
        #expect(shared.last == log.events(after: 0).events.last, "the newest progress, as the running replica's log has it")
    }

    /// A replica measures its lease on its own clock from the last write that renewed it, so
    /// one cut off from the database stops its run by the time another may take it over,
    /// before any other replica has looked.
    @Test func aLeaseNotRenewedForItsLengthIsNoLongerHeldOnTheReplicasOwnClock() throws {
        let store = try Self.replicas(1, leaseSeconds: 1, heartbeatSeconds: 0.2)[0]
        store.stopHeartbeat()
        try store.create(JobStoreTests.record("j0"), idempotency: nil)
        _ = try #require(try store.claimNext())
        #expect(store.holdsLease("j0") && !store.holdsLease("unknown"))
        for step in 1...4 {
            Thread.sleep(forTimeInterval: 0.4)
            try store.saveCheckpoint("j0", StoredCheckpoint(step: step, state: [UInt8(step)], lastEventID: step))
            #expect(store.holdsLease("j0"), "renewed by its checkpoints, 0.4 s apart")
        }
        Thread.sleep(forTimeInterval: 1.1)
        #expect(!store.holdsLease("j0"), "not renewed for a lease's length")
        #expect(try store.get("j0", owner: "a").status == .running, "while the database, which nobody swept, still says running")
        try store.saveCheckpoint("j0", StoredCheckpoint(step: 5, state: [5], lastEventID: 5))
        #expect(!store.holdsLease("j0"), "a lost lease stays lost: its run is being stopped")
        #expect(!store.isCancelRequested("j0"), "losing the lease is not a cancel: the job is not to end")
        let endless = try PostgresJobStore(.init(url: store.configuration.url, leaseSeconds: .infinity, heartbeatSeconds: 0.2))
        endless.stopHeartbeat()
        try endless.create(JobStoreTests.record("j1"), idempotency: nil)
        _ = try #require(try endless.claimNext())
        #expect(endless.holdsLease("j1"), "a lease longer than the clock's range never runs out on it (and does not trap)")
        store.abandon("j0")
        #expect(throws: JobStoreError.self) { try store.saveCheckpoint("j0", StoredCheckpoint(step: 6, state: [6], lastEventID: 6)) }
    }

    @Test func anExpiredLeaseIsTakenOverAndTheStaleReplicasLateWritesAreFenced() throws {
        let stores = try Self.replicas(2, leaseSeconds: 1, heartbeatSeconds: 0.2)
        let (a, b) = (stores[0], stores[1])
        a.stopHeartbeat()   // replica A dies without a word
        try a.create(JobStoreTests.record("j0"), idempotency: nil)
        try a.create(JobStoreTests.record("j1"), idempotency: nil)
        #expect(try a.claimNext()?.id == "j0")
        try a.updateProgress("j0", JobProgress(step: 4, steps: 10))
        try a.saveCheckpoint("j0", StoredCheckpoint(step: 4, state: [4, 4], lastEventID: 11))

        // B's heartbeat requeues the job once A's lease has run out; B then claims it first, in
        // its original place ahead of j1, and continues from A's checkpoint.
        #expect(Self.waitUntil(seconds: 5) { (try? b.get("j0", owner: "a").status) == .queued })
        let taken = try #require(try b.claimNext())
        #expect(taken.id == "j0" && taken.attempts == 2 && taken.spec == Array("spec of j0".utf8))
        #expect(try b.checkpoint(of: "j0") == StoredCheckpoint(step: 4, state: [4, 4], lastEventID: 11))
        #expect(taken.progress.step == 4)

        // A wakes up and writes as if it still held the job: every write is refused.
        #expect(throws: JobStoreError.self) { try a.saveCheckpoint("j0", StoredCheckpoint(step: 9, state: [9], lastEventID: 20)) }
        #expect(throws: JobStoreError.self) {
            try a.finish("j0", status: .failed, result: nil, error: "stale", lastEventID: 21)
        }
        #expect(throws: JobStoreError.self) { try a.release("j0") }
        #expect(throws: JobStoreError.self) { _ = try a.recordStop("j0", reason: "stale", maxAttempts: 3) }
        #expect(try b.checkpoint(of: "j0")?.step == 4, "the stale checkpoint did not overwrite")
        #expect(try b.get("j0", owner: "a").status == .running)

        try b.saveCheckpoint("j0", StoredCheckpoint(step: 8, state: [8], lastEventID: 15))
        try b.finish("j0", status: .succeeded, result: JobStoreTests.result, error: nil, lastEventID: 16)
        let done = try a.get("j0", owner: "a")
        #expect(done.status == .succeeded && done.error == nil && done.lastEventID == 16)
        #expect(try a.result("j0", owner: "a") == JobStoreTests.result)

        #expect(!a.holdsLease("j0"), "A's lease, found taken over")
        let history = try b.transitions(of: "j0")
        #expect(history.map(\.status) == [.queued, .running, .queued, .running, .succeeded])
        #expect(history.map(\.claim) == [0, 1, 1, 2, 2], "the fencing token grows with each claim")
        #expect(history.map(\.replica) == [nil, "replica-0", "replica-1", "replica-1", "replica-1"],
                "A claimed it; B found the lease expired, requeued, claimed and finished it")
        #expect(history[2].step == 4, "requeued at its checkpoint's step")
    }

    @Test func aJobWhoseLeaseRunsOutAtItsLastAttemptFails() throws {
        let stores = try Self.replicas(2, leaseSeconds: 0.5, heartbeatSeconds: 0.2)
        stores[0].stopHeartbeat()
        try stores[0].create(JobStoreTests.record("j0"), idempotency: nil)
        _ = try stores[1].recoverInterrupted(maxAttempts: 2)
        for attempt in 1...2 {
            #expect(Self.waitUntil(seconds: 5) { (try? stores[1].get("j0", owner: "a").status) == .queued }, "attempt \(attempt)")
            #expect(try stores[0].claimNext()?.attempts == attempt)
        }
        #expect(Self.waitUntil(seconds: 5) { (try? stores[1].get("j0", owner: "a").status) == .failed })
        let failed = try stores[1].get("j0", owner: "a")
        #expect(failed.error == "the job stopped its worker 2 times: \(PostgresJobStore.leaseExpired)")
        #expect(try stores[1].claimNext() == nil)
    }

    @Test func aCancelAskedThroughOneReplicaReachesTheReplicaRunningTheJob() throws {
        let stores = try Self.replicas(2, leaseSeconds: 15, heartbeatSeconds: 0.2)
        try stores[0].create(JobStoreTests.record("j0"), idempotency: nil)
        _ = try #require(try stores[0].claimNext())
        #expect(!stores[0].isCancelRequested("j0"))
        #expect(try stores[1].requestCancel("j0", owner: "a").cancelRequested)
        #expect(stores[1].isCancelRequested("j0"))
        #expect(Self.waitUntil(seconds: 1) { stores[0].isCancelRequested("j0") }, "within a second, through the heartbeat")
    }

    @Test func aDeployHandsJobsBackWithoutChargingThem() throws {
        let stores = try Self.replicas(2)
        try stores[0].create(JobStoreTests.record("j0"), idempotency: nil)
        _ = try stores[0].claimNext()
        try stores[0].saveCheckpoint("j0", StoredCheckpoint(step: 3, state: [3], lastEventID: 5))
        try stores[0].release("j0")
        let next = try #require(try stores[1].claimNext())
        #expect(next.id == "j0" && next.attempts == 1, "a clean hand-back gives its attempt back")
        #expect(try stores[1].checkpoint(of: "j0")?.step == 3)
        #expect(try stores[1].transitions(of: "j0").map(\.claim) == [0, 1, 1, 2], "the token still grows")
    }

    @Test func migrationsAreAppliedOnceWhenReplicasStartTogether() throws {
        let url = try PostgresCluster.shared.newDatabase()
        let opened = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            if (try? PostgresJobStore(.init(url: url, replica: "r\(i)"))) != nil { opened.withLock { $0 += 1 } }
        }
        #expect(opened.withLock { $0 } == 4)
        let db = try PostgresConnection(url: url)
        let rows = try db.execute("SELECT version FROM schema_migrations ORDER BY version")
        #expect((0..<rows.count).map { rows.int($0, "version") } == PostgresMigrations.all.map(\.version))
    }

    @Test func anUnreachableDatabaseIsReportedNotCrashedOn() throws {
        let port = try PostgresCluster.freePort()
        #expect { try PostgresJobStore(.init(url: "postgres://postgres@127.0.0.1:\(port)/none?connect_timeout=2")) } throws: { error in
            guard case .unavailable(let reason)? = error as? JobStoreError else { return false }
            return reason.contains("cannot connect")
        }
    }
}
