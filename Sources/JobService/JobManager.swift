import Foundation
import Inference
import Synchronization
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
    /// The idempotency key was used with a different body (`422`).
    case idempotencyMismatch
    /// A submission with this idempotency key is still being accepted (`409`).
    case idempotencyInFlight
    /// The store refused (`503`).
    case unavailable(String)
}

/// Settings of the job runner.
public struct JobManagerConfiguration: Sendable {
    /// Worker threads (default: one per core).
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
    /// The resource bounds specs are validated against (a job's memory, constants, folding).
    public var validationLimits = ValidationLimits.standard

    public init(workers: Int = ProcessInfo.processInfo.activeProcessorCount, queueCapacity: Int = 10_000,
                maxSteps: Int = 10_000_000, progressInterval: TimeInterval = 0.1, checkpoint: CheckpointPolicy = .init(),
                retention: TimeInterval = 7 * 86_400, retentionSweep: TimeInterval = 60, finishedLogLifetime: TimeInterval = 60) {
        self.workers = max(workers, 1); self.queueCapacity = queueCapacity; self.maxSteps = maxSteps
        self.progressInterval = progressInterval; self.checkpoint = checkpoint
        self.retention = retention; self.retentionSweep = retentionSweep; self.finishedLogLifetime = finishedLogLifetime
    }
}

/// How a running job is asked to stop: read by its worker before every step, so it is one
/// atomic load rather than a lock and a dictionary lookup.
final class StopSignal: Sendable {
    private let state = Atomic<UInt8>(0)
    /// Asks the job to end without a result.
    func cancel() { state.store(1, ordering: .releasing) }
    /// Asks the job to end with a checkpoint (unless it is being cancelled).
    func suspend() { _ = state.compareExchange(expected: 0, desired: 2, ordering: .releasing) }
    /// What the worker should do now.
    var request: StopRequest? {
        switch state.load(ordering: .acquiring) {
        case 1: .cancel
        case 2: .suspend
        default: nil
        }
    }
}

/// Accepts jobs, queues them in the store, and runs them on a pool of worker threads: each
/// worker claims the oldest queued job, compiles its spec, continues it from its checkpoint
/// when it has one, runs SVI with cancellation checked every step, checkpoints it as the
/// configuration says, publishes progress to the job's event log, and stores the result or
/// error. On start it requeues the jobs an earlier process left running; on shutdown it
/// checkpoints the running jobs so the next process continues them.
public final class JobManager: @unchecked Sendable {
    // @unchecked: `logs`, `admitting`, `running`, `suspended`, `stops` are guarded by
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
    /// The stop signals of the jobs running now.
    private var stops: [String: StopSignal] = [:]
    private let workersDone = DispatchGroup()
    private var sweeper: (any DispatchSourceTimer)?

    /// Where job transitions are logged (nil: not logged).
    let log: LogSink?

