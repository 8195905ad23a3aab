import Foundation
import Testing
@testable import GRLHF

// A multimodal model built from pretrained parts, as the pipeline's smol preset builds it:
// EfficientNet-Lite0 as the tower, the language model's weights in a GGUF file, LoRA adapters.
// The tiny Llama GGUF fixture stands in for SmolLM2 and a random tower for the ImageNet weights,
// so these run without `make models` (Tests/cli/pipeline_smol.sh runs the real ones).

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/gguf")
private let tinyLlama = fixtures.appendingPathComponent("tiny_llama.gguf").path

@Suite struct PretrainedMultimodal {
    static let lora = LoRAConfig(rank: 4, alpha: 8, targetModules: ["q_proj", "v_proj", "down_proj"])

    /// EfficientNet-Lite0 with random weights (of a size that keeps activations moderate), the
    /// tiny Llama from its GGUF with LoRA adapters whose B is random too (B = 0 would hide them).
    static func model(seed: UInt64 = 1) throws -> MultimodalModel {
        var rng = PCG32(seed: seed)
        let tower = EfficientNetLite0(tokens: .featureMap)
        for (_, t) in tower.namedParameters() { for i in 0..<t.count { t.data[i] = Float.random(in: -0.1...0.1, using: &rng) } }
        let text = try DecoderLM.ggufConfig(GGUFFile.open(tinyLlama))
        let config = MultimodalModel.Config(text: text, tower: .efficientNetLite0(tokens: .featureMap), imageTokenIndex: 79,
                                            preprocessor: ImagePreprocessor(size: 224), languageWeights: tinyLlama, lora: lora)
        let m = try MultimodalModel(config, vision: tower, seed: seed)
        for (name, t) in m.namedTensors() where name.hasSuffix("lora_B.weight") {
            for i in 0..<t.count { t.data[i] = Float.random(in: -0.2...0.2, using: &rng) }
        }
        return m
    }

    static func logits(_ m: any CausalLM) -> [Float] {
        var rng = PCG32(seed: 9)
        let image = Tensor.uniform([1, 3, 224, 224], low: -1, high: 1, rng: &rng)
        let ids = m.expandImageTokens([1, 79, 5, 6])
        return withNoGrad { m.logits(ids, batch: 1, time: ids.count, images: image).scalars }
    }

    @Test func trainsOnlyTheProjectorAndTheAdapters() throws {
        let m = try Self.model()
        #expect(m.tokensPerImage == 49)
        let trainable = m.trainableParameters().map(\.name)
        #expect(trainable.allSatisfy { $0.hasPrefix("multi_modal_projector.") || $0.contains(".lora_") })
        #expect(trainable.filter { $0.contains(".lora_") }.count == 2 * 3 * 2)  // A and B, 3 layers, 2 blocks
        #expect(!m.vision.parameters.contains { $0.requiresGrad } && !m.language.parameters.contains { $0.requiresGrad })
    }

    /// The directory holds the tower, the projector and the adapters but not the GGUF's weights,
    /// and loads back to the same function (the adapters included).
    @Test func savesWithoutTheLanguageWeightsAndLoadsTheSameModel() throws {
        let m = try Self.model()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pretrained-mm-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try m.save(directory: dir)
        let saved = Set(try Safetensors.read(contentsOf: dir + "/model.safetensors").map(\.name))
        #expect(saved.contains("vision_tower._conv_stem.weight") && saved.contains("multi_modal_projector.linear_1.weight"))
        #expect(saved.contains("language_model.model.layers.1.mlp.down_proj.lora_B.weight"))
        #expect(!saved.contains { $0.hasPrefix("language_model.") && !$0.contains(".lora_") })
        let loaded = try #require(try loadModel(directory: dir) as? MultimodalModel)
        #expect(loaded.config == m.config && loaded.config.languageWeights == tinyLlama)
        #expect(Self.logits(loaded) == Self.logits(m))
        // A saved file missing an adapter is an error, not a silently fresh adapter.
        let partial = try Safetensors.read(contentsOf: dir + "/model.safetensors").filter { !$0.name.hasSuffix("layers.0.self_attn.q_proj.lora_A.weight") }
        try Safetensors.write(partial, to: dir + "/model.safetensors")
        #expect(throws: GRLHFError.self) { try MultimodalModel.load(directory: dir) }
    }

