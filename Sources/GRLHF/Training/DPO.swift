import Foundation

public struct DPOConfig: Codable, Equatable, Sendable {
    public var steps = 100
    public var batchSize = 8
    /// β, align-anything's `scale_coeff`.
    public var beta: Float = 0.1
    public var optimizer = OptimizerConfig(learningRate: 1e-6, warmupRatio: 0.03)
    public var seed: UInt64 = 0
    public init() {}
}

/// Direct preference optimization against a frozen copy of the starting policy, with response
/// log-probabilities summed over tokens. Metrics as TRL names them: rewards/chosen and
/// rewards/rejected are β(log π − log π_ref) of each response, rewards/accuracies the fraction
/// of pairs whose chosen response has the larger implicit reward.
public final class DPOTrainer: Trainer {
    public let policy: any CausalLM
    public let reference: any CausalLM
    public let config: DPOConfig
    let pairs: [(chosen: TokenSequence, rejected: TokenSequence)]

    /// `reference` defaults to a frozen copy of `policy` as it is now.
    public init(policy: any CausalLM, reference: (any CausalLM)? = nil, encoder: ChatEncoder, pairs examples: [PreferenceExample],
                config: DPOConfig = DPOConfig()) throws {
        guard !examples.isEmpty, config.batchSize > 0, config.steps > 0 else {
            throw GRLHFError.invalidArgument("DPO: no pairs, or a batch size or step count below 1")
        }
        self.policy = policy
        self.reference = try reference ?? frozenCopy(policy)
        self.config = config
        pairs = try examples.map {
            (try encoder.sequence($0.question, image: $0.image, response: $0.chosen),
             try encoder.sequence($0.question, image: $0.image, response: $0.rejected))
        }
        super.init(parameters: policy.trainableParameters(), optimizer: config.optimizer, totalSteps: config.steps,
                   rows: pairs.count, seed: config.seed)
        settings = config
    }

    /// Summed response log-probabilities [B] of `rows` under `model`.
    static func sequenceLogProbs(_ model: any CausalLM, _ rows: [TokenSequence]) -> Tensor {
        let batch = SequenceBatch(rows, model: model)
        return batch.rowMembership.matmul(model.completionScores(batch).logProbs.reshape(-1, 1)).reshape(rows.count)
    }

    public override func trainStep() throws -> Metrics {
        let picked = data.next(config.batchSize).map { pairs[$0] }
        let b = picked.count, rows = picked.map(\.chosen) + picked.map(\.rejected)
        let ref = withNoGrad { Self.sequenceLogProbs(reference, rows) }
        let logp = Self.sequenceLogProbs(policy, rows)
        let loss = Losses.dpo(policyChosen: logp.slice(axis: 0, 0..<b), policyRejected: logp.slice(axis: 0, b..<(2 * b)),
                              referenceChosen: ref.slice(axis: 0, 0..<b), referenceRejected: ref.slice(axis: 0, b..<(2 * b)),
                              beta: config.beta)
        loss.backward()
        let g = applyGradients(loss: loss.item)
        let implicit = zip(logp.scalars, ref.scalars).map { config.beta * ($0 - $1) }
        let chosen = Array(implicit[0..<b]), rejected = Array(implicit[b...])
        let tokens = rows.reduce(0) { $0 + $1.prompt.count + $1.completion.count }
        return ["loss": Double(loss.item), "rewards/chosen": Double(chosen.reduce(0, +)) / Double(b),
                "rewards/rejected": Double(rejected.reduce(0, +)) / Double(b),
                "rewards/accuracies": Double(zip(chosen, rejected).filter { $0 > $1 }.count) / Double(b),
                "rewards/margins": Double(zip(chosen, rejected).map(-).reduce(0, +)) / Double(b),
                "grad_norm": Double(g.gradNorm), "learning_rate": Double(g.learningRate), "tokens": Double(tokens)]
    }
}

/// A copy of `model` with its own weights, frozen: the reference policy of DPO, GRPO and PPO.
public func frozenCopy(_ model: any CausalLM) throws -> any CausalLM {
    let copy = try trainableCopy(model)
    for (_, t) in copy.namedTensors() { t.requiresGrad = false }
    return copy
}

/// A copy of `model` with its own weights: PPO's default critic. LoRA adapters that a
/// `MultimodalModel`'s config declares are copied with it; adapters attached by hand
/// (`LoRA.attach`) are not.
public func trainableCopy(_ model: any CausalLM) throws -> any CausalLM {
    let copy: any CausalLM
    switch model {
    case let m as DecoderLM: copy = try DecoderLM(m.config)
    case let m as MultimodalModel: copy = try MultimodalModel(m.config)
    default: throw GRLHFError.unsupported("copying a \(type(of: model))")
    }
    let values = Dictionary(model.namedTensors().map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
    _ = try Module.assign(values, to: copy.namedTensors())  // copies the values
    return copy
}
