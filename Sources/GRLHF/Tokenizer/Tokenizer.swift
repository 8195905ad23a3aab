import Foundation

/// A byte-level BPE tokenizer (GPT-2, Llama-3, Qwen2, SmolLM2) read from a Hugging Face
/// `tokenizer.json`; it produces the ids the `tokenizers` library produces.
///
/// Encoding: added tokens are split out of the text first (leftmost, longest match); the rest is
/// normalized (none or NFC), cut into pieces by the pre-tokenizer (Split / Digits / ByteLevel),
/// and the UTF-8 bytes of each piece are merged by rank (lowest rank first, leftmost on ties).
/// Decoding maps tokens back to bytes; bytes that are not valid UTF-8 (a slice of ids that cuts
/// a character) become U+FFFD. `decode` skips ids that name no token, as `tokenizers` does.
///
/// `truncation` and `padding` in the file are ignored: lengths are the caller's business.
///
/// Thread safety: apart from an internal, locked cache a Tokenizer is immutable, so one instance
/// may encode and decode from many threads at once.
public final class Tokenizer: @unchecked Sendable {
    /// One past the largest id (model vocabulary and added tokens together).
    public let vocabSize: Int
    /// The special added tokens (the ones `skipSpecialTokens` drops) and their ids.
    public let specialTokens: [String: Int32]

    /// The model vocabulary, keyed by bytes as in `tokenizers` (String equality in Swift is
    /// canonical equivalence, which would conflate distinct tokens).
    let vocab: [TokenKey: Int32]
    /// Merge pairs by rank (rank = position).
    let merges: [(Int32, Int32)]
    /// (left << 32 | right) → (rank << 32 | merged id).
    private let mergeTable: [UInt64: UInt64]
    /// Byte → id of its one-character token, -1 where the vocabulary lacks it.
    private let byteIds: [Int32]
    let ignoreMerges: Bool
    let unkToken: String?
    let fuseUnk: Bool
    private let unkId: Int32?

    let addedTokens: [AddedToken]
    private let addedIds: [TokenKey: Int32]
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let nfc: Bool
    private let steps: [PreTokenizerStep]
    private let prefixIds: [Int32], suffixIds: [Int32]
    /// normalizer, pre_tokenizer, post_processor and decoder, kept as read for `save`.
    private let components: [String: Any]

    private let idToToken: [String?]
    private let isSpecialId: [Bool]
    /// The bytes each id decodes to: decodeBytes[decodeOffsets[id] ..< decodeOffsets[id + 1]].
    private let decodeBytes: [UInt8]
    private let decodeOffsets: [Int]

    private let cacheLock = NSLock()
    private var cache: [TokenKey: [Int32]] = [:]

