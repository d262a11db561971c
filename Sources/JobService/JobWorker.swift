import CProcess
import Foundation
import Inference
import JSON
import ModelSpec
import Numerics

/// Test-only faults a worker binary built for the tests injects into the jobs it runs (the
/// service's own `sviserve worker` has none): called before every step with the job's name
/// and the steps done, it may trap, allocate or hang as a broken job would.
public struct WorkerFaults: Sendable {
    public let beforeStep: @Sendable (_ jobName: String, _ step: Int) -> Void
    public init(beforeStep: @escaping @Sendable (_ jobName: String, _ step: Int) -> Void) { self.beforeStep = beforeStep }
}

/// The child side of a job's worker process (`sviserve worker`): reads one
/// ``WorkerAssignment`` from standard input, runs the job under a memory limit derived from
/// its compiled estimate, sends progress, checkpoints and its end to standard output (see
/// ``WorkerMessage``), and exits. A cancel or suspend arriving on standard input stops it at
/// its next step; the end of standard input (the server is gone) ends the process at once, as
/// does the server's thread ending (`PR_SET_PDEATHSIG`). Whatever the job does — trap, exhaust
/// its memory, spin — ends this process only.
public enum JobWorker {
    /// Runs the worker to its end; returns the process's exit status.
    public static func main(faults: WorkerFaults? = nil) -> Int32 {
        _ = sviserve_die_with_parent()
        let channel = WorkerChannel(reading: STDIN_FILENO, writing: STDOUT_FILENO)
        let assignment: WorkerAssignment
        do {
            guard case .assignment(let data)? = try channel.receive() else { return 2 }
            assignment = try Representations.decode(WorkerAssignment.self, data)
        } catch {
            FileHandle.standardError.write(Data("sviserve worker: no assignment on standard input (\(error))\n".utf8))
            return 2
        }
        let signal = StopSignal()
        let control = Thread {
            // Stop requests, until the server closes this side: then nobody waits for the job.
            while true {
                switch try? channel.receive(maxPayload: 0) {
                case .cancel?: signal.cancel()
                case .suspend?: signal.suspend()
                default: _exit(0)
                }
            }
        }
        control.start()
        LinearAlgebra.configureThreads(1)
        let end = run(assignment, channel: channel, signal: signal, faults: faults)
        channel.send(end)
        return 0
    }

    /// Compiles and runs the assigned job; returns the message that ends it.
    static func run(_ assignment: WorkerAssignment, channel: WorkerChannel, signal: StopSignal, faults: WorkerFaults?) -> WorkerMessage {
        var spec: JobSpec
        var compiled: CompiledJob
        var serviceLimit = false
        let compiling = DispatchTime.now().uptimeNanoseconds
        do {
            spec = try SpecDecoder.decode(try JSONParser.parse(assignment.spec.bytes))
            if spec.inference.maxSeconds.map({ $0 > assignment.maxJobSeconds }) ?? true {
                spec.inference.maxSeconds = assignment.maxJobSeconds
                serviceLimit = true
            }
            compiled = try SpecCompiler.compile(spec, limits: assignment.limits.validationLimits)
        } catch {
            return .failed("the spec no longer compiles: \(error)")
        }
        // The job now has its estimate: the address space it may use is that, a quarter more,
        // and the process's own (libraries, stacks), never above the cap it started under.
        let estimate = compiled.estimatedBytes
        let (scaled, overflow) = estimate.multipliedReportingOverflow(by: 5)
        let limit = overflow ? assignment.memoryCap : min(assignment.memoryCap, assignment.memoryOverhead &+ scaled / 4)
        #if !SANITIZED_WORKERS
        _ = sviserve_set_limit(0, Int32(RLIMIT_AS.rawValue), UInt64(limit), UInt64(limit))
        #endif
        channel.send(.compiled(memoryBytes: limit, nanoseconds: Int(DispatchTime.now().uptimeNanoseconds - compiling)))

        var resume: RunCheckpoint?
        if let state = assignment.checkpoint {
            do { resume = try Representations.decode(RunCheckpoint.self, state.bytes) } catch {
                note(channel, [("event", "checkpoint_unusable"), ("id", assignment.jobID), ("error", "\(error)")])
            }
        }
        let firstStep = resume?.step ?? 0
        let steps = compiled.inference.steps
        let started = DispatchTime.now().uptimeNanoseconds
        var smoothed: Double?
        var lastSent: UInt64 = 0, lastParams: UInt64 = 0
        let interval = UInt64(max(assignment.progressInterval, 0) * 1e9)
        let paramsInterval = UInt64(max(assignment.paramsInterval, 0) * 1e9)
        let live = LiveSnapshot(compiled)
        var transport: TransportProgress?
        let run: JobRun
        do {
            run = try JobRun(compiled, from: resume, checkpoints: CheckpointPolicy(steps: assignment.checkpointSteps, seconds: assignment.checkpointSeconds))
        } catch {
            return .failed("\(error)")
        }
        if let faults {
            let name = compiled.name
            run.runner.beforeStep = { faults.beforeStep(name, $0) }
        }
        do {
            let result = try run.run(stop: signal, checkpoint: { c in
                channel.send(.checkpoint(step: c.step, state: Data(Representations.json(c))))
            }, transport: { transport = $0 }) { r in
                smoothed = smoothed.map { 0.9 * $0 + 0.1 * r.elbo } ?? r.elbo
                live.observe()
                let now = DispatchTime.now().uptimeNanoseconds
                // W₂ is computed on thinned report steps; those progress messages always go out.
                let measured = transport?.step == r.step
                if measured || now - lastSent >= interval || r.step == steps {
                    lastSent = now
                    let rate = Double(r.step - firstStep) / max(Double(now - started) / 1e9, 1e-3)
                    var progress = JobProgress(step: r.step, steps: steps, elbo: r.elbo, elboSmoothed: smoothed, gradNorm: r.gradientNorm, stepsPerSecond: rate)
                    if measured { progress.transport = transport?.distances }
                    channel.send(.progress(Data(Representations.json(progress))))
                }
                if now - lastParams >= paramsInterval || r.step == steps {
                    lastParams = now
                    channel.send(.params(Data(Representations.json(live.event(step: r.step)))))
                }
            }
            return .result(Data(Representations.json(result)))
        } catch let .suspended(step) {
            // Stopped before its first step here: nothing new to save (a resumed job keeps its
            // earlier checkpoint).
            return .suspended(step: step, state: step > firstStep ? Data(Representations.json(run.checkpoint)) : nil)
        } catch let .cancelled(step) {
            return .cancelled("cancelled at step \(step)")
        } catch let .timeLimit(step, seconds) where serviceLimit {
            return .failed("stopped at step \(step): the service's limit of \(Int(seconds)) s of training per job (--max-job-seconds) was reached")
        } catch {
            return .failed("\(error)")
        }
    }

    static func note(_ channel: WorkerChannel, _ fields: [(String, String)]) {
        channel.send(.note(Data(Representations.json(Dictionary(fields, uniquingKeysWith: { a, _ in a })))))
    }
}
