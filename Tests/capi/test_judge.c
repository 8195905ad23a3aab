/*
 * C ABI tests of the judge section of include/grlhf.h: params defaults, grlhf_judge_compare's
 * two-call pattern, grouped comparison's counts (n(n-1) judgments, n(n-1)/2 with one order,
 * incomplete responses left out with reward 0), a multimodal judge with the fixture PNG,
 * grouped comparison as a GRPO and PPO reward, the stage-1 trainer and accuracy, the misuse
 * matrix, and PARITY: a judge trained here (SFT through the C API on judge-formatted rows, so it
 * writes boxed scores) is saved, and `grlhf-cli judge --json` (the Swift API's
 * GroupedComparisonReward) must give the same rewards, comparisons and scores as
 * grlhf_judge_score_group on the same weights.
 *
 * GRLHF_FIXTURES names Tests/GRLHFTests/Fixtures and GRLHF_CLI the grlhf-cli binary (run.sh
 * sets both). Each test runs in a child process.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SENTINEL(type) ((type *)(uintptr_t)0x1)

static char work[64];
static char config_path[128], template_path[128], bad_template[128], slotless_template[128];
static char judge_sft_path[128], pairs_path[128], prompts_path[128];
static char tokenizer_path[4096], mm_config[4096], png_path[4096];
static const char *cli;

static const char *text_config =
    "{\"model_type\": \"llama\", \"vocab_size\": 401, \"hidden_size\": 32, \"intermediate_size\": 64,\n"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 8,\n"
    " \"rms_norm_eps\": 1e-6, \"rope_theta\": 10000.0, \"max_position_embeddings\": 256,\n"
    " \"tie_word_embeddings\": true}\n";

static const char *question = "What color is the sky?";
static const char *responses[4] = {"blue", "red", "green", "purple"};

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        printf("cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static grlhf_model *new_model(const char *config, uint64_t seed) {
    grlhf_model *m = NULL;
    EXPECT(grlhf_model_init(config, seed, &m), GRLHF_OK);
    return m;
}

static grlhf_tokenizer *new_tokenizer(void) {
    grlhf_tokenizer *t = NULL;
    EXPECT(grlhf_tokenizer_load(tokenizer_path, &t), GRLHF_OK);
    return t;
}

/* A judge with the short test template. */
static grlhf_judge *new_judge(grlhf_model *m, grlhf_tokenizer *t, int64_t max_new_tokens) {
    grlhf_judge_params p;
    grlhf_judge *j = NULL;
    EXPECT(grlhf_judge_params_default(&p), GRLHF_OK);
    p.template_path = template_path;
    p.max_new_tokens = max_new_tokens;
    EXPECT(grlhf_judge_create(m, t, &p, &j), GRLHF_OK);
    return j;
}

static int64_t count_of(const grlhf_comparisons *c) {
    int64_t n = -1;
    EXPECT(grlhf_comparisons_count(c, &n), GRLHF_OK);
    return n;
}

/* ---- params -------------------------------------------------------------------------------- */

