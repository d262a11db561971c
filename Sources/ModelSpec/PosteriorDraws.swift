import Autodiff
import Distributions
import Inference
import Numerics

/// A value the posterior tape computes per draw: a latent site's guide value, a `let` value
/// (a derived quantity), or a posterior predictive draw of an observed site.
public struct PosteriorOutput {
    public enum Kind: String, Sendable { case latent, derived, predictive }
    public let name: String
    public let kind: Kind
    let node: Node
    /// Leading engine axes of `node` (0: the same for every draw; 1: one per particle).
    let lead: Int
    /// Per-draw shape.
    public let shape: [Int]
}

/// Draws from the fitted guide, replayed at parameters loaded from a finished job, with the
/// job's `let` values and, when compiled for it, posterior predictive draws of its observed
/// sites. Draws are reproducible: they depend only on (seed, draw index).
public final class PosteriorDraws {
    public let outputs: [PosteriorOutput]
    let tape: Tape
    let parameters: [ParameterRecord]
    let particles: Int

    /// Most draws one request may ask for.
    public static let maxDraws = 10_000
    /// Most numbers (draws × values per draw, over every output) one JSON response may hold.
    public static let maxJSONNumbers = 2_000_000
    /// Most numbers one NetCDF file may hold (160 MB).
    public static let maxFileNumbers = 20_000_000

    /// A posterior tape for `job`'s outputs (latent sites, lets, and predictive draws when
    /// `job` was compiled with `predictive: true`).
    public convenience init(_ job: CompiledJob) throws(SpecErrors) {
        try self.init(job, outputs: job.posteriorOutputs)
    }

    /// A posterior tape for the chosen outputs of `job`.
    init(_ job: CompiledJob, outputs: [PosteriorOutput]) throws(SpecErrors) {
        self.outputs = outputs
        particles = job.program.particles
        parameters = job.program.parameters
        guard let graph = job.graph, !outputs.isEmpty else {
            throw SpecErrors([SpecDiagnostic(pointer: "", message: "the job has no latent sites, let values or predictive sites to draw")])
        }
        do { tape = try graph.compile(outputs: outputs.map(\.node)) } catch {
            throw SpecErrors([SpecDiagnostic(pointer: "", message: "posterior draws: \(error.message)")])
        }
    }

    /// Numbers per draw over every output.
    public var numbersPerDraw: Int { outputs.reduce(0) { $0 + Shape.count($1.shape) } }

    /// Sets the program's parameters from their constrained values (a result's `params`);
    /// throws naming a param that is missing, has another size, or lies on its constraint's
    /// boundary (its unconstrained value is not finite).
    public func load(_ params: [NamedTensor]) throws(SpecErrors) {
        var problems: [SpecDiagnostic] = []
        for p in parameters where p.role == .program {
            guard let t = params.first(where: { $0.name == p.name }) else {
                problems.append(SpecDiagnostic(pointer: "", message: "the result has no param '\(p.name)'")); continue
            }
            guard t.values.count == p.value.count else {
                problems.append(SpecDiagnostic(pointer: "", message: "param '\(p.name)' has \(t.values.count) values, the program \(p.value.count)")); continue
            }
            let raw = p.transform.inverse(Tensor(shape: p.value.shape, scalars: t.values))
            guard raw.scalars.allSatisfy(\.isFinite) else {
                problems.append(SpecDiagnostic(pointer: "", message: "param '\(p.name)' lies on the boundary of its constraint; its draws are undefined")); continue
            }
            if tape.contains(p.raw) { tape.setValue(p.raw, Tensor(shape: p.raw.shape, scalars: raw.scalars)) }
        }
        if !problems.isEmpty { throw SpecErrors(problems) }
    }

    /// Sets the parameters from a running program (its unconstrained values, exactly).
    func load(from program: CompiledProgram) {
        for p in program.parameters where tape.contains(p.raw) {
            if let value = program.value(of: p.raw) { tape.setValue(p.raw, value) }
        }
    }

