import Foundation
import Testing
@testable import GRLHF

/// Llama and Qwen2 against Hugging Face transformers on committed golden files
/// (Fixtures/lm/make_lm_fixtures.py): tiny random models saved with `save_pretrained`, their
/// logits, loss, every gradient and a greedy continuation.
@Suite struct DecoderLMParity {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/lm")

    func maxAbs(_ t: Tensor) -> Float { t.scalars.map(abs).max() ?? 0 }
    func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity }

    @Test(arguments: ["llama", "qwen2"])
    func matchesTransformers(_ family: String) throws {
        let dir = Self.fixtures.appendingPathComponent(family).path
        let model = try DecoderLM.load(directory: dir)
        #expect(model.config.modelType == family)
        let golden = Dictionary(uniqueKeysWithValues: try Safetensors.read(contentsOf: dir + "/expected.safetensors").map { ($0.name, $0.tensor) })
        let idsTensor = try #require(golden["input_ids"])
        let (b, t) = (idsTensor.shape[0], idsTensor.shape[1])
        let ids = idsTensor.scalars.map { Int32($0) }

        let logits = model(ids, batch: b, time: t)
        let expected = try #require(golden["logits"])
        #expect(logits.shape == expected.shape)
        #expect(maxDiff(logits, expected) <= 1e-4 * maxAbs(expected), "logits differ by \(maxDiff(logits, expected))")
        Tape.current.reset()

        let loss = model.causalLMLoss(ids, batch: b, time: t)
        #expect(abs(loss.item - golden["loss"]!.item) < 1e-4)
        loss.backward()
        for (name, p) in model.namedParameters() {
            let g = try #require(golden["grad." + name], "no reference gradient for \(name)")
            let ours = try #require(p.grad)
            #expect(maxDiff(ours, g) <= 1e-4 * maxAbs(g) + 1e-6, "grad \(name) differs by \(maxDiff(ours, g))")
        }

        // Greedy decoding, token for token (full re-forward each step; no cache needed here).
        let greedy = try #require(golden["greedy"]).scalars.map { Int32($0) }
        var seq = Array(ids[0..<t])
        withNoGrad {
            for _ in greedy.indices {
                let out = model(seq, batch: 1, time: seq.count)
                let v = model.config.vocabSize
                let last = Array(out.scalars[((seq.count - 1) * v)...])
                seq.append(Int32(last.indices.max { last[$0] < last[$1] }!))
            }
        }
        #expect(Array(seq[t...]) == greedy)
    }

    @Test func saveAndReload() throws {
        let config = DecoderLM.Config(modelType: "qwen2", vocabSize: 40, hiddenSize: 32, intermediateSize: 48,
                                      numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true)
        let model = try DecoderLM(config, seed: 4)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-lm-\(UInt32.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try model.save(directory: dir)
        let back = try DecoderLM.load(directory: dir)
        #expect(back.config == config)
        let ids: [Int32] = [1, 5, 9, 3]
        #expect(withNoGrad { model(ids, batch: 1, time: 4).scalars == back(ids, batch: 1, time: 4).scalars })
        #expect(!back.namedParameters().contains { $0.name == "lm_head.weight" })
    }

    @Test func badConfigsAreRefused() throws {
        func decode(_ type: String, heads: Int, extra: String = "") throws -> DecoderLM.Config {
            let json = #"{"model_type":"\#(type)","vocab_size":8,"hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":\#(heads)\#(extra)}"#
            return try JSONDecoder().decode(DecoderLM.Config.self, from: Data(json.utf8))
        }
        #expect(try decode("llama", heads: 2).headDim == 4)
        #expect(throws: GRLHFError.unsupported("config.json: model_type \"gpt_neox\" (supported: llama, qwen2)")) { try decode("gpt_neox", heads: 2) }
        #expect(throws: GRLHFError.invalidArgument("config.json: hidden_size 8 is not a multiple of num_attention_heads 3")) { try decode("llama", heads: 3) }
        #expect(throws: GRLHFError.unsupported("config.json: rope_scaling is not supported yet")) {
            try decode("llama", heads: 2, extra: #","rope_scaling":{"type":"linear","factor":2}"#)
        }
        #expect(try decode("llama", heads: 2, extra: #","rope_scaling":null"#).headDim == 4)
        // Both places a config keeps the rotary base: transformers 5's rope_parameters, and older.
        #expect(try decode("llama", heads: 2, extra: #","rope_parameters":{"rope_theta":500000.0,"rope_type":"default"}"#).ropeTheta == 500000)
        #expect(try decode("qwen2", heads: 2, extra: #","rope_theta":1000000.0"#).ropeTheta == 1000000)
        #expect(throws: GRLHFError.self) { try decode("llama", heads: 2, extra: #","rope_parameters":{"rope_theta":1.0,"rope_type":"yarn"}"#) }
        #expect(throws: GRLHFError.self) { try decode("llama", heads: 2, extra: #","hidden_act":"gelu""#) }
        #expect(throws: GRLHFError.self) { try decode("qwen2", heads: 2, extra: #","use_sliding_window":true"#) }
        #expect(throws: GRLHFError.self) { _ = try DecoderLM.load(directory: "/nonexistent-grlhf") }
    }
}
