import CPythonShim
import Foundation
import GRLHF

/// The process's CPython interpreter, embedded from the libpython3 grlhf was linked against
/// (pkg-config `python3-embed`; on Debian `libpython3-dev`, the system's python3.X).
///
/// Started once, on first use, and never finalized. Which files it reads:
/// - the standard library of the libpython that is actually loaded: its home is the prefix above
///   that library holding `lib/pythonX.Y/os.py` (`/usr` for Debian's), unless `PYTHONHOME` says
///   otherwise. So another Python first on `PATH` (pyenv, a venv of another version) never lends
///   the interpreter a standard library of the wrong version;
/// - Python's usual settings otherwise (`PYTHONPATH`, an activated venv, the user site);
/// - the packages of the Python you use: those of `GRLHF_PYTHON` (an executable; empty turns
///   this off), else of `python3` on `PATH`, are added after the standard library and before
///   the interpreter's own site directories when it is the same X.Y; when it is not, they are
///   left out and `Info.note` says why. That is how a reward that imports numpy finds the numpy
///   `pip install` put under `python3`.
///
/// The GIL is held only while Python runs: the interpreter starts with it released, and each
/// call takes it (`PyGILState_Ensure`) and gives it back, so Python threads a reward module
/// starts keep running while grlhf trains. In a process where Python is already running (grlhf's
/// Swift API called from an extension module), that interpreter is used as it is.
public enum PythonInterpreter {
    /// What the interpreter is and what it was given.
    public struct Info: Sendable, CustomStringConvertible {
        /// "3.11.2".
        public var version: String
        /// The libpython file in use.
        public var library: String?
        /// `sys.prefix`.
        public var prefix: String
        /// The Python whose site-packages were added, and the directories added.
        public var packagesFrom: String?
        public var addedPaths: [String]
        /// Why packages were not added, when they were not.
        public var note: String?

        public var description: String {
            "Python \(version) (\(library ?? "libpython")); "
                + (packagesFrom.map { "packages of \($0) too" + (addedPaths.isEmpty ? " (nothing to add)" : "") } ?? "its own packages only")
        }
    }

    nonisolated(unsafe) private static var glue: OpaquePointer?
    nonisolated(unsafe) private static var started: Result<Info, PythonError>?
    private static let lock = NSLock()

    /// Starts the interpreter and grlhf's glue module (once; later calls return the first
    /// result). Throws when Python cannot start (its standard library not found, say).
    @discardableResult
    public static func start() throws -> Info {
        lock.lock(); defer { lock.unlock() }
        if started == nil {
            do { started = .success(try launch()) } catch { started = .failure(error) }
        }
        return try started!.get()
    }

    private static func launch() throws(PythonError) -> Info {
        let library = grlhf_py_library_path().map { String(cString: $0) }
        if grlhf_py_is_initialized() == 0 {
            if let failure = grlhf_py_initialize(home(library: library)) {
                throw PythonError("the embedded Python (\(library ?? "libpython")) did not start: \(String(cString: failure)); "
                                  + "set PYTHONHOME to the prefix of its standard library")
            }
        }
        let text: String = try withGIL { () throws(PythonError) -> String in
            var error: UnsafeMutablePointer<CChar>?
            guard let module = grlhf_py_module_from_source("_grlhf_rewards", pythonGlueSource, &error) else {
                defer { free(error) }
                throw PythonError("grlhf's Python glue did not load:\n" + (error.map { String(cString: $0) } ?? "?"))
            }
            glue = module
            return try callLocked("setup", packagesPython() ?? "")
        }
        struct Setup: Decodable { var version: String; var prefix: String; var added: [String]; var note: String?; var python: String? }
        guard let s = try? JSONDecoder().decode(Setup.self, from: Data(text.utf8)) else { throw PythonError("grlhf's Python glue: bad setup reply \(text.prefix(200))") }
        return Info(version: s.version, library: library, prefix: s.prefix, packagesFrom: s.python, addedPaths: s.added, note: s.note)
    }

    /// The prefix above `library` holding its standard library (`lib/pythonX.Y/os.py`); nil to
    /// let Python decide (PYTHONHOME set, or no such prefix).
    static func home(library: String?) -> String? {
        if let h = ProcessInfo.processInfo.environment["PYTHONHOME"], !h.isEmpty { return nil }
        guard let library else { return nil }
        var major: Int32 = 0, minor: Int32 = 0
        grlhf_py_version(&major, &minor)
        var dir = URL(fileURLWithPath: library).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.fileExists(atPath: dir.path + "/lib/python\(major).\(minor)/os.py") { return dir.path }
            if dir.path == "/" { break }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// `GRLHF_PYTHON` when set (empty: none), else `python3` on PATH.
    static func packagesPython() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let p = env["GRLHF_PYTHON"] { return p.isEmpty ? nil : p }
        for dir in (env["PATH"] ?? "").split(separator: ":") {
            let candidate = String(dir) + "/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `body` holding the GIL (taken and given back around it).
    static func withGIL<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let state = grlhf_py_gil_ensure()
        defer { grlhf_py_gil_release(state) }
        return try body()
    }

    /// `_grlhf_rewards.function(arguments…)` as text; takes the GIL for the call only.
    static func call(_ function: String, _ a: String, _ b: String? = nil, _ c: String? = nil) throws -> String {
        try start()
        return try withGIL { () throws(PythonError) -> String in try callLocked(function, a, b, c) }
    }

    private static func callLocked(_ function: String, _ a: String, _ b: String? = nil, _ c: String? = nil) throws(PythonError) -> String {
        var failed: Int32 = 0
        guard let glue, let out = grlhf_py_call(glue, function, a, b, c, &failed) else {
            throw PythonError("grlhf's Python glue is not loaded")
        }
        defer { free(out) }
        let text = String(cString: out)
        if failed != 0 { throw PythonError("grlhf's Python glue failed in \(function):\n" + text) }
        return text
    }
}

/// A Python reward that failed: the user's exception with its traceback, a value that is not a
/// finite number, the wrong number of rewards, a module that does not import; or an
/// interpreter that does not start.
public struct PythonError: Error, CustomStringConvertible, GRLHFErrorConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var grlhfError: GRLHFError { .invalidArgument(message) }
}
