// Layout ops. Reshape and first-axis slices are views; transpose and other slices copy.

extension Tensor {
    /// Same elements, new shape (one dimension may be -1). A view: no copy.
    public func reshape(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).elementCount
            require(known > 0 && count % known == 0, "reshape \(shape) → \(newShape)")
            s[i] = count / known
        }
        require(s.elementCount == count, "reshape \(shape) → \(newShape): element counts differ")
        let out = Tensor(shape: s, storage: storage, offset: offset)
        return record(.reshape, [self], out) { [shape] g in [g.reshape(shape)] }
    }

    public func reshape(_ dims: Int...) -> Tensor { reshape(dims) }

    /// Swaps two axes (a copy).
    public func transpose(_ a0: Int = -2, _ a1: Int = -1) -> Tensor {
        let d0 = normalize(a0), d1 = normalize(a1)
        var outShape = shape
        outShape.swapAt(d0, d1)
        let out = Tensor(uninitialized: outShape)
        var srcStrides = contiguousStrides(shape)
        srcStrides.swapAt(d0, d1)
        forEachBroadcast(outShape, srcStrides, srcStrides) { o, i, _ in out.data[o] = data[i] }
        return record(.transpose, [self], out) { g in [g.transpose(d0, d1)] }
    }

    /// Elements start..<end along `axis`. A view when every dimension before `axis` is 1.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let a = normalize(axis)
        require(range.lowerBound >= 0 && range.upperBound <= shape[a], "slice \(range) of \(shape[a])")
        var outShape = shape; outShape[a] = range.count
        let (outer, size, inner) = around(a)
        let out: Tensor
        if outer == 1 {
            out = Tensor(shape: outShape, storage: storage, offset: offset + range.lowerBound * inner)
        } else {
            out = Tensor(uninitialized: outShape)
            for o in 0..<outer {
                (out.data + o * range.count * inner).update(from: data + (o * size + range.lowerBound) * inner, count: range.count * inner)
            }
        }
        return record(.slice, [self], out) { [shape] g in
            let dx = Tensor(zeros: shape)
            for o in 0..<outer {
                (dx.data + (o * size + range.lowerBound) * inner).update(from: g.data + o * range.count * inner, count: range.count * inner)
            }
            return [dx]
        }
    }

    /// Splits along `axis` into pieces of the given sizes (slices, so gradients flow).
    public func split(axis: Int, sizes: [Int]) -> [Tensor] {
        require(sizes.reduce(0, +) == shape[normalize(axis)], "split sizes \(sizes) for \(shape)")
        var start = 0
        return sizes.map { n in defer { start += n }; return slice(axis: axis, start..<(start + n)) }
    }

    /// Joins tensors along `axis`; every other dimension must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        require(!parts.isEmpty, "concat of nothing")
        let a = parts[0].normalize(axis)
        for p in parts {
            require(p.rank == parts[0].rank && (0..<p.rank).allSatisfy { $0 == a || p.shape[$0] == parts[0].shape[$0] },
                         "concat: shapes \(parts.map(\.shape)) differ off axis \(a)")
        }
        var outShape = parts[0].shape
        outShape[a] = parts.map { $0.shape[a] }.reduce(0, +)
        let out = Tensor(uninitialized: outShape)
        let (outer, total, inner) = out.around(a)
        var start = 0
        var starts: [Int] = []
        for p in parts {
            starts.append(start)
            let n = p.shape[a] * inner
            for o in 0..<outer { (out.data + (o * total + start) * inner).update(from: p.data + o * n, count: n) }
            start += p.shape[a]
        }
        return record(.concat, parts, out) { g in
            zip(parts, starts).map { p, s in
                let dp = Tensor(uninitialized: p.shape)
                let n = p.shape[a] * inner
                for o in 0..<outer { (dp.data + o * n).update(from: g.data + (o * total + s) * inner, count: n) }
                return dp
            }
        }
    }
}

func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
    return strides
}
