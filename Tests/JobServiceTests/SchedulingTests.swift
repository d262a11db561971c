import Foundation
import Testing
@testable import JobService

/// Several API keys share the workers fairly (issue 15, item 4): queued jobs are taken from
/// the keys in turn rather than first come first served, a key may be held to a number of
/// running jobs so that other keys keep workers, and to a number of queued jobs.
@Suite(.serialized) struct SchedulingTests {
    static let short = JobManagerTests.spec("normal_normal_reparam", steps: 2000)
    static let long = JobManagerTests.spec("logreg", steps: 10_000_000)

    /// Waits (bounded) until `condition` holds.
    static func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return try condition()
    }

    @Test func queuedJobsAreTakenFromTheKeysInTurn() throws {
        let manager = JobManager(configuration: .init(workers: 1))
        defer { manager.shutdown() }
        // A job of a third key holds the only worker while the others queue up.
        let blocker = try manager.submit(Self.long, owner: "0")
        #expect(try Self.eventually { try manager.store.get(blocker.id, owner: "0").status == .running })
        var submitted: [(owner: String, id: String)] = []
        for owner in ["a", "a", "a", "a", "b", "b"] {
            submitted.append((owner, try manager.submit(Self.short, owner: owner).id))
        }
        _ = try manager.cancel(blocker.id, owner: "0")
        #expect(try Self.eventually(60) { try submitted.allSatisfy { try manager.store.get($0.id, owner: $0.owner).status == .succeeded } })
        let order = try submitted.sorted {
            try manager.store.get($0.id, owner: $0.owner).startedAt! < manager.store.get($1.id, owner: $1.owner).startedAt!
        }.map(\.owner)
        #expect(order == ["a", "b", "a", "b", "a", "a"], "the keys take turns instead of a's four jobs going first: \(order)")
    }

    @Test func aKeyAtItsRunningLimitLeavesTheOtherWorkersToOtherKeys() throws {
        let manager = JobManager(configuration: .init(workers: 2, maxRunningPerOwner: 1))
        defer { manager.shutdown() }
        let first = try manager.submit(Self.long, owner: "a")
        let second = try manager.submit(Self.long, owner: "a")
        #expect(try Self.eventually { try manager.store.get(first.id, owner: "a").status == .running })
        Thread.sleep(forTimeInterval: 1)
        #expect(try manager.store.get(second.id, owner: "a").status == .queued, "a's second job waits although a worker is free")
        let other = try manager.submit(Self.long, owner: "b")
        #expect(try Self.eventually { try manager.store.get(other.id, owner: "b").status == .running }, "b's job takes the free worker")
        _ = try manager.cancel(first.id, owner: "a")
        #expect(try Self.eventually { try manager.store.get(second.id, owner: "a").status == .running }, "a's next job runs once its first has ended")
        for (job, owner) in [(second, "a"), (other, "b")] { _ = try manager.cancel(job.id, owner: owner) }
    }

    @Test func aKeyAtItsQueueLimitGets429WhileOtherKeysStillSubmit() throws {
        try JobAPITests.withLiveAPI(.init(workers: 1, maxQueuedPerOwner: 2)) { manager, server in
            let blocker = try manager.submit(Self.long, owner: "")
            defer { _ = try? manager.cancel(blocker.id, owner: "") }
            #expect(try Self.eventually { try manager.store.get(blocker.id, owner: "").status == .running })
            let base = "http://127.0.0.1:\(server.port)"
            #expect(JobAPITests.request("POST", "\(base)/v1/jobs", body: Self.short).status == 202)
            #expect(JobAPITests.request("POST", "\(base)/v1/jobs", body: Self.short).status == 202)
            let refused = JobAPITests.request("POST", "\(base)/v1/jobs", body: Self.short)
            #expect(refused.status == 429 && refused.headers["Retry-After"] != nil && refused.body.contains("this API key has 2 jobs queued"), "\(refused)")
            #expect(throws: Never.self) { try manager.submit(Self.short, owner: "another key") }
        }
    }
}
