import Foundation

/// A LLaVA-style vision-language model: a vision tower encodes the image (a ViT, its patch
/// features with CLS dropped, or EfficientNet-Lite0, its 7×7 map as 49 tokens), a two-layer
/// projector (`multi_modal_projector.linear_1`, GELU, `linear_2`) maps those features into the
/// language model's width, and they take the places of the image tokens in the text sequence.
///
/// On disk it is a directory shaped like a Hugging Face LLaVA checkpoint: `config.json` with
/// `model_type` "llava", `text_config`, `vision_config`, `image_token_index` and grlhf's
/// `image_preprocessor`; `model.safetensors` with `vision_tower.*` (Hugging Face ViT names, or
/// EfficientNet-Lite0's .pth names with batch norm folded), `multi_modal_projector.*` and
/// `language_model.*` (Llama/Qwen2 names). transformers has no LLaVA with these towers, so only
/// grlhf reads it whole; its parts are standard.
///
/// A pretrained language model stays where it is: with `language_model_gguf` the decoder's
/// weights are that GGUF file's (frozen, not copied into the directory), and with `lora` the
/// decoder carries LoRA adapters, saved as `language_model.<layer>.lora_A/B.weight`. A directory
/// of such a model holds tens of megabytes (tower, projector, adapters), however large the decoder.
public final class MultimodalModel: Module, CausalLM {
    public struct Config: Codable, Equatable, Sendable {
        static let modelType = "llava"
        public var text: DecoderLM.Config
        public var tower: VisionTowerConfig
        /// The token id that marks image positions in the text.
        public var imageTokenIndex: Int32
        /// How a PNG becomes pixel values for this model.
        public var preprocessor: ImagePreprocessor
        /// A Llama GGUF file holding the language model's weights (frozen; `text` must be its
        /// config). Relative paths resolve against the working directory.
        public var languageWeights: String?
        /// LoRA adapters on the language model (its base weights then frozen).
        public var lora: LoRAConfig?

        enum CodingKeys: String, CodingKey {
            case text = "text_config", vision = "vision_config", imageTokenIndex = "image_token_index"
            case preprocessor = "image_preprocessor", modelType = "model_type", projectorAct = "projector_hidden_act"
            case languageWeights = "language_model_gguf", lora
        }

        public init(text: DecoderLM.Config, tower: VisionTowerConfig, imageTokenIndex: Int32, preprocessor: ImagePreprocessor? = nil,
                    languageWeights: String? = nil, lora: LoRAConfig? = nil) {
            self.text = text; self.tower = tower; self.imageTokenIndex = imageTokenIndex
            self.preprocessor = preprocessor ?? ImagePreprocessor(size: tower.imageSize)
            self.languageWeights = languageWeights; self.lora = lora
        }

        public init(text: DecoderLM.Config, vision: VisionTransformer.Config, imageTokenIndex: Int32, preprocessor: ImagePreprocessor? = nil) {
            self.init(text: text, tower: .vit(vision), imageTokenIndex: imageTokenIndex, preprocessor: preprocessor)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let type = try c.decodeIfPresent(String.self, forKey: .modelType)
            guard type == Self.modelType else { throw GRLHFError.unsupported("config.json: model_type \(type ?? "missing"), expected llava") }
            if let act = try c.decodeIfPresent(String.self, forKey: .projectorAct), !["gelu_pytorch_tanh", "gelu_new"].contains(act) {
                throw GRLHFError.unsupported("config.json: projector_hidden_act \"\(act)\" (grlhf computes the tanh GELU)")
            }
            self.init(text: try c.decode(DecoderLM.Config.self, forKey: .text), tower: try c.decode(VisionTowerConfig.self, forKey: .vision),
                      imageTokenIndex: try c.decode(Int32.self, forKey: .imageTokenIndex),
                      preprocessor: try c.decodeIfPresent(ImagePreprocessor.self, forKey: .preprocessor),
                      languageWeights: try c.decodeIfPresent(String.self, forKey: .languageWeights),
                      lora: try c.decodeIfPresent(LoRAConfig.self, forKey: .lora))
            try validate()
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Self.modelType, forKey: .modelType); try c.encode("gelu_pytorch_tanh", forKey: .projectorAct)
            try c.encode(text, forKey: .text); try c.encode(tower, forKey: .vision)
            try c.encode(imageTokenIndex, forKey: .imageTokenIndex); try c.encode(preprocessor, forKey: .preprocessor)
            try c.encodeIfPresent(languageWeights, forKey: .languageWeights); try c.encodeIfPresent(lora, forKey: .lora)
        }

