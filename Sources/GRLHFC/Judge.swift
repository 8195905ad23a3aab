import Foundation
import GRLHF

// grlhf_judge (the generative reward model: compare two responses, score a group by grouped
// comparison, accuracy on preference pairs, a stage-1 GRPO trainer), grlhf_comparisons (a
// group's judgments) and grlhf_reward_from_judge (grouped comparison as a GRPO/PPO reward).
// Every judging call is checked here first: the prompts render (images load), and the batch's
// prefill and KV cache fit the tensor limit, which the engine would otherwise trap on.

/// A judge handle: the engine's judge, a lock that makes one handle's calls run one at a time
/// (also those made by trainers through a reward), and the last comparison, so the two-call
/// pattern of grlhf_judge_compare judges once.
final class JudgeBox {
    let judge: Judge
    private let lock = NSLock()
    private var last: (comparison: Comparison, judgment: Judgment)?

    init(_ judge: Judge) { self.judge = judge }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Judges `comparisons` in one batch after checking that they fit. Takes the lock.
    func judge(_ comparisons: [Comparison]) throws -> [Judgment] {
        try locked {
            guard !comparisons.isEmpty else { return [] }
            try check(comparisons)
            try Runtime.requireBLAS()
            return try judge.judge(comparisons)
        }
    }

    /// One comparison, from the cache when it is the last one judged (the outputs depend only
    /// on the comparison and the handle's fixed settings, so the cache is invisible).
    func compare(_ c: Comparison) throws -> Judgment {
        if let last = locked({ last }), last.comparison == c { return last.judgment }
        let j = try judge([c])[0]
        locked { last = (c, j) }
        return j
    }

    /// Refuses a batch the engine cannot allocate: the longest prompt's prefill (all
    /// comparisons' rows, the shared prefix counted in each, which over-estimates) and the KV
    /// cache of every sequence over the longest prompt plus max_new_tokens.
    func check(_ comparisons: [Comparison]) throws {
        let model = judge.model
        let prompts = try comparisons.map { try judge.prompt($0).ids }
        let prompt = longest(prompts.map { TokenSequence(prompt: $0, completion: []) }, model)
        let time = prompt + judge.options.maxNewTokens
        guard time <= Int(maxSequenceTokens) else {
            throw Failure.invalidArgument("a judge prompt of \(prompt) positions plus \(judge.options.maxNewTokens) new tokens is above \(maxSequenceTokens)")
        }
        try checkBatchForward(model, rows: comparisons.count, time: prompt, images: 1)
        let c = model.language.config
        let cache = saturatingProduct([2, c.numHiddenLayers, c.numKeyValueHeads, c.headDim, comparisons.count, time])
        guard cache <= Tensor.maxBytes / 4 else {
            throw Failure(.outOfMemory, "\(comparisons.count) judgments × \(time) positions need a KV cache above the tensor limit")
        }
    }
}

/// The judge as grouped comparison sees it: every batch checked and run under the handle's lock.
final class CheckedJudge: PairwiseJudge {
    let box: JudgeBox
    init(_ box: JudgeBox) { self.box = box }
    func judge(_ comparisons: [Comparison]) throws -> [Judgment] { try box.judge(comparisons) }
}

func judgeBox(_ handle: OpaquePointer?) throws -> JudgeBox {
    try Handles.resolve(handle, .judge, as: JudgeBox.self)
}

/// GRLHF_PARSE_* of a verdict (include/grlhf.h).
func parseStatus(_ verdict: JudgeVerdict) -> Int32 {
    switch verdict {
    case .scores: return 0
    case .failed(.noBox): return 1
    case .failed(.unclosedBox): return 2
    case .failed(.notANumber): return 3
    case .failed(.wrongCount): return 4
    }
}

/// An optional UTF-8 string argument (NULL allowed).
func optionalString(_ pointer: UnsafePointer<CChar>?, _ what: String) throws -> String? {
    try pointer.map { try utf8String($0, what) }
}

// MARK: - Params

