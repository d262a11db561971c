import Autodiff
import Distributions
import Inference
import JSON
import Numerics

/// Everything a run needs to report Gaussian optimal transport (docs/transport.md): the
/// fitted Gaussian of every Gaussian guide site (read by later jobs' references), the spec's
/// references with their numbers resolved, and its coupled estimates. Holds a small tape of
/// its own, compiled from the job's graph, that computes the guides' (and Gaussian priors')
/// parameters from the program's parameters; the training tape is never touched.
public final class TransportPlan {
    /// A reference ready to compare.
    struct Reference {
        let name: String
        let site: String
        let source: String
        let job: String?
        let q: GaussianNodes
        /// The reference's numbers (given, or read from a job) or its nodes (a prior).
        let fixed: GaussianValue?
        let prior: GaussianNodes?
        /// Per-draw shape of the site's value (what `f` sees).
        let valueShape: [Int]
    }

    /// A coupled estimate ready to run.
    struct Estimate {
        let name: String
        let reference: Int
        let f: String
        let pointer: JSONPointer
    }

    let sites: [(name: String, shape: [Int], nodes: GaussianNodes)]
    let references: [Reference]
    let estimates: [Estimate]
    let draws: Int
    let spec: JobSpec
    let tape: Tape

    init(sites: [(name: String, shape: [Int], nodes: GaussianNodes)], references: [Reference], estimates: [Estimate],
         draws: Int, spec: JobSpec, tape: Tape) {
        self.sites = sites; self.references = references; self.estimates = estimates
        self.draws = draws; self.spec = spec; self.tape = tape
    }

    /// Report steps at which W₂ is computed: every `reportEvery`-th step, thinned so a run
    /// computes it at most about 1000 times.
    public static func interval(steps: Int, reportEvery: Int) -> Int {
        let reports = max(1, steps / max(reportEvery, 1))
        return reportEvery * max(1, (reports + 999) / 1000)
    }

    /// Copies the program's current parameters into this plan's tape and replays it.
    func load(from program: CompiledProgram) {
        for p in program.parameters where tape.contains(p.raw) {
            if let value = program.value(of: p.raw) { tape.setValue(p.raw, value) }
        }
        tape.forward()
    }

    func qValue(_ r: Reference) -> GaussianValue? { r.q.value(on: tape) }
    func pValue(_ r: Reference) -> GaussianValue? { r.fixed ?? r.prior?.value(on: tape) }

    /// W₂ to every reference at the program's current parameters (NaN where a covariance
    /// stopped being positive definite).
    public func distances(_ program: CompiledProgram, step: Int) -> TransportProgress? {
        guard !references.isEmpty else { return nil }
        load(from: program)
        let out = references.map { r -> NamedTransportDistance in
            guard let q = qValue(r), let p = pValue(r), let c = try? TransportComparison(q, p, withMaps: false) else {
                return NamedTransportDistance(reference: r.name, site: r.site, w2: .nan, w2Mean: .nan, w2Cov: .nan)
            }
            return NamedTransportDistance(reference: r.name, site: r.site, w2: c.parts.total, w2Mean: c.parts.mean, w2Cov: c.parts.covariance)
        }
        return TransportProgress(step: step, distances: out)
    }

    /// The fitted Gaussian of every Gaussian guide site at the program's current parameters.
    func fittedGaussians(_ program: CompiledProgram) -> [FittedGaussian] {
        load(from: program)
        return sites.compactMap { site in
            guard let v = site.nodes.value(on: tape) else { return nil }
            switch v.spread {
            case let .diagonal(sd):
                return FittedGaussian(site: site.name, shape: site.shape, mean: v.mean, scale: sd, cov: nil)
            case let .full(covs):
                let c = covs[0], d = v.dimension
                return FittedGaussian(site: site.name, shape: site.shape, mean: v.mean, scale: nil,
                                      cov: (0..<d).map { i in Array(c.scalars[(i * d)..<((i + 1) * d)]) })
            }
        }
    }

