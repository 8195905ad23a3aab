/*
 * C ABI tests of the language-model section of include/grlhf.h: model loading, greedy
 * generation against the Qwen2 fixture, log-probs, tokenizers, the ChatML helper, the misuse
 * matrix of every function, handle leaks, and a multimodal model built from the fixture
 * config (init, save, load, a PNG, generation with the image, log-probs with it).
 *
 * GRLHF_FIXTURES must name Tests/GRLHFTests/Fixtures (run.sh sets it). Each test runs in a
 * child process. Build: see run.sh (-std=c99 -Wall -Wextra -Werror -pedantic).
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SENTINEL(type) ((type *)(uintptr_t)0x1)

static char model_dir[4096], expected_path[4096], tokenizer_path[4096];
static char mm_config[4096], mm_tokenizer[4096], png_path[4096];

#define IMAGE_TOKEN 400 /* "<image>" in the multimodal fixture's tokenizer */
#define TOKENS_PER_IMAGE 16
#define IMAGE_SIZE 16

static const int32_t greedy_expected[8] = {19, 53, 86, 86, 86, 86, 106, 21};

static grlhf_model *load_model(void) {
    grlhf_model *m = NULL;
    EXPECT(grlhf_model_load(model_dir, &m), GRLHF_OK);
    return m;
}

static grlhf_tokenizer *load_tokenizer(void) {
    grlhf_tokenizer *t = NULL;
    EXPECT(grlhf_tokenizer_load(tokenizer_path, &t), GRLHF_OK);
    return t;
}

/* The first row of input_ids in expected.safetensors; returns its length. */
static int64_t fixture_prompt(int32_t *prompt, int64_t capacity) {
    grlhf_tensor_set *set = NULL;
    grlhf_tensor *ids = NULL;
    int64_t dims[2] = {0, 0}, i;
    int32_t rank = 0;
    const float *data = NULL;
    EXPECT(grlhf_safetensors_load(expected_path, &set), GRLHF_OK);
    EXPECT(grlhf_tensor_set_get(set, "input_ids", &ids), GRLHF_OK);
    EXPECT(grlhf_tensor_rank(ids, &rank), GRLHF_OK);
    CHECK(rank == 2);
    EXPECT(grlhf_tensor_shape(ids, dims, 2), GRLHF_OK);
    EXPECT(grlhf_tensor_data(ids, &data), GRLHF_OK);
    CHECK(dims[1] > 0 && dims[1] <= capacity);
    for (i = 0; i < dims[1] && i < capacity; i++) prompt[i] = (int32_t)data[i];
    grlhf_tensor_free(ids);
    grlhf_tensor_set_free(set);
    return dims[1] <= capacity ? dims[1] : 0;
}

/* ---- models ------------------------------------------------------------------------------- */