struct JudgeParams: CParams {
    static let cName = "grlhf_judge_params"
    var templateBits: UInt = 0
    var principlesBits: UInt = 0
    var maxNewTokens = 256
    var temperature: Float = 0
    var seed: UInt64 = 0

    mutating func walk(_ f: inout CFields) throws {
        f.raw(&templateBits)
        f.raw(&principlesBits)
        f.int64(&maxNewTokens)
        f.float(&temperature)
        f.uint64(&seed)
    }

    func validated() throws -> (template: JudgeTemplate, principles: String?, options: SamplingOptions) {
        try checkRange(maxNewTokens, 1...Int(maxNewTokensLimit), "max_new_tokens")
        try checkFloat(temperature, "temperature")
        let path = try optionalString(UnsafePointer(bitPattern: templateBits), "template_path")
        let principles = try optionalString(UnsafePointer(bitPattern: principlesBits), "principles")
        let template = try path.map { try JudgeTemplate.load(contentsOf: $0) } ?? .paper
        return (template, principles, SamplingOptions(temperature: temperature, maxNewTokens: maxNewTokens, seed: seed))
    }
}

struct GroupParams: CParams {
    static let cName = "grlhf_group_params"
    var config = GroupedComparisonConfig()

    mutating func walk(_ f: inout CFields) throws {
        f.flag(&config.bothOrders)
        try f.enumeration(&config.parseFailure, [.drop, .neutral], "parse_failure")
        try f.enumeration(&config.aggregator, [.mean, .borda, .instantRunoff, .rankedPairs, .spectral], "aggregator")
        f.float(&config.loneResponseReward)
        f.float(&config.incompleteReward)
    }

    func validated() throws -> GroupedComparisonConfig {
        for (value, what) in [(config.loneResponseReward, "lone_response_reward"), (config.incompleteReward, "incomplete_reward")]
        where !value.isFinite {
            throw Failure.invalidArgument("\(what) \(value) is not finite")
        }
        return config
    }
}

@_cdecl("grlhf_judge_params_default")
public func grlhf_judge_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry { try JudgeParams.storeDefaults(out) }
}

@_cdecl("grlhf_group_params_default")
public func grlhf_group_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry { try GroupParams.storeDefaults(out) }
}

// MARK: - Judges

@_cdecl("grlhf_judge_create")
public func grlhf_judge_create(_ modelHandle: OpaquePointer?, _ tokenizerHandle: OpaquePointer?, _ params: UnsafeRawPointer?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let model = try modelBox(modelHandle).model
        let tokenizer = try tokenizerObject(tokenizerHandle)
        let p = try JudgeParams.load(params).validated()
        let judge = try Judge(model: model, tokenizer: tokenizer, template: p.template, principles: p.principles)
        judge.options = p.options
        return Handles.register(JudgeBox(judge), as: .judge)
    }
}

@_cdecl("grlhf_judge_free")
public func grlhf_judge_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .judge)
}

@_cdecl("grlhf_judge_compare")
public func grlhf_judge_compare(_ handle: OpaquePointer?, _ image: UnsafePointer<CChar>?, _ question: UnsafePointer<CChar>?,
                                _ response1: UnsafePointer<CChar>?, _ response2: UnsafePointer<CChar>?,
                                _ score1: UnsafeMutablePointer<Float>?, _ score2: UnsafeMutablePointer<Float>?,
                                _ status: UnsafeMutablePointer<Int32>?, _ buf: UnsafeMutablePointer<CChar>?,
                                _ capacity: Int64, _ length: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        score1?.pointee = .nan; score2?.pointee = .nan; status?.pointee = -1; length?.pointee = 0
        let box = try judgeBox(handle)
        let c = Comparison(question: try utf8String(question, "question"), image: try optionalString(image, "image_path"),
                           response1: try utf8String(response1, "response_1"), response2: try utf8String(response2, "response_2"))
        let (s1, s2, st) = (try required(score1, "score_1"), try required(score2, "score_2"), try required(status, "parse_status"))
        _ = try required(length, "text_len")
        guard capacity >= 0 else { throw Failure.invalidArgument("capacity \(capacity) is negative") }
        if buf == nil && capacity != 0 { throw Failure.invalidArgument("text_buf is NULL but capacity is \(capacity)") }
        let j = try box.compare(c)
        try writeString(j.text, buf, capacity, length)
        (s1.pointee, s2.pointee) = j.verdict.scores ?? (.nan, .nan)
        st.pointee = parseStatus(j.verdict)
    }
}

