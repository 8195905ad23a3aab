// C ABI from C++17: the header compiles cleanly as C++ (-Wall -Wextra -Werror -pedantic), and
// the RAII wrappers a C++ trainer would write around it behave: handles freed exactly once,
// errors become exceptions carrying the library's message. GRLHF_FIXTURES (run.sh sets it)
// names Tests/GRLHFTests/Fixtures for the multimodal model test.

#include "grlhf.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace grlhf {

struct Error : std::runtime_error {
    grlhf_status status;
    Error(grlhf_status s, const std::string &message) : std::runtime_error(message), status(s) {}
};

// Throws when a call fails; the message is the thread's last error, copied at once.
void check(grlhf_status status) {
    if (status != GRLHF_OK) throw Error(status, grlhf_last_error());
}

// One deleter per handle type: unique_ptr<grlhf_x, Free<grlhf_x_free>> frees exactly once.
template <typename T, void (*FreeFunction)(T *)>
struct Free {
    void operator()(T *handle) const noexcept { FreeFunction(handle); }
};
using Tensor = std::unique_ptr<grlhf_tensor, Free<grlhf_tensor, grlhf_tensor_free>>;
using TensorSet = std::unique_ptr<grlhf_tensor_set, Free<grlhf_tensor_set, grlhf_tensor_set_free>>;
using Model = std::unique_ptr<grlhf_model, Free<grlhf_model, grlhf_model_free>>;
using Tokenizer = std::unique_ptr<grlhf_tokenizer, Free<grlhf_tokenizer, grlhf_tokenizer_free>>;
using Generation = std::unique_ptr<grlhf_generation, Free<grlhf_generation, grlhf_generation_free>>;
using Trainer = std::unique_ptr<grlhf_trainer, Free<grlhf_trainer, grlhf_trainer_free>>;
using RewardModel = std::unique_ptr<grlhf_reward_model, Free<grlhf_reward_model, grlhf_reward_model_free>>;
using Reward = std::unique_ptr<grlhf_reward, Free<grlhf_reward, grlhf_reward_free>>;
using Judge = std::unique_ptr<grlhf_judge, Free<grlhf_judge, grlhf_judge_free>>;
using Comparisons = std::unique_ptr<grlhf_comparisons, Free<grlhf_comparisons, grlhf_comparisons_free>>;
using Pipeline = std::unique_ptr<grlhf_pipeline, Free<grlhf_pipeline, grlhf_pipeline_free>>;

// One judgment of a grouped comparison, copied out of the library-owned result.
struct Judgment {
    int64_t first, second;
    float score_1, score_2;
    int32_t status;
    std::string text;
};

// Scores a group; the comparisons are freed by RAII even when copying them throws.
std::vector<float> score_group(grlhf_judge *judge, const std::string &question, const std::vector<std::string> &responses,
                               const grlhf_group_params *params, std::vector<Judgment> *judgments) {
    std::vector<const char *> texts;
    for (const auto &r : responses) texts.push_back(r.c_str());
    std::vector<float> rewards(responses.size());
    grlhf_comparisons *raw = nullptr;
    check(grlhf_judge_score_group(judge, nullptr, question.c_str(), texts.data(), nullptr,
                                  static_cast<int64_t>(texts.size()), params, rewards.data(), &raw));
    Comparisons comparisons(raw);
    int64_t count = 0;
    check(grlhf_comparisons_count(comparisons.get(), &count));
    for (int64_t i = 0; judgments != nullptr && i < count; i++) {
        Judgment j{};
        const char *text = nullptr;
        check(grlhf_comparisons_get(comparisons.get(), i, &j.first, &j.second, &j.score_1, &j.score_2, &j.status,
                                    nullptr, &text));
        j.text = text;
        judgments->push_back(j);
    }
    return rewards;
}

// A GRPO reward from any C++ callable. Exceptions must not cross the C boundary: the
// trampoline turns one into a failed callback whose message is what().
using RewardFunction = std::function<std::vector<float>(const grlhf_reward_group &)>;

