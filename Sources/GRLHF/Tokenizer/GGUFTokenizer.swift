import Foundation

extension Tokenizer {
    /// The byte-level BPE tokenizer of a GGUF file (`tokenizer.ggml.model` "gpt2"): the vocabulary
    /// from `tokenizer.ggml.tokens`, merges from `tokenizer.ggml.merges`, control and
    /// user-defined tokens (`tokenizer.ggml.token_type` 3 and 4) as added tokens (control ones
    /// special), and the pre-tokenizer `tokenizer.ggml.pre` names: "smollm"/"starcoder" split
    /// digits one by one before the GPT-2 byte-level regex, "gpt-2"/"default" use the regex
    /// alone (as llama.cpp does). Built as the equivalent tokenizer.json, so encoding is the
    /// same code path as for Hugging Face files.
    public convenience init(gguf f: GGUFFile) throws {
        let model = try f.string("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw GRLHFError.unsupported("gguf: tokenizer.ggml.model \(model.map { "\"\($0)\"" } ?? "missing") (only gpt2, byte-level BPE, is supported)")
        }
        guard let tokens = try f.stringArray("tokenizer.ggml.tokens") else { throw GGUFError.missingKey("tokenizer.ggml.tokens") }
        let merges = try f.stringArray("tokenizer.ggml.merges") ?? []
        let types = try f.intArray("tokenizer.ggml.token_type")
        if let types, types.count != tokens.count {
            throw GRLHFError.invalidFormat("gguf: tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(tokens.count)
        var added: [[String: Any]] = []
        for (id, token) in tokens.enumerated() {
            guard vocab.updateValue(id, forKey: token) == nil else {
                throw GRLHFError.invalidFormat("gguf: tokenizer.ggml.tokens repeats \(token.debugDescription) (id \(id))")
            }
            let type = types?[id] ?? 1
            if type == 3 || type == 4 {
                added.append(["id": id, "content": token, "special": type == 3, "normalized": false])
            }
        }
        let pre = try f.string("tokenizer.ggml.pre") ?? "default"
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        let preTokenizer: [String: Any]
        switch pre {
        case "smollm", "starcoder":
            preTokenizer = ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
        case "gpt-2", "default":
            preTokenizer = byteLevel
        default:
            throw GRLHFError.unsupported("gguf: tokenizer.ggml.pre \"\(pre)\" (smollm, starcoder, gpt-2 and default are supported)")
        }
        let json: [String: Any] = [
            "version": "1.0",
            "added_tokens": added,
            "pre_tokenizer": preTokenizer,
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": false],
        ]
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: json) } catch {
            throw GRLHFError.invalidFormat("gguf: the tokenizer does not serialize: \(error)")
        }
        do { try self.init(json: data) } catch let e as GRLHFError {
            // Name the GGUF keys rather than the tokenizer.json the fields were copied into.
            switch e {
            case .invalidFormat(let m): throw GRLHFError.invalidFormat("gguf tokenizer (as \(m))")
            case .unsupported(let m): throw GRLHFError.unsupported("gguf tokenizer (as \(m))")
            default: throw e
            }
        }
        guard vocabSize == tokens.count else {
            throw GRLHFError.invalidFormat("gguf: \(tokens.count) tokens gave a vocabulary of \(vocabSize)")
        }
    }
}

extension ChatTemplate {
    /// The default system message a ChatML Jinja template inserts when the conversation has
    /// none (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
    /// or nil. Recognizes the pattern `{% if ... != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n' }}`.
    public static func defaultSystemMessage(chatMLTemplate template: String) -> String? {
        guard template.contains("!= 'system'") || template.contains("!= \"system\""),
              let start = template.range(of: "<|im_start|>system\n"),
              let end = template.range(of: "<|im_end|>", range: start.upperBound ..< template.endIndex) else { return nil }
        let message = String(template[start.upperBound ..< end.lowerBound])
        return message.contains("{") || message.contains("'") ? nil : message
    }
}
