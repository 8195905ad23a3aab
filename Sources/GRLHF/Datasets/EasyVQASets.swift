import Foundation

extension EasyVQA {
    /// How a response states an answer. Chosen and rejected responses of a pair always share the
    /// phrasing and differ only in the answer word.
    public enum Phrasing: String, Codable, CaseIterable, Sendable {
        /// "The answer is blue." for every answer type.
        case answerIs = "answer-is"
        /// A short sentence per answer type: "Yes." / "No.", "The shape is a circle.", "The shape is blue."
        case natural

        public func response(_ answer: String) -> String {
            switch self {
            case .answerIs: return "The answer is \(answer)."
            case .natural:
                switch EasyVQA.answerType(of: answer) {
                case .yesNo?: return answer == "yes" ? "Yes." : "No."
                case .shape?: return "The shape is a \(answer)."
                case .color?, nil: return "The shape is \(answer)."
                }
            }
        }
    }

    /// The negated yes/no templates of easy-VQA 1.0 ("does the image not contain a <shape>?", …).
    public static let negatedTemplates = [
        "does the image not contain a <color> shape?", "does the image not contain a <shape>?",
        "is no <color> shape present?", "is no <shape> present?",
        "is there not a <color> shape in the image?", "is there not a <color> shape?",
        "is there not a <shape> in the image?", "is there not a <shape>?",
    ]

    /// The templates held out by default: two negated phrasings (while "is there not a …"
    /// stays in training, so negation itself is seen but these wordings are not) and one
    /// rewording each of a colour and a shape question. Every answer type is represented.
    public static let defaultHeldOutTemplates = [
        "does the image not contain a <color> shape?", "does the image not contain a <shape>?",
        "is no <color> shape present?", "is no <shape> present?",
        "what is the color of the <shape>?", "what shape does the image contain?",
    ]

    /// The pools the sets are drawn from: the training split without the held-out templates, and
    /// the test split divided into in-distribution (templates seen in training) and
    /// out-of-distribution (held-out templates) items.
    public struct Pools: Sendable {
        public var train: [Item]
        /// Training-split items dropped because their template is held out.
        public var trainHeldOut: Int
        public var testID: [Item]
        public var testOOD: [Item]
        public var heldOutTemplates: [String]
    }

