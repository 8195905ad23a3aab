import Foundation

/// Optimizer settings every trainer shares (the paper's Table 5 names them).
public struct OptimizerConfig: Codable, Equatable, Sendable {
    public var learningRate: Float = 1e-5
    public var weightDecay: Float = 0.01
    /// Fraction of the run spent warming up linearly to the peak rate.
    public var warmupRatio: Float = 0.03
    public var schedule: LRSchedule.Kind = .cosine
    /// Global gradient-norm clip (0 turns it off).
    public var maxGradNorm: Float = 1
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999

    public init(learningRate: Float = 1e-5, weightDecay: Float = 0.01, warmupRatio: Float = 0.03,
                schedule: LRSchedule.Kind = .cosine, maxGradNorm: Float = 1) {
        self.learningRate = learningRate; self.weightDecay = weightDecay; self.warmupRatio = warmupRatio
        self.schedule = schedule; self.maxGradNorm = maxGradNorm
    }
}

/// One step's metrics, by the names TRL uses where it has one (loss, reward, kl, grad_norm, …).
public typealias Metrics = [String: Double]

/// Which rows come next: a fresh shuffle of 0..<count every epoch, from (seed, epoch) alone, so
/// the whole order is restored from three integers.
public struct DataOrder: Codable, Equatable, Sendable {
    public let count: Int
    public let seed: UInt64
    public private(set) var epoch = 0
    public private(set) var position = 0

    public init(count: Int, seed: UInt64) {
        require(count > 0, "DataOrder: empty dataset")
        self.count = count; self.seed = seed
    }

    func permutation(_ epoch: Int) -> [Int] {
        var rng = PCG32(seed: seed, stream: UInt64(epoch))
        return shuffledIndices(count, rng: &rng)
    }

    /// The next `k` row indices, crossing into the next epoch as needed.
    public mutating func next(_ k: Int) -> [Int] {
        var out: [Int] = []
        var order = permutation(epoch)
        while out.count < k {
            if position == count { epoch += 1; position = 0; order = permutation(epoch) }
            out.append(order[position]); position += 1
        }
        return out
    }
}

/// Tensors trained together by one AdamW with one schedule: the policy, or PPO's critic beside it.
public final class ParameterGroup {
    /// Prefix of this group's tensors in checkpoints ("" for the main group).
    public let name: String
    public let parameters: [(name: String, tensor: Tensor)]
    public let config: OptimizerConfig
    public let optimizer: AdamW
    public let schedule: LRSchedule
    /// Updates attempted (applied or skipped): the schedule's position.
    public internal(set) var updates = 0

    init(name: String, parameters: [(name: String, tensor: Tensor)], config: OptimizerConfig, totalUpdates: Int) {
        require(!parameters.isEmpty && totalUpdates > 0, "ParameterGroup \(name): nothing to train")
        self.name = name
        self.parameters = parameters
        self.config = config
        optimizer = AdamW(parameters: parameters.map(\.tensor), learningRate: config.learningRate,
                          beta1: config.beta1, beta2: config.beta2, weightDecay: config.weightDecay)
        schedule = LRSchedule(config.schedule, peak: config.learningRate,
                              warmupSteps: Int((config.warmupRatio * Float(totalUpdates)).rounded()), totalSteps: totalUpdates)
    }

    /// Checkpoint names of the tensors.
    func key(_ parameter: String) -> String { name.isEmpty ? parameter : name + "/" + parameter }
}

/// What every trainer shares: AdamW over the trainable parameters, the learning-rate schedule,
/// gradient clipping, skipping non-finite steps, the step loop with progress, metrics (callback
/// and JSONL) and checkpoints. A trainer subclasses it and implements `trainStep`, which
/// computes losses and applies each with `applyGradients`.
open class Trainer {
    /// Trainer steps of the whole run.
    public let totalSteps: Int
    /// The main group (the model being trained) first, then any added with `addGroup`.
    public private(set) var groups: [ParameterGroup]
    /// Trainer steps taken (a batch for SFT, RM and DPO; a rollout batch for GRPO and PPO).
    public internal(set) var step = 0
    public internal(set) var data: DataOrder
    /// Updates whose loss or gradients were not finite: counted, never applied.
    public internal(set) var skippedSteps = 0
    /// Every step's metrics so far (checkpointed, so a resumed run reports the whole history).
    public internal(set) var history: [Metrics] = []
    /// Called after every step; returning false stops `train` cleanly after that step.
    public var onStep: ((Int, Metrics) -> Bool)?
    /// Where each step's metrics are appended as JSON lines.
    public var metricsPath: String?
    /// The trainer's settings, written into checkpoints as `trainer_config.json` for the record.
    public var settings: (any Encodable)?

