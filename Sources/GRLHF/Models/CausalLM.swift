import Foundation

/// A model that reads tokens, and images where it has a vision tower, and predicts the next
/// token: a text-only `DecoderLM` or a `MultimodalModel`. Generation and the trainers work on
/// this, so every algorithm runs on both.
///
/// Prompts are token ids with one `imageTokenId` per image (what the chat template's placeholder
/// encodes to); the model widens each to `tokensPerImage` positions itself.
public protocol CausalLM: Module {
    /// The decoder that turns input embeddings into hidden states and logits.
    var language: DecoderLM { get }
    /// Positions one image occupies once expanded (0 for a text-only model).
    var tokensPerImage: Int { get }
    /// The placeholder id of an image (nil for a text-only model).
    var imageTokenId: Int32? { get }
    /// Input embeddings [B, T, H] of expanded ids [B·T] with their images [I, C, S, S], in order.
    func inputEmbeddings(_ ids: [Int32], batch: Int, time: Int, images: Tensor?) -> Tensor
    /// Writes the model directory (config.json + model.safetensors) that `loadModel` reads.
    func save(directory: String) throws
}

extension CausalLM {
    /// `ids` with each image placeholder widened to `tokensPerImage` copies.
    public func expandImageTokens(_ ids: [Int32]) -> [Int32] {
        guard let image = imageTokenId else { return ids }
        return ids.flatMap { $0 == image ? Array(repeating: image, count: tokensPerImage) : [$0] }
    }

    public var vocabSize: Int { language.config.vocabSize }

    /// Final-normed hidden states [B, T, H] of expanded ids (the input of the LM head and of
    /// scalar heads).
    public func hiddenStates(_ ids: [Int32], batch: Int, time: Int, images: Tensor? = nil) -> Tensor {
        language.hiddenStates(inputEmbeddings(ids, batch: batch, time: time, images: images))
    }

    /// Next-token logits [B, T, V] of expanded ids.
    public func logits(_ ids: [Int32], batch: Int, time: Int, images: Tensor? = nil) -> Tensor {
        language.logits(hiddenStates(ids, batch: batch, time: time, images: images))
    }
}

extension DecoderLM: CausalLM {
    public var language: DecoderLM { self }
    public var tokensPerImage: Int { 0 }
    public var imageTokenId: Int32? { nil }

    public func inputEmbeddings(_ ids: [Int32], batch: Int, time: Int, images: Tensor?) -> Tensor {
        require(images == nil, "DecoderLM: a text-only model got images")
        return embeddings(ids, batch: batch, time: time)
    }
}

/// The `model_type` of a config.json, which decides the model class.
private struct ModelKind: Decodable {
    var modelType: String?
    var isMultimodal: Bool { modelType == MultimodalModel.Config.modelType }
    enum CodingKeys: String, CodingKey { case modelType = "model_type" }
}

/// Loads a model directory: `model_type` "llava" gives a `MultimodalModel`, "llama" and
/// "qwen2" a `DecoderLM`.
public func loadModel(directory: String) throws -> any CausalLM {
    try ModelDirectory.config(directory, as: ModelKind.self).isMultimodal
        ? try MultimodalModel.load(directory: directory) : try DecoderLM.load(directory: directory)
}

/// A randomly initialized model from a config.json file, of the kinds `loadModel` reads (what
/// `grlhf init-model` and `grlhf_model_init` build).
public func initModel(configFile path: String, seed: UInt64 = 0) throws -> any CausalLM {
    try ModelDirectory.decode(path, as: ModelKind.self).isMultimodal
        ? try MultimodalModel(try ModelDirectory.decode(path, as: MultimodalModel.Config.self), seed: seed)
        : try DecoderLM(try ModelDirectory.decode(path, as: DecoderLM.Config.self), seed: seed)
}
