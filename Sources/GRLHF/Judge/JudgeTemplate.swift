import Foundation

/// The generative reward model's prompt (paper.md §3): an instruction, and a body with the
/// conversation and the two responses, ending in the output format the parser reads. Templates
/// are data: the paper's is built in, others load from JSON with the same keys.
///
/// Slots in `body` (and `principlesHint`) are written `{name}`: `{image}` (the image's
/// placeholder text, empty without an image), `{question}`, `{response_1}`, `{response_2}`,
/// `{principles}`. They are filled in one pass, so text inside a response is never re-read as
/// a slot.
public struct JudgeTemplate: Codable, Equatable, Sendable {
    public enum Placement: String, Codable, Sendable {
        /// The instruction is a system turn (the paper calls it the "System Prompt"; default).
        case system
        /// The instruction opens the user turn, before the body.
        case user
    }

    public var instruction: String
    public var body: String
    public var instructionPlacement: Placement = .system
    /// Appended to the body when principles are given (the paper's "w/ P" variant).
    public var principlesHint: String = "\nPlease take the following principles into account: {principles}."

    enum CodingKeys: String, CodingKey {
        case instruction, body, instructionPlacement = "instruction_placement", principlesHint = "principles_hint"
    }

    public init(instruction: String, body: String, instructionPlacement: Placement = .system,
                principlesHint: String = "\nPlease take the following principles into account: {principles}.") {
        self.instruction = instruction; self.body = body
        self.instructionPlacement = instructionPlacement; self.principlesHint = principlesHint
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = JudgeTemplate.paper
        self.init(instruction: try c.decode(String.self, forKey: .instruction), body: try c.decode(String.self, forKey: .body),
                  instructionPlacement: try c.decodeIfPresent(Placement.self, forKey: .instructionPlacement) ?? .system,
                  principlesHint: try c.decodeIfPresent(String.self, forKey: .principlesHint) ?? defaults.principlesHint)
        for slot in ["{question}", "{response_1}", "{response_2}"] where !body.contains(slot) {
            throw GRLHFError.invalidFormat("judge template: the body has no \(slot) slot")
        }
    }

    /// Reads a template from a JSON file with the keys `instruction`, `body`, and optionally
    /// `instruction_placement` ("system" or "user") and `principles_hint`.
    public static func load(contentsOf path: String) throws -> JudgeTemplate {
        try ModelDirectory.decode(path, as: JudgeTemplate.self)
    }

    /// The paper's template (P §7), near-verbatim (the typo "responeses" kept).
    public static let paper = JudgeTemplate(
        instruction: """
        You are a skilled expert at scoring responses. You should first generate a list of potential criteria to evaluate given responses based on them.
        Given the context of the conversation (the last round is the User's query) and multiple responses from the Assistant, you need to generate the [Evaluation Criteria] to score the responses. Based on the criteria, state potential other specific criteria to the query, the weights of different criteria, and then provide an overall comprehensive score upon them.
        Each score is an integer between 1 and 10, with a higher score indicating that the response meets the relevant criteria more closely. For example, a score of 1 means the response does not meet the criteria at all, a score of 6 means the response meets only some parts, and a score of 10 means the response perfectly meets the evaluation criteria. Before scoring, please analyze step by step. Your scoring needs to be as strict as possible.
        """,
        body: """
        #### Conversation Context ####
        {image}{question}
        #### Responses to be Scored ####
        # Response 1: {response_1}
        # Response 2: {response_2}
        #### Output Format Requirements ####
        Output with three lines
        Specific Criteria: <Other potential criteria specific to the query and the context, and the weights of each criteria>.
        Analysis: <Compare different responses based on given Criteria>.
        Scores: <the overall comprehensive score of all responses in order, separate by comma in the boxed, e.g., \\boxed{x, x} if there exists 2 responeses>.
        """)

    /// Align-Anything's annotation principle, the hint of the paper's "with principles" runs.
    public static let alignAnythingPrinciples = "instruction following, clarity, informativeness"

    /// The (system, user) texts of a comparison.
    public func render(question: String, image placeholder: String, response1: String, response2: String,
                       principles: String? = nil) -> (system: String?, user: String) {
        var values = ["image": placeholder, "question": question, "response_1": response1, "response_2": response2,
                      "principles": principles ?? ""]
        var text = Self.fill(body, values)
        if let principles { values["principles"] = principles; text += Self.fill(principlesHint, values) }
        switch instructionPlacement {
        case .system: return (instruction, text)
        case .user: return (nil, instruction + "\n" + text)
        }
    }

    /// Replaces each `{name}` with `values[name]` in one left-to-right pass; unknown names stay.
    static func fill(_ template: String, _ values: [String: String]) -> String {
        var out = "", rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            if let close = rest[open...].firstIndex(of: "}"), let value = values[String(rest[rest.index(after: open)..<close])] {
                out += value
                rest = rest[rest.index(after: close)...]
            } else {
                out += "{"
                rest = rest[rest.index(after: open)...]
            }
        }
        return out + rest
    }
}
