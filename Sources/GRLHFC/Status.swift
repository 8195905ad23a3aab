import Foundation
import GRLHF

// Status codes, the thread-local last error, and `entry`, the wrapper every fallible
// @_cdecl body runs in. Keep the raw values in sync with include/grlhf.h.

enum Status: Int32 {
    case ok = 0
    case invalidArgument = -1
    case invalidFormat = -2
    case io = -3
    case outOfMemory = -4
    case unsupported = -5
    case misuse = -6
    case `internal` = -7
    case cancelled = -8
    case callback = -9

    /// Static text for `grlhf_status_string`.
    var text: StaticString {
        switch self {
        case .ok: return "ok"
        case .invalidArgument: return "invalid argument"
        case .invalidFormat: return "invalid format"
        case .io: return "i/o error"
        case .outOfMemory: return "out of memory"
        case .unsupported: return "unsupported"
        case .misuse: return "api misuse"
        case .internal: return "internal error"
        case .cancelled: return "cancelled"
        case .callback: return "callback failed"
        }
    }
}

/// A failure on its way to the C caller: a status and a message.
struct Failure: Error {
    let status: Status
    let message: String

    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// The one place where engine errors become status codes.
    init(_ error: Error) {
        if let failure = error as? Failure {
            self = failure
            return
        }
        let e = GRLHFError(error)
        switch e {
        case .invalidArgument: self.init(.invalidArgument, e.message)
        case .invalidFormat: self.init(.invalidFormat, e.message)
        case .io: self.init(.io, e.message)
        case .outOfMemory: self.init(.outOfMemory, e.message)
        case .unsupported: self.init(.unsupported, e.message)
        case .internal: self.init(.internal, e.message)
        }
    }

    static func invalidArgument(_ message: String) -> Failure { Failure(.invalidArgument, message) }
}

/// The calling thread's last error as a malloc'd C string in a pthread key, so the pointer
/// handed out stays valid until this thread's next call replaces it, and dies with the thread.
enum LastError {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        // Failing here means the process is out of TLS keys; nothing sensible can follow.
        precondition(pthread_key_create(&key) { free($0) } == 0, "grlhf: pthread_key_create failed")
        return key
    }()

    static func set(_ message: String) {
        free(pthread_getspecific(key))
        // strdup returning NULL (out of memory) leaves the message empty rather than failing.
        pthread_setspecific(key, strdup(message))
    }

    static func clear() {
        if let old = pthread_getspecific(key) {
            free(old)
            pthread_setspecific(key, nil)
        }
    }

    static var current: UnsafePointer<CChar> {
        if let message = pthread_getspecific(key) {
            return UnsafePointer(message.assumingMemoryBound(to: CChar.self))
        }
        return cString("")
    }
}

/// A static string as a C string; StaticString literals are NUL-terminated and immortal.
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Runs the body of a fallible entry point: clears the last error, and turns anything thrown
/// into a status code plus a message prefixed with the C function's name.
func entry(_ function: String = #function, _ body: () throws -> Void) -> Int32 {
    LastError.clear()
    do {
        try body()
        // A grlhf call made from a callback inside `body` may have left its own message.
        LastError.clear()
        return Status.ok.rawValue
    } catch {
        let failure = Failure(error)
        LastError.set("\(cName(function)): \(failure.message)")
        return failure.status.rawValue
    }
}

/// An entry point that returns one value through the out-parameter `out`: `*out` is set to
/// `empty` first, so it reads empty on any failure; a NULL `out` is an invalid argument.
func entry<T>(_ function: String = #function, out: UnsafeMutablePointer<T>?, empty: T,
              _ body: () throws -> T) -> Int32 {
    entry(function) {
        out?.pointee = empty
        let out = try required(out, "out")
        out.pointee = try body()
    }
}

/// "grlhf_tensor_rank(_:_:)" -> "grlhf_tensor_rank"
func cName(_ function: String) -> Substring {
    function.prefix { $0 != "(" }
}

// MARK: - Argument checks (each throws instead of trapping)

/// A pointer argument that must not be NULL.
func required<T>(_ pointer: T?, _ what: String) throws -> T {
    guard let pointer else { throw Failure.invalidArgument("\(what) is NULL") }
    return pointer
}

/// A NUL-terminated UTF-8 string argument.
func utf8String(_ pointer: UnsafePointer<CChar>?, _ what: String) throws -> String {
    let p = try required(pointer, what)
    guard let s = String(validatingCString: p) else {
        throw Failure.invalidArgument("\(what) is not valid UTF-8")
    }
    return s
}

// MARK: - Entry points

@_cdecl("grlhf_status_string")
public func grlhf_status_string(_ status: Int32) -> UnsafePointer<CChar>? {
    cString(Status(rawValue: status)?.text ?? "unknown status")
}

@_cdecl("grlhf_last_error")
public func grlhf_last_error() -> UnsafePointer<CChar>? {
    LastError.current
}
