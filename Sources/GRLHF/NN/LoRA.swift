import Foundation

/// The settings of a LoRA adapter, read from and written to PEFT's `adapter_config.json`.
///
/// grlhf implements PEFT's default LoRA: `target_modules` as a list, scale alpha / r, `bias`
/// "none". Dropout is not implemented (grlhf writes `lora_dropout` 0; a file with another value
/// loads, since dropout changes training only, not the adapted function). Files that use other
/// PEFT features (rsLoRA, DoRA, `modules_to_save`, rank patterns, a regular expression as
/// `target_modules`, …) are refused as unsupported rather than misread.
public struct LoRAConfig: Codable, Equatable, Sendable {
    /// Rank r of the update B·A.
    public var rank: Int
    /// The update is scaled by alpha / r.
    public var alpha: Float
    /// A `Linear` is adapted when its dotted module path equals one of these or ends with "."
    /// and one of them (PEFT's list form: ["q_proj", "v_proj"] adapts every attention q and v).
    public var targetModules: [String]
    /// Recorded in `adapter_config.json` for PEFT; grlhf does not read it.
    public var baseModelNameOrPath: String

    public var scale: Float { alpha / Float(rank) }

    /// PEFT's defaults: r 8, alpha 8, the attention query and value projections.
    public init(rank: Int = 8, alpha: Float = 8, targetModules: [String] = ["q_proj", "v_proj"], baseModelNameOrPath: String = "") {
        self.rank = rank; self.alpha = alpha; self.targetModules = targetModules; self.baseModelNameOrPath = baseModelNameOrPath
    }

    public func validate() throws {
        guard rank > 0, alpha.isFinite, !targetModules.isEmpty, !targetModules.contains("") else {
            throw GRLHFError.invalidArgument("LoRA: r \(rank), lora_alpha \(alpha), target_modules \(targetModules) invalid")
        }
    }

    /// Whether the module at `path` gets an adapter (PEFT's rule for a list of targets).
    public func targets(_ path: String) -> Bool {
        targetModules.contains { path == $0 || path.hasSuffix("." + $0) }
    }

    /// Keys of `adapter_config.json` that may hold any value: read above, or metadata, or
    /// settings that matter only when PEFT creates an adapter. Every other key must be off (null,
    /// false, {} or []): it names a feature (DoRA, rsLoRA, `exclude_modules`, …) that changes
    /// the adapted function, so a file using one is refused rather than misread.
    static let harmlessKeys: Set<String> = [
        "peft_type", "task_type", "r", "lora_alpha", "target_modules", "bias", "lora_dropout", "base_model_name_or_path",
        "revision", "peft_version", "auto_mapping", "inference_mode", "init_lora_weights", "loftq_config", "eva_config",
        "corda_config", "megatron_config", "megatron_core", "qalora_group_size", "layers_pattern", "ensure_weight_tying",
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        func unsupported(_ key: String, _ what: String) -> GRLHFError {
            .unsupported("adapter_config.json: \(key) \(what) is not supported")
        }
        if let type = try c.decodeIfPresent(String.self, forKey: "peft_type"), type != "LORA" { throw unsupported("peft_type", type) }
        if let bias = try c.decodeIfPresent(String.self, forKey: "bias"), bias != "none" { throw unsupported("bias", bias) }
        if (try? c.decode(String.self, forKey: "target_modules")) != nil { throw unsupported("target_modules", "as a regular expression") }
        for key in c.allKeys where !Self.harmlessKeys.contains(key.stringValue) {
            guard try c.decode(FeatureOff.self, forKey: key).off else { throw unsupported(key.stringValue, "(set)") }
        }
        self.init(rank: try c.decode(Int.self, forKey: "r"), alpha: try c.decode(Float.self, forKey: "lora_alpha"),
                  targetModules: try c.decode([String].self, forKey: "target_modules"),
                  baseModelNameOrPath: try c.decodeIfPresent(String.self, forKey: "base_model_name_or_path") ?? "")
        try validate()
    }

    /// The fields PEFT needs to rebuild the same adapter, with the defaults spelled out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode("LORA", forKey: "peft_type"); try c.encode("CAUSAL_LM", forKey: "task_type")
        try c.encode(rank, forKey: "r"); try c.encode(alpha, forKey: "lora_alpha")
        try c.encode(targetModules, forKey: "target_modules"); try c.encode(baseModelNameOrPath, forKey: "base_model_name_or_path")
        try c.encode("none", forKey: "bias"); try c.encode(Float(0), forKey: "lora_dropout")
        try c.encode(true, forKey: "inference_mode"); try c.encode(true, forKey: "init_lora_weights")
        for key: JSONKey in ["fan_in_fan_out", "use_rslora", "use_dora"] { try c.encode(false, forKey: key) }
        try c.encodeNil(forKey: "modules_to_save")
    }
}

