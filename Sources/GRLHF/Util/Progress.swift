import Foundation

/// A one-line progress bar on stderr with rate and ETA; redraws at most ten times a second.
public final class ProgressBar {
    let total: Double
    let label: String
    let start = Date()
    var lastDraw = Date.distantPast
    let interactive = isatty(STDERR_FILENO) != 0

    public init(total: Double, label: String) {
        self.total = max(total, 1e-9)
        self.label = label
    }

    /// Redraws with `done` of `total` finished and a short status (e.g. the current loss).
    public func update(_ done: Double, status: String = "", force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) > (interactive ? 0.1 : 5) else { return }
        lastDraw = now
        let frac = min(max(done / total, 0), 1)
        let elapsed = now.timeIntervalSince(start)
        let eta = frac > 0 ? elapsed * (1 - frac) / frac : 0
        let width = 28, filled = Int(frac * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "%@ |%@| %3.0f%%  %@  elapsed %@  eta %@", label, bar, frac * 100, status,
                          Self.clock(elapsed), Self.clock(eta))
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + line + (interactive ? "" : "\n")).utf8))
    }

    public func finish(status: String = "") {
        update(total, status: status, force: true)
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func clock(_ s: Double) -> String { String(format: "%d:%02d", Int(s) / 60, Int(s) % 60) }
}

/// Appends one JSON object per line (metrics a plot or notebook can read back).
public final class MetricsWriter {
    let handle: FileHandle

    /// Starts `path` afresh, or appends to it (a resumed run) when `append` is true.
    public init(path: String, append: Bool = false) throws {
        if !append || !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { throw GRLHFError.io("cannot open \(path) for writing") }
        if append { try h.seekToEnd() }
        handle = h
    }

    public func write(_ record: [String: Double]) {
        let body = record.keys.sorted().map { k in "\"\(k)\": \(record[k]!.isFinite ? String(record[k]!) : "null")" }
        handle.write(Data(("{" + body.joined(separator: ", ") + "}\n").utf8))
    }

    deinit { try? handle.close() }
}
