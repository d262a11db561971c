import Foundation
import Autodiff
import Distributions
import Inference
import Numerics
import Dispatch

/// What a finished job reports (job-spec.md "Result").
public struct JobResult: Codable, Equatable, Sendable {
    /// Mean of the ELBO over the last steps (the last tenth, at most 100 steps).
    public var finalELBO: Double
    /// Fitted params, constrained, by name.
    public var params: [NamedTensor]
    /// Per latent site, the guide's posterior summary from guide draws.
    public var posterior: [SiteSummary]
    /// (step, ELBO), thinned to at most 1000 points.
    public var elboTrace: [TracePoint]
    public var steps: Int
    public var seconds: Double
    public var stepsPerSecond: Double
    /// W₂ to the spec's references, maps and coupled estimates (docs/transport.md).
    public var transport: TransportResult? = nil
    /// The fitted normal of every Gaussian guide site (what a later job's reference by job id reads).
    public var gaussians: [FittedGaussian]? = nil
    /// Summaries of the job's `let` values (derived quantities), from the same draws.
    public var derived: [SiteSummary]? = nil

    enum CodingKeys: String, CodingKey {
        case finalELBO = "final_elbo", params, posterior, elboTrace = "elbo_trace", steps, seconds
        case stepsPerSecond = "steps_per_second", transport, gaussians, derived
    }
}

/// A named tensor in a result.
public struct NamedTensor: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Double]
}

/// One point of the ELBO trace.
public struct TracePoint: Codable, Equatable, Sendable {
    public var step: Int
    public var elbo: Double
}

/// Summary of a latent site's guide: element-wise mean, sd and quantiles from draws, its
/// estimator, and its W₂ distance from the prior when both are Gaussian.
public struct SiteSummary: Codable, Equatable, Sendable {
    public var site: String
    public var estimator: String
    public var shape: [Int]
    public var mean: [Double]
    public var sd: [Double]
    public var q05: [Double]
    public var q50: [Double]
    public var q95: [Double]
    public var draws: Int
    public var w2FromPrior: Double?
    /// How the quantiles were computed: `exact` (every draw kept) or `p2` (streamed, P²;
    /// see ``P2Quantile`` for its error). Absent in results of earlier versions (exact).
    public var quantileMethod: String?
    /// Set when the per-element summaries cover only the site's first elements (row-major).
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case site, estimator, shape, mean, sd, q05 = "q5", q50, q95, draws, w2FromPrior = "w2_from_prior"
        case quantileMethod = "quantile_method", note
    }
}

/// Where a run of ``JobRunner`` stands: with it a fresh run of the same compiled job continues
/// exactly as the uninterrupted run would (the noise depends only on seed and step), so the
/// result is bit for bit the same. Saved by the service as a job's checkpoint.
public struct RunCheckpoint: Codable, Equatable, Sendable {
    /// Parameters, optimiser moments, baselines, control variates, seed and step.
    public var svi: SVIState
    /// The thinned ELBO trace so far.
    public var trace: [TracePoint]
    /// The ELBOs of the last steps (the final ELBO's window).
    public var recent: [Double]
    /// Seconds of training before this checkpoint (counted against `max_seconds`).
    public var seconds: Double
    /// W₂ to the transport references at the steps computed so far.
    public var transport: [TransportProgress] = []

    public init(svi: SVIState, trace: [TracePoint], recent: [Double], seconds: Double, transport: [TransportProgress] = []) {
        self.svi = svi; self.trace = trace; self.recent = recent; self.seconds = seconds; self.transport = transport
    }

    /// Steps completed.
    public var step: Int { svi.step }

    enum CodingKeys: String, CodingKey { case svi, trace, recent, seconds, transport }

