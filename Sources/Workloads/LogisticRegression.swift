import Autodiff
import Distributions
import Numerics

/// Bayesian logistic regression of the benchmark README: w ~ MultivariateNormal(0, I_D),
/// y_n ~ Bernoulli(logits = x_n·w) for N synthetic points, with a full-rank MVN guide
/// (loc, scale_tril = lower-Cholesky transform of an unconstrained matrix, started at 0.1·I)
/// drawn by reparameterisation, `particles` draws as one batch.
public struct LogisticRegression {
    public let graph: Graph
    public let tape: Tape
    public let loc: Node, rawScaleTril: Node
    public let loss: Node
    /// The weights that generated the labels.
    public let trueWeights: [Double]

    public init(points n: Int, dimension d: Int, particles: Int = 1, dataSeed: UInt64 = 0) throws {
        var rng = RandomStream(seed: dataSeed, stream: 99)
        let x = Tensor(shape: [n, d], scalars: (0..<(n * d)).map { _ in rng.normal() })
        let w = (0..<d).map { _ in rng.normal() }
        var labels: [Double] = []
        for i in 0..<n {
            var s = 0.0
            for j in 0..<d { s += x.scalars[i * d + j] * w[j] }
            labels.append(rng.uniform() < Special.sigmoid(s) ? 1 : 0)
        }
        trueWeights = w

        let g = Graph()
        let loc = g.parameter("loc", Tensor.zeros([d]))
        let raw = g.parameter("scale_tril", Transform.lowerCholesky.inverse(Tensor.eye(d).map { 0.1 * $0 }))
        let guide = try MultivariateNormal(loc: loc, scaleTril: Transform.lowerCholesky(raw))
        let z = try guide.rsample([particles], stream: 0)                       // [P, D]
        let logQ = g.sum(try guide.logProb(z))
        let prior = try MultivariateNormal(loc: g.constant(Tensor.zeros([d])), scaleTril: g.constant(Tensor.eye(d)))
        let logPrior = g.sum(try prior.logProb(z))
        let logits = g.matmul(g.constant(x), g.reshape(z, [particles, d, 1]))   // [P, N, 1]
        let lik = try Bernoulli(.logits(g.reshape(logits, [particles, n])))
        let logLik = g.sum(try lik.logProb(g.constant(Tensor(labels))))
        loss = (logQ - logPrior - logLik) / Double(particles)
        graph = g; self.loc = loc; rawScaleTril = raw
        tape = try g.compile(loss: loss)
    }
}

