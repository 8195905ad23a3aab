/// A GPT-2-style decoder (nanoGPT layout): learned positions, pre-LayerNorm blocks, fused causal
/// attention, GELU MLP, untied head. Parameter names follow GPT-2's (`transformer.h.0.attn.c_attn`)
/// with PyTorch `Linear` layouts [out, in].
public final class GPT: Module {
    public struct Config: Codable, Equatable, Sendable {
        public var vocabSize = 2048
        public var blockSize = 128
        public var layers = 4
        public var dim = 256
        public var heads = 4
        public var seed: UInt64 = 1337

        enum CodingKeys: String, CodingKey {
            case vocabSize = "vocab_size", blockSize = "n_positions", layers = "n_layer", dim = "n_embd", heads = "n_head", seed
        }
        public init(vocabSize: Int = 2048, blockSize: Int = 128, layers: Int = 4, dim: Int = 256, heads: Int = 4, seed: UInt64 = 1337) {
            self.vocabSize = vocabSize; self.blockSize = blockSize; self.layers = layers
            self.dim = dim; self.heads = heads; self.seed = seed
        }
    }

    final class Block: Module {
        let ln1: LayerNorm, ln2: LayerNorm, qkv: Linear, proj: Linear, mlp: MLP
        let heads: Int

        init(_ c: Config, rng: inout PCG32) {
            heads = c.heads
            ln1 = LayerNorm(c.dim); ln2 = LayerNorm(c.dim)
            qkv = Linear(c.dim, 3 * c.dim, rng: &rng)
            proj = Linear(c.dim, c.dim, rng: &rng)
            mlp = MLP(dim: c.dim, hidden: 4 * c.dim, kind: .gelu, bias: true, rng: &rng)
            super.init()
            register("ln_1", ln1)
            let attn = Module()
            attn.register("c_attn", qkv); attn.register("c_proj", proj)
            register("attn", attn)
            register("ln_2", ln2)
            register("mlp", mlp)
        }

        func callAsFunction(_ x: Tensor) -> Tensor {
            let a = Tensor.attention(qkv: qkv(ln1(x)), heads: heads)   // [B, T, 3C] → [B, T, C]
            let h = x + proj(a)
            return h + mlp(ln2(h))
        }
    }

    public let config: Config
    let wte: Embedding, wpe: Embedding, blocks: ModuleList<Block>, lnF: LayerNorm, head: Linear

    public init(_ config: Config) {
        self.config = config
        var rng = PCG32(seed: config.seed)
        wte = Embedding(config.vocabSize, config.dim, rng: &rng)
        wpe = Embedding(config.blockSize, config.dim, rng: &rng)
        blocks = ModuleList((0..<config.layers).map { _ in Block(config, rng: &rng) })
        lnF = LayerNorm(config.dim)
        head = Linear(config.dim, config.vocabSize, bias: false, rng: &rng)
        super.init()
        let transformer = Module()
        transformer.register("wte", wte); transformer.register("wpe", wpe)
        transformer.register("h", blocks); transformer.register("ln_f", lnF)
        register("transformer", transformer)
        register("lm_head", head)
    }

    /// Logits [B, T, V] for token ids [B·T] laid out row by row.
    public func callAsFunction(_ ids: [Int32], batch: Int, time: Int) -> Tensor {
        require(ids.count == batch * time && time <= config.blockSize, "GPT: \(ids.count) ids for \(batch)×\(time)")
        let positions = (0..<Int32(time)).map { $0 }
        var x = wte(ids, shape: [batch, time]) + wpe(positions, shape: [time])   // [B, T, C]
        for block in blocks.items { x = block(x) }
        return head(lnF(x))                                                      // [B, T, V]
    }

    /// Mean next-token cross-entropy; `targets` [B·T], -100 to ignore a position.
    public func loss(_ ids: [Int32], targets: [Int32], batch: Int, time: Int) -> Tensor {
        self(ids, batch: batch, time: time).crossEntropy(targets: targets)
    }
}
