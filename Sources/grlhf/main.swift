import ArgumentParser
import Foundation
import GRLHF

struct GRLHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grlhf",
        abstract: "Generative RLHF-V on the CPU: models, reward models, judges and RL.",
        version: GRLHF.version,
        subcommands: [Demo.self, Generate.self, Info.self, InitModel.self, Bench.self,
                      SFT.self, TrainRM.self, DPO.self, RL.self, JudgeCommand.self, TrainGRM.self, DataCommand.self,
                      PipelineCommand.self, Classify.self])
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small GPT on the built-in corpus for a while; show the loss falling and a sample.")

    @Option(help: "Seconds to train.") var seconds: Double = 60
    @Option(help: "Threads for grlhf's parallel work (kernels, attention, large products).") var threads: Int = 1
    @Option(help: "Directory for metrics.jsonl, loss.png and sample.txt.") var out: String = "runs/demo"
    @Option(help: "Seed for initialization, batches and sampling.") var seed: UInt64 = 1337

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // keep our lines in order with the progress bar on stderr
        Runtime.setThreads(threads)
        var options = CorpusDemo.Options()
        options.seconds = seconds
        options.seed = seed
        options.outputDirectory = out
        try CorpusDemo.run(options)
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample a reply from a model directory (config.json, model.safetensors, tokenizer.json) or a Llama .gguf file.")

    @Option(help: "Model directory (Llama, Qwen2 or grlhf's LLaVA-style multimodal) or a Llama .gguf file (e.g. SmolLM2 from `make models`).") var model: String
    @Option(help: "The user's message (wrapped in the ChatML template unless --raw).") var prompt: String
    @Option(help: "A PNG image the message is about (multimodal models).") var image: String?
    @Flag(help: "Continue the prompt as plain text instead of answering it as a chat turn.") var raw = false
    @Flag(help: "With a .gguf: decode through its Q4_0/Q4_1/Q8_0 blocks (faster) instead of the dequantized float32 weights.") var quantized = false
    @Option(help: "Tokens to generate at most.") var maxTokens: Int = 64
    @Option(help: "0 is greedy.") var temperature: Float = 0.7
    @Option var topK: Int = 0
    @Option var topP: Float = 1
    @Option var seed: UInt64 = 0
    @Option(help: "Threads for grlhf's parallel work.") var threads: Int = 1

    func run() throws {
        Runtime.setThreads(threads)
        let options = SamplingOptions(temperature: temperature, topK: topK, topP: topP, maxNewTokens: maxTokens, seed: seed)
        guard !quantized || model.hasSuffix(".gguf") else { throw ValidationError("--quantized needs a .gguf model") }
        let r = try TextGeneration.run(modelDirectory: model, prompt: prompt, imagePath: image, chat: !raw, quantized: quantized, options: options)
        print(r.text)
        FileHandle.standardError.write(Data("[\(r.promptTokens) prompt tokens, \(r.sequence.tokens.count) generated, finished by \(r.sequence.finishReason.rawValue)]\n".utf8))
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model directory (config.json + model.safetensors): its config and parameter count; or list the tensors of a .safetensors or PyTorch (.pth, .pt, .bin) file.")

    @Argument(help: "A Llama/Qwen2, ViT or multimodal (llava) model directory, or a weights file.") var path: String

    func run() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            if path.hasSuffix(".gguf") {
                let file = try GGUFFile.open(path)
                for t in file.tensors { print("\(t.name) \(t.shape) \(t.type)") }
                print("\(file.tensors.count) tensors, \(file.tensors.reduce(0) { $0 + $1.elementCount }) values")
                return
            }
            let tensors = try path.hasSuffix(".safetensors") ? Safetensors.read(contentsOf: path) : PyTorchCheckpoint.read(contentsOf: path)
            for (name, tensor) in tensors { print("\(name) \(tensor.shape)") }
            print("\(tensors.count) tensors, \(tensors.reduce(0) { $0 + $1.tensor.count }) values")
            return
        }
        let configPath = path + "/config.json"
        guard let data = FileManager.default.contents(atPath: configPath),
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GRLHFError.io("\(configPath): cannot read a JSON object")
        }
        func describe(_ c: VisionTransformer.Config) {
            print("ViT: \(c.imageSize)px images, \(c.patchSize)px patches, \(c.numHiddenLayers) layers, width \(c.hiddenSize)")
        }
        func describe(_ c: DecoderLM.Config) {
            print("\(c.modelType): \(c.numHiddenLayers) layers, width \(c.hiddenSize), \(c.numAttentionHeads) heads (\(c.numKeyValueHeads) key/value, size \(c.headDim)), MLP \(c.intermediateSize), vocabulary \(c.vocabSize), \(c.tieWordEmbeddings ? "tied" : "untied") head, RoPE base \(c.ropeTheta)")
        }
        let model: Module
        if json["model_type"] as? String == "vit" {
            let vit = try VisionTransformer.load(directory: path)
            describe(vit.config)
            model = vit
        } else {
            let loaded = try loadModel(directory: path)
            if let m = loaded as? MultimodalModel {
                print("multimodal (llava): image token \(m.config.imageTokenIndex) expands to \(m.tokensPerImage) positions")
                switch m.config.tower {
                case .vit(let c): describe(c)
                case .efficientNetLite0(let tokens): print("EfficientNet-Lite0: 224px images, \(tokens.rawValue) tokens (frozen)")
                }
                if let gguf = m.config.languageWeights { print("language model weights: \(gguf)") }
                if let lora = m.config.lora { print("LoRA: r \(lora.rank), alpha \(lora.alpha) on \(lora.targetModules.joined(separator: ", "))") }
            }
            describe(loaded.language.config)
            model = loaded
        }
        print("parameters: \(model.parameterCount) in \(model.namedParameters().count) tensors")
    }
}

