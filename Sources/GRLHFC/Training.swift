import Foundation
import GRLHF

// grlhf_trainer: SFT, Bradley–Terry reward model, DPO and GRPO trainers behind one handle type,
// their step/train loop with a C metrics callback, metrics, checkpoints and resume. The
// trainers validate their data and settings here, before the engine (which traps on sizes it
// cannot take) sees them.

/// A trainer handle: the engine's trainer, a guard against re-entrant or concurrent runs, and
/// the metric names lent to C.
final class TrainerBox {
    let trainer: Trainer
    let kind: String
    private let lock = NSLock()
    private var running = false
    /// Metric names as C strings, made once per name and kept until the trainer is freed, so
    /// the pointers lent by grlhf_trainer_metrics and the callback stay valid.
    private var names: [String: UnsafeMutablePointer<CChar>] = [:]

    init(_ trainer: Trainer, kind: String) {
        self.trainer = trainer
        self.kind = kind
    }

    deinit { for p in names.values { free(p) } }

    func cName(_ name: String) -> UnsafePointer<CChar> {
        lock.lock(); defer { lock.unlock() }
        if let p = names[name] { return UnsafePointer(p) }
        let p = strdup(name)!  // metric names are short; strdup fails only without memory
        names[name] = p
        return UnsafePointer(p)
    }

    /// Runs `body` as the trainer's only run: a second one (from a callback of this run, or
    /// another thread) is refused instead of corrupting the optimizer state.
    func exclusive<T>(_ what: String, _ body: () throws -> T) throws -> T {
        lock.lock()
        if running {
            lock.unlock()
            throw Failure(.misuse, "the trainer is already running a step; \(what) cannot run inside it (from its callbacks or another thread)")
        }
        running = true
        lock.unlock()
        defer { lock.lock(); running = false; lock.unlock() }
        return try body()
    }

    /// The step's metrics as (names, values), names in byte order.
    func sorted(_ m: Metrics) -> (names: [UnsafePointer<CChar>?], values: [Double]) {
        let keys = m.keys.sorted()
        return (keys.map { cName($0) }, keys.map { m[$0]! })
    }
}

func trainerBox(_ handle: OpaquePointer?) throws -> TrainerBox {
    try Handles.resolve(handle, .trainer, as: TrainerBox.self)
}

// MARK: - Checks shared by the constructors

/// Rows of a JSON Lines file (relative image paths resolve against its folder).
func readRows<T: Decodable>(_ path: UnsafePointer<CChar>?, _ what: String, as type: T.Type) throws -> [T] {
    let path = try utf8String(path, what)
    let rows = try JSONLines.read(type, from: path)
    guard !rows.isEmpty else { throw Failure.invalidArgument("\(path): no rows") }
    return rows
}

/// The chat encoder of a model and tokenizer (the tokenizer needs ChatML's <|im_end|>, and
/// no ids beyond the model's vocabulary).
func chatEncoder(_ model: any CausalLM, _ tokenizerHandle: OpaquePointer?) throws -> ChatEncoder {
    try ChatEncoder(tokenizer: try tokenizerObject(tokenizerHandle), model: model)
}

/// Refuses training forwards the engine cannot allocate: `rows` sequences padded to `time`
/// positions (image placeholders widened), `images` of them with an image. Logits
/// [rows·time, V], attention scores [rows, heads, time, time], MLP activations and the vision
/// tower's buffers must stay under the tensor limit (a failed allocation aborts the process).
func checkBatchForward(_ model: any CausalLM, rows: Int, time: Int, images: Int = 0) throws {
    guard time <= maxSequenceTokens else {
        throw Failure.invalidArgument("a sequence of \(time) positions is above \(maxSequenceTokens)")
    }
    let c = model.language.config
    var buffers = [("logits", [rows, time, c.vocabSize]), ("attention scores", [rows, c.numAttentionHeads, time, time]),
                   ("activations", [rows, time, Swift.max(c.hiddenSize, c.intermediateSize)])]
    if let tower = (model as? MultimodalModel)?.config.tower, images > 0 { buffers += tower.largestBuffers(images: images) }
    for (what, factors) in buffers where saturatingProduct(factors) > Tensor.maxBytes / 4 {
        throw Failure(.outOfMemory, "a batch of \(rows) sequences of \(time) positions needs \(what) above the tensor limit")
    }
}

