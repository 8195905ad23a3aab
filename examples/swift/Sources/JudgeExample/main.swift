// Generative RLHF-V's judge from Swift in a few seconds: a tokenizer and a tiny model made here,
// the judge taught to score answers by supervised fine-tuning on its own prompts (the paper's
// GRM+SFT), then a group of answers scored by grouped comparison (stage 2's reward).
// Exits with 1 when the judge's ranking is not the one it was taught.
import Foundation
import GRLHF

let question = "What color is the sky?"
let quality: [(answer: String, score: Float)] = [("blue", 9), ("grey", 6), ("green", 3), ("red", 1)]

// Preference pairs with per-answer scores: every ordered pair of different answers.
var pairs: [PreferenceExample] = []
for a in quality {
    for b in quality where a.answer != b.answer {
        pairs.append(PreferenceExample(question: question, response1: a.answer, response2: b.answer,
                                       preferred: a.score > b.score ? 1 : 2, score1: a.score, score2: b.score))
    }
}

// A judge template short enough for a tiny model, and a byte-level BPE tokenizer trained on
// what it will read and write (ChatML's special tokens included).
let template = JudgeTemplate(instruction: "Score.", body: "{question}\n1: {response_1}\n2: {response_2}")
let corpus = quality.map(\.answer) + [question, template.instruction] + (1...10).map { "Scores: \\boxed{\($0), \(11 - $0)}" }
let tokenizer = BPETrainer.train(corpus: corpus, vocabSize: 320, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])

do {
    let model = try DecoderLM(DecoderLM.Config(vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64,
                                               numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                                               maxPositionEmbeddings: 256, tieWordEmbeddings: true), seed: 7)
    let judge = try Judge(model: model, tokenizer: tokenizer, template: template)
    judge.options = SamplingOptions(temperature: 0, maxNewTokens: 24)

    // GRM+SFT: the judge's prompts for every pair, answered with the pair's scores on 1..10.
    var config = SFTConfig()
    config.steps = 150
    config.batchSize = 12
    config.optimizer = OptimizerConfig(learningRate: 1e-2, weightDecay: 0, warmupRatio: 0, schedule: .constant)
    let rows = judge.sftExamples(pairs, format: "Scores: \\boxed{{scores}}")
    let trainer = try SFTTrainer(model: judge.model, encoder: judge.encoder, examples: rows, config: config)
    try trainer.train()
    let losses = trainer.history.compactMap { $0["loss"] }
    print(String(format: "judge SFT: %d steps, loss %.3f -> %.4f", losses.count, losses.first ?? .nan, losses.last ?? .nan))
    let (accuracy, parseFailures) = try judge.accuracy(on: pairs)
    print(String(format: "pairwise accuracy %.2f, parse failures %.2f", accuracy, parseFailures))

    // Stage 2: a group of answers scored by grouped comparison (every pair, both orders).
    let reward = GroupedComparisonReward(judge: judge)
    let responses = ["red", "blue", "green", "grey"]
    let (rewards, comparisons) = try reward.scores(question: question, image: nil, responses: responses)
    for (answer, r) in zip(responses, rewards) { print("  \(answer.padding(toLength: 6, withPad: " ", startingAt: 0)) \(r)") }
    print("\(comparisons.count) judgments, e.g. \"\(comparisons[0].judgment.text)\"")

    let ranking = responses.indices.sorted { rewards[$0] > rewards[$1] }.map { responses[$0] }
    guard ranking == quality.map(\.answer) else {
        print("FAIL: the judge ranks \(ranking), it was taught \(quality.map(\.answer))")
        exit(1)
    }
    print("ok: the judge ranks the group as it was taught")
} catch {
    print("error: \(GRLHFError(error))")
    exit(1)
}
