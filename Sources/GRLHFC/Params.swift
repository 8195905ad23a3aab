import Foundation
import GRLHF

// Reading and writing the trainers' struct_size-versioned params structs. Each struct is
// described once, as a walk over its fields in declaration order; the walk stores the defaults
// (`grlhf_*_params_default`), loads a caller's struct, or only measures the layout. Offsets
// follow C's natural alignment (what every C compiler on x86-64 and arm64 Linux does for
// these field types), and the tests compare the measured size with sizeof in C and ctypes.

struct CFields {
    private enum Mode { case measure, store(UnsafeMutableRawPointer), load(UnsafeRawPointer) }
    private let mode: Mode
    /// The first field follows `uint32_t struct_size`.
    private(set) var offset = MemoryLayout<UInt32>.size
    private var alignment = MemoryLayout<UInt32>.alignment

    private init(_ mode: Mode) { self.mode = mode }
    static var measuring: CFields { CFields(.measure) }
    static func storing(into p: UnsafeMutableRawPointer) -> CFields { CFields(.store(p)) }
    static func loading(from p: UnsafeRawPointer) -> CFields { CFields(.load(p)) }

    /// The struct's size: the end of the last field rounded up to the largest alignment.
    var size: Int { (offset + alignment - 1) / alignment * alignment }

    /// One field of a fixed-width C type.
    mutating func raw<T: BitwiseCopyable>(_ value: inout T) {
        let a = MemoryLayout<T>.alignment
        offset = (offset + a - 1) / a * a
        alignment = Swift.max(alignment, a)
        switch mode {
        case .measure: break
        case .store(let p): p.storeBytes(of: value, toByteOffset: offset, as: T.self)
        case .load(let p): value = p.loadUnaligned(fromByteOffset: offset, as: T.self)
        }
        offset += MemoryLayout<T>.size
    }

    /// An `int64_t` field held in a Swift Int (64 bits on every supported platform).
    mutating func int64(_ value: inout Int) { var x = Int64(value); raw(&x); value = Int(x) }
    /// An `int32_t` field held in a Swift Int.
    mutating func int32(_ value: inout Int) { var x = Int32(clamping: value); raw(&x); value = Int(x) }
    mutating func float(_ value: inout Float) { raw(&value) }
    mutating func uint64(_ value: inout UInt64) { raw(&value) }
    /// An `int32_t` flag: 0 is false, anything else true.
    mutating func flag(_ value: inout Bool) { var x: Int32 = value ? 1 : 0; raw(&x); value = x != 0 }
    /// An `int32_t` enum whose values are the indices of `cases`.
    mutating func enumeration<E: Equatable>(_ value: inout E, _ cases: [E], _ what: String) throws {
        var x = Int32(cases.firstIndex(of: value) ?? 0)
        raw(&x)
        guard x >= 0, Int(x) < cases.count else {
            throw Failure.invalidArgument("\(what) \(x) is outside 0...\(cases.count - 1)")
        }
        value = cases[Int(x)]
    }
}

/// A params struct: its walk, and `struct_size` checks shared by every trainer.
protocol CParams {
    init()
    /// Visits every field after struct_size, in the order the header declares them.
    mutating func walk(_ f: inout CFields) throws
    static var cName: String { get }
}

extension CParams {
    /// sizeof the C struct in this version of the header.
    static var size: Int {
        var f = CFields.measuring, value = Self()
        try? value.walk(&f)
        return f.size
    }

    /// `grlhf_*_params_default`: the Swift defaults with struct_size set.
    static func storeDefaults(_ out: UnsafeMutableRawPointer?) throws {
        let p = try required(out, "out")
        var f = CFields.storing(into: p), value = Self()
        try value.walk(&f)
        p.storeBytes(of: UInt32(size), toByteOffset: 0, as: UInt32.self)
    }

    /// The caller's struct (NULL: the defaults), struct_size checked; values are not validated.
    static func load(_ params: UnsafeRawPointer?) throws -> Self {
        var value = Self()
        guard let p = params else { return value }
        let got = p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        guard got >= UInt32(size) else {
            throw Failure.invalidArgument("params->struct_size \(got) is below \(size); start from \(cName)_default")
        }
        var f = CFields.loading(from: p)
        try value.walk(&f)
        return value
    }
}

// MARK: - Value checks (the engine traps or misbehaves outside these ranges)

let maxTrainerSteps = 1 << 31
let maxBatch = 65536

func checkRange(_ value: Int, _ range: ClosedRange<Int>, _ what: String) throws {
    guard range.contains(value) else { throw Failure.invalidArgument("\(what) \(value) is outside \(range.lowerBound)...\(range.upperBound)") }
}