/// Any key of a JSON object.
struct JSONKey: CodingKey, ExpressibleByStringLiteral {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    init(stringLiteral value: String) { stringValue = value }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// Whether a JSON value leaves a feature off: null, false, {} or [].
private struct FeatureOff: Decodable {
    let off: Bool
    init(from decoder: Decoder) throws {
        if let c = try? decoder.singleValueContainer(), c.decodeNil() { off = true }
        else if let b = try? decoder.singleValueContainer().decode(Bool.self) { off = !b }
        else if let object = try? decoder.container(keyedBy: JSONKey.self) { off = object.allKeys.isEmpty }
        else if let array = try? decoder.unkeyedContainer() { off = array.count == 0 }
        else { off = false }
    }
}

/// The low-rank update of one `Linear`: scale · (x Aᵀ) Bᵀ, with A [r, in] and B [out, r].
public final class LoRAAdapter {
    public let a: Tensor, b: Tensor
    public let scale: Float

    init(a: Tensor, b: Tensor, scale: Float) {
        self.a = a; self.b = b; self.scale = scale
        a.requiresGrad = true; b.requiresGrad = true
    }

    /// The scale goes on the r-wide intermediate, the smallest of the three products.
    func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.linear(Tensor.linear(x, weight: a, bias: nil) * scale, weight: b, bias: nil)
    }
}

/// LoRA (Hu et al., 2021) on any module tree, as PEFT does it: every `Linear` that
/// `config.targetModules` names computes base(x) + (alpha/r) · (x Aᵀ) Bᵀ, with A drawn as
/// PEFT's kaiming-uniform (±1/√in) and B = 0, so the model starts as exactly the base function.
/// Attaching freezes every base parameter; `Module.trainableParameters()` then lists only the
/// adapters. The adapters are not parameters of the model: `namedParameters`, `save` and `load`
/// of the model see the plain base checkpoint, and `save(directory:)` here writes the adapter as
/// PEFT does (`adapter_config.json`, `adapter_model.safetensors`). To train more than the
/// adapters (a head, the embeddings), set those parameters' `requiresGrad` after attaching. The
/// model keeps its adapters if this object is dropped; `detach` or `merge` removes them.
public final class LoRA {
    public let config: LoRAConfig
    /// The adapters with the module paths of their layers (relative to the model attached to),
    /// in model order. They stay here after `detach` or `merge`, so they can still be saved.
    public let adapters: [(path: String, adapter: LoRAAdapter)]
    public private(set) var isAttached = true
    private let layers: [Linear]
    /// The base parameters' `requiresGrad` before attaching, restored by `detach` and `merge`.
    private let baseFlags: [(tensor: Tensor, requiresGrad: Bool)]

    private init(config: LoRAConfig, layers: [(path: String, linear: Linear)], model: Module, seed: UInt64) {
        self.config = config
        self.layers = layers.map(\.linear)
        var rng = PCG32(seed: seed)
        adapters = layers.map { path, linear in
            let (out, inputs) = (linear.weight.shape[0], linear.weight.shape[1])
            let bound = 1 / Float(inputs).squareRoot()  // kaiming_uniform_(a: √5), as PEFT
            return (path, LoRAAdapter(a: Tensor.uniform([config.rank, inputs], low: -bound, high: bound, rng: &rng),
                                      b: Tensor(zeros: [out, config.rank]), scale: config.scale))
        }
        baseFlags = model.parameters.map { ($0, $0.requiresGrad) }
        for p in model.parameters { p.requiresGrad = false }
        for (linear, (_, adapter)) in zip(self.layers, adapters) { linear.adapter = adapter }
    }

    /// Adds adapters to every matching `Linear` of `model` and freezes its parameters. Throws if
    /// nothing matches, a match is not a `Linear`, or a layer already has an adapter.
    public static func attach(to model: Module, config: LoRAConfig, seed: UInt64 = 0) throws -> LoRA {
        try config.validate()
        var layers: [(path: String, linear: Linear)] = []
        for (path, module) in model.namedModules() where config.targets(path) {
            guard let linear = module as? Linear else {
                throw GRLHFError.unsupported("LoRA: \(path) matches target_modules but is a \(type(of: module)), not a Linear")
            }
            guard linear.adapter == nil else { throw GRLHFError.invalidArgument("LoRA: \(path) already has an adapter") }
            let (width, overflow) = config.rank.multipliedReportingOverflow(by: max(linear.weight.shape[0], linear.weight.shape[1]))
            guard !overflow, width <= Tensor.maxBytes / 4 else {
                throw GRLHFError.outOfMemory("LoRA: rank \(config.rank) adapters for \(path) exceed \(Tensor.maxBytes) bytes")
            }
            layers.append((path, linear))
        }
        guard !layers.isEmpty else {
            throw GRLHFError.invalidArgument("LoRA: no Linear of the model matches target_modules \(config.targetModules)")
        }
        return LoRA(config: config, layers: layers, model: model, seed: seed)
    }

