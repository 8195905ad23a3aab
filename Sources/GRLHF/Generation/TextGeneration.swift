import Foundation

/// Text (and an image) in, text out: a model directory (config.json, model.safetensors,
/// tokenizer.json) or a Llama `.gguf` file (weights, tokenizer and chat template in one), a
/// prompt rendered with the ChatML template unless `chat` is false (with a GGUF, the template's
/// default system message when it has one), and sampling options. What `grlhf generate` runs.
public enum TextGeneration {
    public struct Result {
        public var text: String
        public var sequence: GeneratedSequence
        /// Prompt positions, image tokens expanded.
        public var promptTokens: Int
    }

    /// With `imagePath` (a PNG), the model must be multimodal; the image's placeholder token goes
    /// on its own line before the prompt, as LLaVA's templates put it.
    /// `quantized`: a GGUF's Q4/Q8 matrices decode from their blocks (`DecoderLM.load(gguf:quantized:)`).
    public static func run(modelDirectory: String, prompt: String, imagePath: String? = nil, chat: Bool = true,
                           quantized: Bool = false, options: SamplingOptions) throws -> Result {
        let model: any CausalLM, tokenizer: Tokenizer
        var system: String?
        if modelDirectory.hasSuffix(".gguf") {
            let file = try GGUFFile.open(modelDirectory)
            model = try DecoderLM.load(gguf: file, quantized: quantized)
            tokenizer = try Tokenizer(gguf: file)
            if chat {
                let template = try file.string("tokenizer.chat_template")
                if let template, !template.contains("<|im_start|>") {
                    throw GRLHFError.unsupported("\(modelDirectory): the chat template is not ChatML (use --raw)")
                }
                system = template.flatMap { ChatTemplate.defaultSystemMessage(chatMLTemplate: $0) }
            }
        } else {
            model = try loadModel(directory: modelDirectory)
            tokenizer = try Tokenizer.load(contentsOf: modelDirectory + "/tokenizer.json")
        }
        guard tokenizer.vocabSize <= model.vocabSize else {
            throw GRLHFError.invalidArgument("tokenizer has \(tokenizer.vocabSize) tokens, the model \(model.vocabSize)")
        }
        var message = prompt, images: Tensor?
        if let imagePath {
            guard let multimodal = model as? MultimodalModel else {
                throw GRLHFError.invalidArgument("\(modelDirectory) is a text-only model; it cannot read --image")
            }
            guard let placeholder = tokenizer.token(for: multimodal.config.imageTokenIndex) else {
                throw GRLHFError.invalidArgument("the tokenizer has no token for image_token_index \(multimodal.config.imageTokenIndex)")
            }
            images = try multimodal.pixels(pngAt: imagePath)
            message = placeholder + "\n" + prompt
        }
        let messages = (system.map { [("system", $0)] } ?? []) + [("user", message)]
        let text = chat ? ChatTemplate.chatML(messages: messages, addGenerationPrompt: true) : message
        let ids = tokenizer.encode(text)
        guard !ids.isEmpty else { throw GRLHFError.invalidArgument("the prompt encodes to no tokens") }
        let placeholders = ids.filter { $0 == model.imageTokenId }.count
        guard placeholders == (images == nil ? 0 : 1) else {
            throw GRLHFError.invalidArgument("the prompt holds \(placeholders) image placeholders for \(images == nil ? 0 : 1) images")
        }
        var o = options
        // A chat turn ends at <|im_end|>; a plain continuation at the end-of-text token, if any.
        for stop in ["<|im_end|>", "<|endoftext|>"] { if let id = tokenizer.id(for: stop) { o.stopTokens.insert(id) } }
        let out = model.generate(prompt: ids, images: images, options: o)
        return Result(text: tokenizer.decode(out.tokens, skipSpecialTokens: true), sequence: out,
                      promptTokens: model.expandImageTokens(ids).count)
    }
}
