#include "CVecMath.h"
#include <math.h>
#include <immintrin.h>
#include <stdint.h>

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

/* As FUSED, without the public dispatcher (written by hand where a third variant joins). */
#define FUSED2(ret, name, params, args, ...)                     \
    static ret name##_base params { __VA_ARGS__ }                \
    static AVX2 ret name##_avx2 params { __VA_ARGS__ }

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

/* log x for a positive, normal, finite x (the Gumbel map's two logs: u ≥ 2^−54 and −log u ≥
 * 1.1e-16), without branches so that clang vectorises it eight lanes wide: x = 2^e·m with the
 * exponent field read as a double (0x1p52 + field − 0x1p52, exact), m ∈ [1, 2) halved above √2,
 * then `log_one_to_two`'s kernel on f = m − 1 (exact) with k = e. ≤ 1 ulp (measured 0.81 over
 * 2·10⁶ log-uniform points of [2^−54, 1]). */
static inline __attribute__((always_inline)) double log_positive(double x) {
    const double L1 = 6.666666666666735130e-01, L2 = 3.999999999940941908e-01, L3 = 2.857142874366239149e-01,
                 L4 = 2.222219843214978396e-01, L5 = 1.818357216161805012e-01, L6 = 1.531383769920937332e-01,
                 L7 = 1.479819860511658591e-01, LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    uint64_t bits;
    __builtin_memcpy(&bits, &x, 8);
    uint64_t eb = (bits >> 52) | 0x4330000000000000ull, mb = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    double field, m;
    __builtin_memcpy(&field, &eb, 8);
    __builtin_memcpy(&m, &mb, 8);
    int high = m > 1.4142135623730951;
    double k = ((field - 0x1p52) - 1023.0) + (high ? 1.0 : 0.0);
    m = high ? 0.5 * m : m;
    double f = m - 1.0, s = f / (2.0 + f), z = s * s, w = z * z;
    double r = z * (L1 + w * (L3 + w * (L5 + w * L7))) + w * (L2 + w * (L4 + w * L6));
    double half = 0.5 * f * f;
    return k * LN2_HI + (f - (half - (s * (half + r) + k * LN2_LO)));
}

/* Gumbel noise through `log_positive` (the same formula in every variant, so the draws do not
 * depend on where an element falls in a vector: the per-node noise and the fused categorical
 * kernel's blocks agree bit for bit), eight lanes wide with AVX-512: a quarter of libmvec's
 * time for the two logs. FMA contraction differs between the baseline variant and the others,
 * so the bits are those of one CPU level. */
FUSED2(void, gumbel, (const double *restrict u, double *restrict y, long n), (u, y, n),
    for (long i = 0; i < n; i++) y[i] = -log_positive(-log_positive(u[i]));
)
static AVX512 void gumbel_avx512(const double *restrict u, double *restrict y, long n) {
    for (long i = 0; i < n; i++) y[i] = -log_positive(-log_positive(u[i]));
}
void svm_gumbel(const double *u, double *y, long n) {
    if (avx512()) gumbel_avx512(u, y, n);
    else if (avx2()) gumbel_avx2(u, y, n);
    else gumbel_base(u, y, n);
}

/* Philox4x32-10 (Numerics' Philox4x32, Random123's constants): word w of stream s under key k is
   half w & 1 of block w >> 1, the block's counter (w >> 1 as two words, s as two words). */
static inline __attribute__((always_inline)) void philox_block(uint64_t b, uint32_t s0, uint32_t s1, uint32_t key0, uint32_t key1,
                                                                uint64_t *lo, uint64_t *hi) {
    uint32_t x0 = (uint32_t)b, x1 = (uint32_t)(b >> 32), x2 = s0, x3 = s1, k0 = key0, k1 = key1;
    _Pragma("clang loop unroll(full)") for (int r = 0; r < 10; r++) {
        if (r > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        uint64_t p0 = (uint64_t)0xD2511F53u * x0, p1 = (uint64_t)0xCD9E8D57u * x2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        x0 = hi1 ^ x1 ^ k0; x1 = lo1; x2 = hi0 ^ x3 ^ k1; x3 = lo0;
    }
    *lo = (uint64_t)x0 | (uint64_t)x1 << 32;
    *hi = (uint64_t)x2 | (uint64_t)x3 << 32;
}
static inline __attribute__((always_inline)) double open_unit(uint64_t w) {
    double u = (double)(w >> 11) * 0x1p-53;
    return u > 0x1p-54 ? u : 0x1p-54;
}

static void philox_uniform_base(uint64_t seed, uint64_t stream, uint64_t first, double *restrict out, long n);
static __attribute__((target("avx2,fma"))) void philox_uniform_avx2(uint64_t seed, uint64_t stream, uint64_t first,
                                                                     double *restrict out, long n);
/* Eight Philox blocks at once, one 64-bit lane each (every word kept below 2³² in its lane, so
   `vpmuludq` gives the full 32×32-bit product): sixteen uniforms a pass, the same bits as
   `philox_block` and `open_unit`. The odd first word and the tail go through the AVX2 body. */
static __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) void philox_uniform_avx512(
    uint64_t seed, uint64_t stream, uint64_t first, double *restrict out, long n) {
    long i = 0;
    if ((first & 1) && n > 0) { philox_uniform_avx2(seed, stream, first, out, 1); i = 1; }
    const uint64_t b0 = (first + (uint64_t)i) >> 1;
    const __m512i low = _mm512_set1_epi64(0xFFFFFFFFu), M0 = _mm512_set1_epi64(0xD2511F53u), M1 = _mm512_set1_epi64(0xCD9E8D57u),
                  S0 = _mm512_set1_epi64((uint32_t)stream), S1 = _mm512_set1_epi64((uint32_t)(stream >> 32)),
                  lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), tiny = _mm512_castpd_si512(_mm512_set1_pd(0x1p-54));
    const __m512d scale = _mm512_set1_pd(0x1p-53);
    const __m512i evens = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), odds = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    long passes = (n - i) / 16;
    for (long p = 0; p < passes; p++) {
        __m512i b = _mm512_add_epi64(_mm512_set1_epi64((long long)(b0 + 8 * (uint64_t)p)), lanes);
        __m512i x0 = _mm512_and_si512(b, low), x1 = _mm512_srli_epi64(b, 32), x2 = S0, x3 = S1;
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
        _Pragma("clang loop unroll(full)") for (int r = 0; r < 10; r++) {
            if (r > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
            __m512i p0 = _mm512_mul_epu32(x0, M0), p1 = _mm512_mul_epu32(x2, M1);
            __m512i hi0 = _mm512_srli_epi64(p0, 32), lo0 = _mm512_and_si512(p0, low), hi1 = _mm512_srli_epi64(p1, 32),
                    lo1 = _mm512_and_si512(p1, low);
            x0 = _mm512_xor_si512(_mm512_xor_si512(hi1, x1), _mm512_set1_epi64(k0));
            x1 = lo1;
            x2 = _mm512_xor_si512(_mm512_xor_si512(hi0, x3), _mm512_set1_epi64(k1));
            x3 = lo0;
        }
        /* Each block's two 64-bit words, shifted to 53 bits, as doubles in [0, 1), at least 2^−54. */
        __m512i lo = _mm512_or_si512(x0, _mm512_slli_epi64(x1, 32)), hi = _mm512_or_si512(x2, _mm512_slli_epi64(x3, 32));
        __m512d ul = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(lo, 11)), scale),
                uh = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(hi, 11)), scale);
        ul = _mm512_max_pd(ul, _mm512_castsi512_pd(tiny));
        uh = _mm512_max_pd(uh, _mm512_castsi512_pd(tiny));
        _mm512_storeu_pd(out + i + 16 * p, _mm512_permutex2var_pd(ul, evens, uh));
        _mm512_storeu_pd(out + i + 16 * p + 8, _mm512_permutex2var_pd(ul, odds, uh));
    }
    i += 16 * passes;
    if (i < n) philox_uniform_avx2(seed, stream, first + (uint64_t)i, out + i, n - i);
}

