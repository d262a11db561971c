import Foundation
import HTTPServer
import Inference
import JSON
import ModelSpec
import Numerics

/// Why a submission was refused.
public enum SubmitError: Error, Sendable {
    /// The body is not JSON (`400`), or passes one of the JSON reader's limits (`413` for its
    /// size, `422` for the others).
    case malformed(JSONParseError)
    /// The spec cannot run (`422`), with every problem found.
    case invalid([SpecDiagnostic])
    /// The queue is full (`429`).
    case queueFull(capacity: Int)
    /// This key has as many jobs queued as one key may (`429`).
    case ownerQueueFull(capacity: Int)
    /// The idempotency key was used with a different body (`422`).
    case idempotencyMismatch
    /// A submission with this idempotency key is still being accepted (`409`).
    case idempotencyInFlight
    /// The store refused (`503`).
    case unavailable(String)
    /// Every validation slot stayed taken while the request waited (`503`, retry shortly).
    case busy(String)
}

/// Settings of the job runner.
public struct JobManagerConfiguration: Sendable {
    /// Jobs run at once, each in its own worker process (default: one per core).
    public var workers: Int
    /// Queued jobs accepted before submissions get `429`.
    public var queueCapacity: Int
    /// Steps a job may ask for.
    public var maxSteps: Int
    /// Minimum time between two progress events of one job.
    public var progressInterval: TimeInterval
    /// Minimum time between two params events (estimators, running posterior moments, params) of one job.
    public var paramsInterval: TimeInterval = 1
    /// How often a running job is checkpointed (default: 10,000 steps or 10 s).
    public var checkpoint: CheckpointPolicy
    /// How long finished jobs are kept (default 7 days).
    public var retention: TimeInterval
    /// How often jobs past their retention are removed.
    public var retentionSweep: TimeInterval
    /// How long a finished job's event log stays in memory (later readers get it rebuilt from
    /// the store).
    public var finishedLogLifetime: TimeInterval
    /// The program each job runs in (default: this executable's `worker` command).
    public var worker: WorkerCommand
    /// The most seconds of training a job may take (`--max-job-seconds`, default 24 h); a
    /// spec's `max_seconds` can only lower it. Its worker's CPU time, and its wall time, are
    /// bounded by this plus a tenth (at least a minute) for compiling and summarising.
    public var maxJobSeconds: Double
    /// Address space a worker process takes before any job — code, libraries, BLAS buffers,
    /// thread stacks (measured near 270 MiB) — added to every job's estimate. Default 512 MiB.
    public var workerOverheadBytes: Int
    /// How long a cancelled job's worker has to stop before it is killed. Default 5 s.
    public var cancelGrace: TimeInterval
    /// Worker stops after which a job is failed instead of retried (default 3).
    public var maxWorkerStops: Int
    /// Specs compiled at once to validate them (submissions and `/v1/validate`; default: one
    /// per two cores). Each may build up to ``ValidationLimits/maxGraphBytes`` of graph, so this
    /// bounds the memory validation takes in the server: a request beyond it waits for a slot,
    /// up to ``validationWait`` seconds, then gets `503`.
    public var concurrentValidations: Int = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
    /// How long a request waits for a validation slot. Default 30 s.
    public var validationWait: TimeInterval = 30
    /// Jobs one API key may have running at once (default: every worker); a key at its limit
    /// waits while other keys' jobs take the free workers.
    public var maxRunningPerOwner: Int
    /// Jobs one API key may have queued (default: the whole queue); past it its submissions
    /// get `429`.
    public var maxQueuedPerOwner: Int
    /// The resource bounds specs are validated against (a job's memory, constants, folding).
    public var validationLimits = ValidationLimits.standard

