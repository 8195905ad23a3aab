import Foundation
import GRLHF

// grlhf_pipeline: the Swift API's Pipeline behind a handle. The configuration is the Swift
// PipelineConfig (Codable): a preset's values as JSON, overlaid with the caller's JSON object,
// decoded back, then checked here, since the engine traps on values it never expects (an
// empty dataset, zero steps, sizes the heads do not divide).

struct PipelineParams: CParams {
    static let cName = "grlhf_pipeline_params"
    var presetBits: UInt = 0
    var configBits: UInt = 0
    var dataBits: UInt = 0
    var outputBits: UInt = 0

    mutating func walk(_ f: inout CFields) throws {
        f.raw(&presetBits)
        f.raw(&configBits)
        f.raw(&dataBits)
        f.raw(&outputBits)
    }

    func string(_ bits: UInt, _ what: String) throws -> String? {
        guard let s = try optionalString(UnsafePointer(bitPattern: bits), what) else { return nil }
        guard !s.isEmpty else { throw Failure.invalidArgument("\(what) is empty") }
        return s
    }

    /// The preset, the JSON overrides and the two folders, checked.
    func resolved() throws -> PipelineConfig {
        var config = try PipelineConfig.preset(try string(presetBits, "preset") ?? "tiny")
        if let json = try string(configBits, "config_json") { config = try PipelineConfigCheck.overlay(config, json) }
        if let data = try string(dataBits, "data_dir") { config.data = data }
        if let output = try string(outputBits, "output_dir") { config.output = output }
        try PipelineConfigCheck.validate(config)
        return config
    }
}

