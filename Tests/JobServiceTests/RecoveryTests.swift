import Foundation
import JSON
import Testing
@testable import JobService
@testable import ModelSpec
import Numerics

/// The real service as a child process over one data directory, crashed (`kill -9`),
/// stopped (SIGTERM) and restarted: every accepted job finishes exactly once, with the result
/// of an uninterrupted in-process run of the same spec and seed, bit for bit.
@Suite(.serialized) struct RecoveryTests {
    /// Examples and roughly how many steps per second each runs, for jobs of chosen lengths:
    /// between them every kind of state a checkpoint carries — Adam moments, decaying and
    /// learned baselines, AVF control variates and their optimiser, OMT, enumeration. A rate
    /// set too low makes the "long" jobs short, and the SIGTERM test can then find no job left
    /// running to checkpoint: the Normal–Normal rates are the fused step's (seventh sitting),
    /// rounded up.
    static let examples: [(name: String, stepsPerSecond: Int)] = [
        ("normal_normal_reparam", 3_500_000), ("normal_normal_score_decaying", 2_000_000), ("eight_schools", 380_000),
        ("gmm_relaxed_st", 30_000), ("logreg", 360_000), ("bernoulli_latent_score_learned", 260_000),
        ("linreg_mvn_omt", 270_000), ("poisson_regression", 190_000), ("gmm_enum", 59_000),
        ("linreg_mvn_avf", 280_000),
    ]