void svm_philox_uniform(uint64_t seed, uint64_t stream, uint64_t first, double *out, long n) {
    if (avx512()) philox_uniform_avx512(seed, stream, first, out, n);
    else if (avx2()) philox_uniform_avx2(seed, stream, first, out, n);
    else philox_uniform_base(seed, stream, first, out, n);
}

FUSED2(void, philox_uniform, (uint64_t seed, uint64_t stream, uint64_t first, double *restrict out, long n),
      (seed, stream, first, out, n),
    uint32_t s0 = (uint32_t)stream, s1 = (uint32_t)(stream >> 32), key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
    uint64_t lo, hi;
    long i = 0;
    if ((first & 1) && n > 0) {
        philox_block(first >> 1, s0, s1, key0, key1, &lo, &hi);
        out[0] = open_unit(hi);
        i = 1;
    }
    uint64_t b0 = (first + (uint64_t)i) >> 1;
    long pairs = (n - i) / 2;
    double *o = out + i;
    for (long p = 0; p < pairs; p++) {
        philox_block(b0 + (uint64_t)p, s0, s1, key0, key1, &lo, &hi);
        o[2 * p] = open_unit(lo);
        o[2 * p + 1] = open_unit(hi);
    }
    i += 2 * pairs;
    if (i < n) {
        philox_block(b0 + (uint64_t)pairs, s0, s1, key0, key1, &lo, &hi);
        out[i] = open_unit(lo);
    }
)

/* e^r = 2^k·p for r ∈ [−746, 710] (or NaN): Cody–Waite with ln 2 in two parts (the high part's
 * trailing zeros keep k·LN2_HI exact), k rounded by the 1.5·2⁵² shift (whose bits then hold k as
 * an integer, returned in `kb`), and a degree-11 Chebyshev fit on [−½ ln 2, ½ ln 2] (that of
 * `exp_nonpositive8`), written per element and without branches so that clang vectorises it. */
static inline __attribute__((always_inline)) double exp_reduced(double r, int64_t *kb) {
    const double C2 = 0.5000000000000019, C3 = 0.1666666666666668, C4 = 0.0416666666664881, C5 = 0.008333333333319601,
                 C6 = 0.0013888888952314775, C7 = 0.00019841269890047113, C8 = 2.4801485482328494e-05,
                 C9 = 2.755724091857897e-06, C10 = 2.763263963904103e-07, C11 = 2.5110037605963777e-08,
                 LOG2E = 1.4426950408889634, LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10,
                 SHIFT = 0x1.8p52;
    double t = r * LOG2E + SHIFT, k = t - SHIFT;
    __builtin_memcpy(kb, &t, 8);
    *kb -= 0x4338000000000000ll;
    r = (r - k * LN2_HI) - k * LN2_LO;
    double p = C11 * r + C10;
    p = p * r + C9; p = p * r + C8; p = p * r + C7; p = p * r + C6; p = p * r + C5;
    p = p * r + C4; p = p * r + C3; p = p * r + C2; p = p * r + 1.0; p = p * r + 1.0;
    return p;
}

/* 2^e as a double for −1022 ≤ e ≤ 1023, built in the exponent field. */
static inline __attribute__((always_inline)) double two_to(int64_t e) {
    uint64_t sb = (uint64_t)(e + 1023) << 52;
    double scale;
    __builtin_memcpy(&scale, &sb, 8);
    return scale;
}

/* e^x for x ≤ 0 (or NaN, which it returns): `exp_reduced`, and below 2^−1000 one more factor
 * 2^−1000 so that gradual underflow rounds once. */
static inline __attribute__((always_inline)) double exp_nonpositive(double x) {
    int64_t kb;
    double p = exp_reduced(x < -746.0 ? -746.0 : x, &kb);
    int deep = kb < -1000;
    return p * two_to(deep ? kb + 1000 : kb) * (deep ? 0x1p-1000 : 1.0);
}

/* e^x for every double: `exp_reduced` on x clamped into [−746, 710] (beyond, e^x rounds to 0 or
 * ∞ anyway), 2^k applied in two factors at both ends of the range — 2^{k+1000}·2^−1000 below
 * 2^−1000 (gradual underflow rounds once) and 2^{k−1000}·2^1000 above 2^1000 (overflow rounds to
 * ∞ once), since 2^1024 has no exponent field. NaN gives NaN. For x ≤ 0, `exp_nonpositive`'s
 * bits. */
static inline __attribute__((always_inline)) double exp_any(double x) {
    int64_t kb;
    double r = x < -746.0 ? -746.0 : x;
    double p = exp_reduced(r > 710.0 ? 710.0 : r, &kb);
    int deep = kb < -1000, high = kb > 1000;
    return p * two_to(deep ? kb + 1000 : high ? kb - 1000 : kb) * (deep ? 0x1p-1000 : high ? 0x1p1000 : 1.0);
}

/* log x for every double: `log_positive` on x, a subnormal x first scaled by 2^54 (54 ln 2 then
 * taken off, its rounding 1/30 ulp of the result); 0 gives −∞, a negative x or NaN gives NaN,
 * +∞ gives +∞ (`log_positive` alone reads any bits as a positive normal double). Branch-free. */
