import Autodiff
import Distributions
import Inference
import Numerics

extension CompiledJob {
    /// Guide draws (1000 per site, or as few as 200 when one replay is large; from replays past
    /// the last training step, ``SVI/replayDraws(_:of:offset:_:)``) summarised element-wise as
    /// the job's ``SummaryPlan`` says (exact or streamed, the first elements of huge sites),
    /// and W₂ from the prior for Gaussian sites. Memory: the plan's, never the draws of every
    /// element. The draws replay the training tape, not a tape compiled for the guide values
    /// alone: that would skip the likelihood's pass over the data, but it would be a second
    /// tape the job's memory estimate (and so its worker's address-space limit) does not count.
    func siteSummaries(_ svi: SVI) -> [SiteSummary] {
        let program = svi.program
        let p = program.particles
        let summarised = sites.filter { $0.estimator != .enumerate }
        let plan = SummaryPlan(elements: summarised.map { Shape.count($0.shape) }, particles: p, replayNumbers: program.replayNumbers)
        let accumulators = plan.sites.map { SiteAccumulator($0, draws: plan.draws, tail: plan.tailCount) }
        svi.replayDraws(plan.draws / max(p, 1), of: summarised.map(\.value)) { k, values in accumulators[k].add(values) }
        return zip(summarised, accumulators).compactMap { site, acc in
            guard acc.plan.elements > 0 else { return nil }
            let t = acc.summary()
            var note: String?
            if acc.plan.reported < acc.plan.elements {
                note = "the site has \(acc.plan.elements) elements; per-element summaries are reported for the first \(acc.plan.reported) (row-major), as a result reports at most \(SummaryPlan.elementsPerSite) elements per site and \(SummaryPlan.elementsPerResult) in all"
            }
            return SiteSummary(site: site.name, estimator: site.estimator.label, shape: site.shape, mean: t.mean, sd: t.sd,
                               q05: t.q05, q50: t.q50, q95: t.q95, draws: acc.count, w2FromPrior: Self.w2(site, program),
                               quantileMethod: acc.plan.exact ? "exact" : "tails_p2", note: note)
        }
    }

    /// The `let` values a result summarises (those with any elements).
    var summarisedLets: [PosteriorOutput] { posteriorOutputs.filter { $0.kind == .derived && Shape.count($0.shape) > 0 } }

    /// Whether the result summarises `let` values (on a second tape; the memory estimate counts it).
    var summarisesLets: Bool { !summarisedLets.isEmpty }

    /// Summaries of the job's `let` values over the draws the site summaries use (the same
    /// seed and replay steps, so both describe one set of draws), planned and streamed like
    /// the sites' (``SummaryPlan``).
    func derivedSummaries(_ svi: SVI) -> [SiteSummary] {
        let program = svi.program
        let lets = summarisedLets
        guard !lets.isEmpty, let sampler = try? PosteriorDraws(self, outputs: lets) else { return [] }
        sampler.load(from: program)
        let p = program.particles
        let plan = SummaryPlan(elements: lets.map { Shape.count($0.shape) }, particles: p, replayNumbers: program.replayNumbers)
        let accumulators = plan.sites.map { SiteAccumulator($0, draws: plan.draws, tail: plan.tailCount) }
        sampler.replay(plan.draws / max(p, 1), seed: svi.seed, base: UInt64(svi.stepCount + 1_000_000)) { k, values in
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
    static func w2(_ site: SiteInfo, _ program: CompiledProgram) -> Double? {
        guard let q = site.guide, let p = site.prior else { return nil }
        switch (q, p) {
        case let (q as Normal, p as Normal):
            guard let lq = program.value(of: q.loc), let sq = program.value(of: q.scale),
                  let lp = program.value(of: p.loc), let sp = program.value(of: p.scale),
                  let shape = try? Shape.broadcast([lq.shape, sq.shape, lp.shape, sp.shape]), shape == q.batchShape,
                  let a = try? lq.broadcast(to: shape), let b = try? sq.broadcast(to: shape),
                  let c = try? lp.broadcast(to: shape), let e = try? sp.broadcast(to: shape) else { return nil }
            var total = 0.0
            for i in 0..<a.count { total += (a.scalars[i] - c.scalars[i]) * (a.scalars[i] - c.scalars[i]) + (b.scalars[i] - e.scalars[i]) * (b.scalars[i] - e.scalars[i]) }
            return total.squareRoot()
        case let (q as MultivariateNormal, p as MultivariateNormal):
            guard let lq = program.value(of: q.loc), let tq = program.value(of: q.scaleTril),
                  let lp = program.value(of: p.loc), let tp = program.value(of: p.scaleTril),
                  lq.rank == 1, lp.rank == 1, lq.shape == lp.shape, tq.shape == tp.shape,
                  [lq, tq, lp, tp].allSatisfy({ $0.scalars.allSatisfy(\.isFinite) }) else { return nil }
            // From the factors themselves: no covariance, Cholesky factor or singular vector
            // (a D = 2500 site's summary took two minutes through the covariances' SVD).
            return try? GaussianTransport.w2Parts(meanQ: lq, scaleQ: tq, meanP: lp, scaleP: tp).total
        default:
            return nil
        }
    }
}