    public var main: ParameterGroup { groups[0] }
    /// The main group's tensors, optimizer, settings and schedule.
    public var parameters: [(name: String, tensor: Tensor)] { main.parameters }
    public var optimizer: AdamW { main.optimizer }
    public var optimizerConfig: OptimizerConfig { main.config }
    public var schedule: LRSchedule { main.schedule }
    public var updates: Int { main.updates }

    /// - Parameters:
    ///   - parameters: the trained tensors by name (for a model, its parameters that need
    ///     gradients).
    ///   - totalSteps: trainer steps of the run; `updatesPerStep` optimizer updates each.
    ///   - rows: dataset size; `seed` shuffles it.
    public init(parameters: [(name: String, tensor: Tensor)], optimizer config: OptimizerConfig, totalSteps: Int,
                updatesPerStep: Int = 1, rows: Int, seed: UInt64) {
        require(totalSteps > 0 && updatesPerStep > 0, "Trainer: nothing to train")
        self.totalSteps = totalSteps
        groups = [ParameterGroup(name: "", parameters: parameters, config: config, totalUpdates: totalSteps * updatesPerStep)]
        data = DataOrder(count: rows, seed: seed)
    }

    /// Adds tensors trained by their own optimizer (PPO's critic), checkpointed under `name/`.
    public func addGroup(_ name: String, parameters: [(name: String, tensor: Tensor)], optimizer config: OptimizerConfig,
                         updatesPerStep: Int = 1) -> ParameterGroup {
        require(!name.isEmpty && !groups.contains { $0.name == name }, "Trainer: group name \(name) empty or taken")
        let g = ParameterGroup(name: name, parameters: parameters, config: config, totalUpdates: totalSteps * updatesPerStep)
        groups.append(g)
        return g
    }

    /// One trainer step: forward and backward passes, each loss's gradients applied with
    /// `applyGradients`. Returns the step's metrics (at least "loss"; "tokens" gives
    /// tokens_per_second).
    open func trainStep() throws -> Metrics { fatalError("subclasses implement trainStep") }

    /// Clips the accumulated gradients of `group` (the main one by default) and updates its
    /// parameters, unless the loss or the gradient norm is not finite: then the update is
    /// skipped and counted, and the weights stay as they were. Clears the gradients either way.
    @discardableResult
    public func applyGradients(loss: Float, group: ParameterGroup? = nil) -> (gradNorm: Float, learningRate: Float) {
        let g = group ?? main
        let trained = g.parameters.map(\.tensor)
        let norm = g.config.maxGradNorm > 0 ? clipGradientNorm(trained, maxNorm: g.config.maxGradNorm) : gradientNorm(trained)
        let lr = g.schedule.rate(at: g.updates)
        if loss.isFinite && norm.isFinite {
            g.optimizer.learningRate = lr
            g.optimizer.step()
        } else {
            skippedSteps += 1
        }
        g.optimizer.zeroGrad()
        g.updates += 1
        return (norm, lr)
    }

    /// The order in which epoch `epoch` of an update over `count` rollouts visits them: as
    /// collected in the first epoch (the batches π_old was computed on), then shuffled from
    /// (seed, step, epoch) so a resumed run repeats it.
    func updateOrder(_ count: Int, epoch: Int, seed: UInt64) -> [Int] {
        guard epoch > 0 else { return Array(0..<count) }
        var rng = PCG32(seed: seed, stream: UInt64(step) &* 1_000_003 &+ UInt64(epoch))
        return shuffledIndices(count, rng: &rng)
    }

