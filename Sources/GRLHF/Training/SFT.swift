import Foundation

public struct SFTConfig: Codable, Equatable, Sendable {
    public var steps = 100
    /// Sequences per optimizer update, split into `gradientAccumulation` forward passes.
    public var batchSize = 8
    public var gradientAccumulation = 1
    public var optimizer = OptimizerConfig(learningRate: 1e-4, warmupRatio: 0.03)
    public var seed: UInt64 = 0
    public init() {}
}

/// Supervised fine-tuning on (image?, question, response) rows: cross-entropy on the response
/// tokens (and the closing end-of-turn), the prompt masked out, averaged over every response
/// token of the batch; rows are right-padded per forward pass.
public final class SFTTrainer: Trainer {
    public let model: any CausalLM
    public let config: SFTConfig
    let rows: [TokenSequence]

    public convenience init(model: any CausalLM, encoder: ChatEncoder, examples: [SFTExample], config: SFTConfig = SFTConfig()) throws {
        guard !examples.isEmpty else { throw GRLHFError.invalidArgument("SFT: no examples") }
        try self.init(model: model, sequences: examples.map { try encoder.sequence($0.question, image: $0.image, response: $0.response, system: $0.system) },
                      config: config)
    }

    /// Pre-tokenized rows: the loss covers each row's `completion`.
    public init(model: any CausalLM, sequences: [TokenSequence], config: SFTConfig = SFTConfig()) throws {
        guard !sequences.isEmpty, sequences.allSatisfy({ !$0.prompt.isEmpty && !$0.completion.isEmpty }) else {
            throw GRLHFError.invalidArgument("SFT: no rows, or a row with an empty prompt or completion")
        }
        guard config.batchSize > 0, config.gradientAccumulation > 0, config.batchSize % config.gradientAccumulation == 0, config.steps > 0 else {
            throw GRLHFError.invalidArgument("SFT: batch size \(config.batchSize) must be a positive multiple of gradient accumulation \(config.gradientAccumulation)")
        }
        self.model = model
        self.config = config
        rows = sequences
        super.init(parameters: model.trainableParameters(), optimizer: config.optimizer, totalSteps: config.steps,
                   rows: rows.count, seed: config.seed)
        settings = config
    }

    public override func trainStep() throws -> Metrics {
        let picked = data.next(config.batchSize).map { rows[$0] }
        let tokens = picked.reduce(0) { $0 + $1.completion.count }
        var loss: Float = 0, correct = 0
        let micro = config.batchSize / config.gradientAccumulation
        for start in stride(from: 0, to: picked.count, by: micro) {
            let batch = SequenceBatch(Array(picked[start..<(start + micro)]), model: model)
            let scores = model.completionScores(batch, details: true)
            // Sum over this pass's tokens, divided by the whole step's: the token mean of the step.
            let l = scores.logProbs.sum() * (-1 / Float(tokens))
            l.backward()
            loss += l.item
            correct += scores.isArgmax.filter { $0 }.count
        }
        let g = applyGradients(loss: loss)
        return ["loss": Double(loss), "grad_norm": Double(g.gradNorm), "learning_rate": Double(g.learningRate),
                "tokens": Double(tokens), "mean_token_accuracy": Double(correct) / Double(tokens)]
    }
}