/// The longest sequence of `sequences` once image placeholders are widened.
func longest(_ sequences: [TokenSequence], _ model: any CausalLM) -> Int {
    sequences.map { s in
        let images = model.imageTokenId.map { id in s.prompt.lazy.filter { $0 == id }.count } ?? 0
        return s.prompt.count - images + images * model.tokensPerImage + s.completion.count
    }.max() ?? 0
}

/// A model that can serve as `policy`'s reference (or a critic's base): a different object
/// reading the same ids and images.
func checkReference(_ reference: any CausalLM, of policy: any CausalLM, what: String = "reference") throws {
    guard reference !== policy else {
        throw Failure.invalidArgument("\(what) is the policy itself; pass NULL for a frozen copy of the policy")
    }
    let sameImages: Bool
    switch (policy, reference) {
    case let (p as MultimodalModel, r as MultimodalModel):
        sameImages = p.config.tower.imageSize == r.config.tower.imageSize && p.config.tower.numChannels == r.config.tower.numChannels
            && p.tokensPerImage == r.tokensPerImage
    case (is DecoderLM, is DecoderLM): sameImages = true
    default: sameImages = false
    }
    guard sameImages, reference.vocabSize == policy.vocabSize, reference.imageTokenId == policy.imageTokenId else {
        throw Failure.invalidArgument("\(what) reads other ids or images than the policy (vocabulary \(reference.vocabSize) vs \(policy.vocabSize), or another kind of model)")
    }
}

func checkTrainable(_ model: Module, _ what: String) throws {
    guard !model.trainableParameters().isEmpty else { throw Failure.invalidArgument("\(what) has no trainable parameters") }
}

/// Encodes (question, image, response) rows and refuses a batch of `rows` of the longest.
func checkSequences(_ encoder: ChatEncoder, _ model: any CausalLM, rowsPerForward: Int,
                    _ examples: [(question: String, image: String?, response: String)]) throws {
    let sequences = try examples.map { try encoder.sequence($0.question, image: $0.image, response: $0.response) }
    let withImages = examples.contains { $0.image != nil }
    try checkBatchForward(model, rows: rowsPerForward, time: longest(sequences, model), images: withImages ? rowsPerForward : 0)
}

func register(_ trainer: Trainer, _ kind: String) -> OpaquePointer {
    Handles.register(TrainerBox(trainer, kind: kind), as: .trainer)
}

// MARK: - Constructors

@_cdecl("grlhf_sft_trainer_create")
public func grlhf_sft_trainer_create(_ modelHandle: OpaquePointer?, _ tokenizerHandle: OpaquePointer?,
                                     _ data: UnsafePointer<CChar>?, _ params: UnsafeRawPointer?,
                                     _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let model = try modelBox(modelHandle).model
        let encoder = try chatEncoder(model, tokenizerHandle)
        let config = try SFTParams.load(params).validated()
        let examples = try readRows(data, "data_jsonl", as: SFTExample.self)
        try checkTrainable(model, "the model")
        try checkSequences(encoder, model, rowsPerForward: config.batchSize / config.gradientAccumulation,
                           examples.map { ($0.question, $0.image, $0.response) })
        try Runtime.requireBLAS()
        return register(try SFTTrainer(model: model, encoder: encoder, examples: examples, config: config), "sft")
    }
}

