#include "SmallProducts.h"
#include "CVecMath.h"
#include "SmallEigen.h"
#include <immintrin.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define UNROLL _Pragma("clang loop unroll(full)")
#define STEP static inline __attribute__((always_inline, target("avx512f,avx512dq,avx512vl,avx2,fma")))

int smp_available(void) { return svm_cpu_level() >= 2; }

/* Every product here is made of blocks of up to 6 rows × 32 columns of C, the rows × 4 8-vectors
 * of accumulators in registers over the whole sum: a step of p loads the block's 8-vectors of
 * row p of B (masked past the last column) and broadcasts one entry of op(A) per row, then one
 * fused multiply-add per accumulator. No packing: at these sizes A, B and C stay in L1/L2. The
 * block's shape (rows 1–6, 8-vectors 1–4) is a compile-time constant of each instance, so a
 * product of one row, or a triangle's narrow blocks, does no work past its edge.
 *
 * A block's sum may run over up to three segments (p ranges of different operand pairs), all
 * added into the same accumulators before the one store. A segment's B may be upper triangular
 * (B_pj = 0 for p > j): 8-vector v then stops at the p of its last column, the 8-vectors
 * dropping out one by one. */

/* One segment: Σ_{p0 ≤ p < p1} A(r, p) B_p over the block's columns, with A(r, p) = a[r][p·astep]
 * and row p of B at b + p·ldb (b at the block's first column). `upper` ≥ 0 when B is upper
 * triangular, then the column of B that b's first column is. */
typedef struct {
    const double *a[6];
    long astep;
    const double *b;
    long ldb, p0, p1, upper;
} Segment;

/* A block: its segments, its rows of C (at the block's first column), the 8-vectors' load masks
 * (B's columns) and each row's store masks (C's columns, or the lower triangle's). */
typedef struct {
    Segment seg[3];
    int segments;
    double *c[6];
    double alpha, beta;
    __mmask8 load[4], store[6][4];
} Block;

/* acc[r][v] += Σ_{p0 ≤ p < p1} A(r, p) B_p[8v ... 8v + 7] for 8-vectors first ≤ v < nv. */
STEP void block_run(const int rows, const int first, const int nv, __m512d acc[6][4], const Segment *s,
                    const __mmask8 load[4], long p0, long p1) {
    const double *bp = s->b + p0 * s->ldb;
    const long astep = s->astep, ldb = s->ldb;
    const double *a0 = s->a[0], *a1 = s->a[1], *a2 = s->a[2], *a3 = s->a[3], *a4 = s->a[4], *a5 = s->a[5];
    /* A local copy, indexed only by constants once the short loops are unrolled, so that it lives
     * in registers over the p loop. */
    __m512d c[6][4];
    UNROLL for (int r = 0; r < rows; r++)
        UNROLL for (int v = first; v < nv; v++) c[r][v] = acc[r][v];
    for (long p = p0; p < p1; p++, bp += ldb) {
        __m512d bv[4];
        UNROLL for (int v = first; v < nv; v++) bv[v] = _mm512_maskz_loadu_pd(load[v], bp + 8 * v);
        const long q = p * astep;
        UNROLL for (int r = 0; r < rows; r++) {
            const double *ar = r == 0 ? a0 : r == 1 ? a1 : r == 2 ? a2 : r == 3 ? a3 : r == 4 ? a4 : a5;
            __m512d x = _mm512_set1_pd(ar[q]);
            UNROLL for (int v = first; v < nv; v++) c[r][v] = _mm512_fmadd_pd(x, bv[v], c[r][v]);
        }
    }
    UNROLL for (int r = 0; r < rows; r++)
        UNROLL for (int v = first; v < nv; v++) acc[r][v] = c[r][v];
}