int32_t reward_trampoline(void *user, const grlhf_reward_group *group, float *out) noexcept {
    try {
        std::vector<float> rewards = (*static_cast<RewardFunction *>(user))(*group);
        if (rewards.size() != static_cast<size_t>(group->count))
            throw std::runtime_error("wrong number of rewards");
        std::copy(rewards.begin(), rewards.end(), out);
        return 0;
    } catch (const std::exception &e) {
        grlhf_set_callback_error(e.what());
        return 1;
    }
}

// `function` must outlive the reward and every trainer using it.
Reward make_reward(RewardFunction *function) {
    grlhf_reward *raw = nullptr;
    check(grlhf_reward_create(reward_trampoline, function, &raw));
    return Reward(raw);
}

// Metrics as a map; the callable returns false to stop.
using MetricsFunction = std::function<bool(int64_t, const std::map<std::string, double> &)>;

int32_t metrics_trampoline(void *user, int64_t step, int64_t count, const char *const *names,
                           const double *values) noexcept {
    try {
        std::map<std::string, double> metrics;
        for (int64_t i = 0; i < count; i++) metrics[names[i]] = values[i];
        return (*static_cast<MetricsFunction *>(user))(step, metrics) ? 0 : 1;
    } catch (...) {
        return 1;  // stop
    }
}

void train(grlhf_trainer *trainer, int64_t steps, MetricsFunction on_step) {
    check(grlhf_trainer_train(trainer, steps, metrics_trampoline, &on_step));
}

Tensor make_tensor(const std::vector<float> &values, const std::vector<int64_t> &shape) {
    grlhf_tensor *raw = nullptr;
    check(grlhf_tensor_create(values.empty() ? nullptr : values.data(), shape.data(),
                              static_cast<int32_t>(shape.size()), &raw));
    return Tensor(raw);
}

std::vector<int64_t> shape_of(const grlhf_tensor *t) {
    int32_t rank = 0;
    check(grlhf_tensor_rank(t, &rank));
    std::vector<int64_t> dims(static_cast<size_t>(rank));
    check(grlhf_tensor_shape(t, dims.data(), rank));
    return dims;
}

std::vector<float> values_of(const grlhf_tensor *t) {
    int64_t count = 0;
    check(grlhf_tensor_count(t, &count));
    std::vector<float> values(static_cast<size_t>(count));
    check(grlhf_tensor_copy_to(t, values.data(), count));
    return values;
}

TensorSet make_set() {
    grlhf_tensor_set *raw = nullptr;
    check(grlhf_tensor_set_create(&raw));
    return TensorSet(raw);
}

Tensor get(const grlhf_tensor_set *set, const std::string &name) {
    grlhf_tensor *raw = nullptr;
    check(grlhf_tensor_set_get(set, name.c_str(), &raw));
    return Tensor(raw);
}

Model init_model(const std::string &config_path, uint64_t seed) {
    grlhf_model *raw = nullptr;
    check(grlhf_model_init(config_path.c_str(), seed, &raw));
    return Model(raw);
}

Tokenizer load_tokenizer(const std::string &path) {
    grlhf_tokenizer *raw = nullptr;
    check(grlhf_tokenizer_load(path.c_str(), &raw));
    return Tokenizer(raw);
}

Tensor load_image(const grlhf_model *model, const std::string &png_path) {
    grlhf_tensor *raw = nullptr;
    check(grlhf_image_load(model, png_path.c_str(), &raw));
    return Tensor(raw);
}

// The ids of a ChatML user turn (two calls: the count, then the ids).
std::vector<int32_t> encode_chat(const grlhf_tokenizer *tok, const std::string &message) {
    int64_t length = 0, count = 0;
    check(grlhf_chatml_user_prompt(message.c_str(), nullptr, 0, &length));
    std::string text(static_cast<size_t>(length) + 1, '\0');
    check(grlhf_chatml_user_prompt(message.c_str(), &text[0], length + 1, &length));
    text.resize(static_cast<size_t>(length));
    check(grlhf_tokenizer_encode(tok, text.c_str(), nullptr, 0, &count));
    std::vector<int32_t> ids(static_cast<size_t>(count));
    check(grlhf_tokenizer_encode(tok, text.c_str(), ids.data(), count, &count));
    return ids;
}

struct Sequence {
    std::vector<int32_t> tokens;
    std::vector<float> logprobs;
};