static inline __attribute__((always_inline)) double log_any(double x) {
    int tiny = x < 0x1p-1022;
    double y = log_positive(tiny ? x * 0x1p54 : x) - (tiny ? 54 * 6.93147180559945309417e-01 : 0.0);
    y = x > 0 ? y : (x == 0 ? -INFINITY : NAN);
    return x < INFINITY ? y : x + x;
}

/* The two as kernels, for the ulp table (VectorKernelAccuracyTests), at the variant the relaxed
   one-hot kernel uses them in (AVX-512; AVX2 or baseline on a CPU without it). */
#define OWN_MAP(pub, name, f)                                                                    \
    FUSED2(void, name, (const double *restrict x, double *restrict y, long n), (x, y, n),         \
        for (long i = 0; i < n; i++) y[i] = f(x[i]);)                                            \
    static AVX512 void name##_avx512(const double *restrict x, double *restrict y, long n) {      \
        for (long i = 0; i < n; i++) y[i] = f(x[i]);                                             \
    }                                                                                            \
    void pub(const double *x, double *y, long n) {                                               \
        if (avx512()) name##_avx512(x, y, n);                                                    \
        else if (avx2()) name##_avx2(x, y, n);                                                   \
        else name##_base(x, y, n);                                                               \
    }
OWN_MAP(svm_own_log, own_log, log_any)
OWN_MAP(svm_own_exp, own_exp, exp_any)

/* A relaxed one-hot categorical site over `rows` rows of `k` logits, in blocks of 64 rows (see the
   header). Every loop runs over the block's rows with the k entries of a row inside: inlined with
   k a constant (2, 3, 4), clang unrolls the entries and vectorises across rows, the row-major
   inputs and outputs as interleaved loads and stores, the scratch column-major ([j][r]). The
   per-element maps are loops clang vectorises: onto libmvec's 4-lane log and exp in the AVX2
   variant, onto CVecMath's own branch-free log and exp (`own` set) eight lanes wide in the
   AVX-512 variant — `log_positive` where the argument is a positive normal double by
   construction (u ∈ [2^−54, 1) clamped, and L = −log u ∈ [1.1e-16, 37.5]), `log_any` and
   `exp_any` where non-finite logits can reach it. (In four lanes, with AVX2, the own log's
   division made the kernel 13 % slower than libmvec's; in eight it is 22 % faster, 40 % where
   the clamp bites. RELAXED_LOG and RELAXED_EXP choose.) */
#define RELAXED_LOG(x, positive) (own ? ((positive) ? log_positive(x) : log_any(x)) : log(x))
#define RELAXED_EXP(x) (own ? exp_any(x) : exp(x))
#define RELAXED_BLOCK 64
static inline __attribute__((always_inline)) void relaxed_onehot_body(
    const double *restrict l, long rows, const long k, double tau, const double *restrict reals, double offset,
    uint64_t seed, uint64_t stream, uint64_t first, double *restrict soft, double *restrict hard, double *restrict lp,
    double *restrict unclamped, double *restrict weights, double *restrict scratch, const int own) {
    const double kappa = reals[0], ulo = reals[1], uhi = reals[2], clo = reals[3], chi = reals[4];
    const double log_clo = log(clo), log_chi = log(chi);
    /* Per block: L = −log u (row-major, kept: e^{−G} = L); the scores and then T (eT), e^D and
       then X (cT), the clamp's flags (fT, first −G row-major); seven per-row arrays. */
    const long B = RELAXED_BLOCK;
    double *restrict u = scratch, *restrict eT = u + B * k, *restrict cT = eT + B * k, *restrict fT = cT + B * k;
    double *restrict mx = fT + B * k, *restrict sum = mx + B, *restrict best = sum + B, *restrict st = best + B,
           *restrict sx = st + B, *restrict rlog = sx + B, *restrict nclamped = rlog + B;
    for (long r0 = 0; r0 < rows; r0 += B) {
        long br = rows - r0 < B ? rows - r0 : B, m = br * k, base = r0 * k;
        const double *lb = l + base;
        double *sb = unclamped + base, *cb = soft + base, *wb = weights + base;
        /* Uniforms, clamped; L = −log u; −G = log L; scores A = (ℓ + G)/τ and their maximum. */
        svm_philox_uniform(seed, stream, first + (uint64_t)base, u, m);
        for (long i = 0; i < m; i++) {
            double x = u[i] > ulo ? u[i] : ulo;
            u[i] = x < uhi ? x : uhi;
        }
        for (long i = 0; i < m; i++) u[i] = -RELAXED_LOG(u[i], 1);
        for (long i = 0; i < m; i++) fT[i] = RELAXED_LOG(u[i], 1);
        for (long r = 0; r < br; r++) {
            double top = -INFINITY;
            for (long j = 0; j < k; j++) {
                double a = (lb[r * k + j] + -fT[r * k + j]) / tau;
                eT[j * B + r] = a;
                top = a > top ? a : top;
            }
            mx[r] = isfinite(top) ? top : 0;
        }
        /* D = A − max A (kept in eT), E = e^D (in cT), log ΣE. */
        for (long j = 0; j < k; j++)
            for (long r = 0; r < br; r++) eT[j * B + r] -= mx[r];
        for (long j = 0; j < k; j++)
            for (long r = 0; r < br; r++) cT[j * B + r] = RELAXED_EXP(eT[j * B + r]);
        for (long r = 0; r < br; r++) {
            double s = 0;
            for (long j = 0; j < k; j++) s += cT[j * B + r];
            sum[r] = s;
        }
        for (long r = 0; r < br; r++) rlog[r] = RELAXED_LOG(sum[r], 0);
        /* The softmax S = E/ΣE, its clamp C, the straight-through one-hot of C's first largest
           entry, and the density's X = log C without a log per entry: where C = S,
           log S = D − log ΣE; where the clamp bites, log C is log of the bound. T = ℓ − τX. */
        for (long r = 0; r < br; r++) {
            double inv = 1 / sum[r], top = 0, arg = 0, t_sum = 0, x_sum = 0, outside = 0;
            for (long j = 0; j < k; j++) {
                double y = cT[j * B + r] * inv, c = y > clo ? y : clo;
                c = c < chi ? c : chi;
                sb[r * k + j] = y;
                cb[r * k + j] = c;
                int inside = y > clo && y < chi;
                double x = inside ? eT[j * B + r] - rlog[r] : (y > clo ? log_chi : log_clo);
                double t = lb[r * k + j] - x * tau;
                cT[j * B + r] = x;
                eT[j * B + r] = t;
                fT[j * B + r] = inside ? 0.0 : 1.0;
                outside += inside ? 0.0 : 1.0;
                t_sum += t;
                x_sum += x;
                int first_or_larger = j == 0 || c > top;
                top = first_or_larger ? c : top;
                arg = first_or_larger ? (double)j : arg;
            }
            best[r] = arg;
            st[r] = t_sum;
            sx[r] = x_sum;
            nclamped[r] = outside;
        }
        if (hard)
            for (long r = 0; r < br; r++)
                for (long j = 0; j < k; j++) hard[base + r * k + j] = best[r] == (double)j ? 1.0 : 0.0;
        /* logsumexp T about c = τ(max A + log ΣE): where C = S, T − c = ℓ − τA = −G up to
           rounding, so e^{T−c} = L needs no exp; where the clamp bites, e^{T−c} (below L for
           the lower bound, within τε of it for the upper). Each row keeps an entry ≥ 1/K whose
           term is ≥ L ≥ 1e-16 and every term is ≤ L·(1 + τε), so neither the sum nor its log
           under- or overflows. The density's weights are softmax(T) = the terms over their sum
           (the terms overwrite L). */
        double any = 0;
        for (long r = 0; r < br; r++) { mx[r] = tau * (mx[r] + rlog[r]); any += nclamped[r]; }
        if (any != 0)
            for (long r = 0; r < br; r++)
                for (long j = 0; j < k; j++) {
                    int outside = fT[j * B + r] != 0;
                    double e = RELAXED_EXP(outside ? eT[j * B + r] - mx[r] : 0.0);
                    u[r * k + j] = outside ? e : u[r * k + j];
                }
        for (long r = 0; r < br; r++) {
            double s = 0;
            for (long j = 0; j < k; j++) s += u[r * k + j];
            sum[r] = s;
        }
        for (long r = 0; r < br; r++) rlog[r] = RELAXED_LOG(sum[r], 0);
        for (long r = 0; r < br; r++) {
            double inv = 1 / sum[r];
            for (long j = 0; j < k; j++) wb[r * k + j] = u[r * k + j] * inv;
        }
        for (long r = 0; r < br; r++) lp[r0 + r] = ((st[r] - kappa * (mx[r] + rlog[r])) + offset) - sx[r];
    }
}

