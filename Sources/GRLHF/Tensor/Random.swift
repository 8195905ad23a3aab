import Foundation

/// PCG32 (O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good Algorithms",
/// XSH-RR output on a 64-bit LCG). The whole state is two integers, so it checkpoints exactly and
/// the same seed reproduces the same stream on every platform.
public struct PCG32: RandomNumberGenerator, Codable, Equatable, Sendable {
    public var state: UInt64
    public var increment: UInt64

    public init(seed: UInt64, stream: UInt64 = 0x5851_F42D_4C95_7F2D) {
        increment = (stream << 1) | 1
        state = 0
        _ = nextUInt32()
        state &+= seed
        _ = nextUInt32()
    }

    public mutating func nextUInt32() -> UInt32 {
        let old = state
        state = old &* 6_364_136_223_846_793_005 &+ increment
        let xorshifted = UInt32(truncatingIfNeeded: ((old >> 18) ^ old) >> 27)
        let rot = UInt32(truncatingIfNeeded: old >> 59)
        return (xorshifted >> rot) | (xorshifted << ((~rot &+ 1) & 31))
    }

    public mutating func next() -> UInt64 {
        UInt64(nextUInt32()) << 32 | UInt64(nextUInt32())
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float { Float(nextUInt32() >> 8) * 0x1p-24 }

    /// Standard normal by Box-Muller; uses two uniforms per sample so the stream stays simple.
    public mutating func nextNormal() -> Float {
        let u1 = Double(nextUInt32() >> 8 + 1) * 0x1p-24  // (0, 1]: log is finite
        let u2 = Double(nextUInt32() >> 8) * 0x1p-24
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// Normal(mean, std) samples drawn in order from `rng`.
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout PCG32) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = mean + std * rng.nextNormal() }
        return t
    }

    /// Uniform samples in [low, high) drawn in order from `rng`.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout PCG32) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = low + (high - low) * rng.nextFloat() }
        return t
    }
}
