import Autodiff
import Distributions
import Inference
import JSON
import Numerics

/// A latent site of the model as an autoguide sees it: plates, value shape and support.
struct ProbedLatent {
    let name: String
    let plates: [String]
    /// Per-particle value shape: plate sizes + event shape.
    let shape: [Int]
    let eventRank: Int
    let support: Constraint
    let pointer: JSONPointer
}

extension Compilation {
    /// Records a latent site while probing and binds its name to a placeholder of its shape
    /// inside its support (the image of 0 under `biject_to`), so later sites can be shaped.
    func probeLatent(_ s: Statement, _ sample: SampleSpec, _ sitePlates: [Plate]) {
        guard let dist = distribution(s, sample, plates: sitePlates) else { failed.insert(s.name); return }
        let shape = sitePlates.map(\.batchSize) + dist.eventShape
        if let problem = graph.admissionProblem(shape: shape, entries: 2 * Shape.count(shape)) {
            diagnostics.report(s.pointer, "the site's value cannot be built: \(problem). \(Compilation.sizeAdvice)")
            failed.insert(s.name); return
        }
        probe?.append(ProbedLatent(name: s.name, plates: sample.plates, shape: shape, eventRank: dist.eventShape.count,
                                   support: dist.support, pointer: s.pointer))
        var placeholder = Tensor.zeros(shape)
        if let t = try? Transform.bijectTo(dist.support) {
            placeholder = t.forward(Tensor.zeros(t.unconstrainedShape(shape)))
        }
        define(s.name, Binding(value: Value(node: graph.constant(placeholder), lead: 0, plates: sitePlates), kind: .site, pointer: s.pointer))
    }

    /// Pyro's AutoNormal, AutoMultivariateNormal and AutoDelta: one guide site per latent site
    /// of the model, in unconstrained space through `biject_to` of its support.
    func autoGuide(_ auto: AutoGuideSpec) {
        // Probe the model (its own builder, its diagnostics discarded: the real pass reports).
        let probing = Compilation(spec, probing: true, limits: limits)
        for entry in spec.data {
            probing.define(entry.name, Binding(value: Value(node: probing.graph.constant(entry.value), lead: 0), kind: .data, pointer: entry.pointer))
        }
        probing.declarePlates()
        probing.declareDataPlates()
        for s in spec.model { probing.statement(s, inGuide: false) }
        let latents = probing.probe ?? []
        if let tooLarge = probing.diagnostics.all.first(where: { $0.message.contains(Compilation.sizeAdvice) }) {
            diagnostics.report(JSONPointer(parsing: tooLarge.pointer) ?? auto.pointer, tooLarge.message); return
        }
        guard probing.diagnostics.isEmpty else { return }
        if latents.isEmpty { warnings.append(SpecDiagnostic(pointer: auto.pointer.description, message: "the model has no latent sites; the autoguide is empty")) }

        var transforms: [(ProbedLatent, Transform, [Plate])] = []
        for latent in latents {
            guard let t = try? Transform.bijectTo(latent.support) else {
                diagnostics.report(latent.pointer, "the autoguide '\(auto.family.rawValue)' covers continuous sites only; '\(latent.name)' has support \(latent.support) — write an explicit guide")
                continue
            }
            guard let ps = sitePlates(latent.plates, latent.pointer) else { continue }
            transforms.append((latent, t, ps))
        }
        guard diagnostics.isEmpty else { return }
        switch auto.family {
        case .normal, .delta: perSiteAutoGuide(auto, transforms)
        case .mvn: jointAutoGuide(auto, transforms)
        }
    }

