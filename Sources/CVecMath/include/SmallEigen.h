#ifndef SMALLEIGEN_H
#define SMALLEIGEN_H
// A cold symmetric eigensolver for the small matrices of the OMT backward rule (n up to a few
// dozen): Householder reduction to tridiagonal form, the orthogonal factor formed explicitly
// (for 17 ≤ n ≤ 64 on rows padded to eight doubles, held in registers: one pass over the trailing
// block per reflection, its rank-2 update fused with the next reflection's product, and Qᵀ formed
// row by row), then implicit QR steps with Wilkinson's shift whose Givens rotations are applied, a sweep at
// a time, to the rows of Vᵀ (column blocks in registers, vectorised; for 17 ≤ n ≤ 64 one sweep
// late, whole rows in registers, overlapped with the next sweep's rotation chain). For
// 48 ≤ n ≤ 56 the tridiagonal part is a divide and conquer of one split: the two halves by
// that QR, their two chains interleaved, then the rank-one update (deflation, the secular
// equation all roots at once in vector lanes, the Gu–Eisenstat eigenvectors, one product; QR over the whole
// should a root not converge). No allocation, no per-rotation calls, no locks;
// compiled baseline, AVX2+FMA and AVX-512, chosen once at load time (see CVecMath.c).
// Backward stable: residual ‖AV − VΛ‖ and loss of orthogonality ‖VᵀV − I‖ are O(n ε ‖A‖) and
// O(n ε) (NumericsTests' SmallEigenTests bound both against Float80 on random, repeated and
// ill-conditioned spectra).

/// Largest n for the fixed-width path: matrices stored as rows of 16 doubles (two 8-lane
/// vectors, the lanes beyond n zero), every row operation over all 16 lanes, no remainder loops.
/// `sme_symmetric_eigen` takes it for n ≤ 16, and `sme_omt_gradient` runs on it.
#define SME_FIXED_WIDTH 16

/// Doubles of workspace `sme_symmetric_eigen` needs for an n×n matrix: 560 for n ≤ 16 (rows of
/// 16), (4n + 8)·⌈n/8⌉·8 + 8n for 17 ≤ n ≤ 64 (A and Vᵀ padded, and the divide and conquer's rows
/// where it runs), n² + 7n above.
long sme_workspace(long n);

/// Eigendecomposition of the symmetric n×n row-major matrix A (leading dimension lda), read
/// from its lower triangle (the upper one may hold anything). On success (0) A holds V with
/// column j (`a[i * lda + j]` over i) the unit eigenvector of `w[j]`, the eigenvalues ascending,
/// so that A = V diag(w) Vᵀ. Returns 1 when A holds a NaN or infinity and 2 when the QR
/// iteration did not converge in 30n steps (neither happens for a finite matrix in practice);
/// A and w are then unspecified. `work` holds at least `sme_workspace(n)` doubles.
int sme_symmetric_eigen(long n, double *a, long lda, double *w, double *work);

/// `sme_symmetric_eigen` through the variant of `level` (0 baseline, 1 AVX2+FMA, 2 AVX-512), or
/// the best this CPU has below it: for tests that measure every variant.
int sme_symmetric_eigen_at(int level, long n, double *a, long lda, double *w, double *work);

/// `sme_symmetric_eigen` with the eigenvectors handed over as rows, as the solver holds them:
/// on success row j of vt (`vt[j * ldvt + i]` over i, ldvt ≥ n) is the unit eigenvector of
/// `w[j]`, the same doubles `sme_symmetric_eigen` would leave in column j of A, and A (its lower
/// triangle read as there) is left unspecified; no transposition. vt must not overlap A or work.
/// Same returns and workspace as `sme_symmetric_eigen`.
int sme_symmetric_eigen_rows(long n, double *a, long lda, double *w, double *vt, long ldvt, double *work);

/// `sme_symmetric_eigen_rows` through the variant of `level` (as `sme_symmetric_eigen_at`).
int sme_symmetric_eigen_rows_at(int level, long n, double *a, long lda, double *w, double *vt, long ldvt, double *work);

/// The n×n part of the OMT backward rule (estimators.md §2.2; `Tape.mvnSampleOMTBackward`) for
/// 1 ≤ n ≤ `SME_FIXED_WIDTH`, on the fixed-width path: L lower triangular n×n (row-major, only the
/// lower triangle read, a positive diagonal), ε, z₀ = ε Lᵀ and the output adjoint g `rows`×n.
/// R = L⁻ᵀ; Σ⁻¹ = R Rᵀ = V diag(λ) Vᵀ (the fixed-width eigensolver, Vᵀ kept as rows);
/// G_ab = ½ Σ_s [g_sa ε_sb + z₀_sa (g_s R)_b]; Ĉ = (z₀V)ᵀ(gV); M_ij = (λ_i − λ_j)/(λ_i + λ_j)·
/// (Ĉ + Ĉᵀ)_ij; G += ½ V M Vᵀ R; then gl += tril(G) (gl n×n row-major, only its lower triangle
/// written). Returns 0, or the eigensolver's 1 (non-finite Σ⁻¹) or 2 (no convergence), gl then
/// untouched; n = 0 does nothing and returns 0, n > 16 or rows < 0 returns −1 (a caller's bug). `work` holds `sme_omt_workspace()` doubles; nothing is allocated.
long sme_omt_workspace(void);
int sme_omt_gradient(long n, long rows, const double *l, const double *eps, const double *z0, const double *g,
                     double *gl, double *work);

/// `sme_omt_gradient` through the variant of `level` (as `sme_symmetric_eigen_at`), for tests.
int sme_omt_gradient_at(int level, long n, long rows, const double *l, const double *eps, const double *z0,
                        const double *g, double *gl, double *work);

#endif
