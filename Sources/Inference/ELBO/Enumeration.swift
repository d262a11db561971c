import Autodiff

extension ProgramBuilder {
    /// Checks that enumerated sites stand alone in the guide: no other guide site's law reads
    /// an enumerated value, and an enumerated site's own law reads no draw.
    func checkEnumeratedSites(_ layout: inout TermLayout) throws(ProgramError) {
        for e in layout.enumerated {
            for (j, g) in guideSites.enumerated() where j != e {
                for n in g.distribution.parameterNodes where layout.depends(n, on: e) {
                    throw .estimatorMismatch(site: guideSites[e].name, "an enumerated site cannot feed another guide site ('\(g.name)')")
                }
            }
            if layout.dependsOnAnyDraw(guideSites[e].distribution.parameterNodes) {
                throw .estimatorMismatch(site: guideSites[e].name, "an enumerated site's parameters must not depend on other draws")
            }
        }
    }

    /// Exact enumeration: for each enumerated site, Σ_k q(k) [C(k) − scale·log q(k)] per plate
    /// element, where C(k) is the particle mean of every term that depends on the site, summed
    /// down to the site's plates. Named contributions to the ELBO (and to the pathwise loss).
    func enumeratedContributions(_ terms: [Term], _ layout: inout TermLayout) throws(ProgramError) -> [(String, Node)] {
        var out: [(String, Node)] = []
        for e in layout.enumerated {
            let g = guideSites[e]
            let (logQ, _, _, _) = try layout.layout(g.logProb, site: g.name, plates: g.plates)
            var cost = graph.constant(0)
            for t in terms where t.enumerated == g.name {
                guard g.plates.allSatisfy(t.plates.contains) else {
                    throw .estimatorMismatch(site: g.name, "enumeration is per plate element, but '\(t.site)' depends on it outside its plates \(g.plates.map(\.name))")
                }
                let r = layout.reduced(t, to: g.plates)
                cost = cost + graph.sum(r, axes: [1], keepDims: true) * (1 / Double(t.hasParticles ? particles : 1))
            }
            out.append(("enumerated site '\(g.name)'", graph.sum(graph.exp(logQ) * (cost - logQ * TermLayout.scale(g.plates)))))
        }
        return out
    }
}
