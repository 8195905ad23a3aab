import Foundation

extension DecoderLM {
    /// Loads a Llama-architecture GGUF (llama.cpp's names: `token_embd`, `blk.N.attn_q/k/v/output`,
    /// `ffn_gate/up/down`, `attn_norm`, `ffn_norm`, `output_norm`, `output`; the head is tied to
    /// the embedding when `output.weight` is absent), every tensor dequantized to float32.
    ///
    /// llama.cpp's HF→GGUF conversion permutes the rows of q and k within each head so that RoPE
    /// rotates adjacent pairs (x[2i], x[2i+1]); this loader undoes that permutation, so the model
    /// is the Hugging Face one (half-split RoPE, `rotate_half`) and `save(directory:)` writes a
    /// checkpoint transformers reads. The permutation is exact, so the logits are llama.cpp's
    /// adjacent-pair forward on the same weights.
    ///
    /// Every tensor the config implies is checked for presence, type and shape before anything
    /// is allocated, so a crafted file cannot claim more memory than its tensors' bytes imply.
    ///
    /// `quantized`: matrices stored as Q8_0, Q4_0 or Q4_1 also keep their blocks
    /// (`Linear.quantized`), which decode without gradients multiplies directly; the float32
    /// weights stay for training and long prompts.
    public static func load(gguf path: String, quantized: Bool = false) throws -> DecoderLM {
        try load(gguf: GGUFFile.open(path), quantized: quantized)
    }

    public static func load(gguf f: GGUFFile, quantized: Bool = false) throws -> DecoderLM {
        let config = try ggufConfig(f)
        let model = try DecoderLM(config, seed: 0, std: 0)
        // Plan: every parameter's GGUF tensor, with its shape checked, before reading any data.
        var plan: [(param: Tensor, info: GGUFTensorInfo, permuteHeads: Int?)] = []
        var used = Set<String>()
        for (name, param) in model.namedParameters() {
            guard let (source, heads) = ggufName(for: name, config: config) else {
                throw GRLHFError.internal("gguf: no GGUF name for parameter \(name)")
            }
            guard let info = f.tensorInfo(named: source) else { throw GGUFError.missingTensor(source) }
            guard info.shape == param.shape else {
                throw GRLHFError.invalidFormat("gguf: tensor \"\(source)\" has shape \(info.shape) (ne \(info.dimensions)), expected \(param.shape)")
            }
            guard info.type.isSupported else { throw GGUFError.unsupportedTensorType(name: source, type: info.type.name) }
            plan.append((param, info, heads))
            used.insert(source)
        }
        let extra = f.tensors.map(\.name).filter { !used.contains($0) }
        guard extra.isEmpty else {
            throw GRLHFError.unsupported("gguf: tensors grlhf does not map onto a Llama decoder: \(extra.prefix(5))")
        }
        let linears = quantized ? model.linearsByWeight() : [:]
        for (param, info, heads) in plan {
            // GGUF row h·D + 2i + j holds HF row h·D + j·D/2 + i: HF row r comes from GGUF row order[r].
            let order = heads.map { heads in
                let d = param.shape[0] / heads, half = d / 2
                return (0 ..< param.shape[0]).map { r in (r / d) * d + 2 * (r % d % half) + (r % d) / half }
            }
            if let order {
                let tmp = try GGUFFile.allocate(info)
                try f.read(info, into: tmp.data)
                let cols = param.shape[1]
                for (r, source) in order.enumerated() { (param.data + r * cols).update(from: tmp.data + source * cols, count: cols) }
            } else {
                try f.read(info, into: param.data)
            }
            guard quantized, QuantizedMatrix.types.contains(info.type.id), param.rank == 2 else { continue }
            let blocks = try f.withBytes(info) {
                try QuantizedMatrix(type: info.type, rows: param.shape[0], cols: param.shape[1], source: $0, rowOrder: order)
            }
            if param === model.embed.weight && model.head == nil { model.quantizedEmbedding = blocks }
            linears[ObjectIdentifier(param)]?.quantized = blocks
        }
        return model
    }

