import Dispatch
import Synchronization

/// How often a run offers a checkpoint: after `steps` steps or `seconds` seconds since the
/// last one, whichever comes first (the service's default: 10,000 steps or 10 s).
public struct CheckpointPolicy: Sendable {
    public var steps: Int
    public var seconds: Double
    public init(steps: Int = 10_000, seconds: Double = 10) { self.steps = max(steps, 1); self.seconds = seconds }
    /// Never (runs outside the service).
    public static let never = CheckpointPolicy(steps: .max, seconds: .infinity)
}

/// The one way to ask a run to end before its last step: set from any thread, read by the
/// run before every step (one atomic load). A cancel ends the run without a result; a
/// suspend ends it with a checkpoint to continue from, unless a cancel came first.
public final class StopSignal: Sendable {
    /// What the run is asked to do.
    public enum Request: Sendable, Equatable {
        /// End without a result.
        case cancel
        /// End with a checkpoint (the service is shutting down).
        case suspend
    }

    private let state = Atomic<UInt8>(0)

    public init() {}

    /// Asks the run to end without a result.
    public func cancel() { state.store(1, ordering: .releasing) }

    /// Asks the run to end with a checkpoint (unless it is being cancelled).
    public func suspend() { _ = state.compareExchange(expected: 0, desired: 2, ordering: .releasing) }

    /// What the run should do now (nil: continue).
    public var request: Request? {
        switch state.load(ordering: .acquiring) {
        case 1: .cancel
        case 2: .suspend
        default: nil
        }
    }
}

/// One point of a run's ELBO trace.
public struct TracePoint: Codable, Equatable, Sendable {
    public var step: Int
    public var elbo: Double
    public init(step: Int, elbo: Double) { self.step = step; self.elbo = elbo }
}

/// What a run is asked to do: its length, its report and checkpoint cadence, its time limit.
public struct RunSettings: Sendable {
    /// Steps in all (a resumed run continues up to this count).
    public var steps: Int
    /// Progress goes out every `reportEvery` steps.
    public var reportEvery: Int
    /// Training seconds allowed, counted across resumptions (nil: no limit).
    public var maxSeconds: Double?
    /// When checkpoints are offered.
    public var checkpoint: CheckpointPolicy

    public init(steps: Int, reportEvery: Int = 100, maxSeconds: Double? = nil, checkpoint: CheckpointPolicy = .never) {
        self.steps = max(steps, 0); self.reportEvery = max(reportEvery, 1); self.maxSeconds = maxSeconds; self.checkpoint = checkpoint
    }

    /// Every `thinning`-th step goes into the trace (1000 to 2000 points a long run).
    public var thinning: Int { max(1, steps / 1000) }
    /// The final ELBO is the mean over the last `window` steps (the last tenth, at most 100).
    public var window: Int { max(1, min(100, steps / 10)) }
}

/// Why a run ended without finishing.
public enum RunFailure: Error, Sendable, CustomStringConvertible {
    /// A step failed: the ELBO or a gradient stopped being finite, a replay fault, a fault
    /// found in the step's values (``SVIRunner/stepCheck``), or a state that does not fit.
    case svi(SVIError)
    /// The run's training time passed ``RunSettings/maxSeconds``.
    case timeLimit(step: Int, seconds: Double)
    /// ``StopSignal/Request/cancel``: ended without a result.
    case cancelled(step: Int)
    /// ``StopSignal/Request/suspend``: ended before step `step`; ``SVIRunner/checkpoint``
    /// continues it.
    case suspended(step: Int)

    public var description: String {
        switch self {
        case let .svi(e): "\(e)"
        case let .timeLimit(step, s): "stopped at step \(step): max_seconds (\(secondsText(s))) reached"
        case let .cancelled(step): "cancelled at step \(step)"
        case let .suspended(step): "suspended at step \(step)"
        }
    }
}

/// Seconds as a user wrote them: whole seconds without a fraction.
func secondsText(_ s: Double) -> String {
    s == s.rounded() && Swift.abs(s) < 1e15 ? String(Int(s)) : "\(s)"
}