STEP void block_segment(const int rows, const int nv, __m512d acc[6][4], const Segment *s, const __mmask8 load[4]) {
    if (s->upper < 0) {
        block_run(rows, 0, nv, acc, s, load, s->p0, s->p1);
        return;
    }
    long p = s->p0;
    for (int f = 0; f < nv; f++) {
        long end = s->upper + 8 * f + 8 < s->p1 ? s->upper + 8 * f + 8 : s->p1;
        if (end <= p) continue;
        switch (f) {
        case 0: block_run(rows, 0, nv, acc, s, load, p, end); break;
        case 1: block_run(rows, 1 < nv ? 1 : nv, nv, acc, s, load, p, end); break;
        case 2: block_run(rows, 2 < nv ? 2 : nv, nv, acc, s, load, p, end); break;
        default: block_run(rows, 3 < nv ? 3 : nv, nv, acc, s, load, p, end); break;
        }
        p = end;
    }
}

/* C = α·acc + β·C over the store masks (C not read when β = 0). */
STEP void block_compute(const int rows, const int nv, const Block *k) {
    __m512d acc[6][4];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_pd();
    for (int s = 0; s < k->segments; s++) block_segment(rows, nv, acc, &k->seg[s], k->load);
    const __m512d al = _mm512_set1_pd(k->alpha), be = _mm512_set1_pd(k->beta);
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) {
            __mmask8 m = k->store[r][v];
            if (!m) continue;
            double *cr = k->c[r] + 8 * v;
            __m512d t = _mm512_mul_pd(al, acc[r][v]);
            if (k->beta != 0) t = _mm512_fmadd_pd(be, _mm512_maskz_loadu_pd(m, cr), t);
            _mm512_mask_storeu_pd(cr, m, t);
        }
}

#define BLOCK_ROWS(R)                                                                                                  \
    case 4 * (R) - 3: block_compute(R, 1, k); break;                                                                   \
    case 4 * (R) - 2: block_compute(R, 2, k); break;                                                                   \
    case 4 * (R) - 1: block_compute(R, 3, k); break;                                                                   \
    case 4 * (R): block_compute(R, 4, k); break;

/* The block of `rows` (1–6) rows and `nv` (1–4) 8-vectors. */
AVX512 static void block_dispatch(int rows, int nv, const Block *k) {
    switch (4 * rows + nv - 4) {
        BLOCK_ROWS(1)
        BLOCK_ROWS(2)
        BLOCK_ROWS(3)
        BLOCK_ROWS(4)
        BLOCK_ROWS(5)
        BLOCK_ROWS(6)
    default: break;
    }
}

static __mmask8 lanes(long left) { return left >= 8 ? 0xff : left <= 0 ? 0 : (__mmask8)((1u << left) - 1); }

/* One operand pair of a product: A(i, p) = a[i·arow + p·astep], row p of B at b + p·ldb (B has
 * the product's n columns), the sum over p0 ≤ p < p1 — from the block's first row instead of p0
 * when `from_row` (A(i, p) = 0 for p < i) — and B upper triangular when `upper`. */
typedef struct {
    const double *a;
    long arow, astep;
    const double *b;
    long ldb, p0, p1;
    int from_row, upper;
} Operands;

/* C = α Σ_s op_s + β C for the m×n row-major C (ldc), or only its lower triangle (j ≤ i) when
 * `lower`: blocks of 6 rows, each over its columns in blocks of 32. */
AVX512 static void product(long m, long n, const Operands *ops, int count, double alpha, double beta, double *c, long ldc,
                           int lower) {
    Block k;
    k.segments = count;
    k.alpha = alpha;
    k.beta = beta;
    for (long i0 = 0; i0 < m; i0 += 6) {
        int rows = m - i0 < 6 ? (int)(m - i0) : 6;
        long cols = lower && i0 + rows < n ? i0 + rows : n;
        for (long j0 = 0; j0 < cols; j0 += 32) {
            int nv = (int)((cols - j0 + 7) / 8 < 4 ? (cols - j0 + 7) / 8 : 4);
            for (int v = 0; v < 4; v++) k.load[v] = lanes(n - j0 - 8 * v);
            for (int r = 0; r < 6; r++) {
                long i = i0 + (r < rows ? r : rows - 1);
                k.c[r] = c + i * ldc + j0;
                for (int v = 0; v < 4; v++)
                    k.store[r][v] = k.load[v] & lanes((lower ? i + 1 : n) - j0 - 8 * v);
            }
            for (int s = 0; s < count; s++) {
                const Operands *o = &ops[s];
                Segment *g = &k.seg[s];
                for (int r = 0; r < 6; r++) g->a[r] = o->a + (i0 + (r < rows ? r : rows - 1)) * o->arow;
                g->astep = o->astep;
                g->b = o->b + j0;
                g->ldb = o->ldb;
                g->p0 = o->from_row ? i0 : o->p0;
                g->p1 = o->p1;
                g->upper = o->upper ? j0 : -1;
            }
            block_dispatch(rows, nv, &k);
        }
    }
}