@_cdecl("grlhf_rm_trainer_create")
public func grlhf_rm_trainer_create(_ rmHandle: OpaquePointer?, _ tokenizerHandle: OpaquePointer?,
                                    _ data: UnsafePointer<CChar>?, _ params: UnsafeRawPointer?,
                                    _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let rm = try rewardModel(rmHandle)
        let encoder = try chatEncoder(rm.base, tokenizerHandle)
        let config = try RMParams.load(params).validated()
        let pairs = try readRows(data, "data_jsonl", as: PreferenceExample.self)
        try checkSequences(encoder, rm.base, rowsPerForward: 2 * config.batchSize,
                           pairs.flatMap { [($0.question, $0.image, $0.chosen), ($0.question, $0.image, $0.rejected)] })
        try Runtime.requireBLAS()
        let trainer = try RewardModelTrainer(rewardModel: rm, encoder: encoder, pairs: pairs, config: config)
        return register(trainer, "reward model")
    }
}

@_cdecl("grlhf_dpo_trainer_create")
public func grlhf_dpo_trainer_create(_ policyHandle: OpaquePointer?, _ referenceHandle: OpaquePointer?,
                                     _ tokenizerHandle: OpaquePointer?, _ data: UnsafePointer<CChar>?,
                                     _ params: UnsafeRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let policy = try modelBox(policyHandle).model
        let reference = try referenceHandle.map { try modelBox($0).model }
        if let reference { try checkReference(reference, of: policy) }
        let encoder = try chatEncoder(policy, tokenizerHandle)
        let config = try DPOParams.load(params).validated()
        let pairs = try readRows(data, "data_jsonl", as: PreferenceExample.self)
        try checkTrainable(policy, "the policy")
        try checkSequences(encoder, policy, rowsPerForward: 2 * config.batchSize,
                           pairs.flatMap { [($0.question, $0.image, $0.chosen), ($0.question, $0.image, $0.rejected)] })
        try Runtime.requireBLAS()
        let trainer = try DPOTrainer(policy: policy, reference: reference, encoder: encoder, pairs: pairs, config: config)
        return register(trainer, "dpo")
    }
}

/// The prompts of an RL trainer, checked: every prompt renders (its image loads), a rule reward
/// finds what it reads, and the sampling and training forwards fit the tensor limit (one
/// prompt's prefill; `completions` sequences' KV cache over the longest prompt plus
/// max_new_tokens; mini-batches of `rowsPerUpdate` rollouts through every model in `models`).
func checkRollouts(_ prompts: [PromptExample], encoder: ChatEncoder, policy: any CausalLM, reward: RewardFunction,
                   completions: Int, maxNewTokens: Int, rowsPerUpdate: Int, models: [any CausalLM]) throws {
    if let rule = reward as? any RuleReward { try rule.check(prompts) }
    let encoded = try prompts.map { try encoder.prompt($0.question, image: $0.image, system: $0.system).ids }
    let prompt = longest(encoded.map { TokenSequence(prompt: $0, completion: []) }, policy)
    let time = prompt + maxNewTokens
    try checkBatchForward(policy, rows: 1, time: prompt, images: 1)
    let c = policy.language.config
    let cache = saturatingProduct([2, c.numHiddenLayers, c.numKeyValueHeads, c.headDim, completions, time])
    guard cache <= Tensor.maxBytes / 4 else {
        throw Failure(.outOfMemory, "\(completions) completions × \(time) positions need a KV cache above the tensor limit")
    }
    let images = prompts.contains { $0.image != nil } ? rowsPerUpdate : 0
    for model in models { try checkBatchForward(model, rows: rowsPerUpdate, time: time, images: images) }
}

