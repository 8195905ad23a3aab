import Foundation

// Pre-tokenization as Hugging Face `tokenizers` does it for byte-level BPE: the text is cut into
// pieces (Split / Digits / ByteLevel steps), and each piece is then merged by BPE on its own.
// Pieces are slices of the text's Unicode scalars, because `tokenizers`' regexes (Oniguruma)
// match code points, not grapheme clusters.

/// A run of the Unicode scalars being encoded.
typealias Piece = ArraySlice<Unicode.Scalar>

/// GPT-2's reversible map between the 256 bytes and printable characters (`bytes_to_unicode`):
/// printable Latin-1 bytes stand for themselves, the rest are shifted to U+0100 and up.
enum ByteLevel {
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var shifted: UInt32 = 256
        for byte in 0 ..< 256 {
            let printable = (33 ... 126).contains(byte) || (161 ... 172).contains(byte) || (174 ... 255).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(shifted)!
                shifted += 1
            }
        }
        return table
    }()

    /// Indexed by scalar value (all mapped scalars are below U+0144); -1 where unmapped.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in byteToScalar.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// The byte-level text of raw bytes (what vocabulary entries are spelled in).
    static func string(of bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }
}

/// The character classes the pre-tokenization regexes test: `\p{L}`, `\p{N}` and Oniguruma's
/// Unicode `\s` (U+0009–000D, U+0085 and the Zs/Zl/Zp categories, i.e. White_Space).
///
/// `tokenizers` (0.2x) matches with Unicode 16.0 tables while Swift's may be newer; characters
/// assigned after 16.0 are treated as unassigned (class `other`), as `tokenizers` sees them.
enum CharClass: UInt8 { case letter, number, whitespace, other }

private let asciiClasses: [CharClass] = (0 ..< 128).map { v -> CharClass in
    switch v {
    case 0x41 ... 0x5A, 0x61 ... 0x7A: return .letter
    case 0x30 ... 0x39: return .number
    case 0x09 ... 0x0D, 0x20: return .whitespace
    default: return .other
    }
}

@inline(__always)
func charClass(_ s: Unicode.Scalar) -> CharClass {
    let v = s.value
    if v < 128 { return asciiClasses[Int(v)] }
    if v == 0x85 { return .whitespace }
    let properties = s.properties
    let cls: CharClass
    switch properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: cls = .letter
    case .decimalNumber, .letterNumber, .otherNumber: cls = .number
    case .spaceSeparator, .lineSeparator, .paragraphSeparator: return .whitespace
    default: return .other
    }
    if let age = properties.age, age.major > 16 { return .other }
    return cls
}

/// What a Split step cuts on. The GPT-2 and Qwen2/Llama-3 regexes are matched by hand-written
/// code that follows Oniguruma's leftmost-alternative semantics exactly (and is much faster than
/// bridging to NSRegularExpression); any other regex goes to NSRegularExpression (ICU), whose
/// syntax and `\s`/`\p{..}` classes agree with Oniguruma for ordinary patterns.
struct SplitPattern {
    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    enum Matcher {
        case gpt2
        case llama3(maxDigits: Int)
        case literal([Unicode.Scalar])
        case icu(NSRegularExpression)
    }

    let matcher: Matcher

    init(regex: String, allowHandWritten: Bool = true) throws {
        switch regex {
        case Self.gpt2Regex where allowHandWritten: matcher = .gpt2
        case Self.qwen2Regex where allowHandWritten: matcher = .llama3(maxDigits: 1)
        case Self.llama3Regex where allowHandWritten: matcher = .llama3(maxDigits: 3)
        default:
            do { matcher = .icu(try NSRegularExpression(pattern: regex)) } catch {
                throw GRLHFError.unsupported("pre-tokenizer regex \(regex.debugDescription) does not compile: \(error)")
            }
        }
    }

    init(literal: String) { matcher = .literal(Array(literal.unicodeScalars)) }

