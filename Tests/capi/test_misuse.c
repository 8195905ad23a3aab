/*
 * The misuse matrix of include/grlhf.h, table-driven: one row per header function, one
 * descriptor per parameter saying what kind of argument it is. For every row the driver first
 * calls the function with valid arguments (it must return the row's `valid` status, so that a
 * misuse case cannot pass because some other argument was already wrong), then once per bad
 * value of each parameter, all others valid:
 *
 *   handle        NULL, a freed handle, a live handle of another type  -> GRLHF_ERR_MISUSE
 *   optional      a freed handle, a live handle of another type         -> GRLHF_ERR_MISUSE
 *   handle
 *   string        NULL (unless optional), invalid UTF-8 (a stray byte, a truncated sequence)
 *                                                                       -> GRLHF_ERR_INVALID_ARGUMENT
 *   out-pointer   NULL                                                  -> GRLHF_ERR_INVALID_ARGUMENT
 *   buffer        NULL while its size is non-zero                      -> GRLHF_ERR_INVALID_ARGUMENT
 *   count, index  below the range, above it, INT64_MIN, INT64_MAX       -> GRLHF_ERR_INVALID_ARGUMENT
 *   capacity      negative, INT64_MIN / INT32_MIN                       -> GRLHF_ERR_INVALID_ARGUMENT
 *   params        struct_size 0 and sizeof - 1                          -> GRLHF_ERR_INVALID_ARGUMENT
 *   callback      NULL (where required)                                 -> GRLHF_ERR_INVALID_ARGUMENT
 *   string array  an element that is not UTF-8                         -> GRLHF_ERR_INVALID_ARGUMENT
 *
 * A failing call must leave a message naming the function and reset every handle out-pointer to
 * NULL. Free functions: NULL is a silent no-op, a freed or wrong-type handle is ignored (with a
 * message) and leaves the other handle alive. Every case runs in its own child process, so an
 * abort or crash is a failure of that case.
 *
 * `test_misuse --list` prints each row's function and its parameters' positions and kinds;
 * check_misuse_table.py (run.sh) checks them against the header: a function without a row, a
 * parameter without a descriptor, or a pointer described as a number (or the reverse) fails.
 *
 * GRLHF_FIXTURES names Tests/GRLHFTests/Fixtures.
 */
#define _POSIX_C_SOURCE 200809L

#include "grlhf.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- fixtures ------------------------------------------------------------------------------- */

