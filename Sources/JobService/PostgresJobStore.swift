import Foundation
import HTTPServer
import ModelSpec

/// Settings of the PostgreSQL store.
public struct PostgresJobStoreConfiguration: Sendable {
    /// The database (`postgres://user:password@host:port/database`, `--database-url`).
    public var url: String
    /// How long a claim holds a running job without being renewed; a job whose lease ran out
    /// (its replica died, or lost the database) is queued again for any replica. Default 15 s.
    public var leaseSeconds: Double
    /// How often this replica renews the leases it holds, writes its running jobs' progress
    /// and reads their cancel flags, and requeues jobs whose lease ran out. Default 1 s, so a
    /// cancel asked through any replica stops the run within about a second.
    public var heartbeatSeconds: Double
    /// Connections this replica opens at most.
    public var connections: Int
    /// This replica's name in leases and transitions (default: host, process id, a random part).
    public var replica: String

    public init(url: String, leaseSeconds: Double = 15, heartbeatSeconds: Double = 1, connections: Int = 4, replica: String? = nil) {
        self.url = url; self.leaseSeconds = leaseSeconds; self.heartbeatSeconds = heartbeatSeconds
        self.connections = max(connections, 2)
        self.replica = replica ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// The job store shared by several replicas: one PostgreSQL database (through libpq) holding
/// jobs, specs, results, checkpoints, transitions and idempotency keys, with versioned
/// migrations. A claim takes the oldest queued job with `FOR UPDATE SKIP LOCKED` (so replicas
/// never wait on each other's claims) and holds a *lease* on it: the replica renews it every
/// heartbeat (with the job's progress) and with every checkpoint. A job whose lease ran out
/// goes back to the queue, charged an attempt, and whichever replica claims it next continues
/// from its last checkpoint. Every claim takes the next number of the job's `claim` counter —
/// the fencing token — and every write made under a claim (progress, checkpoint, end,
/// hand-back) requires it, so a replica that lost its lease cannot overwrite what the job's
/// new holder wrote. Reads go to the database (another replica may have changed anything);
/// only the progress of this replica's own running jobs is held here between heartbeats.
public final class PostgresJobStore: JobStore, @unchecked Sendable {
    // @unchecked: `heartbeat` is set once, in `init`; the pool is thread-safe; the rest of
    // what changes is in `state`.
    public let configuration: PostgresJobStoreConfiguration
    private let pool: PostgresPool
    private let state = Locked(State())
    private var heartbeat: (any DispatchSourceTimer)?

    /// What this replica's threads (workers, requests, the heartbeat) share.
    private struct State {
        /// The claims this replica holds, by job id.
        var leases: [String: Lease] = [:]
        var maxAttempts = JobStops.maxAttempts
        /// Why the last statement failed for want of the database (nil since one succeeded).
        var failure: String?
    }

    /// A claim held by this replica.
    private struct Lease {
        /// The fencing token: the job's claim number when this replica claimed it.
        let claim: Int
        /// Progress not yet written (written with the next heartbeat, checkpoint or end, each
        /// together with the events the job's log gained up to it).
        var progress: JobProgress?
        var cancelRequested = false
        /// The lease was found taken over, or ran out on this replica's clock: this replica's
        /// writes for the job will fail, and its run stops.
        var lost = false
        /// When the last write that renewed the lease was sent (monotonic clock, ns): the
        /// database's expiry is at least a lease's length after it.
        var renewedAt: UInt64
        /// The job's event log here, whose events are shared through the `events` table.
        var log: JobEventLog?
        /// The id of the last event written to the table.
        var published = 0

        /// A write sent at `sent` renewed the lease (a lease already lost stays lost: its run is
        /// being stopped).
        mutating func renew(sentAt sent: UInt64) {
            if !lost { renewedAt = max(renewedAt, sent) }
        }
    }

    /// Progress events kept in the table per job (as many params events): followers that fall
    /// further behind skip ahead, as readers of a local log do.
    static let sharedProgress = 256

    /// How many event ids a replica that stopped renewing its lease may have given a job
    /// without sharing them (the events between two heartbeats, with a wide margin; the
    /// service's gap after a restart is at least as wide): a job that ends for it takes its
    /// terminal event's id above them.
    static let unsharedEvents = 1000

    /// Why a running job's lease ran out, in its transitions and (at its last attempt) its error.
    static let leaseExpired = "its replica stopped renewing its lease (the replica stopped or lost the database)"

    /// Connects, applies the migrations this database lacks, and starts the heartbeat; throws
    /// `.unavailable` with the reason when the database cannot be reached or migrated.
    public init(_ configuration: PostgresJobStoreConfiguration) throws(JobStoreError) {
        self.configuration = configuration
        pool = PostgresPool(url: configuration.url, size: configuration.connections)
        do {
            try PostgresMigrations.apply(pool)
        } catch {
            throw .unavailable("the PostgreSQL job store cannot be opened: \(error)")
        }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "sviserve.postgres.heartbeat"))
        timer.schedule(deadline: .now() + configuration.heartbeatSeconds, repeating: configuration.heartbeatSeconds)
        timer.setEventHandler { [weak self] in self?.beat() }
        timer.resume()
        heartbeat = timer
    }