    /// The non-overlapping matches in `piece`, left to right, as index ranges of `piece`.
    func matches(in piece: Piece) -> [Range<Int>] {
        var out: [Range<Int>] = []
        switch matcher {
        case .gpt2, .llama3:
            var i = piece.startIndex
            while i < piece.endIndex {
                let end = matchEnd(piece, at: i)
                out.append(i ..< end)
                i = end
            }
        case .literal(let needle):
            guard !needle.isEmpty else { return [] }
            var i = piece.startIndex
            while i + needle.count <= piece.endIndex {
                if piece[i ..< i + needle.count].elementsEqual(needle) {
                    out.append(i ..< i + needle.count)
                    i += needle.count
                } else {
                    i += 1
                }
            }
        case .icu(let regex):
            // NSRegularExpression works in UTF-16 offsets; map them back to scalar indices.
            var utf16ToScalar = [Int](repeating: -1, count: 1)
            utf16ToScalar[0] = piece.startIndex
            var text = String.UnicodeScalarView()
            for (k, scalar) in zip(piece.indices, piece) {
                text.append(scalar)
                if scalar.value > 0xFFFF { utf16ToScalar.append(-1) }
                utf16ToScalar.append(k + 1)
            }
            let string = String(text)
            let length = string.utf16.count
            for m in regex.matches(in: string, range: NSRange(location: 0, length: length)) {
                let lo = m.range.location, hi = m.range.location + m.range.length
                guard lo >= 0, hi <= length, utf16ToScalar[lo] >= 0, utf16ToScalar[hi] >= 0 else { continue }
                out.append(utf16ToScalar[lo] ..< utf16ToScalar[hi])
            }
        }
        return out
    }

