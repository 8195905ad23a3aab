/// A layer or model: named parameters and named child modules, PyTorch-style. Names compose
/// with dots into Hugging Face checkpoint keys ("model.layers.0.self_attn.q_proj.weight").
open class Module {
    public private(set) var ownParameters: [(name: String, tensor: Tensor)] = []
    public private(set) var children: [(name: String, module: Module)] = []

    public init() {}

    /// Registers a trainable tensor under `name` (marks it `requiresGrad`).
    @discardableResult
    public func register(_ name: String, _ tensor: Tensor) -> Tensor {
        tensor.requiresGrad = true
        ownParameters.append((name, tensor))
        return tensor
    }

    /// Registers a child module under `name`.
    @discardableResult
    public func register<M: Module>(_ name: String, _ module: M) -> M {
        children.append((name, module))
        return module
    }

    /// Every parameter with its dotted name, depth-first in registration order.
    public func namedParameters(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        ownParameters.map { (prefix + $0.name, $0.tensor) }
            + children.flatMap { $0.module.namedParameters(prefix: prefix + $0.name + ".") }
    }

    /// Every `Linear` below this module, by its weight tensor.
    func linearsByWeight() -> [ObjectIdentifier: Linear] {
        var out = children.reduce(into: [:]) { $0.merge($1.module.linearsByWeight()) { a, _ in a } }
        if let linear = self as? Linear { out[ObjectIdentifier(linear.weight)] = linear }
        return out
    }

    public var parameters: [Tensor] { namedParameters().map(\.tensor) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Tensors a subclass carries beside its parameters (a `Linear`'s LoRA adapter): trained
    /// with them, but not part of `namedParameters`, so checkpoints stay plain base weights.
    open var attachedParameters: [(name: String, tensor: Tensor)] { [] }

    /// Parameters and attached tensors with dotted names, depth-first in registration order.
    func namedTensors(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        (ownParameters + attachedParameters).map { (prefix + $0.name, $0.tensor) }
            + children.flatMap { $0.module.namedTensors(prefix: prefix + $0.name + ".") }
    }

    /// What an optimizer updates: every parameter and attached tensor with `requiresGrad`, in a
    /// fixed order (a tensor shared by two modules appears once, under its first name).
    public func trainableParameters() -> [(name: String, tensor: Tensor)] {
        var seen = Set<ObjectIdentifier>()
        return namedTensors().filter { $0.tensor.requiresGrad && seen.insert(ObjectIdentifier($0.tensor)).inserted }
    }

    public func zeroGrad() { for (_, t) in namedTensors() { t.grad = nil } }

    /// Freezes or unfreezes every parameter.
    public func setTrainable(_ on: Bool) { for p in parameters { p.requiresGrad = on } }

    /// Copies values into the parameters by name. Every parameter must be present with its exact
    /// shape (a transposed [in, out] weight is an error, not a silent scramble); extra tensors are
    /// reported back so callers can decide if that is an error.
    @discardableResult
    public func load(_ tensors: [String: Tensor]) throws -> [String] {
        try Self.assign(tensors, to: namedParameters())
    }

    /// `load` into any list of named tensors (a model's parameters, or those and its adapters).
    /// Nothing changes unless every target is present with its shape.
    static func assign(_ tensors: [String: Tensor], to targets: [(name: String, tensor: Tensor)]) throws -> [String] {
        for (name, p) in targets {
            guard let t = tensors[name] else { throw GRLHFError.invalidArgument("missing parameter \(name)") }
            guard t.shape == p.shape else {
                throw GRLHFError.invalidArgument("parameter \(name): shape \(t.shape), expected \(p.shape)")
            }
        }
        for (name, p) in targets { p.data.update(from: tensors[name]!.data, count: p.count) }
        return Set(tensors.keys).subtracting(targets.map(\.name)).sorted()
    }

    /// The parameters by name (sharing storage with the model).
    public func stateDict() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
    }
}

/// An indexed list of modules named "0", "1", … (Hugging Face `layers.N`).
public final class ModuleList<M: Module>: Module {
    public let items: [M]
    public init(_ items: [M]) {
        self.items = items
        super.init()
        for (i, m) in items.enumerated() { register(String(i), m) }
    }
}
