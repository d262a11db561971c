import Testing
import Foundation
import JSON
import Inference
@testable import Autodiff
@testable import ModelSpec

/// Jobs written as JSON specs whose guides draw Normal and MultivariateNormal (lower_cholesky
/// and covariance_matrix) sites: the compiled tape with the draw-density fusions against the
/// same graph recompiled without them (ELBO and every gradient, several draws), and a
/// lower_cholesky factor too large for the limits refused as a spec problem, not a trap.
@Suite struct DrawFusionSpecTests {
    static let mvnSpec = """
    {
      "data": { "y": [0.3, 1.1, -0.4] },
      "plates": { "n": {"size": 3}, "p": {"size": 2} },
      "guide": [
        {"param": "m", "init": [0.1, -0.2, 0.3]},
        {"param": "L", "init": [[0.6, 0, 0], [0.4, 0.8, 0], [0.1, -0.2, 0.9]], "constraint": "lower_cholesky"},
        {"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "m", "scale_tril": "L"}},
        {"param": "A", "init": [[0.9, 0.1], [0.2, 0.7]]},
        {"sample": "v", "dist": "MultivariateNormal", "args": {"loc": "zeros(2)", "covariance_matrix": "A @ transpose(A) + eye(2)"}},
        {"param": "loc_q", "init": [0.5, -0.5]},
        {"param": "scale_q", "init": [0.8, 1.2], "constraint": "positive"},
        {"sample": "z", "dist": "Normal", "args": {"loc": "loc_q", "scale": "scale_q"}, "plates": ["p"]}
      ],
      "model": [
        {"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "zeros(3)", "covariance_matrix": "eye(3)"}},
        {"sample": "v", "dist": "MultivariateNormal", "args": {"loc": "zeros(2)", "covariance_matrix": "eye(2)"}},
        {"sample": "z", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["p"]},
        {"sample": "obs", "dist": "Normal", "args": {"loc": "sum(w) + sum(v) + sum(z)", "scale": 0.7}, "plates": ["n"], "obs": "y"}
      ],
      "inference": { "elbo": "trace", "steps": 10, "particles": 3, "seed": 5 }
    }
    """

    @Test func specJobsGiveTheSameELBOAndGradientsWithAndWithoutTheDrawFusions() throws {
        let text: String
        do { text = Self.mvnSpec; _ = try compiled(text) } catch { Issue.record("\(problems(Self.mvnSpec))"); return }
        let program = try compiled(text).program
        let applied = Set(program.tape.appliedFusions.map(\.fusion))
        #expect(applied.contains(.normalDrawLogProb) && applied.contains(.mvnDrawLogProb), "\(applied)")
        let graph = program.elbo.graph
        graph.fusions.subtract([.normalDrawLogProb, .mvnDrawLogProb])
        let plain = try graph.compile(loss: program.loss, outputs: [program.elbo])
        Self.expectTheSameELBOAndGradients(program, plain, "the MVN spec")
    }

    /// `program`'s tape and `plain` (its graph compiled with some fusions removed) over four
    /// draws: the ELBO and every parameter's gradient agree to rounding (see
    /// DrawFusionCombinationTests: a few ulp of terms ≤ 10²); a lost table entry, stride or
    /// path is an O(1) change.
    static func expectTheSameELBOAndGradients(_ program: CompiledProgram, _ plain: Tape, _ label: String) {
        for step in UInt64(0)..<4 {
            for t in [program.tape, plain] { t.seed = 5; t.step = step; t.forward(); t.backward() }
            let a = program.tape.scalar(of: program.elbo), b = plain.scalar(of: program.elbo)
            #expect(Swift.abs(a - b) <= 1e-11 * Swift.max(1, Swift.abs(b)), "\(label) step \(step): \(a) vs \(b)")
            for p in program.parameters {
                for (x, y) in zip(program.tape.gradient(of: p.raw).scalars, plain.gradient(of: p.raw).scalars) {
                    #expect(Swift.abs(x - y) <= 1e-11 * Swift.max(1, Swift.abs(y)), "\(label) step \(step) \(p.name): \(x) vs \(y)")
                }
            }
        }
    }

    @Test(arguments: ["eye(100000)", "eye(3000)", "[1.0, 2.0]", "[[1.0, 0.0, 0.0], [0.5, 1.0, 0.0]]"])
    func aLowerCholeskyInitThatIsTooLargeOrNotSquareIsASpecProblem(_ initial: String) {
        let found = problems(editing(Self.mvnSpec, "/guide/1/init", initial.hasPrefix("[") ? initial : "\"\(initial)\""))
        #expect(!found.isEmpty, "\(initial)")
        #expect(found.contains { $0.pointer.hasPrefix("/guide/1") }, "\(initial): \(found)")
    }
}
