import Foundation
import Testing
@testable import GRLHF

@Suite struct LoRATests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let everyLinear = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]
    static let ids: [Int32] = [3, 7, 1, 30, 12, 5, 9, 2]  // 2 × 4

    static func tinyLM(seed: UInt64 = 1) throws -> DecoderLM {
        try DecoderLM(DecoderLM.Config(vocabSize: 32, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2,
                                       numAttentionHeads: 2, numKeyValueHeads: 1), seed: seed)
    }

    func logits(_ m: DecoderLM) -> Tensor { withNoGrad { m(Self.ids, batch: 2, time: 4) } }

    /// max |a − b| relative to max |b|.
    func relativeDiff(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / b.scalars.map(abs).max()!
    }

    /// Random adapter values: B starts at zero, which would hide most mistakes.
    func perturb(_ lora: LoRA, seed: UInt64) {
        var rng = PCG32(seed: seed)
        for (_, t) in lora.namedParameters() {
            let values = Tensor.randn(t.shape, std: 0.2, rng: &rng)
            withExtendedLifetime(values) { t.data.update(from: values.data, count: t.count) }
        }
    }

    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-lora-\(UInt32.random(in: 0 ... .max))").path
    }

    @Test func startsAsTheBaseFunction() throws {
        let m = try Self.tinyLM()
        let base = logits(m)
        #expect(m.trainableParameters().map(\.name) == m.namedParameters().map(\.name))
        let lora = try LoRA.attach(to: m, config: LoRAConfig(rank: 4, alpha: 8), seed: 1)
        #expect(logits(m).scalars == base.scalars)
        #expect(lora.adapters.map(\.path) == ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                              "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"])
        // PEFT's initialization: A kaiming-uniform within ±1/√in, B zero.
        let a = lora.adapters[0].adapter
        #expect(a.a.shape == [4, 16] && a.b.shape == [16, 4] && a.scale == 2)
        #expect(a.a.scalars.allSatisfy { abs($0) <= 0.25 } && Set(a.a.scalars).count > 1 && a.b.scalars.allSatisfy { $0 == 0 })
    }

    @Test func adapterGradientsMatchFiniteDifferences() {
        var rng = PCG32(seed: 3)
        let linear = Linear(4, 5, rng: &rng)
        let c = GradCase(name: "lora", inputs: [Tensor.randn([2, 3, 4], rng: &rng), Tensor.randn([2, 4], rng: &rng),
                                                Tensor.randn([5, 2], rng: &rng)]) {
            linear.adapter = LoRAAdapter(a: $0[1], b: $0[2], scale: 1.5)  // x, A, B
            return linear($0[0])
        }
        for seed: UInt64 in [1, 2] { #expect(gradcheck(c, seed: seed).isEmpty) }
    }

    @Test func onlyTheAdaptersTrain() throws {
        let m = try Self.tinyLM()
        let before = m.namedParameters().map { ($0.name, $0.tensor.scalars) }
        let lora = try LoRA.attach(to: m, config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["q_proj", "down_proj", "lm_head"]), seed: 2)
        let trainable = m.trainableParameters()
        #expect(trainable.map(\.name) == lora.adapters.flatMap { ["\($0.path).lora_A.weight", "\($0.path).lora_B.weight"] })
        #expect(m.namedParameters().map(\.name) == before.map(\.0))  // adapters are not model parameters
        #expect(try m.load(m.stateDict()).isEmpty)                  // so base checkpoints load as before
        let optimizer = AdamW(parameters: trainable.map(\.tensor), learningRate: 1e-2)
        m.causalLMLoss(Self.ids, batch: 2, time: 4).backward()
        #expect(m.namedParameters().allSatisfy { $0.tensor.grad == nil })
        #expect(trainable.allSatisfy { $0.tensor.grad != nil })
        optimizer.step()
        for ((name, p), (_, old)) in zip(m.namedParameters(), before) { #expect(p.scalars == old, "\(name) changed") }
        #expect(lora.adapters.allSatisfy { $0.adapter.b.scalars.contains { $0 != 0 } })
        m.zeroGrad()
        #expect(trainable.allSatisfy { $0.tensor.grad == nil })
        lora.detach()
        #expect(m.trainableParameters().map(\.name) == before.map(\.0) && m.linearsWithAdapters == 0)
    }

    @Test func mergeKeepsTheAdaptedFunction() throws {
        let m = try Self.tinyLM()
        let base = logits(m)
        let lora = try LoRA.attach(to: m, config: LoRAConfig(rank: 3, alpha: 5, targetModules: Self.everyLinear), seed: 3)
        perturb(lora, seed: 4)
        let adapted = logits(m)
        #expect(relativeDiff(adapted, base) > 1e-2)
        lora.merge()
        #expect(!lora.isAttached && m.linearsWithAdapters == 0)
        #expect(m.trainableParameters().count == m.namedParameters().count)
        #expect(relativeDiff(logits(m), adapted) <= 1e-5)
        lora.merge()  // a second merge changes nothing
        #expect(relativeDiff(logits(m), adapted) <= 1e-5)
    }

    /// Also what benchmarks/check_peft_adapter.py hands to PEFT: with GRLHF_LORA_EXPORT set, the
    /// base checkpoint, the adapter and grlhf's logits stay in that directory.
    @Test func savesPEFTNamesAndLoadsThemBack() throws {
        let export = ProcessInfo.processInfo.environment["GRLHF_LORA_EXPORT"]
        let dir = export ?? temporaryDirectory()
        defer { if export == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let m = try Self.tinyLM()
        let base = logits(m)
        let lora = try LoRA.attach(to: m, config: LoRAConfig(rank: 4, alpha: 8, targetModules: Self.everyLinear), seed: 5)
        perturb(lora, seed: 6)
        try lora.save(directory: dir + "/adapter")
        try m.save(directory: dir + "/base")
        let adapted = logits(m)
        try Safetensors.write([("input_ids", Tensor(Self.ids.map(Float.init), shape: [2, 4])), ("logits", adapted)],
                              to: dir + "/expected.safetensors")

        let file = try Safetensors.read(contentsOf: dir + "/adapter/adapter_model.safetensors")
        #expect(file.count == 2 * (2 * 7 + 1))
        #expect(file[0].name == "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" && file[0].tensor.shape == [4, 16])
        #expect(file[1].name == "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight" && file[1].tensor.shape == [16, 4])
        #expect(file[3].name == "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight" && file[3].tensor.shape == [8, 4])
        #expect(file.last?.name == "base_model.model.lm_head.lora_B.weight")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter/adapter_config.json"))) as? [String: Any])
        #expect(json["peft_type"] as? String == "LORA" && json["task_type"] as? String == "CAUSAL_LM" && json["bias"] as? String == "none")
        #expect(json["r"] as? Int == 4 && json["lora_alpha"] as? Double == 8 && json["target_modules"] as? [String] == Self.everyLinear)

        // The model saved with adapters attached is the plain base checkpoint.
        #expect(try Safetensors.read(contentsOf: dir + "/base/model.safetensors").allSatisfy { !$0.name.contains("lora") })
        let fresh = try DecoderLM.load(directory: dir + "/base")
        #expect(logits(fresh).scalars == base.scalars)
        let back = try LoRA.load(directory: dir + "/adapter", into: fresh)
        #expect(back.config == lora.config && logits(fresh).scalars == adapted.scalars)
    }

    @Test func loadsAnAdapterWrittenByPEFT() throws {
        let model = try DecoderLM.load(directory: Self.fixtures.appendingPathComponent("lm/llama").path)
        let ids = try #require(try Safetensors.read(contentsOf: Self.fixtures.appendingPathComponent("lm/llama/expected.safetensors").path)
            .first { $0.name == "input_ids" }?.tensor)
        let dir = Self.fixtures.appendingPathComponent("lora/llama").path
        let expected = try #require(try Safetensors.read(contentsOf: dir + "/expected.safetensors").first?.tensor)
        let lora = try LoRA.load(directory: dir, into: model)
        #expect(lora.config.rank == 4 && lora.config.alpha == 8 && lora.adapters.count == 2 * 7 + 1)
        let run = { withNoGrad { model(ids.scalars.map { Int32($0) }, batch: ids.shape[0], time: ids.shape[1]) } }
        #expect(relativeDiff(run(), expected) <= 1e-5)
        lora.merge()
        #expect(relativeDiff(run(), expected) <= 1e-5)
    }

    @Test func attachesToTheLanguageModelOfAMultimodalModel() throws {
        let mm = try Multimodal.tiny()
        let lora = try LoRA.attach(to: mm, config: LoRAConfig(rank: 2, alpha: 2))
        // The ViT names its projections query/value, so only the language model is adapted.
        #expect(lora.namedParameters().map(\.name) == ["q_proj", "v_proj"].flatMap { m in
            ["A", "B"].map { "base_model.model.language_model.model.layers.0.self_attn.\(m).lora_\($0).weight" }
        })
        var rng = PCG32(seed: 2)
        let ids = mm.expandImageTokens([1, 31, 4, 5])
        mm(ids, batch: 1, time: ids.count, images: Tensor.uniform([1, 3, 8, 8], low: -1, high: 1, rng: &rng))
            .crossEntropy(targets: ids.map { _ in 3 }).backward()
        #expect(mm.trainableParameters().map(\.tensor.grad).allSatisfy { $0 != nil } && mm.trainableParameters().count == 4)
        #expect(mm.namedParameters().allSatisfy { $0.tensor.grad == nil })
    }

    @Test func badTargetsAreRefused() throws {
        let m = try Self.tinyLM()
        #expect(throws: GRLHFError.invalidArgument("LoRA: no Linear of the model matches target_modules [\"c_attn\"]")) {
            _ = try LoRA.attach(to: m, config: LoRAConfig(targetModules: ["c_attn"]))
        }
        #expect(throws: GRLHFError.unsupported("LoRA: model.layers.0.self_attn matches target_modules but is a Module, not a Linear")) {
            _ = try LoRA.attach(to: m, config: LoRAConfig(targetModules: ["self_attn"]))
        }
        #expect(throws: GRLHFError.self) { _ = try LoRA.attach(to: m, config: LoRAConfig(rank: 0)) }
        _ = try LoRA.attach(to: m, config: LoRAConfig())
        #expect(throws: GRLHFError.invalidArgument("LoRA: model.layers.0.self_attn.q_proj already has an adapter")) {
            _ = try LoRA.attach(to: m, config: LoRAConfig(targetModules: ["q_proj"]))
        }
    }

    @Test func corruptAdaptersAreRefused() throws {
        let good = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: good) }
        let lora = try LoRA.attach(to: try Self.tinyLM(), config: LoRAConfig(rank: 4, alpha: 8), seed: 7)
        try lora.save(directory: good)
        let tensors = try Safetensors.read(contentsOf: good + "/adapter_model.safetensors")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: good + "/adapter_config.json"))) as? [String: Any])
        let base = logits(try Self.tinyLM())

        /// The good adapter with one file replaced (nil: removed) must fail to load with a
        /// message containing `fragment`, leaving the model as it was.
        func refused(_ file: String, _ contents: Data?, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let dir = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try FileManager.default.copyItem(atPath: good, toPath: dir)
            try? FileManager.default.removeItem(atPath: dir + "/" + file)
            if let contents { try contents.write(to: URL(fileURLWithPath: dir + "/" + file)) }
            let m = try Self.tinyLM()
            do {
                _ = try LoRA.load(directory: dir, into: m)
                Issue.record("loaded an adapter with a bad \(file)", sourceLocation: sourceLocation)
            } catch let e as GRLHFError {
                #expect(e.message.contains(fragment), "\(e)", sourceLocation: sourceLocation)
            }
            #expect(m.linearsWithAdapters == 0 && m.trainableParameters().count == m.namedParameters().count, sourceLocation: sourceLocation)
            #expect(logits(m).scalars == base.scalars, sourceLocation: sourceLocation)
        }
        func weights(_ edit: (inout [(name: String, tensor: Tensor)]) -> Void) throws -> Data {
            var t = tensors
            edit(&t)
            return Data(try Safetensors.encode(t))
        }
        func json(_ edit: (inout [String: Any]) -> Void) throws -> Data {
            var c = config
            edit(&c)
            return try JSONSerialization.data(withJSONObject: c)
        }
        let weightsFile = "adapter_model.safetensors", configFile = "adapter_config.json"
        try refused(weightsFile, try weights { $0.removeLast() }, "missing tensor base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight")
        try refused(weightsFile, try weights { $0.append(("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", Tensor(zeros: [4, 16]))) },
                    "tensors of no adapted layer [\"base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight\"]")
        try refused(weightsFile, try weights { $0[0].tensor = Tensor(zeros: [4, 15]) }, "has shape [4, 15], expected [4, 16]")
        try refused(weightsFile, try weights { $0.append(("base_model.model.lm_head.base_layer.weight", Tensor(zeros: [32, 16]))) },
                    "save_embedding_layers")
        try refused(weightsFile, try weights { _ in }.dropLast(3), "safetensors")
        try refused(weightsFile, nil, "adapter_model.safetensors")
        try refused(configFile, Data("{\"r\": 4,".utf8), "adapter_config.json")
        try refused(configFile, nil, "adapter_config.json: cannot read")
        try refused(configFile, try json { $0["r"] = 8 }, "expected [8, 16]")
        try refused(configFile, try json { $0["r"] = 0 }, "r 0")
        try refused(configFile, try json { $0["use_dora"] = true }, "use_dora (set) is not supported")
        try refused(configFile, try json { $0["target_modules"] = ".*q_proj" }, "target_modules as a regular expression")
        try refused(configFile, try json { $0["bias"] = "all" }, "bias all")
        try refused(configFile, try json { $0["peft_type"] = "IA3" }, "peft_type IA3")
        // Loading into adapters already attached checks r and alpha first.
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try LoRA.attach(to: try Self.tinyLM(), config: LoRAConfig(rank: 2, alpha: 8)).save(directory: dir)
        let mismatch = #expect(throws: GRLHFError.self) { try lora.load(directory: dir) }
        #expect(mismatch?.message.hasSuffix("adapter_config.json: r 2, lora_alpha 8.0, but the attached adapters have r 4, lora_alpha 8.0") == true)
        #expect(lora.adapters[0].adapter.b.scalars.allSatisfy { $0 == 0 })
    }

    @Test func trainingTheAdaptersLowersTheLoss() throws {
        let m = try Self.tinyLM()
        _ = try LoRA.attach(to: m, config: LoRAConfig(rank: 4, alpha: 8, targetModules: Self.everyLinear), seed: 8)
        let optimizer = AdamW(parameters: m.trainableParameters().map(\.tensor), learningRate: 2e-2, weightDecay: 0)
        let sequence = Array([Array<Int32>([4, 9, 17, 2, 25]), [4, 9, 17, 2, 25], [4, 9, 17, 2, 25]].joined())
        var losses: [Float] = []
        for _ in 0..<30 {
            optimizer.zeroGrad()
            let loss = m.causalLMLoss(sequence, batch: 1, time: sequence.count)
            losses.append(loss.item)
            loss.backward()
            optimizer.step()
        }
        #expect(losses.last! < 0.3 * losses.first!, "losses \(losses)")
    }
}

extension Module {
    var linearsWithAdapters: Int { namedModules().filter { ($0.module as? Linear)?.adapter != nil }.count }
}
