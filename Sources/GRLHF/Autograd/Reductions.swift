// Sum, mean and max over all elements or one axis.

extension Tensor {
    /// Splits the shape around `axis` into (outer, size, inner) element counts.
    func around(_ axis: Int) -> (outer: Int, size: Int, inner: Int) {
        (shape[..<axis].elementCount, shape[axis], shape[(axis + 1)...].elementCount)
    }

    func normalize(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        require(a >= 0 && a < rank, "axis \(axis) out of range for \(shape)")
        return a
    }

    /// Sum of every element (a scalar), or over `axis` (that dimension removed).
    public func sum(axis: Int? = nil) -> Tensor {
        guard let axis else {
            let out = Tensor(scalar: Kernels.sum(data, count))
            return record(.sum, [self], out) { [shape] g in [Tensor(repeating: g.data[0], shape: shape)] }
        }
        let a = normalize(axis)
        let (outer, size, inner) = around(a)
        var outShape = shape; outShape.remove(at: a)
        let out = Tensor(zeros: outShape)
        for o in 0..<outer {
            for s in 0..<size { Kernels.axpy(1, data + (o * size + s) * inner, out.data + o * inner, inner) }
        }
        return record(.sum, [self], out) { [shape] g in
            let dx = Tensor(uninitialized: shape)
            for o in 0..<outer { for s in 0..<size { (dx.data + (o * size + s) * inner).update(from: g.data + o * inner, count: inner) } }
            return [dx]
        }
    }

    /// Mean of every element, or over `axis`.
    public func mean(axis: Int? = nil) -> Tensor {
        let n = axis.map { shape[normalize($0)] } ?? count
        let s = withNoGrad { sum(axis: axis) }
        let out = Tensor(uninitialized: s.shape)
        let inv = Vec(repeating: 1 / Float(Swift.max(n, 1)))
        Kernels.map(s.data, out.data, s.count) { $0 * inv }
        let a = axis.map(normalize)
        return record(.mean, [self], out) { [shape] g in
            let dx = Tensor(uninitialized: shape)
            let (outer, size, inner) = a.map { self.around($0) } ?? (1, self.count, 1)
            let scale = 1 / Float(Swift.max(n, 1))
            for o in 0..<outer {
                for s in 0..<size {
                    for i in 0..<inner { dx.data[(o * size + s) * inner + i] = g.data[o * inner + i] * scale }
                }
            }
            return [dx]
        }
    }

    /// Maximum over `axis` (dimension removed). The gradient goes to the first maximal element.
    public func max(axis: Int) -> Tensor {
        let a = normalize(axis)
        let (outer, size, inner) = around(a)
        require(size > 0, "max over an empty axis")
        var outShape = shape; outShape.remove(at: a)
        let out = Tensor(uninitialized: outShape)
        var argmax = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = data[o * size * inner + i], bestS = 0
                for s in 1..<Swift.max(size, 1) where data[(o * size + s) * inner + i] > best {
                    best = data[(o * size + s) * inner + i]; bestS = s
                }
                out.data[o * inner + i] = best
                argmax[o * inner + i] = (o * size + bestS) * inner + i
            }
        }
        return record(.max, [self], out) { [shape] g in
            let dx = Tensor(zeros: shape)
            for (j, src) in argmax.enumerated() { dx.data[src] = g.data[j] }
            return [dx]
        }
    }
}
