// A C++ training loop with in-process rewards from grlhf's generative judge.
//
// 1. A tiny judge: a small Llama-style model (random weights from a config.json written here)
//    fine-tuned for a few seconds to write "Scores: \boxed{s1, s2}" for pairs of answers to one
//    question, preferring some answers to others (the table `quality` below).
// 2. A policy of the C++ program's own: a softmax over a fixed set of candidate answers. Each
//    iteration samples a group of answers, asks the judge to score the group by grouped
//    comparison (grlhf_judge_score_group: every pair judged in both orders, one reward per
//    answer), turns the rewards into group-normalized advantages (as GRPO does) and takes a
//    policy-gradient step.
//
// The judge's favourite answer should end up the policy's most likely one; the program exits
// with 1 when it does not.
//
// Build against an installed grlhf (make install PREFIX=...):
//   make -C examples/cpp PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
// Run:
//   ./judge_bandit TOKENIZER_JSON   (a byte-level BPE tokenizer.json with ChatML's <|im_end|>,
//                                    e.g. Tests/GRLHFTests/Fixtures/multimodal/tokenizer.json)
#include <grlhf.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

// Every failing grlhf call becomes an exception carrying the library's message.
struct Error : std::runtime_error {
    grlhf_status status;
    Error(grlhf_status s, const std::string &what) : std::runtime_error(what), status(s) {}
};

void check(grlhf_status status, const char *what) {
    if (status != GRLHF_OK) throw Error(status, std::string(what) + ": " + grlhf_last_error());
}

// Handles freed exactly once, also when an exception unwinds.
template <typename T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *handle) const noexcept { Free(handle); }
};
using Model = std::unique_ptr<grlhf_model, Deleter<grlhf_model, grlhf_model_free>>;
using Tokenizer = std::unique_ptr<grlhf_tokenizer, Deleter<grlhf_tokenizer, grlhf_tokenizer_free>>;
using Trainer = std::unique_ptr<grlhf_trainer, Deleter<grlhf_trainer, grlhf_trainer_free>>;
using Judge = std::unique_ptr<grlhf_judge, Deleter<grlhf_judge, grlhf_judge_free>>;