#define RELAXED_ARGS l, rows, k, tau, reals, offset, seed, stream, first, soft, hard, lp, unclamped, weights, scratch
#define RELAXED_ARGS_K(kk, own) \
    l, rows, kk, tau, reals, offset, seed, stream, first, soft, hard, lp, unclamped, weights, scratch, own
#define RELAXED_BY_K(own)                                        \
    switch (k) {                                                 \
    case 2: relaxed_onehot_body(RELAXED_ARGS_K(2, own)); break;  \
    case 3: relaxed_onehot_body(RELAXED_ARGS_K(3, own)); break;  \
    case 4: relaxed_onehot_body(RELAXED_ARGS_K(4, own)); break;  \
    default: relaxed_onehot_body(RELAXED_ARGS_K(k, own));        \
    }
#define RELAXED_PARAMS                                                                                                   \
    (const double *restrict l, long rows, long k, double tau, const double *restrict reals, double offset,              \
     uint64_t seed, uint64_t stream, uint64_t first, double *restrict soft, double *restrict hard, double *restrict lp, \
     double *restrict unclamped, double *restrict weights, double *restrict scratch)
FUSED2(void, relaxed_onehot, RELAXED_PARAMS, (RELAXED_ARGS), RELAXED_BY_K(0))
static AVX512 void relaxed_onehot_avx512 RELAXED_PARAMS { RELAXED_BY_K(1) }
static int clamp_level(int level);
void svm_relaxed_onehot_at(int level, const double *l, long rows, long k, double tau, const double *reals, double offset,
                           uint64_t seed, uint64_t stream, uint64_t first, double *soft, double *hard, double *lp,
                           double *unclamped, double *weights, double *scratch) {
    switch (clamp_level(level)) {
    case 2: relaxed_onehot_avx512(RELAXED_ARGS); break;
    case 1: relaxed_onehot_avx2(RELAXED_ARGS); break;
    default: relaxed_onehot_base(RELAXED_ARGS);
    }
}
void svm_relaxed_onehot(const double *l, long rows, long k, double tau, const double *reals, double offset,
                        uint64_t seed, uint64_t stream, uint64_t first, double *soft, double *hard, double *lp,
                        double *unclamped, double *weights, double *scratch) {
    svm_relaxed_onehot_at(cpu_level, RELAXED_ARGS);
}

/* Its backward pass (see the header): per row, the adjoint of S (column-major scratch) and
   Σ_j ∂S_j·S_j, then the logits' adjoint; the same operations in the same order for every k,
   inlined with k, and whether there are adjoints of the value and the log-density, as constants
   (so clang vectorises across rows as in the forward pass). */
static inline __attribute__((always_inline)) void relaxed_onehot_backward_body(
    long rows, const long k, double tau, const double *restrict reals, const double *restrict soft,
    const double *restrict unclamped, const double *restrict weights, const double *restrict g_soft,
    const double *restrict g_hard, const double *restrict g_lp, double *restrict g_logits, double *restrict scratch,
    const int has_hard, const int has_lp) {
    const double kappa = reals[0], clo = reals[3], chi = reals[4];
    const long B = RELAXED_BLOCK;
    double *restrict gsT = scratch;
    for (long r0 = 0; r0 < rows; r0 += B) {
        long br = rows - r0 < B ? rows - r0 : B, base = r0 * k;
        const double *s = unclamped + base, *c = soft + base, *w = weights + base, *gs = g_soft + base;
        double *gl = g_logits + base;
        for (long r = 0; r < br; r++) {
            double dot = 0;
            for (long j = 0; j < k; j++) {
                long i = r * k + j;
                double gc = gs[i];
                if (has_lp) {
                    double glp = g_lp[r0 + r], dt = -kappa * glp * w[i] + glp;
                    gl[i] += dt;
                    gc += (-glp + -dt * tau) / c[i];
                }
                if (has_hard) gc += g_hard[base + i];
                double y = s[i], g = y >= clo && y <= chi ? gc : 0;
                gsT[j * B + r] = g;
                dot += g * y;
            }
            for (long j = 0; j < k; j++) {
                long i = r * k + j;
                gl[i] += s[i] * (gsT[j * B + r] - dot) / tau;
            }
        }
    }
}

