#include "SmallEigen.h"
#include "CVecMath.h"
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

/* The solver is written once as always-inline steps over restrict-qualified rows and
 * instantiated three times (baseline, AVX2+FMA, AVX-512); clang inlines the steps into each
 * instance and vectorises the row loops with that instance's registers. The method is the
 * textbook one (Golub & Van Loan, Matrix Computations, §8.3): A = Q T Qᵀ by Householder
 * reflections, T = Z Λ Zᵀ by implicit symmetric QR steps with Wilkinson's shift, V = Q Z.
 * Every update is arranged as "row += scalar × row" over contiguous rows, so the vectoriser
 * needs no reductions (which it would not reorder without -ffast-math). */

#define STEP static inline __attribute__((always_inline))

/* From `WIDE_MIN` to `WIDE_MAX` A is reduced on rows padded to a multiple of eight doubles
 * (`reduce_wide`) and the tridiagonal part works on Vᵀ in such rows (the divide and conquer,
 * `dc_eigen`, from `DC_MIN` to `DC_MAX`, its halves and its fallback by
 * `tridiagonal_qr_overlapped`): workspace n·⌈n/8⌉·8 (A) + 6n + ⌈n/8⌉·8 + n·⌈n/8⌉·8 (Vᵀ) +
 * `dc_extra` + 2n (T kept for the fallback); above, n² (Vᵀ) + 7n; up to `SME_FIXED_WIDTH`, the
 * fixed-width path's. */
enum { WIDE_MIN = SME_FIXED_WIDTH + 1, WIDE_MAX = 64 };
static long padded8(long n) { return (n + 7) / 8 * 8; }
/* Doubles of `dc_eigen`'s workspace past the QR path's: the rows of the new Vᵀ, the k×k matrix
 * of d_i − λ_j (then the eigenvectors), and seven vectors, all in rows of ⌈n/8⌉·8. */
static long dc_extra(long n) { return (2 * n + 7) * padded8(n); }
long sme_workspace(long n) {
    if (n <= SME_FIXED_WIDTH) return 2 * SME_FIXED_WIDTH * SME_FIXED_WIDTH + 3 * SME_FIXED_WIDTH;
    if (n > WIDE_MAX) return n * n + 7 * n;
    return (2 * n + 1) * padded8(n) + dc_extra(n) + 8 * n;
}

/* y += s·x over n entries. */
STEP void row_axpy(double *restrict y, const double *restrict x, long n, double s) {
    for (long i = 0; i < n; i++) y[i] += s * x[i];
}

/* y += Σ_r s_r·x_r over the m rows x_r (stride ld) of a block, four rows a pass so that y is
 * loaded and stored once per four rows rather than once per row (one row's axpy after another
 * is a chain through memory on y). */
STEP void rows_axpy(double *restrict y, const double *restrict x, long ld, long m, long n, const double *restrict s,
                    double scale) {
    long r = 0;
    for (; r + 4 <= m; r += 4) {
        const double *restrict x0 = x + r * ld, *restrict x1 = x0 + ld, *restrict x2 = x1 + ld, *restrict x3 = x2 + ld;
        double s0 = scale * s[r], s1 = scale * s[r + 1], s2 = scale * s[r + 2], s3 = scale * s[r + 3];
        for (long i = 0; i < n; i++) y[i] += s0 * x0[i] + s1 * x1[i] + s2 * x2[i] + s3 * x3[i];
    }
    for (; r < m; r++) row_axpy(y, x + r * ld, n, scale * s[r]);
}

/* r −= v_r·w + w_r·v: one row of the symmetric rank-2 update A ← A − v wᵀ − w vᵀ. */
STEP void row_rank2(double *restrict r, const double *restrict v, const double *restrict w, long n, double vr, double wr) {
    for (long i = 0; i < n; i++) r[i] -= vr * w[i] + wr * v[i];
}

typedef double v4d __attribute__((vector_size(32)));
/* Unaligned 4-double loads and stores (macros: a function taking or returning v4d would warn
 * about the vector ABI in the baseline instance, though it is always inlined). */
#define load4(p) ({ v4d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store4(p, v) do { v4d w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)

/* Applies a sweep's rotations (rotation k, lo ≤ k < hi, to rows k and k+1 with cv[k], sv[k],
 * in order of k) to vt (n×n), column block by column block: the row that rotation k passes to
 * rotation k+1 stays in registers, so each entry is loaded and stored once a sweep and no
 * rotation waits on the previous one's store. Eight columns a pass (two independent chains of
 * 4-vectors), then four, then one. */
STEP void apply_sweep(double *restrict vt, long n, long lo, long hi, const double *restrict cv, const double *restrict sv) {
    long j = 0;
    for (; j + 8 <= n; j += 8) {
        v4d x0 = load4(vt + lo * n + j), x1 = load4(vt + lo * n + j + 4);
        for (long k = lo; k < hi; k++) {
            double *row = vt + (k + 1) * n + j;
            v4d y0 = load4(row), y1 = load4(row + 4);
            double c = cv[k], s = sv[k];
            store4(row - n, c * x0 + s * y0);
            store4(row - n + 4, c * x1 + s * y1);
            x0 = c * y0 - s * x0;
            x1 = c * y1 - s * x1;
        }
        store4(vt + hi * n + j, x0);
        store4(vt + hi * n + j + 4, x1);
    }
    for (; j + 4 <= n; j += 4) {
        v4d x0 = load4(vt + lo * n + j);
        for (long k = lo; k < hi; k++) {
            double *row = vt + (k + 1) * n + j;
            v4d y0 = load4(row);
            double c = cv[k], s = sv[k];
            store4(row - n, c * x0 + s * y0);
            x0 = c * y0 - s * x0;
        }
        store4(vt + hi * n + j, x0);
    }
    for (; j < n; j++) {
        double x0 = vt[lo * n + j];
        for (long k = lo; k < hi; k++) {
            double y0 = vt[(k + 1) * n + j], c = cv[k], s = sv[k];
            vt[k * n + j] = c * x0 + s * y0;
            x0 = c * y0 - s * x0;
        }
        vt[hi * n + j] = x0;
    }
}

/* Householder reduction of the full symmetric A (both triangles stored) to tridiagonal T:
 * diagonal d[0..n), subdiagonal e[0..n−1). Reflection k, H_k = I − β_k v vᵀ acting on
 * indices k+1..n−1, maps row k's tail x onto α e₁; its v overwrites that tail and β_k goes to
 * beta[k] (0: no reflection needed). The trailing block is updated in full (both triangles) as
 * A₂₂ ← A₂₂ − v wᵀ − w vᵀ with p = β A₂₂ v, w = p − (β/2)(vᵀp) v; A₂₂ v is accumulated from
 * A₂₂'s rows (its columns, by symmetry). p is n doubles of scratch. */
STEP void tridiagonalise(long n, double *restrict a, long lda, double *restrict d, double *restrict e,
                         double *restrict beta, double *restrict p) {
    for (long k = 0; k + 2 < n; k++) {
        double *restrict x = a + k * lda + k + 1;
        long m = n - k - 1;
        d[k] = a[k * lda + k];
        double tail = 0;
        for (long i = 1; i < m; i++) tail += x[i] * x[i];
        /* A tail below 2^−500 an entry is below ε‖A‖ (‖A‖ ≥ 2^−100 once scaled): left out, as
         * its reflection's β = 1/(α(α − x₀)) would overflow. */
        if (tail < 0x1p-1000) { e[k] = x[0]; beta[k] = 0; continue; }
        double norm = sqrt(x[0] * x[0] + tail);
        double alpha = x[0] > 0 ? -norm : norm;
        /* vᵀv = 2α(α − x₀), with α and α − x₀ of one sign: no cancellation. */
        double b = 1.0 / (alpha * (alpha - x[0]));
        x[0] -= alpha;
        e[k] = alpha;
        beta[k] = b;
        double *restrict a22 = a + (k + 1) * lda + (k + 1);
        for (long i = 0; i < m; i++) p[i] = 0;
        rows_axpy(p, a22, lda, m, m, x, b);
        double vp = 0;
        for (long i = 0; i < m; i++) vp += x[i] * p[i];
        row_axpy(p, x, m, -0.5 * b * vp);
        for (long r = 0; r < m; r++) row_rank2(a22 + r * lda, x, p, m, x[r], p[r]);
    }
    if (n >= 2) {
        d[n - 2] = a[(n - 2) * lda + n - 2];
        e[n - 2] = a[(n - 2) * lda + n - 1];
    }
    d[n - 1] = a[(n - 1) * lda + n - 1];
}

/* Q = H₀ H₁ ⋯ H_{n−3} into q (n×n, row-major), accumulated backwards (Q ← H_k Q) so that each
 * reflection touches only the trailing block rows and columns k+1..n−1: yᵀ = vᵀ Q₂₂ (a sum of
 * rows), then Q₂₂ ← Q₂₂ − β v yᵀ. p is n doubles of scratch. */
STEP void form_q(long n, const double *restrict a, long lda, const double *restrict beta, double *restrict q,
                 double *restrict p) {
    memset(q, 0, (size_t)(n * n) * sizeof(double));
    for (long i = 0; i < n; i++) q[i * n + i] = 1;
    for (long k = n - 3; k >= 0; k--) {
        if (beta[k] == 0) continue;
        const double *restrict v = a + k * lda + k + 1;
        long m = n - k - 1;
        double *restrict q22 = q + (k + 1) * n + (k + 1);
        for (long i = 0; i < m; i++) p[i] = 0;
        rows_axpy(p, q22, n, m, m, v, 1);
        for (long r = 0; r < m; r++) row_axpy(q22 + r * n, p, m, -beta[k] * v[r]);
    }
}

/* ---- Fixed width for n ≤ 16 (`SME_FIXED_WIDTH`) ----
 * The general steps above run their row loops over the m = n − k − 1 entries of a trailing
 * block, so at n = 10 most of the work is loop set-up and remainder iterations. Here every
 * matrix is stored as rows of FW = 16 doubles (two 8-lane vectors; lanes ≥ n zero) and every
 * row operation runs over all 16 lanes, with the lanes a step must not touch masked to zero in
 * its vectors: no trip counts, no remainders, and no transposes (Qᵀ is accumulated directly). */
enum { FW = SME_FIXED_WIDTH };
typedef double v8d __attribute__((vector_size(64)));
#define load8(p) ({ v8d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store8(p, v) do { v8d w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)

/* out[0..n) = in[0..n): 8-vectors, then the remainder (inline: a memcpy call per row of 50
 * doubles cost more than the copy). */
STEP void copy_row(double *restrict out, const double *restrict in, long n) {
    long j = 0;
    for (; j + 8 <= n; j += 8) store8(out + j, load8(in + j));
    for (; j + 4 <= n; j += 4) store4(out + j, load4(in + j));
    for (; j < n; j++) out[j] = in[j];
}

