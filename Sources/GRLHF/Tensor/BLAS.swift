import CBLAS
import Foundation

/// OpenBLAS, loaded at first use. OpenBLAS picks its kernels from the CPU model once, when it is
/// loaded; version 0.3.21 (Debian 12) does not know recent Xeons and falls back to its SSE3
/// "Prescott" kernels, 4–5× slower than the AVX-512 ones the CPU runs. Loading it ourselves lets
/// grlhf choose the kernel set from the CPU's feature flags first. A user's OPENBLAS_CORETYPE
/// always wins, and if OpenBLAS is already in the process, that copy is used as it is.
enum OpenBLAS {
    struct Library {
        let sgemm: grlhf_cblas_sgemm_fn
        let sgemv: grlhf_cblas_sgemv_fn
        let setThreads: grlhf_openblas_set_num_threads_fn
        let coreName: grlhf_openblas_get_string_fn
        let config: grlhf_openblas_get_string_fn
    }

    /// The library, or why it could not be loaded.
    static let loaded: Result<Library, GRLHFError> = load()

    /// The library; computing without it is impossible, so a failed load stops here with the
    /// reason. Entry points that must not abort call `Runtime.requireBLAS()` first.
    static var library: Library {
        switch loaded {
        case .success(let lib): return lib
        case .failure(let error): fatalError("grlhf: \(error.message)")
        }
    }

    /// The kernel set for this CPU when OpenBLAS's own detection may not know it: Intel CPUs with
    /// AVX-512 BF16 (Cooper Lake, Sapphire Rapids and later) run the Cooperlake kernels, other
    /// AVX-512 parts SkylakeX, AVX2+FMA parts Haswell. Other vendors keep OpenBLAS's choice.
    static func preferredCore(cpuinfo: String) -> String? {
        guard cpuinfo.contains("GenuineIntel"),
              let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512f", "avx512vl", "avx512bw", "avx512dq", "avx512_bf16"]) { return "Cooperlake" }
        if flags.isSuperset(of: ["avx512f", "avx512vl", "avx512bw", "avx512dq"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    static func load() -> Result<Library, GRLHFError> {
        if getenv("OPENBLAS_CORETYPE") == nil,
           let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let core = preferredCore(cpuinfo: info) {
            setenv("OPENBLAS_CORETYPE", core, 0)
        }
        let names = ["libopenblas.so.0", "libopenblas.so"]
        guard let handle = names.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_GLOBAL) }).first else {
            return .failure(.unsupported("cannot load OpenBLAS (\(names.joined(separator: ", "))): install libopenblas0"))
        }
        func symbol<T>(_ name: String, as: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else { throw GRLHFError.unsupported("the loaded OpenBLAS lacks \(name)") }
            return unsafeBitCast(p, to: T.self)
        }
        do {
            let lib = Library(sgemm: try symbol("cblas_sgemm", as: grlhf_cblas_sgemm_fn.self),
                              sgemv: try symbol("cblas_sgemv", as: grlhf_cblas_sgemv_fn.self),
                              setThreads: try symbol("openblas_set_num_threads", as: grlhf_openblas_set_num_threads_fn.self),
                              coreName: try symbol("openblas_get_corename", as: grlhf_openblas_get_string_fn.self),
                              config: try symbol("openblas_get_config", as: grlhf_openblas_get_string_fn.self))
            lib.setThreads(1)
            return .success(lib)
        } catch {
            return .failure(GRLHFError(error))
        }
    }
}

/// C[m,n] = alpha * op(A)[m,k] · op(B)[k,n] + beta * C, row-major, with leading dimensions.
func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
        }
        return
    }
    // One row (a decode step): sgemv streams the matrix once, where sgemm would first pack it.
    // c[n] = alpha · op(B)ᵀ a + beta · c, with a's k values lda apart when transposed.
    // A large one splits its outputs across grlhf's threads, each piece an sgemv over its own
    // part of the matrix (decode is bound by reading the weights, which the split shares out).
    if m == 1 {
        let b2 = transB ? GRLHF_CBLAS_NO_TRANS : GRLHF_CBLAS_TRANS  // op(B)ᵀ as a row-major matrix op
        func sgemv(_ lo: Int, _ count: Int) {
            OpenBLAS.library.sgemv(Int32(GRLHF_CBLAS_ROW_MAJOR), Int32(b2), Int32(transB ? count : k), Int32(transB ? k : count),
                                   alpha, transB ? b + lo * ldb : b + lo, Int32(ldb), a, Int32(transA ? lda : 1), beta, c + lo, 1)
        }
        let threads = Runtime.blasThreads > 1 ? 1 : min(ParallelRegion.threads(forCost: n * k), n / 64)
        guard threads > 1 else { return sgemv(0, n) }
        let per = (n + threads - 1) / threads
        ParallelRegion.run(threads) { t in
            let lo = t * per
            if lo < n { sgemv(lo, min(n, lo + per) - lo) }
        }
        return
    }
    // Large products split their output across grlhf's threads, each piece a serial sgemm:
    // along rows of C when it is tall, else along columns.
    let threads = Runtime.blasThreads > 1 ? 1 : min(ParallelRegion.threads(forCost: m * n * k / 64), max(m, n) / 64)
    if threads > 1 {
        if m >= n {
            let per = (m + threads - 1) / threads
            ParallelRegion.run(threads) { t in
                let lo = t * per, rows = min(m, lo + per) - lo
                guard rows > 0 else { return }
                sgemm(transA: transA, transB: transB, m: rows, n: n, k: k, alpha: alpha, a: transA ? a + lo : a + lo * lda,
                      lda: lda, b: b, ldb: ldb, beta: beta, c: c + lo * ldc, ldc: ldc)
            }
        } else {
            let per = (n + threads - 1) / threads
            ParallelRegion.run(threads) { t in
                let lo = t * per, cols = min(n, lo + per) - lo
                guard cols > 0 else { return }
                sgemm(transA: transA, transB: transB, m: m, n: cols, k: k, alpha: alpha, a: a, lda: lda,
                      b: transB ? b + lo * ldb : b + lo, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
            }
        }
        return
    }
    OpenBLAS.library.sgemm(Int32(GRLHF_CBLAS_ROW_MAJOR), Int32(transA ? GRLHF_CBLAS_TRANS : GRLHF_CBLAS_NO_TRANS),
                           Int32(transB ? GRLHF_CBLAS_TRANS : GRLHF_CBLAS_NO_TRANS), Int32(m), Int32(n), Int32(k),
                           alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