    /// Starts the workers after requeueing the jobs a previous process left running.
    public init(store: any JobStore = MemoryJobStore(), configuration: JobManagerConfiguration = .init(), log: LogSink? = nil) {
        self.store = store
        self.configuration = configuration
        self.log = log
        do {
            for job in try store.recoverInterrupted() {
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
        stops.values.forEach { $0.suspend() }
        lock.unlock()
        sweeper?.cancel()
        for _ in 0..<configuration.workers { wake.signal() }
        _ = workersDone.wait(timeout: .now() + timeout)
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
    public func events(for job: JobRecord) -> JobEventLog {
        lock.lock()
        if let l = logs[job.id] { lock.unlock(); return l }
        let first = job.status.isTerminal ? job.lastEventID : (job.lastEventID > 0 ? job.lastEventID + eventIDGap : 1)
        let fresh = JobEventLog(firstID: first)
        logs[job.id] = fresh
        lock.unlock()
        if job.status.isTerminal {
            let result = job.status == .succeeded ? (try? store.result(job.id, owner: job.owner)) ?? nil : nil
            Self.appendEnd(to: fresh, job.status, result, job.error)
        }
        return fresh
    }

    /// Appends a job's terminal event: its result, its error, or its final status.
    static func appendEnd(to log: JobEventLog, _ status: JobStatus, _ result: JobResult?, _ error: String?) {
        switch status {
        case .succeeded: log.append(.result, result.map(Representations.jsonText) ?? "{}")
        case .failed: log.append(.error, Representations.jsonText(["status": "failed", "error": error ?? ""]))
        default: log.append(.status, Representations.jsonText(["status": status.rawValue, "error": error ?? ""]))
        }
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
        do {
            decoded = try SpecDecoder.decode(json)
            _ = try SpecCompiler.compile(decoded, limits: configuration.validationLimits)
        } catch {
            throw .invalid(error.diagnostics)
        }
        guard decoded.inference.steps <= configuration.maxSteps else {
            throw .invalid([SpecDiagnostic(pointer: "/inference/steps", message: "steps \(decoded.inference.steps) exceed this service's limit of \(configuration.maxSteps)")])
        }
        guard store.queuedCount() < configuration.queueCapacity else { throw .queueFull(capacity: configuration.queueCapacity) }
        var record = JobRecord(id: UUID().uuidString.lowercased(), name: decoded.name, owner: owner, createdAt: Date(),
                               steps: decoded.inference.steps, specDigest: Digest.sha256Hex(spec), spec: stored)
        record.tags = decoded.tags
        do { try store.create(record, idempotency: idempotency) } catch { throw .unavailable(error.message) }
        let events = JobEventLog()
        lock.lock(); logs[record.id] = events; lock.unlock()
        events.append(.status, #"{"status":"queued"}"#)
        log?.write([("event", "job"), ("id", record.id), ("status", "queued"), ("name", record.name)])
        wake.signal()
        return record
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
            events(for: after).append(.status, #"{"status":"cancelled"}"#)
        }
        if after.cancelRequested {
            lock.lock(); stops[id]?.cancel(); lock.unlock()
        }
        return after
    }

    // MARK: Workers

    private func workerLoop() {
        LinearAlgebra.configureThreads(1)
        while isRunning {
            guard let job = try? store.claimNext() else {
                _ = wake.wait(timeout: .now() + 0.5)
                continue
            }
            run(job)
        }
    }

    private func run(_ job: JobRecord) {
        let log = events(for: job)
        log.append(.status, #"{"status":"running"}"#)
        let compiled: CompiledJob
        do {
            compiled = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(job.spec)), limits: configuration.validationLimits)
        } catch {
            finish(job, log, .failed, nil, "the spec no longer compiles: \(error)")
            return
        }
        let resume = restoredCheckpoint(job)
        self.log?.write([("event", "job"), ("id", job.id), ("status", "running"), ("from_step", resume?.step ?? 0)])
        var smoothed: Double?
        var lastEmit = Date.distantPast, lastSnapshot = Date.distantPast
        let live = LiveSnapshot(compiled)
        let steps = compiled.inference.steps
        let started = Date(), firstStep = resume?.step ?? 0
        let signal = StopSignal()
        lock.lock()
        stops[job.id] = signal
        if !running { signal.suspend() }
        lock.unlock()
        if store.isCancelRequested(job.id) { signal.cancel() }
        defer { lock.lock(); stops[job.id] = nil; lock.unlock() }
        do {
            var transport: TransportProgress?
            let result = try JobRunner.run(compiled, from: resume, policy: configuration.checkpoint, checkpoint: { c in
                save(c, of: job, log)
            }, stop: { signal.request }, transport: { transport = $0 }) { r in
                smoothed = smoothed.map { 0.9 * $0 + 0.1 * r.elbo } ?? r.elbo
                let now = Date()
                let rate = Double(r.step - firstStep) / max(now.timeIntervalSince(started), 1e-3)
                var progress = JobProgress(step: r.step, steps: steps, elbo: r.elbo, elboSmoothed: smoothed, gradNorm: r.gradientNorm, stepsPerSecond: rate)
                try? store.updateProgress(job.id, progress)
                // W₂ is computed on thinned report steps; those progress events always go out.
                let measured = transport?.step == r.step
                if measured { progress.transport = transport?.distances }
                if measured || now.timeIntervalSince(lastEmit) >= configuration.progressInterval || r.step == steps {
                    lastEmit = now
                    log.append(.progress, Representations.jsonText(progress))
                }
                live.observe()
                if now.timeIntervalSince(lastSnapshot) >= configuration.paramsInterval || r.step == steps {
                    lastSnapshot = now
                    log.append(.params, live.event(step: r.step))
                }
            }
            finish(job, log, .succeeded, result, nil)
        } catch let .suspended(c) {
            // Stopped before its first step here: nothing new to save (a resumed job keeps its
            // earlier checkpoint); the next process takes it from the queue like any other.
            if c.step > firstStep {
                save(c, of: job, log)
                lock.lock(); suspended.append(job.id); lock.unlock()
            }
            self.log?.write([("event", "job"), ("id", job.id), ("status", "suspended"), ("checkpoint_step", c.step)])
            log.end()
        } catch let .svi(.cancelled(step)) {
            finish(job, log, .cancelled, nil, "cancelled at step \(step)")
        } catch {
            finish(job, log, .failed, nil, "\(error)")
        }
    }

    /// The job's checkpoint, when it has a usable one (an unreadable one is logged and the job
    /// starts again from step 0, which gives the same result).
    private func restoredCheckpoint(_ job: JobRecord) -> RunCheckpoint? {
        do {
            guard let stored = try store.checkpoint(of: job.id) else { return nil }
            return try JSONDecoder().decode(RunCheckpoint.self, from: Data(stored.state))
        } catch {
            self.log?.write([("event", "checkpoint_unusable"), ("id", job.id), ("error", "\(error)")])
            return nil
        }
    }

    private func save(_ checkpoint: RunCheckpoint, of job: JobRecord, _ log: JobEventLog) {
        guard let bytes = try? JSONEncoder().encode(checkpoint) else { return }
        do {
            try store.saveCheckpoint(job.id, StoredCheckpoint(step: checkpoint.step, state: Array(bytes), lastEventID: log.lastID))
        } catch {
            self.log?.write([("event", "checkpoint_failed"), ("id", job.id), ("step", checkpoint.step), ("error", "\(error)")])
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
        // A finished job's log is rebuilt from the store on demand (its terminal event keeps
        // its id), so the manager lets go of it: memory stays bounded by the jobs running now.
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + configuration.finishedLogLifetime) { [weak self] in
            self?.forgetLogs([job.id])
        }
    }
}
