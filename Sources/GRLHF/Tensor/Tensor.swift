import Foundation

/// Reference-counted float32 buffer shared by a tensor and its views.
public final class Storage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = BufferPool.shared.take(count)
    }

    deinit { BufferPool.shared.give(pointer, count) }
}

/// Recycles freed tensor buffers by exact size. A training step allocates the same activation
/// and gradient shapes every time; without reuse each large buffer is a fresh mmap whose pages
/// the kernel faults in and zeroes again (measured: ~8 % of a GPT step). Bounded, so a model
/// that changes shapes cannot hoard memory.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()
    /// Bytes kept idle at most.
    var capacityBytes = 512 << 20
    /// Buffers smaller than this go straight to malloc, which already recycles them well.
    let minimumCount = 4096
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var idleBytes = 0
    /// On the heap: a pthread mutex must not move, and Swift does not pin stored properties.
    private let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count >= minimumCount {
            pthread_mutex_lock(lock)
            let reused = free[count]?.popLast()
            if reused != nil { idleBytes -= count * 4 }
            pthread_mutex_unlock(lock)
            if let reused { return reused }
        }
        // 64-byte alignment keeps SIMD loads and BLAS panels on cache lines.
        let n = max(count, 1)
        return UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64).bindMemory(to: Float.self, capacity: n)
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count >= minimumCount {
            pthread_mutex_lock(lock)
            let keep = idleBytes + count * 4 <= capacityBytes
            if keep { free[count, default: []].append(p); idleBytes += count * 4 }
            pthread_mutex_unlock(lock)
            if keep { return }
        }
        p.deallocate()
    }
}

/// A row-major float32 tensor. Storage is always contiguous; `reshape` and first-axis slices
/// are views sharing storage, other layout changes copy. Autograd state lives beside the data:
/// `requiresGrad` marks leaves to differentiate, `grad` accumulates their gradient.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let storage: Storage
    public let offset: Int
    public let count: Int

    /// Leaf tensors with `requiresGrad` receive gradients in `grad` on `backward()`.
    public var requiresGrad: Bool = false
    /// Accumulated gradient (same shape), summed over `backward()` calls until `zeroGrad`.
    public var grad: Tensor?
    /// Set on tensors produced by a recorded op; gradients flow through it.
    var tracked = false

    public init(shape: [Int], storage: Storage, offset: Int = 0) {
        require(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let n = shape.reduce(1, *)
        require(offset >= 0 && offset + n <= storage.count, "view out of range")
        self.shape = shape
        self.storage = storage
        self.offset = offset
        self.count = n
    }

    /// Uninitialized tensor; kernels that fill every element use this to skip a memset.
    public convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *)))
    }

    public convenience init(zeros shape: [Int]) {
        self.init(uninitialized: shape)
        data.update(repeating: 0, count: count)
    }

    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        data.update(repeating: value, count: count)
    }

    public convenience init(_ values: [Float], shape: [Int]) {
        require(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    public static func zeros(_ shape: Int...) -> Tensor { Tensor(zeros: shape) }
    public static func ones(_ shape: Int...) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// Pointer to the first element of this tensor (views included).
    @inline(__always) public var data: UnsafeMutablePointer<Float> { storage.pointer + offset }
    public var rank: Int { shape.count }
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }
    public var item: Float {
        require(count == 1, "item() on a tensor of \(count) elements")
        return data[0]
    }
    /// A new tensor with its own storage and the same values, outside any graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// The same values without gradient history.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, offset: offset) }

    public func zeroGrad() { grad = nil }

    public var description: String {
        let preview = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(preview)\(count > 8 ? ", ..." : "")])"
    }
}

extension Tensor {
    /// The largest tensor a file or a C caller may ask for: 2^40 bytes, and never more than the
    /// machine's physical memory. Readers refuse bigger ones with `outOfMemory` instead of dying
    /// in the allocator.
    public static let maxBytes = min(1 << 40, Int(clamping: ProcessInfo.processInfo.physicalMemory))
}

extension Collection where Element == Int {
    /// Number of elements of a shape.
    var elementCount: Int { reduce(1, *) }
}
