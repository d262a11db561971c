#include "CVecMath.h"
#include <math.h>
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))

/* Each body is written once over `x` and `y` and instantiated four times: baseline and AVX2,
 * out of place (restrict pointers) and in place (one pointer). Without the in-place variant
 * the vectoriser's run-time overlap check sends `f(x, x, n)` down the scalar loop. */
#define KERNEL(name, ...)                                                                          \
    static void name##_base(const double *restrict x, double *restrict y, long n) { __VA_ARGS__ }  \
    static AVX2 void name##_avx2(const double *restrict x, double *restrict y, long n) { __VA_ARGS__ } \
    static void name##_base_in(double *y, long n) { const double *x = y; __VA_ARGS__ }             \
    static AVX2 void name##_avx2_in(double *y, long n) { const double *x = y; __VA_ARGS__ }

KERNEL(k_exp, for (long i = 0; i < n; i++) y[i] = exp(x[i]);)
KERNEL(k_log, for (long i = 0; i < n; i++) y[i] = log(x[i]);)
/* log1p(v) = log(u) * v / (u - 1) with u = 1 + v rounded: exact to a few ulp for tiny v. */
KERNEL(k_log1p, for (long i = 0; i < n; i++) {
    double v = x[i], u = 1.0 + v, l = log(u), d = u - 1.0;
    y[i] = d == 0.0 ? v : l * (v / d);
})
KERNEL(k_sigmoid, for (long i = 0; i < n; i++) y[i] = 1.0 / (1.0 + exp(-x[i]));)
/* softplus(t) = max(t, 0) + log1p(exp(-|t|)). */
KERNEL(k_softplus, for (long i = 0; i < n; i++) {
    double t = x[i], a = fabs(t), e = exp(-a), u = 1.0 + e, l = log(u), d = u - 1.0;
    y[i] = (t > 0.0 ? t : 0.0) + (d == 0.0 ? e : l * (e / d));
})
KERNEL(k_tanh, for (long i = 0; i < n; i++) y[i] = tanh(x[i]);)
KERNEL(k_sin, for (long i = 0; i < n; i++) y[i] = sin(x[i]);)
KERNEL(k_cos, for (long i = 0; i < n; i++) y[i] = cos(x[i]);)

/* The CPU check runs once, when the library is loaded and before any thread starts: a lazy
 * check on first use was a data race between workers (ThreadSanitizer reported it). */
static int cpu_level;

/* 0: baseline x86-64; 1: AVX2 + FMA; 2: AVX-512 (F, DQ, VL) besides, for the fused logistic
 * kernels only (clang maps no loop onto libmvec's 8-lane functions, so those are written with
 * intrinsics). __builtin_cpu_supports also checks that the OS saves the wider registers. */
__attribute__((constructor)) static void detect_cpu_level(void) {
    __builtin_cpu_init();
    int has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int has_avx512 = has_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
                     && __builtin_cpu_supports("avx512vl");
    cpu_level = has_avx512 ? 2 : has_avx2 ? 1 : 0;
}

static int avx2(void) { return cpu_level >= 1; }
static int avx512(void) { return cpu_level >= 2; }

int svm_uses_avx2(void) { return avx2(); }
int svm_cpu_level(void) { return cpu_level; }

