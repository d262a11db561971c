import Foundation
import HTTPServer
import JSON
import ModelSpec

/// Accepts jobs: parses, resolves the jobs a spec names, decodes and compiles it (in one of a
/// bounded number of validation slots) before storing it, so `202` is only ever sent for a
/// stored job that can run; refuses past the queue's and the key's limits; and makes a
/// submission with an `Idempotency-Key` happen once.
final class JobSubmissions: Sendable {
    /// Idempotency keys being accepted now, by (owner, key), with the request digest.
    private let admitting = Locked<[String: String]>([:])
    /// The validation slots (``JobManagerConfiguration/concurrentValidations``).
    private let validating: DispatchSemaphore
    private let store: any JobStore
    private let configuration: JobManagerConfiguration
    private let logs: JobEventLogs
    private let pool: WorkerPool
    /// Where job transitions are logged (nil: not logged).
    private let log: LogSink?

    init(store: any JobStore, configuration: JobManagerConfiguration, logs: JobEventLogs, pool: WorkerPool, log: LogSink?) {
        self.store = store
        self.configuration = configuration
        self.logs = logs
        self.pool = pool
        self.log = log
        validating = DispatchSemaphore(value: max(1, configuration.concurrentValidations))
    }

    /// Submits with an `Idempotency-Key`: the same key and body return the original job
    /// (`created` false) — also after a restart, since the key is stored with the job — the
    /// same key with another body is refused, and a retry while the first is still being
    /// accepted is told so.
    func submit(_ spec: [UInt8], owner: String, idempotencyKey key: String) throws(SubmitError) -> (job: JobRecord, created: Bool) {
        let digest = Digest.sha256Hex(spec), slot = "\(owner)\u{0}\(key)"
        func existing() throws(SubmitError) -> JobRecord? {
            let found: (requestDigest: String, job: JobRecord)?
            do { found = try store.idempotentJob(owner: owner, key: key) } catch { throw .unavailable(error.message) }
            guard let found else { return nil }
            guard found.requestDigest == digest else { throw .idempotencyMismatch }
            return found.job
        }
        if let job = try existing() { return (job, false) }
        let other = admitting.withLock { admitting -> String? in
            if let other = admitting[slot] { return other }
            admitting[slot] = digest
            return nil
        }
        if let other { throw other == digest ? .idempotencyInFlight : .idempotencyMismatch }
        defer { admitting.withLock { _ = $0.removeValue(forKey: slot) } }
        do {
            return (try submit(spec, owner: owner, idempotency: IdempotencyRecord(key: key, requestDigest: digest)), true)
        } catch .unavailable(let reason) {
            if let job = try existing() { return (job, false) }
            throw .unavailable(reason)
        }
    }

    /// Validates and queues a spec for `owner`; the job is stored before this returns.
    func submit(_ spec: [UInt8], owner: String) throws(SubmitError) -> JobRecord {
        try submit(spec, owner: owner, idempotency: nil)
    }

    private func submit(_ spec: [UInt8], owner: String, idempotency: IdempotencyRecord?) throws(SubmitError) -> JobRecord {
        guard pool.isRunning else { throw .unavailable("the service is shutting down") }
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
        guard store.queuedCount(owner: nil, upTo: configuration.queueCapacity) < configuration.queueCapacity else { throw .queueFull(capacity: configuration.queueCapacity) }
        guard configuration.maxQueuedPerOwner == .max || store.queuedCount(owner: owner, upTo: configuration.maxQueuedPerOwner) < configuration.maxQueuedPerOwner else {
            throw .ownerQueueFull(capacity: configuration.maxQueuedPerOwner)
        }
        var record = JobRecord(id: UUID().uuidString.lowercased(), name: decoded.name, owner: owner, createdAt: Date(),
                               steps: decoded.inference.steps, specDigest: Digest.sha256Hex(spec), spec: stored)
        record.tags = decoded.tags
        do { try store.create(record, idempotency: idempotency) } catch { throw .unavailable(error.message) }
        logs.submitted(record)
        log?.write([("event", "job"), ("id", record.id), ("status", "queued"), ("name", record.name)])
        pool.signal()
        return record
    }

    /// Compiles `spec` under the service's validation limits, in one of the validation slots.
    func compile(_ spec: JobSpec) throws(SubmitError) -> CompiledJob {
        guard validating.wait(timeout: .now() + configuration.validationWait) == .success else {
            throw .busy("the service is validating \(configuration.concurrentValidations) specs at once; retry shortly")
        }
        defer { validating.signal(); ServerMemory.releaseFreePages() }
        do { return try SpecCompiler.compile(spec, limits: configuration.validationLimits) } catch { throw .invalid(error.diagnostics) }
    }

    /// The spec with the jobs it names by id (same owner) replaced by their numbers.
    func resolve(_ json: JSONValue, owner: String) throws(SubmitError) -> JSONValue {
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
}
