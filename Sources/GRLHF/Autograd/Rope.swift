import Foundation

/// How rotary embeddings pair the features of a head.
public enum RopeLayout: Int32, Sendable {
    /// (x[2i], x[2i+1]): GPT-J, and llama.cpp's GGUF Llama (whose q/k weights are permuted to it).
    case adjacentPairs = 0
    /// (x[i], x[i + D/2]): Hugging Face Llama/Qwen2 `rotate_half`.
    case halfSplit = 1
}

extension Tensor {
    /// Rotary position embedding on x [..., T, heads·D] for positions [T] (shared by every
    /// sequence) or [rows] (one per row of T, e.g. left-padded batches). Pair i of each head turns
    /// by position · base^(−2i/D).
    public func rope(heads: Int, positions: [Int], base: Float = 10000, layout: RopeLayout) -> Tensor {
        let c = lastDim, d = c / Swift.max(heads, 1)
        require(heads > 0 && d * heads == c && d % 2 == 0, "rope: \(c) features in \(heads) heads of even size")
        let rows = rows
        require(rank >= 2 && (positions.count == rows || positions.count == shape[rank - 2]),
                "rope: \(positions.count) positions for \(rows) rows of \(rank >= 2 ? shape[rank - 2] : 0) tokens")
        let half = d / 2
        // cos/sin table per row: [rows, half], computed in Double so long positions keep precision.
        var cosT = [Float](repeating: 0, count: positions.count * half), sinT = cosT
        for (p, pos) in positions.enumerated() {
            for i in 0..<half {
                let angle = Double(pos) * Foundation.pow(Double(base), -2 * Double(i) / Double(d))
                cosT[p * half + i] = Float(Foundation.cos(angle)); sinT[p * half + i] = Float(Foundation.sin(angle))
            }
        }
        let np = positions.count
        func rotate(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, sign: Float) {
            for row in 0..<rows {
                let t = (row % np) * half
                for h in 0..<heads {
                    let x = src + row * c + h * d, y = dst + row * c + h * d
                    for i in 0..<half {
                        let (ia, ib) = layout == .adjacentPairs ? (2 * i, 2 * i + 1) : (i, i + half)
                        let cs = cosT[t + i], sn = sign * sinT[t + i]
                        let a = x[ia], b = x[ib]
                        y[ia] = a * cs - b * sn
                        y[ib] = a * sn + b * cs
                    }
                }
            }
        }
        let out = Tensor(uninitialized: shape)
        rotate(data, out.data, sign: 1)
        return record(.rope, [self], out) { g in
            let dx = Tensor(uninitialized: g.shape)
            rotate(g.data, dx.data, sign: -1)  // the transpose of a rotation is the opposite turn
            return [dx]
        }
    }
}
