import Autodiff
import Distributions
import Inference
import Numerics

/// The 3-component 1-d mixture of the benchmark README: component means
/// mu ~ Normal(0, 10) (event of K), per-point assignments z_n ~ OneHotCategorical(1/K),
/// x_n ~ Normal(Σ_k z_nk mu_k, 1). Guide: Normal(m, s) for the means and per-point one-hot
/// assignments with learnable logits, drawn by `assignment` (Pyro's bench: relaxed
/// straight-through at τ = 0.5).
public enum GaussianMixture {
    /// N points from centres (−4, 0, 4) with unit noise.
    public static func data(points n: Int, seed: UInt64 = 0) -> Tensor {
        var rng = RandomStream(seed: seed, stream: 98)
        let centres = [-4.0, 0, 4]
        return Tensor((0..<n).map { _ in centres[Int(rng.nextUInt64() % 3)] + rng.normal() })
    }

    public static func program(points n: Int, components k: Int = 3, particles: Int = 1,
                               assignment: Estimator = .straightThrough(temperature: 0.5)) throws -> CompiledProgram {
        try mixture(points: n, components: k, particles: particles, elbo: .trace) { b, plate, logits in
            try b.sample("z", try OneHotCategorical(.logits(logits)), plates: [plate], estimator: assignment)
        } prior: { b, plate in
            try b.latent("z", try OneHotCategorical(.probs(b.graph.constant(Tensor(repeating: 1 / Double(k), shape: [k])))), plates: [plate])
        } mean: { g, z, mu in g.sum(z * mu, axes: [-1]) }
    }

    /// The same mixture with integer assignments scored by the score-function estimator
    /// (the `gmm_N500_K3_score` row): guide z_n ~ Categorical(logits_n) with a decaying-average
    /// baseline (β = 0.9), model z_n ~ Categorical(1/K), x_n ~ Normal(mu[z_n], 1), under
    /// TraceGraph_ELBO (each z_n's cost is what lies downstream of it: its own terms).
    public static func scoreProgram(points n: Int, components k: Int = 3, particles: Int = 1) throws -> CompiledProgram {
        try mixture(points: n, components: k, particles: particles, elbo: .tracegraph) { b, plate, logits in
            try b.sample("z", try Categorical(.logits(logits)), plates: [plate], estimator: .score(baseline: .decayingAverage(beta: 0.9)))
        } prior: { b, plate in
            try b.latent("z", try Categorical(.probs(b.graph.constant(Tensor(repeating: 1 / Double(k), shape: [k])))), plates: [plate])
        } mean: { g, z, mu in
            // mu[z]: each point's component mean, as the spec's gather of a drawn value compiles.
            g.pick(mu, index: z)
        }
    }

    /// The mixture around its assignment site: the guide's Normal(m, s) means, the `[n, k]`
    /// logits and its draw of the assignments from them (`draw`); the model's Normal(0, 10)
    /// prior on the means, its prior on the assignments over the plate (`prior`, returning
    /// the value), each point's component mean (`mean`, from z and mu shaped `[P, 1, k]`) and
    /// the unit-noise likelihood of the data.
    static func mixture(points n: Int, components k: Int, particles: Int, elbo: ELBOKind,
                        draw: (ProgramBuilder, Plate, Node) throws -> Void, prior: (ProgramBuilder, Plate) throws -> Node,
                        mean: (Graph, Node, Node) -> Node) throws -> CompiledProgram {
        let x = data(points: n)
        let b = ProgramBuilder(particles: particles, elbo: elbo)
        let g = b.graph
        let plate = try b.plate("data", size: n)
        let m = try b.param("m", Tensor((0..<k).map { Double($0) - Double(k - 1) / 2 }))
        let s = try b.param("s", Tensor.ones([k]), constraint: .positive)
        try b.sample("mu", try Independent(Normal(loc: m, scale: s), reinterpretedDims: 1))
        let logits = try b.param("logits", Tensor.zeros([n, k]))
        try draw(b, plate, logits)
        let mu = try b.latent("mu", try Independent(Normal(loc: g.constant(Tensor.zeros([k])), scale: g.constant(10)), reinterpretedDims: 1))
        let z = try prior(b, plate)
        try b.observe("x", try Normal(loc: mean(g, z, g.reshape(mu, [particles, 1, k])), scale: g.constant(1)), value: g.constant(x), plates: [plate])
        return try b.compile()
    }
}
