import Autodiff
import Distributions
import Inference
import JSON
import Numerics

/// The limits of transport work a job may ask for (validation refuses more).
enum TransportLimits {
    /// Largest dimension compared with a full covariance (a D×D map and eigendecomposition).
    static let fullDimension = 1000
    /// Largest Σ batch·D³ of one W₂ evaluation (computed at up to ~1000 report steps).
    static let operationsPerEvaluation = 100_000_000
    /// Largest draws × site size of a coupled estimate.
    static let drawElements = 4_000_000
    /// Largest site recorded as a fitted Gaussian in the result (diagonal elements; full D).
    static let fittedDiagonal = 100_000
}

extension Compilation {
    /// A guide distribution's Gaussian nodes over a value of per-particle `shape`, when it is
    /// a Normal (possibly with event axes) or a MultivariateNormal.
    func gaussianNodes(_ dist: any Distribution, shape: [Int]) -> GaussianNodes? {
        switch dist {
        case let n as Normal: return .diagonal(loc: n.loc, scale: n.scale, shape: shape)
        case let i as Independent:
            guard let n = i.base as? Normal else { return nil }
            return .diagonal(loc: n.loc, scale: n.scale, shape: shape)
        case let m as MultivariateNormal:
            guard let d = shape.last, d == m.dimension else { return nil }
            return .full(loc: m.loc, scaleTril: m.scaleTril, batch: Array(shape.dropLast()), dimension: d)
        default: return nil
        }
    }

    /// Builds the transport plan after the program compiled: every Gaussian guide site whose
    /// parameters do not depend on other draws, the spec's references checked against their
    /// sites, the coupled estimates' expressions checked. Reports problems; nil on failure.
    func transportPlan() -> TransportPlan? {
        let draws = env.values.filter { $0.kind == .site }.map(\.value.node)
        let dependent = graph.dependence(on: draws)
        func free(_ g: GaussianNodes) -> Bool { !g.nodes.contains { dependent[$0.id] } }
        var sites: [(name: String, shape: [Int], nodes: GaussianNodes)] = []
        for info in siteInfos {
            guard let dist = info.guide, let g = gaussianNodes(dist, shape: info.shape), free(g) else { continue }
            sites.append((info.name, info.shape, g))
        }
        if let auto = autoGaussian { sites.append((TransportSpec.autoguideSite, [auto.layout.dimension], auto)) }

        var references: [TransportPlan.Reference] = []
        var estimates: [TransportPlan.Estimate] = []
        let spec = self.spec.transport
        for r in spec?.references ?? [] {
            if let planned = reference(r, sites: sites, free: free) { references.append(planned) }
        }
        for e in spec?.estimates ?? [] {
            guard let k = references.firstIndex(where: { $0.name == e.reference }) else {
                if !(spec?.references ?? []).contains(where: { $0.name == e.reference }) {
                    diagnostics.report(e.pointer.appending("reference"), "unknown reference '\(e.reference)' (known: \((spec?.references ?? []).map(\.name).joined(separator: ", ")))")
                }
                continue
            }
            let r = references[k]
            let n = spec?.draws ?? TransportSpec.defaultDraws
            let elements = n.multipliedReportingOverflow(by: max(Shape.count(r.valueShape), 1))
            guard !elements.overflow, elements.partialValue <= TransportLimits.drawElements else {
                diagnostics.report(e.pointer, "\(n) coupled draws of '\(r.site)' (\(Shape.count(r.valueShape)) numbers each) exceed the limit of \(TransportLimits.drawElements) numbers; lower transport.draws")
                continue
            }
            let probe = Tensor.zeros([1] + r.valueShape)
            let checked = TransportPlan.evaluate(e.f, variable: r.site, draws: probe, spec: self.spec, pointer: e.pointer, checking: n)
            if let problem = checked.problem {
                diagnostics.report(e.pointer.appending("f"), problem.message); continue
            }
            estimates.append(TransportPlan.Estimate(name: e.name, reference: k, f: e.f, pointer: e.pointer))
        }
        guard diagnostics.isEmpty else { return nil }
        let outputs = (sites.flatMap { $0.nodes.nodes } + references.flatMap { $0.prior?.nodes ?? [] })
        guard !outputs.isEmpty else { return nil }
        let tape: Tape
        do { tape = try graph.compile(outputs: outputs) } catch {
            diagnostics.report(spec?.pointer ?? JSONPointer(), "transport: \(error.message)"); return nil
        }
        let fitted = sites.filter { s in
            switch s.nodes {
            case .full(_, _, _, let dim): dim <= TransportLimits.fullDimension
            default: s.nodes.layout.dimension <= TransportLimits.fittedDiagonal
            }
        }
        return TransportPlan(sites: fitted, references: references, estimates: estimates,
                             draws: spec?.draws ?? TransportSpec.defaultDraws, spec: self.spec, tape: tape)
    }

