@_cdecl("grlhf_abi_version") public func grlhf_abi_version() -> Int32 { 1 }