@_cdecl("grlhf_grpo_trainer_create")
public func grlhf_grpo_trainer_create(_ policyHandle: OpaquePointer?, _ referenceHandle: OpaquePointer?,
                                      _ tokenizerHandle: OpaquePointer?, _ data: UnsafePointer<CChar>?,
                                      _ rewardHandle: OpaquePointer?, _ params: UnsafeRawPointer?,
                                      _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let policy = try modelBox(policyHandle).model
        let reference = try referenceHandle.map { try modelBox($0).model }
        if let reference { try checkReference(reference, of: policy) }
        let encoder = try chatEncoder(policy, tokenizerHandle)
        let reward = try rewardObject(rewardHandle)
        let config = try GRPOParams.load(params).validated(vocab: policy.vocabSize)
        let prompts = try readRows(data, "prompts_jsonl", as: PromptExample.self)
        try checkTrainable(policy, "the policy")
        let rollouts = config.promptsPerStep * config.groupSize
        try checkRollouts(prompts, encoder: encoder, policy: policy, reward: reward, completions: config.groupSize,
                          maxNewTokens: config.sampling.maxNewTokens,
                          rowsPerUpdate: (rollouts + config.miniBatches - 1) / config.miniBatches, models: [policy])
        try Runtime.requireBLAS()
        let trainer = try GRPOTrainer(policy: policy, reference: reference, encoder: encoder, prompts: prompts,
                                      reward: reward, config: config)
        return register(trainer, "grpo")
    }
}

@_cdecl("grlhf_ppo_trainer_create")
public func grlhf_ppo_trainer_create(_ policyHandle: OpaquePointer?, _ referenceHandle: OpaquePointer?,
                                     _ criticHandle: OpaquePointer?, _ tokenizerHandle: OpaquePointer?,
                                     _ data: UnsafePointer<CChar>?, _ rewardHandle: OpaquePointer?,
                                     _ params: UnsafeRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let policy = try modelBox(policyHandle).model
        let reference = try referenceHandle.map { try modelBox($0).model }
        if let reference { try checkReference(reference, of: policy) }
        let critic = try criticHandle.map { try rewardModel($0) }
        if let critic {
            guard critic.base !== policy else {
                throw Failure.invalidArgument("the critic's base is the policy itself; the critic needs its own model (or pass NULL)")
            }
            try checkReference(critic.base, of: policy, what: "the critic's base")
        }
        let encoder = try chatEncoder(policy, tokenizerHandle)
        let reward = try rewardObject(rewardHandle)
        let config = try PPOParams.load(params).validated(vocab: policy.vocabSize)
        let prompts = try readRows(data, "prompts_jsonl", as: PromptExample.self)
        try checkTrainable(policy, "the policy")
        let rollouts = config.promptsPerStep * config.completionsPerPrompt
        try checkRollouts(prompts, encoder: encoder, policy: policy, reward: reward, completions: config.completionsPerPrompt,
                          maxNewTokens: config.sampling.maxNewTokens,
                          rowsPerUpdate: (rollouts + config.miniBatches - 1) / config.miniBatches,
                          models: [policy] + (critic.map { [$0.base] } ?? []))
        try Runtime.requireBLAS()
        let trainer = try PPOTrainer(policy: policy, reference: reference, critic: critic, encoder: encoder, prompts: prompts,
                                     reward: reward, config: config)
        return register(trainer, "ppo")
    }
}

// MARK: - Running

@_cdecl("grlhf_trainer_step")
public func grlhf_trainer_step(_ handle: OpaquePointer?) -> Int32 {
    entry {
        let box = try trainerBox(handle)
        try box.exclusive("grlhf_trainer_step") {
            let trainer = box.trainer
            // Opened first, as train does: a file that cannot be written fails before the step.
            // The first step of a run starts the file afresh; later ones append.
            let writer = try trainer.metricsPath.map { try MetricsWriter(path: $0, append: trainer.step > 0) }
            let metrics = try trainer.runStep()
            writer?.write(metrics)
        }
    }
}

/// grlhf_metrics_fn
public typealias MetricsCallback = @convention(c) (UnsafeMutableRawPointer?, Int64, Int64,
                                                   UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Double>?) -> Int32