#define DISPATCH(pub, name)                                                    \
    void pub(const double *x, double *y, long n) {                             \
        if (x == y) { if (avx2()) name##_avx2_in(y, n); else name##_base_in(y, n); } \
        else if (avx2()) name##_avx2(x, y, n); else name##_base(x, y, n);      \
    }

DISPATCH(svm_exp, k_exp)
DISPATCH(svm_log, k_log)
DISPATCH(svm_log1p, k_log1p)
DISPATCH(svm_sigmoid, k_sigmoid)
DISPATCH(svm_softplus, k_softplus)
DISPATCH(svm_tanh, k_tanh)
DISPATCH(svm_sin, k_sin)
DISPATCH(svm_cos, k_cos)

void svm_expm1(const double *x, double *y, long n) { for (long i = 0; i < n; i++) y[i] = expm1(x[i]); }

/* ---- Fused kernels ---------------------------------------------------------------------- */

/* log u for u in [1, 2], inlined where a likelihood needs log(1 + e^{-|x|}): reduce to
 * m ∈ [√2/2, √2] (halving above √2), then log m = f − (f²/2 − s(f²/2 + R(s²))) with
 * f = m − 1, s = f/(2 + f) and R the classic degree-7 minimax polynomial in s² (Remez
 * coefficients of fdlibm's log); ln 2 split in a high and a low part. Measured ≤ 1 ulp
 * against glibc's log over 10⁷ points of [1, 2]. */
static inline double log_one_to_two(double u) {
    const double L1 = 6.666666666666735130e-01, L2 = 3.999999999940941908e-01, L3 = 2.857142874366239149e-01,
                 L4 = 2.222219843214978396e-01, L5 = 1.818357216161805012e-01, L6 = 1.531383769920937332e-01,
                 L7 = 1.479819860511658591e-01, LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    int high = u > 1.4142135623730951;
    double k = high ? 1.0 : 0.0, m = high ? 0.5 * u : u;
    double f = m - 1.0, s = f / (2.0 + f), z = s * s, w = z * z;
    double r = z * (L1 + w * (L3 + w * (L5 + w * L7))) + w * (L2 + w * (L4 + w * L6));
    double half = 0.5 * f * f;
    return k * LN2_HI + (f - (half - (s * (half + r) + k * LN2_LO)));
}

#define FUSED(ret, name, params, args, ...)                      \
    static ret name##_base params { __VA_ARGS__ }                \
    static AVX2 ret name##_avx2 params { __VA_ARGS__ }           \
    ret name params { return avx2() ? name##_avx2 args : name##_base args; }

#define TWO_PI 6.283185307179586476925286766559

FUSED(void, svm_box_muller, (const double *restrict u, double *restrict z, long n), (u, z, n),
    long pairs = n / 2;
    for (long k = 0; k < pairs; k++) {
        double r = sqrt(-2.0 * log(u[2 * k])), t = TWO_PI * u[2 * k + 1];
        z[2 * k] = r * cos(t);
        z[2 * k + 1] = r * sin(t);
    }
    if (n % 2) z[n - 1] = sqrt(-2.0 * log(u[n - 1])) * cos(TWO_PI * u[n]);
)

FUSED(void, svm_gumbel, (const double *restrict u, double *restrict y, long n), (u, y, n),
    for (long i = 0; i < n; i++) y[i] = -log(-log(u[i]));
)

/* As FUSED, without the public dispatcher (written by hand where a third variant joins). */
#define FUSED2(ret, name, params, args, ...)                     \
    static ret name##_base params { __VA_ARGS__ }                \
    static AVX2 ret name##_avx2 params { __VA_ARGS__ }

FUSED2(void, bernoulli_logits,
      (const double *restrict x, long sx, const double *restrict l, double *restrict out, double *restrict sig, long n),
      (x, sx, l, out, sig, n),
    /* log1p(e) for e = exp(−|ℓ|) ∈ (0, 1]: log(1 + e), u = 1 + e ∈ [1, 2], where 1 + e rounds harmlessly (absolute
     * error ≤ 1.2e-16), and the series e − e²/2 + e³/3 − e⁴/4 below 1e-4 (truncation < 3e-21
     * relative), so the tiny log-mass of a near-certain outcome is kept. One division: σ(ℓ). */
    if (sx == 1) {
        for (long i = 0; i < n; i++) {
            double li = l[i], e = exp(-fabs(li)), u = 1.0 + e, inv = 1.0 / u;
            double lp = e < 1e-4 ? e * (1.0 - e * (0.5 - e * (1.0 / 3.0 - 0.25 * e))) : log_one_to_two(u);
            sig[i] = li >= 0 ? inv : e * inv;
            out[i] = (x[i] * li - (li > 0 ? li : 0.0)) - lp;
        }
    } else {
        double xv = x[0];
        for (long i = 0; i < n; i++) {
            double li = l[i], e = exp(-fabs(li)), u = 1.0 + e, inv = 1.0 / u;
            double lp = e < 1e-4 ? e * (1.0 - e * (0.5 - e * (1.0 / 3.0 - 0.25 * e))) : log_one_to_two(u);
            sig[i] = li >= 0 ? inv : e * inv;
            out[i] = (xv * li - (li > 0 ? li : 0.0)) - lp;
        }
    }
)


/* The same formulas eight lanes wide: exp from libmvec's 8-lane variant, log_one_to_two as
 * above lane by lane, the series and the choices as blends. */
AVX512 __m512d _ZGVeN8v_exp(__m512d);

static AVX512 inline __m512d log_one_to_two8(__m512d u) {
    const __m512d L1 = _mm512_set1_pd(6.666666666666735130e-01), L2 = _mm512_set1_pd(3.999999999940941908e-01),
                  L3 = _mm512_set1_pd(2.857142874366239149e-01), L4 = _mm512_set1_pd(2.222219843214978396e-01),
                  L5 = _mm512_set1_pd(1.818357216161805012e-01), L6 = _mm512_set1_pd(1.531383769920937332e-01),
                  L7 = _mm512_set1_pd(1.479819860511658591e-01), LN2_HI = _mm512_set1_pd(6.93147180369123816490e-01),
                  LN2_LO = _mm512_set1_pd(1.90821492927058770002e-10), one = _mm512_set1_pd(1.0),
                  two = _mm512_set1_pd(2.0), half = _mm512_set1_pd(0.5);
    __mmask8 high = _mm512_cmp_pd_mask(u, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    __m512d k = _mm512_mask_blend_pd(high, _mm512_setzero_pd(), one);
    __m512d m = _mm512_mask_blend_pd(high, u, half * u);
    __m512d f = m - one, s = f / (two + f), z = s * s, w = z * z;
    __m512d r = z * (L1 + w * (L3 + w * (L5 + w * L7))) + w * (L2 + w * (L4 + w * L6));
    __m512d hf = half * f * f;
    return k * LN2_HI + (f - (hf - (s * (hf + r) + k * LN2_LO)));
}

/* Lanes of `mask` only (the loads of the others read nothing, their stores write nothing). */
static AVX512 inline void bernoulli_logits8(const double *x, long sx, const double *l, double *out, double *sig, __mmask8 mask) {
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    __m512d li = _mm512_maskz_loadu_pd(mask, l);
    __m512d xv = sx == 1 ? _mm512_maskz_loadu_pd(mask, x) : _mm512_set1_pd(x[0]);
    __m512d e = _ZGVeN8v_exp(-_mm512_abs_pd(li)), u = one + e, inv = one / u;
    __m512d series = e * (one - e * (_mm512_set1_pd(0.5) - e * (_mm512_set1_pd(1.0 / 3.0) - _mm512_set1_pd(0.25) * e)));
    __mmask8 tiny = _mm512_cmp_pd_mask(e, _mm512_set1_pd(1e-4), _CMP_LT_OQ);
    __m512d lp = _mm512_mask_blend_pd(tiny, log_one_to_two8(u), series);
    __mmask8 nonneg = _mm512_cmp_pd_mask(li, zero, _CMP_GE_OQ);
    _mm512_mask_storeu_pd(sig, mask, _mm512_mask_blend_pd(nonneg, e * inv, inv));
    _mm512_mask_storeu_pd(out, mask, (xv * li - _mm512_max_pd(li, zero)) - lp);
}

static AVX512 void bernoulli_logits_avx512(const double *restrict x, long sx, const double *restrict l, double *restrict out,
                                           double *restrict sig, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) bernoulli_logits8(x + (sx == 1 ? i : 0), sx, l + i, out + i, sig + i, 0xFF);
    if (i < n) bernoulli_logits8(x + (sx == 1 ? i : 0), sx, l + i, out + i, sig + i, (__mmask8)((1u << (n - i)) - 1));
}

/* The variant for `level` (0, 1, 2), or the best this CPU has below it. */
static int clamp_level(int level) { return level < cpu_level ? (level < 0 ? 0 : level) : cpu_level; }

void svm_bernoulli_logits_at(int level, const double *x, long sx, const double *l, double *out, double *sig, long n) {
    switch (clamp_level(level)) {
    case 2: bernoulli_logits_avx512(x, sx, l, out, sig, n); break;
    case 1: bernoulli_logits_avx2(x, sx, l, out, sig, n); break;
    default: bernoulli_logits_base(x, sx, l, out, sig, n);
    }
}

void svm_bernoulli_logits(const double *x, long sx, const double *l, double *out, double *sig, long n) {
    svm_bernoulli_logits_at(cpu_level, x, sx, l, out, sig, n);
}

FUSED(double, svm_sum, (const double *restrict x, long n), (x, n),
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += x[i + j];
    double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    for (; i < n; i++) s += x[i];
    return s;
)

/* ---- One pass of a logistic likelihood over a design matrix ------------------------------ */

#define LINEAR_BLOCK 32
typedef double v4 __attribute__((vector_size(32), aligned(8)));
/* Unaligned 4-lane loads and stores (macros, so no vector crosses a call boundary). */
#define load4(p) (*(const v4 *)(p))
#define store4(p, v) (*(v4 *)(p) = (v))

/* X is given block-transposed: block b (rows 32b ..< 32b + nb) is stored as its own [D, nb]
 * row-major slab at offset 32b·D, so one step streams X sequentially. For a full block the
 * 32 logits stay in eight 4-lane registers while the slab's rows are added in (one FMA per
 * lane per feature), and the gradient is kept per lane (gacc[j], 4 lanes) across blocks, so
 * no horizontal reduction happens until the end. The summation order is fixed by the code. */
#define LINEAR_BODY                                                                               \
    double *lp = tmp, *sig = tmp + LINEAR_BLOCK, *r = tmp + 2 * LINEAR_BLOCK,                      \
           *eta = tmp + 3 * LINEAR_BLOCK, *gacc = tmp + 4 * LINEAR_BLOCK;                          \
    double total = 0;                                                                             \
    for (long q = 0; q < p; q++) {                                                                \
        const double *wq = w + q * d;                                                             \
        for (long k = 0; k < 4 * d; k++) gacc[k] = 0;                                             \
        for (long start = 0; start < n; start += LINEAR_BLOCK) {                                  \
            long nb = n - start < LINEAR_BLOCK ? n - start : LINEAR_BLOCK;                        \
            const double *slab = xt + start * d;                                                  \
            const double *yq = ys ? y + q * n + start : y;                                        \
            if (nb == LINEAR_BLOCK) {                                                             \
                v4 e[8] = {0};                                                                    \
                for (long j = 0; j < d; j++) {                                                    \
                    v4 wj = {wq[j], wq[j], wq[j], wq[j]};                                         \
                    const double *row = slab + j * LINEAR_BLOCK;                                  \
                    for (int k = 0; k < 8; k++) e[k] += wj * load4(row + 4 * k);                  \
                }                                                                                 \
                for (int k = 0; k < 8; k++) store4(eta + 4 * k, e[k]);                            \
            } else {                                                                              \
                for (long i = 0; i < nb; i++) eta[i] = 0;                                         \
                for (long j = 0; j < d; j++)                                                      \
                    for (long i = 0; i < nb; i++) eta[i] += wq[j] * slab[j * nb + i];             \
            }                                                                                     \
            LOGISTIC_ROWS(yq, ys, eta, lp, sig, nb);                                              \
            for (long i = 0; i < nb; i++) { r[i] = yq[i * ys] - sig[i]; total += lp[i]; }         \
            if (nb == LINEAR_BLOCK) {                                                             \
                v4 rv[8];                                                                         \
                for (int k = 0; k < 8; k++) rv[k] = load4(r + 4 * k);                             \
                for (long j = 0; j < d; j++) {                                                    \
                    const double *row = slab + j * LINEAR_BLOCK;                                  \
                    v4 a0 = rv[0] * load4(row), a1 = rv[1] * load4(row + 4);                      \
                    for (int k = 2; k < 8; k += 2) {                                              \
                        a0 += rv[k] * load4(row + 4 * k);                                         \
                        a1 += rv[k + 1] * load4(row + 4 * k + 4);                                 \
                    }                                                                             \
                    store4(gacc + 4 * j, load4(gacc + 4 * j) + (a0 + a1));                        \
                }                                                                                 \
            } else {                                                                              \
                for (long j = 0; j < d; j++) {                                                    \
                    double acc = 0;                                                               \
                    for (long i = 0; i < nb; i++) acc += r[i] * slab[j * nb + i];                 \
                    gacc[4 * j] += acc;                                                           \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        for (long j = 0; j < d; j++)                                                              \
            grad[q * d + j] = (gacc[4 * j] + gacc[4 * j + 1]) + (gacc[4 * j + 2] + gacc[4 * j + 3]); \
    }                                                                                             \
    return total;

#define LOGISTIC_ROWS(yq, ys, e, l, s, nb) bernoulli_logits_base(yq, ys, e, l, s, nb)
static double linear_bernoulli_base(const double *restrict xt, long n, long d, const double *restrict w, long p,
                                    const double *restrict y, long ys, double *restrict grad, double *restrict tmp) { LINEAR_BODY }
#undef LOGISTIC_ROWS
#define LOGISTIC_ROWS(yq, ys, e, l, s, nb) bernoulli_logits_avx2(yq, ys, e, l, s, nb)
static AVX2 double linear_bernoulli_avx2(const double *restrict xt, long n, long d, const double *restrict w, long p,
                                         const double *restrict y, long ys, double *restrict grad, double *restrict tmp) { LINEAR_BODY }
#undef LOGISTIC_ROWS

/* LINEAR_BODY eight lanes wide. A full block's 32 logits are four registers; its residuals
 * y − σ and log-masses are formed in registers too, the log-masses summed per lane across
 * blocks (one horizontal sum at the end instead of a chain of 32 scalar additions a block).
 * The gradient's eight lanes are folded to LINEAR_BODY's four per feature, so `tmp` is the
 * same size. A partial last block goes through the scalar loops of LINEAR_BODY. */
static AVX512 double linear_bernoulli_avx512(const double *restrict xt, long n, long d, const double *restrict w, long p,
                                             const double *restrict y, long ys, double *restrict grad, double *restrict tmp) {
    double *lp = tmp, *sig = tmp + LINEAR_BLOCK, *r = tmp + 2 * LINEAR_BLOCK, *eta = tmp + 3 * LINEAR_BLOCK,
           *gacc = tmp + 4 * LINEAR_BLOCK;
    __m512d totals = _mm512_setzero_pd();
    double tail = 0;
    for (long q = 0; q < p; q++) {
        const double *wq = w + q * d;
        for (long k = 0; k < 4 * d; k++) gacc[k] = 0;
        for (long start = 0; start < n; start += LINEAR_BLOCK) {
            long nb = n - start < LINEAR_BLOCK ? n - start : LINEAR_BLOCK;
            const double *slab = xt + start * d;
            const double *yq = ys ? y + q * n + start : y;
            if (nb == LINEAR_BLOCK) {
                __m512d e0 = _mm512_setzero_pd(), e1 = e0, e2 = e0, e3 = e0;
                for (long j = 0; j < d; j++) {
                    __m512d wj = _mm512_set1_pd(wq[j]);
                    const double *row = slab + j * LINEAR_BLOCK;
                    e0 = _mm512_fmadd_pd(wj, _mm512_loadu_pd(row), e0);
                    e1 = _mm512_fmadd_pd(wj, _mm512_loadu_pd(row + 8), e1);
                    e2 = _mm512_fmadd_pd(wj, _mm512_loadu_pd(row + 16), e2);
                    e3 = _mm512_fmadd_pd(wj, _mm512_loadu_pd(row + 24), e3);
                }
                _mm512_storeu_pd(eta, e0); _mm512_storeu_pd(eta + 8, e1);
                _mm512_storeu_pd(eta + 16, e2); _mm512_storeu_pd(eta + 24, e3);
                bernoulli_logits_avx512(yq, ys, eta, lp, sig, LINEAR_BLOCK);
                __m512d rv[4];
                for (int k = 0; k < 4; k++) {
                    __m512d yv = ys ? _mm512_loadu_pd(yq + 8 * k) : _mm512_set1_pd(yq[0]);
                    rv[k] = yv - _mm512_loadu_pd(sig + 8 * k);
                    totals += _mm512_loadu_pd(lp + 8 * k);
                }
                for (long j = 0; j < d; j++) {
                    const double *row = slab + j * LINEAR_BLOCK;
                    __m512d a0 = _mm512_fmadd_pd(rv[2], _mm512_loadu_pd(row + 16), rv[0] * _mm512_loadu_pd(row));
                    __m512d a1 = _mm512_fmadd_pd(rv[3], _mm512_loadu_pd(row + 24), rv[1] * _mm512_loadu_pd(row + 8));
                    __m512d a = a0 + a1;
                    __m256d h = _mm512_castpd512_pd256(a) + _mm512_extractf64x4_pd(a, 1);
                    _mm256_storeu_pd(gacc + 4 * j, _mm256_loadu_pd(gacc + 4 * j) + h);
                }
            } else {
                for (long i = 0; i < nb; i++) eta[i] = 0;
                for (long j = 0; j < d; j++)
                    for (long i = 0; i < nb; i++) eta[i] += wq[j] * slab[j * nb + i];
                bernoulli_logits_avx512(yq, ys, eta, lp, sig, nb);
                for (long i = 0; i < nb; i++) { r[i] = yq[i * ys] - sig[i]; tail += lp[i]; }
                for (long j = 0; j < d; j++) {
                    double acc = 0;
                    for (long i = 0; i < nb; i++) acc += r[i] * slab[j * nb + i];
                    gacc[4 * j] += acc;
                }
            }
        }
        for (long j = 0; j < d; j++)
            grad[q * d + j] = (gacc[4 * j] + gacc[4 * j + 1]) + (gacc[4 * j + 2] + gacc[4 * j + 3]);
    }
    return _mm512_reduce_add_pd(totals) + tail;
}

double svm_linear_bernoulli_at(int level, const double *xt, long n, long d, const double *w, long p,
                               const double *y, long ys, double *grad, double *tmp) {
    switch (clamp_level(level)) {
    case 2: return linear_bernoulli_avx512(xt, n, d, w, p, y, ys, grad, tmp);
    case 1: return linear_bernoulli_avx2(xt, n, d, w, p, y, ys, grad, tmp);
    default: return linear_bernoulli_base(xt, n, d, w, p, y, ys, grad, tmp);
    }
}

double svm_linear_bernoulli(const double *xt, long n, long d, const double *w, long p,
                            const double *y, long ys, double *grad, double *tmp) {
    return svm_linear_bernoulli_at(cpu_level, xt, n, d, w, p, y, ys, grad, tmp);
}
