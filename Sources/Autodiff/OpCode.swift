/// The instruction set of a compiled ``Tape``: one case per kernel. The tape replays a flat
/// array of instructions forward, then the differentiable ones in reverse, through one
/// `switch` over this enum (no closures or existentials on the hot path).
///
/// Operand conventions are documented per case; `a`, `b`, `c` are the inputs' value offsets,
/// `out` the output's. "Stride" operands (`p0`, `p1`, `p2` on element-wise ops) are 0 for an
/// input broadcast from a single element and 1 for an input of the output's size.
public enum OpCode: UInt8, Sendable {
    // Leaves: no instruction is emitted for these.
    /// A learnable tensor: values set from outside, gradient read after `backward`.
    case parameter
    /// A tensor filled from outside before each replay (data, noise); never differentiated.
    case input
    /// A fixed tensor written once when the tape is compiled.
    case constant

    // Element-wise unary maps (`a` → `out`, `n` elements).
    case neg, exp, log, log1p, expm1, sqrt, abs, sigmoid, softplus, logSigmoid, tanh
    case square, reciprocal, sin, cos, logit, lgamma, digamma
    /// `out = s0 * a`.
    case scale
    /// `out = a + s0`.
    case shift
    /// `out = a ^ s0`.
    case powScalar
    /// `out = min(max(a, s0), s1)`; the gradient passes where `a` is inside the bounds.
    case clamp

    // Element-wise binary maps with stride-0/1 broadcasting (`p0` = stride of a, `p1` of b).
    case add, sub, mul, div, pow, maximum, minimum
    /// `out = a · log b`, and 0 where `a == 0` (torch.xlogy: keeps `0 · log 0` finite at support edges);
    /// its gradient in `a` is `log b` wherever `b ≠ 0`, `a = 0` included.
    case xlogy
    /// `out = a + b·c` element-wise, the product rounded before the sum (no fused multiply-add:
    /// the value of `add(a, mul(b, c))` bit for bit); `a` is read in full, `p0`, `p1` are the
    /// strides of b and c. Written by the fusion pass (`Fusion.multiplyAdd`).
    case multiplyAdd
    /// `out = 1` where `a < b`, else 0; no gradient.
    case less

    // Shape and selection.
    /// `out[i] = a[table[i]]`, or 0 where `table[i] < 0`. Broadcasts, transposes, diagonals,
    /// lower triangles, reshapes and slices are all this op with a table fixed at compile time.
    /// `p0` = offset of the table in the integer pool.
    case select
    /// `out[i] = Σ a[j] over j with table[j] == i` (sums, means and broadcast reductions).
    /// `p0` = table offset, `p1` = input count.
    case reduce
    /// Sum of all elements of `a` (`p1` = input count) into a scalar.
    case sumAll
    /// Sums over the last axis: `out[r] = Σ_j a[r·k + j]`, `p0` = k.
    case sumLast
    /// `s0 · Σ a` (`p1` = input count): a sum and its scaling in one op (fusion pass).
    case scaledSum
    /// `s0 + Σ_k coef_k · x_k` over scalars (fusion pass): the operands' value and adjoint
    /// offsets are pairs in the integer pool at `p0`, `p1` of them; `b` holds the coefficients.
    case linearCombination
    /// A `[rows, k]` matrix re-laid as row blocks of `p2` rows, each stored as its own `[k, nb]`
    /// row-major slab (`p0` = rows, `p1` = k): the layout the fused linear likelihoods stream.
    /// Applied to constants only (folded at compile time); no gradient.
    case blockRows
    /// `out[i·r + j] = a[idx[i]·r + j]` where `idx` (input `b`) holds integers as doubles:
    /// `mu[z]`. `p0` = index count, `p1` = r, `p2` = extent of the gathered axis.
    case gather
    /// `out[i] = a[i·k + idx[i]]` with `idx` (input `b`) integer-valued: the entry of each row
    /// picked by a class index (`log_pmf.gather(-1, value)`). `p0` = k.
    case pick
    /// `out[r] = Σ_j a[r·k + j] · b[table[r·k + j]]`: a product with a broadcast (a `select`) summed
    /// over the last axis in one pass (fusion pass `rowDot`; a mixture's `Σ_k z_k μ_k`).
    /// `p0` = table offset, `p1` = k.
    case rowDot
    /// The value of `a` under another shape: no instruction, the node shares `a`'s value and
    /// adjoint storage (reshape is free).
    case view
    /// The value of `a` with no gradient: shares `a`'s value storage, no instruction.
    case stopGradient
    /// Forward value of `a`; the gradient reaching the output goes to `b` unchanged
    /// (straight-through: `a` hard, `b` soft, same shape).
    case substitute

