// 2-D convolution (NCHW), ReLU6 and global average pooling: the CNN vision tower's ops.
//
// Layout: activations are NCHW ([N, C, H, W], each channel a contiguous H·W plane), weights are
// PyTorch's [O, C/groups, k, k]. NCHW suits the existing BLAS and the EfficientNet-style
// network: a 1×1 convolution of one image is a single sgemm W[O, C] · X[C, H·W] with no copy
// at all; a general convolution is im2col into [C·k·k, Ho·Wo] and one sgemm; a depthwise
// convolution runs a direct loop over contiguous planes (SIMD along rows when the stride is 1);
// and the .pth weights are used as they are, with no transpose at load.

extension Tensor {
    /// 2-D convolution of `x` [N, C, H, W] with `weight` [O, C/groups, k, k] (square kernel) and an
    /// optional `bias` [O] → [N, O, Ho, Wo], with Ho = (H + 2·padding − k) / stride + 1 (PyTorch's
    /// `F.conv2d`). `padding` is symmetric zero padding, by default (k − 1) / 2 ("same" for odd
    /// k at stride 1). `groups` is 1 (dense) or C with O = C (depthwise, one k×k filter per
    /// channel); other group counts are not supported.
    ///
    /// Paths: k = 1, stride 1, padding 0 is a plain sgemm per image; other dense convolutions go
    /// through im2col + sgemm (the column matrix is rebuilt in backward rather than kept);
    /// depthwise is a direct loop. All have a VJP for the input, weight and bias.
    ///
    /// `relu6` applies ReLU6 to the result: fused into the kernels when nothing is recorded
    /// (inference, a frozen tower), else as the separate `relu6()` op so gradients flow.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int? = nil,
                              groups: Int = 1, relu6: Bool = false) -> Tensor {
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        if relu6 && willRecord(inputs) {
            return conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, groups: groups).relu6()
        }
        require(x.rank == 4, "conv2d: input must be [N, C, H, W], got \(x.shape)")
        require(weight.rank == 4 && weight.shape[2] == weight.shape[3] && weight.shape[2] > 0,
                "conv2d: weight must be [O, C/groups, k, k] with a square kernel, got \(weight.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (weight.shape[0], weight.shape[2])
        let p = padding ?? (k - 1) / 2
        require(stride >= 1 && p >= 0, "conv2d: stride \(stride), padding \(p)")
        require(groups == 1 || (groups == c && o == c && weight.shape[1] == 1),
                "conv2d: groups \(groups) with input channels \(c) and weight \(weight.shape): only dense (groups 1) or depthwise (groups = C = O, weight [C, 1, k, k])")
        require(groups != 1 || weight.shape[1] == c, "conv2d: weight \(weight.shape) for \(c) input channels")
        require(bias == nil || bias!.count == o, "conv2d: bias of \(bias!.count) for \(o) output channels")
        require(h + 2 * p >= k && w + 2 * p >= k, "conv2d: kernel \(k) larger than the padded input \(h)×\(w) (padding \(p))")
        let geo = ConvGeometry(c: c, h: h, w: w, k: k, stride: stride, pad: p)
        let out = Tensor(uninitialized: [n, o, geo.ho, geo.wo])
        let depthwise = groups != 1
        if depthwise {
            depthwiseForward(x, weight, bias, out, geo, n: n, relu6: relu6)
        } else {
            denseForward(x, weight, bias, out, geo, n: n, o: o, relu6: relu6)
        }
        if relu6 { return out }  // fused: only when nothing is recorded
        return record(.conv2d, inputs, out) { g in
            let needX = x.requiresGrad || x.tracked, needW = weight.requiresGrad || weight.tracked
            let needB = bias.map { $0.requiresGrad || $0.tracked } ?? false
            var grads: [Tensor?]
            if depthwise {
                let (dx, dw) = depthwiseBackward(x, weight, g, geo, n: n, needX: needX, needW: needW)
                grads = [dx, dw]
            } else {
                let (dx, dw) = denseBackward(x, weight, g, geo, n: n, o: o, needX: needX, needW: needW)
                grads = [dx, dw]
            }
            if bias != nil {
                grads.append(needB ? channelSums(g, n: n, channels: o, plane: geo.ho * geo.wo) : nil)
            }
            return grads
        }
    }

    /// ReLU6: min(max(x, 0), 6) (MobileNet, EfficientNet-Lite). The gradient passes where
    /// 0 < x < 6 and is 0 elsewhere (at the kinks as well, like PyTorch's `hardtanh`). NaN stays NaN.
    public func relu6() -> Tensor {
        let out = Tensor(uninitialized: shape)
        clampReLU6(data, out.data, count)
        return record(.relu6, [self], out) { [self] g in
            let dx = Tensor(uninitialized: shape)
            Kernels.zip(data, g.data, dx.data, count) { x, g in
                g.replacing(with: 0, where: (x .<= 0) .| (x .>= 6))
            }
            return [dx]
        }
    }

    /// Global average pooling: [N, C, H, W] → [N, C], the mean of each channel's plane.
    public func globalAveragePool() -> Tensor {
        require(rank == 4, "globalAveragePool: input must be [N, C, H, W], got \(shape)")
        let planes = shape[0] * shape[1], plane = shape[2] * shape[3]
        let out = Tensor(uninitialized: [shape[0], shape[1]])
        let inv = 1 / Float(Swift.max(plane, 1))
        for i in 0..<planes { out.data[i] = Kernels.sum(data + i * plane, plane) * inv }
        return record(.globalAveragePool, [self], out) { [shape] g in
            let dx = Tensor(uninitialized: shape)
            for i in 0..<planes { (dx.data + i * plane).update(repeating: g.data[i] * inv, count: plane) }
            return [dx]
        }
    }
}

