import Foundation
import Testing
@testable import GRLHF

@Suite struct Generation {
    static func model(_ family: String) throws -> (DecoderLM, prompt: [Int32], greedy: [Int32]) {
        let dir = DecoderLMParity.fixtures.appendingPathComponent(family).path
        let golden = Dictionary(uniqueKeysWithValues: try Safetensors.read(contentsOf: dir + "/expected.safetensors").map { ($0.name, $0.tensor) })
        let ids = golden["input_ids"]!
        let prompt = Array(ids.scalars[0..<ids.shape[1]]).map { Int32($0) }
        return (try DecoderLM.load(directory: dir), prompt, golden["greedy"]!.scalars.map { Int32($0) })
    }

    /// log π(token | prefix) by a training-style forward over prompt + tokens.
    func recomputedLogProbs(_ m: DecoderLM, prompt: [Int32], tokens: [Int32]) -> [Float] {
        let seq = prompt + tokens
        let logp = withNoGrad { m(seq, batch: 1, time: seq.count).logSoftmax() }
        let v = m.config.vocabSize
        return tokens.enumerated().map { j, tok in logp.data[(prompt.count - 1 + j) * v + Int(tok)] }
    }

    @Test(arguments: ["llama", "qwen2"])
    func greedyWithTheCacheMatchesTransformers(_ family: String) throws {
        let (m, prompt, greedy) = try Self.model(family)
        let out = m.generate(prompt: prompt, options: SamplingOptions(temperature: 0, maxNewTokens: greedy.count))
        #expect(out.tokens == greedy && out.finishReason == .length)
        #expect(m.generate(prompt: prompt, options: SamplingOptions(topK: 1, maxNewTokens: greedy.count, seed: 9)).tokens == greedy)
    }

