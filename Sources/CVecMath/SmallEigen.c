#include "SmallEigen.h"
#include "CVecMath.h"
#include <float.h>
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

/* From `WIDE_MIN` to `WIDE_MAX` the QR part runs `tridiagonal_qr_overlapped` on Vᵀ with rows
 * padded to a multiple of eight doubles: workspace n² (Q) + 7n + n·⌈n/8⌉·8 (Vᵀ); above, n² (Vᵀ)
 * + 7n; up to `SME_FIXED_WIDTH`, the fixed-width path's. */
enum { WIDE_MIN = SME_FIXED_WIDTH + 1, WIDE_MAX = 64 };
static long padded8(long n) { return (n + 7) / 8 * 8; }
long sme_workspace(long n) {
    if (n <= SME_FIXED_WIDTH) return 2 * SME_FIXED_WIDTH * SME_FIXED_WIDTH + 3 * SME_FIXED_WIDTH;
    return n * n + 7 * n + (n <= WIDE_MAX ? n * padded8(n) : 0);
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
        if (tail == 0) { e[k] = x[0]; beta[k] = 0; continue; }
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
        if (tail == 0) { e[k] = x0; continue; }
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

/* |e| negligible beside its two diagonal neighbours. */
STEP int negligible(double e, double d0, double d1) {
    return fabs(e) <= DBL_EPSILON * (fabs(d0) + fabs(d1));
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
            *pz2 = ze * ze * iq;
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

/* When amax, A's largest |entry|, is so far from 1 that squares could overflow or underflow,
 * scales the first `cols` entries of A's n rows (leading dimension lda) by a power of two
 * (exact), 2^−scale; returns the exponent, 0 otherwise. */
STEP int scale_to_unit(long n, long cols, double *restrict a, long lda, double amax) {
    int scale = 0;
    if (amax != 0 && (amax > 0x1p400 || amax < 0x1p-400)) {
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

/* `largest_lower` on rows of FW (A exactly symmetric, lanes ≥ n zero): all lanes at once, the
 * finite check as a sum of a − a (0 for finite a, NaN otherwise), no branch per entry. */
STEP double fw_largest(long n, const double *restrict a) {
    v8d m0 = {0}, m1 = {0}, f = {0};
    for (long i = 0; i < n; i++) {
        v8d x0 = load8(a + i * FW), x1 = load8(a + i * FW + 8);
        f += (x0 - x0) + (x1 - x1);
        m0 = __builtin_elementwise_max(m0, __builtin_elementwise_abs(x0));
        m1 = __builtin_elementwise_max(m1, __builtin_elementwise_abs(x1));
    }
    double amax = 0, finite = 0;
    for (int j = 0; j < 8; j++) {
        amax = m0[j] > amax ? m0[j] : amax;
        amax = m1[j] > amax ? m1[j] : amax;
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
    double amax = fw_largest(n, a);
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
 * rows of FW in full, V written back as columns. */
STEP int fw_symmetric_eigen(long n, double *restrict a, long lda, double *restrict w, double *restrict work) {
    double *restrict s = work, *restrict vt = work + FW * FW, *restrict vec = vt + FW * FW;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < FW; j++) s[i * FW + j] = 0;
    for (long i = 0; i < n; i++)
        for (long j = 0; j <= i; j++) s[i * FW + j] = s[j * FW + i] = a[i * lda + j];
    int info = fw_eigen(n, s, w, vt, vec);
    if (info != 0) return info;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) a[i * lda + j] = vt[j * FW + i];
    return 0;
}

STEP int symmetric_eigen(long n, double *restrict a, long lda, double *restrict w, double *restrict work) {
    if (n <= 0) return 0;
    if (n <= FW) return fw_symmetric_eigen(n, a, lda, w, work);
    /* Scale (the strict upper triangle too, whatever it holds), then symmetrise from the lower triangle. */
    double amax = largest_lower(n, a, lda);
    if (amax < 0) return 1;
    int scale = scale_to_unit(n, n, a, lda, amax);
    for (long i = 0; i < n; i++)
        for (long j = i + 1; j < n; j++) a[i * lda + j] = a[j * lda + i];

    double *restrict vt = work, *restrict e = work + n * n, *restrict beta = e + n, *restrict p = beta + n;
    double *restrict cv = p + n, *restrict sv = cv + 2 * n;
    tridiagonalise(n, a, lda, w, e, beta, p);
    long ld = n;
    int info;
    if (n <= WIDE_MAX) {
        /* Q into the first n² doubles, Vᵀ = Qᵀ (rows padded with zeros) after the rest. */
        double *restrict q = work;
        vt = sv + 2 * n;
        ld = padded8(n);
        form_q(n, a, lda, beta, q, p);
        for (long i = 0; i < n; i++) {
            for (long j = 0; j < n; j++) vt[i * ld + j] = q[j * n + i];
            for (long j = n; j < ld; j++) vt[i * ld + j] = 0;
        }
        info = tridiagonal_qr_wide(n, w, e, vt, cv, sv);
    } else {
        form_q(n, a, lda, beta, vt, p);
        /* Vᵀ starts as Qᵀ. */
        for (long i = 0; i < n; i++)
            for (long j = i + 1; j < n; j++) {
                double t = vt[i * n + j];
                vt[i * n + j] = vt[j * n + i];
                vt[j * n + i] = t;
            }
        info = tridiagonal_qr(n, w, e, vt, n, cv, sv, 0);
    }
    if (info != 0) return info;

    /* V = (Vᵀ)ᵀ into A. */
    sort_ascending(n, w, vt, ld, scale);
    for (long i = 0; i < n; i++)
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
            double q = (c[i * FW + j] + c[j * FW + i]) / (w[i] + w[j]);
            m[i * FW + j] = (w[i] - w[j]) * q;
            m[j * FW + i] = (w[j] - w[i]) * q;
        }

    /* G += ½ V M Vᵀ R: B = M Vᵀ, K = V B, G_i += ½ Σ_j K_ij R_j. */
    for (long i = 0; i < n; i++) fw_rows_sum(b + i * FW, vt, m + i * FW, 0, n, 1.0, 0);
    for (long i = 0; i < n; i++) fw_rows_sum(k + i * FW, b, v + i * FW, 0, n, 1.0, 0);
    for (long i = 0; i < n; i++) fw_rows_sum(gm + i * FW, r, k + i * FW, 0, n, 0.5, 1);

    for (long i = 0; i < n; i++)
        for (long j = 0; j <= i; j++) gl[i * n + j] += gm[i * FW + j];
    return 0;
}

static int sme_base(long n, double *a, long lda, double *w, double *work) {
    return symmetric_eigen(n, a, lda, w, work);
}
__attribute__((target("avx2,fma"))) static int sme_avx2(long n, double *a, long lda, double *w, double *work) {
    return symmetric_eigen(n, a, lda, w, work);
}
__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) static int sme_avx512(long n, double *a, long lda, double *w,
                                                                                     double *work) {
    return symmetric_eigen(n, a, lda, w, work);
}

int sme_symmetric_eigen_at(int level, long n, double *a, long lda, double *w, double *work) {
    int have = svm_cpu_level();
    switch (level < have ? level : have) {
    case 2: return sme_avx512(n, a, lda, w, work);
    case 1: return sme_avx2(n, a, lda, w, work);
    default: return sme_base(n, a, lda, w, work);
    }
}

int sme_symmetric_eigen(long n, double *a, long lda, double *w, double *work) {
    return sme_symmetric_eigen_at(svm_cpu_level(), n, a, lda, w, work);
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