    /// The config a Llama GGUF's metadata and embedding shape describe.
    public static func ggufConfig(_ f: GGUFFile) throws -> Config {
        guard let arch = try f.string("general.architecture") else { throw GGUFError.missingKey("general.architecture") }
        guard arch == "llama" else {
            throw GRLHFError.unsupported("gguf: architecture \"\(arch)\" (only llama is mapped onto DecoderLM)")
        }
        func required(_ key: String) throws -> Int {
            guard let v = try f.int("llama.\(key)") else { throw GGUFError.missingKey("llama.\(key)") }
            guard v > 0, v <= 1 << 24 else { throw GRLHFError.invalidFormat("gguf: llama.\(key) = \(v) is out of range") }
            return v
        }
        let layers = try required("block_count"), hidden = try required("embedding_length")
        let ffn = try required("feed_forward_length"), heads = try required("attention.head_count")
        let kvHeads = try f.int("llama.attention.head_count_kv") ?? heads
        guard let eps = try f.double("llama.attention.layer_norm_rms_epsilon") else {
            throw GGUFError.missingKey("llama.attention.layer_norm_rms_epsilon")
        }
        let theta = try f.double("llama.rope.freq_base") ?? 10000
        if let scaling = try f.string("llama.rope.scaling.type"), scaling != "none" {
            throw GRLHFError.unsupported("gguf: llama.rope.scaling.type \"\(scaling)\" is not supported")
        }
        guard let embd = f.tensorInfo(named: "token_embd.weight") else { throw GGUFError.missingTensor("token_embd.weight") }
        guard embd.dimensions.count == 2, embd.dimensions[0] == hidden, embd.dimensions[1] > 0 else {
            throw GRLHFError.invalidFormat("gguf: token_embd.weight has ne \(embd.dimensions), expected [\(hidden), vocabulary]")
        }
        let vocab = embd.dimensions[1]
        if let v = try f.int("llama.vocab_size"), v != vocab {
            throw GRLHFError.invalidFormat("gguf: llama.vocab_size \(v) differs from token_embd.weight's \(vocab) rows")
        }
        guard heads > 0, hidden % heads == 0, kvHeads > 0, heads % kvHeads == 0 else {
            throw GRLHFError.invalidFormat("gguf: \(heads) heads (\(kvHeads) key/value) do not divide width \(hidden)")
        }
        let headDim = hidden / heads
        if let rd = try f.int("llama.rope.dimension_count"), rd != headDim {
            throw GRLHFError.unsupported("gguf: llama.rope.dimension_count \(rd) (partial rotary) differs from the head size \(headDim)")
        }
        let config = Config(modelType: "llama", vocabSize: vocab, hiddenSize: hidden, intermediateSize: ffn,
                            numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim: headDim,
                            rmsNormEps: Float(eps), ropeTheta: Float(theta),
                            maxPositionEmbeddings: try f.int("llama.context_length") ?? 2048,
                            tieWordEmbeddings: f.tensorInfo(named: "output.weight") == nil)
        try config.validate()
        // Bound the allocation by the file: every matrix must be there before the model exists.
        let kvWidth = kvHeads * headDim
        let ne: [String: [Int]] = [
            "attn_q": [hidden, hidden], "attn_k": [hidden, kvWidth], "attn_v": [hidden, kvWidth],
            "attn_output": [hidden, hidden], "ffn_gate": [hidden, ffn], "ffn_up": [hidden, ffn], "ffn_down": [ffn, hidden],
            "attn_norm": [hidden], "ffn_norm": [hidden],
        ]
        for l in 0 ..< layers {
            for (t, dims) in ne {
                let name = "blk.\(l).\(t).weight"
                guard let info = f.tensorInfo(named: name) else { throw GGUFError.missingTensor(name) }
                guard info.dimensions == dims else {
                    throw GRLHFError.invalidFormat("gguf: tensor \"\(name)\" has ne \(info.dimensions), expected \(dims)")
                }
            }
        }
        return config
    }

    /// The GGUF tensor of a Hugging Face parameter name, and the head count when its rows are
    /// permuted (q and k).
    static func ggufName(for name: String, config c: Config) -> (String, Int?)? {
        switch name {
        case "model.embed_tokens.weight": return ("token_embd.weight", nil)
        case "model.norm.weight": return ("output_norm.weight", nil)
        case "lm_head.weight": return ("output.weight", nil)
        default: break
        }
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count >= 5, parts[0] == "model", parts[1] == "layers", let l = Int(parts[2]) else { return nil }
        let rest = parts[3...].joined(separator: ".")
        let table: [String: (String, Int?)] = [
            "input_layernorm.weight": ("attn_norm.weight", nil),
            "post_attention_layernorm.weight": ("ffn_norm.weight", nil),
            "self_attn.q_proj.weight": ("attn_q.weight", c.numAttentionHeads),
            "self_attn.k_proj.weight": ("attn_k.weight", c.numKeyValueHeads),
            "self_attn.v_proj.weight": ("attn_v.weight", nil),
            "self_attn.o_proj.weight": ("attn_output.weight", nil),
            "mlp.gate_proj.weight": ("ffn_gate.weight", nil),
            "mlp.up_proj.weight": ("ffn_up.weight", nil),
            "mlp.down_proj.weight": ("ffn_down.weight", nil),
        ]
        guard let (suffix, heads) = table[rest] else { return nil }
        return ("blk.\(l).\(suffix)", heads)
    }
}