    /// The end of the match that starts at `i` for the GPT-2 and Qwen2/Llama-3 regexes. Both
    /// match at every position, so their matches tile the text.
    private func matchEnd(_ s: Piece, at i: Int) -> Int {
        let n = s.endIndex
        let c = s[i]
        func run(_ from: Int, _ cls: CharClass, limit: Int = .max) -> Int {
            var j = from
            while j < n && j - from < limit && charClass(s[j]) == cls { j += 1 }
            return j
        }
        let cls = charClass(c)
        switch matcher {
        case .gpt2:
            // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
            if c == "'" && i + 1 < n {
                switch s[i + 1] {
                case "s", "t", "m", "d": return i + 2
                case "r" where i + 2 < n && s[i + 2] == "e": return i + 3
                case "v" where i + 2 < n && s[i + 2] == "e": return i + 3
                case "l" where i + 2 < n && s[i + 2] == "l": return i + 3
                default: break
                }
            }
            // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`
            let start = c == " " && i + 1 < n ? i + 1 : i
            let startClass = charClass(s[start])
            if startClass != .whitespace { return run(start, startClass) }
        case .llama3(let maxDigits):
            // (?i:'s|'t|'re|'ve|'m|'ll|'d); Oniguruma folds U+017F (long s) to "s" as well.
            if c == "'" && i + 1 < n {
                let a = folded(s[i + 1]), b = i + 2 < n ? folded(s[i + 2]) : 0
                switch (a, b) {
                case (0x73, _), (0x74, _), (0x6D, _), (0x64, _): return i + 2
                case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return i + 3
                default: break
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if cls == .letter { return run(i, .letter) }
            if c != "\r" && c != "\n" && cls != .number && i + 1 < n && charClass(s[i + 1]) == .letter {
                return run(i + 1, .letter)
            }
            // \p{N}{1,k}
            if cls == .number { return run(i, .number, limit: maxDigits) }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let start = c == " " && i + 1 < n ? i + 1 : i
            if charClass(s[start]) == .other {
                var j = run(start, .other)
                while j < n && (s[j] == "\r" || s[j] == "\n") { j += 1 }
                return j
            }
            // \s*[\r\n]+ : greedy whitespace, backtracked to just after its last line break.
            let wsEnd = run(i, .whitespace)
            var k = wsEnd - 1
            while k >= i {
                if s[k] == "\r" || s[k] == "\n" { return k + 1 }
                k -= 1
            }
        case .literal, .icu:
            fatalError("matchEnd is only for the hand-written patterns")
        }
        // \s+(?!\S)|\s+ : a whitespace run leaves its last character to the next piece when a
        // non-space follows, unless the run is a single character.
        let wsEnd = run(i, .whitespace)
        if wsEnd == n || wsEnd - i == 1 { return wsEnd }
        return wsEnd - 1
    }

    /// The simple case folding `(?i)` applies to the contraction letters (ASCII and U+017F).
    @inline(__always)
    private func folded(_ s: Unicode.Scalar) -> UInt32 {
        let v = s.value
        if v >= 0x41 && v <= 0x5A { return v + 0x20 }
        return v == 0x17F ? 0x73 : v
    }
}

/// `tokenizers`' SplitDelimiterBehavior.
enum SplitBehavior: String {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    /// Cuts `piece` at `matches` and appends the non-empty results to `out`, as `tokenizers`'
    /// NormalizedString::split does (including its quirk that consecutive delimiters are not
    /// merged into a neighbour).
    func split(_ piece: Piece, matches: [Range<Int>], invert: Bool, into out: inout [Piece]) {
        var parts: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = piece.startIndex
        for m in matches {
            if previous != m.lowerBound { parts.append((previous ..< m.lowerBound, invert)) }
            parts.append((m, !invert))
            previous = m.upperBound
        }
        if previous != piece.endIndex { parts.append((previous ..< piece.endIndex, invert)) }

        var merged: [(range: Range<Int>, isMatch: Bool)] = []
        var previousMatch = false
        switch self {
        case .removed:
            merged = parts.filter { !$0.isMatch }
        case .isolated:
            merged = parts
        case .mergedWithPrevious:
            for part in parts {
                if part.isMatch && !previousMatch, let last = merged.last {
                    merged[merged.count - 1].range = last.range.lowerBound ..< part.range.upperBound
                } else {
                    merged.append(part)
                }
                previousMatch = part.isMatch
            }
        case .mergedWithNext:
            for part in parts.reversed() {
                if part.isMatch && !previousMatch, let last = merged.last {
                    merged[merged.count - 1].range = part.range.lowerBound ..< last.range.upperBound
                } else {
                    merged.append(part)
                }
                previousMatch = part.isMatch
            }
            merged.reverse()
        case .contiguous:
            for part in parts {
                if part.isMatch == previousMatch, let last = merged.last {
                    merged[merged.count - 1].range = last.range.lowerBound ..< part.range.upperBound
                } else {
                    merged.append(part)
                }
                previousMatch = part.isMatch
            }
        }
        for part in merged where !part.range.isEmpty { out.append(piece[part.range]) }
    }
}

/// One step of a pre-tokenizer Sequence. ByteLevel is always the last step: after it the pieces
/// are read as UTF-8 bytes.
enum PreTokenizerStep {
    case split(SplitPattern, SplitBehavior, invert: Bool)
    /// Rust's `char::is_numeric` (categories Nd, Nl, No), each digit alone or in runs.
    case digits(individual: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)

    private static let gpt2 = try! SplitPattern(regex: SplitPattern.gpt2Regex)

    func apply(_ pieces: [Piece]) -> [Piece] {
        var out: [Piece] = []
        out.reserveCapacity(pieces.count * 2)
        for piece in pieces {
            switch self {
            case .split(let pattern, let behavior, let invert):
                behavior.split(piece, matches: pattern.matches(in: piece), invert: invert, into: &out)
            case .digits(let individual):
                let matches = piece.indices.filter { charClass(piece[$0]) == .number }.map { $0 ..< $0 + 1 }
                (individual ? SplitBehavior.isolated : .contiguous).split(piece, matches: matches, invert: false, into: &out)
            case .byteLevel(let addPrefixSpace, let useRegex):
                var piece = piece
                if addPrefixSpace && piece.first != " " { piece = ([" "] + piece)[...] }
                if useRegex {
                    SplitBehavior.isolated.split(piece, matches: Self.gpt2.matches(in: piece), invert: false, into: &out)
                } else {
                    out.append(piece)
                }
            }
        }
        return out
    }
}
