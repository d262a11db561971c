#include "SmallProducts.h"
#include "CVecMath.h"
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))

int smp_available(void) { return svm_cpu_level() >= 2; }

/* Blocks of 6 rows × 32 columns of C, 24 accumulators in registers over the whole k loop:
 * a step of p loads four 8-vectors of row p of B (masked past column n) and broadcasts six
 * entries of op(A), then 24 independent fused multiply-adds. Rows past m repeat the last row
 * (computed, not stored), so every block is the same unrolled code. No packing: at these
 * sizes A, B and C stay in L1/L2. */
AVX512 void smp_gemm(int transpose_a, long m, long n, long k, double alpha, const double *a, long lda, const double *b,
                     long ldb, double beta, double *c, long ldc) {
    long step = transpose_a ? lda : 1;
    for (long j0 = 0; j0 < n; j0 += 32) {
        __mmask8 mask[4];
        for (int v = 0; v < 4; v++) {
            long left = n - j0 - 8 * v;
            mask[v] = left >= 8 ? 0xff : left <= 0 ? 0 : (__mmask8)((1u << left) - 1);
        }
        for (long i0 = 0; i0 < m; i0 += 6) {
            const double *row[6];
            for (int r = 0; r < 6; r++) {
                long i = i0 + r < m ? i0 + r : m - 1;
                row[r] = transpose_a ? a + i : a + i * lda;
            }
            __m512d acc[6][4];
            for (int r = 0; r < 6; r++)
                for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_pd();
            const double *bp = b + j0;
            for (long p = 0; p < k; p++, bp += ldb) {
                __m512d b0 = _mm512_maskz_loadu_pd(mask[0], bp), b1 = _mm512_maskz_loadu_pd(mask[1], bp + 8);
                __m512d b2 = _mm512_maskz_loadu_pd(mask[2], bp + 16), b3 = _mm512_maskz_loadu_pd(mask[3], bp + 24);
                for (int r = 0; r < 6; r++) {
                    __m512d x = _mm512_set1_pd(row[r][p * step]);
                    acc[r][0] = _mm512_fmadd_pd(x, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_pd(x, b1, acc[r][1]);
                    acc[r][2] = _mm512_fmadd_pd(x, b2, acc[r][2]);
                    acc[r][3] = _mm512_fmadd_pd(x, b3, acc[r][3]);
                }
            }
            __m512d al = _mm512_set1_pd(alpha), be = _mm512_set1_pd(beta);
            for (int r = 0; r < 6 && i0 + r < m; r++) {
                double *cr = c + (i0 + r) * ldc + j0;
                for (int v = 0; v < 4; v++) {
                    if (!mask[v]) continue;
                    __m512d t = _mm512_mul_pd(al, acc[r][v]);
                    if (beta != 0) t = _mm512_fmadd_pd(be, _mm512_maskz_loadu_pd(mask[v], cr + 8 * v), t);
                    _mm512_mask_storeu_pd(cr + 8 * v, mask[v], t);
                }
            }
        }
    }
}