/// Sizes of one convolution, shared by forward and backward.
struct ConvGeometry {
    let c: Int, h: Int, w: Int, k: Int, stride: Int, pad: Int
    let ho: Int, wo: Int

    init(c: Int, h: Int, w: Int, k: Int, stride: Int, pad: Int) {
        self.c = c; self.h = h; self.w = w; self.k = k; self.stride = stride; self.pad = pad
        ho = (h + 2 * pad - k) / stride + 1
        wo = (w + 2 * pad - k) / stride + 1
    }

    /// True for the convolution that is a plain product: 1×1, stride 1, no padding.
    var isPointwise: Bool { k == 1 && stride == 1 && pad == 0 }

    /// Output columns ox whose input column ox·stride + kx − pad lies inside 0..<w.
    @inline(__always) func columns(_ kx: Int) -> Range<Int> {
        let lo = pad - kx <= 0 ? 0 : (pad - kx + stride - 1) / stride
        let last = w - 1 + pad - kx
        let hi = last < 0 ? 0 : Swift.min(wo, last / stride + 1)
        return lo..<Swift.max(lo, hi)
    }

    /// Input row of output row oy and kernel row ky, or nil in the padding.
    @inline(__always) func inputRow(_ oy: Int, _ ky: Int) -> Int? {
        let iy = oy * stride + ky - pad
        return iy >= 0 && iy < h ? iy : nil
    }
}

/// out[n, o] = Σ_c W[o, c] ∗ x[n, c] + b[o]: one sgemm per image, through im2col unless pointwise.
private func denseForward(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ out: Tensor, _ geo: ConvGeometry, n: Int, o: Int,
                          relu6: Bool) {
    let plane = geo.ho * geo.wo, ckk = geo.c * geo.k * geo.k
    let cols = geo.isPointwise ? nil : Tensor(uninitialized: [ckk, plane])
    for b in 0..<n {
        let y = out.data + b * o * plane
        if let bias { for oc in 0..<o { (y + oc * plane).update(repeating: bias.data[oc], count: plane) } }
        let xb = x.data + b * geo.c * geo.h * geo.w
        if let cols { im2col(xb, cols.data, geo) }
        sgemm(transA: false, transB: false, m: o, n: plane, k: ckk, a: weight.data, lda: ckk,
              b: cols?.data ?? xb, ldb: plane, beta: bias == nil ? 0 : 1, c: y, ldc: plane)
        if relu6 { clampReLU6(y, y, o * plane) }  // while the image's output is still in cache
    }
}

/// y = min(max(x, 0), 6); NaN stays NaN. In place when x == y.
func clampReLU6(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    Kernels.map(x, y, n) { x in
        let lo = x.replacing(with: 0, where: x .< 0)
        return lo.replacing(with: 6, where: lo .> 6)
    }
}

/// True when an op on `inputs` would be recorded on this thread's tape.
func willRecord(_ inputs: [Tensor]) -> Bool {
    inputs.contains(where: { $0.tracked || $0.requiresGrad }) && Tape.current.gradEnabled
}