    /// Index of the largest element along the last axis (`p0` = k), as a double; no gradient.
    case argmax
    /// One-hot rows of `p0` classes from integer-valued `a`; no gradient.
    case oneHot
    /// Stick-breaking map of the last axis `[.., k−1]` → `[.., k]` on the simplex (torch's
    /// `StickBreakingTransform`); `p0` = k − 1.
    case stickBreaking
    /// torch's `LowerCholeskyTransform` on square matrices `[.., d, d]`: the strict lower
    /// triangle kept, the diagonal exponentiated, zeros above; `p0` = d.
    case lowerCholeskyFactor

    // Normalisations along one axis, viewed as `[outer, k, inner]`: `p0` = outer, `p1` = k, `p2` = inner.
    case softmax, logSoftmax
    /// Output shape drops the axis.
    case logsumexp

    // Linear algebra (BLAS/LAPACK).
    /// Batched matrix product; `p0` = batch, `p1` = m, `p2` = k, `p3` = n,
    /// `p4` = batch stride of a (0 = shared), `p5` = batch stride of b (0 = shared).
    case matmul
    /// Lower Cholesky factor of each `[d, d]` matrix of a batch (`p0` = batch, `p1` = d);
    /// reads the lower triangle only.
    case cholesky

    // Fused log-densities with analytic partials (one node per plate of terms).
    /// Normal log-density of `a` (value) given `b` (loc), `c` (scale); strides `p0..p2`.
    case normalLogProb
    /// The Normal log-density of a guide's own reparameterised draw, x = loc + scale·ε, as a
    /// function of the noise and the scale alone: −ε²/2 − log scale − log √(2π), `a` = ε,
    /// `b` = scale (`p0` its stride, 0 or 1). Written by the fusion pass (`Fusion.normalDrawLogProb`).
    case normalDrawLogProb
    /// `s0 · Σᵢ log Normal(aᵢ | b, c)` over `n` elements (the instruction's count is the
    /// terms', its output one value): value `a` (stride `p0`), loc `b` (stride `p1`, or read
    /// through the pool table at `p4` when `p4 ≥ 0`: element i reads b[table[i]]), scale `c`
    /// (stride `p2`), log scale at value offset `p3` and, for a constant scale, 1/scale at
    /// `p5` (−1: none), both read with the scale's stride and computed once when it is
    /// constant. Written by the fusion pass (`Fusion.normalLogProbSum`).
    case normalLogProbSum
    /// `s0 · Σᵢ (−εᵢ²/2 − log scale − log √(2π))` over `n` elements: the sum of a
    /// `normalDrawLogProb`, `a` = ε, `b` = scale (stride `p0`), log scale at value offset `p3`. Written by the fusion pass
    /// (`Fusion.normalLogProbSum`).
    case normalDrawLogProbSum
    /// Bernoulli log-mass of `a` ∈ {0, 1} given logits `b`; strides `p0`, `p1`.
    case bernoulliLogitsLogProb
    /// Σ_{p,n} log Bernoulli(y_pn | logits = x_n·w_p): `a` = X in 64-row block-transposed slabs
    /// (constant), `b` = W
    /// `[P, D]`, `c` = y (stride `p3`: 0 or 1 over `[P, N]`); `p0` = P, `p1` = N, `p2` = D.
    /// Reads X once per step in row blocks; keeps ∂/∂W of the sum beside its value.
    case bernoulliLinearSum
    /// Multivariate normal log-density, rows of `a` `[S, d]`, loc `b` (`[S, d]` or `[d]`,
    /// `p2` = loc row stride: 0 or d), scale_tril `c` `[d, d]`; `p0` = S, `p1` = d.
    case mvnTrilLogProb
    /// The MVN log-density of a guide's own reparameterised draw, x = loc + ε Lᵀ, as a function
    /// of the noise and L alone: −‖ε_s‖²/2 − Σ log L_ii − d log √(2π) per row, `a` = ε `[S, d]`,
    /// `b` = L (lower triangular, positive diagonal); `p0` = S, `p1` = d. Written by the fusion
    /// pass (`Fusion.mvnDrawLogProb`).
    case mvnDrawLogProb

