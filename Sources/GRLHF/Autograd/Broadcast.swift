/// NumPy broadcasting: shapes align on the right; a dimension of 1 stretches.
func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let n = Swift.max(a.count, b.count)
    return (0..<n).map { i in
        let da = i < n - a.count ? 1 : a[i - (n - a.count)]
        let db = i < n - b.count ? 1 : b[i - (n - b.count)]
        require(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast")
        return da == 1 ? db : da
    }
}

/// Strides of `shape` viewed inside `outShape` (0 along stretched dimensions).
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let pad = outShape.count - shape.count
    var strides = [Int](repeating: 0, count: outShape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i + pad] = shape[i] == 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// How a smaller operand repeats inside the output, for the fast paths.
enum BroadcastPattern {
    case same              // identical element counts and layout
    case scalar            // one element
    case rows(Int)         // the operand is the output's trailing block of this size, repeated
    case general
}

func pattern(_ shape: [Int], in outShape: [Int]) -> BroadcastPattern {
    let n = shape.elementCount
    if n == outShape.elementCount { return .same }
    if n == 1 { return .scalar }
    var s = shape
    while s.first == 1 { s.removeFirst() }
    if s.count <= outShape.count && Array(outShape.suffix(s.count)) == s { return .rows(n) }
    return .general
}

/// Calls body(outIndex, aIndex, bIndex) for every element of `outShape`.
func forEachBroadcast(_ outShape: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
    let n = outShape.elementCount
    if n == 0 { return }
    var idx = [Int](repeating: 0, count: outShape.count)
    var ia = 0, ib = 0
    for o in 0..<n {
        body(o, ia, ib)
        var d = outShape.count - 1
        while d >= 0 {
            idx[d] += 1
            ia += sa[d]; ib += sb[d]
            if idx[d] < outShape[d] { break }
            ia -= sa[d] * outShape[d]; ib -= sb[d] * outShape[d]
            idx[d] = 0
            d -= 1
        }
    }
}

/// Sums `g` (shaped `outShape`) down to `shape`, undoing a broadcast.
func reduceBroadcast(_ g: Tensor, to shape: [Int]) -> Tensor {
    if g.shape == shape { return g }
    switch pattern(shape, in: g.shape) {
    case .same:
        return g.reshape(shape)
    case .scalar:
        return Tensor([Kernels.sum(g.data, g.count)], shape: shape)
    case .rows(let k):
        return columnSums(g.data, rows: g.count / k, cols: k, shape: shape)
    case .general:
        let out = Tensor(zeros: shape)
        let st = broadcastStrides(shape, to: g.shape)
        forEachBroadcast(g.shape, st, st) { o, i, _ in out.data[i] += g.data[o] }
        return out
    }
}
