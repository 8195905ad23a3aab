/*
 * C ABI tests of the pipeline section of include/grlhf.h: params defaults, presets and JSON
 * overrides (each kind of bad config refused before anything runs, the resolved config read
 * back with the two-call pattern), then the quick preset end to end on easy-VQA sets written by
 * `grlhf-cli data easy-vqa`: every stage runs, the log callback receives the result tables, the
 * summary equals OUTPUT/summary.json, a second run resumes every finished stage, a run from
 * inside the log callback is refused, and bad data fail with the right status.
 *
 * GRLHF_CLI names grlhf-cli and GRLHF_EASY_VQA the easy-VQA folder (`make data`); run.sh sets
 * both. Each test runs in a child process.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char work[64], data_dir[128];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        printf("cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    long n;
    char *text;
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    if (text != NULL && fread(text, 1, (size_t)n, f) == (size_t)n) text[n] = '\0';
    fclose(f);
    return text;
}

/* Copies every file of data_dir to dir (a data folder to damage). */
static void copy_data(const char *dir) {
    char command[512];
    sprintf(command, "rm -rf '%s' && cp -r '%s' '%s'", dir, data_dir, dir);
    if (system(command) != 0) {
        printf("cannot copy the data\n");
        exit(2);
    }
}

static grlhf_pipeline *create(const char *preset, const char *json, const char *data, const char *output) {
    grlhf_pipeline_params p;
    grlhf_pipeline *pipeline = NULL;
    EXPECT(grlhf_pipeline_params_default(&p), GRLHF_OK);
    p.preset = preset;
    p.config_json = json;
    p.data_dir = data;
    p.output_dir = output;
    EXPECT(grlhf_pipeline_create(&p, &pipeline), GRLHF_OK);
    return pipeline;
}

/* The resolved config (malloc'd), read with the two-call pattern. */
static char *config_of(const grlhf_pipeline *pipeline) {
    int64_t length = -1, again = -1;
    char *text;
    EXPECT(grlhf_pipeline_config_json(pipeline, NULL, 0, &length), GRLHF_OK);
    CHECK(length > 2);
    text = malloc((size_t)length + 1);
    EXPECT(grlhf_pipeline_config_json(pipeline, text, length + 1, &again), GRLHF_OK);
    CHECK(again == length && strlen(text) == (size_t)length);
    return text;
}

