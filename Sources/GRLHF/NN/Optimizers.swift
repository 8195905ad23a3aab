import Foundation

/// Updates parameters from their accumulated `grad`.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    var parameters: [Tensor] { get }
    /// Applies one update from each parameter's `grad` (parameters without one are skipped).
    func step()
}

extension Optimizer {
    public func zeroGrad() { for p in parameters { p.grad = nil } }
}

/// AdamW (Loshchilov & Hutter): Adam moments with bias correction, and weight decay applied to
/// the weights directly rather than through the gradient.
public final class AdamW: Optimizer {
    public var learningRate: Float
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public let parameters: [Tensor]
    /// First and second moments, one pair per parameter (checkpointed for exact resume).
    public private(set) var m: [Tensor], v: [Tensor]
    public private(set) var stepCount = 0

    public init(parameters: [Tensor], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        m = parameters.map { Tensor(zeros: $0.shape) }
        v = parameters.map { Tensor(zeros: $0.shape) }
    }

    public func step() {
        stepCount += 1
        let t = Float(stepCount)
        let c1 = 1 - Foundation.pow(beta1, t), c2 = 1 - Foundation.pow(beta2, t)
        let b1 = Vec(repeating: beta1), b2 = Vec(repeating: beta2)
        let lr = Vec(repeating: learningRate / c1), decay = Vec(repeating: 1 - learningRate * weightDecay)
        let rc2 = Vec(repeating: 1 / c2.squareRoot()), e = Vec(repeating: eps)
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let n = p.count, pd = p.data, gd = g.data, md = m[i].data, vd = v[i].data
            parallelChunks((n + lanes - 1) / lanes, cost: lanes * 6) { r in
                for c in r {
                    let j = c * lanes
                    let gv = load(gd, j, n)
                    let mv = b1 * load(md, j, n) + (1 - b1) * gv
                    let vv = b2 * load(vd, j, n) + (1 - b2) * gv * gv
                    store(mv, md, j, n); store(vv, vd, j, n)
                    // θ ← θ(1 − lr·λ) − lr · m̂ / (√v̂ + ε), with the corrections folded into lr and rc2
                    let w = load(pd, j, n) * decay - lr * mv / (vv.squareRoot() * rc2 + e)
                    store(w, pd, j, n)
                }
            }
        }
    }

    /// Restores moments and step count (checkpoint resume).
    public func restore(m: [Tensor], v: [Tensor], stepCount: Int) throws {
        guard m.count == parameters.count, v.count == parameters.count,
              zip(m, parameters).allSatisfy({ $0.count == $1.count }),
              zip(v, parameters).allSatisfy({ $0.count == $1.count }) else {
            throw GRLHFError.invalidArgument("optimizer state does not match the parameters")
        }
        self.m = m; self.v = v; self.stepCount = stepCount
    }
}

/// Stochastic gradient descent with optional momentum and (coupled, L2) weight decay.
public final class SGD: Optimizer {
    public var learningRate: Float
    public var momentum: Float, weightDecay: Float
    public let parameters: [Tensor]
    private var velocity: [Tensor?]

    public init(parameters: [Tensor], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay
        velocity = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        let lr = Vec(repeating: learningRate), mu = Vec(repeating: momentum), wd = Vec(repeating: weightDecay)
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let n = p.count
            if momentum != 0 && velocity[i] == nil { velocity[i] = Tensor(zeros: p.shape) }
            let vel = velocity[i]
            var j = 0
            while j < n {
                var d = load(g.data, j, n) + wd * load(p.data, j, n)
                if let vel { d = mu * load(vel.data, j, n) + d; store(d, vel.data, j, n) }
                store(load(p.data, j, n) - lr * d, p.data, j, n)
                j += lanes
            }
        }
    }
}

/// Global L2 norm of all gradients (each tensor's sum of squares in float32, the total in
/// Double); nil gradients count as zero.
public func gradientNorm(_ parameters: [Tensor]) -> Float {
    var total: Double = 0
    for p in parameters { if let g = p.grad { total += Double(Kernels.dot(g.data, g.data, g.count)) } }
    return Float(total.squareRoot())
}

/// Scales gradients so their global norm is at most `maxNorm`; returns the norm before clipping
/// (possibly non-finite: callers skip the step then).
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    let norm = gradientNorm(parameters)
    if norm.isFinite && norm > maxNorm {
        let s = maxNorm / (norm + 1e-6)
        for p in parameters { if let g = p.grad { Kernels.map(g.data, g.data, g.count) { $0 * Vec(repeating: s) } } }
    }
    return norm
}

/// Learning rate as a function of the step: constant, linear or cosine decay after a linear warm-up.
public struct LRSchedule: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case constant, linear, cosine }
    public var kind: Kind
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    /// Final rate as a fraction of the peak (cosine and linear).
    public var minRatio: Float

    public init(_ kind: Kind, peak: Float, warmupSteps: Int = 0, totalSteps: Int = 1, minRatio: Float = 0) {
        self.kind = kind; self.peak = peak; self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps; self.minRatio = minRatio
    }

    /// Rate at 0-based `step`: warm-up reaches the peak at step `warmupSteps`.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps + 1) }
        let span = Swift.max(totalSteps - warmupSteps, 1)
        let progress = Swift.min(Float(step - warmupSteps) / Float(span), 1)
        let floor = peak * minRatio
        switch kind {
        case .constant: return peak
        case .linear: return floor + (peak - floor) * (1 - progress)
        case .cosine: return floor + (peak - floor) * 0.5 * (1 + Foundation.cos(Float.pi * progress))
        }
    }
}
