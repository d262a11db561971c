import Foundation
import JSON
import Testing
import SpecFuzzing
import Numerics
@testable import ModelSpec
import Inference

/// The conjugate Normal–Normal model of `baseSpec` with its exact posterior (per element:
/// precision 1/10 + n/σ², mean (μ₀/10 + Σx/σ²) / precision) as a transport reference written
/// with data expressions, and the prior as a second reference.
let conjugateSpec = """
{
  "name": "conjugate-transport",
  "data": { "x": [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]], "mu0": [0.0, 0.5], "s2": [0.16666666666666666, 0.25] },
  "plates": { "d": {"size": "len(x)"}, "p": {"size": 2} },
  "guide": [
    {"param": "loc_q", "init": "zeros(2)"},
    {"param": "scale_q", "init": [1.0, 1.0], "constraint": "positive"},
    {"sample": "z", "dist": "Normal", "args": {"loc": "loc_q", "scale": "scale_q"}, "plates": ["p"]}
  ],
  "model": [
    {"sample": "z", "dist": "Normal", "args": {"loc": "mu0", "scale": 3.1622776601683795}, "plates": ["p"]},
    {"let": "shift", "value": "z - mu0"},
    {"sample": "obs", "dist": "Normal", "args": {"loc": "z", "scale": "sqrt(s2)"}, "plates": ["d", "p"], "obs": "x"}
  ],
  "transport": {
    "references": {
      "exact": {"site": "z", "mean": "(mu0 / 10 + sum(x, 0) / s2) / (0.1 + len(x) / s2)", "scale": "1 / sqrt(0.1 + len(x) / s2)"},
      "prior": {"site": "z", "prior": true}
    },
    "estimates": {
      "second_moment": {"reference": "exact", "f": "sum(z ^ 2)"}
    },
    "draws": 2000
  },
  "inference": { "steps": 3000, "particles": 4, "seed": 3, "report_every": 10,
                 "optimizer": {"name": "adam", "lr": 0.02} }
}
"""

/// The exact posterior of `conjugateSpec`'s site z (mean, sd per element).
let conjugatePosterior: (mean: [Double], sd: [Double]) = {
    let x: [[Double]] = [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]], mu0 = [0.0, 0.5], s2 = [1.0 / 6, 0.25]
    var mean: [Double] = [], sd: [Double] = []
    for j in 0..<2 {
        let precision = 0.1 + Double(x.count) / s2[j]
        mean.append((mu0[j] / 10 + x.reduce(0) { $0 + $1[j] } / s2[j]) / precision)
        sd.append(1 / precision.squareRoot())
    }
    return (mean, sd)
}()

func compiled(_ text: String, predictive: Bool = false) throws -> CompiledJob {
    try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)), predictive: predictive)
}

/// `text` with `pointer` replaced by the JSON `replacement`.
func editing(_ text: String, _ pointer: String, _ replacement: String?) -> String {
    let tokens = JSONPointer(parsing: pointer)!.tokens
    return replace(try! JSONParser.parse(text), tokens[...], replacement.map { try! JSONParser.parse($0) }).serialized()
}

