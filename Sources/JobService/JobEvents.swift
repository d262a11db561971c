import HTTPServer
import JSON
import ModelSpec

/// One event of a job's stream (api.md), with an id that increases so a client can resume
/// after the last one it saw. Its payload is typed; it becomes JSON text only where it leaves
/// the service (``JobEvent/Payload/text``: the stream writers, a shared store's events table).
public struct JobEvent: Equatable, Sendable {
    /// The event's name on the wire (SSE `event:`, NDJSON `"event"`).
    public enum Kind: String, Sendable { case status, progress, params, result, error }

    /// What an event says.
    public enum Payload: Equatable, Sendable {
        /// The job's status changed: queued (again after a stopped worker, with why), running,
        /// or — its end — cancelled, with the reason when there is one.
        case status(JobStatus, reason: String? = nil)
        /// A progress report (`progress`).
        case progress(JobProgress)
        /// The running posterior and params (`params`).
        case snapshot(JobSnapshot)
        /// The job's result, its end (`result`; `{}` when the store has none).
        case result(JobResult?)
        /// The job failed, its end (`error`), with the reason.
        case failed(String)
    }

    public let id: Int
    public let payload: Payload

    public init(id: Int, payload: Payload) {
        self.id = id
        self.payload = payload
    }

    /// The event's name on the wire.
    public var kind: Kind {
        switch payload {
        case .status: .status
        case .progress: .progress
        case .snapshot: .params
        case .result: .result
        case .failed: .error
        }
    }

    /// Whether the stream ends after this event: the job's result, its failure, or a status
    /// that ends it.
    public var isTerminal: Bool {
        switch payload {
        case .result, .failed: true
        case let .status(status, _): status.isTerminal
        case .progress, .snapshot: false
        }
    }
}

extension JobEvent.Payload {
    /// The event's data as compact JSON text (api.md): `{"status":…}` with `"error"` when
    /// there is a reason, `{"error":…,"status":"failed"}`, and the progress, snapshot and
    /// result objects.
    public var text: String {
        switch self {
        case let .status(status, reason): Self.statusText(status, reason)
        case let .failed(reason): Self.statusText(.failed, reason)
        case let .progress(progress): Representations.jsonText(progress)
        case let .snapshot(snapshot): Representations.jsonText(snapshot)
        case let .result(result): result.map(Representations.jsonText) ?? "{}"
        }
    }

    private static func statusText(_ status: JobStatus, _ reason: String?) -> String {
        var object = JSONObject()
        if let reason { object["error"] = .string(reason) }
        object["status"] = .string(status.rawValue)
        return object.serialized()
    }

    /// Reads back the ``text`` of an event of `kind` (events another process stored); nil
    /// when it is not one.
    public init?(kind: JobEvent.Kind, text: String) {
        let bytes = Array(text.utf8)
        switch kind {
        case .status, .error:
            guard let object = try? JSONParser.parse(bytes, limits: JSONValueDecoder.ownText).asObject,
                  let status = object["status"]?.asString.flatMap(JobStatus.init(rawValue:)) else { return nil }
            let reason = object["error"]?.asString
            self = kind == .error ? .failed(reason ?? "") : .status(status, reason: reason)
        case .progress:
            guard let progress = try? Representations.decode(JobProgress.self, bytes) else { return nil }
            self = .progress(progress)
        case .params:
            guard let snapshot = try? Representations.decode(JobSnapshot.self, bytes) else { return nil }
            self = .snapshot(snapshot)
        case .result:
            self = .result(try? Representations.decode(JobResult.self, bytes))
        }
    }
}

/// The event log of one job, shared by the worker slot (which appends) and any number of
/// readers. Appending never waits for a reader; memory is bounded because only the newest
/// `keptProgress` progress events (and as many params events) are kept — a reader that falls
/// behind skips to the newest progress, never blocks the worker and never makes the log grow.
/// Status, result and error events are always kept (a job has a handful of them). Readers do
/// not wait on the log: they register an observer that the log calls after each append.
public final class JobEventLog: Sendable {
    private struct State {
        var events: [JobEvent] = []
        var nextID = 1
        var closed = false
        var observers: [Int: @Sendable () -> Void] = [:]
        var nextObserver = 0