// Samples a group and copies the sequences out of the library-owned result.
std::vector<Sequence> generate(grlhf_model *model, const std::vector<int32_t> &prompt,
                               const grlhf_tensor *images, int64_t group,
                               const grlhf_sampling_params &params) {
    grlhf_generation *raw = nullptr;
    check(grlhf_generate_group(model, prompt.data(), static_cast<int64_t>(prompt.size()), images,
                               group, &params, &raw));
    Generation result(raw);
    int64_t count = 0;
    check(grlhf_generation_count(result.get(), &count));
    std::vector<Sequence> out;
    for (int64_t i = 0; i < count; i++) {
        const int32_t *tokens = nullptr;
        const float *logprobs = nullptr;
        int64_t length = 0;
        int32_t finish = 0;
        check(grlhf_generation_tokens(result.get(), i, &tokens, &logprobs, &length, &finish));
        out.push_back({std::vector<int32_t>(tokens, tokens + length),
                       std::vector<float>(logprobs, logprobs + length)});
    }
    return out;
}

std::vector<float> logprobs(grlhf_model *model, const std::vector<int32_t> &ids,
                            const grlhf_tensor *images) {
    std::vector<float> out(ids.empty() ? 0 : ids.size() - 1);
    check(grlhf_model_logprobs(model, ids.data(), static_cast<int64_t>(ids.size()), images,
                               out.data(), static_cast<int64_t>(out.size())));
    return out;
}

}  // namespace grlhf

