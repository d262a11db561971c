import Foundation
import Inference
import Numerics

/// One row of the benchmark: a workload built with the public `ProgramBuilder` and the same
/// model, with the same data, as a JSON job spec. `sviserve-bench` times the first and
/// `sviserve bench` (with no files) the second, both over ``BenchmarkRow/all``, so the two
/// report the same rows; `sviserve-bench --write-specs DIR` writes every row's spec.
public struct BenchmarkRow: Sendable {
    /// The row's name in both reports (and the spec's `name`).
    public let name: String
    /// What is timed: whole SVI steps, or only the forward and backward replay of the tape
    /// (the engine's micro-benchmark, `normal_normal_replay`).
    public let kind: Kind
    /// Adam's learning rate (the spec says the same).
    public let learningRate: Double
    /// The workload built with the public `ProgramBuilder`.
    public let program: @Sendable () throws -> CompiledProgram
    /// The same workload as a JSON job spec.
    public let spec: @Sendable () -> String

    /// Whole SVI steps, or the tape's replay alone.
    public enum Kind: Sendable { case steps, replay }

    /// Every row, in report order.
    public static let all: [BenchmarkRow] = {
        var rows = [
            BenchmarkRow(name: "normal_normal_replay", kind: .replay, learningRate: 0.01,
                         program: { try NormalNormal.program() }, spec: { normalNormalSpec("normal_normal_replay") }),
            BenchmarkRow(name: "normal_normal_reparam", kind: .steps, learningRate: 0.01,
                         program: { try NormalNormal.program() }, spec: { normalNormalSpec("normal_normal_reparam") }),
        ]
        let logistic: [(n: Int, d: Int, p: Int, estimator: Estimator, label: String)] = [
            (1000, 10, 1, .reparam, "reparam"), (1000, 10, 1, .omt, "omt"), (1000, 10, 1, .avf(rank: 1), "avf"),
            (10000, 50, 1, .reparam, "reparam"), (10000, 50, 1, .omt, "omt"), (1000, 10, 16, .reparam, "reparam"),
        ]
        for r in logistic {
            let name = "logreg_N\(r.n)_D\(r.d)_\(r.label)_p\(r.p)"
            rows.append(BenchmarkRow(name: name, kind: .steps, learningRate: 0.01,
                                     program: { try LogisticRegression.program(points: r.n, dimension: r.d, particles: r.p, estimator: r.estimator) },
                                     spec: { logisticSpec(name, n: r.n, d: r.d, particles: r.p, estimator: r.label) }))
        }
        rows.append(BenchmarkRow(name: "gmm_N500_K3_relaxed_st", kind: .steps, learningRate: 0.05,
                                 program: { try GaussianMixture.program(points: 500) }, spec: { mixtureSpec("gmm_N500_K3_relaxed_st") }))
        rows.append(BenchmarkRow(name: "gmm_N500_K3_score", kind: .steps, learningRate: 0.05,
                                 program: { try GaussianMixture.scoreProgram(points: 500) }, spec: { scoreMixtureSpec("gmm_N500_K3_score") }))
        return rows
    }()

    /// Writes `<name>.json` for every row into `directory` (created if missing).
    public static func writeSpecs(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for row in all {
            try row.spec().write(toFile: "\(directory)/\(row.name).json", atomically: true, encoding: .utf8)
        }
    }

    /// A tensor as nested JSON arrays (Swift prints the shortest decimal that reads back to
    /// the same double, always a valid JSON number for the finite data here).
    static func json(_ t: Tensor) -> String {
        func build(_ offset: Int, _ axis: Int) -> String {
            if axis == t.rank { return "\(t.scalars[offset])" }
            let stride = t.shape[(axis + 1)...].reduce(1, *)
            return "[" + (0..<t.shape[axis]).map { build(offset + $0 * stride, axis + 1) }.joined(separator: ", ") + "]"
        }
        return build(0, 0)
    }