func checkFloat(_ value: Float, _ what: String, min: Float = 0, max: Float = .infinity,
                openMin: Bool = false, openMax: Bool = false) throws {
    let low = openMin ? value > min : value >= min
    let high = openMax ? value < max : value <= max
    guard value.isFinite, low, high else {
        let lo = openMin ? "(" : "[", hi = openMax ? ")" : "]"
        throw Failure.invalidArgument("\(what) \(value) is not finite or outside \(lo)\(min), \(max)\(hi)")
    }
}

extension SamplingOptions {
    /// The sampling fields of the RL trainers' params structs (the seed comes from the run's).
    mutating func walk(_ f: inout CFields, stopBits: inout UInt, stopCount: inout Int) {
        f.float(&temperature)
        f.int32(&topK)
        f.float(&topP)
        f.int64(&maxNewTokens)
        f.raw(&stopBits)
        f.int64(&stopCount)
    }

    /// Checks the values and sets the stop tokens from the caller's array.
    mutating func validate(stopBits: UInt, stopCount: Int, vocab: Int) throws {
        try checkFloat(temperature, "temperature")
        try checkRange(topK, 0...Int(Int32.max), "top_k")
        try checkFloat(topP, "top_p", max: 1, openMin: true)
        try checkRange(maxNewTokens, 1...Int(maxNewTokensLimit), "max_new_tokens")
        stopTokens = Set(try tokenIds(UnsafePointer(bitPattern: stopBits), Int64(stopCount), vocab: vocab, what: "stop_tokens"))
    }
}

/// Rollout batch sizes shared by GRPO and PPO: prompts × completions per prompt, split into
/// mini-batches, passes × mini-batches updates per step.
func checkRolloutSizes(steps: Int, prompts: Int, completions: Int, epochs: Int, miniBatches: Int, completionsName: String) throws {
    try checkRange(steps, 1...maxTrainerSteps, "steps")
    try checkRange(prompts, 1...maxBatch, "prompts_per_step")
    try checkRange(completions, 1...Int(maxGroup), completionsName)
    try checkRange(epochs, 1...1024, "epochs")
    try checkRange(miniBatches, 1...(prompts * completions), "mini_batches")
    let (updates, overflow) = steps.multipliedReportingOverflow(by: epochs * miniBatches)
    guard !overflow, updates <= maxTrainerSteps else {
        throw Failure.invalidArgument("steps × epochs × mini_batches is above \(maxTrainerSteps) optimizer updates")
    }
}

extension OptimizerConfig {
    /// The optimizer fields every trainer's params struct ends with.
    mutating func walk(_ f: inout CFields) throws {
        f.float(&learningRate)
        f.float(&weightDecay)
        f.float(&warmupRatio)
        try f.enumeration(&schedule, [.constant, .linear, .cosine], "schedule")
        f.float(&maxGradNorm)
        f.float(&beta1)
        f.float(&beta2)
    }

    /// `prefix` names the fields in messages ("critic_" for PPO's critic).
    func validate(_ prefix: String = "") throws {
        try checkFloat(learningRate, prefix + "learning_rate")
        try checkFloat(weightDecay, prefix + "weight_decay")
        try checkFloat(warmupRatio, prefix + "warmup_ratio", max: 1)
        try checkFloat(maxGradNorm, prefix + "max_grad_norm")
        try checkFloat(beta1, prefix + "beta1", max: 1, openMax: true)
        try checkFloat(beta2, prefix + "beta2", max: 1, openMax: true)
    }
}

// MARK: - The four params structs

struct SFTParams: CParams {
    static let cName = "grlhf_sft_params"
    var config = SFTConfig()

    mutating func walk(_ f: inout CFields) throws {
        f.int64(&config.steps)
        f.int64(&config.batchSize)
        f.int64(&config.gradientAccumulation)
        f.uint64(&config.seed)
        try config.optimizer.walk(&f)
    }

    func validated() throws -> SFTConfig {
        try checkRange(config.steps, 1...maxTrainerSteps, "steps")
        try checkRange(config.batchSize, 1...maxBatch, "batch_size")
        try checkRange(config.gradientAccumulation, 1...config.batchSize, "gradient_accumulation")
        guard config.batchSize % config.gradientAccumulation == 0 else {
            throw Failure.invalidArgument("batch_size \(config.batchSize) is not a multiple of gradient_accumulation \(config.gradientAccumulation)")
        }
        try config.optimizer.validate()
        return config
    }
}

struct RMParams: CParams {
    static let cName = "grlhf_rm_params"
    var config = RewardModelConfig()

    mutating func walk(_ f: inout CFields) throws {
        f.int64(&config.steps)
        f.int64(&config.batchSize)
        f.uint64(&config.seed)
        f.float(&config.regularization)
        f.flag(&config.freezeVisionTower)
        try config.optimizer.walk(&f)
    }