static char work[64];
static char mm_config[4096], tokenizer_path[4096], png_path[4096];
static char sft_path[128], pairs_path[128], prompts_path[128], template_path[128], data_dir[128];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        printf("cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* A fresh path under the work directory, unique in this process. */
static const char *scratch(const char *name) {
    static char paths[8][160];
    static int next;
    char *p = paths[next++ % 8];
    sprintf(p, "%s/%ld-%d-%s", work, (long)getpid(), next, name);
    return p;
}

typedef enum {
    T_TENSOR, T_SET, T_MODEL, T_TOKENIZER, T_GENERATION, T_REWARD_MODEL, T_REWARD, T_TRAINER,
    T_JUDGE, T_COMPARISONS, T_PIPELINE, T_COUNT
} htype;

static const char *type_names[T_COUNT] = {
    "grlhf_tensor", "grlhf_tensor_set", "grlhf_model", "grlhf_tokenizer", "grlhf_generation",
    "grlhf_reward_model", "grlhf_reward", "grlhf_trainer", "grlhf_judge", "grlhf_comparisons",
    "grlhf_pipeline"};

/* The live handle of another type passed where `t` is expected: a near miss where there is one. */
static const htype wrong_type_of[T_COUNT] = {
    T_SET, T_TENSOR, T_REWARD_MODEL, T_MODEL, T_COMPARISONS, T_MODEL, T_JUDGE, T_REWARD,
    T_MODEL, T_GENERATION, T_TRAINER};

static int setup_failed;

static void must(grlhf_status s, const char *what) {
    if (s != GRLHF_OK) {
        printf("    SETUP FAILED: %s: %s\n", what, grlhf_last_error());
        setup_failed = 1;
    }
}

static void *make_handle(htype t);

static grlhf_model *new_model(void) { return make_handle(T_MODEL); }
static grlhf_tokenizer *new_tokenizer(void) { return make_handle(T_TOKENIZER); }

static void *make_handle(htype t) {
    void *h = NULL;
    switch (t) {
    case T_TENSOR: {
        int64_t shape[2] = {2, 3};
        must(grlhf_tensor_create(NULL, shape, 2, (grlhf_tensor **)&h), "tensor");
        break;
    }
    case T_SET: {
        grlhf_tensor *x = make_handle(T_TENSOR);
        must(grlhf_tensor_set_create((grlhf_tensor_set **)&h), "set");
        must(grlhf_tensor_set_add(h, "w", x), "set add");
        grlhf_tensor_free(x);
        break;
    }
    case T_MODEL: must(grlhf_model_init(mm_config, 0, (grlhf_model **)&h), "model"); break;
    case T_TOKENIZER: must(grlhf_tokenizer_load(tokenizer_path, (grlhf_tokenizer **)&h), "tokenizer"); break;
    case T_GENERATION: {
        grlhf_model *m = new_model();
        grlhf_sampling_params p;
        int32_t prompt[2] = {1, 2};
        grlhf_sampling_params_default(&p);
        p.max_new_tokens = 2;
        must(grlhf_generate_group(m, prompt, 2, NULL, 2, &p, (grlhf_generation **)&h), "generation");
        grlhf_model_free(m);
        break;
    }
    case T_REWARD_MODEL: {
        grlhf_model *m = new_model();
        must(grlhf_reward_model_create(m, 0, (grlhf_reward_model **)&h), "reward model");
        grlhf_model_free(m);
        break;
    }
    case T_REWARD: must(grlhf_reward_rule("contains-ground-truth", (grlhf_reward **)&h), "reward"); break;
    case T_TRAINER: {
        grlhf_model *m = new_model();
        grlhf_tokenizer *tok = new_tokenizer();
        grlhf_sft_params p;
        grlhf_sft_params_default(&p);
        p.steps = 2;
        p.batch_size = 1;
        must(grlhf_sft_trainer_create(m, tok, sft_path, &p, (grlhf_trainer **)&h), "trainer");
        grlhf_model_free(m);
        grlhf_tokenizer_free(tok);
        break;
    }
    case T_JUDGE: {
        grlhf_model *m = new_model();
        grlhf_tokenizer *tok = new_tokenizer();
        grlhf_judge_params p;
        grlhf_judge_params_default(&p);
        p.template_path = template_path;
        p.max_new_tokens = 3;
        must(grlhf_judge_create(m, tok, &p, (grlhf_judge **)&h), "judge");
        grlhf_model_free(m);
        grlhf_tokenizer_free(tok);
        break;
    }
    case T_COMPARISONS: {
        grlhf_judge *j = make_handle(T_JUDGE);
        const char *responses[2] = {"red", "blue"};
        float rewards[2];
        must(grlhf_judge_score_group(j, NULL, "what color?", responses, NULL, 2, NULL, rewards,
                                     (grlhf_comparisons **)&h), "comparisons");
        grlhf_judge_free(j);
        break;
    }
    case T_PIPELINE: {
        grlhf_pipeline_params p;
        grlhf_pipeline_params_default(&p);
        p.preset = "quick";
        p.data_dir = data_dir;
        p.output_dir = scratch("pipeline");
        must(grlhf_pipeline_create(&p, (grlhf_pipeline **)&h), "pipeline");
        break;
    }
    case T_COUNT: break;
    }
    return h;
}

static void free_handle(htype t, void *h) {
    switch (t) {
    case T_TENSOR: grlhf_tensor_free(h); break;
    case T_SET: grlhf_tensor_set_free(h); break;
    case T_MODEL: grlhf_model_free(h); break;
    case T_TOKENIZER: grlhf_tokenizer_free(h); break;
    case T_GENERATION: grlhf_generation_free(h); break;
    case T_REWARD_MODEL: grlhf_reward_model_free(h); break;
    case T_REWARD: grlhf_reward_free(h); break;
    case T_TRAINER: grlhf_trainer_free(h); break;
    case T_JUDGE: grlhf_judge_free(h); break;
    case T_COMPARISONS: grlhf_comparisons_free(h); break;
    case T_PIPELINE: grlhf_pipeline_free(h); break;
    case T_COUNT: break;
    }
}

/* ---- the table ------------------------------------------------------------------------------ */

/* The arguments of one call, by kind; each row's thunk maps them onto the C parameters. */
typedef struct {
    void *h[5];          /* handles */
    const char *s[4];    /* strings */
    int64_t n[3];        /* sizes, counts, indices, capacities */
    int32_t i[2];        /* int32 sizes */
    void *p[9];          /* out-pointers, buffers, arrays */
    void *params;        /* a params struct (struct_size first) */
    int fn;              /* nonzero: the row's callback; 0: NULL */
    uint64_t store[9];   /* default storage behind p[k] */
} args;

typedef enum {
    A_END,
    A_HANDLE,          /* slot: h[], type */
    A_HANDLE_OPT,      /* NULL allowed */
    A_STR,             /* slot: s[] */
    A_STR_OPT,         /* NULL allowed */
    A_OUT,             /* slot: p[] */
    A_OUT_HANDLE,      /* a handle out-pointer: reset to NULL on failure */
    A_OUT_HANDLE_OPT,  /* the same, NULL allowed */
    A_OUT_OPT,         /* NULL allowed */
    A_BUF,             /* slot: p[]; NULL only with a zero size */
    A_COUNT,           /* slot: n[], range lo..hi */
    A_INDEX,           /* slot: n[], lo..INT64_MAX valid only up to the count */
    A_CAPACITY,        /* slot: n[]; negative is invalid, large is an upper bound */
    A_I32,             /* slot: i[], range lo..hi */
    A_CAP32,           /* slot: i[]; negative is invalid */
    A_NONNEG,          /* slot: n[]; negative is invalid */
    A_PARAMS,          /* the params struct; NULL means defaults */
    A_FN,              /* a required callback */
    A_FN_OPT,          /* an optional callback */
    A_STR_ARRAY,       /* slot: p[] holding const char *[], element 0 replaced */
    A_ANY              /* any value is valid (seeds, flags, user data) */
} kind;

typedef struct {
    int pos; /* the parameter's position in the C declaration */
    kind kind;
    int slot;
    int64_t lo, hi; /* A_COUNT/A_I32 range, A_INDEX lowest valid; htype for handles */
} arg_desc;

#define SKIP_VALID 1 /* a row whose valid call is too slow here (tested elsewhere) */

typedef struct {
    const char *name;
    grlhf_status (*call)(args *a);
    void (*fill)(args *a); /* valid arguments beyond the handles the driver makes */
    grlhf_status valid;
    arg_desc args[12];
    int free_type;         /* >= 0: a free function of that handle type */
    void (*plain)(void);   /* a function without a status: its own checks */
} row;

#define H(pos, slot, type) {pos, A_HANDLE, slot, type, 0}
#define HOPT(pos, slot, type) {pos, A_HANDLE_OPT, slot, type, 0}
#define S(pos, slot) {pos, A_STR, slot, 0, 0}
#define SOPT(pos, slot) {pos, A_STR_OPT, slot, 0, 0}
#define OUT(pos, slot) {pos, A_OUT, slot, 0, 0}
#define OUTH(pos, slot) {pos, A_OUT_HANDLE, slot, 0, 0}
#define OUTHOPT(pos, slot) {pos, A_OUT_HANDLE_OPT, slot, 0, 0}
#define OUTOPT(pos, slot) {pos, A_OUT_OPT, slot, 0, 0}
#define BUF(pos, slot) {pos, A_BUF, slot, 0, 0}
#define COUNT(pos, slot, lo, hi) {pos, A_COUNT, slot, lo, hi}
#define INDEX(pos, slot, lo) {pos, A_INDEX, slot, lo, 0}
#define CAP(pos, slot) {pos, A_CAPACITY, slot, 0, 0}
#define I32(pos, slot, lo, hi) {pos, A_I32, slot, lo, hi}
#define CAP32(pos, slot) {pos, A_CAP32, slot, 0, 0}
#define NONNEG(pos, slot) {pos, A_NONNEG, slot, 0, 0}
#define PARAMS(pos) {pos, A_PARAMS, 0, 0, 0}
#define FN(pos) {pos, A_FN, 0, 0, 0}
#define FNOPT(pos) {pos, A_FN_OPT, 0, 0, 0}
#define SARR(pos, slot) {pos, A_STR_ARRAY, slot, 0, 0}
#define ANY(pos) {pos, A_ANY, 0, 0, 0}

#define MAX_PROMPT ((int64_t)1 << 20)

/* Params storage, big enough for every params struct. */
static union {
    grlhf_sampling_params sampling;
    grlhf_sft_params sft;
    grlhf_rm_params rm;
    grlhf_dpo_params dpo;
    grlhf_grpo_params grpo;
    grlhf_ppo_params ppo;
    grlhf_judge_params judge;
    grlhf_group_params group;
    grlhf_pipeline_params pipeline;
} params_store;

static int32_t ids3[3] = {1, 2, 3};
static float floats[64];
static double doubles[64];
static char text_buf[8192];
static int32_t id_buf[64];
static const char *names_buf[64];
static const char *two_strings[2];
static const char *two_more[2];

static int32_t reward_fn(void *user, const grlhf_reward_group *g, float *out) {
    int64_t i;
    (void)user;
    for (i = 0; i < g->count; i++) out[i] = 0;
    return 0;
}

static int32_t metrics_fn(void *user, int64_t step, int64_t count, const char *const *names, const double *values) {
    (void)user;
    (void)step;
    (void)count;
    (void)names;
    (void)values;
    return 0;
}

static void log_fn(void *user, const char *line) {
    (void)user;
    (void)line;
}

/* ---- thunks (one per function) and fillers -------------------------------------------------- */

#define THUNK(fn, ...) static grlhf_status call_##fn(args *a) { return grlhf_##fn(__VA_ARGS__); }

THUNK(set_threads, a->i[0], a->i[1])
THUNK(get_threads, a->p[0], a->p[1])
THUNK(tensor_create, NULL, a->p[1], a->i[0], a->p[2])
THUNK(tensor_rank, a->h[0], a->p[0])
THUNK(tensor_shape, a->h[0], a->p[0], a->i[0])
THUNK(tensor_count, a->h[0], a->p[0])
THUNK(tensor_data, a->h[0], a->p[0])
THUNK(tensor_copy_to, a->h[0], a->p[0], a->n[0])
THUNK(tensor_set_create, a->p[0])
THUNK(tensor_set_add, a->h[0], a->s[0], a->h[1])
THUNK(tensor_set_count, a->h[0], a->p[0])
THUNK(tensor_set_name, a->h[0], a->n[0], a->p[0])
THUNK(tensor_set_get, a->h[0], a->s[0], a->p[0])
THUNK(safetensors_load, a->s[0], a->p[0])
THUNK(safetensors_save, a->s[0], a->h[0])
THUNK(model_load, a->s[0], a->p[0])
THUNK(model_init, a->s[0], 7, a->p[0])
THUNK(model_save, a->h[0], a->s[0])
THUNK(model_vocab_size, a->h[0], a->p[0])
THUNK(model_image_info, a->h[0], a->p[0], a->p[1], a->p[2])
THUNK(image_load, a->h[0], a->s[0], a->p[0])
THUNK(model_logprobs, a->h[0], a->p[0], a->n[0], a->h[1], a->p[1], a->n[1])
THUNK(tokenizer_load, a->s[0], a->p[0])
THUNK(tokenizer_vocab_size, a->h[0], a->p[0])
THUNK(tokenizer_encode, a->h[0], a->s[0], a->p[0], a->n[0], a->p[1])
THUNK(tokenizer_decode, a->h[0], a->p[0], a->n[0], a->p[1], a->n[1], a->p[2])
THUNK(chatml_user_prompt, a->s[0], a->p[0], a->n[0], a->p[1])
THUNK(sampling_params_default, a->p[0])
THUNK(generate_group, a->h[0], a->p[0], a->n[0], a->h[1], a->n[1], a->params, a->p[1])
THUNK(generation_count, a->h[0], a->p[0])
THUNK(generation_tokens, a->h[0], a->n[0], a->p[0], a->p[1], a->p[2], a->p[3])
THUNK(sft_params_default, a->p[0])
THUNK(rm_params_default, a->p[0])
THUNK(dpo_params_default, a->p[0])
THUNK(grpo_params_default, a->p[0])
THUNK(ppo_params_default, a->p[0])
THUNK(sft_trainer_create, a->h[0], a->h[1], a->s[0], a->params, a->p[0])
THUNK(rm_trainer_create, a->h[0], a->h[1], a->s[0], a->params, a->p[0])
THUNK(dpo_trainer_create, a->h[0], a->h[1], a->h[2], a->s[0], a->params, a->p[0])
THUNK(grpo_trainer_create, a->h[0], a->h[1], a->h[2], a->s[0], a->h[3], a->params, a->p[0])
THUNK(ppo_trainer_create, a->h[0], a->h[1], a->h[2], a->h[3], a->s[0], a->h[4], a->params, a->p[0])
THUNK(trainer_step, a->h[0])
THUNK(trainer_train, a->h[0], a->n[0], a->fn ? metrics_fn : NULL, NULL)
THUNK(trainer_progress, a->h[0], a->p[0], a->p[1])
THUNK(trainer_metrics, a->h[0], a->n[0], a->p[0], a->p[1], a->n[1], a->p[2])
THUNK(trainer_set_metrics_path, a->h[0], a->s[0])
THUNK(trainer_save_checkpoint, a->h[0], a->s[0])
THUNK(trainer_resume, a->h[0], a->s[0])
THUNK(reward_model_create, a->h[0], 3, a->p[0])
THUNK(reward_model_load, a->s[0], a->p[0])
THUNK(reward_model_save, a->h[0], a->s[0])
THUNK(reward_model_score, a->h[0], a->h[1], a->n[0], a->p[0], NULL, a->p[1], a->p[2])
THUNK(reward_create, a->fn ? reward_fn : NULL, NULL, a->p[0])
THUNK(reward_from_reward_model, a->h[0], a->h[1], a->p[0])
THUNK(reward_rule, a->s[0], a->p[0])
THUNK(judge_params_default, a->p[0])
THUNK(group_params_default, a->p[0])
THUNK(judge_create, a->h[0], a->h[1], a->params, a->p[0])
THUNK(judge_compare, a->h[0], a->s[0], a->s[1], a->s[2], a->s[3], a->p[0], a->p[1], a->p[2], a->p[3], a->n[0], a->p[4])
THUNK(judge_score_group, a->h[0], a->s[0], a->s[1], a->p[0], NULL, a->n[0], a->params, a->p[1], a->p[2])
THUNK(comparisons_count, a->h[0], a->p[0])
THUNK(comparisons_get, a->h[0], a->n[0], a->p[0], a->p[1], a->p[2], a->p[3], a->p[4], a->p[5], a->p[6])
THUNK(reward_from_judge, a->h[0], a->params, a->p[0])
THUNK(judge_accuracy, a->h[0], a->s[0], a->p[0], a->p[1])
THUNK(judge_trainer_create, a->h[0], a->s[0], 0, a->params, a->p[0])
THUNK(pipeline_params_default, a->p[0])
THUNK(pipeline_create, a->params, a->p[0])
THUNK(pipeline_config_json, a->h[0], a->p[0], a->n[0], a->p[1])
THUNK(pipeline_run, a->h[0], a->fn ? log_fn : NULL, NULL)
THUNK(pipeline_summary_json, a->h[0], a->p[0], a->n[0], a->p[1])

static void fill_threads(args *a) { a->i[0] = 1; a->i[1] = 1; }
static void fill_tensor_create(args *a) {
    static int64_t shape[2] = {2, 3};
    a->p[1] = shape;
    a->i[0] = 2;
}
static void fill_tensor_shape(args *a) { a->p[0] = a->store; a->i[0] = 4; }
static void fill_tensor_copy_to(args *a) { a->p[0] = floats; a->n[0] = 64; }
static void fill_name_w(args *a) { a->s[0] = "w"; }
static void fill_name_v(args *a) { a->s[0] = "v"; }
static void fill_set_name(args *a) { a->n[0] = 0; }
static void fill_safetensors_load(args *a) {
    grlhf_tensor_set *set = make_handle(T_SET);
    a->s[0] = scratch("w.safetensors");
    must(grlhf_safetensors_save(a->s[0], set), "save");
    grlhf_tensor_set_free(set);
}
static void fill_save_path(args *a) { a->s[0] = scratch("out.safetensors"); }
static void fill_model_load(args *a) {
    grlhf_model *m = new_model();
    a->s[0] = scratch("model");
    must(grlhf_model_save(m, a->s[0]), "model save");
    grlhf_model_free(m);
}
static void fill_config(args *a) { a->s[0] = mm_config; }
static void fill_dir(args *a) { a->s[0] = scratch("dir"); }
static void fill_png(args *a) { a->s[0] = png_path; }
static void fill_logprobs(args *a) { a->p[0] = ids3; a->n[0] = 3; a->p[1] = floats; a->n[1] = 2; }
static void fill_tokenizer_path(args *a) { a->s[0] = tokenizer_path; }
static void fill_encode(args *a) { a->s[0] = "hello"; a->p[0] = id_buf; a->n[0] = 64; }
static void fill_decode(args *a) { a->p[0] = ids3; a->n[0] = 3; a->p[1] = text_buf; a->n[1] = sizeof text_buf; }
static void fill_chatml(args *a) { a->s[0] = "hello"; a->p[0] = text_buf; a->n[0] = sizeof text_buf; }
static void fill_generate(args *a) {
    grlhf_sampling_params_default(&params_store.sampling);
    params_store.sampling.max_new_tokens = 2;
    a->params = &params_store.sampling;
    a->p[0] = ids3;
    a->n[0] = 3;
    a->n[1] = 2;
}
static void fill_index0(args *a) { a->n[0] = 0; }
static void fill_sft(args *a) {
    grlhf_sft_params_default(&params_store.sft);
    params_store.sft.steps = 1;
    a->params = &params_store.sft;
    a->s[0] = sft_path;
}
static void fill_rm(args *a) {
    grlhf_rm_params_default(&params_store.rm);
    params_store.rm.steps = 1;
    a->params = &params_store.rm;
    a->s[0] = pairs_path;
}
static void fill_dpo(args *a) {
    grlhf_dpo_params_default(&params_store.dpo);
    params_store.dpo.steps = 1;
    a->params = &params_store.dpo;
    a->s[0] = pairs_path;
}
static void fill_grpo(args *a) {
    grlhf_grpo_params_default(&params_store.grpo);
    params_store.grpo.steps = 1;
    params_store.grpo.max_new_tokens = 2;
    a->params = &params_store.grpo;
    a->s[0] = prompts_path;
}
static void fill_ppo(args *a) {
    grlhf_ppo_params_default(&params_store.ppo);
    params_store.ppo.steps = 1;
    params_store.ppo.max_new_tokens = 2;
    a->params = &params_store.ppo;
    a->s[0] = prompts_path;
}
static void fill_train(args *a) { a->n[0] = 1; }
static void fill_metrics(args *a) {
    must(grlhf_trainer_step(a->h[0]), "step"); /* so that there are metrics to copy */
    a->n[0] = -1;
    a->p[0] = names_buf;
    a->p[1] = doubles;
    a->n[1] = 64;
}
static void fill_metrics_path(args *a) { a->s[0] = scratch("metrics.jsonl"); }
static void fill_resume(args *a) {
    a->s[0] = scratch("ckpt");
    must(grlhf_trainer_save_checkpoint(a->h[0], a->s[0]), "checkpoint");
}
static void fill_rm_load(args *a) {
    grlhf_reward_model *rm = make_handle(T_REWARD_MODEL);
    a->s[0] = scratch("rm");
    must(grlhf_reward_model_save(rm, a->s[0]), "rm save");
    grlhf_reward_model_free(rm);
}
static void fill_score(args *a) {
    two_strings[0] = "what?";
    two_strings[1] = "why?";
    two_more[0] = "red";
    two_more[1] = "blue";
    a->n[0] = 2;
    a->p[0] = (void *)two_strings;
    a->p[1] = (void *)two_more;
    a->p[2] = floats;
}
static void fill_reward_create(args *a) { a->fn = 1; }
static void fill_rule(args *a) { a->s[0] = "contains-ground-truth"; }
static void fill_judge_create(args *a) {
    grlhf_judge_params_default(&params_store.judge);
    params_store.judge.template_path = template_path;
    params_store.judge.max_new_tokens = 3;
    a->params = &params_store.judge;
}
static void fill_compare(args *a) {
    a->s[0] = NULL;
    a->s[1] = "what color?";
    a->s[2] = "red";
    a->s[3] = "blue";
    a->p[3] = text_buf;
    a->n[0] = sizeof text_buf;
}
static void fill_group(args *a) {
    grlhf_group_params_default(&params_store.group);
    a->params = &params_store.group;
}
static void fill_score_group(args *a) {
    fill_group(a);
    two_more[0] = "red";
    two_more[1] = "blue";
    a->s[0] = NULL;
    a->s[1] = "what color?";
    a->p[0] = (void *)two_more;
    a->n[0] = 2;
    a->p[1] = floats;
    a->p[2] = a->store + 2;
}
static void fill_comparisons_get(args *a) {
    int k;
    a->n[0] = 0;
    for (k = 0; k < 7; k++) a->p[k] = a->store + k;
}
static void fill_accuracy(args *a) { a->s[0] = pairs_path; }
static void fill_judge_trainer(args *a) {
    grlhf_grpo_params_default(&params_store.grpo);
    params_store.grpo.steps = 1;
    params_store.grpo.max_new_tokens = 2;
    a->params = &params_store.grpo;
    a->s[0] = pairs_path;
}
static void fill_pipeline_create(args *a) {
    grlhf_pipeline_params_default(&params_store.pipeline);
    params_store.pipeline.preset = "quick";
    params_store.pipeline.config_json = "{\"seed\": 3}";
    params_store.pipeline.data_dir = data_dir;
    params_store.pipeline.output_dir = scratch("pipeline");
    a->params = &params_store.pipeline;
}
static void fill_params_out(args *a) { a->p[0] = &params_store; }
static void fill_text_out(args *a) { a->p[0] = text_buf; a->n[0] = sizeof text_buf; }

/* ---- functions without a status -------------------------------------------------------------- */

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            printf("    FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static void plain_version(void) { CHECK(grlhf_version() != NULL && grlhf_version()[0] != '\0'); }
static void plain_abi_version(void) { CHECK(grlhf_abi_version() == GRLHF_ABI_VERSION); }
static void plain_status_string(void) {
    int32_t odd[5] = {1, -10, 12345, INT32_MIN, INT32_MAX};
    int k;
    for (k = 0; k < 5; k++) CHECK(strcmp(grlhf_status_string(odd[k]), "unknown status") == 0);
}
static void plain_last_error(void) {
    CHECK(grlhf_last_error() != NULL);
    grlhf_tensor_rank(NULL, NULL);
    CHECK(grlhf_last_error() != NULL && grlhf_last_error()[0] != '\0');
}
static void plain_live_handles(void) {
    int64_t base = grlhf_live_handles();
    grlhf_tensor *t = make_handle(T_TENSOR);
    CHECK(grlhf_live_handles() == base + 1);
    grlhf_tensor_free(t);
    CHECK(grlhf_live_handles() == base);
}
static void plain_set_callback_error(void) {
    /* outside a callback, with NULL or bytes that are not UTF-8: never a crash */
    grlhf_set_callback_error(NULL);
    grlhf_set_callback_error("\xff\xfe");
    grlhf_set_callback_error("a\xc3");
    grlhf_set_callback_error("");
    CHECK(grlhf_last_error() != NULL);
}

/* ---- the table ---------------------------------------------------------------------------------- */

#define ROW(fn, fill, valid, ...) {"grlhf_" #fn, call_##fn, fill, valid, {__VA_ARGS__}, -1, NULL}
#define FREE_ROW(fn, type) {"grlhf_" #fn, NULL, NULL, GRLHF_OK, {{0, A_HANDLE, 0, type, 0}}, type, NULL}
#define PLAIN_ROW(fn) {"grlhf_" #fn, NULL, NULL, GRLHF_OK, {{0, A_END, 0, 0, 0}}, -1, plain_##fn}

static const row rows[] = {
    PLAIN_ROW(version),
    PLAIN_ROW(abi_version),
    PLAIN_ROW(status_string),
    PLAIN_ROW(last_error),
    ROW(set_threads, fill_threads, GRLHF_OK, I32(0, 0, 1, 256), I32(1, 1, 1, 256)),
    ROW(get_threads, NULL, GRLHF_OK, OUT(0, 0), OUT(1, 1)),
    ROW(tensor_create, fill_tensor_create, GRLHF_OK, ANY(0), BUF(1, 1), I32(2, 0, 0, GRLHF_MAX_RANK), OUTH(3, 2)),
    ROW(tensor_rank, NULL, GRLHF_OK, H(0, 0, T_TENSOR), OUT(1, 0)),
    ROW(tensor_shape, fill_tensor_shape, GRLHF_OK, H(0, 0, T_TENSOR), BUF(1, 0), CAP32(2, 0)),
    ROW(tensor_count, NULL, GRLHF_OK, H(0, 0, T_TENSOR), OUT(1, 0)),
    ROW(tensor_data, NULL, GRLHF_OK, H(0, 0, T_TENSOR), OUT(1, 0)),
    ROW(tensor_copy_to, fill_tensor_copy_to, GRLHF_OK, H(0, 0, T_TENSOR), BUF(1, 0), CAP(2, 0)),
    FREE_ROW(tensor_free, T_TENSOR),
    ROW(tensor_set_create, NULL, GRLHF_OK, OUTH(0, 0)),
    ROW(tensor_set_add, fill_name_v, GRLHF_OK, H(0, 0, T_SET), S(1, 0), H(2, 1, T_TENSOR)),
    ROW(tensor_set_count, NULL, GRLHF_OK, H(0, 0, T_SET), OUT(1, 0)),
    ROW(tensor_set_name, fill_set_name, GRLHF_OK, H(0, 0, T_SET), INDEX(1, 0, 0), OUT(2, 0)),
    ROW(tensor_set_get, fill_name_w, GRLHF_OK, H(0, 0, T_SET), S(1, 0), OUTH(2, 0)),
    FREE_ROW(tensor_set_free, T_SET),
    ROW(safetensors_load, fill_safetensors_load, GRLHF_OK, S(0, 0), OUTH(1, 0)),
    ROW(safetensors_save, fill_save_path, GRLHF_OK, S(0, 0), H(1, 0, T_SET)),
    ROW(model_load, fill_model_load, GRLHF_OK, S(0, 0), OUTH(1, 0)),
    ROW(model_init, fill_config, GRLHF_OK, S(0, 0), ANY(1), OUTH(2, 0)),
    ROW(model_save, fill_dir, GRLHF_OK, H(0, 0, T_MODEL), S(1, 0)),
    FREE_ROW(model_free, T_MODEL),
    ROW(model_vocab_size, NULL, GRLHF_OK, H(0, 0, T_MODEL), OUT(1, 0)),
    ROW(model_image_info, NULL, GRLHF_OK, H(0, 0, T_MODEL), OUT(1, 0), OUT(2, 1), OUT(3, 2)),
    ROW(image_load, fill_png, GRLHF_OK, H(0, 0, T_MODEL), S(1, 0), OUTH(2, 0)),
    ROW(model_logprobs, fill_logprobs, GRLHF_OK, H(0, 0, T_MODEL), BUF(1, 0), COUNT(2, 0, 1, MAX_PROMPT),
        HOPT(3, 1, T_TENSOR), BUF(4, 1), CAP(5, 1)),
    ROW(tokenizer_load, fill_tokenizer_path, GRLHF_OK, S(0, 0), OUTH(1, 0)),
    FREE_ROW(tokenizer_free, T_TOKENIZER),
    ROW(tokenizer_vocab_size, NULL, GRLHF_OK, H(0, 0, T_TOKENIZER), OUT(1, 0)),
    ROW(tokenizer_encode, fill_encode, GRLHF_OK, H(0, 0, T_TOKENIZER), S(1, 0), BUF(2, 0), CAP(3, 0), OUT(4, 1)),
    ROW(tokenizer_decode, fill_decode, GRLHF_OK, H(0, 0, T_TOKENIZER), BUF(1, 0), COUNT(2, 0, 0, MAX_PROMPT),
        BUF(3, 1), CAP(4, 1), OUT(5, 2)),
    ROW(chatml_user_prompt, fill_chatml, GRLHF_OK, S(0, 0), BUF(1, 0), CAP(2, 0), OUT(3, 1)),
    ROW(sampling_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(generate_group, fill_generate, GRLHF_OK, H(0, 0, T_MODEL), BUF(1, 0), COUNT(2, 0, 1, MAX_PROMPT),
        HOPT(3, 1, T_TENSOR), COUNT(4, 1, 1, 1024), PARAMS(5), OUTH(6, 1)),
    ROW(generation_count, NULL, GRLHF_OK, H(0, 0, T_GENERATION), OUT(1, 0)),
    ROW(generation_tokens, fill_index0, GRLHF_OK, H(0, 0, T_GENERATION), INDEX(1, 0, 0), OUT(2, 0), OUT(3, 1),
        OUT(4, 2), OUT(5, 3)),
    FREE_ROW(generation_free, T_GENERATION),
    ROW(sft_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(rm_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(dpo_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(grpo_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(ppo_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(sft_trainer_create, fill_sft, GRLHF_OK, H(0, 0, T_MODEL), H(1, 1, T_TOKENIZER), S(2, 0), PARAMS(3), OUTH(4, 0)),
    ROW(rm_trainer_create, fill_rm, GRLHF_OK, H(0, 0, T_REWARD_MODEL), H(1, 1, T_TOKENIZER), S(2, 0), PARAMS(3),
        OUTH(4, 0)),
    ROW(dpo_trainer_create, fill_dpo, GRLHF_OK, H(0, 0, T_MODEL), HOPT(1, 1, T_MODEL), H(2, 2, T_TOKENIZER), S(3, 0),
        PARAMS(4), OUTH(5, 0)),
    ROW(grpo_trainer_create, fill_grpo, GRLHF_OK, H(0, 0, T_MODEL), HOPT(1, 1, T_MODEL), H(2, 2, T_TOKENIZER),
        S(3, 0), H(4, 3, T_REWARD), PARAMS(5), OUTH(6, 0)),
    ROW(ppo_trainer_create, fill_ppo, GRLHF_OK, H(0, 0, T_MODEL), HOPT(1, 1, T_MODEL), HOPT(2, 2, T_REWARD_MODEL),
        H(3, 3, T_TOKENIZER), S(4, 0), H(5, 4, T_REWARD), PARAMS(6), OUTH(7, 0)),
    ROW(trainer_step, NULL, GRLHF_OK, H(0, 0, T_TRAINER)),
    ROW(trainer_train, fill_train, GRLHF_OK, H(0, 0, T_TRAINER), NONNEG(1, 0), FNOPT(2), ANY(3)),
    ROW(trainer_progress, NULL, GRLHF_OK, H(0, 0, T_TRAINER), OUT(1, 0), OUT(2, 1)),
    ROW(trainer_metrics, fill_metrics, GRLHF_OK, H(0, 0, T_TRAINER), INDEX(1, 0, -1), BUF(2, 0), BUF(3, 1),
        CAP(4, 1), OUT(5, 2)),
    ROW(trainer_set_metrics_path, fill_metrics_path, GRLHF_OK, H(0, 0, T_TRAINER), SOPT(1, 0)),
    ROW(trainer_save_checkpoint, fill_dir, GRLHF_OK, H(0, 0, T_TRAINER), S(1, 0)),
    ROW(trainer_resume, fill_resume, GRLHF_OK, H(0, 0, T_TRAINER), S(1, 0)),
    FREE_ROW(trainer_free, T_TRAINER),
    ROW(reward_model_create, NULL, GRLHF_OK, H(0, 0, T_MODEL), ANY(1), OUTH(2, 0)),
    ROW(reward_model_load, fill_rm_load, GRLHF_OK, S(0, 0), OUTH(1, 0)),
    ROW(reward_model_save, fill_dir, GRLHF_OK, H(0, 0, T_REWARD_MODEL), S(1, 0)),
    ROW(reward_model_score, fill_score, GRLHF_OK, H(0, 0, T_REWARD_MODEL), H(1, 1, T_TOKENIZER),
        COUNT(2, 0, 0, MAX_PROMPT), BUF(3, 0), SARR(3, 0), ANY(4), BUF(5, 1), SARR(5, 1), BUF(6, 2)),
    FREE_ROW(reward_model_free, T_REWARD_MODEL),
    ROW(reward_create, fill_reward_create, GRLHF_OK, FN(0), ANY(1), OUTH(2, 0)),
    ROW(reward_from_reward_model, NULL, GRLHF_OK, H(0, 0, T_REWARD_MODEL), H(1, 1, T_TOKENIZER), OUTH(2, 0)),
    ROW(reward_rule, fill_rule, GRLHF_OK, S(0, 0), OUTH(1, 0)),
    FREE_ROW(reward_free, T_REWARD),
    PLAIN_ROW(set_callback_error),
    ROW(judge_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(group_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(judge_create, fill_judge_create, GRLHF_OK, H(0, 0, T_MODEL), H(1, 1, T_TOKENIZER), PARAMS(2), OUTH(3, 0)),
    FREE_ROW(judge_free, T_JUDGE),
    ROW(judge_compare, fill_compare, GRLHF_OK, H(0, 0, T_JUDGE), SOPT(1, 0), S(2, 1), S(3, 2), S(4, 3), OUT(5, 0),
        OUT(6, 1), OUT(7, 2), BUF(8, 3), CAP(9, 0), OUT(10, 4)),
    ROW(judge_score_group, fill_score_group, GRLHF_OK, H(0, 0, T_JUDGE), SOPT(1, 0), S(2, 1), BUF(3, 0), SARR(3, 0),
        ANY(4), COUNT(5, 0, 0, 1024), PARAMS(6), BUF(7, 1), OUTHOPT(8, 2)),
    ROW(comparisons_count, NULL, GRLHF_OK, H(0, 0, T_COMPARISONS), OUT(1, 0)),
    ROW(comparisons_get, fill_comparisons_get, GRLHF_OK, H(0, 0, T_COMPARISONS), INDEX(1, 0, 0), OUTOPT(2, 0),
        OUTOPT(3, 1), OUTOPT(4, 2), OUTOPT(5, 3), OUTOPT(6, 4), OUTOPT(7, 5), OUTOPT(8, 6)),
    FREE_ROW(comparisons_free, T_COMPARISONS),
    ROW(reward_from_judge, fill_group, GRLHF_OK, H(0, 0, T_JUDGE), PARAMS(1), OUTH(2, 0)),
    ROW(judge_accuracy, fill_accuracy, GRLHF_OK, H(0, 0, T_JUDGE), S(1, 0), OUT(2, 0), OUT(3, 1)),
    ROW(judge_trainer_create, fill_judge_trainer, GRLHF_OK, H(0, 0, T_JUDGE), S(1, 0), ANY(2), PARAMS(3), OUTH(4, 0)),
    ROW(pipeline_params_default, fill_params_out, GRLHF_OK, OUT(0, 0)),
    ROW(pipeline_create, fill_pipeline_create, GRLHF_OK, PARAMS(0), OUTH(1, 0)),
    ROW(pipeline_config_json, fill_text_out, GRLHF_OK, H(0, 0, T_PIPELINE), BUF(1, 0), CAP(2, 0), OUT(3, 1)),
    /* a valid run takes a minute: Tests/capi/test_pipeline.c runs one; here only the handle */
    ROW(pipeline_run, NULL, SKIP_VALID, H(0, 0, T_PIPELINE), FNOPT(1), ANY(2)),
    /* before a run: the arguments are checked, then GRLHF_ERR_MISUSE (no summary yet) */
    ROW(pipeline_summary_json, fill_text_out, GRLHF_ERR_MISUSE, H(0, 0, T_PIPELINE), BUF(1, 0), CAP(2, 0), OUT(3, 1)),
    FREE_ROW(pipeline_free, T_PIPELINE),
    PLAIN_ROW(live_handles),
};

#define N_ROWS (sizeof rows / sizeof rows[0])

/* ---- the driver ------------------------------------------------------------------------------- */

/* One case: which argument (index into row.args, -1 for the valid call) gets which bad value. */
typedef struct {
    int arg;
    int variant;
} case_id;

static const char *bad_utf8[2] = {"\xff\xfe", "ok\xc3"};

/* The bad values of an argument kind; returns how many variants there are. */
static int variants(const arg_desc *d) {
    switch (d->kind) {
    case A_HANDLE: return 3;      /* NULL, freed, wrong type */
    case A_HANDLE_OPT: return 2;  /* freed, wrong type */
    case A_STR: return 3;         /* NULL, two invalid UTF-8 strings */
    case A_STR_OPT: return 2;
    case A_OUT: case A_OUT_HANDLE: return 1;
    case A_BUF: return 1;
    case A_COUNT: return 4;       /* lo - 1, hi + 1, INT64_MIN, INT64_MAX */
    case A_INDEX: return 3;       /* lo - 1, INT64_MIN, INT64_MAX */
    case A_CAPACITY: return 2;    /* -1, INT64_MIN */
    case A_I32: return 4;         /* lo - 1, hi + 1, INT32_MIN, INT32_MAX */
    case A_CAP32: return 2;
    case A_NONNEG: return 2;
    case A_PARAMS: return 2;      /* struct_size 0, sizeof - 1 */
    case A_FN: return 1;
    case A_STR_ARRAY: return 1;
    default: return 0;
    }
}

static const char *variant_name(const arg_desc *d, int v) {
    switch (d->kind) {
    case A_HANDLE: return v == 0 ? "NULL" : v == 1 ? "freed" : "wrong type";
    case A_HANDLE_OPT: return v == 0 ? "freed" : "wrong type";
    case A_STR: return v == 0 ? "NULL" : v == 1 ? "invalid UTF-8" : "truncated UTF-8";
    case A_STR_OPT: return v == 0 ? "invalid UTF-8" : "truncated UTF-8";
    case A_OUT: case A_OUT_HANDLE: case A_FN: return "NULL";
    case A_BUF: return "NULL with a non-zero size";
    case A_COUNT: case A_I32: return v == 0 ? "below range" : v == 1 ? "above range" : v == 2 ? "most negative" : "largest";
    case A_INDEX: return v == 0 ? "below range" : v == 1 ? "most negative" : "largest";
    case A_CAPACITY: case A_CAP32: case A_NONNEG: return v == 0 ? "-1" : "most negative";
    case A_PARAMS: return v == 0 ? "struct_size 0" : "struct_size one byte short";
    case A_STR_ARRAY: return "element not UTF-8";
    default: return "?";
    }
}

static grlhf_status expected_for(const arg_desc *d) {
    return d->kind == A_HANDLE || d->kind == A_HANDLE_OPT ? GRLHF_ERR_MISUSE : GRLHF_ERR_INVALID_ARGUMENT;
}

static void apply(args *a, const arg_desc *d, int v) {
    switch (d->kind) {
    case A_HANDLE:
    case A_HANDLE_OPT: {
        int w = d->kind == A_HANDLE ? v : v + 1;
        if (w == 0) a->h[d->slot] = NULL;
        else if (w == 1) {
            void *h = make_handle((htype)d->lo);
            free_handle((htype)d->lo, h);
            a->h[d->slot] = h;
        } else a->h[d->slot] = make_handle(wrong_type_of[d->lo]);
        break;
    }
    case A_STR: a->s[d->slot] = v == 0 ? NULL : bad_utf8[v - 1]; break;
    case A_STR_OPT: a->s[d->slot] = bad_utf8[v]; break;
    case A_OUT: case A_OUT_HANDLE: case A_BUF: a->p[d->slot] = NULL; break;
    case A_COUNT: {
        int64_t values[4] = {d->lo - 1, d->hi + 1, INT64_MIN, INT64_MAX};
        a->n[d->slot] = values[v];
        break;
    }
    case A_INDEX: {
        int64_t values[3] = {d->lo - 1, INT64_MIN, INT64_MAX};
        a->n[d->slot] = values[v];
        break;
    }
    case A_CAPACITY: case A_NONNEG: a->n[d->slot] = v == 0 ? -1 : INT64_MIN; break;
    case A_I32: {
        int32_t values[4] = {(int32_t)d->lo - 1, (int32_t)d->hi + 1, INT32_MIN, INT32_MAX};
        a->i[d->slot] = values[v];
        break;
    }
    case A_CAP32: a->i[d->slot] = v == 0 ? -1 : INT32_MIN; break;
    case A_PARAMS: {
        uint32_t size = *(uint32_t *)a->params; /* as the default function set it */
        *(uint32_t *)a->params = v == 0 ? 0 : size - 1;
        break;
    }
    case A_FN: a->fn = 0; break;
    case A_STR_ARRAY: ((const char **)a->p[d->slot])[0] = bad_utf8[0]; break;
    default: break;
    }
}

/* Runs in the child: builds valid arguments, applies one bad value, calls, checks. */
static void run_case(const row *r, case_id c) {
    args a;
    const arg_desc *d;
    grlhf_status want = r->valid, got;
    memset(&a, 0, sizeof a);
    for (d = r->args; d->kind != A_END; d++) {
        if (d->kind == A_HANDLE) a.h[d->slot] = make_handle((htype)d->lo);
        if (d->kind == A_OUT || d->kind == A_OUT_HANDLE || d->kind == A_OUT_HANDLE_OPT || d->kind == A_OUT_OPT)
            a.p[d->slot] = &a.store[d->slot];
    }
    if (r->fill) r->fill(&a);
    if (setup_failed) return;
    if (c.arg >= 0) {
        d = &r->args[c.arg];
        apply(&a, d, c.variant);
        if (setup_failed) return;
        want = expected_for(d);
    }
    for (d = r->args; d->kind != A_END; d++)
        if ((d->kind == A_OUT_HANDLE || d->kind == A_OUT_HANDLE_OPT) && a.p[d->slot] != NULL)
            *(void **)a.p[d->slot] = (void *)(uintptr_t)0x1;
    got = r->call(&a);
    if (got != want) {
        printf("    FAIL: returned %d (%s), wanted %d (%s); last error: \"%s\"\n", (int)got,
               grlhf_status_string(got), (int)want, grlhf_status_string(want), grlhf_last_error());
        failures++;
        return;
    }
    if (got != GRLHF_OK) {
        const char *message = grlhf_last_error();
        if (strncmp(message, r->name, strlen(r->name)) != 0) {
            printf("    FAIL: the message does not start with the function's name: \"%s\"\n", message);
            failures++;
        }
        for (d = r->args; d->kind != A_END; d++)
            if ((d->kind == A_OUT_HANDLE || d->kind == A_OUT_HANDLE_OPT) && a.p[d->slot] != NULL &&
                *(void **)a.p[d->slot] != NULL) {
                printf("    FAIL: out-parameter %d was not reset to NULL\n", d->pos);
                failures++;
            }
    } else if (grlhf_last_error()[0] != '\0') {
        printf("    FAIL: succeeded but left the message \"%s\"\n", grlhf_last_error());
        failures++;
    }
}

/* A free function: NULL, freed, wrong type, double free. */
static void run_free_case(const row *r, int variant) {
    htype t = (htype)r->free_type;
    int64_t before;
    void *h;
    switch (variant) {
    case 0: /* NULL: a silent no-op */
        grlhf_tensor_rank(NULL, NULL); /* leave a message that the no-op must clear */
        free_handle(t, NULL);
        CHECK(grlhf_last_error()[0] == '\0');
        break;
    case 1: /* freed: ignored, described */
        h = make_handle(t);
        if (setup_failed) return;
        free_handle(t, h);
        before = grlhf_live_handles();
        free_handle(t, h);
        CHECK(grlhf_last_error()[0] != '\0' && strstr(grlhf_last_error(), r->name) != NULL);
        CHECK(grlhf_live_handles() == before);
        break;
    case 2: { /* wrong type: ignored, and the other handle stays alive */
        htype w = wrong_type_of[t];
        h = make_handle(w);
        if (setup_failed) return;
        before = grlhf_live_handles();
        free_handle(t, h);
        CHECK(grlhf_last_error()[0] != '\0' && strstr(grlhf_last_error(), type_names[w]) != NULL);
        CHECK(grlhf_live_handles() == before);
        free_handle(w, h);
        CHECK(grlhf_last_error()[0] == '\0');
        CHECK(grlhf_live_handles() == before - 1);
        break;
    }
    case 3: /* a live handle: freed once, then a second free is ignored */
        before = grlhf_live_handles();
        h = make_handle(t);
        if (setup_failed) return;
        free_handle(t, h);
        CHECK(grlhf_last_error()[0] == '\0');
        CHECK(grlhf_live_handles() == before);
        break;
    }
}

static const char *free_variant_names[4] = {"NULL", "freed", "wrong type", "live"};

static int run_in_child(void (*body)(const row *, case_id), const row *r, case_id c, const char *label) {
    pid_t pid;
    int status = 0;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        alarm(60);
        failures = 0;
        setup_failed = 0;
        body(r, c);
        fflush(stdout);
        _exit(setup_failed ? 3 : failures == 0 ? 0 : 1);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        printf("FAIL %s %s: could not run the child process\n", r->name, label);
        return 0;
    }
    if (WIFSIGNALED(status)) {
        printf("FAIL %s %s: crashed with signal %d\n", r->name, label, WTERMSIG(status));
        return 0;
    }
    if (WEXITSTATUS(status) != 0) {
        printf("FAIL %s %s%s\n", r->name, label, WEXITSTATUS(status) == 3 ? " (fixture setup failed)" : "");
        return 0;
    }
    return 1;
}

static void body_case(const row *r, case_id c) { run_case(r, c); }
static void body_free(const row *r, case_id c) { run_free_case(r, c.variant); }
static void body_plain(const row *r, case_id c) { (void)c; r->plain(); }

static const char *kind_names[] = {"end", "handle", "handle?", "string", "string?", "out", "out-handle",
                                   "out-handle?", "out?", "buffer", "count", "index", "capacity", "int32",
                                   "capacity32", "nonnegative", "params", "callback", "callback?",
                                   "string-array", "any"};

static void list_rows(void) {
    size_t i;
    for (i = 0; i < N_ROWS; i++) {
        const arg_desc *d;
        printf("%s %s", rows[i].name, rows[i].plain ? "plain" : rows[i].free_type >= 0 ? "free" : "call");
        for (d = rows[i].args; d->kind != A_END; d++) printf(" %d:%s", d->pos, kind_names[d->kind]);
        printf("\n");
    }
}

static void make_fixtures(const char *fixtures) {
    char path[256];
    strcpy(work, "/tmp/grlhf_misuse_XXXXXX");
    if (mkdtemp(work) == NULL) {
        printf("cannot make a temporary directory\n");
        exit(2);
    }
    sprintf(mm_config, "%s/multimodal/config.json", fixtures);
    sprintf(tokenizer_path, "%s/multimodal/tokenizer.json", fixtures);
    sprintf(png_path, "%s/png/rgb_filters.png", fixtures);
    sprintf(sft_path, "%s/sft.jsonl", work);
    write_file(sft_path, "{\"question\": \"what color?\", \"response\": \"red\"}\n"
                         "{\"question\": \"what shape?\", \"response\": \"circle\"}\n");
    sprintf(pairs_path, "%s/pairs.jsonl", work);
    write_file(pairs_path, "{\"question\": \"what color?\", \"response_1\": \"red\", \"response_2\": \"blue\", \"preferred\": 1}\n"
                           "{\"question\": \"what shape?\", \"response_1\": \"square\", \"response_2\": \"circle\", \"preferred\": 2}\n");
    sprintf(prompts_path, "%s/prompts.jsonl", work);
    write_file(prompts_path, "{\"question\": \"what color?\", \"ground_truth\": \"red\"}\n"
                             "{\"question\": \"what shape?\", \"ground_truth\": \"circle\"}\n");
    sprintf(template_path, "%s/template.json", work);
    write_file(template_path, "{\"instruction\": \"Score.\", \"body\": \"{question}\\n1: {response_1}\\n2: {response_2}\"}\n");
    sprintf(data_dir, "%s/data", work);
    mkdir(data_dir, 0700);
    sprintf(path, "%s/sft.jsonl", data_dir);
    write_file(path, "{\"question\": \"q\", \"response\": \"a\"}\n");
}

int main(int argc, char **argv) {
    const char *fixtures = getenv("GRLHF_FIXTURES");
    size_t i;
    int cases = 0, passed = 0;
    char label[128], command[128];
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        list_rows();
        return 0;
    }
    if (fixtures == NULL) {
        printf("set GRLHF_FIXTURES to Tests/GRLHFTests/Fixtures\n");
        return 2;
    }
    make_fixtures(fixtures);
    for (i = 0; i < N_ROWS; i++) {
        const row *r = &rows[i];
        int row_failed = 0;
        if (r->plain) {
            case_id c = {-1, 0};
            cases++;
            if (run_in_child(body_plain, r, c, "(no status)")) passed++; else row_failed++;
        } else if (r->free_type >= 0) {
            int v;
            for (v = 0; v < 4; v++) {
                case_id c = {-1, v};
                sprintf(label, "handle %s", free_variant_names[v]);
                cases++;
                if (run_in_child(body_free, r, c, label)) passed++; else row_failed++;
            }
        } else {
            int k, v;
            if (r->valid != SKIP_VALID) {
                case_id c = {-1, 0};
                cases++;
                if (run_in_child(body_case, r, c, "with valid arguments")) passed++; else row_failed++;
            }
            for (k = 0; r->args[k].kind != A_END; k++) {
                for (v = 0; v < variants(&r->args[k]); v++) {
                    case_id c;
                    c.arg = k;
                    c.variant = v;
                    sprintf(label, "argument %d: %s", r->args[k].pos, variant_name(&r->args[k], v));
                    cases++;
                    if (run_in_child(body_case, r, c, label)) passed++; else row_failed++;
                }
            }
        }
        if (!row_failed) printf("ok   %s\n", r->name);
    }
    printf("%d cases over %d functions: %d passed, %d failed\n", cases, (int)N_ROWS, passed, cases - passed);
    sprintf(command, "rm -rf '%s'", work);
    if (system(command) != 0) printf("could not remove %s\n", work);
    return passed == cases ? 0 : 1;
}
