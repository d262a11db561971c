import Foundation
import HTTPServer
import ModelSpec

/// Why a store refused an operation.
public enum JobStoreError: Error, Equatable, Sendable {
    /// No job with that id for that owner (another owner's job is reported the same way).
    case notFound
    /// The store cannot be written (the service answers 503 and `/readyz` fails).
    case unavailable(String)
    /// The operation does not fit the job's state (e.g. deleting a running job).
    case conflict(String)

    /// What went wrong, in words (for problem details and logs).
    public var message: String {
        switch self {
        case .notFound: "no such job"
        case .unavailable(let reason), .conflict(let reason): reason
        }
    }
}

/// An `Idempotency-Key` stored with the job it created: the same owner and key later return
/// that job when the request's digest matches.
public struct IdempotencyRecord: Equatable, Sendable {
    public let key: String
    /// SHA-256 of the request body.
    public let requestDigest: String
    public init(key: String, requestDigest: String) { self.key = key; self.requestDigest = requestDigest }
}

/// A running job's saved state: the encoded ``RunCheckpoint`` and the step it was taken at.
public struct StoredCheckpoint: Equatable, Sendable {
    public let step: Int
    public let state: [UInt8]
    /// The job's last event id when it was taken (a resumed job's events continue above it).
    public let lastEventID: Int
    public init(step: Int, state: [UInt8], lastEventID: Int) { self.step = step; self.state = state; self.lastEventID = lastEventID }
}

