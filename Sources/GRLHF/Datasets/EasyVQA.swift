import Foundation

/// easy-VQA (Victor Zhou, PyPI `easy-vqa` 1.0, MIT): 64×64 PNGs of one drawn shape, questions
/// about it from about 24 templates, 13 one-word answers, and the author's train/test split by
/// image. `load(directory:)` reads and validates the files; `EasyVQA+Sets.swift` turns the items
/// into SFT rows, preference pairs and RL prompts with an out-of-distribution split by template.
public enum EasyVQA {
    public static let package = "easy-vqa"
    public static let version = "1.0"
    public static let license = "MIT"

    public static let shapes = ["circle", "rectangle", "triangle"]
    public static let colors = ["red", "green", "blue", "black", "gray", "yellow", "teal", "brown"]
    public static let yesNo = ["yes", "no"]

    /// Slots that replace the answer-bearing words of a question in its template.
    public static let shapeSlot = "<shape>"
    public static let colorSlot = "<color>"

    /// Limits on hostile input: the real files are 1.9 MB and 0.5 MB with questions under 50 characters.
    public static let maxQuestionsFileBytes = 256 << 20
    public static let maxAnswersFileBytes = 1 << 16
    public static let maxQuestionLength = 1_000
    public static let maxImageId = 100_000_000

    public enum AnswerType: String, Codable, CaseIterable, Sendable {
        case yesNo = "yes/no", shape, color

        /// Every answer of this type, in a fixed order.
        public var answers: [String] {
            switch self {
            case .yesNo: return EasyVQA.yesNo
            case .shape: return EasyVQA.shapes
            case .color: return EasyVQA.colors
            }
        }
    }

    public enum Split: String, Codable, CaseIterable, Sendable { case train, test }

    /// One question about one image.
    public struct Item: Codable, Equatable, Hashable, Sendable {
        public var question: String
        public var answer: String
        public var imageId: Int
        /// The PNG's absolute path: `<data>/<split>/images/<imageId>.png`.
        public var image: String
        public var split: Split
        /// The question with shape and colour names replaced by `<shape>` and `<color>`.
        public var template: String
        public var answerType: AnswerType

        public init(question: String, answer: String, imageId: Int, image: String, split: Split) throws {
            guard let type = EasyVQA.answerType(of: answer) else {
                throw GRLHFError.invalidFormat("unknown easy-VQA answer \"\(answer.prefix(40))\"")
            }
            self.question = question; self.answer = answer; self.imageId = imageId; self.image = image; self.split = split
            template = EasyVQA.template(of: question)
            answerType = type
        }
    }

    /// The whole set as loaded.
    public struct Dataset: Sendable {
        /// The folder holding `answers.txt`, `train/` and `test/` (absolute).
        public var directory: String
        /// `answers.txt` in file order.
        public var answers: [String]
        public var train: [Item]
        public var test: [Item]
        /// sha256 of `train/questions.json` and `test/questions.json` (keys "train", "test") and of `answers.txt` ("answers").
        public var sha256: [String: String]

        public func items(_ split: Split) -> [Item] { split == .train ? train : test }

        /// Every template with its number of questions in both splits, most common first (ties by name).
        public var templates: [(template: String, count: Int)] {
            var counts: [String: Int] = [:]
            for item in train + test { counts[item.template, default: 0] += 1 }
            return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
        }
    }

    /// The answer type of an easy-VQA answer; nil for anything else.
    public static func answerType(of answer: String) -> AnswerType? {
        if yesNo.contains(answer) { return .yesNo }
        if shapes.contains(answer) { return .shape }
        if colors.contains(answer) { return .color }
        return nil
    }

    /// The other answers of `answer`'s type (yes → [no], circle → [rectangle, triangle], …); empty for an unknown answer.
    public static func alternatives(to answer: String) -> [String] {
        guard let type = answerType(of: answer) else { return [] }
        return type.answers.filter { $0 != answer }
    }