    /// Job `i` of the mix: every seventh runs about half a second, the rest a few tens of ms;
    /// each with its own seed.
    static func spec(_ i: Int) -> [UInt8] {
        let example = examples[i % examples.count]
        let seconds = i % 7 == 0 ? 0.5 : 0.05
        let url = JobManagerTests.examples.appendingPathComponent("\(example.name).json")
        var json = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var inference = json["inference"] as? [String: Any] ?? [:]
        inference["steps"] = max(200, Int(Double(example.stepsPerSecond) * seconds))
        inference["seed"] = 1000 + i
        json["inference"] = inference
        json["name"] = "mix-\(i)"
        return Array(try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
    }

    /// The uninterrupted in-process results of the mix, timings zeroed; with one BLAS thread,
    /// as the service's workers run (a threaded BLAS sums in another order).
    static let references: [JobResult] = (0..<50).map { i in
        if i == 0 { LinearAlgebra.configureThreads(1) }
        let compiled = try! SpecCompiler.compile(try! SpecDecoder.decode(try! JSONParser.parse(spec(i))))
        return untimed(try! JobRun(compiled).run())
    }

    static func untimed(_ r: JobResult) -> JobResult {
        var r = r
        r.seconds = 0; r.stepsPerSecond = 0
        return r
    }

    static func decodeResult(_ text: String) throws -> JobResult {
        untimed(try Representations.decode(JobResult.self, text.utf8))
    }

    /// Which parts of two results differ (for failure messages).
    static func difference(_ a: JobResult, _ b: JobResult) -> String {
        var parts: [String] = []
        if a.finalELBO != b.finalELBO { parts.append("final ELBO \(a.finalELBO) vs \(b.finalELBO)") }
        if a.params != b.params { parts.append("params \(a.params.map(\.values)) vs \(b.params.map(\.values))") }
        if a.posterior != b.posterior { parts.append("posterior") }
        if a.elboTrace != b.elboTrace {
            let k = zip(a.elboTrace, b.elboTrace).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            parts.append("trace from point \(k.map(String.init) ?? "(length)") of \(a.elboTrace.count)/\(b.elboTrace.count)")
        }
        if a.steps != b.steps { parts.append("steps \(a.steps) vs \(b.steps)") }
        return parts.joined(separator: "; ")
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// Submits mix jobs `indices`; returns job id → index.
    static func submit(_ indices: Range<Int>, to service: ServiceProcess) -> [String: Int] {
        var ids: [String: Int] = [:]
        for i in indices {
            let r = JobAPITests.request("POST", "\(service.base)/v1/jobs", body: spec(i))
            #expect(r.status == 202, "job \(i): \(r.body)")
            if let id = json(r.body)["id"] as? String { ids[id] = i }
        }
        return ids
    }

    /// Jobs by status, from the service's list.
    static func statuses(_ service: ServiceProcess) -> [String: [String: Any]] {
        let r = JobAPITests.request("GET", "\(service.base)/v1/jobs?page_size=200")
        let jobs = json(r.body)["jobs"] as? [[String: Any]] ?? []
        return Dictionary(jobs.compactMap { j in (j["id"] as? String).map { ($0, j) } }, uniquingKeysWith: { a, _ in a })
    }

    /// Waits (bounded) until `condition` holds of the service's jobs.
    static func wait(_ service: ServiceProcess, seconds: Double = 120, until condition: ([String: [String: Any]]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(statuses(service)) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    static func count(_ jobs: [String: [String: Any]], _ status: String) -> Int {
        jobs.values.filter { $0["status"] as? String == status }.count
    }

    /// Some jobs done, some running past their first checkpoint, some still queued.
    static func midRun(_ jobs: [String: [String: Any]]) -> Bool {
        let runningPastStart = jobs.values.contains {
            $0["status"] as? String == "running" && (($0["progress"] as? [String: Any])?["step"] as? Int ?? 0) >= 20_000
        }
        return count(jobs, "succeeded") >= 2 && runningPastStart && count(jobs, "queued") > 0
    }

    /// After the last process: every job succeeded with its reference result, and the store
    /// shows exactly one terminal transition per job (none ran to completion twice).
    static func expectAllFinishedExactlyOnce(_ ids: [String: Int], _ service: ServiceProcess, _ directory: String) throws {
        #expect(wait(service) { count($0, "succeeded") == ids.count }, "every job finishes")
        for (id, i) in ids {
            let r = JobAPITests.request("GET", "\(service.base)/v1/jobs/\(id)/result")
            #expect(r.status == 200)
            let got = try decodeResult(r.body), want = references[i]
            #expect(got == want, "job \(i) (\(id)) equals the uninterrupted run: \(difference(got, want))")
        }
        #expect(service.terminate().status == 0)
        let store = try SQLiteJobStore(.inDirectory(directory))
        for id in ids.keys {
            let terminal = try store.transitions(of: id).filter { $0.status.isTerminal }
            #expect(terminal.map(\.status) == [.succeeded], "job \(id): \(terminal)")
        }
    }

    /// Runs `body` with a fresh data directory (removed afterwards), a service started on it
    /// and mix jobs `jobs` submitted to it (id → index); the references are computed first.
    static func withSubmittedMix(_ jobs: Range<Int>, _ body: (_ directory: String, _ first: ServiceProcess, _ ids: [String: Int]) throws -> Void) throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = references
        let first = try ServiceProcess(dataDirectory: directory)
        let ids = submit(jobs, to: first)
        #expect(ids.count == jobs.count)
        try body(directory, first, ids)
    }

    /// Log lines of jobs that started running from a checkpoint (step > 0).
    static func resumedFromCheckpoint(_ service: ServiceProcess) -> [String] {
        service.logLines().filter { $0.contains(#""status":"running""#) && !$0.contains(#""from_step":0"#) }
    }

    @Test func killNineMidRunLosesNothingAndRunsNothingTwice() throws {
        try Self.withSubmittedMix(0..<50) { directory, first, ids in
            #expect(Self.wait(first, seconds: 60, until: Self.midRun), "the crash comes mid-run")
            first.crash()
            let second = try ServiceProcess(dataDirectory: directory)
            #expect(!Self.resumedFromCheckpoint(second).isEmpty || Self.wait(second, seconds: 30) { _ in !Self.resumedFromCheckpoint(second).isEmpty },
                    "a job interrupted mid-run continues from its checkpoint, not from step 0")
            try Self.expectAllFinishedExactlyOnce(ids, second, directory)
        }
    }

    @Test func sigtermCheckpointsTheRunningJobsAndExitsZero() throws {
        try Self.withSubmittedMix(0..<15) { directory, first, ids in
            #expect(Self.wait(first, seconds: 60, until: Self.midRun))
            let (status, seconds) = first.terminate()
            #expect(status == 0 && seconds < 25, "exit \(String(describing: status)) after \(seconds) s")
            let shutdown = try #require(first.logLines().first { $0.contains(#""event":"shutdown""#) })
            let checkpointed = (Self.json(shutdown)["checkpointed_jobs"] as? String ?? "").split(separator: ",").map(String.init)
            #expect(!checkpointed.isEmpty && checkpointed.allSatisfy { ids[$0] != nil }, "the shutdown line names the jobs it checkpointed: \(shutdown)")
            let second = try ServiceProcess(dataDirectory: directory)
            #expect(Self.wait(second, seconds: 30) { _ in Self.resumedFromCheckpoint(second).count >= checkpointed.count },
                    "each checkpointed job continues from its checkpoint: \(shutdown) \(second.logLines().filter { $0.contains("running") })")
            try Self.expectAllFinishedExactlyOnce(ids, second, directory)
        }
    }

    @Test func restartsWithinTheFirstSecondLoseNothing() throws {
        try Self.withSubmittedMix(0..<15) { directory, first, ids in
            Thread.sleep(forTimeInterval: 0.3)
            first.crash()
            let second = try ServiceProcess(dataDirectory: directory)
            Thread.sleep(forTimeInterval: 0.5)
            second.crash()
            let third = try ServiceProcess(dataDirectory: directory)
            try Self.expectAllFinishedExactlyOnce(ids, third, directory)
        }
    }

    @Test func anIdempotencyKeyOutlivesARestart() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try ServiceProcess(dataDirectory: directory)
        let created = JobAPITests.request("POST", "\(first.base)/v1/jobs", body: Self.spec(1), headers: ["Idempotency-Key": "deploy-42"])
        #expect(created.status == 202)
        let id = Self.json(created.body)["id"] as? String ?? ""
        #expect(Self.wait(first, seconds: 30) { $0[id]?["status"] as? String == "succeeded" })
        first.crash()
        let second = try ServiceProcess(dataDirectory: directory)
        let stream = JobAPITests.request("GET", "\(second.base)/v1/jobs/\(id)/events", headers: ["Last-Event-ID": "3"])
        #expect(stream.status == 200 && stream.body.contains("event: result"),
                "a stream resumed after the restart still ends with the job's result: \(stream.body.prefix(300))")
        let again = JobAPITests.request("POST", "\(second.base)/v1/jobs", body: Self.spec(1), headers: ["Idempotency-Key": "deploy-42"])
        #expect(again.status == 200 && Self.json(again.body)["id"] as? String == Self.json(created.body)["id"] as? String,
                "the same key and body return the original job")
        let other = JobAPITests.request("POST", "\(second.base)/v1/jobs", body: Self.spec(2), headers: ["Idempotency-Key": "deploy-42"])
        #expect(other.status == 422)
        let metrics = JobAPITests.request("GET", "\(second.base)/metrics").body
        let bytes = metrics.firstMatch(of: /\nsviserve_store_bytes (\d+)\n/).flatMap { Int($0.1) } ?? 0
        #expect(bytes > 4096, "the store's size is reported: \(bytes)")
        #expect(second.terminate().status == 0)
    }

