import Autodiff
import Distributions
import Inference
import Numerics

/// The conjugate Normal–Normal model of the benchmark README and job-spec.md, as a Pyro user
/// writes it: a 2-d latent z (plate "p") with prior Normal([0, 0.5], 0.1^(−1/2)), 4
/// observations per dimension (plate "d") with noise precisions (6, 4), and a mean-field
/// Normal guide (loc, scale with a positive constraint).
public enum NormalNormal {
    /// The observations, one row per data point.
    public static let data: [[Double]] = [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]]
    public static let priorLoc = [0.0, 0.5]
    public static let priorPrecision = 0.1
    public static let noisePrecision = [6.0, 4.0]

    /// The program with the guide started at `loc`, `scale`.
    public static func program(particles: Int = 1, elbo: ELBOKind = .tracegraph, estimator: Estimator = .reparam,
                               loc: [Double] = [0, 0], scale: [Double] = [1, 1]) throws -> CompiledProgram {
        let b = ProgramBuilder(particles: particles, elbo: elbo)
        let g = b.graph
        let d = try b.plate("d", size: data.count)
        let p = try b.plate("p", size: 2)
        let m = try b.param("loc", Tensor(loc))
        let s = try b.param("scale", Tensor(scale), constraint: .positive)
        try b.sample("z", try Normal(loc: m, scale: s), plates: [p], estimator: estimator)
        let prior = try Normal(loc: g.constant(Tensor(priorLoc)), scale: g.constant(1 / priorPrecision.squareRoot()))
        let z = try b.latent("z", prior, plates: [p])
        let noise = g.constant(Tensor(noisePrecision.map { 1 / $0.squareRoot() }))
        try b.observe("obs", try Normal(loc: g.reshape(z, [particles, 1, 2]), scale: noise),
                      value: g.constant(Tensor(rows: data)), plates: [d, p])
        return try b.compile()
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