#define RELAXED_BACKWARD_K(kk)                                                                              \
    (g_hard ? (g_lp ? relaxed_onehot_backward_body(rows, kk, tau, reals, soft, unclamped, weights, g_soft, g_hard, g_lp, \
                                                   g_logits, scratch, 1, 1)                                             \
                    : relaxed_onehot_backward_body(rows, kk, tau, reals, soft, unclamped, weights, g_soft, g_hard, g_lp, \
                                                   g_logits, scratch, 1, 0))                                            \
            : (g_lp ? relaxed_onehot_backward_body(rows, kk, tau, reals, soft, unclamped, weights, g_soft, g_hard, g_lp, \
                                                   g_logits, scratch, 0, 1)                                             \
                    : relaxed_onehot_backward_body(rows, kk, tau, reals, soft, unclamped, weights, g_soft, g_hard, g_lp, \
                                                   g_logits, scratch, 0, 0)))
#define RELAXED_BACKWARD_PARAMS                                                                                  \
    (long rows, long k, double tau, const double *restrict reals, const double *restrict soft,                   \
     const double *restrict unclamped, const double *restrict weights, const double *restrict g_soft,            \
     const double *restrict g_hard, const double *restrict g_lp, double *restrict g_logits, double *restrict scratch)
#define RELAXED_BACKWARD_ARGS rows, k, tau, reals, soft, unclamped, weights, g_soft, g_hard, g_lp, g_logits, scratch
#define RELAXED_BACKWARD_BY_K             \
    switch (k) {                          \
    case 2: RELAXED_BACKWARD_K(2); break; \
    case 3: RELAXED_BACKWARD_K(3); break; \
    case 4: RELAXED_BACKWARD_K(4); break; \
    default: RELAXED_BACKWARD_K(k);       \
    }
/* Eight lanes with AVX-512 (12 % less time than four at N = 500, K = 3): the same operations on
   each element, so every variant with FMA gives the same bits. */
FUSED2(void, relaxed_onehot_backward, RELAXED_BACKWARD_PARAMS, (RELAXED_BACKWARD_ARGS), RELAXED_BACKWARD_BY_K)
static AVX512 void relaxed_onehot_backward_avx512 RELAXED_BACKWARD_PARAMS { RELAXED_BACKWARD_BY_K }
void svm_relaxed_onehot_backward_at(int level, long rows, long k, double tau, const double *reals, const double *soft,
                                    const double *unclamped, const double *weights, const double *g_soft,
                                    const double *g_hard, const double *g_lp, double *g_logits, double *scratch) {
    switch (clamp_level(level)) {
    case 2: relaxed_onehot_backward_avx512(RELAXED_BACKWARD_ARGS); break;
    case 1: relaxed_onehot_backward_avx2(RELAXED_BACKWARD_ARGS); break;
    default: relaxed_onehot_backward_base(RELAXED_BACKWARD_ARGS);
    }
}
void svm_relaxed_onehot_backward(long rows, long k, double tau, const double *reals, const double *soft,
                                 const double *unclamped, const double *weights, const double *g_soft,
                                 const double *g_hard, const double *g_lp, double *g_logits, double *scratch) {
    svm_relaxed_onehot_backward_at(cpu_level, RELAXED_BACKWARD_ARGS);
}


/* A categorical site drawn by Gumbel-max with its log-density (see the header), in blocks of 64
   rows. The noise is svm_gumbel's on the same words of the stream (bit for bit the per-node
   graph's); the normalisation takes its exponentials and the row's log from the branch-free
   kernels above, inlined and vectorised with the rest (the per-node graph's libmvec calls:
   log q within a few ulp of it). */
#define CATEGORICAL_BLOCK 64
static inline __attribute__((always_inline)) void categorical_draw_body(
    const double *restrict l, long rows, const long k, uint64_t seed, uint64_t stream, uint64_t first,
    double *restrict z, double *restrict lq, double *restrict probs, double *restrict scratch) {
    const long B = CATEGORICAL_BLOCK;
    double *restrict u = scratch, *restrict gum = u + B * k, *restrict d = gum + B * k, *restrict e = d + B * k;
    double *restrict sum = e + B * k, *restrict ls = sum + B;
    for (long r0 = 0; r0 < rows; r0 += B) {
        long br = rows - r0 < B ? rows - r0 : B, m = br * k, base = r0 * k;
        const double *lb = l + base;
        double *pb = probs + base;
        svm_philox_uniform(seed, stream, first + (uint64_t)base, u, m);
        svm_gumbel(u, gum, m);
        /* D = ℓ − max ℓ (0 for a row whose maximum is not finite; a NaN never the maximum). */
        for (long r = 0; r < br; r++) {
            double top = -INFINITY;
            for (long j = 0; j < k; j++) {
                double a = lb[r * k + j];
                top = a >= top ? a : top;
            }
            top = isfinite(top) ? top : 0;
            for (long j = 0; j < k; j++) d[r * k + j] = lb[r * k + j] - top;
        }
        for (long i = 0; i < m; i++) e[i] = exp_nonpositive(d[i]);
        /* Σe ≥ 1 (the maximum's term) when the row is finite: its log is log_positive's. A NaN or
           +∞ logit makes it NaN or ∞, which `log_any` keeps (log_positive would read NaN's bits as
           a finite number: a NaN logit elsewhere in the row gave a finite log q). */
        for (long r = 0; r < br; r++) {
            double s = 0;
            for (long j = 0; j < k; j++) s += e[r * k + j];
            sum[r] = s;
        }
        for (long r = 0; r < br; r++) ls[r] = log_any(sum[r]);
        /* log q = D − log Σe^D, the draw = the first largest log q + G, its log-density, and the
           probabilities e^D / Σe^D for the backward pass. */
        for (long r = 0; r < br; r++) {
            double inv = 1 / sum[r], top = d[r * k] - ls[r] + gum[r * k];
            long best = 0;
            pb[r * k] = e[r * k] * inv;
            for (long j = 1; j < k; j++) {
                double a = d[r * k + j] - ls[r] + gum[r * k + j];
                int larger = a > top;
                top = larger ? a : top;
                best = larger ? j : best;
                pb[r * k + j] = e[r * k + j] * inv;
            }
            z[r0 + r] = (double)best;
            lq[r0 + r] = d[r * k + best] - ls[r];
        }
    }
}

#define CATEGORICAL_ARGS l, rows, k, seed, stream, first, z, lq, probs, scratch
#define CATEGORICAL_ARGS_K(kk) l, rows, kk, seed, stream, first, z, lq, probs, scratch
#define CATEGORICAL_BY_K                                        \
    switch (k) {                                                \
    case 2: categorical_draw_body(CATEGORICAL_ARGS_K(2)); break; \
    case 3: categorical_draw_body(CATEGORICAL_ARGS_K(3)); break; \
    case 4: categorical_draw_body(CATEGORICAL_ARGS_K(4)); break; \
    default: categorical_draw_body(CATEGORICAL_ARGS);           \
    }