private func denseBackward(_ x: Tensor, _ weight: Tensor, _ g: Tensor, _ geo: ConvGeometry, n: Int, o: Int,
                           needX: Bool, needW: Bool) -> (Tensor?, Tensor?) {
    let plane = geo.ho * geo.wo, ckk = geo.c * geo.k * geo.k, inPlane = geo.h * geo.w
    let dx = needX ? Tensor(uninitialized: x.shape) : nil
    let dw = needW ? Tensor(uninitialized: weight.shape) : nil
    let cols = geo.isPointwise ? nil : Tensor(uninitialized: [ckk, plane])
    for b in 0..<n {
        let xb = x.data + b * geo.c * inPlane, gb = g.data + b * o * plane
        if let dw {  // dW += g_b [O, P] · cols_bᵀ [P, CKK]
            if let cols { im2col(xb, cols.data, geo) }
            sgemm(transA: false, transB: true, m: o, n: ckk, k: plane, a: gb, lda: plane, b: cols?.data ?? xb, ldb: plane,
                  beta: b == 0 ? 0 : 1, c: dw.data, ldc: ckk)
        }
        if let dx {      // dcols = Wᵀ [CKK, O] · g_b [O, P], folded back onto the input
            let dxb = dx.data + b * geo.c * inPlane
            if let cols {
                sgemm(transA: true, transB: false, m: ckk, n: plane, k: o, a: weight.data, lda: ckk, b: gb, ldb: plane,
                      c: cols.data, ldc: plane)
                col2im(cols.data, dxb, geo)
            } else {
                sgemm(transA: true, transB: false, m: ckk, n: plane, k: o, a: weight.data, lda: ckk, b: gb, ldb: plane,
                      c: dxb, ldc: plane)
            }
        }
    }
    return (dx, dw)
}

/// cols[(c·k + ky)·k + kx, oy·Wo + ox] = x[c, oy·s + ky − p, ox·s + kx − p], 0 in the padding.
private func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, _ geo: ConvGeometry) {
    let (k, s, wo, plane) = (geo.k, geo.stride, geo.wo, geo.ho * geo.wo)
    for c in 0..<geo.c {
        for ky in 0..<k {
            for kx in 0..<k {
                let row = cols + ((c * k + ky) * k + kx) * plane
                let range = geo.columns(kx)
                for oy in 0..<geo.ho {
                    let dst = row + oy * wo
                    guard let iy = geo.inputRow(oy, ky) else { dst.update(repeating: 0, count: wo); continue }
                    let src = x + (c * geo.h + iy) * geo.w + kx - geo.pad
                    if range.lowerBound > 0 { dst.update(repeating: 0, count: range.lowerBound) }
                    if s == 1 {
                        (dst + range.lowerBound).update(from: src + range.lowerBound, count: range.count)
                    } else {
                        for ox in range { dst[ox] = src[ox * s] }
                    }
                    if range.upperBound < wo { (dst + range.upperBound).update(repeating: 0, count: wo - range.upperBound) }
                }
            }
        }
    }
}

/// The adjoint of im2col: dx[c, iy, ix] = Σ of the column entries that read it (dx overwritten).
private func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ geo: ConvGeometry) {
    let (k, s, wo, plane) = (geo.k, geo.stride, geo.wo, geo.ho * geo.wo)
    dx.update(repeating: 0, count: geo.c * geo.h * geo.w)
    for c in 0..<geo.c {
        for ky in 0..<k {
            for kx in 0..<k {
                let row = cols + ((c * k + ky) * k + kx) * plane
                let range = geo.columns(kx)
                for oy in 0..<geo.ho {
                    guard let iy = geo.inputRow(oy, ky) else { continue }
                    let src = row + oy * wo
                    let dst = dx + (c * geo.h + iy) * geo.w + kx - geo.pad
                    for ox in range { dst[ox * s] += src[ox] }
                }
            }
        }
    }
}

