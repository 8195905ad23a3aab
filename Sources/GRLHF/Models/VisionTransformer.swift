import Foundation

/// A ViT image encoder with Hugging Face `ViTModel`'s layout and names
/// (`embeddings.patch_embeddings.projection`, `encoder.layer.0.attention.attention.query`, …):
/// patch embedding as one matmul over (C, p, p)-flattened patches, a CLS token, learned position
/// embeddings, pre-LayerNorm blocks with bidirectional attention and a GELU MLP, a final LayerNorm.
public final class VisionTransformer: Module {
    public struct Config: Codable, Equatable, Sendable {
        public var imageSize: Int
        public var patchSize: Int
        public var numChannels: Int
        public var hiddenSize: Int
        public var numHiddenLayers: Int
        public var numAttentionHeads: Int
        public var intermediateSize: Int
        public var layerNormEps: Float
        public var qkvBias: Bool
        /// "gelu_pytorch_tanh" / "gelu_new" (the tanh GELU grlhf computes). Exact-erf "gelu" is refused.
        public var hiddenAct: String

        enum CodingKeys: String, CodingKey {
            case imageSize = "image_size", patchSize = "patch_size", numChannels = "num_channels"
            case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
            case intermediateSize = "intermediate_size", layerNormEps = "layer_norm_eps", qkvBias = "qkv_bias", hiddenAct = "hidden_act"
        }

        public init(imageSize: Int, patchSize: Int, numChannels: Int = 3, hiddenSize: Int, numHiddenLayers: Int,
                    numAttentionHeads: Int, intermediateSize: Int, layerNormEps: Float = 1e-12, qkvBias: Bool = true,
                    hiddenAct: String = "gelu_pytorch_tanh") {
            self.imageSize = imageSize; self.patchSize = patchSize; self.numChannels = numChannels
            self.hiddenSize = hiddenSize; self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
            self.intermediateSize = intermediateSize; self.layerNormEps = layerNormEps; self.qkvBias = qkvBias
            self.hiddenAct = hiddenAct
        }

        /// Patches per image (the CLS token comes on top).
        public var patches: Int { (imageSize / patchSize) * (imageSize / patchSize) }

        public func validate() throws {
            guard [imageSize, patchSize, numChannels, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize].allSatisfy({ $0 > 0 }),
                  imageSize % patchSize == 0, hiddenSize % numAttentionHeads == 0 else {
                throw GRLHFError.invalidArgument("ViT config: inconsistent sizes \(self)")
            }
            guard ["gelu_pytorch_tanh", "gelu_new"].contains(hiddenAct) else {
                throw GRLHFError.unsupported("ViT config: hidden_act \"\(hiddenAct)\" (grlhf computes the tanh GELU: gelu_pytorch_tanh)")
            }
        }
    }

    final class Layer: Module {
        let before: LayerNorm, after: LayerNorm, q: Linear, k: Linear, v: Linear, o: Linear, up: Linear, down: Linear
        let heads: Int

        init(_ c: Config, rng: inout PCG32) {
            heads = c.numAttentionHeads
            before = LayerNorm(c.hiddenSize, eps: c.layerNormEps); after = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
            q = Linear(c.hiddenSize, c.hiddenSize, bias: c.qkvBias, rng: &rng)
            k = Linear(c.hiddenSize, c.hiddenSize, bias: c.qkvBias, rng: &rng)
            v = Linear(c.hiddenSize, c.hiddenSize, bias: c.qkvBias, rng: &rng)
            o = Linear(c.hiddenSize, c.hiddenSize, rng: &rng)
            up = Linear(c.hiddenSize, c.intermediateSize, rng: &rng)
            down = Linear(c.intermediateSize, c.hiddenSize, rng: &rng)
            super.init()
            let selfAttention = Module(), attentionOutput = Module(), attention = Module()
            selfAttention.register("query", q); selfAttention.register("key", k); selfAttention.register("value", v)
            attentionOutput.register("dense", o)
            attention.register("attention", selfAttention); attention.register("output", attentionOutput)
            let intermediate = Module(), output = Module()
            intermediate.register("dense", up); output.register("dense", down)
            register("attention", attention); register("intermediate", intermediate); register("output", output)
            register("layernorm_before", before); register("layernorm_after", after)
        }

