import Foundation
import HTTPServer

/// A job running in its worker process, as the server holds it: the worker, and whether and
/// why the server itself ended it. Cancel and suspend are messages the worker acts on at its
/// next step; a cancel that is not obeyed in time, a job past the service's time limit and a
/// worker left running at shutdown are killed. No signal is sent once the process is being
/// reaped, so a recycled pid is never hit.
final class RunningJob: Sendable {
    /// Why the server killed a worker.
    enum Kill: Sendable, Equatable {
        /// A cancel was not obeyed within the grace period.
        case cancel
        /// The service stopped and the worker did not suspend in time.
        case shutdown
        /// The job passed the service's time limit (wall clock) without stopping itself.
        case timeLimit
        /// The worker broke the protocol (a malformed or oversized message).
        case protocolError(String)
        /// This process lost the job's lease (a shared store): its next holder continues it.
        case leaseLost
    }

    let id: String
    let worker: WorkerProcess
    private let state = Locked<(killed: Kill?, reaping: Bool)>((nil, false))

    init(id: String, worker: WorkerProcess) { self.id = id; self.worker = worker }

    /// Why the server ended the worker, if it did.
    var killed: Kill? { state.withLock { $0.killed } }

    /// Asks the job to stop without a result; kills the worker if it has not stopped `grace`
    /// seconds later (a step that does not return).
    func cancel(grace: TimeInterval) {
        worker.channel.send(.cancel)
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) { [weak self] in self?.kill(.cancel) }
    }

    /// Asks the job to stop with a checkpoint.
    func suspend() {
        worker.channel.send(.suspend)
    }

    /// Kills the worker for `reason`, unless it is already ending.
    func kill(_ reason: Kill) {
        let send = state.withLock { state -> Bool in
            guard !state.reaping else { return false }
            if state.killed == nil { state.killed = reason }
            return true
        }
        if send { worker.kill() }
    }

    /// Waits for the worker to end, after its output has ended: a process that lingers more
    /// than five seconds after closing its output is killed.
    func reap() -> WorkerExit {
        for _ in 0..<500 where !worker.hasExited { usleep(10_000) }
        if !worker.hasExited { kill(.protocolError("the worker closed its output but did not exit")) }
        state.withLock { $0.reaping = true }
        return worker.wait()
    }
}