FUSED2(void, categorical_draw,
      (const double *restrict l, long rows, long k, uint64_t seed, uint64_t stream, uint64_t first,
       double *restrict z, double *restrict lq, double *restrict probs, double *restrict scratch),
      (CATEGORICAL_ARGS), CATEGORICAL_BY_K)
static AVX512 void categorical_draw_avx512(const double *restrict l, long rows, long k, uint64_t seed, uint64_t stream,
                                           uint64_t first, double *restrict z, double *restrict lq, double *restrict probs,
                                           double *restrict scratch) {
    CATEGORICAL_BY_K
}
void svm_categorical_draw(const double *l, long rows, long k, uint64_t seed, uint64_t stream, uint64_t first,
                          double *z, double *lq, double *probs, double *scratch) {
    if (avx512()) categorical_draw_avx512(CATEGORICAL_ARGS);
    else if (avx2()) categorical_draw_avx2(CATEGORICAL_ARGS);
    else categorical_draw_base(CATEGORICAL_ARGS);
}

void svm_gather_at_draw(const double *restrict z, long rows, const double *restrict table, const long *restrict entries,
                        double *restrict out) {
    for (long r = 0; r < rows; r++) out[r] = table[entries[(long)z[r]]];
}

void svm_scatter_at_draw(const double *restrict z, long rows, const double *restrict g_out, const long *restrict entries,
                         double *restrict g_table) {
    for (long r = 0; r < rows; r++) g_table[entries[(long)z[r]]] += g_out[r];
}

static inline __attribute__((always_inline)) void categorical_draw_backward_body(
    long rows, const long k, const double *restrict z, const double *restrict probs, const double *restrict g_lq,
    double *restrict g_logits) {
    for (long r = 0; r < rows; r++) {
        double g = g_lq[r], zr = z[r];
        for (long j = 0; j < k; j++) g_logits[r * k + j] += (zr == (double)j ? g : 0.0) - probs[r * k + j] * g;
    }
}

FUSED(void, svm_categorical_draw_backward,
      (long rows, long k, const double *restrict z, const double *restrict probs, const double *restrict g_lq,
       double *restrict g_logits),
      (rows, k, z, probs, g_lq, g_logits),
    switch (k) {
    case 2: categorical_draw_backward_body(rows, 2, z, probs, g_lq, g_logits); break;
    case 3: categorical_draw_backward_body(rows, 3, z, probs, g_lq, g_logits); break;
    case 4: categorical_draw_backward_body(rows, 4, z, probs, g_lq, g_logits); break;
    default: categorical_draw_backward_body(rows, k, z, probs, g_lq, g_logits);
    }
)


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


/* The same formulas eight lanes wide, written with intrinsics and inlined whole (no call, so
 * a caller's registers survive it, and no division: a 512-bit division costs 16 cycles a
 * vector on this kind of CPU, more than the rest of the element together):
 * - e^x for x ≤ 0: x = k·ln 2 + r, |r| ≤ ½ ln 2 (Cody–Waite, ln 2 in a high and a low part),
 *   e^r by a degree-11 polynomial (a Chebyshev fit on [−½ ln 2, ½ ln 2]: error 3.2e-18, below
 *   1/30 ulp), scaled by 2^k with `vscalefpd` (exact, gradual underflow below 2^−1022);
 * - log(1 + e) for e ∈ [0, 1]: fdlibm's log kernel (as `log_one_to_two`) on f = e below
 *   e = √2 − 1 and f = (e − 1)/2 = (1 + e)/2 − 1 (one rounding, ≤ 2^−55) above it, so f is
 *   never formed from a rounded 1 + e: the log-mass of a near-certain outcome keeps its
 *   relative accuracy without a series;
 * - 1/u and f/(2 + f) from `vrcp14pd` (14 bits) with one Newton step (28 bits) and one
 *   remainder correction q + (a − q·b)·x: within 1/8 ulp of the correctly rounded quotient
 *   before its own rounding.
 * Each step runs over `nv` (≤ 4) independent vectors before the next step starts: one
 * element's chain is ~150 cycles deep, and interleaving four keeps both FMA ports busy
 * where the out-of-order window alone overlapped about two. */
#define EACH(nv, i) _Pragma("clang loop unroll(full)") for (int i = 0; i < (nv); i++)
#define ALWAYS_INLINE inline __attribute__((always_inline))

static AVX512 ALWAYS_INLINE void exp_nonpositive8(const int nv, const __m512d *x, __m512d *out) {
    const __m512d C2 = _mm512_set1_pd(0.5000000000000019), C3 = _mm512_set1_pd(0.1666666666666668),
                  C4 = _mm512_set1_pd(0.0416666666664881), C5 = _mm512_set1_pd(0.008333333333319601),
                  C6 = _mm512_set1_pd(0.0013888888952314775), C7 = _mm512_set1_pd(0.00019841269890047113),
                  C8 = _mm512_set1_pd(2.4801485482328494e-05), C9 = _mm512_set1_pd(2.755724091857897e-06),
                  C10 = _mm512_set1_pd(2.763263963904103e-07), C11 = _mm512_set1_pd(2.5110037605963777e-08),
                  one = _mm512_set1_pd(1.0), LOG2E = _mm512_set1_pd(1.4426950408889634),
                  LN2_HI = _mm512_set1_pd(6.93147180369123816490e-01), LN2_LO = _mm512_set1_pd(1.90821492927058770002e-10);
    __m512d k[4], r[4], p[4];
    /* Below −746 e^x rounds to 0; MAXPD returns its second operand when either is NaN. */
    EACH(nv, i) r[i] = _mm512_max_pd(_mm512_set1_pd(-746.0), x[i]);
    EACH(nv, i) k[i] = _mm512_roundscale_pd(r[i] * LOG2E, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    EACH(nv, i) r[i] = _mm512_fnmadd_pd(k[i], LN2_HI, r[i]);
    EACH(nv, i) r[i] = _mm512_fnmadd_pd(k[i], LN2_LO, r[i]);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(C11, r[i], C10);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], C9);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], C8);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], C7);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], C6);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], C5);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], C4);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], C3);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], C2);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], one);
    EACH(nv, i) p[i] = _mm512_fmadd_pd(p[i], r[i], one);
    EACH(nv, i) out[i] = _mm512_scalef_pd(p[i], k[i]);
}