AVX512 void smp_gemm(int transpose_a, long m, long n, long k, double alpha, const double *a, long lda, const double *b,
                     long ldb, double beta, double *c, long ldc) {
    Operands o = {a, transpose_a ? 1 : lda, transpose_a ? lda : 1, b, ldb, 0, k, 0, 0};
    product(m, n, &o, 1, alpha, beta, c, ldc, 0);
}

/* Eight outputs a pass, each its own chain of separately rounded products and sums over p in
 * ascending order (no fused multiply-add: `SmallMatrix.gemm`'s loop, whose results these must
 * equal bit for bit), the eight chains independent so that their latencies overlap. */
void smp_rows_times_transpose(long rows, long d, const double *x, const double *l, double *out) {
#pragma clang fp contract(off)
    for (long s = 0; s < rows; s++) {
        const double *xs = x + s * d;
        double *os = out + s * d;
        long j = 0;
        for (; j + 8 <= d; j += 8) {
            const double *l0 = l + j * d;
            double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (long p = 0; p < d; p++) {
                double xp = xs[p];
                UNROLL for (int q = 0; q < 8; q++) {
                    double t = xp * l0[q * d + p];
                    acc[q] = acc[q] + t;
                }
            }
            for (int q = 0; q < 8; q++) os[j + q] = acc[q];
        }
        for (; j < d; j++) {
            double acc = 0;
            for (long p = 0; p < d; p++) {
                double t = xs[p] * l[j * d + p];
                acc = acc + t;
            }
            os[j] = acc;
        }
    }
}

/* Row i of X = L⁻¹ is (e_i − Σ_{k<i} l_ik·x_k)/l_ii over the rows x_k already solved (zero past
 * column k), k ascending: every column is the forward substitution of L x = e_j. Rows are
 * carried as ⌈(i+1)/8⌉ masked 8-vectors; X's entries right of the diagonal are written 0. */
AVX512 void smp_lower_inverse(long n, const double *l, long ldl, double *x, long ldx) {
    for (long i = 0; i < n; i++) {
        long nv = (n + 7) / 8;
        for (long v = 0; v < nv; v++) {
            long left = n - 8 * v;
            __mmask8 mask = left >= 8 ? 0xff : (__mmask8)((1u << left) - 1);
            if (8 * v > i) { _mm512_mask_storeu_pd(x + i * ldx + 8 * v, mask, _mm512_setzero_pd()); continue; }
            long unit = i - 8 * v;
            __m512d acc = unit < 8 ? _mm512_maskz_mov_pd((__mmask8)(1u << unit), _mm512_set1_pd(1)) : _mm512_setzero_pd();
            for (long k = 8 * v; k < i; k++)
                acc = _mm512_fnmadd_pd(_mm512_set1_pd(l[i * ldl + k]), _mm512_maskz_loadu_pd(mask, x + k * ldx + 8 * v), acc);
            _mm512_mask_storeu_pd(x + i * ldx + 8 * v, mask, _mm512_div_pd(acc, _mm512_set1_pd(l[i * ldl + i])));
        }
    }
}

/* R = Pᵀ (n×n, both row-major with leading dimension n) for the lower-triangular P: row i of R
 * is column i of P from the diagonal on (gathered, 8 a step), zeros before it. */
STEP void upper_transpose(long n, const double *p, double *r) {
    const __m512i stride = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64(n));
    for (long i = 0; i < n; i++) {
        double *ri = r + i * n;
        long j = 0;
        for (; j + 8 <= i; j += 8) _mm512_storeu_pd(ri + j, _mm512_setzero_pd());
        if (j < i) _mm512_mask_storeu_pd(ri + j, lanes(i - j), _mm512_setzero_pd());
        for (j = i; j < n; j += 8)
            _mm512_mask_storeu_pd(ri + j, lanes(n - j),
                                  _mm512_mask_i64gather_pd(_mm512_setzero_pd(), lanes(n - j), stride, p + j * n + i, 8));
    }
}

