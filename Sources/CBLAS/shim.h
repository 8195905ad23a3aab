// The slice of OpenBLAS's C interface grlhf uses, as function-pointer types. grlhf loads
// libopenblas at first use (Sources/GRLHF/Tensor/BLAS.swift) rather than linking it, so it can pick
// the kernel set for this CPU before OpenBLAS reads OPENBLAS_CORETYPE in its constructor.
// Values and the 32-bit `blasint` follow Debian's libopenblas0 (LP64 interface).
#pragma once

enum { GRLHF_CBLAS_ROW_MAJOR = 101, GRLHF_CBLAS_NO_TRANS = 111, GRLHF_CBLAS_TRANS = 112 };

typedef void (*grlhf_cblas_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k,
                                     float alpha, const float *a, int lda, const float *b, int ldb,
                                     float beta, float *c, int ldc);
typedef void (*grlhf_cblas_sgemv_fn)(int order, int trans, int m, int n, float alpha, const float *a, int lda,
                                     const float *x, int incx, float beta, float *y, int incy);
typedef void (*grlhf_openblas_set_num_threads_fn)(int n);
typedef char *(*grlhf_openblas_get_string_fn)(void);