    deinit { heartbeat?.cancel() }

    /// Stops renewing leases (tests: a replica that died without a word).
    func stopHeartbeat() { heartbeat?.cancel() }

    // MARK: Statements

    /// The database's clock in seconds since 1970: leases are measured on one clock for every replica.
    static let now = "EXTRACT(EPOCH FROM clock_timestamp())::float8"
    static let summaryColumns = "id, owner, name, status, created_at, started_at, finished_at, progress, spec_digest, error, cancel_requested, last_event_id, tags, attempts, claim"

    /// Runs `body` on a pooled connection, turning libpq's errors into the store's: a lost
    /// database is `.unavailable` (remembered for `/readyz`), a taken key a `.conflict`.
    private func database<T>(transaction: Bool = false, _ body: (PostgresConnection) throws -> T) throws(JobStoreError) -> T {
        do {
            let value = try transaction ? pool.transaction(body) : pool.with(body)
            state.withLock { $0.failure = nil }
            return value
        } catch let error as JobStoreError {
            throw error
        } catch let error as PostgresError {
            if error.isUniqueViolation { throw .conflict(error.message) }
            state.withLock { $0.failure = error.message }
            throw .unavailable("the job store cannot be reached: \(error.message)")
        } catch {
            throw .unavailable("\(error)")
        }
    }

    static func record(_ rows: PostgresRows, _ i: Int, spec: [UInt8] = []) -> JobRecord {
        let progress = rows.string(i, "progress").flatMap { try? Representations.decode(JobProgress.self, Array($0.utf8)) } ?? JobProgress(steps: 0)
        var job = JobRecord(id: rows.string(i, "id") ?? "", name: rows.string(i, "name") ?? "", owner: rows.string(i, "owner") ?? "",
                            createdAt: Date(timeIntervalSince1970: rows.double(i, "created_at") ?? 0),
                            steps: progress.steps, specDigest: rows.string(i, "spec_digest") ?? "", spec: spec)
        job.status = rows.string(i, "status").flatMap(JobStatus.init(rawValue:)) ?? .failed
        job.startedAt = rows.double(i, "started_at").map(Date.init(timeIntervalSince1970:))
        job.finishedAt = rows.double(i, "finished_at").map(Date.init(timeIntervalSince1970:))
        job.progress = progress
        job.error = rows.string(i, "error")
        job.cancelRequested = rows.bool(i, "cancel_requested")
        job.lastEventID = rows.int(i, "last_event_id") ?? 0
        job.attempts = rows.int(i, "attempts") ?? 0
        job.tags = (rows.string(i, "tags") ?? "").split(separator: "\u{1F}").map(String.init)
        return job
    }

    /// The record as this replica knows it best: its own running job's newest progress.
    private func overlaid(_ job: JobRecord) -> JobRecord {
        guard job.status == .running, let progress = state.withLock({ $0.leases[job.id]?.progress }) else { return job }
        var job = job
        job.progress = progress
        return job
    }

    private static func transition(_ db: PostgresConnection, _ id: String, _ status: JobStatus, replica: String?) throws {
        try db.execute("""
            INSERT INTO transitions (job_id, status, at, step, attempt, claim, replica)
            SELECT id, $2, $3, step, attempts, claim, $4 FROM jobs WHERE id = $1
            """, [.text(id), .text(status.rawValue), .double(Date().timeIntervalSince1970), replica.map { .text($0) } ?? .null])
    }

    /// The fencing token of a job this replica holds, or a conflict.
    private func claim(of id: String) throws(JobStoreError) -> Int {
        guard let claim = state.withLock({ $0.leases[id]?.claim }) else { throw .conflict("job \(id) is not running under a lease of this replica") }
        return claim
    }

    private func dropLease(_ id: String) {
        state.withLock { $0.leases[id] = nil }
    }

    /// The write under a claim found the job no longer running under it: the lease was taken
    /// over (or the job ended through another way), and this replica lets go of it.
    private func fenced(_ id: String) -> JobStoreError {
        dropLease(id)
        return .conflict("job \(id) is no longer running under this replica's claim (its lease ran out and it was requeued or taken over)")
    }

    // MARK: JobStore

