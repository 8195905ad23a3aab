/// A Python reward function named as `FILE.py[:NAME]` (`grlhf rl --reward-fn`, the pipeline's
/// `rewardFunctions`); NAME defaults to verl's `compute_score`. Parsed here, in the core, so
/// names and stage folders agree whether or not Python is linked.
public struct RewardFunctionSpec: Equatable, Sendable {
    public var path: String
    public var name: String

    /// The part after the last colon is the name when it is an identifier (so `C:\x.py` or a
    /// path with colons stays a path).
    public init(_ spec: String) {
        if let colon = spec.lastIndex(of: ":") {
            let name = String(spec[spec.index(after: colon)...])
            if let first = name.first, first == "_" || first.isLetter, name.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }) {
                (path, self.name) = (String(spec[..<colon]), name)
                return
            }
        }
        (path, name) = (spec, "compute_score")
    }

    /// The file's name without `.py`.
    public var module: String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return file.hasSuffix(".py") ? String(file.dropLast(3)) : file
    }
}
