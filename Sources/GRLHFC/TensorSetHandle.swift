import Foundation
import GRLHF

// grlhf_tensor_set: an ordered name -> tensor map owning copies of its tensors.

/// Ordered, uniquely named tensors. Names are kept as C strings too, so `grlhf_tensor_set_name`
/// can lend a pointer that stays put while the set lives.
final class TensorSet {
    private(set) var entries: [(name: String, tensor: Tensor)] = []
    private(set) var cNames: [UnsafeMutablePointer<CChar>] = []
    /// Keyed by the name's bytes: what a C caller passes and gets back.
    private var index: [[UInt8]: Int] = [:]

    func add(_ name: String, _ tensor: Tensor) throws {
        guard !name.isEmpty else { throw Failure.invalidArgument("name is empty") }
        guard name != "__metadata__" else {
            throw Failure.invalidArgument("\"__metadata__\" is reserved by safetensors and cannot name a tensor")
        }
        guard index[Array(name.utf8)] == nil else { throw Failure.invalidArgument("name \"\(name)\" is already in the set") }
        guard let cName = strdup(name) else { throw Failure(.outOfMemory, "cannot copy name") }
        index[Array(name.utf8)] = entries.count
        entries.append((name, tensor))
        cNames.append(cName)
    }

    func tensor(named name: String) -> Tensor? {
        index[Array(name.utf8)].map { entries[$0].tensor }
    }

    deinit { cNames.forEach { free($0) } }
}

func tensorSet(_ handle: OpaquePointer?) throws -> TensorSet {
    try Handles.resolve(handle, .tensorSet, as: TensorSet.self)
}

@_cdecl("grlhf_tensor_set_create")
public func grlhf_tensor_set_create(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) { Handles.register(TensorSet(), as: .tensorSet) }
}

@_cdecl("grlhf_tensor_set_add")
public func grlhf_tensor_set_add(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                 _ tensorHandle: OpaquePointer?) -> Int32 {
    entry {
        let set = try tensorSet(handle)
        let name = try utf8String(name, "name")
        try set.add(name, try tensor(tensorHandle).copy())
    }
}

@_cdecl("grlhf_tensor_set_count")
public func grlhf_tensor_set_count(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry(out: out, empty: 0) { Int64(try tensorSet(handle).entries.count) }
}

@_cdecl("grlhf_tensor_set_name")
public func grlhf_tensor_set_name(_ handle: OpaquePointer?, _ index: Int64,
                                  _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let set = try tensorSet(handle)
        guard index >= 0, index < set.cNames.count else {
            throw Failure.invalidArgument("index \(index) is outside 0..<\(set.cNames.count)")
        }
        return UnsafePointer(set.cNames[Int(index)])
    }
}

@_cdecl("grlhf_tensor_set_get")
public func grlhf_tensor_set_get(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let set = try tensorSet(handle)
        let name = try utf8String(name, "name")
        guard let t = set.tensor(named: name) else {
            throw Failure.invalidArgument("no tensor named \"\(name)\" in the set")
        }
        return newTensorHandle(t.copy())
    }
}

@_cdecl("grlhf_tensor_set_free")
public func grlhf_tensor_set_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .tensorSet)
}