    func perSiteAutoGuide(_ auto: AutoGuideSpec, _ sites: [(ProbedLatent, Transform, [Plate])]) {
        var joined: [(loc: Node, scale: Node, count: Int)] = []
        defer { if auto.family == .normal && !joined.isEmpty { autoGaussian = .joined(joined) } }
        for (latent, t, ps) in sites {
            let u = t.unconstrainedShape(latent.shape)
            let eventAxes = u.count - ps.count
            if let problem = graph.admissionProblem(shape: u, entries: 4 * Shape.count(u)) {
                diagnostics.report(auto.pointer, "autoguide for site '\(latent.name)': its params cannot be built: \(problem). \(Compilation.sizeAdvice)"); continue
            }
            do {
                let loc = try builder.param("auto_\(latent.name)_loc", initial("auto_\(latent.name)_loc", Tensor.zeros(u)))
                let dist: any Distribution
                if auto.family == .delta {
                    dist = try Delta(v: t(loc), eventDims: latent.shape.count - ps.count)
                } else {
                    let scale = try builder.param("auto_\(latent.name)_scale", initial("auto_\(latent.name)_scale", Tensor(repeating: auto.initScale, shape: u)), constraint: .positive)
                    joined.append((loc, scale, Shape.count(u)))
                    let base = try DistributionCatalog.toEvent(try Normal(loc: loc, scale: scale), eventAxes)
                    dist = t == .identity ? base : TransformedDistribution(base: base, transform: t)
                }
                let value = try builder.sample(latent.name, dist, plates: ps, estimator: auto.estimator?.estimator)
                define(latent.name, Binding(value: Value(node: value, lead: 1, plates: ps), kind: .site, pointer: auto.pointer))
                guideSites[latent.name] = (dist, auto.estimator?.estimator ?? .reparam, auto.pointer, auto.family == .delta ? "Delta" : "Normal")
            } catch {
                diagnostics.report(auto.pointer, "autoguide for site '\(latent.name)': \(error)")
            }
        }
    }

    /// One MultivariateNormal over every site's unconstrained values (flattened and joined),
    /// drawn as an auxiliary guide site; each latent site takes its slice through `biject_to`,
    /// as a Delta whose log-density is minus the log-Jacobian (so log q is the density of the
    /// constrained draw).
    func jointAutoGuide(_ auto: AutoGuideSpec, _ sites: [(ProbedLatent, Transform, [Plate])]) {
        let sizes = sites.map { Shape.count($0.1.unconstrainedShape($0.0.shape)) }
        let total = sizes.reduce(0, +)
        guard total > 0 else { return }
        guard total <= 2000 else {
            diagnostics.report(auto.pointer.appending("auto"), "the mvn autoguide would have \(total) dimensions; at most 2000 are supported (use 'normal')"); return
        }
        do {
            let loc = try builder.param("auto_loc", initial("auto_loc", Tensor.zeros([total])))
            let tril = try builder.param("auto_scale_tril", initial("auto_scale_tril", Tensor.eye(total).map { $0 * auto.initScale }), constraint: .lowerCholesky)
            let joint = try builder.sample("_auto_latent", try MultivariateNormal(loc: loc, scaleTril: tril), estimator: auto.estimator?.estimator, auxiliary: true)
            autoGaussian = .full(loc: loc, scaleTril: tril, batch: [], dimension: total)
            var offset = 0
            let p = builder.particles
            for ((latent, t, ps), size) in zip(sites, sizes) {
                let u = t.unconstrainedShape(latent.shape)
                let slice = graph.reshape(graph.slice(joint, axis: 1, offset..<(offset + size)), [p] + u)
                offset += size
                let y = t(slice)
                let eventAxes = latent.shape.count - ps.count
                var logDensity = graph.constant(0)
                if t != .identity {
                    // log |det J| summed over the event axes (stick-breaking's already spans its last axis).
                    var ldj = try t.logAbsDetJacobian(slice, y)
                    let axes = eventAxes - t.eventDims
                    if axes > 0 { ldj = graph.sum(ldj, axes: Array((-axes)...(-1))) }
                    logDensity = -ldj
                }
                let dist = try Delta(v: y, logDensity: logDensity, eventDims: eventAxes)
                let value = try builder.sample(latent.name, dist, plates: ps, estimator: .reparam)
                define(latent.name, Binding(value: Value(node: value, lead: 1, plates: ps), kind: .site, pointer: auto.pointer))
                guideSites[latent.name] = (dist, .reparam, auto.pointer, "MultivariateNormal")
            }
        } catch {
            diagnostics.report(auto.pointer, "mvn autoguide: \(error)")
        }
    }
}