/// Where jobs live: shaped for more than one process (architecture.md) — a worker *claims*
/// a queued job, records progress, checkpoints and the result under that claim. Implementations
/// are thread-safe. A record read with ``get(_:owner:)`` or ``list(owner:status:pageSize:after:)``
/// may leave out the spec's bytes and the result (a durable store keeps those on disk):
/// ``claimNext()`` returns the spec, ``result(_:owner:)`` the result.
public protocol JobStore: Sendable {
    /// Stores a new queued job, with the idempotency key that created it, in one step.
    func create(_ job: JobRecord, idempotency: IdempotencyRecord?) throws(JobStoreError)
    /// The job `owner` created with idempotency `key`, and the digest of that request.
    func idempotentJob(owner: String, key: String) throws(JobStoreError) -> (requestDigest: String, job: JobRecord)?
    /// The job with `id` if `owner` may see it.
    func get(_ id: String, owner: String) throws(JobStoreError) -> JobRecord
    /// The result of a succeeded job (nil before it has one).
    func result(_ id: String, owner: String) throws(JobStoreError) -> JobResult?
    /// Jobs of `owner`, newest first, optionally of one status and carrying one tag, after the page token.
    func list(owner: String, status: JobStatus?, tag: String?, pageSize: Int, after token: String?) throws(JobStoreError) -> (jobs: [JobRecord], next: String?)
    /// The spec bytes stored with the job `owner` may see.
    func spec(_ id: String, owner: String) throws(JobStoreError) -> [UInt8]
    /// Moves the oldest queued job — of `owner`, when given — to `running` and returns it with
    /// its spec (nil when none is queued).
    func claimNext(owner: String?) throws(JobStoreError) -> JobRecord?
    /// Records progress of a running job (may be kept in memory until the next checkpoint).
    func updateProgress(_ id: String, _ progress: JobProgress) throws(JobStoreError)
    /// Saves a running job's checkpoint, replacing the previous one.
    func saveCheckpoint(_ id: String, _ checkpoint: StoredCheckpoint) throws(JobStoreError)
    /// The running job's last checkpoint.
    func checkpoint(of id: String) throws(JobStoreError) -> StoredCheckpoint?
    /// Ends a running job (status terminal, with its result or error, and the id its terminal
    /// event takes) and drops its checkpoint.
    func finish(_ id: String, status: JobStatus, result: JobResult?, error: String?, lastEventID: Int) throws(JobStoreError)
    /// Asks a job to stop: a queued job is cancelled at once, a running one is flagged.
    func requestCancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord
    /// Whether a cancel was requested for a running job.
    func isCancelRequested(_ id: String) -> Bool
    /// Whether this process still holds the running job `id`: a shared store's lease can be
    /// lost (taken over, or not renewed for its length, on this process's own clock), and then
    /// the run must stop without writing anything for the job — its next holder continues it.
    func holdsLease(_ id: String) -> Bool
    /// This process lets go of a job whose lease it lost, writing nothing.
    func abandon(_ id: String)
    /// Forgets a finished job.
    func delete(_ id: String, owner: String) throws(JobStoreError)
    /// A running job handed back cleanly (its worker suspended it, checkpoint saved, because
    /// the service is stopping): queued again in its original place, its claim not counted as
    /// an attempt.
    func release(_ id: String) throws(JobStoreError)
    /// A running job whose worker stopped without ending it (a trap, its memory or CPU limit, a
    /// kill): queued again in its original place, to continue from its checkpoint — or, once
    /// `maxAttempts` claims have ended so, failed ("the job stopped its worker N times:
    /// `reason`"), so that a job that kills its worker is never retried forever. Returns the
    /// job as it now is.
    func recordStop(_ id: String, reason: String, maxAttempts: Int) throws(JobStoreError) -> JobRecord
    /// After a restart: jobs left `running` by the last process go back to `queued` in their
    /// original order (a cancel asked of one ends it `cancelled`); one that has now been
    /// running at `maxAttempts` stops (crashes included) is failed instead. Returns the
    /// requeued jobs.
    func recoverInterrupted(maxAttempts: Int) throws(JobStoreError) -> [JobRecord]
    /// Removes jobs finished before `date` with everything stored for them; returns their ids.
    func removeFinished(before date: Date) throws(JobStoreError) -> [String]
    /// Number of queued jobs.
    func queuedCount() -> Int
    /// Queued jobs by owner (owners with none left out): what the default scheduling and quota
    /// questions below are answered from, for a store that keeps its counts in memory.
    func queuedByOwner() -> [String: Int]
    /// The first owner after `owner` (in string order; from the first when nil) with queued
    /// jobs, or nil: how the scheduler serves owners in turn before every claim, one index
    /// probe for a store whose counts are not in memory, however long the queue.
    func nextQueuedOwner(after owner: String?) -> String?
    /// Queued jobs (of `owner`, when given), counted up to `limit`: the queue's capacity and a
    /// key's quota, checked at submission, ask only whether the limit is reached.
    func queuedCount(owner: String?, upTo limit: Int) -> Int
    /// Jobs by status over every owner, and the running jobs' summed steps per second (metrics).
    func statistics() -> (counts: [JobStatus: Int], runningStepsPerSecond: Double)
    /// Bytes the store occupies on disk (nil when it keeps nothing on disk).
    func sizeInBytes() -> Int?
    /// Why the store cannot take writes now (nil when it can); `/readyz` fails while set.
    func unavailability() -> String?
    /// Whether other processes share this store, so a job may run in another one; its events
    /// are then read through ``sharedEvents(of:after:)``.
    var sharesEvents: Bool { get }
    /// Makes the events of a job this process claimed readable by other processes.
    func share(_ log: JobEventLog, of id: String)
    /// Events of a job shared by the process running it, after `id`, oldest first (empty
    /// when the store shares none or cannot be read now).
    func sharedEvents(of id: String, after: Int) -> [JobEvent]
}

extension JobStore {
    /// A store only this process uses: every claim is held until the job's end (default).
    public func holdsLease(_ id: String) -> Bool { true }

    /// Nothing to let go of (default).
    public func abandon(_ id: String) {}

    /// From ``queuedByOwner()`` (default: a store that keeps the counts in memory).
    public func nextQueuedOwner(after owner: String?) -> String? {
        queuedByOwner().keys.filter { queued in owner.map { queued > $0 } ?? true }.min()
    }

    /// From ``queuedCount()`` and ``queuedByOwner()`` (default).
    public func queuedCount(owner: String?, upTo limit: Int) -> Int {
        min(owner.map { queuedByOwner()[$0, default: 0] } ?? queuedCount(), limit)
    }

    /// Every job runs in this process (default).
    public var sharesEvents: Bool { false }

    /// A store shared by several processes makes a running job's events readable by the
    /// others: `log` is the log of a job this process has claimed (default: nothing shared).
    public func share(_ log: JobEventLog, of id: String) {}

