import Foundation

/// Every differentiable primitive. The gradient-check test enumerates this list and fails when an
/// op has no case, so adding an op without a tested VJP cannot go unnoticed.
public enum Op: String, CaseIterable, Sendable {
    case add, sub, mul, div, scale, addScalar
    case exp, log
    case matmul, bmm, linear
    case softmax, logSoftmax
    case rmsNorm, layerNorm
    case gelu, silu, swiglu
    case rope
    case embedding
    case crossEntropy
    case sum, mean, max
    case reshape, transpose, slice, concat, gather
    case maskedFill
    case attention
    case conv2d, relu6, globalAveragePool
}

/// The record of one op application: its inputs, output and how to pull a gradient back.
struct TapeEntry {
    let op: Op
    let inputs: [Tensor]
    let output: Tensor
    /// Maps the gradient of `output` to one gradient (or nil) per input.
    let backward: (Tensor) -> [Tensor?]
}

/// Reverse-mode autodiff tape, one per thread. Ops append entries in execution order, so walking
/// the tape backwards visits every op after all of its consumers.
///
/// Autograd is synchronous and per OS thread: run a forward pass and its `backward()` on the
/// same thread with no `await` between them (an async task may resume on another thread and
/// find another tape), and do not train one model's parameters from two threads at once
/// (`grad` accumulation is not synchronized). Inference under `withNoGrad` has no such limit.
public final class Tape {
    var entries: [TapeEntry] = []
    var gradEnabled = true
    /// Anomaly mode: every recorded op checks its output, and backward every gradient, for NaN/Inf.
    var detectAnomalies = false
    /// The first non-finite value seen in anomaly mode, naming the op ("log forward", "div backward").
    public internal(set) var firstAnomaly: String?

    /// The calling thread's tape.
    public static var current: Tape {
        let key = "grlhf.tape"
        let dict = Thread.current.threadDictionary
        if let tape = dict[key] as? Tape { return tape }
        let tape = Tape()
        dict[key] = tape
        return tape
    }

    /// Number of recorded ops waiting for `backward`.
    public var count: Int { entries.count }

    /// Drops all recorded ops (e.g. after an evaluation forward that will not be differentiated).
    public func reset() { entries.removeAll(keepingCapacity: true) }
}

/// Runs `body` without recording ops: inference and evaluation, with no tape memory.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let tape = Tape.current
    let saved = tape.gradEnabled
    tape.gradEnabled = false
    defer { tape.gradEnabled = saved }
    return try body()
}

/// Runs `body` in anomaly mode and returns its result with the first op (forward or backward)
/// that produced a NaN or infinity, if any: the training-health check of reliability.md.
/// Slower (every recorded tensor is scanned); for debugging.
public func withAnomalyDetection<R>(_ body: () throws -> R) rethrows -> (result: R, anomaly: String?) {
    let tape = Tape.current
    let saved = tape.detectAnomalies
    tape.detectAnomalies = true
    tape.firstAnomaly = nil
    defer { tape.detectAnomalies = saved }
    let r = try body()
    return (r, tape.firstAnomaly)
}

/// True when ops on this thread are being recorded.
public var isGradEnabled: Bool { Tape.current.gradEnabled }

/// Records `op` if gradients are on and any input needs one; returns `output` for chaining.
@inline(__always)
func record(_ op: Op, _ inputs: [Tensor], _ output: Tensor, _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
    guard inputs.contains(where: { $0.tracked || $0.requiresGrad }) else { return output }
    let tape = Tape.current
    guard tape.gradEnabled else { return output }
    output.tracked = true
    if tape.detectAnomalies && tape.firstAnomaly == nil && !output.allFinite { tape.firstAnomaly = "\(op.rawValue) forward" }
    tape.entries.append(TapeEntry(op: op, inputs: inputs, output: output, backward: backward))
    return output
}

extension Tensor {
    /// Back-propagates from this scalar (or from `seed`, a gradient of this tensor's shape) through
    /// the thread's tape, adding into `grad` of every leaf with `requiresGrad`. Consumes the tape.
    public func backward(seed: Tensor? = nil) {
        let tape = Tape.current
        let savedEnabled = tape.gradEnabled
        tape.gradEnabled = false  // VJPs run untaped: no higher-order graphs
        defer { tape.reset(); tape.gradEnabled = savedEnabled }
        require(seed != nil || count == 1, "backward() without a seed needs a scalar, got \(shape)")
        require(seed == nil || seed!.count == count, "backward(seed:): seed \(seed!.shape) for output \(shape)")
        var grads: [ObjectIdentifier: Tensor] = [:]
        let start = seed ?? Tensor(repeating: 1, shape: shape)
        grads[ObjectIdentifier(self)] = start
        if !tracked && requiresGrad { accumulateLeafGrad(start) }

        for entry in tape.entries.reversed() {
            guard let g = grads.removeValue(forKey: ObjectIdentifier(entry.output)) else { continue }
            let inputGrads = entry.backward(g)
            if tape.detectAnomalies && tape.firstAnomaly == nil && inputGrads.contains(where: { !($0?.allFinite ?? true) }) {
                tape.firstAnomaly = "\(entry.op.rawValue) backward"
            }
            for (input, ig) in zip(entry.inputs, inputGrads) {
                guard let ig else { continue }
                if input.tracked {
                    let id = ObjectIdentifier(input)
                    // Never add in place: a VJP may hand the same tensor to several inputs.
                    grads[id] = grads[id].map { add(noGrad: $0, ig) } ?? ig
                } else if input.requiresGrad {
                    input.accumulateLeafGrad(ig)
                }
            }
        }
    }

    /// No NaN or infinity among the elements.
    public var allFinite: Bool {
        var acc = Vec(repeating: 0)
        var i = 0
        // x·0 is 0 for finite x and NaN for NaN or ±inf, so one NaN lane marks the tensor.
        while i < count { acc += load(data, i, count) * 0; i += lanes }
        return hsum(acc) == 0
    }

    func accumulateLeafGrad(_ g: Tensor) {
        require(g.shape.elementCount == count, "gradient shape \(g.shape) for \(shape)")
        if let grad {
            Kernels.axpy(1, g.data, grad.data, count)
        } else {
            let owned = Tensor(uninitialized: shape)
            owned.data.update(from: g.data, count: count)
            grad = owned
        }
    }
}

/// a + b for same-shaped tensors, outside the tape.
func add(noGrad a: Tensor, _ b: Tensor) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    Kernels.zip(a.data, b.data, out.data, a.count) { $0 + $1 }
    return out
}