/* y += s·x over a row. */
STEP void fw_axpy(double *restrict y, const double *restrict x, double s) {
    store8(y, load8(y) + s * load8(x));
    store8(y + 8, load8(y + 8) + s * load8(x + 8));
}

/* out (+)= scale · Σ_{r0 ≤ r < r1} s[r]·rows[r] (rows of FW), summed in registers in two
 * chains (even and odd r, counted from 0, so a sum's partition does not depend on r0). */
STEP void fw_rows_sum(double *restrict out, const double *restrict rows, const double *restrict s, long r0, long r1,
                      double scale, int accumulate) {
    v8d a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0};
    long r = r0;
    if (r < r1 && (r & 1)) {
        b0 += s[r] * load8(rows + r * FW);
        b1 += s[r] * load8(rows + r * FW + 8);
        r++;
    }
    for (; r + 2 <= r1; r += 2) {
        const double *x = rows + r * FW, *y = x + FW;
        a0 += s[r] * load8(x);
        a1 += s[r] * load8(x + 8);
        b0 += s[r + 1] * load8(y);
        b1 += s[r + 1] * load8(y + 8);
    }
    if (r < r1) {
        a0 += s[r] * load8(rows + r * FW);
        a1 += s[r] * load8(rows + r * FW + 8);
    }
    v8d o0 = scale * (a0 + b0), o1 = scale * (a1 + b1);
    if (accumulate) { o0 += load8(out); o1 += load8(out + 8); }
    store8(out, o0);
    store8(out + 8, o1);
}

/* `tridiagonalise` and `form_q` in one pass on rows of FW, A full and symmetric (lanes ≥ n
 * zero): reflection k's vector v (zero outside k+1..n−1) and p = β A₂₂ v are formed as full
 * rows, p's lanes ≤ k masked (rows below k keep stale entries left of the block, which are
 * never read as matrix entries again); A₂₂ ← A₂₂ − v wᵀ − w vᵀ on full rows (v and w are zero
 * outside the block, so nothing else changes); and Qᵀ ← H_k Qᵀ (Qᵀ = H_{n−3} ⋯ H₀ formed
 * forwards, rows k+1..n−1 of it) in the same step, so qt ends as Qᵀ, the rows QR rotates. */
STEP void fw_tridiagonalise(long n, double *restrict a, double *restrict qt, double *restrict d, double *restrict e) {
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < FW; j++) qt[i * FW + j] = 0;
        qt[i * FW + i] = 1;
    }
    for (long k = 0; k + 2 < n; k++) {
        const double *restrict ak = a + k * FW;
        double x0 = ak[k + 1], tail = 0;
        d[k] = ak[k];
        for (long i = k + 2; i < n; i++) tail += ak[i] * ak[i];
        if (tail < 0x1p-1000) { e[k] = x0; continue; } /* as in `tridiagonalise` */
        double norm = sqrt(x0 * x0 + tail);
        double alpha = x0 > 0 ? -norm : norm;
        double b = 1.0 / (alpha * (alpha - x0));
        e[k] = alpha;
        double v[FW], p[FW], y[FW];
        for (long j = 0; j < FW; j++) v[j] = j > k ? ak[j] : 0;
        v[k + 1] = x0 - alpha;
        fw_rows_sum(p, a, v, k + 1, n, b, 0);
        for (long j = 0; j < FW; j++) p[j] = j > k ? p[j] : 0;
        double vp = 0;
        for (long i = k + 1; i < n; i++) vp += v[i] * p[i];
        fw_axpy(p, v, -0.5 * b * vp);
        for (long r = k + 1; r < n; r++) {
            double *restrict ar = a + r * FW;
            double vr = v[r], pr = p[r];
            store8(ar, load8(ar) - (vr * load8(p) + pr * load8(v)));
            store8(ar + 8, load8(ar + 8) - (vr * load8(p + 8) + pr * load8(v + 8)));
        }
        fw_rows_sum(y, qt, v, k + 1, n, b, 0);
        for (long r = k + 1; r < n; r++) fw_axpy(qt + r * FW, y, -v[r]);
    }
    if (n >= 2) {
        d[n - 2] = a[(n - 2) * FW + n - 2];
        e[n - 2] = a[(n - 2) * FW + n - 1];
    }
    d[n - 1] = a[(n - 1) * FW + n - 1];
}

/* |e| negligible beside its two diagonal neighbours, or below 2^−500 (A is scaled to
 * ‖A‖ ≥ 2^−100 first, so that is below ε‖A‖): a graded T's tail must deflate before its
 * squares reach the subnormals, where the relative test can fail for ever. */
STEP int negligible(double e, double d0, double d1) {
    return fabs(e) <= DBL_EPSILON * (fabs(d0) + fabs(d1)) || fabs(e) < 0x1p-500;
}

/* √(x² + y²) without hypot's call where the squares cannot overflow or underflow. */
STEP double norm2(double x, double y) {
    double r = sqrt(x * x + y * y);
    return r > 0x1p-500 && r < 0x1p500 ? r : hypot(x, y);
}

/* One rotation of an implicit QR sweep over rows k, k+1 of T (d, e): P = [c s; −s c] with
 * c = x/r, s = z/r, r = √(x² + z²), chosen to zero z against x (the shifted first column at
 * k = lo, the bulge after); T ← P T Pᵀ; the bulge moves to (k+2, k) and comes back in (x, z)
 * for the next rotation; (c, s) go to cv[k], sv[k] for `apply_sweep`.
 *
 * A sweep is one serial chain, so the update is arranged to keep the square root off it: with
 * q = x² + z², T's new entries are quotients by q (c² = x²/q, s² = z²/q, cs = xz/q), and the
 * next q needs z_next² = (z e_{k+1})²/q rather than z_next = z e_{k+1}/r, so one rotation waits
 * for a division of the previous one only; the root and 1/r (for c, s, the bulge z_next and
 * Vᵀ) overlap the next rotation. z² is carried in z2. Where q is outside [2⁻¹⁰⁰⁰, 2¹⁰⁰⁰] the
 * rotation is formed the guarded way (hypot) instead.
 *
 * The next bulge z_next = z e_{k+1}/r is still on the chain (through xz), two rotations later;
 * with `short_chain` (the fixed-width path) 1/r is taken as r·(1/q), a multiplication after
 * the root, rather than a second division after it, which shortens that path by a division's
 * latency (one more rounding in c and s: the accuracy tests' bounds hold unchanged). */
STEP void chase(long k, long lo, long hi, double *restrict d, double *restrict e, double *restrict cv, double *restrict sv,
                double *restrict px, double *restrict pz, double *restrict pz2, int short_chain) {
    double x = *px, z = *pz, z2 = *pz2;
    double xx = x * x, xz = x * z, q = xx + z2;
    double a0 = d[k], b0 = e[k], c0 = d[k + 1];
    double c, s, r;
    if (q > 0x1p-1000 && q < 0x1p1000) {
        double iq = 1.0 / q;
        r = sqrt(q);
        double inv = short_chain ? r * iq : 1.0 / r;
        c = x * inv;
        s = z * inv;
        double t = 2 * xz * b0;
        d[k] = (xx * a0 + t + z2 * c0) * iq;
        d[k + 1] = (z2 * a0 - t + xx * c0) * iq;
        e[k] = (xz * (c0 - a0) + (xx - z2) * b0) * iq;
        if (k + 1 < hi) {
            double ze = z * e[k + 1];
            *px = e[k];
            *pz = ze * inv;
            /* z² from (z·e)² only while that is a normal number: below it has lost its
             * digits (or is 0) while z = ze/r need not be small beside x, and c, s would no
             * longer make a rotation. */
            double ze2 = ze * ze;
            *pz2 = ze2 >= 0x1p-1000 ? ze2 * iq : *pz * *pz;
            e[k + 1] *= c;
        }
    } else {
        r = norm2(x, z);
        c = 1; s = 0;
        if (r != 0) { double inv = 1.0 / r; c = x * inv; s = z * inv; }
        double cc = c * c, ss = s * s, cs = c * s;
        d[k] = cc * a0 + 2 * cs * b0 + ss * c0;
        d[k + 1] = ss * a0 - 2 * cs * b0 + cc * c0;
        e[k] = cs * (c0 - a0) + (cc - ss) * b0;
        if (k + 1 < hi) {
            *px = e[k];
            *pz = s * e[k + 1];
            *pz2 = *pz * *pz;
            e[k + 1] *= c;
        }
    }
    if (k > lo) e[k - 1] = r;
    cv[k] = c;
    sv[k] = s;
}

/* The next sweep of implicit QR on T (d, e), deflating from the bottom: lowers *hi past the
 * eigenvalues that have deflated, finds the unreduced block lo..hi ending there, and starts
 * the sweep's chain (x, z, z² for `chase`) with Wilkinson's shift, the eigenvalue of the
 * trailing 2×2 block nearer its last entry. Returns lo, or −1 when all of T has deflated. */
STEP long next_sweep(long *restrict phi, double *restrict d, double *restrict e, double *restrict x, double *restrict z,
                     double *restrict z2) {
    long hi = *phi;
    while (hi > 0 && negligible(e[hi - 1], d[hi - 1], d[hi])) { e[hi - 1] = 0; hi--; }
    *phi = hi;
    if (hi == 0) return -1;
    long lo = hi - 1;
    while (lo > 0 && !negligible(e[lo - 1], d[lo - 1], d[lo])) lo--;
    if (lo > 0) e[lo - 1] = 0;
    double half = 0.5 * (d[hi - 1] - d[hi]), eh = e[hi - 1];
    double h = norm2(half, eh);
    double mu = d[hi] - eh * (eh / (half + (half >= 0 ? h : -h)));
    *x = d[lo] - mu;
    *z = e[lo];
    *z2 = *z * *z;
    return lo;
}

/* Implicit symmetric QR on T (d, e) with Wilkinson's shift, deflating from the bottom. A
 * sweep's rotations are formed first (`chase`, a serial chain), then applied to the rows of
 * vt = Vᵀ (n rows of ldv, starting as Qᵀ; ldv = n, or 16 on the fixed-width path below: two
 * column blocks of 8, no remainder) in one pass (`apply_sweep`). Returns 0, or 2 after 30n sweeps
 * without convergence. (Two sweeps interleaved, the second with the trailing 2×2 block's other
 * eigenvalue as shift, were tried: 23 % more rotations at n = 50 for no gain in time.) */
/* (`short_chain`: see `chase`.) */
STEP int tridiagonal_qr(long n, double *restrict d, double *restrict e, double *restrict vt, long ldv,
                        double *restrict cv, double *restrict sv, int short_chain) {
    long steps = 0, limit = 30 * n, hi = n - 1, lo;
    double x, z, z2;
    while ((lo = next_sweep(&hi, d, e, &x, &z, &z2)) >= 0) {
        if (++steps > limit) return 2;
        for (long k = lo; k < hi; k++) chase(k, lo, hi, d, e, cv, sv, &x, &z, &z2, short_chain);
        apply_sweep(vt, ldv, lo, hi, cv, sv);
    }
    return 0;
}

