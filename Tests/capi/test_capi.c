/*
 * C ABI tests: every function of include/grlhf.h, the misuse matrix (NULL for each pointer,
 * freed, foreign and wrong-type handles, bad sizes, bad UTF-8), safetensors round trips,
 * handle leaks and per-thread errors.
 *
 * Each test runs in a child process, so a trap or crash in the library counts as a failure
 * instead of ending the run. Build: see run.sh (-std=c99 -Wall -Wextra -Werror -pedantic).
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Pointers that are not handles, to fill out-params before a call that must reset them. */
#define SENTINEL_TENSOR ((grlhf_tensor *)(uintptr_t)0x1)
#define SENTINEL_SET ((grlhf_tensor_set *)(uintptr_t)0x1)

static grlhf_tensor *make_tensor(const float *data, const int64_t *shape, int32_t rank) {
    grlhf_tensor *t = NULL;
    EXPECT(grlhf_tensor_create(data, shape, rank, &t), GRLHF_OK);
    return t;
}

static char temp_path[64];

/* A fresh temporary file path (the file exists and is empty). */
static const char *make_temp_path(void) {
    int fd;
    strcpy(temp_path, "/tmp/grlhf_capi_XXXXXX");
    fd = mkstemp(temp_path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    return temp_path;
}

/* ---- versions, status, errors, threads -------------------------------------------------- */

static void test_version(void) {
    char expected[64];
    sprintf(expected, "%d.%d.%d", GRLHF_VERSION_MAJOR, GRLHF_VERSION_MINOR, GRLHF_VERSION_PATCH);
    CHECK(strcmp(grlhf_version(), expected) == 0);
    CHECK(grlhf_abi_version() == GRLHF_ABI_VERSION);
}

static void test_status_string(void) {
    grlhf_status codes[] = {GRLHF_OK,           GRLHF_ERR_INVALID_ARGUMENT, GRLHF_ERR_INVALID_FORMAT,
                            GRLHF_ERR_IO,       GRLHF_ERR_OUT_OF_MEMORY,    GRLHF_ERR_UNSUPPORTED,
                            GRLHF_ERR_MISUSE,   GRLHF_ERR_INTERNAL,         GRLHF_ERR_CANCELLED,
                            GRLHF_ERR_CALLBACK};
    size_t n = sizeof codes / sizeof codes[0], i, j;
    for (i = 0; i < n; i++) {
        const char *s = grlhf_status_string(codes[i]);
        CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown status") != 0);
        for (j = 0; j < i; j++) CHECK(strcmp(s, grlhf_status_string(codes[j])) != 0);
    }
    CHECK(strcmp(grlhf_status_string(1), "unknown status") == 0);
    CHECK(strcmp(grlhf_status_string(-10), "unknown status") == 0);
    CHECK(strcmp(grlhf_status_string(INT32_MIN), "unknown status") == 0);
}

static void test_last_error(void) {
    int32_t rank = 7;
    const char *first;
    CHECK(strcmp(grlhf_last_error(), "") == 0); /* nothing has failed yet */
    EXPECT(grlhf_tensor_rank(NULL, &rank), GRLHF_ERR_MISUSE);
    CHECK(rank == 0);
    first = grlhf_last_error();
    CHECK(strstr(first, "grlhf_tensor_rank") != NULL); /* messages name the function */
    CHECK(grlhf_last_error() == first);                 /* stable until the next call */
    CHECK(grlhf_status_string(GRLHF_OK) != NULL && grlhf_last_error() == first);
    EXPECT(grlhf_set_threads(1, 1), GRLHF_OK); /* a success clears it */
    CHECK(strcmp(grlhf_last_error(), "") == 0);
}

static void test_threads(void) {
    int32_t blas = -1, compute = -1;
    EXPECT(grlhf_set_threads(2, 3), GRLHF_OK);
    EXPECT(grlhf_get_threads(&blas, &compute), GRLHF_OK);
    CHECK(blas == 2 && compute == 3);
    EXPECT(grlhf_set_threads(0, 1), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_set_threads(1, 0), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_set_threads(-1, 1), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_set_threads(257, 1), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_set_threads(1, INT32_MAX), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_get_threads(&blas, &compute), GRLHF_OK); /* unchanged by the failures */
    CHECK(blas == 2 && compute == 3);
    EXPECT(grlhf_get_threads(NULL, &compute), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(compute == 0);
    EXPECT(grlhf_get_threads(&blas, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(blas == 0);
    EXPECT(grlhf_set_threads(256, 256), GRLHF_OK);
    EXPECT(grlhf_set_threads(1, 1), GRLHF_OK);
}

/* ---- tensors ---------------------------------------------------------------------------- */

static void test_tensor_round_trip(void) {
    const float values[6] = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e30f};
    const int64_t shape[2] = {2, 3};
    int64_t dims[4] = {-1, -1, -1, -1}, count = -1;
    int32_t rank = -1;
    const float *data = NULL;
    float copy[6] = {0};
    grlhf_tensor *t = make_tensor(values, shape, 2);
    CHECK(t != NULL);
    EXPECT(grlhf_tensor_rank(t, &rank), GRLHF_OK);
    CHECK(rank == 2);
    EXPECT(grlhf_tensor_shape(t, dims, 4), GRLHF_OK);
    CHECK(dims[0] == 2 && dims[1] == 3 && dims[2] == -1);
    EXPECT(grlhf_tensor_count(t, &count), GRLHF_OK);
    CHECK(count == 6);
    EXPECT(grlhf_tensor_data(t, &data), GRLHF_OK);
    CHECK(data != NULL && data != values && memcmp(data, values, sizeof values) == 0);
    EXPECT(grlhf_tensor_copy_to(t, copy, 6), GRLHF_OK);
    CHECK(memcmp(copy, values, sizeof values) == 0);
    grlhf_tensor_free(t);
    CHECK(strcmp(grlhf_last_error(), "") == 0);
}

static void test_tensor_special_shapes(void) {
    const int64_t shape[3] = {4, 0, 5};
    const int64_t big_but_empty[4] = {(int64_t)1 << 20, (int64_t)1 << 20, (int64_t)1 << 20, 0};
    int64_t count = -1, dims[3] = {0};
    int32_t rank = -1;
    const float *data = NULL;
    float scalar_value = 4.5f, out = 0.0f, zeros[3] = {1, 1, 1};
    const int64_t three[1] = {3};
    grlhf_tensor *t;

    /* a scalar: rank 0, shape may be NULL, one element */
    t = make_tensor(&scalar_value, NULL, 0);
    EXPECT(grlhf_tensor_rank(t, &rank), GRLHF_OK);
    CHECK(rank == 0);
    EXPECT(grlhf_tensor_count(t, &count), GRLHF_OK);
    CHECK(count == 1);
    EXPECT(grlhf_tensor_shape(t, NULL, 0), GRLHF_OK);
    EXPECT(grlhf_tensor_copy_to(t, &out, 1), GRLHF_OK);
    CHECK(out == 4.5f);
    grlhf_tensor_free(t);

    /* an empty tensor: data still non-NULL, dst may be NULL */
    t = make_tensor(NULL, shape, 3);
    EXPECT(grlhf_tensor_count(t, &count), GRLHF_OK);
    CHECK(count == 0);
    EXPECT(grlhf_tensor_shape(t, dims, 3), GRLHF_OK);
    CHECK(dims[0] == 4 && dims[1] == 0 && dims[2] == 5);
    EXPECT(grlhf_tensor_data(t, &data), GRLHF_OK);
    CHECK(data != NULL);
    EXPECT(grlhf_tensor_copy_to(t, NULL, 0), GRLHF_OK);
    grlhf_tensor_free(t);

    /* large dimensions whose product is 0 are fine */
    t = make_tensor(NULL, big_but_empty, 4);
    EXPECT(grlhf_tensor_count(t, &count), GRLHF_OK);
    CHECK(count == 0);
    grlhf_tensor_free(t);

    /* NULL data gives zeros */
    t = make_tensor(NULL, three, 1);
    EXPECT(grlhf_tensor_copy_to(t, zeros, 3), GRLHF_OK);
    CHECK(zeros[0] == 0.0f && zeros[1] == 0.0f && zeros[2] == 0.0f);
    grlhf_tensor_free(t);
}

static void test_tensor_create_misuse(void) {
    const int64_t ok_shape[2] = {2, 2};
    const int64_t negative[2] = {2, -1};
    const int64_t overflow[2] = {(int64_t)1 << 62, (int64_t)1 << 62};
    const int64_t overflow_then_zero[3] = {(int64_t)1 << 40, (int64_t)1 << 40, 0};
    const int64_t huge[1] = {(int64_t)1 << 40};
    const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const int64_t eight[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    const int64_t min_dim[1] = {INT64_MIN};
    grlhf_tensor *t = SENTINEL_TENSOR;

    EXPECT(grlhf_tensor_create(NULL, ok_shape, 2, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_create(NULL, NULL, 2, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL);
    t = SENTINEL_TENSOR;
    EXPECT(grlhf_tensor_create(NULL, ok_shape, -1, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL);
    EXPECT(grlhf_tensor_create(NULL, nine, 9, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_create(NULL, ok_shape, INT32_MIN, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_create(NULL, negative, 2, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_create(NULL, min_dim, 1, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_create(NULL, overflow, 2, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_create(NULL, overflow_then_zero, 3, &t), GRLHF_ERR_INVALID_ARGUMENT);
    t = SENTINEL_TENSOR;
    EXPECT(grlhf_tensor_create(NULL, huge, 1, &t), GRLHF_ERR_OUT_OF_MEMORY);
    CHECK(t == NULL);
    t = make_tensor(NULL, eight, 8); /* the maximum rank works */
    CHECK(t != NULL);
    grlhf_tensor_free(t);
}

/* Every tensor function given a handle that is not a live tensor: NULL, freed, foreign or a
 * tensor set. Out-params must come back zeroed. */
static void expect_tensor_misuse(const grlhf_tensor *bad, const char *what) {
    int32_t rank = 7;
    int64_t count = 7, dims[2];
    const float *data = (const float *)(uintptr_t)0x1;
    float dst[4];
    grlhf_tensor_set *set = NULL;
    printf("    misuse: tensor handle = %s\n", what);
    EXPECT(grlhf_tensor_rank(bad, &rank), GRLHF_ERR_MISUSE);
    CHECK(rank == 0);
    EXPECT(grlhf_tensor_shape(bad, dims, 2), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_tensor_count(bad, &count), GRLHF_ERR_MISUSE);
    CHECK(count == 0);
    EXPECT(grlhf_tensor_data(bad, &data), GRLHF_ERR_MISUSE);
    CHECK(data == NULL);
    EXPECT(grlhf_tensor_copy_to(bad, dst, 4), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_tensor_set_create(&set), GRLHF_OK);
    EXPECT(grlhf_tensor_set_add(set, "x", bad), GRLHF_ERR_MISUSE);
    grlhf_tensor_set_free(set);
    grlhf_tensor_free((grlhf_tensor *)(uintptr_t)bad); /* ignored, never a crash */
    if (bad != NULL) CHECK(grlhf_last_error()[0] != '\0');
}

static void expect_set_misuse(const grlhf_tensor_set *bad, const char *what) {
    int64_t count = 7;
    const char *name = "x";
    grlhf_tensor *t = SENTINEL_TENSOR, *x = make_tensor(NULL, NULL, 0);
    printf("    misuse: set handle = %s\n", what);
    EXPECT(grlhf_tensor_set_add((grlhf_tensor_set *)(uintptr_t)bad, "x", x), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_tensor_set_count(bad, &count), GRLHF_ERR_MISUSE);
    CHECK(count == 0);
    EXPECT(grlhf_tensor_set_name(bad, 0, &name), GRLHF_ERR_MISUSE);
    CHECK(name == NULL);
    EXPECT(grlhf_tensor_set_get(bad, "x", &t), GRLHF_ERR_MISUSE);
    CHECK(t == NULL);
    EXPECT(grlhf_safetensors_save("/tmp/grlhf_capi_never_written.safetensors", bad),
           GRLHF_ERR_MISUSE);
    grlhf_tensor_set_free((grlhf_tensor_set *)(uintptr_t)bad);
    if (bad != NULL) CHECK(grlhf_last_error()[0] != '\0');
    grlhf_tensor_free(x);
}

static void test_handle_misuse_matrix(void) {
    const int64_t shape[1] = {4};
    int64_t stack_word = 0, count = -1;
    grlhf_tensor *freed = make_tensor(NULL, shape, 1), *live = make_tensor(NULL, shape, 1);
    grlhf_tensor_set *freed_set = NULL, *live_set = NULL;
    EXPECT(grlhf_tensor_set_create(&freed_set), GRLHF_OK);
    EXPECT(grlhf_tensor_set_create(&live_set), GRLHF_OK);
    grlhf_tensor_free(freed);
    grlhf_tensor_set_free(freed_set);

    expect_tensor_misuse(NULL, "NULL");
    expect_tensor_misuse(freed, "freed");
    expect_tensor_misuse((const grlhf_tensor *)(const void *)&stack_word, "foreign pointer");
    expect_tensor_misuse((const grlhf_tensor *)(const void *)live_set, "a tensor set");

    expect_set_misuse(NULL, "NULL");
    expect_set_misuse(freed_set, "freed");
    expect_set_misuse((const grlhf_tensor_set *)(const void *)&stack_word, "foreign pointer");
    expect_set_misuse((const grlhf_tensor_set *)(const void *)live, "a tensor");

    /* the wrong-type frees above left both live handles intact */
    EXPECT(grlhf_tensor_count(live, &count), GRLHF_OK);
    CHECK(count == 4);
    EXPECT(grlhf_tensor_set_count(live_set, &count), GRLHF_OK);
    CHECK(count == 0);
    CHECK(stack_word == 0);

    /* freeing NULL is a silent no-op; double free is ignored */
    grlhf_tensor_free(NULL);
    CHECK(strcmp(grlhf_last_error(), "") == 0);
    grlhf_tensor_set_free(NULL);
    CHECK(strcmp(grlhf_last_error(), "") == 0);
    grlhf_tensor_free(live);
    grlhf_tensor_free(live);
    CHECK(grlhf_last_error()[0] != '\0');
    grlhf_tensor_set_free(live_set);
    grlhf_tensor_set_free(live_set);
    CHECK(grlhf_last_error()[0] != '\0');
}

static void test_tensor_bad_sizes(void) {
    const int64_t shape[2] = {2, 3};
    int64_t dims[2];
    float dst[6];
    int32_t rank = 7;
    int64_t count = 7;
    const float *data = (const float *)(uintptr_t)0x1;
    grlhf_tensor *t = make_tensor(NULL, shape, 2);
    EXPECT(grlhf_tensor_shape(t, dims, 1), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_shape(t, dims, -1), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_shape(t, dims, INT32_MIN), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_shape(t, NULL, 2), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_copy_to(t, dst, 5), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_copy_to(t, dst, -1), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_copy_to(t, dst, INT64_MIN), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_copy_to(t, NULL, 6), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_copy_to(t, dst, INT64_MAX), GRLHF_OK); /* capacity is an upper bound */
    EXPECT(grlhf_tensor_rank(t, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_count(t, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_data(t, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_rank(t, &rank), GRLHF_OK);
    EXPECT(grlhf_tensor_count(t, &count), GRLHF_OK);
    EXPECT(grlhf_tensor_data(t, &data), GRLHF_OK);
    CHECK(rank == 2 && count == 6 && data != NULL);
    grlhf_tensor_free(t);
}

/* ---- tensor sets ------------------------------------------------------------------------- */

static void test_tensor_set(void) {
    const float a_values[3] = {1, 2, 3}, b_values[4] = {-1, -2, -3, -4};
    const int64_t a_shape[1] = {3}, b_shape[2] = {2, 2};
    grlhf_tensor *a = make_tensor(a_values, a_shape, 1), *b = make_tensor(b_values, b_shape, 2);
    grlhf_tensor *got = NULL;
    grlhf_tensor_set *set = NULL;
    int64_t count = -1, dims[2] = {0};
    const char *name = NULL;
    float values[4];

    EXPECT(grlhf_tensor_set_create(&set), GRLHF_OK);
    EXPECT(grlhf_tensor_set_count(set, &count), GRLHF_OK);
    CHECK(count == 0);
    EXPECT(grlhf_tensor_set_add(set, "model.b", b), GRLHF_OK);
    EXPECT(grlhf_tensor_set_add(set, "model.a", a), GRLHF_OK);
    EXPECT(grlhf_tensor_set_add(set, "\xc3\xa9t\xc3\xa9", a), GRLHF_OK); /* "été" */
    grlhf_tensor_free(a); /* the set keeps its own copies */
    grlhf_tensor_free(b);

    EXPECT(grlhf_tensor_set_count(set, &count), GRLHF_OK);
    CHECK(count == 3);
    EXPECT(grlhf_tensor_set_name(set, 0, &name), GRLHF_OK);
    CHECK(name != NULL && strcmp(name, "model.b") == 0); /* insertion order */
    EXPECT(grlhf_tensor_set_name(set, 1, &name), GRLHF_OK);
    CHECK(name != NULL && strcmp(name, "model.a") == 0);
    EXPECT(grlhf_tensor_set_name(set, 2, &name), GRLHF_OK);
    CHECK(name != NULL && strcmp(name, "\xc3\xa9t\xc3\xa9") == 0);

    EXPECT(grlhf_tensor_set_get(set, "model.b", &got), GRLHF_OK);
    EXPECT(grlhf_tensor_shape(got, dims, 2), GRLHF_OK);
    CHECK(dims[0] == 2 && dims[1] == 2);
    EXPECT(grlhf_tensor_copy_to(got, values, 4), GRLHF_OK);
    CHECK(memcmp(values, b_values, sizeof b_values) == 0);
    grlhf_tensor_free(got);
    got = NULL;
    EXPECT(grlhf_tensor_set_get(set, "model.a", &got), GRLHF_OK);
    grlhf_tensor_set_free(set); /* a handle from get outlives its set */
    EXPECT(grlhf_tensor_copy_to(got, values, 4), GRLHF_OK);
    CHECK(memcmp(values, a_values, sizeof a_values) == 0);
    grlhf_tensor_free(got);
}

static void test_tensor_set_misuse(void) {
    const float one = 1.0f;
    grlhf_tensor *t = make_tensor(&one, NULL, 0), *got = SENTINEL_TENSOR;
    grlhf_tensor_set *set = NULL;
    const char *name = "x";
    int64_t count = -1;

    EXPECT(grlhf_tensor_set_create(NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_set_create(&set), GRLHF_OK);
    EXPECT(grlhf_tensor_set_add(set, "w", t), GRLHF_OK);
    EXPECT(grlhf_tensor_set_add(set, "w", t), GRLHF_ERR_INVALID_ARGUMENT);    /* duplicate */
    EXPECT(grlhf_tensor_set_add(set, "", t), GRLHF_ERR_INVALID_ARGUMENT);     /* empty */
    EXPECT(grlhf_tensor_set_add(set, NULL, t), GRLHF_ERR_INVALID_ARGUMENT);   /* NULL */
    EXPECT(grlhf_tensor_set_add(set, "\xff\xfe", t), GRLHF_ERR_INVALID_ARGUMENT); /* bad UTF-8 */
    EXPECT(grlhf_tensor_set_add(set, "a\xc3", t), GRLHF_ERR_INVALID_ARGUMENT);    /* truncated */
    EXPECT(grlhf_tensor_set_add(set, "\xed\xa0\x80", t), GRLHF_ERR_INVALID_ARGUMENT); /* surrogate */
    EXPECT(grlhf_tensor_set_add(set, "y", NULL), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_tensor_set_count(set, &count), GRLHF_OK);
    CHECK(count == 1); /* failed adds changed nothing */
    EXPECT(grlhf_tensor_set_count(set, NULL), GRLHF_ERR_INVALID_ARGUMENT);

    EXPECT(grlhf_tensor_set_name(set, -1, &name), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(name == NULL);
    EXPECT(grlhf_tensor_set_name(set, 1, &name), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_set_name(set, INT64_MAX, &name), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_set_name(set, INT64_MIN, &name), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_set_name(set, 0, NULL), GRLHF_ERR_INVALID_ARGUMENT);

    EXPECT(grlhf_tensor_set_get(set, "missing", &got), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(got == NULL);
    CHECK(strstr(grlhf_last_error(), "missing") != NULL);
    got = SENTINEL_TENSOR;
    EXPECT(grlhf_tensor_set_get(set, NULL, &got), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(got == NULL);
    EXPECT(grlhf_tensor_set_get(set, "\xff", &got), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tensor_set_get(set, "w", NULL), GRLHF_ERR_INVALID_ARGUMENT);

    grlhf_tensor_set_free(set);
    grlhf_tensor_free(t);
}

/* ---- safetensors ------------------------------------------------------------------------- */

static int same_bits(const grlhf_tensor *a, const grlhf_tensor *b) {
    int32_t ra = -1, rb = -2;
    int64_t da[GRLHF_MAX_RANK], db[GRLHF_MAX_RANK], ca = -1, cb = -2;
    const float *pa = NULL, *pb = NULL;
    if (grlhf_tensor_rank(a, &ra) || grlhf_tensor_rank(b, &rb) || ra != rb) return 0;
    if (grlhf_tensor_shape(a, da, GRLHF_MAX_RANK) || grlhf_tensor_shape(b, db, GRLHF_MAX_RANK)) return 0;
    if (ra > 0 && memcmp(da, db, (size_t)ra * sizeof da[0]) != 0) return 0;
    if (grlhf_tensor_count(a, &ca) || grlhf_tensor_count(b, &cb) || ca != cb) return 0;
    if (grlhf_tensor_data(a, &pa) || grlhf_tensor_data(b, &pb)) return 0;
    return memcmp(pa, pb, (size_t)ca * sizeof(float)) == 0;
}

static void test_safetensors_round_trip(void) {
    float wide[2 * 3 * 4];
    const float scalar = -7.25f;
    const int64_t wide_shape[3] = {2, 3, 4}, empty_shape[2] = {0, 3};
    const float specials[5] = {0.0f, -0.0f, (float)HUGE_VAL, -(float)HUGE_VAL, 1e-45f};
    const int64_t specials_shape[1] = {5};
    const char *names[4] = {"layers.0.weight", "scalar", "empty", "specials"};
    grlhf_tensor *originals[4];
    grlhf_tensor_set *set = NULL, *loaded = NULL;
    const char *path = make_temp_path();
    int64_t count = -1, i;
    for (i = 0; i < 24; i++) wide[i] = (float)i * 0.37f - 3.0f;

    originals[0] = make_tensor(wide, wide_shape, 3);
    originals[1] = make_tensor(&scalar, NULL, 0);
    originals[2] = make_tensor(NULL, empty_shape, 2);
    originals[3] = make_tensor(specials, specials_shape, 1);
    EXPECT(grlhf_tensor_set_create(&set), GRLHF_OK);
    for (i = 0; i < 4; i++) EXPECT(grlhf_tensor_set_add(set, names[i], originals[i]), GRLHF_OK);
    EXPECT(grlhf_safetensors_save(path, set), GRLHF_OK);
    EXPECT(grlhf_safetensors_load(path, &loaded), GRLHF_OK);

    EXPECT(grlhf_tensor_set_count(loaded, &count), GRLHF_OK);
    CHECK(count == 4);
    for (i = 0; i < 4; i++) {
        grlhf_tensor *got = NULL;
        EXPECT(grlhf_tensor_set_get(loaded, names[i], &got), GRLHF_OK);
        if (!same_bits(got, originals[i])) {
            printf("    FAIL: tensor %s differs after the round trip\n", names[i]);
            failures++;
        }
        grlhf_tensor_free(got);
        grlhf_tensor_free(originals[i]);
    }
    grlhf_tensor_set_free(set);
    grlhf_tensor_set_free(loaded);
    remove(path);
}

static void test_safetensors_errors(void) {
    grlhf_tensor_set *set = SENTINEL_SET, *empty = NULL;
    const char *path = make_temp_path();
    FILE *f;

    EXPECT(grlhf_safetensors_load("/nonexistent/grlhf/file.safetensors", &set), GRLHF_ERR_IO);
    CHECK(set == NULL);
    EXPECT(grlhf_safetensors_load(NULL, &set), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_safetensors_load(path, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_safetensors_load("/tmp/\xff\xfe.safetensors", &set), GRLHF_ERR_INVALID_ARGUMENT);

    /* an empty file and garbage are format errors */
    set = SENTINEL_SET;
    EXPECT(grlhf_safetensors_load(path, &set), GRLHF_ERR_INVALID_FORMAT);
    CHECK(set == NULL);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) { /* a 16-byte header that is not JSON */
        const unsigned char length[8] = {16, 0, 0, 0, 0, 0, 0, 0};
        fwrite(length, 1, 8, f);
        fputs("{not json at all", f);
        fclose(f);
    }
    EXPECT(grlhf_safetensors_load(path, &set), GRLHF_ERR_INVALID_FORMAT);
    f = fopen(path, "wb");
    if (f) { /* header length far past the end of the file */
        const unsigned char header[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
        fwrite(header, 1, 8, f);
        fclose(f);
    }
    EXPECT(grlhf_safetensors_load(path, &set), GRLHF_ERR_INVALID_FORMAT);

    EXPECT(grlhf_tensor_set_create(&empty), GRLHF_OK);
    EXPECT(grlhf_safetensors_save("/nonexistent/grlhf/out.safetensors", empty), GRLHF_ERR_IO);
    EXPECT(grlhf_safetensors_save(NULL, empty), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_safetensors_save("/tmp/\xff.safetensors", empty), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_safetensors_save(path, NULL), GRLHF_ERR_MISUSE);
    /* an empty set is a valid file */
    EXPECT(grlhf_safetensors_save(path, empty), GRLHF_OK);
    grlhf_tensor_set_free(empty);
    empty = NULL;
    EXPECT(grlhf_safetensors_load(path, &empty), GRLHF_OK);
    grlhf_tensor_set_free(empty);
    remove(path);
}

/* ---- models: init, save, images (no fixtures: configs are written here) --------------------- */

/* A tiny multimodal config: vocabulary 16, image token 15, 8x8 images in 4x4 patches
 * (4 positions per image). `extra` is spliced into the top-level object. */
#define TEXT_CONFIG                                                                      \
    "{\"model_type\": \"llama\", \"vocab_size\": 16, \"hidden_size\": 8, "                \
    "\"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}"
#define VISION_CONFIG                                                                    \
    "{\"image_size\": 8, \"patch_size\": 4, \"num_channels\": 3, \"hidden_size\": 8, "      \
    "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 16, "     \
    "\"layer_norm_eps\": 1e-6, \"qkv_bias\": true, \"hidden_act\": \"gelu_pytorch_tanh\"}"
#define LLAVA_CONFIG(extra)                                                              \
    "{\"model_type\": \"llava\", \"image_token_index\": 15, " extra                         \
    "\"text_config\": " TEXT_CONFIG ", \"vision_config\": " VISION_CONFIG "}"

/* Writes text to a fresh temporary file; returns its path (static storage, one at a time). */
static const char *write_temp(const char *text) {
    const char *path = make_temp_path();
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static grlhf_model *init_from(const char *config_text) {
    grlhf_model *m = NULL;
    const char *path = write_temp(config_text);
    EXPECT(grlhf_model_init(path, 0, &m), GRLHF_OK);
    remove(path);
    return m;
}

static void expect_init_error(const char *config_text, grlhf_status want, const char *what) {
    grlhf_model *m = (grlhf_model *)(uintptr_t)0x1;
    const char *path = write_temp(config_text);
    printf("    init: %s\n", what);
    EXPECT(grlhf_model_init(path, 0, &m), want);
    CHECK(m == NULL);
    remove(path);
}

static void test_model_init_errors(void) {
    int64_t base = grlhf_live_handles();
    grlhf_model *m = (grlhf_model *)(uintptr_t)0x1;
    EXPECT(grlhf_model_init(NULL, 0, &m), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(m == NULL);
    EXPECT(grlhf_model_init("/tmp/\xff.json", 0, &m), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_init("/nonexistent/grlhf/config.json", 0, &m), GRLHF_ERR_IO);
    expect_init_error("{not json", GRLHF_ERR_INVALID_FORMAT, "not JSON");
    expect_init_error("{\"model_type\": \"llama\"}", GRLHF_ERR_INVALID_FORMAT, "sizes missing");
    expect_init_error("{\"model_type\": \"vit\", \"hidden_size\": 8, \"num_attention_heads\": 2}",
                      GRLHF_ERR_UNSUPPORTED, "another model_type");
    expect_init_error("{\"vocab_size\": 16, \"hidden_size\": 10, \"intermediate_size\": 16, "
                      "\"num_hidden_layers\": 1, \"num_attention_heads\": 4}",
                      GRLHF_ERR_INVALID_ARGUMENT, "hidden size not a multiple of the heads");
    expect_init_error("{\"vocab_size\": 1099511627776, \"hidden_size\": 8, \"intermediate_size\": 16, "
                      "\"num_hidden_layers\": 1, \"num_attention_heads\": 2}",
                      GRLHF_ERR_OUT_OF_MEMORY, "2^40 tokens");
    expect_init_error("{\"vocab_size\": 16, \"hidden_size\": 8, \"intermediate_size\": 16, "
                      "\"num_hidden_layers\": 9223372036854775807, \"num_attention_heads\": 2}",
                      GRLHF_ERR_OUT_OF_MEMORY, "2^63 layers");
    expect_init_error("{\"model_type\": \"llava\", \"image_token_index\": 15, \"text_config\": " TEXT_CONFIG
                      ", \"vision_config\": {\"image_size\": 4611686018427387904, \"patch_size\": 1, "
                      "\"num_channels\": 3, \"hidden_size\": 8, \"num_hidden_layers\": 1, "
                      "\"num_attention_heads\": 2, \"intermediate_size\": 16, \"layer_norm_eps\": 1e-6, "
                      "\"qkv_bias\": true, \"hidden_act\": \"gelu_pytorch_tanh\"}}",
                      GRLHF_ERR_OUT_OF_MEMORY, "2^62-pixel images");
    expect_init_error("{\"model_type\": \"llava\", \"image_token_index\": 16, \"text_config\": " TEXT_CONFIG
                      ", \"vision_config\": " VISION_CONFIG "}",
                      GRLHF_ERR_INVALID_ARGUMENT, "image token outside the vocabulary");
    EXPECT(grlhf_model_init("/tmp/x.json", 0, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(grlhf_live_handles() == base);
}

/* Every image argument that does not fit a prompt, for generation and log-probs alike. */
static void test_model_image_misuse(void) {
    const int64_t one[4] = {1, 3, 8, 8}, two[4] = {2, 3, 8, 8}, none[4] = {0, 3, 8, 8};
    const int64_t small[4] = {1, 3, 4, 4}, gray[4] = {1, 1, 8, 8}, flat[3] = {3, 8, 8};
    const int64_t *bad_shapes[4] = {two, small, gray, flat};
    const int32_t bad_ranks[4] = {4, 4, 4, 3};
    int32_t prompt[3] = {1, 15, 2}, text_ids[3] = {1, 2, 3}, *many;
    float out[8];
    int64_t base = grlhf_live_handles(), i;
    grlhf_sampling_params p;
    grlhf_generation *g = NULL;
    grlhf_model *m = init_from(LLAVA_CONFIG("")), *text = init_from(TEXT_CONFIG);
    grlhf_tensor *image = make_tensor(NULL, one, 4), *empty = make_tensor(NULL, none, 4);
    grlhf_tensor *freed = make_tensor(NULL, one, 4);
    grlhf_tensor_set *set = NULL;
    EXPECT(grlhf_tensor_set_create(&set), GRLHF_OK);
    grlhf_tensor_free(freed);
    EXPECT(grlhf_sampling_params_default(&p), GRLHF_OK);
    p.max_new_tokens = 2;

    /* the right image works, for both calls */
    EXPECT(grlhf_generate_group(m, prompt, 3, image, 2, &p, &g), GRLHF_OK);
    grlhf_generation_free(g);
    EXPECT(grlhf_model_logprobs(m, prompt, 3, image, out, 2), GRLHF_OK);
    CHECK(out[0] == 0.0f && out[1] < 0);

    /* a placeholder without images; images of the wrong count or shape */
    g = (grlhf_generation *)(uintptr_t)0x1;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(g == NULL);
    EXPECT(grlhf_model_logprobs(m, prompt, 3, NULL, out, 2), GRLHF_ERR_INVALID_ARGUMENT);
    for (i = 0; i < 4; i++) {
        grlhf_tensor *bad = make_tensor(NULL, bad_shapes[i], bad_ranks[i]);
        EXPECT(grlhf_generate_group(m, prompt, 3, bad, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(strstr(grlhf_last_error(), "images has shape") != NULL);
        EXPECT(grlhf_model_logprobs(m, prompt, 3, bad, out, 2), GRLHF_ERR_INVALID_ARGUMENT);
        grlhf_tensor_free(bad);
    }
    /* images without a placeholder; an empty batch is no images */
    EXPECT(grlhf_generate_group(m, text_ids, 3, image, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_logprobs(m, text_ids, 3, image, out, 2), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generate_group(m, text_ids, 3, empty, 1, &p, &g), GRLHF_OK);
    grlhf_generation_free(g);
    EXPECT(grlhf_model_logprobs(m, text_ids, 3, empty, out, 2), GRLHF_OK);
    /* handles that are not live tensors */
    EXPECT(grlhf_generate_group(m, prompt, 3, freed, 1, &p, &g), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_model_logprobs(m, prompt, 3, freed, out, 2), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_generate_group(m, prompt, 3, (const grlhf_tensor *)(const void *)set, 1, &p, &g),
           GRLHF_ERR_MISUSE);
    EXPECT(grlhf_model_logprobs(m, prompt, 3, (const grlhf_tensor *)(const void *)m, out, 2),
           GRLHF_ERR_MISUSE);
    /* a text-only model takes no images, not even an empty batch */
    EXPECT(grlhf_generate_group(text, text_ids, 3, empty, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(grlhf_last_error(), "text-only") != NULL);
    EXPECT(grlhf_model_logprobs(text, text_ids, 3, image, out, 2), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_logprobs(text, prompt, 3, NULL, out, 2), GRLHF_OK); /* 15 is a plain token */
    /* 2^20 placeholders widen past 2^20 positions: refused before anything is allocated */
    many = malloc(((size_t)1 << 20) * sizeof *many);
    CHECK(many != NULL);
    if (many) {
        for (i = 0; i < (1 << 20); i++) many[i] = 15;
        EXPECT(grlhf_generate_group(m, many, (int64_t)1 << 20, NULL, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(strstr(grlhf_last_error(), "expand") != NULL);
        EXPECT(grlhf_model_logprobs(m, many, (int64_t)1 << 20, NULL, out, 8), GRLHF_ERR_INVALID_ARGUMENT);
        free(many);
    }
    CHECK(g == NULL);

    grlhf_tensor_set_free(set);
    grlhf_tensor_free(image);
    grlhf_tensor_free(empty);
    grlhf_model_free(m);
    grlhf_model_free(text);
    CHECK(grlhf_live_handles() == base);
}

static void test_model_info_save_image_misuse(void) {
    int32_t token = 7;
    int64_t per_image = 7, size = 7;
    char dir[64], garbage[64];
    grlhf_tensor *t = SENTINEL_TENSOR;
    grlhf_model *m = init_from(LLAVA_CONFIG("")), *text = init_from(TEXT_CONFIG);
    grlhf_model *freed = init_from(TEXT_CONFIG);
    /* a preprocessor whose 4x4 output the 8x8 vision tower cannot read */
    grlhf_model *odd = init_from(LLAVA_CONFIG("\"image_preprocessor\": {\"size\": 4, "
                                              "\"mean\": [0, 0, 0], \"std\": [1, 1, 1]}, "));
    strcpy(garbage, write_temp("not a PNG file at all"));
    grlhf_model_free(freed);

    /* image_info */
    EXPECT(grlhf_model_image_info(m, &token, &per_image, &size), GRLHF_OK);
    CHECK(token == 15 && per_image == 4 && size == 8);
    EXPECT(grlhf_model_image_info(m, NULL, &per_image, &size), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(per_image == 0 && size == 0);
    EXPECT(grlhf_model_image_info(m, &token, NULL, &size), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(token == -1);
    EXPECT(grlhf_model_image_info(m, &token, &per_image, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_image_info(freed, &token, &per_image, &size), GRLHF_ERR_MISUSE);
    CHECK(token == -1 && per_image == 0 && size == 0);
    EXPECT(grlhf_model_image_info(NULL, &token, &per_image, &size), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_model_image_info((const grlhf_model *)(const void *)garbage, &token, &per_image, &size),
           GRLHF_ERR_MISUSE);

    /* image_load: the file is checked after the model and the path */
    EXPECT(grlhf_image_load(m, "/nonexistent/grlhf/image.png", &t), GRLHF_ERR_IO);
    CHECK(t == NULL);
    EXPECT(grlhf_image_load(m, garbage, &t), GRLHF_ERR_INVALID_FORMAT);
    EXPECT(grlhf_image_load(m, NULL, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_image_load(m, "\xff.png", &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_image_load(m, garbage, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_image_load(text, garbage, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(grlhf_last_error(), "text-only") != NULL);
    EXPECT(grlhf_image_load(odd, garbage, &t), GRLHF_ERR_UNSUPPORTED);
    EXPECT(grlhf_image_load(freed, garbage, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_image_load(NULL, garbage, &t), GRLHF_ERR_MISUSE);
    CHECK(t == NULL);

    /* save */
    strcpy(dir, "/tmp/grlhf_capi_save_XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    EXPECT(grlhf_model_save(m, dir), GRLHF_OK);
    EXPECT(grlhf_model_save(m, dir), GRLHF_OK); /* replaces the files */
    EXPECT(grlhf_model_save(m, "/dev/null/grlhf-model"), GRLHF_ERR_IO);
    EXPECT(grlhf_model_save(m, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_save(m, "/tmp/\xff"), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_save(freed, dir), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_model_save(NULL, dir), GRLHF_ERR_MISUSE);
    {
        char path[128];
        grlhf_model *back = NULL;
        EXPECT(grlhf_model_load(dir, &back), GRLHF_OK);
        EXPECT(grlhf_model_image_info(back, &token, &per_image, &size), GRLHF_OK);
        CHECK(token == 15 && per_image == 4 && size == 8);
        grlhf_model_free(back);
        sprintf(path, "%s/config.json", dir);
        remove(path);
        sprintf(path, "%s/model.safetensors", dir);
        remove(path);
        remove(dir);
    }

    remove(garbage);
    grlhf_model_free(m);
    grlhf_model_free(text);
    grlhf_model_free(odd);
}

/* ---- judge handles ------------------------------------------------------------------------ */

/* Every judge function with a NULL, wrong-type (a tensor) and never-created handle: a misuse
   code, out-params reset, no crash. test_judge.c covers the misuse that needs a live judge. */
static void test_judge_handle_misuse(void) {
    const int64_t shape[1] = {1};
    grlhf_tensor *tensor = make_tensor(NULL, shape, 1);
    void *bad[3];
    const char *responses[2] = {"a", "b"};
    int i;
    bad[0] = NULL;
    bad[1] = tensor;
    bad[2] = (void *)(uintptr_t)0x6772ffff0000ULL;
    for (i = 0; i < 3; i++) {
        grlhf_judge *j = bad[i], *out = (grlhf_judge *)(uintptr_t)0x1;
        grlhf_comparisons *c = bad[i], *diag = (grlhf_comparisons *)(uintptr_t)0x1;
        grlhf_reward *r = (grlhf_reward *)(uintptr_t)0x1;
        grlhf_trainer *tr = (grlhf_trainer *)(uintptr_t)0x1;
        float s1 = 0, s2 = 0, rewards[2], a = 0, f = 0;
        int32_t status = 0;
        int64_t len = 7, n = 7, first = 7;
        const char *text = "x";
        EXPECT(grlhf_judge_create(bad[i], bad[i], NULL, &out), GRLHF_ERR_MISUSE);
        CHECK(out == NULL);
        EXPECT(grlhf_judge_compare(j, NULL, "q", "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_MISUSE);
        CHECK(isnan(s1) && isnan(s2) && status == -1 && len == 0);
        EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 2, NULL, rewards, &diag), GRLHF_ERR_MISUSE);
        CHECK(diag == NULL);
        EXPECT(grlhf_comparisons_count(c, &n), GRLHF_ERR_MISUSE);
        CHECK(n == 0);
        EXPECT(grlhf_comparisons_get(c, 0, &first, NULL, NULL, NULL, NULL, NULL, &text), GRLHF_ERR_MISUSE);
        CHECK(first == -1 && text == NULL);
        EXPECT(grlhf_reward_from_judge(j, NULL, &r), GRLHF_ERR_MISUSE);
        CHECK(r == NULL);
        EXPECT(grlhf_judge_accuracy(j, "pairs.jsonl", &a, &f), GRLHF_ERR_MISUSE);
        CHECK(isnan(a) && isnan(f));
        EXPECT(grlhf_judge_trainer_create(j, "pairs.jsonl", 0, NULL, &tr), GRLHF_ERR_MISUSE);
        CHECK(tr == NULL);
        grlhf_judge_free(j);
        grlhf_comparisons_free(c);
    }
    /* the tensor survived being passed as a judge and as comparisons */
    {
        int32_t rank = -1;
        EXPECT(grlhf_tensor_rank(tensor, &rank), GRLHF_OK);
        CHECK(rank == 1);
    }
    grlhf_tensor_free(tensor);
}

/* ---- lifetimes and threads ----------------------------------------------------------------- */

static void test_leaks(void) {
    const int64_t shape[2] = {8, 8};
    const char *path = make_temp_path();
    int64_t base = grlhf_live_handles();
    grlhf_tensor_set *saved = NULL;
    grlhf_tensor *t = make_tensor(NULL, shape, 2);
    int i;

    EXPECT(grlhf_tensor_set_create(&saved), GRLHF_OK);
    EXPECT(grlhf_tensor_set_add(saved, "w", t), GRLHF_OK);
    EXPECT(grlhf_safetensors_save(path, saved), GRLHF_OK);
    grlhf_tensor_set_free(saved);
    grlhf_tensor_free(t);
    CHECK(grlhf_live_handles() == base);

    for (i = 0; i < 10000; i++) {
        grlhf_tensor *x = NULL, *y = NULL;
        grlhf_tensor_set *s = NULL;
        if (grlhf_tensor_create(NULL, shape, 2, &x) != GRLHF_OK) break;
        if (grlhf_tensor_set_create(&s) != GRLHF_OK) break;
        if (grlhf_tensor_set_add(s, "x", x) != GRLHF_OK) break;
        if (grlhf_tensor_set_get(s, "x", &y) != GRLHF_OK) break;
        grlhf_tensor_free(y);
        grlhf_tensor_free(x);
        grlhf_tensor_set_free(s);
    }
    CHECK(i == 10000);
    CHECK(grlhf_live_handles() == base);
    for (i = 0; i < 1000; i++) {
        grlhf_tensor_set *s = NULL;
        if (grlhf_safetensors_load(path, &s) != GRLHF_OK) break;
        grlhf_tensor_set_free(s);
    }
    CHECK(i == 1000);
    CHECK(grlhf_live_handles() == base);
    remove(path);
}

#define WORKERS 4

static void *worker(void *arg) {
    long id = (long)(intptr_t)arg;
    int64_t shape[1];
    char expected[32];
    int i;
    long bad = 0;
    shape[0] = -(int64_t)(id + 1); /* each thread's error message names its own dimension */
    sprintf(expected, "(%ld)", -(id + 1));
    for (i = 0; i < 2000; i++) {
        grlhf_tensor *t = NULL;
        int64_t ok_shape[1] = {16};
        if (grlhf_tensor_create(NULL, shape, 1, &t) != GRLHF_ERR_INVALID_ARGUMENT) bad++;
        if (strstr(grlhf_last_error(), expected) == NULL) bad++;
        if (grlhf_tensor_create(NULL, ok_shape, 1, &t) != GRLHF_OK) bad++;
        grlhf_tensor_free(t);
    }
    return (void *)(intptr_t)bad;
}

static void test_threads_errors_are_per_thread(void) {
    pthread_t threads[WORKERS];
    int64_t base = grlhf_live_handles();
    const char *mine;
    long i;
    EXPECT(grlhf_tensor_rank(NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    mine = grlhf_last_error();
    CHECK(strstr(mine, "out is NULL") != NULL);
    for (i = 0; i < WORKERS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) == 0);
    for (i = 0; i < WORKERS; i++) {
        void *bad = NULL;
        CHECK(pthread_join(threads[i], &bad) == 0);
        CHECK(bad == NULL);
    }
    CHECK(grlhf_last_error() == mine && strstr(mine, "out is NULL") != NULL);
    CHECK(grlhf_live_handles() == base);
}

/* ---- runner -------------------------------------------------------------------------------- */

static const test_case tests[] = {
    {"judge_handle_misuse", test_judge_handle_misuse},
    {"version", test_version},
    {"status_string", test_status_string},
    {"last_error", test_last_error},
    {"threads", test_threads},
    {"tensor_round_trip", test_tensor_round_trip},
    {"tensor_special_shapes", test_tensor_special_shapes},
    {"tensor_create_misuse", test_tensor_create_misuse},
    {"handle_misuse_matrix", test_handle_misuse_matrix},
    {"tensor_bad_sizes", test_tensor_bad_sizes},
    {"tensor_set", test_tensor_set},
    {"tensor_set_misuse", test_tensor_set_misuse},
    {"safetensors_round_trip", test_safetensors_round_trip},
    {"safetensors_errors", test_safetensors_errors},
    {"leaks", test_leaks},
    {"errors_are_per_thread", test_threads_errors_are_per_thread},
    {"model_init_errors", test_model_init_errors},
    {"model_image_misuse", test_model_image_misuse},
    {"model_info_save_image_misuse", test_model_info_save_image_misuse},
};

int main(void) {
    return run_tests(tests, sizeof tests / sizeof tests[0], 120);
}
