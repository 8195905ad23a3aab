import ArgumentParser
import Foundation
import GRLHF
import GRLHFPython

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Generative RLHF-V end to end on JSONL sets: base model, BT RM, untrained judge, GRM+SFT, GRM+RL, GRPO policies with each reward, DPO, the scaling run; summary.json and report.html.")

    @Option(help: "tiny (default: a tiny model trained here, within make demo's budget), quick (the whole path in well under a minute, for tests) or smol (EfficientNet-Lite0 + SmolLM2-135M-Instruct with LoRA, from make models; hours).")
    var preset: String?
    @Flag(help: "The quick preset (as --preset quick).") var quick = false
    @Option(help: "A JSON object of pipeline settings (keys as in OUTPUT/config.json) over the preset's; name only what changes.") var config: String?
    @Option(help: "Folder of sft.jsonl, prefs_train.jsonl, prefs_test_id.jsonl, prefs_test_ood.jsonl (grlhf data easy-vqa writes them).")
    var data: String?
    @Option(help: "Output folder; rerunning continues an interrupted run from its finished stages and checkpoints.") var output: String?
    @Option var seed: UInt64?
    @Option(help: "Threads for grlhf's parallel work.") var threads: Int?
    @Option(name: .customLong("reward-fn"),
            help: ArgumentHelp("A Python reward function (repeatable; added to the config's rewardFunctions): one more GRPO policy trained with it, "
                               + "evaluated like the others. verl's compute_score(...) or TRL's reward_func(prompts, completions, **kwargs), as for rl.",
                               valueName: "file.py[:name]"))
    var rewardFn: [String] = []

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        if quick, let preset, preset != "quick" { throw ValidationError("--quick and --preset \(preset) disagree") }
        var c = try PipelineConfig.preset(quick ? "quick" : preset ?? "tiny")
        if let config {
            guard let bytes = FileManager.default.contents(atPath: config) else { throw GRLHFError.io("\(config): cannot read") }
            c = try PipelineConfig.decode(bytes, over: c)
        }
        if let data { c.data = data }
        if let output { c.output = output }
        if let seed { c.seed = seed }
        if let threads { c.threads = threads }
        c.rewardFunctions += rewardFn
        let start = Date()
        let pipeline = Pipeline(config: c)
        pipeline.rewardFunction = { spec in
            _ = try PythonInterpreter.start()
            return try PythonRewardFunction(spec: spec)
        }
        try pipeline.run()
        print("pipeline \(c.name) finished in \(Int(Date().timeIntervalSince(start))) s; results in \(c.output)/summary.json and \(c.output)/report.html")
    }
}
