import Foundation

/// One event of a job's stream (api.md): `status`, `progress`, `params`, `result`, `error`,
/// with an id that increases so a client can resume after the last one it saw.
public struct JobEvent: Equatable, Sendable {
    public enum Kind: String, Sendable { case status, progress, params, result, error }
    public let id: Int
    public let kind: Kind
    /// The event's data as compact JSON text.
    public let data: String

    /// Whether the stream ends after this event.
    public var isTerminal: Bool {
        kind == .result || kind == .error || (kind == .status && (data.contains("\"cancelled\"") || data.contains("\"failed\"")))
    }
}

/// The event log of one job, shared by the worker (which appends) and any number of readers.
/// Appending never waits for a reader; memory is bounded because only the newest
/// `keptProgress` progress events (and as many params events) are kept — a reader that falls behind skips to the newest
/// progress, never blocks the worker and never makes the log grow. Status, result and error
/// events are always kept (a job has a handful of them).
public final class JobEventLog: @unchecked Sendable {
    // @unchecked: `events`, `nextID` and `closed` are touched only while `condition` is locked.
    private let condition = NSCondition()
    private var events: [JobEvent] = []
    private var nextID = 1
    private var closed = false
    private var observers: [Int: @Sendable () -> Void] = [:]
    private var nextObserver = 0
    /// Progress events kept for late readers.
    public let keptProgress: Int

    /// - Parameter firstID: the first event's id (a job resumed after a restart continues
    ///   above the ids its earlier events had, so `Last-Event-ID` resumption still works).
    public init(keptProgress: Int = 64, firstID: Int = 1) { self.keptProgress = keptProgress; nextID = max(firstID, 1) }

    /// The newest event's id (0 before the first).
    public var lastID: Int { condition.lock(); defer { condition.unlock() }; return nextID - 1 }

    /// Ends the log without a terminal event (the service is stopping): readers get what is
    /// left and their streams close; a client reconnects later with `Last-Event-ID`.
    public func end() {
        condition.lock()
        closed = true
        condition.broadcast()
        let wake = observers.values
        condition.unlock()
        for w in wake { w() }
    }

    /// Appends an event (the worker's side; never blocks on readers).
    @discardableResult
    public func append(_ kind: JobEvent.Kind, _ data: String) -> JobEvent {
        condition.lock(); defer { condition.unlock() }
        return add(JobEvent(id: nextID, kind: kind, data: data))
    }

    /// Appends an event with the id another process gave it (a job followed through a shared
    /// store); one at or below the newest id is dropped, so ids only grow.
    public func append(replaying event: JobEvent) {
        condition.lock(); defer { condition.unlock() }
        guard event.id >= nextID, !closed else { return }
        add(event)
    }

    /// Makes the next event's id at least `id` (a job this process takes over continues above
    /// the ids its earlier holder may have given).
    public func advance(to id: Int) {
        condition.lock(); defer { condition.unlock() }
        nextID = max(nextID, id)
    }

    /// Appends `event` and wakes the readers; called with `condition` locked.
    @discardableResult
    private func add(_ event: JobEvent) -> JobEvent {
        let kind = event.kind
        nextID = event.id + 1
        events.append(event)
        if kind == .progress || kind == .params {
            let same = events.indices.filter { events[$0].kind == kind }
            if same.count > keptProgress { events.remove(at: same[0]) }
        }
        if event.isTerminal { closed = true }
        condition.broadcast()
        let wake = observers.values
        condition.unlock()
        for w in wake { w() }
        condition.lock()
        return event
    }

    /// Registers `wake`, called on the appending thread after every append until removed; it
    /// must only schedule work, never block. Returns the token that removes it.
    public func addObserver(_ wake: @escaping @Sendable () -> Void) -> Int {
        condition.lock(); defer { condition.unlock() }
        nextObserver += 1
        observers[nextObserver] = wake
        return nextObserver
    }

    /// Stops calling the observer registered under `token`.
    public func removeObserver(_ token: Int) {
        condition.lock(); defer { condition.unlock() }
        observers[token] = nil
    }

    /// Observers registered now (for tests: a finished or abandoned stream leaves none).
    public var observerCount: Int { condition.lock(); defer { condition.unlock() }; return observers.count }

    /// Where a reader that has seen the events up to `id` starts: an id past the newest event
    /// cannot have been seen (a stale or invented `Last-Event-ID`), so such a reader gets what
    /// comes next; a reader at or past the terminal event of a finished job gets that event
    /// again, so that every stream of a finished job ends with its terminal event rather than
    /// closing empty.
    public func cursor(resumingAfter id: Int) -> Int {
        condition.lock(); defer { condition.unlock() }
        if let last = events.last, last.isTerminal, id >= last.id { return last.id - 1 }
        return min(id, nextID - 1)
    }

    /// Events after `id`, waiting up to `timeout` seconds for one when there are none yet;
    /// `finished` says the log is closed and everything has been returned.
    public func events(after id: Int, waiting timeout: TimeInterval = 0) -> (events: [JobEvent], finished: Bool) {
        condition.lock(); defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while !closed && !events.contains(where: { $0.id > id }) && Date() < deadline {
            _ = condition.wait(until: deadline)
        }
        let newer = events.filter { $0.id > id }
        return (newer, closed && (newer.last.map { $0.id == nextID - 1 } ?? true))
    }

    /// Events held now (for tests and metrics).
    public var count: Int { condition.lock(); defer { condition.unlock() }; return events.count }
}