    /// Splits by image (the author's split) and by template. Every held-out template must occur in the data.
    public static func pools(_ data: Dataset, holdingOut templates: [String]) throws -> Pools {
        let known = Set((data.train + data.test).map(\.template))
        for t in templates where !known.contains(t) {
            throw GRLHFError.invalidArgument("no easy-VQA question has the template \"\(t)\"; templates: \(data.templates.map { "\"\($0.template)\"" }.joined(separator: ", "))")
        }
        let held = Set(templates)
        let train = data.train.filter { !held.contains($0.template) }
        guard !train.isEmpty else { throw GRLHFError.invalidArgument("holding out \(templates.count) templates leaves no training questions") }
        return Pools(train: train, trainHeldOut: data.train.count - train.count,
                     testID: data.test.filter { !held.contains($0.template) },
                     testOOD: data.test.filter { held.contains($0.template) },
                     heldOutTemplates: templates)
    }

    /// `count` items drawn without replacement with `rng`, in their original order. Asking for
    /// more than there are is an error naming `what`.
    public static func sample(_ items: [Item], count: Int, rng: inout PCG32, what: String) throws -> [Item] {
        guard count >= 0 else { throw GRLHFError.invalidArgument("\(what): negative count \(count)") }
        guard count <= items.count else {
            throw GRLHFError.invalidArgument("\(what): asked for \(count) items, only \(items.count) available")
        }
        let order = permutation(items.count, rng: &rng)
        return order.prefix(count).sorted().map { items[$0] }
    }

    /// A seeded Fisher–Yates permutation of 0..<n (our own, so it does not depend on the
    /// standard library's shuffle algorithm).
    public static func permutation(_ n: Int, rng: inout PCG32) -> [Int] {
        var p = Array(0..<n)
        var i = n - 1
        while i > 0 {
            let j = uniform(i + 1, rng: &rng)
            p.swapAt(i, j)
            i -= 1
        }
        return p
    }

    /// Uniform in 0..<n (n ≤ 2³², multiply-shift on 32 random bits).
    static func uniform(_ n: Int, rng: inout PCG32) -> Int {
        Int((UInt64(rng.nextUInt32()) &* UInt64(n)) >> 32)
    }

    // MARK: - Rows

    /// Metadata written beside the generic fields of every row (ignored by the trainers).
    public struct Source: Codable, Equatable, Sendable {
        public var answer: String
        public var answerType: AnswerType
        public var template: String
        public var split: Split
        public var imageId: Int

        enum CodingKeys: String, CodingKey {
            case answer, answerType = "answer_type", template, split = "source_split", imageId = "image_id"
        }

        public init(_ item: Item) {
            answer = item.answer; answerType = item.answerType; template = item.template; split = item.split; imageId = item.imageId
        }
    }

    public struct SFTRow: Equatable, Sendable {
        public var example: SFTExample
        public var source: Source
    }

    public struct PreferenceRow: Equatable, Sendable {
        public var example: PreferenceExample
        /// The wrong answer the rejected response states.
        public var rejectedAnswer: String
        public var source: Source
    }

    public struct PromptRow: Equatable, Sendable {
        public var example: PromptExample
        public var source: Source
    }

    public static func sftRows(_ items: [Item], phrasing: Phrasing = .answerIs, system: String? = nil) -> [SFTRow] {
        items.map { SFTRow(example: SFTExample(question: $0.question, image: $0.image, response: phrasing.response($0.answer), system: system),
                           source: Source($0)) }
    }

    /// Preference pairs from ground truth (data.md D1): the chosen response states the gold
    /// answer, the rejected one another answer of the same type (drawn with `rng`), both in
    /// `phrasing`. Which one is `response_1` is a seeded shuffle of a balanced list, so the
    /// chosen response is first in ⌈n/2⌉ pairs. `preferred` comes from the dataset only.
    public static func preferencePairs(_ items: [Item], phrasing: Phrasing = .answerIs, rng: inout PCG32) -> [PreferenceRow] {
        let firsts = permutation(items.count, rng: &rng).map { $0 < (items.count + 1) / 2 }
        return items.enumerated().map { i, item in
            let others = alternatives(to: item.answer)
            let wrong = others[uniform(others.count, rng: &rng)]
            let chosen = phrasing.response(item.answer), rejected = phrasing.response(wrong)
            let pair = firsts[i]
                ? PreferenceExample(question: item.question, image: item.image, response1: chosen, response2: rejected, preferred: 1)
                : PreferenceExample(question: item.question, image: item.image, response1: rejected, response2: chosen, preferred: 2)
            return PreferenceRow(example: pair, rejectedAnswer: wrong, source: Source(item))
        }
    }

    /// RL prompts with the gold answer word as `ground_truth`.
    public static func promptRows(_ items: [Item], system: String? = nil) -> [PromptRow] {
        items.map { PromptRow(example: PromptExample(question: $0.question, image: $0.image, groundTruth: $0.answer, system: system),
                              source: Source($0)) }
    }

    // MARK: - Sets

    /// Sizes and options of `build(_:options:)`.
    public struct SetOptions: Sendable {
        /// Rows of sft, prefs_train and prompts_train; the three are disjoint samples of the training pool.
        public var sft = 1000, prefsTrain = 1000, promptsTrain = 1000
        /// Rows of prefs_test_id and prompts_test (the same ID test questions).
        public var test = 500
        /// Rows of prefs_test_ood and prompts_test_ood (the same OOD test questions).
        public var ood = 500
        public var seed: UInt64 = 0
        public var heldOutTemplates = EasyVQA.defaultHeldOutTemplates
        public var phrasing = Phrasing.answerIs
        /// A system turn for SFT rows and prompts (none by default).
        public var system: String?

        public init() {}
    }

    /// Every set of the pipeline, built from one dataset with one seed.
    public struct Sets: Sendable {
        /// Image-grounding rows for a warm-up before SFT (LLaVA's first stage in miniature): every
        /// colour and shape question of the training pool left over after sft, prefs and prompts.
        /// A model trained from scratch on the yes/no-heavy SFT mix learns the answers' priors and
        /// stops looking at the image; open questions first keep the vision path alive.
        public var pretrain: [SFTRow]
        public var sft: [SFTRow]
        public var prefsTrain: [PreferenceRow]
        public var prefsTestID: [PreferenceRow]
        public var prefsTestOOD: [PreferenceRow]
        public var promptsTrain: [PromptRow]
        public var promptsTest: [PromptRow]
        public var promptsTestOOD: [PromptRow]
        public var pools: Pools
    }

    /// Draws the sets: one seeded permutation of the training pool is cut into the SFT, preference
    /// and prompt samples (disjoint); the ID and OOD test questions are seeded samples of the test
    /// split's pools, each used for both pairs and prompts. Separate PCG32 streams per use keep
    /// one set's draws from shifting another's when a size changes.
    public static func build(_ data: Dataset, options: SetOptions) throws -> Sets {
        let pools = try pools(data, holdingOut: options.heldOutTemplates)
        for (name, n) in [("sft", options.sft), ("prefs-train", options.prefsTrain), ("prompts-train", options.promptsTrain),
                          ("test", options.test), ("ood", options.ood)] where n < 0 {
            throw GRLHFError.invalidArgument("\(name): negative count \(n)")
        }
        let wanted = options.sft + options.prefsTrain + options.promptsTrain
        guard wanted <= pools.train.count else {
            throw GRLHFError.invalidArgument("sft + prefs + prompts = \(wanted) training questions asked for, the training pool (without held-out templates) has \(pools.train.count)")
        }
        func rng(_ stream: UInt64) -> PCG32 { PCG32(seed: options.seed, stream: stream) }
        var trainRng = rng(1)
        let order = permutation(pools.train.count, rng: &trainRng)
        func cut(_ range: Range<Int>) -> [Item] { order[range].sorted().map { pools.train[$0] } }
        let a = options.sft, b = a + options.prefsTrain
        let sftItems = cut(0..<a), prefItems = cut(a..<b), promptItems = cut(b..<wanted)
        var testRng = rng(2), oodRng = rng(3)
        let testItems = try sample(pools.testID, count: options.test, rng: &testRng, what: "test (ID test questions)")
        let oodItems = try sample(pools.testOOD, count: options.ood, rng: &oodRng, what: "ood (questions with held-out templates in the test split)")
        var pairRngTrain = rng(4), pairRngID = rng(5), pairRngOOD = rng(6)
        let pretrainItems = cut(wanted..<pools.train.count).filter { $0.answerType != .yesNo }
        return Sets(
            pretrain: sftRows(pretrainItems, phrasing: options.phrasing, system: options.system),
            sft: sftRows(sftItems, phrasing: options.phrasing, system: options.system),
            prefsTrain: preferencePairs(prefItems, phrasing: options.phrasing, rng: &pairRngTrain),
            prefsTestID: preferencePairs(testItems, phrasing: options.phrasing, rng: &pairRngID),
            prefsTestOOD: preferencePairs(oodItems, phrasing: options.phrasing, rng: &pairRngOOD),
            promptsTrain: promptRows(promptItems, system: options.system),
            promptsTest: promptRows(testItems, system: options.system),
            promptsTestOOD: promptRows(oodItems, system: options.system),
            pools: pools)
    }

    // MARK: - Export

    /// How image paths are written: absolute, or relative to the JSONL file's folder (which the
    /// trainers resolve against that folder).
    public enum ImagePaths: String, Sendable { case absolute, relative }

    /// Writes `sets` as JSON Lines into `directory` (created if needed): pretrain.jsonl, sft.jsonl,
    /// prefs_train.jsonl, prefs_test_id.jsonl, prefs_test_ood.jsonl, prompts_train.jsonl,
    /// prompts_test.jsonl, prompts_test_ood.jsonl and manifest.json. Each row holds the generic
    /// fields the trainers read plus the source metadata (answer, answer_type, template,
    /// source_split, image_id; pairs also rejected_answer). Returns the manifest.
    @discardableResult
    public static func write(_ sets: Sets, data: Dataset, options: SetOptions, to directory: String,
                             imagePaths: ImagePaths = .absolute) throws -> Manifest {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch { throw GRLHFError.io("\(directory): cannot create: \(error.localizedDescription)") }
        let folder = URL(fileURLWithPath: directory).standardizedFileURL.path
        func image(_ p: String?) -> String? {
            guard let p, imagePaths == .relative else { return p }
            return relativePath(p, from: folder)
        }
        func source(_ s: Source) -> [String: Any] {
            ["answer": s.answer, "answer_type": s.answerType.rawValue, "template": s.template, "source_split": s.split.rawValue, "image_id": s.imageId]
        }
        var files: [String: Manifest.File] = [:]
        func emit(_ name: String, _ rows: [[String: Any]], _ sources: [Source]) throws {
            var text = ""
            for row in rows {
                let data = try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys, .withoutEscapingSlashes])
                text += String(decoding: data, as: UTF8.self) + "\n"
            }
            try AtomicFile.write(to: folder + "/" + name) { write in
                try Array(text.utf8).withUnsafeBytes { try write($0) }
            }
            var types: [String: Int] = [:], templates: [String: Int] = [:]
            for s in sources { types[s.answerType.rawValue, default: 0] += 1; templates[s.template, default: 0] += 1 }
            files[name] = Manifest.File(rows: rows.count, answerTypes: types, templates: templates.count)
        }
        func sftObject(_ r: SFTRow) -> [String: Any] {
            var o = source(r.source)
            o["question"] = r.example.question; o["response"] = r.example.response
            if let i = image(r.example.image) { o["image"] = i }
            if let s = r.example.system { o["system"] = s }
            return o
        }
        func pairObject(_ r: PreferenceRow) -> [String: Any] {
            var o = source(r.source)
            o["question"] = r.example.question; o["response_1"] = r.example.response1; o["response_2"] = r.example.response2
            o["preferred"] = r.example.preferred; o["rejected_answer"] = r.rejectedAnswer
            if let i = image(r.example.image) { o["image"] = i }
            return o
        }
        func promptObject(_ r: PromptRow) -> [String: Any] {
            var o = source(r.source)
            o["question"] = r.example.question
            if let g = r.example.groundTruth { o["ground_truth"] = g }
            if let i = image(r.example.image) { o["image"] = i }
            if let s = r.example.system { o["system"] = s }
            return o
        }
        try emit("pretrain.jsonl", sets.pretrain.map(sftObject), sets.pretrain.map(\.source))
        try emit("sft.jsonl", sets.sft.map(sftObject), sets.sft.map(\.source))
        try emit("prefs_train.jsonl", sets.prefsTrain.map(pairObject), sets.prefsTrain.map(\.source))
        try emit("prefs_test_id.jsonl", sets.prefsTestID.map(pairObject), sets.prefsTestID.map(\.source))
        try emit("prefs_test_ood.jsonl", sets.prefsTestOOD.map(pairObject), sets.prefsTestOOD.map(\.source))
        try emit("prompts_train.jsonl", sets.promptsTrain.map(promptObject), sets.promptsTrain.map(\.source))
        try emit("prompts_test.jsonl", sets.promptsTest.map(promptObject), sets.promptsTest.map(\.source))
        try emit("prompts_test_ood.jsonl", sets.promptsTestOOD.map(promptObject), sets.promptsTestOOD.map(\.source))

        let manifest = Manifest(
            source: .init(package: package, version: version, license: license, directory: data.directory,
                          sha256: data.sha256, trainQuestions: data.train.count, testQuestions: data.test.count),
            seed: options.seed, phrasing: options.phrasing.rawValue, system: options.system, imagePaths: imagePaths.rawValue,
            heldOutTemplates: sets.pools.heldOutTemplates,
            pools: .init(train: sets.pools.train.count, trainHeldOut: sets.pools.trainHeldOut,
                         testID: sets.pools.testID.count, testOOD: sets.pools.testOOD.count),
            files: files)
        try AtomicFile.write(try JSONEncoder.pretty.encode(manifest) + Data("\n".utf8), to: folder + "/manifest.json")
        return manifest
    }

    /// What `write` produced and from what.
    public struct Manifest: Codable, Equatable, Sendable {
        public struct Source: Codable, Equatable, Sendable {
            public var package: String, version: String, license: String, directory: String
            /// sha256 of train/questions.json ("train"), test/questions.json ("test") and answers.txt ("answers").
            public var sha256: [String: String]
            public var trainQuestions: Int, testQuestions: Int
            enum CodingKeys: String, CodingKey {
                case package, version, license, directory, sha256, trainQuestions = "train_questions", testQuestions = "test_questions"
            }
        }
        public struct Pools: Codable, Equatable, Sendable {
            /// Training questions without held-out templates; dropped ones; test questions with seen / held-out templates.
            public var train: Int, trainHeldOut: Int, testID: Int, testOOD: Int
            enum CodingKeys: String, CodingKey { case train, trainHeldOut = "train_held_out", testID = "test_id", testOOD = "test_ood" }
        }
        public struct File: Codable, Equatable, Sendable {
            public var rows: Int
            public var answerTypes: [String: Int]
            /// Distinct templates among the rows.
            public var templates: Int
            enum CodingKeys: String, CodingKey { case rows, answerTypes = "answer_types", templates }
        }
        public var source: Source
        public var seed: UInt64
        public var phrasing: String
        public var system: String?
        public var imagePaths: String
        public var heldOutTemplates: [String]
        public var pools: Pools
        public var files: [String: File]
        enum CodingKeys: String, CodingKey {
            case source, seed, phrasing, system, imagePaths = "image_paths", heldOutTemplates = "held_out_templates", pools, files
        }
    }

    /// `path` relative to the folder `base` (both absolute, standardized).
    static func relativePath(_ path: String, from base: String) -> String {
        let p = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let b = URL(fileURLWithPath: base).standardizedFileURL.pathComponents
        var common = 0
        while common < min(p.count, b.count) && p[common] == b[common] { common += 1 }
        return (Array(repeating: "..", count: b.count - common) + p[common...]).joined(separator: "/")
    }
}
