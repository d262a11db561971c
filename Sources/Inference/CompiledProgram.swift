import Autodiff
import Distributions
import Numerics

/// A program compiled to one tape whose loss is the surrogate of the chosen ELBO: its value
/// is −ELBO plus zero-valued score terms, and its gradient is the estimator's gradient. Holds
/// what the SVI loop needs besides the tape: the parameters with their roles, the
/// decaying-average baselines' state, and the site table for reports.
public final class CompiledProgram {
    /// The compiled graph; `loss` is the surrogate.
    public let tape: Tape
    /// The ELBO estimate of one step (mean over particles).
    public let elbo: Node
    /// The surrogate loss that `backward` differentiates.
    public let loss: Node
    /// Every learnable tensor with its role and transform.
    public let parameters: [ParameterRecord]
    /// Decaying-average baselines: state input, particle-mean cost, β.
    let decayingBaselines: [DecayingBaseline]
    /// Guide sites in order, with their estimators.
    public let sites: [(name: String, estimator: Estimator)]
    /// Particles per step.
    public let particles: Int
    /// Every site's contribution to the ELBO (a scalar each), to name the one that turned non-finite.
    let siteTerms: [(name: String, node: Node)]
    /// Guide values by site name (`[P] + plates + event`), for posterior summaries.
    public let guideValues: [(name: String, node: Node)]

    init(tape: Tape, elbo: Node, loss: Node, parameters: [ParameterRecord], baselines: [DecayingBaseline],
         sites: [(String, Estimator)], particles: Int, siteTerms: [(String, Node)], guideValues: [(String, Node)]) {
        self.tape = tape; self.elbo = elbo; self.loss = loss; self.parameters = parameters
        decayingBaselines = baselines; self.sites = sites.map { (name: $0.0, estimator: $0.1) }; self.particles = particles
        self.siteTerms = siteTerms.map { (name: $0.0, node: $0.1) }
        self.guideValues = guideValues.map { (name: $0.0, node: $0.1) }
    }
}

/// A decaying-average baseline's state: `state` (an input node, the old average, per plate
/// element) is what the step uses; after it, `state ← β·state + (1−β)·costMean`.
struct DecayingBaseline {
    let site: String
    let state: Node
    let costMean: Node
    let beta: Double
}

/// One log-density term of the ELBO, laid out as `[K | 1, P | 1] + one axis per plate`.
struct Term {
    let site: String
    /// +1 for model terms, −1 for guide terms.
    let sign: Double
    /// Product of the site's plates' subsample scales.
    let scale: Double
    /// The term in the canonical layout.
    let node: Node
    let hasParticles: Bool
    let plates: [Plate]
    /// The enumerated guide site the term depends on, if any.
    let enumerated: String?
    /// For each guide site (program order), whether the term depends on its draw.
    let dependsOn: [Bool]
    /// What the term is.
    let kind: Kind

    /// A model log-density, a guide log-density, or a closed form standing in for a pair.
    enum Kind { case model, guide, kl, entropy }

    /// How a divergence report names the term.
    var label: String {
        switch kind {
        case .model: "model site '\(site)'"
        case .guide: "guide site '\(site)'"
        case .kl: "the KL of site '\(site)'"
        case .entropy: "the entropy of site '\(site)'"
        }
    }
}

