import Foundation
import Inference
import ModelSpec
import Numerics

/// Why a submission was refused.
public enum SubmitError: Error, Sendable {
    /// The body is not JSON (`400`).
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

    public init(workers: Int = ProcessInfo.processInfo.activeProcessorCount, queueCapacity: Int = 10_000,
                maxSteps: Int = 10_000_000, progressInterval: TimeInterval = 0.1) {
        self.workers = max(workers, 1); self.queueCapacity = queueCapacity; self.maxSteps = maxSteps
        self.progressInterval = progressInterval
    }
}

/// Accepts jobs, queues them in the store, and runs them on a pool of worker threads: each
/// worker claims the oldest queued job, compiles its spec, runs SVI with cancellation checked
/// every step, publishes progress to the job's event log, and stores the result or error.
public final class JobManager: @unchecked Sendable {
    // @unchecked: `logs` is guarded by `lock`; the store and logs are thread-safe; `running`
    // is written once at start and at shutdown under `lock`.
    public let store: any JobStore
    public let configuration: JobManagerConfiguration
    private let lock = NSLock()
    private var logs: [String: JobEventLog] = [:]
    /// Idempotency keys by (owner, key): the request digest and the job, or nil while the
    /// first submission is still being accepted.
    private var idempotency: [String: (digest: String, job: String?)] = [:]
    private let wake = DispatchSemaphore(value: 0)
    private var running = true
    private var threads: [Thread] = []

    /// Where job transitions are logged (nil: not logged).
    let log: LogSink?

    public init(store: any JobStore = MemoryJobStore(), configuration: JobManagerConfiguration = .init(), log: LogSink? = nil) {
        self.store = store
        self.configuration = configuration
        self.log = log
        for i in 0..<configuration.workers {
            let t = Thread { [weak self] in self?.workerLoop() }
            t.name = "sviserve-worker-\(i)"
            t.stackSize = 8 << 20
            threads.append(t)
            t.start()
        }
    }

    /// Stops the workers after their current job step (running jobs are cancelled).
    public func shutdown() {
        lock.lock(); running = false; lock.unlock()
        for _ in threads { wake.signal() }
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// The event log of a job (created on first use).
    public func events(for id: String) -> JobEventLog {
        lock.lock(); defer { lock.unlock() }
        if let l = logs[id] { return l }
        let l = JobEventLog()
        logs[id] = l
        return l
    }

    // MARK: Submission

    /// Submits with an `Idempotency-Key`: the same key and body return the original job
    /// (`created` false), the same key with another body is refused, and a retry while the
    /// first is still being accepted is told so.
    public func submit(_ spec: [UInt8], owner: String, idempotencyKey key: String) throws(SubmitError) -> (job: JobRecord, created: Bool) {
        let digest = Digest.sha256Hex(spec), slot = "\(owner)\u{0}\(key)"
        lock.lock()
        if let existing = idempotency[slot] {
            lock.unlock()
            guard existing.digest == digest else { throw .idempotencyMismatch }
            guard let id = existing.job, let job = try? store.get(id, owner: owner) else { throw .idempotencyInFlight }
            return (job, false)
        }
        idempotency[slot] = (digest, nil)
        lock.unlock()
        do {
            let job = try submit(spec, owner: owner)
            lock.lock(); idempotency[slot] = (digest, job.id); lock.unlock()
            return (job, true)
        } catch {
            lock.lock(); idempotency[slot] = nil; lock.unlock()
            throw error
        }
    }

    /// Validates and queues a spec for `owner`; the job is stored before this returns.
    public func submit(_ spec: [UInt8], owner: String) throws(SubmitError) -> JobRecord {
        let json: JSONValue
        do { json = try JSONParser.parse(spec) } catch { throw .malformed(error) }
        let decoded: JobSpec
        do {
            decoded = try SpecDecoder.decode(json)
            _ = try SpecCompiler.compile(decoded)
        } catch {
            throw .invalid(error.diagnostics)
        }
        guard decoded.inference.steps <= configuration.maxSteps else {
            throw .invalid([SpecDiagnostic(pointer: "/inference/steps", message: "steps \(decoded.inference.steps) exceed this service's limit of \(configuration.maxSteps)")])
        }
        guard store.queuedCount() < configuration.queueCapacity else { throw .queueFull(capacity: configuration.queueCapacity) }
        let record = JobRecord(id: UUID().uuidString.lowercased(), name: decoded.name, owner: owner, createdAt: Date(),
                               steps: decoded.inference.steps, specDigest: Digest.sha256Hex(spec), spec: spec)
        do { try store.create(record) } catch { throw .unavailable("\(error)") }
        events(for: record.id).append(.status, #"{"status":"queued"}"#)
        log?.write([("event", "job"), ("id", record.id), ("status", "queued"), ("name", record.name)])
        wake.signal()
        return record
    }

    /// Asks a job to stop; a queued job ends `cancelled` at once.
    public func cancel(_ id: String, owner: String) throws(JobStoreError) -> JobRecord {
        let before = try store.get(id, owner: owner)
        let after = try store.requestCancel(id, owner: owner)
        if before.status == .queued && after.status == .cancelled {
            events(for: id).append(.status, #"{"status":"cancelled"}"#)
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
        let log = events(for: job.id)
        log.append(.status, #"{"status":"running"}"#)
        self.log?.write([("event", "job"), ("id", job.id), ("status", "running")])
        let compiled: CompiledJob
        do {
            compiled = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(job.spec)))
        } catch {
            finish(job, log, .failed, nil, "the spec no longer compiles: \(error)")
            return
        }
        var smoothed: Double?
        var lastEmit = Date.distantPast
        let steps = compiled.inference.steps
        do {
            let result = try JobRunner.run(compiled, isCancelled: { [store] in store.isCancelRequested(job.id) || !self.isRunning }) { r in
                smoothed = smoothed.map { 0.9 * $0 + 0.1 * r.elbo } ?? r.elbo
                let progress = JobProgress(step: r.step, steps: steps, elbo: r.elbo, elboSmoothed: smoothed, gradNorm: r.gradientNorm, stepsPerSecond: nil)
                try? store.updateProgress(job.id, progress)
                let now = Date()
                if now.timeIntervalSince(lastEmit) >= configuration.progressInterval || r.step == steps {
                    lastEmit = now
                    log.append(.progress, Self.json(progress))
                }
            }
            finish(job, log, .succeeded, result, nil)
        } catch let .svi(.cancelled(step)) {
            finish(job, log, .cancelled, nil, "cancelled at step \(step)")
        } catch {
            finish(job, log, .failed, nil, "\(error)")
        }
    }

    private func finish(_ job: JobRecord, _ log: JobEventLog, _ status: JobStatus, _ result: JobResult?, _ error: String?) {
        try? store.finish(job.id, status: status, result: result, error: error)
        self.log?.write([("event", "job"), ("id", job.id), ("status", status.rawValue), ("error", error ?? "")])
        switch status {
        case .succeeded: log.append(.result, result.map(Self.json) ?? "{}")
        case .failed: log.append(.error, Self.json(["status": "failed", "error": error ?? ""]))
        default: log.append(.status, Self.json(["status": status.rawValue, "error": error ?? ""]))
        }
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
