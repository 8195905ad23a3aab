import Foundation
import GRLHF

/// A reward written in Python, run in-process by the embedded interpreter (`PythonInterpreter`).
///
/// Two calling conventions:
/// - **verl**: `compute_score(data_source, solution_str, ground_truth, extra_info=None)`, called
///   once per completion; it returns a number, or a dict with a numeric `"score"` (its other
///   numeric entries are averaged into the metrics as `rewards/<name>/<key>`). `data_source` is
///   the row's `data_source` (None without one); `extra_info` is the row's `extra_info` object
///   with the row's other keys, plus `question`, `image`, `system` and `truncated`.
/// - **TRL**: `reward_func(prompts, completions, **kwargs)`, called once per rollout batch with
///   one entry per completion: `prompts` (the row's question, repeated for each completion of
///   its group), `completions` (text), and as keyword lists `ground_truth`, `image`, `system`,
///   `question`, `completion_ids`, `truncated` and every other key of the rows (None where a
///   row lacks it); it returns a list (or array) of numbers, one per completion, or None where
///   the reward does not apply (scored 0 alone, left to the other sources in a `CombinedReward`).
///
/// `.auto` tells them apart by the parameter names (`solution_str`/`data_source` → verl,
/// `completions` → TRL), else by shape (three required positional parameters → verl; two and
/// `**kwargs` → TRL). Errors stop the step with a `PythonError`: an exception (with the
/// function's traceback), a value that is not a finite number (naming the sample), the wrong
/// number of rewards. With `onError: .skip` an exception instead scores the completion (TRL: the
/// batch) 0 and is counted in `rewards/<name>/errors`.
public final class PythonRewardFunction: PartialRewardFunction {
    public enum Convention: String, CaseIterable, Codable, Sendable { case auto, verl, trl }
    /// What an exception raised by the function does: stop the run, or score 0 and count it.
    public enum ErrorPolicy: String, CaseIterable, Codable, Sendable { case fail, skip }

    public let path: String
    public let name: String
    /// The convention in use (`.auto` resolved when the function was loaded).
    public let convention: Convention
    public let onError: ErrorPolicy
    /// The name in metrics (`rewards/<metricName>/…`); the function's name unless set.
    public var metricName: String
    private let id: Int
    private var errors = 0, nones = 0
    private var extras: [String: (sum: Double, count: Int)] = [:]

    /// Imports the module at `path` (once per file and process) and finds `name` in it. Throws
    /// when the file does not import (with the traceback), has no such function, or `.auto`
    /// cannot tell the convention.
    public init(path: String, name: String = "compute_score", convention: Convention = .auto, onError: ErrorPolicy = .fail) throws {
        struct Loaded: Decodable { var id: Int?; var convention: String?; var error: String? }
        let request = try JSONEncoder().encode(["path": path, "name": name, "convention": convention.rawValue, "on_error": onError.rawValue])
        let reply = try PythonInterpreter.call("load", String(decoding: request, as: UTF8.self))
        let loaded = try Self.decode(Loaded.self, reply)
        if let error = loaded.error { throw PythonError(error) }
        guard let id = loaded.id, let c = loaded.convention.flatMap(Convention.init(rawValue:)) else {
            throw PythonError("grlhf's Python glue: bad load reply \(reply.prefix(200))")
        }
        self.path = path; self.name = name; self.convention = c; self.onError = onError; self.id = id
        metricName = name
    }

    /// `FILE.py[:NAME]` (verl's default name, `compute_score`, when none is given).
    public convenience init(spec: String, convention: Convention = .auto, onError: ErrorPolicy = .fail) throws {
        let s = RewardFunctionSpec(spec)
        try self.init(path: s.path, name: s.name, convention: convention, onError: onError)
    }

    public func rewards(for group: RolloutGroup) throws -> [Float] { try rewards(for: [group])[0] }

    /// TRL's None (does not apply) scores 0 here; in a `CombinedReward` the other sources stand
    /// for it instead (`partialRewards`). Either way it is counted in `rewards/<name>/none`.
    public func rewards(for groups: [RolloutGroup]) throws -> [[Float]] {
        try partialRewards(for: groups).map { $0.map { $0 ?? 0 } }
    }

    public func partialRewards(for groups: [RolloutGroup]) throws -> [[Float?]] {
        struct Row: Encodable {
            var question: String, image: String?, ground_truth: String?, system: String?
            var extra: [String: JSONValue], completions: [String], completion_ids: [[Int32]], truncated: [Bool]
        }
        struct Reply: Decodable { var rewards: [Double?]?; var errors: Int?; var metrics: [String: [Double]]?; var error: String? }
        let rows = groups.map { g in
            Row(question: g.prompt.question, image: g.prompt.image, ground_truth: g.prompt.groundTruth, system: g.prompt.system,
                extra: g.prompt.extra, completions: g.completions, completion_ids: g.tokens, truncated: g.truncated)
        }
        let payload = String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
        let text = try PythonInterpreter.call("call", String(id), payload)   // the GIL is held for this call only
        let reply = try Self.decode(Reply.self, text)
        if let error = reply.error { throw PythonError(error) }
        guard let flat = reply.rewards, flat.count == groups.reduce(0, { $0 + $1.completions.count }) else {
            throw PythonError("grlhf's Python glue: bad reply \(text.prefix(200))")
        }
        var out: [[Float?]] = [], next = 0
        for (g, group) in groups.enumerated() {
            let r = flat[next..<(next + group.completions.count)].map { $0.map { Float($0) } }
            if let i = r.firstIndex(where: { $0.map { !$0.isFinite } ?? false }) {  // finite as a double, not as a float
                throw PythonError("\(path):\(name) returned \(flat[next + i]!) for sample \(next + i) (prompt \(g), completion \(i)): beyond Float's range")
            }
            out.append(r); next += group.completions.count
        }
        errors += reply.errors ?? 0
        nones += flat.filter { $0 == nil }.count
        for (key, v) in reply.metrics ?? [:] where v.count == 2 {
            let e = extras[key] ?? (0, 0)
            extras[key] = (e.sum + v[0], e.count + Int(v[1]))
        }
        return out
    }

    public func takeMetrics() -> Metrics {
        defer { errors = 0; nones = 0; extras = [:] }
        var m: Metrics = [:]
        if onError == .skip { m["rewards/\(metricName)/errors"] = Double(errors) }
        if convention == .trl { m["rewards/\(metricName)/none"] = Double(nones) }
        for (key, e) in extras where e.count > 0 { m["rewards/\(metricName)/\(key)"] = e.sum / Double(e.count) }
        return m
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(text.utf8)) } catch {
            throw PythonError("grlhf's Python glue: unreadable reply \(text.prefix(200))")
        }
    }
}
