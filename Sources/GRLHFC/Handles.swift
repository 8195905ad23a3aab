import Foundation

// Every handle given to C is registered here with its kind, so a NULL, freed or wrong-type
// handle is recognised by lookup alone, never by dereferencing it.

enum HandleKind: String {
    case tensor = "grlhf_tensor"
    case tensorSet = "grlhf_tensor_set"
    case model = "grlhf_model"
    case tokenizer = "grlhf_tokenizer"
    case generation = "grlhf_generation"
    case rewardModel = "grlhf_reward_model"
    case reward = "grlhf_reward"
    case trainer = "grlhf_trainer"
    case judge = "grlhf_judge"
    case comparisons = "grlhf_comparisons"
    case pipeline = "grlhf_pipeline"
}

enum Handles {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live: [UInt: (kind: HandleKind, object: AnyObject)] = [:]
    /// Handles are tokens from a counter, not addresses, so a freed handle is never reused by a
    /// later object. The base ("grlh" in the high bits) is a non-canonical x86-64/arm64 address:
    /// it cannot collide with a real pointer and faults at once if someone dereferences it.
    nonisolated(unsafe) private static var next: UInt = 0x6772_6C68 << 32

    /// Registers `object` and returns its new handle.
    static func register(_ object: AnyObject, as kind: HandleKind) -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        next += 16
        live[next] = (kind, object)
        return OpaquePointer(bitPattern: next)!
    }

    /// The object behind a live handle of the given kind. The returned strong reference keeps it
    /// alive even if another thread frees the handle meanwhile.
    static func resolve<T: AnyObject>(_ handle: OpaquePointer?, _ kind: HandleKind,
                                      as type: T.Type) throws -> T {
        guard let handle else { throw Failure(.misuse, "\(kind.rawValue) handle is NULL") }
        lock.lock()
        let entry = live[UInt(bitPattern: handle)]
        lock.unlock()
        guard let entry else {
            throw Failure(.misuse, "\(handle) is not a live \(kind.rawValue) (freed or never created)")
        }
        guard entry.kind == kind, let object = entry.object as? T else {
            throw Failure(.misuse, "\(handle) is a \(entry.kind.rawValue), expected a \(kind.rawValue)")
        }
        return object
    }

    /// Unregisters a handle for `grlhf_*_free`: NULL is a no-op, anything that is not a live
    /// handle of this kind is left alone and described in the last error.
    static func free(_ handle: OpaquePointer?, _ kind: HandleKind, function: String = #function) {
        LastError.clear()
        guard let handle else { return }
        lock.lock()
        let key = UInt(bitPattern: handle)
        let entry = live[key]
        let matches = entry?.kind == kind
        // The object is released after unlocking (via `entry`), so its deinit never runs
        // under the lock.
        if matches { live[key] = nil }
        lock.unlock()
        if !matches {
            let what = entry.map { "a \($0.kind.rawValue)" } ?? "not a live handle"
            LastError.set("\(cName(function)): ignored \(handle): \(what), expected a \(kind.rawValue)")
        }
    }

    static var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return live.count
    }
}

@_cdecl("grlhf_live_handles")
public func grlhf_live_handles() -> Int64 {
    Int64(Handles.count)
}
