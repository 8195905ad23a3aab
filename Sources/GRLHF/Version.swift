/// Library version (semantic); the C ABI's version is `GRLHF_ABI_VERSION` in include/grlhf.h.
public let version = "0.1.0"
