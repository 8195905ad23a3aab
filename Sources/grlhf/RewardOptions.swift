import ArgumentParser
import Foundation
import GRLHF
import GRLHFPython

extension PythonRewardFunction.Convention: ExpressibleByArgument {}
extension PythonRewardFunction.ErrorPolicy: ExpressibleByArgument {}

/// Where rl's rewards come from: one source, or several summed with `--reward-weights` (TRL's
/// `reward_weights`) in the order they are given on the command line, each logged as
/// `rewards/NAME`. Another kind of source is one more case of `Source`, its option, its line in
/// `sources` and in `make`.
struct RewardOptions: ParsableArguments {
    @Option(help: "A reward model directory (train-rm's output); each completion is scored alone.")
    var rewardModel: String?
    @Option(help: ArgumentHelp("A built-in rule reward (repeatable): " + RuleRewards.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; "),
                               valueName: "name"))
    var reward: [String] = []
    @Option(help: "A generative judge's model directory (train-grm's output); each group is scored by grouped comparison.")
    var judge: String?
    @Option(help: "With --judge: its template JSON (default: the paper's).") var judgeTemplate: String?
    @Option(help: "With --judge: new tokens per judgment at most.") var judgeMaxTokens = 256
    @OptionGroup var group: GroupOptions
    @Option(name: .customLong("reward-fn"),
            help: ArgumentHelp("A Python reward function, run in-process (repeatable): NAME in FILE.py (default compute_score). "
                               + "verl's compute_score(data_source, solution_str, ground_truth, extra_info) -> float or {\"score\": ...}, "
                               + "called per completion, or TRL's reward_func(prompts, completions, **kwargs) -> list[float], called per rollout batch.",
                               valueName: "file.py[:name]"))
    var rewardFn: [String] = []
    @Option(help: "The --reward-fn functions' calling convention: auto (from their parameters), verl or trl.")
    var rewardFnConvention = PythonRewardFunction.Convention.auto
    @Option(help: "An exception in a --reward-fn function: fail (stop the run, showing the traceback) or skip (reward 0, counted as rewards/NAME/errors).")
    var rewardFnOnError = PythonRewardFunction.ErrorPolicy.fail
    @Option(help: ArgumentHelp("With several reward sources: their weights, comma-separated, in the order the sources are given (default 1 each). "
                               + "The reward is the weighted sum; each source's own mean is logged as rewards/NAME.", valueName: "w1,w2,..."))
    var rewardWeights: String?

    enum Kind {
        case model(directory: String)
        case rule(any RuleReward)
        case judge(directory: String)
        case python(spec: String)
    }

    /// A reward source and its name in metrics (`rewards/NAME`).
    struct Source {
        var name: String
        var kind: Kind
    }

    /// The sources in command-line order (`arguments`); when the arguments do not show them
    /// (options parsed from elsewhere), reward model, judge, rules, functions.
    func sources(arguments: [String] = CommandLine.arguments) throws -> [Source] {
        var given: [String: [Kind]] = ["--reward-model": rewardModel.map { [.model(directory: $0)] } ?? [],
                                       "--judge": judge.map { [.judge(directory: $0)] } ?? [],
                                       "--reward-fn": rewardFn.map { .python(spec: $0) }]
        given["--reward"] = try reward.map { name -> Kind in
            guard let rule = RuleRewards.named(name) else {
                throw ValidationError("--reward \(name): no such rule (known: \(RuleRewards.names.joined(separator: ", ")))")
            }
            return .rule(rule)
        }
        let flags = arguments.map { String($0.split(separator: "=", maxSplits: 1).first ?? "") }.filter { given[$0] != nil }
        let order = given.allSatisfy({ flag, kinds in flags.filter { $0 == flag }.count == kinds.count })
            ? flags : ["--reward-model", "--judge"] + reward.map { _ in "--reward" } + rewardFn.map { _ in "--reward-fn" }
        var next: [String: Int] = [:]
        var kinds: [Kind] = []
        for flag in order where !(given[flag] ?? []).isEmpty {
            kinds.append(given[flag]![next[flag, default: 0]])
            next[flag, default: 0] += 1
        }
        guard !kinds.isEmpty else {
            throw ValidationError("give a reward: --reward NAME, --reward-fn FILE.py[:NAME], --reward-model DIR or --judge DIR (several are summed)")
        }
        // Names: the rule's, the function's (FILE:NAME when two functions share a name), reward_model, judge.
        let functions = rewardFn.map(RewardFunctionSpec.init)
        var sources: [Source] = []
        for kind in kinds {
            let name: String
            switch kind {
            case .model: name = "reward_model"
            case .judge: name = "judge"
            case .rule(let rule): name = type(of: rule).name
            case .python(let spec):
                let function = RewardFunctionSpec(spec)
                name = functions.filter { $0.name == function.name }.count > 1 ? function.module + ":" + function.name : function.name
            }
            guard !sources.contains(where: { $0.name == name }) else { throw ValidationError("the reward \(name) is given twice") }
            sources.append(Source(name: name, kind: kind))
        }
        return sources
    }

