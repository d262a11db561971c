import Foundation
import JSON
import Numerics

/// Posterior draws of a finished job for the API (`/v1/jobs/{id}/draws`, `/result.nc`):
/// the job's stored spec compiled with predictive draws, its fitted params loaded, the guide
/// replayed. Reproducible (seeded) and bounded (draws and numbers per request).
public enum PosteriorExport {
    /// Why a request cannot be answered: the status the service answers (400, or 503 while
    /// another request is computing) and the message.
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var status = 400
        public var description: String { message }
    }

    /// One variable's draws: `values` holds `n × Shape.count(shape)` numbers, draw-major.
    public struct Variable: Encodable {
        public let name: String
        public let kind: String
        public let shape: [Int]
        public let values: [Double]
    }

    /// Coupled pairs (z, T(z)) for a transport reference: z ~ the fitted guide at the site,
    /// T(z) = mean_p + A (z − mean_q) distributed as the reference.
    public struct Coupled: Encodable {
        public let reference: String
        public let site: String
        public let shape: [Int]
        public let z: [Double]
        public let t: [Double]
    }

    /// The `/draws` body.
    public struct Draws: Encodable {
        public let n: Int
        public let seed: UInt64
        public let variables: [Variable]
        public let coupled: Coupled?
    }

    /// Draws of the chosen variables (all when `names` is nil), with coupled pairs for
    /// `reference` when given.
    public static func draws(spec: [UInt8], result: JobResult, n: Int, seed: UInt64?, names: [String]?, reference: String?) throws(Failure) -> Draws {
        try exclusively { () throws(Failure) in try unguardedDraws(spec: spec, result: result, n: n, seed: seed, names: names, reference: reference) }
    }

    static func unguardedDraws(spec: [UInt8], result: JobResult, n: Int, seed: UInt64?, names: [String]?, reference: String?) throws(Failure) -> Draws {
        guard (1...PosteriorDraws.maxDraws).contains(n) else { throw Failure(message: "n must be from 1 to \(PosteriorDraws.maxDraws), got \(n)") }
        let job = try compiled(spec)
        let seed = seed ?? job.inference.seed
        var chosen = job.posteriorOutputs
        if let names {
            let known = chosen.map(\.name)
            if let unknown = names.first(where: { !known.contains($0) }) {
                throw Failure(message: "no variable '\(unknown)' (variables: \(known.joined(separator: ", ")))")
            }
            chosen = chosen.filter { names.contains($0.name) }
        }
        let numbers = chosen.reduce(0) { $0 + Shape.count($1.shape) }
        guard numbers.multipliedReportingOverflow(by: n).partialValue <= PosteriorDraws.maxJSONNumbers, numbers < Int.max / max(n, 1) else {
            throw Failure(message: "\(n) draws of \(numbers) numbers each exceed the limit of \(PosteriorDraws.maxJSONNumbers) numbers per request; ask for fewer draws or name variables with var=")
        }
        // Only the chosen outputs are on the tape: noise depends on (seed, stream, step) alone,
        // so their draws are the same as with every output.
        let sampler = try sampler(job, chosen, result)
        let all = sampler.draw(n, seed: seed)
        let variables = chosen.enumerated().map { k, o in
            Variable(name: o.name, kind: o.kind.rawValue, shape: o.shape, values: all[k])
        }
        let coupled = try reference.map { (r) throws(Failure) -> Coupled in try pairs(result: result, reference: r, n: n, seed: seed) }
        return Draws(n: n, seed: seed, variables: variables, coupled: coupled)
    }

    /// ArviZ's groups, one NetCDF classic file each: `posterior` (latent sites and let values),
    /// `posterior_predictive`, `observed_data`. Dimensions `chain` (1), `draw` (n) and
    /// `<name>_dim_<k>` per variable axis, ArviZ's default names.
    public static func netcdf(spec: [UInt8], result: JobResult, n: Int, seed: UInt64?, group: String) throws(Failure) -> [UInt8] {
        try exclusively { () throws(Failure) in try unguardedNetCDF(spec: spec, result: result, n: n, seed: seed, group: group) }
    }

    static func unguardedNetCDF(spec: [UInt8], result: JobResult, n: Int, seed: UInt64?, group: String) throws(Failure) -> [UInt8] {
        guard ["posterior", "posterior_predictive", "observed_data"].contains(group) else {
            throw Failure(message: "group must be posterior, posterior_predictive or observed_data, got '\(group)'")
        }
        guard (1...PosteriorDraws.maxDraws).contains(n) else { throw Failure(message: "n must be from 1 to \(PosteriorDraws.maxDraws), got \(n)") }
        let job = try compiled(spec)
        var file = NetCDF3Writer()
        file.attribute("created_by", "sviserve")
        file.attribute("arviz_group", group)
        file.attribute("job", job.name)
        func axes(_ name: String, _ shape: [Int]) -> [Int] {
            shape.enumerated().map { k, size in file.dimension("\(name)_dim_\(k)", size) }
        }
        if group == "observed_data" {
            for (name, value) in job.observedData { file.variable(name, dimensions: axes(name, value.shape), values: value.scalars) }
        } else {
            let kinds: Set<PosteriorOutput.Kind> = group == "posterior" ? [.latent, .derived] : [.predictive]
            let chosen = job.posteriorOutputs.filter { kinds.contains($0.kind) }
            let numbers = chosen.reduce(0) { $0 + Shape.count($1.shape) }
            guard numbers.multipliedReportingOverflow(by: n).partialValue <= PosteriorDraws.maxFileNumbers, numbers < Int.max / max(n, 1) else {
                throw Failure(message: "\(n) draws of \(numbers) numbers each exceed the limit of \(PosteriorDraws.maxFileNumbers) numbers per file; ask for fewer draws")
            }
            let chain = file.dimension("chain", 1), draw = file.dimension("draw", n)
            if !chosen.isEmpty {
                let all = try sampler(job, chosen, result).draw(n, seed: seed ?? job.inference.seed)
                for (k, o) in chosen.enumerated() {
                    file.variable(o.name, dimensions: [chain, draw] + axes(o.name, o.shape), values: all[k])
                }
            }
        }
        guard let bytes = file.bytes() else { throw Failure(message: "the file would exceed 2 GiB; ask for fewer draws") }
        return bytes
    }

    /// One posterior compilation at a time in this process: each recompiles the job (up to its
    /// working-memory limit), so concurrent requests must not multiply that.
    static let compiling = DispatchSemaphore(value: 1)

    /// Runs `body` holding `compiling`, waiting up to 30 s for it (then 503).
    static func exclusively<T>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        guard compiling.wait(timeout: .now() + 30) == .success else {
            throw Failure(message: "another draws request is being computed; retry shortly", status: 503)
        }
        defer { compiling.signal() }
        return try body()
    }

    /// The stored spec compiled with predictive draws.
    static func compiled(_ spec: [UInt8]) throws(Failure) -> CompiledJob {
        do {
            return try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(spec)), predictive: true)
        } catch let e as SpecErrors {
            throw Failure(message: "the job's spec no longer compiles: " + e.diagnostics.map(\.message).joined(separator: "; "))
        } catch {
            throw Failure(message: "the job's spec no longer compiles: \(error)")
        }
    }

    /// A posterior tape of `outputs` with the result's fitted params loaded.
    static func sampler(_ job: CompiledJob, _ outputs: [PosteriorOutput], _ result: JobResult) throws(Failure) -> PosteriorDraws {
        do {
            let sampler = try PosteriorDraws(job, outputs: outputs)
            try sampler.load(result.params)
            return sampler
        } catch {
            throw Failure(message: error.diagnostics.map(\.message).joined(separator: "; "))
        }
    }

    /// Coupled pairs from the result's fitted Gaussian at the reference's site and its map.
    static func pairs(result: JobResult, reference name: String, n: Int, seed: UInt64) throws(Failure) -> Coupled {
        guard let r = result.transport?.references.first(where: { $0.name == name }) else {
            let known = result.transport?.references.map(\.name) ?? []
            throw Failure(message: "no transport reference '\(name)' in the result (references: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        guard let g = result.gaussians?.first(where: { $0.site == r.site }), !r.maps.isEmpty else {
            throw Failure(message: "the result keeps no fitted Gaussian or map for '\(r.site)'")
        }
        let b = r.maps.count, d = r.maps[0].meanQ.count
        guard g.mean.count == b * d, n.multipliedReportingOverflow(by: 2 * b * d).partialValue <= PosteriorDraws.maxJSONNumbers else {
            throw Failure(message: "\(n) coupled pairs of '\(r.site)' exceed the limit of \(PosteriorDraws.maxJSONNumbers) numbers")
        }
        let spread: GaussianValue.Spread
        if let cov = g.cov { spread = .full([Tensor(rows: cov)]) } else if let s = g.scale { spread = .diagonal(s) } else {
            throw Failure(message: "the fitted Gaussian of '\(r.site)' has no spread")
        }
        let q = GaussianValue(batch: b, dimension: d, mean: g.mean, spread: spread)
        let p = GaussianValue(batch: b, dimension: d, mean: r.maps.flatMap(\.meanP), spread: spread)
        let maps = r.maps.map { m -> (a: Tensor?, diagonal: [Double]?) in (m.a.map { Tensor(rows: $0) }, m.aDiagonal) }
        let comparison = TransportComparison(parts: W2Parts(meanSquared: 0, covarianceSquared: 0), batchParts: [], maps: maps)
        let valueShape = g.shape
        guard let draws = CoupledDraws(q: q, p: p, comparison: comparison, count: n, seed: seed, stream: 1 << 20, valueShape: valueShape) else {
            throw Failure(message: "the fitted Gaussian of '\(r.site)' is not positive definite")
        }
        return Coupled(reference: name, site: r.site, shape: valueShape, z: draws.z.scalars, t: draws.mapped.scalars)
    }
}
