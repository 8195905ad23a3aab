import Foundation
import Testing
@testable import GRLHF

@Suite struct Multimodal {
    static func tiny() throws -> MultimodalModel {
        let vit = try VisionTransformer(VisionTransformer.Config(imageSize: 8, patchSize: 4, hiddenSize: 16, numHiddenLayers: 1,
                                                                 numAttentionHeads: 2, intermediateSize: 32), seed: 1)
        let lm = try DecoderLM(DecoderLM.Config(vocabSize: 32, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1,
                                                numAttentionHeads: 2, numKeyValueHeads: 1), seed: 2)
        return try MultimodalModel(vision: vit, language: lm, imageTokenId: 31, seed: 3)
    }

    @Test func imageFeaturesTakeTheImageTokensPlaces() throws {
        let m = try Self.tiny()
        let ids = m.expandImageTokens([1, 2, 31, 3])
        #expect(ids == [1, 2, 31, 31, 31, 31, 3] && m.tokensPerImage == 4)
        var rng = PCG32(seed: 5)
        let image = Tensor.uniform([1, 3, 8, 8], low: -1, high: 1, rng: &rng)
        let embeds = withNoGrad { m.inputEmbeddings(ids, batch: 1, time: ids.count, images: image) }
        let features = withNoGrad { m.imageFeatures(image) }                      // [1, 4, 16]
        let text = withNoGrad { m.language.embeddings([1, 2, 0, 0, 0, 0, 3], batch: 1, time: 7) }
        #expect(Array(embeds.scalars[(2 * 16)..<(6 * 16)]) == features.scalars)
        #expect(Array(embeds.scalars[0..<(2 * 16)]) == Array(text.scalars[0..<(2 * 16)]))
        #expect(Array(embeds.scalars[(6 * 16)...]) == Array(text.scalars[(6 * 16)...]))
    }

    @Test func gradientsReachTheVisionTowerAndTheLanguageModel() throws {
        let m = try Self.tiny()
        let ids = m.expandImageTokens([1, 31, 4, 5])
        var rng = PCG32(seed: 6)
        let image = Tensor.uniform([1, 3, 8, 8], low: -1, high: 1, rng: &rng)
        let targets = ids.indices.map { $0 + 1 < ids.count && ids[$0 + 1] != 31 ? ids[$0 + 1] : -100 }
        m(ids, batch: 1, time: ids.count, images: image).crossEntropy(targets: targets).backward()
        for name in ["vision_tower.embeddings.patch_embeddings.projection.weight", "vision_tower.embeddings.cls_token",
                     "multi_modal_projector.linear_1.weight", "language_model.model.embed_tokens.weight"] {
            let p = try #require(m.namedParameters().first { $0.name == name }?.tensor)
            #expect(p.grad.map { g in g.scalars.contains { $0 != 0 } } == true, "no gradient for \(name)")
        }
        // The CLS output is dropped by the projector, so the CLS token's gradient comes only
        // through attention — still nonzero; text-only input works without images.
        #expect(withNoGrad { m([1, 2, 3], batch: 1, time: 3, images: nil).shape } == [1, 3, 32])
    }

    /// The whole path — pixels, ViT, projector, the image tokens' places, the LM, cross-entropy —
    /// differentiated correctly: analytic gradients of vision, projector and LM weights against
    /// central differences (the op-level bound of Gradcheck).
    @Test func endToEndGradientsMatchFiniteDifferences() throws {
        let m = try Self.tiny()
        let ids = m.expandImageTokens([1, 31, 4, 5, 6])
        var rng = PCG32(seed: 6)
        let image = Tensor.uniform([1, 3, 8, 8], low: -1, high: 1, rng: &rng)
        let targets = ids.indices.map { $0 + 1 < ids.count && ids[$0 + 1] != 31 ? ids[$0 + 1] : -100 }
        // Freshly initialised projector outputs are ~1e-3, where the LM's input RMSNorm is far
        // too curved for a 1e-2 difference step; weights of order one keep the check well posed.
        for (_, t) in m.namedParameters() { for i in 0..<t.count { t.data[i] = Float.random(in: -0.5...0.5, using: &rng) } }
        func loss() -> Tensor { m(ids, batch: 1, time: ids.count, images: image).crossEntropy(targets: targets) }
        loss().backward()
        let eps: Float = 1e-2
        for name in ["vision_tower.embeddings.patch_embeddings.projection.weight", "vision_tower.encoder.layer.0.attention.attention.value.weight",
                     "vision_tower.embeddings.position_embeddings", "multi_modal_projector.linear_1.weight", "multi_modal_projector.linear_1.bias", "multi_modal_projector.linear_2.weight", "multi_modal_projector.linear_2.bias", "vision_tower.layernorm.bias",
                     "language_model.model.layers.0.self_attn.v_proj.weight"] {
            let p = try #require(m.namedParameters().first { $0.name == name }?.tensor)
            let grad = try #require(p.grad, "no gradient for \(name)")
            for i in stride(from: 0, to: p.count, by: Swift.max(1, p.count / 9)) {
                let saved = p.data[i]
                p.data[i] = saved + eps; let up = Double(withNoGrad { loss() }.scalars[0])
                p.data[i] = saved - eps; let down = Double(withNoGrad { loss() }.scalars[0])
                p.data[i] = saved
                let numeric = (up - down) / (2 * Double(eps)), analytic = Double(grad.data[i])
                #expect(abs(analytic - numeric) <= 1e-3 + 1e-2 * abs(numeric), "\(name)[\(i)]: analytic \(analytic), numeric \(numeric)")
            }
        }
    }