    public func create(_ job: JobRecord, idempotency: IdempotencyRecord?) throws(JobStoreError) {
        try database(transaction: true) { db in
            try db.execute("""
                INSERT INTO jobs (id, owner, name, status, created_at, progress, step, spec_digest, spec, tags, last_event_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)
                """, [.text(job.id), .text(job.owner), .text(job.name), .text(job.status.rawValue), .double(job.createdAt.timeIntervalSince1970),
                      .text(Representations.jsonText(job.progress)), .int(job.progress.step), .text(job.specDigest), .bytes(job.spec),
                      .text(SQLiteJobStore.tagText(job.tags))])
            // The submitting replica's first event, as its log has it: readers on every replica start alike.
            try db.execute("INSERT INTO events (job_id, id, kind, data) VALUES ($1, 1, 'status', $2)", [.text(job.id), .text(JobEvent.Payload.status(.queued).text)])
            if let key = idempotency {
                let inserted = try db.execute("""
                    INSERT INTO idempotency_keys (owner, key, request_digest, job_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                    """, [.text(job.owner), .text(key.key), .text(key.requestDigest), .text(job.id)])
                guard inserted.affected == 1 else { throw JobStoreError.conflict("idempotency key \(key.key) is taken") }
            }
            try Self.transition(db, job.id, job.status, replica: nil)
        }
    }

    public func idempotentJob(owner: String, key: String) throws(JobStoreError) -> (requestDigest: String, job: JobRecord)? {
        try database { db -> (String, JobRecord)? in
            let rows = try db.execute("""
                SELECT k.request_digest, \(Self.summaryColumns.split(separator: ",").map { "j.\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", "))
                FROM idempotency_keys k JOIN jobs j ON j.id = k.job_id WHERE k.owner = $1 AND k.key = $2
                """, [.text(owner), .text(key)])
            guard rows.count == 1 else { return nil }
            return (rows.string(0, "request_digest") ?? "", Self.record(rows, 0))
        }.map { ($0.0, overlaid($0.1)) }
    }

    public func get(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        let job = try database { db -> JobRecord? in
            let rows = try db.execute("SELECT \(Self.summaryColumns) FROM jobs WHERE id = $1 AND owner = $2", [.text(id), .text(owner)])
            return rows.count == 1 ? Self.record(rows, 0) : nil
        }
        guard let job else { throw .notFound }
        return overlaid(job)
    }

    public func result(_ id: String, owner: String) throws(JobStoreError) -> JobResult? {
        let found = try database { db -> (status: String, result: [UInt8]?)? in
            let rows = try db.execute("""
                SELECT j.status, r.result FROM jobs j LEFT JOIN results r ON r.job_id = j.id WHERE j.id = $1 AND j.owner = $2
                """, [.text(id), .text(owner)])
            return rows.count == 1 ? (rows.string(0, "status") ?? "", rows.bytes(0, "result")) : nil
        }
        guard let found else { throw .notFound }
        guard found.status == JobStatus.succeeded.rawValue, let bytes = found.result else { return nil }
        do { return try Representations.decode(JobResult.self, Data(bytes)) } catch { throw .unavailable("the stored result of job \(id) cannot be read: \(error)") }
    }

    public func list(owner: String, status: JobStatus?, tag: String?, pageSize: Int, after token: String?) throws(JobStoreError) -> (jobs: [JobRecord], next: String?) {
        let size = max(pageSize, 1)
        let jobs = try database { db -> [JobRecord] in
            var sql = "SELECT \(Self.summaryColumns) FROM jobs WHERE owner = $1"
            var parameters: [PostgresValue] = [.text(owner)]
            if let status { parameters.append(.text(status.rawValue)); sql += " AND status = $\(parameters.count)" }
            if let tag { parameters.append(.text(SQLiteJobStore.tagText([tag]))); sql += " AND strpos(tags, $\(parameters.count)) > 0" }
            if let token { parameters.append(.text(token)); sql += " AND seq < (SELECT seq FROM jobs WHERE id = $\(parameters.count) AND owner = $1)" }
            parameters.append(.int(size + 1))
            sql += " ORDER BY seq DESC LIMIT $\(parameters.count)"
            let rows = try db.execute(sql, parameters)
            return (0..<rows.count).map { Self.record(rows, $0) }
        }
        let page = jobs.prefix(size).map(overlaid)
        return (page, jobs.count > size ? page.last?.id : nil)
    }

    public func spec(_ id: String, owner: String) throws(JobStoreError) -> [UInt8] {
        let spec = try database { db -> [UInt8]? in
            let rows = try db.execute("SELECT spec FROM jobs WHERE id = $1 AND owner = $2", [.text(id), .text(owner)])
            return rows.count == 1 ? rows.bytes(0, "spec") : nil
        }
        guard let spec else { throw .notFound }
        return spec
    }

