import Autodiff
import Distributions
import Inference
import JSON
import Numerics

/// Compiles a decoded spec to an SVI program: resolves names, infers shapes (per particle,
/// NumPy broadcasting), checks every estimator against its site, and builds the guide and the
/// model through ``ProgramBuilder``. Every problem is reported with its pointer, in one pass.
public enum SpecCompiler {
    /// Compiles `spec`, refusing anything past `limits` before it is evaluated or allocated.
    /// The tape is compiled but its constants are computed at its first replay, so a
    /// compilation that only validates stays cheap. With `predictive`, the job also records a
    /// posterior predictive draw of every observed site (for `/draws` and `result.nc`;
    /// training does not need them).
    public static func compile(_ spec: JobSpec, limits: ValidationLimits = .standard, predictive: Bool = false) throws(SpecErrors) -> CompiledJob {
        let c = Compilation(spec, limits: limits)
        c.predictive = predictive
        let job = c.run()
        try c.diagnostics.throwIfAny()
        return job!
    }
}

/// The state of one compilation.
final class Compilation {
    let spec: JobSpec
    /// The problems found so far, each with its pointer.
    let diagnostics = Diagnostics()
    let builder: ProgramBuilder
    var graph: Graph { builder.graph }
    /// Every name in scope, with its value and where it was defined.
    var env: [String: Binding] = [:]
    /// Names whose definition failed: references to them report nothing more.
    var failed: Set<String> = []
    var plates: [String: Plate] = [:]
    /// Values that declare plates, cut to the step's subsample (see `subsampled`).
    var cutValues: [String: Value] = [:]
    /// How many undeclared data and params the expression being evaluated read at the step's
    /// rows (the positional rule), and whether that rule applies (see `siteValue`).
    var positionalCuts = 0
    var positionalCutsAllowed = true
    var siteInfos: [SiteInfo] = []
    var guideSites: [String: (dist: any Distribution, estimator: Estimator, pointer: JSONPointer, spec: String)] = [:]
    var warnings: [SpecDiagnostic] = []
    /// Set while probing the model for an autoguide: latent sites are recorded and replaced
    /// by placeholders of their shape instead of being scored.
    var probe: [ProbedLatent]? = nil
    /// The whole autoguide's unconstrained Gaussian (normal and mvn autoguides).
    var autoGaussian: GaussianNodes? = nil
    /// Warm start: params created so far, those taken from the earlier job, and whether an
    /// unresolved `init_from` was reported.
    var initialised: [String] = []
    var warmStarted: Set<String> = []
    var reportedUnresolvedWarmStart = false
    /// Posterior outputs recorded so far, whether predictive draws are wanted, observed values.
    var posteriorOutputs: [PosteriorOutput] = []
    var predictive = false
    var observedData: [(name: String, value: Tensor)] = []

    /// A name's meaning.
    struct Binding {
        enum Kind { case data, param, `let`, site }
        let value: Value
        let kind: Kind
        let pointer: JSONPointer
    }

    /// The resource bounds the spec is checked against.
    let limits: ValidationLimits
    /// Whether the graph's limit error has been reported (it is reported once, where it arose).
    var limitReported = false

    init(_ spec: JobSpec, probing: Bool = false, limits: ValidationLimits = .standard) {
        self.spec = spec
        self.limits = limits
        if probing { probe = [] }
        builder = ProgramBuilder(particles: spec.inference.particles, elbo: spec.inference.elbo,
                                 analyticEntropy: spec.inference.analyticEntropy)
        builder.graph.limits = limits.graphLimits
        builder.graph.defersFolding = true
    }