struct InitModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-model",
        abstract: "Write a randomly initialized model (config.json + model.safetensors) from a config.json: Llama/Qwen2, or multimodal (model_type llava).")

    @Option(help: "A config.json to read the architecture from.") var config: String
    @Option(help: "Output directory.") var out: String
    @Option var seed: UInt64 = 0
    @Option(help: "A tokenizer.json to copy beside the weights.") var tokenizer: String?

    func run() throws {
        let model = try initModel(configFile: config, seed: seed)
        try model.save(directory: out)
        if let tokenizer {
            let t = try Tokenizer.load(contentsOf: tokenizer)
            guard t.vocabSize <= model.vocabSize else {
                throw GRLHFError.invalidArgument("\(tokenizer) has \(t.vocabSize) tokens, the model's vocabulary \(model.vocabSize)")
            }
            try t.save(to: out + "/tokenizer.json")
        }
        print("wrote \(out): \(model.parameterCount) parameters")
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time one GPT training step (forward, backward, AdamW); see benchmarks/train_step.sh.")

    @Option var threads: Int = 1
    @Option(help: "OpenBLAS's own threads (grlhf then leaves matrix products to it).") var blasThreads: Int = 1
    @Option var warmup: Int = 3
    @Option var steps: Int = 10
    @Option var batch: Int = 8
    @Flag(help: "Print one JSON line.") var json = false
    @Flag(help: "Instead: time an elementwise add at 1 and 2 threads over sizes (the split threshold).")
    var threading = false
    @Option(help: "Instead: prefill/decode/group speed of a random model of this shape (small, smollm2-135m), or of a Llama .gguf file.")
    var generation: String?
    @Flag(help: "With --generation FILE.gguf: decode through the file's Q4/Q8 blocks instead of float32.") var quantized = false
    @Option(help: "With --generation: prompt tokens, new tokens, group size (0: no group run).") var prompt = 64
    @Option var newTokens = 32
    @Option var group = 8
    @Option(help: "Instead: SFT and GRPO step times on a random model of this shape (see benchmarks/alignment.sh).")
    var alignment: String?

    @Option(help: "Instead: time per group scored by grouped comparison (n = 3, 5, 7) on a random model of this shape (small, smollm2-135m).")
    var judge: String?

    func run() throws {
        if let shape = judge {
            for r in try JudgeBenchmark.run(shape: shape, threads: threads) {
                try report(r, String(format: "grlhf %@ threads=%d  n=%d %@  %3d judge calls  %8.1f ms/group  %6.1f ms/call  (prompt %d tok, %d new tok, %.0f%% full length)",
                                     r.model, r.threads, r.n, r.bothOrders ? "both orders" : "one order ", r.judgeCalls, r.msPerGroup, r.msPerCall,
                                     r.promptTokens, r.judgeTokens, 100 * r.truncated))
            }
            return
        }
        if let shape = alignment {
            let r = try AlignmentBenchmark.run(shape: shape, threads: threads)
            try report(r, String(format: "grlhf %@ threads=%d  SFT %.0f ms/step (%.0f tok/s)  GRPO %.0f ms/step (rollout %.0f ms, %.0f tok/s)",
                                 shape, r.threads, r.sftMsPerStep, r.sftTokensPerSecond, r.grpoMsPerStep, r.grpoRolloutMs, r.grpoTokensPerSecond))
            return
        }
        if let shape = generation {
            let r = try GenerationBenchmark.run(shape: shape, quantized: quantized, threads: threads, promptLength: prompt,
                                                newTokens: newTokens, group: group)
            try report(r, String(format: "grlhf %@ threads=%d  prefill %.0f tok/s  decode %.1f tok/s  group of %d %.1f tok/s (%.1fx)",
                                 r.model, r.threads, r.prefillTokensPerSecond, r.decodeTokensPerSecond, r.group, r.groupTokensPerSecond, r.groupSpeedup))
            return
        }
        if threading {
            print("elements   1 thread µs   2 threads µs   speedup")
            for r in ThreadingBenchmark.run() {
                print(String(format: "%8d   %11.1f   %12.1f   %7.2f", r.elements, r.microsecondsOneThread, r.microsecondsTwoThreads, r.speedup))
            }
            return
        }
        Runtime.blasThreads = blasThreads
        let r = TrainStepBenchmark.run(batch: batch, threads: threads, warmup: warmup, steps: steps)
        try report(r, String(format: "grlhf  threads=%d  %.1f ms/step  %.0f tokens/s  %.1f GFLOP/s (sgemm peak %.1f, %.0f%%)  loss %.3f → %.3f",
                             r.threads, r.msPerStep, r.tokensPerSecond, r.achievedGflops, r.sgemmPeakGflops,
                             100 * r.achievedGflops / r.sgemmPeakGflops, r.lossFirst, r.lossLast))
    }
}

extension Bench {
    /// A result as one JSON line with --json, else as `line`.
    func report<T: Encodable>(_ result: T, _ line: @autoclosure () -> String) throws {
        if json { try printJSON(result) } else { print(line()) }
    }
}

/// One JSON line with sorted keys, for the benchmark scripts.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

// The entry point (top-level code: the target has more files, so no @main).
GRLHFCommand.main()