void write(const std::string &path, const std::string &text) {
    std::ofstream out(path);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

const std::string question = "What color is the sky?";
struct Candidate {
    std::string answer;
    int quality;  // the score the judge is taught to give (1..10)
};
const std::vector<Candidate> candidates = {{"blue", 9}, {"grey", 6}, {"green", 3}, {"red", 1}};

// The judge's SFT rows: every ordered pair of different candidates, rendered as the judge's
// template renders a comparison (the instruction as the system turn), answered with the scores.
std::string judge_rows() {
    std::string rows;
    for (const auto &a : candidates)
        for (const auto &b : candidates) {
            if (a.answer == b.answer) continue;
            rows += "{\"system\": \"Score.\", \"question\": \"" + question + "\\n1: " + a.answer + "\\n2: " + b.answer +
                    "\", \"response\": \"Scores: \\\\boxed{" + std::to_string(a.quality) + ", " +
                    std::to_string(b.quality) + "}\"}\n";
        }
    return rows;
}

int32_t print_loss(void *, int64_t step, int64_t count, const char *const *names, const double *values) {
    if (step % 50 == 0)
        for (int64_t i = 0; i < count; i++)
            if (std::string(names[i]) == "loss") std::printf("  judge SFT step %3lld  loss %.4f\n", (long long)step, values[i]);
    return 0;  // nonzero would stop training after this step
}

// A tiny judge, trained in place on the rows above.
Judge make_judge(const std::string &dir, const std::string &tokenizer_path) {
    grlhf_tokenizer *raw_tokenizer = nullptr;
    check(grlhf_tokenizer_load(tokenizer_path.c_str(), &raw_tokenizer), "tokenizer");
    Tokenizer tokenizer(raw_tokenizer);
    int64_t vocab = 0;
    check(grlhf_tokenizer_vocab_size(tokenizer.get(), &vocab), "vocabulary");
    write(dir + "/config.json",
          "{\"model_type\": \"llama\", \"vocab_size\": " + std::to_string(vocab) +
              ", \"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 2, "
              "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 256, "
              "\"tie_word_embeddings\": true}");
    write(dir + "/judge_sft.jsonl", judge_rows());
    write(dir + "/template.json", "{\"instruction\": \"Score.\", \"body\": \"{question}\\n1: {response_1}\\n2: {response_2}\"}");

    grlhf_model *raw_model = nullptr;
    check(grlhf_model_init((dir + "/config.json").c_str(), /*seed*/ 7, &raw_model), "model");
    Model model(raw_model);

    grlhf_sft_params sft;
    check(grlhf_sft_params_default(&sft), "SFT params");
    sft.steps = 200;
    sft.batch_size = 12;
    sft.learning_rate = 1e-2f;
    sft.warmup_ratio = 0;
    sft.schedule = GRLHF_SCHEDULE_CONSTANT;
    grlhf_trainer *raw_trainer = nullptr;
    check(grlhf_sft_trainer_create(model.get(), tokenizer.get(), (dir + "/judge_sft.jsonl").c_str(), &sft, &raw_trainer),
          "SFT trainer");
    Trainer trainer(raw_trainer);
    check(grlhf_trainer_train(trainer.get(), 0, print_loss, nullptr), "SFT");

    grlhf_judge_params jp;
    check(grlhf_judge_params_default(&jp), "judge params");
    const std::string template_path = dir + "/template.json";
    jp.template_path = template_path.c_str();
    jp.max_new_tokens = 32;
    grlhf_judge *raw_judge = nullptr;
    check(grlhf_judge_create(model.get(), tokenizer.get(), &jp, &raw_judge), "judge");
    return Judge(raw_judge);  // it keeps its own references to the model and the tokenizer
}

std::vector<double> softmax(const std::vector<double> &logits) {
    double top = *std::max_element(logits.begin(), logits.end()), sum = 0;
    std::vector<double> p(logits.size());
    for (size_t i = 0; i < p.size(); i++) sum += p[i] = std::exp(logits[i] - top);
    for (auto &x : p) x /= sum;
    return p;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s TOKENIZER_JSON\n", argv[0]);
        return 2;
    }
    char dir[] = "/tmp/grlhf_judge_bandit_XXXXXX";
    if (mkdtemp(dir) == nullptr) return 2;
    int status = 0;
    try {
        std::printf("grlhf %s: training a tiny judge\n", grlhf_version());
        Judge judge = make_judge(dir, argv[1]);

        const int group = 4, iterations = 30;
        const double learning_rate = 0.5;
        std::vector<double> logits(candidates.size(), 0.0);
        std::mt19937 rng(1);
        grlhf_group_params gp;
        check(grlhf_group_params_default(&gp), "group params");  // both orders, mean of scores
        for (int it = 1; it <= iterations; it++) {
            std::vector<double> p = softmax(logits);
            std::discrete_distribution<int> policy(p.begin(), p.end());
            std::vector<int> picks(group);
            std::vector<const char *> responses(group);
            for (int i = 0; i < group; i++) {
                picks[i] = policy(rng);
                responses[i] = candidates[picks[i]].answer.c_str();
            }
            std::vector<float> rewards(group);
            check(grlhf_judge_score_group(judge.get(), /*image*/ nullptr, question.c_str(), responses.data(),
                                          /*complete*/ nullptr, group, &gp, rewards.data(), /*diagnostics*/ nullptr),
                  "score group");
            // GRPO's group-normalized advantages, then REINFORCE on the softmax's logits.
            double mean = 0, var = 0;
            for (float r : rewards) mean += r / group;
            for (float r : rewards) var += (r - mean) * (r - mean) / group;
            const double scale = 1.0 / (std::sqrt(var) + 1e-6);
            for (int i = 0; i < group; i++) {
                const double advantage = (rewards[i] - mean) * scale;
                for (size_t k = 0; k < logits.size(); k++)
                    logits[k] += learning_rate * advantage * ((int)k == picks[i] ? 1 - p[k] : -p[k]) / group;
            }
            if (it % 5 == 0 || it == 1) {
                std::printf("iteration %2d  mean reward %5.2f  group:", it, mean);
                for (int i = 0; i < group; i++) std::printf(" %s=%.1f", responses[i], rewards[i]);
                std::printf("\n");
            }
        }
        std::vector<double> p = softmax(logits);
        std::printf("policy:");
        for (size_t k = 0; k < p.size(); k++) std::printf("  %s %.3f", candidates[k].answer.c_str(), p[k]);
        std::printf("\n");
        const size_t best = std::max_element(p.begin(), p.end()) - p.begin();
        if (best != 0 || p[0] < 0.5) {
            std::printf("FAIL: the judge's favourite (%s) is not the policy's choice\n", candidates[0].answer.c_str());
            status = 1;
        } else {
            std::printf("ok: the policy learned the judge's favourite, %s\n", candidates[0].answer.c_str());
        }
    } catch (const Error &e) {
        std::fprintf(stderr, "grlhf error %d (%s): %s\n", (int)e.status, grlhf_status_string(e.status), e.what());
        status = 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        status = 1;
    }
    std::system((std::string("rm -rf '") + dir + "'").c_str());
    return status;
}