/// A group's comparisons lent to C: indices, scores, parse status, truncation and text.
final class ComparisonsBox {
    struct Entry {
        var first: Int64, second: Int64, score1: Float, score2: Float, status: Int32, truncated: Int32
        var text: UnsafeMutablePointer<CChar>
    }
    let entries: [Entry]

    init(_ comparisons: [(first: Int, second: Int, judgment: Judgment)]) {
        entries = comparisons.map { c in
            let (s1, s2) = c.judgment.verdict.scores ?? (.nan, .nan)
            // strdup fails only without memory; an empty text is the least harmful stand-in.
            return Entry(first: Int64(c.first), second: Int64(c.second), score1: s1, score2: s2,
                         status: parseStatus(c.judgment.verdict), truncated: c.judgment.truncated ? 1 : 0,
                         text: strdup(c.judgment.text) ?? strdup("")!)
        }
    }

    deinit { for e in entries { free(e.text) } }
}

@_cdecl("grlhf_judge_score_group")
public func grlhf_judge_score_group(_ handle: OpaquePointer?, _ image: UnsafePointer<CChar>?, _ question: UnsafePointer<CChar>?,
                                    _ responses: UnsafePointer<UnsafePointer<CChar>?>?, _ complete: UnsafePointer<UInt8>?,
                                    _ n: Int64, _ params: UnsafeRawPointer?, _ rewards: UnsafeMutablePointer<Float>?,
                                    _ diagnostics: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry {
        diagnostics?.pointee = nil
        let box = try judgeBox(handle)
        let question = try utf8String(question, "question")
        let image = try optionalString(image, "image_path")
        guard n >= 0, n <= maxGroup else { throw Failure.invalidArgument("n \(n) is outside 0...\(maxGroup)") }
        let config = try GroupParams.load(params).validated()
        var texts: [String] = [], flags: [Bool] = []
        if n > 0 {
            let r = try required(responses, "responses")
            _ = try required(rewards, "rewards_out")
            for i in 0..<Int(n) {
                texts.append(try utf8String(r[i], "responses[\(i)]"))
                flags.append(complete.map { $0[i] != 0 } ?? true)
            }
        }
        if let image, flags.filter({ $0 }).count < 2 {
            // No comparison will run; still refuse what a comparison would refuse.
            _ = try box.judge.encoder.prompt("", image: image)
        }
        let reward = GroupedComparisonReward(judge: CheckedJudge(box), config: config)
        let result = try reward.scores(question: question, image: image, responses: texts, complete: flags)
        if let rewards { for (i, r) in result.rewards.enumerated() { rewards[i] = r } }
        if let diagnostics { diagnostics.pointee = Handles.register(ComparisonsBox(result.comparisons), as: .comparisons) }
    }
}

func comparisonsBox(_ handle: OpaquePointer?) throws -> ComparisonsBox {
    try Handles.resolve(handle, .comparisons, as: ComparisonsBox.self)
}

@_cdecl("grlhf_comparisons_count")
public func grlhf_comparisons_count(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry(out: out, empty: 0) { Int64(try comparisonsBox(handle).entries.count) }
}

