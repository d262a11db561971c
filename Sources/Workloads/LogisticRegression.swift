import Autodiff
import Distributions
import Inference
import Numerics

/// Bayesian logistic regression of the benchmark README: w ~ MultivariateNormal(0, I_D),
/// y_n ~ Bernoulli(logits = x_n·w) for N synthetic points (plate "data"), with a full-rank
/// MVN guide (loc, scale_tril with a lower-Cholesky constraint, started at 0.1·I) whose
/// gradient is estimated by `estimator` (reparam, omt or avf).
public enum LogisticRegression {
    /// Synthetic data: X ~ N(0, 1), true weights ~ N(0, 1), labels ~ Bernoulli(σ(X w)).
    public static func data(points n: Int, dimension d: Int, seed: UInt64 = 0) -> (x: Tensor, y: Tensor, weights: [Double]) {
        var rng = RandomStream(seed: seed, stream: 99)
        let x = Tensor(shape: [n, d], scalars: (0..<(n * d)).map { _ in rng.normal() })
        let w = (0..<d).map { _ in rng.normal() }
        var labels: [Double] = []
        for i in 0..<n {
            var s = 0.0
            for j in 0..<d { s += x.scalars[i * d + j] * w[j] }
            labels.append(rng.uniform() < Special.sigmoid(s) ? 1 : 0)
        }
        return (x, Tensor(labels), w)
    }

    public static func program(points n: Int, dimension d: Int, particles: Int = 1,
                               estimator: Estimator = .reparam) throws -> CompiledProgram {
        let (x, y, _) = data(points: n, dimension: d)
        let b = ProgramBuilder(particles: particles, elbo: .trace)
        let g = b.graph
        let plate = try b.plate("data", size: n)
        let loc = try b.param("loc", Tensor.zeros([d]))
        let tril = try b.param("scale_tril", Tensor.eye(d).map { 0.1 * $0 }, constraint: .lowerCholesky)
        try b.sample("w", try MultivariateNormal(loc: loc, scaleTril: tril), estimator: estimator)
        let w = try b.latent("w", try MultivariateNormal(loc: g.constant(Tensor.zeros([d])), scaleTril: g.constant(Tensor.eye(d))))
        let logits = g.reshape(g.matmul(g.constant(x), g.reshape(w, [particles, d, 1])), [particles, n])
        try b.observe("y", try Bernoulli(.logits(logits)), value: g.constant(y), plates: [plate])
        return try b.compile()
    }
}