/* One rotation of a sweep applied to a whole padded row pair of Vᵀ: x (nb 8-vectors, in
 * registers) is row k, `row` is row k+1; row k is stored, x becomes the new row k+1. */
STEP void rotate_carried_row(v8d *restrict x, double *restrict row, long ld, int nb, double c, double s) {
    for (int b = 0; b < nb; b++) {
        v8d y = load8(row + 8 * b);
        store8(row - ld + 8 * b, c * x[b] + s * y);
        x[b] = c * y - s * x[b];
    }
}

/* `tridiagonal_qr` for WIDE_MIN ≤ n ≤ WIDE_MAX, with the rotations reaching Vᵀ (rows of
 * ld = 8·nb doubles, nb = ⌈n/8⌉) one sweep late: while sweep s+1's chain is formed (`chase`, a
 * latency-bound serial chain of a few scalar operations a rotation), rotation j of sweep s is
 * applied to a whole row pair, the row carried in nb 8-vector registers. The two are
 * independent (the chain reads only T), so the vector work fills the chain's idle issue slots;
 * what sweep s+1 is shorter by is applied after its chain. Every entry of Vᵀ goes through the
 * same operations in the same order as in `apply_sweep`. cbuf and sbuf hold 2n doubles each
 * (the current sweep's and the pending one's rotations). Returns 0, or 2 after 30n sweeps. */
STEP int tridiagonal_qr_overlapped(const int nb, long n, double *restrict d, double *restrict e, double *restrict vt,
                                   double *restrict cbuf, double *restrict sbuf) {
    const long ld = 8 * nb;
    double *cc = cbuf, *sc = sbuf, *pc = cbuf + n, *ps = sbuf + n;
    long steps = 0, limit = 30 * n, hi = n - 1, lo;
    long plo = 0, phi = 0; /* the pending sweep's rotations, none when plo == phi */
    double xq, z, z2;
    v8d x[8];
    while ((lo = next_sweep(&hi, d, e, &xq, &z, &z2)) >= 0) {
        if (++steps > limit) return 2;
        long pk = plo;
        if (plo < phi) for (int b = 0; b < nb; b++) x[b] = load8(vt + plo * ld + 8 * b);
        for (long k = lo; k < hi; k++) {
            chase(k, lo, hi, d, e, cc, sc, &xq, &z, &z2, 0);
            if (pk < phi) { rotate_carried_row(x, vt + (pk + 1) * ld, ld, nb, pc[pk], ps[pk]); pk++; }
        }
        if (plo < phi) {
            for (; pk < phi; pk++) rotate_carried_row(x, vt + (pk + 1) * ld, ld, nb, pc[pk], ps[pk]);
            for (int b = 0; b < nb; b++) store8(vt + phi * ld + 8 * b, x[b]);
        }
        double *t = cc; cc = pc; pc = t;
        t = sc; sc = ps; ps = t;
        plo = lo; phi = hi;
    }
    if (plo < phi) {
        for (int b = 0; b < nb; b++) x[b] = load8(vt + plo * ld + 8 * b);
        for (long pk = plo; pk < phi; pk++) rotate_carried_row(x, vt + (pk + 1) * ld, ld, nb, pc[pk], ps[pk]);
        for (int b = 0; b < nb; b++) store8(vt + phi * ld + 8 * b, x[b]);
    }
    return 0;
}

/* One of the two tridiagonal blocks `tridiagonal_qr_pair` iterates on: its T (d, e) and rows of
 * Vᵀ, the sweep being chased (lo..hi, chain state x, z, z²; rotations into cc, sc), the pending
 * sweep's rotations (plo..phi, into pc, ps; applied up to pk), and its sweep count. */
typedef struct {
    double *d, *e, *vt, *cc, *sc, *pc, *ps;
    long hi, lo, plo, phi, pk, steps, limit;
    double x, z, z2;
} qr_block;

/* Starts b's next sweep (lo = −1 once all of it has deflated); 2 past its sweep limit. */
STEP int qr_block_next(qr_block *b) {
    if (b->lo < 0 && b->hi <= 0) return 0;
    b->lo = next_sweep(&b->hi, b->d, b->e, &b->x, &b->z, &b->z2);
    if (b->lo >= 0 && ++b->steps > b->limit) return 2;
    return 0;
}

/* `tridiagonal_qr_overlapped` on two independent blocks at once: T's rows 0..m₁ and m₁..m₁+m₂
 * (e[m₁ − 1] = 0) with their rows of vt (rows of 8·nb doubles). The two sweeps' chains are
 * interleaved rotation by rotation, so that each fills the other's latency, and both blocks'
 * pending sweeps reach Vᵀ, a row pair at a time in registers, meanwhile. Every entry goes
 * through the same operations in the same order as in `tridiagonal_qr_overlapped` on each
 * block alone. cbuf, sbuf: 2(m₁ + m₂) doubles each. Returns 0, or 2 after 30m sweeps of a block. */
STEP int tridiagonal_qr_pair(const int nb, long m1, long m2, double *restrict d, double *restrict e, double *restrict vt,
                             double *restrict cbuf, double *restrict sbuf) {
    const long ld = 8 * nb;
    qr_block blk[2] = {
        {d, e, vt, cbuf, sbuf, cbuf + m1, sbuf + m1, m1 - 1, -1, 0, 0, 0, 0, 30 * m1, 0, 0, 0},
        {d + m1, e + m1, vt + m1 * ld, cbuf + 2 * m1, sbuf + 2 * m1, cbuf + 2 * m1 + m2, sbuf + 2 * m1 + m2, m2 - 1, -1,
         0, 0, 0, 0, 30 * m2, 0, 0, 0},
    };
    qr_block *a = &blk[0], *b = &blk[1];
    v8d xa[8], xb[8];
    if (qr_block_next(a) != 0 || qr_block_next(b) != 0) return 2;
    for (;;) {
        long la = a->lo >= 0 ? a->hi - a->lo : 0, lb = b->lo >= 0 ? b->hi - b->lo : 0;
        int pa = a->plo < a->phi, pb = b->plo < b->phi;
        if (la == 0 && lb == 0 && !pa && !pb) break;
        a->pk = a->plo;
        b->pk = b->plo;
        if (pa) for (int c = 0; c < nb; c++) xa[c] = load8(a->vt + a->plo * ld + 8 * c);
        if (pb) for (int c = 0; c < nb; c++) xb[c] = load8(b->vt + b->plo * ld + 8 * c);
        /* The chains' state in locals, so that it stays in registers. */
        long len = la > lb ? la : lb, alo = a->lo, ahi = a->hi, blo = b->lo, bhi = b->hi;
        long apk = a->pk, aphi = a->phi, bpk = b->pk, bphi = b->phi;
        double ax = a->x, az = a->z, az2 = a->z2, bx = b->x, bz = b->z, bz2 = b->z2;
        double *restrict ad = a->d, *restrict ae = a->e, *restrict acc = a->cc, *restrict asc = a->sc;
        double *restrict bd = b->d, *restrict be = b->e, *restrict bcc = b->cc, *restrict bsc = b->sc;
        const double *restrict apc = a->pc, *restrict aps = a->ps, *restrict bpc = b->pc, *restrict bps = b->ps;
        double *avt = a->vt, *bvt = b->vt;
        for (long t = 0; t < len; t++) {
            if (t < la) chase(alo + t, alo, ahi, ad, ae, acc, asc, &ax, &az, &az2, 1);
            if (t < lb) chase(blo + t, blo, bhi, bd, be, bcc, bsc, &bx, &bz, &bz2, 1);
            if (apk < aphi) { rotate_carried_row(xa, avt + (apk + 1) * ld, ld, nb, apc[apk], aps[apk]); apk++; }
            if (bpk < bphi) { rotate_carried_row(xb, bvt + (bpk + 1) * ld, ld, nb, bpc[bpk], bps[bpk]); bpk++; }
        }
        a->pk = apk; b->pk = bpk;
        if (pa) {
            for (; a->pk < a->phi; a->pk++) rotate_carried_row(xa, a->vt + (a->pk + 1) * ld, ld, nb, a->pc[a->pk], a->ps[a->pk]);
            for (int c = 0; c < nb; c++) store8(a->vt + a->phi * ld + 8 * c, xa[c]);
        }
        if (pb) {
            for (; b->pk < b->phi; b->pk++) rotate_carried_row(xb, b->vt + (b->pk + 1) * ld, ld, nb, b->pc[b->pk], b->ps[b->pk]);
            for (int c = 0; c < nb; c++) store8(b->vt + b->phi * ld + 8 * c, xb[c]);
        }
        for (int h = 0; h < 2; h++) {
            qr_block *q = &blk[h];
            double *t = q->cc; q->cc = q->pc; q->pc = t;
            t = q->sc; q->sc = q->ps; q->ps = t;
            q->plo = q->phi = 0;
            if (q->lo >= 0) { q->plo = q->lo; q->phi = q->hi; }
            if (q->lo >= 0 && qr_block_next(q) != 0) return 2;
        }
    }
    return 0;
}

/* `tridiagonal_qr_pair` with nb a constant in each case (3 ≤ nb ≤ 8). */
STEP int tridiagonal_qr_pair_rows(long nb, long m1, long m2, double *restrict d, double *restrict e, double *restrict vt,
                                  double *restrict cbuf, double *restrict sbuf) {
    switch (nb) {
    case 3: return tridiagonal_qr_pair(3, m1, m2, d, e, vt, cbuf, sbuf);
    case 4: return tridiagonal_qr_pair(4, m1, m2, d, e, vt, cbuf, sbuf);
    case 5: return tridiagonal_qr_pair(5, m1, m2, d, e, vt, cbuf, sbuf);
    case 6: return tridiagonal_qr_pair(6, m1, m2, d, e, vt, cbuf, sbuf);
    case 7: return tridiagonal_qr_pair(7, m1, m2, d, e, vt, cbuf, sbuf);
    default: return tridiagonal_qr_pair(8, m1, m2, d, e, vt, cbuf, sbuf);
    }
}

/* `tridiagonal_qr_overlapped` with nb a constant in each case, so that x stays in registers. */
STEP int tridiagonal_qr_wide(long n, double *restrict d, double *restrict e, double *restrict vt, double *restrict cbuf,
                             double *restrict sbuf) {
    switch (padded8(n) / 8) {
    case 3: return tridiagonal_qr_overlapped(3, n, d, e, vt, cbuf, sbuf);
    case 4: return tridiagonal_qr_overlapped(4, n, d, e, vt, cbuf, sbuf);
    case 5: return tridiagonal_qr_overlapped(5, n, d, e, vt, cbuf, sbuf);
    case 6: return tridiagonal_qr_overlapped(6, n, d, e, vt, cbuf, sbuf);
    case 7: return tridiagonal_qr_overlapped(7, n, d, e, vt, cbuf, sbuf);
    default: return tridiagonal_qr_overlapped(8, n, d, e, vt, cbuf, sbuf);
    }
}