/// One k×k filter per channel, planes split across threads.
///
/// Each input plane is copied into zero-bordered scratch planes split by phase: for stride s,
/// s·s planes of P = ⌈(h+2p)/s⌉ × Q = ⌈(w+2p)/s⌉ holding the padded pixels whose row and column
/// are ≡ (i, j) mod s. Output (oy, ox) with tap (ky, kx) then reads phase (ky mod s, kx mod s)
/// at (oy + ky/s, ox + kx/s), so with output rows laid Q apart, one kernel row (ky) adds into
/// the whole plane as a single long loop over ho·Q positions with k streams, no bounds checks and
/// no per-row overhead; the Q − wo spare columns per row are dropped at the end. Plain scalar
/// loops that the compiler vectorizes (16-lane vectors with partial tails measured ~10x slower
/// on these 7–112-wide rows).
private func depthwiseForward(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ out: Tensor, _ geo: ConvGeometry, n: Int,
                              relu6: Bool) {
    let (c, k, s, p) = (geo.c, geo.k, geo.stride, geo.pad)
    let (h, w, ho, wo) = (geo.h, geo.w, geo.ho, geo.wo)
    let inPlane = h * w, plane = ho * wo
    let ph = (h + 2 * p + s - 1) / s, q = (w + 2 * p + s - 1) / s
    let phaseSize = ph * q + k  // slack: the last row's spare columns read up to k/s past the end
    let span = ho * q
    let xd = x.data, yd = out.data, wd = weight.data, bd = bias?.data
    parallelChunks(n * c, cost: plane * k * k) { r in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: s * s * phaseSize + span)
        defer { scratch.deallocate() }
        scratch.update(repeating: 0, count: s * s * phaseSize)  // borders stay zero: only the interior is rewritten
        let acc = scratch + s * s * phaseSize                    // [ho, q]
        for nc in r {
            let ch = nc % c
            let xp = xd + nc * inPlane, yp = yd + nc * plane, wk = wd + ch * k * k
            for iy in 0..<h {
                let src = xp + iy * w, row = iy + p
                let dst = scratch + ((row % s) * s) * phaseSize + (row / s) * q
                if s == 1 {
                    (dst + p).update(from: src, count: w)
                } else {
                    for ix in 0..<w { let col = ix + p; dst[(col % s) * phaseSize + col / s] = src[ix] }
                }
            }
            acc.update(repeating: bd?[ch] ?? 0, count: span)
            for ky in 0..<k {
                let base = scratch + ((ky % s) * s) * phaseSize + (ky / s) * q
                func tap(_ kx: Int) -> UnsafePointer<Float> { UnsafePointer(base + (kx % s) * phaseSize + kx / s) }
                let wr = wk + ky * k
                switch k {
                case 3:
                    let (s0, s1, s2, w0, w1, w2) = (tap(0), tap(1), tap(2), wr[0], wr[1], wr[2])
                    for i in 0..<span { acc[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i] }
                case 5:
                    let (s0, s1, s2, s3, s4) = (tap(0), tap(1), tap(2), tap(3), tap(4))
                    let (w0, w1, w2, w3, w4) = (wr[0], wr[1], wr[2], wr[3], wr[4])
                    for i in 0..<span { acc[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i] + w4 * s4[i] }
                default:
                    for kx in 0..<k {
                        let sp = tap(kx), wv = wr[kx]
                        for i in 0..<span { acc[i] += wv * sp[i] }
                    }
                }
            }
            for oy in 0..<ho { (yp + oy * wo).update(from: acc + oy * q, count: wo) }
            if relu6 { clampReLU6(yp, yp, plane) }
        }
    }
}

/// dx and dW of a depthwise convolution; channels split across threads, each accumulating its
/// filter's gradient over the batch in order (so results do not depend on the thread count).
private func depthwiseBackward(_ x: Tensor, _ weight: Tensor, _ g: Tensor, _ geo: ConvGeometry, n: Int,
                               needX: Bool, needW: Bool) -> (Tensor?, Tensor?) {
    let (c, k, s) = (geo.c, geo.k, geo.stride)
    let inPlane = geo.h * geo.w, plane = geo.ho * geo.wo
    let dx = needX ? Tensor(zeros: x.shape) : nil
    let dw = needW ? Tensor(zeros: weight.shape) : nil
    parallelChunks(c, cost: n * plane * k * k * 2) { r in
        for ch in r {
            let wp = weight.data + ch * k * k
            for b in 0..<n {
                let nc = b * c + ch
                let xp = x.data + nc * inPlane, gp = g.data + nc * plane
                for oy in 0..<geo.ho {
                    let grow = gp + oy * geo.wo
                    for ky in 0..<k {
                        guard let iy = geo.inputRow(oy, ky) else { continue }
                        for kx in 0..<k {
                            let range = geo.columns(kx), off = iy * geo.w + kx - geo.pad
                            if let dw {
                                var acc: Float = 0
                                let src = xp + off
                                if s == 1 {
                                    acc = Kernels.dot(grow + range.lowerBound, src + range.lowerBound, range.count)
                                } else {
                                    for ox in range { acc += grow[ox] * src[ox * s] }
                                }
                                dw.data[ch * k * k + ky * k + kx] += acc
                            }
                            if let dx {
                                let wv = wp[ky * k + kx], dst = dx.data + nc * inPlane + off
                                for ox in range { dst[ox * s] += wv * grow[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
    return (dx, dw)
}

/// Σ of g [N, C, P] over images and positions → [C].
private func channelSums(_ g: Tensor, n: Int, channels: Int, plane: Int) -> Tensor {
    let out = Tensor(zeros: [channels])
    for b in 0..<n {
        for ch in 0..<channels { out.data[ch] += Kernels.sum(g.data + (b * channels + ch) * plane, plane) }
    }
    return out
}