    @Test func checkpointRoundTripsThroughLoadModel() throws {
        let m = try Self.tiny()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-mm-\(UInt32.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try m.save(directory: dir)
        let back = try #require(try loadModel(directory: dir) as? MultimodalModel)
        #expect(back.config == m.config && back.namedParameters().map(\.name) == m.namedParameters().map(\.name))
        for ((name, a), (_, b)) in zip(m.namedParameters(), back.namedParameters()) { #expect(a.scalars == b.scalars, "\(name)") }
        // A text-only directory still loads as a DecoderLM.
        try m.language.save(directory: dir + "/lm")
        #expect(try loadModel(directory: dir + "/lm") is DecoderLM)
        // A bad image token index is refused with a message, not a trap.
        var bad = m.config
        bad.imageTokenIndex = 99
        #expect(throws: GRLHFError.self) { _ = try MultimodalModel(bad) }
    }

    @Test func generationLogProbsMatchATrainingForwardWithTheImage() throws {
        let m = try Self.tiny()
        var rng = PCG32(seed: 8)
        let image = Tensor.uniform([1, 3, 8, 8], low: -1, high: 1, rng: &rng)
        let prompt: [Int32] = [1, 31, 4, 5]
        let group = m.sampleGroup(prompt: prompt, images: image, count: 3, options: SamplingOptions(maxNewTokens: 5, seed: 4))
        let expanded = m.expandImageTokens(prompt)
        for s in group {
            let ids = expanded + s.tokens
            let logits = withNoGrad { m.logits(ids, batch: 1, time: ids.count, images: image) }
            let lp = logits.logSoftmax()
            for (t, token) in s.tokens.enumerated() {
                let at = expanded.count - 1 + t
                #expect(abs(lp.scalars[at * 32 + Int(token)] - s.logProbs[t]) <= 1e-4)
            }
        }
        // The image matters: another image changes the continuation distribution.
        let other = Tensor.uniform([1, 3, 8, 8], low: -1, high: 1, rng: &rng)
        let a = withNoGrad { m.logits(expanded, batch: 1, time: expanded.count, images: image) }.scalars.suffix(32)
        let b = withNoGrad { m.logits(expanded, batch: 1, time: expanded.count, images: other) }.scalars.suffix(32)
        #expect(a != b)
    }

    /// What `grlhf generate --model DIR --image PNG` runs: a saved multimodal model, its
    /// tokenizer with an `<image>` token, and a PNG file.
    @Test func textGenerationReadsAPNG() throws {
        let tokenizer = BPETrainer.train(corpus: ["what color is the circle?", "the circle is red.", "a blue square"],
                                         vocabSize: 300, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"])
        let imageToken = try #require(tokenizer.id(for: "<image>"))
        let config = MultimodalModel.Config(
            text: DecoderLM.Config(vocabSize: tokenizer.vocabSize, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2),
            vision: VisionTransformer.Config(imageSize: 8, patchSize: 4, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32),
            imageTokenIndex: imageToken)
        let model = try MultimodalModel(config, seed: 5)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-mmgen-\(UInt32.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try model.save(directory: dir)
        try tokenizer.save(to: dir + "/tokenizer.json")
        let png = dir + "/circle.png"
        try PNG.write(PNG.Image(width: 12, height: 10, channels: 3, pixels: (0..<360).map { UInt8(($0 * 37) % 256) }), to: png)
        let options = SamplingOptions(temperature: 0, maxNewTokens: 5)
        let r = try TextGeneration.run(modelDirectory: dir, prompt: "what color is the circle?", imagePath: png, options: options)
        let ids = tokenizer.encode(ChatTemplate.chatML(messages: [("user", "<image>\nwhat color is the circle?")], addGenerationPrompt: true))
        #expect(r.promptTokens == ids.count - 1 + model.tokensPerImage)
        var o = options
        o.stopTokens = Set(["<|im_end|>", "<|endoftext|>"].compactMap { tokenizer.id(for: $0) })
        #expect(r.sequence == model.generate(prompt: ids, images: try model.pixels(pngAt: png), options: o))
        // A text-only prompt to the same model, and an image to a text-only model.
        _ = try TextGeneration.run(modelDirectory: dir, prompt: "hi", options: options)
        try model.language.save(directory: dir + "/lm")
        try tokenizer.save(to: dir + "/lm/tokenizer.json")
        #expect(throws: GRLHFError.self) { _ = try TextGeneration.run(modelDirectory: dir + "/lm", prompt: "hi", imagePath: png, options: options) }
        #expect(throws: GRLHFError.self) { _ = try TextGeneration.run(modelDirectory: dir, prompt: "hi", imagePath: dir + "/missing.png", options: options) }
    }

    @Test func preprocessorResizesLikeTorchvisionAndNormalizes() throws {
        // 2×1 gray [0, 255] to 4 wide, bilinear with half-pixel centres: 0, .25, .75, 1.
        let gray = PNG.Image(width: 2, height: 1, channels: 1, pixels: [0, 255])
        let t = try ImagePreprocessor(size: 4, mean: [0, 0, 0], std: [1, 1, 1])(gray)
        #expect(t.shape == [3, 4, 4] && Array(t.scalars[0..<4]) == [0, 0.25, 0.75, 1] && Array(t.scalars[16..<20]) == [0, 0.25, 0.75, 1])
        let rgb = PNG.Image(width: 1, height: 1, channels: 4, pixels: [255, 0, 51, 7])
        #expect(try ImagePreprocessor(size: 2)(rgb).scalars == [1, 1, 1, 1, -1, -1, -1, -1, -0.6, -0.6, -0.6, -0.6])
        #expect(throws: GRLHFError.self) { try ImagePreprocessor(size: 0)(rgb) }
    }

    @Test func scalarHeadReadsTheLastRealToken() {
        var rng = PCG32(seed: 2)
        let head = ScalarHead(hidden: 4, rng: &rng)
        let h = Tensor.randn([2, 3, 4], rng: &rng)
        let values = head(h)
        #expect(values.shape == [2, 3])
        let last = ScalarHead.lastToken(values, lengths: [3, 1])
        #expect(last.scalars == [values.scalars[2], values.scalars[3]])
        last.sum().backward()
        #expect(head.weight.grad != nil)
    }
}

/// The ViT against Hugging Face `ViTModel` on a committed golden file (Fixtures/vit).
@Suite struct VisionTransformerParity {
    @Test func matchesTransformers() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/vit")
        let vit = try VisionTransformer.load(directory: dir.appendingPathComponent("model").path)
        let golden = Dictionary(uniqueKeysWithValues: try Safetensors.read(contentsOf: dir.appendingPathComponent("expected.safetensors").path)
            .map { ($0.name, $0.tensor) })
        let out = vit(try #require(golden["pixel_values"]))
        let expected = try #require(golden["last_hidden_state"])
        let scale = expected.scalars.map(abs).max()!
        #expect(out.shape == expected.shape)
        #expect(zip(out.scalars, expected.scalars).map { abs($0 - $1) }.max()! <= 1e-4 * scale)
        let loss = (out * out).mean()
        #expect(abs(loss.item - golden["loss"]!.item) < 1e-5)
        loss.backward()
        for (name, p) in vit.namedParameters() {
            let g = try #require(golden["grad." + name], "no reference gradient for \(name)")
            let worst = zip(try #require(p.grad).scalars, g.scalars).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4 * (g.scalars.map(abs).max()!) + 1e-7, "grad \(name) differs by \(worst)")
        }
    }
}