    /// Runs one trainer step and records its metrics (adding skipped_steps, step_time and
    /// tokens_per_second).
    @discardableResult
    public func runStep() throws -> Metrics {
        let start = DispatchTime.now()
        for g in groups { g.optimizer.zeroGrad() }
        let cursor = data
        var m: Metrics
        do { m = try trainStep() } catch {
            data = cursor  // a failed step (e.g. a throwing reward) consumes no rows
            for g in groups { g.optimizer.zeroGrad() }
            throw error
        }
        step += 1
        let elapsed = seconds(start, DispatchTime.now())
        m["skipped_steps"] = Double(skippedSteps)
        m["step_time"] = elapsed
        if let tokens = m["tokens"] { m["tokens_per_second"] = tokens / elapsed }
        m["step"] = Double(step)
        history.append(m)
        return m
    }

    /// Runs until `totalSteps` (or `steps` more), reporting each step. With `checkpointEvery` and
    /// `checkpointDirectory`, saves `step-N` checkpoints there (see `saveCheckpoint`).
    public func train(steps: Int? = nil, progress: Bool = false, label: String = "train",
                      checkpointEvery: Int = 0, checkpointDirectory: String? = nil) throws {
        let end = Swift.min(totalSteps, step + (steps ?? totalSteps))
        let writer = try metricsPath.map { try MetricsWriter(path: $0, append: step > 0) }
        let bar = progress ? ProgressBar(total: Double(end - step), label: label) : nil
        let first = step
        while step < end {
            let m = try runStep()
            writer?.write(m)
            bar?.update(Double(step - first), status: String(format: "step %d  loss %.4f", step, m["loss"] ?? .nan))
            if let dir = checkpointDirectory, checkpointEvery > 0, step % checkpointEvery == 0 || step == end {
                try saveCheckpoint(in: dir)
            }
            if let onStep, !onStep(step, m) { break }
        }
        bar?.finish(status: "step \(step)")
    }

    // MARK: Checkpoints

    struct State: Codable {
        struct Group: Codable { var updates: Int; var optimizerSteps: Int }
        var step: Int
        var data: DataOrder
        var skippedSteps: Int
        /// By group name ("" is the main group).
        var groups: [String: Group]
        var history: [[String: Double?]]
    }

    /// Writes checkpoint `step-N` under `root` (trained weights, AdamW moments, step, data cursor,
    /// metrics so far, the trainer's settings; every random draw derives from the seed, the
    /// step and the cursor, so they are the RNG state) and points `root/latest` at it. The directory is written under a
    /// temporary name, every file fsynced, then renamed: a crash leaves the previous
    /// checkpoint intact. Returns the checkpoint's path.
    @discardableResult
    public func saveCheckpoint(in root: String) throws -> String {
        let name = String(format: "step-%06d", step)
        let final = root + "/" + name
        try Checkpoint.writeDirectory(final) { dir in
            try Safetensors.write(groups.flatMap { g in g.parameters.map { (g.key($0.name), $0.tensor) } }, to: dir + "/weights.safetensors")
            let moments = groups.flatMap { g in
                g.parameters.indices.flatMap { i in
                    [(name: "m." + g.key(g.parameters[i].name), tensor: g.optimizer.m[i]),
                     (name: "v." + g.key(g.parameters[i].name), tensor: g.optimizer.v[i])]
                }
            }
            try Safetensors.write(moments, to: dir + "/optimizer.safetensors")
            let state = State(step: step, data: data, skippedSteps: skippedSteps,
                              groups: Dictionary(uniqueKeysWithValues: groups.map { ($0.name, State.Group(updates: $0.updates, optimizerSteps: $0.optimizer.stepCount)) }),
                              history: history.map { $0.mapValues { $0.isFinite ? $0 : nil } })
            try AtomicFile.writeJSON(state, to: dir + "/state.json")
            if let settings { try AtomicFile.writeJSON(settings, to: dir + "/trainer_config.json") }
        }
        try AtomicFile.write(Array(name.utf8), to: root + "/latest")
        return final
    }