    /// Nothing is shared (default).
    public func sharedEvents(of id: String, after: Int) -> [JobEvent] { [] }

    /// Jobs of `owner`, newest first, optionally of one status, after the page token.
    public func list(owner: String, status: JobStatus?, pageSize: Int, after token: String?) throws(JobStoreError) -> (jobs: [JobRecord], next: String?) {
        try list(owner: owner, status: status, tag: nil, pageSize: pageSize, after: token)
    }

    /// Moves the oldest queued job to `running` and returns it with its spec.
    public func claimNext() throws(JobStoreError) -> JobRecord? {
        try claimNext(owner: nil)
    }

    /// ``recoverInterrupted(maxAttempts:)`` with the service's limit of three.
    public func recoverInterrupted() throws(JobStoreError) -> [JobRecord] {
        try recoverInterrupted(maxAttempts: JobStops.maxAttempts)
    }
}

/// How jobs that stop their workers are quarantined.
public enum JobStops {
    /// Worker stops (crashes of the service while the job ran included) after which a job is
    /// failed rather than run again.
    public static let maxAttempts = 3

    /// The error of a quarantined job.
    static func quarantine(attempts: Int, _ reason: String) -> String {
        "the job stopped its worker \(attempts) times: \(reason)"
    }

    /// Why a job running when the last process ended is charged an attempt.
    static let interrupted = "the service stopped while the job was running"
}

/// The store kept in memory (tests, and `serve` without a data directory): every operation
/// under one lock; jobs in creation order. Nothing survives the process.
public final class MemoryJobStore: JobStore, Sendable {
    private struct Tables {
        var jobs: [String: JobRecord] = [:]
        var order: [String] = []
        var checkpoints: [String: StoredCheckpoint] = [:]
        var idempotency: [String: (digest: String, job: String)] = [:]

        mutating func forget(_ id: String) {
            jobs[id] = nil; checkpoints[id] = nil; order.removeAll { $0 == id }
            idempotency = idempotency.filter { $0.value.job != id }
        }
    }

    private let tables = Locked(Tables())

    public init() {}

    public func create(_ job: JobRecord, idempotency key: IdempotencyRecord?) throws(JobStoreError) {
        try tables.withLock { (t) throws(JobStoreError) in
            guard t.jobs[job.id] == nil else { throw .conflict("job \(job.id) exists") }
            if let key {
                let slot = "\(job.owner)\u{0}\(key.key)"
                guard t.idempotency[slot] == nil else { throw .conflict("idempotency key \(key.key) is taken") }
                t.idempotency[slot] = (key.requestDigest, job.id)
            }
            t.jobs[job.id] = job; t.order.append(job.id)
        }
    }

    public func idempotentJob(owner: String, key: String) throws(JobStoreError) -> (requestDigest: String, job: JobRecord)? {
        try tables.withLock { (t) throws(JobStoreError) in
            guard let entry = t.idempotency["\(owner)\u{0}\(key)"], let job = t.jobs[entry.job] else { return nil }
            return (entry.digest, job)
        }
    }

    public func get(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        try tables.withLock { (t) throws(JobStoreError) in
            guard let j = t.jobs[id], j.owner == owner else { throw .notFound }
            return j
        }
    }

    public func result(_ id: String, owner: String) throws(JobStoreError) -> JobResult? {
        try get(id, owner: owner).result
    }

    public func list(owner: String, status: JobStatus?, tag: String?, pageSize: Int, after token: String?) throws(JobStoreError) -> (jobs: [JobRecord], next: String?) {
        try tables.withLock { (t) throws(JobStoreError) in
            var ids = t.order.reversed().filter {
                t.jobs[$0]!.owner == owner && (status == nil || t.jobs[$0]!.status == status) && (tag == nil || t.jobs[$0]!.tags.contains(tag!))
            }
            if let token {
                guard let i = ids.firstIndex(of: token) else { return ([], nil) }
                ids = Array(ids[(i + 1)...])
            }
            let page = Array(ids.prefix(max(pageSize, 1)))
            return (page.map { t.jobs[$0]! }, ids.count > page.count ? page.last : nil)
        }
    }

