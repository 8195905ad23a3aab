import Foundation
import GRLHF

// Safetensors files to and from tensor sets; the format work is GRLHF.Safetensors.

@_cdecl("grlhf_safetensors_load")
public func grlhf_safetensors_load(_ path: UnsafePointer<CChar>?,
                                   _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let path = try utf8String(path, "path")
        let set = TensorSet()
        for (name, t) in try Safetensors.read(contentsOf: path) {
            // The format allows more dimensions than the C API promises its callers.
            guard t.rank <= maxRank else {
                throw Failure(.unsupported, "\(path): tensor \"\(name)\" has rank \(t.rank), above \(maxRank)")
            }
            do { try set.add(name, t) } catch let failure as Failure {
                // A name the set refuses (duplicate, empty) is a fault of the file.
                throw Failure(.invalidFormat, "\(path): \(failure.message)")
            }
        }
        return Handles.register(set, as: .tensorSet)
    }
}

@_cdecl("grlhf_safetensors_save")
public func grlhf_safetensors_save(_ path: UnsafePointer<CChar>?, _ handle: OpaquePointer?) -> Int32 {
    entry {
        let path = try utf8String(path, "path")
        try Safetensors.write(try tensorSet(handle).entries, to: path)
    }
}
