// Matrix products through cblas_sgemm. Transposes are sgemm flags, never copies.

extension Tensor {
    /// self [..., K] · other [K, N] → [..., N] (leading dims flattened into rows).
    /// With `transposeA` self is a rank-2 [K, M]; with `transposeB` other is [N, K].
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        require(other.rank == 2, "matmul: right operand must be rank 2, got \(other.shape)")
        require(!transposeA || rank == 2, "matmul: transposeA needs a rank-2 left operand")
        let k = transposeA ? shape[0] : (shape.last ?? 1)
        let m = transposeA ? shape[1] : rows
        let (kb, n) = transposeB ? (other.shape[1], other.shape[0]) : (other.shape[0], other.shape[1])
        require(k == kb, "matmul: inner dimensions \(shape) · \(other.shape) disagree")
        let outShape = transposeA ? [m, n] : Array(shape.dropLast()) + [n]
        let out = Tensor(uninitialized: outShape)
        sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
              a: data, lda: transposeA ? m : k, b: other.data, ldb: transposeB ? k : n, c: out.data, ldc: n)
        let a = self, b = other
        return record(.matmul, [a, b], out) { g in
            var ga: Tensor?, gb: Tensor?
            if a.requiresGrad || a.tracked {
                let t = Tensor(uninitialized: a.shape)
                if transposeA {  // A [K,M]: dA = op(B) · gᵀ
                    sgemm(transA: transposeB, transB: true, m: k, n: m, k: n,
                          a: b.data, lda: transposeB ? k : n, b: g.data, ldb: n, c: t.data, ldc: m)
                } else {         // dA = g · op(B)ᵀ
                    sgemm(transA: false, transB: !transposeB, m: m, n: k, k: n,
                          a: g.data, lda: n, b: b.data, ldb: transposeB ? k : n, c: t.data, ldc: k)
                }
                ga = t
            }
            if b.requiresGrad || b.tracked {
                let t = Tensor(uninitialized: b.shape)
                if transposeB {  // B [N,K]: dB = gᵀ · op(A)
                    sgemm(transA: true, transB: transposeA, m: n, n: k, k: m,
                          a: g.data, lda: n, b: a.data, ldb: transposeA ? m : k, c: t.data, ldc: k)
                } else {         // dB = op(A)ᵀ · g
                    sgemm(transA: !transposeA, transB: false, m: k, n: n, k: m,
                          a: a.data, lda: transposeA ? m : k, b: g.data, ldb: n, c: t.data, ldc: n)
                }
                gb = t
            }
            return [ga, gb]
        }
    }

    /// Batched product: self [..., M, K] · other [..., K, N] → [..., M, N] with equal batch
    /// dimensions; the transpose flags apply to the last two dimensions of each operand.
    public func bmm(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        require(rank >= 2 && other.rank == rank && shape.dropLast(2) == other.shape.dropLast(2),
                     "bmm: batch shapes \(shape) and \(other.shape) differ")
        let (m, k) = transposeA ? (shape[rank - 1], shape[rank - 2]) : (shape[rank - 2], shape[rank - 1])
        let (kb, n) = transposeB ? (other.shape[rank - 1], other.shape[rank - 2]) : (other.shape[rank - 2], other.shape[rank - 1])
        require(k == kb, "bmm: inner dimensions \(shape) · \(other.shape) disagree")
        let batch = shape.dropLast(2).elementCount
        let out = Tensor(uninitialized: Array(shape.dropLast(2)) + [m, n])
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        for i in 0..<batch {
            sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, a: data + i * m * k, lda: lda,
                  b: other.data + i * k * n, ldb: ldb, c: out.data + i * m * n, ldc: n)
        }
        let a = self, b = other
        return record(.bmm, [a, b], out) { g in
            let ga = Tensor(uninitialized: a.shape), gb = Tensor(uninitialized: b.shape)
            for i in 0..<batch {
                let ap = a.data + i * m * k, bp = b.data + i * k * n, gp = g.data + i * m * n
                if transposeA {
                    sgemm(transA: transposeB, transB: true, m: k, n: m, k: n, a: bp, lda: ldb, b: gp, ldb: n, c: ga.data + i * m * k, ldc: m)
                } else {
                    sgemm(transA: false, transB: !transposeB, m: m, n: k, k: n, a: gp, lda: n, b: bp, ldb: ldb, c: ga.data + i * m * k, ldc: k)
                }
                if transposeB {
                    sgemm(transA: true, transB: transposeA, m: n, n: k, k: m, a: gp, lda: n, b: ap, ldb: lda, c: gb.data + i * k * n, ldc: k)
                } else {
                    sgemm(transA: !transposeA, transB: false, m: k, n: n, k: m, a: ap, lda: lda, b: gp, ldb: n, c: gb.data + i * k * n, ldc: n)
                }
            }
            return [ga, gb]
        }
    }
}

extension Tensor {
    /// x [..., in] · weightᵀ [out, in] + bias [out] → [..., out], fused: the bias seeds the output
    /// and sgemm accumulates onto it, so the output is written once (PyTorch `F.linear`).
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        require(weight.rank == 2 && x.lastDim == weight.shape[1], "linear: \(x.shape) · \(weight.shape)ᵀ")
        let (n, k) = (weight.shape[0], weight.shape[1])
        require(bias == nil || bias!.count == n, "linear: bias of \(bias!.count) for \(n) outputs")
        let m = x.rows
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
        if let bias { for r in 0..<m { (out.data + r * n).update(from: bias.data, count: n) } }
        sgemm(transA: false, transB: true, m: m, n: n, k: k, a: x.data, lda: k, b: weight.data, ldb: k,
              beta: bias == nil ? 0 : 1, c: out.data, ldc: n)
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return record(.linear, inputs, out) { g in
            var grads: [Tensor?] = []
            if x.requiresGrad || x.tracked {  // dx = g · W
                let dx = Tensor(uninitialized: x.shape)
                sgemm(transA: false, transB: false, m: m, n: k, k: n, a: g.data, lda: n, b: weight.data, ldb: k, c: dx.data, ldc: k)
                grads.append(dx)
            } else { grads.append(nil) }
            if weight.requiresGrad || weight.tracked {  // dW = gᵀ · x (skipped for frozen weights)
                let dw = Tensor(uninitialized: weight.shape)
                sgemm(transA: true, transB: false, m: n, n: k, k: m, a: g.data, lda: n, b: x.data, ldb: k, c: dw.data, ldc: k)
                grads.append(dw)
            } else { grads.append(nil) }
            if let bias { grads.append(bias.requiresGrad || bias.tracked ? columnSums(g.data, rows: m, cols: n, shape: [n]) : nil) }
            return grads
        }
    }
}

/// Σ over rows of a [rows, cols] block, as a tensor of `shape` (cols elements).
func columnSums(_ p: UnsafePointer<Float>, rows: Int, cols: Int, shape: [Int]) -> Tensor {
    let out = Tensor(zeros: shape)
    for r in 0..<rows { Kernels.axpy(1, p + r * cols, out.data, cols) }
    return out
}