static void test_params_defaults(void) {
    grlhf_judge_params j;
    grlhf_group_params g;
    EXPECT(grlhf_judge_params_default(&j), GRLHF_OK);
    CHECK(j.struct_size == sizeof j && j.template_path == NULL && j.principles == NULL);
    CHECK(j.max_new_tokens == 256 && j.temperature == 0 && j.seed == 0);
    EXPECT(grlhf_group_params_default(&g), GRLHF_OK);
    CHECK(g.struct_size == sizeof g && g.both_orders == 1 && g.parse_failure == GRLHF_PARSE_FAILURE_DROP);
    CHECK(g.aggregator == GRLHF_AGGREGATE_MEAN && g.lone_response_reward == 5.5f && g.incomplete_reward == 0);
    EXPECT(grlhf_judge_params_default(NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_group_params_default(NULL), GRLHF_ERR_INVALID_ARGUMENT);
}

/* ---- compare ------------------------------------------------------------------------------- */

static void test_compare_two_calls(void) {
    int64_t base = grlhf_live_handles(), len = -1, len2 = -1;
    grlhf_model *m = new_model(config_path, 3);
    grlhf_tokenizer *t = new_tokenizer();
    grlhf_judge *j = new_judge(m, t, 10);
    float s1 = 0, s2 = 0;
    int32_t status = 99;
    char small[2], *buf;
    grlhf_model_free(m); /* the judge keeps its own references */
    grlhf_tokenizer_free(t);
    EXPECT(grlhf_judge_compare(j, NULL, question, "blue", "red", &s1, &s2, &status, NULL, 0, &len), GRLHF_OK);
    CHECK(len > 0 && status >= GRLHF_PARSE_OK && status <= GRLHF_PARSE_WRONG_COUNT);
    CHECK(status == GRLHF_PARSE_OK || (isnan(s1) && isnan(s2)));
    buf = malloc((size_t)len + 1);
    EXPECT(grlhf_judge_compare(j, NULL, question, "blue", "red", &s1, &s2, &status, buf, len + 1, &len2), GRLHF_OK);
    CHECK(len2 == len && strlen(buf) == (size_t)len);
    /* too small: the length still comes back, the scores are NaN and the status -1 */
    EXPECT(grlhf_judge_compare(j, NULL, question, "blue", "red", &s1, &s2, &status, small, 2, &len2),
           GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(len2 == len && isnan(s1) && isnan(s2) && status == -1);
    /* another comparison is judged afresh; the same one again gives the same text */
    EXPECT(grlhf_judge_compare(j, NULL, question, "red", "blue", &s1, &s2, &status, NULL, 0, &len2), GRLHF_OK);
    {
        char *again = malloc((size_t)len + 1);
        EXPECT(grlhf_judge_compare(j, NULL, question, "blue", "red", &s1, &s2, &status, again, len + 1, &len2), GRLHF_OK);
        CHECK(strcmp(again, buf) == 0);
        free(again);
    }
    free(buf);
    grlhf_judge_free(j);
    CHECK(grlhf_live_handles() == base);
}

/* ---- grouped comparison counts ------------------------------------------------------------- */

static void test_score_group_counts(void) {
    int64_t base = grlhf_live_handles(), i;
    grlhf_model *m = new_model(config_path, 3);
    grlhf_tokenizer *t = new_tokenizer();
    grlhf_judge *j = new_judge(m, t, 6);
    grlhf_group_params p;
    grlhf_comparisons *c = SENTINEL(grlhf_comparisons);
    float rewards[4] = {-1, -1, -1, -1};
    const uint8_t complete[4] = {1, 0, 1, 1};
    int64_t first = -1, second = -1;
    int32_t status = -2, truncated = -1;
    const char *text = NULL;

    EXPECT(grlhf_judge_score_group(j, NULL, question, responses, NULL, 4, NULL, rewards, &c), GRLHF_OK);
    CHECK(c != NULL && count_of(c) == 12);
    for (i = 0; i < 4; i++) CHECK(isfinite(rewards[i]));
    EXPECT(grlhf_comparisons_get(c, 0, &first, &second, NULL, NULL, &status, &truncated, &text), GRLHF_OK);
    CHECK(first == 0 && second == 1 && status >= 0 && status <= 4 && (truncated == 0 || truncated == 1) && text != NULL);
    EXPECT(grlhf_comparisons_get(c, 1, &first, &second, NULL, NULL, NULL, NULL, NULL), GRLHF_OK);
    CHECK(first == 1 && second == 0); /* both orders, the swapped one next */
    EXPECT(grlhf_comparisons_get(c, 12, &first, NULL, NULL, NULL, NULL, NULL, &text), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(first == -1 && text == NULL);
    EXPECT(grlhf_comparisons_get(c, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    grlhf_comparisons_free(c);

    EXPECT(grlhf_group_params_default(&p), GRLHF_OK);
    p.both_orders = 0;
    EXPECT(grlhf_judge_score_group(j, NULL, question, responses, NULL, 4, &p, rewards, &c), GRLHF_OK);
    CHECK(count_of(c) == 6);
    grlhf_comparisons_free(c);

    /* an incomplete response: reward 0 and in no comparison */
    EXPECT(grlhf_judge_score_group(j, NULL, question, responses, complete, 4, NULL, rewards, &c), GRLHF_OK);
    CHECK(count_of(c) == 6 && rewards[1] == 0);
    for (i = 0; i < 6; i++) {
        EXPECT(grlhf_comparisons_get(c, i, &first, &second, NULL, NULL, NULL, NULL, NULL), GRLHF_OK);
        CHECK(first != 1 && second != 1);
    }
    grlhf_comparisons_free(c);
    p.both_orders = 1;
    p.incomplete_reward = -3;
    EXPECT(grlhf_judge_score_group(j, NULL, question, responses, complete, 4, &p, rewards, NULL), GRLHF_OK);
    CHECK(rewards[1] == -3);

    /* one complete response: nothing judged, the lone reward; n = 0 is allowed */
    EXPECT(grlhf_judge_score_group(j, NULL, question, responses, NULL, 1, NULL, rewards, &c), GRLHF_OK);
    CHECK(count_of(c) == 0 && rewards[0] == 5.5f);
    grlhf_comparisons_free(c);
    EXPECT(grlhf_judge_score_group(j, NULL, question, NULL, NULL, 0, NULL, NULL, NULL), GRLHF_OK);

    /* neutral parse failures, other aggregators keep rewards finite */
    p.parse_failure = GRLHF_PARSE_FAILURE_NEUTRAL;
    for (p.aggregator = GRLHF_AGGREGATE_MEAN; p.aggregator <= GRLHF_AGGREGATE_SPECTRAL; p.aggregator++) {
        EXPECT(grlhf_judge_score_group(j, NULL, question, responses, NULL, 3, &p, rewards, NULL), GRLHF_OK);
        CHECK(isfinite(rewards[0]) && isfinite(rewards[1]) && isfinite(rewards[2]));
    }
    grlhf_judge_free(j);
    grlhf_model_free(m);
    grlhf_tokenizer_free(t);
    CHECK(grlhf_live_handles() == base);
}

/* ---- a multimodal judge ---------------------------------------------------------------------- */

static void test_multimodal(void) {
    int64_t base = grlhf_live_handles(), len = 0;
    grlhf_model *m = new_model(mm_config, 5), *text = new_model(config_path, 1);
    grlhf_tokenizer *t = new_tokenizer();
    grlhf_judge *j = new_judge(m, t, 4), *tj = new_judge(text, t, 4);
    grlhf_comparisons *c = NULL;
    float rewards[3], s1, s2;
    int32_t status;
    char missing[160];
    EXPECT(grlhf_judge_compare(j, png_path, "What is in the picture?", "stripes", "a cat", &s1, &s2, &status, NULL, 0, &len),
           GRLHF_OK);
    EXPECT(grlhf_judge_score_group(j, png_path, "What is in the picture?", responses, NULL, 3, NULL, rewards, &c), GRLHF_OK);
    CHECK(count_of(c) == 6);
    grlhf_comparisons_free(c);
    /* a text-only judge refuses an image; a missing PNG is an I/O error */
    EXPECT(grlhf_judge_score_group(tj, png_path, "What?", responses, NULL, 3, NULL, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(tj, png_path, "What?", "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    sprintf(missing, "%s/missing.png", work);
    EXPECT(grlhf_judge_score_group(j, missing, "What?", responses, NULL, 3, NULL, rewards, NULL), GRLHF_ERR_IO);
    EXPECT(grlhf_judge_score_group(tj, png_path, "What?", responses, NULL, 1, NULL, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    grlhf_judge_free(j);
    grlhf_judge_free(tj);
    grlhf_model_free(m);
    grlhf_model_free(text);
    grlhf_tokenizer_free(t);
    CHECK(grlhf_live_handles() == base);
}

/* ---- parity with the Swift API (through grlhf-cli) -------------------------------------------- */

/* Trains a tiny judge to write "Scores: \boxed{a, b}" for the test question (SFT through the C
   API, deterministic), and returns it. */
static grlhf_model *trained_judge_model(grlhf_tokenizer *t) {
    grlhf_model *m = new_model(config_path, 7);
    grlhf_sft_params p;
    grlhf_trainer *tr = NULL;
    EXPECT(grlhf_sft_params_default(&p), GRLHF_OK);
    p.steps = 100;
    p.batch_size = 6;
    p.learning_rate = 1e-2f;
    p.warmup_ratio = 0;
    p.schedule = GRLHF_SCHEDULE_CONSTANT;
    p.seed = 7;
    EXPECT(grlhf_sft_trainer_create(m, t, judge_sft_path, &p, &tr), GRLHF_OK);
    EXPECT(grlhf_trainer_train(tr, 0, NULL, NULL), GRLHF_OK);
    grlhf_trainer_free(tr);
    return m;
}

/* Reads the floats of the JSON array after `"key":` in text into out (at most cap). */
static int json_floats(const char *text, const char *key, float *out, int cap) {
    char pattern[64];
    const char *p;
    int n = 0;
    sprintf(pattern, "\"%s\":[", key);
    p = strstr(text, pattern);
    if (p == NULL) return -1;
    p += strlen(pattern);
    while (*p != ']' && n < cap) {
        char *end;
        out[n++] = strtof(p, &end);
        if (end == p) return -1;
        p = end;
        if (*p == ',') p++;
    }
    return n;
}

static int occurrences(const char *text, const char *needle) {
    int n = 0;
    const char *p = text;
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static void compare_with_cli(grlhf_judge *j, const char *model_dir, const char *extra, const grlhf_group_params *p) {
    char command[16384], output[65536];
    float rewards[4], expected[4], s1, s2;
    grlhf_comparisons *c = NULL;
    int64_t i, n, first, second;
    int32_t status;
    int got, parsed = 0;
    size_t len;
    FILE *pipe;
    EXPECT(grlhf_judge_score_group(j, NULL, question, responses, NULL, 4, p, rewards, &c), GRLHF_OK);
    n = count_of(c);
    sprintf(command,
            "'%s' judge --model '%s' --template '%s' --max-tokens 24 --question '%s' --response blue --response red "
            "--response green --response purple --json %s",
            cli, model_dir, template_path, question, extra);
    pipe = popen(command, "r");
    CHECK(pipe != NULL);
    if (pipe == NULL) return;
    len = fread(output, 1, sizeof output - 1, pipe);
    output[len] = '\0';
    CHECK(pclose(pipe) == 0);
    got = json_floats(output, "rewards", expected, 4);
    CHECK(got == 4);
    for (i = 0; i < 4 && got == 4; i++) {
        if (rewards[i] != expected[i]) printf("    reward %d: C %.9g, Swift %.9g\n", (int)i, rewards[i], expected[i]);
        CHECK(rewards[i] == expected[i]);
    }
    CHECK(occurrences(output, "\"first\":") == n);
    for (i = 0; i < n; i++) {
        char needle[160];
        EXPECT(grlhf_comparisons_get(c, i, &first, &second, &s1, &s2, &status, NULL, NULL), GRLHF_OK);
        if (status == GRLHF_PARSE_OK) {
            parsed++;
            sprintf(needle, "\"first\":%d,\"scores\":[%g,%g],\"second\":%d,\"status\":\"ok\"", (int)first, s1, s2, (int)second);
            if (strstr(output, needle) == NULL) printf("    no %s in %s\n", needle, output);
            CHECK(strstr(output, needle) != NULL);
        }
    }
    CHECK(occurrences(output, "\"status\":\"ok\"") == parsed);
    CHECK(parsed >= 6); /* the trained judge writes boxed scores for the responses it saw */
    grlhf_comparisons_free(c);
}

static void test_parity_with_swift(void) {
    int64_t base = grlhf_live_handles();
    grlhf_tokenizer *t = new_tokenizer();
    grlhf_model *m = trained_judge_model(t);
    grlhf_judge *j = new_judge(m, t, 24);
    grlhf_group_params p;
    char dir[128], command[4400];
    if (cli == NULL) {
        printf("    FAIL: set GRLHF_CLI to grlhf-cli\n");
        failures++;
        return;
    }
    sprintf(dir, "%s/judge-model", work);
    EXPECT(grlhf_model_save(m, dir), GRLHF_OK);
    sprintf(command, "cp '%s' '%s/tokenizer.json'", tokenizer_path, dir);
    CHECK(system(command) == 0);
    compare_with_cli(j, dir, "", NULL);
    EXPECT(grlhf_group_params_default(&p), GRLHF_OK);
    p.both_orders = 0;
    p.aggregator = GRLHF_AGGREGATE_BORDA;
    p.parse_failure = GRLHF_PARSE_FAILURE_NEUTRAL;
    compare_with_cli(j, dir, "--one-order --aggregator borda --parse-failure neutral", &p);
    grlhf_judge_free(j);
    grlhf_model_free(m);
    grlhf_tokenizer_free(t);
    CHECK(grlhf_live_handles() == base);
}

/* ---- rewards and trainers ------------------------------------------------------------------- */

static double metric_of(const grlhf_trainer *tr, const char *name) {
    const char *names[64];
    double values[64];
    int64_t n = 0, i;
    EXPECT(grlhf_trainer_metrics(tr, -1, names, values, 64, &n), GRLHF_OK);
    for (i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return values[i];
    return NAN;
}

static void test_judge_reward_in_grpo_and_ppo(void) {
    int64_t base = grlhf_live_handles();
    grlhf_tokenizer *t = new_tokenizer();
    grlhf_model *jm = new_model(config_path, 3), *policy = new_model(config_path, 4);
    grlhf_judge *j = new_judge(jm, t, 4);
    grlhf_reward *r = NULL;
    grlhf_grpo_params g;
    grlhf_ppo_params pp;
    grlhf_trainer *tr = NULL;
    grlhf_group_params gp;
    EXPECT(grlhf_group_params_default(&gp), GRLHF_OK);
    gp.both_orders = 0;
    EXPECT(grlhf_reward_from_judge(j, &gp, &r), GRLHF_OK);
    grlhf_judge_free(j); /* the reward keeps the judge */
    EXPECT(grlhf_grpo_params_default(&g), GRLHF_OK);
    g.steps = 2; g.prompts_per_step = 1; g.group_size = 3; g.max_new_tokens = 4;
    EXPECT(grlhf_grpo_trainer_create(policy, NULL, t, prompts_path, r, &g, &tr), GRLHF_OK);
    EXPECT(grlhf_trainer_step(tr), GRLHF_OK);
    /* completions that hit max_new_tokens are incomplete: at most 3 judgments with one order */
    CHECK(metric_of(tr, "judge/calls") <= 3 && metric_of(tr, "judge/calls_per_group") <= 3);
    CHECK(isfinite(metric_of(tr, "judge/parse_failure_rate")) && isfinite(metric_of(tr, "reward")));
    grlhf_trainer_free(tr);
    EXPECT(grlhf_ppo_params_default(&pp), GRLHF_OK);
    pp.steps = 1; pp.prompts_per_step = 1; pp.completions_per_prompt = 2; pp.max_new_tokens = 4;
    EXPECT(grlhf_ppo_trainer_create(policy, NULL, NULL, t, prompts_path, r, &pp, &tr), GRLHF_OK);
    EXPECT(grlhf_trainer_step(tr), GRLHF_OK);
    CHECK(isfinite(metric_of(tr, "judge/calls")));
    grlhf_trainer_free(tr);
    grlhf_reward_free(r);
    grlhf_model_free(jm);
    grlhf_model_free(policy);
    grlhf_tokenizer_free(t);
    CHECK(grlhf_live_handles() == base);
}

static void test_stage1_trainer_and_accuracy(void) {
    int64_t base = grlhf_live_handles();
    grlhf_tokenizer *t = new_tokenizer();
    grlhf_model *m = new_model(config_path, 3);
    grlhf_judge *j = new_judge(m, t, 8);
    grlhf_grpo_params g;
    grlhf_trainer *tr = NULL;
    float accuracy = -1, failures_rate = -1;
    int64_t step = -1, total = -1;
    EXPECT(grlhf_judge_accuracy(j, pairs_path, &accuracy, &failures_rate), GRLHF_OK);
    CHECK(accuracy >= 0 && accuracy <= 1 && failures_rate >= 0 && failures_rate <= 1);
    EXPECT(grlhf_grpo_params_default(&g), GRLHF_OK);
    g.steps = 2; g.prompts_per_step = 2; g.group_size = 2; g.max_new_tokens = 8; g.learning_rate = 1e-3f;
    EXPECT(grlhf_judge_trainer_create(j, pairs_path, 1, &g, &tr), GRLHF_OK);
    EXPECT(grlhf_trainer_step(tr), GRLHF_OK);
    EXPECT(grlhf_trainer_progress(tr, &step, &total), GRLHF_OK);
    CHECK(step == 1 && total == 2);
    CHECK(isfinite(metric_of(tr, "judge/parse_failure_rate")) && isfinite(metric_of(tr, "judge/output_length")));
    CHECK(metric_of(tr, "reward") >= 0 && metric_of(tr, "reward") <= 1);
    grlhf_trainer_free(tr);
    /* NULL params: the paper's stage-1 settings */
    EXPECT(grlhf_judge_trainer_create(j, pairs_path, 0, NULL, &tr), GRLHF_OK);
    EXPECT(grlhf_trainer_progress(tr, &step, &total), GRLHF_OK);
    CHECK(step == 0 && total == 100);
    grlhf_trainer_free(tr);
    grlhf_judge_free(j);
    grlhf_model_free(m);
    grlhf_tokenizer_free(t);
    CHECK(grlhf_live_handles() == base);
}

/* ---- misuse ------------------------------------------------------------------------------------ */

static void test_misuse(void) {
    int64_t base = grlhf_live_handles(), len = -1, n = -1;
    grlhf_tokenizer *t = new_tokenizer();
    grlhf_model *m = new_model(config_path, 3);
    grlhf_judge *j = new_judge(m, t, 4), *out = SENTINEL(grlhf_judge), *freed = new_judge(m, t, 4);
    grlhf_judge_params jp;
    grlhf_group_params gp;
    grlhf_grpo_params g;
    grlhf_reward *r = SENTINEL(grlhf_reward);
    grlhf_trainer *tr = SENTINEL(grlhf_trainer);
    grlhf_comparisons *c = SENTINEL(grlhf_comparisons);
    float s1 = 0, s2 = 0, rewards[4], a = 0, f = 0;
    int32_t status = 0;
    const char *bad_utf8 = "\xff\xfe";
    const char *with_null[2] = {"a", NULL};
    char buf[8];
    grlhf_judge_free(freed);

    /* create */
    EXPECT(grlhf_judge_create(NULL, t, NULL, &out), GRLHF_ERR_MISUSE);
    CHECK(out == NULL);
    EXPECT(grlhf_judge_create(m, NULL, NULL, &out), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_judge_create((grlhf_model *)t, t, NULL, &out), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_judge_create(m, t, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_params_default(&jp), GRLHF_OK);
    jp.struct_size = 8;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_params_default(&jp), GRLHF_OK);
    jp.max_new_tokens = 0;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_ARGUMENT);
    jp.max_new_tokens = 65537;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_params_default(&jp), GRLHF_OK);
    jp.temperature = NAN;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_ARGUMENT);
    jp.temperature = -1;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_params_default(&jp), GRLHF_OK);
    jp.template_path = "/nonexistent/template.json";
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_IO);
    jp.template_path = bad_template;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_FORMAT);
    jp.template_path = slotless_template;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_FORMAT);
    jp.template_path = bad_utf8;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_ARGUMENT);
    jp.template_path = NULL;
    jp.principles = bad_utf8;
    EXPECT(grlhf_judge_create(m, t, &jp, &out), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);

    /* compare */
    EXPECT(grlhf_judge_compare(NULL, NULL, "q", "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_MISUSE);
    CHECK(isnan(s1) && isnan(s2) && status == -1 && len == 0);
    EXPECT(grlhf_judge_compare(freed, NULL, "q", "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_judge_compare((grlhf_judge *)m, NULL, "q", "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_judge_compare(j, NULL, NULL, "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, "q", NULL, "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, "q", "a", NULL, &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, bad_utf8, "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, bad_utf8, "q", "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, "q", "a", "b", NULL, &s2, &status, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, "q", "a", "b", &s1, NULL, &status, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, "q", "a", "b", &s1, &s2, NULL, NULL, 0, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, "q", "a", "b", &s1, &s2, &status, NULL, 0, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, "q", "a", "b", &s1, &s2, &status, NULL, 5, &len), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_compare(j, NULL, "q", "a", "b", &s1, &s2, &status, buf, -1, &len), GRLHF_ERR_INVALID_ARGUMENT);

    /* score_group */
    EXPECT(grlhf_judge_score_group(NULL, NULL, "q", responses, NULL, 2, NULL, rewards, &c), GRLHF_ERR_MISUSE);
    CHECK(c == NULL);
    EXPECT(grlhf_judge_score_group(freed, NULL, "q", responses, NULL, 2, NULL, rewards, NULL), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_judge_score_group(j, NULL, NULL, responses, NULL, 2, NULL, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_score_group(j, NULL, "q", NULL, NULL, 2, NULL, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 2, NULL, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_score_group(j, NULL, "q", with_null, NULL, 2, NULL, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, -1, NULL, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 1025, NULL, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_group_params_default(&gp), GRLHF_OK);
    gp.struct_size = 4;
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 2, &gp, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_group_params_default(&gp), GRLHF_OK);
    gp.aggregator = 5;
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 2, &gp, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    gp.aggregator = -1;
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 2, &gp, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_group_params_default(&gp), GRLHF_OK);
    gp.parse_failure = 2;
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 2, &gp, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_group_params_default(&gp), GRLHF_OK);
    gp.lone_response_reward = INFINITY;
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 2, &gp, rewards, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    gp.lone_response_reward = 5.5f;
    gp.incomplete_reward = NAN;
    EXPECT(grlhf_reward_from_judge(j, &gp, &r), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL);

    /* comparisons */
    EXPECT(grlhf_comparisons_count(NULL, &n), GRLHF_ERR_MISUSE);
    CHECK(n == 0);
    EXPECT(grlhf_comparisons_count((grlhf_comparisons *)j, &n), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_comparisons_get(NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_judge_score_group(j, NULL, "q", responses, NULL, 1, NULL, rewards, &c), GRLHF_OK);
    EXPECT(grlhf_comparisons_count(c, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    grlhf_comparisons_free(c);
    EXPECT(grlhf_comparisons_count(c, &n), GRLHF_ERR_MISUSE); /* freed */
    grlhf_comparisons_free(c);                                  /* ignored */
    CHECK(strstr(grlhf_last_error(), "grlhf_comparisons_free") != NULL);
    grlhf_comparisons_free((grlhf_comparisons *)j); /* wrong type: ignored, the judge lives */
    EXPECT(grlhf_judge_compare(j, NULL, "q", "a", "b", &s1, &s2, &status, NULL, 0, &len), GRLHF_OK);

    /* reward, accuracy, trainer */
    EXPECT(grlhf_reward_from_judge(NULL, NULL, &r), GRLHF_ERR_MISUSE);
    EXPECT(grlhf_reward_from_judge(j, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_accuracy(NULL, pairs_path, &a, &f), GRLHF_ERR_MISUSE);
    CHECK(isnan(a) && isnan(f));
    EXPECT(grlhf_judge_accuracy(j, NULL, &a, &f), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_accuracy(j, pairs_path, NULL, &f), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_accuracy(j, pairs_path, &a, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_accuracy(j, "/nonexistent/pairs.jsonl", &a, &f), GRLHF_ERR_IO);
    EXPECT(grlhf_judge_accuracy(j, prompts_path, &a, &f), GRLHF_ERR_INVALID_FORMAT); /* not pairs */
    EXPECT(grlhf_judge_trainer_create(NULL, pairs_path, 0, NULL, &tr), GRLHF_ERR_MISUSE);
    CHECK(tr == NULL);
    EXPECT(grlhf_judge_trainer_create(j, NULL, 0, NULL, &tr), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_trainer_create(j, pairs_path, 0, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_judge_trainer_create(j, "/nonexistent/pairs.jsonl", 0, NULL, &tr), GRLHF_ERR_IO);
    EXPECT(grlhf_grpo_params_default(&g), GRLHF_OK);
    g.group_size = 0;
    EXPECT(grlhf_judge_trainer_create(j, pairs_path, 0, &g, &tr), GRLHF_ERR_INVALID_ARGUMENT);
    EXPECT(grlhf_grpo_params_default(&g), GRLHF_OK);
    g.struct_size = 4;
    EXPECT(grlhf_judge_trainer_create(j, pairs_path, 0, &g, &tr), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(tr == NULL);

    grlhf_judge_free(NULL);
    grlhf_judge_free(freed); /* twice: ignored */
    grlhf_judge_free(j);
    grlhf_model_free(m);
    grlhf_tokenizer_free(t);
    CHECK(grlhf_live_handles() == base);
}

/* ---- runner -------------------------------------------------------------------------------- */

static const test_case tests[] = {
    {"params_defaults", test_params_defaults},
    {"compare_two_calls", test_compare_two_calls},
    {"score_group_counts", test_score_group_counts},
    {"multimodal", test_multimodal},
    {"parity_with_swift_cli", test_parity_with_swift},
    {"judge_reward_in_grpo_and_ppo", test_judge_reward_in_grpo_and_ppo},
    {"stage1_trainer_and_accuracy", test_stage1_trainer_and_accuracy},
    {"misuse", test_misuse},
};

static void write_data(void) {
    const char *q = question;
    const char *names[3] = {"blue", "green", "red"};
    const int quality[3] = {9, 4, 2};
    char rows[4096] = "", line[512];
    int a, b;
    sprintf(config_path, "%s/config.json", work);
    write_file(config_path, text_config);
    sprintf(template_path, "%s/template.json", work);
    write_file(template_path, "{\"instruction\": \"Score.\", \"body\": \"{question}\\n1: {response_1}\\n2: {response_2}\"}\n");
    sprintf(bad_template, "%s/bad-template.json", work);
    write_file(bad_template, "{\"instruction\": \"Score.\"\n");
    sprintf(slotless_template, "%s/slotless-template.json", work);
    write_file(slotless_template, "{\"instruction\": \"Score.\", \"body\": \"{question} only\"}\n");
    /* the judge's SFT rows: every ordered pair of three responses, scored by quality */
    for (a = 0; a < 3; a++)
        for (b = 0; b < 3; b++)
            if (a != b) {
                sprintf(line, "{\"system\": \"Score.\", \"question\": \"%s\\n1: %s\\n2: %s\", \"response\": \"Scores: \\\\boxed{%d, %d}\"}\n",
                        q, names[a], names[b], quality[a], quality[b]);
                strcat(rows, line);
            }
    sprintf(judge_sft_path, "%s/judge-sft.jsonl", work);
    write_file(judge_sft_path, rows);
    sprintf(pairs_path, "%s/pairs.jsonl", work);
    write_file(pairs_path,
               "{\"question\": \"What color is the sky?\", \"response_1\": \"blue\", \"response_2\": \"red\", \"preferred\": 1}\n"
               "{\"question\": \"What color is grass?\", \"response_1\": \"red\", \"response_2\": \"green\", \"preferred\": 2}\n");
    sprintf(prompts_path, "%s/prompts.jsonl", work);
    write_file(prompts_path, "{\"question\": \"What color is the sky?\"}\n{\"question\": \"What color is grass?\"}\n");
}

int main(void) {
    const char *fixtures = getenv("GRLHF_FIXTURES");
    char command[128];
    int status;
    if (fixtures == NULL || strlen(fixtures) > 3000) {
        printf("set GRLHF_FIXTURES to Tests/GRLHFTests/Fixtures\n");
        return 2;
    }
    cli = getenv("GRLHF_CLI");
    sprintf(tokenizer_path, "%s/multimodal/tokenizer.json", fixtures);
    sprintf(mm_config, "%s/multimodal/config.json", fixtures);
    sprintf(png_path, "%s/png/rgb_filters.png", fixtures);
    strcpy(work, "/tmp/grlhf_capi_judge_XXXXXX");
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
