import Foundation
@testable import GRLHF
import Testing

/// Fixtures made by Fixtures/tokenizer/make_tokenizer_fixtures.py with Hugging Face `tokenizers`:
/// three byte-level BPE tokenizers (GPT-2, Qwen2 and SmolLM2 pre-tokenizers) and the ids and
/// decodes `tokenizers` gives for ~40 strings each.
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/tokenizer")

private let fixtureNames = ["gpt2", "qwen2", "smollm2"]

private func fixtureTokenizer(_ name: String) throws -> Tokenizer {
    try Tokenizer.load(contentsOf: fixtures.appendingPathComponent("\(name)/tokenizer.json").path)
}

private func expected(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: fixtures.appendingPathComponent("\(name)/expected.json"))
    return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

private func int32s(_ value: Any?) -> [Int32] { (value as? [Int] ?? []).map(Int32.init) }

/// Exact text comparison: Swift's `==` on String is canonical equivalence, which would hide an
/// NFC/NFD difference.
private func sameBytes(_ a: String, _ b: String) -> Bool { Array(a.utf8) == Array(b.utf8) }

private let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

/// A small training corpus: prose, code, numbers, accents, CJK, emoji, whitespace.
private let trainingCorpus: [String] = {
    let lines = [
        "The quick brown fox jumps over the lazy dog, and the dog doesn't mind.",
        "The cat sat on the mat; the mat was warm. They'll sit there all day, won't they?",
        "Reward models compare the responses, then the policy learns from the rewards.",
        "def train(model, data):\n    for batch in data:\n        loss = model(batch)\n        loss.backward()\n",
        "Numbers 1234567890, 3.14159, 2025-01-31 and 42 are numbers; 100% sure.",
        "Café crème, naïve façade, Zürich, smörgåsbord, jalapeño.",
        "机器学习和自然语言处理。東京は大きい都市です。안녕하세요.",
        "Emoji 😀🎉👍🏽 and symbols ∑ ≈ ≠ → appear too.",
        "Spaces   and\ttabs\t\tand\n\nnewlines\r\n mixed   together  ",
        "<|im_start|>user\nHello there!<|im_end|>\n<|im_start|>assistant\nHi!<|im_end|>\n",
    ]
    return (0 ..< 4).flatMap { _ in lines }
}()

/// Random strings over a pool that stresses the pre-tokenizers and byte-level BPE: ASCII,
/// contractions, whitespace of every kind, combining marks, CJK, emoji with ZWJ and skin tones,
/// letters newer than Unicode 16, plus arbitrary scalars from the whole Unicode range. (No
/// `<mask>`: the gpt2 fixture gives it lstrip/rstrip, which drop whitespace by design.)
private func randomStrings(count: Int, seed: UInt64) -> [String] {
    var rng = PCG32(seed: seed)
    let pool: [String] = ["a", "Z", "q", "7", "0", "'", "'s", "'T", "'ll", "'RE", "ſ", " ", "  ", "\t", "\n", "\r\n",
                          "\u{0B}", "\u{0C}", "\u{85}", "\u{A0}", "\u{2028}", "\u{3000}", "\u{1C}", ".", ",", "!?",
                          "$", "(", "_", "-", "é", "e\u{301}", "\u{301}", "ñ", "ß", "Ω", "Ж", "中", "文", "日本",
                          "한", "١٢", "½", "😀", "👍🏽", "👨‍👩‍👧", "🇯🇵", "\u{200D}", "\u{FEFF}", "\u{10FFFF}", "<|im_end|>",
                          "<|im_start", "<think>", "sw", "\u{0}", "\u{A7CE}", "\u{32CA4}", "\u{501B0}\u{301}"]
    return (0 ..< count).map { _ in
        var s = ""
        for _ in 0 ..< Int(rng.nextUInt32() % 24) {
            if rng.nextUInt32() % 5 == 0 {
                // Any scalar: skip the surrogate range, which is not a scalar.
                var v = rng.nextUInt32() % 0x110000
                if (0xD800 ... 0xDFFF).contains(v) { v -= 0x800 }
                s.unicodeScalars.append(Unicode.Scalar(v)!)
            } else {
                s += pool[Int(rng.nextUInt32()) % pool.count]
            }
        }
        return s
    }
}

