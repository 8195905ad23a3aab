/*
 * grlhf.h - the C ABI of grlhf (Generative RLHF-V on the CPU).
 *
 * This header is the contract: anything not declared here is private.
 *
 * Conventions, true for every function unless its doc block says otherwise:
 *
 *  - Fallible functions return a grlhf_status: GRLHF_OK (0) or a negative code.
 *    On failure grlhf_last_error() describes what went wrong.
 *  - Objects are opaque handles created through out-parameters and released
 *    with grlhf_<type>_free. On failure every out-parameter is set to NULL/0
 *    (when the out-pointer itself is non-NULL).
 *  - Handles are opaque tokens, not addresses, and are never reused: passing a
 *    NULL, freed or wrong-type handle returns GRLHF_ERR_MISUSE instead of
 *    crashing. NULL for any other pointer argument returns
 *    GRLHF_ERR_INVALID_ARGUMENT unless the doc block allows NULL.
 *  - Strings are NUL-terminated UTF-8. Strings returned by the library are
 *    owned by it; the doc block says how long they stay valid.
 *  - Sizes and counts are int64_t, enums and flags int32_t.
 *  - Thread-safety: every function may be called from any thread. A handle may
 *    be read (any const-handle function) from several threads at once;
 *    functions taking a non-const handle need exclusive access to it.
 *    Errors are per thread. grlhf_set_threads changes process-wide settings.
 *
 * ABI stability: shipped signatures never change; GRLHF_ABI_VERSION changes
 * when they must. Bindings compare grlhf_abi_version() with the version they
 * were written for and refuse a mismatched library.
 */
#ifndef GRLHF_H
#define GRLHF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

#define GRLHF_VERSION_MAJOR 0
#define GRLHF_VERSION_MINOR 1
#define GRLHF_VERSION_PATCH 0
/** Changes whenever a declaration in this header changes incompatibly. */
#define GRLHF_ABI_VERSION 1

/**
 * The library's semantic version, e.g. "0.1.0".
 * Returns static text owned by the library; never NULL. Thread-safe.
 */
const char *grlhf_version(void);

/**
 * The ABI version of the loaded library; compare with GRLHF_ABI_VERSION.
 * Thread-safe.
 */
int32_t grlhf_abi_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                   */
/* ------------------------------------------------------------------------ */

typedef int32_t grlhf_status;

/** Success. */
#define GRLHF_OK 0
/** A bad argument: NULL pointer, out-of-range value, bad shape, bad name. */
#define GRLHF_ERR_INVALID_ARGUMENT (-1)
/** A file or stream that does not follow its format. */
#define GRLHF_ERR_INVALID_FORMAT (-2)
/** The operating system refused a read, write, fsync or rename. */
#define GRLHF_ERR_IO (-3)
/** A request larger than memory or a configured budget. */
#define GRLHF_ERR_OUT_OF_MEMORY (-4)
/** A recognised but unsupported feature (e.g. an unknown dtype). */
#define GRLHF_ERR_UNSUPPORTED (-5)
/** API misuse: a NULL, freed or wrong-type handle. */
#define GRLHF_ERR_MISUSE (-6)
/** A bug in grlhf. */
#define GRLHF_ERR_INTERNAL (-7)
/** A callback returned nonzero to stop the operation (reserved). */
#define GRLHF_ERR_CANCELLED (-8)

/**
 * A short description of a status code, e.g. "invalid argument".
 * Returns static text; unknown codes give "unknown status". Never NULL.
 * Thread-safe.
 */
const char *grlhf_status_string(grlhf_status status);

/**
 * The message of the last failed call on the calling thread, or "" when the
 * last fallible call on this thread succeeded (or none was made).
 * The text is owned by the library and stays valid until the next grlhf call
 * on this thread. Never NULL. Thread-local: errors on one thread never change
 * another thread's message.
 */
const char *grlhf_last_error(void);

/* ------------------------------------------------------------------------ */
/* Runtime settings                                                          */
/* ------------------------------------------------------------------------ */

