// CBLAS from OpenBLAS (Debian: libopenblas-dev), plus OpenBLAS's thread controls.
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
