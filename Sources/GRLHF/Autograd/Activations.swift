// Softmax family and pointwise activations, all over the last axis where an axis matters.

extension Tensor {
    var lastDim: Int { shape.last ?? 1 }
    /// Elements of all but the last dimension (nonzero even when the last dimension is empty).
    var rows: Int { shape.dropLast().elementCount }

    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        let out = Tensor(uninitialized: shape)
        let cols = lastDim
        Kernels.softmaxRows(data, out.data, rows: rows, cols: cols)
        return record(.softmax, [self], out) { g in
            // dx = y ⊙ (g − Σ g⊙y)
            let dx = Tensor(uninitialized: out.shape)
            parallelChunks(out.rows, cost: cols * 2) { r in
                for row in r {
                    let y = out.data + row * cols, gi = g.data + row * cols
                    let s = Vec(repeating: Kernels.dot(gi, y, cols))
                    var i = 0
                    while i < cols { store(load(y, i, cols) * (load(gi, i, cols) - s), dx.data + row * cols, i, cols); i += lanes }
                }
            }
            return [dx]
        }
    }

    /// Log-softmax over the last axis.
    public func logSoftmax() -> Tensor {
        let out = Tensor(uninitialized: shape)
        let cols = lastDim
        Kernels.logSoftmaxRows(data, out.data, rows: rows, cols: cols)
        return record(.logSoftmax, [self], out) { g in
            // dx = g − softmax · Σ g
            let dx = Tensor(uninitialized: out.shape)
            parallelChunks(out.rows, cost: cols * 4) { r in
                for row in r {
                    let y = out.data + row * cols, gi = g.data + row * cols
                    let s = Vec(repeating: Kernels.sum(gi, cols))
                    var i = 0
                    while i < cols { store(load(gi, i, cols) - vexp(load(y, i, cols)) * s, dx.data + row * cols, i, cols); i += lanes }
                }
            }
            return [dx]
        }
    }

    /// GELU with the tanh approximation (GPT-2, `approximate="tanh"`), written as
    /// x·σ(2u) with u = √(2/π)(x + 0.044715 x³) (the same function: ½(1 + tanh u) = σ(2u)).
    /// Forward keeps σ(2u), so backward needs no exp.
    public func gelu() -> Tensor {
        let out = Tensor(uninitialized: shape), sig = Tensor(uninitialized: shape)
        let n = count
        parallelChunks((n + lanes - 1) / lanes, cost: lanes * 6) { r in
            for c in r {
                let i = c * lanes, x = load(data, i, n)
                let s = Kernels.sigmoid(2 * Kernels.geluC * (x + 0.044_715 * x * x * x))
                store(s, sig.data, i, n); store(x * s, out.data, i, n)
            }
        }
        return record(.gelu, [self], out) { [self] g in
            // d/dx x·σ(2u) = σ + x·σ(1 − σ)·2u′,  u′ = √(2/π)(1 + 3·0.044715 x²)
            let dx = Tensor(uninitialized: shape)
            parallelChunks((n + lanes - 1) / lanes, cost: lanes * 3) { r in
                for c in r {
                    let i = c * lanes, x = load(data, i, n), s = load(sig.data, i, n)
                    let du: Vec = 2 * Kernels.geluC * (1 + 0.134_145 * x * x)
                    store(load(g.data, i, n) * (s + x * s * (1 - s) * du), dx.data, i, n)
                }
            }
            return [dx]
        }
    }

    /// SiLU (swish): x · σ(x).
    public func silu() -> Tensor {
        let out = Tensor(uninitialized: shape)
        Kernels.map(data, out.data, count, cost: 4) { x in x * Kernels.sigmoid(x) }
        return record(.silu, [self], out) { [self] g in
            let dx = Tensor(uninitialized: shape)
            Kernels.zip(data, g.data, dx.data, count, cost: 4) { x, g in
                let s = Kernels.sigmoid(x)
                return g * s * (1 + x * (1 - s))
            }
            return [dx]
        }
    }

    /// SwiGLU: silu(gate) ⊙ up, fused (Llama's MLP).
    public static func swiglu(gate: Tensor, up: Tensor) -> Tensor {
        require(gate.shape == up.shape, "swiglu: gate \(gate.shape) vs up \(up.shape)")
        let out = Tensor(uninitialized: gate.shape)
        Kernels.zip(gate.data, up.data, out.data, gate.count, cost: 4) { a, b in a * Kernels.sigmoid(a) * b }
        return record(.swiglu, [gate, up], out) { g in
            let dg = Tensor(uninitialized: gate.shape), du = Tensor(uninitialized: up.shape)
            let n = gate.count
            parallelChunks((n + lanes - 1) / lanes, cost: 64) { r in
                for c in r {
                    let i = c * lanes
                    let a = load(gate.data, i, n), b = load(up.data, i, n), gv = load(g.data, i, n)
                    let s = Kernels.sigmoid(a)
                    store(gv * b * s * (1 + a * (1 - s)), dg.data, i, n)
                    store(gv * a * s, du.data, i, n)
                }
            }
            return [dg, du]
        }
    }
}
