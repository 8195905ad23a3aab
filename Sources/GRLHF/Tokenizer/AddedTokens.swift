import Foundation

/// An entry of tokenizer.json's `added_tokens`: text matched before any other processing and
/// mapped straight to its id.
struct AddedToken {
    var id: Int32
    var content: String
    /// Special tokens are the ones `decode(_:skipSpecialTokens: true)` drops.
    var special: Bool
    /// Match only when no word character touches either end.
    var singleWord = false
    /// Absorb the whitespace on the left / right into the token.
    var lstrip = false, rstrip = false
    /// Match against the normalized text (the token's normalized content) rather than the raw one.
    var normalized: Bool
}

/// Finds added tokens in UTF-8 text as `tokenizers`' AddedVocabulary does: leftmost-longest
/// matches (its Aho-Corasick automaton), scanning on after each match, then `single_word`,
/// `lstrip` and `rstrip` applied to the match.
struct AddedTokenMatcher {
    enum Segment {
        case text(ArraySlice<UInt8>)
        case token(Int32)
    }

    private struct Pattern {
        let bytes: [UInt8]
        let token: AddedToken
    }

    /// Patterns by first byte, longest first.
    private let byFirstByte: [[Pattern]]
    let isEmpty: Bool

    init(_ tokens: [(pattern: String, token: AddedToken)]) {
        var table = [[Pattern]](repeating: [], count: 256)
        for (text, token) in tokens where !text.isEmpty {
            let bytes = Array(text.utf8)
            table[Int(bytes[0])].append(Pattern(bytes: bytes, token: token))
        }
        byFirstByte = table.map { $0.sorted { $0.bytes.count > $1.bytes.count } }
        isEmpty = tokens.isEmpty
    }

    /// Calls `body` with the text between added tokens and with the tokens, in order.
    func split(_ text: ArraySlice<UInt8>, _ body: (Segment) -> Void) {
        if isEmpty {
            body(.text(text))
            return
        }
        var startOffset = text.startIndex
        var searchFrom = text.startIndex
        while let (matchStart, pattern) = find(in: text, from: searchFrom) {
            var start = matchStart, stop = matchStart + pattern.bytes.count
            searchFrom = stop
            let token = pattern.token
            if token.singleWord {
                let wordBefore = scalar(endingAt: start, in: text).map { isWordCharacter($0.scalar) } ?? false
                let wordAfter = scalar(startingAt: stop, in: text).map { isWordCharacter($0.scalar) } ?? false
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                var newStart = start
                while let (s, begin) = scalar(endingAt: newStart, in: text), s.properties.isWhitespace { newStart = begin }
                start = max(newStart, startOffset)
            }
            if token.rstrip {
                while let (s, end) = scalar(startingAt: stop, in: text), s.properties.isWhitespace { stop = end }
            }
            if startOffset < start { body(.text(text[startOffset ..< start])) }
            body(.token(token.id))
            startOffset = max(startOffset, stop)
        }
        if startOffset < text.endIndex { body(.text(text[startOffset...])) }
    }

    /// The leftmost position at or after `from` where a pattern matches, with the longest one.
    private func find(in text: ArraySlice<UInt8>, from: Int) -> (Int, Pattern)? {
        var i = from
        while i < text.endIndex {
            for pattern in byFirstByte[Int(text[i])] where i + pattern.bytes.count <= text.endIndex {
                if text[i ..< i + pattern.bytes.count].elementsEqual(pattern.bytes) { return (i, pattern) }
            }
            i += 1
        }
        return nil
    }

    /// Rust regex's `\w`: alphabetic, marks, decimal digits, connector punctuation, joiners
    /// (Unicode 16.0, like `tokenizers`: later characters are not word characters).
    private func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if let age = p.age, age.major > 16 { return false }
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

/// The scalar of valid UTF-8 `text` that ends at byte `end`, and where it begins.
func scalar(endingAt end: Int, in text: ArraySlice<UInt8>) -> (scalar: Unicode.Scalar, begin: Int)? {
    guard end > text.startIndex else { return nil }
    var begin = end - 1
    while begin > text.startIndex && text[begin] & 0xC0 == 0x80 { begin -= 1 }
    guard let s = String(decoding: text[begin ..< end], as: UTF8.self).unicodeScalars.first else { return nil }
    return (s, begin)
}

/// The scalar of valid UTF-8 `text` that begins at byte `begin`, and where it ends.
func scalar(startingAt begin: Int, in text: ArraySlice<UInt8>) -> (scalar: Unicode.Scalar, end: Int)? {
    guard begin < text.endIndex else { return nil }
    let lead = text[begin]
    let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    let end = min(begin + length, text.endIndex)
    guard let s = String(decoding: text[begin ..< end], as: UTF8.self).unicodeScalars.first else { return nil }
    return (s, end)
}

/// Appends the UTF-8 encoding of `s`.
@inline(__always)
func appendUTF8(_ s: Unicode.Scalar, to bytes: inout [UInt8]) {
    let v = s.value
    if v < 0x80 {
        bytes.append(UInt8(v))
    } else if v < 0x800 {
        bytes.append(UInt8(0xC0 | v >> 6)); bytes.append(UInt8(0x80 | v & 0x3F))
    } else if v < 0x10000 {
        bytes.append(UInt8(0xE0 | v >> 12)); bytes.append(UInt8(0x80 | v >> 6 & 0x3F))
        bytes.append(UInt8(0x80 | v & 0x3F))
    } else {
        bytes.append(UInt8(0xF0 | v >> 18)); bytes.append(UInt8(0x80 | v >> 12 & 0x3F))
        bytes.append(UInt8(0x80 | v >> 6 & 0x3F)); bytes.append(UInt8(0x80 | v & 0x3F))
    }
}