    /// Claims the oldest queued job (of `owner`, when given) with `FOR UPDATE SKIP LOCKED`:
    /// replicas claiming at once each get a different job, none waits for another. The claim
    /// counts an attempt, takes the next fencing token and a lease of ``PostgresJobStoreConfiguration/leaseSeconds``.
    public func claimNext(owner: String?) throws(JobStoreError) -> JobRecord? {
        let sent = DispatchTime.now().uptimeNanoseconds
        let claimed = try database(transaction: true) { db -> (JobRecord, Int)? in
            let rows = try db.execute("""
                UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, $1), attempts = attempts + 1, claim = claim + 1,
                    lease_owner = $2, lease_expires = \(Self.now) + $3
                WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' AND ($4::text IS NULL OR owner = $4)
                             ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING \(Self.summaryColumns), spec
                """, [.double(Date().timeIntervalSince1970), .text(configuration.replica), .double(configuration.leaseSeconds), owner.map { .text($0) } ?? .null])
            guard rows.count == 1 else { return nil }
            let job = Self.record(rows, 0, spec: rows.bytes(0, "spec") ?? [])
            try Self.transition(db, job.id, .running, replica: configuration.replica)
            return (job, rows.int(0, "claim") ?? 0)
        }
        guard let claimed else { return nil }
        let (job, claim) = claimed
        state.withLock { $0.leases[job.id] = Lease(claim: claim, renewedAt: sent) }
        return job
    }

    /// Kept here and written with the next heartbeat (or checkpoint, or end).
    public func updateProgress(_ id: String, _ progress: JobProgress) throws(JobStoreError) {
        let held = state.withLock { s in
            s.leases[id]?.progress = progress
            return s.leases[id] != nil
        }
        guard held else { throw .conflict("job \(id) is not running under a lease of this replica") }
    }

    /// Saves the checkpoint under this replica's claim, renews the lease with it, and writes the
    /// job's pending progress and new events, as a heartbeat does.
    public func saveCheckpoint(_ id: String, _ checkpoint: StoredCheckpoint) throws(JobStoreError) {
        let claim = try claim(of: id)
        let progress = pendingProgress(id)
        let sent = DispatchTime.now().uptimeNanoseconds
        let saved = try database(transaction: true) { db -> Bool in
            let updated = try db.execute("""
                UPDATE jobs SET last_event_id = $3, progress = COALESCE($4, progress), step = COALESCE($5, step), lease_expires = \(Self.now) + $6
                WHERE id = $1 AND claim = $2 AND status = 'running'
                """, [.text(id), .int(claim), .int(checkpoint.lastEventID), progress.map { .text(Representations.jsonText($0)) } ?? .null,
                      progress.map { .int($0.step) } ?? .null, .double(configuration.leaseSeconds)])
            guard updated.affected == 1 else { return false }
            // Progress a reader sees in the row comes with the events up to it: a follower on
            // another replica never sees a step its event stream cannot show.
            try publish(db, id)
            try db.execute("""
                INSERT INTO checkpoints (job_id, step, saved_at, state) VALUES ($1, $2, $3, $4)
                ON CONFLICT (job_id) DO UPDATE SET step = EXCLUDED.step, saved_at = EXCLUDED.saved_at, state = EXCLUDED.state
                """, [.text(id), .int(checkpoint.step), .double(Date().timeIntervalSince1970), .bytes(checkpoint.state)])
            return true
        }
        guard saved else { throw fenced(id) }
        state.withLock { $0.leases[id]?.renew(sentAt: sent) }
    }

    private func pendingProgress(_ id: String) -> JobProgress? {
        state.withLock { $0.leases[id]?.progress }
    }

    public func checkpoint(of id: String) throws(JobStoreError) -> StoredCheckpoint? {
        try database { db -> StoredCheckpoint? in
            let rows = try db.execute("""
                SELECT c.step, c.state, j.last_event_id FROM checkpoints c JOIN jobs j ON j.id = c.job_id WHERE c.job_id = $1
                """, [.text(id)])
            guard rows.count == 1 else { return nil }
            return StoredCheckpoint(step: rows.int(0, "step") ?? 0, state: rows.bytes(0, "state") ?? [], lastEventID: rows.int(0, "last_event_id") ?? 0)
        }
    }

    /// Ends the job under this replica's claim: a replica whose lease was taken over gets a
    /// conflict, and the job's new holder's work stands.
    public func finish(_ id: String, status: JobStatus, result: JobResult?, error: String?, lastEventID: Int) throws(JobStoreError) {
        let claim = try claim(of: id)
        let progress = pendingProgress(id)
        let ended = try database(transaction: true) { db -> Bool in
            let updated = try db.execute("""
                UPDATE jobs SET status = $3, error = $4, finished_at = $5, last_event_id = $6, progress = COALESCE($7, progress),
                    step = COALESCE($8, step), lease_owner = NULL, lease_expires = NULL
                WHERE id = $1 AND claim = $2 AND status = 'running'
                """, [.text(id), .int(claim), .text(status.rawValue), error.map { .text($0) } ?? .null, .double(Date().timeIntervalSince1970),
                      .int(lastEventID), progress.map { .text(Representations.jsonText($0)) } ?? .null, progress.map { .int($0.step) } ?? .null])
            guard updated.affected == 1 else { return false }
            try publish(db, id)
            if let result {
                try db.execute("INSERT INTO results (job_id, result) VALUES ($1, $2) ON CONFLICT (job_id) DO UPDATE SET result = EXCLUDED.result",
                               [.text(id), .bytes(Representations.json(result))])
            }
            try db.execute("DELETE FROM checkpoints WHERE job_id = $1", [.text(id)])
            try Self.transition(db, id, status, replica: configuration.replica)
            return true
        }
        guard ended else { throw fenced(id) }
        dropLease(id)
    }

