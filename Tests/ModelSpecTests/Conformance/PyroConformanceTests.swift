import Foundation
import Testing
import Inference
@testable import ModelSpec

/// sviserve against Pyro 1.9 (issue 16): the same models, guides, estimators and settings as
/// job specs through the public spec compiler, checked against what Pyro measured
/// (`Conformance/Reference/*.json`; see `pyro_conformance.py` there for how).
@Suite struct PyroConformanceTests {
    static let seeds = [0, 1, 2, 3, 4]

    // MARK: Conjugate models

    /// Each seed's error against the exact posterior is at most twice Pyro's worst seed.
    @Test(arguments: PyroFixtures.names("conjugate"))
    func conjugateModelReachesThePosteriorAsPyroDoes(_ name: String) throws {
        let c = try #require(PyroFixtures.named("conjugate", name))
        let pyro = try #require(c["pyro_errors"] as? [[String: Double]])
        let exact = try #require(c["exact"] as? [String: Any]), squared = c["metric"] as? String == "squared"
        let spec = try #require(c["spec"] as? [String: Any])
        let steps = try #require((spec["inference"] as? [String: Any])?["steps"] as? Int)
        for seed in Self.seeds {
            let job = try PyroFixtures.compile(spec, inference: ["seed": seed])
            let params = try PyroFixtures.train(job, seed: seed, steps: steps)
            for (param, value) in exact {
                let target = (value as? [Double]) ?? [(value as? Double) ?? .nan]
                let got = try #require(params[param])
                let error = squared ? zip(got, target).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) : abs(got[0] - target[0])
                let bar = 2 * (pyro.compactMap { $0[param] }.max() ?? 0)
                #expect(error <= bar, "\(name) seed \(seed): \(param) error \(error) > 2 × Pyro's worst (\(bar / 2))")
            }
        }
    }

    /// The Normal–Normal cases written with plates instead of event axes, as Pyro's own
    /// Normal–Normal test writes them: `p` (2) declared before `d` (4), the latent in `["p"]`
    /// and the observations `x` of shape (4, 2) in `["d", "p"]` — listed in the other order than
    /// declared. Each seed's error is at most twice Pyro's worst on the event-axes form (the
    /// same posterior).
    @Test(arguments: PyroFixtures.names("conjugate").filter { $0.hasPrefix("normal_normal/") })
    func normalNormalWithPlatesListedOutOfOrder(_ name: String) throws {
        let c = try #require(PyroFixtures.named("conjugate", name))
        let pyro = try #require(c["pyro_errors"] as? [[String: Double]])
        let exact = try #require(c["exact"] as? [String: [Double]])
        var spec = try #require(c["spec"] as? [String: Any])
        let steps = try #require((spec["inference"] as? [String: Any])?["steps"] as? Int)
        spec["plates"] = ["p": ["size": 2], "d": ["size": 4]]
        var model = try #require(spec["model"] as? [[String: Any]]), guide = try #require(spec["guide"] as? [[String: Any]])
        for i in model.indices {
            model[i]["event_dims"] = nil
            model[i]["plates"] = model[i]["obs"] == nil ? ["p"] : ["d", "p"]
        }
        for i in guide.indices where guide[i]["sample"] != nil {
            guide[i]["event_dims"] = nil
            guide[i]["plates"] = ["p"]
        }
        spec["model"] = model; spec["guide"] = guide
        for seed in Self.seeds {
            let job = try PyroFixtures.compile(spec, inference: ["seed": seed])
            let params = try PyroFixtures.train(job, seed: seed, steps: steps)
            for (param, target) in exact {
                let error = zip(try #require(params[param]), target).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
                let bar = 2 * (pyro.compactMap { $0[param] }.max() ?? 0)
                #expect(error <= bar, "\(name) with plates [d, p], seed \(seed): \(param) error \(error) > \(bar)")
            }
        }
    }

    // MARK: Guide params shared across a plate (the mean-field case)

    /// Mean-field and Trace ELBOs with scalar guide params over a plate of ten local latents
    /// reach the optimum m = mean(x)/2, s = √½: each seed's final params are no further from it
    /// than twice Pyro's worst seed, and the mean over seeds 0–4 lies within 0.02 of it. (Single
    /// seeds scatter by the optimiser's noise at lr 0.02: Pyro 1.9.2's own final m ranges over
    /// 0.90–0.98 here, so a per-seed 0.02 bar is one Pyro does not meet either.)
    @Test(arguments: PyroFixtures.names("shared_guide"))
    func sharedGuideParamsReachTheOptimum(_ name: String) throws {
        let c = try #require(PyroFixtures.named("shared_guide", name))
        let pyro = try #require(c["pyro_final"] as? [[String: Double]])
        let exact = try #require(c["exact"] as? [String: Double])
        var finals: [[String: Double]] = []
        for seed in Self.seeds {
            let job = try PyroFixtures.compile(c["spec"]!, inference: ["seed": seed])
            let params = try PyroFixtures.train(job, seed: seed, steps: 4000)
            finals.append(["m": params["m"]![0], "s": params["s"]![0]])
        }
        for (param, target) in exact {
            let bar = 2 * pyro.map { abs($0[param]! - target) }.max()!
            for (seed, f) in zip(Self.seeds, finals) {
                #expect(abs(f[param]! - target) <= bar, "\(name) seed \(seed): \(param) = \(f[param]!), optimum \(target), bar \(bar)")
            }
            let mean = finals.map { $0[param]! }.reduce(0, +) / Double(finals.count)
            #expect(abs(mean - target) <= 0.02, "\(name): mean \(param) over seeds \(mean), optimum \(target)")
        }
    }

    // MARK: Expected gradients

    /// An estimator and ELBO applied to every guide site of a gradient case.
    struct Variant: CustomStringConvertible, Sendable {
        let label: String
        let estimator: String?
        let elbo: String
        let particles: Int
        let analyticEntropy: Bool
        let draws: Int
        var description: String { label }

        var estimatorJSON: Any? {
            switch estimator {
            case nil: nil
            case "score_none": "score"
            case "score_decaying": ["name": "score", "baseline": ["decaying_avg": 0.9]] as [String: Any]
            case "score_loo": ["name": "score", "baseline": "loo"] as [String: Any]
            case let e?: e
            }
        }
        var inference: [String: Any] {
            ["elbo": elbo, "particles": particles, "entropy": analyticEntropy ? "analytic" : "monte_carlo"]
        }
    }

    static let continuous: [Variant] = [
        Variant(label: "reparam/trace", estimator: "reparam", elbo: "trace", particles: 1, analyticEntropy: false, draws: 20_000),
        Variant(label: "reparam/tracegraph", estimator: "reparam", elbo: "tracegraph", particles: 1, analyticEntropy: false, draws: 20_000),
        Variant(label: "reparam/meanfield", estimator: "reparam", elbo: "meanfield", particles: 1, analyticEntropy: false, draws: 20_000),
        Variant(label: "reparam/analytic-entropy", estimator: "reparam", elbo: "tracegraph", particles: 1, analyticEntropy: true, draws: 20_000),
        Variant(label: "score-decaying/tracegraph", estimator: "score_decaying", elbo: "tracegraph", particles: 1, analyticEntropy: false, draws: 80_000),
        Variant(label: "score-none/meanfield", estimator: "score_none", elbo: "meanfield", particles: 1, analyticEntropy: false, draws: 80_000),
        Variant(label: "score-loo/trace", estimator: "score_loo", elbo: "trace", particles: 4, analyticEntropy: false, draws: 40_000),
    ]
    static let discrete: [Variant] = [
        Variant(label: "enum/tracegraph", estimator: "enum", elbo: "tracegraph", particles: 1, analyticEntropy: false, draws: 2_000),
        Variant(label: "enum/trace", estimator: "enum", elbo: "trace", particles: 1, analyticEntropy: false, draws: 2_000),
        Variant(label: "score-none/trace", estimator: "score_none", elbo: "trace", particles: 1, analyticEntropy: false, draws: 80_000),
        Variant(label: "score-decaying/tracegraph", estimator: "score_decaying", elbo: "tracegraph", particles: 1, analyticEntropy: false, draws: 40_000),
        Variant(label: "score-decaying/meanfield", estimator: "score_decaying", elbo: "meanfield", particles: 1, analyticEntropy: false, draws: 40_000),
        Variant(label: "score-decaying/analytic-entropy", estimator: "score_decaying", elbo: "tracegraph", particles: 1, analyticEntropy: true, draws: 40_000),
        Variant(label: "score-loo/tracegraph", estimator: "score_loo", elbo: "tracegraph", particles: 4, analyticEntropy: false, draws: 20_000),
    ]

    static var gradientCases: [(String, Variant)] {
        PyroFixtures.cases("gradients").flatMap { c -> [(String, Variant)] in
            let name = c["name"] as? String ?? ""
            let isDiscrete = name.hasPrefix("mixture") || name.hasPrefix("bernoulli_switches")
            return (isDiscrete ? discrete : continuous).map { (name, $0) }
        }
    }

    /// sviserve's mean gradient lies within 4 standard errors (its own and Pyro's combined) of
    /// Pyro's expected gradient, element by element, and the check could tell a factor of 2.
    @Test(arguments: gradientCases)
    func meanGradientAgreesWithPyro(_ name: String, _ variant: Variant) throws {
        let c = try #require(PyroFixtures.named("gradients", name))
        let expected = try #require(c["pyro_gradient"] as? [String: [String: Any]])
        let job = try PyroFixtures.compile(c["spec"]!, inference: variant.inference.merging(["seed": 7]) { $1 }, estimator: variant.estimatorJSON)
        let svi = try SVI(program: job.program, optimizer: .sgd(lr: 0), seed: 7)
        let estimate = try svi.gradientEstimate(draws: variant.draws)
        var largest = (gap: 0.0, tolerance: 0.0)
        for (param, e) in expected {
            let mean = e.doubles("mean"), se = e.doubles("standard_error")
            let ours = try #require(estimate.parameters.first { $0.name == param }, "\(param) missing")
            #expect(ours.mean.count == mean.count, "\(param): \(ours.mean.count) elements, Pyro has \(mean.count)")
            for k in mean.indices where k < ours.mean.count {
                let tolerance = 4 * (ours.standardError[k] * ours.standardError[k] + se[k] * se[k]).squareRoot() + 1e-9 * (1 + abs(mean[k]))
                #expect(abs(ours.mean[k] - mean[k]) <= tolerance,
                        "\(name) \(variant) \(param)[\(k)]: sviserve \(ours.mean[k]) ± \(ours.standardError[k]), Pyro \(mean[k]) ± \(se[k])")
                if abs(mean[k]) > largest.gap { largest = (abs(mean[k]), tolerance) }
            }
        }
        #expect(largest.tolerance < 0.5 * largest.gap, "\(name) \(variant): too few draws to tell a factor of 2 (largest gradient \(largest.gap), tolerance \(largest.tolerance))")
    }

    // MARK: Trajectories and straight-through

    /// The score-function mixture's error against the exact responsibilities is at most twice
    /// Pyro's worst seed at each early checkpoint, and over the late window (every 250 steps from
    /// 3000 on, seeds 0–4: near the optimum the error spikes now and then, for Pyro as for
    /// sviserve, when Adam meets a rare large gradient after a quiet spell) the worst error is at
    /// most twice Pyro's worst in the same window.
    @Test(arguments: PyroFixtures.names("trajectories"))
    func scoreFunctionTrajectoryKeepsUpWithPyro(_ name: String) throws {
        let c = try #require(PyroFixtures.named("trajectories", name))
        let pyro = try #require(c["pyro_errors"] as? [[Double]])
        let at = try #require(c["checkpoints"] as? [Int])
        let exact = (c["exact"] as? [String: Any]).map { $0.doubles("q") } ?? []
        let window = at.indices.filter { at[$0] >= 3000 }
        var lateWorst = 0.0
        for seed in Self.seeds {
            let job = try PyroFixtures.compile(c["spec"]!, inference: ["seed": seed])
            var errors: [Double] = []
            _ = try PyroFixtures.train(job, seed: seed, steps: at.last!, at: at) { params in
                errors.append(zip(params["q"] ?? [], exact).map { abs($0 - $1) }.max() ?? .nan)
            }
            for k in at.indices where !window.contains(k) {
                let bar = 2 * pyro.map { $0[k] }.max()!
                #expect(errors[k] <= bar, "\(name) seed \(seed) step \(at[k]): error \(errors[k]) > 2 × Pyro's worst \(bar / 2)")
            }
            lateWorst = max(lateWorst, window.map { errors[$0] }.max() ?? 0)
        }
        let pyroLate = pyro.flatMap { e in window.map { e[$0] } }.max() ?? 0
        #expect(lateWorst <= 2 * pyroLate, "\(name): worst error from step 3000 on \(lateWorst) > 2 × Pyro's \(pyroLate)")
    }

    /// Pyro's relaxed straight-through SVI tests as written: each seed's error is at most twice
    /// Pyro's worst, and the final q's mean over seeds agrees with Pyro's (the estimator is
    /// biased at temperature 0.1; agreement with Pyro, not with the target, is what conformance
    /// means here).
    @Test(arguments: PyroFixtures.names("straight_through"))
    func straightThroughAsPyroWritesIt(_ name: String) throws {
        let c = try #require(PyroFixtures.named("straight_through", name))
        let pyroErrors = try #require(c["pyro_errors"] as? [Double])
        let pyroFinal = try #require(c["pyro_final_q"] as? [[Double]])
        let target = c.doubles("target")
        var finals: [[Double]] = []
        for seed in Self.seeds {
            let job = try PyroFixtures.compile(c["spec"]!, inference: ["seed": seed])
            let q = try #require(try PyroFixtures.train(job, seed: seed, steps: 6000)["q"])
            finals.append(q)
            let error = zip(q, target).map { abs($0 - $1) }.max()!
            #expect(error <= 2 * pyroErrors.max()!, "\(name) seed \(seed): error \(error) > 2 × Pyro's worst \(pyroErrors.max()!)")
        }
        for k in target.indices {
            let ours = finals.map { $0[k] }, theirs = pyroFinal.map { $0[k] }
            func meanAndVariance(_ x: [Double]) -> (Double, Double) {
                let m = x.reduce(0, +) / Double(x.count)
                return (m, x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count - 1))
            }
            let (mo, vo) = meanAndVariance(ours), (mp, vp) = meanAndVariance(theirs)
            let se = ((vo + vp) / Double(Self.seeds.count)).squareRoot()
            #expect(abs(mo - mp) <= 4 * se, "\(name) q[\(k)]: sviserve mean \(mo), Pyro mean \(mp) (s.e. \(se))")
        }
    }
}