static void test_model_load(void) {
    int64_t base = grlhf_live_handles(), vocab = -1;
    grlhf_model *m = SENTINEL(grlhf_model);
    m = load_model();
    CHECK(m != NULL);
    CHECK(grlhf_live_handles() == base + 1);
    EXPECT(grlhf_model_vocab_size(m, &vocab), GRLHF_OK);
    CHECK(vocab == 128);
    grlhf_model_free(m);
    CHECK(grlhf_live_handles() == base);
    m = SENTINEL(grlhf_model);
    EXPECT(grlhf_model_load("/nonexistent/grlhf-model", &m), GRLHF_ERR_IO);
    CHECK(m == NULL);
    m = SENTINEL(grlhf_model);
    EXPECT(grlhf_model_load(NULL, &m), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(m == NULL);
    EXPECT(grlhf_model_load(model_dir, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_load("\xff\xfe", &m), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(grlhf_live_handles() == base);
}

static void test_greedy_generation(void) {
    int32_t prompt[64], all[80];
    float logprobs[80];
    int64_t n = fixture_prompt(prompt, 64), count = -1, length = -1, i;
    const int32_t *tokens = NULL;
    const float *lp = NULL;
    int32_t finish = -1;
    grlhf_sampling_params p;
    grlhf_generation *g = NULL;
    grlhf_model *m = load_model();
    CHECK(n == 12);
    EXPECT(grlhf_sampling_params_default(&p), GRLHF_OK);
    CHECK(p.struct_size == sizeof p && p.temperature == 1.0f && p.top_k == 0 && p.top_p == 1.0f);
    CHECK(p.max_new_tokens == 64 && p.seed == 0 && p.stop_tokens == NULL && p.n_stop_tokens == 0);
    p.temperature = 0.0f;
    p.max_new_tokens = 8;
    EXPECT(grlhf_generate_group(m, prompt, n, NULL, 1, &p, &g), GRLHF_OK);
    EXPECT(grlhf_generation_count(g, &count), GRLHF_OK);
    CHECK(count == 1);
    EXPECT(grlhf_generation_tokens(g, 0, &tokens, &lp, &length, &finish), GRLHF_OK);
    CHECK(length == 8 && finish == GRLHF_FINISH_LENGTH && tokens != NULL && lp != NULL);
    if (length == 8) {
        for (i = 0; i < 8; i++) CHECK(tokens[i] == greedy_expected[i]);
        /* log-probs of generation == a forward over prompt + tokens */
        memcpy(all, prompt, (size_t)n * sizeof *all);
        memcpy(all + n, tokens, 8 * sizeof *all);
        EXPECT(grlhf_model_logprobs(m, all, n + 8, NULL, logprobs, 80), GRLHF_OK);
        for (i = 0; i < 8; i++) {
            CHECK(fabsf(logprobs[n - 1 + i] - lp[i]) < 1e-4f);
            CHECK(lp[i] <= 0.0f);
        }
    }
    grlhf_generation_free(g);

    /* a stop token ends the sequence and is kept */
    {
        int32_t stop = 86;
        p.stop_tokens = &stop;
        p.n_stop_tokens = 1;
        EXPECT(grlhf_generate_group(m, prompt, n, NULL, 3, &p, &g), GRLHF_OK);
        EXPECT(grlhf_generation_count(g, &count), GRLHF_OK);
        CHECK(count == 3);
        for (i = 0; i < 3; i++) {
            EXPECT(grlhf_generation_tokens(g, i, &tokens, &lp, &length, &finish), GRLHF_OK);
            CHECK(length == 3 && finish == GRLHF_FINISH_STOP);
            if (length == 3) CHECK(tokens[0] == 19 && tokens[1] == 53 && tokens[2] == 86);
        }
        grlhf_generation_free(g);
    }

    /* max_new_tokens 0: empty sequences with non-NULL pointers */
    p.stop_tokens = NULL;
    p.n_stop_tokens = 0;
    p.max_new_tokens = 0;
    EXPECT(grlhf_generate_group(m, prompt, n, NULL, 2, &p, &g), GRLHF_OK);
    EXPECT(grlhf_generation_tokens(g, 1, &tokens, &lp, &length, &finish), GRLHF_OK);
    CHECK(length == 0 && tokens != NULL && lp != NULL && finish == GRLHF_FINISH_LENGTH);
    grlhf_generation_free(g);

    /* sampling with a seed is reproducible; NULL params are the defaults (64 tokens) */
    {
        grlhf_generation *a = NULL, *b = NULL;
        const int32_t *ta = NULL, *tb = NULL;
        int64_t la = 0, lb = 0;
        p.temperature = 1.0f;
        p.top_k = 20;
        p.top_p = 0.9f;
        p.max_new_tokens = 16;
        p.seed = 42;
        EXPECT(grlhf_generate_group(m, prompt, n, NULL, 4, &p, &a), GRLHF_OK);
        EXPECT(grlhf_generate_group(m, prompt, n, NULL, 4, &p, &b), GRLHF_OK);
        EXPECT(grlhf_generation_tokens(a, 3, &ta, &lp, &la, &finish), GRLHF_OK);
        EXPECT(grlhf_generation_tokens(b, 3, &tb, &lp, &lb, &finish), GRLHF_OK);
        CHECK(la == 16 && lb == 16 && memcmp(ta, tb, 16 * sizeof *ta) == 0);
        grlhf_generation_free(a);
        grlhf_generation_free(b);
        EXPECT(grlhf_generate_group(m, prompt, n, NULL, 1, NULL, &a), GRLHF_OK);
        EXPECT(grlhf_generation_tokens(a, 0, &ta, &lp, &la, &finish), GRLHF_OK);
        CHECK(la == 64);
        grlhf_generation_free(a);
    }
    grlhf_model_free(m);
}

static void test_logprobs(void) {
    int32_t ids[4] = {1, 2, 3, 4};
    float out[3] = {1, 1, 1};
    grlhf_model *m = load_model();
    EXPECT(grlhf_model_logprobs(m, ids, 4, NULL, out, 3), GRLHF_OK);
    CHECK(out[0] < 0 && out[1] < 0 && out[2] < 0);
    EXPECT(grlhf_model_logprobs(m, ids, 1, NULL, NULL, 0), GRLHF_OK); /* nothing to compute */
    EXPECT(grlhf_model_logprobs(m, ids, 4, NULL, out, 2), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_logprobs(m, ids, 4, NULL, NULL, 3), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_logprobs(m, NULL, 4, NULL, out, 3), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_logprobs(m, ids, 0, NULL, out, 3), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_logprobs(m, ids, -1, NULL, out, 3), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_logprobs(m, ids, INT64_MAX, NULL, out, 3), GRLHF_ERR_INVALID_ARGUMENT);
    ids[2] = -1;
    EXPECT(grlhf_model_logprobs(m, ids, 4, NULL, out, 3), GRLHF_ERR_INVALID_ARGUMENT);
    ids[2] = 128;
    EXPECT(grlhf_model_logprobs(m, ids, 4, NULL, out, 3), GRLHF_ERR_INVALID_ARGUMENT);
    ids[2] = 127;
    EXPECT(grlhf_model_logprobs(m, ids, 4, NULL, out, 3), GRLHF_OK);
    grlhf_model_free(m);
    EXPECT(grlhf_model_logprobs(m, ids, 4, NULL, out, 3), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_model_logprobs(NULL, ids, 4, NULL, out, 3), GRLHF_ERR_MISUSE);
}

static void test_generation_misuse(void) {
    int32_t prompt[3] = {5, 6, 7}, stop[2] = {1, 128};
    int64_t count = -1, length = -1;
    const int32_t *tokens = SENTINEL(const int32_t);
    const float *lp = SENTINEL(const float);
    int32_t finish = -1;
    grlhf_sampling_params p, bad;
    grlhf_generation *g = SENTINEL(grlhf_generation);
    grlhf_model *m = load_model();
    grlhf_tokenizer *tok = load_tokenizer();
    int64_t base;
    EXPECT(grlhf_sampling_params_default(&p), GRLHF_OK);
    EXPECT(grlhf_sampling_params_default(NULL), GRLHF_ERR_INVALID_ARGUMENT);
    p.max_new_tokens = 2;
    base = grlhf_live_handles();

    EXPECT(grlhf_generate_group(NULL, prompt, 3, NULL, 1, &p, &g), GRLHF_ERR_MISUSE);
    CHECK(g == NULL);
    EXPECT(grlhf_generate_group((grlhf_model *)tok, prompt, 3, NULL, 1, &p, &g), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_generate_group(m, NULL, 3, NULL, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generate_group(m, prompt, 0, NULL, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generate_group(m, prompt, -3, NULL, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 0, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, -1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1025, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &p, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    prompt[1] = -1;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    prompt[1] = 128;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &p, &g), GRLHF_ERR_INVALID_ARGUMENT);
    prompt[1] = 6;

    bad = p; bad.struct_size = (uint32_t)sizeof bad - 1;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.struct_size = 0;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.temperature = -0.5f;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.temperature = (float)NAN;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.temperature = (float)INFINITY;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.top_k = -1;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.top_p = 0.0f;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.top_p = 1.5f;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.top_p = (float)NAN;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.max_new_tokens = -1;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.max_new_tokens = 65537;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.n_stop_tokens = 1;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.stop_tokens = stop; bad.n_stop_tokens = -1;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.stop_tokens = stop; bad.n_stop_tokens = 2; /* 128 is outside the vocabulary */
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(g == NULL);
    CHECK(grlhf_live_handles() == base);
    bad = p; bad.stop_tokens = stop; bad.n_stop_tokens = 1;
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &bad, &g), GRLHF_OK);

    /* result accessors */
    EXPECT(grlhf_generation_count(g, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generation_count(NULL, &count), GRLHF_ERR_MISUSE);
    CHECK(count == 0);
    EXPECT(grlhf_generation_count((grlhf_generation *)m, &count), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_generation_tokens(g, 1, &tokens, &lp, &length, &finish), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(tokens == NULL && lp == NULL && length == 0 && finish == 0);
    EXPECT(grlhf_generation_tokens(g, -1, &tokens, &lp, &length, &finish), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generation_tokens(g, 0, NULL, &lp, &length, &finish), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generation_tokens(g, 0, &tokens, NULL, &length, &finish), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generation_tokens(g, 0, &tokens, &lp, NULL, &finish), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generation_tokens(g, 0, &tokens, &lp, &length, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_generation_tokens(NULL, 0, &tokens, &lp, &length, &finish), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_generation_tokens(g, 0, &tokens, &lp, &length, &finish), GRLHF_OK);
    grlhf_generation_free((grlhf_generation *)m); /* wrong type: ignored */
    CHECK(strstr(grlhf_last_error(), "grlhf_model") != NULL);
    grlhf_generation_free(g);
    CHECK(strcmp(grlhf_last_error(), "") == 0);
    grlhf_generation_free(g); /* double free: ignored */
    CHECK(grlhf_last_error()[0] != '\0');
    grlhf_generation_free(NULL);
    EXPECT(grlhf_generation_count(g, &count), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_generation_tokens(g, 0, &tokens, &lp, &length, &finish), GRLHF_ERR_MISUSE);

    /* model handle misuse */
    EXPECT(grlhf_model_vocab_size(m, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_model_vocab_size((grlhf_model *)tok, &count), GRLHF_ERR_MISUSE);
    grlhf_model_free((grlhf_model *)tok); /* wrong type: ignored, tok stays usable */
    EXPECT(grlhf_tokenizer_vocab_size(tok, &count), GRLHF_OK);
    grlhf_model_free(m);
    grlhf_model_free(m);
    grlhf_model_free(NULL);
    EXPECT(grlhf_model_vocab_size(m, &count), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_generate_group(m, prompt, 3, NULL, 1, &p, &g), GRLHF_ERR_MISUSE);
    grlhf_tokenizer_free(tok);
}

/* ---- tokenizers ------------------------------------------------------------------------------ */

static void test_tokenizer_round_trip(void) {
    const char *text = "Hello, world! Generative RLHF on the CPU: \xc3\xa9t\xc3\xa9 2026.";
    grlhf_tokenizer *tok = load_tokenizer();
    int64_t count = -1, length = -1, vocab = 0;
    int32_t *ids;
    int32_t small[1] = {-7};
    char *buf, tiny[4] = "xyz";
    EXPECT(grlhf_tokenizer_vocab_size(tok, &vocab), GRLHF_OK);
    CHECK(vocab > 256);
    EXPECT(grlhf_tokenizer_encode(tok, text, NULL, 0, &count), GRLHF_OK); /* ask the count */
    CHECK(count > 1);
    ids = malloc((size_t)count * sizeof *ids);
    EXPECT(grlhf_tokenizer_encode(tok, text, ids, count, &length), GRLHF_OK);
    CHECK(length == count);
    /* too small: the needed count is still written, ids untouched */
    length = -1;
    EXPECT(grlhf_tokenizer_encode(tok, text, small, 1, &length), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(length == count && small[0] == -7);
    EXPECT(grlhf_tokenizer_decode(tok, ids, count, NULL, 0, &length), GRLHF_OK); /* ask the length */
    CHECK(length == (int64_t)strlen(text));
    buf = malloc((size_t)length + 1);
    EXPECT(grlhf_tokenizer_decode(tok, ids, count, buf, length + 1, &length), GRLHF_OK);
    CHECK(strcmp(buf, text) == 0);
    /* capacity == length leaves no room for the NUL */
    EXPECT(grlhf_tokenizer_decode(tok, ids, count, tiny, 4, &length), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(length == (int64_t)strlen(text) && strcmp(tiny, "xyz") == 0);
    EXPECT(grlhf_tokenizer_decode(tok, ids, count, buf, length, &length), GRLHF_ERR_INVALID_ARGUMENT);
    /* empty text and empty ids */
    EXPECT(grlhf_tokenizer_encode(tok, "", NULL, 0, &count), GRLHF_OK);
    CHECK(count == 0);
    EXPECT(grlhf_tokenizer_decode(tok, NULL, 0, tiny, 4, &length), GRLHF_OK);
    CHECK(length == 0 && tiny[0] == '\0');
    free(ids);
    free(buf);
    grlhf_tokenizer_free(tok);
}

static void test_tokenizer_misuse(void) {
    grlhf_tokenizer *tok = SENTINEL(grlhf_tokenizer);
    int64_t count = -1, length = -1;
    int32_t ids[4] = {0, 1, 2, 3};
    char buf[256];
    grlhf_tensor_set *set = NULL;
    EXPECT(grlhf_tokenizer_load(NULL, &tok), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(tok == NULL);
    EXPECT(grlhf_tokenizer_load(tokenizer_path, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_load("/nonexistent/tokenizer.json", &tok), GRLHF_ERR_IO);
    EXPECT(grlhf_tokenizer_load(expected_path, &tok), GRLHF_ERR_INVALID_FORMAT);
    CHECK(tok == NULL);
    tok = load_tokenizer();
    EXPECT(grlhf_tokenizer_encode(tok, NULL, ids, 4, &count), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_encode(tok, "\xff", ids, 4, &count), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_encode(tok, "hi", ids, 4, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_encode(tok, "hi", ids, -1, &count), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_encode(tok, "hi", NULL, 4, &count), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_encode(NULL, "hi", ids, 4, &count), GRLHF_ERR_MISUSE);
    CHECK(count == 0);
    EXPECT(grlhf_tokenizer_decode(tok, NULL, 2, buf, 16, &length), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_decode(tok, ids, -1, buf, 16, &length), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_decode(tok, ids, 4, buf, 16, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_decode(tok, ids, 4, buf, -1, &length), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_tokenizer_decode(tok, ids, 4, NULL, 16, &length), GRLHF_ERR_INVALID_ARGUMENT);
    ids[1] = -5; /* ids naming no token are skipped, not trapped */
    EXPECT(grlhf_tokenizer_decode(tok, ids, 4, buf, 256, &length), GRLHF_OK);
    ids[1] = INT32_MAX;
    EXPECT(grlhf_tokenizer_decode(tok, ids, 4, buf, 256, &length), GRLHF_OK);
    EXPECT(grlhf_tokenizer_vocab_size(tok, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_safetensors_load(expected_path, &set), GRLHF_OK);
    EXPECT(grlhf_tokenizer_encode((grlhf_tokenizer *)set, "hi", ids, 4, &count), GRLHF_ERR_MISUSE);
    grlhf_tokenizer_free((grlhf_tokenizer *)set);
    CHECK(strstr(grlhf_last_error(), "grlhf_tensor_set") != NULL);
    grlhf_tensor_set_free(set);
    grlhf_tokenizer_free(tok);
    grlhf_tokenizer_free(tok);
    grlhf_tokenizer_free(NULL);
    EXPECT(grlhf_tokenizer_encode(tok, "hi", ids, 4, &count), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_tokenizer_decode(tok, ids, 4, buf, 16, &length), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_tokenizer_vocab_size(tok, &count), GRLHF_ERR_MISUSE);
}

static void test_chatml(void) {
    const char *want = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
    char buf[128], tiny[8] = "abcdefg";
    int64_t length = -1;
    EXPECT(grlhf_chatml_user_prompt("What is 2+2?", NULL, 0, &length), GRLHF_OK);
    CHECK(length == (int64_t)strlen(want));
    EXPECT(grlhf_chatml_user_prompt("What is 2+2?", buf, sizeof buf, &length), GRLHF_OK);
    CHECK(strcmp(buf, want) == 0);
    EXPECT(grlhf_chatml_user_prompt("What is 2+2?", tiny, sizeof tiny, &length), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(length == (int64_t)strlen(want) && strcmp(tiny, "abcdefg") == 0);
    EXPECT(grlhf_chatml_user_prompt(NULL, buf, sizeof buf, &length), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(length == 0);
    EXPECT(grlhf_chatml_user_prompt("x", buf, sizeof buf, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_chatml_user_prompt("x", NULL, 5, &length), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_chatml_user_prompt("x", buf, -1, &length), GRLHF_ERR_INVALID_ARGUMENT);
}

static void test_leaks(void) {
    int64_t base = grlhf_live_handles();
    int i;
    for (i = 0; i < 1000; i++) {
        grlhf_model *m = NULL;
        if (grlhf_model_load(model_dir, &m) != GRLHF_OK) break;
        grlhf_model_free(m);
    }
    CHECK(i == 1000);
    for (i = 0; i < 1000; i++) {
        grlhf_tokenizer *t = NULL;
        if (grlhf_tokenizer_load(tokenizer_path, &t) != GRLHF_OK) break;
        grlhf_tokenizer_free(t);
    }
    CHECK(i == 1000);
    CHECK(grlhf_live_handles() == base);
}

/* ---- multimodal models ----------------------------------------------------------------------- */

static grlhf_model *init_multimodal(uint64_t seed) {
    grlhf_model *m = NULL;
    EXPECT(grlhf_model_init(mm_config, seed, &m), GRLHF_OK);
    return m;
}

/* The fixture PNG preprocessed for m: [1, 3, 16, 16]. */
static grlhf_tensor *load_image(const grlhf_model *m) {
    grlhf_tensor *image = NULL;
    EXPECT(grlhf_image_load(m, png_path, &image), GRLHF_OK);
    return image;
}

/* A fresh empty directory under /tmp (its path in buf). */
static void make_temp_dir(char *buf) {
    strcpy(buf, "/tmp/grlhf_capi_model_XXXXXX");
    CHECK(mkdtemp(buf) != NULL);
}

/* Removes DIR/model/{config.json,model.safetensors}, DIR/model and DIR. */
static void remove_saved_model(const char *dir) {
    char path[256];
    sprintf(path, "%s/model/config.json", dir);
    remove(path);
    sprintf(path, "%s/model/model.safetensors", dir);
    remove(path);
    sprintf(path, "%s/model", dir);
    remove(path);
    remove(dir);
}

static int same_floats(const float *a, const float *b, int64_t n) {
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static void test_multimodal_init_save_load(void) {
    int64_t base = grlhf_live_handles(), vocab = 0, per_image = -1, size = -1, dims[4] = {0};
    int32_t token = 0, rank = 0;
    int32_t ids[6] = {1, IMAGE_TOKEN, 50, 60, 70, 80};
    float a[5], b[5];
    char dir[64], model_path[128];
    grlhf_model *m = init_multimodal(7), *back = NULL, *same = init_multimodal(7);
    grlhf_model *other = init_multimodal(8), *text = load_model();
    grlhf_tensor *image = load_image(m);

    EXPECT(grlhf_model_image_info(m, &token, &per_image, &size), GRLHF_OK);
    CHECK(token == IMAGE_TOKEN && per_image == TOKENS_PER_IMAGE && size == IMAGE_SIZE);
    EXPECT(grlhf_model_vocab_size(m, &vocab), GRLHF_OK);
    CHECK(vocab == 401);
    EXPECT(grlhf_model_image_info(text, &token, &per_image, &size), GRLHF_OK);
    CHECK(token == -1 && per_image == 0 && size == 0);

    EXPECT(grlhf_tensor_rank(image, &rank), GRLHF_OK);
    EXPECT(grlhf_tensor_shape(image, dims, 4), GRLHF_OK);
    CHECK(rank == 4 && dims[0] == 1 && dims[1] == 3 && dims[2] == IMAGE_SIZE && dims[3] == IMAGE_SIZE);

    /* save, load back: the same weights give the same log-probs, bit for bit */
    make_temp_dir(dir);
    sprintf(model_path, "%s/model", dir); /* save creates the missing directory */
    EXPECT(grlhf_model_save(m, model_path), GRLHF_OK);
    EXPECT(grlhf_model_load(model_path, &back), GRLHF_OK);
    EXPECT(grlhf_model_logprobs(m, ids, 6, image, a, 5), GRLHF_OK);
    EXPECT(grlhf_model_logprobs(back, ids, 6, image, b, 5), GRLHF_OK);
    CHECK(same_floats(a, b, 5));
    CHECK(a[0] == 0.0f); /* ids[1] is an image placeholder: not predicted */
    CHECK(a[1] < 0 && a[2] < 0 && a[3] < 0 && a[4] < 0);
    /* the same seed gives the same model, another seed another one */
    EXPECT(grlhf_model_logprobs(same, ids, 6, image, b, 5), GRLHF_OK);
    CHECK(same_floats(a, b, 5));
    EXPECT(grlhf_model_logprobs(other, ids, 6, image, b, 5), GRLHF_OK);
    CHECK(!same_floats(a, b, 5));

    grlhf_tensor_free(image);
    grlhf_model_free(m);
    grlhf_model_free(back);
    grlhf_model_free(same);
    grlhf_model_free(other);
    grlhf_model_free(text);
    remove_saved_model(dir);
    CHECK(grlhf_live_handles() == base);
}

/* Token ids of the ChatML prompt of `message`, in ids (capacity 256); returns the count. */
static int64_t chat_prompt(const grlhf_tokenizer *tok, const char *message, int32_t *ids) {
    char text[512];
    int64_t length = 0, count = 0;
    EXPECT(grlhf_chatml_user_prompt(message, text, sizeof text, &length), GRLHF_OK);
    EXPECT(grlhf_tokenizer_encode(tok, text, ids, 256, &count), GRLHF_OK);
    return count;
}

static void test_multimodal_generation(void) {
    int32_t prompt[256], all[300], stop = IMAGE_TOKEN;
    float logprobs[300], other_logprobs[300];
    int64_t n, g, i, placeholders = 0, count = 0, base = grlhf_live_handles();
    int64_t zero_shape[4] = {1, 3, IMAGE_SIZE, IMAGE_SIZE};
    grlhf_sampling_params p;
    grlhf_generation *gen = NULL;
    grlhf_model *m = init_multimodal(3);
    grlhf_tokenizer *tok = NULL;
    grlhf_tensor *image = load_image(m), *blank = NULL;
    EXPECT(grlhf_tokenizer_load(mm_tokenizer, &tok), GRLHF_OK);
    n = chat_prompt(tok, "<image>\nwhat shape?", prompt);
    for (i = 0; i < n; i++) placeholders += prompt[i] == IMAGE_TOKEN;
    CHECK(n > 5 && placeholders == 1);

    /* a group with the image; every sequence's log-probs equal a forward over prompt + tokens
     * with the same image. The image token is a stop token, so no generated token is read as
     * an image (it is dropped before re-scoring). */
    EXPECT(grlhf_sampling_params_default(&p), GRLHF_OK);
    p.max_new_tokens = 8;
    p.seed = 5;
    p.stop_tokens = &stop;
    p.n_stop_tokens = 1;
    EXPECT(grlhf_generate_group(m, prompt, n, image, 3, &p, &gen), GRLHF_OK);
    EXPECT(grlhf_generation_count(gen, &count), GRLHF_OK);
    CHECK(count == 3);
    for (g = 0; g < count; g++) {
        const int32_t *tokens = NULL;
        const float *lp = NULL;
        int64_t length = 0, kept;
        int32_t finish = -1;
        EXPECT(grlhf_generation_tokens(gen, g, &tokens, &lp, &length, &finish), GRLHF_OK);
        CHECK(length >= 1 && length <= 8);
        kept = length > 0 && tokens[length - 1] == IMAGE_TOKEN ? length - 1 : length;
        memcpy(all, prompt, (size_t)n * sizeof *all);
        memcpy(all + n, tokens, (size_t)kept * sizeof *all);
        EXPECT(grlhf_model_logprobs(m, all, n + kept, image, logprobs, 300), GRLHF_OK);
        for (i = 0; i < kept; i++) {
            if (fabsf(logprobs[n - 1 + i] - lp[i]) >= 1e-4f) {
                printf("    FAIL: sequence %ld token %ld: log-prob %g, re-scored %g\n", (long)g, (long)i,
                       (double)lp[i], (double)logprobs[n - 1 + i]);
                failures++;
            }
        }
    }
    grlhf_generation_free(gen);

    /* the image matters: a blank image changes the next-token distribution */
    EXPECT(grlhf_tensor_create(NULL, zero_shape, 4, &blank), GRLHF_OK);
    all[n] = 42;
    EXPECT(grlhf_model_logprobs(m, all, n + 1, image, logprobs, 300), GRLHF_OK);
    EXPECT(grlhf_model_logprobs(m, all, n + 1, blank, other_logprobs, 300), GRLHF_OK);
    CHECK(logprobs[n - 1] != other_logprobs[n - 1]);
    /* ...but not the text before it (causal attention) */
    CHECK(logprobs[0] == other_logprobs[0]);

    /* two images: one tensor [2, 3, S, S], image i for the i-th placeholder */
    {
        int32_t two[5] = {IMAGE_TOKEN, 5, IMAGE_TOKEN, 6, 7};
        int64_t shape[4] = {2, 3, IMAGE_SIZE, IMAGE_SIZE};
        const int64_t per = 3 * IMAGE_SIZE * IMAGE_SIZE;
        float *pixels = calloc((size_t)(2 * per), sizeof *pixels), out[4], swapped[4];
        grlhf_tensor *pair = NULL, *reversed = NULL;
        CHECK(pixels != NULL);
        EXPECT(grlhf_tensor_copy_to(image, pixels, per), GRLHF_OK); /* image, then blank */
        EXPECT(grlhf_tensor_create(pixels, shape, 4, &pair), GRLHF_OK);
        memmove(pixels + per, pixels, (size_t)per * sizeof *pixels); /* blank, then image */
        memset(pixels, 0, (size_t)per * sizeof *pixels);
        EXPECT(grlhf_tensor_create(pixels, shape, 4, &reversed), GRLHF_OK);
        EXPECT(grlhf_model_logprobs(m, two, 5, pair, out, 4), GRLHF_OK);
        EXPECT(grlhf_model_logprobs(m, two, 5, reversed, swapped, 4), GRLHF_OK);
        CHECK(out[0] < 0 && out[1] == 0.0f && out[2] < 0 && out[3] < 0);
        CHECK(out[0] != swapped[0]); /* the first placeholder took the first image */
        p.max_new_tokens = 2;
        EXPECT(grlhf_generate_group(m, two, 5, pair, 2, &p, &gen), GRLHF_OK);
        grlhf_generation_free(gen);
        grlhf_tensor_free(pair);
        grlhf_tensor_free(reversed);
        free(pixels);
    }

    /* the image count must match the placeholders */
    gen = SENTINEL(grlhf_generation);
    EXPECT(grlhf_generate_group(m, prompt, n, NULL, 1, &p, &gen), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(gen == NULL && strstr(grlhf_last_error(), "image placeholder") != NULL);
    EXPECT(grlhf_model_logprobs(m, prompt, n, NULL, logprobs, 300), GRLHF_ERR_INVALID_ARGUMENT);
    {
        int32_t none[3] = {5, 6, 7};
        EXPECT(grlhf_generate_group(m, none, 3, image, 1, &p, &gen), GRLHF_ERR_INVALID_ARGUMENT);
        EXPECT(grlhf_model_logprobs(m, none, 3, image, logprobs, 300), GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(strstr(grlhf_last_error(), "[0, 3, 16, 16]") != NULL);
        EXPECT(grlhf_model_logprobs(m, none, 3, NULL, logprobs, 300), GRLHF_OK);
    }

    grlhf_tensor_free(image);
    grlhf_tensor_free(blank);
    grlhf_tokenizer_free(tok);
    grlhf_model_free(m);
    CHECK(grlhf_live_handles() == base);
}

/* ---- runner -------------------------------------------------------------------------------- */

static const test_case tests[] = {
    {"model_load", test_model_load},
    {"greedy_generation", test_greedy_generation},
    {"logprobs", test_logprobs},
    {"generation_misuse", test_generation_misuse},
    {"tokenizer_round_trip", test_tokenizer_round_trip},
    {"tokenizer_misuse", test_tokenizer_misuse},
    {"chatml", test_chatml},
    {"model_tokenizer_leaks", test_leaks},
    {"multimodal_init_save_load", test_multimodal_init_save_load},
    {"multimodal_generation", test_multimodal_generation},
};

int main(void) {
    const char *fixtures = getenv("GRLHF_FIXTURES");
    if (fixtures == NULL || strlen(fixtures) > 3000) {
        printf("set GRLHF_FIXTURES to Tests/GRLHFTests/Fixtures\n");
        return 2;
    }
    sprintf(model_dir, "%s/lm/qwen2", fixtures);
    sprintf(expected_path, "%s/lm/qwen2/expected.safetensors", fixtures);
    sprintf(tokenizer_path, "%s/tokenizer/gpt2/tokenizer.json", fixtures);
    sprintf(mm_config, "%s/multimodal/config.json", fixtures);
    sprintf(mm_tokenizer, "%s/multimodal/tokenizer.json", fixtures);
    sprintf(png_path, "%s/png/rgb_filters.png", fixtures);
    return run_tests(tests, sizeof tests / sizeof tests[0], 300);
}