@_cdecl("grlhf_trainer_train")
public func grlhf_trainer_train(_ handle: OpaquePointer?, _ steps: Int64, _ callback: MetricsCallback?,
                                _ userData: UnsafeMutableRawPointer?) -> Int32 {
    entry {
        let box = try trainerBox(handle)
        guard steps >= 0 else { throw Failure.invalidArgument("steps \(steps) is negative") }
        try box.exclusive("grlhf_trainer_train") {
            let trainer = box.trainer
            trainer.onStep = callback.map { callback in
                { step, metrics in
                    let (names, values) = box.sorted(metrics)
                    return names.withUnsafeBufferPointer { n in
                        values.withUnsafeBufferPointer { v in
                            callback(userData, Int64(step), Int64(values.count), n.baseAddress, v.baseAddress) == 0
                        }
                    }
                }
            }
            defer { trainer.onStep = nil }
            try trainer.train(steps: steps == 0 ? nil : Int(Swift.min(steps, Int64(maxTrainerSteps))))
        }
    }
}

@_cdecl("grlhf_trainer_progress")
public func grlhf_trainer_progress(_ handle: OpaquePointer?, _ step: UnsafeMutablePointer<Int64>?,
                                   _ totalSteps: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        step?.pointee = 0; totalSteps?.pointee = 0
        let box = try trainerBox(handle)
        let s = try required(step, "step"), total = try required(totalSteps, "total_steps")
        s.pointee = Int64(box.trainer.step)
        total.pointee = Int64(box.trainer.totalSteps)
    }
}

@_cdecl("grlhf_trainer_metrics")
public func grlhf_trainer_metrics(_ handle: OpaquePointer?, _ index: Int64,
                                  _ names: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                  _ values: UnsafeMutablePointer<Double>?, _ capacity: Int64,
                                  _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        count?.pointee = 0
        let box = try trainerBox(handle)
        let count = try required(count, "count")
        let history = box.trainer.history
        guard capacity >= 0 else { throw Failure.invalidArgument("capacity \(capacity) is negative") }
        if capacity > 0 { _ = try required(names, "names"); _ = try required(values, "values") }
        guard index >= -1, index < Int64(history.count) else {
            throw Failure.invalidArgument("index \(index) is outside -1..<\(history.count) (the steps taken)")
        }
        if index == -1 && history.isEmpty { return }  // no step yet: no metrics
        let (n, v) = box.sorted(history[index == -1 ? history.count - 1 : Int(index)])
        count.pointee = Int64(v.count)
        if names == nil && values == nil && capacity == 0 { return }  // a size query
        let names = try required(names, "names"), values = try required(values, "values")
        guard capacity >= Int64(v.count) else {
            throw Failure.invalidArgument("capacity \(capacity) is below the \(v.count) metrics")
        }
        for i in v.indices { names[i] = n[i]; values[i] = v[i] }
    }
}

@_cdecl("grlhf_trainer_set_metrics_path")
public func grlhf_trainer_set_metrics_path(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    entry {
        let box = try trainerBox(handle)
        let path = try path.map { try utf8String($0, "path") }
        try box.exclusive("grlhf_trainer_set_metrics_path") { box.trainer.metricsPath = path }
    }
}

@_cdecl("grlhf_trainer_save_checkpoint")
public func grlhf_trainer_save_checkpoint(_ handle: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> Int32 {
    entry {
        let box = try trainerBox(handle)
        try box.trainer.saveCheckpoint(in: try utf8String(dir, "dir"))
    }
}

@_cdecl("grlhf_trainer_resume")
public func grlhf_trainer_resume(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    entry {
        let box = try trainerBox(handle)
        let path = try utf8String(path, "path")
        try box.exclusive("grlhf_trainer_resume") {
            guard FileManager.default.fileExists(atPath: path) else { throw Failure(.io, "\(path): no such checkpoint") }
            try box.trainer.resume(from: path)
        }
    }
}

@_cdecl("grlhf_trainer_free")
public func grlhf_trainer_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .trainer)
}
