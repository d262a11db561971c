import Inference

/// A compiled job on the training loop (``SVIRunner``): the runner set up from the job's
/// inference settings (resumed from a ``RunCheckpoint`` when given one), with the job's own
/// parts plugged in — each step's draws checked against their model sites' supports
/// (``DrawSupportCheck``), W₂ to the spec's references at report steps thinned to about 1000
/// a run — and the job's ``JobResult`` built from the run's outcome at the end. It holds no
/// loop of its own. A run resumed from any of its checkpoints returns the uninterrupted run's
/// result (timings aside).
public final class JobRun {
    public let job: CompiledJob
    public let runner: SVIRunner
    /// W₂ to the transport references at the report steps measured so far.
    public private(set) var transport: [TransportProgress] = []

    /// A run of `job` from `resume` (or from the start), offering checkpoints as `checkpoints` says.
    public init(_ job: CompiledJob, from resume: RunCheckpoint? = nil, checkpoints: CheckpointPolicy = .never) throws(RunFailure) {
        self.job = job
        let inference = job.inference
        let settings = RunSettings(steps: inference.steps, reportEvery: inference.reportEvery, maxSeconds: inference.maxSeconds, checkpoint: checkpoints)
        do {
            runner = try SVIRunner(program: job.program, optimizer: inference.optimizer, seed: inference.seed, settings: settings, from: resume?.run)
        } catch { throw .svi(error) }
        transport = resume?.transport ?? []
        let supports = DrawSupportCheck(job)
        if !supports.sites.isEmpty {
            let program = job.program
            runner.stepCheck = { step in supports.violation(in: program, step: step) }
        }
    }

    /// Where the run stands now (between steps, or where it stopped: after
    /// ``RunFailure/suspended(step:)`` this is what continues it).
    public var checkpoint: RunCheckpoint { RunCheckpoint(run: runner.checkpoint, transport: transport) }

    /// Trains to the job's last step, then summarises. `progress` gets every `report_every`-th
    /// step's report; at the thinned report steps `transport` gets W₂ to the spec's references
    /// first. `stop` is read before every step.
    public func run(stop: StopSignal? = nil, checkpoint: (RunCheckpoint) -> Void = { _ in },
                    transport: (TransportProgress) -> Void = { _ in },
                    progress: (StepReport) -> Void = { _ in }) throws(RunFailure) -> JobResult {
        let svi = runner.svi
        let measureEvery = TransportPlan.interval(steps: job.inference.steps, reportEvery: job.inference.reportEvery)
        let once = svi.isDeterministicEvaluation
        let outcome = try runner.run(stop: stop, checkpoint: { checkpoint(RunCheckpoint(run: $0, transport: self.transport)) }) { r in
            if r.step % measureEvery == 0 || once, let d = job.transport?.distances(svi.program, step: r.step) {
                self.transport.append(d)
                transport(d)
            }
            progress(r)
        }
        // The summaries and transport results below read the program's values: those of the
        // final params, not of the last step's forward pass.
        svi.refreshValues()
        let params = svi.constrainedParameters().map { NamedTensor(name: $0.name, shape: $0.value.shape, values: $0.value.scalars) }
        var result = JobResult(finalELBO: outcome.finalELBO, params: params, posterior: job.siteSummaries(svi), elboTrace: outcome.trace,
                               steps: outcome.steps, seconds: outcome.seconds, stepsPerSecond: outcome.stepsPerSecond)
        let derived = job.derivedSummaries(svi)
        result.derived = derived.isEmpty ? nil : derived
        if let plan = job.transport {
            result.transport = plan.result(svi.program, trace: self.transport, seed: job.inference.seed)
            let fitted = plan.fittedGaussians(svi.program)
            result.gaussians = fitted.isEmpty ? nil : fitted
        }
        return result
    }
}
