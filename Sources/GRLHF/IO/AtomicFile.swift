import Foundation

/// Writes files so that readers see the old file or the complete new one, never a mix: a
/// temporary file beside the target, fsync, rename, then fsync of the directory so the rename
/// itself survives a crash (reliability.md, "Checkpoints"). Every format writer goes through here.
enum AtomicFile {
    /// Creates `path` from what `fill` writes through the writer it is given.
    static func write(to path: String, _ fill: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        // A suffix of `path` keeps the temp file in the same directory, so rename is atomic.
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GRLHFError.io("\(temp): create: \(errnoText())") }
        do {
            try fill { bytes in try writeAll(fd, bytes, path: temp) }
            guard fsync(fd) == 0 else { throw GRLHFError.io("\(temp): fsync: \(errnoText())") }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        guard close(fd) == 0 else {
            let reason = errnoText()
            unlink(temp)
            throw GRLHFError.io("\(temp): close: \(reason)")
        }
        guard rename(temp, path) == 0 else {
            let reason = errnoText()
            unlink(temp)
            throw GRLHFError.io("\(path): rename: \(reason)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw GRLHFError.io("\(directory): open: \(errnoText())") }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else { throw GRLHFError.io("\(directory): fsync: \(errnoText())") }
    }

    /// Creates `path` holding `bytes`.
    static func write(_ bytes: some ContiguousBytes, to path: String) throws {
        try write(to: path) { write in try bytes.withUnsafeBytes { try write($0) } }
    }

    /// Creates `path` holding `value` as pretty-printed JSON with sorted keys.
    static func writeJSON(_ value: some Encodable, to path: String) throws {
        try write(try JSONEncoder.pretty.encode(value), to: path)
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, base + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw GRLHFError.io("\(path): write: \(errnoText())") }
            done += n
        }
    }
}

/// The text of the current `errno`.
func errnoText() -> String { String(cString: strerror(errno)) }

extension JSONEncoder {
    /// Pretty-printed with sorted keys: the form of every JSON file grlhf writes.
    static var pretty: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
