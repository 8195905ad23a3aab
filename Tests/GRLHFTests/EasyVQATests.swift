import Foundation
import Testing
@testable import GRLHF

/// easy-VQA loading and set building on a small synthetic folder in easy-VQA's layout (the real
/// data is fetched by `make data` and exercised by Tests/cli/data.sh).
@Suite struct EasyVQATests {
    static let answers = ["circle", "green", "red", "gray", "yes", "teal", "black", "rectangle", "yellow", "triangle", "brown", "blue", "no"]

    /// Questions about one image showing a `color` `shape`, from templates of every answer type
    /// (negated ones included), as the generator phrases them.
    static func questions(shape: String, color: String, id: Int) -> [[Any]] {
        let otherShape = EasyVQA.alternatives(to: shape)[id % 2]
        let otherColor = EasyVQA.alternatives(to: color)[id % 7]
        return [
            ["what color is the shape?", color, id],
            ["what color is the \(shape)?", color, id],
            ["what is the color of the \(shape)?", color, id],
            ["what is the \(color) shape?", shape, id],
            ["what shape is in the image?", shape, id],
            ["what shape does the image contain?", shape, id],
            ["is there a \(color) shape?", "yes", id],
            ["is there a \(otherColor) shape?", "no", id],
            ["does the image contain a \(otherShape)?", "no", id],
            ["does the image not contain a \(shape)?", "no", id],
            ["is there not a \(otherColor) shape in the image?", "yes", id],
            ["is no \(color) shape present?", "no", id],
        ]
    }

    /// Writes the folder (answers.txt, {train,test}/questions.json, empty {id}.png files) and returns its path.
    static func fixture(train: Int = 12, test: Int = 6, edit: ((inout [[Any]], inout [[Any]]) -> Void)? = nil) throws -> String {
        let root = NSTemporaryDirectory() + "easyvqa-\(UUID().uuidString)"
        let fm = FileManager.default
        var rows: [EasyVQA.Split: [[Any]]] = [:]
        for (split, n) in [(EasyVQA.Split.train, train), (.test, test)] {
            try fm.createDirectory(atPath: "\(root)/\(split.rawValue)/images", withIntermediateDirectories: true)
            var qs: [[Any]] = []
            for id in 0..<n {
                _ = fm.createFile(atPath: "\(root)/\(split.rawValue)/images/\(id).png", contents: Data())
                qs += questions(shape: EasyVQA.shapes[id % 3], color: EasyVQA.colors[(id * 5 + (split == .test ? 1 : 0)) % 8], id: id)
            }
            rows[split] = qs
        }
        var trainRows = rows[.train]!, testRows = rows[.test]!
        edit?(&trainRows, &testRows)
        try JSONSerialization.data(withJSONObject: trainRows).write(to: URL(fileURLWithPath: root + "/train/questions.json"))
        try JSONSerialization.data(withJSONObject: testRows).write(to: URL(fileURLWithPath: root + "/test/questions.json"))
        try (answers.joined(separator: "\n") + "\n").write(toFile: root + "/answers.txt", atomically: true, encoding: .utf8)
        return root
    }

    static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func templatesReplaceShapeAndColourWordsWithSlots() {
        #expect(EasyVQA.template(of: "is there not a red shape in the image?") == "is there not a <color> shape in the image?")
        #expect(EasyVQA.template(of: "what is the blue shape?") == "what is the <color> shape?")
        #expect(EasyVQA.template(of: "does the image not contain a circle?") == "does the image not contain a <shape>?")
        #expect(EasyVQA.template(of: "what color is the triangle?") == "what color is the <shape>?")
        #expect(EasyVQA.template(of: "what color is the shape?") == "what color is the shape?")
        #expect(EasyVQA.template(of: "Is the Teal rectangle big?") == "Is the <color> <shape> big?")
        // whole words only
        #expect(EasyVQA.template(of: "circles and reddish bluegray shapes") == "circles and reddish bluegray shapes")
    }

