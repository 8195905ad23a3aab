import Foundation
import GRLHF

// grlhf_tensor: a handle owns one GRLHF.Tensor with its own contiguous storage. C only reads
// it, so a tensor handle is immutable once created.

let maxRank: Int32 = 8
/// Largest tensor the C API allocates. Swift aborts when an allocation fails, so sizes are
/// refused here instead: at most 2^40 bytes and never more than physical memory.
private let maxBytes = Tensor.maxBytes

/// Validates a C shape so that `Tensor` (which multiplies the dimensions left to right without
/// overflow checks) cannot trap on it.
func validatedShape(_ shape: UnsafePointer<Int64>?, rank: Int32) throws -> [Int] {
    guard (0...maxRank).contains(rank) else {
        throw Failure.invalidArgument("rank \(rank) is outside 0...\(maxRank)")
    }
    if rank == 0 { return [] }
    let dims = UnsafeBufferPointer(start: try required(shape, "shape"), count: Int(rank)).map { Int($0) }
    var count = 1
    for (axis, d) in dims.enumerated() {
        guard d >= 0 else { throw Failure.invalidArgument("dimension \(axis) is negative (\(d)) in \(dims)") }
        let (product, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow else { throw Failure.invalidArgument("element count of \(dims) overflows") }
        count = product
    }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
    guard !overflow, bytes <= maxBytes else {
        throw Failure(.outOfMemory, "shape \(dims) needs \(count) floats, more than the \(maxBytes)-byte limit")
    }
    return dims
}

func tensor(_ handle: OpaquePointer?) throws -> Tensor {
    try Handles.resolve(handle, .tensor, as: Tensor.self)
}

/// Registers a tensor that no one else references (callers pass a fresh copy).
func newTensorHandle(_ t: Tensor) -> OpaquePointer {
    Handles.register(t, as: .tensor)
}

@_cdecl("grlhf_tensor_create")
public func grlhf_tensor_create(_ data: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?,
                                _ rank: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let t = Tensor(zeros: try validatedShape(shape, rank: rank))
        if let data { t.data.update(from: data, count: t.count) }
        return newTensorHandle(t)
    }
}

@_cdecl("grlhf_tensor_rank")
public func grlhf_tensor_rank(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    entry(out: out, empty: 0) { Int32(try tensor(handle).rank) }
}

@_cdecl("grlhf_tensor_shape")
public func grlhf_tensor_shape(_ handle: OpaquePointer?, _ dims: UnsafeMutablePointer<Int64>?,
                               _ capacity: Int32) -> Int32 {
    entry {
        let t = try tensor(handle)
        guard capacity >= t.rank else {
            throw Failure.invalidArgument("capacity \(capacity) is less than the rank \(t.rank)")
        }
        if t.rank == 0 { return }
        let dims = try required(dims, "dims")
        for (i, d) in t.shape.enumerated() { dims[i] = Int64(d) }
    }
}

@_cdecl("grlhf_tensor_count")
public func grlhf_tensor_count(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry(out: out, empty: 0) { Int64(try tensor(handle).count) }
}

@_cdecl("grlhf_tensor_data")
public func grlhf_tensor_data(_ handle: OpaquePointer?,
                              _ out: UnsafeMutablePointer<UnsafePointer<Float>?>?) -> Int32 {
    // Valid while the handle lives: the registry holds the only reference to the tensor.
    entry(out: out, empty: nil) { UnsafePointer(try tensor(handle).data) }
}

@_cdecl("grlhf_tensor_copy_to")
public func grlhf_tensor_copy_to(_ handle: OpaquePointer?, _ dst: UnsafeMutablePointer<Float>?,
                                 _ capacity: Int64) -> Int32 {
    entry {
        let t = try tensor(handle)
        guard capacity >= t.count else {
            throw Failure.invalidArgument("capacity \(capacity) is less than the element count \(t.count)")
        }
        if t.count == 0 { return }
        try required(dst, "dst").update(from: t.data, count: t.count)
    }
}

@_cdecl("grlhf_tensor_free")
public func grlhf_tensor_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .tensor)
}
