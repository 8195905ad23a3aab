import Foundation

/// One supervised row: (system?, image?, question) → response.
public struct SFTExample: Codable, Equatable, Sendable {
    public var question: String
    /// A PNG path (relative paths resolve against the dataset file's folder).
    public var image: String?
    public var response: String
    /// A system turn before the question.
    public var system: String?

    public init(question: String, image: String? = nil, response: String, system: String? = nil) {
        self.question = question; self.image = image; self.response = response; self.system = system
    }
}

/// One preference row in the paper's layout (Align-Anything's `response_1`, `response_2`,
/// `overall_response`): `preferred` is 1 or 2.
public struct PreferenceExample: Codable, Equatable, Sendable {
    public var question: String
    public var image: String?
    public var response1: String
    public var response2: String
    public var preferred: Int
    /// Optional per-response quality scores on the dataset's own scale (GRM+SFT rescales them to 1–10).
    public var score1: Float?
    public var score2: Float?

    enum CodingKeys: String, CodingKey {
        case question, image, response1 = "response_1", response2 = "response_2", preferred, score1 = "score_1", score2 = "score_2"
    }

    public init(question: String, image: String? = nil, response1: String, response2: String, preferred: Int,
                score1: Float? = nil, score2: Float? = nil) {
        self.question = question; self.image = image; self.response1 = response1; self.response2 = response2
        self.preferred = preferred; self.score1 = score1; self.score2 = score2
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(question: try c.decode(String.self, forKey: .question), image: try c.decodeIfPresent(String.self, forKey: .image),
                  response1: try c.decode(String.self, forKey: .response1), response2: try c.decode(String.self, forKey: .response2),
                  preferred: try c.decode(Int.self, forKey: .preferred), score1: try c.decodeIfPresent(Float.self, forKey: .score1),
                  score2: try c.decodeIfPresent(Float.self, forKey: .score2))
        guard preferred == 1 || preferred == 2 else {
            throw GRLHFError.invalidFormat("preferred must be 1 or 2, got \(preferred)")
        }
    }

    public var chosen: String { preferred == 1 ? response1 : response2 }
    public var rejected: String { preferred == 1 ? response2 : response1 }

    /// The pair with its responses (and scores) swapped and the label flipped.
    public var swapped: PreferenceExample {
        PreferenceExample(question: question, image: image, response1: response2, response2: response1, preferred: 3 - preferred,
                          score1: score2, score2: score1)
    }
}

/// One RL prompt: what the policy answers, and what a reward function may check it against.
public struct PromptExample: Codable, Equatable, Sendable {
    public var question: String
    public var image: String?
    /// The reference answer, for rule-based and verifiable rewards (verl's `ground_truth`).
    public var groundTruth: String?
    /// A system turn before the question.
    public var system: String?
    /// The row's other keys, as they were (verl's `data_source` and `extra_info`, a dataset's own
    /// columns): the trainers ignore them, reward functions receive them, writing the row keeps them.
    public var extra: [String: JSONValue]

    enum CodingKeys: String, CodingKey, CaseIterable { case question, image, groundTruth = "ground_truth", system }

    public init(question: String, image: String? = nil, groundTruth: String? = nil, system: String? = nil,
                extra: [String: JSONValue] = [:]) {
        self.question = question; self.image = image; self.groundTruth = groundTruth; self.system = system; self.extra = extra
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        question = try c.decode(String.self, forKey: .question)
        image = try c.decodeIfPresent(String.self, forKey: .image)
        groundTruth = try c.decodeIfPresent(String.self, forKey: .groundTruth)
        system = try c.decodeIfPresent(String.self, forKey: .system)
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        let all = try decoder.container(keyedBy: AnyCodingKey.self)
        extra = [:]
        for key in all.allKeys where !known.contains(key.stringValue) {
            extra[key.stringValue] = try all.decode(JSONValue.self, forKey: key)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(question, forKey: .question)
        try c.encodeIfPresent(image, forKey: .image)
        try c.encodeIfPresent(groundTruth, forKey: .groundTruth)
        try c.encodeIfPresent(system, forKey: .system)
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        var all = encoder.container(keyedBy: AnyCodingKey.self)
        for (key, value) in extra where !known.contains(key) { try all.encode(value, forKey: AnyCodingKey(key)) }
    }
}

/// JSON Lines: one object per line, blank lines skipped. Errors name the file and line.
public enum JSONLines {
    public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> [T] {
        guard let data = FileManager.default.contents(atPath: path) else { throw GRLHFError.io("\(path): cannot read") }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var rows: [T] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard line.contains(where: { !($0 == 32 || $0 == 9 || $0 == 13) }) else { continue }
            do {
                rows.append(try JSONDecoder().decode(T.self, from: Data(line)))
            } catch {
                throw GRLHFError.invalidFormat("\(path):\(i + 1): \(error)")
            }
        }
        return rows.map { resolveImage($0, against: folder) }
    }

