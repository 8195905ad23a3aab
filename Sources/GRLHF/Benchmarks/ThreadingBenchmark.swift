import Foundation

/// Measures where splitting an elementwise kernel across two threads starts to pay: the
/// evidence behind `Runtime.parallelThreshold`.
public enum ThreadingBenchmark {
    public struct Row: Codable, Sendable {
        public var elements: Int
        public var microsecondsOneThread: Double
        public var microsecondsTwoThreads: Double
        public var speedup: Double { microsecondsOneThread / microsecondsTwoThreads }
    }

    /// Median time of `a + b` (one SIMD pass) over sizes 2^12 … 2^22 at 1 and 2 threads, with the
    /// split forced on (threshold 0) for the two-thread runs.
    public static func run(repeats: Int = 41) -> [Row] {
        let saved = (Runtime.computeThreads, Runtime.parallelThreshold)
        defer { Runtime.computeThreads = saved.0; Runtime.parallelThreshold = saved.1 }
        return stride(from: 12, through: 22, by: 1).map { p in
            let n = 1 << p
            let a = Tensor(repeating: 1, shape: [n]), b = Tensor(repeating: 2, shape: [n])
            func time(threads: Int) -> Double {
                Runtime.computeThreads = threads
                Runtime.parallelThreshold = 0
                var samples: [Double] = []
                for _ in 0..<repeats {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    _ = withNoGrad { a + b }
                    samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3)
                }
                return samples.sorted()[repeats / 2]
            }
            return Row(elements: n, microsecondsOneThread: time(threads: 1), microsecondsTwoThreads: time(threads: 2))
        }
    }
}
