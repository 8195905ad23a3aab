import Dispatch

extension Tensor {
    /// Scaled dot-product attention, fused: q [B, T, H·D], k and v [B, S, Hkv·D] (grouped-query when
    /// Hkv < H) → [B, T, H·D]. Heads are read in place through sgemm leading dimensions, so there
    /// is no permute. `causal` lets query t see keys ≤ t + (S − T) (the cached prefix included);
    /// `keyLengths[b]` hides keys at or past that position (right padding). A query with no
    /// visible key yields zeros. The probabilities are kept for the backward pass.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int? = nil,
                                 causal: Bool = true, keyLengths: [Int]? = nil, scale: Float? = nil) -> Tensor {
        require(q.rank == 3 && k.rank == 3 && v.shape == k.shape && k.shape[0] == q.shape[0],
                     "attention: q [B,T,C], k/v [B,S,C]")
        let layout = AttentionLayout(batch: q.shape[0], queries: q.shape[1], keys: k.shape[1], width: q.shape[2],
                                     kvWidth: k.shape[2], heads: heads, kvHeads: kvHeads ?? heads)
        let streams = [AttentionLayout.Stream(q), AttentionLayout.Stream(k), AttentionLayout.Stream(v)]
        return layout.run(streams, inputs: [q, k, v], causal: causal, keyLengths: keyLengths, scale: scale)
    }

    /// Causal attention of new queries q [B, T, H·D] over the first `length` positions of a key/
    /// value cache kCache, vCache [B, capacity, Hkv·D] (which already hold the new tokens' keys):
    /// query t sits at position length − T + t. `keyLengths[b]` shortens row b (rows of
    /// different lengths, one new token each). No copy of the cache is made.
    public static func attention(q: Tensor, kCache: Tensor, vCache: Tensor, length: Int, heads: Int, kvHeads: Int? = nil,
                                 keyLengths: [Int]? = nil) -> Tensor {
        require(kCache.rank == 3 && vCache.shape == kCache.shape && kCache.shape[0] == q.shape[0]
                && length >= q.shape[1] && length <= kCache.shape[1], "attention: cache \(kCache.shape) for \(q.shape), length \(length)")
        let layout = AttentionLayout(batch: q.shape[0], queries: q.shape[1], keys: length, width: q.shape[2],
                                     kvWidth: kCache.shape[2], heads: heads, kvHeads: kvHeads ?? heads)
        let streams = [AttentionLayout.Stream(q), AttentionLayout.Stream(kCache), AttentionLayout.Stream(vCache)]
        return layout.run(streams, inputs: [q, kCache, vCache], causal: true, keyLengths: keyLengths, scale: nil)
    }

    /// Attention on a packed projection qkv [B, T, (H + 2·Hkv)·D] (queries, then keys, then
    /// values, as one `c_attn`/`qkv_proj` matmul produces them): no split copies forward, one
    /// gradient buffer backward. Self-attention, so S = T.
    public static func attention(qkv: Tensor, heads: Int, kvHeads: Int? = nil, causal: Bool = true,
                                 keyLengths: [Int]? = nil, scale: Float? = nil) -> Tensor {
        let kvh = kvHeads ?? heads
        require(qkv.rank == 3 && heads > 0 && kvh > 0 && qkv.shape[2] % (heads + 2 * kvh) == 0,
                     "attention: packed qkv \(qkv.shape) for \(heads)+2×\(kvh) heads")
        let d = qkv.shape[2] / (heads + 2 * kvh), w = qkv.shape[2]
        let layout = AttentionLayout(batch: qkv.shape[0], queries: qkv.shape[1], keys: qkv.shape[1], width: heads * d,
                                     kvWidth: kvh * d, heads: heads, kvHeads: kvh)
        let rows = qkv.shape[1] * w
        let streams = [AttentionLayout.Stream(tensor: qkv, column: 0, stride: w, batchStride: rows),
                       AttentionLayout.Stream(tensor: qkv, column: heads * d, stride: w, batchStride: rows),
                       AttentionLayout.Stream(tensor: qkv, column: (heads + kvh) * d, stride: w, batchStride: rows)]
        return layout.run(streams, inputs: [qkv], causal: causal, keyLengths: keyLengths, scale: scale)
    }
}

/// Shapes of one attention call and the kernel shared by the separate and packed forms.
struct AttentionLayout {
    let batch: Int, queries: Int, keys: Int, width: Int, kvWidth: Int, heads: Int, kvHeads: Int

    /// Where q, k or v lives: columns [column, column + width) of rows `stride` floats apart,
    /// batch rows `batchStride` floats apart.
    struct Stream {
        let tensor: Tensor
        let column: Int
        let stride: Int
        let batchStride: Int

        init(tensor: Tensor, column: Int, stride: Int, batchStride: Int) {
            self.tensor = tensor; self.column = column; self.stride = stride; self.batchStride = batchStride
        }

        /// A whole [B, rows, C] tensor.
        init(_ t: Tensor) { self.init(tensor: t, column: 0, stride: t.shape[2], batchStride: t.shape[1] * t.shape[2]) }
    }