    @Test func answerTypesAndAlternatives() {
        #expect(EasyVQA.answerType(of: "yes") == .yesNo && EasyVQA.answerType(of: "no") == .yesNo)
        #expect(EasyVQA.shapes.allSatisfy { EasyVQA.answerType(of: $0) == .shape })
        #expect(EasyVQA.colors.allSatisfy { EasyVQA.answerType(of: $0) == .color })
        #expect(EasyVQA.answerType(of: "purple") == nil && EasyVQA.answerType(of: "Yes") == nil)
        #expect(Set(Self.answers).count == 13 && Self.answers.allSatisfy { EasyVQA.answerType(of: $0) != nil })
        #expect(EasyVQA.alternatives(to: "yes") == ["no"])
        #expect(EasyVQA.alternatives(to: "circle") == ["rectangle", "triangle"])
        #expect(EasyVQA.alternatives(to: "teal").count == 7 && !EasyVQA.alternatives(to: "teal").contains("teal"))
        #expect(EasyVQA.alternatives(to: "purple").isEmpty)
    }

    @Test func loadsTheFixture() throws {
        let root = try Self.fixture()
        defer { Self.remove(root) }
        do {
            let data = try EasyVQA.load(directory: root)
            #expect(data.train.count == 12 * 12 && data.test.count == 6 * 12)
            #expect(data.answers == Self.answers)
            let first = data.train[0]
            #expect(first.question == "what color is the shape?" && first.answer == "red" && first.imageId == 0)
            #expect(first.image == data.directory + "/train/images/0.png" && first.split == .train)
            #expect(first.answerType == .color && first.template == "what color is the shape?")
            #expect(data.test.allSatisfy { $0.image.hasSuffix("/test/images/\($0.imageId).png") && $0.split == .test })
            #expect(data.templates.count == 11)   // "is there a <color> shape?" twice
            let bytes = try Data(contentsOf: URL(fileURLWithPath: root + "/train/questions.json"))
            #expect(data.sha256["train"] == SHA256.hex(bytes))
        }
        // the unpacked wheel's layout: <dir>/easy_vqa/data
        let wheel = NSTemporaryDirectory() + "easyvqa-wheel-\(UUID().uuidString)"
        defer { Self.remove(wheel) }
        try FileManager.default.createDirectory(atPath: wheel + "/easy_vqa", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: root, toPath: wheel + "/easy_vqa/data")
        #expect(try EasyVQA.load(directory: wheel).directory == wheel + "/easy_vqa/data")
        #expect(throws: GRLHFError.self) { try EasyVQA.load(directory: wheel + "/nowhere") }
    }

    /// Loading fails with `want` in the message.
    func refused(_ want: String, train edit: @escaping (inout [[Any]]) -> Void) throws {
        let root = try Self.fixture { train, _ in edit(&train) }
        defer { Self.remove(root) }
        do {
            _ = try EasyVQA.load(directory: root)
            Issue.record("loaded despite: \(want)")
        } catch let e as GRLHFError {
            #expect(e.message.contains(want), "\(e.message)")
        }
    }

    /// Writes raw bytes as train/questions.json and expects `want` in the error.
    func refusedRaw(_ bytes: String, _ want: String, limit: Int = EasyVQA.maxQuestionsFileBytes) throws {
        let root = try Self.fixture()
        defer { Self.remove(root) }
        try Data(bytes.utf8).write(to: URL(fileURLWithPath: root + "/train/questions.json"))
        do {
            _ = try EasyVQA.load(directory: root, maxQuestionsBytes: limit)
            Issue.record("loaded \(bytes.prefix(40))")
        } catch let e as GRLHFError {
            #expect(e.message.contains(want), "\(e.message)")
            #expect(e.message.contains("train/questions.json"), "\(e.message)")
        }
    }