    /// One reference checked against its site: the site must be Gaussian (with parameters
    /// free of other draws), the reference's numbers must fit its layout and be a valid
    /// Gaussian, and a full comparison must stay within the limits.
    func reference(_ r: ReferenceSpec, sites: [(name: String, shape: [Int], nodes: GaussianNodes)],
                   free: (GaussianNodes) -> Bool) -> TransportPlan.Reference? {
        let sitePointer = r.pointer.appending("site")
        guard let site = sites.first(where: { $0.name == r.site }) else {
            if r.site == TransportSpec.autoguideSite {
                diagnostics.report(sitePointer, "'\(r.site)' names the whole autoguide; this job's guide is not a normal or mvn autoguide")
            } else if let info = siteInfos.first(where: { $0.name == r.site }) {
                diagnostics.report(sitePointer, "site '\(r.site)' is not Gaussian with parameters free of other draws (its guide is \(info.guide?.name ?? info.distribution)); references apply to Normal and MultivariateNormal guide sites\(autoGaussian != nil ? ", or to the whole autoguide as '\(TransportSpec.autoguideSite)'" : "")")
            } else {
                diagnostics.report(sitePointer, "unknown site '\(r.site)' (Gaussian guide sites: \(sites.map { $0.name }.joined(separator: ", ")))")
            }
            return nil
        }
        let (batch, dimension) = site.nodes.layout
        var full = false
        if case .full = site.nodes { full = true }
        var fixed: GaussianValue?, prior: GaussianNodes?, job: String?, source = "given"
        switch r.source {
        case .prior:
            source = "prior"
            guard let info = siteInfos.first(where: { $0.name == r.site }), let p = info.prior,
                  let nodes = gaussianNodes(p, shape: site.shape), free(nodes) else {
                diagnostics.report(r.pointer.appending("prior"), "the prior of '\(r.site)' is not a Normal or MultivariateNormal with parameters free of other draws, so it cannot be a reference")
                return nil
            }
            if case .full = nodes { full = true }
            prior = nodes
        case let .job(id):
            diagnostics.report(r.pointer.appending("job"), "a reference to job '\(id)' is read by the service when the job is submitted (POST /v1/jobs); elsewhere give its mean and cov or scale")
            return nil
        case let .given(meanSpec, spread, from):
            if from != nil { source = "job"; job = from }
            guard let value = givenGaussian(r, meanSpec, spread, siteShape: site.shape, batch: batch, dimension: dimension) else { return nil }
            if case .full = value.spread { full = true }
            fixed = value
        }
        if full {
            guard dimension <= TransportLimits.fullDimension else {
                diagnostics.report(r.pointer, "comparing '\(r.site)' with a full covariance needs a \(dimension)×\(dimension) map; at most \(TransportLimits.fullDimension) dimensions (give a diagonal scale instead)")
                return nil
            }
            let cube = dimension * dimension * dimension
            let ops = batch.multipliedReportingOverflow(by: cube)
            guard !ops.overflow, ops.partialValue <= TransportLimits.operationsPerEvaluation else {
                diagnostics.report(r.pointer, "W₂ to '\(r.name)' needs about \(batch) × \(dimension)³ operations per evaluation; the limit is \(TransportLimits.operationsPerEvaluation)")
                return nil
            }
        }
        let valueShape = r.site == TransportSpec.autoguideSite ? [dimension] : site.shape
        return TransportPlan.Reference(name: r.name, site: r.site, source: source, job: job, q: site.nodes, fixed: fixed, prior: prior, valueShape: valueShape)
    }

