import Foundation
import JSON
import Testing
import Numerics
@testable import ModelSpec

/// A NetCDF classic reader written from the format specification for these tests (not the
/// writer run backwards): dimensions, global text attributes, and double variables.
struct NetCDF3File {
    var dimensions: [(name: String, length: Int)] = []
    var attributes: [String: String] = [:]
    var variables: [String: (dimensions: [String], values: [Double])] = [:]

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 32, Array(bytes[0..<4]) == Array("CDF".utf8) + [1] else { return nil }
        var at = 4
        func int() -> Int {
            defer { at += 4 }
            return Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        func text(_ count: Int) -> String {
            defer { at += (count + 3) / 4 * 4 }
            return String(decoding: bytes[at..<(at + count)], as: UTF8.self)
        }
        func name() -> String { text(int()) }
        _ = int() // numrecs
        if int() == 10 { for _ in 0..<int() { let n = name(); dimensions.append((n, int())) } } else { _ = int() }
        if int() == 12 {
            for _ in 0..<int() {
                let n = name()
                guard int() == 2 else { return nil }
                attributes[n] = text(int())
            }
        } else { _ = int() }
        if int() == 11 {
            for _ in 0..<int() {
                let n = name()
                let dims = (0..<int()).map { _ in int() }
                guard int() == 0, int() == 0, int() == 6 else { return nil }
                let size = int(), begin = int()
                var values: [Double] = []
                for k in 0..<(size / 8) {
                    var bits: UInt64 = 0
                    for b in 0..<8 { bits = bits << 8 | UInt64(bytes[begin + 8 * k + b]) }
                    values.append(Double(bitPattern: bits))
                }
                variables[n] = (dims.map { dimensions[$0].name }, values)
            }
        } else { _ = int() }
    }
}

@Suite struct OutputsTests {
    static let fitted: (spec: String, result: JobResult) = {
        let spec = editing(conjugateSpec, "/inference/steps", "1500")
        return (spec, try! JobRun(try! compiled(spec)).run())
    }()

    @Test func letValuesAreSummarisedFromTheSameDrawsAsTheSites() throws {
        let (_, result) = Self.fitted
        let shift = try #require(result.derived?.first { $0.site == "shift" })
        let z = try #require(result.posterior.first { $0.site == "z" })
        #expect(shift.estimator == "let" && shift.shape == [2] && shift.draws == z.draws)
        // shift = z − mu0 draw by draw, so its summaries are z's moved by mu0.
        for j in 0..<2 {
            #expect(abs(shift.mean[j] - (z.mean[j] - [0.0, 0.5][j])) < 1e-12)
            #expect(abs(shift.sd[j] - z.sd[j]) < 1e-12)
            #expect(abs(shift.q50[j] - (z.q50[j] - [0.0, 0.5][j])) < 1e-12)
        }
    }

