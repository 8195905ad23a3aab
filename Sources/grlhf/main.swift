import ArgumentParser
import GRLHF

@main
struct GRLHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grlhf",
        abstract: "Generative RLHF-V on the CPU: models, reward models, judges and RL.",
        subcommands: [])
}