    /// GRPO's and DPO's reference is the policy as it is, adapters included.
    @Test func frozenCopyKeepsTheAdapters() throws {
        let m = try Self.model()
        let copy = try frozenCopy(m)
        #expect(Self.logits(copy) == Self.logits(m))
        #expect(!copy.namedTensors().contains { $0.tensor.requiresGrad })
        #expect(m.namedTensors().contains { $0.tensor.requiresGrad })  // the original is untouched
    }

    /// Weights that are the GGUF's are never written, so a trainable one would be lost: refused.
    @Test func refusesToDropTrainableLanguageWeights() throws {
        let m = try Self.model()
        m.language.setTrainable(true)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pretrained-mm-bad-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: GRLHFError.self) { try m.save(directory: dir) }
    }

    @Test func aGGUFThatIsNotTheConfigsModelIsRefused() throws {
        var c = try Self.model().config
        c.text.intermediateSize += 1
        #expect(throws: GRLHFError.self) { try MultimodalModel(c) }
    }

    /// The folded weights a directory stores rebuild the same tower as the .pth.
    @Test func efficientNetFromItsFoldedWeights() throws {
        let a = try Self.model().vision
        let b = EfficientNetLite0(tokens: .featureMap)
        try b.load(a.stateDict())
        var rng = PCG32(seed: 4)
        let image = Tensor.uniform([1, 3, 224, 224], low: -1, high: 1, rng: &rng)
        #expect(withNoGrad { a.features(image).scalars == b.features(image).scalars })
    }

    @Test func towerConfigsDecode() throws {
        func tower(_ json: String) throws -> VisionTowerConfig { try JSONDecoder().decode(VisionTowerConfig.self, from: Data(json.utf8)) }
        #expect(try tower(#"{"model_type": "efficientnet_lite0", "tokens": "pooled"}"#) == .efficientNetLite0(tokens: .pooled))
        #expect(try tower(#"{"model_type": "efficientnet_lite0"}"#) == .efficientNetLite0(tokens: .featureMap))
        #expect(try tower(#"{"image_size": 8, "patch_size": 4, "num_channels": 3, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "layer_norm_eps": 1e-12, "qkv_bias": true, "hidden_act": "gelu_pytorch_tanh"}"#).vit?.patches == 4)
        #expect(throws: GRLHFError.self) { try tower(#"{"model_type": "efficientnet_lite0", "tokens": "patches"}"#) }
        #expect(throws: GRLHFError.self) { try tower(#"{"model_type": "resnet50"}"#) }
        let c = try Self.model().config
        #expect(try JSONDecoder().decode(MultimodalModel.Config.self, from: JSONEncoder().encode(c)) == c)
    }
}

@Suite struct RenamedAddedToken {
    @Test func anUnusedSpecialTokenBecomesThePlaceholder() throws {
        let base = BPETrainer.train(corpus: ["a red circle", "a blue square"], vocabSize: 280,
                                    specialTokens: ["<|im_start|>", "<|im_end|>", "<unused>"])
        let id = try #require(base.id(for: "<unused>"))
        let t = try base.renamingAddedToken("<unused>", to: "<image>")
        #expect(t.vocabSize == base.vocabSize && t.id(for: "<image>") == id && t.id(for: "<unused>") == nil)
        #expect(t.encode("<image>\na red circle").first == id)
        #expect(!t.encode("<unused>").contains(id))
        #expect(t.decode(t.encode("<image>a blue square"), skipSpecialTokens: true) == "a blue square")
        #expect(t.encode("a red circle") == base.encode("a red circle"))
        #expect(throws: GRLHFError.self) { try base.renamingAddedToken("<missing>", to: "<image>") }
        #expect(throws: GRLHFError.self) { try base.renamingAddedToken("<unused>", to: "<|im_end|>") }
    }
}