    @Test func drawsAreSeededBoundedAndAgreeWithTheSummaries() throws {
        let (spec, result) = Self.fitted
        let bytes = Array(spec.utf8)
        let a = try PosteriorExport.draws(spec: bytes, result: result, n: 4000, seed: 5, names: nil, reference: "exact")
        let b = try PosteriorExport.draws(spec: bytes, result: result, n: 4000, seed: 5, names: nil, reference: "exact")
        let c = try PosteriorExport.draws(spec: bytes, result: result, n: 4000, seed: 6, names: ["z"], reference: nil)
        #expect(a.variables.map(\.values) == b.variables.map(\.values))
        #expect(a.coupled?.t == b.coupled?.t)
        #expect(c.variables.map(\.name) == ["z"])
        #expect(c.variables[0].values != a.variables.first { $0.name == "z" }!.values)
        #expect(Set(a.variables.map { "\($0.kind):\($0.name)" }) == ["latent:z", "derived:shift", "predictive:obs"])
        let loc = result.params.first { $0.name == "loc_q" }!.values, scale = result.params.first { $0.name == "scale_q" }!.values
        let z = a.variables.first { $0.name == "z" }!, obs = a.variables.first { $0.name == "obs" }!
        #expect(z.shape == [2] && obs.shape == [4, 2] && z.values.count == 4000 * 2 && obs.values.count == 4000 * 8)
        for j in 0..<2 {
            let xs = (0..<4000).map { z.values[2 * $0 + j] }
            let mean = xs.reduce(0, +) / 4000
            #expect(abs(mean - loc[j]) < 4 * scale[j] / 4000.0.squareRoot())
            // Posterior predictive: y = z + σ ε, so its mean is z's and its variance adds σ².
            let ys = (0..<4000).map { obs.values[8 * $0 + 2 * 1 + j] }
            let ym = ys.reduce(0, +) / 4000
            let sigma2 = [1.0 / 6, 0.25][j]
            #expect(abs(ym - loc[j]) < 4 * (scale[j] * scale[j] + sigma2).squareRoot() / 4000.0.squareRoot())
            let yv = ys.reduce(0) { $0 + ($1 - ym) * ($1 - ym) } / 3999
            // The sample variance of 4000 normal draws has relative s.e. √(2/3999).
            #expect(abs(yv / (scale[j] * scale[j] + sigma2) - 1) < 4 * (2.0 / 3999).squareRoot())
        }
        // Coupled pairs: T(z) = mean_p + A (z − mean_q), A diagonal.
        let pairs = try #require(a.coupled)
        let map = result.transport!.references.first { $0.name == "exact" }!.maps[0]
        for i in 0..<10 {
            for j in 0..<2 {
                let expected = map.meanP[j] + map.aDiagonal![j] * (pairs.z[2 * i + j] - map.meanQ[j])
                #expect(abs(pairs.t[2 * i + j] - expected) < 1e-12)
            }
        }
        #expect(throws: PosteriorExport.Failure.self) { try PosteriorExport.draws(spec: bytes, result: result, n: 0, seed: nil, names: nil, reference: nil) }
        #expect(throws: PosteriorExport.Failure.self) { try PosteriorExport.draws(spec: bytes, result: result, n: 10_001, seed: nil, names: nil, reference: nil) }
        #expect(throws: PosteriorExport.Failure.self) { try PosteriorExport.draws(spec: bytes, result: result, n: 10, seed: nil, names: ["nope"], reference: nil) }
        #expect(throws: PosteriorExport.Failure.self) { try PosteriorExport.draws(spec: bytes, result: result, n: 10, seed: nil, names: nil, reference: "nope") }
    }

    @Test func theNetCDFFileHoldsEachArviZGroupWithItsDimensions() throws {
        let (spec, result) = Self.fitted
        let bytes = Array(spec.utf8)
        let posterior = try #require(NetCDF3File(try PosteriorExport.netcdf(spec: bytes, result: result, n: 200, seed: 1, group: "posterior")))
        #expect(posterior.attributes["arviz_group"] == "posterior")
        #expect(posterior.dimensions.map(\.name) == ["chain", "draw", "z_dim_0", "shift_dim_0"])
        #expect(posterior.dimensions.map(\.length) == [1, 200, 2, 2])
        let z = try #require(posterior.variables["z"])
        #expect(z.dimensions == ["chain", "draw", "z_dim_0"])
        let json = try PosteriorExport.draws(spec: bytes, result: result, n: 200, seed: 1, names: ["z"], reference: nil)
        #expect(z.values == json.variables[0].values)
        let predictive = try #require(NetCDF3File(try PosteriorExport.netcdf(spec: bytes, result: result, n: 50, seed: 1, group: "posterior_predictive")))
        #expect(predictive.variables["obs"]?.dimensions == ["chain", "draw", "obs_dim_0", "obs_dim_1"])
        #expect(predictive.variables["obs"]?.values.count == 50 * 8)
        let observed = try #require(NetCDF3File(try PosteriorExport.netcdf(spec: bytes, result: result, n: 1, seed: nil, group: "observed_data")))
        #expect(observed.variables["obs"]?.values == [-0.1, 0.3, 0.0, 0.4, 0.2, 0.5, 0.1, 0.7])
        #expect(throws: PosteriorExport.Failure.self) { try PosteriorExport.netcdf(spec: bytes, result: result, n: 10, seed: nil, group: "prior") }
    }