/// What a finished run measured.
public struct RunOutcome: Sendable {
    /// Steps completed (a deterministic evaluation stops after one).
    public let steps: Int
    /// Training seconds, resumptions included.
    public let seconds: Double
    public var stepsPerSecond: Double { seconds > 0 ? Double(steps) / seconds : 0 }
    /// Mean ELBO over the run's last steps (``RunSettings/window``).
    public let finalELBO: Double
    /// (step, ELBO), thinned to about 1000 points.
    public let trace: [TracePoint]
    /// The last step's report.
    public let last: StepReport?
}

/// The training loop — the only one: steps ``SVI`` to ``RunSettings/steps``, reading a
/// ``StopSignal`` before every step, checking each step's values (``stepCheck``), keeping the
/// thinned ELBO trace and the final ELBO's window, reporting every `reportEvery` steps,
/// offering checkpoints as the ``CheckpointPolicy`` says and stopping at the time limit.
/// A run restored from any of its checkpoints ends exactly as the uninterrupted run (timings
/// aside). The loop's own bookkeeping allocates nothing per step: the trace and the window
/// are reserved when the run starts.
public final class SVIRunner {
    /// Where a run stands: with it a fresh runner of the same program continues exactly as
    /// the uninterrupted run would (draws depend only on seed and step).
    public struct Checkpoint: Codable, Equatable, Sendable {
        /// Parameters, optimiser moments, baselines, control variates, seed and step.
        public var svi: SVIState
        /// The thinned ELBO trace so far.
        public var trace: [TracePoint]
        /// The ELBOs of the last steps (the final ELBO's window), oldest first.
        public var recent: [Double]
        /// Seconds of training before this checkpoint (counted against `maxSeconds`).
        public var seconds: Double

        public init(svi: SVIState, trace: [TracePoint], recent: [Double], seconds: Double) {
            self.svi = svi; self.trace = trace; self.recent = recent; self.seconds = seconds
        }

        /// Steps completed.
        public var step: Int { svi.step }
    }

    public let svi: SVI
    public let settings: RunSettings
    /// Checked after every step (also one that failed), with the index of the step just taken:
    /// a fault the step's values show — a draw outside its site's support — described, or nil.
    /// Such a fault explains a non-finite ELBO better than the ELBO does, so it is reported
    /// in its place.
    public var stepCheck: ((_ step: Int) -> String?)?
    /// Called before every step with the steps done (the worker tests inject faults here).
    public var beforeStep: ((_ stepsDone: Int) -> Void)?

    private var trace: [TracePoint] = []
    /// The final ELBO's window as a ring: `recentCount` values ending before `recentNext`.
    private var recent: [Double]
    private var recentNext = 0, recentCount = 0
    /// Training seconds before the current `run` call (or of the whole run, once it ended).
    private var seconds = 0.0

    /// A runner of `svi`; `resume` restores a checkpoint of the same program.
    public init(svi: SVI, settings: RunSettings, from resume: Checkpoint? = nil) throws(SVIError) {
        self.svi = svi
        self.settings = settings
        recent = [Double](repeating: 0, count: settings.window)
        trace.reserveCapacity(settings.steps / settings.thinning + 1)
        if let resume {
            // A checkpoint past this run's last step is not one of its own (and its counts
            // bound the restore's work: ``SVI/restore(_:)``).
            guard resume.step <= settings.steps else {
                throw .incompatibleState("a checkpoint at step \(resume.step) of a run of \(settings.steps) steps")
            }
            try svi.restore(resume.svi)
            trace.append(contentsOf: resume.trace)
            for x in resume.recent { remember(x) }
            seconds = resume.seconds
        }
    }

    /// A runner of a fresh ``SVI`` of `program`.
    public convenience init(program: CompiledProgram, optimizer: OptimizerConfig, seed: UInt64, settings: RunSettings,
                            from resume: Checkpoint? = nil) throws(SVIError) {
        let svi: SVI
        do { svi = try SVI(program: program, optimizer: optimizer, seed: seed) } catch { throw .incompatibleState("\(error)") }
        try self.init(svi: svi, settings: settings, from: resume)
    }

