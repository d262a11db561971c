// The C interfaces of OpenBLAS (CBLAS) and LAPACKE, for the Numerics module.
#include <cblas.h>
#include <lapacke.h>
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