enum PipelineConfigCheck {
    static func object(_ config: PipelineConfig) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any] else {
            throw Failure(.internal, "PipelineConfig did not encode as a JSON object")
        }
        return object
    }

    static func json(_ config: PipelineConfig) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(config), as: UTF8.self)
    }

    /// `base` with the keys of the JSON object `json` replaced; only keys with a check below.
    static func overlay(_ base: PipelineConfig, _ json: String) throws -> PipelineConfig {
        if let keys = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any],
           let key = keys.keys.sorted().first(where: { !checked.contains($0) && (try? object(base))?[$0] != nil }) {
            throw Failure(.unsupported, "config_json: \"\(key)\" has no range check in the C ABI yet (Sources/GRLHFC/Pipeline.swift)")
        }
        return try PipelineConfig.decode(Data(json.utf8), over: base)
    }

    static let int: [(String, KeyPath<PipelineConfig, Int>, ClosedRange<Int>)] = [
        ("threads", \.threads, 1...256),
        // 256 byte tokens and 4 special tokens come first; merges fill the rest.
        ("vocabSize", \.vocabSize, 260...65536),
        ("imageSize", \.imageSize, 1...512),
        ("patchSize", \.patchSize, 1...512),
        ("visionWidth", \.visionWidth, 4...1024),
        ("width", \.width, 8...1024),
        ("layers", \.layers, 1...32),
        ("visionLayers", \.visionLayers, 1...32),
        ("pretrainSteps", \.pretrainSteps, 0...maxTrainerSteps),
        ("sftSteps", \.sftSteps, 1...maxTrainerSteps),
        ("judgeMaxTokens", \.judgeMaxTokens, 1...4096),
        ("rmSteps", \.rmSteps, 1...maxTrainerSteps),
        ("formatSteps", \.formatSteps, 1...maxTrainerSteps),
        ("grmSFTSteps", \.grmSFTSteps, 1...maxTrainerSteps),
        ("grmRLSteps", \.grmRLSteps, 1...maxTrainerSteps),
        ("batchSize", \.batchSize, 1...1024),
        ("groupSize", \.groupSize, 1...64),
        ("promptsPerStep", \.promptsPerStep, 1...1024),
        ("evalPairs", \.evalPairs, 1...(1 << 24)),
        ("policySteps", \.policySteps, 1...maxTrainerSteps),
        ("policyGroup", \.policyGroup, 1...64),
        ("dpoSteps", \.dpoSteps, 1...maxTrainerSteps),
        ("evalPrompts", \.evalPrompts, 1...(1 << 24)),
        ("loraRank", \.loraRank, 1...256),
    ]
    static let float: [(String, KeyPath<PipelineConfig, Float>)] = [
        ("grmRLLearningRate", \.grmRLLearningRate), ("policyLearningRate", \.policyLearningRate),
        ("sftLearningRate", \.sftLearningRate), ("judgeSFTLearningRate", \.judgeSFTLearningRate), ("loraAlpha", \.loraAlpha),
    ]
    /// Keys any value of their type suits, or checked below.
    /// (The model files and LoRA targets are checked by the run, which opens them.)
    static let other: Set<String> = ["name", "data", "output", "seed", "scalingGroups", "judgeFormat", "rewardFunctions",
                                     "languageModel", "imageTokenFrom", "loraTargets", "visionModel"]
    /// Every key a caller may set; a key PipelineConfig gains later is refused until it has a check here.
    static let checked = Set(int.map(\.0) + float.map(\.0)).union(other)

    static func validate(_ c: PipelineConfig) throws {
        guard c.rewardFunctions.isEmpty else {
            throw Failure(.unsupported, "rewardFunctions need Python, which libgrlhf does not embed: run them with `grlhf pipeline`, "
                          + "or train a policy on them with grlhf_grpo_trainer_create and grlhf_reward_create")
        }
        for (key, path, range) in int { try checkRange(c[keyPath: path], range, key) }
        for (key, path) in float { try checkFloat(c[keyPath: path], key) }
        for (value, key) in [(c.data, "data"), (c.output, "output")] where value.isEmpty {
            throw Failure.invalidArgument("\(key) is empty")
        }
        guard c.imageSize % c.patchSize == 0 else {
            throw Failure.invalidArgument("patchSize \(c.patchSize) does not divide imageSize \(c.imageSize)")
        }
        let patches = (c.imageSize / c.patchSize) * (c.imageSize / c.patchSize)
        guard patches <= 1024 else { throw Failure.invalidArgument("\(patches) patches per image are above 1024") }
        // Four attention heads in both towers, two key-value heads, an even head size for RoPE.
        guard c.visionWidth % 4 == 0 else { throw Failure.invalidArgument("visionWidth \(c.visionWidth) is not a multiple of 4 (heads)") }
        guard c.width % 8 == 0 else { throw Failure.invalidArgument("width \(c.width) is not a multiple of 8 (4 heads of an even size)") }
        guard c.scalingGroups.count <= 16 else { throw Failure.invalidArgument("scalingGroups has \(c.scalingGroups.count) entries, above 16") }
        for n in c.scalingGroups { try checkRange(n, 1...64, "scalingGroups entry") }
        // A rough bound on one step's activations (logits and every layer's hidden states for
        // the largest batch of rows over an image and a short text), which the engine would
        // otherwise meet in the allocator.
        let rows = Swift.max(c.batchSize, c.promptsPerStep * ([c.groupSize, c.policyGroup] + c.scalingGroups).max()!)
        var (vocab, width, layers, imageTokens) = (c.vocabSize, Swift.max(c.width, c.visionWidth), c.layers, patches)
        if !c.languageModel.isEmpty, let gguf = try? GGUFFile.open(c.languageModel), let t = try? DecoderLM.ggufConfig(gguf) {
            (vocab, width, layers) = (t.vocabSize, t.hiddenSize, t.numHiddenLayers)
        }
        if !c.visionModel.isEmpty { imageTokens = 49 }
        let bytes = saturatingProduct([rows, imageTokens + 256, vocab + 16 * width * layers, 4])
        guard bytes <= Tensor.maxBytes / 2 else {
            throw Failure(.outOfMemory, "\(rows) rows of this model size need activations above the memory limit")
        }
    }

    /// The seven sets, each with at least one row (the engine's trainers and evaluations need one).
    static func checkData(_ c: PipelineConfig) throws {
        func rows<T: Decodable>(_ file: String, _ type: T.Type) throws {
            let path = c.data + "/" + file
            guard FileManager.default.fileExists(atPath: path) else { throw Failure(.io, "\(path) does not exist") }
            guard try !JSONLines.read(type, from: path).isEmpty else { throw Failure.invalidArgument("\(path) has no rows") }
        }
        try rows("sft.jsonl", SFTExample.self)
        for file in ["prefs_train.jsonl", "prefs_test_id.jsonl", "prefs_test_ood.jsonl"] { try rows(file, PreferenceExample.self) }
        for file in ["prompts_train.jsonl", "prompts_test.jsonl", "prompts_test_ood.jsonl"] { try rows(file, PromptExample.self) }
    }
}