    func run() -> CompiledJob? {
        for entry in spec.data {
            define(entry.name, Binding(value: Value(node: graph.constant(entry.value), lead: 0), kind: .data, pointer: entry.pointer))
        }
        guard withinLimits(at: JSONPointer().appending("data")) else { return nil }
        declarePlates()
        guard withinLimits(at: JSONPointer().appending("plates")) else { return nil }
        declareDataPlates()
        switch spec.guide {
        case let .statements(list):
            for s in list {
                statement(s, inGuide: true)
                guard withinLimits(at: s.pointer) else { return nil }
            }
        case let .auto(auto):
            autoGuide(auto)
            guard withinLimits(at: auto.pointer) else { return nil }
        }
        for s in spec.model {
            statement(s, inGuide: false)
            guard withinLimits(at: s.pointer) else { return nil }
        }
        checkSitesMatch()
        checkEstimatorOverrides()
        warmStartWarning()
        guard diagnostics.isEmpty, withinJobBudget() else { return nil }
        let program: CompiledProgram
        do { program = try builder.compile() } catch {
            guard withinLimits(at: JSONPointer()) else { return nil }
            report(programError: error); return nil
        }
        var job = CompiledJob(name: spec.name, program: program, inference: spec.inference, sites: siteInfos, warnings: warnings,
                              memory: JobMemoryEstimate(program, sites: siteInfos, graph: graph))
        job.transport = transportPlan()
        job.posteriorOutputs = posteriorOutputs
        if job.summarisesLets { job.memory = job.memory.countingLetSummaries(tapeBytes: program.tape.heldBytes) }
        job.observedData = observedData
        job.graph = graph
        guard diagnostics.isEmpty else { return nil }
        return withinMemory(job.memory) ? job : nil
    }

    func define(_ name: String, _ b: Binding) {
        if let old = env[name] {
            diagnostics.report(b.pointer, "the name '\(name)' is already defined at \(old.pointer.description.isEmpty ? "/" : old.pointer.description)")
            return
        }
        env[name] = b
    }

    // MARK: Plates

    func declarePlates() {
        for p in spec.plates {
            let size: Int
            switch p.size {
            case let .count(n): size = n
            case let .expression(text):
                guard let v = evaluate(text, at: p.pointer.appending("size"), site: nil) else { continue }
                if let problem = validationFoldProblem(v) {
                    diagnostics.report(p.pointer.appending("size"), "the plate size '\(text)' is too costly to compute: \(problem)"); continue
                }
                guard let t = graph.constantValue(v.node) ?? constantTensor(v), t.count == 1,
                      let n = exactInt(t.scalar), n >= 1, n <= 100_000_000 else {
                    if !diagnostics.isEmpty { continue }
                    diagnostics.report(p.pointer.appending("size"), "the plate size '\(text)' must evaluate to a positive integer from the data (e.g. len(x))")
                    continue
                }
                size = n
            }
            if let b = p.subsample, b > size {
                diagnostics.report(p.pointer.appending("subsample"), "subsample \(b) is larger than the plate size \(size)"); continue
            }
            do { plates[p.name] = try builder.plate(p.name, size: size, subsample: p.subsample) } catch {
                diagnostics.report(p.pointer, "\(error)")
            }
        }
    }

    /// Data that declare the plates of their leading axes are bound with them.
    func declareDataPlates() {
        for entry in spec.data where !entry.plates.isEmpty {
            guard let b = env[entry.name], let ps = declaredPlates(entry.plates, of: b.value.shape, entry.pointer, "data '\(entry.name)'") else { continue }
            env[entry.name] = Binding(value: Value(node: b.value.node, lead: 0, plates: ps), kind: .data, pointer: entry.pointer)
        }
    }

    /// The plates a value declares for its leading axes, checked against its shape (full sizes).
    func declaredPlates(_ names: [String], of shape: [Int], _ p: JSONPointer, _ what: String) -> [Plate]? {
        guard let ps = sitePlates(names, p) else { return nil }
        guard ps.count <= shape.count else {
            diagnostics.report(p.appending("plates"), "\(what) has shape \(shape) but declares \(ps.count) plates; each plate names one leading axis"); return nil
        }
        for (k, plate) in ps.enumerated() where shape[k] != plate.size {
            diagnostics.report(p.appending("plates").appending(k), "\(what) has \(shape[k]) entries along axis \(k), but plate '\(plate.name)' has size \(plate.size)")
            return nil
        }
        return ps
    }

    /// The plates a site lists, in the order listed (its value's plate axes follow that order).
    func sitePlates(_ names: [String], _ p: JSONPointer) -> [Plate]? {
        var out: [Plate] = []
        for (i, n) in names.enumerated() {
            guard let plate = plates[n] else {
                diagnostics.report(p.appending("plates").appending(i), "unknown plate '\(n)' (known: \(spec.plates.map(\.name).joined(separator: ", ")))")
                return nil
            }
            out.append(plate)
        }
        if Set(names).count != names.count {
            diagnostics.report(p.appending("plates"), "list each plate once (\(names.joined(separator: ", ")))")
            return nil
        }
        return out
    }

