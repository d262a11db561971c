import Autodiff
import Numerics

/// KL(p ‖ q) = E_p[log p − log q] in closed form for the pairs torch registers (same family),
/// as a node with shape `p.batchShape` broadcast with `q.batchShape`. Used by the mean-field
/// ELBO for Gaussian and other conjugate-friendly sites.
///
/// Throws `.unsupported` for pairs without a closed form here.
public func klDivergence(_ p: any Distribution, _ q: any Distribution) throws(DistributionError) -> Node {
    let g = p.graph
    switch (p, q) {
    case let (p as Independent, q as Independent) where p.reinterpretedDims == q.reinterpretedDims:
        return p.reduce(try klDivergence(p.base, q.base))
    case let (p as Normal, q as Normal):
        return normalKL(g, p.loc, p.scale, q.loc, q.scale)
    case let (p as LogNormal, q as LogNormal):
        return normalKL(g, p.base.loc, p.base.scale, q.base.loc, q.base.scale)
    case let (p as HalfNormal, q as HalfNormal):
        let zero = g.constant(0)
        return normalKL(g, zero, p.scale, zero, q.scale)
    case let (p as MultivariateNormal, q as MultivariateNormal):
        return try mvnKL(p, q)
    case let (p as Bernoulli, q as Bernoulli):
        return p.probs * (g.softplus(-q.logits) - g.softplus(-p.logits))
            + (1 - p.probs) * (g.softplus(q.logits) - g.softplus(p.logits))
    case let (p as Categorical, q as Categorical):
        return g.sum(p.probs * (p.logits - q.logits), axes: [-1])
    case let (p as OneHotCategorical, q as OneHotCategorical):
        return g.sum(p.categorical.probs * (p.categorical.logits - q.categorical.logits), axes: [-1])
    case let (p as Exponential, q as Exponential):
        let r = q.rate / p.rate
        return r - g.log(r) - 1
    case let (p as Gamma, q as Gamma):
        let ap = p.concentration, bp = p.rate, aq = q.concentration, bq = q.rate
        return (ap - aq) * g.digamma(ap) - g.lgamma(ap) + g.lgamma(aq) + aq * (g.log(bp) - g.log(bq)) + ap * (bq - bp) / bp
    case let (p as Beta, q as Beta):
        return dirichletKL(g, [p.concentration1, p.concentration0], [q.concentration1, q.concentration0])
    case let (p as Dirichlet, q as Dirichlet):
        let ap = p.concentration, aq = q.concentration
        let sp = g.sum(ap, axes: [-1]), sq = g.sum(aq, axes: [-1])
        let t = g.sum((ap - aq) * (g.digamma(ap) - g.digamma(g.sum(ap, axes: [-1], keepDims: true))), axes: [-1])
        return g.lgamma(sp) - g.lgamma(sq) - g.sum(g.lgamma(ap), axes: [-1]) + g.sum(g.lgamma(aq), axes: [-1]) + t
    case let (p as Laplace, q as Laplace):
        let ratio = p.scale / q.scale, d = g.abs(p.loc - q.loc)
        return -g.log(ratio) + d / q.scale + ratio * g.exp(-d / p.scale) - 1
    case let (p as Poisson, q as Poisson):
        return p.rate * (g.log(p.rate) - g.log(q.rate)) - (p.rate - q.rate)
    case let (p as Uniform, q as Uniform):
        // +∞ unless [p.low, p.high] ⊆ [q.low, q.high].
        let inside = (1 - g.less(p.low, q.low)) * (1 - g.less(q.high, p.high))
        return g.log(q.high - q.low) - g.log(p.high - p.low) - g.log(inside)
    default:
        throw .unsupported("no closed-form KL(\(p.name) ‖ \(q.name))")
    }
}

func normalKL(_ g: Graph, _ mp: Node, _ sp: Node, _ mq: Node, _ sq: Node) -> Node {
    let ratio = (sp / sq).square()
    let t = ((mp - mq) / sq).square()
    return 0.5 * (ratio + t - 1 - g.log(ratio))
}

/// Dirichlet KL for a two-component parameterisation (Beta).
func dirichletKL(_ g: Graph, _ p: [Node], _ q: [Node]) -> Node {
    let sp = p[0] + p[1], sq = q[0] + q[1]
    var t = g.lgamma(sp) - g.lgamma(sq)
    for (a, b) in zip(p, q) { t = t - g.lgamma(a) + g.lgamma(b) + (a - b) * (g.digamma(a) - g.digamma(sp)) }
    return t
}

/// ½[tr(Σq⁻¹Σp) + (μq−μp)ᵀΣq⁻¹(μq−μp) − d + log|Σq| − log|Σp|], with both quadratic forms
/// evaluated by the fused MVN log-density against q's factor (so gradients reach every input):
/// tr(Σq⁻¹Σp) = Σ_j ‖Lq⁻¹ Lp e_j‖² over the columns of Lp.
func mvnKL(_ p: MultivariateNormal, _ q: MultivariateNormal) throws(DistributionError) -> Node {
    let g = p.graph
    guard p.dimension == q.dimension else {
        throw .shapeMismatch("KL between MultivariateNormals of sizes \(p.dimension) and \(q.dimension)")
    }
    let d = Double(p.dimension)
    let logDetQ = g.sum(g.log(g.diag(q.scaleTril, embed: false)))
    let logDetP = g.sum(g.log(g.diag(p.scaleTril, embed: false)))
    let c = logDetQ + d * halfLog2Pi
    // mvnLogProb = −½‖Lq⁻¹(x − μq)‖² − log|Lq| − (d/2) log 2π.
    let zero = g.constant(Tensor.zeros([p.dimension]))
    let trace = -2 * (g.sum(g.mvnLogProb(g.transpose(p.scaleTril), loc: zero, scaleTril: q.scaleTril)) + d * c)
    let mahalanobis = -2 * (g.mvnLogProb(p.loc, loc: q.loc, scaleTril: q.scaleTril) + c)
    return 0.5 * (trace + mahalanobis - d) + logDetQ - logDetP
}