static void test_params_and_presets(void) {
    int64_t base = grlhf_live_handles();
    grlhf_pipeline_params p;
    grlhf_pipeline *tiny = NULL, *quick, *smol;
    char *text;
    EXPECT(grlhf_pipeline_params_default(&p), GRLHF_OK);
    CHECK(p.struct_size == sizeof p && p.preset == NULL && p.config_json == NULL && p.data_dir == NULL &&
          p.output_dir == NULL);
    EXPECT(grlhf_pipeline_create(NULL, &tiny), GRLHF_OK); /* NULL params: the tiny preset */
    text = config_of(tiny);
    CHECK(strstr(text, "\"name\":\"tiny\"") != NULL && strstr(text, "\"sftSteps\":3000") != NULL);
    free(text);

    quick = create("quick", "{\"sftSteps\": 7, \"seed\": 9, \"scalingGroups\": [2]}", "/data/x", "out/y");
    text = config_of(quick);
    CHECK(strstr(text, "\"name\":\"quick\"") != NULL);
    CHECK(strstr(text, "\"sftSteps\":7") != NULL && strstr(text, "\"seed\":9") != NULL);
    CHECK(strstr(text, "\"scalingGroups\":[2]") != NULL);
    CHECK(strstr(text, "\"data\":\"\\/data\\/x\"") != NULL || strstr(text, "\"data\":\"/data/x\"") != NULL);
    CHECK(strstr(text, "\"output\":\"out\\/y\"") != NULL || strstr(text, "\"output\":\"out/y\"") != NULL);
    {
        char small[4] = "abc";
        int64_t length = -1;
        EXPECT(grlhf_pipeline_config_json(quick, small, 4, &length), GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(length == (int64_t)strlen(text) && strcmp(small, "abc") == 0);
    }
    free(text);
    /* The smol preset names the pretrained models and the LoRA settings; its keys are checked too. */
    smol = create("smol", "{\"loraRank\": 8, \"loraTargets\": [\"q_proj\"]}", "/data/x", "out/z");
    text = config_of(smol);
    CHECK(strstr(text, "\"name\":\"smol\"") != NULL && strstr(text, "SmolLM2-135M-Instruct.Q4_1.gguf") != NULL);
    CHECK(strstr(text, "efficientnet-lite0-57934424.pth") != NULL && strstr(text, "\"loraRank\":8") != NULL);
    CHECK(strstr(text, "\"loraTargets\":[\"q_proj\"]") != NULL);
    free(text);
    grlhf_pipeline_free(tiny);
    grlhf_pipeline_free(quick);
    grlhf_pipeline_free(smol);
    CHECK(grlhf_live_handles() == base);
}

/* A config the library must refuse at create time, with `want` and a message holding `needle`. */
static void expect_refused(const char *preset, const char *json, const char *data, const char *output,
                           grlhf_status want, const char *needle) {
    grlhf_pipeline_params p;
    grlhf_pipeline *pipeline = (grlhf_pipeline *)(uintptr_t)0x1;
    grlhf_pipeline_params_default(&p);
    p.preset = preset;
    p.config_json = json;
    p.data_dir = data;
    p.output_dir = output;
    EXPECT(grlhf_pipeline_create(&p, &pipeline), want);
    CHECK(pipeline == NULL);
    if (strstr(grlhf_last_error(), needle) == NULL) {
        printf("    FAIL: the message for %s does not mention \"%s\": \"%s\"\n", json ? json : preset, needle,
               grlhf_last_error());
        failures++;
    }
}

static void test_bad_configs(void) {
    int64_t base = grlhf_live_handles();
    const grlhf_status bad = GRLHF_ERR_INVALID_ARGUMENT;
    expect_refused("huge", NULL, NULL, NULL, bad, "preset");
    expect_refused("smol", "{\"loraRank\": 0}", NULL, NULL, bad, "loraRank");
    expect_refused("", NULL, NULL, NULL, bad, "preset is empty");
    expect_refused("\xff", NULL, NULL, NULL, bad, "UTF-8");
    expect_refused("quick", "not json", NULL, NULL, bad, "not valid JSON");
    expect_refused("quick", "[1, 2]", NULL, NULL, bad, "not a JSON object");
    expect_refused("quick", "{\"sftStep\": 1}", NULL, NULL, bad, "unknown pipeline config keys: sftStep");
    expect_refused("quick", "{\"sftSteps\": \"many\"}", NULL, NULL, bad, "sftSteps");
    expect_refused("quick", "{\"sftSteps\": null}", NULL, NULL, bad, "sftSteps");
    expect_refused("quick", "{\"sftSteps\": 1e30}", NULL, NULL, bad, "sftSteps");
    expect_refused("quick", "{\"sftSteps\": 0}", NULL, NULL, bad, "sftSteps 0");
    expect_refused("quick", "{\"threads\": 257}", NULL, NULL, bad, "threads");
    expect_refused("quick", "{\"evalPairs\": -1}", NULL, NULL, bad, "evalPairs");
    expect_refused("quick", "{\"width\": 36}", NULL, NULL, bad, "width 36");
    expect_refused("quick", "{\"visionWidth\": 30}", NULL, NULL, bad, "visionWidth 30");
    expect_refused("quick", "{\"patchSize\": 5}", NULL, NULL, bad, "patchSize 5");
    expect_refused("quick", "{\"imageSize\": 512, \"patchSize\": 1}", NULL, NULL, bad, "patches");
    expect_refused("quick", "{\"scalingGroups\": [2, 0]}", NULL, NULL, bad, "scalingGroups");
    expect_refused("quick", "{\"policyLearningRate\": -1}", NULL, NULL, bad, "policyLearningRate");
    expect_refused("quick", "{\"grmRLLearningRate\": \"fast\"}", NULL, NULL, bad, "grmRLLearningRate");
    expect_refused("quick", "{\"data\": \"\"}", NULL, NULL, bad, "data is empty");
    expect_refused("quick", NULL, "", NULL, bad, "data_dir is empty");
    expect_refused("quick", NULL, NULL, "\xc3", bad, "UTF-8");
    expect_refused("quick", "{\"batchSize\": 1024, \"promptsPerStep\": 1024, \"groupSize\": 64, \"vocabSize\": 65536, "
                   "\"width\": 1024, \"layers\": 32}", NULL, NULL, GRLHF_ERR_OUT_OF_MEMORY, "memory");
    CHECK(grlhf_live_handles() == base);
}

/* ---- running ------------------------------------------------------------------------------- */

typedef struct {
    grlhf_pipeline *pipeline;
    int lines, tables, resumed;
    grlhf_status nested;
} log_state;

static void on_log(void *user, const char *line) {
    log_state *s = user;
    s->lines++;
    if (strstr(line, "reward model") != NULL && strstr(line, "ID acc") != NULL) s->tables++;
    if (strstr(line, "done earlier") != NULL) s->resumed++;
    if (s->lines == 1) s->nested = grlhf_pipeline_run(s->pipeline, NULL, NULL); /* refused: already running */
}

/* The text without whitespace, to compare JSON written compactly and pretty-printed. */
static void squeeze(char *s) {
    char *w = s;
    for (; *s; s++)
        if (*s != ' ' && *s != '\n' && *s != '\t' && *s != '\r') *w++ = *s;
    *w = '\0';
}

static int finished_stages(const char *output) {
    DIR *d = opendir(output);
    struct dirent *e;
    int n = 0;
    if (d == NULL) return -1;
    while ((e = readdir(d)) != NULL) {
        char path[512];
        struct stat st;
        sprintf(path, "%s/%s/stage.done", output, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0) n++;
    }
    closedir(d);
    return n;
}

static void test_quick_run_and_resume(void) {
    int64_t base = grlhf_live_handles(), length = -1;
    char output[128], path[160], *summary, *file;
    log_state s = {NULL, 0, 0, 0, 0};
    grlhf_pipeline *pipeline;
    sprintf(output, "%s/quick", work);
    pipeline = create("quick", NULL, data_dir, output);
    s.pipeline = pipeline;

    EXPECT(grlhf_pipeline_summary_json(pipeline, NULL, 0, &length), GRLHF_ERR_MISUSE); /* no run yet */
    CHECK(strstr(grlhf_last_error(), "not finished a run") != NULL);
    EXPECT(grlhf_pipeline_run(pipeline, on_log, &s), GRLHF_OK);
    CHECK(s.nested == GRLHF_ERR_MISUSE);
    CHECK(s.tables == 1 && s.resumed == 0 && s.lines > 5);
    CHECK(finished_stages(output) >= 11);

    EXPECT(grlhf_pipeline_summary_json(pipeline, NULL, 0, &length), GRLHF_OK);
    summary = malloc((size_t)length + 1);
    EXPECT(grlhf_pipeline_summary_json(pipeline, summary, length + 1, &length), GRLHF_OK);
    CHECK(strstr(summary, "\"BT RM\"") && strstr(summary, "\"GRM (untrained)\"") && strstr(summary, "\"GRM+SFT\""));
    CHECK(strstr(summary, "\"GRM+RL\"") && strstr(summary, "\"DPO\"") && strstr(summary, "\"scaling\""));
    CHECK(strstr(summary, "\"preset\":\"quick\"") != NULL);
    sprintf(path, "%s/summary.json", output);
    file = read_file(path);
    CHECK(file != NULL);
    if (file != NULL) {
        squeeze(file);
        squeeze(summary);
        if (strcmp(file, summary) != 0) {
            printf("    FAIL: the summary differs from summary.json:\n%s\n%s\n", summary, file);
            failures++;
        }
        free(file);
    }
    free(summary);
    grlhf_pipeline_free(pipeline);

    /* a new pipeline on the same output resumes: every finished stage is skipped */
    memset(&s, 0, sizeof s);
    pipeline = create("quick", NULL, data_dir, output);
    s.pipeline = pipeline;
    EXPECT(grlhf_pipeline_run(pipeline, on_log, &s), GRLHF_OK);
    CHECK(s.resumed == finished_stages(output) && s.resumed >= 11 && s.tables == 1);
    /* no callback is fine too */
    EXPECT(grlhf_pipeline_run(pipeline, NULL, NULL), GRLHF_OK);
    grlhf_pipeline_free(pipeline);
    CHECK(grlhf_live_handles() == base);
}

static void test_bad_data(void) {
    char dir[128], output[128], path[192];
    grlhf_pipeline *pipeline;
    sprintf(output, "%s/bad-out", work);

    /* no data folder: an I/O error before anything is written */
    pipeline = create("quick", NULL, "/nonexistent/grlhf-data", output);
    EXPECT(grlhf_pipeline_run(pipeline, NULL, NULL), GRLHF_ERR_IO);
    CHECK(strstr(grlhf_last_error(), "sft.jsonl") != NULL);
    grlhf_pipeline_free(pipeline);

    /* an empty set */
    sprintf(dir, "%s/empty", work);
    copy_data(dir);
    sprintf(path, "%s/prefs_test_ood.jsonl", dir);
    write_file(path, "");
    pipeline = create("quick", NULL, dir, output);
    EXPECT(grlhf_pipeline_run(pipeline, NULL, NULL), GRLHF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(grlhf_last_error(), "prefs_test_ood.jsonl has no rows") != NULL);
    grlhf_pipeline_free(pipeline);

    /* a malformed row: the file and line are named */
    sprintf(dir, "%s/malformed", work);
    copy_data(dir);
    sprintf(path, "%s/prompts_test.jsonl", dir);
    write_file(path, "{\"question\": \"q\", \"ground_truth\": \"red\"}\n{\"question\": 3}\n");
    pipeline = create("quick", NULL, dir, output);
    EXPECT(grlhf_pipeline_run(pipeline, NULL, NULL), GRLHF_ERR_INVALID_FORMAT);
    CHECK(strstr(grlhf_last_error(), "prompts_test.jsonl") != NULL);
    grlhf_pipeline_free(pipeline);
}

static const test_case tests[] = {
    {"params_and_presets", test_params_and_presets},
    {"bad_configs", test_bad_configs},
    {"quick_run_and_resume", test_quick_run_and_resume},
    {"bad_data", test_bad_data},
};

int main(void) {
    const char *cli = getenv("GRLHF_CLI"), *easy_vqa = getenv("GRLHF_EASY_VQA");
    char command[1024];
    int status;
    if (cli == NULL || easy_vqa == NULL) {
        printf("set GRLHF_CLI to grlhf-cli and GRLHF_EASY_VQA to the easy-VQA folder (make data)\n");
        return 2;
    }
    strcpy(work, "/tmp/grlhf_pipeline_XXXXXX");
    if (mkdtemp(work) == NULL) return 2;
    sprintf(data_dir, "%s/data", work);
    sprintf(command, "'%s' data easy-vqa --source '%s' --out '%s' --train 24 --test 8 --ood 8 --seed 1 >/dev/null",
            cli, easy_vqa, data_dir);
    if (system(command) != 0) {
        printf("FAIL: %s\n", command);
        return 1;
    }
    status = run_tests(tests, sizeof tests / sizeof tests[0], 300);
    sprintf(command, "rm -rf '%s'", work);
    if (system(command) != 0) printf("could not remove %s\n", work);
    return status;
}