    // MARK: Statements

    func statement(_ s: Statement, inGuide: Bool) {
        switch s.kind {
        case let .param(initSpec, constraint, lr, plateNames):
            guard let value = constant(initSpec, at: s.pointer.appending("init")) else { failed.insert(s.name); return }
            var declared: [Plate] = []
            if !plateNames.isEmpty {
                guard let ps = declaredPlates(plateNames, of: value.shape, s.pointer, "param '\(s.name)'") else { failed.insert(s.name); return }
                declared = ps
            }
            do {
                let node = try builder.param(s.name, initial(s.name, value), constraint: constraint.constraint, learningRate: lr)
                define(s.name, Binding(value: Value(node: node, lead: 0, plates: declared), kind: .param, pointer: s.pointer))
            } catch {
                diagnostics.report(s.pointer.appending("init"), message(error)); failed.insert(s.name)
            }
        case let .let(valueSpec):
            guard let v = value(valueSpec, at: s.pointer.appending("value"), site: nil) else { failed.insert(s.name); return }
            define(s.name, Binding(value: v, kind: .let, pointer: s.pointer))
            recordDerived(s.name, v)
        case let .sample(sample):
            if inGuide { guideSample(s, sample) } else { modelSample(s, sample) }
        }
    }

    /// Evaluates a param's init: a constant, or an expression of data and constants.
    func constant(_ v: ValueSpec, at p: JSONPointer) -> Tensor? {
        switch v {
        case let .constant(t): return t
        case let .expression(text):
            guard let value = evaluate(text, at: p, site: nil) else { return nil }
            if let problem = validationFoldProblem(value) { diagnostics.report(p, "the init '\(text)' is too costly to compute: \(problem)"); return nil }
            guard value.lead == 0, !value.isAligned, let t = constantTensor(value) else {
                diagnostics.report(p, "an init must be computable from constants and data, not from params or sites"); return nil
            }
            return t
        }
    }

    /// The value of a node computed from constants alone (compiled and run once).
    /// Nil as well when computing it would take more than the validation's operations: the
    /// checks that use it are then left to the run.
    func constantTensor(_ v: Value) -> Tensor? {
        if let t = graph.constantValue(v.node) { return t }
        guard graph.isConstantNode(v.node), validationFoldProblem(v) == nil else { return nil }
        return try? graph.evaluateConstant(v.node)
    }

    func value(_ v: ValueSpec, at p: JSONPointer, site: [Plate]?) -> Value? {
        switch v {
        case let .constant(t): return Value(node: graph.constant(t), lead: 0)
        case let .expression(text): return evaluate(text, at: p, site: site)
        }
    }

    /// A site's argument or observation. Undeclared data and params whose first axis has a
    /// subsampled plate's size are read at the step's rows (the positional rule) only where
    /// that axis lands on the plate's: the expression is also evaluated with them read whole,
    /// and that reading is kept unless it fails or leaves a subsampled plate's axis of the site
    /// at the plate's full size. A shared vector of logits whose length happens to equal the
    /// plate's size is so read whole.
    func siteValue(_ v: ValueSpec, at p: JSONPointer, plates sitePlates: [Plate], ownAxes: Int) -> Value? {
        positionalCuts = 0
        let mark = diagnostics.count
        let cut = value(v, at: p, site: sitePlates)
        guard positionalCuts > 0 else { return cut }
        let cutProblems = diagnostics.takeBack(after: mark)
        positionalCutsAllowed = false
        let whole = value(v, at: p, site: sitePlates)
        positionalCutsAllowed = true
        _ = diagnostics.takeBack(after: mark)
        if let whole, !fillsSubsampledPlate(whole, sitePlates, ownAxes: ownAxes) { return whole }
        diagnostics.restore(cutProblems)
        return cut
    }