    /// Attaches the adapter saved in `directory` (by `save` or PEFT's `save_pretrained`) to
    /// `model`. On any error the model is left as it was.
    public static func load(directory: String, into model: Module) throws -> LoRA {
        let lora = try attach(to: model, config: readConfig(directory))
        do { try lora.load(directory: directory) } catch { lora.detach(); throw error }
        return lora
    }

    /// The adapter tensors under PEFT's names, `base_model.model.<path>.lora_A.weight` [r, in]
    /// and `.lora_B.weight` [out, r], sharing storage with the adapters (what `save` writes and
    /// what a trainer checkpoints).
    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        adapters.flatMap { path, adapter in
            [("base_model.model.\(path).lora_A.weight", adapter.a), ("base_model.model.\(path).lora_B.weight", adapter.b)]
        }
    }

    /// Removes the adapters, leaving the base function, and restores the base parameters'
    /// trainability. Nothing happens once detached or merged.
    public func detach() {
        guard isAttached else { return }
        for linear in layers { linear.adapter = nil }
        for (tensor, flag) in baseFlags { tensor.requiresGrad = flag }
        isAttached = false
    }

    /// Folds the update into the base weights (W += (alpha/r) · B · A), then detaches: the model
    /// keeps computing the adapted function, as a plain checkpoint. Nothing happens once detached.
    public func merge() {
        guard isAttached else { return }
        withNoGrad {
            for (linear, (_, adapter)) in zip(layers, adapters) {
                let delta = adapter.b.matmul(adapter.a)
                withExtendedLifetime(delta) { Kernels.axpy(adapter.scale, delta.data, linear.weight.data, delta.count) }
            }
        }
        detach()
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` (PEFT's names and layout)
    /// into `directory`, each file atomically.
    public func save(directory: String) throws {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw GRLHFError.io("\(directory): cannot create the directory (\(error.localizedDescription))")
        }
        try AtomicFile.writeJSON(config, to: Self.path(directory, Self.configFile))
        try Safetensors.write(namedParameters(), to: Self.path(directory, Self.weightsFile), metadata: ["format": "pt"])
    }

    /// Reads adapter values saved in `directory` into these adapters. The file must hold exactly
    /// this adapter's tensors with their shapes, under the same r and alpha; nothing is changed
    /// unless it does.
    public func load(directory: String) throws {
        let saved = try Self.readConfig(directory)
        guard saved.rank == config.rank, saved.alpha == config.alpha else {
            throw GRLHFError.invalidFormat("\(Self.path(directory, Self.configFile)): r \(saved.rank), lora_alpha \(saved.alpha), "
                + "but the attached adapters have r \(config.rank), lora_alpha \(config.alpha)")
        }
        let file = Self.path(directory, Self.weightsFile)
        let tensors: [String: Tensor]
        do {
            tensors = Dictionary(try Safetensors.read(contentsOf: file).map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        } catch { throw GRLHFError(error) }
        let expected = namedParameters()
        for (name, t) in expected {
            guard let found = tensors[name] else { throw GRLHFError.invalidFormat("\(file): missing tensor \(name)") }
            guard found.shape == t.shape else {
                throw GRLHFError.invalidFormat("\(file): tensor \(name) has shape \(found.shape), expected \(t.shape)")
            }
        }
        let extra = Set(tensors.keys).subtracting(expected.map(\.name)).sorted()
        if let base = extra.first(where: { $0.hasSuffix(".base_layer.weight") }) {
            throw GRLHFError.unsupported("\(file): \(base): base weights in an adapter (PEFT's save_embedding_layers) are not supported")
        }
        guard extra.isEmpty else { throw GRLHFError.invalidFormat("\(file): tensors of no adapted layer \(extra.prefix(5))") }
        for (name, t) in expected { t.data.update(from: tensors[name]!.data, count: t.count) }
    }

    static let configFile = "adapter_config.json", weightsFile = "adapter_model.safetensors"

    static func path(_ directory: String, _ file: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent(file).path
    }

    /// The decoded `adapter_config.json`; engine errors pass through, anything else is a format error.
    static func readConfig(_ directory: String) throws -> LoRAConfig {
        let file = path(directory, configFile)
        guard let data = FileManager.default.contents(atPath: file) else { throw GRLHFError.io("\(file): cannot read") }
        do { return try JSONDecoder().decode(LoRAConfig.self, from: data) } catch let e as GRLHFError { throw e } catch {
            throw GRLHFError.invalidFormat("\(file): \(error)")
        }
    }
}

extension Module {
    /// Every descendant module with its dotted path, depth-first in registration order.
    func namedModules(prefix: String = "") -> [(path: String, module: Module)] {
        children.flatMap { [(prefix + $0.name, $0.module)] + $0.module.namedModules(prefix: prefix + $0.name + ".") }
    }
}
