/// y = x Wᵀ + b with W [out, in] (PyTorch layout, so checkpoints load unchanged).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?
    /// A low-rank update added to the output (set by `LoRA.attach`).
    public internal(set) var adapter: LoRAAdapter?
    /// The weight in a ggml block format (`DecoderLM.load(gguf:quantized:)`), used instead of
    /// `weight` for decode without gradients; `weight` stays the float32 values of the same blocks.
    public internal(set) var quantized: QuantizedMatrix?

    /// Weights drawn from N(0, std²); std 0 gives zeros without drawing (weights about to be loaded).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, std: Float = 0.02, rng: inout PCG32) {
        weight = std == 0 ? Tensor(zeros: [outFeatures, inFeatures]) : Tensor.randn([outFeatures, inFeatures], std: std, rng: &rng)
        self.bias = bias ? Tensor(zeros: [outFeatures]) : nil
        super.init()
        register("weight", weight)
        if let b = self.bias { register("bias", b) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = quantized?.linear(x, bias: bias) ?? Tensor.linear(x, weight: weight, bias: bias)
        guard let adapter else { return y }
        return y + adapter(x)
    }

    override public var attachedParameters: [(name: String, tensor: Tensor)] {
        adapter.map { [("lora_A.weight", $0.a), ("lora_B.weight", $0.b)] } ?? []
    }
}

/// Lookup table [count, dim].
public final class Embedding: Module {
    public let weight: Tensor
    /// Rows drawn from N(0, std²); std 0 gives zeros without drawing.
    public init(_ count: Int, _ dim: Int, std: Float = 0.02, rng: inout PCG32) {
        weight = std == 0 ? Tensor(zeros: [count, dim]) : Tensor.randn([count, dim], std: std, rng: &rng)
        super.init()
        register("weight", weight)
    }
    public func callAsFunction(_ ids: [Int32], shape: [Int]? = nil) -> Tensor {
        Tensor.embedding(weight, ids: ids, shape: shape)
    }
}

public final class RMSNorm: Module {
    public let weight: Tensor
    public let eps: Float
    public init(_ dim: Int, eps: Float = 1e-6) {
        weight = Tensor(repeating: 1, shape: [dim])
        self.eps = eps
        super.init()
        register("weight", weight)
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.rmsNorm(weight: weight, eps: eps) }
}

public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let eps: Float
    public init(_ dim: Int, eps: Float = 1e-5, bias: Bool = true) {
        weight = Tensor(repeating: 1, shape: [dim])
        self.bias = bias ? Tensor(zeros: [dim]) : nil
        self.eps = eps
        super.init()
        register("weight", weight)
        if let b = self.bias { register("bias", b) }
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// Feed-forward block: GELU (GPT-2 `c_fc`/`c_proj`) or SwiGLU (Llama `gate/up/down_proj`).
public final class MLP: Module {
    public enum Kind: String, Codable, Sendable { case gelu, swiglu }
    public let kind: Kind
    let up: Linear, down: Linear, gate: Linear?

    public init(dim: Int, hidden: Int, kind: Kind, bias: Bool, std: Float = 0.02, rng: inout PCG32) {
        self.kind = kind
        if kind == .swiglu {
            gate = Linear(dim, hidden, bias: bias, std: std, rng: &rng)
            up = Linear(dim, hidden, bias: bias, std: std, rng: &rng)
            down = Linear(hidden, dim, bias: bias, std: std, rng: &rng)
        } else {
            gate = nil
            up = Linear(dim, hidden, bias: bias, std: std, rng: &rng)
            down = Linear(hidden, dim, bias: bias, std: std, rng: &rng)
        }
        super.init()
        if let gate {
            register("gate_proj", gate); register("up_proj", up); register("down_proj", down)
        } else {
            register("c_fc", up); register("c_proj", down)
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let gate { return down(Tensor.swiglu(gate: gate(x), up: up(x))) }
        return down(up(x).gelu())
    }
}