    /// Reads a Hugging Face `tokenizer.json`.
    /// - Throws: `.io` when the file cannot be read, `.invalidFormat` naming the first missing,
    ///   ill-typed or inconsistent field, `.unsupported` naming a component grlhf does not
    ///   implement (anything but byte-level BPE).
    public static func load(contentsOf path: String) throws -> Tokenizer {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw GRLHFError.io("\(path): cannot read: \(error.localizedDescription)")
        }
        return try Tokenizer(json: data)
    }

    /// Parses the contents of a `tokenizer.json` (see `load(contentsOf:)`).
    public convenience init(json data: Data) throws {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            throw badFile("not valid JSON (\(error.localizedDescription))")
        }
        guard let dict = root as? [String: Any] else {
            throw badFile("the top level must be an object, found \(describeJSON(root))")
        }
        try self.init(root: JSONFields(dict, path: ""))
    }

    init(root: JSONFields) throws {
        let model = try root.object("model")
        let type = try componentType(model)
        guard type == "BPE" else {
            throw unsupportedFile("model.type \(type.debugDescription) is not supported (only BPE)")
        }

        // Ids: the model vocabulary, then the added tokens; every id must be unique and small.
        var entries: [(String, Int32)] = []
        let vocabFields = try model.object("vocab")
        entries.reserveCapacity(vocabFields.dict.count)
        for (token, value) in vocabFields.dict {
            guard let id = jsonInt(value), id >= 0, id <= Int(Int32.max) else {
                throw badFile("model.vocab[\(token.debugDescription)] must be an id in 0...\(Int32.max), "
                              + "found \(describeJSON(value))")
            }
            entries.append((token, Int32(id)))
        }
        var added: [AddedToken] = []
        if root.has("added_tokens") {
            for (i, item) in try root.array("added_tokens").enumerated() {
                let f = try JSONFields(item, path: "added_tokens[\(i)]")
                let id = try f.int("id")
                let content = try f.string("content")
                guard id >= 0, id <= Int(Int32.max) else { throw badFile("\(f.name("id")) \(id) is out of range") }
                guard !content.isEmpty else { throw badFile("\(f.name("content")) is empty") }
                let special = try f.bool("special", default: false)
                added.append(AddedToken(id: Int32(id), content: content, special: special,
                                        singleWord: try f.bool("single_word", default: false),
                                        lstrip: try f.bool("lstrip", default: false),
                                        rstrip: try f.bool("rstrip", default: false),
                                        normalized: try f.bool("normalized", default: !special)))
            }
        }
        let count = entries.count + added.count
        let maxId = Int(max(entries.map(\.1).max() ?? -1, added.map(\.id).max() ?? -1))
        // Gaps are allowed, but tables are dense: bound them by the entries actually present.
        guard maxId < 2 * count + 1024 else {
            throw badFile("id \(maxId) is out of range for \(count) tokens")
        }
        var idToToken = [String?](repeating: nil, count: maxId + 1)
        for (token, id) in entries {
            if let other = idToToken[Int(id)] {
                throw badFile("model.vocab gives id \(id) to both \(other.debugDescription) and \(token.debugDescription)")
            }
            idToToken[Int(id)] = token
        }
        var vocab = [TokenKey: Int32](minimumCapacity: entries.count)
        for (token, id) in entries { vocab[TokenKey(token)] = id }
        var seenAdded = Set<Int32>(), seenContent = Set<[UInt8]>()
        for (i, token) in added.enumerated() {
            guard seenAdded.insert(token.id).inserted, seenContent.insert(Array(token.content.utf8)).inserted else {
                throw badFile("added_tokens[\(i)] repeats the id \(token.id) or the content \(token.content.debugDescription)")
            }
            if let existing = idToToken[Int(token.id)], !existing.utf8.elementsEqual(token.content.utf8) {
                throw badFile("added_tokens[\(i)] \(token.content.debugDescription) takes id \(token.id), "
                              + "which model.vocab gives to \(existing.debugDescription)")
            }
            idToToken[Int(token.id)] = token.content
        }
        self.vocab = vocab
        self.idToToken = idToToken
        self.addedTokens = added
        addedIds = Dictionary(added.map { (TokenKey($0.content), $0.id) }, uniquingKeysWith: { a, _ in a })
        vocabSize = maxId + 1
        specialTokens = Dictionary(added.filter(\.special).map { ($0.content, $0.id) }, uniquingKeysWith: { a, _ in a })
        var isSpecialId = [Bool](repeating: false, count: vocabSize)
        for token in added where token.special { isSpecialId[Int(token.id)] = true }
        self.isSpecialId = isSpecialId

        // Merges, in either serialization ("a b" or ["a", "b"]); a later duplicate replaces an
        // earlier one, as in `tokenizers`.
        var merges: [(Int32, Int32)] = []
        var mergeTable: [UInt64: UInt64] = [:]
        let mergeItems = try model.array("merges")
        merges.reserveCapacity(mergeItems.count)
        mergeTable.reserveCapacity(mergeItems.count)
        for (rank, item) in mergeItems.enumerated() {
            let parts: [String]
            if let s = item as? String {
                parts = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let pair = item as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                parts = [a, b]
            } else {
                parts = []
            }
            guard parts.count == 2 else {
                throw badFile("model.merges[\(rank)] must be \"left right\" or [left, right], found \(describeJSON(item))")
            }
            let leftKey = TokenKey(parts[0]), rightKey = TokenKey(parts[1])
            guard let left = vocab[leftKey], let right = vocab[rightKey],
                  let merged = vocab[TokenKey(bytes: leftKey.bytes + rightKey.bytes)] else {
                throw badFile("model.merges[\(rank)] \(parts) uses a token missing from model.vocab")
            }
            merges.append((left, right))
            mergeTable[Self.pairKey(left, right)] = UInt64(rank) << 32 | UInt64(UInt32(merged))
        }
        self.merges = merges
        self.mergeTable = mergeTable

        if model.has("dropout") {
            guard let dropout = (model.dict["dropout"] as? NSNumber)?.doubleValue, jsonBool(model.dict["dropout"]) == nil else {
                throw badFile("model.dropout must be a number or null")
            }
            guard dropout == 0 else {
                throw unsupportedFile("model.dropout \(dropout) (stochastic BPE) is not supported")
            }
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = try model.optionalString(key), !affix.isEmpty {
                throw unsupportedFile("model.\(key) \(affix.debugDescription) is not supported by byte-level BPE")
            }
        }
        if try model.bool("byte_fallback", default: false) {
            throw unsupportedFile("model.byte_fallback (SentencePiece-style BPE) is not supported")
        }
        ignoreMerges = try model.bool("ignore_merges", default: false)
        fuseUnk = try model.bool("fuse_unk", default: false)
        unkToken = try model.optionalString("unk_token")
        if let unk = unkToken {
            guard let id = vocab[TokenKey(unk)] else {
                throw badFile("model.unk_token \(unk.debugDescription) is not in model.vocab")
            }
            unkId = id
        } else {
            unkId = nil
        }
        byteIds = ByteLevel.byteToScalar.map { vocab[TokenKey(String(Character($0)))] ?? -1 }

        let nfc = try Self.parseNormalizer(root.dict["normalizer"], path: "normalizer")
        self.nfc = nfc
        steps = try Self.parsePreTokenizer(root.dict["pre_tokenizer"], path: "pre_tokenizer")
        guard case .byteLevel = steps.last, steps.filter({ if case .byteLevel = $0 { true } else { false } }).count == 1 else {
            throw unsupportedFile("pre_tokenizer must end with its only ByteLevel step (byte-level BPE)")
        }
        try Self.checkDecoder(root.dict["decoder"], path: "decoder")
        let isAssigned = { (id: Int) in id >= 0 && id < idToToken.count && idToToken[id] != nil }
        (prefixIds, suffixIds) = try Self.parsePostProcessor(root.dict["post_processor"], path: "post_processor",
                                                             isAssigned: isAssigned)
        var components: [String: Any] = [:]
        for key in ["normalizer", "pre_tokenizer", "post_processor", "decoder"] { components[key] = root.dict[key] ?? NSNull() }
        self.components = components

        rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized }.map { ($0.content, $0) })
        normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized).map {
            (nfc ? String(decoding: $0.content._nfcCodeUnits, as: UTF8.self) : $0.content, $0)
        })

        // A token's text is byte-level characters, except added tokens, which may hold any
        // text and then decode to their own UTF-8 (the ByteLevel decoder's fallback).
        var decodeBytes: [UInt8] = [], decodeOffsets = [0]
        decodeOffsets.reserveCapacity(vocabSize + 1)
        let scalarToByte = ByteLevel.scalarToByte
        for token in idToToken {
            if let token {
                let start = decodeBytes.count
                for scalar in token.unicodeScalars {
                    let v = Int(scalar.value)
                    guard v < scalarToByte.count, scalarToByte[v] >= 0 else {
                        decodeBytes.removeSubrange(start...)
                        decodeBytes += token.utf8
                        break
                    }
                    decodeBytes.append(UInt8(scalarToByte[v]))
                }
            }
            decodeOffsets.append(decodeBytes.count)
        }
        self.decodeBytes = decodeBytes
        self.decodeOffsets = decodeOffsets
    }

    // MARK: Lookups

    /// The id of a token, spelled as in the vocabulary (byte-level characters, e.g. "Ġthe") or
    /// as an added token's content.
    public func id(for token: String) -> Int32? {
        let key = TokenKey(token)
        return addedIds[key] ?? vocab[key]
    }

    /// The vocabulary spelling of an id, or nil for an id that names no token.
    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < idToToken.count ? idToToken[Int(id)] : nil
    }

    // MARK: Encoding

    /// The ids of `text`. With `addSpecialTokens`, the post-processor's template (e.g. a BOS
    /// token) is applied; tokenizers without one add nothing.
    public func encode(_ text: String, addSpecialTokens: Bool = false) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        if addSpecialTokens { ids += prefixIds }
        rawMatcher.split(Array(text.utf8)[...]) { segment in
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let bytes): encodeNormalizing(bytes, into: &ids)
            }
        }
        if addSpecialTokens { ids += suffixIds }
        return ids
    }

    private func encodeNormalizing(_ raw: ArraySlice<UInt8>, into ids: inout [Int32]) {
        var bytes = raw
        // Scalars below U+0300 (lead bytes below 0xCC) are NFC whatever follows them. The
        // standard library's NFC is used because Foundation's precomposedStringWithCanonical-
        // Mapping on Linux truncates a supplementary-plane scalar followed by a combining mark
        // (U+501B0 U+0301 becomes U+1EE9).
        if nfc && raw.contains(where: { $0 >= 0xCC }) {
            bytes = String(decoding: raw, as: UTF8.self)._nfcCodeUnits[...]
        }
        normalizedMatcher.split(bytes) { segment in
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let text): encodePlain(text, into: &ids)
            }
        }
    }

    private func encodePlain(_ text: ArraySlice<UInt8>, into ids: inout [Int32]) {
        guard !text.isEmpty else { return }
        let scalars = Array(String(decoding: text, as: UTF8.self).unicodeScalars)
        var pieces: [Piece] = [scalars[...]]
        for step in steps { pieces = step.apply(pieces) }
        var word: [UInt8] = []
        for piece in pieces {
            word.removeAll(keepingCapacity: true)
            for s in piece { appendUTF8(s, to: &word) }
            appendWord(word, into: &ids)
        }
    }

    /// Appends the BPE ids of one pre-token's bytes, through the cache.
    private func appendWord(_ word: [UInt8], into ids: inout [Int32]) {
        if word.count == 1, byteIds[Int(word[0])] >= 0 {
            ids.append(byteIds[Int(word[0])])
            return
        }
        let cacheable = word.count <= 256
        let key = TokenKey(bytes: word)
        if cacheable {
            cacheLock.lock()
            let hit = cache[key]
            cacheLock.unlock()
            if let hit {
                ids += hit
                return
            }
        }
        let result = mergeWord(word)
        if cacheable {
            cacheLock.lock()
            if cache.count >= 100_000 { cache.removeAll(keepingCapacity: true) }
            cache[key] = result
            cacheLock.unlock()
        }
        ids += result
    }

    /// BPE on one pre-token, as `tokenizers`' Word::merge_all: repeatedly merge the adjacent pair
    /// of lowest rank, leftmost first, using a heap whose stale entries are skipped.
    func mergeWord(_ word: [UInt8]) -> [Int32] {
        if ignoreMerges, let id = vocab[TokenKey(ByteLevel.string(of: word))] { return [id] }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        var previousUnknown = false
        for b in word {
            let id = byteIds[Int(b)]
            if id >= 0 {
                symbols.append(id)
                previousUnknown = false
            } else if let unk = unkId {  // without an unk token, unknown bytes are dropped
                if !(fuseUnk && previousUnknown) { symbols.append(unk) }
                previousUnknown = true
            }
        }
        let n = symbols.count
        guard n >= 2 else { return symbols }
        var next = (0 ..< n).map { $0 + 1 }, previous = (0 ..< n).map { $0 - 1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = Heap<UInt64>()  // rank << 32 | position: lowest rank, then leftmost
        func push(_ pos: Int) {
            if let m = mergeTable[Self.pairKey(symbols[pos], symbols[next[pos]])] {
                heap.push(m & 0xFFFF_FFFF_0000_0000 | UInt64(pos))
            }
        }
        for i in 0 ..< n - 1 { push(i) }
        while let top = heap.pop() {
            let pos = Int(top & 0xFFFF_FFFF)
            guard alive[pos], next[pos] < n,
                  let m = mergeTable[Self.pairKey(symbols[pos], symbols[next[pos]])], m >> 32 == top >> 32 else { continue }
            let right = next[pos]
            symbols[pos] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            alive[right] = false
            next[pos] = next[right]
            if next[pos] < n { previous[next[pos]] = pos }
            if previous[pos] >= 0 { push(previous[pos]) }
            if next[pos] < n { push(pos) }
        }
        return (0 ..< n).compactMap { alive[$0] ? symbols[$0] : nil }
    }

    @inline(__always)
    static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    // MARK: Decoding

    /// The text of `ids`. Ids that name no token are skipped; byte sequences that are not valid
    /// UTF-8 become U+FFFD (one per maximal invalid subsequence, as Rust's from_utf8_lossy).
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            let i = Int(id)
            guard i >= 0, i < vocabSize, idToToken[i] != nil, !(skipSpecialTokens && isSpecialId[i]) else { continue }
            bytes += decodeBytes[decodeOffsets[i] ..< decodeOffsets[i + 1]]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Saving

    /// Writes a `tokenizer.json` that Hugging Face `tokenizers` (0.20+) and `load` read back.
    public func save(to path: String) throws {
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: jsonObject(), options: [.sortedKeys]) } catch {
            throw GRLHFError.internal("tokenizer.json serialization failed: \(error)")
        }
        try AtomicFile.write(data, to: path)
    }

    /// This tokenizer with the added token `old` renamed `new` under the same id: how an unused
    /// special token of a pretrained vocabulary becomes a new placeholder (SmolLM2's
    /// `<empty_output>` the image token `<image>`) without resizing the model's embeddings.
    public func renamingAddedToken(_ old: String, to new: String) throws -> Tokenizer {
        guard let id = addedTokens.first(where: { $0.content == old })?.id else {
            throw GRLHFError.invalidArgument("tokenizer: no added token \(old)")
        }
        guard self.id(for: new) == nil else { throw GRLHFError.invalidArgument("tokenizer: \(new) is already a token") }
        var root = jsonObject()
        root["added_tokens"] = (root["added_tokens"] as! [[String: Any]]).map { t in
            var t = t
            if t["id"] as? Int == Int(id) { t["content"] = new }
            return t
        }
        var model = root["model"] as! [String: Any], vocab = model["vocab"] as! [String: Int]
        vocab[old] = nil
        vocab[new] = Int(id)
        model["vocab"] = vocab
        root["model"] = model
        return try Tokenizer(json: try JSONSerialization.data(withJSONObject: root))
    }

    /// The `tokenizer.json` object.
    private func jsonObject() -> [String: Any] {
        var vocabJSON: [String: Int] = [:]
        for (token, id) in vocab { vocabJSON[String(decoding: token.bytes, as: UTF8.self)] = Int(id) }
        let name = { (id: Int32) -> String in self.idToToken[Int(id)] ?? "" }
        let model: [String: Any] = [
            "type": "BPE", "dropout": NSNull(), "unk_token": unkToken ?? NSNull(),
            "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull(),
            "fuse_unk": fuseUnk, "byte_fallback": false, "ignore_merges": ignoreMerges,
            "vocab": vocabJSON, "merges": merges.map { [name($0.0), name($0.1)] },
        ]
        var root = components
        root["version"] = "1.0"
        root["truncation"] = NSNull()
        root["padding"] = NSNull()
        root["added_tokens"] = addedTokens.map { t -> [String: Any] in
            ["id": Int(t.id), "content": t.content, "single_word": t.singleWord, "lstrip": t.lstrip,
             "rstrip": t.rstrip, "normalized": t.normalized, "special": t.special]
        }
        root["model"] = model
        return root
    }

    // MARK: Components

    private static func parseNormalizer(_ value: Any?, path: String) throws -> Bool {
        if value == nil || value is NSNull { return false }
        let f = try JSONFields(value, path: path)
        switch try componentType(f) {
        case "NFC": return true
        case "Sequence":
            var nfc = false
            for (i, item) in try f.array("normalizers").enumerated() {
                nfc = try parseNormalizer(item, path: "\(path).normalizers[\(i)]") || nfc
            }
            return nfc
        case let other:
            throw unsupportedFile("normalizer \(other.debugDescription) at \(path) is not supported (only NFC)")
        }
    }

    private static func parsePreTokenizer(_ value: Any?, path: String) throws -> [PreTokenizerStep] {
        if value == nil || value is NSNull {
            throw unsupportedFile("\(path) is null; byte-level BPE needs a ByteLevel pre-tokenizer")
        }
        let f = try JSONFields(value, path: path)
        switch try componentType(f) {
        case "Sequence":
            return try f.array("pretokenizers").enumerated().flatMap { i, item in
                try parsePreTokenizer(item, path: "\(path).pretokenizers[\(i)]")
            }
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: try f.bool("add_prefix_space", default: true),
                               useRegex: try f.bool("use_regex", default: true))]
        case "Digits":
            return [.digits(individual: try f.bool("individual_digits", default: false))]
        case "Split":
            let p = try f.object("pattern")
            let pattern: SplitPattern
            if p.has("Regex") {
                pattern = try SplitPattern(regex: try p.string("Regex"))
            } else if p.has("String") {
                pattern = SplitPattern(literal: try p.string("String"))
            } else {
                throw badFile("\(p.path) must hold \"Regex\" or \"String\"")
            }
            let behaviorName = try f.string("behavior")
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw badFile("\(f.name("behavior")) \(behaviorName.debugDescription) is not a split behavior")
            }
            return [.split(pattern, behavior, invert: try f.bool("invert", default: false))]
        case let other:
            throw unsupportedFile("pre-tokenizer \(other.debugDescription) at \(path) is not supported "
                                  + "(ByteLevel, Split, Digits and Sequence are)")
        }
    }

    private static func checkDecoder(_ value: Any?, path: String) throws {
        if value == nil || value is NSNull {
            throw unsupportedFile("\(path) is null; byte-level BPE needs the ByteLevel decoder")
        }
        let f = try JSONFields(value, path: path)
        switch try componentType(f) {
        case "ByteLevel": return
        case "Sequence":
            let items = try f.array("decoders")
            guard !items.isEmpty else { throw unsupportedFile("\(path) is an empty Sequence") }
            for (i, item) in items.enumerated() { try checkDecoder(item, path: "\(path).decoders[\(i)]") }
        case let other:
            throw unsupportedFile("decoder \(other.debugDescription) at \(path) is not supported (only ByteLevel)")
        }
    }

    /// The ids the post-processor puts before and after a single sequence.
    private static func parsePostProcessor(_ value: Any?, path: String, isAssigned: (Int) -> Bool) throws -> ([Int32], [Int32]) {
        if value == nil || value is NSNull { return ([], []) }
        let f = try JSONFields(value, path: path)
        switch try componentType(f) {
        case "ByteLevel": return ([], [])
        case "Sequence":
            var prefix: [Int32] = [], suffix: [Int32] = []
            for (i, item) in try f.array("processors").enumerated() {
                let (p, s) = try parsePostProcessor(item, path: "\(path).processors[\(i)]", isAssigned: isAssigned)
                prefix = p + prefix
                suffix += s
            }
            return (prefix, suffix)
        case "TemplateProcessing":
            let specials = try f.object("special_tokens")
            var prefix: [Int32] = [], suffix: [Int32] = [], sawSequence = false
            for (i, item) in try f.array("single").enumerated() {
                let piece = try JSONFields(item, path: "\(path).single[\(i)]")
                if piece.has("Sequence") {
                    let id = try piece.object("Sequence").string("id")
                    guard id == "A", !sawSequence else { throw badFile("\(piece.path) must be the one sequence \"A\"") }
                    sawSequence = true
                } else {
                    let name = try piece.object("SpecialToken").string("id")
                    let special = try specials.object(name)
                    var ids: [Int32] = []
                    for (k, idValue) in try special.array("ids").enumerated() {
                        guard let id = jsonInt(idValue), isAssigned(id) else {
                            throw badFile("\(special.path).ids[\(k)] is not a token id, found \(describeJSON(idValue))")
                        }
                        ids.append(Int32(id))
                    }
                    if sawSequence { suffix += ids } else { prefix += ids }
                }
            }
            guard sawSequence else { throw badFile("\(path).single has no sequence \"A\"") }
            return (prefix, suffix)
        case let other:
            throw unsupportedFile("post-processor \(other.debugDescription) at \(path) is not supported "
                                  + "(ByteLevel, TemplateProcessing and Sequence are)")
        }
    }
}

/// A token's text as UTF-8 bytes, hashed as raw bytes.
struct TokenKey: Hashable {
    let bytes: [UInt8]

    init(_ text: String) { bytes = Array(text.utf8) }
    init(bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}

/// A binary heap whose top is its smallest element (`<` means "comes first").
struct Heap<Element: Comparable> {
    private var items: [Element] = []

    mutating func push(_ x: Element) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i] < items[parent] else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