/// The GRLHFError that parsing `json` throws; records an issue if it loads or throws another error.
private func loadError(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> GRLHFError? {
    do {
        _ = try Tokenizer(json: Data(json.utf8))
        Issue.record("loaded a bad tokenizer.json", sourceLocation: sourceLocation)
    } catch let error as GRLHFError {
        return error
    } catch {
        Issue.record("not a GRLHFError: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A minimal valid tokenizer.json with the given parts replaced.
private func tokenizerJSON(vocab: String = #"{"a": 0, "b": 1, "ab": 2}"#, merges: String = #"["a b"]"#,
                           addedTokens: String = "[]", preTokenizer: String = #"{"type": "ByteLevel"}"#,
                           normalizer: String = "null", postProcessor: String = "null",
                           decoder: String = #"{"type": "ByteLevel"}"#, modelExtra: String = "") -> String {
    """
    {"version": "1.0", "added_tokens": \(addedTokens), "normalizer": \(normalizer),
     "pre_tokenizer": \(preTokenizer), "post_processor": \(postProcessor), "decoder": \(decoder),
     "model": {"type": "BPE", \(modelExtra) "vocab": \(vocab), "merges": \(merges)}}
    """
}

@Suite struct TokenizerTests {
    @Test(arguments: fixtureNames)
    func idsMatchHuggingFaceTokenizers(name: String) throws {
        let tokenizer = try fixtureTokenizer(name)
        let cases = try #require(try expected(name)["cases"] as? [[String: Any]])
        #expect(cases.count >= 40)
        for item in cases {
            let text = try #require(item["text"] as? String)
            let ids = int32s(item["ids"])
            #expect(tokenizer.encode(text) == ids, "\(name): \(text.debugDescription)")
            let decoded = try #require(item["decoded"] as? String)
            let skipped = try #require(item["decoded_skip_special"] as? String)
            #expect(sameBytes(tokenizer.decode(ids), decoded), "\(name): decode \(text.debugDescription)")
            #expect(sameBytes(tokenizer.decode(ids, skipSpecialTokens: true), skipped), "\(name): skip \(text.debugDescription)")
        }
    }

    @Test(arguments: fixtureNames)
    func partialTokensDecodeLikeTokenizers(name: String) throws {
        let tokenizer = try fixtureTokenizer(name)
        let partial = try #require(try expected(name)["partial"] as? [[String: Any]])
        #expect(!partial.isEmpty)
        var sawReplacement = false
        for item in partial {
            let decoded = try #require(item["decoded"] as? String)
            sawReplacement = sawReplacement || decoded.contains("\u{FFFD}")
            #expect(sameBytes(tokenizer.decode(int32s(item["ids"])), decoded))
        }
        #expect(sawReplacement, "the fixture should cut a multi-byte character somewhere")
    }

    @Test func postProcessorTemplateAddsSpecialTokens() throws {
        let tokenizer = try fixtureTokenizer("qwen2")
        let cases = try #require(try expected("qwen2")["with_special_tokens"] as? [[String: Any]])
        #expect(cases.count == 3)
        for item in cases {
            let text = try #require(item["text"] as? String)
            #expect(tokenizer.encode(text, addSpecialTokens: true) == int32s(item["ids"]), "\(text.debugDescription)")
        }
        // GPT-2-style tokenizers have no template: the flag changes nothing.
        let gpt2 = try fixtureTokenizer("gpt2")
        #expect(gpt2.encode("Hello", addSpecialTokens: true) == gpt2.encode("Hello"))
    }

    @Test(arguments: fixtureNames)
    func randomTextRoundTrips(name: String) throws {
        let tokenizer = try fixtureTokenizer(name)
        for text in randomStrings(count: 400, seed: 7) {
            let ids = tokenizer.encode(text)
            // qwen2 normalizes to NFC, so it round-trips the NFC form.
            let want = name == "qwen2" ? String(decoding: text._nfcCodeUnits, as: UTF8.self) : text
            #expect(sameBytes(tokenizer.decode(ids), want), "\(name): \(text.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabSize })
        }
    }

    /// The hand-written GPT-2 and Qwen2/Llama-3 splitters against ICU running the same regexes.
    @Test func handWrittenSplittersAgreeWithRegexEngine() throws {
        var texts = randomStrings(count: 400, seed: 11)
        for name in fixtureNames {
            texts += (try #require(try expected(name)["cases"] as? [[String: Any]])).compactMap { $0["text"] as? String }
        }
        for regex in [SplitPattern.gpt2Regex, SplitPattern.qwen2Regex, SplitPattern.llama3Regex] {
            let fast = try SplitPattern(regex: regex)
            let icu = try SplitPattern(regex: regex, allowHandWritten: false)
            if case .icu = fast.matcher { Issue.record("\(regex) should use the hand-written matcher") }
            for text in texts {
                let scalars = Array(text.unicodeScalars)[...]
                #expect(fast.matches(in: scalars) == icu.matches(in: scalars), "\(regex): \(text.unicodeScalars.map { String($0.value, radix: 16) })")
            }
        }
    }

    @Test func splitBehaviorsMatchTokenizers() throws {
        // Expected pieces from tokenizers' Split(Regex("-"), behavior, invert) on "--ab-c--".
        let cases: [(SplitBehavior, Bool, [String])] = [
            (.removed, false, ["ab", "c"]), (.isolated, false, ["-", "-", "ab", "-", "c", "-", "-"]),
            (.mergedWithPrevious, false, ["-", "-", "ab-", "c-", "-"]),
            (.mergedWithNext, false, ["-", "-ab", "-c", "-", "-"]),
            (.contiguous, false, ["--", "ab", "-", "c", "--"]),
            (.removed, true, ["-", "-", "-", "-", "-"]),
            (.mergedWithPrevious, true, ["-", "-ab", "-c", "-", "-"]),
            (.mergedWithNext, true, ["-", "-", "ab-", "c-", "-"]),
        ]
        let text = Array("--ab-c--".unicodeScalars)[...]
        let pattern = SplitPattern(literal: "-")
        for (behavior, invert, want) in cases {
            var out: [Piece] = []
            behavior.split(text, matches: pattern.matches(in: text), invert: invert, into: &out)
            #expect(out.map { String(String.UnicodeScalarView($0)) } == want, "\(behavior) invert=\(invert)")
        }
        var digits: [Piece] = []
        let numbers = Array("ab12 3½x".unicodeScalars)[...]
        digits = PreTokenizerStep.digits(individual: false).apply([numbers])
        #expect(digits.map { String(String.UnicodeScalarView($0)) } == ["ab", "12", " ", "3½", "x"])
    }

    @Test func lookupsAndSpecialTokens() throws {
        let tokenizer = try fixtureTokenizer("gpt2")
        #expect(tokenizer.vocabSize == 402)  // 400 trained + <mask> + sw
        #expect(tokenizer.specialTokens == ["<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2])
        #expect(tokenizer.id(for: "<|im_end|>") == 2)
        #expect(tokenizer.token(for: 2) == "<|im_end|>")
        #expect(tokenizer.id(for: "Ġ") != nil)
        #expect(tokenizer.token(for: tokenizer.id(for: "Ġ")!) == "Ġ")
        #expect(tokenizer.id(for: "no such token") == nil)
        #expect(tokenizer.token(for: -1) == nil && tokenizer.token(for: 402) == nil && tokenizer.token(for: .max) == nil)
        // Unknown ids are skipped, never a crash.
        let hello = tokenizer.encode("hello")
        #expect(tokenizer.decode([-5] + hello + [402, .max, .min]) == "hello")
        #expect(tokenizer.decode([]) == "")
        #expect(tokenizer.encode("") == [])
    }

    @Test func concurrentEncodingIsConsistent() throws {
        let tokenizer = try fixtureTokenizer("qwen2")
        let texts = randomStrings(count: 64, seed: 3)
        let serial = texts.map { tokenizer.encode($0) }
        let results = UnsafeMutableBufferPointer<[Int32]>.allocate(capacity: texts.count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in results[i] = tokenizer.encode(texts[i]) }
        #expect(Array(results) == serial)
    }

    // MARK: Hostile tokenizer.json

    @Test func minimalTokenizerLoads() throws {
        let tokenizer = try Tokenizer(json: Data(tokenizerJSON().utf8))
        #expect(tokenizer.encode("ab") == [2])
        #expect(tokenizer.encode("ba") == [1, 0])
        #expect(tokenizer.encode("c") == [])  // no unk token: bytes outside the vocabulary are dropped
        let pairs = try Tokenizer(json: Data(tokenizerJSON(merges: #"[["a", "b"]]"#).utf8))
        #expect(pairs.encode("aab") == [0, 2])
    }

    @Test func badFilesThrowClearErrors() throws {
        func expectFormat(_ json: String, mentions: String, sourceLocation: SourceLocation = #_sourceLocation) {
            guard let error = loadError(json, sourceLocation: sourceLocation) else { return }
            guard case .invalidFormat(let message) = error else {
                Issue.record("expected invalidFormat, got \(error)", sourceLocation: sourceLocation)
                return
            }
            #expect(message.contains(mentions), "\(message)", sourceLocation: sourceLocation)
        }
        func expectUnsupported(_ json: String, mentions: String, sourceLocation: SourceLocation = #_sourceLocation) {
            guard let error = loadError(json, sourceLocation: sourceLocation) else { return }
            guard case .unsupported(let message) = error else {
                Issue.record("expected unsupported, got \(error)", sourceLocation: sourceLocation)
                return
            }
            #expect(message.contains(mentions), "\(message)", sourceLocation: sourceLocation)
        }
        expectFormat("", mentions: "not valid JSON")
        expectFormat(String(tokenizerJSON().dropLast(9)), mentions: "not valid JSON")
        expectFormat("[1, 2]", mentions: "top level")
        expectFormat(String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000), mentions: "JSON")
        expectFormat(#"{"version": "1.0"}"#, mentions: "model must be an object")
        expectFormat(#"{"model": []}"#, mentions: "model must be an object")
        expectFormat(#"{"model": {"vocab": {}, "merges": []}}"#, mentions: "model.type")
        expectUnsupported(#"{"model": {"type": "WordPiece", "vocab": {}}}"#, mentions: "WordPiece")
        expectFormat(tokenizerJSON(vocab: "[]"), mentions: "model.vocab must be an object")
        expectFormat(tokenizerJSON(vocab: #"{"a": -1, "b": 1, "ab": 2}"#), mentions: "model.vocab[\"a\"]")
        expectFormat(tokenizerJSON(vocab: #"{"a": true, "b": 1, "ab": 2}"#), mentions: "model.vocab[\"a\"]")
        expectFormat(tokenizerJSON(vocab: #"{"a": 0.5, "b": 1, "ab": 2}"#), mentions: "model.vocab[\"a\"]")
        expectFormat(tokenizerJSON(vocab: #"{"a": "0", "b": 1, "ab": 2}"#), mentions: "model.vocab[\"a\"]")
        expectFormat(tokenizerJSON(vocab: #"{"a": 0, "b": 1, "ab": 99999999999999999999}"#), mentions: "model.vocab[\"ab\"]")
        expectFormat(tokenizerJSON(vocab: #"{"a": 0, "b": 1, "ab": 2000000000}"#), mentions: "out of range")
        expectFormat(tokenizerJSON(vocab: #"{"a": 0, "b": 1, "ab": 1}"#), mentions: "id 1")
        expectFormat(tokenizerJSON(merges: "null"), mentions: "model.merges must be an array")
        expectFormat(tokenizerJSON(merges: "[5]"), mentions: "model.merges[0]")
        expectFormat(tokenizerJSON(merges: #"["a b c"]"#), mentions: "model.merges[0]")
        expectFormat(tokenizerJSON(merges: #"["ab"]"#), mentions: "model.merges[0]")
        expectFormat(tokenizerJSON(merges: #"[["a", "b", "c"]]"#), mentions: "model.merges[0]")
        expectFormat(tokenizerJSON(merges: #"[["a", 1]]"#), mentions: "model.merges[0]")
        expectFormat(tokenizerJSON(merges: #"["a b", "b x"]"#), mentions: "model.merges[1]")
        expectFormat(tokenizerJSON(merges: #"["b a"]"#), mentions: "model.merges[0]")  // "ba" not in vocab
        expectFormat(tokenizerJSON(addedTokens: "{}"), mentions: "added_tokens must be an array")
        expectFormat(tokenizerJSON(addedTokens: #"[{"content": "<x>"}]"#), mentions: "added_tokens[0].id")
        expectFormat(tokenizerJSON(addedTokens: #"[{"id": 3}]"#), mentions: "added_tokens[0].content")
        expectFormat(tokenizerJSON(addedTokens: #"[{"id": 3, "content": ""}]"#), mentions: "added_tokens[0].content")
        expectFormat(tokenizerJSON(addedTokens: #"[{"id": -3, "content": "<x>"}]"#), mentions: "out of range")
        expectFormat(tokenizerJSON(addedTokens: #"[{"id": 3, "content": "<x>", "special": "yes"}]"#), mentions: "added_tokens[0].special")
        expectFormat(tokenizerJSON(addedTokens: #"[{"id": 3, "content": "<x>"}, {"id": 3, "content": "<y>"}]"#), mentions: "added_tokens[1]")
        expectFormat(tokenizerJSON(addedTokens: #"[{"id": 3, "content": "<x>"}, {"id": 4, "content": "<x>"}]"#), mentions: "added_tokens[1]")
        expectFormat(tokenizerJSON(addedTokens: #"[{"id": 1, "content": "<x>"}]"#), mentions: "added_tokens[0]")
        expectUnsupported(tokenizerJSON(preTokenizer: #"{"type": "Metaspace", "replacement": "▁"}"#), mentions: "Metaspace")
        expectUnsupported(tokenizerJSON(preTokenizer: #"{"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "ByteLevel"}]}"#), mentions: "pre_tokenizer.pretokenizers[0]")
        expectUnsupported(tokenizerJSON(preTokenizer: "null"), mentions: "pre_tokenizer")
        expectUnsupported(tokenizerJSON(preTokenizer: #"{"type": "Digits"}"#), mentions: "ByteLevel")
        expectUnsupported(tokenizerJSON(preTokenizer: #"{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}"#), mentions: "ByteLevel")
        expectFormat(tokenizerJSON(preTokenizer: #"{"type": "Sequence", "pretokenizers": {}}"#), mentions: "pre_tokenizer.pretokenizers")
        expectFormat(tokenizerJSON(preTokenizer: #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "x"}, "behavior": "Sideways"}, {"type": "ByteLevel"}]}"#), mentions: "behavior")
        expectFormat(tokenizerJSON(preTokenizer: #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {}, "behavior": "Isolated"}, {"type": "ByteLevel"}]}"#), mentions: "pattern")
        expectUnsupported(tokenizerJSON(preTokenizer: #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated"}, {"type": "ByteLevel"}]}"#), mentions: "regex")
        expectFormat(tokenizerJSON(preTokenizer: #"{"type": "ByteLevel", "use_regex": 1}"#), mentions: "pre_tokenizer.use_regex")
        expectUnsupported(tokenizerJSON(normalizer: #"{"type": "Lowercase"}"#), mentions: "Lowercase")
        expectUnsupported(tokenizerJSON(decoder: #"{"type": "WordPiece"}"#), mentions: "WordPiece")
        expectUnsupported(tokenizerJSON(decoder: "null"), mentions: "decoder")
        expectUnsupported(tokenizerJSON(postProcessor: #"{"type": "RobertaProcessing"}"#), mentions: "RobertaProcessing")
        expectFormat(tokenizerJSON(postProcessor: #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens": {"<s>": {"ids": [7]}}}"#), mentions: "ids[0]")
        expectFormat(tokenizerJSON(postProcessor: #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}], "special_tokens": {"<s>": {"ids": [0]}}}"#), mentions: "sequence")
        expectUnsupported(tokenizerJSON(modelExtra: #""dropout": 0.1,"#), mentions: "dropout")
        expectUnsupported(tokenizerJSON(modelExtra: #""byte_fallback": true,"#), mentions: "byte_fallback")
        expectUnsupported(tokenizerJSON(modelExtra: ###""continuing_subword_prefix": "##","###), mentions: "continuing_subword_prefix")
        expectFormat(tokenizerJSON(modelExtra: #""unk_token": "<unk>","#), mentions: "unk_token")
        expectFormat(tokenizerJSON(modelExtra: #""ignore_merges": "no","#), mentions: "model.ignore_merges")
        #expect(throws: GRLHFError.self) { try Tokenizer.load(contentsOf: "/nonexistent/tokenizer.json") }
    }

    /// Random corruptions of a real file load or throw; whatever loads must encode without a trap.
    @Test func corruptedFilesNeverCrash() throws {
        let original = Array(try Data(contentsOf: fixtures.appendingPathComponent("qwen2/tokenizer.json")))
        var rng = PCG32(seed: 99)
        let alphabet = Array(#"{}[]":,0123456789-. abtrue"#.utf8)
        var loaded = 0
        for _ in 0 ..< 300 {
            var bytes = original
            for _ in 0 ..< 1 + Int(rng.nextUInt32() % 4) {
                let at = Int(rng.nextUInt32()) % bytes.count
                switch rng.nextUInt32() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.nextUInt32()) % alphabet.count]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(rng.nextUInt32()) % alphabet.count], at: at)
                }
            }
            do {
                let tokenizer = try Tokenizer(json: Data(bytes))
                loaded += 1
                let ids = tokenizer.encode("Hello, world! 12345 Café 日本 😀 <|im_end|>")
                _ = tokenizer.decode(ids)
            } catch is GRLHFError {
            }
        }
        #expect(loaded > 0)
    }

    // MARK: Trainer

    @Test func trainerLearnsMergesAndRoundTrips() throws {
        let tokenizer = BPETrainer.train(corpus: trainingCorpus, vocabSize: 400, specialTokens: specials)
        #expect(tokenizer.specialTokens == ["<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2])
        #expect(tokenizer.vocabSize == 400)
        #expect(tokenizer.merges.count == 400 - 3 - 256)
        // Ids 3... are the byte characters in code-point order.
        #expect(tokenizer.token(for: 3) == "!")
        #expect(tokenizer.id(for: "Ġthe") != nil)
        #expect(tokenizer.encode(" the").count == 1)
        let text = "The dog sat on the mat."
        #expect(tokenizer.encode(text).count < text.utf8.count / 2)
        #expect(tokenizer.encode("<|im_start|>user").first == 1)
        for s in trainingCorpus + randomStrings(count: 200, seed: 5) {
            #expect(sameBytes(tokenizer.decode(tokenizer.encode(s)), s))
        }
        // Deterministic: the same corpus gives the same tokenizer.
        let again = BPETrainer.train(corpus: trainingCorpus, vocabSize: 400, specialTokens: specials)
        #expect(again.merges.elementsEqual(tokenizer.merges, by: { $0 == $1 }))
    }

    @Test func trainerStopsAtMinFrequencyAndSmallVocabularies() throws {
        let rare = BPETrainer.train(corpus: ["abc xyz"], vocabSize: 1000, specialTokens: [], minFrequency: 2)
        #expect(rare.merges.isEmpty && rare.vocabSize == 256)
        let once = BPETrainer.train(corpus: ["abc"], vocabSize: 1000, specialTokens: ["<s>"], minFrequency: 1)
        #expect(once.merges.count == 2 && once.encode("abc") == [once.id(for: "abc")!])
        let tiny = BPETrainer.train(corpus: trainingCorpus, vocabSize: 10, specialTokens: specials)
        #expect(tiny.merges.isEmpty && tiny.vocabSize == 259)
        let empty = BPETrainer.train(corpus: [], vocabSize: 300, specialTokens: [])
        #expect(sameBytes(empty.decode(empty.encode("héllo 🎉")), "héllo 🎉"))
    }

    @Test func savedTokenizerLoadsWithSameIds() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-tok-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trained = BPETrainer.train(corpus: trainingCorpus, vocabSize: 420, specialTokens: specials)
        let path = dir.appendingPathComponent("tokenizer.json").path
        try trained.save(to: path)
        let loaded = try Tokenizer.load(contentsOf: path)
        #expect(loaded.vocabSize == trained.vocabSize && loaded.specialTokens == trained.specialTokens)
        let texts = trainingCorpus + randomStrings(count: 100, seed: 21)
        for text in texts { #expect(loaded.encode(text) == trained.encode(text)) }
        // A loaded fixture survives save → load too (Split/Digits/NFC/template components).
        let qwen2 = try fixtureTokenizer("qwen2")
        try qwen2.save(to: path)
        let qwen2Again = try Tokenizer.load(contentsOf: path)
        for text in texts {
            #expect(qwen2Again.encode(text, addSpecialTokens: true) == qwen2.encode(text, addSpecialTokens: true))
        }

        // For make_tokenizer_fixtures.py --check-saved: the file, the ids, and the corpus.
        if let export = ProcessInfo.processInfo.environment["GRLHF_TOKENIZER_EXPORT"] {
            try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true)
            try trained.save(to: export + "/tokenizer.json")
            let cases = texts.map { ["text": $0, "ids": trained.encode($0).map(Int.init)] as [String: Any] }
            try JSONSerialization.data(withJSONObject: ["cases": cases]).write(to: URL(fileURLWithPath: export + "/swift_ids.json"))
            let corpus: [String: Any] = ["corpus": trainingCorpus, "vocab_size": 420, "min_frequency": 2, "special_tokens": specials]
            try JSONSerialization.data(withJSONObject: corpus).write(to: URL(fileURLWithPath: export + "/corpus.json"))
        }
    }

    /// Parity on many random strings and a long text for any tokenizer.json, with data from
    /// `make_tokenizer_fixtures.py --parity-corpus T D`; runs when GRLHF_TOKENIZER_PARITY=D.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GRLHF_TOKENIZER_PARITY"] != nil))
    func externalParity() throws {
        let dir = try #require(ProcessInfo.processInfo.environment["GRLHF_TOKENIZER_PARITY"])
        let tokenizer = try Tokenizer.load(contentsOf: dir + "/tokenizer.json")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/cases.json"))
        let cases = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["cases"] as? [[String: Any]])
        var mismatches = 0
        for item in cases {
            let text = try #require(item["text"] as? String)
            let start = Date()
            let ids = tokenizer.encode(text)
            if text.utf8.count > 50_000 {
                let seconds = Date().timeIntervalSince(start)
                print("encode: \(text.utf8.count) bytes, \(ids.count) tokens in \(seconds) s (\(Int(Double(ids.count) / seconds)) tokens/s, cold cache)")
            }
            if ids != int32s(item["ids"]) {
                mismatches += 1
                if mismatches <= 5 { Issue.record("mismatch on \(text.unicodeScalars.map { String($0.value, radix: 16) })") }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(cases.count) differ")
    }

    // MARK: Chat template

    @Test func chatMLText() {
        let messages = [(role: "system", content: "You are helpful."), (role: "user", content: "<image>\nWhat color is the circle?")]
        #expect(ChatTemplate.chatML(messages: messages, addGenerationPrompt: true) ==
            "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n<image>\nWhat color is the circle?<|im_end|>\n<|im_start|>assistant\n")
        #expect(ChatTemplate.chatML(messages: [(role: "assistant", content: "Red.")], addGenerationPrompt: false) ==
            "<|im_start|>assistant\nRed.<|im_end|>\n")
        #expect(ChatTemplate.chatML(messages: [], addGenerationPrompt: true) == "<|im_start|>assistant\n")
    }

    @Test func chatMLEncodesMarkersAsSpecialTokens() throws {
        let tokenizer = try fixtureTokenizer("smollm2")
        let text = ChatTemplate.chatML(messages: [(role: "user", content: "hi")], addGenerationPrompt: true)
        let ids = tokenizer.encode(text)
        #expect(ids.first == 1 && ids.filter { $0 == 1 }.count == 2 && ids.filter { $0 == 2 }.count == 1)
        #expect(tokenizer.decode(ids) == text)
        #expect(tokenizer.decode(ids, skipSpecialTokens: true) == "user\nhi\nassistant\n")
    }
}
