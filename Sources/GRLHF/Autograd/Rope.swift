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
        let (cosT, sinT) = RopeTables.shared.tables(positions: positions, half: half, base: base)
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

/// cos/sin tables [positions, D/2] for rotary embeddings, computed in Double so long positions
/// keep precision. Every layer of a forward (and q and k within it) asks for the same table, so
/// the last one is kept: one computation per forward instead of one per call.
final class RopeTables: @unchecked Sendable {
    static let shared = RopeTables()
    private let lock = NSLock()
    private var key: (positions: [Int], half: Int, base: Float)?
    private var value: (cos: [Float], sin: [Float]) = ([], [])

    func tables(positions: [Int], half: Int, base: Float) -> (cos: [Float], sin: [Float]) {
        lock.lock(); defer { lock.unlock() }
        if let k = key, k.half == half, k.base == base, k.positions == positions { return value }
        var cosT = [Float](repeating: 0, count: positions.count * half), sinT = cosT
        let d = Double(2 * half)
        for i in 0..<half {
            let frequency = Foundation.pow(Double(base), -2 * Double(i) / d)
            for (p, pos) in positions.enumerated() {
                let angle = Double(pos) * frequency
                cosT[p * half + i] = Float(Foundation.cos(angle)); sinT[p * half + i] = Float(Foundation.sin(angle))
            }
        }
        key = (positions, half, base)
        value = (cosT, sinT)
        return value
    }
}
