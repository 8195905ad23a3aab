/// An image encoder whose output a multimodal model splices into its token sequence: pixel
/// values [B, 3, S, S] in, features [B, tokensPerImage, featureWidth] out, one row per image
/// token. `VisionTransformer` (patch tokens, CLS dropped) and `EfficientNetLite0` (the 7×7 map
/// as 49 tokens, or the pooled vector as one) conform.
public protocol VisionEncoder: Module {
    /// Side S of the square pixel input [B, 3, S, S].
    var imageSize: Int { get }
    /// Tokens one image becomes.
    var tokensPerImage: Int { get }
    /// Width of each token's feature vector.
    var featureWidth: Int { get }
    /// Features [B, tokensPerImage, featureWidth] for pixel values [B, 3, S, S].
    func features(_ images: Tensor) -> Tensor
}

extension VisionTransformer: VisionEncoder {
    public var imageSize: Int { config.imageSize }
    public var tokensPerImage: Int { config.patches }
    public var featureWidth: Int { config.hiddenSize }

    /// The final hidden states of the patches [B, N, D] (the CLS token dropped), row by row.
    public func features(_ images: Tensor) -> Tensor {
        let h = self(images)                                                      // [B, 1+N, D]
        return h.slice(axis: 1, 1..<h.shape[1])
    }
}

/// Which vision tower a `MultimodalModel` has: `vision_config` in its config.json.
/// A ViT is the Hugging Face `ViTConfig` (no `model_type`, or "vit"); EfficientNet-Lite0 is
/// `{"model_type": "efficientnet_lite0", "tokens": "feature_map" | "pooled"}`, its folded
/// weights stored like any tower's.
public enum VisionTowerConfig: Codable, Equatable, Sendable {
    case vit(VisionTransformer.Config)
    case efficientNetLite0(tokens: EfficientNetLite0.Tokens)

    /// Side of the square pixel input.
    public var imageSize: Int {
        switch self {
        case .vit(let c): c.imageSize
        case .efficientNetLite0: 224
        }
    }

    public var numChannels: Int {
        switch self {
        case .vit(let c): c.numChannels
        case .efficientNetLite0: 3
        }
    }

    /// The ViT's settings (nil for another tower).
    public var vit: VisionTransformer.Config? {
        if case .vit(let c) = self { c } else { nil }
    }

    /// The largest buffers a forward over `images` images allocates, by what they hold (checked
    /// against the tensor limit before a C call runs one: a failed allocation aborts).
    public func largestBuffers(images: Int) -> [(what: String, factors: [Int])] {
        switch self {
        case .vit(let v):
            let positions = v.patches + 1  // patches and CLS
            return [("vision attention scores", [images, v.numAttentionHeads, positions, positions]),
                    ("vision activations", [images, positions, max(v.hiddenSize, v.intermediateSize)])]
        case .efficientNetLite0:
            return [("vision activations", [images, 96, 112, 112])]  // block 1's expanded input, the widest map
        }
    }

    /// The tower with fresh weights: a ViT initialized from `seed`, EfficientNet-Lite0 zeros
    /// (frozen) for a saved tower to fill.
    func make(seed: UInt64) throws -> any VisionEncoder {
        switch self {
        case .vit(let c): try VisionTransformer(c, seed: seed)
        case .efficientNetLite0(let tokens): EfficientNetLite0(tokens: tokens)
        }
    }

    func validate() throws {
        if case .vit(let c) = self { try c.validate() }
    }

    enum CodingKeys: String, CodingKey { case modelType = "model_type", tokens }
    static let efficientNetType = "efficientnet_lite0"

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decodeIfPresent(String.self, forKey: .modelType) {
        case nil, "vit": self = .vit(try VisionTransformer.Config(from: decoder))
        case Self.efficientNetType?:
            let name = try c.decodeIfPresent(String.self, forKey: .tokens) ?? EfficientNetLite0.Tokens.featureMap.rawValue
            guard let tokens = EfficientNetLite0.Tokens(rawValue: name) else {
                throw GRLHFError.invalidFormat("vision_config: tokens \"\(name)\" (expected feature_map or pooled)")
            }
            self = .efficientNetLite0(tokens: tokens)
        case let other?: throw GRLHFError.unsupported("vision_config: model_type \"\(other)\" (grlhf has vit and efficientnet_lite0 towers)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .vit(let v): try v.encode(to: encoder)
        case .efficientNetLite0(let tokens):
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Self.efficientNetType, forKey: .modelType); try c.encode(tokens.rawValue, forKey: .tokens)
        }
    }
}
