import Foundation

/// How tokens are drawn. Temperature 0 is greedy; top-k 0 and top-p 1 keep every token.
public struct SamplingOptions: Codable, Equatable, Sendable {
    public var temperature: Float = 1
    public var topK = 0
    public var topP: Float = 1
    public var maxNewTokens = 64
    /// Sampling one of these ends the sequence (the token is kept in the output).
    public var stopTokens: Set<Int32> = []
    /// Sequence i of a group draws from PCG32(seed, stream: i): reproducible, and independent of
    /// the group size.
    public var seed: UInt64 = 0

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, maxNewTokens: Int = 64,
                stopTokens: Set<Int32> = [], seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP
        self.maxNewTokens = maxNewTokens; self.stopTokens = stopTokens; self.seed = seed
    }
}

public enum FinishReason: String, Codable, Sendable {
    /// A stop token was sampled.
    case stop
    /// `maxNewTokens` were generated.
    case length
}

/// One generated continuation.
public struct GeneratedSequence: Equatable, Sendable {
    public var tokens: [Int32]
    /// log π(token | prefix) for each generated token under the model's own distribution:
    /// log-softmax of the raw logits (temperature 1, before top-k/top-p truncation), which is
    /// what a training forward over prompt + tokens recomputes (GRPO/PPO's π_old).
    public var logProbs: [Float]
    public var finishReason: FinishReason
}

enum Sampler {
    /// Draws a token from one row of logits, never `banned` (an image placeholder, which only
    /// the prompt may hold).
    static func sample(_ logits: UnsafePointer<Float>, vocab: Int, options o: SamplingOptions, banned: Int32? = nil,
                       rng: inout PCG32) -> Int32 {
        let skip = banned.map(Int.init) ?? -1
        if o.temperature <= 0 || o.topK == 1 {
            var best = skip == 0 ? 1 : 0
            for i in 1..<vocab where i != skip && logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        // Candidates sorted by logit when truncating; plain order otherwise.
        var ids = Array(0..<vocab)
        if skip >= 0 { ids.remove(at: skip) }
        if o.topK > 0 || o.topP < 1 { ids.sort { logits[$0] > logits[$1] } }
        if o.topK > 0 && o.topK < vocab { ids.removeSubrange(o.topK...) }
        let m = ids.map { logits[$0] }.max()!
        var p = ids.map { Double(Foundation.exp((logits[$0] - m) / o.temperature)) }
        var total = p.reduce(0, +)
        if o.topP < 1 {  // the smallest prefix whose mass reaches topP
            var mass = 0.0, keep = p.count
            for (i, q) in p.enumerated() {
                mass += q / total
                if mass >= Double(o.topP) { keep = i + 1; break }
            }
            ids.removeSubrange(keep...); p.removeSubrange(keep...)
            total = p.reduce(0, +)
        }
        var u = Double(rng.nextFloat()) * total
        for (i, q) in zip(ids, p) {
            u -= q
            if u < 0 { return Int32(i) }
        }
        return Int32(ids[ids.count - 1])
    }
}

extension CausalLM {
    /// Samples `count` continuations of one prompt (ids with one placeholder per image, and the
    /// images [I, C, S, S]). The prompt is prefilled once; its cache is copied to every member of
    /// the group, which then decode together, one batched forward per token. Image placeholders
    /// are never sampled (a completion is text). Members that stop
    /// early ride along until the last one finishes.
    public func sampleGroup(prompt: [Int32], images: Tensor? = nil, count: Int, options o: SamplingOptions) -> [GeneratedSequence] {
        require(!prompt.isEmpty && count > 0 && o.maxNewTokens >= 0, "sampleGroup: empty prompt or group")
        require(prompt.allSatisfy { $0 >= 0 && Int($0) < vocabSize }, "sampleGroup: token outside the vocabulary")
        let v = vocabSize, lm = language, ids = expandImageTokens(prompt)
        return withNoGrad {
            // Prefill: only the last position's logits are needed.
            let prefill = lm.makeCache(batch: 1, capacity: ids.count)
            let hidden = lm.hiddenStates(inputEmbeddings(ids, batch: 1, time: ids.count, images: images), cache: prefill)
            prefill.length = ids.count
            let promptLogits = lm.logits(hidden.slice(axis: 1, (ids.count - 1)..<ids.count))      // [1, 1, V]
            let cache = prefill.repeated(count, capacity: ids.count + max(o.maxNewTokens, 1))
            var rngs = (0..<count).map { PCG32(seed: o.seed, stream: UInt64($0)) }
            var out = (0..<count).map { _ in GeneratedSequence(tokens: [], logProbs: [], finishReason: .length) }
            var done = [Bool](repeating: false, count: count)
            // Next-token logits of row i: the prompt's last position for everyone at first, then
            // row i of each decode step.
            var logits = promptLogits
            var row = { (_: Int) in logits.data }
            for step in 0..<o.maxNewTokens {
                var next = [Int32](repeating: 0, count: count)
                for i in 0..<count {
                    if done[i] { next[i] = out[i].tokens.last ?? 0; continue }
                    let r = row(i)
                    let token = Sampler.sample(r, vocab: v, options: o, banned: imageTokenId, rng: &rngs[i])
                    next[i] = token
                    out[i].tokens.append(token)
                    out[i].logProbs.append(r[Int(token)] - Kernels.logSumExp(r, v))
                    if o.stopTokens.contains(token) { done[i] = true; out[i].finishReason = .stop }
                }
                if step + 1 == o.maxNewTokens || !done.contains(false) { break }
                logits = lm(next, cache: cache)                                               // [G, 1, V]
                row = { i in logits.data + i * v }
            }
            return out
        }
    }

    /// One continuation of `prompt` (a group of one).
    public func generate(prompt: [Int32], images: Tensor? = nil, options: SamplingOptions) -> GeneratedSequence {
        sampleGroup(prompt: prompt, images: images, count: 1, options: options)[0]
    }
}
