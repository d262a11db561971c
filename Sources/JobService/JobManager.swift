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

/// The job service's engine room, in three parts with one job each: ``JobSubmissions``
/// (validation, queue limits, idempotency), ``WorkerPool`` (the worker slots: claims, worker
/// processes, checkpoints, ends) and ``JobEventLogs`` (each job's event log). On start it
/// requeues the jobs an earlier process left running; on shutdown it has the running jobs
/// checkpointed and handed back so the next process continues them; a timer removes finished
/// jobs past their retention.
public final class JobManager: @unchecked Sendable {
    // @unchecked: `sweeper` is set once in init; the parts are thread-safe.
    public let store: any JobStore
    public let configuration: JobManagerConfiguration
    private let logs: JobEventLogs
    private let submissions: JobSubmissions
    private let pool: WorkerPool
    private var sweeper: (any DispatchSourceTimer)?

    /// Where job transitions are logged (nil: not logged).
    let log: LogSink?

    /// Starts the workers after requeueing the jobs a previous process left running.
    public init(store: any JobStore = MemoryJobStore(), configuration: JobManagerConfiguration = .init(), log: LogSink? = nil) {
        self.store = store
        self.configuration = configuration
        self.log = log
        logs = JobEventLogs(store: store, configuration: configuration)
        pool = WorkerPool(store: store, configuration: configuration, logs: logs, log: log)
        submissions = JobSubmissions(store: store, configuration: configuration, logs: logs, pool: pool, log: log)
        do {
            for job in try store.recoverInterrupted(maxAttempts: configuration.maxWorkerStops) {
                log?.write([("event", "job"), ("id", job.id), ("status", "queued"), ("resumed_from_step", job.progress.step)])
            }
        } catch {
            log?.write([("event", "recovery_failed"), ("error", "\(error)")])
        }
        pool.start()
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
        logs.stopFollowing()
        sweeper?.cancel()
        let checkpointed = pool.stop(timeout: timeout)
        logs.endAll()
        return checkpointed
    }

    /// The event log of a job (created on first use). A job that ended in an earlier process
    /// gets its terminal event, and a resumed one continues above its saved event id by more
    /// than the events one checkpoint interval can hold, so a client resuming with
    /// `Last-Event-ID` never has an id repeated or skipped.
    public func events(for job: JobRecord) -> JobEventLog { logs.log(of: job, reading: true) }

    /// Removes finished jobs past their retention (and their event logs).
    public func removeExpired(now: Date = Date()) {
        guard let removed = try? store.removeFinished(before: now.addingTimeInterval(-configuration.retention)), !removed.isEmpty else { return }
        logs.forget(removed)
        log?.write([("event", "retention"), ("removed", String(removed.count))])
    }

    /// Forgets a finished job and its event log.
    public func delete(_ id: String, owner: String) throws(JobStoreError) {
        try store.delete(id, owner: owner)
        logs.forget([id])
    }

    // MARK: Submission

    /// Submits with an `Idempotency-Key`: the same key and body return the original job
    /// (`created` false) — also after a restart, since the key is stored with the job — the
    /// same key with another body is refused, and a retry while the first is still being
    /// accepted is told so.
    public func submit(_ spec: [UInt8], owner: String, idempotencyKey key: String) throws(SubmitError) -> (job: JobRecord, created: Bool) {
        try submissions.submit(spec, owner: owner, idempotencyKey: key)
    }

    /// Validates and queues a spec for `owner`; the job is stored before this returns.
    public func submit(_ spec: [UInt8], owner: String) throws(SubmitError) -> JobRecord {
        try submissions.submit(spec, owner: owner)
    }

    /// Compiles `spec` under the service's validation limits, in one of the validation slots.
    public func compile(_ spec: JobSpec) throws(SubmitError) -> CompiledJob {
        try submissions.compile(spec)
    }

    /// The spec with the jobs it names by id (same owner) replaced by their numbers.
    public func resolve(_ json: JSONValue, owner: String) throws(SubmitError) -> JSONValue {
        try submissions.resolve(json, owner: owner)
    }

    /// Asks a job to stop; a queued job ends `cancelled` at once.
    public func cancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        let before = try store.get(id, owner: owner)
        let after = try store.requestCancel(id, owner: owner)
        if before.status == .queued && after.status == .cancelled { logs.cancelled(after) }
        if after.cancelRequested { pool.cancel(id) }
        return after
    }
}