@_cdecl("grlhf_comparisons_get")
public func grlhf_comparisons_get(_ handle: OpaquePointer?, _ index: Int64, _ first: UnsafeMutablePointer<Int64>?,
                                  _ second: UnsafeMutablePointer<Int64>?, _ score1: UnsafeMutablePointer<Float>?,
                                  _ score2: UnsafeMutablePointer<Float>?, _ status: UnsafeMutablePointer<Int32>?,
                                  _ truncated: UnsafeMutablePointer<Int32>?, _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    entry {
        first?.pointee = -1; second?.pointee = -1; score1?.pointee = .nan; score2?.pointee = .nan
        status?.pointee = -1; truncated?.pointee = 0; text?.pointee = nil
        let box = try comparisonsBox(handle)
        guard index >= 0, index < Int64(box.entries.count) else {
            throw Failure.invalidArgument("index \(index) is outside 0..<\(box.entries.count)")
        }
        let e = box.entries[Int(index)]
        first?.pointee = e.first; second?.pointee = e.second
        score1?.pointee = e.score1; score2?.pointee = e.score2
        status?.pointee = e.status; truncated?.pointee = e.truncated
        text?.pointee = UnsafePointer(e.text)
    }
}

@_cdecl("grlhf_comparisons_free")
public func grlhf_comparisons_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .comparisons)
}

@_cdecl("grlhf_reward_from_judge")
public func grlhf_reward_from_judge(_ handle: OpaquePointer?, _ params: UnsafeRawPointer?,
                                    _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let box = try judgeBox(handle)
        let config = try GroupParams.load(params).validated()
        return Handles.register(RewardBox(GroupedComparisonReward(judge: CheckedJudge(box), config: config)), as: .reward)
    }
}

@_cdecl("grlhf_judge_accuracy")
public func grlhf_judge_accuracy(_ handle: OpaquePointer?, _ pairs: UnsafePointer<CChar>?,
                                 _ accuracy: UnsafeMutablePointer<Float>?, _ parseFailures: UnsafeMutablePointer<Float>?) -> Int32 {
    entry {
        accuracy?.pointee = .nan; parseFailures?.pointee = .nan
        let box = try judgeBox(handle)
        let (a, f) = (try required(accuracy, "accuracy"), try required(parseFailures, "parse_failure_rate"))
        let rows = try readRows(pairs, "pairs_jsonl", as: PreferenceExample.self)
        let comparisons = rows.map { Comparison(question: $0.question, image: $0.image, response1: $0.response1, response2: $0.response2) }
        // Judge.accuracy judges 16 pairs at a time; check every such batch before any runs.
        for start in stride(from: 0, to: comparisons.count, by: 16) {
            try box.locked { try box.check(Array(comparisons[start..<Swift.min(start + 16, comparisons.count)])) }
        }
        try Runtime.requireBLAS()
        let result = try box.locked { try box.judge.accuracy(on: rows, batchSize: 16) }
        (a.pointee, f.pointee) = (result.accuracy, result.parseFailures)
    }
}

@_cdecl("grlhf_judge_trainer_create")
public func grlhf_judge_trainer_create(_ handle: OpaquePointer?, _ pairs: UnsafePointer<CChar>?, _ swapAugment: Int32,
                                       _ params: UnsafeRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let box = try judgeBox(handle)
        let judge = box.judge
        var p = GRPOParams()
        if params == nil { p.config = Judge.stage1Config } else { p = try GRPOParams.load(params) }
        let config = try p.validated(vocab: judge.model.vocabSize)
        let rows = try readRows(pairs, "pairs_jsonl", as: PreferenceExample.self)
        try checkTrainable(judge.model, "the judge's model")
        let prompts = judge.trainingPrompts(rows, swapAugment: swapAugment != 0)
        let rollouts = config.promptsPerStep * config.groupSize
        try checkRollouts(prompts, encoder: judge.encoder, policy: judge.model, reward: JudgeAccuracyReward(),
                          completions: config.groupSize, maxNewTokens: config.sampling.maxNewTokens,
                          rowsPerUpdate: (rollouts + config.miniBatches - 1) / config.miniBatches, models: [judge.model])
        try Runtime.requireBLAS()
        return register(try judge.trainer(pairs: rows, swapAugment: swapAugment != 0, config: config), "judge grpo")
    }
}
