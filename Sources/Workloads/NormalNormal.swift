import Autodiff
import Distributions
import Numerics

/// The conjugate Normal–Normal model of the benchmark README and job-spec.md, built with the
/// public builder API: a 2-d latent z with prior Normal([0, 0.5], 0.1^(−1/2)), 4 observations
/// per dimension with noise precisions (6, 4), and a mean-field Normal guide (loc, scale =
/// exp(log_scale)) whose draws are reparameterised. The loss is −ELBO averaged over particles.
public struct NormalNormal {
    /// The observations, one row per data point.
    public static let data: [[Double]] = [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]]
    public static let priorLoc = [0.0, 0.5]
    public static let priorPrecision = 0.1
    public static let noisePrecision = [6.0, 4.0]

    public let graph: Graph
    public let tape: Tape
    /// Guide location and unconstrained log-scale.
    public let loc: Node, logScale: Node
    /// −ELBO estimate.
    public let loss: Node

    public init(particles: Int = 1, initialLoc: [Double] = [0, 0], initialScale: [Double] = [1, 1]) throws {
        let g = Graph()
        let loc = g.parameter("loc", Tensor(initialLoc))
        let logScale = g.parameter("log_scale", Transform.exp.inverse(Tensor(initialScale)))
        let guide = try Normal(loc: loc, scale: Transform.exp(logScale))
        let z = try guide.rsample([particles], stream: 0)                     // [P, 2]
        let logQ = g.sum(try guide.logProb(z))
        let prior = try Normal(loc: g.constant(Tensor(Self.priorLoc)), scale: g.constant(1 / Self.priorPrecision.squareRoot()))
        let logPrior = g.sum(try prior.logProb(z))
        let noise = g.constant(Tensor(Self.noisePrecision.map { 1 / $0.squareRoot() }))
        let likelihood = try Normal(loc: g.reshape(z, [particles, 1, 2]), scale: noise)
        let logLik = g.sum(try likelihood.logProb(g.constant(Tensor(rows: Self.data))))
        let loss = (logQ - logPrior - logLik) / Double(particles)
        self.graph = g; self.loc = loc; self.logScale = logScale; self.loss = loss
        tape = try g.compile(loss: loss)
    }

    /// The exact posterior of each coordinate: precision λ₀ + nλ, mean (λΣx + λ₀μ₀)/(λ₀ + nλ).
    public static func posterior() -> (mean: [Double], scale: [Double]) {
        let n = Double(data.count)
        var mean: [Double] = [], scale: [Double] = []
        for j in 0..<2 {
            let lam = noisePrecision[j], prec = priorPrecision + n * lam
            let sum = data.reduce(0) { $0 + $1[j] }
            mean.append((lam * sum + priorPrecision * priorLoc[j]) / prec)
            scale.append(1 / prec.squareRoot())
        }
        return (mean, scale)
    }
}
