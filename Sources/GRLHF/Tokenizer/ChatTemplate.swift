/// Chat prompts rendered as text, ready for `Tokenizer.encode` (which maps the template's
/// markers, such as `<|im_start|>`, to their special-token ids).
public enum ChatTemplate {
    /// ChatML, as SmolLM2 and Qwen2 use it: `<|im_start|>role\ncontent<|im_end|>\n` per message,
    /// then `<|im_start|>assistant\n` when `addGenerationPrompt` asks the model to answer.
    ///
    /// Content is inserted verbatim: an image travels as its placeholder token's text (e.g.
    /// `<image>`) inside a message, which `MultimodalModel.expandImageTokens` widens after encoding.
    public static func chatML(messages: [(role: String, content: String)], addGenerationPrompt: Bool) -> String {
        var text = ""
        for message in messages {
            text += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n"
        }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }
}
