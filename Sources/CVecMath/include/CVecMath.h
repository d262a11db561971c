#ifndef CVECMATH_H
#define CVECMATH_H
// Element-wise transcendental maps over contiguous double buffers. Each kernel is compiled
// twice — baseline x86-64 and AVX2+FMA, where clang vectorises the loop onto glibc's libmvec —
// and the variant is chosen once at run time from the CPU's features. Output may alias input.
// Input and output must be the same buffer or not overlap at all.
// Accuracy: libmvec's documented bound (at most 4 ulp), far inside the engine's 1e-10 checks.

/// y[i] = exp(x[i])
void svm_exp(const double *x, double *y, long n);
/// y[i] = log(x[i])
void svm_log(const double *x, double *y, long n);
/// y[i] = log1p(x[i]), accurate for tiny x (Goldberg's correction of log(1 + x)).
void svm_log1p(const double *x, double *y, long n);
/// y[i] = expm1(x[i]) (scalar libm: no vector mapping exists).
void svm_expm1(const double *x, double *y, long n);
/// y[i] = 1 / (1 + exp(-x[i]))
void svm_sigmoid(const double *x, double *y, long n);
/// y[i] = log(1 + exp(x[i])), stable for every x.
void svm_softplus(const double *x, double *y, long n);
/// y[i] = tanh(x[i])
void svm_tanh(const double *x, double *y, long n);
/// y[i] = sin(x[i])
void svm_sin(const double *x, double *y, long n);
/// y[i] = cos(x[i])
void svm_cos(const double *x, double *y, long n);
/// 1 when the AVX2+FMA kernels are in use.
int svm_uses_avx2(void);
/// The kernel variants in use: 0 baseline, 1 AVX2+FMA, 2 AVX-512 (F, DQ, VL) for the fused
/// logistic kernels (`svm_bernoulli_logits`, `svm_linear_bernoulli`), AVX2 for the rest.
int svm_cpu_level(void);

#endif

#ifndef CVECMATH_FUSED_H
#define CVECMATH_FUSED_H
#include <stdint.h>
// Fused kernels for the hot likelihoods and noise (restrict pointers: no overlap allowed).

/// z[i] = N(0, 1) draws from 2·⌈n/2⌉ uniforms on (0, 1] by Box–Muller: pair k uses u[2k], u[2k+1]
/// and gives z[2k] = r cos θ, z[2k+1] = r sin θ with r = √(−2 log u[2k]), θ = 2π u[2k+1].
void svm_box_muller(const double *u, double *z, long n);
/// y[i] = −log(−log u[i]): standard Gumbel draws from uniforms in [2^−54, 1) (what Philox's
/// open-unit map gives), through CVecMath's own branch-free log (≤ 1 ulp each): at one CPU
/// level, the same bits wherever an element falls in a vector.
void svm_gumbel(const double *u, double *y, long n);
/// Bernoulli log-mass with logits, torch's ordering: out[i] = (x·ℓ − max(ℓ, 0)) − log1p(e^{−|ℓ|}),
/// and sig[i] = σ(ℓ) for the backward rule; `x` has stride sx (0 or 1).
void svm_bernoulli_logits(const double *x, long sx, const double *l, double *out, double *sig, long n);
/// `svm_bernoulli_logits` through the variant of `level` (as `svm_cpu_level`), or the best
/// this CPU has below it: for tests that measure every variant.
void svm_bernoulli_logits_at(int level, const double *x, long sx, const double *l, double *out, double *sig, long n);
/// One Adam step (torch's formula) over n parameters, in place: m ← b1·m + a1·g,
/// v ← b2·v + (a2·g)·g, x ← x − step·(m / (√v / bc2s + eps)), each operation rounded on its own
/// in that order (no fused multiply-add), so every variant equals the scalar loop bit for bit.
/// x, m, v and g must not overlap.
void svm_adam(double *x, double *m, double *v, const double *g, long n, double b1, double a1, double b2, double a2,
              double step, double bc2s, double eps);
