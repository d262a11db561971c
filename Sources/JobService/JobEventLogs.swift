import Foundation
import HTTPServer
import ModelSpec

/// The event logs of the jobs this process has open, by job id: built on first use — a job
/// that ended in an earlier process gets its terminal event, a resumed one continues above its
/// saved event id — followed through a shared store while someone reads a job another replica
/// may run, and let go of a while after the job ends (a later reader builds it again from the
/// store), so memory stays bounded by the jobs running or read now.
final class JobEventLogs: Sendable {
    private struct State {
        var logs: [String: JobEventLog] = [:]
        /// Jobs whose logs are filled from a shared store's events (another replica may run them).
        var following: Set<String> = []
        /// The pollers of the followed jobs someone reads now, by job id.
        var followers: [String: any DispatchSourceTimer] = [:]
        /// False once the service stops: nothing is followed any more.
        var open = true

        /// Whether `log` is the followed log of job `id`.
        func follows(_ id: String, _ log: JobEventLog) -> Bool {
            open && following.contains(id) && logs[id] === log
        }
    }

    private let state = Locked(State())
    private let store: any JobStore
    private let configuration: JobManagerConfiguration

    init(store: any JobStore, configuration: JobManagerConfiguration) {
        self.store = store
        self.configuration = configuration
    }

    /// How far a resumed job's event ids jump: twice the progress events of the longest
    /// checkpoint interval, and at least 1,000.
    var eventIDGap: Int {
        let perInterval = configuration.checkpoint.seconds / max(configuration.progressInterval, 1e-3)
        return perInterval.isFinite ? max(1000, 2 * Int(min(perInterval, 1e9)) + 100) : 1_000_000_000
    }

    /// The log of `job`. With a shared store, a job that has not ended may run on another
    /// replica: its log is filled from the events that replica shares, with the ids it gave
    /// them, and — for a reader (`reading`), not for this replica's own run — kept filled.
    func log(of job: JobRecord, reading: Bool) -> JobEventLog {
        if let (open, followed) = state.withLock({ s in s.logs[job.id].map { ($0, s.following.contains(job.id)) } }) {
            if followed && reading { follow(job, into: open) }
            return open
        }
        let shared = store.sharesEvents && !job.status.isTerminal ? store.sharedEvents(of: job.id, after: 0) : nil
        let first = job.status.isTerminal ? job.lastEventID : (shared != nil ? 1 : (job.lastEventID > 0 ? job.lastEventID + eventIDGap : 1))
        let (log, fresh) = state.withLock { s in
            if let open = s.logs[job.id] { return (open, false) }
            let fresh = JobEventLog(firstID: first)
            s.logs[job.id] = fresh
            if shared != nil && reading { s.following.insert(job.id) }
            return (fresh, true)
        }
        guard fresh else { return log }
        if let shared {
            shared.forEach(log.append(replaying:))
            if reading { follow(job, into: log) }
        } else if job.status.isTerminal {
            log.append(Self.end(job.status, terminalResult(of: job), job.error))
        }
        return log
    }

    /// The log of a job just submitted, with its first event. With a shared store the job's
    /// first event is stored with it, and a reader's log is built from the store (any replica
    /// may run the job).
    func submitted(_ job: JobRecord) {
        guard !store.sharesEvents else { return }
        let log = JobEventLog()
        state.withLock { $0.logs[job.id] = log }
        log.append(.status(.queued))
    }

    /// The log of a job this process has claimed, with its `running` event; a log that was
    /// following the job through the store takes the store's newest events and stops following.
    func claimed(_ job: JobRecord) -> JobEventLog {
        let log = log(of: job, reading: false)
        state.withLock { _ = $0.following.remove(job.id) }
        // The events the job's earlier holder shared since this log last looked, so that its
        // readers get all of them before this run's, whose ids go above.
        if store.sharesEvents { store.sharedEvents(of: job.id, after: log.lastID).forEach(log.append(replaying:)) }
        // A run after a stopped one (a replica that died may have given ids it never shared):
        // above them, as after a restart.
        if store.sharesEvents && job.attempts > 1 { log.advance(to: max(job.lastEventID, log.lastID) + eventIDGap) }
        store.share(log, of: job.id)
        log.append(.status(.running))
        return log
    }

