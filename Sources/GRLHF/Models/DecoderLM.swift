import Foundation

/// A decoder-only language model of the Llama and Qwen2 families (Hugging Face
/// `LlamaForCausalLM`, `Qwen2ForCausalLM`): RMSNorm, rotary positions (half-split, as
/// `rotate_half`), grouped-query attention, SwiGLU, tied or untied head. Parameter names are the
/// Hugging Face keys (`model.layers.0.self_attn.q_proj.weight`), so `model.safetensors` loads as is.
public final class DecoderLM: Module {
    /// The fields of a Hugging Face `config.json` this model reads (other keys are ignored).
    public struct Config: Codable, Equatable, Sendable {
        public var modelType: String
        public var vocabSize: Int
        public var hiddenSize: Int
        public var intermediateSize: Int
        public var numHiddenLayers: Int
        public var numAttentionHeads: Int
        public var numKeyValueHeads: Int
        public var headDim: Int
        public var rmsNormEps: Float
        public var ropeTheta: Float
        public var maxPositionEmbeddings: Int
        public var tieWordEmbeddings: Bool
        /// Biases on q/k/v (Qwen2 always; Llama when `attention_bias`).
        public var qkvBias: Bool
        /// Bias on o_proj (Llama `attention_bias`; never in Qwen2).
        public var outputBias: Bool
        public var mlpBias: Bool

        enum CodingKeys: String, CodingKey {
            case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
            case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
            case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
            case headDim = "head_dim", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
            case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
            case attentionBias = "attention_bias", mlpBias = "mlp_bias", ropeScaling = "rope_scaling"
            case ropeParameters = "rope_parameters", hiddenAct = "hidden_act", useSlidingWindow = "use_sliding_window"
            case architectures
        }

        /// transformers ≥ 5 writes `rope_parameters: {rope_theta, rope_type}`; older files
        /// `rope_theta` beside `rope_scaling`.
        struct RopeParameters: Decodable {
            var ropeTheta: Float?
            var ropeType: String?
            enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", ropeType = "rope_type" }
        }