    // Pathwise MVN draws with lower-variance backward rules (estimators.md §2.2, §2.3).
    // Forward: `out = a + c Lᵀ` with loc `a` `[d]`, scale_tril `b` `[d, d]` (lower), standard
    // normal rows `c` `[S, d]`; `p0` = S, `p1` = d. No gradient flows to `c`.
    /// Optimal-mass-transport gradient (Pyro's `OMTMultivariateNormal`); `aux` keeps
    /// z₀ = c Lᵀ (S·d doubles) for the backward rule.
    case mvnSampleOMT
    /// Adaptive-velocity-field gradient (Pyro's `AVFMultivariateNormal`) with control variate
    /// B, C `[K, d]`; `p2` = K, `p3` = offset in the integer pool of the four operands
    /// (value of B, value of C, adjoint of B, adjoint of C; −1 for an adjoint not needed).
    case mvnSampleAVF

    // Random draws (no gradient): `p0` = stream id; the counter comes from the tape's step.
    /// Standard normal noise: Box–Muller over the stream's uniforms, through the vector kernels
    /// (so not bit-identical to `RandomStream.normal()`, and reproducible on one CPU feature level).
    case normalNoise
    /// Uniform noise on (0, 1).
    case uniformNoise
    /// Standard Gumbel noise.
    case gumbelNoise

    /// Gamma(a, 1) draws with the implicit reparameterisation gradient dz/da = −(∂F/∂a)/p(z)
    /// (`p0` = stream). Beta, Dirichlet and StudentT draw through it.
    case gammaSample
    /// Poisson(a) draws (`p0` = stream); no gradient.
    case poissonSample
    /// Binomial(a, b) draws, a = count, b = probability (`p0` = stream, strides `p1`, `p2`); no gradient.
    case binomialSample

    /// `n` distinct indices drawn uniformly from `0..<p1` (a plate's mini-batch), in draw
    /// order (`p0` = stream); no gradient. Scratch holds a partial Fisher–Yates shuffle.
    case subsample

    /// A user-supplied rule (``CustomOperation``): `p0` indexes the tape's custom table.
    case custom
    /// A relaxed one-hot categorical site in one pass per block of plate rows (fusion pass
    /// `relaxedOneHotPlate`): Gumbel noise from the stream's uniforms, the tempered softmax
    /// and its clamp (the node's own value: the soft draw), the straight-through one-hot, and
    /// the guide's log-density of the soft draw, with the matching single backward pass.
    /// `a` = logits `[rows, k]`, `b` = temperature (one element), `c` = the log-density's
    /// constant term (one element); `p0` = rows, `p1` = k, `p2` = noise stream, `p3` = offset in
    /// the integer pool of the outputs (value and adjoint offsets of the straight-through value
    /// and of the log-density, −1 where absent) and of the reals node (κ, the two clamps'
    /// bounds). `aux` keeps the unclamped softmax and the log-density's softmax weights (2·n).
    case relaxedOneHotPlate
    /// A categorical site's Gumbel-max draw and the guide's log-density of it in one pass per
    /// block of plate rows (fusion pass `categoricalDrawPlate`): the node's own value is the
    /// draw (class indices as doubles, `[rows]`). `a` = logits `[rows, k]`; `p0` = rows,
    /// `p1` = k, `p2` = noise stream, `p3` = offset in the integer pool of the log-density's
    /// value and adjoint offsets (−1 where it has no adjoint), then of `p4` gathers at the draw,
    /// each the value and adjoint offsets of its table (a further input) and of its output,
    /// then the k entries of the table a row reads: out_r = table[entry[z_r]]. `aux` keeps the
    /// probabilities (rows·k) for the backward pass, which carries the log-density's adjoint
    /// to the logits and each gather's to its table.
    case categoricalDrawPlate
    /// A further output of a fused instruction that writes several nodes: no instruction of its
    /// own; its value and adjoint are the fused instruction's (`a` is that node).
    case fusedOutput
}