/// `svm_adam` through the variant of `level` (as `svm_cpu_level`), or the best this CPU has below it.
void svm_adam_at(int level, double *x, double *m, double *v, const double *g, long n, double b1, double a1, double b2,
                 double a2, double step, double bc2s, double eps);
/// out[i] = the uniform on (0, 1) of word `first + i` of Philox stream `stream` under key `seed`:
/// bit for bit what Numerics' `RandomStream(seed:stream:counter: first).fillUniform` writes.
void svm_philox_uniform(uint64_t seed, uint64_t stream, uint64_t first, double *out, long n);
/// A relaxed one-hot categorical draw of `rows` rows of `k` logits `l` at temperature `tau`, in
/// blocks of 64 rows: uniforms (words `first + i` of Philox `stream` under `seed`) clamped into
/// [reals[1], reals[2]], G = −log(−log u), S = softmax((ℓ + G)/τ) (`unclamped`), the soft draw
/// C = S clamped into [reals[3], reals[4]] (`soft`), the one-hot of its first largest entry
/// (`hard`, skipped when NULL), and the relaxed law's log-density of C with X = log C,
/// T = ℓ − τX: lp = ((Σ T − κ·logsumexp T) + offset) − Σ X, κ = reals[0], with softmax(T) kept
/// in `weights`. Where C = S, X and e^T come from identities instead of a log and an exp per entry
/// (log S = (A − max A) − log Σe^{A − max A} with A the scores; T − τ(max A + log Σ…) = −G, so
/// e^{T − that} = −log u), and the direct form only where the clamp bites: the same values to
/// rounding (≈ 6|X| + 3τ|A| ulp an entry between the two forms), one log per row and two per
/// entry less. Against the exact log-density both forms carry the scores' conditioning, ≈ |A|
/// ulp (≈ 2,000 ulp at τ = 10⁻³ against a Float80 reference, seventh sitting's red team).
/// The logs and exps are libmvec's in the baseline and AVX2 variants, CVecMath's own
/// (`svm_own_log`, `svm_own_exp`: ≤ 1 ulp) in the AVX-512 variant, so the values differ between
/// CPU levels at rounding. `scratch`: 64·(4k + 7) doubles.
void svm_relaxed_onehot(const double *l, long rows, long k, double tau, const double *reals, double offset,
                        uint64_t seed, uint64_t stream, uint64_t first, double *soft, double *hard, double *lp,
                        double *unclamped, double *weights, double *scratch);
/// `svm_relaxed_onehot` through the variant of `level` (as `svm_cpu_level`), or the best this CPU
/// has below it: for tests that check every variant.
void svm_relaxed_onehot_at(int level, const double *l, long rows, long k, double tau, const double *reals, double offset,
                           uint64_t seed, uint64_t stream, uint64_t first, double *soft, double *hard, double *lp,
                           double *unclamped, double *weights, double *scratch);
/// y[i] = log x[i] by CVecMath's own branch-free log (fdlibm's kernel on the mantissa, ≤ 1 ulp;
/// any double: 0 → −∞, negative or NaN → NaN, ∞ → ∞), as the relaxed kernel inlines it.
void svm_own_log(const double *x, double *y, long n);
/// y[i] = e^{x[i]} by CVecMath's own branch-free exp (Cody–Waite reduction, a degree-11
/// polynomial; ≤ 1 ulp; any double: 0 below −746, ∞ above 710, NaN → NaN), as the relaxed kernel
/// inlines it.
void svm_own_exp(const double *x, double *y, long n);
/// The backward pass of `svm_relaxed_onehot`: accumulates into `g_logits` the logits' adjoint
/// given the adjoints of the soft draw (`g_soft`), of the straight-through value (`g_hard`,
/// passed to the soft draw unchanged; NULL when none) and of the log-density (`g_lp`, NULL when
/// none), through log C, the clamp's mask, the softmax and the division by τ. `scratch`:
/// 64·(k + 1) doubles.
void svm_relaxed_onehot_backward(long rows, long k, double tau, const double *reals, const double *soft,
                                 const double *unclamped, const double *weights, const double *g_soft,
                                 const double *g_hard, const double *g_lp, double *g_logits, double *scratch);
