import Foundation

// SIMD kernels over raw pointers. Each loop walks `lanes` floats at a time and finishes with
// one zero-padded partial vector, so the tail runs the same arithmetic as the body.

/// The vector every kernel computes with. Sixteen lanes measured faster than eight on the
/// portable x86-64 (SSE2) target for GELU, softmax and LayerNorm, spills and all.
typealias Vec = SIMD16<Float>
typealias SIMDLanes<T: SIMDScalar> = SIMD16<T>
let lanes = Vec.scalarCount

@inline(__always) func load(_ p: UnsafePointer<Float>, _ i: Int, _ n: Int) -> Vec {
    if i + lanes <= n { return UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self) }
    var v = Vec(repeating: 0)
    for l in 0..<(n - i) { v[l] = p[i + l] }
    return v
}

@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) {
    if i + lanes <= n { UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vec.self); return }
    for l in 0..<(n - i) { p[i + l] = v[l] }
}

/// e^x for each lane: range reduction x = n·ln2 + r, a degree-6 polynomial for e^r, and the
/// exponent added to the float bits. Relative error ~2 ulp; inputs are clamped to ±88 so the
/// result stays finite (and exp(-inf) gives ~0, never NaN).
@inline(__always) func vexp(_ x: Vec) -> Vec {
    var x = x.replacing(with: 88, where: x .> 88)
    x = x.replacing(with: -88, where: x .< -88)
    // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits: a round-to-nearest and
    // a float→int conversion without the (scalarized) SIMD conversion routines.
    let magic = Vec(repeating: 12_582_912)
    let shifted = x * 1.442_695_04 + magic
    let n = shifted - magic
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6
    var p = Vec(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 0.166_666_66
    p = p * r + 0.5
    p = p * r * r + r + 1
    let ni = unsafeBitCast(shifted, to: SIMDLanes<Int32>.self) &- unsafeBitCast(magic, to: SIMDLanes<Int32>.self)
    return p * unsafeBitCast((ni &+ 127) &<< 23, to: Vec.self)
}

@inline(__always) func hsum(_ v: Vec) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

@inline(__always) func hmax(_ v: Vec) -> Float {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.highHalf .> a.lowHalf)
    let c = b.lowHalf.replacing(with: b.highHalf, where: b.highHalf .> b.lowHalf)
    return Swift.max(c[0], c[1])
}

enum Kernels {
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Vec(repeating: 0)
        var i = 0
        while i < n { acc += load(p, i, n); i += lanes }
        return hsum(acc)
    }

    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Vec(repeating: 0)
        var i = 0
        while i < n { acc += load(a, i, n) * load(b, i, n); i += lanes }
        return hsum(acc)
    }

    static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = Vec(repeating: -.infinity)
        var i = 0
        while i + lanes <= n { let v = load(p, i, n); m = m.replacing(with: v, where: v .> m); i += lanes }
        var r = hmax(m)
        while i < n { r = Swift.max(r, p[i]); i += 1 }
        return r
    }

    /// y[i] = f(x[i]) elementwise, split across threads when large.
    @inline(__always)
    static func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, cost: Int = 1,
                    _ f: (Vec) -> Vec) {
        parallelChunks((n + lanes - 1) / lanes, cost: lanes * cost) { r in
            for c in r { let i = c * lanes; store(f(load(x, i, n)), y, i, n) }
        }
    }

    /// z[i] = f(x[i], y[i]) elementwise, split across threads when large.
    @inline(__always)
    static func zip(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
                    _ n: Int, cost: Int = 1, _ f: (Vec, Vec) -> Vec) {
        parallelChunks((n + lanes - 1) / lanes, cost: lanes * cost) { r in
            for c in r { let i = c * lanes; store(f(load(x, i, n), load(y, i, n)), z, i, n) }
        }
    }

    /// y += alpha * x
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        zip(x, y, y, n) { x, y in y + alpha * x }
    }

    /// Row softmax in place over `rows` rows of `cols`: max-subtracted, so ±1e4 logits stay finite.
    static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        parallelChunks(rows, cost: cols * 4) { r in
            for row in r {
                let xi = x + row * cols, yi = y + row * cols
                let m = max(xi, cols)
                if m == -.infinity {  // every entry masked: an all-zero row, not 0/0
                    yi.update(repeating: 0, count: cols)
                    continue
                }
                let mv = Vec(repeating: m)
                var acc = Vec(repeating: 0)
                var i = 0
                while i < cols {
                    let e = vexp(load(xi, i, cols) - mv)
                    store(e, yi, i, cols)
                    acc += i + lanes <= cols ? e : e.replacing(with: 0, where: laneMask(cols - i))
                    i += lanes
                }
                let inv = Vec(repeating: 1 / hsum(acc))
                i = 0
                while i < cols { store(load(yi, i, cols) * inv, yi, i, cols); i += lanes }
            }
        }
    }

    /// Row log-softmax: x - max - log(sum(exp(x - max))). A row with every entry −inf (fully
    /// masked) gives −inf everywhere, the log of softmax's all-zero row, rather than NaN.
    static func logSoftmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        parallelChunks(rows, cost: cols * 4) { r in
            for row in r {
                let xi = x + row * cols, yi = y + row * cols
                let m = logSumExp(xi, cols)
                if m == -.infinity { yi.update(repeating: -.infinity, count: cols); continue }
                let mv = Vec(repeating: m)
                var i = 0
                while i < cols { store(load(xi, i, cols) - mv, yi, i, cols); i += lanes }
            }
        }
    }

    static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = max(x, n)
        if !m.isFinite { return m }
        let mv = Vec(repeating: m)
        var acc = Vec(repeating: 0)
        var i = 0
        while i < n {
            let e = vexp(load(x, i, n) - mv)
            acc += i + lanes <= n ? e : e.replacing(with: 0, where: laneMask(n - i))
            i += lanes
        }
        return m + Foundation.log(hsum(acc))
    }

    /// Lanes at index >= valid are true (the padding of a partial vector).
    @inline(__always) static func laneMask(_ valid: Int) -> SIMDMask<SIMDLanes<Int32>> {
        SIMDLanes<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .>= SIMDLanes<Int32>(repeating: Int32(valid))
    }

    /// √(2/π), the GELU tanh-approximation constant.
    static let geluC: Float = 0.797_884_56

    @inline(__always) static func sigmoid(_ x: Vec) -> Vec { 1 / (1 + vexp(-x)) }
}