extension ProgramBuilder {
    /// Compiles the recorded program: checks that model and guide sites match, builds the
    /// ELBO and the surrogate loss, and compiles the tape.
    public func compile() throws(ProgramError) -> CompiledProgram {
        let latentNames = Set(modelSites.filter { !$0.observed }.map(\.name))
        for g in guideSites where !latentNames.contains(g.name) && !auxiliaryNames.contains(g.name) { throw .unmatchedSite(g.name) }
        let allPlates = plates
        let P = particles

        // Dependence of every node on every guide draw, recomputed when asked about a node
        // built after it (the closed-form KL and entropy terms are built below).
        var dependence = guideSites.map { graph.dependence(on: $0.drawSources) }
        func depends(_ node: Node, on site: Int) -> Bool {
            if node.id >= dependence[site].count { dependence = guideSites.map { graph.dependence(on: $0.drawSources) } }
            return dependence[site][node.id]
        }
        let enumIndex = guideSites.indices.filter { guideSites[$0].estimator == .enumerate }
        for e in enumIndex {
            for (j, g) in guideSites.enumerated() where j != e && parameterNodes(of: g.distribution).contains(where: { depends($0, on: e) }) {
                throw .estimatorMismatch(site: guideSites[e].name, "an enumerated site cannot feed another guide site ('\(g.name)')")
            }
            if parameterNodes(of: guideSites[e].distribution).contains(where: { n in guideSites.indices.contains { depends(n, on: $0) } }) {
                throw .estimatorMismatch(site: guideSites[e].name, "an enumerated site's parameters must not depend on other draws")
            }
        }

        /// Lays a per-element log-density out as `[K|1, P|1] + one axis per declared plate`.
        /// The node's engine axes come first (`[K, P|1]` when it depends on an enumerated site,
        /// `[P]` when it depends on a draw); its plate axes follow in the site's listed order
        /// and are right-aligned, so a term constant along some of the site's plates (a KL of
        /// guide parameters shared across a plate, an enumerated value) is broadcast there and
        /// the sum still counts every element. Plate axes are then put in declaration order.
        func layout(_ node: Node, site: String, plates sitePlates: [Plate]) throws(ProgramError) -> (Node, Bool, String?, [Bool]) {
            let enumSites = enumIndex.filter { depends(node, on: $0) }
            guard enumSites.count <= 1 else {
                throw .estimatorMismatch(site: site, "depends on two enumerated sites (\(enumSites.map { "'\(guideSites[$0].name)'" }.joined(separator: ", "))); enumerate at most one of them")
            }
            let drawn = guideSites.indices.contains { !enumIndex.contains($0) && depends(node, on: $0) }
            let sizes = sitePlates.map(\.batchSize)
            let lead: [Int]
            if !enumSites.isEmpty {
                guard node.rank >= 2 else {
                    throw .plateMismatch(site: site, "its log-density has shape \(node.shape), but a term of an enumerated site needs [values, particles] + plates")
                }
                lead = [node.shape[0], drawn ? P : 1]
            } else {
                lead = drawn ? [P] : []
            }
            let body = Array(node.shape.dropFirst(lead.count))
            let expected = lead + sizes
            let aligned = Array(node.shape.prefix(lead.count)) + Array(repeating: 1, count: max(0, sizes.count - body.count)) + body
            guard body.count <= sizes.count, node.shape.prefix(lead.count).elementsEqual(lead) || !enumSites.isEmpty,
                  (try? Shape.broadcast(aligned, expected)) == expected else {
                throw .plateMismatch(site: site, plateMismatchMessage(node.shape, lead: lead, plates: sitePlates))
            }
            var full = node.shape == expected ? node : graph.broadcast(aligned == node.shape ? node : graph.reshape(node, aligned), to: expected)
            // Plate axes from the site's listed order to declaration order.
            let declared = sitePlates.indices.sorted { sitePlates[$0].position < sitePlates[$1].position }
            if declared != Array(sitePlates.indices) {
                full = graph.permute(full, Array(lead.indices) + declared.map { lead.count + $0 })
            }
            var shape = lead.count == 2 ? lead : [1] + (lead.isEmpty ? [1] : lead)
            for plate in allPlates { shape.append(sitePlates.contains(plate) ? plate.batchSize : 1) }
            return (graph.reshape(full, shape), drawn, enumSites.first.map { guideSites[$0].name },
                    guideSites.indices.map { depends(node, on: $0) })
        }
        func scale(_ ps: [Plate]) -> Double { ps.reduce(1) { $0 * $1.scale } }

        // Terms: a model and a guide term per site, or in their place the closed-form KL
        // (mean-field) or entropy, laid out like any other term so that a score site's
        // downstream cost includes them when they depend on its draw.
        var terms: [Term] = []
        var replacedGuide = Set<String>(), replacedModel = Set<String>()
        func append(_ node: Node, site: String, sign: Double, plates sitePlates: [Plate], kind: Term.Kind) throws(ProgramError) {
            let (laid, hasP, e, deps) = try layout(node, site: site, plates: sitePlates)
            terms.append(Term(site: site, sign: sign, scale: scale(sitePlates), node: laid, hasParticles: hasP,
                              plates: sitePlates, enumerated: e, dependsOn: deps, kind: kind))
        }
        if elbo == .meanfield {
            for g in guideSites where g.estimator != .enumerate {
                guard let m = modelSites.first(where: { $0.name == g.name && !$0.observed }), let prior = m.distribution,
                      !parameterNodes(of: prior).contains(where: { n in guideSites.indices.contains { depends(n, on: $0) } }),
                      let kl = try? klDivergence(g.distribution, prior) else { continue }
                try append(kl, site: g.name, sign: -1, plates: g.plates, kind: .kl)
                replacedGuide.insert(g.name); replacedModel.insert(m.name)
            }
        }
        if analyticEntropy {
            for g in guideSites where g.estimator != .enumerate && !replacedGuide.contains(g.name) {
                guard let h = try? g.distribution.entropy() else { continue }
                try append(h, site: g.name, sign: 1, plates: g.plates, kind: .entropy)
                replacedGuide.insert(g.name)
            }
        }
        for m in modelSites where !replacedModel.contains(m.name) {
            try append(m.logProb, site: m.name, sign: 1, plates: m.plates, kind: .model)
        }
        for g in guideSites where g.estimator != .enumerate && !replacedGuide.contains(g.name) {
            try append(g.logProb, site: g.name, sign: -1, plates: g.plates, kind: .guide)
        }
        let scoreSites = Set(guideSites.filter { if case .score = $0.estimator { true } else { false } }.map(\.name))

        /// Σ over every axis, averaged over particles.
        func total(_ t: Term) -> Node { graph.sum(t.node) * (t.sign * t.scale / Double(t.hasParticles ? P : 1)) }
        /// The term summed down to `sitePlates` (layout kept), signed and scaled.
        func reduced(_ t: Term, to sitePlates: [Plate]) -> Node {
            let axes = allPlates.filter { !sitePlates.contains($0) && t.plates.contains($0) }.map { 2 + $0.position }
            let r = axes.isEmpty ? t.node : graph.sum(t.node, axes: axes, keepDims: true)
            return r * (t.sign * t.scale)
        }

        // Each term's contribution is kept by name: they are what a divergence report inspects.
        // A score site's own −log q enters the surrogate only through its score term: the
        // direct gradient of log q at a fixed draw has mean zero (Pyro's entropy_term = 0 for
        // non-reparameterised sites), and keeping it would leave variance that no baseline
        // removes, even at the optimum.
        var contributions: [(String, Node)] = []
        var pathwise = graph.constant(0)
        for t in terms where t.enumerated == nil {
            let c = total(t)
            contributions.append((t.label, c))
            pathwise = pathwise + (t.kind == .guide && scoreSites.contains(t.site) ? graph.stopGradient(c) : c)
        }
        var elboNode = contributions.map(\.1).reduce(graph.constant(0), +)

        // Exact enumeration: Σ_k q(k) [C(k) − scale·log q(k)] per plate element.
        for e in enumIndex {
            let g = guideSites[e]
            let (logQ, _, _, _) = try layout(g.logProb, site: g.name, plates: g.plates)
            var cost = graph.constant(0)
            for t in terms where t.enumerated == g.name {
                guard g.plates.allSatisfy(t.plates.contains) else {
                    throw .estimatorMismatch(site: g.name, "enumeration is per plate element, but '\(t.site)' depends on it outside its plates \(g.plates.map(\.name))")
                }
                var r = reduced(t, to: g.plates)
                r = graph.sum(r, axes: [1], keepDims: true) * (1 / Double(t.hasParticles ? P : 1))
                cost = cost + r
            }
            let contribution = graph.sum(graph.exp(logQ) * (cost - logQ * scale(g.plates)))
            contributions.append(("enumerated site '\(g.name)'", contribution))
            elboNode = elboNode + contribution
            pathwise = pathwise + contribution
        }

        // Score-function terms with their baselines.
        var surrogate = -pathwise
        var baselines: [DecayingBaseline] = []
        for (s, g) in guideSites.enumerated() {
            guard case let .score(baseline) = g.estimator else { continue }
            var cost = graph.constant(0)
            for t in terms where elbo == .trace || t.dependsOn[s] {
                if let e = t.enumerated {
                    throw .estimatorMismatch(site: g.name, "a score-function site's downstream cost cannot include terms that depend on an enumerated site (\(t.site == e ? "'\(e)' is enumerated" : "'\(t.site)' depends on the enumerated '\(e)'")); use enum or a pathwise estimator for '\(g.name)', or score for '\(e)'")
                }
                cost = cost + (elbo == .trace ? reduced(t, to: []) : reduced(t, to: g.plates))
            }
            let c = graph.stopGradient(cost)
            let (logQ, _, _, _) = try layout(g.logProb, site: g.name, plates: g.plates)
            var siteShape = [1, 1]
            for plate in allPlates { siteShape.append(g.plates.contains(plate) ? plate.batchSize : 1) }
            let b: Node
            switch baseline {
            case .none:
                b = graph.constant(0)
            case let .decayingAverage(beta):
                guard beta >= 0 && beta < 1 else { throw .estimatorMismatch(site: g.name, "decaying_avg β must lie in [0, 1), got \(beta)") }
                let state = graph.input("\(g.name).baseline", shape: siteShape)
                let costShape = graph.broadcast(c, to: [1, P] + Array(siteShape.dropFirst(2)))
                let mean = graph.sum(costShape, axes: [1], keepDims: true) * (1 / Double(P))
                baselines.append(DecayingBaseline(site: g.name, state: state, costMean: mean, beta: beta))
                b = state
            case .leaveOneOut:
                guard P >= 2 else { throw .estimatorMismatch(site: g.name, "the leave-one-out baseline needs at least 2 particles") }
                let full = graph.broadcast(c, to: [1, P] + Array(siteShape.dropFirst(2)))
                b = (graph.sum(full, axes: [1], keepDims: true) - full) * (1 / Double(P - 1))
            case let .learned(inputs, hidden):
                b = try learnedBaseline(g, inputs: inputs, hidden: hidden, shape: siteShape)
                surrogate = surrogate + graph.sum(graph.square(c - b)) * (1 / Double(P))
            }
            surrogate = surrogate - graph.sum(logQ * graph.stopGradient(c - b)) * (1 / Double(P))
        }

        // The sites' ELBO terms are outputs too, so the fusion pass keeps them (a diverged step
        // names the site whose term is not finite).
        let outputs = [elboNode] + baselines.map(\.costMean) + guideSites.map(\.value) + contributions.map(\.1)
        let tape: Tape
        do { tape = try graph.compile(loss: surrogate, outputs: outputs) } catch { throw .invalid(error.message) }
        return CompiledProgram(tape: tape, elbo: elboNode, loss: surrogate, parameters: params, baselines: baselines,
                               sites: guideSites.map { ($0.name, $0.estimator) }, particles: P,
                               siteTerms: contributions, guideValues: guideSites.map { ($0.name, $0.value) })
    }