    /// The result's transport section at the program's current parameters, with the W₂ trace
    /// of the run and the coupled estimates (draws seeded by `seed`).
    func result(_ program: CompiledProgram, trace: [TransportProgress], seed: UInt64) -> TransportResult? {
        guard !references.isEmpty else { return nil }
        load(from: program)
        var comparisons: [(GaussianValue, GaussianValue, TransportComparison)?] = []
        var out: [ReferenceResult] = []
        for (k, r) in references.enumerated() {
            let points = trace.compactMap { t -> TransportTracePoint? in
                guard k < t.distances.count else { return nil }
                let d = t.distances[k]
                return TransportTracePoint(step: t.step, w2: d.w2, w2Mean: d.w2Mean, w2Cov: d.w2Cov)
            }
            guard let q = qValue(r), let p = pValue(r), let c = try? TransportComparison(q, p, withMaps: true) else {
                comparisons.append(nil)
                out.append(ReferenceResult(name: r.name, site: r.site, source: r.source, job: r.job, w2: .nan, w2Mean: .nan, w2Cov: .nan,
                                           batch: nil, maps: [], trace: points))
                continue
            }
            comparisons.append((q, p, c))
            let maps = c.maps.enumerated().map { b, m in
                TransportMapResult(a: m.a.map { a in (0..<q.dimension).map { i in Array(a.scalars[(i * q.dimension)..<((i + 1) * q.dimension)]) } },
                                   aDiagonal: m.diagonal, meanQ: q.mean(b), meanP: p.mean(b))
            }
            let batch = q.batch > 1 ? c.batchParts.map { TransportDistance(w2: $0.total, w2Mean: $0.mean, w2Cov: $0.covariance) } : nil
            out.append(ReferenceResult(name: r.name, site: r.site, source: r.source, job: r.job, w2: c.parts.total, w2Mean: c.parts.mean,
                                       w2Cov: c.parts.covariance, batch: batch, maps: maps, trace: points))
        }
        let estimates = self.estimates.map { e -> CoupledEstimateResult in
            let r = references[e.reference]
            guard let (q, p, c) = comparisons[e.reference],
                  let pairs = CoupledDraws(q: q, p: p, comparison: c, count: draws, seed: seed, stream: UInt64(e.reference), valueShape: r.valueShape),
                  let fq = evaluate(e, r, pairs.z), let fp = evaluate(e, r, pairs.mapped) else {
                return CoupledEstimateResult(name: e.name, reference: r.name, f: e.f, draws: 0, difference: .nan, se: .nan,
                                             meanQ: .nan, meanReference: .nan, seIndependent: .nan, varianceReduction: .nan)
            }
            let s = CoupledStatistics(fq, fp)
            return CoupledEstimateResult(name: e.name, reference: r.name, f: e.f, draws: draws, difference: s.difference, se: s.se,
                                         meanQ: s.meanQ, meanReference: s.meanP, seIndependent: s.seIndependent, varianceReduction: s.varianceReduction)
        }
        return TransportResult(references: out, estimates: estimates)
    }

    /// f at each of `n` draws (`[n] + value shape`), or nil when it cannot be computed.
    func evaluate(_ e: Estimate, _ r: Reference, _ draws: Tensor) -> [Double]? {
        Self.evaluate(e.f, variable: r.site, draws: draws, spec: spec, pointer: e.pointer).values
    }

    /// Working memory one evaluation of `f` may take: draws are evaluated in chunks that fit.
    static let evaluationBytes = 64 << 20
    /// Operations an estimate's `f` may take over all its draws.
    static let evaluationOperations = 2e9

    /// Compiles `f` over `draws` (the variable `variable`, with the spec's data in scope)
    /// and computes it, in chunks of draws whose graph fits `evaluationBytes`: one number per
    /// draw, or the problem. With `checking`, `draws` holds one draw and `f` is refused when
    /// `total` draws would pass `evaluationOperations` or one draw `evaluationBytes`.
    static func evaluate(_ f: String, variable: String, draws: Tensor, spec: JobSpec, pointer: JSONPointer,
                         checking total: Int? = nil) -> (values: [Double]?, problem: SpecDiagnostic?) {
        let n = draws.shape[0], rest = Array(draws.shape.dropFirst()), per = Shape.count(rest)
        let names = (try? ExpressionParser.parse(f))?.names ?? []
        let at = pointer.appending("f")
        func problem(_ message: String) -> (values: [Double]?, problem: SpecDiagnostic?) {
            (nil, SpecDiagnostic(pointer: at.description, message: message))
        }
        // Checking uses the spec's own limits; computing, a chunk's memory and the whole
        // estimate's operations (already checked) bound it.
        let limits = total != nil ? ValidationLimits.standard
            : ValidationLimits(maxGraphBytes: evaluationBytes, maxFoldOperations: evaluationOperations, maxValidationOperations: evaluationOperations)
        var values: [Double] = [], start = 0, chunk = n
        values.reserveCapacity(n)
        while start < n {
            let m = min(chunk, n - start)
            let part = Tensor(shape: [m] + rest, scalars: Array(draws.scalars[(start * per)..<((start + m) * per)]))
            let c = Compilation(spec, limits: limits)
            for entry in spec.data where names.contains(entry.name) && entry.name != variable {
                c.define(entry.name, Compilation.Binding(value: Value(node: c.graph.constant(entry.value), lead: 0), kind: .data, pointer: entry.pointer))
            }
            c.define(variable, Compilation.Binding(value: Value(node: c.graph.constant(part), lead: 1), kind: .let, pointer: pointer))
            let v = c.evaluate(f, at: at, site: nil)
            let tooLarge = c.graph.limitError != nil || c.graph.estimatedBytes > evaluationBytes
            if tooLarge && total == nil && m > 1 {
                chunk = max(1, m / 2)
                continue
            }
            guard let v else { return (nil, c.diagnostics.all.first) }
            guard v.shape.isEmpty else { return problem("f must give one number per draw, got shape \(v.shape) (reduce it, e.g. sum(...))") }
            if tooLarge { return problem("f (with the data it reads) needs more than \(evaluationBytes >> 20) MiB for one draw") }
            if let total {
                let ops = c.graph.foldOperations(of: v.node) * Double(total)
                if ops > evaluationOperations {
                    return problem("f over \(total) draws takes about \(ByteCount.operations(ops)) operations; the limit is \(ByteCount.operations(evaluationOperations)) (fewer transport.draws or a cheaper f)")
                }
            }
            guard let t = c.constantTensor(v) else { return problem("f cannot be computed over the draws") }
            values += t.count == m ? t.scalars : Array(repeating: t.scalars.first ?? .nan, count: m)
            start += m
        }
        return (values, nil)
    }
}

