import ArgumentParser
import Foundation
import GRLHF

@main
struct GRLHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grlhf",
        abstract: "Generative RLHF-V on the CPU: models, reward models, judges and RL.",
        version: GRLHF.version,
        subcommands: [Demo.self, Bench.self])
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small GPT on the built-in corpus for a while; show the loss falling and a sample.")

    @Option(help: "Seconds to train.") var seconds: Double = 60
    @Option(help: "Threads for BLAS and elementwise kernels.") var threads: Int = 1
    @Option(help: "Write metrics as JSON lines to this file.") var metrics: String?
    @Option(help: "Seed for initialization, batches and sampling.") var seed: UInt64 = 1337

    func run() throws {
        Runtime.setThreads(threads)
        var options = CorpusDemo.Options()
        options.seconds = seconds
        options.seed = seed
        options.metricsPath = metrics
        try CorpusDemo.run(options)
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time one GPT training step (forward, backward, AdamW); see benchmarks/train_step.sh.")

    @Option var threads: Int = 1
    @Option var warmup: Int = 3
    @Option var steps: Int = 10
    @Option var batch: Int = 8
    @Flag(help: "Print one JSON line.") var json = false

    func run() throws {
        let r = TrainStepBenchmark.run(batch: batch, threads: threads, warmup: warmup, steps: steps)
        if json {
            let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
            print(String(decoding: try enc.encode(r), as: UTF8.self))
        } else {
            print(String(format: "grlhf  threads=%d  %.1f ms/step  %.0f tokens/s  %.1f GFLOP/s (sgemm peak %.1f, %.0f%%)  loss %.3f → %.3f",
                         r.threads, r.msPerStep, r.tokensPerSecond, r.achievedGflops, r.sgemmPeakGflops,
                         100 * r.achievedGflops / r.sgemmPeakGflops, r.lossFirst, r.lossLast))
        }
    }
}
