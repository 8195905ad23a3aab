import Foundation

/// A LLaVA-style vision-language model: a ViT encodes the image, a two-layer projector
/// (`multi_modal_projector.linear_1`, GELU, `linear_2`) maps its patch features (CLS dropped)
/// into the language model's width, and those vectors take the places of the image tokens in
/// the text sequence.
///
/// On disk it is a directory shaped like a Hugging Face LLaVA checkpoint: `config.json` with
/// `model_type` "llava", `text_config`, `vision_config`, `image_token_index` and grlhf's
/// `image_preprocessor`; `model.safetensors` with `vision_tower.*` (Hugging Face ViT names),
/// `multi_modal_projector.*` and `language_model.*` (Llama/Qwen2 names). transformers has no
/// LLaVA with a ViT tower, so only grlhf reads it whole; its parts are standard.
public final class MultimodalModel: Module, CausalLM {
    public struct Config: Codable, Equatable, Sendable {
        static let modelType = "llava"
        public var text: DecoderLM.Config
        public var vision: VisionTransformer.Config
        /// The token id that marks image positions in the text.
        public var imageTokenIndex: Int32
        /// How a PNG becomes pixel values for this model.
        public var preprocessor: ImagePreprocessor

        enum CodingKeys: String, CodingKey {
            case text = "text_config", vision = "vision_config", imageTokenIndex = "image_token_index"
            case preprocessor = "image_preprocessor", modelType = "model_type", projectorAct = "projector_hidden_act"
        }

        public init(text: DecoderLM.Config, vision: VisionTransformer.Config, imageTokenIndex: Int32, preprocessor: ImagePreprocessor? = nil) {
            self.text = text; self.vision = vision; self.imageTokenIndex = imageTokenIndex
            self.preprocessor = preprocessor ?? ImagePreprocessor(size: vision.imageSize)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let type = try c.decodeIfPresent(String.self, forKey: .modelType)
            guard type == Self.modelType else { throw GRLHFError.unsupported("config.json: model_type \(type ?? "missing"), expected llava") }
            if let act = try c.decodeIfPresent(String.self, forKey: .projectorAct), !["gelu_pytorch_tanh", "gelu_new"].contains(act) {
                throw GRLHFError.unsupported("config.json: projector_hidden_act \"\(act)\" (grlhf computes the tanh GELU)")
            }
            let vision = try c.decode(VisionTransformer.Config.self, forKey: .vision)
            self.init(text: try c.decode(DecoderLM.Config.self, forKey: .text), vision: vision,
                      imageTokenIndex: try c.decode(Int32.self, forKey: .imageTokenIndex),
                      preprocessor: try c.decodeIfPresent(ImagePreprocessor.self, forKey: .preprocessor))
            try validate()
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Self.modelType, forKey: .modelType); try c.encode("gelu_pytorch_tanh", forKey: .projectorAct)
            try c.encode(text, forKey: .text); try c.encode(vision, forKey: .vision)
            try c.encode(imageTokenIndex, forKey: .imageTokenIndex); try c.encode(preprocessor, forKey: .preprocessor)
        }

        public func validate() throws {
            try text.validate(); try vision.validate()
            guard imageTokenIndex >= 0 && Int(imageTokenIndex) < text.vocabSize else {
                throw GRLHFError.invalidArgument("config: image_token_index \(imageTokenIndex) outside the vocabulary of \(text.vocabSize)")
            }
            try preprocessor.validate()
        }
    }

    public let config: Config
    public let vision: VisionTransformer
    public let language: DecoderLM
    let linear1: Linear, linear2: Linear

    public convenience init(vision: VisionTransformer, language: DecoderLM, imageTokenId: Int32, seed: UInt64 = 0) throws {
        try self.init(Config(text: language.config, vision: vision.config, imageTokenIndex: imageTokenId),
                      vision: vision, language: language, seed: seed)
    }

    /// A randomly initialized model from `config`.
    public convenience init(_ config: Config, seed: UInt64 = 0) throws {
        try self.init(config, vision: VisionTransformer(config.vision, seed: seed &+ 1),
                      language: DecoderLM(config.text, seed: seed &+ 2), seed: seed)
    }

    init(_ config: Config, vision: VisionTransformer, language: DecoderLM, seed: UInt64) throws {
        try config.validate()
        var rng = PCG32(seed: seed)
        self.config = config
        self.vision = vision
        self.language = language
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

    /// Loads a directory written by `save`.
    public static func load(directory: String) throws -> MultimodalModel {
        let model = try MultimodalModel(try ModelDirectory.config(directory, as: Config.self))
        try ModelDirectory.loadWeights(directory, into: model)
        return model
    }

    public func save(directory: String) throws {
        try ModelDirectory.save(directory, config: config, module: self)
    }

    public var imageTokenId: Int32? { config.imageTokenIndex }

    /// Image tokens one image occupies in the sequence.
    public var tokensPerImage: Int { vision.config.patches }

    /// Pixel values [1, C, S, S] of a PNG file, preprocessed as this model expects.
    public func pixels(pngAt path: String) throws -> Tensor {
        try config.preprocessor(PNG.read(contentsOf: path)).reshape(1, 3, config.preprocessor.size, config.preprocessor.size)
    }

    /// Projected image features [B, N, H_lm] for images [B, C, S, S].
    public func imageFeatures(_ images: Tensor) -> Tensor {
        let patches = vision.features(images)                                     // [B, N, D], CLS dropped
        return linear2(linear1(patches).gelu())
    }

    /// Input embeddings [B, T, H] for expanded ids [B·T] holding `tokensPerImage` image tokens
    /// per image, in order: text positions take token embeddings, image positions the next
    /// image's features. Built as one lookup into [text rows; image rows], so gradients reach
    /// both the embedding table and the vision tower.
    public func inputEmbeddings(_ ids: [Int32], batch: Int, time: Int, images: Tensor?) -> Tensor {
        let imageTokenId = config.imageTokenIndex
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
        logits(ids, batch: batch, time: time, images: images)
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

    public func validate() throws {
        guard size > 0, size <= 4096, mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw GRLHFError.invalidArgument("ImagePreprocessor: size \(size), mean \(mean), std \(std) invalid")
        }
    }

    /// [3, size, size] for a decoded PNG (gray and gray+alpha become RGB, alpha is dropped).
    public func callAsFunction(_ image: PNG.Image) throws -> Tensor {
        try validate()
        guard image.width > 0, image.height > 0, (1...4).contains(image.channels) else {
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
