import Autodiff
import Distributions

extension ProgramBuilder {
    /// The ELBO's terms: a model and a guide term per site, or in their place the closed-form
    /// KL (mean-field) or entropy, laid out like any other term so that a score site's
    /// downstream cost includes them when they depend on its draw. Enumerated guide sites have
    /// no guide term here (``enumeratedContributions(_:_:)`` sums over their values).
    func elboTerms(_ layout: inout TermLayout) throws(ProgramError) -> [Term] {
        var terms: [Term] = []
        var replacedGuide = Set<String>(), replacedModel = Set<String>()
        if elbo == .meanfield {
            for g in guideSites where g.estimator != .enumerate {
                guard let m = modelSites.first(where: { $0.name == g.name && !$0.observed }), let prior = m.distribution,
                      !layout.dependsOnAnyDraw(prior.parameterNodes),
                      let kl = try? klDivergence(g.distribution, prior) else { continue }
                terms.append(try layout.term(kl, site: g.name, sign: -1, plates: g.plates, kind: .kl))
                replacedGuide.insert(g.name); replacedModel.insert(m.name)
            }
        }
        if analyticEntropy {
            for g in guideSites where g.estimator != .enumerate && !replacedGuide.contains(g.name) {
                guard let h = try? g.distribution.entropy() else { continue }
                terms.append(try layout.term(h, site: g.name, sign: 1, plates: g.plates, kind: .entropy))
                replacedGuide.insert(g.name)
            }
        }
        for m in modelSites where !replacedModel.contains(m.name) {
            terms.append(try layout.term(m.logProb, site: m.name, sign: 1, plates: m.plates, kind: .model))
        }
        for g in guideSites where g.estimator != .enumerate && !replacedGuide.contains(g.name) {
            terms.append(try layout.term(g.logProb, site: g.name, sign: -1, plates: g.plates, kind: .guide))
        }
        return terms
    }
}