    /// Pyro's `nn_baseline`: a linear map (hidden = 0) or one tanh layer of the named features,
    /// each `plates + [features]`, giving one baseline value per plate element.
    func learnedBaseline(_ g: GuideSite, inputs: [String], hidden: Int, shape: [Int]) throws(ProgramError) -> Node {
        guard !inputs.isEmpty else { throw .estimatorMismatch(site: g.name, "a learned baseline needs at least one input") }
        let sizes = g.plates.map(\.batchSize)
        var rng = RandomStream(seed: 0, stream: UInt64(1000 + guideSites.count))
        func weights(_ name: String, _ rows: Int, _ cols: Int, zero: Bool) -> Node {
            let bound = 1 / Double(rows).squareRoot()
            let t = Tensor(shape: [rows, cols], scalars: (0..<(rows * cols)).map { _ in zero ? 0 : (2 * rng.uniform() - 1) * bound })
            let node = graph.parameter(name, t)
            params.append(ParameterRecord(name: name, raw: node, value: node, transform: .identity, learningRate: nil, role: .baseline))
            return node
        }
        let width = hidden > 0 ? hidden : 1
        var pre = graph.constant(0)
        for name in inputs {
            guard let f = features[name] else {
                throw .estimatorMismatch(site: g.name, "unknown baseline input '\(name)' (known: \(features.keys.sorted().joined(separator: ", ")))")
            }
            guard f.rank == sizes.count + 1, Array(f.shape.dropLast()) == sizes else {
                throw .estimatorMismatch(site: g.name, "baseline input '\(name)' must have shape \(sizes) + [features], got \(f.shape)")
            }
            // The regressor's squared error trains its own weights only, never what its inputs are computed from.
            pre = pre + graph.matmul(graph.stopGradient(f), weights("\(g.name).baseline.\(name).w", f.shape.last!, width, zero: hidden == 0))
        }
        var out = pre + weights("\(g.name).baseline.bias", 1, width, zero: true)
        if hidden > 0 {
            out = graph.matmul(graph.tanh(out), weights("\(g.name).baseline.out", hidden, 1, zero: true))
        }
        // One value per plate element, plate axes from the site's listed order to declaration order.
        out = graph.reshape(out, sizes)
        let declared = g.plates.indices.sorted { g.plates[$0].position < g.plates[$1].position }
        if declared != Array(g.plates.indices) { out = graph.permute(out, declared) }
        return graph.reshape(out, shape)
    }

    /// Why a site's log-density does not fit its plates, in the user's terms (per particle).
    func plateMismatchMessage(_ shape: [Int], lead: [Int], plates sitePlates: [Plate]) -> String {
        let body = Array(shape.dropFirst(lead.count))
        let listed = sitePlates.map { "'\($0.name)' (\($0.batchSize))" }.joined(separator: ", ")
        if body.count > sitePlates.count {
            return "its log-density has shape \(body) per particle, more axes than its plates \(sitePlates.isEmpty ? "(none)" : listed): list every plate the site lies in, or mark trailing axes as event axes with event_dims"
        }
        let subsampled = sitePlates.contains { $0.subsample != nil }
            ? "; data along a subsampled plate is cut to the step's rows along its first axis, or along any axis of data and params that declare their plates ({\"value\": …, \"plates\": […]})" : ""
        return "its log-density has shape \(body) per particle, which does not fit its plates \(sitePlates.isEmpty ? "(none)" : listed): an argument or the observation has a length that differs from its plate's size\(subsampled)"
    }
}