    /// Whether `v`, laid out for a site in `sitePlates` with `ownAxes` event axes, has a
    /// subsampled plate's full size along that plate's axis (where a step has its subsample).
    func fillsSubsampledPlate(_ v: Value, _ sitePlates: [Plate], ownAxes: Int) -> Bool {
        func full(_ plate: Plate, _ extent: Int) -> Bool {
            guard let subsample = plate.subsample else { return false }
            return extent == plate.size && subsample != plate.size
        }
        if v.isAligned {
            return v.plates.indices.contains { full(v.plates[$0], v.node.shape[v.lead + $0]) }
        }
        let offset = sitePlates.count + ownAxes - v.rank
        return v.shape.indices.contains { k in
            let position = offset + k
            return position >= 0 && position < sitePlates.count && full(sitePlates[position], v.shape[k])
        }
    }

    /// A value of a site's argument or observation laid out for the site: plate axes in the
    /// site's listed order (1 where the value is constant along a plate), then its own axes.
    /// Values without plates are returned as they are (read right-aligned, as NumPy does).
    func placed(_ v: Value, in sitePlates: [Plate], at p: JSONPointer, _ what: String) -> Value? {
        guard v.isAligned else { return v }
        if let stray = v.plates.first(where: { !sitePlates.contains($0) }) {
            let listed = sitePlates.isEmpty ? "no plates" : "plates " + sitePlates.map { "'\($0.name)'" }.joined(separator: ", ")
            diagnostics.report(p, "\(what) varies along plate '\(stray.name)' (shape \(v.shape), plates \(v.plates.map { "'\($0.name)'" }.joined(separator: ", "))), but the site lies in \(listed): list '\(stray.name)' in the site's plates, or reduce the value along it (e.g. sum(x, \(stray.name)))")
            return nil
        }
        return Value(node: v.placed(in: sitePlates, freeRank: v.free.count), lead: v.lead)
    }

    /// The distribution of a sample statement, arguments aligned so particles meet particles.
    /// With `drawShape`, every argument is broadcast to `drawShape` + its event axes, so the
    /// law draws one independent value per element (posterior predictive draws).
    func distribution(_ s: Statement, _ sample: SampleSpec, plates sitePlates: [Plate], expandingBatch: Bool = false,
                      drawShape: [Int]? = nil) -> (any Distribution)? {
        for problem in DistributionCatalog.checkNames(sample.distribution, sample.args.map(\.name)) {
            diagnostics.report(s.pointer.appending("args"), problem)
        }
        var values: [(String, Value, JSONPointer)] = []
        var ok = true
        for arg in sample.args {
            let own = DistributionCatalog.eventRank(sample.distribution, arg.name) + sample.eventDims
            guard let raw = siteValue(arg.value, at: arg.pointer, plates: sitePlates, ownAxes: own),
                  let v = placed(raw, in: sitePlates, at: arg.pointer, "argument '\(arg.name)'") else { ok = false; continue }
            values.append((arg.name, v, arg.pointer))
        }
        guard ok, DistributionCatalog.checkNames(sample.distribution, sample.args.map(\.name)).isEmpty else { return nil }
        // Per-particle batch rank: the site's plates and event axes, or the widest argument.
        var batchRank = sitePlates.count + sample.eventDims
        for (n, v, _) in values { batchRank = max(batchRank, v.rank - DistributionCatalog.eventRank(sample.distribution, n)) }
        var nodes: [String: Node] = [:]
        for (n, v, _) in values { nodes[n] = v.aligned(toRank: batchRank + DistributionCatalog.eventRank(sample.distribution, n)) }
        if expandingBatch { expandBatch(&nodes, values, batchRank: batchRank, sample, plates: sitePlates) }
        if let drawShape, !broadcastArguments(&nodes, sample, to: drawShape) { return nil }
        do {
            let dist = try DistributionCatalog.make(sample.distribution, nodes, graph: graph)
            return try DistributionCatalog.toEvent(dist, sample.eventDims)
        } catch {
            let pointer = values.first { error.description.contains("'\($0.0)'") }?.2 ?? s.pointer
            diagnostics.report(pointer, "\(error)")
            return nil
        }
    }