/* 1/b (a = 0) or a/b for b ∈ [1, 4] (see above). */
static AVX512 ALWAYS_INLINE void quotient8(const int nv, const __m512d *a, const __m512d *b, __m512d *out, int reciprocal) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d x[4], q[4];
    EACH(nv, i) x[i] = _mm512_rcp14_pd(b[i]);
    EACH(nv, i) x[i] = _mm512_fmadd_pd(x[i], _mm512_fnmadd_pd(b[i], x[i], one), x[i]);
    if (reciprocal) {
        EACH(nv, i) out[i] = _mm512_fmadd_pd(x[i], _mm512_fnmadd_pd(b[i], x[i], one), x[i]);
    } else {
        EACH(nv, i) q[i] = a[i] * x[i];
        EACH(nv, i) out[i] = _mm512_fmadd_pd(_mm512_fnmadd_pd(q[i], b[i], a[i]), x[i], q[i]);
    }
}

/* log(1 + e) for e ∈ [0, 1] (see above). */
static AVX512 ALWAYS_INLINE void log1p_unit8(const int nv, const __m512d *e, __m512d *out) {
    const __m512d L1 = _mm512_set1_pd(6.666666666666735130e-01), L2 = _mm512_set1_pd(3.999999999940941908e-01),
                  L3 = _mm512_set1_pd(2.857142874366239149e-01), L4 = _mm512_set1_pd(2.222219843214978396e-01),
                  L5 = _mm512_set1_pd(1.818357216161805012e-01), L6 = _mm512_set1_pd(1.531383769920937332e-01),
                  L7 = _mm512_set1_pd(1.479819860511658591e-01), LN2_HI = _mm512_set1_pd(6.93147180369123816490e-01),
                  LN2_LO = _mm512_set1_pd(1.90821492927058770002e-10), two = _mm512_set1_pd(2.0), half = _mm512_set1_pd(0.5);
    __mmask8 high[4];
    __m512d f[4], den[4], s[4], z[4], w[4], ra[4], rb[4], hf[4];
    EACH(nv, i) high[i] = _mm512_cmp_pd_mask(e[i], _mm512_set1_pd(0.41421356237309503), _CMP_GT_OQ);
    EACH(nv, i) f[i] = _mm512_mask_blend_pd(high[i], e[i], _mm512_fmsub_pd(e[i], half, half));
    EACH(nv, i) den[i] = two + f[i];
    quotient8(nv, f, den, s, 0);
    EACH(nv, i) z[i] = s[i] * s[i];
    EACH(nv, i) w[i] = z[i] * z[i];
    EACH(nv, i) ra[i] = _mm512_fmadd_pd(w[i], L7, L5);
    EACH(nv, i) rb[i] = _mm512_fmadd_pd(w[i], L6, L4);
    EACH(nv, i) ra[i] = _mm512_fmadd_pd(w[i], ra[i], L3);
    EACH(nv, i) rb[i] = _mm512_fmadd_pd(w[i], rb[i], L2);
    EACH(nv, i) ra[i] = _mm512_fmadd_pd(w[i], ra[i], L1);
    EACH(nv, i) rb[i] = w[i] * rb[i];
    EACH(nv, i) ra[i] = _mm512_fmadd_pd(z[i], ra[i], rb[i]);
    EACH(nv, i) hf[i] = half * f[i] * f[i];
    EACH(nv, i) rb[i] = _mm512_fmadd_pd(s[i], hf[i] + ra[i], _mm512_maskz_mov_pd(high[i], LN2_LO));
    EACH(nv, i) out[i] = _mm512_maskz_mov_pd(high[i], LN2_HI) + (f[i] - (hf[i] - rb[i]));
}

/* Bernoulli(y | logits ℓ), torch's ordering: the log-mass (y·ℓ − max(ℓ, 0)) − log(1 + e^{−|ℓ|})
 * and σ(ℓ) = 1/(1 + e) for ℓ ≥ 0, e/(1 + e) below (e = e^{−|ℓ|}). */
static AVX512 ALWAYS_INLINE void logistic8(const int nv, const __m512d *l, const __m512d *y, __m512d *mass, __m512d *sig) {
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    __m512d e[4], u[4], inv[4], lp[4];
    EACH(nv, i) u[i] = -_mm512_abs_pd(l[i]);
    exp_nonpositive8(nv, u, e);
    EACH(nv, i) u[i] = one + e[i];
    quotient8(nv, u, u, inv, 1);
    EACH(nv, i) sig[i] = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(l[i], zero, _CMP_GE_OQ), e[i] * inv[i], inv[i]);
    log1p_unit8(nv, e, lp);
    EACH(nv, i) mass[i] = _mm512_fmsub_pd(y[i], l[i], _mm512_max_pd(l[i], zero)) - lp[i];
}

/* `nv` vectors from l (and x, when sx = 1), each under its own mask (the masked-off lanes'
 * loads read nothing, their stores write nothing). */
static AVX512 ALWAYS_INLINE void bernoulli_logits8(const int nv, const double *x, long sx, const double *l, double *out,
                                                   double *sig, const __mmask8 *mask) {
    __m512d lv[4], xv[4], mv[4], sv[4];
    EACH(nv, i) lv[i] = _mm512_maskz_loadu_pd(mask[i], l + 8 * i);
    EACH(nv, i) xv[i] = sx == 1 ? _mm512_maskz_loadu_pd(mask[i], x + 8 * i) : _mm512_set1_pd(x[0]);
    logistic8(nv, lv, xv, mv, sv);
    EACH(nv, i) _mm512_mask_storeu_pd(sig + 8 * i, mask[i], sv[i]);
    EACH(nv, i) _mm512_mask_storeu_pd(out + 8 * i, mask[i], mv[i]);
}

static AVX512 void bernoulli_logits_avx512(const double *restrict x, long sx, const double *restrict l, double *restrict out,
                                           double *restrict sig, long n) {
    const __mmask8 all[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    long i = 0;
    for (; i + 32 <= n; i += 32) bernoulli_logits8(4, x + (sx == 1 ? i : 0), sx, l + i, out + i, sig + i, all);
    for (; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (n - i)) - 1);
        bernoulli_logits8(1, x + (sx == 1 ? i : 0), sx, l + i, out + i, sig + i, &m);
    }
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