/// Coupled pairs (z, T(z)): z ~ q from standard normal noise of a seeded stream, and its image
/// under the transport map, which is distributed as the reference.
struct CoupledDraws {
    /// `[n] + value shape` each, flattened row-major as `n × batch × dimension`.
    let z: Tensor
    let mapped: Tensor

    init?(q: GaussianValue, p: GaussianValue, comparison c: TransportComparison, count n: Int, seed: UInt64, stream: UInt64, valueShape: [Int]) {
        let b = q.batch, d = q.dimension
        guard Shape.count(valueShape) == b * d, c.maps.count == b else { return nil }
        var rng = RandomStream(seed: seed, stream: (1 << 40) + stream)
        var z = [Double](repeating: 0, count: n * b * d), t = z
        for k in 0..<b {
            // Noise ε (n × d); z − μ_q = ε Lᵀ (or σ ⊙ ε); T(z) − μ_p = (z − μ_q) A (A symmetric).
            var eps = Tensor.zeros([n, d])
            for i in 0..<(n * d) { eps.scalars[i] = rng.normal() }
            var centred: Tensor
            switch q.spread {
            case let .diagonal(sd):
                centred = eps
                for i in 0..<n { for j in 0..<d { centred.scalars[i * d + j] *= sd[k * d + j] } }
            case .full:
                guard let l = q.choleskyFactor(k) else { return nil }
                centred = LinearAlgebra.matmul(eps, LinearAlgebra.transpose(l))
            }
            var moved: Tensor
            if let a = c.maps[k].a {
                moved = LinearAlgebra.matmul(centred, a)
            } else {
                guard let diag = c.maps[k].diagonal, diag.count == b * d else { return nil }
                moved = centred
                for i in 0..<n { for j in 0..<d { moved.scalars[i * d + j] *= diag[k * d + j] } }
            }
            let meanQ = q.mean(k), meanP = p.mean(k)
            for i in 0..<n {
                for j in 0..<d {
                    z[(i * b + k) * d + j] = meanQ[j] + centred.scalars[i * d + j]
                    t[(i * b + k) * d + j] = meanP[j] + moved.scalars[i * d + j]
                }
            }
        }
        self.z = Tensor(shape: [n] + valueShape, scalars: z)
        self.mapped = Tensor(shape: [n] + valueShape, scalars: t)
    }
}

/// Means and variances of f over coupled pairs.
struct CoupledStatistics {
    let difference: Double, se: Double, meanQ: Double, meanP: Double, seIndependent: Double, varianceReduction: Double

    init(_ fq: [Double], _ fp: [Double]) {
        let n = Double(fq.count)
        func meanVar(_ xs: [Double]) -> (Double, Double) {
            let m = xs.reduce(0, +) / n
            return (m, xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / max(n - 1, 1))
        }
        let (mq, vq) = meanVar(fq), (mp, vp) = meanVar(fp)
        let (md, vd) = meanVar(zip(fq, fp).map { $0 - $1 })
        difference = md; se = (vd / n).squareRoot(); meanQ = mq; meanP = mp
        seIndependent = ((vq + vp) / n).squareRoot()
        varianceReduction = (vq + vp) / vd
    }
}