    @Test func aFullStoreAnswers503AndFailsReadinessWithoutLosingAcknowledgedJobs() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let limit = ["--store-limit-mb", "1", "--workers", "1"]
        let first = try ServiceProcess(dataDirectory: directory, arguments: limit)
        let body = JobManagerTests.spec("logreg", steps: 10_000_000)
        var acknowledged: [String] = []
        var refused: (status: Int, headers: [String: String], body: String)?
        for _ in 0..<500 {
            let r = JobAPITests.request("POST", "\(first.base)/v1/jobs", body: body)
            if r.status == 202, let id = Self.json(r.body)["id"] as? String { acknowledged.append(id); continue }
            refused = r
            break
        }
        #expect(refused?.status == 503 && refused?.body.contains("full") == true, "\(String(describing: refused))")
        let ready = JobAPITests.request("GET", "\(first.base)/readyz")
        #expect(ready.status == 503 && ready.body.contains("full"), "\(ready)")
        #expect(JobAPITests.request("GET", "\(first.base)/healthz").status == 200, "the process itself is healthy")
        first.crash()
        let second = try ServiceProcess(dataDirectory: directory, arguments: limit)
        for id in acknowledged {
            #expect(JobAPITests.request("GET", "\(second.base)/v1/jobs/\(id)").status == 200, "acknowledged job \(id) is kept")
        }
        #expect(second.terminate().status == 0)
    }

    @Test func aCorruptStoreKeepsTheServiceUpButNotReady() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: SQLiteJobStoreConfiguration.inDirectory(directory).path))
        let service = try ServiceProcess(dataDirectory: directory)
        #expect(JobAPITests.request("GET", "\(service.base)/healthz").status == 200)
        let ready = JobAPITests.request("GET", "\(service.base)/readyz")
        #expect(ready.status == 503 && ready.body.contains("corrupt"), "\(ready.body)")
        let submitted = JobAPITests.request("POST", "\(service.base)/v1/jobs", body: Self.spec(1))
        #expect(submitted.status == 503, "never a 202 for a job that was not stored: \(submitted.body)")
        #expect(JobAPITests.request("GET", "\(service.base)/v1/jobs").status == 503)
        #expect(service.terminate().status == 0)
    }

    @Test(arguments: ["/proc", "/proc/sviserve-data"])
    func aReadOnlyDataDirectoryKeepsTheServiceUpButNotReady(directory: String) throws {
        // procfs takes no new files or directories, not even from root (which chmod would not stop).
        let service = try ServiceProcess(dataDirectory: directory)
        #expect(JobAPITests.request("GET", "\(service.base)/healthz").status == 200)
        let ready = JobAPITests.request("GET", "\(service.base)/readyz")
        #expect(ready.status == 503 && ready.body.contains("cannot be"), "\(ready.body)")
        #expect(JobAPITests.request("POST", "\(service.base)/v1/jobs", body: Self.spec(1)).status == 503)
        #expect(service.terminate().status == 0)
    }
}