    /// The question's template: every whole word that names a shape becomes `<shape>`, every
    /// colour `<color>`, case-insensitively ("is there not a red shape?" → "is there not a <color> shape?").
    /// The word "shape" itself is not a shape name and stays.
    public static func template(of question: String) -> String {
        var out = "", word = ""
        func flush() {
            let lower = word.lowercased()
            out += shapes.contains(lower) ? shapeSlot : colors.contains(lower) ? colorSlot : word
            word = ""
        }
        for ch in question {
            if ch.isLetter { word.append(ch) } else { flush(); out.append(ch) }
        }
        flush()
        return out
    }

    /// Finds the data folder under `directory`: the folder itself when it holds `answers.txt`,
    /// else `data/` or `easy_vqa/data/` below it (the unpacked wheel: `.cache/data/easy_vqa`).
    public static func dataDirectory(in directory: String) throws -> String {
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path
        for candidate in [base, base + "/data", base + "/easy_vqa/data"] where FileManager.default.fileExists(atPath: candidate + "/answers.txt") {
            return candidate
        }
        throw GRLHFError.io("\(directory): no easy-VQA data (answers.txt, train/, test/) there or in data/ or easy_vqa/data/; run `make data` (scripts/fetch_easy_vqa.sh)")
    }

    /// Where `make data` puts easy-VQA, relative to the repository root.
    public static let cacheFolder = ".cache/data/easy_vqa"