        public func validate() throws {
            try text.validate(); try tower.validate(); try lora?.validate()
            guard imageTokenIndex >= 0 && Int(imageTokenIndex) < text.vocabSize else {
                throw GRLHFError.invalidArgument("config: image_token_index \(imageTokenIndex) outside the vocabulary of \(text.vocabSize)")
            }
            try preprocessor.validate()
        }
    }

    public let config: Config
    public let vision: any VisionEncoder
    public let language: DecoderLM
    let linear1: Linear, linear2: Linear

    public convenience init(vision: VisionTransformer, language: DecoderLM, imageTokenId: Int32, seed: UInt64 = 0) throws {
        try self.init(Config(text: language.config, vision: vision.config, imageTokenIndex: imageTokenId),
                      vision: vision, language: language, seed: seed)
    }

    /// A model from `config`: a fresh tower (a ViT initialized from `seed`, or EfficientNet-Lite0
    /// zeros for `load` to fill), the language model from `languageWeights` or initialized, a
    /// fresh projector, and LoRA adapters (B = 0) when `lora` is set.
    public convenience init(_ config: Config, seed: UInt64 = 0) throws {
        try self.init(config, vision: try config.tower.make(seed: seed &+ 1), seed: seed)
    }

    /// A model from `config` with this tower (a pretrained one: `EfficientNetLite0(contentsOf:)`).
    public convenience init(_ config: Config, vision: any VisionEncoder, seed: UInt64 = 0) throws {
        let language: DecoderLM
        if let path = config.languageWeights {
            language = try DecoderLM.load(gguf: path)
            guard language.config == config.text else {
                throw GRLHFError.invalidFormat("\(path): the GGUF's model (\(language.config)) is not text_config (\(config.text))")
            }
            language.setTrainable(false)
        } else {
            language = try DecoderLM(config.text, seed: seed &+ 2)
        }
        try self.init(config, vision: vision, language: language, seed: seed)
    }

    init(_ config: Config, vision: any VisionEncoder, language: DecoderLM, seed: UInt64) throws {
        try config.validate()
        guard vision.imageSize == config.tower.imageSize else {
            throw GRLHFError.invalidArgument("MultimodalModel: the tower reads \(vision.imageSize)px images, the config says \(config.tower.imageSize)px")
        }
        var rng = PCG32(seed: seed)
        self.config = config
        self.vision = vision
        self.language = language
        let lm = language.config.hiddenSize
        linear1 = Linear(vision.featureWidth, lm, rng: &rng)
        linear2 = Linear(lm, lm, rng: &rng)
        super.init()
        register("vision_tower", vision)
        let projector = Module()
        projector.register("linear_1", linear1); projector.register("linear_2", linear2)
        register("multi_modal_projector", projector)
        register("language_model", language)
        if let lora = config.lora { _ = try LoRA.attach(to: language, config: lora, seed: seed &+ 3) }
    }

    /// Loads a directory written by `save`.
    public static func load(directory: String) throws -> MultimodalModel {
        let model = try MultimodalModel(try ModelDirectory.config(directory, as: Config.self))
        try ModelDirectory.loadWeights(directory, into: model.savedTensors())
        return model
    }

    /// Writes `config.json` and `model.safetensors`: every parameter and LoRA adapter, less the
    /// language model's weights when they are `languageWeights`' (which must then be frozen:
    /// trained weights are never dropped silently).
    public func save(directory: String) throws {
        if config.languageWeights != nil, let trained = language.namedParameters().first(where: \.tensor.requiresGrad) {
            throw GRLHFError.unsupported("MultimodalModel: language_model.\(trained.name) is trainable, but its weights are the GGUF's and are not saved; train the language model through LoRA")
        }
        try ModelDirectory.save(directory, config: config, tensors: savedTensors())
    }

    /// What `save` writes and `load` reads, by name.
    func savedTensors() -> [(name: String, tensor: Tensor)] {
        let base = config.languageWeights == nil ? [] : Set(language.namedParameters(prefix: "language_model.").map(\.name))
        return namedTensors().filter { !base.contains($0.name) }
    }

    public var imageTokenId: Int32? { config.imageTokenIndex }

    /// Image tokens one image occupies in the sequence.
    public var tokensPerImage: Int { vision.tokensPerImage }

    /// Pixel values [1, C, S, S] of a PNG file, preprocessed as this model expects.
    public func pixels(pngAt path: String) throws -> Tensor {
        try config.preprocessor(PNG.read(contentsOf: path)).reshape(1, 3, config.preprocessor.size, config.preprocessor.size)
    }

    /// Projected image features [B, N, H_lm] for images [B, C, S, S].
    public func imageFeatures(_ images: Tensor) -> Tensor {
        linear2(linear1(vision.features(images)).gelu())                          // [B, N, D] → [B, N, H_lm]
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