    public func spec(_ id: String, owner: String) throws(JobStoreError) -> [UInt8] {
        try get(id, owner: owner).spec
    }

    public func claimNext(owner: String?) throws(JobStoreError) -> JobRecord? {
        try tables.withLock { (t) throws(JobStoreError) in
            guard let id = t.order.first(where: { t.jobs[$0]!.status == .queued && (owner == nil || t.jobs[$0]!.owner == owner) }) else { return nil }
            t.jobs[id]!.status = .running
            t.jobs[id]!.startedAt = t.jobs[id]!.startedAt ?? Date()
            t.jobs[id]!.attempts += 1
            return t.jobs[id]!
        }
    }

    public func updateProgress(_ id: String, _ progress: JobProgress) throws(JobStoreError) {
        try tables.withLock { (t) throws(JobStoreError) in
            guard t.jobs[id] != nil else { throw .notFound }
            t.jobs[id]!.progress = progress
        }
    }

    public func saveCheckpoint(_ id: String, _ checkpoint: StoredCheckpoint) throws(JobStoreError) {
        try tables.withLock { (t) throws(JobStoreError) in
            guard t.jobs[id]?.status == .running else { throw .conflict("job \(id) is not running") }
            t.checkpoints[id] = checkpoint
            t.jobs[id]!.lastEventID = checkpoint.lastEventID
        }
    }

    public func checkpoint(of id: String) throws(JobStoreError) -> StoredCheckpoint? {
        try tables.withLock { (t) throws(JobStoreError) in t.checkpoints[id] }
    }

    public func finish(_ id: String, status: JobStatus, result: JobResult?, error: String?, lastEventID: Int) throws(JobStoreError) {
        try tables.withLock { (t) throws(JobStoreError) in
            guard t.jobs[id] != nil else { throw .notFound }
            t.jobs[id]!.status = status; t.jobs[id]!.result = result; t.jobs[id]!.error = error; t.jobs[id]!.finishedAt = Date()
            t.jobs[id]!.lastEventID = lastEventID
            t.checkpoints[id] = nil
        }
    }

    public func requestCancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        try tables.withLock { (t) throws(JobStoreError) in
            guard var j = t.jobs[id], j.owner == owner else { throw .notFound }
            switch j.status {
            case .queued: j.status = .cancelled; j.finishedAt = Date()
            case .running: j.cancelRequested = true
            default: break
            }
            t.jobs[id] = j
            return j
        }
    }

    public func isCancelRequested(_ id: String) -> Bool {
        tables.withLock { t in t.jobs[id]?.cancelRequested ?? false }
    }

    public func delete(_ id: String, owner: String) throws(JobStoreError) {
        try tables.withLock { (t) throws(JobStoreError) in
            guard let j = t.jobs[id], j.owner == owner else { throw .notFound }
            guard j.status.isTerminal else { throw .conflict("job \(id) is \(j.status.rawValue); cancel it first") }
            t.forget(id)
        }
    }

    public func release(_ id: String) throws(JobStoreError) {
        try tables.withLock { (t) throws(JobStoreError) in
            guard t.jobs[id]?.status == .running else { throw .conflict("job \(id) is not running") }
            t.jobs[id]!.status = .queued
            t.jobs[id]!.attempts = max(0, t.jobs[id]!.attempts - 1)
        }
    }

    public func recordStop(_ id: String, reason: String, maxAttempts: Int) throws(JobStoreError) -> JobRecord {
        try tables.withLock { (t) throws(JobStoreError) in
            guard var job = t.jobs[id], job.status == .running else { throw .conflict("job \(id) is not running") }
            if job.attempts >= maxAttempts {
                job.status = .failed; job.error = JobStops.quarantine(attempts: job.attempts, reason); job.finishedAt = Date()
                t.checkpoints[id] = nil
            } else {
                job.status = .queued
            }
            t.jobs[id] = job
            return job
        }
    }

    public func recoverInterrupted(maxAttempts: Int) throws(JobStoreError) -> [JobRecord] { [] }

    public func removeFinished(before date: Date) throws(JobStoreError) -> [String] {
        try tables.withLock { (t) throws(JobStoreError) in
            let old = t.order.filter { t.jobs[$0]!.status.isTerminal && (t.jobs[$0]!.finishedAt ?? .distantFuture) < date }
            old.forEach { t.forget($0) }
            return old
        }
    }

    public func queuedCount() -> Int {
        tables.withLock { t in t.jobs.values.filter { $0.status == .queued }.count }
    }

    public func queuedByOwner() -> [String: Int] {
        tables.withLock { t in t.jobs.values.filter { $0.status == .queued }.reduce(into: [:]) { $0[$1.owner, default: 0] += 1 } }
    }

    public func statistics() -> (counts: [JobStatus: Int], runningStepsPerSecond: Double) {
        tables.withLock { t in JobStatistics.of(t.jobs.values) }
    }

    public func sizeInBytes() -> Int? { nil }

    public func unavailability() -> String? { nil }
}

