#include "CVecMath.h"
#include <immintrin.h>
#include <math.h>

/* Every product and sum is rounded on its own, in the order ParameterOptimizer's Swift loop
 * rounds them (Swift never contracts a·b + c into one fused multiply-add; neither may this file),
 * so each variant gives the Swift loop's result bit for bit: only correctly rounded operations
 * (+, −, ×, ÷, √) appear, and the lanes are independent. */
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define ADAM_ELEMENT(i)                                                        \
    double gi = g[i], mi = b1 * m[i] + a1 * gi, vi = b2 * v[i] + a2 * gi * gi; \
    m[i] = mi;                                                                 \
    v[i] = vi;                                                                 \
    x[i] = x[i] - step * (mi / (sqrt(vi) / bc2s + eps));

static void adam_base(double *restrict x, double *restrict m, double *restrict v, const double *restrict g, long n,
                      double b1, double a1, double b2, double a2, double step, double bc2s, double eps) {
    for (long i = 0; i < n; i++) { ADAM_ELEMENT(i) }
}

static __attribute__((target("avx2,fma"))) void adam_avx2(double *restrict x, double *restrict m, double *restrict v,
                                                           const double *restrict g, long n, double b1, double a1, double b2,
                                                           double a2, double step, double bc2s, double eps) {
    for (long i = 0; i < n; i++) { ADAM_ELEMENT(i) }
}

/* Eight lanes a vector, the tail under a mask (a 512-bit division or square root costs about as
 * much as two 256-bit ones on this kind of CPU, but the loop's other work halves). */
static __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) void adam_avx512(
    double *restrict x, double *restrict m, double *restrict v, const double *restrict g, long n, double b1, double a1,
    double b2, double a2, double step, double bc2s, double eps) {
    const __m512d B1 = _mm512_set1_pd(b1), A1 = _mm512_set1_pd(a1), B2 = _mm512_set1_pd(b2), A2 = _mm512_set1_pd(a2),
                  S = _mm512_set1_pd(step), C = _mm512_set1_pd(bc2s), E = _mm512_set1_pd(eps);
    for (long i = 0; i < n; i += 8) {
        __mmask8 k = n - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (n - i)) - 1);
        __m512d gi = _mm512_maskz_loadu_pd(k, g + i), mo = _mm512_maskz_loadu_pd(k, m + i),
                vo = _mm512_maskz_loadu_pd(k, v + i), xo = _mm512_maskz_loadu_pd(k, x + i);
        __m512d mi = _mm512_add_pd(_mm512_mul_pd(B1, mo), _mm512_mul_pd(A1, gi));
        __m512d vi = _mm512_add_pd(_mm512_mul_pd(B2, vo), _mm512_mul_pd(_mm512_mul_pd(A2, gi), gi));
        __m512d den = _mm512_add_pd(_mm512_div_pd(_mm512_sqrt_pd(vi), C), E);
        __m512d xi = _mm512_sub_pd(xo, _mm512_mul_pd(S, _mm512_div_pd(mi, den)));
        _mm512_mask_storeu_pd(m + i, k, mi);
        _mm512_mask_storeu_pd(v + i, k, vi);
        _mm512_mask_storeu_pd(x + i, k, xi);
    }
}

void svm_adam_at(int level, double *x, double *m, double *v, const double *g, long n, double b1, double a1, double b2,
                 double a2, double step, double bc2s, double eps) {
    int best = svm_cpu_level();
    switch (level < best ? (level < 0 ? 0 : level) : best) {
    case 2:
        /* A 512-bit square root and two 512-bit divisions are one long dependency chain (about
         * 80 cycles here); for a few entries the 4-lane and scalar code finishes sooner: the
         * Normal–Normal row's two 2-entry parameters ran 15 % slower a step on the 8-lane loop. */
        if (n < 16) adam_avx2(x, m, v, g, n, b1, a1, b2, a2, step, bc2s, eps);
        else adam_avx512(x, m, v, g, n, b1, a1, b2, a2, step, bc2s, eps);
        break;
    case 1: adam_avx2(x, m, v, g, n, b1, a1, b2, a2, step, bc2s, eps); break;
    default: adam_base(x, m, v, g, n, b1, a1, b2, a2, step, bc2s, eps);
    }
}

void svm_adam(double *x, double *m, double *v, const double *g, long n, double b1, double a1, double b2, double a2,
              double step, double bc2s, double eps) {
    svm_adam_at(svm_cpu_level(), x, m, v, g, n, b1, a1, b2, a2, step, bc2s, eps);
}
