/*
 * C ABI tests of the training section of include/grlhf.h: params defaults, SFT on a tiny model
 * from JSON Lines written to a temporary directory, metrics through the callback and stopping
 * it, GRPO with a C reward callback (and a failing one), a Bradley-Terry reward model trained,
 * saved, loaded and used as GRPO's reward, DPO, PPO (default and explicit critics), the rule
 * reward, checkpoint + resume (bit-exact), and the misuse matrix of every training function.
 *
 * GRLHF_FIXTURES must name Tests/GRLHFTests/Fixtures (run.sh sets it): the multimodal fixture's
 * tokenizer (ChatML tokens, <image> = 400) serves a text-only Llama config of the same size
 * written by the test. Each test runs in a child process.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SENTINEL(type) ((type *)(uintptr_t)0x1)

static char work[64];  /* the temporary directory of this run */
static char config_path[128], tokenizer_path[4096], mm_config[4096], png_path[4096];
static char sft_path[128], prefs_path[128], prompts_path[128], bad_path[128], empty_path[128];
static char image_rows_path[128];

static const char *text_config =
    "{\"model_type\": \"llama\", \"vocab_size\": 401, \"hidden_size\": 32, \"intermediate_size\": 64,\n"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,\n"
    " \"rms_norm_eps\": 1e-6, \"rope_theta\": 10000.0, \"max_position_embeddings\": 512,\n"
    " \"tie_word_embeddings\": true, \"hidden_act\": \"silu\"}\n";

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        printf("cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static grlhf_model *new_model(uint64_t seed) {
    grlhf_model *m = NULL;
    EXPECT(grlhf_model_init(config_path, seed, &m), GRLHF_OK);
    return m;
}

static grlhf_tokenizer *new_tokenizer(void) {
    grlhf_tokenizer *t = NULL;
    EXPECT(grlhf_tokenizer_load(tokenizer_path, &t), GRLHF_OK);
    return t;
}

/* Fast settings: a constant rate, no warm-up, no decay. */
static void fast_sft(grlhf_sft_params *p, int64_t steps) {
    EXPECT(grlhf_sft_params_default(p), GRLHF_OK);
    p->steps = steps;
    p->batch_size = 3;
    p->learning_rate = 1e-2f;
    p->warmup_ratio = 0;
    p->weight_decay = 0;
    p->schedule = GRLHF_SCHEDULE_CONSTANT;
}

static void fast_grpo(grlhf_grpo_params *p, int64_t steps) {
    EXPECT(grlhf_grpo_params_default(p), GRLHF_OK);
    p->steps = steps;
    p->prompts_per_step = 2;
    p->group_size = 4;
    p->max_new_tokens = 6;
    p->learning_rate = 1e-3f;
    p->warmup_ratio = 0;
    p->schedule = GRLHF_SCHEDULE_CONSTANT;
}

/* The log-probs of a fixed sequence: a fingerprint of the weights. */
static void fingerprint(grlhf_model *m, float *out) {
    int32_t ids[8] = {1, 57, 99, 140, 7, 300, 12, 2};
    EXPECT(grlhf_model_logprobs(m, ids, 8, NULL, out, 7), GRLHF_OK);
}

/* The value of metric `name` in parallel arrays, NaN when absent. */
static double metric(int64_t n, const char *const *names, const double *values, const char *name) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return values[i];
    return NAN;
}

/* ---- params -------------------------------------------------------------------------------- */

