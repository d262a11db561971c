import Testing
import Foundation
import JSON
import Inference
@testable import Autodiff
@testable import ModelSpec

/// Red-team checks of the summed Normal terms (`normalLogProbSum`, `normalDrawLogProbSum`) and
/// the draw's `multiplyAdd` on jobs written as JSON specs: each spec's compiled tape against
/// the same graph recompiled without those two rules (an independent per-node evaluation of
/// the same program), and what a job reports beside its fit (W₂ from the prior, the site a
/// divergence names) with and without them.
@Suite struct NormalSumSpecTests {
    /// Specs that reach the fused shapes: a loc gathered by a table with repeated entries,
    /// nested plates with a loc broadcast at stride 0, a scale that is exp of a broadcast
    /// scalar, an unconstrained param scale, a subsampled plate with score-function sites
    /// (every baseline) whose downstream cost holds the fused term, an enumerated mixture.
    static let specs: [(String, String)] = [
        ("gather-repeated", """
        {
          "data": {"y": [0.3, 1.1, -0.4, 2.0, 0.9, -1.2], "group": [0, 1, 1, 0, 1, 0]},
          "plates": {"data": {"size": 6}},
          "model": [
            {"sample": "mu", "dist": "Normal", "args": {"loc": "zeros(2)", "scale": 2}, "event_dims": 1},
            {"sample": "obs", "dist": "Normal", "args": {"loc": "mu[group]", "scale": 0.5}, "plates": ["data"], "obs": "y"}
          ],
          "guide": [
            {"param": "m", "init": [0.2, -0.3]},
            {"param": "s", "init": [0.7, 1.3], "constraint": "positive"},
            {"sample": "mu", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "event_dims": 1}
          ],
          "inference": {"elbo": "trace", "steps": 10, "particles": 3, "seed": 5}
        }
        """),
        ("nested-exp-broadcast", """
        {
          "data": {"y": {"value": [[1.1, 0.9, 1.3], [2.2, 1.8, 2.1]], "plates": ["groups", "members"]}},
          "plates": {"groups": {"size": 2}, "members": {"size": 3}},
          "model": [
            {"sample": "t", "dist": "Normal", "args": {"loc": 0, "scale": 1}},
            {"sample": "gm", "dist": "Normal", "args": {"loc": 0, "scale": "exp(t)"}, "plates": ["groups"]},
            {"param": "sig", "init": 0.7},
            {"sample": "obs", "dist": "Normal", "args": {"loc": "gm", "scale": "sig"}, "plates": ["members", "groups"], "obs": "y"}
          ],
          "guide": [
            {"param": "t_loc", "init": 0.1},
            {"param": "t_ls", "init": -0.5},
            {"sample": "t", "dist": "Normal", "args": {"loc": "t_loc", "scale": "exp(t_ls)"}},
            {"param": "m_loc", "init": "zeros(2)", "plates": ["groups"]},
            {"param": "m_ls", "init": -0.2},
            {"sample": "gm", "dist": "Normal", "args": {"loc": "m_loc", "scale": "exp(m_ls)"}, "plates": ["groups"]}
          ],
          "inference": {"elbo": "trace", "steps": 10, "particles": 2, "seed": 7}
        }
        """),
        ("nested-exp-broadcast-p1", """
        {
          "data": {"y": {"value": [[1.1, 0.9, 1.3], [2.2, 1.8, 2.1]], "plates": ["groups", "members"]}},
          "plates": {"groups": {"size": 2}, "members": {"size": 3}},
          "model": [
            {"sample": "gm", "dist": "Normal", "args": {"loc": 0, "scale": 3}, "plates": ["groups"]},
            {"param": "sig", "init": 0.7},
            {"sample": "obs", "dist": "Normal", "args": {"loc": "gm", "scale": "sig"}, "plates": ["members", "groups"], "obs": "y"}
          ],
          "guide": [
            {"param": "m_loc", "init": "zeros(2)", "plates": ["groups"]},
            {"param": "m_ls", "init": -0.2},
            {"sample": "gm", "dist": "Normal", "args": {"loc": "m_loc", "scale": "exp(m_ls)"}, "plates": ["groups"]}
          ],
          "inference": {"elbo": "trace", "steps": 10, "particles": 1, "seed": 7}
        }
        """),
        ("subsample-score", """
        {
          "data": {"x": [-1.5, -1.1, -0.7, -0.3, 0.1, 0.5, 0.9, 1.3], "f": [[-1.5], [-1.1], [-0.7], [-0.3], [0.1], [0.5], [0.9], [1.3]]},
          "plates": {"data": {"size": 8, "subsample": 4}},
          "model": [
            {"sample": "w", "dist": "Normal", "args": {"loc": 0, "scale": 5}},
            {"sample": "z", "dist": "Bernoulli", "args": {"probs": 0.5}, "plates": ["data"]},
            {"sample": "u", "dist": "Normal", "args": {"loc": "w", "scale": 1}, "plates": ["data"]},
            {"sample": "obs", "dist": "Normal", "args": {"loc": "w + 2 * z + u", "scale": 0.5}, "plates": ["data"], "obs": "x"}
          ],
          "guide": [
            {"param": "wl", "init": 0.3},
            {"param": "ws", "init": 0.8, "constraint": "positive"},
            {"sample": "w", "dist": "Normal", "args": {"loc": "wl", "scale": "ws"}, "estimator": {"name": "score", "baseline": "WBASE"}},
            {"param": "zl", "init": "zeros(8)"},
            {"sample": "z", "dist": "Bernoulli", "args": {"logits": "zl"}, "plates": ["data"], "estimator": {"name": "score", "baseline": "ZBASE"}},
            {"param": "ul", "init": "zeros(8)"},
            {"sample": "u", "dist": "Normal", "args": {"loc": "ul", "scale": 0.6}, "plates": ["data"]}
          ],
          "inference": {"elbo": "ELBO", "steps": 10, "particles": 3, "seed": 9}
        }
        """),
        ("enum-mixture", """
        {
          "data": {"x": [-2.1, -1.8, 2.2, 1.9, -2.4, 2.0]},
          "plates": {"data": {"size": "len(x)"}},
          "model": [
            {"sample": "mu", "dist": "Normal", "args": {"loc": "zeros(2)", "scale": 3}, "event_dims": 1},
            {"sample": "z", "dist": "Categorical", "args": {"logits": "zeros(2)"}, "plates": ["data"]},
            {"sample": "x_obs", "dist": "Normal", "args": {"loc": "mu[z]", "scale": 0.5}, "plates": ["data"], "obs": "x"}
          ],
          "guide": [
            {"param": "mu_loc", "init": [-1, 1]},
            {"param": "mu_scale", "init": [0.5, 0.5], "constraint": "positive"},
            {"sample": "mu", "dist": "Normal", "args": {"loc": "mu_loc", "scale": "mu_scale"}, "event_dims": 1},
            {"param": "z_logits", "init": "zeros(6, 2)"},
            {"sample": "z", "dist": "Categorical", "args": {"logits": "z_logits"}, "plates": ["data"], "estimator": "enum"}
          ],
          "inference": {"steps": 10, "particles": 2, "seed": 4}
        }
        """),
    ]