/* ---- Divide and conquer for `DC_MIN` ≤ n ≤ `DC_MAX` (one split) ----
 * Cuppen's split of the tridiagonal T at m = ⌊n/2⌋ with β = e[m−1] and ρ = |β|:
 * T = diag(T₁, T₂) + ρ v vᵀ, v = e_{m−1} + sign(β) e_m, where T₁ is T's leading m×m block with
 * its last diagonal entry lowered by ρ and T₂ the trailing block with its first lowered by ρ.
 * The halves are solved by `tridiagonal_qr_overlapped` on their rows of Vᵀ (rows of Qᵀ, which
 * A = Q T Qᵀ), each sweep half as long as the whole's and half the rows; v rides along as an
 * extra column of Vᵀ (lane n), so the rotations leave z = Zᵀv there, Z = diag(Z₁, Z₂) the
 * halves' eigenvectors. Then D + ρ z zᵀ (D the halves' eigenvalues) is solved as a rank-one
 * update (Golub & Van Loan §8.4.3; Gu & Eisenstat, SIAM J. Matrix Anal. Appl. 16 (1995)):
 * deflation of negligible z components and of nearly equal eigenvalue pairs (a rotation of two
 * rows of Vᵀ), the secular equation 1 + Σ w_j/(d_j − λ) = 0 (w_j = ρ z_j²) solved per root
 * about its nearer pole, the weights w recomputed from the computed roots (Löwner's formula),
 * so that the eigenvectors (w_j^½/(d_j − λ))_j are orthogonal to working accuracy, and finally
 * the rows of Vᵀ for the undeflated roots as combinations of the halves' rows. */
/* 48 to 56: where it was faster than the QR over the whole on this project's machine (an
 * AVX-512 Xeon; alternating rounds, docs/benchmarks.md, issue 19's fifth sitting: at n = 50 in
 * almost every round by the minimum, ≈ 5 %); below and above it was as fast or slower. */
enum { DC_MIN = 48, DC_MAX = 56, SECULAR_ITERATIONS = 100 };

typedef long long v8l __attribute__((vector_size(64)));

/* ---- Reduction on padded rows for `WIDE_MIN` ≤ n ≤ `WIDE_MAX` ----
 * `tridiagonalise` and `form_q` make two passes over the trailing block per reflection (the
 * product A₂₂v, then the rank-2 update; yᵀ = vᵀQ₂₂, then Q₂₂'s update), each row loop over
 * m = n − k − 1 entries with its remainder. Here A is copied, both triangles, into rows of
 * ld = 8·nb doubles (pads zero) and every row is handled as nb 8-vectors (those left of the
 * block, all zero in v and w, skipped), in registers:
 *  - one pass per reflection: row r of the trailing block gets reflection k's rank-2 update
 *    and, still in registers, adds its share v′_r·row to the product A₂₂′v′ of reflection k+1,
 *    whose v′ is formed from row k+1 as soon as that row is updated (first in the pass);
 *  - Qᵀ directly, as Qᵀ ← Qᵀ H_k for k descending (Qᵀ = H_{n−3} ⋯ H₀; rows k+1..n−1 change):
 *    row ← row − β(row·v)v, one pass, the row in registers — Vᵀ's starting rows, untransposed. */

/* Lane masks: lanes of 8-vector b (columns 8b..8b+7) above column k. */
#define ABOVE(b, k) ((v8l)(((v8d){0, 1, 2, 3, 4, 5, 6, 7} + (double)(8 * (b))) > (double)(k)))
#define KEEP(m, x) ((v8d)((v8l)(x) & (m)))

STEP double hsum8(v8d x) {
    v4d h = __builtin_shufflevector(x, x, 0, 1, 2, 3) + __builtin_shufflevector(x, x, 4, 5, 6, 7);
    return (h[0] + h[2]) + (h[1] + h[3]);
}

/* Reflection k from row k of s (its entries right of the diagonal, x): d[k] = s_kk; when the
 * tail x₁.. is not negligible, α = ∓‖x‖, β = 1/(α(α − x₀)), x₀ ← x₀ − α (x becomes v), e[k] = α;
 * otherwise (a tail below 2^−500, see `tridiagonalise`) e[k] = x₀, β = 0 (no reflection). Returns β. */
STEP double wide_reflector(const int nb, long k, double *restrict row, double *restrict d, double *restrict e) {
    d[k] = row[k];
    double x0 = row[k + 1];
    v8d acc = {0};
    for (int b = (int)((k + 2) / 8); b < nb; b++) {
        v8d x = KEEP(ABOVE(b, k + 1), load8(row + 8 * b));
        acc += x * x;
    }
    double tail = hsum8(acc);
    if (tail < 0x1p-1000) { e[k] = x0; return 0; } /* as in `tridiagonalise` */
    double norm = sqrt(x0 * x0 + tail);
    double alpha = x0 > 0 ? -norm : norm;
    row[k + 1] = x0 - alpha;
    e[k] = alpha;
    return 1.0 / (alpha * (alpha - x0));
}

/* The tridiagonal T (d, e) of s (n rows of ld = 8·nb, both triangles, pads zero), reflection k's
 * v left in row k right of the diagonal and β_k in beta[k]; wv: ld doubles of scratch. */
STEP void tridiagonalise_wide(const int nb, long n, double *restrict s, double *restrict d, double *restrict e,
                              double *restrict beta, double *restrict wv) {
    const long ld = 8 * nb;
    v8d p[8];
    /* p = A₂₂v for reflection 0. */
    double bn = n > 2 ? wide_reflector(nb, 0, s, d, e) : 0;
    if (n > 2) {
        beta[0] = bn;
        for (int b = 0; b < nb; b++) p[b] = (v8d){0};
        if (bn != 0)
            for (long r = 1; r < n; r++) {
                const double *restrict row = s + r * ld;
                double vr = s[r];
                for (int b = 0; b < nb; b++) p[b] += vr * load8(row + 8 * b);
            }
    }
    for (long k = 0; k + 2 < n; k++) {
        const double bk = beta[k];
        const double *restrict vk = s + k * ld;
        const int b0 = (int)((k + 1) / 8);
        v8d v[8], w[8];
        if (bk != 0) {
            /* w = βp − (β²/2)(vᵀp) v, v and p zero left of the block. */
            v8d acc = {0};
            for (int b = 0; b < nb; b++) if (b >= b0) {
                v8l m = ABOVE(b, k);
                v[b] = KEEP(m, load8(vk + 8 * b));
                p[b] = bk * KEEP(m, p[b]);
                acc += v[b] * p[b];
            }
            double c = -0.5 * bk * hsum8(acc);
            for (int b = 0; b < nb; b++) if (b >= b0) {
                w[b] = p[b] + c * v[b];
                store8(wv + 8 * b, w[b]);
            }
        }
        /* Row k+1 updated, then reflection k+1 from it. */
        double *restrict r1 = s + (k + 1) * ld;
        if (bk != 0) {
            double vr = vk[k + 1], wr = wv[k + 1];
            for (int b = 0; b < nb; b++) if (b >= b0) store8(r1 + 8 * b, load8(r1 + 8 * b) - (vr * w[b] + wr * v[b]));
        }
        double bn1 = 0;
        if (k + 3 < n) bn1 = beta[k + 1] = wide_reflector(nb, k + 1, r1, d, e);
        if (bk == 0 && bn1 == 0) continue;
        for (int b = 0; b < nb; b++) p[b] = (v8d){0};
        for (long r = k + 2; r < n; r++) {
            double *restrict row = s + r * ld;
            double vr = vk[r], wr = wv[r], vn = r1[r];
            if (bk != 0) {
                for (int b = 0; b < nb; b++)
                    if (b >= b0) {
                        v8d x = load8(row + 8 * b) - (vr * w[b] + wr * v[b]);
                        store8(row + 8 * b, x);
                        p[b] += vn * x;
                    }
            } else {
                for (int b = 0; b < nb; b++)
                    if (b >= b0) p[b] += vn * load8(row + 8 * b);
            }
        }
    }
    if (n >= 2) {
        d[n - 2] = s[(n - 2) * ld + n - 2];
        e[n - 2] = s[(n - 2) * ld + n - 1];
    }
    d[n - 1] = s[(n - 1) * ld + n - 1];
}

/* Qᵀ = H_{n−3} ⋯ H₀ into qt (n rows of ld = 8·nb, pads zero) from the reflections that
 * `tridiagonalise_wide` left in s: Qᵀ ← Qᵀ H_k for k descending, row by row. */
STEP void form_qt_wide(const int nb, long n, const double *restrict s, const double *restrict beta, double *restrict qt) {
    const long ld = 8 * nb;
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < ld; j++) qt[i * ld + j] = 0;
        qt[i * ld + i] = 1;
    }
    for (long k = n - 3; k >= 0; k--) {
        const double bk = beta[k];
        if (bk == 0) continue;
        const int b0 = (int)((k + 1) / 8);
        v8d v[8];
        for (int b = 0; b < nb; b++) if (b >= b0) v[b] = KEEP(ABOVE(b, k), load8(s + k * ld + 8 * b));
        for (long r = k + 1; r < n; r++) {
            double *restrict row = qt + r * ld;
            v8d x[8], acc = {0};
            for (int b = 0; b < nb; b++) if (b >= b0) {
                x[b] = load8(row + 8 * b);
                acc += x[b] * v[b];
            }
            double t = -bk * hsum8(acc);
            for (int b = 0; b < nb; b++) if (b >= b0) store8(row + 8 * b, x[b] + t * v[b]);
        }
    }
}

/* `tridiagonalise_wide` and `form_qt_wide` with nb a constant in each case (3 ≤ nb ≤ 8). */
STEP void reduce_wide(long n, double *restrict s, double *restrict d, double *restrict e, double *restrict beta,
                      double *restrict wv, double *restrict qt) {
#define REDUCE_CASE(NB) case NB: tridiagonalise_wide(NB, n, s, d, e, beta, wv); form_qt_wide(NB, n, s, beta, qt); break;
    switch (padded8(n) / 8) {
    REDUCE_CASE(3) REDUCE_CASE(4) REDUCE_CASE(5) REDUCE_CASE(6) REDUCE_CASE(7)
    default: tridiagonalise_wide(8, n, s, d, e, beta, wv); form_qt_wide(8, n, s, beta, qt); break;
    }
#undef REDUCE_CASE
}

/* `form_qt_wide` alone (the divide and conquer's fallback to QR). */
STEP void form_qt_wide_rows(long n, const double *restrict s, const double *restrict beta, double *restrict qt) {
    switch (padded8(n) / 8) {
    case 3: form_qt_wide(3, n, s, beta, qt); break;
    case 4: form_qt_wide(4, n, s, beta, qt); break;
    case 5: form_qt_wide(5, n, s, beta, qt); break;
    case 6: form_qt_wide(6, n, s, beta, qt); break;
    case 7: form_qt_wide(7, n, s, beta, qt); break;
    default: form_qt_wide(8, n, s, beta, qt); break;
    }
}