static void test_params_defaults(void) {
    grlhf_sft_params s;
    grlhf_rm_params r;
    grlhf_dpo_params d;
    grlhf_grpo_params g;
    EXPECT(grlhf_sft_params_default(&s), GRLHF_OK);
    CHECK(s.struct_size == sizeof s && s.steps == 100 && s.batch_size == 8 && s.gradient_accumulation == 1);
    CHECK(s.seed == 0 && s.learning_rate == 1e-4f && s.weight_decay == 0.01f && s.warmup_ratio == 0.03f);
    CHECK(s.schedule == GRLHF_SCHEDULE_COSINE && s.max_grad_norm == 1 && s.beta1 == 0.9f && s.beta2 == 0.999f);
    EXPECT(grlhf_rm_params_default(&r), GRLHF_OK);
    CHECK(r.struct_size == sizeof r && r.steps == 100 && r.batch_size == 8 && r.regularization == 1e-3f);
    CHECK(r.freeze_vision_tower == 1 && r.learning_rate == 3e-5f && r.schedule == GRLHF_SCHEDULE_CONSTANT);
    CHECK(r.beta2 == 0.999f);
    EXPECT(grlhf_dpo_params_default(&d), GRLHF_OK);
    CHECK(d.struct_size == sizeof d && d.steps == 100 && d.batch_size == 8 && d.beta == 0.1f);
    CHECK(d.learning_rate == 1e-6f && d.schedule == GRLHF_SCHEDULE_COSINE && d.beta1 == 0.9f);
    EXPECT(grlhf_grpo_params_default(&g), GRLHF_OK);
    CHECK(g.struct_size == sizeof g && g.steps == 100 && g.prompts_per_step == 4 && g.group_size == 8);
    CHECK(g.epochs == 1 && g.mini_batches == 1 && g.seed == 0 && g.clip == 0.2f && g.kl_coefficient == 0.02f);
    CHECK(g.kl_estimator == GRLHF_KL_K3 && g.mask_truncated == 0 && g.temperature == 1 && g.top_k == 0);
    CHECK(g.top_p == 1 && g.max_new_tokens == 64 && g.stop_tokens == NULL && g.n_stop_tokens == 0);
    CHECK(g.learning_rate == 1e-6f && g.schedule == GRLHF_SCHEDULE_COSINE && g.beta2 == 0.999f);
    EXPECT(grlhf_sft_params_default(NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_rm_params_default(NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_dpo_params_default(NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_grpo_params_default(NULL), GRLHF_ERR_INVALID_ARGUMENT);
}

/* ---- SFT, metrics, stopping ------------------------------------------------------------------ */

typedef struct {
    int calls;
    int stop_at;          /* return nonzero at this step (0: never) */
    int64_t steps[16];
    double losses[16];
    int saw_names;        /* every call had "loss", "grad_norm", "learning_rate", "step" */
    grlhf_trainer *trainer;
} metrics_log;

static int32_t log_metrics(void *user, int64_t step, int64_t n, const char *const *names, const double *values) {
    metrics_log *log = user;
    int64_t i, progress = -1, total = -1;
    if (log->calls < 16) {
        log->steps[log->calls] = step;
        log->losses[log->calls] = metric(n, names, values, "loss");
    }
    log->calls++;
    if (isnan(metric(n, names, values, "grad_norm")) || isnan(metric(n, names, values, "learning_rate")) ||
        metric(n, names, values, "step") != (double)step)
        log->saw_names = 0;
    for (i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) >= 0) log->saw_names = 0; /* sorted, unique */
    /* the trainer may be read from inside its callback */
    if (log->trainer != NULL) {
        if (grlhf_trainer_progress(log->trainer, &progress, &total) != GRLHF_OK || progress != step)
            log->saw_names = 0;
    }
    return log->stop_at != 0 && step == log->stop_at;
}

static void test_sft_trains_and_reports(void) {
    int64_t base = grlhf_live_handles(), step = -1, total = -1, count = -1, i;
    float before[7], after[7];
    const char *names[64];
    double values[64];
    char metrics_file[160], line[1024];
    int lines = 0;
    FILE *f;
    metrics_log log;
    grlhf_sft_params p;
    grlhf_trainer *t = SENTINEL(grlhf_trainer);
    grlhf_model *m = new_model(1);
    grlhf_tokenizer *tok = new_tokenizer();
    memset(&log, 0, sizeof log);
    log.saw_names = 1;
    fingerprint(m, before);
    fast_sft(&p, 6);
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &p, &t), GRLHF_OK);
    CHECK(t != NULL && grlhf_live_handles() == base + 3);
    log.trainer = t;
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 0 && total == 6);
    EXPECT(grlhf_trainer_metrics(t, -1, NULL, NULL, 0, &count), GRLHF_OK); /* no step yet */
    CHECK(count == 0);
    sprintf(metrics_file, "%s/sft-metrics.jsonl", work);
    EXPECT(grlhf_trainer_set_metrics_path(t, metrics_file), GRLHF_OK);

    /* the tokenizer and model handles may go: the trainer holds its own references */
    grlhf_tokenizer_free(tok);
    EXPECT(grlhf_trainer_train(t, 0, log_metrics, &log), GRLHF_OK);
    CHECK(log.calls == 6 && log.saw_names);
    for (i = 0; i < 6; i++) CHECK(log.steps[i] == i + 1 && isfinite(log.losses[i]));
    CHECK(log.losses[5] < log.losses[0] * 0.7); /* it learns the three rows */
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 6 && total == 6);

    /* the last step's metrics, two calls; the same as the callback saw */
    EXPECT(grlhf_trainer_metrics(t, -1, NULL, NULL, 0, &count), GRLHF_OK);
    CHECK(count >= 8 && count <= 64);
    EXPECT(grlhf_trainer_metrics(t, -1, names, values, 64, &count), GRLHF_OK);
    CHECK(metric(count, names, values, "loss") == log.losses[5]);
    CHECK(metric(count, names, values, "step") == 6);
    CHECK(metric(count, names, values, "mean_token_accuracy") >= 0);
    EXPECT(grlhf_trainer_metrics(t, 0, names, values, 64, &count), GRLHF_OK);
    CHECK(metric(count, names, values, "loss") == log.losses[0]);
    EXPECT(grlhf_trainer_metrics(t, 6, names, values, 64, &count), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_trainer_metrics(t, -2, names, values, 64, &count), GRLHF_ERR_INVALID_ARGUMENT);
    values[0] = 42;
    EXPECT(grlhf_trainer_metrics(t, 0, names, values, 2, &count), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(count >= 8 && values[0] == 42);
    EXPECT(grlhf_trainer_metrics(t, 0, NULL, values, 64, &count), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_trainer_metrics(t, 0, names, values, -1, &count), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_trainer_metrics(t, 0, names, values, 64, NULL), GRLHF_ERR_INVALID_ARGUMENT);

    /* one JSON object per step in the metrics file */
    f = fopen(metrics_file, "r");
    CHECK(f != NULL);
    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            CHECK(line[0] == '{' && strstr(line, "\"loss\": ") != NULL);
            lines++;
        }
        fclose(f);
    }
    CHECK(lines == 6);

    /* the model's weights were trained in place */
    fingerprint(m, after);
    CHECK(memcmp(before, after, sizeof before) != 0);
    grlhf_model_free(m);
    /* the trainer still runs after the model handle is freed; steps past the total are allowed */
    EXPECT(grlhf_trainer_step(t), GRLHF_OK);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 7 && total == 6);
    EXPECT(grlhf_trainer_train(t, 0, log_metrics, &log), GRLHF_OK); /* nothing left to run */
    CHECK(log.calls == 6);
    grlhf_trainer_free(t);
    CHECK(grlhf_live_handles() == base);
    remove(metrics_file);
}

