/// Keys and values of every layer for `batch` sequences that advance together, so each new
/// token attends to the past without recomputing it. Per layer a [batch, capacity, kvWidth]
/// tensor; positions 0..<length are filled. Keys are stored after RoPE.
public final class KVCache {
    public let batch: Int
    public let capacity: Int
    /// Positions filled in every sequence.
    public internal(set) var length = 0
    let keys: [Tensor], values: [Tensor]

    public init(layers: Int, batch: Int, capacity: Int, kvWidth: Int) {
        require(layers > 0 && batch > 0 && capacity > 0 && kvWidth > 0, "KVCache: sizes must be positive")
        self.batch = batch
        self.capacity = capacity
        keys = (0..<layers).map { _ in Tensor(zeros: [batch, capacity, kvWidth]) }
        values = (0..<layers).map { _ in Tensor(zeros: [batch, capacity, kvWidth]) }
    }

    /// Stores k, v [batch, T, kvWidth] of `layer` at positions length..<length+T (the caller
    /// advances `length` once every layer has written).
    func write(layer: Int, k: Tensor, v: Tensor) {
        let t = k.shape[1], w = k.shape[2]
        require(k.shape == [batch, t, w] && v.shape == k.shape && length + t <= capacity,
                "KVCache: \(k.shape) at position \(length) of \(capacity)")
        for (source, cache) in [(k, keys[layer]), (v, values[layer])] {
            for b in 0..<batch {
                (cache.data + (b * capacity + length) * w).update(from: source.data + b * t * w, count: t * w)
            }
        }
    }

    /// A cache for `copies` sequences, each starting from this one's single sequence: how a group
    /// of continuations shares one prefilled prompt.
    public func repeated(_ copies: Int, capacity newCapacity: Int? = nil) -> KVCache {
        require(batch == 1 && copies > 0, "KVCache.repeated: needs a one-sequence cache")
        let cap = newCapacity ?? capacity
        require(cap >= length, "KVCache.repeated: capacity \(cap) below the filled \(length)")
        let w = keys[0].shape[2]
        let out = KVCache(layers: keys.count, batch: copies, capacity: cap, kvWidth: w)
        for (src, dst) in zip(keys + values, out.keys + out.values) {
            for b in 0..<copies { (dst.data + b * cap * w).update(from: src.data, count: length * w) }
        }
        out.length = length
        return out
    }
}
