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

#endif