    public func requestCancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        let job = try database(transaction: true) { db -> JobRecord? in
            let rows = try db.execute("SELECT \(Self.summaryColumns) FROM jobs WHERE id = $1 AND owner = $2 FOR UPDATE", [.text(id), .text(owner)])
            guard rows.count == 1 else { return nil }
            var job = Self.record(rows, 0)
            switch job.status {
            case .queued:
                job.status = .cancelled; job.finishedAt = Date()
                // Its terminal event takes the next id after the queued one, on every replica.
                job.lastEventID += 1
                try db.execute("UPDATE jobs SET status = 'cancelled', finished_at = $2, last_event_id = $3 WHERE id = $1",
                               [.text(id), .double(job.finishedAt!.timeIntervalSince1970), .int(job.lastEventID)])
                try Self.transition(db, id, .cancelled, replica: nil)
            case .running:
                job.cancelRequested = true
                try db.execute("UPDATE jobs SET cancel_requested = true WHERE id = $1", [.text(id)])
            default: break
            }
            return job
        }
        guard let job else { throw .notFound }
        if job.cancelRequested { state.withLock { $0.leases[id]?.cancelRequested = true } }
        return overlaid(job)
    }

    /// Held while not found taken over and renewed within the lease's length on this replica's
    /// clock: a replica cut off from the database stops its runs by the time another replica
    /// may take them over, instead of running on until its writes are refused.
    public func holdsLease(_ id: String) -> Bool {
        // A lease too long for the clock's range (or infinite) never runs out on it.
        let nanoseconds = max(configuration.leaseSeconds, 0) * 1e9
        let limit = nanoseconds < 1.8e19 ? UInt64(nanoseconds) : .max
        let now = DispatchTime.now().uptimeNanoseconds
        return state.withLock { s in
            guard let lease = s.leases[id] else { return false }
            if !lease.lost && now &- lease.renewedAt >= limit { s.leases[id]?.lost = true }
            return s.leases[id]?.lost == false
        }
    }

    public func abandon(_ id: String) { dropLease(id) }

    /// For this replica's own jobs, the flag as of the last heartbeat; else the database's.
    public func isCancelRequested(_ id: String) -> Bool {
        if let lease = state.withLock({ $0.leases[id] }) { return lease.cancelRequested }
        return (try? database { db in
            try db.execute("SELECT cancel_requested FROM jobs WHERE id = $1", [.text(id)])
        }).map { $0.count == 1 && $0.bool(0, "cancel_requested") } ?? false
    }

    public func delete(_ id: String, owner: String) throws(JobStoreError) {
        let status = try database(transaction: true) { db -> JobStatus? in
            let rows = try db.execute("SELECT status FROM jobs WHERE id = $1 AND owner = $2 FOR UPDATE", [.text(id), .text(owner)])
            guard rows.count == 1, let status = rows.string(0, "status").flatMap(JobStatus.init(rawValue:)) else { return nil }
            if status.isTerminal { try db.execute("DELETE FROM jobs WHERE id = $1", [.text(id)]) }
            return status
        }
        guard let status else { throw .notFound }
        guard status.isTerminal else { throw .conflict("job \(id) is \(status.rawValue); cancel it first") }
    }

    public func release(_ id: String) throws(JobStoreError) {
        let claim = try claim(of: id)
        let released = try database(transaction: true) { db -> Bool in
            let updated = try db.execute("""
                UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0), lease_owner = NULL, lease_expires = NULL
                WHERE id = $1 AND claim = $2 AND status = 'running'
                """, [.text(id), .int(claim)])
            guard updated.affected == 1 else { return false }
            try publish(db, id)
            try Self.transition(db, id, .queued, replica: configuration.replica)
            return true
        }
        guard released else { throw fenced(id) }
        dropLease(id)
    }

    public func recordStop(_ id: String, reason: String, maxAttempts: Int) throws(JobStoreError) -> JobRecord {
        let claim = try claim(of: id)
        let stopped = try database(transaction: true) { db -> JobRecord? in
            let rows = try db.execute("SELECT \(Self.summaryColumns) FROM jobs WHERE id = $1 AND claim = $2 AND status = 'running' FOR UPDATE",
                                      [.text(id), .int(claim)])
            guard rows.count == 1 else { return nil }
            var job = Self.record(rows, 0)
            try publish(db, id)
            try Self.requeueOrQuarantine(db, &job, reason: reason, maxAttempts: maxAttempts, unshared: 0)
            try Self.transition(db, id, job.status, replica: configuration.replica)
            return job
        }
        guard let stopped else { throw fenced(id) }
        dropLease(id)
        return stopped
    }

    /// A running job that lost its run (its worker stopped, or its lease ran out) goes back to
    /// the queue in its place, or — at `maxAttempts` claims, or asked to cancel — ends, its
    /// terminal event's id above the `unshared` ids its last run may have given unshared.
    private static func requeueOrQuarantine(_ db: PostgresConnection, _ job: inout JobRecord, reason: String, maxAttempts: Int, unshared: Int) throws {
        if job.cancelRequested || job.attempts >= maxAttempts {
            job.status = job.cancelRequested ? .cancelled : .failed
            job.error = job.cancelRequested ? "cancelled while its run was interrupted" : JobStops.quarantine(attempts: job.attempts, reason)
            job.finishedAt = Date()
            // Its terminal event's id: above every id its runs shared, and above the `unshared`
            // ones its last run may have given without sharing.
            let rows = try db.execute("""
                UPDATE jobs SET status = $2, error = $3, finished_at = $4, lease_owner = NULL, lease_expires = NULL,
                    last_event_id = GREATEST(last_event_id, (SELECT COALESCE(max(id), 0) FROM events WHERE job_id = $1)) + $5
                WHERE id = $1 RETURNING last_event_id
                """, [.text(job.id), .text(job.status.rawValue), .text(job.error!), .double(job.finishedAt!.timeIntervalSince1970), .int(unshared + 1)])
            job.lastEventID = rows.int(0, "last_event_id") ?? job.lastEventID
            try db.execute("DELETE FROM checkpoints WHERE job_id = $1", [.text(job.id)])
        } else {
            job.status = .queued
            try db.execute("UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires = NULL WHERE id = $1", [.text(job.id)])
        }
    }

    /// With a shared database nothing is "left by the last process": another replica may be
    /// running any running job. What is recovered is every job whose lease ran out — the same
    /// sweep every heartbeat makes.
    public func recoverInterrupted(maxAttempts: Int) throws(JobStoreError) -> [JobRecord] {
        state.withLock { $0.maxAttempts = maxAttempts }
        return try requeueExpired().filter { $0.status == .queued }
    }

    /// Requeues (or, at their last attempt, fails) the running jobs whose lease ran out;
    /// `SKIP LOCKED`, so replicas sweeping at once share the work.
    @discardableResult
    func requeueExpired() throws(JobStoreError) -> [JobRecord] {
        let limit = state.withLock { $0.maxAttempts }
        return try database(transaction: true) { db -> [JobRecord] in
            let rows = try db.execute("""
                SELECT \(Self.summaryColumns) FROM jobs WHERE status = 'running' AND lease_expires < \(Self.now)
                ORDER BY seq FOR UPDATE SKIP LOCKED
                """)
            var jobs: [JobRecord] = []
            for i in 0..<rows.count {
                var job = Self.record(rows, i)
                try Self.requeueOrQuarantine(db, &job, reason: Self.leaseExpired, maxAttempts: limit, unshared: Self.unsharedEvents)
                try Self.transition(db, job.id, job.status, replica: configuration.replica)
                jobs.append(job)
            }
            return jobs
        }
    }

    public func removeFinished(before date: Date) throws(JobStoreError) -> [String] {
        try database { db -> [String] in
            let rows = try db.execute("""
                DELETE FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < $1 RETURNING id
                """, [.double(date.timeIntervalSince1970)])
            return (0..<rows.count).compactMap { rows.string($0, "id") }
        }
    }

    public func queuedCount() -> Int {
        let count = try? database { db in try db.execute("SELECT count(*) AS n FROM jobs WHERE status = 'queued'").int(0, "n") }
        return (count ?? nil) ?? 0
    }

    public func queuedByOwner() -> [String: Int] {
        guard let rows = try? database({ db in try db.execute("SELECT owner, count(*) AS n FROM jobs WHERE status = 'queued' GROUP BY owner") }) else { return [:] }
        var counts: [String: Int] = [:]
        for i in 0..<rows.count { counts[rows.string(i, "owner") ?? ""] = rows.int(i, "n") }
        return counts
    }

    /// One probe of the `(owner, seq)` index of queued jobs, however long the queue (the
    /// `GROUP BY` of ``queuedByOwner()`` counts every queued row: 45 ms at 100,000 queued jobs,
    /// which every replica paid before every claim).
    public func nextQueuedOwner(after owner: String?) -> String? {
        let rows = try? database { db in
            try db.execute("SELECT owner FROM jobs WHERE status = 'queued' AND ($1::text IS NULL OR owner > $1) ORDER BY owner LIMIT 1",
                           [owner.map { .text($0) } ?? .null])
        }
        return rows.flatMap { $0.count == 1 ? $0.string(0, "owner") : nil }
    }

    /// Counts at most `limit` queued rows (a count of them all grows with the queue).
    public func queuedCount(owner: String?, upTo limit: Int) -> Int {
        let count = try? database { db in
            try db.execute(owner == nil ? "SELECT count(*) AS n FROM (SELECT 1 FROM jobs WHERE status = 'queued' LIMIT $1) q"
                                        : "SELECT count(*) AS n FROM (SELECT 1 FROM jobs WHERE status = 'queued' AND owner = $2 LIMIT $1) q",
                           [.int(max(limit, 0))] + (owner.map { [.text($0)] } ?? [])).int(0, "n")
        }
        return (count ?? nil) ?? 0
    }

    public func statistics() -> (counts: [JobStatus: Int], runningStepsPerSecond: Double) {
        guard let found = try? database({ db -> ([JobStatus: Int], [JobRecord]) in
            let rows = try db.execute("SELECT status, count(*) AS n FROM jobs GROUP BY status")
            var counts: [JobStatus: Int] = [:]
            for i in 0..<rows.count { if let status = rows.string(i, "status").flatMap(JobStatus.init(rawValue:)) { counts[status] = rows.int(i, "n") } }
            let running = try db.execute("SELECT \(Self.summaryColumns) FROM jobs WHERE status = 'running'")
            return (counts, (0..<running.count).map { Self.record(running, $0) })
        }) else { return ([:], 0) }
        return (found.0, JobStatistics.of(found.1.map(overlaid)).runningStepsPerSecond)
    }

    /// The database's size (`pg_database_size`): shared with every replica.
    public func sizeInBytes() -> Int? {
        let size = try? database { db in try db.execute("SELECT pg_database_size(current_database()) AS n").int(0, "n") }
        return size ?? nil
    }

    /// Unavailable after a statement failed for want of the database, until a probe succeeds.
    public func unavailability() -> String? {
        let last = state.withLock { $0.failure }
        guard let last else { return nil }
        do {
            _ = try database { db in try db.execute("SELECT 1") }
            return nil
        } catch {
            return "the PostgreSQL job store cannot be reached: \(last)"
        }
    }

    // MARK: Shared events

    /// Every replica may run any job: a job's events are read through the `events` table.
    public var sharesEvents: Bool { true }

    public func share(_ log: JobEventLog, of id: String) {
        state.withLock { s in
            s.leases[id]?.log = log
            s.leases[id]?.published = log.lastID
        }
    }

    /// Events of the job from the `events` table (empty when it cannot be read now).
    public func sharedEvents(of id: String, after: Int) -> [JobEvent] {
        guard let rows = try? database({ db in
            try db.execute("SELECT id, kind, data FROM events WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT 1000", [.text(id), .int(after)])
        }) else { return [] }
        return (0..<rows.count).compactMap { i in
            // The typed payload is read back here, at the store's edge, from the text the running
            // replica stored (the events' wire form).
            guard let id = rows.int(i, "id"), let kind = rows.string(i, "kind").flatMap(JobEvent.Kind.init(rawValue:)),
                  let payload = JobEvent.Payload(kind: kind, text: rows.string(i, "data") ?? "") else { return nil }
            return JobEvent(id: id, payload: payload)
        }
    }

    /// Writes the events the job's log has gained since the last write (inside a write made
    /// under the job's claim, after its fencing check), and keeps only the newest
    /// ``sharedProgress`` progress and params events.
    private func publish(_ db: PostgresConnection, _ id: String) throws {
        let lease = state.withLock { $0.leases[id] }
        guard let lease, let log = lease.log else { return }
        let fresh = log.events(after: lease.published).events
        guard let last = fresh.last?.id else { return }
        var rows: [String] = [], parameters: [PostgresValue] = [.text(id)]
        for event in fresh {
            rows.append("($1, $\(parameters.count + 1), $\(parameters.count + 2), $\(parameters.count + 3))")
            parameters += [.int(event.id), .text(event.kind.rawValue), .text(event.payload.text)]
        }
        try db.execute("INSERT INTO events (job_id, id, kind, data) VALUES \(rows.joined(separator: ", ")) ON CONFLICT DO NOTHING", parameters)
        try db.execute("""
            DELETE FROM events WHERE job_id = $1 AND kind IN ('progress', 'params') AND id < (
                SELECT id FROM events WHERE job_id = $1 AND kind = 'progress' ORDER BY id DESC OFFSET $2 LIMIT 1)
            """, [.text(id), .int(Self.sharedProgress - 1)])
        state.withLock { s in
            if let published = s.leases[id]?.published { s.leases[id]?.published = max(published, last) }
        }
    }

    // MARK: Heartbeat

    /// Every heartbeat: renews the leases this replica holds, writing each job's newest progress
    /// and reading its cancel flag (a lease found taken over is marked lost), then requeues the
    /// jobs whose lease ran out anywhere.
    private func beat() {
        let held = state.withLock { $0.leases }
        for (id, lease) in held where !lease.lost {
            let sent = DispatchTime.now().uptimeNanoseconds
            guard let rows = try? database(transaction: true, { db in
                let rows = try db.execute("""
                    UPDATE jobs SET lease_expires = \(Self.now) + $3, progress = COALESCE($4, progress), step = COALESCE($5, step)
                    WHERE id = $1 AND claim = $2 AND status = 'running' RETURNING cancel_requested
                    """, [.text(id), .int(lease.claim), .double(configuration.leaseSeconds),
                          lease.progress.map { .text(Representations.jsonText($0)) } ?? .null, lease.progress.map { .int($0.step) } ?? .null])
                if rows.count == 1 { try publish(db, id) }
                return rows
            }) else { continue }
            let cancel = rows.count == 1 ? rows.bool(0, "cancel_requested") : nil
            state.withLock { s in
                guard let cancel else { s.leases[id]?.lost = true; return }
                s.leases[id]?.cancelRequested = cancel
                s.leases[id]?.renew(sentAt: sent)
            }
        }
        _ = try? requeueExpired()
    }

    /// Status transitions of a job, oldest first, with the attempt, fencing token and replica
    /// of each and when its replica wrote it (tests and operators: every takeover after a lease
    /// ran out shows here).
    public func transitions(of id: String) throws(JobStoreError) -> [(status: JobStatus, step: Int, attempt: Int, claim: Int, replica: String?, at: Date)] {
        try database { db in
            let rows = try db.execute("SELECT status, step, attempt, claim, replica, at FROM transitions WHERE job_id = $1 ORDER BY seq", [.text(id)])
            return (0..<rows.count).map {
                (rows.string($0, "status").flatMap(JobStatus.init(rawValue:)) ?? .failed, rows.int($0, "step") ?? 0,
                 rows.int($0, "attempt") ?? 0, rows.int($0, "claim") ?? 0, rows.string($0, "replica"),
                 Date(timeIntervalSince1970: rows.double($0, "at") ?? 0))
            }
        }
    }
}

