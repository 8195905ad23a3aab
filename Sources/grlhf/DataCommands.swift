import ArgumentParser
import Foundation
import GRLHF

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Build training and evaluation sets (JSON Lines) from third-party data.",
        subcommands: [EasyVQACommand.self])
}

struct EasyVQACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "easy-vqa",
        abstract: "SFT rows, preference pairs (ID and held-out-template OOD) and RL prompts from easy-VQA (`make data` fetches it).",
        discussion: """
        Writes pretrain.jsonl, sft.jsonl, prefs_train.jsonl, prefs_test_id.jsonl, prefs_test_ood.jsonl, prompts_train.jsonl, \
        prompts_test.jsonl, prompts_test_ood.jsonl and manifest.json. Training sets come from the author's train \
        split without the held-out templates (sft, prefs and prompts are disjoint); the ID sets from the test split \
        without them; the OOD sets from the test split's questions with a held-out template. A pair's chosen \
        response states the gold answer, the rejected one another answer of the same type, phrased the same way, \
        in seeded random order. pretrain.jsonl holds the colour and shape questions of the training pool that         none of those three took: image-grounding rows for the pipeline's warm-up before SFT.
        """)

    @Option(help: "Output directory (required unless --list-templates).") var out: String?
    @Option(help: "easy-VQA folder: the unpacked wheel, its data/ folder, or a folder with answers.txt, train/ and test/ (default: $GRLHF_EASY_VQA, else the repository's .cache/data/easy_vqa from `make data`).")
    var source: String?
    @Option(help: "Rows of each training set (sft, prefs_train, prompts_train), unless set one by one.") var train: Int = 1000
    @Option(help: "Rows of sft.jsonl (default: --train).") var sft: Int?
    @Option(help: "Rows of prefs_train.jsonl (default: --train).") var prefs: Int?
    @Option(help: "Rows of prompts_train.jsonl (default: --train).") var prompts: Int?
    @Option(help: "Rows of prefs_test_id.jsonl and prompts_test.jsonl (the same ID test questions).") var test: Int = 500
    @Option(help: "Rows of prefs_test_ood.jsonl and prompts_test_ood.jsonl (test questions with a held-out template).") var ood: Int = 500
    @Option(help: "Seed for sampling, the rejected answers and the pair order.") var seed: UInt64 = 0
    @Option(name: .customLong("hold-out"),
            help: "A question template to hold out of training (repeatable; `negated` for all eight negated ones). Default: \(EasyVQA.defaultHeldOutTemplates.joined(separator: " | ")).")
    var holdOut: [String] = []
    @Option(help: "Response wording: answer-is (\"The answer is blue.\") or natural (\"Yes.\", \"The shape is a circle.\", \"The shape is blue.\").")
    var phrasing: String = EasyVQA.Phrasing.answerIs.rawValue
    @Option(help: "A system turn for SFT rows and prompts.") var system: String?
    @Flag(help: "Write image paths relative to the output directory instead of absolute.") var relativeImages = false
    @Flag(help: "List the templates with their question counts and exit.") var listTemplates = false

    func run() throws {
        guard let source = source ?? EasyVQA.locate() else {
            throw ValidationError("no easy-VQA data found (.cache/data/easy_vqa here or above the grlhf executable, or $GRLHF_EASY_VQA); run `make data` in the repository, or pass --source DIR")
        }
        let data = try EasyVQA.load(directory: source)
        if listTemplates {
            for (template, count) in data.templates { print(String(format: "%6d  ", count) + template) }
            return
        }
        guard let out else { throw ValidationError("missing --out DIR") }
        guard let phrasing = EasyVQA.Phrasing(rawValue: phrasing) else {
            throw ValidationError("--phrasing must be one of \(EasyVQA.Phrasing.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var options = EasyVQA.SetOptions()
        options.sft = sft ?? train
        options.prefsTrain = prefs ?? train
        options.promptsTrain = prompts ?? train
        options.test = test
        options.ood = ood
        options.seed = seed
        options.phrasing = phrasing
        options.system = system
        if !holdOut.isEmpty {
            var templates: [String] = []
            for t in holdOut.flatMap({ $0 == "negated" ? EasyVQA.negatedTemplates : [$0] }) where !templates.contains(t) { templates.append(t) }
            options.heldOutTemplates = templates
        }
        let sets = try EasyVQA.build(data, options: options)
        let manifest = try EasyVQA.write(sets, data: data, options: options, to: out, imagePaths: relativeImages ? .relative : .absolute)
        print("easy-VQA \(EasyVQA.version) from \(data.directory): \(data.train.count) train, \(data.test.count) test questions")
        print("held out \(manifest.heldOutTemplates.count) templates: \(manifest.pools.trainHeldOut) training questions dropped; pools: train \(manifest.pools.train), test ID \(manifest.pools.testID), test OOD \(manifest.pools.testOOD)")
        for (name, file) in manifest.files.sorted(by: { $0.key < $1.key }) {
            let types = file.answerTypes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print("  \(name): \(file.rows) rows (\(types); \(file.templates) templates)")
        }
        print("wrote \(out)/manifest.json")
    }
}
