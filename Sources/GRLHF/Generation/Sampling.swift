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
    /// are never sampled (a completion is text). Members that stop early ride along until the
    /// last one finishes. Member i draws from PCG32(seed, stream: i).
    public func sampleGroup(prompt: [Int32], images: Tensor? = nil, count: Int, options o: SamplingOptions) -> [GeneratedSequence] {
        require(!prompt.isEmpty, "sampleGroup: empty prompt")
        return sampleBatch(prefix: prompt, prefixImages: images, suffixes: [[]], count: count, options: o)[0]
    }

    /// One continuation of `prompt` (a group of one).
    public func generate(prompt: [Int32], images: Tensor? = nil, options: SamplingOptions) -> GeneratedSequence {
        sampleGroup(prompt: prompt, images: images, count: 1, options: options)[0]
    }

    /// Samples `count` continuations of each of several prompts (each with its images or nil) in
    /// one batch, prefilling their longest common prefix once. The prefix may hold image
    /// placeholders when every prompt passes the same image tensor (one question about one image,
    /// judged over many response pairs) and all placeholders fall inside it; otherwise it stops
    /// at the first placeholder. Row r = i·count + j draws from PCG32(seed, stream: r).
    public func sample(prompts: [[Int32]], images: [Tensor?], count: Int, options: SamplingOptions) -> [[GeneratedSequence]] {
        require(!prompts.isEmpty && images.count == prompts.count, "sample: \(prompts.count) prompts, \(images.count) image entries")
        var shared = prompts[0].count
        for p in prompts.dropFirst() { shared = Swift.min(shared, zip(p, prompts[0]).prefix { $0 == $1 }.count) }
        shared = Swift.min(shared, prompts.map(\.count).min()! - 1)  // every prompt keeps a token to predict from
        let image = imageTokenId
        let placeholders = { (ids: ArraySlice<Int32>) in ids.filter { $0 == image }.count }
        let sameImage = images[0] != nil && images.allSatisfy { $0 === images[0] }
            && prompts.allSatisfy { placeholders($0[...]) == placeholders(prompts[0][0..<shared]) }
        if sameImage {
            return sampleBatch(prefix: Array(prompts[0][0..<shared]), prefixImages: images[0],
                               suffixes: prompts.map { Array($0[shared...]) }, count: count, options: options)
        }
        shared = Swift.min(shared, prompts[0].firstIndex { $0 == image } ?? shared)
        let present = images.compactMap { $0 }
        return sampleBatch(prefix: Array(prompts[0][0..<shared]), suffixes: prompts.map { Array($0[shared...]) },
                           suffixImages: present.isEmpty ? nil : present.count == 1 ? present[0] : Tensor.concat(present, axis: 0),
                           count: count, options: options)
    }

    /// Samples `count` continuations of each prompt `prefix + suffixes[i]`, all decoding in one
    /// batch: how a judge scores every pair of a group (the shared prefix holds the instruction,
    /// the image and the question; each suffix a pair of responses). The prefix is prefilled
    /// once and copied to every row; the suffixes then extend their copies in one right-padded
    /// forward; rows of different lengths decode together. Row r = i·count + j (prompt i,
    /// continuation j) draws from PCG32(seed, stream: r). Images of the suffixes, in order, are
    /// `suffixImages`. Returns the continuations per prompt.
    public func sampleBatch(prefix: [Int32], prefixImages: Tensor? = nil, suffixes: [[Int32]], suffixImages: Tensor? = nil,
                            count: Int, options o: SamplingOptions) -> [[GeneratedSequence]] {
        let head = expandImageTokens(prefix), tails = suffixes.map { expandImageTokens($0) }
        require(!tails.isEmpty && count > 0 && o.maxNewTokens >= 0, "sampleBatch: no prompts, or an empty group")
        require(tails.allSatisfy { !head.isEmpty || !$0.isEmpty }, "sampleBatch: an empty prompt")
        require((prefix + suffixes.joined()).allSatisfy { $0 >= 0 && Int($0) < vocabSize }, "sampleBatch: token outside the vocabulary")
        let v = vocabSize, lm = language, b = tails.count, longest = tails.map(\.count).max()!
        return withNoGrad {
            let capacity = head.count + longest + Swift.max(o.maxNewTokens, 1)
            // Prefix: prefilled once; its last position predicts the first token of rows whose suffix is empty.
            var cache = lm.makeCache(batch: 1, capacity: Swift.max(head.count, 1))
            var prefixLast: Tensor?
            if !head.isEmpty {
                let hidden = lm.hiddenStates(inputEmbeddings(head, batch: 1, time: head.count, images: prefixImages), cache: cache)
                cache.advance(by: head.count)
                prefixLast = lm.logits(hidden.slice(axis: 1, (head.count - 1)..<head.count)).reshape(1, v)
            }
            cache = head.isEmpty ? lm.makeCache(batch: b, capacity: capacity) : cache.repeated(b, capacity: capacity)
            // Suffixes: one right-padded forward; each row keeps its real length.
            var first = [Tensor?](repeating: prefixLast, count: b)
            if longest > 0 {
                var ids = [Int32](repeating: 0, count: b * longest)
                for (r, tail) in tails.enumerated() { for (t, id) in tail.enumerated() { ids[r * longest + t] = id } }
                let hidden = lm.hiddenStates(inputEmbeddings(ids, batch: b, time: longest, images: suffixImages), cache: cache)
                cache.advance(by: longest)
                cache.trim(to: tails.map { head.count + $0.count })
                let last = tails.enumerated().filter { !$0.element.isEmpty }
                let rows = Tensor.embedding(hidden.reshape(b * longest, -1), ids: last.map { Int32($0.offset * longest + $0.element.count - 1) })
                let logits = lm.logits(rows)                                                        // [rows, V]
                for (k, row) in last.enumerated() { first[row.offset] = logits.slice(axis: 0, k..<(k + 1)) }
            }
            cache = cache.repeated(count)
            return decode(cache: cache, first: first.map { $0! }, count: count, options: o).chunked(count)
        }
    }

    /// Decodes from next-token logits `first[i]` [1, V] of each prompt (its `count` rows share
    /// them) until every row stops or reaches `maxNewTokens`.
    private func decode(cache: KVCache, first: [Tensor], count: Int, options o: SamplingOptions) -> [GeneratedSequence] {
        let v = vocabSize, rows = cache.batch
        var rngs = (0..<rows).map { PCG32(seed: o.seed, stream: UInt64($0)) }
        var out = (0..<rows).map { _ in GeneratedSequence(tokens: [], logProbs: [], finishReason: .length) }
        var done = [Bool](repeating: false, count: rows)
        var logits: Tensor?  // [R, 1, V] of the last decode step; before it, each prompt's `first`
        for step in 0..<o.maxNewTokens {
            var next = [Int32](repeating: 0, count: rows)
            for r in 0..<rows {
                if done[r] { next[r] = out[r].tokens.last ?? 0; continue }
                let l = logits.map { $0.data + r * v } ?? first[r / count].data
                let token = Sampler.sample(l, vocab: v, options: o, banned: imageTokenId, rng: &rngs[r])
                next[r] = token
                out[r].tokens.append(token)
                out[r].logProbs.append(l[Int(token)] - Kernels.logSumExp(l, v))
                if o.stopTokens.contains(token) { done[r] = true; out[r].finishReason = .stop }
            }
            if step + 1 == o.maxNewTokens || !done.contains(false) { break }
            logits = language(next, cache: cache)
        }
        return out
    }
}

extension Array {
    /// Consecutive slices of `size` elements.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