    /// Relative image paths are relative to the dataset's folder.
    static func resolveImage<T>(_ row: T, against folder: String) -> T {
        func resolved(_ p: String?) -> String? {
            guard let p, !p.hasPrefix("/") else { return p }
            return folder + "/" + p
        }
        switch row {
        case var r as SFTExample: r.image = resolved(r.image); return r as! T
        case var r as PreferenceExample: r.image = resolved(r.image); return r as! T
        case var r as PromptExample: r.image = resolved(r.image); return r as! T
        default: return row
        }
    }
}

/// Turns text rows into token sequences for a model: the ChatML user turn (with the image's
/// placeholder on its own line first, as in `grlhf generate`), the assistant's generation
/// prompt, and responses closed by `<|im_end|>` so the model learns to stop.
public final class ChatEncoder {
    public let tokenizer: Tokenizer
    public let model: any CausalLM
    /// The token that ends an assistant turn; generation stops on it.
    public let endOfTurn: Int32
    let imagePlaceholder: String?
    private var pixels: [String: Tensor] = [:]
    private let lock = NSLock()

    public init(tokenizer: Tokenizer, model: any CausalLM) throws {
        guard let end = tokenizer.id(for: "<|im_end|>") else {
            throw GRLHFError.invalidArgument("the tokenizer has no <|im_end|> token (ChatML)")
        }
        guard tokenizer.vocabSize <= model.vocabSize else {
            throw GRLHFError.invalidArgument("tokenizer has \(tokenizer.vocabSize) tokens, the model \(model.vocabSize)")
        }
        self.tokenizer = tokenizer
        self.model = model
        endOfTurn = end
        imagePlaceholder = model.imageTokenId.flatMap { tokenizer.token(for: $0) }
        if model.imageTokenId != nil && imagePlaceholder == nil {
            throw GRLHFError.invalidArgument("the tokenizer has no token for the model's image placeholder")
        }
    }

    /// Prompt ids and pixels [1, C, S, S] (nil without an image) of a user message, after an
    /// optional system turn. The image goes where the message holds the placeholder's text
    /// (`<image>`), or on its own line before the message when it holds none.
    public func prompt(_ message: String, image: String?, system: String? = nil) throws -> (ids: [Int32], images: Tensor?) {
        var text = message, images: Tensor?
        let placeholders = imagePlaceholder.map { message.components(separatedBy: $0).count - 1 } ?? 0
        if let image {
            guard let multimodal = model as? MultimodalModel, let placeholder = imagePlaceholder else {
                throw GRLHFError.invalidArgument("\(image): a text-only model cannot read images")
            }
            guard placeholders <= 1 else { throw GRLHFError.invalidArgument("the message holds \(placeholders) image placeholders for one image") }
            images = try cachedPixels(image, multimodal)
            if placeholders == 0 { text = placeholder + "\n" + message }
        }
        let messages = (system.map { [("system", $0)] } ?? []) + [("user", text)]
        let ids = tokenizer.encode(ChatTemplate.chatML(messages: messages, addGenerationPrompt: true))
        if let id = model.imageTokenId, ids.filter({ $0 == id }).count != (image == nil ? 0 : 1) {
            throw GRLHFError.invalidArgument("the prompt holds an image placeholder without an image, or two: \(message.prefix(60))")
        }
        return (ids, images)
    }

    /// `text` with the image placeholder's text removed, for untrusted text (a response) that
    /// must not smuggle in an image slot.
    public func withoutPlaceholder(_ text: String) -> String {
        imagePlaceholder.map { text.replacingOccurrences(of: $0, with: "") } ?? text
    }

    /// The image placeholder's text (`<image>`), nil for a text-only model.
    public var placeholderText: String? { imagePlaceholder }

    /// Response ids followed by the end-of-turn token.
    public func response(_ text: String) -> [Int32] { tokenizer.encode(text) + [endOfTurn] }

    /// A generated completion as text (the end-of-turn and other special tokens dropped).
    public func text(_ completion: [Int32]) -> String { tokenizer.decode(completion, skipSpecialTokens: true) }

    private func cachedPixels(_ path: String, _ model: MultimodalModel) throws -> Tensor {
        lock.lock(); defer { lock.unlock() }
        if let t = pixels[path] { return t }
        let t = try model.pixels(pngAt: path)
        pixels[path] = t
        return t
    }

    /// The full sequence of a (system?, question, image, response) row.
    public func sequence(_ question: String, image: String?, response: String, system: String? = nil) throws -> TokenSequence {
        let p = try prompt(question, image: image, system: system)
        return TokenSequence(prompt: p.ids, images: p.images, completion: self.response(response))
    }
}
