import Foundation

// Binary arithmetic with broadcasting, scalar ops, exp and log.

/// out = f(a, b) with broadcasting and SIMD fast paths for equal shapes, scalars and row vectors.
private func binary(_ a: Tensor, _ b: Tensor, _ f: (Vec, Vec) -> Vec) -> Tensor {
    let shape = broadcastShape(a.shape, b.shape)
    let out = Tensor(uninitialized: shape)
    let n = out.count
    switch (pattern(a.shape, in: shape), pattern(b.shape, in: shape)) {
    case (.same, .same):
        Kernels.zip(a.data, b.data, out.data, n, f)
    case (.same, .scalar):
        let s = Vec(repeating: b.data[0])
        Kernels.map(a.data, out.data, n) { f($0, s) }
    case (.scalar, .same):
        let s = Vec(repeating: a.data[0])
        Kernels.map(b.data, out.data, n) { f(s, $0) }
    case (.same, .rows(let k)):
        for r in 0..<(n / k) { Kernels.zip(a.data + r * k, b.data, out.data + r * k, k, f) }
    case (.rows(let k), .same):
        for r in 0..<(n / k) { Kernels.zip(a.data, b.data + r * k, out.data + r * k, k, f) }
    default:
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        forEachBroadcast(shape, sa, sb) { o, i, j in
            out.data[o] = f(Vec(repeating: a.data[i]), Vec(repeating: b.data[j]))[0]
        }
    }
    return out
}

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, +)
        return record(.add, [a, b], out) { g in [reduceBroadcast(g, to: a.shape), reduceBroadcast(g, to: b.shape)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, -)
        return record(.sub, [a, b], out) { g in
            [reduceBroadcast(g, to: a.shape), reduceBroadcast(binary(g, Tensor(scalar: -1), *), to: b.shape)]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, *)
        return record(.mul, [a, b], out) { g in
            [a.requiresGrad || a.tracked ? reduceBroadcast(binary(g, b, *), to: a.shape) : nil,
             b.requiresGrad || b.tracked ? reduceBroadcast(binary(g, a, *), to: b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, /)
        return record(.div, [a, b], out) { g in
            let ga = binary(g, b, /)
            // d(a/b)/db = -a/b² = -out/b
            let gb = binary(binary(g, out, *), b, { -$0 / $1 })
            return [reduceBroadcast(ga, to: a.shape), reduceBroadcast(gb, to: b.shape)]
        }
    }

    public static prefix func - (a: Tensor) -> Tensor { a * -1 }

    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.scaled(by: s) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.scaled(by: 1 / s) }
    public static func + (a: Tensor, s: Float) -> Tensor { a.adding(s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.adding(-s) }

    /// a · s for a constant s.
    public func scaled(by s: Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let sv = Vec(repeating: s)
        Kernels.map(data, out.data, count) { $0 * sv }
        return record(.scale, [self], out) { g in [g.scaled(by: s)] }
    }

    /// a + s for a constant s.
    public func adding(_ s: Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let sv = Vec(repeating: s)
        Kernels.map(data, out.data, count) { $0 + sv }
        return record(.addScalar, [self], out) { g in [g] }
    }

    /// e^x. Inputs are clamped to ±88 first, so the result is finite (exp(100) gives e^88 ≈
    /// 1.65e38, exp(−inf) gives ~0): a NaN-free kernel, not IEEE overflow.
    public func exp() -> Tensor {
        let out = Tensor(uninitialized: shape)
        Kernels.map(data, out.data, count, cost: 4, vexp)
        return record(.exp, [self], out) { g in [binary(g, out, *)] }
    }

    /// Natural log; log(0) = -inf, negative inputs give NaN, as in IEEE.
    public func log() -> Tensor {
        let out = Tensor(uninitialized: shape)
        for i in 0..<count { out.data[i] = Foundation.log(data[i]) }
        return record(.log, [self], out) { [self] g in [binary(g, self, /)] }
    }
}