        public init(modelType: String = "llama", vocabSize: Int, hiddenSize: Int, intermediateSize: Int,
                    numHiddenLayers: Int, numAttentionHeads: Int, numKeyValueHeads: Int? = nil, headDim: Int? = nil,
                    rmsNormEps: Float = 1e-6, ropeTheta: Float = 10000, maxPositionEmbeddings: Int = 2048,
                    tieWordEmbeddings: Bool = false, attentionBias: Bool = false, mlpBias: Bool = false) {
            self.modelType = modelType; self.vocabSize = vocabSize; self.hiddenSize = hiddenSize
            self.intermediateSize = intermediateSize; self.numHiddenLayers = numHiddenLayers
            self.numAttentionHeads = numAttentionHeads; self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
            self.headDim = headDim ?? hiddenSize / max(numAttentionHeads, 1)
            self.rmsNormEps = rmsNormEps; self.ropeTheta = ropeTheta; self.maxPositionEmbeddings = maxPositionEmbeddings
            self.tieWordEmbeddings = tieWordEmbeddings
            qkvBias = modelType == "qwen2" || attentionBias
            outputBias = modelType != "qwen2" && attentionBias
            self.mlpBias = mlpBias
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let type = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "llama"
            guard ["llama", "qwen2"].contains(type) else {
                throw GRLHFError.unsupported("config.json: model_type \"\(type)\" (supported: llama, qwen2)")
            }
            if c.contains(.ropeScaling), try !c.decodeNil(forKey: .ropeScaling) {
                throw GRLHFError.unsupported("config.json: rope_scaling is not supported yet")
            }
            let rope = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
            if let type = rope?.ropeType, type != "default" {
                throw GRLHFError.unsupported("config.json: rope_type \"\(type)\" is not supported yet")
            }
            if let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct), act != "silu" {
                throw GRLHFError.unsupported("config.json: hidden_act \"\(act)\" (the SwiGLU MLP needs silu)")
            }
            if try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow) == true {
                throw GRLHFError.unsupported("config.json: sliding-window attention is not supported yet")
            }
            let heads = try c.decode(Int.self, forKey: .numAttentionHeads)
            let hidden = try c.decode(Int.self, forKey: .hiddenSize)
            let headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
            if headDim == nil && (heads <= 0 || hidden % heads != 0) {
                throw GRLHFError.invalidArgument("config.json: hidden_size \(hidden) is not a multiple of num_attention_heads \(heads)")
            }
            self.init(modelType: type, vocabSize: try c.decode(Int.self, forKey: .vocabSize),
                      hiddenSize: hidden,
                      intermediateSize: try c.decode(Int.self, forKey: .intermediateSize),
                      numHiddenLayers: try c.decode(Int.self, forKey: .numHiddenLayers),
                      numAttentionHeads: heads,
                      numKeyValueHeads: try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads),
                      headDim: headDim,
                      rmsNormEps: try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6,
                      ropeTheta: try rope?.ropeTheta ?? c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? 10000,
                      maxPositionEmbeddings: try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048,
                      tieWordEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false,
                      attentionBias: try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false,
                      mlpBias: try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false)
            try validate()
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(modelType, forKey: .modelType)
            try c.encode([modelType == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"], forKey: .architectures)
            try c.encode(vocabSize, forKey: .vocabSize); try c.encode(hiddenSize, forKey: .hiddenSize)
            try c.encode(intermediateSize, forKey: .intermediateSize); try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
            try c.encode(numAttentionHeads, forKey: .numAttentionHeads); try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
            try c.encode(headDim, forKey: .headDim); try c.encode(rmsNormEps, forKey: .rmsNormEps)
            try c.encode(ropeTheta, forKey: .ropeTheta); try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
            try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
            if modelType != "qwen2" { try c.encode(outputBias, forKey: .attentionBias) }
            try c.encode(mlpBias, forKey: .mlpBias)
        }

        /// Every size positive and consistent (heads divide evenly, even head size for RoPE).
        public func validate() throws {
            let sizes = [vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads, headDim]
            guard sizes.allSatisfy({ $0 > 0 }), numAttentionHeads % numKeyValueHeads == 0, headDim % 2 == 0,
                  rmsNormEps > 0, ropeTheta > 0 else {
                throw GRLHFError.invalidArgument("config: inconsistent sizes \(self)")
            }
        }
    }

    final class Layer: Module {
        let inputNorm: RMSNorm, postNorm: RMSNorm
        let q: Linear, k: Linear, v: Linear, o: Linear
        let mlp: MLP

        init(_ c: Config, std: Float, rng: inout PCG32) {
            let qWidth = c.numAttentionHeads * c.headDim, kvWidth = c.numKeyValueHeads * c.headDim
            inputNorm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
            postNorm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
            q = Linear(c.hiddenSize, qWidth, bias: c.qkvBias, std: std, rng: &rng)
            k = Linear(c.hiddenSize, kvWidth, bias: c.qkvBias, std: std, rng: &rng)
            v = Linear(c.hiddenSize, kvWidth, bias: c.qkvBias, std: std, rng: &rng)
            o = Linear(qWidth, c.hiddenSize, bias: c.outputBias, std: std, rng: &rng)
            mlp = MLP(dim: c.hiddenSize, hidden: c.intermediateSize, kind: .swiglu, bias: c.mlpBias, std: std, rng: &rng)
            super.init()
            register("input_layernorm", inputNorm)
            let attention = Module()
            attention.register("q_proj", q); attention.register("k_proj", k)
            attention.register("v_proj", v); attention.register("o_proj", o)
            register("self_attn", attention)
            register("post_attention_layernorm", postNorm)
            register("mlp", mlp)
        }

        /// With a cache, x holds the new tokens only: their keys and values are appended to
        /// layer `index` of the cache and the queries attend to everything cached.
        func callAsFunction(_ x: Tensor, positions: [Int], config c: Config, cache: KVCache? = nil, index: Int = 0) -> Tensor {
            let h = inputNorm(x)                                                               // [B, T, H]
            let rope = { (t: Tensor, heads: Int) in
                t.rope(heads: heads, positions: positions, base: c.ropeTheta, layout: .halfSplit)
            }
            let queries = rope(q(h), c.numAttentionHeads), keys = rope(k(h), c.numKeyValueHeads), values = v(h)
            let a: Tensor                                                                      // [B, T, heads·D]
            if let cache {
                cache.write(layer: index, k: keys, v: values)
                a = Tensor.attention(q: queries, kCache: cache.keys[index], vCache: cache.values[index],
                                     length: cache.length + x.shape[1], heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads,
                                     keyLengths: cache.keyLimits(forNew: x.shape[1]))
            } else {
                a = Tensor.attention(q: queries, k: keys, v: values, heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads)
            }
            let r = x + o(a)
            return r + mlp(postNorm(r))
        }
    }

    public let config: Config
    let embed: Embedding, layers: ModuleList<Layer>, norm: RMSNorm, head: Linear?
    /// The tied head's embedding in a ggml block format (see `Linear.quantized`).
    var quantizedEmbedding: QuantizedMatrix?

    /// A randomly initialized model (normal, std 0.02; norms at 1) from `config`.
    public convenience init(_ config: Config, seed: UInt64 = 0) throws {
        try self.init(config, seed: seed, std: 0.02)
    }

    /// std 0: every weight zero, nothing drawn (a model whose weights are loaded next).
    init(_ config: Config, seed: UInt64, std: Float) throws {
        try config.validate()
        self.config = config
        var rng = PCG32(seed: seed)
        embed = Embedding(config.vocabSize, config.hiddenSize, std: std, rng: &rng)
        layers = ModuleList((0..<config.numHiddenLayers).map { _ in Layer(config, std: std, rng: &rng) })
        norm = RMSNorm(config.hiddenSize, eps: config.rmsNormEps)
        head = config.tieWordEmbeddings ? nil : Linear(config.hiddenSize, config.vocabSize, bias: false, std: std, rng: &rng)
        super.init()
        let model = Module()
        model.register("embed_tokens", embed); model.register("layers", layers); model.register("norm", norm)
        register("model", model)
        if let head { register("lm_head", head) }
    }

    /// Loads `config.json` and `model.safetensors` from a Hugging Face model directory.
    public static func load(directory: String) throws -> DecoderLM {
        let config = try ModelDirectory.config(directory, as: Config.self)
        let model = try DecoderLM(config)
        // Tied checkpoints may still carry lm_head.weight, old ones the rotary inverse frequencies.
        try ModelDirectory.loadWeights(directory, into: model) {
            (config.tieWordEmbeddings && $0 == "lm_head.weight") || $0.hasSuffix("rotary_emb.inv_freq")
        }
        return model
    }

    /// Writes `config.json` and `model.safetensors` (Hugging Face layout) into `directory`.
    public func save(directory: String) throws {
        try ModelDirectory.save(directory, config: config, module: self)
    }

    /// Logits [B, T, V] for token ids [B·T], row by row, at positions 0..<T.
    public func callAsFunction(_ ids: [Int32], batch: Int, time: Int) -> Tensor {
        require(ids.count == batch * time, "DecoderLM: \(ids.count) ids for \(batch)×\(time)")
        return forward(ids, batch: batch, time: time, cache: nil)
    }

    /// Logits [B, T, V] of T new tokens per sequence appended after what `cache` holds (see
    /// `KVCache.positions`); their keys and values join the cache.
    public func callAsFunction(_ ids: [Int32], cache: KVCache) -> Tensor {
        require(ids.count % cache.batch == 0 && cache.length + ids.count / cache.batch <= cache.capacity,
                "DecoderLM: \(ids.count) ids for a cache of \(cache.batch) at \(cache.length)/\(cache.capacity)")
        let t = ids.count / cache.batch
        defer { cache.advance(by: t) }
        return forward(ids, batch: cache.batch, time: t, cache: cache)
    }

    /// A cache sized for this model.
    public func makeCache(batch: Int, capacity: Int) -> KVCache {
        KVCache(layers: config.numHiddenLayers, batch: batch, capacity: capacity, kvWidth: config.numKeyValueHeads * config.headDim)
    }

    func forward(_ ids: [Int32], batch: Int, time: Int, cache: KVCache?) -> Tensor {
        logits(hiddenStates(embeddings(ids, batch: batch, time: time), cache: cache))
    }

    /// Token embeddings [B, T, H] of ids [B·T] (where a multimodal model splices in image features).
    public func embeddings(_ ids: [Int32], batch: Int, time: Int) -> Tensor {
        require(ids.allSatisfy { $0 >= 0 && Int($0) < config.vocabSize }, "DecoderLM: token id outside the vocabulary of \(config.vocabSize)")
        return embed(ids, shape: [batch, time])
    }

    /// Final-normed hidden states [B, T, H] of input embeddings [B, T, H], continuing `cache` if
    /// given (the caller then advances it), else at positions 0..<T.
    public func hiddenStates(_ embeddings: Tensor, cache: KVCache? = nil) -> Tensor {
        let time = embeddings.shape[1]
        let positions = cache?.positions(forNew: time) ?? Array(0..<time)
        var x = embeddings
        for (i, layer) in layers.items.enumerated() { x = layer(x, positions: positions, config: config, cache: cache, index: i) }
        return norm(x)
    }

    /// Next-token logits [B, T, V] of hidden states [B, T, H] (tied head: the embedding matrix).
    /// An untied head goes through its `Linear`, so a LoRA adapter on lm_head applies.
    public func logits(_ hidden: Tensor) -> Tensor {
        head.map { $0(hidden) } ?? quantizedEmbedding?.linear(hidden, bias: nil) ?? Tensor.linear(hidden, weight: embed.weight, bias: nil)
    }

    /// Next-token cross-entropy as Hugging Face computes it with `labels = input_ids`: position t
    /// predicts token t+1, the last position of each row predicts nothing.
    public func causalLMLoss(_ ids: [Int32], batch: Int, time: Int) -> Tensor {
        var targets = [Int32](repeating: -100, count: ids.count)
        for b in 0..<batch { for t in 0..<(time - 1) { targets[b * time + t] = ids[b * time + t + 1] } }
        return self(ids, batch: batch, time: time).crossEntropy(targets: targets)
    }
}