    /// A queued job was cancelled: an open log gets the job's end (a log built later from the
    /// store ends with it already).
    func cancelled(_ job: JobRecord) {
        if let open = state.withLock({ $0.logs[job.id] }) {
            open.append(Self.end(.cancelled, nil, job.error))
        } else {
            _ = log(of: job, reading: true)
        }
    }

    /// A job's terminal event: its result, its failure, or its final status.
    static func end(_ status: JobStatus, _ result: JobResult?, _ error: String?) -> JobEvent.Payload {
        switch status {
        case .succeeded: .result(result)
        case .failed: .failed(error ?? "")
        default: .status(status, reason: error ?? "")
        }
    }

    private func terminalResult(of job: JobRecord) -> JobResult? {
        job.status == .succeeded ? (try? store.result(job.id, owner: job.owner)) ?? nil : nil
    }

    /// A job that went back to the queue of a shared store may run next on another replica:
    /// its log here follows the store again while someone reads it.
    func handedBack(_ job: JobRecord, _ log: JobEventLog) {
        guard store.sharesEvents else { return }
        state.withLock { _ = $0.following.insert(job.id) }
        if log.observerCount > 0 { follow(job, into: log) }
    }

    /// Follows a job another replica may run, while someone reads it: every quarter second its
    /// newer shared events go into `log`, until the job ends (its terminal event, with the id
    /// its replica stored), is deleted, or this replica claims it. A log no stream has read for
    /// 5 s is let go of (the next reader builds it again from the store), so memory stays
    /// bounded by the jobs read now.
    private func follow(_ job: JobRecord, into log: JobEventLog) {
        // Made only once it will be resumed: libdispatch traps on freeing a suspended source.
        let timer: (any DispatchSourceTimer)? = state.withLock { s in
            guard s.followers[job.id] == nil else { return nil }
            let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
            s.followers[job.id] = timer
            return timer
        }
        guard let timer else { return }
        let ticksUnread = Locked(0)
        timer.schedule(deadline: .now() + 0.25, repeating: 0.25)
        timer.setEventHandler { [weak self, weak log] in
            guard let self else { return timer.cancel() }
            let unread = ticksUnread.withLock { count in
                count = (log?.observerCount ?? 0) == 0 ? count + 1 : 0
                return count
            }
            if let log, unread < 20, self.state.withLock({ $0.follows(job.id, log) }), !self.pull(job, into: log) { return }
            self.state.withLock { s in
                s.followers[job.id] = nil
                if unread >= 20, let log, s.following.contains(job.id), s.logs[job.id] === log {
                    s.following.remove(job.id)
                    s.logs[job.id] = nil
                }
            }
            timer.cancel()
        }
        timer.resume()
    }

    /// Appends the store's newer events of a followed job; at its end, its terminal event.
    /// Returns whether following is over.
    private func pull(_ job: JobRecord, into log: JobEventLog) -> Bool {
        store.sharedEvents(of: job.id, after: log.lastID).forEach(log.append(replaying:))
        let now: JobRecord
        do { now = try store.get(job.id, owner: job.owner) } catch .notFound { log.end(); return true } catch { return false }
        guard now.status.isTerminal else { return false }
        store.sharedEvents(of: job.id, after: log.lastID).forEach(log.append(replaying:))
        log.append(replaying: JobEvent(id: max(now.lastEventID, log.lastID + 1), payload: Self.end(now.status, terminalResult(of: now), now.error)))
        state.withLock { _ = $0.following.remove(job.id) }
        forgetLater(job.id)
        return true
    }

    /// Lets go of the logs of `ids` now.
    func forget(_ ids: [String]) {
        state.withLock { s in
            for id in ids { s.logs[id] = nil }
        }
    }

    /// Lets go of a finished job's log after a while (its terminal event keeps its id when the
    /// log is rebuilt from the store).
    func forgetLater(_ id: String) {
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + configuration.finishedLogLifetime) { [weak self] in
            self?.forget([id])
        }
    }

    /// The service is stopping: no job is followed through the store any more.
    func stopFollowing() {
        state.withLock { $0.open = false }
    }

    /// The service has stopped: every open log ends without a terminal event (its readers'
    /// streams close; clients reconnect later with `Last-Event-ID`).
    func endAll() {
        state.withLock { Array($0.logs.values) }.forEach { $0.end() }
    }
}
