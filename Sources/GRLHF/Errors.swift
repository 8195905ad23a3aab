/// Every failure the engine reports. Cases map one-to-one to the C ABI's `grlhf_status` codes.
public enum GRLHFError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A bad argument: wrong shape, out-of-range value, NULL where not allowed.
    case invalidArgument(String)
    /// A file or stream that does not follow its format; the message names the corruption.
    case invalidFormat(String)
    /// The operating system refused a read, write, fsync or rename.
    case io(String)
    /// A request larger than memory or a configured budget.
    case outOfMemory(String)
    /// A feature that is recognised but not supported (e.g. an unknown dtype).
    case unsupported(String)
    /// Something that should not happen; a bug in grlhf.
    case `internal`(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .invalidFormat(let m), .io(let m), .outOfMemory(let m),
             .unsupported(let m), .internal(let m): return m
        }
    }

    public var description: String { message }
}

/// Errors of a subsystem with its own detailed cases (e.g. `SafetensorsError`) map onto the
/// engine's error, and so onto a C status, through this protocol.
public protocol GRLHFErrorConvertible: Error {
    var grlhfError: GRLHFError { get }
}

extension GRLHFError {
    /// Any thrown error as a `GRLHFError` (unknown errors become `.internal`).
    public init(_ error: Error) {
        if let e = error as? GRLHFError { self = e }
        else if let e = error as? GRLHFErrorConvertible { self = e.grlhfError }
        else { self = .internal(String(describing: error)) }
    }
}

/// An argument check that stays in every build. Release builds compile the engine with
/// `-Ounchecked`, which removes `precondition`; a misused Swift API must still stop with a
/// message rather than read or write out of bounds.
@inline(__always)
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
             file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