    static var cases: [(String, String)] {
        var all = specs.filter { !$0.0.hasPrefix("subsample-score") }
        let score = specs.first { $0.0 == "subsample-score" }!.1
        for baseline in ["none", "decaying_avg", "loo"] {
            for elbo in ["trace", "tracegraph"] {
                all.append(("subsample-score \(baseline) \(elbo)",
                            score.replacingOccurrences(of: "\"WBASE\"", with: "\"\(baseline)\"").replacingOccurrences(of: "\"ZBASE\"", with: "\"\(baseline)\"")
                                .replacingOccurrences(of: "\"ELBO\"", with: "\"\(elbo)\"")))
            }
        }
        let nested = specs.first { $0.0 == "nested-exp-broadcast" }!.1
        all.append(("nested meanfield", editing(nested, "/inference/elbo", "\"meanfield\"")))
        all.append(("nested analytic entropy", editing(nested, "/inference/entropy", "\"analytic\"")))
        let learned = score.replacingOccurrences(of: "\"WBASE\"", with: "\"decaying_avg\"")
            .replacingOccurrences(of: "\"ZBASE\"", with: "{\"learned\": {\"inputs\": [\"f\"], \"hidden\": 2}}")
        all.append(("subsample-score learned", learned.replacingOccurrences(of: "\"ELBO\"", with: "\"tracegraph\"")))
        return all
    }

    @Test(arguments: cases.map(\.0))
    func aSpecsFusedNormalTermsGiveTheELBOAndGradientsOfThePerNodeGraph(_ name: String) throws {
        let text = Self.cases.first { $0.0 == name }!.1
        let job: CompiledJob
        do { job = try compiled(text) } catch { Issue.record("\(name): \(error) \(problems(text))"); return }
        let program = job.program
        // Under Trace_ELBO a score site's cost reads the per-element terms, and an enumerated
        // site's sum reads them per value: the sums stay per node there, the draws' adds fuse.
        let applied = program.tape.appliedFusions.map(\.fusion)
        #expect(applied.contains(.normalLogProbSum) || applied.contains(.multiplyAdd), "\(name): \(applied)")
        let graph = program.elbo.graph
        graph.fusions.subtract([.normalLogProbSum, .multiplyAdd])
        defer { graph.fusions.formUnion([.normalLogProbSum, .multiplyAdd]) }
        let plain = try graph.compile(loss: program.loss, outputs: [program.elbo])
        #expect(!plain.appliedFusions.contains { $0.fusion == .normalLogProbSum || $0.fusion == .multiplyAdd })
        // Rounding only: a folded 1/scale against a division and a reordered sum.
        DrawFusionSpecTests.expectTheSameELBOAndGradients(program, plain, name)
    }

