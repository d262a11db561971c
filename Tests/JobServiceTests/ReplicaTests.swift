import Foundation
import HTTPServer
import JSON
import Numerics
import Testing
@testable import JobService
@testable import ModelSpec

/// Replicas of the real service as child processes on one PostgreSQL database (the tests'
/// server): jobs submitted round-robin to three replicas run on any; one `kill -9`'d mid-run
/// loses nothing — its jobs' leases run out and another replica continues them from their
/// checkpoints — and one stopped with SIGTERM hands its jobs back; every job ends exactly once
/// with the result of an uninterrupted run, bit for bit (`make chaos`: 200 jobs). A job's stream can be followed
/// through a replica that does not run it, across a takeover, with the same event ids.
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

    /// Jobs of the chaos run: `SVISERVE_CHAOS_JOBS` (`make chaos`: 200), else 30 (CI's time).
    static var chaosJobs: Int { ProcessInfo.processInfo.environment["SVISERVE_CHAOS_JOBS"].flatMap(Int.init) ?? 30 }

    /// The uninterrupted in-process result of mix job `i` (the first 50 are computed once for
    /// every test).
    static func reference(_ i: Int) -> JobResult {
        guard i >= RecoveryTests.references.count else { return RecoveryTests.references[i] }
        let compiled = try! SpecCompiler.compile(try! SpecDecoder.decode(try! JSONParser.parse(RecoveryTests.spec(i))))
        return RecoveryTests.untimed(try! JobRun(compiled).run())
    }

    /// Whether `replica` (a `PostgresJobStoreConfiguration.replica` name) is `service`'s.
    static func named(_ replica: String?, _ service: ServiceProcess) -> Bool {
        replica?.contains("-\(service.process.processIdentifier)-") == true
    }

    @Test func threeReplicasOneKilledAndOneStoppedMidRunEndEveryJobOnceWithItsUninterruptedResult() throws {
        let n = Self.chaosJobs
        let url = try PostgresCluster.shared.newDatabase()
        let references = (0..<n).map(Self.reference)
        let replicas = try (0..<3).map { _ in try Self.replica(url) }
        let (a, b, c) = (replicas[0], replicas[1], replicas[2])
        let began = Date()
        var ids: [String: Int] = [:]
        for i in 0..<n { ids.merge(RecoveryTests.submit(i..<(i + 1), to: replicas[i % 3])) { $1 } }
        #expect(ids.count == n)
        #expect(RecoveryTests.wait(c, seconds: 120) { Self.runsCheckpointedJob(a, $0) }, "A runs a job past its checkpoints")
        let killed = Date()
        a.crash()
        #expect(RecoveryTests.wait(c, seconds: 120) { Self.runsCheckpointedJob(b, $0) || RecoveryTests.count($0, "queued") == 0 })
        let stopped = Date()
        #expect(b.terminate().status == 0, "B hands its jobs back and exits 0")
        #expect(RecoveryTests.wait(c, seconds: 900) { RecoveryTests.count($0, "succeeded") == n }, "every job finishes on the last replica")
        let finished = Date()
        for (id, i) in ids {
            let r = JobAPITests.request("GET", "\(c.base)/v1/jobs/\(id)/result")
            #expect(r.status == 200)
            let got = try RecoveryTests.decodeResult(r.body)
            #expect(got == references[i], "job \(i) (\(id)) equals the uninterrupted run: \(RecoveryTests.difference(got, references[i]))")
        }
        #expect(!RecoveryTests.resumedFromCheckpoint(c).isEmpty, "a job interrupted mid-run continues from its checkpoint")
        let refused = c.logLines().filter { $0.contains(#""event":"finish_refused""#) }.count
        #expect(c.terminate().status == 0)

        let store = try PostgresJobStore(.init(url: url))
        var takenOver = 0, handedBack = 0
        for id in ids.keys {
            let history = try store.transitions(of: id)
            #expect(history.filter { $0.status.isTerminal }.map(\.status) == [.succeeded] && history.last?.status == .succeeded,
                    "job \(id) ended exactly once: \(history)")
            // No two replicas past the fencing check at once: every claim takes the next token
            // and ends (requeued, handed back, or the job's end) before the next claim begins,
            // and the end is written by the holder of the last claim.
            let claims = history.filter { $0.status == .running }
            #expect(claims.map(\.claim) == Array(1...max(1, claims.count)), "each claim takes the next fencing token: \(history)")
            #expect(zip(history, history.dropFirst()).allSatisfy { ($0.status == .running) == ($1.status != .running) } && history.first?.status == .queued,
                    "claims and their ends alternate: \(history.map(\.status))")
            #expect(history.last?.replica == claims.last?.replica, "the end is written under the last claim: \(history)")
            for (run, next) in zip(history, history.dropFirst()) where run.status == .running && next.status == .queued {
                if next.replica == run.replica {
                    // Handed back (SIGTERM) by the replica that ran it, or its worker stopped.
                    handedBack += Self.named(run.replica, b) ? 1 : 0
                } else {
                    // A takeover: another replica found the lease expired.
                    takenOver += 1
                    #expect(Self.named(run.replica, a), "only the killed replica's jobs are taken over: \(history)")
                    #expect(next.at > killed && next.at.timeIntervalSince(killed) < 2 + 10, "taken over after A's lease ran out: \(next.at.timeIntervalSince(killed)) s after the kill")
                }
            }
        }
        #expect(takenOver >= 1, "the killed replica's running jobs were taken over after their leases ran out")
        print("chaos: \(n) jobs on 3 replicas; A killed \(Int(killed.timeIntervalSince(began))) s in, B stopped \(Int(stopped.timeIntervalSince(began))) s in; all ended \(Int(finished.timeIntervalSince(began))) s in; \(takenOver) taken over after lease expiry, \(handedBack) handed back by B, \(refused) late ends refused")
    }

    @Test func theDatabaseStoppedForTenSecondsFailsReadinessAndLosesNoAcceptedJob() throws {
        let cluster = try PostgresCluster.own()
        let url = try cluster.newDatabase()
        _ = RecoveryTests.references
        let service = try Self.replica(url)
        // A job long enough to be running when the database goes: its replica stops it once
        // its lease ran out on its own clock, and continues it when the database is back.
        let long = try #require(RecoveryTests.json(JobAPITests.request("POST", "\(service.base)/v1/jobs", body: JobManagerTests.spec("logreg", steps: 3_000_000)).body)["id"] as? String)
        var ids = RecoveryTests.submit(0..<8, to: service)
        #expect(PostgresLeaseTests.waitUntil(seconds: 60) { Self.started(on: service).contains(long) })

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
        #expect(RecoveryTests.wait(service, seconds: 180) { RecoveryTests.count($0, "succeeded") == ids.count + 1 }, "every accepted job finishes")
        let lost = service.logLines().filter { $0.contains(#""status":"lease_lost""#) }.compactMap { RecoveryTests.json($0)["id"] as? String }
        #expect(lost.contains(long), "the long job's run stopped when its lease ran out, on the replica's clock: \(lost)")
        #expect(!service.logLines().contains { $0.contains(#""event":"finish_refused""#) }, "no run went on to write past its lease")
        let history = try PostgresJobStore(.init(url: url)).transitions(of: long)
        #expect(history.map(\.status) == [.queued, .running, .queued, .running, .succeeded] && history.map(\.claim) == [0, 1, 1, 2, 2],
                "claimed, requeued once the database was back and its lease found expired, claimed again, ended: \(history)")
        for (id, i) in ids {
            let r = JobAPITests.request("GET", "\(service.base)/v1/jobs/\(id)/result")
            let got = try RecoveryTests.decodeResult(r.body), want = RecoveryTests.references[i]
            #expect(got == want, "job \(i) (\(id)) equals the uninterrupted run: \(RecoveryTests.difference(got, want))")
        }
        #expect(service.terminate().status == 0)
    }

    /// The events of an SSE body.
    static func sse(_ body: String) -> [JobEvent] {
        var events: [JobEvent] = [], id: Int?, kind: JobEvent.Kind?
        for line in body.split(separator: "\n") {
            if line.hasPrefix("id: ") { id = Int(line.dropFirst(4)) }
            if line.hasPrefix("event: ") { kind = JobEvent.Kind(rawValue: String(line.dropFirst(7))) }
            if line.hasPrefix("data: "), let current = id, let k = kind, let payload = JobEvent.Payload(kind: k, text: String(line.dropFirst(6))) {
                events.append(JobEvent(id: current, payload: payload))
                id = nil; kind = nil
            }
        }
        return events
    }

    /// Reads `url`'s stream to its end on another thread.
    static func follow(_ url: String, after id: Int? = nil) -> (DispatchGroup, Locked<[JobEvent]>) {
        let events = Locked<[JobEvent]>([]), reading = DispatchGroup()
        reading.enter()
        DispatchQueue.global().async {
            let r = JobAPITests.request("GET", url, headers: id.map { ["Last-Event-ID": String($0)] } ?? [:])
            #expect(r.status == 200)
            events.withLock { $0 = sse(r.body) }
            reading.leave()
        }
        return (reading, events)
    }

    @Test func aStreamFollowedThroughAnotherReplicaDeliversEveryEventIdInOrderAcrossATakeover() throws {
        let url = try PostgresCluster.shared.newDatabase()
        let spec = JobManagerTests.spec("logreg", steps: 900_000)
        LinearAlgebra.configureThreads(1)
        let reference = RecoveryTests.untimed(try JobRun(try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(spec)))).run())
        let a = try Self.replica(url)
        let id = try #require(RecoveryTests.json(JobAPITests.request("POST", "\(a.base)/v1/jobs", body: spec).body)["id"] as? String)
        #expect(PostgresLeaseTests.waitUntil(seconds: 60) { Self.started(on: a).contains(id) }, "A runs the job")
        // C reads the URL from a file, as from a mounted Secret (deploy/k8s).
        let urlFile = NSTemporaryDirectory() + "sviserve-database-url-\(UUID().uuidString)"
        try (url + "\n").write(toFile: urlFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: urlFile) }
        let b = try Self.replica(url)
        let c = try ServiceProcess(dataDirectory: "/nonexistent/unused", arguments: ["--lease-seconds", "2"], environment: ["SVISERVE_DATABASE_URL_FILE": urlFile])
        let (readingB, streamB) = Self.follow("\(b.base)/v1/jobs/\(id)/events")
        let (readingC, streamC) = Self.follow("\(c.base)/v1/jobs/\(id)/events")
        // A runs the job past checkpoints while B and C follow it, then dies; once its lease
        // runs out, B or C continues the job and the other keeps following it.
        #expect(PostgresLeaseTests.waitUntil(seconds: 60) {
            ((RecoveryTests.statuses(b)[id]?["progress"] as? [String: Any])?["step"] as? Int ?? 0) >= 250_000
        })
        a.crash()
        #expect(PostgresLeaseTests.waitUntil(seconds: 30) { Self.started(on: b).contains(id) || Self.started(on: c).contains(id) }, "a replica takes the job over")
        let (runner, follower) = Self.started(on: b).contains(id) ? (b, c) : (c, b)
        // A reader joining the follower with the id of A's last shared event resumes there.
        let store = try PostgresJobStore(.init(url: url))
        let shared = store.sharedEvents(of: id, after: 0).map(\.id)
        let lastOfA = zip(shared, shared.dropFirst()).first { $1 - $0 >= 1000 }?.0 ?? shared.last ?? 1
        let (resuming, resumed) = Self.follow("\(follower.base)/v1/jobs/\(id)/events", after: lastOfA)

        for reading in [readingB, readingC, resuming] { #expect(reading.wait(timeout: .now() + 120) == .success, "the streams end") }
        let (own, followed) = runner === b ? (streamB.withLock { $0 }, streamC.withLock { $0 }) : (streamC.withLock { $0 }, streamB.withLock { $0 })
        for events in [own, followed] {
            let ids = events.map(\.id)
            #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "ids only grow: \(ids)")
            #expect(events.first?.id == 1 && events.first?.kind == .status && events.last?.kind == .result, "\(events.prefix(2)) … \(events.suffix(1))")
            let jump = zip(ids, ids.dropFirst()).first { $1 - $0 >= 1000 }?.1 ?? .max
            #expect(events.contains { $0.kind == .progress && $0.id < jump } && events.contains { $0.kind == .progress && $0.id > jump },
                    "progress from A, then from its new holder with ids above A's: \(ids)")
        }
        // The same id is the same event on both replicas, and once both read the job the
        // follower misses no event its runner gave.
        let byID = Dictionary(own.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for event in followed.dropLast() { if let same = byID[event.id] { #expect(same == event) } }
        #expect(own.last?.id == followed.last?.id, "one terminal event id: \(String(describing: own.last?.id)) vs \(String(describing: followed.last?.id))")
        let since = max(own.first { $0.kind == .progress }?.id ?? 0, followed.first { $0.kind == .progress }?.id ?? 0)
        #expect(own.map(\.id).filter { $0 >= since } == followed.map(\.id).filter { $0 >= since }, "the follower gets every event id")
        let tail = resumed.withLock { $0 }
        #expect(tail.first?.kind == .status && tail.first.map { $0.id > lastOfA + 1 } == true && tail.last?.id == own.last?.id,
                "a reader resuming after A's last event on the follower gets the new holder's events: \(tail.prefix(2))")
        for event in tail.dropLast() { #expect(byID[event.id] == event) }

        let result = JobAPITests.request("GET", "\(follower.base)/v1/jobs/\(id)/result")
        #expect(try RecoveryTests.decodeResult(result.body) == reference, "the taken-over job's result is the uninterrupted run's")
        let history = try store.transitions(of: id)
        #expect(history.map(\.status) == [.queued, .running, .queued, .running, .succeeded] && history[2].replica != history[1].replica,
                "A's claim, its lease's expiry seen by another replica, the takeover, the end: \(history)")
        #expect(b.terminate().status == 0 && c.terminate().status == 0)
    }

    @Test func aLeaseThatIsNotAFiniteNumberOfSecondsAtLeastOneStopsServe() throws {
        for seconds in ["0.5", "inf", "nan"] {
            let (status, stderr) = try ServiceProcess.exit(arguments: ["serve", "--port", "0", "--in-memory", "--lease-seconds", seconds])
            #expect(status != nil && status != 0 && stderr.contains("--lease-seconds"), "\(seconds): \(String(describing: status)): \(stderr)")
        }
    }

    @Test func aDatabaseURLFileThatHoldsNoURLStopsServeInsteadOfFallingBackToSQLite() throws {
        let empty = NSTemporaryDirectory() + "sviserve-empty-url-\(UUID().uuidString)"
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        for environment in [["SVISERVE_DATABASE_URL_FILE": empty], ["SVISERVE_DATABASE_URL_FILE": empty + "-missing"]] {
            let (status, stderr) = try ServiceProcess.exit(arguments: ["serve", "--port", "0", "--in-memory"], environment: environment)
            #expect(status != nil && status != 0 && stderr.contains("SVISERVE_DATABASE_URL_FILE"), "\(String(describing: status)): \(stderr)")
        }
    }
}