    @Test func hostileQuestionFilesAreRefusedWithClearErrors() throws {
        try refusedRaw("{\"a\": 1}", "expected a JSON list")
        try refusedRaw("[[\"q?\", \"yes\", 0], ", "expected a JSON list")            // truncated
        try refusedRaw("\"just a string\"", "expected a JSON list")
        try refusedRaw("[[\"q?\", \"yes\"]]", "item 0: expected [question, answer, image_id], got a list of 2")
        try refusedRaw("[[\"q?\", \"yes\", 0, 1]]", "got a list of 4")
        try refusedRaw("[[\"q?\", \"yes\", 0], {\"q\": 1}]", "item 1")
        try refusedRaw("[[\"q?\", \"yes\", \"0\"]]", "item 0: expected an integer at element 2")
        try refusedRaw("[[\"q?\", \"yes\", 1.5]]", "item 0")
        try refusedRaw("[[\"q?\", \"yes\", true]]", "item 0")
        try refusedRaw("[[\"q?\", \"yes\", 1e300]]", "item 0")
        try refusedRaw("[[\"q?\", \"yes\", null]]", "item 0")
        try refusedRaw("[[7, \"yes\", 0]]", "item 0: expected a string at element 0")
        try refusedRaw("[[\"q?\", \"yes\", -3]]", "image id -3 is outside")
        try refusedRaw("[[\"q?\", \"yes\", 99999999999]]", "outside")
        try refusedRaw("[[\"q?\", \"yes\", 12]]", "no image")
        try refusedRaw("[[\"\", \"yes\", 0]]", "question is empty")
        try refusedRaw("[[\"\(String(repeating: "a", count: 1001))\", \"yes\", 0]]", "longer than 1000")
        try refusedRaw("[[\"q?\", \"purple\", 0]]", "answer \"purple\" is not in answers.txt")
        try refusedRaw(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), "train/questions.json")
        try refusedRaw("[]", "no questions")
        try refusedRaw("[[\"q?\", \"yes\", 0]]", "more than the 10 allowed", limit: 10)
        try refusedRaw("\u{FEFF}[[\"q?\", \"yes\", 0]]x", "expected a JSON list")
        try refused("no image") { rows in rows.append(["is there a red shape?", "yes", 500]) }
    }

    @Test func hostileAnswerFilesAreRefused() throws {
        for (text, want) in [("yes\nno\npurple\n", "\"purple\" is not an easy-VQA answer"), ("yes\nyes\n", "listed twice"), ("\n \n", "no answers")] {
            let root = try Self.fixture()
            defer { Self.remove(root) }
            try text.write(toFile: root + "/answers.txt", atomically: true, encoding: .utf8)
            #expect(throws: GRLHFError.self) { try EasyVQA.load(directory: root) }
            do { _ = try EasyVQA.load(directory: root) } catch let e as GRLHFError { #expect(e.message.contains(want), "\(e.message)") }
        }
        // an answers.txt without "teal" makes a question answered "teal" an error
        let root = try Self.fixture()
        defer { Self.remove(root) }
        try Self.answers.filter { $0 != "teal" }.joined(separator: "\n").write(toFile: root + "/answers.txt", atomically: true, encoding: .utf8)
        do { _ = try EasyVQA.load(directory: root); Issue.record("loaded") } catch let e as GRLHFError {
            #expect(e.message.contains("\"teal\" is not in answers.txt"), "\(e.message)")
        }
    }

    @Test func pairsStateGoldAgainstAnotherAnswerOfTheSameTypeInTheSameWords() throws {
        let root = try Self.fixture()
        defer { Self.remove(root) }
        let data = try EasyVQA.load(directory: root)
        for phrasing in EasyVQA.Phrasing.allCases {
            var rng = PCG32(seed: 7)
            let pairs = EasyVQA.preferencePairs(data.train, phrasing: phrasing, rng: &rng)
            #expect(pairs.count == data.train.count)
            for (item, row) in zip(data.train, pairs) {
                let p = row.example
                #expect(p.question == item.question && p.image == item.image)
                #expect(p.chosen == phrasing.response(item.answer))
                #expect(p.rejected == phrasing.response(row.rejectedAnswer))
                #expect(row.rejectedAnswer != item.answer)
                #expect(EasyVQA.answerType(of: row.rejectedAnswer) == item.answerType)
                // identical wording: swapping the answer words turns one response into the other
                #expect(p.rejected.replacingOccurrences(of: row.rejectedAnswer, with: "#") == p.chosen.replacingOccurrences(of: item.answer, with: "#")
                        || phrasing == .natural && item.answerType == .yesNo)
                #expect(row.source.answer == item.answer && row.source.template == item.template)
            }
            // the order is balanced and seeded
            let firsts = pairs.filter { $0.example.preferred == 1 }.count
            #expect(firsts == (pairs.count + 1) / 2)
            var same = PCG32(seed: 7), other = PCG32(seed: 8)
            #expect(EasyVQA.preferencePairs(data.train, phrasing: phrasing, rng: &same) == pairs)
            #expect(EasyVQA.preferencePairs(data.train, phrasing: phrasing, rng: &other) != pairs)
        }
        #expect(EasyVQA.Phrasing.answerIs.response("blue") == "The answer is blue.")
        #expect(EasyVQA.Phrasing.natural.response("yes") == "Yes." && EasyVQA.Phrasing.natural.response("circle") == "The shape is a circle.")
        // every wrong answer of a type turns up
        var rng = PCG32(seed: 1)
        let wrong = Set(EasyVQA.preferencePairs(data.train.filter { $0.answerType == .color }, rng: &rng).map(\.rejectedAnswer))
        #expect(wrong == Set(EasyVQA.colors))
    }

    @Test func heldOutTemplatesStayOutOfEveryTrainingSet() throws {
        let root = try Self.fixture(train: 30, test: 12)
        defer { Self.remove(root) }
        let data = try EasyVQA.load(directory: root)
        var options = EasyVQA.SetOptions()
        options.sft = 60; options.prefsTrain = 60; options.promptsTrain = 60; options.test = 40; options.ood = 20; options.seed = 3
        // the fixture has 4 of the 6 default held-out templates (12 questions per image); the others are refused as unknown
        #expect(throws: GRLHFError.self) { try EasyVQA.build(data, options: options) }
        options.heldOutTemplates = EasyVQA.defaultHeldOutTemplates.filter { t in data.templates.contains { $0.template == t } }
        #expect(options.heldOutTemplates.count == 4)
        let sets = try EasyVQA.build(data, options: options)
        let held = Set(options.heldOutTemplates)
        #expect(sets.pools.heldOutTemplates == options.heldOutTemplates)
        #expect(sets.pools.train.count == 30 * 8 && sets.pools.trainHeldOut == 30 * 4)
        #expect(sets.pools.testID.count == 12 * 8 && sets.pools.testOOD.count == 12 * 4)
        let training = sets.sft.map(\.source) + sets.prefsTrain.map(\.source) + sets.promptsTrain.map(\.source)
        #expect(training.count == 180 && training.allSatisfy { !held.contains($0.template) && $0.split == .train })
        #expect(sets.sft.allSatisfy { !held.contains(EasyVQA.template(of: $0.example.question)) })
        #expect(sets.prefsTestID.count == 40 && sets.prefsTestID.allSatisfy { !held.contains($0.source.template) && $0.source.split == .test })
        #expect(sets.prefsTestOOD.count == 20 && sets.prefsTestOOD.allSatisfy { held.contains($0.source.template) && $0.source.split == .test })
        #expect(sets.promptsTest.map(\.example.question) == sets.prefsTestID.map(\.example.question))
        #expect(sets.promptsTestOOD.map(\.example.groundTruth) == sets.prefsTestOOD.map(\.source.answer))
        #expect(sets.promptsTrain.allSatisfy { $0.example.groundTruth == $0.source.answer })
        // sft, prefs and prompts are disjoint samples of the training pool
        func key(_ s: EasyVQA.Source, _ q: String) -> String { "\(s.imageId)|\(q)" }
        let a = Set(sets.sft.map { key($0.source, $0.example.question) }), b = Set(sets.prefsTrain.map { key($0.source, $0.example.question) })
        let c = Set(sets.promptsTrain.map { key($0.source, $0.example.question) })
        #expect(a.count == 60 && b.count == 60 && c.count == 60 && a.isDisjoint(with: b) && a.isDisjoint(with: c) && b.isDisjoint(with: c))
        // seeded: the same seed gives the same sets, another seed others
        let again = try EasyVQA.build(data, options: options)
        #expect(again.sft == sets.sft && again.prefsTrain == sets.prefsTrain && again.prefsTestOOD == sets.prefsTestOOD)
        options.seed = 4
        #expect(try EasyVQA.build(data, options: options).prefsTrain != sets.prefsTrain)

        // the negated templates as the held-out set
        options.heldOutTemplates = EasyVQA.negatedTemplates.filter { t in data.templates.contains { $0.template == t } }
        let negated = try EasyVQA.build(data, options: options)
        #expect((negated.sft + []).allSatisfy { !$0.example.question.contains(" not ") && !$0.example.question.hasPrefix("is no ") })
        #expect(negated.prefsTestOOD.allSatisfy { $0.example.question.contains(" not ") || $0.example.question.hasPrefix("is no ") })

        // errors: an unknown template, more rows than the pools hold
        options.heldOutTemplates = ["is it a <shape>?"]
        #expect(throws: GRLHFError.self) { try EasyVQA.build(data, options: options) }
        options.heldOutTemplates = EasyVQA.defaultHeldOutTemplates.filter { t in data.templates.contains { $0.template == t } }
        options.sft = 200
        #expect(throws: GRLHFError.self) { try EasyVQA.build(data, options: options) }
        options.sft = 10; options.ood = 49
        #expect(throws: GRLHFError.self) { try EasyVQA.build(data, options: options) }
    }

    @Test func writesJSONLinesTheTrainersRead() throws {
        let root = try Self.fixture()
        defer { Self.remove(root) }
        let data = try EasyVQA.load(directory: root)
        var options = EasyVQA.SetOptions()
        options.sft = 10; options.prefsTrain = 12; options.promptsTrain = 8; options.test = 9; options.ood = 7; options.seed = 5
        options.heldOutTemplates = ["is no <color> shape present?", "what shape does the image contain?"]
        let sets = try EasyVQA.build(data, options: options)
        for paths in [EasyVQA.ImagePaths.absolute, .relative] {
            let out = NSTemporaryDirectory() + "easyvqa-out-\(UUID().uuidString)/sub"
            defer { Self.remove(out + "/..") }
            let manifest = try EasyVQA.write(sets, data: data, options: options, to: out, imagePaths: paths)
            // relative paths resolve back to the same images
            func norm(_ p: String?) -> String? { p.map { URL(fileURLWithPath: $0).standardizedFileURL.path } }
            func read<T: Decodable>(_ t: T.Type, _ name: String, _ fix: (inout T) -> Void) throws -> [T] {
                try JSONLines.read(t, from: out + "/" + name).map { var r = $0; fix(&r); return r }
            }
            #expect(try read(SFTExample.self, "sft.jsonl") { $0.image = norm($0.image) } == sets.sft.map(\.example))
            #expect(try read(PreferenceExample.self, "prefs_train.jsonl") { $0.image = norm($0.image) } == sets.prefsTrain.map(\.example))
            #expect(try read(PreferenceExample.self, "prefs_test_id.jsonl") { $0.image = norm($0.image) } == sets.prefsTestID.map(\.example))
            #expect(try read(PreferenceExample.self, "prefs_test_ood.jsonl") { $0.image = norm($0.image) } == sets.prefsTestOOD.map(\.example))
            #expect(try read(PromptExample.self, "prompts_train.jsonl") { $0.image = norm($0.image); $0.extra = [:] } == sets.promptsTrain.map(\.example))
            #expect(try read(PromptExample.self, "prompts_test.jsonl") { $0.image = norm($0.image); $0.extra = [:] } == sets.promptsTest.map(\.example))
            #expect(try read(PromptExample.self, "prompts_test_ood.jsonl") { $0.image = norm($0.image); $0.extra = [:] } == sets.promptsTestOOD.map(\.example))
            #expect(try JSONLines.read(SFTExample.self, from: out + "/sft.jsonl").allSatisfy { FileManager.default.fileExists(atPath: $0.image!) })
            let text = try String(contentsOfFile: out + "/sft.jsonl", encoding: .utf8)
            #expect(text.contains(paths == .absolute ? "\"image\":\"/" : "\"image\":\"../../"))
            #expect(text.contains("\"answer_type\":") && text.contains("\"template\":"))
            let decoded = try JSONDecoder().decode(EasyVQA.Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json")))
            #expect(decoded == manifest)
            #expect(manifest.files["prefs_train.jsonl"]?.rows == 12 && manifest.files["prompts_test_ood.jsonl"]?.rows == 7)
            #expect(manifest.files.count == 8 && manifest.heldOutTemplates == options.heldOutTemplates)
            #expect(manifest.source.sha256["test"] == data.sha256["test"] && manifest.source.package == "easy-vqa")
            #expect(manifest.pools.trainHeldOut == 12 * 2 && manifest.seed == 5)
        }
    }
}
