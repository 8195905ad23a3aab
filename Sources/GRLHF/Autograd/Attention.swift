import Dispatch

extension Tensor {
    /// Scaled dot-product attention, fused: q [B, T, H·D], k and v [B, S, Hkv·D] (grouped-query when
    /// Hkv < H) → [B, T, H·D]. Heads are read in place through sgemm leading dimensions, so there
    /// is no permute. `causal` lets query t see keys ≤ t + (S − T) (the cached prefix included);
    /// `keyLengths[b]` hides keys at or past that position (right padding). A query with no
    /// visible key yields zeros. The probabilities are kept for the backward pass.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int? = nil,
                                 causal: Bool = true, keyLengths: [Int]? = nil, scale: Float? = nil) -> Tensor {
        let kvh = kvHeads ?? heads
        precondition(q.rank == 3 && k.rank == 3 && v.shape == k.shape, "attention: q [B,T,C], k/v [B,S,C]")
        let (b, t, c) = (q.shape[0], q.shape[1], q.shape[2])
        let s = k.shape[1], ck = k.shape[2]
        precondition(k.shape[0] == b && heads > 0 && kvh > 0 && heads % kvh == 0 && c % heads == 0,
                     "attention: \(heads) heads over \(kvh) kv heads for \(q.shape)")
        let d = c / heads
        precondition(ck == kvh * d, "attention: k/v width \(ck) is not \(kvh)×\(d)")
        precondition(keyLengths == nil || keyLengths!.count == b, "attention: keyLengths per batch row")
        let group = heads / kvh
        let sc = scale ?? 1 / Float(d).squareRoot()
        let out = Tensor(uninitialized: q.shape)
        let probs = Tensor(uninitialized: [b, heads, t, s])  // softmax(QKᵀ) per head

        // Work items are (batch, kv head): the query heads sharing a kv head stay on one thread,
        // so backward can accumulate dK/dV without races.
        let items = b * kvh
        let run: (Int) -> Void = { item in
            let bi = item / kvh, kh = item % kvh
            let limit = keyLengths?[bi] ?? s
            for h in (kh * group)..<((kh + 1) * group) {
                let qp = q.data + bi * t * c + h * d
                let kp = k.data + bi * s * ck + kh * d, vp = v.data + bi * s * ck + kh * d
                let p = probs.data + ((bi * heads + h) * t) * s
                sgemm(transA: false, transB: true, m: t, n: s, k: d, alpha: sc, a: qp, lda: c, b: kp, ldb: ck, c: p, ldc: s)
                for i in 0..<t {
                    let visible = Swift.min(limit, causal ? i + 1 + (s - t) : s)
                    let row = p + i * s
                    if visible < s { (row + Swift.max(visible, 0)).update(repeating: -.infinity, count: s - Swift.max(visible, 0)) }
                }
                Kernels.softmaxRows(p, p, rows: t, cols: s)
                sgemm(transA: false, transB: false, m: t, n: d, k: s, a: p, lda: s, b: vp, ldb: ck,
                      c: out.data + bi * t * c + h * d, ldc: c)
            }
        }
        forEachItem(items, cost: heads / kvh * t * s * d, run)

        return record(.attention, [q, k, v], out) { g in
            let dq = Tensor(uninitialized: q.shape), dk = Tensor(zeros: k.shape), dv = Tensor(zeros: v.shape)
            let dpAll = Tensor(uninitialized: [items, t, s])
            forEachItem(items, cost: heads / kvh * t * s * d * 2) { item in
                let bi = item / kvh, kh = item % kvh
                let dp = dpAll.data + item * t * s
                for h in (kh * group)..<((kh + 1) * group) {
                    let qp = q.data + bi * t * c + h * d, gp = g.data + bi * t * c + h * d
                    let kp = k.data + bi * s * ck + kh * d, vp = v.data + bi * s * ck + kh * d
                    let p = probs.data + ((bi * heads + h) * t) * s
                    // dV += Pᵀ dO;  dP = dO Vᵀ;  dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale
                    sgemm(transA: true, transB: false, m: s, n: d, k: t, a: p, lda: s, b: gp, ldb: c,
                          beta: 1, c: dv.data + bi * s * ck + kh * d, ldc: ck)
                    sgemm(transA: false, transB: true, m: t, n: s, k: d, a: gp, lda: c, b: vp, ldb: ck, c: dp, ldc: s)
                    for i in 0..<t {
                        let pr = p + i * s, dr = dp + i * s
                        let dotv = V16(repeating: Kernels.dot(pr, dr, s))
                        let scv = V16(repeating: sc)
                        var j = 0
                        while j < s { store(load(pr, j, s) * (load(dr, j, s) - dotv) * scv, dr, j, s); j += 16 }
                    }
                    // dQ = dS K;  dK += dSᵀ Q
                    sgemm(transA: false, transB: false, m: t, n: d, k: s, a: dp, lda: s, b: kp, ldb: ck,
                          c: dq.data + bi * t * c + h * d, ldc: c)
                    sgemm(transA: true, transB: false, m: s, n: d, k: t, a: dp, lda: s, b: qp, ldb: c,
                          beta: 1, c: dk.data + bi * s * ck + kh * d, ldc: ck)
                }
            }
            return [dq, dk, dv]
        }
    }
}

/// Runs body(i) for i in 0..<n, across `Runtime.computeThreads` when the work (in multiply-adds
/// per item) is large enough.
func forEachItem(_ n: Int, cost: Int, _ body: (Int) -> Void) {
    let threads = Runtime.computeThreads
    if threads <= 1 || n < 2 || n * cost < Runtime.parallelThreshold * 4 {
        for i in 0..<n { body(i) }
        return
    }
    let chunks = Swift.min(threads, n)
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var i = c
            while i < n { body(i); i += chunks }
        }
    }
}