static void test_train_stops_and_counts(void) {
    int64_t step = -1, total = -1;
    metrics_log log;
    grlhf_sft_params p;
    grlhf_trainer *t = NULL;
    grlhf_model *m = new_model(2);
    grlhf_tokenizer *tok = new_tokenizer();
    memset(&log, 0, sizeof log);
    log.saw_names = 1;
    log.stop_at = 2;
    fast_sft(&p, 10);
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &p, &t), GRLHF_OK);
    /* returning nonzero stops cleanly after that step */
    EXPECT(grlhf_trainer_train(t, 0, log_metrics, &log), GRLHF_OK);
    CHECK(log.calls == 2);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 2 && total == 10);
    /* at most `steps` more; a NULL callback */
    EXPECT(grlhf_trainer_train(t, 3, NULL, NULL), GRLHF_OK);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 5);
    log.stop_at = 0;
    EXPECT(grlhf_trainer_train(t, 100, log_metrics, &log), GRLHF_OK); /* never past the total */
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 10 && log.calls == 7);
    EXPECT(grlhf_trainer_train(t, -1, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    grlhf_trainer_free(t);
    grlhf_model_free(m);
    grlhf_tokenizer_free(tok);
}

/* ---- GRPO with a C reward -------------------------------------------------------------------- */

typedef struct {
    int calls;
    int fail;              /* return this status when nonzero */
    int leave_unwritten;   /* write nothing (the rewards stay NaN) */
    int bad_groups;        /* groups that broke the documented contract */
    double sum;            /* of every reward returned */
    int64_t n;             /* rewards returned */
    grlhf_trainer *reenter; /* call grlhf_trainer_step on it from the callback */
    grlhf_status reentered;
} reward_state;

/* reward = the completion's length in tokens, a signal every group varies in */
static int32_t length_reward(void *user, const grlhf_reward_group *g, float *out) {
    reward_state *s = user;
    int64_t i, j;
    s->calls++;
    if (s->reenter != NULL) {
        s->reentered = grlhf_trainer_step(s->reenter);
        s->reenter = NULL;
    }
    if (s->fail) {
        grlhf_set_callback_error("the judge is unavailable");
        return s->fail;
    }
    if (g->struct_size < sizeof *g || g->count != 4 || g->question == NULL || g->image != NULL ||
        g->ground_truth == NULL || strstr(g->question, "color") == NULL)
        s->bad_groups++;
    if (s->leave_unwritten) return 0;
    for (i = 0; i < g->count; i++) {
        if (g->lengths[i] < 1 || g->lengths[i] > 6 || (g->truncated[i] != 0 && g->lengths[i] != 6) ||
            g->completions[i] == NULL)
            s->bad_groups++;
        for (j = 0; j < g->lengths[i]; j++)
            if (g->tokens[i][j] < 0 || g->tokens[i][j] > 400) s->bad_groups++;
        out[i] = (float)g->lengths[i];
        s->sum += out[i];
        s->n++;
    }
    return 0;
}

typedef struct {
    int calls;
    double reward_sum; /* of the "reward" metric (a mean per step) */
    double kl;
} grpo_log;

static int32_t log_grpo(void *user, int64_t step, int64_t n, const char *const *names, const double *values) {
    grpo_log *log = user;
    (void)step;
    log->calls++;
    log->reward_sum += metric(n, names, values, "reward");
    log->kl = metric(n, names, values, "kl");
    return 0;
}

static void test_grpo_with_c_reward(void) {
    int64_t base = grlhf_live_handles(), step = -1, total = -1;
    reward_state state;
    grpo_log log;
    grlhf_grpo_params p;
    grlhf_reward *reward = SENTINEL(grlhf_reward);
    grlhf_trainer *t = NULL;
    grlhf_model *m = new_model(3);
    grlhf_tokenizer *tok = new_tokenizer();
    memset(&state, 0, sizeof state);
    memset(&log, 0, sizeof log);
    EXPECT(grlhf_reward_create(length_reward, &state, &reward), GRLHF_OK);
    fast_grpo(&p, 3);
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &p, &t), GRLHF_OK);
    grlhf_reward_free(reward); /* the trainer keeps it */
    EXPECT(grlhf_trainer_train(t, 0, log_grpo, &log), GRLHF_OK);
    CHECK(state.calls == 6 && state.n == 24 && state.bad_groups == 0);
    CHECK(log.calls == 3);
    /* the "reward" metric is the mean of what the callback returned */
    CHECK(fabs(log.reward_sum / 3 - state.sum / (double)state.n) < 1e-4);
    CHECK(log.kl >= 0);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 3 && total == 3);
    grlhf_trainer_free(t);
    grlhf_model_free(m);
    grlhf_tokenizer_free(tok);
    CHECK(grlhf_live_handles() == base);
}

static void test_grpo_reward_failures(void) {
    int64_t step = -1, total = -1, count = -1;
    float before[7], after[7];
    reward_state state;
    grlhf_grpo_params p;
    grlhf_reward *reward = NULL;
    grlhf_trainer *t = NULL;
    grlhf_model *m = new_model(4);
    grlhf_tokenizer *tok = new_tokenizer();
    memset(&state, 0, sizeof state);
    EXPECT(grlhf_reward_create(length_reward, &state, &reward), GRLHF_OK);
    fast_grpo(&p, 3);
    p.kl_coefficient = 0; /* no reference kept */
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &p, &t), GRLHF_OK);
    fingerprint(m, before);

    /* a failing callback fails the step with its message; nothing changes */
    state.fail = 7;
    EXPECT(grlhf_trainer_step(t), GRLHF_ERR_CALLBACK);
    CHECK(strstr(grlhf_last_error(), "the judge is unavailable") != NULL);
    CHECK(strstr(grlhf_last_error(), "returned 7") != NULL);
    CHECK(strstr(grlhf_last_error(), "grlhf_trainer_step") != NULL);
    EXPECT(grlhf_trainer_train(t, 0, NULL, NULL), GRLHF_ERR_CALLBACK);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 0);
    EXPECT(grlhf_trainer_metrics(t, -1, NULL, NULL, 0, &count), GRLHF_OK);
    CHECK(count == 0);
    fingerprint(m, after);
    CHECK(memcmp(before, after, sizeof before) == 0);

    /* rewards left unwritten are NaN: refused */
    state.fail = 0;
    state.leave_unwritten = 1;
    EXPECT(grlhf_trainer_step(t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(grlhf_last_error(), "non-finite") != NULL);

    /* a callback that tries to step its own trainer is refused, and the outer step goes on */
    state.leave_unwritten = 0;
    state.reenter = t;
    EXPECT(grlhf_trainer_step(t), GRLHF_OK);
    CHECK(state.reentered == GRLHF_ERR_MISUSE);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 1);
    fingerprint(m, after);
    CHECK(memcmp(before, after, sizeof before) != 0);
    grlhf_trainer_free(t);
    grlhf_reward_free(reward);
    grlhf_model_free(m);
    grlhf_tokenizer_free(tok);
}

/* ---- checkpoints --------------------------------------------------------------------------- */

