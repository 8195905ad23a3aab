import ArgumentParser
import Foundation
import GRLHF

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Generative RLHF-V end to end on JSONL sets: tokenizer, base model, BT RM, untrained judge, GRM+SFT, GRM+RL; ID/OOD accuracy of each.")

    @Flag(help: "A few dozen items and steps: the whole path in well under a minute (tests).") var quick = false
    @Option(help: "A pipeline config JSON (keys as in OUTPUT/config.json) overriding the preset.") var config: String?
    @Option(help: "Folder of sft.jsonl, prefs_train.jsonl, prefs_test_id.jsonl, prefs_test_ood.jsonl (grlhf data easy-vqa writes them).")
    var data: String?
    @Option(help: "Output folder; rerunning continues an interrupted run from its finished stages and checkpoints.") var output: String?
    @Option var seed: UInt64?
    @Option(help: "Threads for grlhf's parallel work.") var threads: Int?

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        var c = quick ? PipelineConfig.quick : PipelineConfig.tiny
        if let config {
            guard let bytes = FileManager.default.contents(atPath: config) else { throw GRLHFError.io("\(config): cannot read") }
            c = try JSONDecoder().decode(PipelineConfig.self, from: bytes)
        }
        if let data { c.data = data }
        if let output { c.output = output }
        if let seed { c.seed = seed }
        if let threads { c.threads = threads }
        let start = Date()
        try Pipeline(config: c).run()
        print(String(format: "pipeline %@ finished in %.0f s; results in %@/summary.json", c.name, Date().timeIntervalSince(start), c.output))
    }
}
