// Softmax family and pointwise activations, all over the last axis where an axis matters.

extension Tensor {
    var lastDim: Int { shape.last ?? 1 }
    var rows: Int { lastDim == 0 ? 0 : count / lastDim }

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
                    let s = V16(repeating: Kernels.dot(gi, y, cols))
                    var i = 0
                    while i < cols { store(load(y, i, cols) * (load(gi, i, cols) - s), dx.data + row * cols, i, cols); i += 16 }
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
                    let s = V16(repeating: Kernels.sum(gi, cols))
                    var i = 0
                    while i < cols { store(load(gi, i, cols) - vexp(load(y, i, cols)) * s, dx.data + row * cols, i, cols); i += 16 }
                }
            }
            return [dx]
        }
    }

    /// GELU with the tanh approximation (GPT-2, `approximate="tanh"`).
    public func gelu() -> Tensor {
        let out = Tensor(uninitialized: shape)
        Kernels.map(data, out.data, count, cost: 6, Kernels.gelu)
        return record(.gelu, [self], out) { [self] g in
            let dx = Tensor(uninitialized: shape)
            Kernels.zip(data, g.data, dx.data, count, cost: 8) { x, g in g * Kernels.geluGrad(x) }
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
        precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) vs up \(up.shape)")
        let out = Tensor(uninitialized: gate.shape)
        Kernels.zip(gate.data, up.data, out.data, gate.count, cost: 4) { a, b in a * Kernels.sigmoid(a) * b }
        return record(.swiglu, [gate, up], out) { g in
            let dg = Tensor(uninitialized: gate.shape), du = Tensor(uninitialized: up.shape)
            let n = gate.count
            parallelChunks((n + 15) / 16, cost: 64) { r in
                for c in r {
                    let i = c * 16
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
