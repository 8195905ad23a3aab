import Foundation

/// A score-only reward model: a causal LM's final hidden state at the last token of
/// prompt + response, through a scalar head (align-anything's "end_score"). On disk: the base
/// model directory plus `score.safetensors` holding the head (`score.weight` [1, H], as Hugging
/// Face's `*ForSequenceClassification`).
public final class RewardModel: Module {
    public let base: any CausalLM
    public let head: ScalarHead

    public init(base: any CausalLM, seed: UInt64 = 0) {
        var rng = PCG32(seed: seed)
        self.base = base
        head = ScalarHead(hidden: base.language.config.hiddenSize, rng: &rng)
        super.init()
        register("model", base)
        register("score", head)
    }

    public static func load(directory: String) throws -> RewardModel {
        let m = RewardModel(base: try loadModel(directory: directory))
        let head = try Safetensors.read(contentsOf: directory + "/score.safetensors")
        guard head.count == 1, head[0].name == "score.weight" else {
            throw GRLHFError.invalidFormat("\(directory)/score.safetensors: expected one tensor score.weight")
        }
        try m.head.load(["weight": head[0].tensor])
        return m
    }

    public func save(directory: String) throws {
        try base.save(directory: directory)
        try Safetensors.write([("score.weight", head.weight)], to: directory + "/score.safetensors")
    }

    /// Scores [B] of sequences (differentiable when gradients are on).
    func scores(_ rows: [TokenSequence]) -> Tensor {
        head(base.lastHidden(SequenceBatch(rows, model: base)).reshape(rows.count, 1, -1)).reshape(rows.count)
    }

    /// Scores of (question, image, response) rows, in batches of `batchSize`, without gradients.
    public func score(_ rows: [(question: String, image: String?, response: String)], encoder: ChatEncoder, batchSize: Int = 16) throws -> [Float] {
        let sequences = try rows.map { try encoder.sequence($0.question, image: $0.image, response: $0.response) }
        return withNoGrad {
            stride(from: 0, to: sequences.count, by: batchSize).flatMap { start in
                scores(Array(sequences[start..<Swift.min(start + batchSize, sequences.count)])).scalars
            }
        }
    }

    /// Per pair, whether the preferred response scores strictly higher.
    public func ranksPreferred(_ pairs: [PreferenceExample], encoder: ChatEncoder, batchSize: Int = 16) throws -> [Bool] {
        let chosen = try score(pairs.map { ($0.question, $0.image, $0.chosen) }, encoder: encoder, batchSize: batchSize)
        let rejected = try score(pairs.map { ($0.question, $0.image, $0.rejected) }, encoder: encoder, batchSize: batchSize)
        return zip(chosen, rejected).map { $0 > $1 }
    }

    /// Fraction of pairs whose preferred response scores strictly higher.
    public func accuracy(on pairs: [PreferenceExample], encoder: ChatEncoder, batchSize: Int = 16) throws -> Float {
        guard !pairs.isEmpty else { return .nan }
        return Float(try ranksPreferred(pairs, encoder: encoder, batchSize: batchSize).filter { $0 }.count) / Float(pairs.count)
    }
}

public struct RewardModelConfig: Codable, Equatable, Sendable {
    public var steps = 100
    /// Preference pairs per update.
    public var batchSize = 8
    /// Weight of mean(r_w² + r_l²), which keeps scores near zero (align-anything's default).
    public var regularization: Float = 1e-3
    /// Keep the vision tower fixed (align-anything's default for reward models).
    public var freezeVisionTower = true
    public var optimizer = OptimizerConfig(learningRate: 3e-5, warmupRatio: 0.03, schedule: .constant)
    public var seed: UInt64 = 0
    public init() {}
}

/// Trains a `RewardModel` with the Bradley–Terry loss on preference pairs.
public final class RewardModelTrainer: Trainer {
    public let rewardModel: RewardModel
    public let config: RewardModelConfig
    let pairs: [(chosen: TokenSequence, rejected: TokenSequence)]

    public init(rewardModel: RewardModel, encoder: ChatEncoder, pairs examples: [PreferenceExample],
                config: RewardModelConfig = RewardModelConfig()) throws {
        guard !examples.isEmpty, config.batchSize > 0, config.steps > 0 else {
            throw GRLHFError.invalidArgument("reward model: no pairs, or a batch size or step count below 1")
        }
        self.rewardModel = rewardModel
        self.config = config
        pairs = try examples.map {
            (try encoder.sequence($0.question, image: $0.image, response: $0.chosen),
             try encoder.sequence($0.question, image: $0.image, response: $0.rejected))
        }
        if config.freezeVisionTower, let m = rewardModel.base as? MultimodalModel { m.vision.setTrainable(false) }
        super.init(parameters: rewardModel.trainableParameters(), optimizer: config.optimizer, totalSteps: config.steps,
                   rows: pairs.count, seed: config.seed)
        settings = config
    }

    public override func trainStep() throws -> Metrics {
        let picked = data.next(config.batchSize).map { pairs[$0] }
        let b = picked.count
        // One forward over chosen rows then rejected rows.
        let scores = rewardModel.scores(picked.map(\.chosen) + picked.map(\.rejected))
        let chosen = scores.slice(axis: 0, 0..<b), rejected = scores.slice(axis: 0, b..<(2 * b))
        let loss = Losses.bradleyTerry(chosen: chosen, rejected: rejected, regularization: config.regularization)
        loss.backward()
        let g = applyGradients(loss: loss.item)
        let (c, r) = (chosen.scalars, rejected.scalars)
        let tokens = picked.reduce(0) { $0 + $1.chosen.prompt.count + $1.chosen.completion.count + $1.rejected.prompt.count + $1.rejected.completion.count }
        return ["loss": Double(loss.item), "accuracy": Double(zip(c, r).filter { $0 > $1 }.count) / Double(b),
                "rewards/chosen": Double(c.reduce(0, +)) / Double(b), "rewards/rejected": Double(r.reduce(0, +)) / Double(b),
                "rewards/margins": Double(zip(c, r).map(-).reduce(0, +)) / Double(b),
                "grad_norm": Double(g.gradNorm), "learning_rate": Double(g.learningRate), "tokens": Double(tokens)]
    }
}
