import Foundation
import HTTPServer

/// Delivers one job's event log to one streaming client (SSE or NDJSON) without holding a
/// thread: the log wakes the stream after each append, and the stream drains everything newer
/// than its cursor on its own serial queue as one write, so a burst of events costs one pass
/// and any number of open streams costs no threads. A `: ping` comment every 15 s keeps
/// proxies from closing an SSE stream of a quiet job. The stream ends after the terminal
/// event, or when the client goes away or falls more than the writer's buffer behind.
final class JobEventStream: @unchecked Sendable {
    // @unchecked: `cursor`, `token`, `timer` and `ended` are confined to `queue`.
    private let log: JobEventLog
    private let writer: ResponseWriter
    private let ndjson: Bool
    private let queue = DispatchQueue(label: "sviserve.event-stream")
    /// Whether a drain is scheduled and has not started yet (wakes in between add nothing).
    private let wakePending = Locked(false)
    private var cursor: Int
    private var token: Int?
    private var timer: (any DispatchSourceTimer)?
    private var ended = false

    static let pingInterval: DispatchTimeInterval = .seconds(15)

    init(log: JobEventLog, after: Int, ndjson: Bool, writer: ResponseWriter) {
        self.log = log; self.cursor = log.cursor(resumingAfter: after); self.ndjson = ndjson; self.writer = writer
    }

    /// Starts delivering; the stream keeps itself alive (through the log's observer) until it ends.
    func start() {
        queue.async { [self] in
            token = log.addObserver { [self] in wake() }
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.schedule(deadline: .now() + Self.pingInterval, repeating: Self.pingInterval)
            t.setEventHandler { [self] in if !ended && !writer.write(ndjson ? "" : ": ping\n\n") { end() } }
            t.resume()
            timer = t
            writer.onTermination { [self] _ in queue.async { self.end() } }
            drain()
        }
    }

    private func wake() {
        let schedule = wakePending.withLock { pending in
            defer { pending = true }
            return !pending
        }
        if schedule { queue.async { [self] in drain() } }
    }

    private func drain() {
        wakePending.withLock { $0 = false }
        guard !ended else { return }
        let (batch, finished) = log.events(after: cursor)
        if !batch.isEmpty {
            var text = ""
            // The one place an event becomes text: its payload's JSON, framed as SSE or NDJSON.
            for e in batch {
                let data = e.payload.text
                text += ndjson
                    ? "{\"id\":\(e.id),\"event\":\"\(e.kind.rawValue)\",\"data\":\(data)}\n"
                    : "id: \(e.id)\nevent: \(e.kind.rawValue)\ndata: \(data)\n\n"
            }
            guard writer.write(text) else { return end() }
            cursor = batch[batch.count - 1].id
        }
        if finished {
            writer.finish()
            end()
        }
    }

    private func end() {
        guard !ended else { return }
        ended = true
        if let token { log.removeObserver(token) }
        timer?.cancel()
        timer = nil
    }
}