    /// The weights, one per source; nil for a single source without --reward-weights.
    func weights(_ count: Int) throws -> [Float]? {
        guard let text = rewardWeights else { return count == 1 ? nil : Array(repeating: 1, count: count) }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Float($0) }.filter(\.isFinite)
        guard values.count == parts.count else { throw ValidationError("--reward-weights \(text): not a comma-separated list of numbers") }
        guard values.count == count else {
            throw ValidationError("--reward-weights gives \(values.count) weights for \(count) reward sources")
        }
        return values
    }

    func validate() throws {
        let sources = try sources()
        _ = try weights(sources.count)
        guard judgeMaxTokens >= 1 else { throw ValidationError("--judge-max-tokens must be at least 1") }
        if rewardFn.isEmpty && (rewardFnConvention != .auto || rewardFnOnError != .fail) {
            throw ValidationError("--reward-fn-convention and --reward-fn-on-error need --reward-fn")
        }
    }

    /// The metrics worth showing beside the reward: each source's when there are several, the
    /// judge's, and skipped Python errors.
    func metricKeys() throws -> [String] {
        let sources = try sources()
        var keys = (try weights(sources.count)) == nil ? [] : sources.map { "rewards/\($0.name)" }
        for s in sources {
            switch s.kind {
            case .judge: keys += ["judge/calls_per_group", "judge/parse_failure_rate"]
            case .python where rewardFnOnError == .skip: keys.append("rewards/\(s.name)/errors")
            default: break
            }
        }
        return keys
    }

    /// The reward function, checked against the prompts. `tokenizer` is the policy's, used when
    /// a reward model directory has none of its own.
    func function(prompts: [PromptExample], tokenizer: Tokenizer, log: (String) -> Void) throws -> RewardFunction {
        let sources = try sources()
        let made = try sources.map { try make($0, prompts: prompts, tokenizer: tokenizer, log: log) }
        guard let weights = try weights(sources.count) else { return made[0] }
        log("reward = " + zip(sources, weights).map { "\($1) × \($0.name)" }.joined(separator: " + "))
        return try CombinedReward(zip(sources, zip(weights, made)).map { CombinedReward.Component(name: $0.name, weight: $1.0, reward: $1.1) })
    }

    private func make(_ source: Source, prompts: [PromptExample], tokenizer: Tokenizer, log: (String) -> Void) throws -> RewardFunction {
        switch source.kind {
        case .model(let dir):
            let rm = try RewardModel.load(directory: dir)
            let own = dir + "/tokenizer.json"
            let t = FileManager.default.fileExists(atPath: own) ? try Tokenizer.load(contentsOf: own) : tokenizer
            return RewardModelReward(rm, encoder: try ChatEncoder(tokenizer: t, model: rm.base))
        case .rule(let rule):
            try rule.check(prompts)
            return rule
        case .judge(let dir):
            let own = dir + "/tokenizer.json"
            let t = FileManager.default.fileExists(atPath: own) ? try Tokenizer.load(contentsOf: own) : tokenizer
            let judge = try Judge(model: try loadModel(directory: dir), tokenizer: t,
                                  template: try judgeTemplate.map { try JudgeTemplate.load(contentsOf: $0) } ?? .paper)
            judge.options = SamplingOptions(temperature: 0, maxNewTokens: judgeMaxTokens)
            return GroupedComparisonReward(judge: judge, config: group.config)
        case .python(let spec):
            let info = try PythonInterpreter.start()
            if !Self.announced {
                Self.announced = true
                log(info.description)
                if let note = info.note { FileHandle.standardError.write(Data("grlhf: note: \(note)\n".utf8)) }
            }
            let f = try PythonRewardFunction(spec: spec, convention: rewardFnConvention, onError: rewardFnOnError)
            f.metricName = source.name
            log("reward \(source.name): \(f.path):\(f.name), \(f.convention.rawValue) convention"
                + (f.onError == .skip ? ", exceptions score 0" : ""))
            return f
        }
    }

    nonisolated(unsafe) private static var announced = false
}