    func run(_ s: [Stream], inputs: [Tensor], causal: Bool, keyLengths: [Int]?, scale: Float?) -> Tensor {
        let (b, t, sk, c) = (batch, queries, keys, width)
        require(heads % kvHeads == 0 && c % heads == 0 && kvWidth == kvHeads * (c / heads),
                     "attention: \(heads) heads over \(kvHeads) kv heads, widths \(c) and \(kvWidth)")
        require(keyLengths == nil || keyLengths!.count == b, "attention: keyLengths per batch row")
        let d = c / heads, group = heads / kvHeads, kvh = kvHeads
        let sc = scale ?? 1 / Float(d).squareRoot()
        let (qs, ks, vs) = (s[0].stride, s[1].stride, s[2].stride)
        // Pointers to head h of batch row bi in each stream.
        func q(_ x: UnsafeMutablePointer<Float>, _ bi: Int, _ h: Int) -> UnsafeMutablePointer<Float> { x + bi * s[0].batchStride + s[0].column + h * d }
        func k(_ x: UnsafeMutablePointer<Float>, _ bi: Int, _ h: Int) -> UnsafeMutablePointer<Float> { x + bi * s[1].batchStride + s[1].column + h * d }
        func v(_ x: UnsafeMutablePointer<Float>, _ bi: Int, _ h: Int) -> UnsafeMutablePointer<Float> { x + bi * s[2].batchStride + s[2].column + h * d }
        let out = Tensor(uninitialized: [b, t, c])
        let probs = Tensor(uninitialized: [b, heads, t, sk])  // softmax(QKᵀ) per head

        // Work items are (batch, kv head): the query heads sharing a kv head stay on one thread,
        // so backward can accumulate dK/dV without races.
        let items = b * kvh
        forEachItem(items, cost: group * t * sk * d) { item in
            let bi = item / kvh, kh = item % kvh
            let limit = keyLengths?[bi] ?? sk
            for h in (kh * group)..<((kh + 1) * group) {
                let p = probs.data + ((bi * heads + h) * t) * sk
                sgemm(transA: false, transB: true, m: t, n: sk, k: d, alpha: sc, a: q(s[0].tensor.data, bi, h), lda: qs,
                      b: k(s[1].tensor.data, bi, kh), ldb: ks, c: p, ldc: sk)
                for i in 0..<t {
                    let visible = Swift.max(0, Swift.min(limit, causal ? i + 1 + (sk - t) : sk))
                    if visible < sk { (p + i * sk + visible).update(repeating: -.infinity, count: sk - visible) }
                }
                Kernels.softmaxRows(p, p, rows: t, cols: sk)
                sgemm(transA: false, transB: false, m: t, n: d, k: sk, a: p, lda: sk, b: v(s[2].tensor.data, bi, kh), ldb: vs,
                      c: out.data + bi * t * c + h * d, ldc: c)
            }
        }

        return record(.attention, inputs, out) { g in
            // One gradient buffer per distinct input tensor; streams that share a tensor share it.
            let grads = inputs.map { Tensor(zeros: $0.shape) }
            func grad(_ stream: Int) -> UnsafeMutablePointer<Float> {
                grads[inputs.firstIndex { $0 === s[stream].tensor }!].data
            }
            let (dq, dk, dv) = (grad(0), grad(1), grad(2))
            let dpAll = Tensor(uninitialized: [items, t, sk])
            forEachItem(items, cost: group * t * sk * d * 2) { item in
                let bi = item / kvh, kh = item % kvh
                let dp = dpAll.data + item * t * sk
                for h in (kh * group)..<((kh + 1) * group) {
                    let gp = g.data + bi * t * c + h * d
                    let p = probs.data + ((bi * heads + h) * t) * sk
                    // dV += Pᵀ dO;  dP = dO Vᵀ;  dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale
                    sgemm(transA: true, transB: false, m: sk, n: d, k: t, a: p, lda: sk, b: gp, ldb: c,
                          beta: 1, c: v(dv, bi, kh), ldc: vs)
                    sgemm(transA: false, transB: true, m: t, n: sk, k: d, a: gp, lda: c, b: v(s[2].tensor.data, bi, kh), ldb: vs,
                          c: dp, ldc: sk)
                    let scv = Vec(repeating: sc)
                    for i in 0..<t {
                        let pr = p + i * sk, dr = dp + i * sk
                        let dotv = Vec(repeating: Kernels.dot(pr, dr, sk))
                        var j = 0
                        while j < sk { store(load(pr, j, sk) * (load(dr, j, sk) - dotv) * scv, dr, j, sk); j += lanes }
                    }
                    // dQ += dS K (accumulated: q may be the same tensor as k or v);  dK += dSᵀ Q
                    sgemm(transA: false, transB: false, m: t, n: d, k: sk, a: dp, lda: sk, b: k(s[1].tensor.data, bi, kh), ldb: ks,
                          beta: 1, c: q(dq, bi, h), ldc: qs)
                    sgemm(transA: true, transB: false, m: sk, n: d, k: t, a: dp, lda: sk, b: q(s[0].tensor.data, bi, h), ldb: qs,
                          beta: 1, c: k(dk, bi, kh), ldc: ks)
                }
            }
            return grads
        }
    }
}