    @Test func cachedLogitsEqualAFullForward() throws {
        let (m, prompt, _) = try Self.model("llama")
        let full = withNoGrad { m(prompt, batch: 1, time: prompt.count) }
        let cache = m.makeCache(batch: 1, capacity: prompt.count)
        let first = withNoGrad { m(Array(prompt[0..<5]), cache: cache) }
        var parts = first.scalars
        for t in 5..<prompt.count { parts += withNoGrad { m([prompt[t]], cache: cache) }.scalars }
        let worst = zip(parts, full.scalars).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * full.scalars.map(abs).max()!, "cached vs full logits differ by \(worst)")
    }

    @Test func groupLogProbsEqualATrainingForward() throws {
        let (m, prompt, _) = try Self.model("qwen2")
        let options = SamplingOptions(temperature: 1, topP: 0.95, maxNewTokens: 10, seed: 7)
        let group = m.sampleGroup(prompt: prompt, count: 4, options: options)
        #expect(group.count == 4 && group.allSatisfy { $0.tokens.count == 10 && $0.logProbs.count == 10 })
        #expect(Set(group.map(\.tokens)).count > 1, "a temperature-1 group should not be four identical samples")
        for g in group {
            let again = recomputedLogProbs(m, prompt: prompt, tokens: g.tokens)
            let worst = zip(g.logProbs, again).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4, "generation log-probs differ from the forward by \(worst)")
            #expect(g.logProbs.allSatisfy { $0 <= 0 && $0.isFinite })
        }
        // Reproducible per seed, and member i does not depend on the group size.
        #expect(m.sampleGroup(prompt: prompt, count: 4, options: options) == group)
        #expect(m.sampleGroup(prompt: prompt, count: 2, options: options) == Array(group[0..<2]))
    }

    @Test func stopTokensEndASequence() throws {
        let (m, prompt, greedy) = try Self.model("llama")
        let out = m.generate(prompt: prompt, options: SamplingOptions(temperature: 0, maxNewTokens: 8, stopTokens: [greedy[2]]))
        #expect(out.tokens == Array(greedy[0...2]) && out.finishReason == .stop)
    }

    /// Prompts of different lengths decoding in one batch behave as if each ran alone.
    @Test func raggedBatchesMatchSeparateRuns() throws {
        let (m, prompt, _) = try Self.model("qwen2")
        let prefix = Array(prompt[0..<4])
        let suffixes: [[Int32]] = [Array(prompt[4...]), [], [prompt[5]], Array(prompt[4..<6])]
        let greedy = SamplingOptions(temperature: 0, maxNewTokens: 7)
        let batch = m.sampleBatch(prefix: prefix, suffixes: suffixes, count: 2, options: greedy)
        // Same tokens; log-probs equal up to float rounding (other matrix shapes, other sums).
        func same(_ a: GeneratedSequence, _ b: GeneratedSequence) -> Bool {
            a.tokens == b.tokens && a.finishReason == b.finishReason && zip(a.logProbs, b.logProbs).allSatisfy { abs($0 - $1) <= 1e-5 }
        }
        for (i, suffix) in suffixes.enumerated() {
            let alone = m.generate(prompt: prefix + suffix, options: greedy)
            #expect(batch[i].count == 2 && batch[i].allSatisfy { same($0, alone) }, "prompt \(i)")
        }
        // Sampled rows: reproducible, and their log-probs are those of a training forward.
        let sampled = SamplingOptions(temperature: 1, maxNewTokens: 6, seed: 3)
        let rows = m.sampleBatch(prefix: prefix, suffixes: suffixes, count: 3, options: sampled)
        #expect(rows == m.sampleBatch(prefix: prefix, suffixes: suffixes, count: 3, options: sampled))
        for (i, group) in rows.enumerated() {
            for g in group {
                let again = recomputedLogProbs(m, prompt: prefix + suffixes[i], tokens: g.tokens)
                #expect(zip(g.logProbs, again).map { abs($0 - $1) }.max()! <= 1e-4)
            }
        }
        // Without a shared prefix.
        let plain = m.sampleBatch(prefix: [], suffixes: [prefix, Array(prompt)], count: 1, options: greedy)
        #expect(same(plain[0][0], m.generate(prompt: prefix, options: greedy)) && same(plain[1][0], m.generate(prompt: Array(prompt), options: greedy)))
    }

    @Test func samplerNeverDrawsTheBannedToken() {
        let logits: [Float] = [9, 1, 8, 0]
        var rng = PCG32(seed: 3)
        logits.withUnsafeBufferPointer { p in
            #expect(Sampler.sample(p.baseAddress!, vocab: 4, options: SamplingOptions(temperature: 0), banned: 0, rng: &rng) == 2)
            for _ in 0..<200 {
                #expect(Sampler.sample(p.baseAddress!, vocab: 4, options: SamplingOptions(temperature: 5), banned: 0, rng: &rng) != 0)
            }
        }
    }

    @Test func samplerTruncation() {
        let logits: [Float] = [0, 5, 4, -1, 3]
        var rng = PCG32(seed: 1)
        var seen = Set<Int32>()
        for _ in 0..<400 {
            seen.insert(logits.withUnsafeBufferPointer { Sampler.sample($0.baseAddress!, vocab: 5, options: SamplingOptions(topK: 2), rng: &rng) })
        }
        #expect(seen == [1, 2])
        seen = []
        for _ in 0..<400 {  // p(1) ≈ 0.66, p(2) ≈ 0.24: top-p 0.5 keeps only token 1
            seen.insert(logits.withUnsafeBufferPointer { Sampler.sample($0.baseAddress!, vocab: 5, options: SamplingOptions(topP: 0.5), rng: &rng) })
        }
        #expect(seen == [1])
    }
}

@Suite struct TextGenerationEndToEnd {
    @Test func aModelDirectoryAnswersAChatPrompt() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizer/gpt2")
        let tokenizer = try Tokenizer.load(contentsOf: fixtures.appendingPathComponent("tokenizer.json").path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-gen-\(UInt32.random(in: 0 ... .max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try DecoderLM(DecoderLM.Config(modelType: "qwen2", vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64,
                                                   numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true), seed: 3)
        try model.save(directory: dir.path)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("tokenizer.json"), to: dir.appendingPathComponent("tokenizer.json"))
        let r = try TextGeneration.run(modelDirectory: dir.path, prompt: "What is 2 + 2?", options: SamplingOptions(temperature: 0, maxNewTokens: 6))
        let expectedPrompt = tokenizer.encode(ChatTemplate.chatML(messages: [("user", "What is 2 + 2?")], addGenerationPrompt: true))
        #expect(r.promptTokens == expectedPrompt.count && r.sequence.tokens.count <= 6)
        #expect(r.text == tokenizer.decode(r.sequence.tokens, skipSpecialTokens: true))
        #expect(r.sequence == model.generate(prompt: expectedPrompt, options: SamplingOptions(temperature: 0, maxNewTokens: 6,
                                                                                             stopTokens: Set(["<|im_end|>", "<|endoftext|>"].compactMap { tokenizer.id(for: $0) }))))
    }
}
