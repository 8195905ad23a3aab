import Foundation
import GRLHF

// grlhf_reward_model (a Bradley–Terry reward model: create, load, save, score) and
// grlhf_reward (GRPO's reward function: a C callback with user data, or a reward model).

func rewardModel(_ handle: OpaquePointer?) throws -> RewardModel {
    try Handles.resolve(handle, .rewardModel, as: RewardModel.self)
}

func rewardObject(_ handle: OpaquePointer?) throws -> RewardFunction {
    try Handles.resolve(handle, .reward, as: RewardBox.self).reward
}

/// A reward function behind a handle (a class-bound existential cannot be registered directly).
final class RewardBox {
    let reward: RewardFunction
    init(_ reward: RewardFunction) { self.reward = reward }
}

// MARK: - Reward models

@_cdecl("grlhf_reward_model_create")
public func grlhf_reward_model_create(_ modelHandle: OpaquePointer?, _ seed: UInt64,
                                      _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let model = try modelBox(modelHandle).model
        return Handles.register(RewardModel(base: model, seed: seed), as: .rewardModel)
    }
}

@_cdecl("grlhf_reward_model_load")
public func grlhf_reward_model_load(_ dir: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let dir = try utf8String(dir, "dir")
        try checkModelSize(configFile: URL(fileURLWithPath: dir).appendingPathComponent("config.json").path)
        try Runtime.requireBLAS()
        return Handles.register(try RewardModel.load(directory: dir), as: .rewardModel)
    }
}

@_cdecl("grlhf_reward_model_save")
public func grlhf_reward_model_save(_ handle: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> Int32 {
    entry {
        let rm = try rewardModel(handle)
        try rm.save(directory: try utf8String(dir, "dir"))
    }
}

@_cdecl("grlhf_reward_model_score")
public func grlhf_reward_model_score(_ handle: OpaquePointer?, _ tokenizerHandle: OpaquePointer?, _ n: Int64,
                                     _ questions: UnsafePointer<UnsafePointer<CChar>?>?,
                                     _ images: UnsafePointer<UnsafePointer<CChar>?>?,
                                     _ responses: UnsafePointer<UnsafePointer<CChar>?>?,
                                     _ scores: UnsafeMutablePointer<Float>?) -> Int32 {
    entry {
        let rm = try rewardModel(handle)
        let encoder = try chatEncoder(rm.base, tokenizerHandle)
        guard n >= 0, n <= maxSequenceTokens else { throw Failure.invalidArgument("n \(n) is outside 0...\(maxSequenceTokens)") }
        if n == 0 { return }
        let q = try required(questions, "questions"), r = try required(responses, "responses")
        let scores = try required(scores, "scores")
        var rows: [(question: String, image: String?, response: String)] = []
        for i in 0..<Int(n) {
            rows.append((try utf8String(q[i], "questions[\(i)]"), try images.flatMap { try $0[i].map { try utf8String($0, "images[\(i)]") } },
                         try utf8String(r[i], "responses[\(i)]")))
        }
        let batch = 16  // RewardModel.score's batch size
        let sequences = try rows.map { try encoder.sequence($0.question, image: $0.image, response: $0.response) }
        try checkBatchForward(rm.base, rows: Swift.min(batch, rows.count), time: longest(sequences, rm.base),
                              images: rows.contains { $0.image != nil } ? batch : 0)
        try Runtime.requireBLAS()
        for (i, s) in try rm.score(rows, encoder: encoder, batchSize: batch).enumerated() { scores[i] = s }
    }
}

@_cdecl("grlhf_reward_model_free")
public func grlhf_reward_model_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .rewardModel)
}

// MARK: - Reward functions

/// grlhf_reward_fn
public typealias RewardCallback = @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, UnsafeMutablePointer<Float>?) -> Int32

/// The message a callback leaves with grlhf_set_callback_error before returning nonzero: a
/// malloc'd C string per thread (the callback runs on the thread of the call that invoked it).
enum CallbackError {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key) { free($0) } == 0, "grlhf: pthread_key_create failed")
        return key
    }()

    static func set(_ message: UnsafePointer<CChar>?) {
        free(pthread_getspecific(key))
        pthread_setspecific(key, message.flatMap { strdup($0) })
    }

    /// The pending message, cleared.
    static func take() -> String? {
        guard let p = pthread_getspecific(key) else { return nil }
        let s = String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p.assumingMemoryBound(to: CChar.self))), as: UTF8.self)
        free(p)
        pthread_setspecific(key, nil)
        return s
    }
}

