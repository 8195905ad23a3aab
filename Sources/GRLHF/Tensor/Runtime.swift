import Dispatch
import Foundation

/// Process-wide thread settings. grlhf parallelises itself: with `computeThreads` > 1, large
/// elementwise kernels, attention heads and large matrix products are split across threads,
/// each piece calling single-threaded BLAS. OpenBLAS's own threads (`blasThreads`) default to 1:
/// its spinning workers fight grlhf's and collapse under load (measured in BENCHMARKS.md).
public enum Runtime {
    nonisolated(unsafe) private static var _blasThreads = 1
    /// Threads for grlhf's own parallel work; work is split only when a call is large enough to pay.
    nonisolated(unsafe) public static var computeThreads = 1

    /// Elements of simple elementwise work (times a per-element cost weight) below which a call
    /// stays on one thread. `grlhf bench --threading` measures the crossover; see BENCHMARKS.md.
    nonisolated(unsafe) public static var parallelThreshold = 1 << 18

    public static var blasThreads: Int {
        get { _blasThreads }
        set {
            _blasThreads = max(1, newValue)
            OpenBLAS.library.setThreads(Int32(_blasThreads))
        }
    }

    /// Loads OpenBLAS if needed and reports why it cannot be, instead of stopping the process
    /// at the first product. Entry points of the C ABI call this before computing.
    public static func requireBLAS() throws {
        if case .failure(let error) = OpenBLAS.loaded { throw error }
    }

    /// Uses `n` threads for grlhf's parallel work (BLAS itself stays at `blasThreads`).
    public static func setThreads(_ n: Int) {
        computeThreads = max(1, n)
    }

    /// Which OpenBLAS kernel set is running (e.g. "SkylakeX"), for benchmark reports.
    public static var blasDescription: String {
        let lib = OpenBLAS.library
        let core = lib.coreName().map { String(cString: $0) } ?? "?"
        let config = lib.config().map { String(cString: $0) } ?? "?"
        return "\(config) core=\(core)"
    }
}

/// Marks threads inside a parallel region, so work nested in it (a matmul inside an attention
/// head) stays serial instead of oversubscribing the cores.
enum ParallelRegion {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var isActive: Bool { pthread_getspecific(key) != nil }

    /// Threads to use for a piece of work costing `cost` (elements × per-element weight).
    @inline(__always)
    static func threads(forCost cost: Int) -> Int {
        let t = Runtime.computeThreads
        return t <= 1 || cost < Runtime.parallelThreshold || isActive ? 1 : t
    }

    /// Runs body(i) for i in 0..<n concurrently, marking each thread as in the region.
    static func run(_ n: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let outer = pthread_getspecific(key)
                pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
                body(i)
                pthread_setspecific(key, outer)
            }
        }
    }
}

/// Runs `body` over `0..<count` in contiguous chunks, on several threads when `count * cost`
/// (elements times a rough per-element weight) exceeds the measured threshold.
@inline(__always)
func parallelChunks(_ count: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = count < 2 ? 1 : ParallelRegion.threads(forCost: count * cost)
    if threads == 1 {
        body(0..<count)
        return
    }
    let chunks = min(threads, count)
    let per = (count + chunks - 1) / chunks
    ParallelRegion.run(chunks) { c in
        let lo = c * per, hi = min(count, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs body(i) for i in 0..<n, spread over the threads when the total work (multiply-adds,
/// `cost` per item) is large enough; items are dealt round-robin.
/// Items that call BLAS stay serial when OpenBLAS runs threads of its own.
func forEachItem(_ n: Int, cost: Int, _ body: (Int) -> Void) {
    let threads = n < 2 || Runtime.blasThreads > 1 ? 1 : ParallelRegion.threads(forCost: n * cost / 4)
    if threads == 1 {
        for i in 0..<n { body(i) }
        return
    }
    let chunks = min(threads, n)
    ParallelRegion.run(chunks) { c in
        var i = c
        while i < n { body(i); i += chunks }
    }
}