/* The secular function's two partial sums for eight roots at once, lane l at λ = d[o_l] + t_l:
 * with δ_j = (d_j − d[o_l]) − t_l, ψ = Σ_{j ≤ L_l} w_j/δ_j and ψ′ = Σ_{j ≤ L_l} w_j/δ_j², φ and φ′
 * the same over j > L_l, into s[0..8), s[8..16), s[16..24), s[24..32) (in: dO_l = d[o_l], t_l,
 * lp_l = L_l as doubles, ascending in l: the lanes' sums differ only over lp_0 < j ≤ lp_7). Two
 * partial sums each (even and odd j where all lanes agree), so that the additions are two
 * chains. 1/δ_j comes from `recip`: a division, or below an approximation. */
#define SECULAR_SUMS8_BODY(recip)                                                                              \
    v8d ps = {0}, dps = {0}, ph = {0}, dph = {0}, ps2 = {0}, dps2 = {0}, ph2 = {0}, dph2 = {0};               \
    v8d dO = load8(dOs), t = load8(ts), lp = load8(lps);                                                       \
    long jl = (long)lps[0], jh = (long)lps[7], j = 0;                                                          \
    for (; j + 1 <= jl; j += 2) {                                                                              \
        v8d dj = (d[j] - dO) - t, r = recip(dj), q = w[j] * r;                                                 \
        v8d dk = (d[j + 1] - dO) - t, rk = recip(dk), qk = w[j + 1] * rk;                                      \
        ps += q; dps += q * r; ps2 += qk; dps2 += qk * rk;                                                     \
    }                                                                                                          \
    for (; j <= jh; j++) {                                                                                     \
        v8d dj = (d[j] - dO) - t, r = recip(dj), q = w[j] * r, q2 = q * r;                                     \
        v8l left = (double)j <= lp;                                                                            \
        v8d ql = (v8d)((v8l)q & left), q2l = (v8d)((v8l)q2 & left);                                            \
        ps += ql; dps += q2l; ph += q - ql; dph += q2 - q2l;                                                   \
    }                                                                                                          \
    for (; j + 1 < k; j += 2) {                                                                                \
        v8d dj = (d[j] - dO) - t, r = recip(dj), q = w[j] * r;                                                 \
        v8d dk = (d[j + 1] - dO) - t, rk = recip(dk), qk = w[j + 1] * rk;                                      \
        ph += q; dph += q * r; ph2 += qk; dph2 += qk * rk;                                                     \
    }                                                                                                          \
    for (; j < k; j++) {                                                                                       \
        v8d dj = (d[j] - dO) - t, r = recip(dj), q = w[j] * r;                                                 \
        ph += q; dph += q * r;                                                                                 \
    }                                                                                                          \
    store8(s, ps + ps2); store8(s + 8, dps + dps2); store8(s + 16, ph + ph2); store8(s + 24, dph + dph2);
#define RECIP_DIVIDE(x) (1.0 / (x))
STEP void secular_sums8(long k, const double *restrict d, const double *restrict w, const double *restrict dOs,
                        const double *restrict ts, const double *restrict lps, double *restrict s) {
    SECULAR_SUMS8_BODY(RECIP_DIVIDE)
}

/* On AVX-512, 1/δ as the 14-bit estimate refined by two Newton steps r ← r + r(1 − δr) (error
 * below 2⁻⁵² relative: the divider's throughput, not the sums, bounded the secular solve). */
#define RECIP_NEWTON(x) ({ v8d x_ = (x), r_ = (v8d)_mm512_rcp14_pd((__m512d)x_); \
                           r_ = r_ + r_ * (1.0 - x_ * r_); r_ + r_ * (1.0 - x_ * r_); })
__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"), noinline)) static void
secular_sums8_avx512(long k, const double *restrict d, const double *restrict w, const double *restrict dOs,
                     const double *restrict ts, const double *restrict lps, double *restrict s) {
    SECULAR_SUMS8_BODY(RECIP_NEWTON)
}

#define SECULAR_SUMS8(level, ...) ((level) == 2 ? secular_sums8_avx512(__VA_ARGS__) : secular_sums8(__VA_ARGS__))

/* The root of c τ² − b τ + e = 0 inside (lo, hi), or NaN. */
STEP double quadratic_root_in(double c, double b, double e, double lo, double hi) {
    double disc = b * b - 4 * c * e;
    if (!(disc >= 0)) return NAN;
    double sq = sqrt(disc), bs = b >= 0 ? b + sq : b - sq;
    double r1 = bs / (2 * c), r2 = 2 * e / bs;
    if (r1 > lo && r1 < hi) return r1;
    if (r2 > lo && r2 < hi) return r2;
    return NAN;
}

#define SELECT(m, a, b) ((v8d)(((v8l)(a) & (m)) | ((v8l)(b) & ~(m))))

/* `quadratic_root_in` in eight lanes: the root of c τ² − b τ + e = 0 inside (lo, hi), or nan. */
#define quadratic_root8(c, b, e, lo, hi, nan) ({                                                         \
    v8d c_ = (c), b_ = (b), e_ = (e), lo_ = (lo), hi_ = (hi), z_ = {0};                                    \
    v8d disc_ = b_ * b_ - 4 * c_ * e_;                                                                     \
    v8d sq_ = __builtin_elementwise_sqrt(__builtin_elementwise_max(disc_, z_));                            \
    v8d bs_ = SELECT(b_ >= z_, b_ + sq_, b_ - sq_), r1_ = bs_ / (2 * c_), r2_ = 2 * e_ / bs_;               \
    v8l ok_ = disc_ >= z_;                                                                                 \
    SELECT(ok_ & (r1_ > lo_) & (r1_ < hi_), r1_, SELECT(ok_ & (r2_ > lo_) & (r2_ < hi_), r2_, (nan))); })

/* The k roots (2 ≤ k ≤ `WIDE_MAX`) of 1 + Σ_j w_j/δ_j = 0, δ_j = d_j − λ, over the k ascending
 * poles d (w_j > 0, Σ w_j = ρ), all at once in the lanes of ⌈k/8⌉ vectors (the sums by
 * `secular_sums8`, the steps lane-wise with masks; a lane done keeps its t, and a vector whose
 * lanes are all done is no longer evaluated, so that each stops at its own slowest root). Root i lies in
 * (d_i, d_{i+1}), the last one in (d_{k−1}, d_{k−1} + ρ]. λ is kept as d_o + τ about the nearer
 * pole o, so δ_j = (d_j − d_o) − τ keeps its relative accuracy near the pole. The bracketing
 * poles are L = min(i, k−2) and R = L + 1. The function at the bracket's middle picks o and
 * starts from the root of the model with the two poles' terms exact and the rest held at its
 * value there. Each step then models the sums over j ≤ L (ψ) and j ≥ R (φ) by c + s/δ_L and
 * c′ + s′/δ_R matched in value and slope (Li's "middle way") and takes the model's root between
 * the poles (right of both for the last root), a quadratic; the bracket [lo, hi] shrinks with the
 * sign of f, and a step outside it is a bisection, as is every other step after 20 (the model
 * steps converge quadratically; the bisections bound the count). A root is done when |f| is
 * within its rounding error, the step is below the resolution of τ, or the bracket has closed.
 * Sets origin[i], tau[i]; returns 0, or 2 if a root is not done after `SECULAR_ITERATIONS`
 * steps. */