/* The AVX-512 variant of `svm_linear_bernoulli` for any number of particles: Z = X·Wᵀ as a
 * blocked product over one 32-row block and a tile of up to two particles at a time, the
 * likelihood formed on the tile while it is in registers, then the tile's residuals
 * R = y − σ(Z) multiplied into the gradient Rᵀ·X from the same block (still in L1). So each
 * block of X leaves L2 once per step, whatever the number of particles (the AVX2 and baseline
 * variants stream X once per particle), and no logit, σ or residual is ever stored.
 * A tile's logits are summed over even and odd features in separate registers (eight FMA
 * chains a particle, so the FMA latency is hidden), added at the end; a particle's sums run in
 * the same order whichever tile it is in.
 * The gradient is kept per lane, gacc[(q·D + j)·8 + lane], across blocks (so `tmp` holds
 * 8·P·D doubles, `svm_linear_bernoulli_scratch`), and the log-masses per lane in one
 * register; both are summed across lanes once, at the end, in a fixed order.
 * A partial last block reads its rows through lane masks (its slab's rows are nb apart); the
 * masked-off lanes' logits are 0, and their log-masses and residuals are masked out.
 * X larger than L2 comes from L3, whose hardware prefetch alone left the step ≈ 25 % above a
 * plain read of X (175 against 134 µs at N = 10⁴, D = 50 on this project's Xeon machine). So
 * the first tile of each block (`lead`) prefetches: its forward half the stream
 * `LINEAR_AHEAD` doubles ahead, its backward half the next block's row j beside row j (the
 * addresses may lie past X's end: a prefetch never faults, and they are formed as integers). */
#define LINEAR_AHEAD 512
/* The four cache lines of a block row `ahead` doubles past p. */
#define PREFETCH_ROW(p, ahead) \
    EACH(4, k) _mm_prefetch((const char *)((uintptr_t)(p) + sizeof(double) * (uintptr_t)((ahead) + 8 * k)), _MM_HINT_T0)
static AVX512 ALWAYS_INLINE void linear_tile8(const double *restrict slab, long stride, long d, const __mmask8 *m,
                                              const double *restrict wq, const double *restrict yq, long ys, long n,
                                              double *restrict gacc, __m512d *totals, const int pt, int lead) {
    __m512d z[2][4], odd[2][4];
    EACH(pt, t) EACH(4, k) z[t][k] = odd[t][k] = _mm512_setzero_pd();
    long j = 0;
    for (; j + 2 <= d; j += 2) {
        const double *row = slab + j * stride;
        if (lead) { PREFETCH_ROW(row, LINEAR_AHEAD); PREFETCH_ROW(row, stride + LINEAR_AHEAD); }
        __m512d x[4], x2[4];
        EACH(4, k) x[k] = _mm512_maskz_loadu_pd(m[k], row + 8 * k);
        EACH(4, k) x2[k] = _mm512_maskz_loadu_pd(m[k], row + stride + 8 * k);
        EACH(pt, t) {
            __m512d wj = _mm512_set1_pd(wq[t * d + j]), wj2 = _mm512_set1_pd(wq[t * d + j + 1]);
            EACH(4, k) z[t][k] = _mm512_fmadd_pd(wj, x[k], z[t][k]);
            EACH(4, k) odd[t][k] = _mm512_fmadd_pd(wj2, x2[k], odd[t][k]);
        }
    }
    if (j < d) {
        const double *row = slab + j * stride;
        __m512d x[4];
        EACH(4, k) x[k] = _mm512_maskz_loadu_pd(m[k], row + 8 * k);
        EACH(pt, t) {
            __m512d wj = _mm512_set1_pd(wq[t * d + j]);
            EACH(4, k) z[t][k] = _mm512_fmadd_pd(wj, x[k], z[t][k]);
        }
    }
    EACH(pt, t) {
        __m512d yv[4], mass[4], sig[4];
        EACH(4, k) z[t][k] = _mm512_add_pd(z[t][k], odd[t][k]);
        EACH(4, k) yv[k] = ys ? _mm512_maskz_loadu_pd(m[k], yq + t * n + 8 * k) : _mm512_set1_pd(yq[0]);
        logistic8(4, z[t], yv, mass, sig);
        EACH(4, k) *totals = _mm512_mask_add_pd(*totals, m[k], *totals, mass[k]);
        EACH(4, k) z[t][k] = _mm512_maskz_sub_pd(m[k], yv[k], sig[k]);
    }
    for (j = 0; j < d; j++) {
        const double *row = slab + j * stride;
        if (lead) PREFETCH_ROW(slab, LINEAR_BLOCK * d + j * LINEAR_BLOCK);
        __m512d x[4];
        EACH(4, k) x[k] = _mm512_maskz_loadu_pd(m[k], row + 8 * k);
        EACH(pt, t) {
            double *g = gacc + (t * d + j) * 8;
            __m512d a = _mm512_loadu_pd(g);
            EACH(4, k) a = _mm512_fmadd_pd(z[t][k], x[k], a);
            _mm512_storeu_pd(g, a);
        }
    }
}

static AVX512 double linear_bernoulli_avx512(const double *restrict xt, long n, long d, const double *restrict w, long p,
                                             const double *restrict y, long ys, double *restrict grad, double *restrict tmp) {
    double *gacc = tmp;
    for (long k = 0; k < 8 * p * d; k++) gacc[k] = 0;
    __m512d totals = _mm512_setzero_pd();
    for (long start = 0; start < n; start += LINEAR_BLOCK) {
        long nb = n - start < LINEAR_BLOCK ? n - start : LINEAR_BLOCK;
        __mmask8 m[4];
        for (int k = 0; k < 4; k++) {
            long rows = nb - 8 * k;
            m[k] = rows >= 8 ? (__mmask8)0xFF : rows <= 0 ? (__mmask8)0 : (__mmask8)((1u << rows) - 1);
        }
        const double *slab = xt + start * d;
        long q = 0;
        for (; q + 2 <= p; q += 2)
            linear_tile8(slab, nb, d, m, w + q * d, ys ? y + q * n + start : y, ys, n, gacc + q * d * 8, &totals, 2, q == 0);
        if (q < p) linear_tile8(slab, nb, d, m, w + q * d, ys ? y + q * n + start : y, ys, n, gacc + q * d * 8, &totals, 1, q == 0);
    }
    for (long k = 0; k < p * d; k++) {
        const double *g = gacc + 8 * k;
        grad[k] = ((g[0] + g[4]) + (g[1] + g[5])) + ((g[2] + g[6]) + (g[3] + g[7]));
    }
    return _mm512_reduce_add_pd(totals);
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

long svm_linear_bernoulli_scratch(long d, long p) {
    long loop = 4 * LINEAR_BLOCK + 4 * d, tiled = 8 * p * d;
    return loop > tiled ? loop : tiled;
}