    @Test func warmStartTakesTheEarlierFitAndReferencesByJobReadItsGaussian() throws {
        let (_, earlier) = Self.fitted
        // A spec naming the earlier job by id, as a user writes it; resolved as the service does.
        var text = editing(conjugateSpec, "/inference/steps", "0")
        text = editing(text, "/init_from", #""job-1""#)
        text = editing(text, "/transport/references/earlier", #"{"site": "z", "job": "job-1"}"#)
        #expect(problems(text).contains { $0.pointer == "/init_from" })
        let resolved = try SpecResolver.resolve(try JSONParser.parse(text)) { id in id == "job-1" ? .succeeded(earlier) : .missing }
        let job = try SpecCompiler.compile(try SpecDecoder.decode(resolved))
        #expect(job.warnings.isEmpty)
        let result = try JobRun(job).run()
        for p in earlier.params {
            let now = result.params.first { $0.name == p.name }!.values
            #expect(zip(now, p.values).allSatisfy { abs($0 - $1) <= 1e-14 * max(abs($1), 1) }, "\(p.name)")
        }
        let r = try #require(result.transport?.references.first { $0.name == "earlier" })
        #expect(r.source == "job" && r.job == "job-1")
        #expect(r.w2 < 1e-12, "a warm start compared with the job it started from: W₂ \(r.w2)")
        // Unknown and unfinished jobs are named with their pointers.
        let missing = #expect(throws: SpecErrors.self) {
            try SpecResolver.resolve(try JSONParser.parse(text)) { _ in .missing }
        }
        #expect(missing?.diagnostics.map(\.pointer) == ["/init_from", "/transport/references/earlier/job"])
        let running = #expect(throws: SpecErrors.self) {
            try SpecResolver.resolve(try JSONParser.parse(text)) { _ in .unfinished("running") }
        }
        #expect(running?.diagnostics.first?.message == "job 'job-1' is running; only a succeeded job's fit can be used")
    }

    @Test func aWarmStartWithAnotherShapeIsRefused() throws {
        let (_, earlier) = Self.fitted
        var other = earlier
        other.params = [NamedTensor(name: "loc_q", shape: [3], values: [0, 0, 0])]
        let text = editing(conjugateSpec, "/init_from", #""j""#)
        let resolved = try SpecResolver.resolve(try JSONParser.parse(text)) { _ in .succeeded(other) }
        let found = problems(resolved.serialized())
        #expect(found.contains { $0.pointer == "/init_from/params/loc_q" && $0.message == "param 'loc_q' has shape [2] in this job but [3] in job 'j'" })
    }

    @Test func tagsAreCheckedForForm() {
        #expect(problems(editing(baseSpec, "/tags", #"["a", "b-1", "x/y:z"]"#)).isEmpty)
        #expect(problems(editing(baseSpec, "/tags", #"["a b"]"#)).map(\.pointer) == ["/tags/0"])
        #expect(problems(editing(baseSpec, "/tags", #"["a", "a"]"#)).map(\.pointer) == ["/tags/1"])
        #expect(problems(editing(baseSpec, "/tags", #""a""#)).map(\.pointer) == ["/tags"])
    }
}

/// Every example's observed sites get posterior predictive draws of the observation's shape
/// (event_dims, MVN, discrete and continuous likelihoods alike), drawn at the example's
/// initial params: finite, and whole numbers for discrete likelihoods. An observed site that
/// depends on an enumerated site has none (its draws would need that site's posterior), nor
/// has one in a subsampled plate (a replay sees only the step's rows).
@Suite struct PredictiveTests {
    @Test(arguments: ExampleTests.names)
    func everyObservedSiteHasPredictiveDrawsOfItsShape(_ name: String) throws {
        let data = try Data(contentsOf: ExampleTests.directory.appendingPathComponent("\(name).json"))
        let spec = try JSONParser.parse(Array(data))
        let job = try SpecCompiler.compile(try SpecDecoder.decode(spec), predictive: true)
        let enumerated = job.sites.contains { $0.estimator == .enumerate }
        let subsampled = (spec.asObject?["plates"]?.asObject?.members ?? []).contains { $0.1.asObject?["subsample"] != nil }
        #expect(job.observedData.isEmpty == (enumerated || subsampled), "\(name)")
        let discrete = Set((spec.asObject?["model"]?.asArray ?? []).compactMap { s -> String? in
            guard let o = s.asObject, let site = o["sample"]?.asString, o["obs"] != nil,
                  ["Bernoulli", "Categorical", "Poisson", "Binomial", "OneHotCategorical"].contains(o["dist"]?.asString ?? "") else { return nil }
            return site
        })
        let sampler = try PosteriorDraws(job)
        let draws = sampler.draw(3, seed: 1)
        for (site, observed) in job.observedData {
            let k = try #require(sampler.outputs.firstIndex { $0.kind == .predictive && $0.name == site }, "\(name): \(site)")
            #expect(sampler.outputs[k].shape == observed.shape, "\(name): \(site)")
            #expect(draws[k].count == 3 * observed.count && draws[k].allSatisfy(\.isFinite), "\(name): \(site)")
            if discrete.contains(site) {
                #expect(draws[k].allSatisfy { $0.rounded() == $0 }, "\(name): \(site) draws whole numbers like its data")
            }
        }
    }
}