    /// A guide site draws one value per element of its plates: arguments constant along a plate
    /// that lies inside one they vary along (`[3, 1]` for plates of sizes `[3, 4]`) are repeated
    /// along it, since a draw's plate axes come from its arguments' batch shape.
    func expandBatch(_ nodes: inout [String: Node], _ values: [(String, Value, JSONPointer)], batchRank: Int, _ sample: SampleSpec, plates sitePlates: [Plate]) {
        let sizes = sitePlates.map(\.batchSize)
        var batch: [Int] = []
        for (n, v, _) in values {
            let user = Array(nodes[n]!.shape.dropFirst(v.lead))
            let own = Array(user.dropLast(DistributionCatalog.eventRank(sample.distribution, n)))
            guard let b = try? Shape.broadcast(batch, own) else { return }
            batch = b
        }
        let plateAxes = Array(batch.prefix(max(0, batch.count - sample.eventDims)))
        let trimmed = Array(plateAxes.drop { $0 == 1 })
        guard plateAxes.count == sizes.count, !Array(sizes.suffix(trimmed.count)).elementsEqual(trimmed) else { return }
        let target = sizes + Array(batch.suffix(sample.eventDims))
        for (n, v, _) in values {
            let node = nodes[n]!
            let eventRank = DistributionCatalog.eventRank(sample.distribution, n)
            let user = Array(node.shape.dropFirst(v.lead))
            let own = Array(user.dropLast(eventRank)), event = Array(user.suffix(eventRank))
            let padded = Array(node.shape.prefix(v.lead)) + Array(repeating: 1, count: target.count - own.count) + own + event
            nodes[n] = graph.broadcast(graph.reshape(node, padded), to: Array(node.shape.prefix(v.lead)) + target + event)
        }
    }

    func guideSample(_ s: Statement, _ sample: SampleSpec) {
        guard let sitePlates = sitePlates(sample.plates, s.pointer), let dist = distribution(s, sample, plates: sitePlates, expandingBatch: true) else {
            failed.insert(s.name); return
        }
        let override = spec.estimators.first { $0.site == s.name }
        let chosen = override?.estimator ?? sample.estimator ?? sample.aliasEstimator
        let estimator = chosen?.estimator
        let pointer = override?.pointer ?? sample.estimator?.pointer ?? s.pointer
        if let e = estimator, let problem = EstimatorFit.problem(e, dist) {
            diagnostics.report(pointer, "site '\(s.name)': \(problem)"); failed.insert(s.name); return
        }
        if estimator == .enumerate, let k = (dist as? OneHotCategorical)?.categorical.classes,
           let problem = graph.admissionProblem(shape: [k, k], entries: Shape.count([k, k])) {
            diagnostics.report(pointer, "site '\(s.name)': its \(k) one-hot values cannot be enumerated: \(problem)"); failed.insert(s.name); return
        }
        if case let .score(.learned(inputs, hidden))? = estimator {
            for input in inputs {
                guard env[input] != nil else {
                    diagnostics.report(pointer, "unknown baseline input '\(input)' (known: \(env.keys.sorted().joined(separator: ", ")))"); continue
                }
                // Read as the site reads its arguments: at the step's subsample, laid out for its plates.
                guard let v = evaluate(input, at: pointer, site: sitePlates),
                      let laid = placed(v, in: sitePlates, at: pointer, "baseline input '\(input)'") else { continue }
                // The regressor's weights are [features, width]: admitted before they are drawn.
                let weights = [laid.node.shape.last ?? 1, max(hidden, 1)]
                if let problem = graph.admissionProblem(shape: weights, entries: Shape.count(weights)) {
                    diagnostics.report(pointer, "the learned baseline's weights for input '\(input)' cannot be built: \(problem)"); failed.insert(s.name); return
                }
                builder.feature(input, laid.node)
            }
        }
        do {
            let value = try builder.sample(s.name, dist, plates: sitePlates, estimator: estimator)
            let lead = value.rank - dist.eventShape.count - sitePlates.count
            define(s.name, Binding(value: Value(node: value, lead: max(lead, 0), plates: sitePlates), kind: .site, pointer: s.pointer))
            let used = estimator ?? (dist.hasRSample ? .reparam : .score(baseline: .decayingAverage(beta: 0.9)))
            guideSites[s.name] = (dist, used, s.pointer, sample.distribution)
        } catch {
            diagnostics.report(s.pointer, message(error)); failed.insert(s.name)
        }
    }