/// The store the service runs on when its durable store cannot be opened (corrupt file,
/// unwritable directory): every operation fails with the reason, so submissions get `503`
/// and `/readyz` fails, while `/healthz` and the rest of the server keep answering.
public struct UnavailableJobStore: JobStore {
    public let reason: String
    public init(reason: String) { self.reason = reason }
    public func create(_ job: JobRecord, idempotency: IdempotencyRecord?) throws(JobStoreError) { throw .unavailable(reason) }
    public func idempotentJob(owner: String, key: String) throws(JobStoreError) -> (requestDigest: String, job: JobRecord)? { throw .unavailable(reason) }
    public func get(_ id: String, owner: String) throws(JobStoreError) -> JobRecord { throw .unavailable(reason) }
    public func result(_ id: String, owner: String) throws(JobStoreError) -> JobResult? { throw .unavailable(reason) }
    public func list(owner: String, status: JobStatus?, tag: String?, pageSize: Int, after token: String?) throws(JobStoreError) -> (jobs: [JobRecord], next: String?) { throw .unavailable(reason) }
    public func spec(_ id: String, owner: String) throws(JobStoreError) -> [UInt8] { throw .unavailable(reason) }
    public func claimNext(owner: String?) throws(JobStoreError) -> JobRecord? { nil }
    public func updateProgress(_ id: String, _ progress: JobProgress) throws(JobStoreError) { throw .unavailable(reason) }
    public func saveCheckpoint(_ id: String, _ checkpoint: StoredCheckpoint) throws(JobStoreError) { throw .unavailable(reason) }
    public func checkpoint(of id: String) throws(JobStoreError) -> StoredCheckpoint? { throw .unavailable(reason) }
    public func finish(_ id: String, status: JobStatus, result: JobResult?, error: String?, lastEventID: Int) throws(JobStoreError) { throw .unavailable(reason) }
    public func requestCancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord { throw .unavailable(reason) }
    public func isCancelRequested(_ id: String) -> Bool { false }
    public func delete(_ id: String, owner: String) throws(JobStoreError) { throw .unavailable(reason) }
    public func release(_ id: String) throws(JobStoreError) { throw .unavailable(reason) }
    public func recordStop(_ id: String, reason: String, maxAttempts: Int) throws(JobStoreError) -> JobRecord { throw .unavailable(self.reason) }
    public func recoverInterrupted(maxAttempts: Int) throws(JobStoreError) -> [JobRecord] { [] }
    public func removeFinished(before date: Date) throws(JobStoreError) -> [String] { [] }
    public func queuedCount() -> Int { 0 }
    public func queuedByOwner() -> [String: Int] { [:] }
    public func statistics() -> (counts: [JobStatus: Int], runningStepsPerSecond: Double) { ([:], 0) }
    public func sizeInBytes() -> Int? { nil }
    public func unavailability() -> String? { reason }
}

/// The statistics both stores report, computed from job records.
enum JobStatistics {
    static func of(_ jobs: some Sequence<JobRecord>) -> (counts: [JobStatus: Int], runningStepsPerSecond: Double) {
        var counts: [JobStatus: Int] = [:], rate = 0.0
        for j in jobs {
            counts[j.status, default: 0] += 1
            if j.status == .running { rate += j.progress.stepsPerSecond ?? 0 }
        }
        return (counts, rate)
    }
}