    /// A job's W₂ from the prior reads the guide's loc and scale from the training tape: with one
    /// particle the loc's broadcast is an identity select that `multiplyAdd` reads through.
    @Test(arguments: [1, 2])
    func aNormalSitesW2FromThePriorIsReportedWithTheDrawFused(_ particles: Int) throws {
        let text = editing(editing(conjugateSpec, "/inference/particles", "\(particles)"), "/inference/steps", "20")
        let result = try JobRun(try compiled(text)).run()
        let z = try #require(result.posterior.first { $0.site == "z" })
        #expect(z.w2FromPrior != nil, "particles \(particles): w2_from_prior missing")
    }

    /// A fused site whose term is not finite (an unconstrained scale param at a negative value,
    /// a scale computed from data that is 0 or negative: its log and reciprocal folded once) is
    /// still the one a divergence names, and a failure, not a trap.
    @Test(arguments: ["sig - 2", "c - 1", "c - 2", "c * 0 + 1e-320"])
    func aDivergedFusedSiteIsNamedInTheFailure(_ scale: String) throws {
        let template = """
        {
          "data": {"y": [0.3, 1.1, -0.4], "c": [1.0, 1.0, 1.0]},
          "plates": {"data": {"size": 3}},
          "model": [
            {"sample": "mu", "dist": "Normal", "args": {"loc": 0, "scale": 2}},
            {"param": "sig", "init": 1.0},
            {"sample": "obs", "dist": "Normal", "args": {"loc": "mu + 0 * sig", "scale": "SCALE"}, "plates": ["data"], "obs": "y"}
          ],
          "guide": [
            {"param": "m", "init": 0.2},
            {"param": "s", "init": 0.7, "constraint": "positive"},
            {"sample": "mu", "dist": "Normal", "args": {"loc": "m", "scale": "s"}}
          ],
          "inference": {"steps": 5, "seed": 5}
        }
        """
        let text = template.replacingOccurrences(of: "SCALE", with: scale)
        let job: CompiledJob
        do { job = try compiled(text) } catch { Issue.record("\(error) \(problems(text))"); return }
        #expect(job.program.tape.appliedFusions.contains { $0.fusion == .normalLogProbSum })
        do {
            _ = try JobRun(job).run()
            Issue.record("scale \(scale) did not fail the job")
        } catch {
            #expect("\(error)".contains("'obs' contributes"), "\(scale): \(error)")
        }
    }

    /// A fused job (the gathered loc, three particles) run with ClippedAdam (lr decay, betas
    /// whose running powers flush at t = 60 and 395), one param at its own lr, stopped at a
    /// checkpoint before and after the flushes, its checkpoint through JSON and resumed: the
    /// uninterrupted run's result to the bit.
    @Test(arguments: [30, 200, 500])
    func aFusedJobResumedFromACheckpointIsTheWholeRunBitForBit(_ at: Int) throws {
        var text = Self.specs.first { $0.0 == "gather-repeated" }!.1
        text = editing(text, "/inference", #"{"elbo": "trace", "steps": 600, "particles": 3, "seed": 5, "optimizer": {"name": "clipped_adam", "lr": 0.02, "betas": [0.5, 0.9], "lr_decay": 0.999, "clip_norm": 5}}"#)
        text = editing(text, "/guide/1", #"{"param": "s", "init": [0.7, 1.3], "constraint": "positive", "lr": 0.005}"#)
        let whole = try JobRun(try compiled(text)).run()
        var saved: RunCheckpoint?
        let stop = StopSignal()
        let first = try JobRun(try compiled(text), checkpoints: CheckpointPolicy(steps: at, seconds: .infinity))
        _ = try? first.run(stop: stop, checkpoint: { if saved == nil { saved = $0; stop.suspend() } })
        let checkpoint = try #require(saved)
        #expect(checkpoint.run.step == at)
        let data = Array(try JSONValueEncoder().text(checkpoint).utf8)
        let resumed = try JobRun(try compiled(text), from: try JSONValueDecoder().decode(RunCheckpoint.self, from: data)).run()
        #expect(resumed.finalELBO.bitPattern == whole.finalELBO.bitPattern)
        #expect(resumed.params == whole.params)
        #expect(resumed.posterior == whole.posterior)
        #expect(resumed.elboTrace == whole.elboTrace)
    }
}
