// Embedding lookup, take-along-last-axis gather, cross-entropy and masked fill.

extension Tensor {
    /// Rows of `weight` [V, D] for each id: result [ids.count, D] reshaped to `shape` + [D].
    /// Backward scatter-adds into the rows that were read.
    public static func embedding(_ weight: Tensor, ids: [Int32], shape idShape: [Int]? = nil) -> Tensor {
        require(weight.rank == 2, "embedding: weight must be [V, D]")
        let v = weight.shape[0], d = weight.shape[1]
        let outShape = (idShape ?? [ids.count]) + [d]
        require(outShape.elementCount == ids.count * d, "embedding: shape for \(ids.count) ids")
        let out = Tensor(uninitialized: outShape)
        for (i, id) in ids.enumerated() {
            require(id >= 0 && Int(id) < v, "embedding: id \(id) outside vocabulary of \(v)")
            (out.data + i * d).update(from: weight.data + Int(id) * d, count: d)
        }
        return record(.embedding, [weight], out) { g in
            let dw = Tensor(zeros: weight.shape)
            for (i, id) in ids.enumerated() { Kernels.axpy(1, g.data + i * d, dw.data + Int(id) * d, d) }
            return [dw]
        }
    }

    /// x[..., index[r]] for each row r of the last axis: [..., V] → [...].
    public func gather(lastAxis index: [Int32]) -> Tensor {
        let v = lastDim, rows = rows
        require(index.count == rows, "gather: \(index.count) indices for \(rows) rows")
        let out = Tensor(uninitialized: Array(shape.dropLast()))
        for r in 0..<rows {
            require(index[r] >= 0 && Int(index[r]) < v, "gather: index \(index[r]) outside \(v)")
            out.data[r] = data[r * v + Int(index[r])]
        }
        return record(.gather, [self], out) { [shape] g in
            let dx = Tensor(zeros: shape)
            for r in 0..<rows { dx.data[r * v + Int(index[r])] = g.data[r] }
            return [dx]
        }
    }

    /// Mean cross-entropy of logits [N, V] (any leading shape) against targets [N]; rows whose
    /// target is `ignoreIndex` contribute nothing. With no counted row the loss is 0, not NaN.
    /// Fused log-softmax: stays finite for logits of ±1e4.
    public func crossEntropy(targets: [Int32], ignoreIndex: Int32 = -100) -> Tensor {
        let v = lastDim, rows = rows
        require(targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows")
        var lse = [Float](repeating: 0, count: rows)
        var total: Double = 0
        var counted = 0
        for r in 0..<rows where targets[r] != ignoreIndex {
            require(targets[r] >= 0 && Int(targets[r]) < v, "crossEntropy: target \(targets[r]) outside \(v)")
            lse[r] = Kernels.logSumExp(data + r * v, v)
            total += Double(lse[r] - data[r * v + Int(targets[r])])
            counted += 1
        }
        let out = Tensor(scalar: counted == 0 ? 0 : Float(total / Double(counted)))
        return record(.crossEntropy, [self], out) { [self] g in
            let dx = Tensor(zeros: shape)
            guard counted > 0 else { return [dx] }
            let scale = g.data[0] / Float(counted)
            parallelChunks(rows, cost: v * 4) { range in
                for r in range where targets[r] != ignoreIndex {
                    let x = data + r * v, y = dx.data + r * v
                    let m = Vec(repeating: lse[r]), s = Vec(repeating: scale)
                    var i = 0
                    while i < v { store(vexp(load(x, i, v) - m) * s, y, i, v); i += lanes }
                    y[Int(targets[r])] -= scale
                }
            }
            return [dx]
        }
    }

    /// Where mask ≠ 0 (mask broadcasts to self) the result is `value`, elsewhere self.
    /// The mask is data, not differentiated.
    public func maskedFill(_ mask: Tensor, value: Float) -> Tensor {
        require(broadcastShape(shape, mask.shape) == shape, "maskedFill: mask \(mask.shape) for \(shape)")
        let out = copy()
        let st = broadcastStrides(mask.shape, to: shape)
        forEachBroadcast(shape, st, st) { o, m, _ in if mask.data[m] != 0 { out.data[o] = value } }
        return record(.maskedFill, [self], out) { [shape] g in
            let dx = g.copy()
            forEachBroadcast(shape, st, st) { o, m, _ in if mask.data[m] != 0 { dx.data[o] = 0 } }
            return [dx]
        }
    }

    /// [T, T] mask with 1 above the diagonal (future positions), for `maskedFill(_, value: -inf)`.
    public static func causalMask(_ t: Int) -> Tensor {
        let m = Tensor(zeros: [t, t])
        for i in 0..<t { for j in (i + 1)..<Swift.max(t, i + 1) { m.data[i * t + j] = 1 } }
        return m
    }

    /// [B, 1, 1, S] mask with 1 at padded key positions (position ≥ length), broadcasting over
    /// heads and queries of [B, H, T, S] scores.
    public static func paddingMask(lengths: [Int], maxLength s: Int) -> Tensor {
        let m = Tensor(zeros: [lengths.count, 1, 1, s])
        for (b, len) in lengths.enumerated() { for j in Swift.max(0, Swift.min(len, s))..<s { m.data[b * s + j] = 1 } }
        return m
    }
}
