import Foundation
import ModelSpec

/// Why a store refused an operation.
public enum JobStoreError: Error, Equatable, Sendable {
    /// No job with that id for that owner (another owner's job is reported the same way).
    case notFound
    /// The store cannot be written (the service answers 503 and `/readyz` fails).
    case unavailable(String)
    /// The operation does not fit the job's state (e.g. deleting a running job).
    case conflict(String)
}

/// Where jobs live: shaped for more than one process (architecture.md) — a worker *claims*
/// a queued job, records progress and the result under that claim, and a later
/// implementation (SQLite, PostgreSQL) maps these verbs onto leases. Implementations are
/// thread-safe.
public protocol JobStore: Sendable {
    /// Stores a new queued job.
    func create(_ job: JobRecord) throws(JobStoreError)
    /// The job with `id` if `owner` may see it.
    func get(_ id: String, owner: String) throws(JobStoreError) -> JobRecord
    /// Jobs of `owner`, newest first, optionally of one status, after the page token.
    func list(owner: String, status: JobStatus?, pageSize: Int, after token: String?) throws(JobStoreError) -> (jobs: [JobRecord], next: String?)
    /// Moves the oldest queued job to `running` and returns it (nil when none is queued).
    func claimNext() throws(JobStoreError) -> JobRecord?
    /// Records progress of a running job.
    func updateProgress(_ id: String, _ progress: JobProgress) throws(JobStoreError)
    /// Ends a job (status terminal, with its result or error).
    func finish(_ id: String, status: JobStatus, result: JobResult?, error: String?) throws(JobStoreError)
    /// Asks a job to stop: a queued job is cancelled at once, a running one is flagged.
    func requestCancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord
    /// Whether a cancel was requested for a running job.
    func isCancelRequested(_ id: String) -> Bool
    /// Forgets a finished job.
    func delete(_ id: String, owner: String) throws(JobStoreError)
    /// Number of queued jobs.
    func queuedCount() -> Int
    /// Jobs by status over every owner, and the running jobs' summed steps per second (metrics).
    func statistics() -> (counts: [JobStatus: Int], runningStepsPerSecond: Double)
}

/// The store kept in memory (tests, and the service until the durable store lands): every
/// operation under one lock; jobs in creation order.
public final class MemoryJobStore: JobStore, @unchecked Sendable {
    // @unchecked: every stored property is read and written only while `lock` is held.
    private let lock = NSLock()
    private var jobs: [String: JobRecord] = [:]
    private var order: [String] = []

    public init() {}

    private func locked<T>(_ body: () throws(JobStoreError) -> T) throws(JobStoreError) -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }

    public func create(_ job: JobRecord) throws(JobStoreError) {
        try locked { () throws(JobStoreError) in
            guard jobs[job.id] == nil else { throw .conflict("job \(job.id) exists") }
            jobs[job.id] = job; order.append(job.id)
        }
    }

    public func get(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        try locked { () throws(JobStoreError) in
            guard let j = jobs[id], j.owner == owner else { throw .notFound }
            return j
        }
    }

    public func list(owner: String, status: JobStatus?, pageSize: Int, after token: String?) throws(JobStoreError) -> (jobs: [JobRecord], next: String?) {
        try locked { () throws(JobStoreError) in
            var ids = order.reversed().filter { jobs[$0]!.owner == owner && (status == nil || jobs[$0]!.status == status) }
            if let token {
                guard let i = ids.firstIndex(of: token) else { return ([], nil) }
                ids = Array(ids[(i + 1)...])
            }
            let page = Array(ids.prefix(max(pageSize, 1)))
            return (page.map { jobs[$0]! }, ids.count > page.count ? page.last : nil)
        }
    }

    public func claimNext() throws(JobStoreError) -> JobRecord? {
        try locked { () throws(JobStoreError) in
            guard let id = order.first(where: { jobs[$0]!.status == .queued }) else { return nil }
            jobs[id]!.status = .running
            jobs[id]!.startedAt = Date()
            return jobs[id]!
        }
    }

    public func updateProgress(_ id: String, _ progress: JobProgress) throws(JobStoreError) {
        try locked { () throws(JobStoreError) in
            guard jobs[id] != nil else { throw .notFound }
            jobs[id]!.progress = progress
        }
    }

    public func finish(_ id: String, status: JobStatus, result: JobResult?, error: String?) throws(JobStoreError) {
        try locked { () throws(JobStoreError) in
            guard jobs[id] != nil else { throw .notFound }
            jobs[id]!.status = status; jobs[id]!.result = result; jobs[id]!.error = error; jobs[id]!.finishedAt = Date()
        }
    }

    public func requestCancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        try locked { () throws(JobStoreError) in
            guard var j = jobs[id], j.owner == owner else { throw .notFound }
            switch j.status {
            case .queued: j.status = .cancelled; j.finishedAt = Date()
            case .running: j.cancelRequested = true
            default: break
            }
            jobs[id] = j
            return j
        }
    }

    public func isCancelRequested(_ id: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return jobs[id]?.cancelRequested ?? false
    }

    public func delete(_ id: String, owner: String) throws(JobStoreError) {
        try locked { () throws(JobStoreError) in
            guard let j = jobs[id], j.owner == owner else { throw .notFound }
            guard j.status.isTerminal else { throw .conflict("job \(id) is \(j.status.rawValue); cancel it first") }
            jobs[id] = nil; order.removeAll { $0 == id }
        }
    }

    public func queuedCount() -> Int {
        lock.lock(); defer { lock.unlock() }
        return jobs.values.filter { $0.status == .queued }.count
    }

    public func statistics() -> (counts: [JobStatus: Int], runningStepsPerSecond: Double) {
        lock.lock(); defer { lock.unlock() }
        var counts: [JobStatus: Int] = [:], rate = 0.0
        for j in jobs.values {
            counts[j.status, default: 0] += 1
            if j.status == .running, let started = j.startedAt {
                rate += Double(j.progress.step) / max(Date().timeIntervalSince(started), 1e-3)
            }
        }
        return (counts, rate)
    }
}
