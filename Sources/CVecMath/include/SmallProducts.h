#ifndef SMALLPRODUCTS_H
#define SMALLPRODUCTS_H
// Dense products of the small square matrices of the OMT backward rule (d from 17 to a few
// dozen), written for AVX-512: at d = 50 OpenBLAS's Haswell `dgemm` takes about twice as long
// (it packs both operands and takes a lock per call; C harness, thread CPU time: 8.7 against
// 4.7 µs). Only the AVX-512 variant exists: callers use BLAS where `smp_available` is 0.

/// 1 when this CPU runs `smp_gemm` (AVX-512 F, DQ, VL, as `svm_cpu_level() == 2`), else 0.
int smp_available(void);

/// C = β C + α op(A) B for row-major matrices: op(A) is the m×k matrix A (lda ≥ k) or, when
/// `transpose_a` is nonzero, Aᵀ of the k×m matrix A (lda ≥ m); B is k×n (ldb ≥ n), C m×n
/// (ldc ≥ n). C is not read when β = 0. Every entry is one chain of fused multiply-adds over
/// p = 0..k−1 in order, then scaled by α (and β C added): the error of each is within
/// k·ε·Σ_p |op(A)_ip B_pj| (plus the two roundings of the scaling). Only when `smp_available()`.
void smp_gemm(int transpose_a, long m, long n, long k, double alpha, const double *a, long lda, const double *b,
              long ldb, double beta, double *c, long ldc);

#endif