/* Lane l of the result is the sum of the lanes of x[l] (eight sums at once: three rounds of
 * pairwise shuffles and additions instead of eight horizontal reductions). */
STEP __m512d sum_lanes8(const __m512d x[8]) {
    __m512d a[4], b[2];
    UNROLL for (int i = 0; i < 4; i++)
        a[i] = _mm512_add_pd(_mm512_unpacklo_pd(x[2 * i], x[2 * i + 1]), _mm512_unpackhi_pd(x[2 * i], x[2 * i + 1]));
    /* a[i]: 128-bit lane q holds x[2i] and x[2i+1] summed over their lanes 2q and 2q+1. */
    UNROLL for (int i = 0; i < 2; i++)
        b[i] = _mm512_add_pd(_mm512_shuffle_f64x2(a[2 * i], a[2 * i + 1], 0x88), _mm512_shuffle_f64x2(a[2 * i], a[2 * i + 1], 0xdd));
    /* b[i]: 128-bit lanes (x[4i], x[4i+1]) over lane pairs 0–1 and 2–3, then (x[4i+2], x[4i+3]) likewise. */
    /* 128-bit lane q of the sum: x[2q], x[2q+1] over all their lanes. */
    return _mm512_add_pd(_mm512_shuffle_f64x2(b[0], b[1], 0x88), _mm512_shuffle_f64x2(b[0], b[1], 0xdd));
}

/* out_si = x_s · vt_i for the `rows` rows x_s of x and the n rows vt_i of vt (n doubles each,
 * leading dimension n): x V with V's columns held as vt's rows. Eight rows of vt a pass, each
 * dot product in the lanes of one accumulator, the eight summed together at the end. */
STEP void rows_times_transposed(long n, long rows, const double *x, const double *vt, double *out) {
    for (long s = 0; s < rows; s++) {
        const double *xs = x + s * n;
        for (long i0 = 0; i0 < n; i0 += 8) {
            __m512d acc[8];
            UNROLL for (int q = 0; q < 8; q++) acc[q] = _mm512_setzero_pd();
            for (long j = 0; j < n; j += 8) {
                __mmask8 m = lanes(n - j);
                __m512d xv = _mm512_maskz_loadu_pd(m, xs + j);
                UNROLL for (int q = 0; q < 8; q++) {
                    long i = i0 + q < n ? i0 + q : n - 1;
                    acc[q] = _mm512_fmadd_pd(xv, _mm512_maskz_loadu_pd(m, vt + i * n + j), acc[q]);
                }
            }
            _mm512_mask_storeu_pd(out + s * n + i0, lanes(n - i0), sum_lanes8(acc));
        }
    }
}

/* M_ij = (λ_i − λ_j)/(λ_i + λ_j) · Ŝ_ij, Ŝ_ij = Σ_s (zV_si gV_sj + gV_si zV_sj), every row in full.
 * 1/(λ_i + λ_j) is the 14-bit estimate `vrcp14pd` refined by two Newton steps (relative error
 * about 2⁻⁵³ for positive λ, where a division would cost 16 cycles an 8-vector). */
STEP void commutator_weights(long n, long rows, const double *zv, const double *gv, const double *lambda, double *m) {
    const __m512d one = _mm512_set1_pd(1);
    for (long i = 0; i < n; i++) {
        const __m512d li = _mm512_set1_pd(lambda[i]);
        for (long j = 0; j < n; j += 8) {
            __mmask8 mask = lanes(n - j);
            __m512d s = _mm512_setzero_pd();
            for (long q = 0; q < rows; q++) {
                s = _mm512_fmadd_pd(_mm512_set1_pd(zv[q * n + i]), _mm512_maskz_loadu_pd(mask, gv + q * n + j), s);
                s = _mm512_fmadd_pd(_mm512_set1_pd(gv[q * n + i]), _mm512_maskz_loadu_pd(mask, zv + q * n + j), s);
            }
            __m512d lj = _mm512_mask_loadu_pd(one, mask, lambda + j);
            __m512d den = _mm512_add_pd(li, lj), y = _mm512_rcp14_pd(den);
            y = _mm512_fmadd_pd(y, _mm512_fnmadd_pd(den, y, one), y);
            y = _mm512_fmadd_pd(y, _mm512_fnmadd_pd(den, y, one), y);
            /* The ratio (|·| ≤ 1) first: Ŝ·(1/(λ_i + λ_j)) scales as |L|³ and leaves the range
               for |L| beyond about 10^±100, where the rule itself (invariant under L → cL) does not. */
            _mm512_mask_storeu_pd(m + i * n + j, mask, _mm512_mul_pd(_mm512_mul_pd(_mm512_sub_pd(li, lj), y), s));
        }
    }
}