namespace {

int failures = 0;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::printf("    FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                 \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

void test_version() {
    CHECK(grlhf_abi_version() == GRLHF_ABI_VERSION);
    std::string expected = std::to_string(GRLHF_VERSION_MAJOR) + "." +
                           std::to_string(GRLHF_VERSION_MINOR) + "." +
                           std::to_string(GRLHF_VERSION_PATCH);
    CHECK(expected == grlhf_version());
    CHECK(std::string(grlhf_status_string(GRLHF_ERR_MISUSE)) != "unknown status");
}

void test_tensor_raii() {
    int64_t before = grlhf_live_handles();
    {
        auto t = grlhf::make_tensor({1, 2, 3, 4, 5, 6}, {3, 2});
        CHECK(grlhf_live_handles() == before + 1);
        CHECK((grlhf::shape_of(t.get()) == std::vector<int64_t>{3, 2}));
        CHECK((grlhf::values_of(t.get()) == std::vector<float>{1, 2, 3, 4, 5, 6}));
        const float *data = nullptr;
        grlhf::check(grlhf_tensor_data(t.get(), &data));
        CHECK(data != nullptr && data[5] == 6.0f);
        auto zeros = grlhf::make_tensor({}, {2});
        CHECK((grlhf::values_of(zeros.get()) == std::vector<float>{0, 0}));
    }
    CHECK(grlhf_live_handles() == before);
}

void test_errors_throw_with_message() {
    bool threw = false;
    try {
        grlhf::make_tensor({}, {2, -3});
    } catch (const grlhf::Error &e) {
        threw = true;
        CHECK(e.status == GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(std::strstr(e.what(), "negative") != nullptr);
    }
    CHECK(threw);

    threw = false;
    auto set = grlhf::make_set();
    try {
        grlhf::get(set.get(), "absent");
    } catch (const grlhf::Error &e) {
        threw = true;
        CHECK(e.status == GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(std::strstr(e.what(), "absent") != nullptr);
    }
    CHECK(threw);

    // A wrong-type handle is reported, not dereferenced.
    int32_t rank = 0;
    auto *not_a_tensor = reinterpret_cast<const grlhf_tensor *>(set.get());
    CHECK(grlhf_tensor_rank(not_a_tensor, &rank) == GRLHF_ERR_MISUSE);
    CHECK(std::strlen(grlhf_last_error()) > 0);
}

void test_set_and_safetensors() {
    int64_t before = grlhf_live_handles();
    char path[] = "/tmp/grlhf_capi_cpp_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    {
        auto set = grlhf::make_set();
        auto w = grlhf::make_tensor({0.5f, -1.5f, 2.5f, 1e-3f}, {2, 2});
        auto b = grlhf::make_tensor({3.0f}, {1});
        grlhf::check(grlhf_tensor_set_add(set.get(), "w", w.get()));
        grlhf::check(grlhf_tensor_set_add(set.get(), "b", b.get()));
        grlhf::check(grlhf_safetensors_save(path, set.get()));

        grlhf_tensor_set *raw = nullptr;
        grlhf::check(grlhf_safetensors_load(path, &raw));
        grlhf::TensorSet loaded(raw);
        int64_t count = 0;
        grlhf::check(grlhf_tensor_set_count(loaded.get(), &count));
        CHECK(count == 2);
        std::vector<std::string> names;
        for (int64_t i = 0; i < count; i++) {
            const char *name = nullptr;
            grlhf::check(grlhf_tensor_set_name(loaded.get(), i, &name));
            names.emplace_back(name);
        }
        CHECK((names == std::vector<std::string>{"w", "b"}));
        CHECK(grlhf::values_of(grlhf::get(loaded.get(), "w").get()) == grlhf::values_of(w.get()));
        CHECK((grlhf::shape_of(grlhf::get(loaded.get(), "w").get()) == std::vector<int64_t>{2, 2}));
        CHECK(grlhf::values_of(grlhf::get(loaded.get(), "b").get()) == grlhf::values_of(b.get()));
    }
    std::remove(path);
    CHECK(grlhf_live_handles() == before);
}

// A multimodal model from the fixture config, its tokenizer and a PNG, all held by RAII
// wrappers: generation with the image, log-probs that reproduce it, errors as exceptions.
void test_multimodal_raii() {
    const char *fixtures = std::getenv("GRLHF_FIXTURES");
    CHECK(fixtures != nullptr);
    if (fixtures == nullptr) return;
    const std::string root = fixtures;
    int64_t before = grlhf_live_handles();
    {
        auto model = grlhf::init_model(root + "/multimodal/config.json", 11);
        auto tok = grlhf::load_tokenizer(root + "/multimodal/tokenizer.json");
        auto image = grlhf::load_image(model.get(), root + "/png/rgb_filters.png");
        CHECK((grlhf::shape_of(image.get()) == std::vector<int64_t>{1, 3, 16, 16}));
        auto prompt = grlhf::encode_chat(tok.get(), "<image>\nwhat shape?");
        CHECK(grlhf_live_handles() == before + 3);

        grlhf_sampling_params params;
        grlhf::check(grlhf_sampling_params_default(&params));
        params.temperature = 0.0f;
        params.max_new_tokens = 4;
        auto sequences = grlhf::generate(model.get(), prompt, image.get(), 2, params);
        CHECK(sequences.size() == 2 && sequences[0].tokens == sequences[1].tokens);  // greedy
        CHECK(grlhf_live_handles() == before + 3);  // the result was freed by its wrapper

        std::vector<int32_t> all = prompt;
        const auto &first = sequences[0];
        bool image_token_generated = false;
        for (int32_t t : first.tokens) image_token_generated |= t == 400;
        if (!image_token_generated) {  // a generated image token would be read as an image
            all.insert(all.end(), first.tokens.begin(), first.tokens.end());
            auto rescored = grlhf::logprobs(model.get(), all, image.get());
            for (size_t i = 0; i < first.tokens.size(); i++)
                CHECK(std::fabs(rescored[prompt.size() - 1 + i] - first.logprobs[i]) < 1e-4f);
        }

        bool threw = false;
        try {
            grlhf::load_image(model.get(), root + "/png/missing.png");
        } catch (const grlhf::Error &e) {
            threw = true;
            CHECK(e.status == GRLHF_ERR_IO);
            CHECK(std::strstr(e.what(), "missing.png") != nullptr);
        }
        CHECK(threw);
        threw = false;
        try {
            grlhf::generate(model.get(), prompt, nullptr, 1, params);  // the image is missing
        } catch (const grlhf::Error &e) {
            threw = true;
            CHECK(e.status == GRLHF_ERR_INVALID_ARGUMENT);
            CHECK(std::strstr(e.what(), "image placeholder") != nullptr);
        }
        CHECK(threw);
    }
    CHECK(grlhf_live_handles() == before);
}

void test_threads_setting() {
    int32_t blas = 0, compute = 0;
    grlhf::check(grlhf_set_threads(1, 2));
    grlhf::check(grlhf_get_threads(&blas, &compute));
    CHECK(blas == 1 && compute == 2);
    CHECK(grlhf_set_threads(0, 0) == GRLHF_ERR_INVALID_ARGUMENT);
    grlhf::check(grlhf_set_threads(1, 1));
}


// GRPO from C++: a lambda reward, a lambda metrics callback that stops the run, and an
// exception inside the reward turned into a failed step carrying its message.
void test_training_raii() {
    const char *fixtures = std::getenv("GRLHF_FIXTURES");
    CHECK(fixtures != nullptr);
    if (fixtures == nullptr) return;
    int64_t before = grlhf_live_handles();
    char dir[] = "/tmp/grlhf_capi_cpp_train_XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    std::string config = std::string(dir) + "/config.json", prompts = std::string(dir) + "/prompts.jsonl";
    std::FILE *f = std::fopen(config.c_str(), "w");
    std::fputs("{\"model_type\": \"llama\", \"vocab_size\": 401, \"hidden_size\": 32, "
               "\"intermediate_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
               "\"num_key_value_heads\": 2, \"tie_word_embeddings\": true}", f);
    std::fclose(f);
    f = std::fopen(prompts.c_str(), "w");
    std::fputs("{\"question\": \"Say something.\", \"ground_truth\": \"e\"}\n", f);
    std::fclose(f);
    {
        auto model = grlhf::init_model(config, 1);
        auto tok = grlhf::load_tokenizer(std::string(fixtures) + "/multimodal/tokenizer.json");
        int calls = 0;
        // reward: how often the ground truth's letter appears in each completion
        grlhf::RewardFunction letters = [&](const grlhf_reward_group &g) {
            calls++;
            std::vector<float> r;
            for (int64_t i = 0; i < g.count; i++)
                r.push_back(static_cast<float>(std::count(g.completions[i], g.completions[i] + std::strlen(g.completions[i]), g.ground_truth[0])));
            return r;
        };
        auto reward = grlhf::make_reward(&letters);
        grlhf_grpo_params p;
        grlhf::check(grlhf_grpo_params_default(&p));
        p.steps = 5; p.prompts_per_step = 1; p.group_size = 3; p.max_new_tokens = 4;
        grlhf_trainer *raw = nullptr;
        grlhf::check(grlhf_grpo_trainer_create(model.get(), nullptr, tok.get(), prompts.c_str(), reward.get(), &p, &raw));
        grlhf::Trainer trainer(raw);
        std::vector<int64_t> seen;
        grlhf::train(trainer.get(), 0, [&](int64_t step, const std::map<std::string, double> &m) {
            seen.push_back(step);
            CHECK(m.count("reward") == 1 && m.count("loss") == 1);
            return step < 2;
        });
        CHECK((seen == std::vector<int64_t>{1, 2}) && calls == 2);

        grlhf::RewardFunction broken = [](const grlhf_reward_group &) -> std::vector<float> {
            throw std::runtime_error("judge offline");
        };
        auto failing = grlhf::make_reward(&broken);
        grlhf::check(grlhf_grpo_trainer_create(model.get(), nullptr, tok.get(), prompts.c_str(), failing.get(), &p, &raw));
        grlhf::Trainer second(raw);
        bool threw = false;
        try {
            grlhf::check(grlhf_trainer_step(second.get()));
        } catch (const grlhf::Error &e) {
            threw = true;
            CHECK(e.status == GRLHF_ERR_CALLBACK && std::strstr(e.what(), "judge offline") != nullptr);
        }
        CHECK(threw);
    }
    CHECK(grlhf_live_handles() == before);
    std::remove(config.c_str());
    std::remove(prompts.c_str());
    rmdir(dir);
}

// The judge from C++: RAII handles, grouped comparison's counts, and a bad params value thrown
// as an exception with the library's message.
void test_judge_raii() {
    const char *fixtures = std::getenv("GRLHF_FIXTURES");
    CHECK(fixtures != nullptr);
    if (fixtures == nullptr) return;
    int64_t before = grlhf_live_handles();
    char dir[] = "/tmp/grlhf_capi_cpp_judge_XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    std::string config = std::string(dir) + "/config.json";
    std::FILE *f = std::fopen(config.c_str(), "w");
    std::fputs("{\"model_type\": \"llama\", \"vocab_size\": 401, \"hidden_size\": 32, "
               "\"intermediate_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
               "\"num_key_value_heads\": 2, \"tie_word_embeddings\": true}", f);
    std::fclose(f);
    {
        auto model = grlhf::init_model(config, 2);
        auto tok = grlhf::load_tokenizer(std::string(fixtures) + "/multimodal/tokenizer.json");
        grlhf_judge_params jp;
        grlhf::check(grlhf_judge_params_default(&jp));
        jp.max_new_tokens = 6;
        grlhf_judge *raw = nullptr;
        grlhf::check(grlhf_judge_create(model.get(), tok.get(), &jp, &raw));
        grlhf::Judge judge(raw);
        std::vector<grlhf::Judgment> judgments;
        std::vector<std::string> responses = {"blue", "red", "green"};
        auto rewards = grlhf::score_group(judge.get(), "What color is the sky?", responses, nullptr, &judgments);
        CHECK(rewards.size() == 3 && judgments.size() == 6);
        for (float r : rewards) CHECK(std::isfinite(r));
        for (const auto &j : judgments) CHECK(j.first != j.second && j.status >= 0 && j.status <= 4);
        grlhf_group_params gp;
        grlhf::check(grlhf_group_params_default(&gp));
        gp.both_orders = 0;
        judgments.clear();
        grlhf::score_group(judge.get(), "What color is the sky?", responses, &gp, &judgments);
        CHECK(judgments.size() == 3);
        gp.aggregator = 99;
        bool threw = false;
        try {
            grlhf::score_group(judge.get(), "q", responses, &gp, nullptr);
        } catch (const grlhf::Error &e) {
            threw = true;
            CHECK(e.status == GRLHF_ERR_INVALID_ARGUMENT && std::strstr(e.what(), "aggregator") != nullptr);
        }
        CHECK(threw);
    }
    CHECK(grlhf_live_handles() == before);
    std::remove(config.c_str());
    rmdir(dir);
}

// A pipeline handle from a preset and JSON overrides: its resolved config is read back, and a
// bad override throws with the key in the message. (Test_pipeline.c runs one.)
void test_pipeline_raii() {
    int64_t before = grlhf_live_handles();
    {
        grlhf_pipeline_params p;
        grlhf::check(grlhf_pipeline_params_default(&p));
        p.preset = "quick";
        p.config_json = R"({"sftSteps": 5, "seed": 11})";
        grlhf_pipeline *raw = nullptr;
        grlhf::check(grlhf_pipeline_create(&p, &raw));
        grlhf::Pipeline pipeline(raw);
        int64_t length = 0;
        grlhf::check(grlhf_pipeline_config_json(pipeline.get(), nullptr, 0, &length));
        std::string config(static_cast<size_t>(length), '\0');
        grlhf::check(grlhf_pipeline_config_json(pipeline.get(), &config[0], length + 1, &length));
        CHECK(config.find("\"sftSteps\":5") != std::string::npos && config.find("\"seed\":11") != std::string::npos);
        p.config_json = R"({"layers": 0})";
        bool threw = false;
        try {
            grlhf::check(grlhf_pipeline_create(&p, &raw));
        } catch (const grlhf::Error &e) {
            threw = true;
            CHECK(e.status == GRLHF_ERR_INVALID_ARGUMENT && std::strstr(e.what(), "layers") != nullptr);
        }
        CHECK(threw);
    }
    CHECK(grlhf_live_handles() == before);
}

}  // namespace

int main() {
    const std::pair<const char *, std::function<void()>> tests[] = {
        {"version", test_version},
        {"tensor_raii", test_tensor_raii},
        {"errors_throw_with_message", test_errors_throw_with_message},
        {"set_and_safetensors", test_set_and_safetensors},
        {"multimodal_raii", test_multimodal_raii},
        {"threads_setting", test_threads_setting},
        {"training_raii", test_training_raii},
        {"judge_raii", test_judge_raii},
        {"pipeline_raii", test_pipeline_raii},
    };
    int passed = 0, failed = 0;
    for (const auto &test : tests) {
        int before = failures;
        try {
            test.second();
        } catch (const std::exception &e) {
            std::printf("    FAIL: unexpected exception: %s\n", e.what());
            failures++;
        }
        bool ok = failures == before;
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", test.first);
        (ok ? passed : failed)++;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