STEP int secular_roots(const int level, long k, const double *restrict d, const double *restrict w, double rho,
                       long *restrict origin, double *restrict tau) {
    enum { LANES = WIDE_MAX, GROUPS = WIDE_MAX / 8 };
    long lpl[LANES], ol[LANES];
    double t[LANES], lo[LANES], hi[LANES], dO[LANES], tv[LANES], lpv[LANES], sums[4 * LANES];
    int active[LANES];
    const int groups = (int)((k + 7) / 8), lanes = 8 * groups;
    for (int l = 0; l < lanes; l++) {
        long i = l;
        active[l] = i < k;
        long lp = i < k - 1 ? i : k - 2;
        int last = i >= k - 1;
        lpl[l] = lp;
        ol[l] = last ? k - 1 : lp;
        t[l] = last ? 0.5 * rho : 0.5 * (d[lp + 1] - d[lp]);
        dO[l] = d[ol[l]];
        tv[l] = t[l];
        lpv[l] = (double)lp;
    }
    for (int h = 0; h < groups; h++) SECULAR_SUMS8(level, k, d, w, dO + 8 * h, tv + 8 * h, lpv + 8 * h, sums + 32 * h);
    for (int l = 0; l < lanes; l++) {
        if (!active[l]) { t[l] = -0x1p500; lo[l] = hi[l] = 0; continue; }
        long i = l, lp = lpl[l];
        int last = i == k - 1;
        const double *sh = sums + 32 * (l / 8);
        double mid = t[l], f = 1 + sh[l % 8] + sh[16 + l % 8];
        double dl = (d[lp] - d[ol[l]]) - mid, dr = (d[lp + 1] - d[ol[l]]) - mid;
        double c0 = f - w[lp] / dl - w[lp + 1] / dr;
        if (last) {
            lo[l] = f < 0 ? mid : 0;
            hi[l] = f < 0 ? rho : mid;
        } else if (f >= 0) {
            lo[l] = 0; hi[l] = mid;
        } else {
            ol[l] = lp + 1; lo[l] = -mid; hi[l] = 0; t[l] = -mid;
        }
        if (f != 0) {
            double al = d[lp] - d[ol[l]], ar = d[lp + 1] - d[ol[l]];
            double guess = quadratic_root_in(c0, c0 * (al + ar) + w[lp] + w[lp + 1],
                                             c0 * al * ar + w[lp] * ar + w[lp + 1] * al, lo[l], hi[l]);
            if (guess == guess) t[l] = guess;
        }
    }
    /* The steps, all lanes' in their vectors (a lane done keeps its t): the groups' chains of
     * dependent operations overlap. */
    double al[LANES], ar[LANES], wl[LANES], wr[LANES], act0[LANES], last0[LANES];
    for (int l = 0; l < lanes; l++) {
        long lp = lpl[l];
        dO[l] = d[ol[l]];
        al[l] = d[lp] - dO[l];
        ar[l] = d[lp + 1] - dO[l];
        wl[l] = w[lp];
        wr[l] = w[lp + 1];
        act0[l] = active[l] ? 1 : 0;
        last0[l] = l == k - 1 ? 1 : 0;
    }
    const v8d zero = {0}, half = zero + 0.5, eps = zero + DBL_EPSILON, nan = zero + NAN;
    v8d vt[GROUPS], vlo[GROUPS], vhi[GROUPS], va[GROUPS], vb[GROUPS], vwl[GROUPS], vwr[GROUPS];
    v8l act[GROUPS], lastm[GROUPS];
    int live[GROUPS];
    for (int h = 0; h < groups; h++) {
        vt[h] = load8(t + 8 * h); vlo[h] = load8(lo + 8 * h); vhi[h] = load8(hi + 8 * h);
        va[h] = load8(al + 8 * h); vb[h] = load8(ar + 8 * h); vwl[h] = load8(wl + 8 * h); vwr[h] = load8(wr + 8 * h);
        act[h] = load8(act0 + 8 * h) > zero; lastm[h] = load8(last0 + 8 * h) > zero;
        live[h] = 1;
    }
    for (int step = 0;; step++) {
        if (step == SECULAR_ITERATIONS) return 2;
        for (int h = 0; h < groups; h++) {
            if (!live[h]) continue;
            store8(tv + 8 * h, vt[h]);
            SECULAR_SUMS8(level, k, d, w, dO + 8 * h, tv + 8 * h, lpv + 8 * h, sums + 32 * h);
        }
        long any = 0;
        for (int h = 0; h < groups; h++) {
            if (!live[h]) continue;
            const double *sh = sums + 32 * h;
            v8d psi = load8(sh), dpsi = load8(sh + 8), phi = load8(sh + 16), dphi = load8(sh + 24);
            v8d f = 1 + psi + phi, t0 = vt[h], lo0 = vlo[h], hi0 = vhi[h];
            v8l ac = act[h];
            v8d err = eps * (8 * (__builtin_elementwise_abs(psi) + __builtin_elementwise_abs(phi) + 1) +
                             __builtin_elementwise_abs(t0) * (dpsi + dphi));
            ac &= __builtin_elementwise_abs(f) > err;
            v8l neg = f < zero;
            lo0 = SELECT(ac & neg, t0, lo0);
            hi0 = SELECT(ac & ~neg, t0, hi0);
            ac &= hi0 - lo0 > 2 * eps * __builtin_elementwise_max(__builtin_elementwise_abs(lo0), __builtin_elementwise_abs(hi0));
            v8d next = half * (lo0 + hi0);
            if (step < 20 || (step & 1)) {
                /* c η² − b η + δ_L δ_R f = 0 in the step η: its root with δ_L < η < δ_R (η > δ_R
                 * for the last root) and t + η inside the bracket; where there is none, the model
                 * with the two poles' terms exact and the rest held constant (as for the start). */
                v8d dl = va[h] - t0, dr = vb[h] - t0;
                v8d elo = __builtin_elementwise_max(SELECT(lastm[h], dr, dl), lo0 - t0);
                v8d ehi = SELECT(lastm[h], hi0 - t0, __builtin_elementwise_min(dr, hi0 - t0));
                v8d c = f - dpsi * dl - dphi * dr;
                v8d eta = quadratic_root8(c, c * (dl + dr) + dpsi * dl * dl + dphi * dr * dr, dl * dr * f, elo, ehi, nan);
                v8l none = ac & (eta != eta);
                long fallback = 0;
                for (int l = 0; l < 8; l++) fallback |= none[l];
                if (fallback) {
                    v8d c0 = f - vwl[h] / dl - vwr[h] / dr;
                    v8d eta0 = quadratic_root8(c0, c0 * (dl + dr) + vwl[h] + vwr[h],
                                               c0 * dl * dr + vwl[h] * dr + vwr[h] * dl, elo, ehi, nan);
                    eta = SELECT(eta == eta, eta, eta0);
                }
                v8d cand = t0 + eta;
                next = SELECT((cand > lo0) & (cand < hi0), cand, next);
            }
            ac &= next != t0;
            vt[h] = SELECT(ac, next, t0);
            vlo[h] = lo0;
            vhi[h] = hi0;
            act[h] = ac;
            long alive = 0;
            for (int l = 0; l < 8; l++) alive |= ac[l];
            live[h] = alive != 0;
            any |= alive;
        }
        if (!any) break;
    }
    for (int h = 0; h < groups; h++) store8(t + 8 * h, vt[h]);
    for (int l = 0; l < k; l++) { origin[l] = ol[l]; tau[l] = t[l]; }
    return 0;
}

/* The rank-one update's eigenvectors from its roots: dl holds d_i − λ_j in row j (kp = ⌈k/8⌉·8
 * doubles, 1 in the pads; ds: the k poles, 0 in the pads). The weights are recomputed from the
 * roots (Löwner's formula, Gu & Eisenstat): ŵ_i = Π_j (λ_j − d_i) / Π_{j≠i} (d_j − d_i), factor by
 * factor (the partial products stay within the ratio of the spectrum's width to the smallest
 * gap), ẑ_i = ±ŵ_i^½ with z_{nd[i]}'s sign; then row j of dl becomes eigenvector j,
 * (ẑ_i / (d_i − λ_j))_i normalised. The quotients through `recip` (see `secular_sums8`). */
#define DC_VECTORS_BODY(recip)                                                                                 \
    const long kp = padded8(k);                                                                                \
    const v8d lane = {0, 1, 2, 3, 4, 5, 6, 7}, one = {1, 1, 1, 1, 1, 1, 1, 1};                                 \
    for (long i = 0; i < kp; i += 8) store8(zh + i, one);                                                      \
    for (long j = 0; j < k; j++) {                                                                             \
        const double *restrict dj = dl + j * kp;                                                               \
        for (long i = 0; i < kp; i += 8) {                                                                     \
            v8l eq = lane + (double)i == (double)j;                                                            \
            v8d den = ds[j] - load8(ds + i);                                                                   \
            den = (v8d)(((v8l)den & ~eq) | ((v8l)one & eq));                                                   \
            store8(zh + i, load8(zh + i) * (-load8(dj + i) * recip(den)));                                     \
        }                                                                                                      \
    }                                                                                                          \
    for (long i = 0; i < kp; i++) {                                                                            \
        double r = i < k ? sqrt(fabs(zh[i])) : 0;                                                              \
        zh[i] = i < k && z[nd[i]] < 0 ? -r : r;                                                                \
    }                                                                                                          \
    for (long j = 0; j < k; j++) {                                                                             \
        double *restrict u = dl + j * kp;                                                                      \
        v8d acc = {0};                                                                                         \
        for (long i = 0; i < kp; i += 8) {                                                                     \
            v8d x = load8(zh + i) * recip(load8(u + i));                                                       \
            store8(u + i, x);                                                                                  \
            acc += x * x;                                                                                      \
        }                                                                                                      \
        double ss = 0;                                                                                         \
        for (int l = 0; l < 8; l++) ss += acc[l];                                                              \
        double inv = 1.0 / sqrt(ss);                                                                           \
        for (long i = 0; i < k; i++) u[i] *= inv;                                                              \
    }
STEP void dc_vectors(long k, const double *restrict ds, const double *restrict z, const long *restrict nd,
                     double *restrict dl, double *restrict zh) {
    DC_VECTORS_BODY(RECIP_DIVIDE)
}
__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"), noinline)) static void
dc_vectors_avx512(long k, const double *restrict ds, const double *restrict z, const long *restrict nd,
                  double *restrict dl, double *restrict zh) {
    DC_VECTORS_BODY(RECIP_NEWTON)
}
#define DC_VECTORS(level, ...) ((level) == 2 ? dc_vectors_avx512(__VA_ARGS__) : dc_vectors(__VA_ARGS__))

/* out_j = Σ_i u_j[i] · rows[i] (rows of ld doubles, a multiple of 8, given by pointers) for the
 * m × m coefficients u (row j at u + j·ldu): four outputs a pass over sixteen columns (then
 * eight), their sums in registers, so that each row's entries are loaded once for four products
 * and each coefficient once for two vectors. */
STEP void combine_rows(double *restrict out, const double *const *rows, const double *restrict u, long ldu, long m,
                       long ld) {
    long j = 0;
    for (; j + 4 <= m; j += 4) {
        const double *restrict u0 = u + j * ldu, *restrict u1 = u0 + ldu, *restrict u2 = u1 + ldu, *restrict u3 = u2 + ldu;
        long c = 0;
        for (; c + 16 <= ld; c += 16) {
            v8d a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
            for (long i = 0; i < m; i++) {
                const double *x = rows[i] + c;
                v8d x0 = load8(x), x1 = load8(x + 8);
                double s0 = u0[i], s1 = u1[i], s2 = u2[i], s3 = u3[i];
                a0 += s0 * x0; a1 += s1 * x0; a2 += s2 * x0; a3 += s3 * x0;
                b0 += s0 * x1; b1 += s1 * x1; b2 += s2 * x1; b3 += s3 * x1;
            }
            store8(out + j * ld + c, a0); store8(out + j * ld + c + 8, b0);
            store8(out + (j + 1) * ld + c, a1); store8(out + (j + 1) * ld + c + 8, b1);
            store8(out + (j + 2) * ld + c, a2); store8(out + (j + 2) * ld + c + 8, b2);
            store8(out + (j + 3) * ld + c, a3); store8(out + (j + 3) * ld + c + 8, b3);
        }
        for (; c < ld; c += 8) {
            v8d a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (long i = 0; i < m; i++) {
                v8d x = load8(rows[i] + c);
                a0 += u0[i] * x; a1 += u1[i] * x; a2 += u2[i] * x; a3 += u3[i] * x;
            }
            store8(out + j * ld + c, a0);
            store8(out + (j + 1) * ld + c, a1);
            store8(out + (j + 2) * ld + c, a2);
            store8(out + (j + 3) * ld + c, a3);
        }
    }
    for (; j < m; j++) {
        const double *restrict u0 = u + j * ldu;
        for (long c = 0; c < ld; c += 8) {
            v8d a0 = {0};
            for (long i = 0; i < m; i++) a0 += u0[i] * load8(rows[i] + c);
            store8(out + j * ld + c, a0);
        }
    }
}

/* The tridiagonal T (d, e) and vt = Qᵀ (n rows of ld = ⌈n/8⌉·8 doubles, lanes ≥ n zero) to
 * the eigendecomposition A = V diag(w) Vᵀ, V written into a (leading dimension lda) or, when vo
 * is not null, Vᵀ as the rows of vo (leading dimension ldvo; a untouched), w ascending and
 * scaled back by 2^scale. Returns 0, or 2 when a half's QR or a secular root did
 * not converge (d, e and vt are then spoilt). cbuf, sbuf: 2n doubles each; ext: `dc_extra(n)`. */