    public init(workers: Int = ProcessInfo.processInfo.activeProcessorCount, queueCapacity: Int = 10_000,
                maxSteps: Int = 10_000_000, progressInterval: TimeInterval = 0.1, checkpoint: CheckpointPolicy = .init(),
                retention: TimeInterval = 7 * 86_400, retentionSweep: TimeInterval = 60, finishedLogLifetime: TimeInterval = 60,
                worker: WorkerCommand = .current, maxJobSeconds: Double = 86_400,
                workerOverheadBytes: Int = 512 << 20, cancelGrace: TimeInterval = 5, maxWorkerStops: Int = JobStops.maxAttempts,
                maxRunningPerOwner: Int = .max, maxQueuedPerOwner: Int = .max) {
        self.workers = max(workers, 1); self.queueCapacity = queueCapacity; self.maxSteps = maxSteps
        self.progressInterval = progressInterval; self.checkpoint = checkpoint
        self.retention = retention; self.retentionSweep = retentionSweep; self.finishedLogLifetime = finishedLogLifetime
        self.worker = worker; self.maxJobSeconds = maxJobSeconds
        self.workerOverheadBytes = workerOverheadBytes; self.cancelGrace = cancelGrace; self.maxWorkerStops = max(1, maxWorkerStops)
        self.maxRunningPerOwner = max(1, maxRunningPerOwner); self.maxQueuedPerOwner = max(1, maxQueuedPerOwner)
    }

    /// The address space a worker starts under: the overhead and the largest admissible job
    /// (``validationLimits``), with a quarter more; the worker lowers it to its own job's
    /// estimate once compiled.
    var workerMemoryCap: Int {
        let (job, overflow) = validationLimits.maxJobBytes.multipliedReportingOverflow(by: 5)
        return overflow ? Int.max / 2 : workerOverheadBytes &+ job / 4
    }

    /// Wall and CPU seconds a worker may take: the job's training time, plus a tenth (at least a
    /// minute) for compiling, checkpointing and summarising.
    var workerSeconds: Int {
        // At most about 31 years, which a Dispatch deadline can still hold in nanoseconds.
        let seconds = maxJobSeconds + max(60, maxJobSeconds / 10)
        return seconds.isFinite && seconds < 1e9 ? Int(seconds) : 1_000_000_000
    }
}

/// Accepts jobs, queues them in the store, and runs each in its own worker process (see
/// ``JobWorker``): a slot claims the oldest queued job, starts a worker under kernel limits,
/// hands it the spec and the job's checkpoint from the store, saves the checkpoints and
/// progress the worker sends back, and stores its end. A worker that traps, passes its memory
/// or CPU limit or is killed fails nothing but its job's attempt: the job goes back to the
/// queue to continue from its checkpoint, and after three such stops (crashes of the service
/// while it ran included) it is failed with the reason. On start it requeues the jobs an
/// earlier process left running; on shutdown it has the running jobs checkpointed and handed
/// back so the next process continues them.
public final class JobManager: @unchecked Sendable {
    // @unchecked: `logs`, `admitting`, `running`, `suspended`, `active` are guarded by
    // `lock`; the store and logs are thread-safe.
    public let store: any JobStore
    public let configuration: JobManagerConfiguration
    private let lock = NSLock()
    private var logs: [String: JobEventLog] = [:]
    /// Idempotency keys being accepted now, by (owner, key), with the request digest.
    private var admitting: [String: String] = [:]
    private let wake = DispatchSemaphore(value: 0)
    /// False once shutdown began: no new work, and running jobs are suspended.
    private var running = true
    private var suspended: [String] = []
    /// The jobs running now, in their workers.
    private var active: [String: RunningJob] = [:]
    /// Jobs claimed and not yet ended, by owner (for the per-key running limit).
    private var runningByOwner: [String: Int] = [:]
    /// The owner whose job was claimed last: the next claim goes to the next owner after it
    /// (round robin), so one key's long queue cannot hold back another key's jobs.
    private var lastServed: String?
    /// Jobs whose logs are filled from a shared store's events (another replica may run them).
    private var following: Set<String> = []
    /// The pollers of the followed jobs someone reads now, by job id.
    private var followers: [String: any DispatchSourceTimer] = [:]
    /// Claims are made one at a time, so the per-key running limit holds.
    private let claiming = NSLock()
    /// The validation slots (``JobManagerConfiguration/concurrentValidations``).
    private let validating: DispatchSemaphore
    private let workersDone = DispatchGroup()
    private var sweeper: (any DispatchSourceTimer)?

    /// Where job transitions are logged (nil: not logged).
    let log: LogSink?