    /// A given reference's numbers, in the site's layout: the mean has the site's shape (or,
    /// for a batched MultivariateNormal, one event `[D]` shared by the batch); `scale` has the
    /// mean's shape (or is one number); `cov` and `scale_tril` are D×D (or one per batch
    /// element: batch + `[D, D]`).
    func givenGaussian(_ r: ReferenceSpec, _ meanSpec: ValueSpec, _ spread: SpreadSpec, siteShape: [Int], batch: Int, dimension: Int) -> GaussianValue? {
        let mp = r.pointer.appending("mean")
        guard let mean = constant(meanSpec, at: mp) else { return nil }
        let valueShape = r.site == TransportSpec.autoguideSite ? [dimension] : siteShape
        let eventShape = batch > 1 ? [dimension] : valueShape
        guard mean.shape == valueShape || (batch > 1 && mean.shape == eventShape), mean.scalars.allSatisfy(\.isFinite) else {
            diagnostics.report(mp, "the mean must be finite with the site's shape \(valueShape)\(batch > 1 ? " (or \(eventShape), shared by the batch)" : ""), got \(mean.shape)")
            return nil
        }
        let means = mean.count == batch * dimension ? mean.scalars : Array((0..<batch).map { _ in mean.scalars }.joined())
        switch spread {
        case let .scale(v):
            let p = r.pointer.appending("scale")
            guard let t = constant(v, at: p) else { return nil }
            let sd: [Double]
            if t.count == 1 {
                sd = Array(repeating: t.scalars[0], count: batch * dimension)
            } else if t.shape == valueShape {
                sd = t.scalars
            } else if batch > 1, t.shape == [dimension] {
                sd = Array((0..<batch).map { _ in t.scalars }.joined())
            } else {
                diagnostics.report(p, "scale must be one number or have the mean's shape \(valueShape), got \(t.shape)"); return nil
            }
            guard sd.allSatisfy({ $0 > 0 && $0.isFinite }) else { diagnostics.report(p, "every scale must be positive and finite"); return nil }
            if batch > 1 {
                // A batched MultivariateNormal site: a diagonal reference becomes a full one per element.
                let covs = (0..<batch).map { k -> Tensor in
                    var c = Tensor.zeros([dimension, dimension])
                    for i in 0..<dimension { c.scalars[i * dimension + i] = sd[k * dimension + i] * sd[k * dimension + i] }
                    return c
                }
                return GaussianValue(batch: batch, dimension: dimension, mean: means, spread: .full(covs))
            }
            return GaussianValue(batch: 1, dimension: dimension, mean: means, spread: .diagonal(sd))
        case let .cov(v), let .scaleTril(v):
            var isTril = false
            if case .scaleTril = spread { isTril = true }
            let p = r.pointer.appending(isTril ? "scale_tril" : "cov")
            guard dimension <= TransportLimits.fullDimension else {
                diagnostics.report(p, "a full reference over \(dimension) dimensions is larger than the limit of \(TransportLimits.fullDimension); give a diagonal scale"); return nil
            }
            guard let t = constant(v, at: p) else { return nil }
            let square = [dimension, dimension]
            guard t.shape == square || (batch > 1 && t.shape == [batch] + square) || (batch > 1 && t.shape.count > 2 && Shape.count(t.shape) == batch * dimension * dimension && Array(t.shape.suffix(2)) == square) else {
                diagnostics.report(p, "\(isTril ? "scale_tril" : "cov") must be \(square)\(batch > 1 ? " or one per batch element" : ""), got \(t.shape)"); return nil
            }
            let count = t.count / (dimension * dimension)
            var covs: [Tensor] = []
            for k in 0..<count {
                let m = Tensor(shape: square, scalars: Array(t.scalars[(k * dimension * dimension)..<((k + 1) * dimension * dimension)]))
                guard m.scalars.allSatisfy(\.isFinite) else { diagnostics.report(p, "entries must be finite"); return nil }
                if isTril {
                    for i in 0..<dimension {
                        guard m.scalars[i * dimension + i] > 0, (i + 1 ..< dimension).allSatisfy({ m.scalars[i * dimension + $0] == 0 }) else {
                            diagnostics.report(p, "scale_tril must be lower triangular with a positive diagonal (row \(i)\(count > 1 ? " of element \(k)" : ""))"); return nil
                        }
                    }
                    covs.append(LinearAlgebra.matmul(m, LinearAlgebra.transpose(m)))
                } else {
                    let scale = m.scalars.map(abs).max() ?? 0
                    for i in 0..<dimension {
                        for j in 0..<i where abs(m.scalars[i * dimension + j] - m.scalars[j * dimension + i]) > GaussianTransport.symmetryTolerance * scale {
                            diagnostics.report(p, "cov must be symmetric: entries (\(i), \(j)) and (\(j), \(i)) differ"); return nil
                        }
                    }
                    do { _ = try LinearAlgebra.cholesky(m) } catch {
                        diagnostics.report(p, "cov must be positive definite: its leading minor of order \(error.minor)\(count > 1 ? " in element \(k)" : "") is not positive"); return nil
                    }
                    covs.append(m)
                }
            }
            return GaussianValue(batch: batch, dimension: dimension, mean: means, spread: .full(covs))
        }
    }
}

extension Compilation {
    /// A param's initial value: the earlier job's fitted value under `init_from` when it has a
    /// param of this name (its shape must match), else `value`.
    func initial(_ name: String, _ value: Tensor) -> Tensor {
        initialised.append(name)
        switch spec.initFrom {
        case nil: return value
        case let .job(id, pointer)?:
            if !reportedUnresolvedWarmStart {
                reportedUnresolvedWarmStart = true
                diagnostics.report(pointer, "init_from names job '\(id)'; the service reads its params when the job is submitted (POST /v1/jobs), so it cannot be used here")
            }
            return value
        case let .resolved(job, params, _)?:
            guard let found = params.first(where: { $0.name == name }) else { return value }
            warmStarted.insert(name)
            guard found.value.shape == value.shape else {
                diagnostics.report(found.pointer, "param '\(name)' has shape \(value.shape) in this job but \(found.value.shape) in job '\(job)'")
                return value
            }
            return found.value
        }
    }

    /// A warning naming the params `init_from` did not cover.
    func warmStartWarning() {
        guard case let .resolved(job, _, pointer)? = spec.initFrom else { return }
        let cold = initialised.filter { !warmStarted.contains($0) }
        if !cold.isEmpty {
            warnings.append(SpecDiagnostic(pointer: pointer.description, message: "job '\(job)' has no param named \(cold.joined(separator: ", ")); \(cold.count == 1 ? "it keeps its" : "they keep their") own init"))
        }
    }
}
