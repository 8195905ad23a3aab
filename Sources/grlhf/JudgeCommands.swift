import ArgumentParser
import Foundation
import GRLHF

// The generative reward model's commands: `judge` (score two responses, a group by grouped
// comparison, or a file of preference pairs) and `train-grm` (stage 1 by GRPO, or the GRM+SFT
// baseline); `rl --judge` lives in RewardOptions (Training.swift).

extension GroupedComparisonConfig.Aggregator: ExpressibleByArgument {}
extension GroupedComparisonConfig.ParseFailurePolicy: ExpressibleByArgument {}

/// Grouped comparison's settings, shared by `judge` (group mode) and `rl --judge`.
struct GroupOptions: ParsableArguments {
    enum Order: String, EnumerableFlag {
        case bothOrders, oneOrder
        static func help(for value: Order) -> ArgumentHelp? {
            value == .bothOrders ? "Judge every pair in both orders: n(n-1) judgments (default; cancels position bias)."
                : "Judge every pair once, the earlier response first: n(n-1)/2 judgments."
        }
    }

    @Flag var order = Order.bothOrders
    @Option(help: "How comparisons become rewards: mean (the paper's), borda, instant_runoff, ranked_pairs or spectral.")
    var aggregator = GroupedComparisonConfig.Aggregator.mean
    @Option(help: "A judgment that does not parse: drop it, or score both responses 5.5 (neutral).")
    var parseFailure = GroupedComparisonConfig.ParseFailurePolicy.drop

    var config: GroupedComparisonConfig {
        var c = GroupedComparisonConfig()
        c.bothOrders = order == .bothOrders
        c.aggregator = aggregator
        c.parseFailure = parseFailure
        return c
    }
}

/// How a judge prompts and decodes.
struct JudgeSettings: ParsableArguments {
    @Option(help: "A judge template JSON file (instruction, body with {question} {response_1} {response_2}; default: the paper's).")
    var template: String?
    @Option(help: "Principles appended to every judge prompt as a hint.")
    var principles: String?

    func make(model: any CausalLM, tokenizer: Tokenizer) throws -> Judge {
        try Judge(model: model, tokenizer: tokenizer, template: try template.map { try JudgeTemplate.load(contentsOf: $0) } ?? .paper,
                  principles: principles)
    }
}

/// The GRLHF_PARSE_* / Python names of a verdict.
func statusName(_ v: JudgeVerdict) -> String {
    if case .failed(let f) = v { return f.rawValue }
    return "ok"
}

/// A JSON value of scores: [s1, s2], or null when the output did not parse (NaN and infinities
/// as null too, which JSON cannot hold).
func scoresJSON(_ v: JudgeVerdict) -> Any {
    guard let (a, b) = v.scores else { return NSNull() }
    return [a.isFinite ? Double(a) as Any : NSNull(), b.isFinite ? Double(b) as Any : NSNull()]
}