    /// The easy-VQA folder to use when none is given: `$GRLHF_EASY_VQA`, else `.cache/data/easy_vqa`
    /// in the current directory or in the nearest folder above the running executable that has
    /// one (so `bin/grlhf` finds the repository's cache from anywhere). nil when none exists.
    public static func locate() -> String? {
        if let env = ProcessInfo.processInfo.environment["GRLHF_EASY_VQA"], !env.isEmpty { return env }
        let fm = FileManager.default
        var candidates = [fm.currentDirectoryPath + "/" + cacheFolder]
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            while dir.path != "/" && !dir.path.isEmpty {
                candidates.append(dir.path + "/" + cacheFolder)
                dir = dir.deletingLastPathComponent()
            }
        }
        return candidates.first { (try? dataDirectory(in: $0)) != nil }
    }

    /// Reads `answers.txt` and `{train,test}/questions.json` (lists of [question, answer, image_id]),
    /// checking every row: three elements of the right types, a non-empty question of at most
    /// `maxQuestionLength` characters, an answer listed in `answers.txt` and known to easy-VQA
    /// (yes/no, a shape or a colour), an image id in 0…`maxImageId` whose PNG exists.
    public static func load(directory: String, maxQuestionsBytes: Int = maxQuestionsFileBytes) throws -> Dataset {
        let root = try dataDirectory(in: directory)
        let answersPath = root + "/answers.txt"
        let answersData = try readFile(answersPath, limit: maxAnswersFileBytes)
        guard let answersText = String(data: answersData, encoding: .utf8) else {
            throw GRLHFError.invalidFormat("\(answersPath): not UTF-8 text")
        }
        var answers: [String] = []
        for (i, raw) in answersText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let a = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if a.isEmpty { continue }
            guard answerType(of: a) != nil else {
                throw GRLHFError.invalidFormat("\(answersPath):\(i + 1): \"\(a.prefix(40))\" is not an easy-VQA answer (yes/no, \(shapes.joined(separator: "/")), \(colors.joined(separator: "/")))")
            }
            guard !answers.contains(a) else { throw GRLHFError.invalidFormat("\(answersPath):\(i + 1): \"\(a)\" listed twice") }
            answers.append(a)
        }
        guard !answers.isEmpty else { throw GRLHFError.invalidFormat("\(answersPath): no answers") }

        var sha: [String: String] = ["answers": SHA256.hex(answersData)]
        var items: [Split: [Item]] = [:]
        for split in Split.allCases {
            let path = "\(root)/\(split.rawValue)/questions.json"
            let data = try readFile(path, limit: maxQuestionsBytes)
            sha[split.rawValue] = SHA256.hex(data)
            let rows = try decodeQuestions(data, path: path)
            let imageFolder = "\(root)/\(split.rawValue)/images"
            let present = try pngIds(in: imageFolder)
            var out: [Item] = []
            out.reserveCapacity(rows.count)
            for (i, row) in rows.enumerated() {
                let at = "\(path): item \(i)"
                guard !row.question.isEmpty, row.question.count <= maxQuestionLength else {
                    throw GRLHFError.invalidFormat("\(at): the question is empty or longer than \(maxQuestionLength) characters")
                }
                guard answers.contains(row.answer) else {
                    throw GRLHFError.invalidFormat("\(at): answer \"\(row.answer.prefix(40))\" is not in answers.txt")
                }
                guard (0...maxImageId).contains(row.imageId) else {
                    throw GRLHFError.invalidFormat("\(at): image id \(row.imageId) is outside 0…\(maxImageId)")
                }
                guard present.contains(row.imageId) else {
                    throw GRLHFError.invalidFormat("\(at): no image \(imageFolder)/\(row.imageId).png")
                }
                out.append(try Item(question: row.question, answer: row.answer, imageId: row.imageId,
                                    image: "\(imageFolder)/\(row.imageId).png", split: split))
            }
            guard !out.isEmpty else { throw GRLHFError.invalidFormat("\(path): no questions") }
            items[split] = out
        }
        return Dataset(directory: root, answers: answers, train: items[.train]!, test: items[.test]!, sha256: sha)
    }

    static func readFile(_ path: String, limit: Int) throws -> Data {
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw GRLHFError.io("\(path): cannot read (missing?)")
        }
        if let type = attributes[.type] as? FileAttributeType, type != .typeRegular {
            throw GRLHFError.io("\(path): not a regular file")
        }
        if let size = (attributes[.size] as? NSNumber)?.intValue, size > limit {
            throw GRLHFError.invalidFormat("\(path): \(size) bytes, more than the \(limit) allowed")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw GRLHFError.io("\(path): cannot read") }
        guard data.count <= limit else { throw GRLHFError.invalidFormat("\(path): more than \(limit) bytes") }
        return data
    }

    /// The integer names of `folder`'s `<id>.png` files.
    static func pngIds(in folder: String) throws -> Set<Int> {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw GRLHFError.io("\(folder): cannot list the images")
        }
        var ids = Set<Int>()
        for name in names where name.hasSuffix(".png") {
            if let id = Int(name.dropLast(4)), String(id) == name.dropLast(4) { ids.insert(id) }
        }
        return ids
    }

    struct QuestionRow: Decodable {
        var question: String, answer: String, imageId: Int

        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            if let n = c.count, n != 3 {
                throw GRLHFError.invalidFormat("expected [question, answer, image_id], got a list of \(n)")
            }
            question = try c.decode(String.self)
            answer = try c.decode(String.self)
            imageId = try c.decode(Int.self)
        }
    }

    struct QuestionList: Decodable {
        var rows: [QuestionRow] = []

        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            while !c.isAtEnd {
                let i = c.currentIndex
                do { rows.append(try c.decode(QuestionRow.self)) } catch {
                    throw GRLHFError.invalidFormat("item \(i): \(describe(error))")
                }
            }
        }
    }

    static func decodeQuestions(_ data: Data, path: String) throws -> [QuestionRow] {
        do {
            return try JSONDecoder().decode(QuestionList.self, from: data).rows
        } catch let e as GRLHFError {
            throw GRLHFError.invalidFormat("\(path): \(e.message)")
        } catch {
            throw GRLHFError.invalidFormat("\(path): expected a JSON list of [question, answer, image_id] lists: \(describe(error))")
        }
    }

    /// A decoding error in one line, without Swift's coding-path dump.
    static func describe(_ error: Error) -> String {
        switch error {
        case let e as GRLHFError: return e.message
        case DecodingError.typeMismatch(let type, let context):
            return "expected \(typeName(type)) at element \(position(context)): \(context.debugDescription)"
        case DecodingError.valueNotFound(let type, let context):
            return "expected \(typeName(type)) at element \(position(context)), found null or nothing"
        case DecodingError.dataCorrupted(let context):
            return "invalid JSON or value at element \(position(context)): \(context.debugDescription) \(context.underlyingError.map { "(\($0))" } ?? "")"
        default: return "expected [question (a string), answer (a string), image_id (an integer)]: \(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        type == String.self ? "a string" : type == Int.self ? "an integer" : "\(type)"
    }

    private static func position(_ context: DecodingError.Context) -> String {
        context.codingPath.last.flatMap { $0.intValue.map(String.init) } ?? "?"
    }
}
