import Foundation

/// A LLaVA-style vision-language model: a ViT encodes the image, a two-layer projector
/// (`multi_modal_projector.linear_1`, GELU, `linear_2`) maps its patch features (CLS dropped)
/// into the language model's width, and those vectors take the places of the image tokens in
/// the text sequence.
public final class MultimodalModel: Module {
    public let vision: VisionTransformer
    public let language: DecoderLM
    let linear1: Linear, linear2: Linear
    /// The token id that marks image positions in the text.
    public let imageTokenId: Int32

    public init(vision: VisionTransformer, language: DecoderLM, imageTokenId: Int32, seed: UInt64 = 0) {
        var rng = PCG32(seed: seed)
        self.vision = vision
        self.language = language
        self.imageTokenId = imageTokenId
        let lm = language.config.hiddenSize
        linear1 = Linear(vision.config.hiddenSize, lm, rng: &rng)
        linear2 = Linear(lm, lm, rng: &rng)
        super.init()
        register("vision_tower", vision)
        let projector = Module()
        projector.register("linear_1", linear1); projector.register("linear_2", linear2)
        register("multi_modal_projector", projector)
        register("language_model", language)
    }

    /// Image tokens one image occupies in the sequence.
    public var tokensPerImage: Int { vision.config.patches }

    /// Replaces each single `imageTokenId` in `ids` by `tokensPerImage` copies (what a chat
    /// template's one image placeholder becomes).
    public func expandImageTokens(_ ids: [Int32]) -> [Int32] {
        ids.flatMap { $0 == imageTokenId ? Array(repeating: imageTokenId, count: tokensPerImage) : [$0] }
    }

    /// Projected image features [B, N, H_lm] for images [B, C, S, S].
    public func imageFeatures(_ images: Tensor) -> Tensor {
        let h = vision(images)                                                    // [B, 1+N, D]
        let patches = h.slice(axis: 1, 1..<h.shape[1])                            // CLS dropped
        return linear2(linear1(patches).gelu())
    }

    /// Input embeddings [B, T, H] for expanded ids [B·T] holding `tokensPerImage` image tokens
    /// per image, in order: text positions take token embeddings, image positions the next
    /// image's features. Built as one lookup into [text rows; image rows], so gradients reach
    /// both the embedding table and the vision tower.
    public func embeddings(_ ids: [Int32], batch: Int, time: Int, images: Tensor?) -> Tensor {
        let imageSlots = ids.filter { $0 == imageTokenId }.count
        let features = images.map { imageFeatures($0).reshape(-1, language.config.hiddenSize) }  // [I·N, H]
        require(imageSlots == (features?.shape[0] ?? 0),
                "MultimodalModel: \(imageSlots) image tokens for \(features?.shape[0] ?? 0) image features")
        let text = language.embeddings(ids.map { $0 == imageTokenId ? 0 : $0 }, batch: batch, time: time)
        guard let features else { return text }
        let table = Tensor.concat([text.reshape(batch * time, -1), features], axis: 0)
        var next = Int32(batch * time)
        let index: [Int32] = ids.enumerated().map { i, id in
            if id != imageTokenId { return Int32(i) }
            defer { next += 1 }
            return next
        }
        return Tensor.embedding(table, ids: index, shape: [batch, time])
    }

    /// Logits [B, T, V] for expanded ids with their images (nil for text only).
    public func callAsFunction(_ ids: [Int32], batch: Int, time: Int, images: Tensor?) -> Tensor {
        language.logits(language.hiddenStates(embeddings(ids, batch: batch, time: time, images: images)))
    }
}

/// Turns an image into the model's input: resize (bilinear, align-corners false as PIL and
/// torchvision) to size × size, scale to 0…1, normalize per channel, and lay out [C, H, W] RGB.
public struct ImagePreprocessor: Codable, Equatable, Sendable {
    public var size: Int
    public var mean: [Float]
    public var std: [Float]

    public init(size: Int, mean: [Float] = [0.5, 0.5, 0.5], std: [Float] = [0.5, 0.5, 0.5]) {
        self.size = size; self.mean = mean; self.std = std
    }

    /// [3, size, size] for a decoded PNG (gray and gray+alpha become RGB, alpha is dropped).
    public func callAsFunction(_ image: PNG.Image) throws -> Tensor {
        guard image.width > 0, image.height > 0, (1...4).contains(image.channels), mean.count == 3, std.count == 3,
              std.allSatisfy({ $0 > 0 }), size > 0 else {
            throw GRLHFError.invalidArgument("ImagePreprocessor: image \(image.width)×\(image.height)×\(image.channels) or settings invalid")
        }
        let out = Tensor(uninitialized: [3, size, size])
        let (w, h, ch) = (image.width, image.height, image.channels)
        func pixel(_ x: Int, _ y: Int, _ c: Int) -> Float {
            let channel = ch >= 3 ? c : 0  // gray (+alpha): every colour channel reads the gray value
            return Float(image.pixels[(y * w + x) * ch + channel]) / 255
        }
        let sx = Float(w) / Float(size), sy = Float(h) / Float(size)
        for y in 0..<size {
            let fy = max(0, (Float(y) + 0.5) * sy - 0.5)
            let y0 = min(Int(fy), h - 1), y1 = min(y0 + 1, h - 1), ty = fy - Float(y0)
            for x in 0..<size {
                let fx = max(0, (Float(x) + 0.5) * sx - 0.5)
                let x0 = min(Int(fx), w - 1), x1 = min(x0 + 1, w - 1), tx = fx - Float(x0)
                for c in 0..<3 {
                    let top = pixel(x0, y0, c) * (1 - tx) + pixel(x1, y0, c) * tx
                    let bottom = pixel(x0, y1, c) * (1 - tx) + pixel(x1, y1, c) * tx
                    out.data[(c * size + y) * size + x] = ((top * (1 - ty) + bottom * ty) - mean[c]) / std[c]
                }
            }
        }
        return out
    }
}