    static func normalNormalSpec(_ name: String) -> String {
        """
        {"name": "\(name)",
         "data": {"x": \(json(Tensor(rows: NormalNormal.data)))},
         "plates": {"d": {"size": 4}, "p": {"size": 2}},
         "guide": [{"param": "loc", "init": [0, 0]}, {"param": "scale", "init": [1, 1], "constraint": "positive"},
                   {"sample": "z", "dist": "Normal", "args": {"loc": "loc", "scale": "scale"}, "plates": ["p"]}],
         "model": [{"sample": "z", "dist": "Normal", "args": {"loc": [0, 0.5], "scale": \(1 / NormalNormal.priorPrecision.squareRoot())}, "plates": ["p"]},
                   {"sample": "obs", "dist": "Normal", "args": {"loc": "z", "scale": [\(1 / 6.0.squareRoot()), 0.5]}, "plates": ["d", "p"], "obs": "x"}],
         "inference": {"elbo": "tracegraph", "steps": 1000, "optimizer": {"name": "adam", "lr": 0.01}}}
        """
    }

    static func logisticSpec(_ name: String, n: Int, d: Int, particles: Int, estimator: String) -> String {
        let (x, y, _) = LogisticRegression.data(points: n, dimension: d)
        return """
        {"name": "\(name)", "data": {"X": \(json(x)), "y": \(json(y))},
         "plates": {"data": {"size": \(n)}},
         "guide": [{"param": "loc", "init": "zeros(\(d))"}, {"param": "scale_tril", "init": "0.1 * eye(\(d))", "constraint": "lower_cholesky"},
                   {"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "loc", "scale_tril": "scale_tril"}, "estimator": "\(estimator)"}],
         "model": [{"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "zeros(\(d))", "scale_tril": "eye(\(d))"}},
                   {"sample": "y", "dist": "Bernoulli", "args": {"logits": "X @ w"}, "plates": ["data"], "obs": "y"}],
         "inference": {"elbo": "trace", "steps": 1000, "particles": \(particles), "optimizer": {"name": "adam", "lr": 0.01}}}
        """
    }

    static func mixtureSpec(_ name: String) -> String {
        """
        {"name": "\(name)", "data": {"x": \(json(GaussianMixture.data(points: 500)))},
         "plates": {"data": {"size": 500}},
         "guide": [{"param": "m", "init": [-1, 0, 1]}, {"param": "s", "init": "ones(3)", "constraint": "positive"},
                   {"sample": "mu", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "event_dims": 1},
                   {"param": "logits", "init": "zeros(500, 3)"},
                   {"sample": "z", "dist": "OneHotCategorical", "args": {"logits": "logits"}, "plates": ["data"],
                    "estimator": {"name": "straight_through", "temperature": 0.5}}],
         "model": [{"sample": "mu", "dist": "Normal", "args": {"loc": "zeros(3)", "scale": 10}, "event_dims": 1},
                   {"sample": "z", "dist": "OneHotCategorical", "args": {"probs": [0.3333333333333333, 0.3333333333333333, 0.3333333333333333]}, "plates": ["data"]},
                   {"sample": "x", "dist": "Normal", "args": {"loc": "sum(z * mu, -1)", "scale": 1}, "plates": ["data"], "obs": "x"}],
         "inference": {"elbo": "trace", "steps": 1000, "optimizer": {"name": "adam", "lr": 0.05}}}
        """
    }

    /// The mixture with integer assignments and the score-function estimator (decaying-average
    /// baseline, TraceGraph_ELBO): the same data as the relaxed row.
    static func scoreMixtureSpec(_ name: String) -> String {
        """
        {"name": "\(name)", "data": {"x": \(json(GaussianMixture.data(points: 500)))},
         "plates": {"data": {"size": 500}},
         "guide": [{"param": "m", "init": [-1, 0, 1]}, {"param": "s", "init": "ones(3)", "constraint": "positive"},
                   {"sample": "mu", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "event_dims": 1},
                   {"param": "logits", "init": "zeros(500, 3)"},
                   {"sample": "z", "dist": "Categorical", "args": {"logits": "logits"}, "plates": ["data"],
                    "estimator": {"name": "score", "baseline": {"decaying_avg": 0.9}}}],
         "model": [{"sample": "mu", "dist": "Normal", "args": {"loc": "zeros(3)", "scale": 10}, "event_dims": 1},
                   {"sample": "z", "dist": "Categorical", "args": {"probs": [0.3333333333333333, 0.3333333333333333, 0.3333333333333333]}, "plates": ["data"]},
                   {"sample": "x", "dist": "Normal", "args": {"loc": "mu[z]", "scale": 1}, "plates": ["data"], "obs": "x"}],
         "inference": {"elbo": "tracegraph", "steps": 1000, "optimizer": {"name": "adam", "lr": 0.05}}}
        """
    }
}
