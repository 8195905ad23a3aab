import Foundation

/// What a judge's output says, read with the paper's parser (paper.md §1a: mathruler's
/// `extract_boxed_content`, then `acc_reward`): the last `\boxed{`, its content up to the
/// matching brace, split on commas, pieces stripped, empty pieces skipped, each a float, exactly
/// two of them.
public enum JudgeVerdict: Equatable, Sendable {
    case scores(Float, Float)
    case failed(ParseFailure)

    public enum ParseFailure: String, Codable, Sendable, CaseIterable {
        /// No `\boxed` in the output.
        case noBox = "no_box"
        /// `\boxed` without a `{`, or braces that never close (mathruler's "None").
        case unclosedBox = "unclosed_box"
        /// A piece that is not a float.
        case notANumber = "not_a_number"
        /// Other than two scores.
        case wrongCount = "wrong_count"
    }

    public var scores: (Float, Float)? {
        if case let .scores(a, b) = self { return (a, b) }
        return nil
    }

    /// Parses a judge's output.
    public init(parsing output: String) {
        guard output.contains("\\boxed") else { self = .failed(.noBox); return }
        guard let content = Self.lastBoxedContent(output) else { self = .failed(.unclosedBox); return }
        let pieces = content.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        var values: [Float] = []
        for p in pieces {
            guard let v = Self.pythonFloat(p) else { self = .failed(.notANumber); return }
            values.append(v)
        }
        guard values.count == 2 else { self = .failed(.wrongCount); return }
        self = .scores(values[0], values[1])
    }

    /// The text inside the last `\boxed{…}` with nested braces matched, stripped; nil when there
    /// is no `\boxed{` or it never closes.
    static func lastBoxedContent(_ text: String) -> String? {
        guard let start = text.range(of: "\\boxed{", options: .backwards) else { return nil }
        var depth = 0
        var i = start.upperBound
        while i < text.endIndex {
            switch text[i] {
            case "{": depth += 1
            case "}":
                if depth == 0 { return String(text[start.upperBound..<i]).trimmingCharacters(in: .whitespacesAndNewlines) }
                depth -= 1
            default: break
            }
            i = text.index(after: i)
        }
        return nil
    }

    /// Python's `float()` on a stripped piece: decimal or scientific notation with an optional
    /// sign, "inf"/"infinity"/"nan" in any case. (Python also takes digit-group underscores and
    /// non-ASCII digits; a judge writing those gets a parse failure here.)
    static func pythonFloat(_ s: String) -> Float? {
        let lower = s.lowercased()
        let unsigned = lower.hasPrefix("+") || lower.hasPrefix("-") ? String(lower.dropFirst()) : lower
        if ["inf", "infinity", "nan"].contains(unsigned) {
            let v: Float = unsigned == "nan" ? .nan : .infinity
            return lower.hasPrefix("-") ? -v : v
        }
        guard unsigned.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "e" || $0 == "+" || $0 == "-") }),
              unsigned.first.map({ $0.isNumber || $0 == "." }) == true else { return nil }
        return Float(lower)
    }

    /// The paper's accuracy reward: 1 when the response at `preferred` (1 or 2) scored strictly
    /// higher, else 0 (ties, NaN and every parse failure included).
    public func accuracy(preferred: Int) -> Float {
        guard let (s1, s2) = scores else { return 0 }
        return (preferred == 2 && s2 > s1) || (preferred == 1 && s2 < s1) ? 1 : 0
    }
}
