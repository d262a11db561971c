#ifndef SMALLPRODUCTS_H
#define SMALLPRODUCTS_H
// Dense products and the triangular inverse of the small square matrices of the OMT backward
// rule (d from 17 to a few dozen), and that rule's whole d×d part in one routine, written for
// AVX-512: at d = 50 OpenBLAS's Haswell `dgemm` takes about twice as long as `smp_gemm` (it packs
// both operands and takes a lock per call; C harness, thread CPU time: 8.7 against 4.7 µs). Only
// the AVX-512 variant exists: callers use BLAS where `smp_available` is 0.

/// 1 when this CPU runs `smp_gemm` (AVX-512 F, DQ, VL, as `svm_cpu_level() == 2`), else 0.
int smp_available(void);

/// C = β C + α op(A) B for row-major matrices: op(A) is the m×k matrix A (lda ≥ k) or, when
/// `transpose_a` is nonzero, Aᵀ of the k×m matrix A (lda ≥ m); B is k×n (ldb ≥ n), C m×n
/// (ldc ≥ n). C is not read when β = 0. Every entry is one chain of fused multiply-adds over
/// p = 0..k−1 in order, then scaled by α (and β C added): the error of each is within
/// k·ε·Σ_p |op(A)_ip B_pj| (plus the two roundings of the scaling). Only when `smp_available()`.
void smp_gemm(int transpose_a, long m, long n, long k, double alpha, const double *a, long lda, const double *b,
              long ldb, double beta, double *c, long ldc);

/// out = x Lᵀ for the `rows`×d row-major x and the d×d row-major L (all of it read), into the
/// `rows`×d row-major out: out_sj = Σ_p x_sp L_jp, each a chain of separately rounded products and
/// sums over p = 0, 1, …, d−1 from +0, so that it is bit for bit the thin-product loop
/// `SmallMatrix.gemm` runs on a materialised Lᵀ (what `MultivariateNormal.rsample` computes) without
/// forming Lᵀ. Portable: every CPU, not only where `smp_available()`.
void smp_rows_times_transpose(long rows, long d, const double *x, const double *l, double *out);

/// X = L⁻¹ for the lower-triangular n×n row-major L (only its lower triangle read, a nonzero
/// diagonal), into the n×n row-major X (ldx ≥ n; zeros above the diagonal): each column by
/// forward substitution, the sums in ascending order, so (L + ΔL_j) x_j = e_j with
/// |ΔL_j| ≤ γ_n |L| (Higham, §8.1) as for BLAS's `dtrsm`. Only when `smp_available()`.
void smp_lower_inverse(long n, const double *l, long ldl, double *x, long ldx);

/// Largest n `smp_omt_gradient` takes (the project's eigensolver's overlapped-QR range ends here).
#define SMP_OMT_MAX 64

/// Doubles of workspace `smp_omt_gradient` needs: 6n² + n + 3·rows·n + `sme_workspace(n)`;
/// 0 when n or rows is out of its range.
long smp_omt_workspace(long n, long rows);

/// The n×n part of the OMT backward rule (estimators.md §2.2; `Tape.mvnSampleOMTBackward`) for
/// 1 ≤ n ≤ `SMP_OMT_MAX` in one call, the triangular structure exploited: L lower triangular n×n
/// (row-major, only the lower triangle read, a positive diagonal), ε, z₀ = ε Lᵀ and the output
/// adjoint g, each `rows`×n row-major. With P = L⁻¹ (`smp_lower_inverse`) and R = L⁻ᵀ = Pᵀ:
/// Σ⁻¹ = Pᵀ P, its lower triangle only (the eigensolver reads no more), V diag(λ) Vᵀ by
/// `sme_symmetric_eigen`; Ĉ = (z₀V)ᵀ(gV); M_ij = (λ_i − λ_j)/(λ_i + λ_j)·(Ĉ + Ĉᵀ)_ij; Wᵀ = Vᵀ R
/// (R triangular: half a product); then gl += tril(½ [V M Wᵀ + gᵀ ε + z₀ᵀ (g R)]), only the lower
/// triangle of that product formed and written (gl n×n row-major). Every product is a chain of
/// fused multiply-adds per entry, as `smp_gemm`'s; 1/(λ_i + λ_j) is a refined reciprocal
/// estimate (relative error ≈ 2⁻⁵³, not the correctly rounded quotient). Returns 0, or the
/// eigensolver's 1 (non-finite Σ⁻¹) or 2 (no convergence), gl then untouched; n = 0 does nothing
/// and returns 0; n > `SMP_OMT_MAX`, n < 0 or rows < 0 returns −1 (a caller's bug). `work` holds
/// `smp_omt_workspace(n, rows)` doubles, every one written before it is read; nothing is
/// allocated. Only when `smp_available()`.
int smp_omt_gradient(long n, long rows, const double *l, const double *eps, const double *z0, const double *g,
                     double *gl, double *work);

#endif
