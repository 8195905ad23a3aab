/// Chat prompts rendered as text, ready for `Tokenizer.encode` (which maps the template's
/// markers, such as `<|im_start|>`, to their special-token ids).
public enum ChatTemplate {
    /// ChatML, as SmolLM2 and Qwen2 use it: `<|im_start|>role\ncontent<|im_end|>\n` per message,
    /// then `<|im_start|>assistant\n` when `addGenerationPrompt` asks the model to answer.
    ///
    /// Content is inserted verbatim. An image travels as `imagePlaceholder` text inside a
    /// message's content; the template leaves it in place and the multimodal model expands it
    /// into image embeddings later. The placeholder is a parameter only so that callers and the
    /// model agree on one spelling; it does not change the rendering.
    public static func chatML(messages: [(role: String, content: String)], addGenerationPrompt: Bool,
                              imagePlaceholder: String = "<image>") -> String {
        var text = ""
        for message in messages {
            text += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n"
        }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }
}