func printJSONObject(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

struct JudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge",
        abstract: "Score responses with a generative reward model: two responses, a group (grouped comparison), or a JSONL of preference pairs.",
        discussion: """
            --question Q --response-1 A --response-2 B: the two scores and the judge's rationale.
            --question Q --response A --response B --response C ...: every response's reward by grouped comparison and each judgment.
            --pairs FILE.jsonl ({question, image?, response_1, response_2, preferred}): accuracy and parse-failure rate.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var settings: JudgeSettings
    @OptionGroup var group: GroupOptions
    @Option(help: "New tokens per judgment at most.") var maxTokens = 256
    @Option(help: "0 is greedy (the default, as the paper evaluates).") var temperature: Float = 0
    @Option(help: "Seed for sampling, and for --init-config's random weights.") var seed: UInt64 = 0
    @Option var question: String?
    @Option(name: .customLong("response-1")) var response1: String?
    @Option(name: .customLong("response-2")) var response2: String?
    @Option(help: "A response of a group (repeat it); scored by grouped comparison.") var response: [String] = []
    @Option(help: "Index of a group response that is incomplete (repeat it): left out of the comparisons, reward 0.")
    var incomplete: [Int] = []
    @Option(help: "A PNG the question is about (multimodal judges).") var image: String?
    @Option(help: "Preference pairs to judge: prints accuracy and the parse-failure rate.") var pairs: String?
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Threads for grlhf's parallel work.") var threads = 1

    func validate() throws {
        let two = response1 != nil || response2 != nil
        let modes = [two, !response.isEmpty, pairs != nil].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError("give one of: --response-1 A --response-2 B; --response (repeated); --pairs FILE.jsonl")
        }
        if two && (response1 == nil || response2 == nil) { throw ValidationError("--response-1 and --response-2 go together") }
        if pairs == nil && question == nil { throw ValidationError("--question is required with responses") }
        if pairs != nil && (question != nil || image != nil) { throw ValidationError("--pairs reads questions and images from the file") }
        if let bad = incomplete.first(where: { $0 < 0 || $0 >= response.count }) {
            throw ValidationError("--incomplete \(bad) is not the index of a --response")
        }
        guard maxTokens >= 1, temperature >= 0, temperature.isFinite, threads >= 1 else {
            throw ValidationError("--max-tokens and --threads must be at least 1, --temperature at least 0")
        }
    }

    func run() throws {
        Runtime.setThreads(threads)
        let (lm, tokenizer) = try model.load(seed: seed)
        let judge = try settings.make(model: lm, tokenizer: tokenizer)
        judge.options = SamplingOptions(temperature: temperature, maxNewTokens: maxTokens, seed: seed)
        if let pairs {
            let rows = try JSONLines.read(PreferenceExample.self, from: pairs)
            guard !rows.isEmpty else { throw ValidationError("\(pairs): no rows") }
            let r = try judge.accuracy(on: rows)
            if json {
                try printJSONObject(["accuracy": Double(r.accuracy), "parse_failure_rate": Double(r.parseFailures), "pairs": rows.count])
            } else {
                print(String(format: "accuracy %.4f, parse failures %.4f on %d pairs (%@)", r.accuracy, r.parseFailures, rows.count, pairs))
            }
            return
        }
        let question = question!
        if let response1, let response2 {
            let j = try judge.judge([Comparison(question: question, image: image, response1: response1, response2: response2)])[0]
            if json {
                try printJSONObject(["scores": scoresJSON(j.verdict), "status": statusName(j.verdict), "text": j.text, "truncated": j.truncated])
            } else {
                let scores = j.verdict.scores.map { "\($0.0), \($0.1)" } ?? "none"
                print("scores: \(scores) (\(statusName(j.verdict))\(j.truncated ? ", truncated" : ""))")
                print(j.text)
            }
            return
        }
        let complete = response.indices.map { !incomplete.contains($0) }
        let reward = GroupedComparisonReward(judge: judge, config: group.config)
        let result = try reward.scores(question: question, image: image, responses: response, complete: complete)
        if json {
            try printJSONObject([
                "rewards": result.rewards.map(Double.init),
                "comparisons": result.comparisons.map {
                    ["first": $0.first, "second": $0.second, "scores": scoresJSON($0.judgment.verdict),
                     "status": statusName($0.judgment.verdict), "truncated": $0.judgment.truncated, "text": $0.judgment.text] as [String: Any]
                },
            ])
        } else {
            for (i, r) in result.rewards.enumerated() {
                print(String(format: "reward %d: %.4f%@", i + 1, r, complete[i] ? "" : " (incomplete)"))
            }
            for c in result.comparisons {
                let scores = c.judgment.verdict.scores.map { "\($0.0), \($0.1)" } ?? "none"
                print("-- response \(c.first + 1) vs \(c.second + 1): \(scores) (\(statusName(c.judgment.verdict)))")
                print(c.judgment.text)
            }
        }
    }
}

struct TrainGRM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-grm",
        abstract: "Train a generative reward model on {question, image?, response_1, response_2, preferred} rows: stage 1 by GRPO with the accuracy reward, or (--sft) the GRM+SFT baseline.",
        discussion: "The output is a model directory usable by `grlhf judge --model` and `grlhf rl --judge` (with the same --template).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup var lora: LoRAOptions
    @OptionGroup var settings: JudgeSettings
    @Flag(help: "Also train on every pair with its responses swapped and the label flipped.") var swapAugment = false
    @Flag(help: "Instead of GRPO: supervised targets with the dataset's scores (GRM+SFT baseline).") var sft = false
    @Option(help: "Held-out preference rows: print the judge's greedy accuracy and parse-failure rate after training.") var eval: String?
    @Option(help: "Judgments sampled per pair (G).") var groupSize = Judge.stage1Config.groupSize
    @Option(help: "Pairs per rollout batch (GRPO) or per update (--sft).") var promptsPerStep = Judge.stage1Config.promptsPerStep
    @Option(help: "Passes over each rollout batch.") var epochs = Judge.stage1Config.epochs
    @Option(help: "Updates per pass.") var miniBatches = Judge.stage1Config.miniBatches
    @Option(help: "β of the KL-to-reference loss term (0: no reference model).") var klCoef = Judge.stage1Config.klCoefficient
    @Option(help: "KL estimator: k1 or k3.") var klEstimator = Judge.stage1Config.klEstimator
    @Option(help: "ε of the clipped surrogate.") var clip = Judge.stage1Config.clip
    @Option(help: "Tokens per judgment at most (also the --eval judgments').") var maxNewTokens = Judge.stage1Config.sampling.maxNewTokens
    @Option(help: "Sampling temperature of the rollouts.") var temperature = Judge.stage1Config.sampling.temperature
    @Flag(help: "Leave judgments that hit --max-new-tokens out of the loss.") var maskTruncated = false

    func run() throws {
        let keys = sft ? ["loss", "mean_token_accuracy"] : ["reward", "loss", "kl", "judge/parse_failure_rate", "completion_length"]
        let session = try TrainingSession("train-grm", training, lora, keys: keys,
                                          plot: sft ? ("loss.png", ["loss"]) : ("reward.png", ["reward"]))
        let pairs = try session.rows(PreferenceExample.self)
        let heldOut = try eval.map { try JSONLines.read(PreferenceExample.self, from: $0) }
        let (lm, tokenizer) = try model.load(seed: training.seed)
        let adapter = try lora.attach(to: lm, seed: training.seed, base: model.model)
        let judge = try settings.make(model: lm, tokenizer: tokenizer)
        let trainer: Trainer
        if sft {
            var c = SFTConfig()
            c.steps = training.steps; c.batchSize = promptsPerStep
            c.optimizer = training.optimizer(c.optimizer); c.seed = training.seed
            trainer = try SFTTrainer(model: lm, encoder: judge.encoder, examples: judge.sftExamples(pairs), config: c)
        } else {
            var c = Judge.stage1Config
            c.steps = training.steps; c.promptsPerStep = promptsPerStep; c.groupSize = groupSize
            c.epochs = epochs; c.miniBatches = miniBatches; c.clip = clip
            c.klCoefficient = klCoef; c.klEstimator = klEstimator; c.maskTruncated = maskTruncated
            c.sampling = SamplingOptions(temperature: temperature, maxNewTokens: maxNewTokens)
            c.optimizer = training.optimizer(c.optimizer); c.seed = training.seed
            trainer = try judge.trainer(pairs: pairs, swapAugment: swapAugment, config: c)
        }
        try session.run(trainer) {
            var lines: [String] = []
            if let heldOut, let path = eval {
                judge.options = SamplingOptions(temperature: 0, maxNewTokens: maxNewTokens)
                let r = try judge.accuracy(on: heldOut)
                lines.append(String(format: "held-out accuracy %.4f, parse failures %.4f on %d pairs (%@)",
                                    r.accuracy, r.parseFailures, heldOut.count, path))
            }
            return try lines + session.writeModel(adapter, tokenizer: tokenizer, save: lm.save)
        }
    }
}

/// Time per scored group of grouped comparison on a random model of a GenerationBenchmark
/// shape: n responses of about `responseTokens` tokens, judged greedily for `judgeTokens` new
/// tokens each (a random model rarely ends its turn early; `truncated` reports the fraction
/// that ran the full length), both orders and one order.
enum JudgeBenchmark {
    struct Result: Codable {
        var impl = "grlhf"
        var model: String
        var threads: Int
        var n: Int
        var bothOrders: Bool
        var judgeCalls: Int
        var msPerGroup: Double
        var msPerCall: Double
        var promptTokens: Int
        var responseTokens: Int
        var judgeTokens: Int
        var truncated: Double

        enum CodingKeys: String, CodingKey {
            case impl, model, threads, n, truncated
            case bothOrders = "both_orders", judgeCalls = "judge_calls", msPerGroup = "ms_per_group", msPerCall = "ms_per_call"
            case promptTokens = "prompt_tokens", responseTokens = "response_tokens", judgeTokens = "judge_tokens"
        }
    }

    static func run(shape: String, threads: Int, sizes: [Int] = [3, 5, 7], responseTokens: Int = 32, judgeTokens: Int = 32,
                    repeats: Int = 2) throws -> [Result] {
        guard let config = GenerationBenchmark.shapes[shape] else {
            throw ValidationError("unknown shape \(shape); known: \(GenerationBenchmark.shapes.keys.sorted().joined(separator: ", "))")
        }
        Runtime.setThreads(threads)
        let words = "the a red blue green circle square answer shows picture image because color shape left right top bottom small large two three one object background light dark".split(separator: " ").map(String.init)
        let paper = JudgeTemplate.paper
        let tokenizer = BPETrainer.train(corpus: [paper.instruction, paper.body, words.joined(separator: " ")],
                                         vocabSize: min(1024, config.vocabSize), specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        let model = try DecoderLM(config, seed: 1)
        let judge = try Judge(model: model, tokenizer: tokenizer)
        judge.options = SamplingOptions(temperature: 0, maxNewTokens: judgeTokens)
        var rng = PCG32(seed: 3)
        func response() -> String {
            let text = (0..<(responseTokens * 2)).map { _ in words[Int(rng.nextUInt32() % UInt32(words.count))] }.joined(separator: " ")
            return tokenizer.decode(Array(tokenizer.encode(text).prefix(responseTokens)), skipSpecialTokens: true)
        }
        let question = "What is shown in the picture, and what color is the largest object?"
        var results: [Result] = []
        for n in sizes {
            let responses = (0..<n).map { _ in response() }
            let promptTokens = try judge.prompt(Comparison(question: question, response1: responses[0], response2: responses[1])).ids.count
            for both in [true, false] {
                var c = GroupedComparisonConfig()
                c.bothOrders = both
                let reward = GroupedComparisonReward(judge: judge, config: c)
                var best = Double.infinity, truncated = 0.0, calls = 0
                for _ in 0..<repeats {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    let r = try reward.scores(question: question, image: nil, responses: responses)
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                    calls = r.comparisons.count
                    truncated = Double(r.comparisons.filter { $0.judgment.truncated }.count) / Double(max(calls, 1))
                }
                results.append(Result(model: shape, threads: threads, n: n, bothOrders: both, judgeCalls: calls, msPerGroup: best,
                                      msPerCall: best / Double(max(calls, 1)), promptTokens: promptTokens,
                                      responseTokens: responseTokens, judgeTokens: judgeTokens, truncated: truncated))
            }
        }
        return results
    }
}
