import Foundation
import GRLHF

// Versions and process-wide runtime settings.

/// Must equal GRLHF_ABI_VERSION in include/grlhf.h.
let abiVersion: Int32 = 2

/// The engine's version as an immortal C string (made once, never freed).
private let versionCString: UnsafePointer<CChar> = UnsafePointer(strdup(GRLHF.version)!)

@_cdecl("grlhf_version")
public func grlhf_version() -> UnsafePointer<CChar>? {
    versionCString
}

@_cdecl("grlhf_abi_version")
public func grlhf_abi_version() -> Int32 {
    abiVersion
}

private let threadRange: ClosedRange<Int32> = 1...256

@_cdecl("grlhf_set_threads")
public func grlhf_set_threads(_ blasThreads: Int32, _ computeThreads: Int32) -> Int32 {
    entry {
        guard threadRange.contains(blasThreads), threadRange.contains(computeThreads) else {
            throw Failure.invalidArgument(
                "thread counts must be in 1...256, got blas \(blasThreads), compute \(computeThreads)")
        }
        try Runtime.requireBLAS()
        Runtime.blasThreads = Int(blasThreads)
        Runtime.computeThreads = Int(computeThreads)
    }
}

@_cdecl("grlhf_get_threads")
public func grlhf_get_threads(_ blasThreads: UnsafeMutablePointer<Int32>?,
                              _ computeThreads: UnsafeMutablePointer<Int32>?) -> Int32 {
    entry {
        blasThreads?.pointee = 0
        computeThreads?.pointee = 0
        let blas = try required(blasThreads, "blas_threads")
        let compute = try required(computeThreads, "compute_threads")
        blas.pointee = Int32(clamping: Runtime.blasThreads)
        compute.pointee = Int32(clamping: Runtime.computeThreads)
    }
}
