/// Keys and values of every layer for `batch` sequences that advance together, so each new
/// token attends to the past without recomputing it. Per layer a [batch, capacity, kvWidth]
/// tensor; row b holds positions 0..<lengths[b]. Keys are stored after RoPE.
///
/// Rows may hold different lengths (prompts of different sizes decoding in one batch): a
/// multi-token step writes every row at the same offset (`length`, right padding left behind is
/// never attended to), while a one-token step writes each row at its own end.
public final class KVCache {
    public let batch: Int
    public let capacity: Int
    /// Positions filled in each row.
    public private(set) var lengths: [Int]
    let keys: [Tensor], values: [Tensor]

    public init(layers: Int, batch: Int, capacity: Int, kvWidth: Int) {
        require(layers > 0 && batch > 0 && capacity > 0 && kvWidth > 0, "KVCache: sizes must be positive")
        self.batch = batch
        self.capacity = capacity
        lengths = Array(repeating: 0, count: batch)
        keys = (0..<layers).map { _ in Tensor(zeros: [batch, capacity, kvWidth]) }
        values = (0..<layers).map { _ in Tensor(zeros: [batch, capacity, kvWidth]) }
    }

    /// The longest row: where a multi-token step writes, and how far queries may look.
    public var length: Int { lengths.max()! }
    var isRagged: Bool { lengths.contains { $0 != lengths[0] } }

    /// Positions of `t` new tokens: `length..<length+t` for every row, or each row's own end
    /// when rows differ (then `t` must be 1). One entry per token position, or per row.
    func positions(forNew t: Int) -> [Int] {
        if !isRagged { return Array(length..<(length + t)) }
        require(t == 1, "KVCache: rows of different lengths advance one token at a time")
        return lengths
    }

    /// Keys visible to the new tokens of each row (nil: everything up to `length + t`).
    func keyLimits(forNew t: Int) -> [Int]? { isRagged ? lengths.map { $0 + t } : nil }

    /// Stores k, v [batch, T, kvWidth] of `layer` at the positions `positions(forNew: T)` names
    /// (the caller advances once every layer has written).
    func write(layer: Int, k: Tensor, v: Tensor) {
        let t = k.shape[1], w = k.shape[2]
        require(k.shape == [batch, t, w] && v.shape == k.shape && length + t <= capacity,
                "KVCache: \(k.shape) at position \(length) of \(capacity)")
        let ragged = isRagged
        for (source, cache) in [(k, keys[layer]), (v, values[layer])] {
            for b in 0..<batch {
                let at = ragged ? lengths[b] : length
                (cache.data + (b * capacity + at) * w).update(from: source.data + b * t * w, count: t * w)
            }
        }
    }

    /// Marks `t` new tokens written in every row.
    func advance(by t: Int) {
        if isRagged { lengths = lengths.map { $0 + t } } else { lengths = Array(repeating: length + t, count: batch) }
    }

    /// Sets each row's filled length after a right-padded multi-token step: row b keeps only
    /// its first `lengths[b]` positions.
    func trim(to lengths: [Int]) {
        require(lengths.count == batch && zip(lengths, self.lengths).allSatisfy { $0 <= $1 }, "KVCache.trim: \(lengths)")
        self.lengths = lengths
    }

    /// A cache of `batch × copies` rows (each row repeated `copies` times in place) with room for
    /// `newCapacity` positions: how a group of continuations shares one prefilled prompt.
    public func repeated(_ copies: Int, capacity newCapacity: Int? = nil) -> KVCache {
        let cap = newCapacity ?? capacity
        require(copies > 0 && cap >= length, "KVCache.repeated: \(copies) copies, capacity \(cap) below the filled \(length)")
        let w = keys[0].shape[2], n = length
        let out = KVCache(layers: keys.count, batch: batch * copies, capacity: cap, kvWidth: w)
        for (src, dst) in zip(keys + values, out.keys + out.values) {
            for b in 0..<batch {
                for c in 0..<copies { (dst.data + (b * copies + c) * cap * w).update(from: src.data + b * capacity * w, count: n * w) }
            }
        }
        out.lengths = lengths.flatMap { Array(repeating: $0, count: copies) }
        return out
    }
}