final class PipelineBox {
    let config: PipelineConfig
    let configJSON: String
    private let lock = NSLock()
    private var running = false
    private var summaryJSON: String?

    init(_ config: PipelineConfig) throws {
        self.config = config
        configJSON = try PipelineConfigCheck.json(config)
    }

    var summary: String? {
        lock.lock()
        defer { lock.unlock() }
        return summaryJSON
    }

    func run(log: ((String) -> Void)?) throws {
        lock.lock()
        if running {
            lock.unlock()
            throw Failure(.misuse, "the pipeline is already running (from its log callback or another thread)")
        }
        running = true
        lock.unlock()
        defer { lock.lock(); running = false; lock.unlock() }
        try PipelineConfigCheck.checkData(config)
        try Runtime.requireBLAS()
        let pipeline = Pipeline(config: config)
        pipeline.log = { log?($0) }
        let summary = try pipeline.run()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(summary), as: UTF8.self)
        lock.lock()
        summaryJSON = json
        lock.unlock()
    }
}

func pipelineBox(_ handle: OpaquePointer?) throws -> PipelineBox {
    try Handles.resolve(handle, .pipeline, as: PipelineBox.self)
}

public typealias LogCallback = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void

// MARK: - Entry points

@_cdecl("grlhf_pipeline_params_default")
public func grlhf_pipeline_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry { try PipelineParams.storeDefaults(out) }
}

@_cdecl("grlhf_pipeline_create")
public func grlhf_pipeline_create(_ params: UnsafeRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let box = try PipelineBox(try PipelineParams.load(params).resolved())
        return Handles.register(box, as: .pipeline)
    }
}

@_cdecl("grlhf_pipeline_config_json")
public func grlhf_pipeline_config_json(_ handle: OpaquePointer?, _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                                       _ length: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        length?.pointee = 0
        try writeString(try pipelineBox(handle).configJSON, buf, capacity, length)
    }
}

@_cdecl("grlhf_pipeline_run")
public func grlhf_pipeline_run(_ handle: OpaquePointer?, _ log: LogCallback?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    entry {
        let box = try pipelineBox(handle)
        try box.run(log: log.map { log in
            { text in
                for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                    String(line).withCString { log(userData, $0) }
                }
            }
        })
    }
}

@_cdecl("grlhf_pipeline_summary_json")
public func grlhf_pipeline_summary_json(_ handle: OpaquePointer?, _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                                        _ length: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        length?.pointee = 0
        let box = try pipelineBox(handle)
        // The arguments first, then the state: bad arguments are reported as such before any run.
        _ = try required(length, "length")
        guard capacity >= 0 else { throw Failure.invalidArgument("capacity \(capacity) is negative") }
        guard buf != nil || capacity == 0 else { throw Failure.invalidArgument("buf is NULL but capacity is \(capacity)") }
        guard let summary = box.summary else { throw Failure(.misuse, "the pipeline has not finished a run yet") }
        try writeString(summary, buf, capacity, length)
    }
}

@_cdecl("grlhf_pipeline_free")
public func grlhf_pipeline_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .pipeline)
}
