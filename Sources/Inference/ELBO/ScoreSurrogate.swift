import Autodiff

extension ProgramBuilder {
    /// The score-function terms of the surrogate loss: for each score site, −Σ log q · (C − b)
    /// over its plate elements (averaged over particles), where C is its downstream cost — every
    /// term under `trace`, the terms that depend on its draw otherwise, summed down to its
    /// plates — held constant, and b its baseline (plus the learned baseline's squared error).
    /// Adds those to `surrogate`; returns the decaying-average baselines whose state the SVI
    /// loop updates.
    func addScoreTerms(_ terms: [Term], _ layout: inout TermLayout, to surrogate: inout Node) throws(ProgramError) -> [DecayingBaseline] {
        var baselines: [DecayingBaseline] = []
        for (s, g) in guideSites.enumerated() {
            guard case let .score(baseline) = g.estimator else { continue }
            var cost = graph.constant(0)
            for t in terms where elbo == .trace || t.dependsOn[s] {
                if let e = t.enumerated {
                    throw .estimatorMismatch(site: g.name, "a score-function site's downstream cost cannot include terms that depend on an enumerated site (\(t.site == e ? "'\(e)' is enumerated" : "'\(t.site)' depends on the enumerated '\(e)'")); use enum or a pathwise estimator for '\(g.name)', or score for '\(e)'")
                }
                cost = cost + (elbo == .trace ? layout.reduced(t, to: []) : layout.reduced(t, to: g.plates))
            }
            let c = graph.stopGradient(cost)
            let (logQ, _, _, _) = try layout.layout(g.logProb, site: g.name, plates: g.plates)
            let b = try self.baseline(baseline, for: g, cost: c, shape: layout.siteShape(g.plates), into: &baselines)
            if case .learned = baseline {
                surrogate = surrogate + graph.sum(graph.square(c - b)) * (1 / Double(particles))
            }
            surrogate = surrogate - graph.sum(logQ * graph.stopGradient(c - b)) * (1 / Double(particles))
        }
        return baselines
    }
}
