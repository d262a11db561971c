import Foundation
import GRDB
import HTTPServer
import ModelSpec

/// Settings of the durable store.
public struct SQLiteJobStoreConfiguration: Sendable {
    /// The database file (created with its directory when missing).
    public var path: String
    /// The most bytes the store's files may take (nil: as much as the disk allows). Nine
    /// tenths go to the database itself, whose writes past them fail as a full disk would;
    /// the write-ahead log is checkpointed whenever it reaches the last tenth and truncated back
    /// to it (a single transaction larger than that — one large spec — grows it until the
    /// next checkpoint). The `-shm` index (32 KiB) is not counted.
    public var maxBytes: Int?

    public init(path: String, maxBytes: Int? = nil) { self.path = path; self.maxBytes = maxBytes }

    /// `sviserve.sqlite` in `directory`.
    public static func inDirectory(_ directory: String, maxBytes: Int? = nil) -> Self {
        Self(path: (directory as NSString).appendingPathComponent("sviserve.sqlite"), maxBytes: maxBytes)
    }
}

/// The durable job store: one SQLite database in WAL mode (GRDB's pool: one writer, concurrent
/// readers) holding jobs, specs, status transitions, results, idempotency keys and checkpoints,
/// with versioned migrations. Commits that acknowledge a job or record a result are made with
/// `synchronous=FULL` (they survive power loss); checkpoints with `NORMAL` (they survive a
/// process crash). A write-through cache of every job's record without its spec and result
/// answers status reads and cancellation checks without touching the database; this process
/// is the database's only writer.
public final class SQLiteJobStore: JobStore, @unchecked Sendable {
    // @unchecked: `synchronousFull` is read and written only on GRDB's serialised writer;
    // what else changes is in `cache`, whose updates happen on that writer after the commit,
    // so the cache follows the database's commit order.
    private let pool: DatabasePool
    public let configuration: SQLiteJobStoreConfiguration
    private let cache = Locked(Cache())
    private var synchronousFull = true

    /// Every job's record without its spec and result, the counts derived from them, and the
    /// last write's failure: what readers get without touching the database.
    private struct Cache {
        var jobs: [String: JobRecord] = [:]
        var counts: [JobStatus: Int] = [:]
        /// Queued jobs by owner.
        var queued: [String: Int] = [:]
        var writeFailure: String?

        mutating func replace(_ job: JobRecord) {
            if let old = jobs[job.id] { count(old, -1) }
            jobs[job.id] = job
            count(job, 1)
        }

        mutating func remove(_ id: String) {
            if let old = jobs.removeValue(forKey: id) { count(old, -1) }
        }

        /// Adds `job` to (or with -1, takes it from) the counts by status and queued by owner.
        private mutating func count(_ job: JobRecord, _ delta: Int) {
            counts[job.status, default: 0] += delta
            if job.status == .queued {
                queued[job.owner, default: 0] += delta
                if queued[job.owner] == 0 { queued[job.owner] = nil }
            }
        }
    }

