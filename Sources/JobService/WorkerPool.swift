import Foundation
import HTTPServer
import ModelSpec

/// The worker slots: each of ``JobManagerConfiguration/workers`` threads claims a queued job
/// (round robin over the API keys with queued jobs, each below its running limit), runs it in
/// a new worker process (``JobWorker``) under kernel limits, hands it the spec and the job's
/// checkpoint from the store, saves the checkpoints and progress the worker sends back, and
/// stores its end. A worker that traps, passes its memory or CPU limit or is killed fails
/// nothing but its job's attempt: the job goes back to the queue to continue from its
/// checkpoint, and after ``JobManagerConfiguration/maxWorkerStops`` such stops it is failed
/// with the reason. On ``stop(timeout:)`` the running jobs are checkpointed and handed back.
final class WorkerPool: @unchecked Sendable {
    // @unchecked: every mutable field is in `state` (a `Locked`); the semaphore and group are
    // thread-safe.
    private struct State {
        /// False once shutdown began: no new work, and running jobs are suspended.
        var running = true
        /// The jobs running now, in their workers.
        var active: [String: RunningJob] = [:]
        /// Jobs claimed and not yet ended, by owner (for the per-key running limit).
        var runningByOwner: [String: Int] = [:]
        /// The owner whose job was claimed last: the next claim goes to the next owner after it
        /// (round robin), so one key's long queue cannot hold back another key's jobs.
        var lastServed: String?
        /// Jobs checkpointed and handed back at shutdown.
        var suspended: [String] = []
    }

    private let state = Locked(State())
    /// Held while claiming, so claims are made one at a time and the per-key running limit holds.
    private let claiming = Locked(())
    private let wake = DispatchSemaphore(value: 0)
    private let workersDone = DispatchGroup()
    private let store: any JobStore
    private let configuration: JobManagerConfiguration
    private let logs: JobEventLogs
    /// Where job transitions are logged (nil: not logged).
    private let log: LogSink?

    init(store: any JobStore, configuration: JobManagerConfiguration, logs: JobEventLogs, log: LogSink?) {
        self.store = store
        self.configuration = configuration
        self.logs = logs
        self.log = log
    }

    /// Starts the slots' threads.
    func start() {
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
    }

    /// False once shutdown began.
    var isRunning: Bool { state.withLock { $0.running } }

    /// A job was queued (or a slot freed): a waiting slot looks at the queue now.
    func signal() { wake.signal() }

    /// Suspends every running job (its worker checkpoints after its current step and the job is
    /// left to the next process), waits up to `timeout` seconds for the slots, kills the workers
    /// that did not suspend in time, and returns the ids of the jobs checkpointed.
    func stop(timeout: TimeInterval) -> [String] {
        state.withLock { s in
            s.running = false
            s.active.values.forEach { $0.suspend() }
        }
        for _ in 0..<configuration.workers { wake.signal() }
        if workersDone.wait(timeout: .now() + timeout) == .timedOut {
            // Their jobs stay running in the store, and the next process continues them from
            // their last checkpoint.
            state.withLock { Array($0.active.values) }.forEach { $0.kill(.shutdown) }
            _ = workersDone.wait(timeout: .now() + 5)
        }
        return state.withLock { $0.suspended }
    }

    /// Sends the running job `id` its cancel (nothing if it does not run here).
    func cancel(_ id: String) {
        state.withLock { $0.active[id] }?.cancel(grace: configuration.cancelGrace)
    }

    private func workerLoop() {
        while isRunning {
            guard let job = claim() else {
                _ = wake.wait(timeout: .now() + 0.5)
                continue
            }
            run(job)
            state.withLock { s in
                s.runningByOwner[job.owner, default: 1] -= 1
                if s.runningByOwner[job.owner] == 0 { s.runningByOwner[job.owner] = nil }
            }
            // A worker is free, and an owner at its limit may have one job fewer running.
            wake.signal()
        }
    }

    /// The next job to run: the oldest queued job of the next owner, in turn after the last
    /// one served, among the owners below their running limit.
    private func claim() -> JobRecord? {
        claiming.withLock { _ in
            // The owners with queued jobs in turn, from the one after the last served, wrapping
            // around once (a probe from the first owner has nothing to wrap to); an owner at its
            // running limit here is passed over.
            func following(_ owner: String?) -> String? {
                store.nextQueuedOwner(after: owner) ?? (owner == nil ? nil : store.nextQueuedOwner(after: nil))
            }
            var tried: Set<String> = []
            var owner = following(state.withLock { $0.lastServed })
            while let next = owner, tried.insert(next).inserted {
                let eligible = state.withLock { $0.runningByOwner[next, default: 0] < configuration.maxRunningPerOwner }
                if eligible, let job = try? store.claimNext(owner: next) {
                    state.withLock { s in
                        s.lastServed = next
                        s.runningByOwner[next, default: 0] += 1
                    }
                    return job
                }
                owner = following(next)
            }
            return nil
        }
    }

    /// Runs `job` in a new worker process to its end (or its hand-back).
    private func run(_ job: JobRecord) {
        let log = logs.claimed(job)
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
            logs.handedBack(job, log)
            Thread.sleep(forTimeInterval: 1)
            return
        }
        let handle = RunningJob(id: job.id, worker: worker)
        let stopping = state.withLock { s in
            s.active[job.id] = handle
            return !s.running
        }
        defer { state.withLock { _ = $0.active.removeValue(forKey: job.id) } }

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
                if !store.holdsLease(job.id) {
                    handle.kill(.leaseLost)
                    break receiving
                }
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
                self.state.withLock { $0.suspended.append(job.id) }
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
            case .leaseLost?:
                // Nothing is written for the job: it is no longer this replica's. Its readers
                // here follow it through the store to its next holder.
                self.log?.write([("event", "job"), ("id", job.id), ("status", "lease_lost")])
                store.abandon(job.id)
                logs.handedBack(job, log)
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
                    events.append(JobEventLogs.end(.failed, nil, after.error))
                    logs.forgetLater(job.id)
                } else {
                    let retry = "\(reason); the job continues from its last checkpoint (attempt \(job.attempts + 1) of \(configuration.maxWorkerStops))"
                    events.append(.status(.queued, reason: retry))
                    logs.handedBack(job, events)
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
                logs.forget([job.id])
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
        log.append(JobEventLogs.end(status, result, error))
        logs.forgetLater(job.id)
    }
}
