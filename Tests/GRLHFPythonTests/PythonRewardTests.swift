import Foundation
import Testing
import GRLHF
@testable import GRLHFPython

/// Python reward functions through the embedded interpreter, on Fixtures/rewards.py. Serialized:
/// the GIL test times a background Python thread and wants no other Python running meanwhile.
@Suite(.serialized) struct PythonRewardTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/rewards.py"

    /// A row with everything verl and TRL pass on: ground truth, data_source, extra_info, an extra column.
    static let row = PromptExample(question: "What color is the sky?", groundTruth: "blue",
                                   extra: ["data_source": .string("colors"), "extra_info": .object(["index": .int(7)]),
                                           "difficulty": .int(2), "tags": .array([.string("a"), .string("b")])])

    /// One token per character, the last completion truncated.
    static func group(_ completions: [String], _ prompt: PromptExample = row) -> RolloutGroup {
        RolloutGroup(prompt: prompt, completions: completions, tokens: completions.map { $0.map { _ in Int32(1) } },
                     truncated: completions.indices.map { $0 == completions.count - 1 })
    }

    static func function(_ name: String, _ convention: PythonRewardFunction.Convention = .auto,
                         onError: PythonRewardFunction.ErrorPolicy = .fail) throws -> PythonRewardFunction {
        try PythonRewardFunction(path: fixture, name: name, convention: convention, onError: onError)
    }

    /// The error message of `body`, which must throw a PythonError.
    static func message(_ body: () throws -> Void) -> String {
        do { try body() } catch let e as PythonError { return e.message } catch { return "not a PythonError: \(error)" }
        return "did not throw"
    }

    @Test func verlConventionScoresEachCompletionAndLogsTheDictsOtherEntries() throws {
        let f = try Self.function("compute_score")
        #expect(f.convention == .verl)
        let r = try f.rewards(for: [Self.group(["It is blue.", "red", "BLUE"]), Self.group(["green"], PromptExample(question: "Grass?", groundTruth: "green"))])
        #expect(r == [[1, 0, 1], [1]])
        let m = f.takeMetrics()
        #expect(m["rewards/compute_score/length"] == Double(11 + 3 + 4 + 5) / 4)
        #expect(m["rewards/compute_score/ticks"] != nil && m["rewards/compute_score/errors"] == nil)
        #expect(f.takeMetrics().isEmpty)
    }

    @Test func trlConventionIsCalledOncePerBatchAndMayReturnNumpy() throws {
        let f = try Self.function("length_reward")
        #expect(f.convention == .trl)
        #expect(try f.rewards(for: [Self.group(["abcd", "ab"]), Self.group(["abcdefghij"])]) == [[0.4, 0.2], [1]])
        let calls = try Self.function("batch_calls")
        #expect(try calls.rewards(for: [Self.group(["a", "b"]), Self.group(["c"])]) == [[1, 1], [1]])
        #expect(try calls.rewards(for: [Self.group(["a"]), Self.group(["b", "c", "d"])]) == [[2], [2, 2, 2]])
    }

    @Test func eachConventionGetsTheRowsGroundTruthAndExtraFields() throws {
        let verl = try Self.function("check_verl_args")
        #expect(try verl.rewards(for: Self.group(["blue", "sky is blue"])) == [4, 11])
        let trl = try Self.function("check_trl_args")
        #expect(try trl.rewards(for: Self.group(["blue", "sky", "x"])) == [1, 1, 1])
        let byPosition = try Self.function("positional")
        #expect(byPosition.convention == .verl)
        #expect(try byPosition.rewards(for: Self.group(["abc"])) == [3])
        // Forcing the other convention calls it the other way (and here fails in Python).
        #expect(Self.message { _ = try Self.function("check_trl_args", .verl).rewards(for: Self.group(["blue"])) }.contains("raised an exception"))
    }

    @Test func anExceptionStopsWithTheTracebackUnlessSkipped() throws {
        let text = Self.message { _ = try Self.function("raises").rewards(for: Self.group(["blue", "red"])) }
        #expect(text.contains("rewards.py:raises raised an exception on sample 0 (prompt 0 'What color is the sky?', completion 0 'blue')"))
        #expect(text.contains("Traceback (most recent call last)") && text.contains("in _helper") && text.contains("ValueError: no reward for 'blue'"))
        #expect(!text.contains("_grlhf_rewards"))   // grlhf's own frames are left out

        let skip = try Self.function("raises", onError: .skip)
        #expect(try skip.rewards(for: [Self.group(["blue", "red"]), Self.group(["x"])]) == [[0, 0], [0]])
        #expect(skip.takeMetrics()["rewards/raises/errors"] == 3)
        #expect(skip.takeMetrics()["rewards/raises/errors"] == 0)
    }

    @Test func badValuesAreErrorsNamingTheSample() throws {
        #expect(Self.message { _ = try Self.function("not_a_number").rewards(for: Self.group(["blue"])) }
            .contains("returned str 'high' for sample 0 (prompt 0 'What color is the sky?', completion 0 'blue'): a reward is a number"))
        #expect(Self.message { _ = try Self.function("no_score").rewards(for: Self.group(["blue"])) }
            .contains("returned a dict without \"score\" for sample 0"))
        #expect(Self.message { _ = try Self.function("returns_nan").rewards(for: [Self.group(["a"]), Self.group(["b", "c"])]) }
            .contains("returns_nan returned nan for sample 1 (prompt 1 'What color is the sky?', completion 0 'b'): rewards must be finite"))
        #expect(Self.message { _ = try Self.function("wrong_length").rewards(for: [Self.group(["a", "b"]), Self.group(["c"])]) }
            .contains("wrong_length returned 2 rewards for a batch of 3 completions"))
        #expect(Self.message { _ = try Self.function("returns_text").rewards(for: Self.group(["a"])) }
            .contains("returned str 'high' for sample 0 (prompt 0 'What color is the sky?', completion 0 'a'): a reward is a number (or None: does not apply)"))
        // Finite as a double but not as a Float.
        let huge = try Self.module("def huge(prompts, completions, **kw):\n    return [1e300] * len(completions)\n", name: "huge")
        #expect(Self.message { _ = try huge.rewards(for: Self.group(["a"])) }.contains("returned 1e+300 for sample 0"))
        // In a trainer's rollOut or a CombinedReward these surface as the step's error.
        #expect(throws: PythonError.self) {
            _ = try CombinedReward([.init(name: "nan", reward: try Self.function("returns_nan"))]).rewards(for: [Self.group(["a", "b"])])
        }
    }

    /// TRL's None: alone it scores 0; in a CombinedReward the other sources stand for it (TRL's
    /// nansum), and a completion nothing applies to scores 0, counted.
    @Test func trlNoneMeansDoesNotApply() throws {
        let partial = try Self.function("only_long")
        #expect(try partial.rewards(for: Self.group(["ab", "abcd"])) == [0, 2])
        #expect(partial.takeMetrics()["rewards/only_long/none"] == 1)
        let combined = try CombinedReward([.init(name: "only_long", weight: 1, reward: try Self.function("only_long")),
                                           .init(name: "length", weight: 0.5, reward: try Self.function("length_reward"))])
        let lengths = try Self.function("length_reward").rewards(for: Self.group(["ab", "abcd"]))
        #expect(try combined.rewards(for: [Self.group(["ab", "abcd"])]) == [[0.5 * lengths[0], 2 + 0.5 * lengths[1]]])
        let m = combined.takeMetrics()
        #expect(m["rewards/only_long"] == 2 && m["rewards/only_long/none"] == 1 && m["rewards/none_applied"] == 0)
        let alone = try CombinedReward([.init(name: "only_long", reward: try Self.function("only_long"))])
        #expect(try alone.rewards(for: [Self.group(["a", "abc"])]) == [[0, 2]])
        #expect(alone.takeMetrics()["rewards/none_applied"] == 1)
        #expect(try Self.function("returns_none").rewards(for: Self.group(["a"])) == [0])
    }

    @Test func loadingProblemsAreReportedBeforeAnyCall() throws {
        #expect(Self.message { _ = try Self.function("no_such_function") }.contains("has no 'no_such_function' (its functions: ambiguous, batch_calls,"))
        #expect(Self.message { _ = try Self.function("ambiguous") }.contains("ambiguous(x): cannot tell its calling convention"))
        #expect(Self.message { _ = try PythonRewardFunction(path: "/nonexistent/r.py") }.contains("/nonexistent/r.py: no such file"))
        let text = Self.message { _ = try Self.module("import no_such_module_for_grlhf\n", name: "f") }
        #expect(text.contains("importing it failed") && text.contains("ModuleNotFoundError: No module named 'no_such_module_for_grlhf'"))
        func parsed(_ spec: String) -> [String] { let p = RewardFunctionSpec(spec); return [p.path, p.name] }
        #expect(parsed("dir/r.py:score") == ["dir/r.py", "score"])
        #expect(parsed("dir/r.py") == ["dir/r.py", "compute_score"])
        #expect(parsed("C:/x.py") == ["C:/x.py", "compute_score"])
    }

    /// The module's background thread must keep counting between reward calls: grlhf holds the
    /// GIL only while Python runs. Held between calls, the count would stand still (0 or 1 tick).
    @Test func theGILIsReleasedBetweenCalls() throws {
        let f = try Self.function("tick_count")
        var counts: [Float] = []
        for _ in 0..<4 {
            counts.append(try f.rewards(for: Self.group(["a"]))[0])
            usleep(100_000)   // Swift working, no Python running: 100 ms ≈ up to 100 ticks
        }
        let gains = zip(counts.dropFirst(), counts).map { $0 - $1 }
        #expect(gains.allSatisfy { $0 >= 10 }, "ticks between calls: \(gains)")
    }

    /// The standard library comes from beside the libpython in use (Debian's: /usr/lib/python3.X),
    /// whatever python3 is first on PATH.
    @Test func theInterpreterUsesTheStandardLibraryOfItsOwnLibpython() throws {
        let info = try PythonInterpreter.start()
        #expect(info.library?.contains("libpython3") == true)
        let home = try #require(PythonInterpreter.home(library: info.library))
        let stdlib = home + "/lib/python" + info.version.split(separator: ".").prefix(2).joined(separator: ".") + "/"
        let os = try Self.module("import os\ndef where(prompts, completions, **kw):\n    return [float(os.__file__.startswith(\(String(reflecting: stdlib))))] * len(completions)\n", name: "where")
        #expect(try os.rewards(for: Self.group(["a"])) == [1])
    }

    /// A step whose Python reward raises changes nothing: no step counted, no prompts consumed,
    /// the weights as they were; the next step runs normally.
    @Test func aFailingPythonRewardLeavesTheTrainerAsItWas() throws {
        let tokenizer = BPETrainer.train(corpus: ["What color is the sky?", "It is blue.", "It is red."], vocabSize: 280,
                                         specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        let policy = try DecoderLM(DecoderLM.Config(vocabSize: tokenizer.vocabSize, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1,
                                                    numAttentionHeads: 2, numKeyValueHeads: 1, tieWordEmbeddings: true), seed: 3)
        var config = GRPOConfig()
        config.steps = 2; config.promptsPerStep = 1; config.groupSize = 2; config.klCoefficient = 0
        config.sampling = SamplingOptions(temperature: 1, maxNewTokens: 3)
        let flaky = try Self.module("""
            calls = 0
            def f(prompts, completions, **kw):
                global calls
                calls += 1
                if calls == 1:
                    raise KeyError("first call")
                return [float(len(c)) for c in completions]
            """, name: "f")
        let trainer = try GRPOTrainer(policy: policy, encoder: try ChatEncoder(tokenizer: tokenizer, model: policy),
                                      prompts: [Self.row, PromptExample(question: "sky?")], reward: flaky, config: config)
        let weights = policy.parameters.map(\.scalars)
        #expect(Self.message { try trainer.runStep() }.contains("KeyError: 'first call'"))
        #expect(trainer.step == 0 && trainer.data.position == 0 && trainer.data.epoch == 0)
        #expect(policy.parameters.map(\.scalars) == weights)
        try trainer.runStep()
        #expect(trainer.step == 1 && trainer.data.position == 1)
    }

    /// A reward module written to a temporary file.
    static func module(_ source: String, name: String) throws -> PythonRewardFunction {
        let path = NSTemporaryDirectory() + "grlhf-reward-\(UUID().uuidString).py"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try PythonRewardFunction(path: path, name: name)
    }
}