static void test_checkpoint_resume(void) {
    char root[160], path[256];
    float straight[7], resumed[7];
    const char *names[64];
    double a_values[64], c_values[64];
    int64_t step = -1, total = -1, na = 0, nc = 0;
    grlhf_sft_params p;
    grlhf_trainer *a = NULL, *b = NULL, *c = NULL;
    grlhf_model *ma = new_model(5), *mb = new_model(5), *mc = new_model(5);
    grlhf_tokenizer *tok = new_tokenizer();
    fast_sft(&p, 4);
    p.learning_rate = 1e-3f;
    p.batch_size = 2;
    sprintf(root, "%s/ckpt", work);

    EXPECT(grlhf_sft_trainer_create(ma, tok, sft_path, &p, &a), GRLHF_OK);
    EXPECT(grlhf_trainer_train(a, 0, NULL, NULL), GRLHF_OK);
    fingerprint(ma, straight);

    EXPECT(grlhf_sft_trainer_create(mb, tok, sft_path, &p, &b), GRLHF_OK);
    EXPECT(grlhf_trainer_train(b, 2, NULL, NULL), GRLHF_OK);
    EXPECT(grlhf_trainer_save_checkpoint(b, root), GRLHF_OK);
    sprintf(path, "%s/latest", root);
    CHECK(access(path, R_OK) == 0);
    sprintf(path, "%s/step-000002/weights.safetensors", root);
    CHECK(access(path, R_OK) == 0);

    EXPECT(grlhf_sft_trainer_create(mc, tok, sft_path, &p, &c), GRLHF_OK);
    EXPECT(grlhf_trainer_resume(c, root), GRLHF_OK);
    EXPECT(grlhf_trainer_progress(c, &step, &total), GRLHF_OK);
    CHECK(step == 2 && total == 4);
    EXPECT(grlhf_trainer_train(c, 0, NULL, NULL), GRLHF_OK);
    fingerprint(mc, resumed);
    CHECK(memcmp(straight, resumed, sizeof straight) == 0); /* bit for bit */
    /* the history came back with the checkpoint: step 1's metrics agree */
    EXPECT(grlhf_trainer_metrics(a, 0, names, a_values, 64, &na), GRLHF_OK);
    CHECK(isfinite(metric(na, names, a_values, "loss")));
    EXPECT(grlhf_trainer_metrics(c, 0, names, c_values, 64, &nc), GRLHF_OK);
    CHECK(na == nc && metric(na, names, a_values, "loss") == metric(nc, names, c_values, "loss"));

    /* a missing checkpoint, and a damaged one, are refused without changing the trainer */
    EXPECT(grlhf_trainer_resume(c, "/nonexistent/ckpt"), GRLHF_ERR_IO);
    sprintf(path, "%s/step-000002/state.json", root);
    write_file(path, "{");
    EXPECT(grlhf_trainer_resume(c, root), GRLHF_ERR_INVALID_FORMAT);
    EXPECT(grlhf_trainer_progress(c, &step, &total), GRLHF_OK);
    CHECK(step == 4);
    EXPECT(grlhf_trainer_save_checkpoint(c, "/dev/null/ckpt"), GRLHF_ERR_IO);
    EXPECT(grlhf_trainer_save_checkpoint(c, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_trainer_resume(c, NULL), GRLHF_ERR_INVALID_ARGUMENT);

    grlhf_trainer_free(a);
    grlhf_trainer_free(b);
    grlhf_trainer_free(c);
    grlhf_model_free(ma);
    grlhf_model_free(mb);
    grlhf_model_free(mc);
    grlhf_tokenizer_free(tok);
}

/* ---- reward models and DPO ------------------------------------------------------------------- */

static void test_reward_model_and_dpo(void) {
    const char *questions[2] = {"What color is the sky?", "What color is the sky?"};
    const char *responses[2] = {"It is blue.", "It is red."};
    float before[2], after[2], loaded[2];
    char dir[160];
    double loss = NAN;
    const char *names[64];
    double values[64];
    int64_t base = grlhf_live_handles(), count = 0;
    reward_state unused;
    grlhf_rm_params rp;
    grlhf_dpo_params dp;
    grlhf_grpo_params gp;
    grlhf_reward_model *rm = SENTINEL(grlhf_reward_model), *back = NULL;
    grlhf_reward *reward = NULL;
    grlhf_trainer *t = NULL;
    grlhf_model *base_model = new_model(6), *policy = new_model(7), *reference = new_model(8);
    grlhf_tokenizer *tok = new_tokenizer();
    memset(&unused, 0, sizeof unused);

    /* a Bradley-Terry reward model on the model; training moves its scores apart */
    EXPECT(grlhf_reward_model_create(base_model, 9, &rm), GRLHF_OK);
    EXPECT(grlhf_reward_model_score(rm, tok, 2, questions, NULL, responses, before), GRLHF_OK);
    EXPECT(grlhf_rm_params_default(&rp), GRLHF_OK);
    rp.steps = 8;
    rp.batch_size = 3;
    rp.learning_rate = 3e-3f;
    EXPECT(grlhf_rm_trainer_create(rm, tok, prefs_path, &rp, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_train(t, 0, NULL, NULL), GRLHF_OK);
    EXPECT(grlhf_trainer_metrics(t, -1, names, values, 64, &count), GRLHF_OK);
    CHECK(!isnan(metric(count, names, values, "accuracy")) && !isnan(metric(count, names, values, "rewards/margins")));
    grlhf_trainer_free(t);
    EXPECT(grlhf_reward_model_score(rm, tok, 2, questions, NULL, responses, after), GRLHF_OK);
    CHECK(after[0] - after[1] > before[0] - before[1]);

    /* save and load: the same scores */
    sprintf(dir, "%s/rm", work);
    EXPECT(grlhf_reward_model_save(rm, dir), GRLHF_OK);
    EXPECT(grlhf_reward_model_load(dir, &back), GRLHF_OK);
    EXPECT(grlhf_reward_model_score(back, tok, 2, questions, NULL, responses, loaded), GRLHF_OK);
    CHECK(memcmp(after, loaded, sizeof after) == 0);
    EXPECT(grlhf_reward_model_score(back, tok, 0, NULL, NULL, NULL, NULL), GRLHF_OK);
    EXPECT(grlhf_reward_model_score(back, tok, 2, NULL, NULL, responses, loaded), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_model_score(back, tok, 2, questions, NULL, responses, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_model_score(back, tok, -1, questions, NULL, responses, loaded), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_model_score(back, (grlhf_tokenizer *)back, 2, questions, NULL, responses, loaded), GRLHF_ERR_MISUSE);
    {
        const char *images[2] = {png_path, NULL};
        EXPECT(grlhf_reward_model_score(back, tok, 2, questions, images, responses, loaded), GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(strstr(grlhf_last_error(), "text-only") != NULL);
    }
    {
        grlhf_reward_model *missing = SENTINEL(grlhf_reward_model);
        EXPECT(grlhf_reward_model_load("/nonexistent/rm", &missing), GRLHF_ERR_IO);
        CHECK(missing == NULL);
    }

    /* the reward model as GRPO's reward */
    EXPECT(grlhf_reward_from_reward_model(rm, tok, &reward), GRLHF_OK);
    fast_grpo(&gp, 1);
    EXPECT(grlhf_grpo_trainer_create(policy, reference, tok, prompts_path, reward, &gp, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_step(t), GRLHF_OK);
    EXPECT(grlhf_trainer_metrics(t, -1, names, values, 64, &count), GRLHF_OK);
    CHECK(isfinite(metric(count, names, values, "reward")));
    grlhf_trainer_free(t);
    grlhf_reward_free(reward);

    /* DPO: at the first step the policy equals its frozen copy, so the loss is log 2 */
    EXPECT(grlhf_dpo_params_default(&dp), GRLHF_OK);
    dp.steps = 2;
    dp.batch_size = 3;
    dp.learning_rate = 1e-3f;
    EXPECT(grlhf_dpo_trainer_create(policy, NULL, tok, prefs_path, &dp, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_step(t), GRLHF_OK);
    EXPECT(grlhf_trainer_metrics(t, -1, names, values, 64, &count), GRLHF_OK);
    loss = metric(count, names, values, "loss");
    CHECK(fabs(loss - log(2.0)) < 1e-5);
    CHECK(!isnan(metric(count, names, values, "rewards/accuracies")));
    grlhf_trainer_free(t);
    /* an explicit reference; the policy itself is refused */
    EXPECT(grlhf_dpo_trainer_create(policy, reference, tok, prefs_path, &dp, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_step(t), GRLHF_OK);
    grlhf_trainer_free(t);
    t = SENTINEL(grlhf_trainer);
    EXPECT(grlhf_dpo_trainer_create(policy, policy, tok, prefs_path, &dp, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL && strstr(grlhf_last_error(), "policy itself") != NULL);

    grlhf_reward_model_free(rm);
    grlhf_reward_model_free(back);
    grlhf_model_free(base_model);
    grlhf_model_free(policy);
    grlhf_model_free(reference);
    grlhf_tokenizer_free(tok);
    CHECK(grlhf_live_handles() == base);
}

/* ---- PPO, rule rewards --------------------------------------------------------------------- */

static void test_ppo_and_rule_reward(void) {
    int64_t base = grlhf_live_handles(), count = 0, step = 0, total = 0;
    const char *names[64];
    double values[64];
    char dir[160];
    reward_state state;
    grlhf_ppo_params p, bad;
    grlhf_reward *rule = SENTINEL(grlhf_reward), *lengths = NULL;
    grlhf_reward_model *critic = NULL, *on_policy = NULL;
    grlhf_trainer *t = SENTINEL(grlhf_trainer);
    grlhf_model *policy = new_model(11), *critic_base = new_model(12);
    grlhf_tokenizer *tok = new_tokenizer();
    memset(&state, 0, sizeof state);
    EXPECT(grlhf_ppo_params_default(&p), GRLHF_OK);
    CHECK(p.struct_size == sizeof p && p.steps == 100 && p.prompts_per_step == 8 && p.completions_per_prompt == 1);
    CHECK(p.value_clip == 5 && p.reward_clip == 50 && p.gamma == 1 && p.lambda == 0.95f && p.whiten_advantages == 0);
    CHECK(p.learning_rate == 1e-6f && p.schedule == GRLHF_SCHEDULE_COSINE && p.max_new_tokens == 64);
    CHECK(p.critic_learning_rate == 5e-6f && p.critic_schedule == GRLHF_SCHEDULE_CONSTANT && p.critic_warmup_ratio == 0);
    EXPECT(grlhf_ppo_params_default(NULL), GRLHF_ERR_INVALID_ARGUMENT);
    p.steps = 2;
    p.prompts_per_step = 2;
    p.completions_per_prompt = 4; /* the C reward checks groups of 4 */
    p.max_new_tokens = 6;
    p.learning_rate = 1e-3f;

    /* a C reward, the default critic (a trainable copy of the policy) */
    EXPECT(grlhf_reward_create(length_reward, &state, &lengths), GRLHF_OK);
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, NULL, tok, prompts_path, lengths, &p, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_train(t, 0, NULL, NULL), GRLHF_OK);
    CHECK(state.calls == 4 && state.bad_groups == 0);
    EXPECT(grlhf_trainer_metrics(t, -1, names, values, 64, &count), GRLHF_OK);
    CHECK(isfinite(metric(count, names, values, "value_loss")) && isfinite(metric(count, names, values, "returns")));
    /* the critic's optimizer is checkpointed beside the policy's */
    sprintf(dir, "%s/ppo", work);
    EXPECT(grlhf_trainer_save_checkpoint(t, dir), GRLHF_OK);
    EXPECT(grlhf_trainer_resume(t, dir), GRLHF_OK);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 2 && total == 2);
    grlhf_trainer_free(t);

    /* a rule reward and an explicit critic */
    EXPECT(grlhf_reward_rule("contains-ground-truth", &rule), GRLHF_OK);
    EXPECT(grlhf_reward_model_create(critic_base, 3, &critic), GRLHF_OK);
    p.completions_per_prompt = 2;
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, critic, tok, prompts_path, rule, &p, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_step(t), GRLHF_OK);
    EXPECT(grlhf_trainer_metrics(t, -1, names, values, 64, &count), GRLHF_OK);
    CHECK(metric(count, names, values, "reward") >= 0 && metric(count, names, values, "reward") <= 1);
    grlhf_trainer_free(t);
    /* the rule reward in GRPO; prompts without a ground truth are refused up front */
    {
        grlhf_grpo_params g;
        fast_grpo(&g, 1);
        EXPECT(grlhf_grpo_trainer_create(policy, NULL, tok, prompts_path, rule, &g, &t), GRLHF_OK);
        EXPECT(grlhf_trainer_step(t), GRLHF_OK);
        grlhf_trainer_free(t);
        EXPECT(grlhf_grpo_trainer_create(policy, NULL, tok, sft_path, rule, &g, &t), GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(strstr(grlhf_last_error(), "ground_truth") != NULL);
    }
    {
        grlhf_reward *unknown = SENTINEL(grlhf_reward);
        EXPECT(grlhf_reward_rule("exact-match-please", &unknown), GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(unknown == NULL && strstr(grlhf_last_error(), "contains-ground-truth") != NULL);
        EXPECT(grlhf_reward_rule(NULL, &unknown), GRLHF_ERR_INVALID_ARGUMENT);
    }
    EXPECT(grlhf_reward_rule("contains-ground-truth", NULL), GRLHF_ERR_INVALID_ARGUMENT);

    /* misuse: a critic on the policy itself, a critic of the wrong type, bad params */
    EXPECT(grlhf_reward_model_create(policy, 0, &on_policy), GRLHF_OK);
    t = SENTINEL(grlhf_trainer);
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, on_policy, tok, prompts_path, lengths, &p, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL && strstr(grlhf_last_error(), "critic") != NULL);
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, (grlhf_reward_model *)policy, tok, prompts_path, lengths, &p, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, NULL, tok, prompts_path, NULL, &p, &t), GRLHF_ERR_MISUSE);
    bad = p; bad.struct_size = sizeof bad - 4;
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, NULL, tok, prompts_path, lengths, &bad, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.gamma = 2;
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, NULL, tok, prompts_path, lengths, &bad, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.critic_schedule = -1;
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, NULL, tok, prompts_path, lengths, &bad, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bad = p; bad.critic_learning_rate = -1;
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, NULL, tok, prompts_path, lengths, &bad, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(grlhf_last_error(), "critic_learning_rate") != NULL);
    bad = p; bad.completions_per_prompt = 0;
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, NULL, tok, prompts_path, lengths, &bad, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL);

    grlhf_reward_free(rule);
    grlhf_reward_free(lengths);
    grlhf_reward_model_free(critic);
    grlhf_reward_model_free(on_policy);
    grlhf_model_free(policy);
    grlhf_model_free(critic_base);
    grlhf_tokenizer_free(tok);
    CHECK(grlhf_live_handles() == base);
}

/* ---- a multimodal model ---------------------------------------------------------------------- */

static void test_multimodal_sft(void) {
    grlhf_sft_params p;
    grlhf_trainer *t = NULL;
    grlhf_model *m = NULL;
    grlhf_tokenizer *tok = new_tokenizer();
    float before[7], after[7];
    EXPECT(grlhf_model_init(mm_config, 1, &m), GRLHF_OK);
    fingerprint(m, before);
    fast_sft(&p, 2);
    p.batch_size = 2;
    EXPECT(grlhf_sft_trainer_create(m, tok, image_rows_path, &p, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_train(t, 0, NULL, NULL), GRLHF_OK);
    fingerprint(m, after);
    CHECK(memcmp(before, after, sizeof before) != 0);
    grlhf_trainer_free(t);
    grlhf_model_free(m);
    grlhf_tokenizer_free(tok);
}

/* ---- misuse -------------------------------------------------------------------------------- */

static void test_constructor_misuse(void) {
    int64_t base;
    int32_t stop[1] = {401};
    reward_state state;
    grlhf_sft_params s, bs;
    grlhf_rm_params r;
    grlhf_dpo_params d;
    grlhf_grpo_params g, bg;
    grlhf_trainer *t = SENTINEL(grlhf_trainer);
    grlhf_reward *reward = NULL, *no_reward = SENTINEL(grlhf_reward);
    grlhf_reward_model *rm = NULL, *no_rm = SENTINEL(grlhf_reward_model);
    grlhf_model *m = new_model(1);
    grlhf_tokenizer *tok = new_tokenizer();
    memset(&state, 0, sizeof state);
    EXPECT(grlhf_reward_create(length_reward, &state, &reward), GRLHF_OK);
    EXPECT(grlhf_reward_model_create(m, 0, &rm), GRLHF_OK);
    EXPECT(grlhf_sft_params_default(&s), GRLHF_OK);
    EXPECT(grlhf_rm_params_default(&r), GRLHF_OK);
    EXPECT(grlhf_dpo_params_default(&d), GRLHF_OK);
    EXPECT(grlhf_grpo_params_default(&g), GRLHF_OK);
    base = grlhf_live_handles();

    /* handles */
    EXPECT(grlhf_sft_trainer_create(NULL, tok, sft_path, NULL, &t), GRLHF_ERR_MISUSE);
    CHECK(t == NULL);
    EXPECT(grlhf_sft_trainer_create((grlhf_model *)tok, tok, sft_path, NULL, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_sft_trainer_create(m, (grlhf_tokenizer *)m, sft_path, NULL, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_sft_trainer_create(m, NULL, sft_path, NULL, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_rm_trainer_create((grlhf_reward_model *)m, tok, prefs_path, NULL, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_dpo_trainer_create(m, (grlhf_model *)tok, tok, prefs_path, NULL, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, NULL, NULL, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, (grlhf_reward *)rm, NULL, &t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_reward_from_reward_model((grlhf_reward_model *)reward, tok, &no_reward), GRLHF_ERR_MISUSE);
    CHECK(no_reward == NULL);
    EXPECT(grlhf_reward_model_create((grlhf_model *)rm, 0, &no_rm), GRLHF_ERR_MISUSE);
    CHECK(no_rm == NULL);

    /* NULL paths and out-pointers */
    EXPECT(grlhf_sft_trainer_create(m, tok, NULL, NULL, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_sft_trainer_create(m, tok, "\xff\xfe", NULL, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_create(NULL, NULL, &no_reward), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_create(length_reward, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_model_create(m, 0, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_model_load(NULL, &no_rm), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_model_save(rm, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_reward_model_save((grlhf_reward_model *)m, work), GRLHF_ERR_MISUSE);

    /* data files: missing, malformed (the message names the line), empty, images for text */
    EXPECT(grlhf_sft_trainer_create(m, tok, "/nonexistent/sft.jsonl", NULL, &t), GRLHF_ERR_IO);
    EXPECT(grlhf_sft_trainer_create(m, tok, bad_path, NULL, &t), GRLHF_ERR_INVALID_FORMAT);
    CHECK(strstr(grlhf_last_error(), "bad.jsonl:2") != NULL);
    EXPECT(grlhf_sft_trainer_create(m, tok, empty_path, NULL, &t), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_sft_trainer_create(m, tok, image_rows_path, NULL, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(grlhf_last_error(), "text-only") != NULL);
    EXPECT(grlhf_dpo_trainer_create(m, NULL, tok, sft_path, NULL, &t), GRLHF_ERR_INVALID_FORMAT);
    EXPECT(grlhf_rm_trainer_create(rm, tok, bad_path, NULL, &t), GRLHF_ERR_INVALID_FORMAT);

    /* struct_size too small, for every params struct */
    bs = s; bs.struct_size = sizeof bs - 1;
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(grlhf_last_error(), "struct_size") != NULL);
    r.struct_size = 8;
    EXPECT(grlhf_rm_trainer_create(rm, tok, prefs_path, &r, &t), GRLHF_ERR_INVALID_ARGUMENT);
    d.struct_size = 0;
    EXPECT(grlhf_dpo_trainer_create(m, NULL, tok, prefs_path, &d, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.struct_size = sizeof bg - 8;
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);

    /* values out of range */
    bs = s; bs.batch_size = 0;
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bs = s; bs.steps = 0;
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bs = s; bs.gradient_accumulation = 3; /* 8 is not a multiple of 3 */
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bs = s; bs.learning_rate = (float)NAN;
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bs = s; bs.warmup_ratio = 2;
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bs = s; bs.schedule = 7;
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bs = s; bs.beta2 = 1;
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bs = s; bs.steps = INT64_MAX;
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &bs, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.kl_estimator = 5;
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.top_p = 0;
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.max_new_tokens = 0;
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.group_size = 1025;
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.mini_batches = 33; /* above 4 prompts x 8 completions */
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.steps = 1 << 30; bg.epochs = 1024; bg.mini_batches = 32;
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.stop_tokens = stop; bg.n_stop_tokens = 1; /* 401 is outside the vocabulary */
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);
    bg = g; bg.n_stop_tokens = 1; /* NULL stop_tokens */
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_INVALID_ARGUMENT);
    r.struct_size = sizeof r; r.regularization = -1;
    EXPECT(grlhf_rm_trainer_create(rm, tok, prefs_path, &r, &t), GRLHF_ERR_INVALID_ARGUMENT);
    d.struct_size = sizeof d; d.beta = 0;
    EXPECT(grlhf_dpo_trainer_create(m, NULL, tok, prefs_path, &d, &t), GRLHF_ERR_INVALID_ARGUMENT);
    /* a group whose KV cache is above the tensor limit is refused, not allocated */
    bg = g; bg.group_size = 1024; bg.max_new_tokens = 65536; bg.prompts_per_step = 65536;
    EXPECT(grlhf_grpo_trainer_create(m, NULL, tok, prompts_path, reward, &bg, &t), GRLHF_ERR_OUT_OF_MEMORY);
    CHECK(t == NULL);
    CHECK(grlhf_live_handles() == base);

    grlhf_reward_free(reward);
    grlhf_reward_model_free(rm);
    grlhf_model_free(m);
    grlhf_tokenizer_free(tok);
}

static void test_trainer_handle_misuse(void) {
    int64_t step = -1, total = -1, count = -1;
    grlhf_sft_params p;
    grlhf_trainer *t = NULL;
    grlhf_model *m = new_model(1);
    grlhf_tokenizer *tok = new_tokenizer();
    grlhf_reward *reward = NULL;
    reward_state state;
    memset(&state, 0, sizeof state);
    fast_sft(&p, 2);
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &p, &t), GRLHF_OK);
    EXPECT(grlhf_reward_create(length_reward, &state, &reward), GRLHF_OK);

    EXPECT(grlhf_trainer_step(NULL), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_trainer_step((grlhf_trainer *)m), GRLHF_ERR_MISUSE);
    CHECK(strstr(grlhf_last_error(), "grlhf_model") != NULL);
    EXPECT(grlhf_trainer_train(NULL, 0, NULL, NULL), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_trainer_train((grlhf_trainer *)reward, 0, NULL, NULL), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_trainer_progress(NULL, &step, &total), GRLHF_ERR_MISUSE);
    CHECK(step == 0 && total == 0);
    EXPECT(grlhf_trainer_progress(t, NULL, &total), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_trainer_progress(t, &step, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_trainer_metrics(NULL, -1, NULL, NULL, 0, &count), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_trainer_set_metrics_path(NULL, "x"), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_trainer_set_metrics_path(t, "\xff"), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_trainer_save_checkpoint(NULL, work), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_trainer_resume(NULL, work), GRLHF_ERR_MISUSE);

    /* a metrics file that cannot be written fails the step before it runs */
    EXPECT(grlhf_trainer_set_metrics_path(t, "/nonexistent/dir/metrics.jsonl"), GRLHF_OK);
    EXPECT(grlhf_trainer_step(t), GRLHF_ERR_IO);
    EXPECT(grlhf_trainer_train(t, 0, NULL, NULL), GRLHF_ERR_IO);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_OK);
    CHECK(step == 0);
    EXPECT(grlhf_trainer_set_metrics_path(t, NULL), GRLHF_OK);
    EXPECT(grlhf_trainer_step(t), GRLHF_OK);

    /* wrong-type frees are ignored, double frees too, and a freed trainer is misuse */
    grlhf_trainer_free((grlhf_trainer *)m);
    CHECK(strstr(grlhf_last_error(), "grlhf_model") != NULL);
    grlhf_reward_free((grlhf_reward *)t);
    grlhf_reward_model_free((grlhf_reward_model *)t);
    EXPECT(grlhf_trainer_step(t), GRLHF_OK);
    grlhf_trainer_free(t);
    CHECK(strcmp(grlhf_last_error(), "") == 0);
    grlhf_trainer_free(t);
    CHECK(grlhf_last_error()[0] != '\0');
    grlhf_trainer_free(NULL);
    EXPECT(grlhf_trainer_step(t), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_ERR_MISUSE);
    grlhf_reward_free(reward);
    grlhf_reward_free(reward);
    CHECK(grlhf_last_error()[0] != '\0');
    grlhf_reward_free(NULL);
    grlhf_reward_model_free(NULL);
    grlhf_set_callback_error(NULL); /* outside a callback: harmless */
    grlhf_set_callback_error("ignored");
    grlhf_model_free(m);
    grlhf_tokenizer_free(tok);
}

/* A metrics callback that frees its own trainer and asks to go on: the run is not harmed. */
static int32_t free_own_trainer(void *user, int64_t step, int64_t n, const char *const *names, const double *values) {
    (void)step; (void)n; (void)names; (void)values;
    grlhf_trainer_free(*(grlhf_trainer **)user);
    return 0;
}

static void test_free_inside_callback(void) {
    int64_t base = grlhf_live_handles(), step = 0, total = 0;
    grlhf_sft_params p;
    grlhf_trainer *t = NULL;
    grlhf_model *m = new_model(1);
    grlhf_tokenizer *tok = new_tokenizer();
    fast_sft(&p, 3);
    EXPECT(grlhf_sft_trainer_create(m, tok, sft_path, &p, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_train(t, 0, free_own_trainer, &t), GRLHF_OK);
    EXPECT(grlhf_trainer_progress(t, &step, &total), GRLHF_ERR_MISUSE);
    grlhf_model_free(m);
    grlhf_tokenizer_free(tok);
    CHECK(grlhf_live_handles() == base);
}

/* ---- runner -------------------------------------------------------------------------------- */

static const test_case tests[] = {
    {"params_defaults", test_params_defaults},
    {"sft_trains_and_reports", test_sft_trains_and_reports},
    {"train_stops_and_counts", test_train_stops_and_counts},
    {"grpo_with_c_reward", test_grpo_with_c_reward},
    {"grpo_reward_failures", test_grpo_reward_failures},
    {"checkpoint_resume", test_checkpoint_resume},
    {"reward_model_and_dpo", test_reward_model_and_dpo},
    {"ppo_and_rule_reward", test_ppo_and_rule_reward},
    {"multimodal_sft", test_multimodal_sft},
    {"constructor_misuse", test_constructor_misuse},
    {"trainer_handle_misuse", test_trainer_handle_misuse},
    {"free_inside_callback", test_free_inside_callback},
};

static void write_data(void) {
    char path[256];
    sprintf(config_path, "%s/config.json", work);
    write_file(config_path, text_config);
    sprintf(sft_path, "%s/sft.jsonl", work);
    write_file(sft_path,
               "{\"question\": \"What color is the sky?\", \"response\": \"It is blue.\"}\n"
               "\n"
               "{\"question\": \"What color is the grass?\", \"response\": \"It is green.\"}\n"
               "{\"question\": \"What color is blood?\", \"response\": \"It is red.\"}\n");
    sprintf(prefs_path, "%s/prefs.jsonl", work);
    write_file(prefs_path,
               "{\"question\": \"What color is the sky?\", \"response_1\": \"It is blue.\", \"response_2\": \"It is red.\", \"preferred\": 1}\n"
               "{\"question\": \"What color is the grass?\", \"response_1\": \"It is red.\", \"response_2\": \"It is blue.\", \"preferred\": 2}\n"
               "{\"question\": \"What color is the sea?\", \"response_1\": \"It is blue.\", \"response_2\": \"It is red.\", \"preferred\": 1}\n");
    sprintf(prompts_path, "%s/prompts.jsonl", work);
    write_file(prompts_path,
               "{\"question\": \"What color is the sky?\", \"ground_truth\": \"blue\"}\n"
               "{\"question\": \"What color is the grass?\", \"ground_truth\": \"green\"}\n"
               "{\"question\": \"What color is blood?\", \"ground_truth\": \"red\"}\n");
    sprintf(bad_path, "%s/bad.jsonl", work);
    write_file(bad_path, "{\"question\": \"q\", \"response\": \"r\"}\n{\"question\": 5}\n");
    sprintf(empty_path, "%s/empty.jsonl", work);
    write_file(empty_path, "\n\n");
    /* a relative image path resolves against the file's folder */
    sprintf(path, "%s/shape.png", work);
    {
        FILE *in = fopen(png_path, "rb"), *out = fopen(path, "wb");
        int c;
        if (in == NULL || out == NULL) {
            printf("cannot copy %s\n", png_path);
            exit(2);
        }
        while ((c = fgetc(in)) != EOF) fputc(c, out);
        fclose(in);
        fclose(out);
    }
    sprintf(image_rows_path, "%s/images.jsonl", work);
    write_file(image_rows_path,
               "{\"question\": \"What shape?\", \"image\": \"shape.png\", \"response\": \"A square.\"}\n"
               "{\"question\": \"Describe it.\", \"image\": \"shape.png\", \"response\": \"Stripes.\"}\n");
}

int main(void) {
    const char *fixtures = getenv("GRLHF_FIXTURES");
    char command[128];
    int status;
    if (fixtures == NULL || strlen(fixtures) > 3000) {
        printf("set GRLHF_FIXTURES to Tests/GRLHFTests/Fixtures\n");
        return 2;
    }
    sprintf(tokenizer_path, "%s/multimodal/tokenizer.json", fixtures);
    sprintf(mm_config, "%s/multimodal/config.json", fixtures);
    sprintf(png_path, "%s/png/rgb_filters.png", fixtures);
    strcpy(work, "/tmp/grlhf_capi_train_XXXXXX");
    if (mkdtemp(work) == NULL) {
        printf("cannot make a temporary directory\n");
        return 2;
    }
    write_data();
    status = run_tests(tests, sizeof tests / sizeof tests[0], 300);
    sprintf(command, "rm -rf '%s'", work);
    if (system(command) != 0) printf("could not remove %s\n", work);
    return status;
}