STEP int dc_eigen(const int level, long n, double *d, double *restrict e, double *restrict vt,
                  double *restrict cbuf, double *restrict sbuf, double *restrict ext, double *restrict a, long lda, double *wout,
                  int scale, double *restrict vo, long ldvo) {
    const long ld = padded8(n), nb = ld / 8, m = n / 2, np = ld;
    double *restrict nvt = ext, *restrict dl = nvt + n * ld, *restrict z = dl + n * np, *restrict w = z + np;
    double *restrict ds = w + np, *restrict zh = ds + np, *restrict tau = zh + np;
    double *restrict val = tau + np;
    long idx[WIDE_MAX], nd[WIDE_MAX], org[WIDE_MAX], order[WIDE_MAX];
    const double *rows[WIDE_MAX], *src[WIDE_MAX];

    double beta = e[m - 1], rho = fabs(beta);
    /* z of unit length, ρ doubled: D + ρ v vᵀ with ‖v‖² = 2. z = Zᵀv = Vᵀ(Qv) after the halves'
     * QR, Qv = (rows m−1 and m of Qᵀ, the second signed) / √2, into zh before it. */
    const double root_half = 0.70710678118654752440;
    double sign = beta >= 0 ? root_half : -root_half;
    for (long r = 0; r < ld; r++) zh[r] = root_half * vt[(m - 1) * ld + r] + sign * vt[m * ld + r];
    d[m - 1] -= rho;
    d[m] -= rho;
    e[m - 1] = 0;
    int info = tridiagonal_qr_pair_rows(nb, m, n - m, d, e, vt, cbuf, sbuf);
    if (info != 0) return info;

    rho *= 2;
    double dmax = 0;
    for (long i = 0; i < n; i++) {
        const double *restrict row = vt + i * ld;
        v8d acc = {0};
        for (long c = 0; c < ld; c += 8) acc += load8(row + c) * load8(zh + c);
        double s = 0;
        for (int l = 0; l < 8; l++) s += acc[l];
        z[i] = s;
        dmax = fmax(dmax, fabs(d[i]));
    }
    /* idx: the indices by ascending d (insertion sort). */
    for (long i = 0; i < n; i++) {
        long j = i;
        while (j > 0 && d[idx[j - 1]] > d[i]) { idx[j] = idx[j - 1]; j--; }
        idx[j] = i;
    }
    /* Deflation: nd[0..k) the undeflated indices (ascending d), the deflated ones final. */
    double tol = 8 * DBL_EPSILON * fmax(dmax, rho);
    long k = 0, nf = 0, pj = -1;
    for (long t = 0; t < n; t++) {
        long j = idx[t];
        if (rho * fabs(z[j]) <= tol) { val[nf] = d[j]; src[nf++] = vt + j * ld; continue; }
        if (pj < 0) { pj = j; continue; }
        double r = norm2(z[pj], z[j]), c = z[j] / r, s = z[pj] / r;
        if (fabs(c * s * (d[j] - d[pj])) <= tol) {
            double *restrict xa = vt + pj * ld, *restrict xb = vt + j * ld;
            for (long col = 0; col < ld; col++) {
                double ya = xa[col], yb = xb[col];
                xa[col] = c * ya - s * yb;
                xb[col] = s * ya + c * yb;
            }
            double da = d[pj], db = d[j];
            d[pj] = c * c * da + s * s * db;
            d[j] = s * s * da + c * c * db;
            z[j] = r;
            z[pj] = 0;
            val[nf] = d[pj]; src[nf++] = xa;
        } else {
            nd[k++] = pj;
        }
        pj = j;
    }
    if (pj >= 0) nd[k++] = pj;

    if (k > 0) {
        const long kp = padded8(k);
        double wsum = 0;
        for (long i = 0; i < k; i++) {
            ds[i] = d[nd[i]];
            w[i] = rho * z[nd[i]] * z[nd[i]];
            wsum += w[i];
            rows[i] = vt + nd[i] * ld;
        }
        for (long i = k; i < kp; i++) { ds[i] = 0; w[i] = 0; }
        /* The roots, then row j of dl (kp doubles) holds d_i − λ_j (1 in the pads). */
        if (k == 1) { org[0] = 0; tau[0] = w[0]; }
        if (k > 1) {
            int r = secular_roots(level, k, ds, w, wsum, org, tau);
            if (r != 0) return r;
        }
        for (long j = 0; j < k; j++) {
            double *restrict row = dl + j * kp, dO = ds[org[j]], tj = tau[j];
            for (long i = 0; i < k; i++) row[i] = (ds[i] - dO) - tj;
            for (long i = k; i < kp; i++) row[i] = 1;
        }
        DC_VECTORS(level, k, ds, z, nd, dl, zh);
        for (long j = 0; j < k; j++) {
            val[nf] = ds[org[j]] + tau[j];
            src[nf++] = nvt + j * ld;
        }
        combine_rows(nvt, rows, dl, kp, k, ld);
    }
    /* Ascending order, then V = (Vᵀ)ᵀ into A, or Vᵀ's rows into vo. */
    for (long i = 0; i < n; i++) {
        long j = i;
        while (j > 0 && val[order[j - 1]] > val[i]) { order[j] = order[j - 1]; j--; }
        order[j] = i;
    }
    for (long c = 0; c < n; c++) {
        const double *restrict s = src[order[c]];
        wout[c] = scale != 0 ? ldexp(val[order[c]], scale) : val[order[c]];
        if (vo) copy_row(vo + c * ldvo, s, n);
        else for (long r = 0; r < n; r++) a[r * lda + c] = s[r];
    }
    return 0;
}

/* When amax, A's largest |entry|, is beyond 2^±100 (where the products of four entries that the
 * rotations and the secular equation form could leave the normal range: at 2^−404…2^−348 every
 * eigenvalue came out 0 with success reported), scales the first `cols` entries of A's n rows
 * (leading dimension lda) by a power of two (exact), 2^−scale; returns the exponent, 0 otherwise. */
STEP int scale_to_unit(long n, long cols, double *restrict a, long lda, double amax) {
    int scale = 0;
    if (amax != 0 && (amax > 0x1p100 || amax < 0x1p-100)) {
        frexp(amax, &scale);
        for (long i = 0; i < n; i++)
            for (long j = 0; j < cols; j++) a[i * lda + j] = ldexp(a[i * lda + j], -scale);
    }
    return scale;
}

/* The largest |entry| of A's lower triangle (n rows, leading dimension lda), or −1 if one is a
 * NaN or infinity. */
STEP double largest_lower(long n, const double *restrict a, long lda) {
    double amax = 0;
    for (long i = 0; i < n; i++)
        for (long j = 0; j <= i; j++) {
            double v = fabs(a[i * lda + j]);
            if (!(v <= DBL_MAX)) return -1;
            amax = v > amax ? v : amax;
        }
    return amax;
}

/* `largest_lower` on n rows of ld doubles (a multiple of 8; A exactly symmetric, entries past
 * column n zero): all lanes at once, the finite check as a sum of a − a (0 for finite a, NaN
 * otherwise), no branch per entry. */
STEP double largest_rows(long n, const double *restrict a, long ld) {
    v8d m = {0}, f = {0};
    for (long i = 0; i < n; i++)
        for (long c = 0; c < ld; c += 8) {
            v8d x = load8(a + i * ld + c);
            f += x - x;
            m = __builtin_elementwise_max(m, __builtin_elementwise_abs(x));
        }
    double amax = 0, finite = 0;
    for (int j = 0; j < 8; j++) {
        amax = m[j] > amax ? m[j] : amax;
        finite += f[j];
    }
    return finite == 0 ? amax : -1;
}

/* w ascending with the rows of vt (ldv doubles each; selection sort, n swaps of rows at most),
 * then w scaled back by 2^scale. */
STEP void sort_ascending(long n, double *restrict w, double *restrict vt, long ldv, int scale) {
    for (long i = 0; i + 1 < n; i++) {
        long k = i;
        for (long j = i + 1; j < n; j++) if (w[j] < w[k]) k = j;
        if (k != i) {
            double t = w[i]; w[i] = w[k]; w[k] = t;
            for (long c = 0; c < ldv; c++) { t = vt[i * ldv + c]; vt[i * ldv + c] = vt[k * ldv + c]; vt[k * ldv + c] = t; }
        }
    }
    if (scale != 0) for (long i = 0; i < n; i++) w[i] = ldexp(w[i], scale);
}

/* Eigendecomposition of the full symmetric A (rows of FW, lanes ≥ n zero; overwritten), 1 ≤ n
 * ≤ FW: on success (0) row j of vt (rows of FW, lanes ≥ n zero) is the unit eigenvector of w[j],
 * ascending. Returns 1 for a non-finite A, 2 without convergence. vec holds 3·FW doubles. A is
 * read as given (both triangles), so it must be exactly symmetric. */
STEP int fw_eigen(long n, double *restrict a, double *restrict w, double *restrict vt, double *restrict vec) {
    double amax = largest_rows(n, a, FW);
    if (amax < 0) return 1;
    int scale = scale_to_unit(n, FW, a, FW, amax);
    double *restrict e = vec, *restrict cv = vec + FW, *restrict sv = vec + 2 * FW;
    fw_tridiagonalise(n, a, vt, w, e);
    int info = tridiagonal_qr(n, w, e, vt, FW, cv, sv, 1);
    if (info != 0) return info;
    sort_ascending(n, w, vt, FW, scale);
    return 0;
}

/* `symmetric_eigen`'s contract for n ≤ FW through `fw_eigen`: A's lower triangle copied into
 * rows of FW in full, V written back as columns (or Vᵀ as the rows of vo). */
STEP int fw_symmetric_eigen(long n, double *restrict a, long lda, double *restrict w, double *restrict work,
                            double *restrict vo, long ldvo) {
    double *restrict s = work, *restrict vt = work + FW * FW, *restrict vec = vt + FW * FW;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < FW; j++) s[i * FW + j] = 0;
    for (long i = 0; i < n; i++)
        for (long j = 0; j <= i; j++) s[i * FW + j] = s[j * FW + i] = a[i * lda + j];
    int info = fw_eigen(n, s, w, vt, vec);
    if (info != 0) return info;
    if (vo) for (long i = 0; i < n; i++) copy_row(vo + i * ldvo, vt + i * FW, n);
    else for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) a[i * lda + j] = vt[j * FW + i];
    return 0;
}

/* The eigendecomposition of `sme_symmetric_eigen`, V into a, or (vo not null) Vᵀ as the rows of
 * vo, leading dimension ldvo (`sme_symmetric_eigen_rows`). */