@_cdecl("grlhf_set_callback_error")
public func grlhf_set_callback_error(_ message: UnsafePointer<CChar>?) {
    CallbackError.set(message)
}

/// Layout of grlhf_reward_group: every field after struct_size is pointer-sized.
struct RewardGroupLayout {
    var question: UInt = 0, image: UInt = 0, groundTruth: UInt = 0
    var count = 0
    var completions: UInt = 0, tokens: UInt = 0, lengths: UInt = 0, truncated: UInt = 0

    mutating func walk(_ f: inout CFields) {
        f.raw(&question); f.raw(&image); f.raw(&groundTruth)
        f.int64(&count)
        f.raw(&completions); f.raw(&tokens); f.raw(&lengths); f.raw(&truncated)
    }

    static let size: Int = {
        var f = CFields.measuring, g = RewardGroupLayout()
        g.walk(&f)
        return f.size
    }()
}

/// A reward from a C callback: the group is lent to it as a grlhf_reward_group for the call.
final class CallbackReward: RewardFunction {
    let callback: RewardCallback
    let userData: UnsafeMutableRawPointer?

    init(_ callback: @escaping RewardCallback, _ userData: UnsafeMutableRawPointer?) {
        self.callback = callback
        self.userData = userData
    }

    func rewards(for group: RolloutGroup) throws -> [Float] {
        var owned: [UnsafeMutableRawPointer] = []
        defer { owned.forEach { free($0) } }
        func string(_ s: String?) -> UInt {
            guard let s, let p = strdup(s) else { return 0 }
            owned.append(UnsafeMutableRawPointer(p))
            return UInt(bitPattern: p)
        }
        func buffer<T>(_ values: [T]) -> UInt {
            let p = malloc(Swift.max(values.count, 1) * MemoryLayout<T>.stride)!
            owned.append(p)
            let typed = p.bindMemory(to: T.self, capacity: Swift.max(values.count, 1))
            for (i, v) in values.enumerated() { (typed + i).initialize(to: v) }
            return UInt(bitPattern: p)
        }
        let n = group.completions.count
        var layout = RewardGroupLayout(question: string(group.prompt.question), image: string(group.prompt.image),
                                       groundTruth: string(group.prompt.groundTruth), count: n)
        layout.completions = buffer(group.completions.map { string($0) })
        layout.tokens = buffer(group.tokens.map { buffer($0) })
        layout.lengths = buffer(group.tokens.map { Int64($0.count) })
        layout.truncated = buffer(group.truncated.map { Int32($0 ? 1 : 0) })
        let raw = UnsafeMutableRawPointer.allocate(byteCount: RewardGroupLayout.size, alignment: 8)
        defer { raw.deallocate() }
        raw.storeBytes(of: UInt32(RewardGroupLayout.size), toByteOffset: 0, as: UInt32.self)
        var f = CFields.storing(into: raw)
        layout.walk(&f)
        // NaN marks a reward the callback did not write; GRPO refuses non-finite rewards.
        var rewards = [Float](repeating: .nan, count: n)
        _ = CallbackError.take()
        let status = rewards.withUnsafeMutableBufferPointer { callback(userData, UnsafeRawPointer(raw), $0.baseAddress) }
        let message = CallbackError.take()
        guard status == 0 else {
            throw Failure(.callback, "the reward callback returned \(status)" + (message.map { ": \($0)" } ?? " (no message set)"))
        }
        return rewards
    }
}

@_cdecl("grlhf_reward_create")
public func grlhf_reward_create(_ callback: RewardCallback?, _ userData: UnsafeMutableRawPointer?,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let callback = try required(callback, "fn")
        return Handles.register(RewardBox(CallbackReward(callback, userData)), as: .reward)
    }
}

@_cdecl("grlhf_reward_from_reward_model")
public func grlhf_reward_from_reward_model(_ rmHandle: OpaquePointer?, _ tokenizerHandle: OpaquePointer?,
                                           _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let rm = try rewardModel(rmHandle)
        let encoder = try chatEncoder(rm.base, tokenizerHandle)
        return Handles.register(RewardBox(RewardModelReward(rm, encoder: encoder)), as: .reward)
    }
}

@_cdecl("grlhf_reward_rule")
public func grlhf_reward_rule(_ name: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let name = try utf8String(name, "name")
        guard let rule = RuleRewards.named(name) else {
            throw Failure.invalidArgument("no rule reward called \"\(name)\" (known: \(RuleRewards.names.joined(separator: ", ")))")
        }
        return Handles.register(RewardBox(rule), as: .reward)
    }
}

@_cdecl("grlhf_reward_free")
public func grlhf_reward_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .reward)
}