        func callAsFunction(_ x: Tensor) -> Tensor {
            let h = before(x)
            let r = x + o(Tensor.attention(q: q(h), k: k(h), v: v(h), heads: heads, causal: false))
            return r + down(up(after(r)).gelu())
        }
    }

    public let config: Config
    let projection: Tensor, projectionBias: Tensor, cls: Tensor, positions: Tensor
    let layers: ModuleList<Layer>, finalNorm: LayerNorm

    public init(_ config: Config, seed: UInt64 = 0) throws {
        try config.validate()
        self.config = config
        var rng = PCG32(seed: seed)
        let c = config, d = c.hiddenSize
        projection = Tensor.randn([d, c.numChannels, c.patchSize, c.patchSize], std: 0.02, rng: &rng)
        projectionBias = Tensor(zeros: [d])
        cls = Tensor.randn([1, 1, d], std: 0.02, rng: &rng)
        positions = Tensor.randn([1, c.patches + 1, d], std: 0.02, rng: &rng)
        layers = ModuleList((0..<c.numHiddenLayers).map { _ in Layer(c, rng: &rng) })
        finalNorm = LayerNorm(d, eps: c.layerNormEps)
        super.init()
        let embeddings = Module(), patchEmbeddings = Module(), projectionModule = Module()
        projectionModule.register("weight", projection); projectionModule.register("bias", projectionBias)
        patchEmbeddings.register("projection", projectionModule)
        embeddings.register("cls_token", cls); embeddings.register("position_embeddings", positions)
        embeddings.register("patch_embeddings", patchEmbeddings)
        let encoder = Module()
        encoder.register("layer", layers)
        register("embeddings", embeddings); register("encoder", encoder); register("layernorm", finalNorm)
    }

    /// Loads a Hugging Face ViT directory (config.json + model.safetensors; a pooler is ignored).
    public static func load(directory: String) throws -> VisionTransformer {
        let model = try VisionTransformer(try ModelDirectory.config(directory, as: Config.self))
        try ModelDirectory.loadWeights(directory, into: model) { $0.hasPrefix("pooler.") }
        return model
    }

    /// Patches [B, N, C·p·p] of images [B, C, H, W], each flattened in (channel, row, column)
    /// order to match the convolution weight [D, C, p, p].
    static func patchify(_ images: Tensor, patch p: Int) -> Tensor {
        let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let (gh, gw) = (h / p, w / p)
        let out = Tensor(uninitialized: [b, gh * gw, c * p * p])
        var o = 0
        for bi in 0..<b { for py in 0..<gh { for px in 0..<gw { for ch in 0..<c { for y in 0..<p {
            let src = images.data + ((bi * c + ch) * h + py * p + y) * w + px * p
            (out.data + o).update(from: src, count: p)
            o += p
        } } } } }
        return out
    }

    /// Hidden states [B, 1 + N, D] for images [B, C, H, W] (pixels are data, not differentiated):
    /// the CLS token first, then the patches row by row.
    public func callAsFunction(_ images: Tensor) -> Tensor {
        let c = config
        require(images.rank == 4 && images.shape[1] == c.numChannels && images.shape[2] == c.imageSize && images.shape[3] == c.imageSize,
                "ViT: images \(images.shape), expected [B, \(c.numChannels), \(c.imageSize), \(c.imageSize)]")
        let b = images.shape[0], d = c.hiddenSize
        let patches = Tensor.linear(Self.patchify(images, patch: c.patchSize),
                                    weight: projection.reshape(d, -1), bias: projectionBias)          // [B, N, D]
        var x = Tensor.concat([Tensor(zeros: [b, 1, d]) + cls, patches], axis: 1) + positions        // [B, 1+N, D]
        for layer in layers.items { x = layer(x) }
        return finalNorm(x)
    }
}