@Suite struct TransportTests {
    @Test func w2ToTheExactPosteriorFallsTowardZeroAndIsStreamedAtReportSteps() throws {
        let job = try compiled(conjugateSpec)
        var streamed: [TransportProgress] = []
        var reports: [Int] = []
        let result = try JobRun(job).run(transport: { streamed.append($0) }, progress: { reports.append($0.step) })
        let exact = try #require(result.transport?.references.first { $0.name == "exact" })
        // Streamed before the report of the same step, at every report step (300 ≤ 1000).
        #expect(streamed.map(\.step) == reports)
        #expect(streamed.map { $0.distances[0].w2 } == exact.trace.map(\.w2))
        let first = exact.trace.first!.w2, last = exact.trace.last!.w2
        #expect(first > 0.5, "the initial guide N(0, I) is about 1.2 from the posterior")
        #expect(last < 0.05 * first, "W₂ to the exact posterior went from \(first) to \(last)")
        // The result's W₂ is the closed form between the fitted guide and the posterior.
        let loc = result.params.first { $0.name == "loc_q" }!.values, scale = result.params.first { $0.name == "scale_q" }!.values
        var mean2 = 0.0, cov2 = 0.0
        for j in 0..<2 {
            mean2 += (loc[j] - conjugatePosterior.mean[j]) * (loc[j] - conjugatePosterior.mean[j])
            cov2 += (scale[j] - conjugatePosterior.sd[j]) * (scale[j] - conjugatePosterior.sd[j])
        }
        #expect(abs(exact.w2 - (mean2 + cov2).squareRoot()) < 1e-12)
        #expect(abs(exact.w2Mean - mean2.squareRoot()) < 1e-12)
        #expect(abs(exact.w2Cov - cov2.squareRoot()) < 1e-12)
        #expect(exact.w2 < 0.05)
        // The map: diagonal, mean_p the exact posterior mean (the data expressions), a = sd_p / sd_q.
        let map = try #require(exact.maps.first)
        for j in 0..<2 {
            #expect(abs(map.meanP[j] - conjugatePosterior.mean[j]) < 1e-14)
            #expect(abs(map.aDiagonal![j] - conjugatePosterior.sd[j] / scale[j]) < 1e-12)
        }
        // The prior reference: W₂ between the guide and N(mu0, 10 I).
        let prior = try #require(result.transport?.references.first { $0.name == "prior" })
        let priorW2 = (0..<2).reduce(0.0) { s, j in
            let dm = loc[j] - [0.0, 0.5][j], ds = scale[j] - 10.0.squareRoot()
            return s + dm * dm + ds * ds
        }.squareRoot()
        #expect(abs(prior.w2 - priorW2) < 1e-12)
        // The summaries' w2_from_prior is the same distance.
        #expect(abs(result.posterior.first { $0.site == "z" }!.w2FromPrior! - priorW2) < 1e-12)
        #expect(prior.trace.first!.w2 < prior.trace.last!.w2, "the fit moves away from the prior")
    }

    @Test func aResumedRunReportsTheSameTransportAsAnUninterruptedOne() throws {
        let text = editing(conjugateSpec, "/inference/steps", "400")
        let whole = try JobRun(try compiled(text)).run()
        var saved: RunCheckpoint?
        let stop = StopSignal()
        let first = try JobRun(try compiled(text), checkpoints: CheckpointPolicy(steps: 150, seconds: .infinity))
        _ = try? first.run(stop: stop, checkpoint: { if saved == nil { saved = $0; stop.suspend() } })
        let checkpoint = try #require(saved)
        let data = Array(try JSONValueEncoder().text(checkpoint).utf8)
        let resumed = try JobRun(try compiled(text), from: try JSONValueDecoder().decode(RunCheckpoint.self, from: data)).run()
        #expect(resumed.transport == whole.transport)
        #expect(resumed.gaussians == whole.gaussians)
        #expect(resumed.derived == whole.derived)
    }

    @Test func fittedGaussiansAreReportedForEveryGaussianGuideSite() throws {
        let result = try JobRun(try compiled(editing(conjugateSpec, "/inference/steps", "50"))).run()
        let g = try #require(result.gaussians?.first)
        #expect(g.site == "z" && g.shape == [2])
        #expect(g.mean == result.params.first { $0.name == "loc_q" }!.values)
        #expect(g.scale == result.params.first { $0.name == "scale_q" }!.values)
    }
}

/// Coupled estimates E_q[f] − E_ref[f] against closed forms, on a guide that does not move
/// (steps 0), for a diagonal Normal site and a full MultivariateNormal site.
@Suite struct CoupledEstimateTests {
    /// q = N(μ_q, Σ_q) as an MVN guide site of dimension 3, p = N(μ_p, Σ_p) given by `cov`.
    static let muQ = [0.3, -0.2, 0.5], muP = [0.1, 0.4, 0.2]
    static let trilQ: [[Double]] = [[0.6, 0, 0], [0.4, 0.8, 0], [0.1, -0.2, 0.9]]
    static let covP: [[Double]] = [[0.5, 0.1, 0.0], [0.1, 0.7, 0.2], [0.0, 0.2, 0.9]]
    static let w = [0.4, -0.3, 0.2]

