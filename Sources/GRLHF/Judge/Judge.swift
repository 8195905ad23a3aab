import Foundation

/// One comparison for a judge: a question (with an image) and two responses, shown in order.
public struct Comparison: Equatable, Sendable {
    public var question: String
    public var image: String?
    public var response1: String
    public var response2: String

    public init(question: String, image: String? = nil, response1: String, response2: String) {
        self.question = question; self.image = image; self.response1 = response1; self.response2 = response2
    }
}

/// A judge's answer: its text (criteria, analysis, scores) and what the parser read from it.
public struct Judgment: Equatable, Sendable {
    public var text: String
    public var verdict: JudgeVerdict
    /// The judge hit its token limit before ending its turn.
    public var truncated: Bool
}

/// Anything that judges comparisons in batches: the generative judge, or a test's mock.
public protocol PairwiseJudge: AnyObject {
    func judge(_ comparisons: [Comparison]) throws -> [Judgment]
}

/// The generative reward model: a causal LM prompted with `template` that writes criteria, an
/// analysis and `\boxed{s1, s2}`. All comparisons of one call decode in one batch, and those
/// that share their beginning (the same question and image) prefill it once.
public final class Judge: PairwiseJudge {
    public let model: any CausalLM
    public let encoder: ChatEncoder
    public var template: JudgeTemplate
    /// Appended as a hint when set (the paper's "with principles" variant; off by default).
    public var principles: String?
    /// Greedy by default, as the paper's evaluation; stop tokens get the end of turn added.
    public var options = SamplingOptions(temperature: 0, maxNewTokens: 256)

    public init(model: any CausalLM, tokenizer: Tokenizer, template: JudgeTemplate = .paper, principles: String? = nil) throws {
        self.model = model
        encoder = try ChatEncoder(tokenizer: tokenizer, model: model)
        self.template = template
        self.principles = principles
    }

    /// The (system, user) turns of a comparison: responses and question cleared of image
    /// placeholders, the image's placeholder at the template's `{image}` slot.
    public func messages(_ c: Comparison) -> (system: String?, user: String) {
        let placeholder = c.image == nil ? "" : encoder.placeholderText ?? ""
        return template.render(question: encoder.withoutPlaceholder(c.question), image: placeholder,
                               response1: encoder.withoutPlaceholder(c.response1), response2: encoder.withoutPlaceholder(c.response2),
                               principles: principles)
    }

    /// Prompt ids and pixels of a comparison.
    public func prompt(_ c: Comparison) throws -> (ids: [Int32], images: Tensor?) {
        let m = messages(c)
        return try encoder.prompt(m.user, image: c.image, system: m.system)
    }

    public func judge(_ comparisons: [Comparison]) throws -> [Judgment] {
        try judge(comparisons, count: 1).map { $0[0] }
    }

    /// `count` judgments of each comparison (stage-1 rollouts), decoded in one batch.
    public func judge(_ comparisons: [Comparison], count: Int, options: SamplingOptions? = nil) throws -> [[Judgment]] {
        guard !comparisons.isEmpty else { return [] }
        var o = options ?? self.options
        o.stopTokens.insert(encoder.endOfTurn)
        let prompts = try comparisons.map { try prompt($0) }
        let groups = model.sample(prompts: prompts.map(\.ids), images: prompts.map(\.images), count: count, options: o)
        return groups.map { group in
            group.map { s in
                let text = encoder.text(s.tokens)
                return Judgment(text: text, verdict: JudgeVerdict(parsing: text), truncated: s.finishReason == .length)
            }
        }
    }

    /// The greedy verdict on each preference pair, decoded `batchSize` pairs at a time.
    public func verdicts(on pairs: [PreferenceExample], batchSize: Int = 16) throws -> [JudgeVerdict] {
        var verdicts: [JudgeVerdict] = []
        for start in stride(from: 0, to: pairs.count, by: batchSize) {
            let chunk = pairs[start..<Swift.min(start + batchSize, pairs.count)]
            verdicts += try judge(chunk.map { Comparison(question: $0.question, image: $0.image, response1: $0.response1, response2: $0.response2) }).map(\.verdict)
        }
        return verdicts
    }

    /// Fraction of preference pairs whose preferred response the judge scores strictly higher
    /// (the paper's accuracy reward, greedy), and the fraction of outputs that failed to parse.
    public func accuracy(on pairs: [PreferenceExample], batchSize: Int = 16) throws -> (accuracy: Float, parseFailures: Float) {
        guard !pairs.isEmpty else { return (.nan, .nan) }
        let verdicts = try self.verdicts(on: pairs, batchSize: batchSize)
        let correct = zip(pairs, verdicts).map { $1.accuracy(preferred: $0.preferred) }.reduce(0, +)
        let failed = verdicts.filter { $0.scores == nil }.count
        return (correct / Float(pairs.count), Float(failed) / Float(pairs.count))
    }
}