/**
 * Sets the thread counts, each in 1..256.
 * compute_threads: grlhf's own parallelism: large elementwise kernels,
 *   attention heads, and large matrix products split into pieces that each
 *   run single-threaded BLAS. This is the setting to raise (default 1).
 * blas_threads: OpenBLAS's internal threads (default 1). Above 1, grlhf
 *   leaves products to OpenBLAS: it stops splitting them and runs attention
 *   heads one after another, so that the two thread pools never stack.
 * Process-wide: do not call while another thread is computing.
 * Loads OpenBLAS (libopenblas.so.0) if no earlier call has: grlhf first sets
 * OPENBLAS_CORETYPE from the CPU's features unless the environment has it, so
 * call this early, before threads of your own read the environment.
 * Returns GRLHF_OK, GRLHF_ERR_INVALID_ARGUMENT (out-of-range count) or
 * GRLHF_ERR_UNSUPPORTED (OpenBLAS cannot be loaded).
 */
grlhf_status grlhf_set_threads(int32_t blas_threads, int32_t compute_threads);

/**
 * Reads the current thread settings into *blas_threads and *compute_threads.
 * Both pointers must be non-NULL (else GRLHF_ERR_INVALID_ARGUMENT).
 */
grlhf_status grlhf_get_threads(int32_t *blas_threads, int32_t *compute_threads);

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */
/* ------------------------------------------------------------------------ */

/** Largest supported tensor rank. */
#define GRLHF_MAX_RANK 8

/** An immutable row-major float32 tensor with its own storage. */
typedef struct grlhf_tensor grlhf_tensor;

/**
 * Creates a tensor of the given shape.
 *
 * data:  row-major float32 values, count = product of shape (the caller
 *        guarantees that many readable floats); copied. NULL gives zeros.
 * shape: rank dimensions, each >= 0. May be NULL only when rank is 0
 *        (a scalar, one element).
 * rank:  0..GRLHF_MAX_RANK.
 * out:   receives the new handle; free it with grlhf_tensor_free.
 *
 * Returns GRLHF_ERR_INVALID_ARGUMENT (NULL out/shape, bad rank, negative
 * dimension, element count overflow) or GRLHF_ERR_OUT_OF_MEMORY (more than
 * 2^40 bytes or more than physical memory).
 */
grlhf_status grlhf_tensor_create(const float *data, const int64_t *shape, int32_t rank,
                                 grlhf_tensor **out);

/** Writes the tensor's rank (0..GRLHF_MAX_RANK) into *out. */
grlhf_status grlhf_tensor_rank(const grlhf_tensor *tensor, int32_t *out);

/**
 * Copies the tensor's dimensions into dims[0..rank).
 * capacity is the length of dims; capacity < rank gives
 * GRLHF_ERR_INVALID_ARGUMENT. dims may be NULL only when the rank is 0.
 * On failure dims is left untouched (the exception to the out-parameter rule:
 * it is a caller's array, not an out-pointer).
 */
grlhf_status grlhf_tensor_shape(const grlhf_tensor *tensor, int64_t *dims, int32_t capacity);

/** Writes the number of elements (the product of the shape) into *out. */
grlhf_status grlhf_tensor_count(const grlhf_tensor *tensor, int64_t *out);

/**
 * Writes a borrowed pointer to the tensor's contiguous float32 values into
 * *out. The pointer stays valid while the handle lives; do not write through
 * it and do not free it. Never NULL on success, even for an empty tensor.
 */
grlhf_status grlhf_tensor_data(const grlhf_tensor *tensor, const float **out);

/**
 * Copies the tensor's values into dst, which holds capacity floats.
 * capacity < count gives GRLHF_ERR_INVALID_ARGUMENT; dst may be NULL only when
 * the tensor is empty.
 */
grlhf_status grlhf_tensor_copy_to(const grlhf_tensor *tensor, float *dst, int64_t capacity);

/**
 * Releases a tensor. NULL is a no-op; a freed, foreign or wrong-type handle is
 * ignored (and described by grlhf_last_error). Needs exclusive access.
 */