        /// Adds `event` (its id at or above `nextID`), dropping the oldest progress or params
        /// event past `kept`.
        mutating func add(_ event: JobEvent, keeping kept: Int) {
            nextID = event.id + 1
            events.append(event)
            let kind = event.kind
            if kind == .progress || kind == .params {
                let same = events.indices.filter { events[$0].kind == kind }
                if same.count > kept { events.remove(at: same[0]) }
            }
            if event.isTerminal { closed = true }
        }
    }

    private let state: Locked<State>
    /// Progress events kept for late readers.
    public let keptProgress: Int

    /// - Parameter firstID: the first event's id (a job resumed after a restart continues
    ///   above the ids its earlier events had, so `Last-Event-ID` resumption still works).
    public init(keptProgress: Int = 64, firstID: Int = 1) {
        self.keptProgress = keptProgress
        state = Locked(State(nextID: max(firstID, 1)))
    }

    /// The newest event's id (0 before the first).
    public var lastID: Int { state.withLock { $0.nextID - 1 } }

    /// Ends the log without a terminal event (the service is stopping): readers get what is
    /// left and their streams close; a client reconnects later with `Last-Event-ID`.
    public func end() {
        wake(state.withLock { state in
            state.closed = true
            return Array(state.observers.values)
        })
    }

    /// Appends an event (the worker slot's side; never blocks on readers).
    @discardableResult
    public func append(_ payload: JobEvent.Payload) -> JobEvent {
        let (event, observers) = state.withLock { state in
            let event = JobEvent(id: state.nextID, payload: payload)
            state.add(event, keeping: keptProgress)
            return (event, Array(state.observers.values))
        }
        wake(observers)
        return event
    }

    /// Appends an event with the id another process gave it (a job followed through a shared
    /// store); one at or below the newest id is dropped, so ids only grow.
    public func append(replaying event: JobEvent) {
        wake(state.withLock { state in
            guard event.id >= state.nextID, !state.closed else { return [] }
            state.add(event, keeping: keptProgress)
            return Array(state.observers.values)
        })
    }

    /// Makes the next event's id at least `id` (a job this process takes over continues above
    /// the ids its earlier holder may have given).
    public func advance(to id: Int) {
        state.withLock { $0.nextID = max($0.nextID, id) }
    }

    /// Calls the observers registered when an event was added, outside the lock.
    private func wake(_ observers: [@Sendable () -> Void]) {
        for wake in observers { wake() }
    }

    /// Registers `wake`, called on the appending thread after every append until removed; it
    /// must only schedule work, never block. Returns the token that removes it.
    public func addObserver(_ wake: @escaping @Sendable () -> Void) -> Int {
        state.withLock { state in
            state.nextObserver += 1
            state.observers[state.nextObserver] = wake
            return state.nextObserver
        }
    }

    /// Stops calling the observer registered under `token`.
    public func removeObserver(_ token: Int) {
        state.withLock { $0.observers[token] = nil }
    }

    /// Observers registered now (for tests: a finished or abandoned stream leaves none).
    public var observerCount: Int { state.withLock { $0.observers.count } }

    /// Where a reader that has seen the events up to `id` starts: an id past the newest event
    /// cannot have been seen (a stale or invented `Last-Event-ID`), so such a reader gets what
    /// comes next; a reader at or past the terminal event of a finished job gets that event
    /// again, so that every stream of a finished job ends with its terminal event rather than
    /// closing empty.
    public func cursor(resumingAfter id: Int) -> Int {
        state.withLock { state in
            if let last = state.events.last, last.isTerminal, id >= last.id { return last.id - 1 }
            return min(id, state.nextID - 1)
        }
    }

    /// Events after `id`; `finished` says the log is closed and everything has been returned.
    public func events(after id: Int) -> (events: [JobEvent], finished: Bool) {
        state.withLock { state in
            let newer = state.events.filter { $0.id > id }
            return (newer, state.closed && (newer.last.map { $0.id == state.nextID - 1 } ?? true))
        }
    }

    /// Events held now (for tests and metrics).
    public var count: Int { state.withLock { $0.events.count } }
}
