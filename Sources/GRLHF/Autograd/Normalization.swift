import Foundation

// RMSNorm and LayerNorm over the last axis, with learned scale (and LayerNorm's bias).

extension Tensor {
    /// x / √(mean(x²) + eps) ⊙ weight (Llama, Qwen2).
    public func rmsNorm(weight: Tensor, eps: Float = 1e-6) -> Tensor {
        let d = lastDim, rows = rows
        require(weight.count == d, "rmsNorm: weight \(weight.shape) for last dim \(d)")
        let out = Tensor(uninitialized: shape)
        let rstd = [Float](unsafeUninitializedCapacity: rows) { buf, n in
            n = rows
            parallelChunks(rows, cost: d * 2) { r in
                for row in r {
                    let x = data + row * d, y = out.data + row * d
                    let inv = 1 / (Kernels.dot(x, x, d) / Float(d) + eps).squareRoot()
                    buf[row] = inv
                    let iv = Vec(repeating: inv)
                    var i = 0
                    while i < d { store(load(x, i, d) * iv * load(weight.data, i, d), y, i, d); i += lanes }
                }
            }
        }
        return record(.rmsNorm, [self, weight], out) { [self] g in
            let dx = Tensor(uninitialized: shape), dw = Tensor(zeros: weight.shape)
            for row in 0..<rows {
                let x = data + row * d, gi = g.data + row * d, dxi = dx.data + row * d
                let r = Vec(repeating: rstd[row])
                // gw = g ⊙ w;  dx = r (gw − x̂ · mean(gw ⊙ x̂));  dw += g ⊙ x̂
                var acc = Vec(repeating: 0)
                var i = 0
                while i < d {
                    let xh = load(x, i, d) * r, gw = load(gi, i, d) * load(weight.data, i, d)
                    acc += gw * xh
                    store(load(dw.data, i, d) + load(gi, i, d) * xh, dw.data, i, d)
                    i += lanes
                }
                let mean = Vec(repeating: hsum(acc) / Float(d))
                i = 0
                while i < d {
                    let xh = load(x, i, d) * r, gw = load(gi, i, d) * load(weight.data, i, d)
                    store(r * (gw - xh * mean), dxi, i, d)
                    i += lanes
                }
            }
            return [dx, dw]
        }
    }

    /// (x − mean) / √(var + eps) ⊙ weight + bias (GPT-2, ViT). Biased variance, as PyTorch.
    public func layerNorm(weight: Tensor, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let d = lastDim, rows = rows
        require(weight.count == d && (bias?.count ?? d) == d, "layerNorm: parameters do not match last dim \(d)")
        let out = Tensor(uninitialized: shape)
        var stats = [Float](repeating: 0, count: rows * 2)  // mean, rstd per row
        stats.withUnsafeMutableBufferPointer { st in
            parallelChunks(rows, cost: d * 3) { r in
                for row in r {
                    let x = data + row * d, y = out.data + row * d
                    let mean = Kernels.sum(x, d) / Float(d)
                    let mv = Vec(repeating: mean)
                    var acc = Vec(repeating: 0)
                    var i = 0
                    while i < d {
                        let c = (load(x, i, d) - mv).replacing(with: 0, where: Kernels.laneMask(d - i))
                        acc += c * c
                        i += lanes
                    }
                    let rstd = 1 / (hsum(acc) / Float(d) + eps).squareRoot()
                    st[2 * row] = mean; st[2 * row + 1] = rstd
                    let rv = Vec(repeating: rstd)
                    i = 0
                    while i < d {
                        var v = (load(x, i, d) - mv) * rv * load(weight.data, i, d)
                        if let bias { v += load(bias.data, i, d) }
                        store(v, y, i, d)
                        i += lanes
                    }
                }
            }
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return record(.layerNorm, inputs, out) { [self] g in
            let dx = Tensor(uninitialized: shape), dw = Tensor(zeros: weight.shape)
            let db = bias.map { Tensor(zeros: $0.shape) }
            for row in 0..<rows {
                let x = data + row * d, gi = g.data + row * d, dxi = dx.data + row * d
                let mv = Vec(repeating: stats[2 * row]), r = Vec(repeating: stats[2 * row + 1])
                // gw = g ⊙ w;  dx = r (gw − mean(gw) − x̂ · mean(gw ⊙ x̂))
                var sg = Vec(repeating: 0), sgx = Vec(repeating: 0)
                var i = 0
                while i < d {
                    let gv = load(gi, i, d)
                    let xh = (load(x, i, d) - mv) * r, gw = gv * load(weight.data, i, d)
                    sg += gw; sgx += gw * xh
                    store(load(dw.data, i, d) + gv * xh, dw.data, i, d)
                    if let db { store(load(db.data, i, d) + gv, db.data, i, d) }
                    i += lanes
                }
                let m1 = Vec(repeating: hsum(sg) / Float(d)), m2 = Vec(repeating: hsum(sgx) / Float(d))
                i = 0
                while i < d {
                    let xh = (load(x, i, d) - mv) * r, gw = load(gi, i, d) * load(weight.data, i, d)
                    store(r * (gw - m1 - xh * m2), dxi, i, d)
                    i += lanes
                }
            }
            return db.map { [dx, dw, $0] } ?? [dx, dw]
        }
    }
}
