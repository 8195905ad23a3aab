import Dispatch

/// Process-wide thread settings. BLAS defaults to one thread: under load, multithreaded OpenBLAS
/// collapses, and callers that want parallelism usually have it at a higher level.
public enum Runtime {
    nonisolated(unsafe) private static var _blasThreads = 1
    /// Threads for elementwise kernels; work is split only when a call is large enough to pay.
    nonisolated(unsafe) public static var computeThreads = 1

    /// Elements of simple elementwise work per call below which splitting across threads loses.
    /// Measured here (benchmarks/README): dispatch costs ~10 µs, a SIMD add runs ~2 G elem/s,
    /// so ~200 µs of work (≈ 256 K elements) is where two threads start to win.
    public static let parallelThreshold = 1 << 18

    public static var blasThreads: Int {
        get { _blasThreads }
        set {
            _blasThreads = max(1, newValue)
            OpenBLAS.library.setThreads(Int32(_blasThreads))
        }
    }

    /// Sets both BLAS and elementwise threads.
    public static func setThreads(_ n: Int) {
        blasThreads = n
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

/// Runs `body` over `0..<count` in contiguous chunks, on several threads when `count * cost`
/// (elements times a rough per-element weight) exceeds the measured threshold.
@inline(__always)
func parallelChunks(_ count: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = Runtime.computeThreads
    if threads <= 1 || count * cost < Runtime.parallelThreshold || count < 2 {
        body(0..<count)
        return
    }
    let chunks = min(threads, count)
    let per = (count + chunks - 1) / chunks
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * per, hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}