    /// Starts the workers after requeueing the jobs a previous process left running.
    public init(store: any JobStore = MemoryJobStore(), configuration: JobManagerConfiguration = .init(), log: LogSink? = nil) {
        self.store = store
        self.configuration = configuration
        self.log = log
        validating = DispatchSemaphore(value: max(1, configuration.concurrentValidations))
        do {
            for job in try store.recoverInterrupted(maxAttempts: configuration.maxWorkerStops) {
                log?.write([("event", "job"), ("id", job.id), ("status", "queued"), ("resumed_from_step", job.progress.step)])
            }
        } catch {
            log?.write([("event", "recovery_failed"), ("error", "\(error)")])
        }
        for i in 0..<configuration.workers {
            workersDone.enter()
            let t = Thread { [weak self] in
                self?.workerLoop()
                self?.workersDone.leave()
            }
            t.name = "sviserve-worker-\(i)"
            t.stackSize = 8 << 20
            t.start()
        }
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + configuration.retentionSweep, repeating: configuration.retentionSweep)
        timer.setEventHandler { [weak self] in self?.removeExpired() }
        timer.resume()
        sweeper = timer
    }

    /// Stops the workers: each running job is checkpointed after its current step and left to
    /// the next process. Waits up to `timeout` seconds for them and returns the ids of the jobs
    /// checkpointed.
    @discardableResult
    public func shutdown(timeout: TimeInterval = 20) -> [String] {
        lock.lock()
        running = false
        active.values.forEach { $0.suspend() }
        lock.unlock()
        sweeper?.cancel()
        for _ in 0..<configuration.workers { wake.signal() }
        if workersDone.wait(timeout: .now() + timeout) == .timedOut {
            // Workers that did not suspend in time are killed; their jobs stay running in the
            // store, and the next process continues them from their last checkpoint.
            lock.lock(); let late = Array(active.values); lock.unlock()
            late.forEach { $0.kill(.shutdown) }
            _ = workersDone.wait(timeout: .now() + 5)
        }
        lock.lock()
        let open = Array(logs.values), checkpointed = suspended
        lock.unlock()
        open.forEach { $0.end() }
        return checkpointed
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// The event log of a job (created on first use). A job that ended in an earlier process
    /// gets its terminal event, and a resumed one continues above its saved event id by more
    /// than the events one checkpoint interval can hold, so a client resuming with
    /// `Last-Event-ID` never has an id repeated or skipped.
    public func events(for job: JobRecord) -> JobEventLog { log(of: job, reading: true) }

    /// The log of `job`. With a shared store, a job that has not ended may run on another
    /// replica: its log is filled from the events that replica shares, with the ids it gave
    /// them, and — for a reader (`reading`), not for this replica's own run — kept filled.
    private func log(of job: JobRecord, reading: Bool) -> JobEventLog {
        lock.lock()
        if let l = logs[job.id] {
            let followed = following.contains(job.id)
            lock.unlock()
            if followed && reading { follow(job, into: l) }
            return l
        }
        lock.unlock()
        let shared = store.sharesEvents && !job.status.isTerminal ? store.sharedEvents(of: job.id, after: 0) : nil
        lock.lock()
        if let l = logs[job.id] { lock.unlock(); return l }
        let first = job.status.isTerminal ? job.lastEventID : (shared != nil ? 1 : (job.lastEventID > 0 ? job.lastEventID + eventIDGap : 1))
        let fresh = JobEventLog(firstID: first)
        logs[job.id] = fresh
        if shared != nil && reading { following.insert(job.id) }
        lock.unlock()
        if let shared {
            shared.forEach(fresh.append(replaying:))
            if reading { follow(job, into: fresh) }
        } else if job.status.isTerminal {
            let result = job.status == .succeeded ? (try? store.result(job.id, owner: job.owner)) ?? nil : nil
            Self.appendEnd(to: fresh, job.status, result, job.error)
        }
        return fresh
    }

    /// Appends a job's terminal event: its result, its error, or its final status.
    static func appendEnd(to log: JobEventLog, _ status: JobStatus, _ result: JobResult?, _ error: String?) {
        log.append(endEvent(status, result, error))
    }

    /// A job's terminal event.
    static func endEvent(_ status: JobStatus, _ result: JobResult?, _ error: String?) -> JobEvent.Payload {
        switch status {
        case .succeeded: .result(result)
        case .failed: .failed(error ?? "")
        default: .status(status, reason: error ?? "")
        }
    }

    /// Follows a job another replica may run, while someone reads it: every quarter second its
    /// newer shared events go into `log`, until the job ends (its terminal event, with the id
    /// its replica stored), is deleted, or this replica claims it. A log no stream has read for
    /// 5 s is let go of (the next reader builds it again from the store), so memory stays
    /// bounded by the jobs read now.
    private func follow(_ job: JobRecord, into log: JobEventLog) {
        lock.lock()
        guard followers[job.id] == nil else { lock.unlock(); return }
        // Made only once it will be resumed: libdispatch traps on freeing a suspended source.
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        followers[job.id] = timer
        lock.unlock()
        let ticksUnread = Locked(0)
        timer.schedule(deadline: .now() + 0.25, repeating: 0.25)
        timer.setEventHandler { [weak self, weak log] in
            guard let self else { return timer.cancel() }
            let unread = ticksUnread.withLock { count in
                count = (log?.observerCount ?? 0) == 0 ? count + 1 : 0
                return count
            }
            if let log, unread < 20, self.isFollowing(job.id, log), !self.pull(job, into: log) { return }
            self.lock.lock()
            self.followers[job.id] = nil
            if unread >= 20, let log, self.following.contains(job.id), self.logs[job.id] === log {
                self.following.remove(job.id)
                self.logs[job.id] = nil
            }
            self.lock.unlock()
            timer.cancel()
        }
        timer.resume()
    }

    private func isFollowing(_ id: String, _ log: JobEventLog) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return running && following.contains(id) && logs[id] === log
    }

    /// Appends the store's newer events of a followed job; at its end, its terminal event.
    /// Returns whether following is over.
    private func pull(_ job: JobRecord, into log: JobEventLog) -> Bool {
        store.sharedEvents(of: job.id, after: log.lastID).forEach(log.append(replaying:))
        let now: JobRecord
        do { now = try store.get(job.id, owner: job.owner) } catch .notFound { log.end(); return true } catch { return false }
        guard now.status.isTerminal else { return false }
        store.sharedEvents(of: job.id, after: log.lastID).forEach(log.append(replaying:))
        let result = now.status == .succeeded ? (try? store.result(job.id, owner: job.owner)) ?? nil : nil
        log.append(replaying: JobEvent(id: max(now.lastEventID, log.lastID + 1), payload: Self.endEvent(now.status, result, now.error)))
        lock.lock(); following.remove(job.id); lock.unlock()
        forgetLater(job.id)
        return true
    }

    /// How far a resumed job's event ids jump: twice the progress events of the longest
    /// checkpoint interval, and at least 1,000.
    var eventIDGap: Int {
        let perInterval = configuration.checkpoint.seconds / max(configuration.progressInterval, 1e-3)
        return perInterval.isFinite ? max(1000, 2 * Int(min(perInterval, 1e9)) + 100) : 1_000_000_000
    }

    private func forgetLogs(_ ids: [String]) {
        lock.lock(); defer { lock.unlock() }
        for id in ids { logs[id] = nil }
    }

    /// Removes finished jobs past their retention (and their event logs).
    public func removeExpired(now: Date = Date()) {
        guard let removed = try? store.removeFinished(before: now.addingTimeInterval(-configuration.retention)), !removed.isEmpty else { return }
        forgetLogs(removed)
        log?.write([("event", "retention"), ("removed", String(removed.count))])
    }

    /// Forgets a finished job and its event log.
    public func delete(_ id: String, owner: String) throws(JobStoreError) {
        try store.delete(id, owner: owner)
        forgetLogs([id])
    }

    // MARK: Submission

    /// Submits with an `Idempotency-Key`: the same key and body return the original job
    /// (`created` false) — also after a restart, since the key is stored with the job — the
    /// same key with another body is refused, and a retry while the first is still being
    /// accepted is told so.
    public func submit(_ spec: [UInt8], owner: String, idempotencyKey key: String) throws(SubmitError) -> (job: JobRecord, created: Bool) {
        let digest = Digest.sha256Hex(spec), slot = "\(owner)\u{0}\(key)"
        func existing() throws(SubmitError) -> JobRecord? {
            let found: (requestDigest: String, job: JobRecord)?
            do { found = try store.idempotentJob(owner: owner, key: key) } catch { throw .unavailable(error.message) }
            guard let found else { return nil }
            guard found.requestDigest == digest else { throw .idempotencyMismatch }
            return found.job
        }
        if let job = try existing() { return (job, false) }
        lock.lock()
        if let other = admitting[slot] {
            lock.unlock()
            throw other == digest ? .idempotencyInFlight : .idempotencyMismatch
        }
        admitting[slot] = digest
        lock.unlock()
        defer { lock.lock(); admitting[slot] = nil; lock.unlock() }
        do {
            return (try submit(spec, owner: owner, idempotency: IdempotencyRecord(key: key, requestDigest: digest)), true)
        } catch .unavailable(let reason) {
            if let job = try existing() { return (job, false) }
            throw .unavailable(reason)
        }
    }

    /// Validates and queues a spec for `owner`; the job is stored before this returns.
    public func submit(_ spec: [UInt8], owner: String) throws(SubmitError) -> JobRecord {
        try submit(spec, owner: owner, idempotency: nil)
    }

    private func submit(_ spec: [UInt8], owner: String, idempotency: IdempotencyRecord?) throws(SubmitError) -> JobRecord {
        guard isRunning else { throw .unavailable("the service is shutting down") }
        var json: JSONValue
        do { json = try JSONParser.parse(spec) } catch { throw .malformed(error) }
        // Jobs named by id (init_from, transport references) are read now and their numbers
        // stored in the spec, so the job never depends on another job again.
        var stored = spec
        if SpecResolver.namesJobs(json) {
            json = try resolve(json, owner: owner)
            stored = Array(json.serialized().utf8)
            do { json = try JSONParser.parse(stored) } catch { throw .malformed(error) }
        }
        let decoded: JobSpec
        do { decoded = try SpecDecoder.decode(json) } catch { throw .invalid(error.diagnostics) }
        _ = try compile(decoded)
        guard decoded.inference.steps <= configuration.maxSteps else {
            throw .invalid([SpecDiagnostic(pointer: "/inference/steps", message: "steps \(decoded.inference.steps) exceed this service's limit of \(configuration.maxSteps)")])
        }
        guard store.queuedCount() < configuration.queueCapacity else { throw .queueFull(capacity: configuration.queueCapacity) }
        guard configuration.maxQueuedPerOwner == .max || store.queuedByOwner()[owner, default: 0] < configuration.maxQueuedPerOwner else {
            throw .ownerQueueFull(capacity: configuration.maxQueuedPerOwner)
        }
        var record = JobRecord(id: UUID().uuidString.lowercased(), name: decoded.name, owner: owner, createdAt: Date(),
                               steps: decoded.inference.steps, specDigest: Digest.sha256Hex(spec), spec: stored)
        record.tags = decoded.tags
        do { try store.create(record, idempotency: idempotency) } catch { throw .unavailable(error.message) }
        // With a shared store the job's first event is stored with it, and a reader's log is
        // built from the store (any replica may run the job).
        if !store.sharesEvents {
            let events = JobEventLog()
            lock.lock(); logs[record.id] = events; lock.unlock()
            events.append(.status(.queued))
        }
        log?.write([("event", "job"), ("id", record.id), ("status", "queued"), ("name", record.name)])
        wake.signal()
        return record
    }

    /// Compiles `spec` under the service's validation limits, in one of the validation slots.
    public func compile(_ spec: JobSpec) throws(SubmitError) -> CompiledJob {
        guard validating.wait(timeout: .now() + configuration.validationWait) == .success else {
            throw .busy("the service is validating \(configuration.concurrentValidations) specs at once; retry shortly")
        }
        defer { validating.signal(); ServerMemory.releaseFreePages() }
        do { return try SpecCompiler.compile(spec, limits: configuration.validationLimits) } catch { throw .invalid(error.diagnostics) }
    }

    /// The spec with the jobs it names by id (same owner) replaced by their numbers.
    public func resolve(_ json: JSONValue, owner: String) throws(SubmitError) -> JSONValue {
        do {
            return try SpecResolver.resolve(json) { id in
                guard let job = try? store.get(id, owner: owner) else { return .missing }
                guard job.status == .succeeded, let result = try? store.result(id, owner: owner) else { return .unfinished(job.status.rawValue) }
                return .succeeded(result)
            }
        } catch {
            throw .invalid(error.diagnostics)
        }
    }

    /// Asks a job to stop; a queued job ends `cancelled` at once.
    public func cancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        let before = try store.get(id, owner: owner)
        let after = try store.requestCancel(id, owner: owner)
        if before.status == .queued && after.status == .cancelled {
            lock.lock(); let open = logs[id]; lock.unlock()
            // A log built now from the store ends with the job's cancellation already.
            if let open { Self.appendEnd(to: open, .cancelled, nil, after.error) } else { _ = events(for: after) }
        }
        if after.cancelRequested {
            lock.lock(); let job = active[id]; lock.unlock()
            job?.cancel(grace: configuration.cancelGrace)
        }
        return after
    }

    // MARK: Workers

    private func workerLoop() {
        while isRunning {
            guard let job = claim() else {
                _ = wake.wait(timeout: .now() + 0.5)
                continue
            }
            run(job)
            lock.lock()
            runningByOwner[job.owner, default: 1] -= 1
            if runningByOwner[job.owner] == 0 { runningByOwner[job.owner] = nil }
            lock.unlock()
            // A worker is free, and an owner at its limit may have one job fewer running.
            wake.signal()
        }
    }

    /// The next job to run: the oldest queued job of the next owner, in turn after the last
    /// one served, among the owners below their running limit.
    private func claim() -> JobRecord? {
        claiming.lock(); defer { claiming.unlock() }
        let owners = store.queuedByOwner().keys.sorted()
        guard !owners.isEmpty else { return nil }
        lock.lock()
        let eligible = owners.filter { runningByOwner[$0, default: 0] < configuration.maxRunningPerOwner }
        let last = lastServed
        lock.unlock()
        let after = eligible.filter { owner in last.map { owner > $0 } ?? true }
        for next in after + eligible.filter({ !after.contains($0) }) {
            guard let job = try? store.claimNext(owner: next) else { continue }
            lock.lock()
            lastServed = next
            runningByOwner[next, default: 0] += 1
            lock.unlock()
            return job
        }
        return nil
    }

    /// Runs `job` in a new worker process to its end (or its hand-back).
    private func run(_ job: JobRecord) {
        let log = log(of: job, reading: false)
        lock.lock(); following.remove(job.id); lock.unlock()
        // A run after a stopped one (a replica that died may have given ids it never shared):
        // above them, as after a restart.
        if store.sharesEvents && job.attempts > 1 { log.advance(to: max(job.lastEventID, log.lastID) + eventIDGap) }
        store.share(log, of: job.id)
        log.append(.status(.running))
        let checkpoint: StoredCheckpoint?
        do { checkpoint = try store.checkpoint(of: job.id) } catch {
            self.log?.write([("event", "checkpoint_unusable"), ("id", job.id), ("error", error.message)])
            checkpoint = nil
        }
        self.log?.write([("event", "job"), ("id", job.id), ("status", "running"), ("from_step", checkpoint?.step ?? 0), ("attempt", job.attempts)])
        let worker: WorkerProcess
        let spawned = DispatchTime.now().uptimeNanoseconds
        do {
            worker = try WorkerProcess(configuration.worker, memoryBytes: configuration.workerMemoryCap, cpuSeconds: configuration.workerSeconds)
        } catch {
            // Not the job's fault: it goes back to the queue, and this slot waits before trying again.
            self.log?.write([("event", "worker_unavailable"), ("id", job.id), ("error", error.description)])
            log.append(.status(.queued))
            try? store.release(job.id)
            handedBack(job, log)
            Thread.sleep(forTimeInterval: 1)
            return
        }
        let handle = RunningJob(id: job.id, worker: worker)
        lock.lock()
        active[job.id] = handle
        let stopping = !running
        lock.unlock()
        defer { lock.lock(); active[job.id] = nil; lock.unlock() }

        let assignment = WorkerAssignment(
            jobID: job.id, spec: Base64Bytes(job.spec), checkpoint: checkpoint.map { Base64Bytes($0.state) },
            checkpointSteps: configuration.checkpoint.steps, checkpointSeconds: configuration.checkpoint.seconds,
            progressInterval: configuration.progressInterval, paramsInterval: configuration.paramsInterval,
            limits: WorkerAssignment.Limits(configuration.validationLimits), maxJobSeconds: configuration.maxJobSeconds,
            memoryOverhead: configuration.workerOverheadBytes, memoryCap: configuration.workerMemoryCap)
        worker.channel.send(.assignment(Data(Representations.json(assignment))))
        if stopping { handle.suspend() }
        if store.isCancelRequested(job.id) { handle.cancel(grace: configuration.cancelGrace) }
        let seconds = configuration.workerSeconds
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) { [weak handle] in handle?.kill(.timeLimit) }

        var memoryLimit = configuration.workerMemoryCap
        // The process's start-up (spawn to the compiled job, less compiling) and tear-down
        // (its last message to its end), logged with the job's end: the cost of isolation.
        var startup: Double?
        var ended: UInt64?
        var end: WorkerMessage?
        // A cancel asked through another replica (a shared store) reaches this one through the
        // store's flag, read with each progress report.
        var cancelForwarded = false
        receiving: while true {
            let message: WorkerMessage?
            do { message = try worker.channel.receive(maxPayload: memoryLimit) } catch {
                handle.kill(.protocolError("the worker sent \(error == .malformed ? "a malformed message" : "a message larger than its memory limit")"))
                break
            }
            switch message {
            case nil:
                break receiving
            case .compiled(let bytes, let compiling)?:
                memoryLimit = bytes
                startup = Double(Int(DispatchTime.now().uptimeNanoseconds - spawned) - compiling) / 1e6
            case .progress(let data)?:
                guard let progress = try? Representations.decode(JobProgress.self, data) else { continue }
                try? store.updateProgress(job.id, progress)
                log.append(.progress(progress))
                if !cancelForwarded && store.isCancelRequested(job.id) {
                    cancelForwarded = true
                    handle.cancel(grace: configuration.cancelGrace)
                }
            case .params(let data)?:
                guard let snapshot = try? Representations.decode(JobSnapshot.self, data) else { continue }
                log.append(.snapshot(snapshot))
            case .checkpoint(let step, let state)?:
                save(StoredCheckpoint(step: step, state: Array(state), lastEventID: log.lastID), of: job)
            case .note(let data)?:
                let fields = (try? Representations.decode([String: String].self, data)) ?? [:]
                self.log?.write(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value as Any) })
            case .result?, .failed?, .cancelled?, .suspended?:
                end = message
                ended = DispatchTime.now().uptimeNanoseconds
                break receiving
            case .assignment?, .cancel?, .suspend?:
                handle.kill(.protocolError("the worker sent a message only the server sends"))
                break receiving
            }
        }
        let exit = handle.reap()
        if let startup, let ended {
            self.log?.write([("event", "worker"), ("id", job.id), ("start_ms", startup),
                             ("exit_ms", Double(DispatchTime.now().uptimeNanoseconds - ended) / 1e6), ("cpu_seconds", exit.cpuSeconds)])
        }
        switch end {
        case .result(let data)?:
            if let result = try? Representations.decode(JobResult.self, data) {
                finish(job, log, .succeeded, result, nil)
            } else {
                finish(job, log, .failed, nil, "the worker's result could not be read")
            }
        case .failed(let reason)?:
            finish(job, log, .failed, nil, reason)
        case .cancelled(let reason)?:
            finish(job, log, .cancelled, nil, reason)
        case .suspended(let step, let state)?:
            if let state {
                save(StoredCheckpoint(step: step, state: Array(state), lastEventID: log.lastID), of: job)
                lock.lock(); suspended.append(job.id); lock.unlock()
            }
            try? store.release(job.id)
            self.log?.write([("event", "job"), ("id", job.id), ("status", "suspended"), ("checkpoint_step", step)])
            log.end()
        default:
            switch handle.killed {
            case .cancel?:
                finish(job, log, .cancelled, nil, "cancelled; its worker did not stop within \(Int(configuration.cancelGrace)) s and was killed")
            case .shutdown?:
                self.log?.write([("event", "job"), ("id", job.id), ("status", "interrupted"), ("error", "its worker did not suspend in time and was killed")])
                log.end()
            case .timeLimit?:
                finish(job, log, .failed, nil, "the job passed the service's limit of \(seconds) s per job (--max-job-seconds) and its worker was killed")
            case .protocolError(let reason)?:
                workerStopped(job, log, reason, exit)
            case nil:
                workerStopped(job, log, exit.reason(memoryLimit: memoryLimit, cpuLimit: seconds), exit)
            }
        }
    }

    /// A worker that stopped without ending its job: the job goes back to the queue to continue
    /// from its checkpoint, or is failed once it has stopped its workers too often.
    private func workerStopped(_ job: JobRecord, _ events: JobEventLog, _ reason: String, _ exit: WorkerExit) {
        log?.write([("event", "worker_stopped"), ("id", job.id), ("attempt", job.attempts), ("reason", reason),
                    ("stderr", String(exit.stderr.suffix(1024)))])
        var delay = 0.05
        while true {
            do {
                let after = try store.recordStop(job.id, reason: reason, maxAttempts: configuration.maxWorkerStops)
                if after.status == .failed {
                    log?.write([("event", "job"), ("id", job.id), ("status", "failed"), ("error", after.error ?? "")])
                    Self.appendEnd(to: events, .failed, nil, after.error)
                    forgetLater(job.id)
                } else {
                    let retry = "\(reason); the job continues from its last checkpoint (attempt \(job.attempts + 1) of \(configuration.maxWorkerStops))"
                    events.append(.status(.queued, reason: retry))
                    handedBack(job, events)
                    wake.signal()
                }
                return
            } catch .unavailable(let message) {
                log?.write([("event", "stop_retry"), ("id", job.id), ("error", message)])
                guard isRunning else { events.end(); return }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 2)
            } catch {
                return
            }
        }
    }

    private func save(_ checkpoint: StoredCheckpoint, of job: JobRecord) {
        do {
            try store.saveCheckpoint(job.id, checkpoint)
        } catch {
            self.log?.write([("event", "checkpoint_failed"), ("id", job.id), ("step", checkpoint.step), ("error", error.message)])
        }
    }

    /// Stores the job's end, retrying while the store is unavailable (a full disk): a result is
    /// never dropped. If the service stops first, the job stays `running` in the store and the
    /// next process recomputes the same result from its checkpoint.
    private func finish(_ job: JobRecord, _ log: JobEventLog, _ status: JobStatus, _ result: JobResult?, _ error: String?) {
        var delay = 0.05
        while true {
            do {
                try store.finish(job.id, status: status, result: result, error: error, lastEventID: log.lastID + 1)
                break
            } catch .conflict(let reason) {
                // A shared store's fencing: this replica's lease ran out and the job was
                // requeued or taken over, so its end is not this replica's to write.
                self.log?.write([("event", "finish_refused"), ("id", job.id), ("error", reason)])
                log.end()
                forgetLogs([job.id])
                return
            } catch .unavailable(let reason) {
                self.log?.write([("event", "finish_retry"), ("id", job.id), ("error", reason)])
                guard isRunning else { log.end(); return }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 2)
            } catch {
                break
            }
        }
        self.log?.write([("event", "job"), ("id", job.id), ("status", status.rawValue), ("error", error ?? "")])
        Self.appendEnd(to: log, status, result, error)
        forgetLater(job.id)
    }

    /// A job that went back to the queue of a shared store may run next on another replica:
    /// its log here follows the store again while someone reads it.
    private func handedBack(_ job: JobRecord, _ log: JobEventLog) {
        guard store.sharesEvents else { return }
        lock.lock(); following.insert(job.id); lock.unlock()
        if log.observerCount > 0 { follow(job, into: log) }
    }

    /// A finished job's log is rebuilt from the store on demand (its terminal event keeps its
    /// id), so the manager lets go of it after a while: memory stays bounded by the jobs
    /// running now.
    private func forgetLater(_ id: String) {
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + configuration.finishedLogLifetime) { [weak self] in
            self?.forgetLogs([id])
        }
    }
}