void grlhf_tensor_free(grlhf_tensor *tensor);

/* ------------------------------------------------------------------------ */
/* Tensor sets: ordered name -> tensor maps                                  */
/* ------------------------------------------------------------------------ */

/** An ordered map from unique UTF-8 names to tensors, e.g. a checkpoint. */
typedef struct grlhf_tensor_set grlhf_tensor_set;

/** Creates an empty set in *out; free it with grlhf_tensor_set_free. */
grlhf_status grlhf_tensor_set_create(grlhf_tensor_set **out);

/**
 * Appends a copy of tensor under name (the set does not keep the handle).
 * Returns GRLHF_ERR_INVALID_ARGUMENT for a NULL, empty or invalid UTF-8 name,
 * the name "__metadata__" (reserved by safetensors) or a name already present
 * (names compare as bytes); GRLHF_ERR_MISUSE for a bad set or tensor handle.
 * Invalidates names borrowed from this set.
 */
grlhf_status grlhf_tensor_set_add(grlhf_tensor_set *set, const char *name,
                                  const grlhf_tensor *tensor);

/** Writes the number of entries into *out. */
grlhf_status grlhf_tensor_set_count(const grlhf_tensor_set *set, int64_t *out);

/**
 * Writes a borrowed pointer to the name of entry index (0..count-1, in
 * insertion or file order) into *out. Valid while the set lives and is not
 * modified. An index out of range gives GRLHF_ERR_INVALID_ARGUMENT.
 */
grlhf_status grlhf_tensor_set_name(const grlhf_tensor_set *set, int64_t index, const char **out);

/**
 * Writes a new tensor handle holding a copy of the entry called name into
 * *out; the caller frees it with grlhf_tensor_free. A missing name gives
 * GRLHF_ERR_INVALID_ARGUMENT.
 */
grlhf_status grlhf_tensor_set_get(const grlhf_tensor_set *set, const char *name,
                                  grlhf_tensor **out);

/**
 * Releases a set and its tensors. NULL is a no-op; a freed, foreign or
 * wrong-type handle is ignored. Needs exclusive access.
 */
void grlhf_tensor_set_free(grlhf_tensor_set *set);

/* ------------------------------------------------------------------------ */
/* Safetensors files                                                         */
/* ------------------------------------------------------------------------ */

/**
 * Loads every tensor of a .safetensors file into a new set in *out (file
 * order). F32, F16 and BF16 tensors are read as float32.
 * Returns GRLHF_ERR_IO (cannot read), GRLHF_ERR_INVALID_FORMAT (corrupt file,
 * the message names the corruption), GRLHF_ERR_UNSUPPORTED (another dtype, or
 * a rank above GRLHF_MAX_RANK), GRLHF_ERR_OUT_OF_MEMORY (a tensor larger than
 * physical memory or 2^40 bytes) or GRLHF_ERR_INVALID_ARGUMENT (NULL or
 * non-UTF-8 path). Tensors are read straight into their float32 storage: F32
 * files need about their own size in memory, F16/BF16 files twice it.
 */
grlhf_status grlhf_safetensors_load(const char *path, grlhf_tensor_set **out);

/**
 * Writes every tensor of set, as float32 in set order, to a .safetensors file
 * at path. The write is atomic (temporary file in the same directory, fsync,
 * rename): path holds either its old content or the complete new file.
 * Returns GRLHF_ERR_IO when the file cannot be written, GRLHF_ERR_MISUSE for a
 * bad set handle, GRLHF_ERR_INVALID_ARGUMENT for a NULL or non-UTF-8 path.
 */
grlhf_status grlhf_safetensors_save(const char *path, const grlhf_tensor_set *set);

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                               */
/* ------------------------------------------------------------------------ */

/**
 * The number of live handles of every type (created and not yet freed), for
 * leak tests. Thread-safe.
 */
int64_t grlhf_live_handles(void);

#ifdef __cplusplus
}
#endif

#endif /* GRLHF_H */