    func validated() throws -> RewardModelConfig {
        try checkRange(config.steps, 1...maxTrainerSteps, "steps")
        try checkRange(config.batchSize, 1...maxBatch, "batch_size")
        try checkFloat(config.regularization, "regularization")
        try config.optimizer.validate()
        return config
    }
}

struct DPOParams: CParams {
    static let cName = "grlhf_dpo_params"
    var config = DPOConfig()

    mutating func walk(_ f: inout CFields) throws {
        f.int64(&config.steps)
        f.int64(&config.batchSize)
        f.uint64(&config.seed)
        f.float(&config.beta)
        try config.optimizer.walk(&f)
    }

    func validated() throws -> DPOConfig {
        try checkRange(config.steps, 1...maxTrainerSteps, "steps")
        try checkRange(config.batchSize, 1...maxBatch, "batch_size")
        try checkFloat(config.beta, "beta", openMin: true)
        try config.optimizer.validate()
        return config
    }
}

struct GRPOParams: CParams {
    static let cName = "grlhf_grpo_params"
    var config = GRPOConfig()
    /// stop_tokens and n_stop_tokens as the caller gave them (checked against the vocabulary later).
    var stopBits: UInt = 0
    var stopCount = 0

    mutating func walk(_ f: inout CFields) throws {
        f.int64(&config.steps)
        f.int64(&config.promptsPerStep)
        f.int64(&config.groupSize)
        f.int64(&config.epochs)
        f.int64(&config.miniBatches)
        f.uint64(&config.seed)
        f.float(&config.clip)
        f.float(&config.klCoefficient)
        try f.enumeration(&config.klEstimator, [.k1, .k3], "kl_estimator")
        f.flag(&config.maskTruncated)
        config.sampling.walk(&f, stopBits: &stopBits, stopCount: &stopCount)
        try config.optimizer.walk(&f)
    }

    func validated(vocab: Int) throws -> GRPOConfig {
        var c = config
        try checkRolloutSizes(steps: c.steps, prompts: c.promptsPerStep, completions: c.groupSize, epochs: c.epochs,
                              miniBatches: c.miniBatches, completionsName: "group_size")
        try checkFloat(c.clip, "clip")
        try checkFloat(c.klCoefficient, "kl_coefficient")
        try c.sampling.validate(stopBits: stopBits, stopCount: stopCount, vocab: vocab)
        try c.optimizer.validate()
        return c
    }
}

struct PPOParams: CParams {
    static let cName = "grlhf_ppo_params"
    var config = PPOConfig()
    var stopBits: UInt = 0
    var stopCount = 0

    mutating func walk(_ f: inout CFields) throws {
        f.int64(&config.steps)
        f.int64(&config.promptsPerStep)
        f.int64(&config.completionsPerPrompt)
        f.int64(&config.epochs)
        f.int64(&config.miniBatches)
        f.uint64(&config.seed)
        f.float(&config.clip)
        f.float(&config.valueClip)
        f.float(&config.rewardClip)
        f.float(&config.klCoefficient)
        f.float(&config.gamma)
        f.float(&config.lambda)
        f.flag(&config.whitenAdvantages)
        config.sampling.walk(&f, stopBits: &stopBits, stopCount: &stopCount)
        try config.optimizer.walk(&f)
        try config.criticOptimizer.walk(&f)
    }

    func validated(vocab: Int) throws -> PPOConfig {
        var c = config
        try checkRolloutSizes(steps: c.steps, prompts: c.promptsPerStep, completions: c.completionsPerPrompt, epochs: c.epochs,
                              miniBatches: c.miniBatches, completionsName: "completions_per_prompt")
        try checkFloat(c.clip, "clip")
        try checkFloat(c.valueClip, "value_clip")
        try checkFloat(c.rewardClip, "reward_clip")
        try checkFloat(c.klCoefficient, "kl_coefficient")
        try checkFloat(c.gamma, "gamma", max: 1)
        try checkFloat(c.lambda, "lambda", max: 1)
        try c.sampling.validate(stopBits: stopBits, stopCount: stopCount, vocab: vocab)
        try c.optimizer.validate()
        try c.criticOptimizer.validate("critic_")
        return c
    }
}

@_cdecl("grlhf_sft_params_default")
public func grlhf_sft_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry { try SFTParams.storeDefaults(out) }
}

@_cdecl("grlhf_rm_params_default")
public func grlhf_rm_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry { try RMParams.storeDefaults(out) }
}

@_cdecl("grlhf_dpo_params_default")
public func grlhf_dpo_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry { try DPOParams.storeDefaults(out) }
}

@_cdecl("grlhf_grpo_params_default")
public func grlhf_grpo_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry { try GRPOParams.storeDefaults(out) }
}

@_cdecl("grlhf_ppo_params_default")
public func grlhf_ppo_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry { try PPOParams.storeDefaults(out) }
}