    private func remember(_ elbo: Double) {
        recent[recentNext] = elbo
        recentNext = recentNext + 1 == recent.count ? 0 : recentNext + 1
        recentCount = min(recentCount + 1, recent.count)
    }

    /// The window's ELBOs, oldest first.
    private var recentELBOs: [Double] {
        let w = recent.count
        return (0..<recentCount).map { recent[(recentNext - recentCount + $0 + w) % w] }
    }

    /// Where the run stands now (between steps, or where it stopped).
    public var checkpoint: Checkpoint {
        Checkpoint(svi: svi.state, trace: trace, recent: recentELBOs, seconds: seconds)
    }

    /// Steps until ``RunSettings/steps`` (one, for a deterministic evaluation: a program
    /// with nothing to learn and nothing drawn gives its exact ELBO at every step, so it is
    /// evaluated once, without an optimiser step), then the outcome. `progress` gets every
    /// `reportEvery`-th step's report; `checkpoint` is offered one as the policy says (never
    /// after the last step). Throws at a stop request, a failed step or the time limit.
    public func run(stop: StopSignal? = nil, checkpoint: (Checkpoint) -> Void = { _ in },
                    progress: (StepReport) -> Void = { _ in }) throws(RunFailure) -> RunOutcome {
        let start = DispatchTime.now().uptimeNanoseconds, before = seconds
        func elapsed() -> Double { before + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        defer { seconds = elapsed() }
        let thin = settings.thinning, every = settings.reportEvery, policy = settings.checkpoint
        let evaluateOnce = svi.isDeterministicEvaluation
        let last = evaluateOnce ? 1 : settings.steps
        var lastCheckpoint = (step: svi.stepCount, seconds: elapsed())
        var report: StepReport?
        while svi.stepCount < last {
            switch stop?.request {
            case .cancel?: throw .cancelled(step: svi.stepCount)
            case .suspend?: throw .suspended(step: svi.stepCount)
            case nil: break
            }
            beforeStep?(svi.stepCount)
            let r: StepReport
            do { r = try svi.step() } catch {
                if let fault = stepCheck?(svi.stepCount) { throw .svi(.fault(step: svi.stepCount, fault)) }
                throw .svi(error)
            }
            if let fault = stepCheck?(r.step - 1) { throw .svi(.fault(step: r.step - 1, fault)) }
            report = r
            if r.step % thin == 0 || evaluateOnce { trace.append(TracePoint(step: r.step, elbo: r.elbo)) }
            remember(r.elbo)
            if r.step % every == 0 || evaluateOnce { progress(r) }
            if r.step % 64 == 0 || r.step - lastCheckpoint.step >= policy.steps {
                let now = elapsed()
                if let limit = settings.maxSeconds, now > limit { throw .timeLimit(step: r.step, seconds: limit) }
                if r.step < settings.steps && (r.step - lastCheckpoint.step >= policy.steps || now - lastCheckpoint.seconds >= policy.seconds) {
                    seconds = now
                    checkpoint(self.checkpoint)
                    lastCheckpoint = (r.step, now)
                }
            }
        }
        let window = recentELBOs
        return RunOutcome(steps: svi.stepCount, seconds: elapsed(),
                          finalELBO: window.isEmpty ? .nan : window.reduce(0, +) / Double(window.count), trace: trace, last: report)
    }
}

extension SVI {
    /// Runs `steps` more steps on an ``SVIRunner`` (reports every `reportEvery` steps; none
    /// when it is not positive), reading `stop` before every step.
    public func run(steps: Int, reportEvery: Int = 100, stop: StopSignal? = nil,
                    report: (StepReport) -> Void = { _ in }) throws(RunFailure) -> RunOutcome {
        let runner: SVIRunner
        do { runner = try SVIRunner(svi: self, settings: RunSettings(steps: stepCount + steps, reportEvery: reportEvery > 0 ? reportEvery : .max)) } catch {
            throw .svi(error)
        }
        return try runner.run(stop: stop, progress: report)
    }
}
