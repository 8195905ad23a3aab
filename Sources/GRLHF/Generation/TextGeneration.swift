import Foundation

/// Text in, text out: a model directory (config.json, model.safetensors, tokenizer.json), a
/// prompt rendered with the ChatML template unless `chat` is false, and sampling options. What
/// `grlhf generate` runs.
public enum TextGeneration {
    public struct Result {
        public var text: String
        public var sequence: GeneratedSequence
        public var promptTokens: Int
    }

    public static func run(modelDirectory: String, prompt: String, chat: Bool = true, options: SamplingOptions) throws -> Result {
        let model = try DecoderLM.load(directory: modelDirectory)
        let tokenizer = try Tokenizer.load(contentsOf: modelDirectory + "/tokenizer.json")
        guard tokenizer.vocabSize <= model.config.vocabSize else {
            throw GRLHFError.invalidArgument("tokenizer has \(tokenizer.vocabSize) tokens, the model \(model.config.vocabSize)")
        }
        let text = chat ? ChatTemplate.chatML(messages: [("user", prompt)], addGenerationPrompt: true) : prompt
        let ids = tokenizer.encode(text)
        guard !ids.isEmpty else { throw GRLHFError.invalidArgument("the prompt encodes to no tokens") }
        var o = options
        // A chat turn ends at <|im_end|>; a plain continuation at the end-of-text token, if any.
        for stop in ["<|im_end|>", "<|endoftext|>"] { if let id = tokenizer.id(for: stop) { o.stopTokens.insert(id) } }
        let out = model.generate(prompt: ids, options: o)
        return Result(text: tokenizer.decode(out.tokens, skipSpecialTokens: true), sequence: out, promptTokens: ids.count)
    }
}