    /// `n` draws of every output, `[n] + shape` flattened row-major, seeded by `seed`: draw i
    /// is particle i mod P of replay ⌊i / P⌋ at step `base` + that replay.
    public func draw(_ n: Int, seed: UInt64, base: UInt64 = 1 << 40) -> [[Double]] {
        var out = outputs.map { o -> [Double] in
            var a: [Double] = []
            a.reserveCapacity(n * Shape.count(o.shape))
            return a
        }
        var taken = 0
        replay((n + particles - 1) / particles, seed: seed, base: base) { k, values in
            let size = Shape.count(outputs[k].shape)
            let take = min(particles, n - taken)
            for p in 0..<take {
                let start = outputs[k].lead == 0 ? 0 : p * size
                out[k].append(contentsOf: values[start..<(start + size)])
            }
            if k == outputs.count - 1 { taken += take }
        }
        return out
    }

    /// Replays the tape `replays` times at steps `base`, `base` + 1, …, handing `body` each
    /// output's values (`[P] + shape`, or `shape` for an output that does not vary by draw).
    func replay(_ replays: Int, seed: UInt64, base: UInt64, _ body: (Int, UnsafeBufferPointer<Double>) -> Void) {
        tape.seed = seed
        for r in 0..<replays {
            tape.step = base + UInt64(r)
            tape.forward()
            for (k, o) in outputs.enumerated() {
                body(k, UnsafeBufferPointer(tape.unsafeValues(of: o.node)))
            }
        }
    }
}

extension Compilation {
    /// Records a `let` value as a derived quantity when it changes with the fit (computed from
    /// params or draws) and has at most the particle axis in front.
    func recordDerived(_ name: String, _ v: Value) {
        guard probe == nil, v.lead <= 1, !graph.isConstantNode(v.node), v.lead == 0 || v.node.shape.first == builder.particles else { return }
        posteriorOutputs.append(PosteriorOutput(name: name, kind: .derived, node: v.node, lead: v.lead, shape: v.shape))
    }

    /// Records a latent site's guide value.
    func recordLatent(_ name: String, _ node: Node, shape: [Int]) {
        posteriorOutputs.append(PosteriorOutput(name: name, kind: .latent, node: node, lead: 1, shape: shape))
    }

    /// A posterior predictive draw of an observed site: its distribution rebuilt with every
    /// argument broadcast to `[particles] + the observation's batch shape`, sampled once per
    /// particle from a stream of its own. Sites in subsampled plates are left out (a replay
    /// sees only its subsample's rows), and so are sites that depend on an enumerated site.
    func recordPredictive(_ s: Statement, _ sample: SampleSpec, _ sitePlates: [Plate], observed: Value, event: [Int]) {
        guard predictive, observed.lead == 0, sitePlates.allSatisfy({ $0.subsample == nil }) else { return }
        let shape = observed.shape
        guard shape.count >= event.count, Array(shape.suffix(event.count)) == event, event.count >= sample.eventDims else { return }
        // The arguments' batch: every axis but the base law's own event axes (axes that
        // `event_dims` reinterprets as event are batch axes of the base law).
        let batch = Array(shape.dropLast(event.count - sample.eventDims))
        let before = diagnostics.all.count
        guard let dist = distribution(s, sample, plates: sitePlates, drawShape: [builder.particles] + batch) else { return }
        guard diagnostics.all.count == before else { return }
        let node = dist.sample([], stream: 1_000_000 + posteriorOutputs.count)
        guard node.shape == [builder.particles] + shape else { return }
        posteriorOutputs.append(PosteriorOutput(name: s.name, kind: .predictive, node: node, lead: 1, shape: shape))
        if let t = constantTensor(observed) { observedData.append((s.name, t)) }
    }

    /// Broadcasts every argument to `shape` + its own event axes; false when one does not fit
    /// (an argument carrying an enumerated site's axis).
    func broadcastArguments(_ nodes: inout [String: Node], _ sample: SampleSpec, to shape: [Int]) -> Bool {
        for (name, node) in nodes {
            let eventRank = DistributionCatalog.eventRank(sample.distribution, name)
            guard node.rank >= eventRank else { return false }
            let target = shape + Array(node.shape.suffix(eventRank))
            guard (try? Shape.broadcast(node.shape, target)) == target else { return false }
            if node.shape != target { nodes[name] = graph.broadcast(node, to: target) }
        }
        return true
    }
}