STEP int symmetric_eigen(const int level, long n, double *restrict a, long lda, double *restrict w, double *restrict work,
                         double *restrict vo, long ldvo) {
    if (n <= 0) return 0;
    if (n <= FW) return fw_symmetric_eigen(n, a, lda, w, work, vo, ldvo);
    long ld = n;
    int info, scale;
    double *restrict vt;
    if (n <= WIDE_MAX) {
        /* A (both triangles, from the lower one) into rows of ld, checked and scaled there, then
         * Vᵀ = Qᵀ in rows of ld. */
        ld = padded8(n);
        double *restrict s = work, *restrict e = s + n * ld, *restrict beta = e + n, *restrict wv = beta + n;
        double *restrict cv = wv + ld, *restrict sv = cv + 2 * n;
        vt = sv + 2 * n;
        for (long i = 0; i < n; i++) {
            for (long j = 0; j <= i; j++) s[i * ld + j] = a[i * lda + j];
            for (long j = i + 1; j < n; j++) s[i * ld + j] = a[j * lda + i];
            for (long j = n; j < ld; j++) s[i * ld + j] = 0;
        }
        double amax = largest_rows(n, s, ld);
        if (amax < 0) return 1;
        scale = scale_to_unit(n, ld, s, ld, amax);
        reduce_wide(n, s, w, e, beta, wv, vt);
        if (n >= DC_MIN && n <= DC_MAX) {
            /* Divide and conquer, with T kept (and Qᵀ formed again) for the QR path should it fail. */
            double *restrict ext = vt + n * ld, *restrict keep = ext + dc_extra(n);
            for (long i = 0; i < n; i++) { keep[i] = w[i]; keep[n + i] = e[i]; }
            if (dc_eigen(level, n, w, e, vt, cv, sv, ext, a, lda, w, scale, vo, ldvo) == 0) return 0;
            for (long i = 0; i < n; i++) { w[i] = keep[i]; e[i] = keep[n + i]; }
            form_qt_wide_rows(n, s, beta, vt);
        }
        info = tridiagonal_qr_wide(n, w, e, vt, cv, sv);
    } else {
        /* Scaled (the strict upper triangle too, whatever it holds), then symmetrised from the
         * lower triangle; Vᵀ starts as Qᵀ. */
        double amax = largest_lower(n, a, lda);
        if (amax < 0) return 1;
        scale = scale_to_unit(n, n, a, lda, amax);
        for (long i = 0; i < n; i++)
            for (long j = i + 1; j < n; j++) a[i * lda + j] = a[j * lda + i];
        double *restrict e = work + n * n, *restrict beta = e + n, *restrict p = beta + n;
        double *restrict cv = p + n, *restrict sv = cv + 2 * n;
        vt = work;
        tridiagonalise(n, a, lda, w, e, beta, p);
        form_q(n, a, lda, beta, vt, p);
        for (long i = 0; i < n; i++)
            for (long j = i + 1; j < n; j++) {
                double t = vt[i * n + j];
                vt[i * n + j] = vt[j * n + i];
                vt[j * n + i] = t;
            }
        info = tridiagonal_qr(n, w, e, vt, n, cv, sv, 0);
    }
    if (info != 0) return info;

    /* V = (Vᵀ)ᵀ into A, or Vᵀ into vo. */
    sort_ascending(n, w, vt, ld, scale);
    if (vo) for (long i = 0; i < n; i++) copy_row(vo + i * ldvo, vt + i * ld, n);
    else for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) a[i * lda + j] = vt[j * ld + i];
    return 0;
}

/* Copies an n-row into a row of FW, zero beyond n. */
STEP void fw_load_row(double *restrict out, const double *restrict x, long n) {
    for (long j = 0; j < n; j++) out[j] = x[j];
    for (long j = n; j < FW; j++) out[j] = 0;
}

/* The OMT backward rule's n×n part (see SmallEigen.h) on rows of FW. */
STEP int omt_gradient(long n, long rows, const double *restrict l, const double *restrict eps, const double *restrict z0,
                      const double *restrict g, double *restrict gl, double *restrict work) {
    double *restrict p = work, *restrict r = p + FW * FW, *restrict a = r + FW * FW, *restrict vt = a + FW * FW;
    double *restrict v = vt + FW * FW, *restrict c = v + FW * FW, *restrict m = c + FW * FW, *restrict b = m + FW * FW;
    double *restrict k = b + FW * FW, *restrict gm = k + FW * FW, *restrict w = gm + FW * FW, *restrict vec = w + FW;
    double *restrict es = vec + 3 * FW, *restrict zs = es + FW, *restrict gs = zs + FW, *restrict gr = gs + FW;
    double *restrict zv = gr + FW, *restrict gv = zv + FW;

    /* P = L⁻¹ by rows, P_i = (e_i − Σ_{q<i} L_iq P_q) / L_ii; R = L⁻ᵀ = Pᵀ. */
    for (long i = 0; i < n; i++) {
        double *restrict pi = p + i * FW;
        for (long j = 0; j < FW; j++) pi[j] = j == i ? 1 : 0;
        fw_rows_sum(pi, p, l + i * n, 0, i, -1.0, 1);
        double inv = 1.0 / l[i * n + i];
        for (long j = 0; j < FW; j++) pi[j] *= inv;
    }
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < n; j++) r[i * FW + j] = p[j * FW + i];
        for (long j = n; j < FW; j++) r[i * FW + j] = 0;
    }
    /* Σ⁻¹ = R Rᵀ, row i = Σ_k R_ik P_k. Summed from k = 0 (R_ik = 0 below the diagonal adds
     * exact zeros), so both triangles hold the same products in the same order: A comes out
     * exactly symmetric, as `fw_eigen` needs. */
    for (long i = 0; i < n; i++) fw_rows_sum(a + i * FW, p, r + i * FW, 0, n, 1.0, 0);

    int info = fw_eigen(n, a, w, vt, vec);
    if (info != 0) return info;
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < n; j++) v[i * FW + j] = vt[j * FW + i];
        for (long j = n; j < FW; j++) v[i * FW + j] = 0;
    }

    /* G = ½ Σ_s (g_s ⊗ ε_s + z₀_s ⊗ g_s R) and Ĉ = Σ_s (z₀_s V) ⊗ (g_s V), row by row. */
    for (long i = 0; i < n; i++)
        for (long j = 0; j < FW; j++) gm[i * FW + j] = c[i * FW + j] = 0;
    for (long s = 0; s < rows; s++) {
        fw_load_row(es, eps + s * n, n);
        fw_load_row(zs, z0 + s * n, n);
        fw_load_row(gs, g + s * n, n);
        fw_rows_sum(gr, r, gs, 0, n, 1.0, 0);
        fw_rows_sum(zv, v, zs, 0, n, 1.0, 0);
        fw_rows_sum(gv, v, gs, 0, n, 1.0, 0);
        for (long i = 0; i < n; i++) {
            fw_axpy(gm + i * FW, es, 0.5 * gs[i]);
            fw_axpy(gm + i * FW, gr, 0.5 * zs[i]);
            fw_axpy(c + i * FW, gv, zv[i]);
        }
    }

    /* M_ij = (λ_i − λ_j)/(λ_i + λ_j) · (Ĉ + Ĉᵀ)_ij, antisymmetric. */
    for (long i = 0; i < n; i++)
        for (long j = 0; j < FW; j++) m[i * FW + j] = 0;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < i; j++) {
            /* The ratio (|·| ≤ 1) first: Ĉ/(λ_i + λ_j) scales as |L|³ and leaves the range for
               |L| beyond about 10^±100, where the rule itself (invariant under L → cL) does not. */
            double q = (w[i] - w[j]) / (w[i] + w[j]) * (c[i * FW + j] + c[j * FW + i]);
            m[i * FW + j] = q;
            m[j * FW + i] = -q;
        }

    /* G += ½ V M Vᵀ R: B = M Vᵀ, K = V B, G_i += ½ Σ_j K_ij R_j. */
    for (long i = 0; i < n; i++) fw_rows_sum(b + i * FW, vt, m + i * FW, 0, n, 1.0, 0);
    for (long i = 0; i < n; i++) fw_rows_sum(k + i * FW, b, v + i * FW, 0, n, 1.0, 0);
    for (long i = 0; i < n; i++) fw_rows_sum(gm + i * FW, r, k + i * FW, 0, n, 0.5, 1);

    for (long i = 0; i < n; i++)
        for (long j = 0; j <= i; j++) gl[i * n + j] += gm[i * FW + j];
    return 0;
}

static int sme_base(long n, double *a, long lda, double *w, double *work, double *vo, long ldvo) {
    return symmetric_eigen(0, n, a, lda, w, work, vo, ldvo);
}
__attribute__((target("avx2,fma"))) static int sme_avx2(long n, double *a, long lda, double *w, double *work, double *vo,
                                                        long ldvo) {
    return symmetric_eigen(1, n, a, lda, w, work, vo, ldvo);
}
__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) static int sme_avx512(long n, double *a, long lda, double *w,
                                                                                     double *work, double *vo, long ldvo) {
    return symmetric_eigen(2, n, a, lda, w, work, vo, ldvo);
}

static int sme_dispatch(int level, long n, double *a, long lda, double *w, double *work, double *vo, long ldvo) {
    int have = svm_cpu_level();
    switch (level < have ? level : have) {
    case 2: return sme_avx512(n, a, lda, w, work, vo, ldvo);
    case 1: return sme_avx2(n, a, lda, w, work, vo, ldvo);
    default: return sme_base(n, a, lda, w, work, vo, ldvo);
    }
}

int sme_symmetric_eigen_at(int level, long n, double *a, long lda, double *w, double *work) {
    return sme_dispatch(level, n, a, lda, w, work, NULL, 0);
}

int sme_symmetric_eigen(long n, double *a, long lda, double *w, double *work) {
    return sme_dispatch(svm_cpu_level(), n, a, lda, w, work, NULL, 0);
}

int sme_symmetric_eigen_rows_at(int level, long n, double *a, long lda, double *w, double *vt, long ldvt, double *work) {
    return sme_dispatch(level, n, a, lda, w, work, vt, ldvt);
}

int sme_symmetric_eigen_rows(long n, double *a, long lda, double *w, double *vt, long ldvt, double *work) {
    return sme_dispatch(svm_cpu_level(), n, a, lda, w, work, vt, ldvt);
}

static int omt_base(long n, long rows, const double *l, const double *eps, const double *z0, const double *g, double *gl,
                    double *work) {
    return omt_gradient(n, rows, l, eps, z0, g, gl, work);
}
__attribute__((target("avx2,fma"))) static int omt_avx2(long n, long rows, const double *l, const double *eps,
                                                        const double *z0, const double *g, double *gl, double *work) {
    return omt_gradient(n, rows, l, eps, z0, g, gl, work);
}
__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) static int omt_avx512(long n, long rows, const double *l,
                                                                                     const double *eps, const double *z0,
                                                                                     const double *g, double *gl,
                                                                                     double *work) {
    return omt_gradient(n, rows, l, eps, z0, g, gl, work);
}

long sme_omt_workspace(void) { return 10 * FW * FW + 10 * FW; }

int sme_omt_gradient_at(int level, long n, long rows, const double *l, const double *eps, const double *z0,
                        const double *g, double *gl, double *work) {
    if (n < 1 || n > FW || rows < 0) return n == 0 ? 0 : -1;
    int have = svm_cpu_level();
    switch (level < have ? level : have) {
    case 2: return omt_avx512(n, rows, l, eps, z0, g, gl, work);
    case 1: return omt_avx2(n, rows, l, eps, z0, g, gl, work);
    default: return omt_base(n, rows, l, eps, z0, g, gl, work);
    }
}

int sme_omt_gradient(long n, long rows, const double *l, const double *eps, const double *z0, const double *g,
                     double *gl, double *work) {
    return sme_omt_gradient_at(svm_cpu_level(), n, rows, l, eps, z0, g, gl, work);
}
