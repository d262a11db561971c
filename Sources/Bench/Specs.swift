import Foundation
import JSON
import Numerics
import ModelSpec
import Workloads

/// The benchmark workloads as JSON job specs with the engine benchmark's own data, so that
/// `sviserve bench` can be compared with `sviserve-bench` on the same models.
enum BenchSpecs {
    static func json(_ t: Tensor) -> JSONValue {
        func build(_ offset: Int, _ axis: Int) -> JSONValue {
            if axis == t.rank { return .number(t.scalars[offset]) }
            let stride = t.shape[(axis + 1)...].reduce(1, *)
            return .array((0..<t.shape[axis]).map { build(offset + $0 * stride, axis + 1) })
        }
        return build(0, 0)
    }

    static func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var specs: [String: String] = [:]
        specs["normal_normal_reparam"] = """
        {"name": "normal_normal_reparam",
         "data": {"x": \(json(Tensor(rows: NormalNormal.data)).serialized())},
         "plates": {"d": {"size": 4}, "p": {"size": 2}},
         "guide": [{"param": "loc", "init": [0, 0]}, {"param": "scale", "init": [1, 1], "constraint": "positive"},
                   {"sample": "z", "dist": "Normal", "args": {"loc": "loc", "scale": "scale"}, "plates": ["p"]}],
         "model": [{"sample": "z", "dist": "Normal", "args": {"loc": [0, 0.5], "scale": \(1 / NormalNormal.priorPrecision.squareRoot())}, "plates": ["p"]},
                   {"sample": "obs", "dist": "Normal", "args": {"loc": "z", "scale": [\(1 / 6.0.squareRoot()), 0.5]}, "plates": ["d", "p"], "obs": "x"}],
         "inference": {"elbo": "tracegraph", "steps": 1000, "optimizer": {"name": "adam", "lr": 0.01}}}
        """
        for (name, n, d, p, est) in [("logreg_N1000_D10_reparam_p1", 1000, 10, 1, "reparam"), ("logreg_N1000_D10_omt_p1", 1000, 10, 1, "omt"),
                                     ("logreg_N1000_D10_avf_p1", 1000, 10, 1, "avf"), ("logreg_N1000_D10_reparam_p16", 1000, 10, 16, "reparam"),
                                     ("logreg_N10000_D50_reparam_p1", 10000, 50, 1, "reparam"), ("logreg_N10000_D50_omt_p1", 10000, 50, 1, "omt")] {
            let (x, y, _) = LogisticRegression.data(points: n, dimension: d)
            specs[name] = """
            {"name": "\(name)", "data": {"X": \(json(x).serialized()), "y": \(json(y).serialized())},
             "plates": {"data": {"size": \(n)}},
             "guide": [{"param": "loc", "init": "zeros(\(d))"}, {"param": "scale_tril", "init": "0.1 * eye(\(d))", "constraint": "lower_cholesky"},
                       {"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "loc", "scale_tril": "scale_tril"}, "estimator": "\(est)"}],
             "model": [{"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "zeros(\(d))", "scale_tril": "eye(\(d))"}},
                       {"sample": "y", "dist": "Bernoulli", "args": {"logits": "X @ w"}, "plates": ["data"], "obs": "y"}],
             "inference": {"elbo": "trace", "steps": 1000, "particles": \(p), "optimizer": {"name": "adam", "lr": 0.01}}}
            """
        }
        let x = GaussianMixture.data(points: 500)
        specs["gmm_N500_K3_relaxed_st"] = """
        {"name": "gmm_N500_K3_relaxed_st", "data": {"x": \(json(x).serialized())},
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
        for (name, text) in specs {
            try text.write(toFile: "\(dir)/\(name).json", atomically: true, encoding: .utf8)
        }
    }
}
