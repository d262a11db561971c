import Testing
import Foundation
@testable import JobService
import ModelSpec

/// The job runner without HTTP: submission, the queue, workers, cancellation, events.
@Suite(.serialized) struct JobManagerTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples").standardized

    static func spec(_ name: String, steps: Int? = nil) -> [UInt8] {
        var text = try! String(contentsOf: examples.appendingPathComponent("\(name).json"), encoding: .utf8)
        if let steps { text = text.replacingOccurrences(of: #""steps": \d+"#, with: "\"steps\": \(steps)", options: .regularExpression) }
        return Array(text.utf8)
    }

    /// Reads a job's events until its terminal one (bounded wait).
    func drain(_ log: JobEventLog, seconds: Double = 30) -> [JobEvent] {
        var seen: [JobEvent] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let (events, finished) = log.events(after: seen.last?.id ?? 0)
            seen += events
            if finished { break }
            if events.isEmpty { Thread.sleep(forTimeInterval: 0.01) }
        }
        return seen
    }

    @Test func aSubmittedJobRunsToItsResultWithOrderedEvents() throws {
        let manager = JobManager(configuration: .init(workers: 1))
        defer { manager.shutdown() }
        let job = try manager.submit(Self.spec("normal_normal_reparam"), owner: "a")
        #expect(job.status == .queued)
        let events = drain(manager.events(for: job))
        #expect(events.map(\.kind).first == .status && events.last?.kind == .result, "\(events.map(\.kind))")
        #expect(events.map(\.id) == events.map(\.id).sorted())
        #expect(events.contains { $0.kind == .progress })
        let done = try manager.store.get(job.id, owner: "a")
        #expect(done.status == .succeeded && done.result != nil && done.startedAt != nil && done.finishedAt != nil)
        #expect(done.progress.step == done.progress.steps)
    }

    @Test func invalidAndMalformedSpecsAreRefusedBeforeQueueing() {
        let manager = JobManager(configuration: .init(workers: 1))
        defer { manager.shutdown() }
        #expect { try manager.submit(Array("{".utf8), owner: "a") } throws: { if case .malformed = $0 as? SubmitError { true } else { false } }
        #expect { try manager.submit(Array(#"{"model": [], "guide": [], "extra": 1}"#.utf8), owner: "a") } throws: {
            if case let .invalid(d)? = $0 as? SubmitError { d.first?.pointer == "/extra" } else { false }
        }
        #expect(manager.store.queuedCount() == 0)
    }

    @Test func cancellingARunningJobStopsItWithinASecond() throws {
        let manager = JobManager(configuration: .init(workers: 1))
        defer { manager.shutdown() }
        let job = try manager.submit(Self.spec("gmm_relaxed_st", steps: 5_000_000), owner: "a")
        let log = manager.events(for: job)
        let deadline = Date().addingTimeInterval(20)
        while (try manager.store.get(job.id, owner: "a")).status != .running && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let asked = Date()
        _ = try manager.cancel(job.id, owner: "a")
        let events = drain(log, seconds: 10)
        #expect(Date().timeIntervalSince(asked) < 1.5)
        #expect(try manager.store.get(job.id, owner: "a").status == .cancelled)
        #expect({ if case .status(.cancelled, _)? = events.last?.payload { true } else { false } }())
    }

    @Test func aQueuedJobIsCancelledAtOnceAndAFullQueueRefuses() throws {
        let manager = JobManager(configuration: .init(workers: 1, queueCapacity: 2))
        defer { manager.shutdown() }
        let long = try manager.submit(Self.spec("gmm_relaxed_st", steps: 5_000_000), owner: "a")
        let deadline = Date().addingTimeInterval(20)
        while (try manager.store.get(long.id, owner: "a")).status != .running && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let q1 = try manager.submit(Self.spec("normal_normal_reparam"), owner: "a")
        _ = try manager.submit(Self.spec("normal_normal_reparam"), owner: "a")
        #expect { try manager.submit(Self.spec("normal_normal_reparam"), owner: "a") } throws: {
            if case .queueFull(2)? = $0 as? SubmitError { true } else { false }
        }
        #expect(try manager.cancel(q1.id, owner: "a").status == .cancelled)
        _ = try manager.cancel(long.id, owner: "a")
    }

    @Test func aSlowReaderNeverGrowsTheLog() {
        let log = JobEventLog(keptProgress: 8)
        log.append(.status(.running))
        for i in 0..<10_000 { log.append(.progress(JobProgress(step: i, steps: 10_000))) }
        #expect(log.count == 9)
        let (events, finished) = log.events(after: 0)
        #expect(!finished && events.first?.kind == .status && events.last!.payload == .progress(JobProgress(step: 9999, steps: 10_000)))
        log.append(.result(nil))
        #expect(log.events(after: events.last!.id).finished)
    }

    @Test func specDigestsAreSHA256() {
        #expect(Digest.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256Hex(Array(String(repeating: "a", count: 1000).utf8)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

@Suite struct RepresentationTests {
    @Test func jobResourcesCarryTheAPIFields() throws {
        var j = JobRecord(id: "abc", name: "n", owner: "", createdAt: Date(timeIntervalSince1970: 0), steps: 10, specDigest: "d", spec: [])
        j.status = .running
        j.progress.elbo = -1.5
        let text = Representations.resource(j)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["id", "name", "status", "created_at", "progress", "spec_digest", "links"], "absent values are left out")
        #expect((object["progress"] as? [String: Any]).map { Set($0.keys) } == ["elbo", "step", "steps"])
        j.error = "a \"quoted\" reason\n"; j.finishedAt = Date(timeIntervalSince1970: 1)
        let page = Representations.page([j, j], next: "abc")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(page.utf8)) as? [String: Any])
        #expect((parsed["jobs"] as? [[String: Any]])?.first?["error"] as? String == "a \"quoted\" reason\n" && parsed["next_page_token"] as? String == "abc")
        for key in ["\"id\":\"abc\"", "\"status\":\"running\"", "\"created_at\":\"1970-01-01T00:00:00.000Z\"", "\"spec_digest\":\"d\"", "\"steps\":10", "\"elbo\":-1.5", "\"events\":\"/v1/jobs/abc/events\""] {
            #expect(text.contains(key), "\(key) in \(text)")
        }
    }

    @Test func invalidSpecsBecome422ProblemsWithPointers() {
        let p = Representations.problem(.invalid([SpecDiagnostic(pointer: "/guide/2/dist", message: "unknown distribution 'Normel'")]))
        #expect(p.status == 422)
        let text = String(decoding: Representations.json(p), as: UTF8.self)
        #expect(text.contains("\"pointer\":\"/guide/2/dist\""))
    }

    @Test func capabilitiesListEveryDistributionAndEstimator() {
        let c = Representations.capabilities()
        #expect(c.distributions.count == 21 && c.estimators.count == 7 && c.functions.contains("logsumexp"))
    }
}