    /// Restores weights, optimizer moments, step, data cursor and metrics from a checkpoint
    /// directory, or from the one `latest` names when given the root. Continuing then gives
    /// the same weights, bit for bit, as a run that never stopped (at the same thread count).
    /// Everything is checked before anything changes: a bad checkpoint leaves the trainer as it was.
    public func resume(from path: String) throws {
        var dir = path
        if let latest = FileManager.default.contents(atPath: path + "/latest") {
            dir = path + "/" + String(decoding: latest, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let weights = Dictionary(try Safetensors.read(contentsOf: dir + "/weights.safetensors").map { ($0.name, $0.tensor) },
                                 uniquingKeysWith: { a, _ in a })
        let moments = Dictionary(try Safetensors.read(contentsOf: dir + "/optimizer.safetensors").map { ($0.name, $0.tensor) },
                                 uniquingKeysWith: { a, _ in a })
        let state = try ModelDirectory.decode(dir + "/state.json", as: State.self)
        guard state.data.count == data.count else {
            throw GRLHFError.invalidArgument("\(dir): checkpoint of a dataset of \(state.data.count) rows, this one has \(data.count)")
        }
        let expected = groups.reduce(0) { $0 + $1.parameters.count }
        guard weights.count == expected, Set(state.groups.keys) == Set(groups.map(\.name)) else {
            throw GRLHFError.invalidFormat("\(dir): \(weights.count) tensors in groups \(state.groups.keys.sorted()) for \(expected) in \(groups.map(\.name))")
        }
        var restored: [(m: [Tensor], v: [Tensor])] = []
        for g in groups {
            var m: [Tensor] = [], v: [Tensor] = []
            for (name, p) in g.parameters {
                let key = g.key(name)
                guard let w = weights[key], let mi = moments["m." + key], let vi = moments["v." + key],
                      w.shape == p.shape, mi.shape == p.shape, vi.shape == p.shape else {
                    throw GRLHFError.invalidFormat("\(dir): \(key) missing or of the wrong shape")
                }
                m.append(mi); v.append(vi)
            }
            restored.append((m, v))
        }
        for (g, r) in zip(groups, restored) {
            let s = state.groups[g.name]!
            try g.optimizer.restore(m: r.m, v: r.v, stepCount: s.optimizerSteps)
            g.updates = s.updates
            for (name, p) in g.parameters { p.data.update(from: weights[g.key(name)]!.data, count: p.count) }
        }
        step = state.step
        data = state.data
        skippedSteps = state.skippedSteps
        history = state.history.map { $0.mapValues { $0 ?? .nan } }
    }
}

/// 0..<count in a Fisher–Yates order drawn from `rng`.
func shuffledIndices(_ count: Int, rng: inout PCG32) -> [Int] {
    var p = Array(0..<count)
    for i in stride(from: count - 1, to: 0, by: -1) { p.swapAt(i, Int(rng.nextUInt32() % UInt32(i + 1))) }
    return p
}

/// Seconds between two instants.
func seconds(_ from: DispatchTime, _ to: DispatchTime) -> Double { Double(to.uptimeNanoseconds - from.uptimeNanoseconds) / 1e9 }

/// Checkpoint directories written all at once.
enum Checkpoint {
    /// Fills a temporary sibling of `path`, fsyncs it, and renames it into place (replacing an
    /// older `path`, which is first moved aside and removed after the swap).
    static func writeDirectory(_ path: String, _ fill: (String) throws -> Void) throws {
        let fm = FileManager.default
        let parent = (path as NSString).deletingLastPathComponent
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        do { try fm.createDirectory(atPath: temp, withIntermediateDirectories: true) } catch {
            throw GRLHFError.io("\(temp): cannot create (\(error.localizedDescription))")
        }
        do {
            try fill(temp)
            try fsyncPath(temp)
            var aside: String?
            if fm.fileExists(atPath: path) {
                aside = "\(path).old-\(getpid())"
                guard rename(path, aside!) == 0 else { throw GRLHFError.io("\(path): rename: \(errnoText())") }
            }
            guard rename(temp, path) == 0 else { throw GRLHFError.io("\(path): rename: \(errnoText())") }
            try fsyncPath(parent.isEmpty ? "." : parent)
            if let aside { try? fm.removeItem(atPath: aside) }
        } catch {
            try? fm.removeItem(atPath: temp)
            throw error
        }
    }

    static func fsyncPath(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GRLHFError.io("\(path): open: \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw GRLHFError.io("\(path): fsync: \(errnoText())") }
    }
}