    // The trace (up to 1000 points) and the final-ELBO window are most of a small model's
    // checkpoint: they are stored as raw little-endian bytes in base64 (exact, and ~50× faster
    // to encode than decimal text), the rest as ordinary Codable values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(svi, forKey: .svi)
        var trace = [UInt64](), recent = [UInt64]()
        trace.reserveCapacity(2 * self.trace.count)
        for p in self.trace { trace.append(UInt64(bitPattern: Int64(p.step)).littleEndian); trace.append(p.elbo.bitPattern.littleEndian) }
        for x in self.recent { recent.append(x.bitPattern.littleEndian) }
        try c.encode(trace.withUnsafeBytes { Data($0) }.base64EncodedString(), forKey: .trace)
        try c.encode(recent.withUnsafeBytes { Data($0) }.base64EncodedString(), forKey: .recent)
        try c.encode(seconds, forKey: .seconds)
        if !transport.isEmpty { try c.encode(transport, forKey: .transport) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        svi = try c.decode(SVIState.self, forKey: .svi)
        seconds = try c.decode(Double.self, forKey: .seconds)
        func words(_ key: CodingKeys) throws -> [UInt64] {
            guard let data = Data(base64Encoded: try c.decode(String.self, forKey: key)) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not base64")
            }
            guard data.count % 8 == 0 else { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a whole number of 8-byte words") }
            return data.withUnsafeBytes { raw in (0..<data.count / 8).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) } }
        }
        let t = try words(.trace)
        guard t.count % 2 == 0 else { throw DecodingError.dataCorruptedError(forKey: .trace, in: c, debugDescription: "odd trace length") }
        trace = stride(from: 0, to: t.count, by: 2).map { TracePoint(step: Int(Int64(bitPattern: t[$0])), elbo: Double(bitPattern: t[$0 + 1])) }
        recent = try words(.recent).map(Double.init(bitPattern:))
        transport = try c.decodeIfPresent([TransportProgress].self, forKey: .transport) ?? []
    }
}

/// How often a run offers a checkpoint: after `steps` steps or `seconds` seconds since the
/// last one, whichever comes first (the service's default: 10,000 steps or 10 s).
public struct CheckpointPolicy: Sendable {
    public var steps: Int
    public var seconds: Double
    public init(steps: Int = 10_000, seconds: Double = 10) { self.steps = max(steps, 1); self.seconds = seconds }
    /// Never (runs outside the service).
    public static let never = CheckpointPolicy(steps: .max, seconds: .infinity)
}

/// Why a run should stop before its last step.
public enum StopRequest: Sendable {
    /// The user cancelled: the run ends without a result.
    case cancel
    /// The service is shutting down: the run ends with a checkpoint to continue from.
    case suspend
}

/// Runs a compiled job to its result.
public enum JobRunner {
    /// Why a run ended without a result.
    public enum Failure: Error, CustomStringConvertible {
        case svi(SVIError)
        case timeLimit(step: Int, seconds: Double)
        /// Stopped by ``StopRequest/suspend``; continue from the checkpoint.
        case suspended(RunCheckpoint)
        public var description: String {
            switch self {
            case let .svi(e): "\(e)"
            case let .timeLimit(step, s): "stopped at step \(step): max_seconds (\(format(s))) reached"
            case let .suspended(c): "suspended at step \(c.step)"
            }
        }
    }

    /// Trains, then summarises. `progress` gets every `report_every`-th step's report.
    public static func run(_ job: CompiledJob, isCancelled: () -> Bool = { false },
                           progress: (StepReport) -> Void = { _ in }) throws(Failure) -> JobResult {
        try run(job, stop: { isCancelled() ? .cancel : nil }, progress: progress)
    }