    /// Opens (creating, migrating) the database; throws `.unavailable` with the reason when
    /// the file cannot be opened, is not a database, or cannot be migrated.
    public init(_ configuration: SQLiteJobStoreConfiguration) throws(JobStoreError) {
        self.configuration = configuration
        var config = Configuration()
        config.busyMode = .timeout(5)
        let maxBytes = configuration.maxBytes
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            if let maxBytes {
                let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                let wal = maxBytes / 10
                try db.execute(sql: "PRAGMA max_page_count = \(max((maxBytes - wal) / pageSize, 16))")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(max(wal / pageSize, 8))")
                try db.execute(sql: "PRAGMA journal_size_limit = \(wal)")
            }
        }
        let directory = (configuration.path as NSString).deletingLastPathComponent
        // SQLite reads a 0-byte file as an empty database and would start over on it: a store
        // that existed has been truncated (or this is not the store), so nothing is opened.
        if let size = (try? FileManager.default.attributesOfItem(atPath: configuration.path))?[.size] as? Int, size == 0 {
            throw .unavailable("the job store at \(configuration.path) is an empty file (0 bytes): it was truncated, or is not this service's database, and opening it would start an empty store over it; move it aside (or remove it) to start a new store")
        }
        do {
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        } catch {
            let posix = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError).map { String(cString: strerror(Int32($0.code))) }
            throw .unavailable("the data directory \(directory) cannot be created: \(posix ?? error.localizedDescription)")
        }
        do {
            pool = try DatabasePool(path: configuration.path, configuration: config)
            try Self.migrator.migrate(pool)
            try pool.read { db in
                for row in try Row.fetchAll(db, sql: "SELECT \(Self.summaryColumns) FROM jobs ORDER BY seq") {
                    let job = try Self.record(row)
                    cache.withLock { $0.replace(job) }
                }
            }
        } catch {
            throw .unavailable("the job store at \(configuration.path) cannot be opened: \(Self.describe(error))")
        }
    }

    // MARK: Schema

    /// Versioned from the first release; a new version appends a migration, never edits one.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    owner TEXT NOT NULL,
                    name TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    started_at REAL,
                    finished_at REAL,
                    progress TEXT NOT NULL,
                    spec_digest TEXT NOT NULL,
                    spec BLOB NOT NULL,
                    error TEXT,
                    cancel_requested INTEGER NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    last_event_id INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX jobs_by_owner ON jobs(owner, seq);
                CREATE INDEX jobs_by_status ON jobs(status, seq);
                CREATE TABLE results (
                    job_id TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
                    result BLOB NOT NULL
                );
                CREATE TABLE checkpoints (
                    job_id TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
                    step INTEGER NOT NULL,
                    saved_at REAL NOT NULL,
                    state BLOB NOT NULL
                );
                CREATE TABLE transitions (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    status TEXT NOT NULL,
                    at REAL NOT NULL,
                    step INTEGER NOT NULL,
                    attempt INTEGER NOT NULL
                );
                CREATE INDEX transitions_by_job ON transitions(job_id, seq);
                CREATE TABLE idempotency_keys (
                    owner TEXT NOT NULL,
                    key TEXT NOT NULL,
                    request_digest TEXT NOT NULL,
                    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    PRIMARY KEY (owner, key)
                );
                CREATE TABLE probe (bytes BLOB);
                """)
        }
        m.registerMigration("v2") { db in
            // Tags as one string, each tag between unit separators ("\u{1F}a\u{1F}b\u{1F}"), so a
            // filter is an exact substring match (tags cannot hold the separator).
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN tags TEXT NOT NULL DEFAULT ''")
        }
        return m
    }

    static let summaryColumns = "id, owner, name, status, created_at, started_at, finished_at, progress, spec_digest, error, cancel_requested, last_event_id, tags, attempts"

    /// Tags as stored: each between unit separators.
    static func tagText(_ tags: [String]) -> String { tags.isEmpty ? "" : "\u{1F}" + tags.joined(separator: "\u{1F}") + "\u{1F}" }

    static func record(_ row: Row, spec: [UInt8] = []) throws -> JobRecord {
        let created: Double = row["created_at"]
        let progressText: String = row["progress"]
        let progress = try Representations.decode(JobProgress.self, progressText.utf8)
        var job = JobRecord(id: row["id"], name: row["name"], owner: row["owner"], createdAt: Date(timeIntervalSince1970: created),
                            steps: progress.steps, specDigest: row["spec_digest"], spec: spec)
        job.status = JobStatus(rawValue: row["status"]) ?? .failed
        job.startedAt = (row["started_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        job.finishedAt = (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        job.progress = progress
        job.error = row["error"]
        job.cancelRequested = row["cancel_requested"] as Bool
        job.lastEventID = row["last_event_id"]
        job.attempts = row["attempts"]
        job.tags = (row["tags"] as String).split(separator: "\u{1F}").map(String.init)
        return job
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_FULL: return "the disk or the store's size limit is full (\(e.message ?? "SQLITE_FULL"))"
            case .SQLITE_READONLY: return "the data directory is read-only (\(e.message ?? "SQLITE_READONLY"))"
            case .SQLITE_NOTADB, .SQLITE_CORRUPT: return "the database file is corrupt (\(e.message ?? "\(e.resultCode)"))"
            default: return e.message ?? "\(e.resultCode)"
            }
        }
        return "\(error)"
    }

    // MARK: Writes

    /// Runs `statements` in one transaction on the writer, then `thenCache` on the locked
    /// cache; a failure is remembered for `/readyz` and reported as `.unavailable`.
    private func write<T>(durable: Bool, _ statements: (Database) throws -> T, thenCache: (inout Cache, T) -> Void = { _, _ in }) throws(JobStoreError) -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                if durable != synchronousFull {
                    try db.execute(sql: "PRAGMA synchronous = \(durable ? "FULL" : "NORMAL")")
                    synchronousFull = durable
                }
                var value: T?
                try db.inTransaction(.immediate) {
                    value = try statements(db)
                    return .commit
                }
                cache.withLock { c in
                    c.writeFailure = nil
                    thenCache(&c, value!)
                }
                return value!
            }
        } catch let e as JobStoreError {
            throw e
        } catch {
            let reason = Self.describe(error)
            cache.withLock { $0.writeFailure = reason }
            throw .unavailable("the job store cannot be written: \(reason)")
        }
    }

    private func cached(_ id: String) -> JobRecord? {
        cache.withLock { $0.jobs[id] }
    }

    private static func transition(_ db: Database, _ job: JobRecord, attempt: Int? = nil) throws {
        try db.execute(sql: """
            INSERT INTO transitions (job_id, status, at, step, attempt)
            VALUES (?, ?, ?, ?, COALESCE(?, (SELECT attempts FROM jobs WHERE id = ?)))
            """, arguments: [job.id, job.status.rawValue, Date().timeIntervalSince1970, job.progress.step, attempt, job.id])
    }

    public func create(_ job: JobRecord, idempotency: IdempotencyRecord?) throws(JobStoreError) {
        if let shortage = spaceShortage(for: job.spec.count) { throw .unavailable(shortage) }
        var summary = job
        summary.spec = []
        summary.result = nil
        try write(durable: true, { db in
            if let key = idempotency,
               try Bool.fetchOne(db, sql: "SELECT 1 FROM idempotency_keys WHERE owner = ? AND key = ?", arguments: [job.owner, key.key]) == true {
                throw JobStoreError.conflict("idempotency key \(key.key) is taken")
            }
            try db.execute(sql: """
                INSERT INTO jobs (id, owner, name, status, created_at, progress, spec_digest, spec, tags)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [job.id, job.owner, job.name, job.status.rawValue, job.createdAt.timeIntervalSince1970,
                                 Representations.jsonText(job.progress), job.specDigest, Data(job.spec), Self.tagText(job.tags)])
            if let key = idempotency {
                try db.execute(sql: "INSERT INTO idempotency_keys (owner, key, request_digest, job_id) VALUES (?, ?, ?, ?)",
                               arguments: [job.owner, key.key, key.requestDigest, job.id])
            }
            try Self.transition(db, job, attempt: 0)
        }, thenCache: { c, _ in c.replace(summary) })
    }

    public func idempotentJob(owner: String, key: String) throws(JobStoreError) -> (requestDigest: String, job: JobRecord)? {
        let row: Row?
        do {
            row = try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT request_digest, job_id FROM idempotency_keys WHERE owner = ? AND key = ?", arguments: [owner, key])
            }
        } catch { throw .unavailable("the job store cannot be read: \(Self.describe(error))") }
        guard let row, let job = cached(row["job_id"]) else { return nil }
        return (row["request_digest"], job)
    }

    public func get(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        guard let job = cached(id), job.owner == owner else { throw .notFound }
        return job
    }

    public func result(_ id: String, owner: String) throws(JobStoreError) -> JobResult? {
        guard let job = cached(id), job.owner == owner else { throw .notFound }
        guard job.status == .succeeded else { return nil }
        do {
            guard let data = try pool.read({ db in try Data.fetchOne(db, sql: "SELECT result FROM results WHERE job_id = ?", arguments: [id]) }) else { return nil }
            return try Representations.decode(JobResult.self, data)
        } catch { throw .unavailable("the job store cannot be read: \(Self.describe(error))") }
    }

    public func spec(_ id: String, owner: String) throws(JobStoreError) -> [UInt8] {
        guard let job = cached(id), job.owner == owner else { throw .notFound }
        do {
            guard let data = try pool.read({ db in try Data.fetchOne(db, sql: "SELECT spec FROM jobs WHERE id = ?", arguments: [id]) }) else { throw JobStoreError.notFound }
            return [UInt8](data)
        } catch let e as JobStoreError { throw e } catch { throw .unavailable("the job store cannot be read: \(Self.describe(error))") }
    }

    public func list(owner: String, status: JobStatus?, tag: String?, pageSize: Int, after token: String?) throws(JobStoreError) -> (jobs: [JobRecord], next: String?) {
        let size = max(pageSize, 1)
        let ids: [String]
        do {
            ids = try pool.read { db in
                var sql = "SELECT id FROM jobs WHERE owner = ?"
                var arguments: StatementArguments = [owner]
                if let status { sql += " AND status = ?"; arguments += [status.rawValue] }
                if let tag { sql += " AND instr(tags, ?) > 0"; arguments += [Self.tagText([tag])] }
                if let token {
                    sql += " AND seq < (SELECT seq FROM jobs WHERE id = ? AND owner = ?)"
                    arguments += [token, owner]
                }
                sql += " ORDER BY seq DESC LIMIT ?"
                arguments += [size + 1]
                return try String.fetchAll(db, sql: sql, arguments: arguments)
            }
        } catch { throw .unavailable("the job store cannot be read: \(Self.describe(error))") }
        let page = cache.withLock { c in ids.prefix(size).compactMap { c.jobs[$0] } }
        return (page, ids.count > size ? page.last?.id : nil)
    }

    public func claimNext(owner: String?) throws(JobStoreError) -> JobRecord? {
        // Idle workers poll: with nothing queued there is no need to take the write lock.
        guard queuedCount() > 0 else { return nil }
        return try write(durable: true, { db -> JobRecord? in
            let row = try owner.map {
                try Row.fetchOne(db, sql: "SELECT \(Self.summaryColumns), spec FROM jobs WHERE status = 'queued' AND owner = ? ORDER BY seq LIMIT 1", arguments: [$0])
            } ?? Row.fetchOne(db, sql: "SELECT \(Self.summaryColumns), spec FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1")
            guard let row else { return nil }
            var job = try Self.record(row, spec: [UInt8](row["spec"] as Data))
            job.status = .running
            job.startedAt = job.startedAt ?? Date()
            job.attempts += 1
            try db.execute(sql: "UPDATE jobs SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ?",
                           arguments: [job.startedAt!.timeIntervalSince1970, job.id])
            try Self.transition(db, job)
            return job
        }, thenCache: { c, job in
            if let job {
                var summary = job
                summary.spec = []
                summary.progress = c.jobs[job.id]?.progress ?? job.progress
                c.replace(summary)
            }
        })
    }

    public func updateProgress(_ id: String, _ progress: JobProgress) throws(JobStoreError) {
        let known = cache.withLock { c in
            c.jobs[id]?.progress = progress
            return c.jobs[id] != nil
        }
        guard known else { throw .notFound }
    }

    public func saveCheckpoint(_ id: String, _ checkpoint: StoredCheckpoint) throws(JobStoreError) {
        guard let job = cached(id) else { throw .notFound }
        let progress = Representations.jsonText(job.progress)
        try write(durable: false, { db in
            try db.execute(sql: "UPDATE jobs SET progress = ?, last_event_id = ? WHERE id = ? AND status = 'running'",
                           arguments: [progress, checkpoint.lastEventID, id])
            guard db.changesCount == 1 else { throw JobStoreError.conflict("job \(id) is not running") }
            try db.execute(sql: "INSERT OR REPLACE INTO checkpoints (job_id, step, saved_at, state) VALUES (?, ?, ?, ?)",
                           arguments: [id, checkpoint.step, Date().timeIntervalSince1970, Data(checkpoint.state)])
        }, thenCache: { c, _ in c.jobs[id]?.lastEventID = checkpoint.lastEventID })
    }

    public func checkpoint(of id: String) throws(JobStoreError) -> StoredCheckpoint? {
        do {
            return try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT c.step, c.state, j.last_event_id FROM checkpoints c JOIN jobs j ON j.id = c.job_id WHERE c.job_id = ?
                    """, arguments: [id]) else { return nil }
                return StoredCheckpoint(step: row["step"], state: [UInt8](row["state"] as Data), lastEventID: row["last_event_id"])
            }
        } catch { throw .unavailable("the job store cannot be read: \(Self.describe(error))") }
    }

    public func finish(_ id: String, status: JobStatus, result: JobResult?, error: String?, lastEventID: Int) throws(JobStoreError) {
        guard var job = cached(id) else { throw .notFound }
        job.status = status; job.error = error; job.finishedAt = Date(); job.lastEventID = lastEventID
        let finished = job
        try write(durable: true, { db in
            try db.execute(sql: """
                UPDATE jobs SET status = ?, error = ?, finished_at = ?, progress = ?, last_event_id = ? WHERE id = ? AND status = 'running'
                """, arguments: [status.rawValue, error, finished.finishedAt!.timeIntervalSince1970,
                                 Representations.jsonText(finished.progress), lastEventID, id])
            guard db.changesCount == 1 else { throw JobStoreError.conflict("job \(id) is not running") }
            if let result {
                try db.execute(sql: "INSERT OR REPLACE INTO results (job_id, result) VALUES (?, ?)", arguments: [id, Data(Representations.json(result))])
            }
            try db.execute(sql: "DELETE FROM checkpoints WHERE job_id = ?", arguments: [id])
            try Self.transition(db, finished)
        }, thenCache: { c, _ in c.replace(finished) })
    }

    public func requestCancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        guard let job = cached(id), job.owner == owner else { throw .notFound }
        return try write(durable: true, { db -> JobRecord in
            var j = job
            let status = try String.fetchOne(db, sql: "SELECT status FROM jobs WHERE id = ?", arguments: [id]).flatMap(JobStatus.init(rawValue:))
            switch status {
            case .queued?:
                j.status = .cancelled; j.finishedAt = Date()
                try db.execute(sql: "UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ?", arguments: [j.finishedAt!.timeIntervalSince1970, id])
                try Self.transition(db, j)
            case .running?:
                j.status = .running; j.cancelRequested = true
                try db.execute(sql: "UPDATE jobs SET cancel_requested = 1 WHERE id = ?", arguments: [id])
            case nil: throw JobStoreError.notFound
            case let s?: j.status = s
            }
            return j
        }, thenCache: { c, j in
            var current = c.jobs[id] ?? j
            current.status = j.status; current.finishedAt = j.finishedAt ?? current.finishedAt
            current.cancelRequested = current.cancelRequested || j.cancelRequested
            c.replace(current)
        })
    }

    public func isCancelRequested(_ id: String) -> Bool {
        cache.withLock { $0.jobs[id]?.cancelRequested ?? false }
    }

    public func delete(_ id: String, owner: String) throws(JobStoreError) {
        guard let job = cached(id), job.owner == owner else { throw .notFound }
        guard job.status.isTerminal else { throw .conflict("job \(id) is \(job.status.rawValue); cancel it first") }
        try write(durable: true, { db in
            try db.execute(sql: "DELETE FROM jobs WHERE id = ?", arguments: [id])
        }, thenCache: { c, _ in c.remove(id) })
    }

    public func release(_ id: String) throws(JobStoreError) {
        guard var job = cached(id) else { throw .notFound }
        job.status = .queued
        job.attempts = max(0, job.attempts - 1)
        let released = job
        try write(durable: true, { db in
            try db.execute(sql: "UPDATE jobs SET status = 'queued', attempts = MAX(attempts - 1, 0) WHERE id = ? AND status = 'running'", arguments: [id])
            guard db.changesCount == 1 else { throw JobStoreError.conflict("job \(id) is not running") }
            try Self.transition(db, released)
        }, thenCache: { c, _ in c.replace(released) })
    }

    public func recordStop(_ id: String, reason: String, maxAttempts: Int) throws(JobStoreError) -> JobRecord {
        guard var job = cached(id) else { throw .notFound }
        if job.attempts >= maxAttempts {
            job.status = .failed; job.error = JobStops.quarantine(attempts: job.attempts, reason); job.finishedAt = Date()
        } else {
            job.status = .queued
        }
        let stopped = job
        return try write(durable: true, { db -> JobRecord in
            if stopped.status == .failed {
                try db.execute(sql: "UPDATE jobs SET status = 'failed', error = ?, finished_at = ?, progress = ? WHERE id = ? AND status = 'running'",
                               arguments: [stopped.error, stopped.finishedAt!.timeIntervalSince1970, Representations.jsonText(stopped.progress), id])
            } else {
                try db.execute(sql: "UPDATE jobs SET status = 'queued' WHERE id = ? AND status = 'running'", arguments: [id])
            }
            guard db.changesCount == 1 else { throw JobStoreError.conflict("job \(id) is not running") }
            if stopped.status == .failed { try db.execute(sql: "DELETE FROM checkpoints WHERE job_id = ?", arguments: [id]) }
            try Self.transition(db, stopped)
            return stopped
        }, thenCache: { c, job in c.replace(job) })
    }

    public func recoverInterrupted(maxAttempts: Int) throws(JobStoreError) -> [JobRecord] {
        try write(durable: true, { db -> [JobRecord] in
            var ended: [JobRecord] = [], requeued: [JobRecord] = []
            for row in try Row.fetchAll(db, sql: "SELECT \(Self.summaryColumns) FROM jobs WHERE status = 'running' ORDER BY seq") {
                var job = try Self.record(row)
                if job.cancelRequested || job.attempts >= maxAttempts {
                    job.status = job.cancelRequested ? .cancelled : .failed
                    job.finishedAt = Date()
                    job.error = job.cancelRequested ? "cancelled while the service restarted" : JobStops.quarantine(attempts: job.attempts, JobStops.interrupted)
                    try db.execute(sql: "UPDATE jobs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                                   arguments: [job.status.rawValue, job.finishedAt!.timeIntervalSince1970, job.error, job.id])
                    try db.execute(sql: "DELETE FROM checkpoints WHERE job_id = ?", arguments: [job.id])
                    ended.append(job)
                } else {
                    job.status = .queued
                    try db.execute(sql: "UPDATE jobs SET status = 'queued' WHERE id = ?", arguments: [job.id])
                    requeued.append(job)
                }
                try Self.transition(db, job)
            }
            return ended + requeued
        }, thenCache: { c, jobs in
            for job in jobs {
                var cachedJob = c.jobs[job.id] ?? job
                cachedJob.status = job.status; cachedJob.error = job.error; cachedJob.finishedAt = job.finishedAt
                c.replace(cachedJob)
            }
        }).filter { $0.status == .queued }
    }

    public func removeFinished(before date: Date) throws(JobStoreError) -> [String] {
        try write(durable: false, { db -> [String] in
            let ids = try String.fetchAll(db, sql: """
                SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?
                """, arguments: [date.timeIntervalSince1970])
            for id in ids { try db.execute(sql: "DELETE FROM jobs WHERE id = ?", arguments: [id]) }
            return ids
        }, thenCache: { c, ids in ids.forEach { c.remove($0) } })
    }

    public func queuedCount() -> Int {
        cache.withLock { $0.counts[.queued] ?? 0 }
    }

    public func queuedByOwner() -> [String: Int] {
        cache.withLock { $0.queued }
    }

    public func statistics() -> (counts: [JobStatus: Int], runningStepsPerSecond: Double) {
        let (counts, running) = cache.withLock { c in (c.counts.filter { $0.value > 0 }, c.jobs.values.filter { $0.status == .running }) }
        return (counts, JobStatistics.of(running).runningStepsPerSecond)
    }

    public func sizeInBytes() -> Int? {
        ["", "-wal", "-shm"].reduce(0) { total, suffix in
            let size = (try? FileManager.default.attributesOfItem(atPath: configuration.path + suffix)[.size] as? Int) ?? nil
            return total + (size ?? 0)
        }
    }

    /// The bytes the store keeps free for the jobs it has accepted — their claims, checkpoints
    /// and results — by refusing new jobs below it: a twentieth of the size limit, between
    /// 64 KiB and 64 MiB (64 MiB of disk without a limit), and 16 KiB more for each job queued
    /// or running, whose result is still to be written.
    var reserveBytes: Int {
        let base = configuration.maxBytes.map { min(max($0 / 20, 64 << 10), 64 << 20) } ?? 64 << 20
        let unfinished = cache.withLock { ($0.counts[.queued] ?? 0) + ($0.counts[.running] ?? 0) }
        return base + (16 << 10) * unfinished
    }

    /// Bytes the database can still grow by: free pages inside it plus the pages the size limit
    /// (or the disk) still allows; nil when they cannot be read.
    func headroom() -> Int? {
        guard let pages = try? pool.read({ db -> (size: Int, count: Int, free: Int, max: Int)? in
            guard let size = try Int.fetchOne(db, sql: "PRAGMA page_size"), let count = try Int.fetchOne(db, sql: "PRAGMA page_count"),
                  let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count"), let max = try Int.fetchOne(db, sql: "PRAGMA max_page_count") else { return nil }
            return (size, count, free, max)
        }) else { return nil }
        let inside = pages.free * pages.size
        if configuration.maxBytes != nil {
            return inside + max(0, pages.max - pages.count) * pages.size
        }
        var disk = statvfs()
        guard statvfs(configuration.path, &disk) == 0 else { return nil }
        return inside + Int(disk.f_bavail) * Int(disk.f_frsize)
    }

    /// Why new jobs are refused for lack of space: nil when there is room, beyond the reserve,
    /// for a spec of `bytes` — counted as at least 64 KiB, so that whenever the store is ready
    /// (room for 64 KiB) a typical spec is accepted, and while it is not, none is.
    func spaceShortage(for bytes: Int = 0) -> String? {
        guard let free = headroom(), free < reserveBytes + max(bytes, 64 << 10) else { return nil }
        let limit = configuration.maxBytes.map { " of its \($0 >> 20 > 0 ? "\($0 >> 20) MiB" : "\($0 >> 10) KiB") limit" } ?? " on the disk"
        return "the job store is full: \(free >> 10) KiB free\(limit), and \(reserveBytes >> 10) KiB are kept for the results of accepted jobs; delete finished jobs (or raise --store-limit-mb) to accept new ones"
    }

    /// Unavailable while the store has no room beyond its reserve (new jobs are refused then
    /// too, so readiness and submission always agree), and after a failed write until a probe
    /// write commits again (a read-only or failing disk).
    public func unavailability() -> String? {
        if let shortage = spaceShortage() { return shortage }
        let failure = cache.withLock { $0.writeFailure }
        guard failure != nil else { return nil }
        do {
            try write(durable: false, { db in
                try db.execute(sql: "INSERT INTO probe (bytes) VALUES (zeroblob(4096))")
            })
            try write(durable: false, { db in try db.execute(sql: "DELETE FROM probe") })
            return nil
        } catch {
            return cache.withLock { $0.writeFailure } ?? failure
        }
    }

    /// Status transitions of a job, oldest first, with the attempt each belongs to (tests and
    /// operators: a job that ran to completion twice would show two terminal transitions).
    public func transitions(of id: String) throws(JobStoreError) -> [(status: JobStatus, step: Int, attempt: Int)] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT status, step, attempt FROM transitions WHERE job_id = ? ORDER BY seq", arguments: [id]).map {
                    (JobStatus(rawValue: $0["status"]) ?? .failed, $0["step"], $0["attempt"])
                }
            }
        } catch { throw .unavailable("the job store cannot be read: \(Self.describe(error))") }
    }
}
