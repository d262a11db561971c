#include "CVecMath.h"
#include <math.h>

#define AVX2 __attribute__((target("avx2,fma")))

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

static int cpu_level = -1;

static int avx2(void) {
    if (__builtin_expect(cpu_level < 0, 0)) {
        __builtin_cpu_init();
        cpu_level = (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
    }
    return cpu_level;
}

int svm_uses_avx2(void) { return avx2(); }

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