    func modelSample(_ s: Statement, _ sample: SampleSpec) {
        guard let sitePlates = sitePlates(sample.plates, s.pointer) else { failed.insert(s.name); return }
        if probe != nil {
            if sample.observed == nil { probeLatent(s, sample, sitePlates) }
            return
        }
        if let obs = sample.observed {
            guard let dist = distribution(s, sample, plates: sitePlates),
                  let raw = siteValue(obs, at: s.pointer.appending("obs"), plates: sitePlates, ownAxes: dist.eventShape.count),
                  let value = placed(raw, in: sitePlates, at: s.pointer.appending("obs"), "the observation") else { return }
            if let t = constantTensor(value), let i = dist.support.firstViolation(in: t) {
                diagnostics.report(s.pointer.appending("obs"), "observation element \(i) = \(format(t.scalars[i])) is outside the support of \(sample.distribution) (\(dist.support))")
                return
            }
            do {
                try builder.observe(s.name, dist, value: value.node, plates: sitePlates)
                recordPredictive(s, sample, sitePlates, observed: value, event: dist.eventShape)
            } catch {
                diagnostics.report(s.pointer, message(error))
            }
            return
        }
        guard let g = env[s.name], g.kind == .site else {
            if !failed.contains(s.name) {
                diagnostics.report(s.pointer, "the model's latent site '\(s.name)' has no guide site of that name (add one to the guide, or observe it with 'obs')")
            }
            failed.insert(s.name); return
        }
        // The site is the model's, whatever its arguments' problems: the guide's site of its
        // name is not reported as unmatched.
        modelLatents.insert(s.name)
        guard let dist = distribution(s, sample, plates: sitePlates) else { return }
        if let gs = guideSites[s.name], gs.estimator.checksSupport,
           let problem = SupportFit.problem(site: s.name, guide: gs.dist, guideName: gs.spec, model: dist, modelName: sample.distribution) {
            diagnostics.report(s.pointer, problem); return
        }
        do {
            let value = try builder.latent(s.name, dist, plates: sitePlates)
            if let gs = guideSites[s.name] {
                let shape = sitePlates.map(\.batchSize) + gs.dist.eventShape
                siteInfos.append(SiteInfo(name: s.name, estimator: gs.estimator, distribution: gs.spec, value: value,
                                          shape: shape, guide: gs.dist, prior: dist))
                if gs.estimator != .enumerate { recordLatent(s.name, value, shape: shape) }
            }
        } catch {
            diagnostics.report(s.pointer, message(error))
        }
    }

    var modelLatents: Set<String> = []

    func checkSitesMatch() {
        for (name, g) in guideSites where !modelLatents.contains(name) && !failed.contains(name) {
            diagnostics.report(g.pointer, "the guide's site '\(name)' is not a latent site of the model (the model must sample '\(name)' without 'obs')")
        }
    }

    func checkEstimatorOverrides() {
        for o in spec.estimators where guideSites[o.site] == nil && !failed.contains(o.site) {
            diagnostics.report(o.pointer, "no guide site named '\(o.site)' (guide sites: \(guideSites.keys.sorted().joined(separator: ", ")))")
        }
    }

    // MARK: Errors

    func report(programError e: ProgramError) {
        switch e {
        case let .unmatchedSite(n): diagnostics.report(env[n]?.pointer ?? JSONPointer(), "\(e)")
        case let .estimatorMismatch(site, _), let .plateMismatch(site, _):
            diagnostics.report(guideSites[site]?.pointer ?? env[site]?.pointer
                               ?? spec.model.first(where: { $0.name == site })?.pointer ?? JSONPointer(), "\(e)")
        default: diagnostics.report(JSONPointer(), "\(e)")
        }
    }

    func message(_ e: any Error) -> String { "\(e)" }
}

extension ConstraintSpec {
    /// The name a spec writes (the interval has its own object form).
    public var name: String { constraint.description }

    var constraint: Constraint {
        switch self {
        case .real: .real
        case .positive: .positive
        case .nonnegative: .nonnegative
        case .unitInterval: .unitInterval
        case .simplex: .simplex
        case .lowerCholesky: .lowerCholesky
        case let .interval(a, b): .interval(a, b)
        }
    }
}

extension Estimator {
    /// Whether the guide's draws are the values the model scores under its own law (not a
    /// relaxed or straight-through stand-in), so their support must be the model site's.
    var checksSupport: Bool {
        switch self {
        case .relaxed, .straightThrough: false
        default: true
        }
    }
}