long smp_omt_workspace(long n, long rows) {
    if (n < 1 || n > SMP_OMT_MAX || rows < 0) return 0;
    return 6 * n * n + n + 3 * rows * n + sme_workspace(n);
}

AVX512 int smp_omt_gradient(long n, long rows, const double *l, const double *eps, const double *z0, const double *g,
                            double *gl, double *work) {
    if (n < 1 || n > SMP_OMT_MAX || rows < 0) return n == 0 && rows >= 0 ? 0 : -1;
    const long nn = n * n;
    double *p = work, *r = p + nn, *a = r + nn, *vt = a + nn, *m = vt + nn, *t = m + nn, *lambda = t + nn;
    double *gr = lambda + n, *zv = gr + rows * n, *gv = zv + rows * n, *eig = gv + rows * n;
    double *k = a; /* K takes Σ⁻¹'s place once the eigensolver is done with it. */

    /* P = L⁻¹ (lower triangular), R = L⁻ᵀ = Pᵀ as rows. */
    smp_lower_inverse(n, l, n, p, n);
    upper_transpose(n, p, r);

    /* The lower triangle of Σ⁻¹ = R Rᵀ = Pᵀ P into the eigensolver's buffer: (Pᵀ)_ip = P_pi is 0
     * for p < i, so a block of rows from i₀ sums from p = i₀. */
    Operands sigma = {p, 1, n, p, n, 0, n, 1, 0};
    product(n, n, &sigma, 1, 1, 0, a, n, 1);

    /* g R, row s being (L⁻¹ g_s)ᵀ (R upper triangular). */
    Operands grp = {g, n, 1, r, n, 0, n, 0, 1};
    product(rows, n, &grp, 1, 1, 0, gr, n, 0);

    /* Σ⁻¹ = V diag(λ) Vᵀ with Vᵀ as rows (as the eigensolver holds it), then z₀V, gV, and M. */
    int info = sme_symmetric_eigen_rows(n, a, n, lambda, vt, n, eig);
    if (info != 0) return info;
    rows_times_transposed(n, rows, z0, vt, zv);
    rows_times_transposed(n, rows, g, vt, gv);
    commutator_weights(n, rows, zv, gv, lambda, m);

    /* T = V M (V_ip = Vᵀ_pi), then only the lower triangle of the antisymmetric K = T Vᵀ = V M Vᵀ,
     * the strict upper one zero: the last product reads K_ip for p ≤ j ≤ i and, in its 8-column
     * blocks, multiplies a few p > i by R's exact zeros. */
    Operands tp = {vt, 1, n, m, n, 0, n, 0, 0}, kp = {t, n, 1, vt, n, 0, n, 0, 0};
    product(n, n, &tp, 1, 1, 0, t, n, 0);
    memset(k, 0, (size_t)nn * sizeof(double));
    product(n, n, &kp, 1, 1, 0, k, n, 1);

    /* gl += tril(½ [K R + gᵀ ε + z₀ᵀ (g R)]), the three sums in one (R upper triangular: only
     * K's lower triangle is read). ½ K R = ½ V M Vᵀ R is §2.2's commutator term. */
    Operands last[3] = {
        {k, n, 1, r, n, 0, n, 0, 1},
        {g, 1, n, eps, n, 0, rows, 0, 0},
        {z0, 1, n, gr, n, 0, rows, 0, 0},
    };
    product(n, n, last, 3, 0.5, 1, gl, n, 1);
    return 0;
}