    static func spec(_ estimates: String, draws: Int = 20000) -> String {
        """
        {
          "data": { "w": \(w) },
          "guide": [
            {"param": "m", "init": \(muQ)},
            {"param": "L", "init": \(trilQ), "constraint": "lower_cholesky"},
            {"sample": "z", "dist": "MultivariateNormal", "args": {"loc": "m", "scale_tril": "L"}}
          ],
          "model": [
            {"sample": "z", "dist": "MultivariateNormal", "args": {"loc": "zeros(3)", "covariance_matrix": "eye(3)"}}
          ],
          "transport": {
            "references": { "p": {"site": "z", "mean": \(muP), "cov": \(covP)} },
            "estimates": \(estimates),
            "draws": \(draws)
          },
          "inference": { "steps": 0, "seed": 11 }
        }
        """
    }

    static func quadratic(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 } }
    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    static var covQ: Tensor { let l = Tensor(rows: trilQ); return LinearAlgebra.matmul(l, LinearAlgebra.transpose(l)) }
    static func trace(_ t: Tensor) -> Double { (0..<t.shape[0]).reduce(0) { $0 + t[$1, $1] } }
    static func form(_ t: Tensor, _ v: [Double]) -> Double { dot(v, LinearAlgebra.matmul(t, Tensor(v)).scalars) }

    /// Closed forms of E_q f − E_p f.
    static var exact: [String: Double] {
        let cq = covQ, cp = Tensor(rows: covP)
        return [
            "linear": dot(w, muQ) - dot(w, muP),
            "quadratic": trace(cq) + quadratic(muQ) - trace(cp) - quadratic(muP),
            "exponential": exp(dot(w, muQ) + 0.5 * form(cq, w)) - exp(dot(w, muP) + 0.5 * form(cp, w)),
        ]
    }

    @Test func coupledDifferencesAreUnbiasedWithinFourStandardErrors() throws {
        let estimates = """
        {"linear": {"reference": "p", "f": "z @ w"}, "quadratic": {"reference": "p", "f": "sum(z ^ 2)"},
         "exponential": {"reference": "p", "f": "exp(z @ w)"}}
        """
        let result = try JobRun(try compiled(Self.spec(estimates))).run()
        let found = try #require(result.transport?.estimates)
        #expect(found.map(\.name) == ["linear", "quadratic", "exponential"])
        for e in found {
            let truth = Self.exact[e.name]!
            #expect(e.draws == 20000)
            #expect(abs(e.difference - truth) <= 4 * e.se, "\(e.name): \(e.difference) ± \(e.se), exact \(truth)")
            #expect(abs(e.difference - (e.meanQ - e.meanReference)) < 1e-12)
            #expect(e.varianceReduction > 1, "\(e.name): coupling reduced the variance by \(e.varianceReduction)×")
            #expect(abs(e.seIndependent / e.se - e.varianceReduction.squareRoot()) < 1e-9 * e.varianceReduction)
        }
    }

    @Test func independentDrawsHaveTheVarianceTheFactorClaims() throws {
        // Var(f(z) − f(z')) for independent z ~ q, z' ~ p is Var_q f + Var_p f: the factor's
        // numerator. Checked on the quadratic f with a fresh independent sample.
        let result = try JobRun(try compiled(Self.spec(#"{"q": {"reference": "p", "f": "sum(z ^ 2)"}}"#))).run()
        let e = try #require(result.transport?.estimates.first)
        var rng = RandomStream(seed: 99, stream: 5)
        let lq = Tensor(rows: Self.trilQ), lp = try LinearAlgebra.cholesky(Tensor(rows: Self.covP))
        let n = 20000
        var diffs: [Double] = []
        for _ in 0..<n {
            let a = LinearAlgebra.matmul(lq, Tensor((0..<3).map { _ in rng.normal() })).scalars
            let b = LinearAlgebra.matmul(lp, Tensor((0..<3).map { _ in rng.normal() })).scalars
            diffs.append(Self.quadratic(zip(a, Self.muQ).map(+)) - Self.quadratic(zip(b, Self.muP).map(+)))
        }
        let mean = diffs.reduce(0, +) / Double(n)
        let variance = diffs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let claimed = e.seIndependent * e.seIndependent * Double(e.draws)
        // Sample variances of 20,000 draws agree to a few percent (relative s.e. √(2/n)·kurtosis).
        #expect(abs(variance / claimed - 1) < 0.1, "independent variance \(variance), claimed \(claimed)")
    }

    @Test func largeExpressionsAreEvaluatedInChunksAndRefusedPastTheirMemory() throws {
        // 100,000 numbers per draw: the 2,000 draws go through in chunks that fit 64 MiB, and
        // give what the same sum written small gives on the same draws.
        let estimates = #"{"wide": {"reference": "p", "f": "sum(zeros(100000) + z[0])"}, "narrow": {"reference": "p", "f": "100000 * z[0]"}}"#
        let result = try JobRun(try compiled(Self.spec(estimates, draws: 2000))).run()
        let wide = try #require(result.transport?.estimates.first { $0.name == "wide" })
        let narrow = try #require(result.transport?.estimates.first { $0.name == "narrow" })
        #expect(abs(wide.difference - narrow.difference) < 1e-9 * abs(narrow.difference))
        #expect(abs(wide.se - narrow.se) < 1e-9 * narrow.se)
        // One draw needing more than the spec's limits is refused when the spec is checked.
        let huge = problems(Self.spec(#"{"huge": {"reference": "p", "f": "sum(zeros(10000000) + z[0])"}}"#))
        #expect(huge.map(\.pointer) == ["/transport/estimates/huge/f"], "\(huge)")
        // So is an f whose draws together take too many operations.
        let slow = problems(Self.spec(#"{"slow": {"reference": "p", "f": "sum(zeros(1000000) + z[0])"}}"#, draws: 20000))
        #expect(slow.map(\.pointer) == ["/transport/estimates/slow/f"] && slow.first?.message.contains("operations") == true, "\(slow)")
    }

    @Test func eachBatchElementOfAnMVNSiteGetsItsOwnMap() throws {
        let text = """
        {
          "plates": { "b": {"size": 3} },
          "guide": [
            {"param": "m", "init": [[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]]},
            {"param": "L", "init": [[1.0, 0.0], [0.5, 0.7]], "constraint": "lower_cholesky"},
            {"sample": "z", "dist": "MultivariateNormal", "args": {"loc": "m", "scale_tril": "L"}, "plates": ["b"]}
          ],
          "model": [
            {"sample": "z", "dist": "MultivariateNormal", "args": {"loc": "zeros(2)", "covariance_matrix": "eye(2)"}, "plates": ["b"]}
          ],
          "transport": { "references": {
            "shared": {"site": "z", "mean": [0.2, 0.1], "cov": [[0.5, 0.2], [0.2, 0.6]]},
            "each": {"site": "z", "mean": [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], "scale": [[1.0, 2.0], [0.5, 0.5], [1.0, 1.0]]}
          } },
          "inference": { "steps": 0 }
        }
        """
        let result = try JobRun(try compiled(text)).run()
        let l = Tensor(rows: [[1.0, 0.0], [0.5, 0.7]])
        let covQ = LinearAlgebra.matmul(l, LinearAlgebra.transpose(l))
        let locs = [[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]]
        let scales = [[1.0, 2.0], [0.5, 0.5], [1.0, 1.0]]
        for r in result.transport!.references {
            #expect(r.maps.count == 3)
            #expect(r.batch?.count == 3)
            var total = 0.0
            for b in 0..<3 {
                let meanP = r.name == "shared" ? [0.2, 0.1] : [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]][b]
                let covP = r.name == "shared" ? Tensor(rows: [[0.5, 0.2], [0.2, 0.6]])
                    : Tensor(rows: [[scales[b][0] * scales[b][0], 0], [0, scales[b][1] * scales[b][1]]])
                let w2 = try GaussianTransport.w2Distance(meanQ: Tensor(locs[b]), covQ: covQ, meanP: Tensor(meanP), covP: covP)
                #expect(abs(r.batch![b].w2 - w2) < 1e-12)
                total += w2 * w2
                let a = Tensor(rows: r.maps[b].a!)
                let pushed = LinearAlgebra.matmul(LinearAlgebra.matmul(a, covQ), a)
                #expect(zip(pushed.scalars, covP.scalars).allSatisfy { abs($0 - $1) < 1e-12 })
                #expect(r.maps[b].meanQ == locs[b] && r.maps[b].meanP == meanP)
            }
            #expect(abs(r.w2 - total.squareRoot()) < 1e-12)
        }
    }

    @Test func theWholeAutoguideIsAReferenceSiteInUnconstrainedSpace() throws {
        let text = editing(editing(baseSpec, "/guide", #"{"auto": "mvn", "init_scale": 0.5}"#), "/transport",
                           #"{"references": {"unit": {"site": "_auto_latent", "mean": [0, 0], "cov": [[1, 0], [0, 1]]}}}"#)
        let result = try JobRun(try compiled(editing(text, "/inference/steps", "0"))).run()
        let r = try #require(result.transport?.references.first)
        // q = N(0, 0.25 I): W₂ = ‖0.5 − 1‖ √2 per the covariance part alone.
        #expect(abs(r.w2 - 0.5 * 2.0.squareRoot()) < 1e-12)
        #expect(abs(r.w2Cov - r.w2) < 1e-12 && r.w2Mean == 0)
    }
}

@Suite struct TransportValidationTests {
    func messages(_ text: String) -> [String] { problems(text).map { "\($0.pointer) \($0.message)" } }

    @Test func referencesAreCheckedAgainstTheirSites() {
        let t = conjugateSpec
        #expect(messages(editing(t, "/transport/references/exact/site", #""nope""#)).contains { $0.hasPrefix("/transport/references/exact/site unknown site 'nope'") })
        #expect(messages(editing(t, "/transport/references/exact/mean", "[1, 2, 3]")).contains { $0.hasPrefix("/transport/references/exact/mean the mean must be finite with the site's shape [2]") })
        #expect(messages(editing(t, "/transport/references/exact/scale", "[1, -1]")).contains { $0.hasPrefix("/transport/references/exact/scale every scale must be positive") })
        let notPD = editing(editing(t, "/transport/references/exact/scale", nil), "/transport/references/exact/cov", "[[1, 2], [2, 1]]")
        #expect(messages(notPD).contains { $0.hasPrefix("/transport/references/exact/cov cov must be positive definite") })
        let byJob = editing(t, "/transport/references/exact", #"{"site": "z", "job": "abc"}"#)
        #expect(messages(byJob).contains { $0.hasPrefix("/transport/references/exact/job a reference to job 'abc' is read by the service") })
        #expect(messages(editing(t, "/transport/estimates/second_moment/f", #""z ^ 2""#)).contains { $0.hasPrefix("/transport/estimates/second_moment/f f must give one number per draw, got shape [2]") })
        #expect(messages(editing(t, "/transport/estimates/second_moment/reference", #""other""#)).contains { $0.hasPrefix("/transport/estimates/second_moment/reference unknown reference 'other'") })
        #expect(messages(editing(t, "/transport/draws", "1000000")).contains { $0.hasPrefix("/transport/draws transport draws must be an integer from 2 to 100000") })
    }

    @Test func aNonGaussianSiteIsRefusedWithTheReason() {
        let text = editing(editing(baseSpec, "/guide", #"{"auto": "normal"}"#), "/model/0/dist", #""LogNormal""#)
        let withRef = editing(text, "/transport", #"{"references": {"r": {"site": "z", "mean": [0, 0], "scale": 1}}}"#)
        #expect(messages(withRef).contains { $0.contains("site 'z' is not Gaussian") && $0.contains("_auto_latent") })
    }
}
