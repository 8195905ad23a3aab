import Foundation

/// Trains a byte-level BPE tokenizer the way Hugging Face `tokenizers`' BpeTrainer does with the
/// GPT-2 setup (ByteLevel pre-tokenizer with the GPT-2 regex, no prefix space, the full 256-byte
/// initial alphabet).
///
/// Ids: the special tokens first (0 ..< k, in the order given, duplicates dropped), then the 256
/// byte characters ordered by code point, then one token per merge. Each step merges the pair of
/// symbols with the highest count over the corpus; ties go to the pair whose left id is lowest,
/// then whose right id is lowest — the same rule as `tokenizers`, so both learn the same merges
/// from the same corpus. Training stops at `vocabSize` tokens or when the best count falls below
/// `minFrequency` (at least 1). Special tokens inside the corpus are counted as ordinary text,
/// as `tokenizers` does.
public enum BPETrainer {
    public static func train(corpus: [String], vocabSize: Int, specialTokens: [String], minFrequency: Int = 2) -> Tokenizer {
        // Words: the GPT-2 pre-tokens of the corpus, as byte strings, with their counts.
        let split = PreTokenizerStep.byteLevel(addPrefixSpace: false, useRegex: true)
        var wordCounts: [[UInt8]: Int] = [:]
        var buffer: [UInt8] = []
        for text in corpus {
            let scalars = Array(text.unicodeScalars)
            guard !scalars.isEmpty else { continue }
            for piece in split.apply([scalars[...]]) {
                buffer.removeAll(keepingCapacity: true)
                for s in piece { appendUTF8(s, to: &buffer) }
                wordCounts[buffer, default: 0] += 1
            }
        }

        var tokens: [String] = []
        var ids: [String: Int32] = [:]
        func add(_ token: String) -> Int32 {
            if let id = ids[token] { return id }
            ids[token] = Int32(tokens.count)
            tokens.append(token)
            return Int32(tokens.count - 1)
        }
        let specials = specialTokens.filter { !$0.isEmpty }
        for token in specials { _ = add(token) }
        var byteIds = [Int32](repeating: 0, count: 256)
        for byte in (0 ..< 256).sorted(by: { ByteLevel.byteToScalar[$0].value < ByteLevel.byteToScalar[$1].value }) {
            byteIds[byte] = add(String(Character(ByteLevel.byteToScalar[byte])))
        }

        // Sorted so that everything below runs in the same order in every process.
        let sortedWords = wordCounts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words = sortedWords.map { $0.key.map { byteIds[Int($0)] } }
        let counts = sortedWords.map(\.value)
        var pairCounts: [UInt64: Int] = [:]
        var occurrences: [UInt64: Set<Int>] = [:]
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0 ..< word.count - 1 {
                let pair = Tokenizer.pairKey(word[i], word[i + 1])
                pairCounts[pair, default: 0] += counts[w]
                occurrences[pair, default: []].insert(w)
            }
        }
        var queue = Heap<Candidate>()
        for (pair, count) in pairCounts.sorted(by: { $0.key < $1.key }) where count > 0 {
            queue.push(Candidate(count: count, pair: pair))
        }

        var merges: [(String, String)] = []
        var changes: [(UInt64, Int)] = []
        while tokens.count < vocabSize, var top = queue.pop() {
            let current = pairCounts[top.pair] ?? 0
            if top.count != current {  // stale: counts only fall, so re-queue at the true count
                top.count = current
                queue.push(top)
                continue
            }
            if top.count < max(1, minFrequency) { break }
            let left = Int32(truncatingIfNeeded: top.pair >> 32), right = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let merged = add(tokens[Int(left)] + tokens[Int(right)])
            merges.append((tokens[Int(left)], tokens[Int(right)]))
            var created = Set<UInt64>()
            for w in occurrences.removeValue(forKey: top.pair) ?? [] {
                changes.removeAll(keepingCapacity: true)
                mergePair(&words[w], left, right, into: merged, changes: &changes)
                for (pair, delta) in changes {
                    pairCounts[pair, default: 0] += delta * counts[w]
                    if delta > 0 {
                        occurrences[pair, default: []].insert(w)
                        created.insert(pair)
                    }
                }
            }
            for pair in created.sorted() {
                if let count = pairCounts[pair], count > 0 { queue.push(Candidate(count: count, pair: pair)) }
            }
        }

        let root: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(),
            "added_tokens": specials.map { token -> [String: Any] in
                ["id": Int(ids[token]!), "content": token, "single_word": false, "lstrip": false,
                 "rstrip": false, "normalized": false, "special": true]
            },
            "normalizer": NSNull(),
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            "post_processor": NSNull(),
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) }),
                "merges": merges.map { [$0.0, $0.1] },
            ] as [String: Any],
        ]
        // Through JSON text, so a trained tokenizer takes exactly the path of a loaded one.
        do {
            return try Tokenizer(json: JSONSerialization.data(withJSONObject: root))
        } catch {
            fatalError("internal: BPETrainer built an invalid tokenizer: \(error)")
        }
    }

    /// Replaces each (left, right) in `word` by `merged`, left to right, and records how the
    /// counts of neighbouring pairs change (`tokenizers`' Word::merge).
    private static func mergePair(_ word: inout [Int32], _ left: Int32, _ right: Int32, into merged: Int32,
                                  changes: inout [(UInt64, Int)]) {
        var i = 0
        while i < word.count {
            if word[i] == left && i + 1 < word.count && word[i + 1] == right {
                if i > 0 {
                    changes.append((Tokenizer.pairKey(word[i - 1], left), -1))
                    changes.append((Tokenizer.pairKey(word[i - 1], merged), 1))
                }
                word[i] = merged
                word.remove(at: i + 1)
                if i + 1 < word.count {
                    changes.append((Tokenizer.pairKey(right, word[i + 1]), -1))
                    changes.append((Tokenizer.pairKey(merged, word[i + 1]), 1))
                }
            }
            i += 1
        }
    }
}

/// A pair and its count, ordered for `Heap` so that the top is the highest count, then the
/// lowest pair.
private struct Candidate: Comparable {
    var count: Int
    var pair: UInt64

    static func < (a: Candidate, b: Candidate) -> Bool { a.count != b.count ? a.count > b.count : a.pair < b.pair }
}