/// The PostgreSQL schema as numbered migrations, applied in order under an advisory lock (so
/// replicas starting together apply each exactly once) and recorded in `schema_migrations`.
/// A change appends a migration; none is ever edited.
enum PostgresMigrations {
    static let all: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE jobs (
                seq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                owner TEXT NOT NULL,
                name TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                started_at DOUBLE PRECISION,
                finished_at DOUBLE PRECISION,
                progress TEXT NOT NULL,
                step BIGINT NOT NULL DEFAULT 0,
                spec_digest TEXT NOT NULL,
                spec BYTEA NOT NULL,
                error TEXT,
                cancel_requested BOOLEAN NOT NULL DEFAULT false,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_event_id BIGINT NOT NULL DEFAULT 0,
                tags TEXT NOT NULL DEFAULT '',
                claim BIGINT NOT NULL DEFAULT 0,
                lease_owner TEXT,
                lease_expires DOUBLE PRECISION
            );
            CREATE INDEX jobs_by_owner ON jobs (owner, seq);
            CREATE INDEX jobs_queued ON jobs (seq) WHERE status = 'queued';
            CREATE INDEX jobs_queued_by_owner ON jobs (owner, seq) WHERE status = 'queued';
            CREATE INDEX jobs_leases ON jobs (lease_expires) WHERE status = 'running';
            CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
            CREATE TABLE results (
                job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
                result BYTEA NOT NULL
            );
            CREATE TABLE checkpoints (
                job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
                step BIGINT NOT NULL,
                saved_at DOUBLE PRECISION NOT NULL,
                state BYTEA NOT NULL
            );
            CREATE TABLE transitions (
                seq BIGSERIAL PRIMARY KEY,
                job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
                status TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL,
                step BIGINT NOT NULL,
                attempt INTEGER NOT NULL,
                claim BIGINT NOT NULL,
                replica TEXT
            );
            CREATE INDEX transitions_by_job ON transitions (job_id, seq);
            CREATE TABLE idempotency_keys (
                owner TEXT NOT NULL,
                key TEXT NOT NULL,
                request_digest TEXT NOT NULL,
                job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
                PRIMARY KEY (owner, key)
            );
            """),
        (2, """
            CREATE TABLE events (
                job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
                id BIGINT NOT NULL,
                kind TEXT NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (job_id, id)
            );
            """),
    ]

    static func apply(_ pool: PostgresPool) throws {
        try pool.transaction { db in
            // One replica migrates at a time; the others wait here, then find nothing to do.
            try db.execute("SELECT pg_advisory_xact_lock(7301200020)")
            try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            let rows = try db.execute("SELECT COALESCE(max(version), 0) AS v FROM schema_migrations")
            let current = rows.int(0, "v") ?? 0
            for migration in all where migration.version > current {
                try db.executeScript(migration.sql)
                try db.execute("INSERT INTO schema_migrations (version) VALUES ($1)", [.int(migration.version)])
            }
        }
    }
}