    /// Trains from `resume` (or from the start), offering a checkpoint to `checkpoint` as
    /// `policy` says, checking `stop` before every step, then summarises. A run resumed from
    /// any of its checkpoints returns the uninterrupted run's result (timings aside).
    /// At report steps thinned to about 1000 per run, `transport` gets W₂ to the spec's
    /// references (before `progress` gets the same step's report).
    public static func run(_ job: CompiledJob, from resume: RunCheckpoint? = nil, policy: CheckpointPolicy = .never,
                           checkpoint: (RunCheckpoint) -> Void = { _ in }, stop: () -> StopRequest?,
                           transport: (TransportProgress) -> Void = { _ in },
                           progress: (StepReport) -> Void = { _ in }) throws(Failure) -> JobResult {
        let inf = job.inference
        let svi: SVI
        do { svi = try SVI(program: job.program, optimizer: inf.optimizer, seed: inf.seed) } catch {
            throw .svi(.incompatibleState("\(error)"))
        }
        var trace: [TracePoint] = [], recent: [Double] = [], before = 0.0
        var distances: [TransportProgress] = []
        if let resume {
            do { try svi.restore(resume.svi) } catch { throw .svi(error) }
            trace = resume.trace; recent = resume.recent; before = resume.seconds; distances = resume.transport
        }
        let transportEvery = TransportPlan.interval(steps: inf.steps, reportEvery: inf.reportEvery)
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { before + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        func snapshot() -> RunCheckpoint { RunCheckpoint(svi: svi.state, trace: trace, recent: recent, seconds: elapsed(), transport: distances) }
        let thin = max(1, inf.steps / 1000)
        let tail = max(1, min(100, inf.steps / 10))
        var lastCheckpoint = (step: svi.stepCount, seconds: elapsed())
        // A job with nothing to learn and nothing drawn gives the same exact ELBO (the
        // log-likelihood) at every step: it is evaluated once, without an optimiser step.
        let evaluateOnce = svi.isDeterministicEvaluation
        let supports = DrawSupportCheck(job)
        while svi.stepCount < (evaluateOnce ? 1 : inf.steps) {
            switch stop() {
            case .cancel?: throw .svi(.cancelled(step: svi.stepCount))
            case .suspend?: throw .suspended(snapshot())
            case nil: break
            }
            let r: StepReport
            do { r = try svi.step() } catch {
                // A draw outside its site's support explains a non-finite ELBO better.
                if let outside = supports.violation(in: job.program.tape, step: svi.stepCount) { throw .svi(.fault(step: svi.stepCount, outside)) }
                throw .svi(error)
            }
            if let outside = supports.violation(in: job.program.tape, step: r.step - 1) { throw .svi(.fault(step: r.step - 1, outside)) }
            if r.step % thin == 0 || evaluateOnce { trace.append(TracePoint(step: r.step, elbo: r.elbo)) }
            recent.append(r.elbo)
            if recent.count > tail { recent.removeFirst() }
            if r.step % inf.reportEvery == 0 || evaluateOnce {
                if r.step % transportEvery == 0 || evaluateOnce, let d = job.transport?.distances(svi.program, step: r.step) {
                    distances.append(d)
                    transport(d)
                }
                progress(r)
            }
            if r.step % 64 == 0 || r.step - lastCheckpoint.step >= policy.steps {
                let now = elapsed()
                if let limit = inf.maxSeconds, now > limit { throw .timeLimit(step: r.step, seconds: limit) }
                if r.step < inf.steps && (r.step - lastCheckpoint.step >= policy.steps || now - lastCheckpoint.seconds >= policy.seconds) {
                    checkpoint(snapshot())
                    lastCheckpoint = (r.step, now)
                }
            }
        }
        let seconds = elapsed()
        let params = svi.constrainedParameters().map { NamedTensor(name: $0.name, shape: $0.value.shape, values: $0.value.scalars) }
        let summaries = summarise(job, stepsDone: svi.stepCount)
        var result = JobResult(finalELBO: recent.isEmpty ? .nan : recent.reduce(0, +) / Double(recent.count), params: params,
                               posterior: summaries, elboTrace: trace, steps: svi.stepCount, seconds: seconds,
                               stepsPerSecond: seconds > 0 ? Double(svi.stepCount) / seconds : 0)
        let derived = derivedSummaries(job, svi.program, stepsDone: svi.stepCount)
        result.derived = derived.isEmpty ? nil : derived
        if let plan = job.transport {
            result.transport = plan.result(svi.program, trace: distances, seed: inf.seed)
            let fitted = plan.fittedGaussians(svi.program)
            result.gaussians = fitted.isEmpty ? nil : fitted
        }
        return result
    }

    /// Guide draws (1000 per site, or as few as 200 when one replay is large; from replays past
    /// the last training step) summarised
    /// element-wise as the job's ``SummaryPlan`` says (exact or streamed, the first elements of
    /// huge sites), and W₂ from the prior for Gaussian sites. Memory: the plan's, never the
    /// draws of every element.
    static func summarise(_ job: CompiledJob, stepsDone: Int) -> [SiteSummary] {
        let tape = job.program.tape
        let p = job.program.particles
        let summarised = job.sites.filter { $0.estimator != .enumerate }
        let plan = SummaryPlan(elements: summarised.map { Shape.count($0.shape) }, particles: p, replayNumbers: tape.arenaBytes / 8)
        let accumulators = plan.sites.map { SiteAccumulator($0, draws: plan.draws, tail: plan.tailCount) }
        for r in 0..<(plan.draws / max(p, 1)) {
            tape.step = UInt64(stepsDone + 1_000_000 + r)
            tape.forward()
            for (site, acc) in zip(summarised, accumulators) {
                acc.add(UnsafeBufferPointer(tape.unsafeValues(of: site.value)))
            }
        }
        tape.step = UInt64(stepsDone)
        tape.forward()
        return zip(summarised, accumulators).compactMap { site, acc in
            guard acc.plan.elements > 0 else { return nil }
            let t = acc.summary()
            var note: String?
            if acc.plan.reported < acc.plan.elements {
                note = "the site has \(acc.plan.elements) elements; per-element summaries are reported for the first \(acc.plan.reported) (row-major), as a result reports at most \(SummaryPlan.elementsPerSite) elements per site and \(SummaryPlan.elementsPerResult) in all"
            }
            return SiteSummary(site: site.name, estimator: site.estimator.label, shape: site.shape, mean: t.mean, sd: t.sd,
                               q05: t.q05, q50: t.q50, q95: t.q95, draws: acc.count, w2FromPrior: w2(site, tape),
                               quantileMethod: acc.plan.exact ? "exact" : "tails_p2", note: note)
        }
    }

    /// Summaries of the job's `let` values over the draws the site summaries use (the same
    /// seed and replay steps, so both describe one set of draws), planned and streamed like
    /// the sites' (``SummaryPlan``).
    static func derivedSummaries(_ job: CompiledJob, _ program: CompiledProgram, stepsDone: Int) -> [SiteSummary] {
        let lets = job.posteriorOutputs.filter { $0.kind == .derived && Shape.count($0.shape) > 0 }
        guard !lets.isEmpty, let sampler = try? PosteriorDraws(job, outputs: lets) else { return [] }
        sampler.load(from: program)
        let p = program.particles
        let plan = SummaryPlan(elements: lets.map { Shape.count($0.shape) }, particles: p, replayNumbers: program.tape.arenaBytes / 8)
        let accumulators = plan.sites.map { SiteAccumulator($0, draws: plan.draws, tail: plan.tailCount) }
        sampler.replay(plan.draws / max(p, 1), seed: job.inference.seed, base: UInt64(stepsDone + 1_000_000)) { k, values in
            // A let computed from params alone is the same for every particle's draw.
            for _ in 0..<(lets[k].lead == 0 ? p : 1) { accumulators[k].add(values) }
        }
        return zip(lets, accumulators).map { o, acc in
            let t = acc.summary()
            var note: String?
            if acc.plan.reported < acc.plan.elements {
                note = "the value has \(acc.plan.elements) elements; per-element summaries are reported for the first \(acc.plan.reported) (row-major)"
            }
            return SiteSummary(site: o.name, estimator: "let", shape: o.shape, mean: t.mean, sd: t.sd, q05: t.q05, q50: t.q50, q95: t.q95,
                               draws: acc.count, w2FromPrior: nil, quantileMethod: acc.plan.exact ? "exact" : "tails_p2", note: note)
        }
    }

    /// W₂ between a Gaussian guide and a Gaussian prior with constant parameters: Normal
    /// sites as diagonal Gaussians over all their elements, unbatched MultivariateNormals exactly.
    static func w2(_ site: SiteInfo, _ tape: Tape) -> Double? {
        guard let q = site.guide, let p = site.prior else { return nil }
        func value(_ n: Node) -> Tensor? { tape.contains(n) ? tape.value(of: n) : nil }
        switch (q, p) {
        case let (q as Normal, p as Normal):
            guard let lq = value(q.loc), let sq = value(q.scale), let lp = value(p.loc), let sp = value(p.scale),
                  let shape = try? Shape.broadcast([lq.shape, sq.shape, lp.shape, sp.shape]), shape == q.batchShape,
                  let a = try? lq.broadcast(to: shape), let b = try? sq.broadcast(to: shape),
                  let c = try? lp.broadcast(to: shape), let e = try? sp.broadcast(to: shape) else { return nil }
            var total = 0.0
            for i in 0..<a.count { total += (a.scalars[i] - c.scalars[i]) * (a.scalars[i] - c.scalars[i]) + (b.scalars[i] - e.scalars[i]) * (b.scalars[i] - e.scalars[i]) }
            return total.squareRoot()
        case let (q as MultivariateNormal, p as MultivariateNormal):
            guard let lq = value(q.loc), let tq = value(q.scaleTril), let lp = value(p.loc), let tp = value(p.scaleTril),
                  lq.rank == 1, lp.rank == 1, lq.shape == lp.shape, tq.shape == tp.shape,
                  [lq, tq, lp, tp].allSatisfy({ $0.scalars.allSatisfy(\.isFinite) }) else { return nil }
            let cq = LinearAlgebra.matmul(tq, LinearAlgebra.transpose(tq)), cp = LinearAlgebra.matmul(tp, LinearAlgebra.transpose(tp))
            return try? GaussianTransport.w2Distance(meanQ: lq, covQ: cq, meanP: lp, covP: cp)
        default:
            return nil
        }
    }
}