/// `svm_relaxed_onehot_backward` through the variant of `level`, or the best this CPU has below
/// it. No transcendental: the AVX2 and AVX-512 variants give the same bits (the baseline, without
/// FMA contraction, may differ at rounding).
void svm_relaxed_onehot_backward_at(int level, long rows, long k, double tau, const double *reals, const double *soft,
                                    const double *unclamped, const double *weights, const double *g_soft,
                                    const double *g_hard, const double *g_lp, double *g_logits, double *scratch);
/// A categorical draw by Gumbel-max from `rows` rows of `k` logits `l`, in blocks of 64 rows:
/// G = −log(−log u) from the uniforms of words `first + i` of Philox `stream` under `seed`,
/// log q = ℓ − max ℓ − log Σ e^{ℓ − max ℓ}, the draw z = the first largest log q + G (a class
/// index, as a double), its log-density lq = log q_z, and the probabilities (`probs`,
/// rows·k) kept for the backward pass. The noise is the per-node graph's (gumbelNoise) bit for
/// bit; log q is its logSoftmax's within a few ulp (CVecMath's own exp and log, not libmvec's),
/// so the draw is the same but where two scores tie within that.
/// `scratch`: 64·(4k + 2) doubles.
void svm_categorical_draw(const double *l, long rows, long k, uint64_t seed, uint64_t stream, uint64_t first,
                          double *z, double *lq, double *probs, double *scratch);
/// The backward pass of `svm_categorical_draw`: g_logits[r, j] += g_lq[r]·([j = z_r] − probs[r, j]).
void svm_categorical_draw_backward(long rows, long k, const double *z, const double *probs, const double *g_lq,
                                   double *g_logits);
/// out[r] = table[entries[z_r]] over `rows` draws z (exact class indices as doubles): a pick at
/// a categorical draw from a table broadcast over the rows.
void svm_gather_at_draw(const double *z, long rows, const double *table, const long *entries, double *out);
/// Its adjoint: g_table[entries[z_r]] += g_out[r], rows in order.
void svm_scatter_at_draw(const double *z, long rows, const double *g_out, const long *entries, double *g_table);
/// Σ x[i], accumulated in eight lanes (a fixed order: deterministic, not sequential).
double svm_sum(const double *x, long n);
#endif

#ifndef CVECMATH_LINEAR_H
#define CVECMATH_LINEAR_H
/// Σ_{p,n} log Bernoulli(y | logits = x_n·w_p) over a design matrix given block-transposed
/// (rows 32b ..< 32b + nb stored as one [D, nb] row-major slab at offset 32b·D) and weights
/// W [P, D], with the gradient grad[p, :] = Σ_n (y − σ(x_n·w_p)) x_n. The AVX-512 variant
/// reads each 32-row block once per step for all particles (X·Wᵀ register-tiled over rows ×
/// up to four particles, the likelihood and residuals formed on the tile in registers, then
/// Rᵀ·X from the same block); the AVX2 and baseline variants stream X once per particle.
/// `y` has stride `ys` over [P, N] (0: one label for all). `tmp` holds
/// `svm_linear_bernoulli_scratch(d, p)` doubles. Returns the sum.
double svm_linear_bernoulli(const double *xt, long n, long d, const double *w, long p,
                            const double *y, long ys, double *grad, double *tmp);
/// `svm_linear_bernoulli` through the variant of `level`, or the best this CPU has below it.
/// The variants sum in different orders: results agree to rounding, not bit for bit.
double svm_linear_bernoulli_at(int level, const double *xt, long n, long d, const double *w, long p,
                               const double *y, long ys, double *grad, double *tmp);
/// Doubles of `tmp` that `svm_linear_bernoulli` needs for D features and P particles, every
/// variant: max(128 + 4·D, 8·P·D).
long svm_linear_bernoulli_scratch(long d, long p);
#endif

#include "SmallEigen.h"
#include "SmallProducts.h"
