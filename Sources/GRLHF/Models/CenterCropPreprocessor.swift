import Foundation

/// ImageNet-style preprocessing: resize so the short side is `shortSide`, cut the central
/// `crop` × `crop` square, scale to 0…1 and normalize per channel; output [3, crop, crop] RGB.
/// EfficientNet-Lite0's is `.efficientNetLite` (256, 224, mean 0.498, std 0.502).
///
/// Defined exactly (and tested against PyTorch within 1e-5):
/// 1. Samples become floats 0…255 (gray and gray+alpha read as RGB, alpha dropped).
/// 2. The resized size is torchvision's `Resize(shortSide)`: the short side becomes `shortSide`,
///    the long side `Int(shortSide · long / short)` (truncated).
/// 3. Bilinear interpolation with half-pixel centres, i.e. PyTorch `F.interpolate(mode:
///    "bilinear", align_corners=False)` on the float image: source = (dst + 0.5) · in/out − 0.5,
///    clamped at 0, edge pixels repeated. With `antialias` (off by default) a downscale widens
///    the triangle filter to the scale factor, as `F.interpolate(..., antialias=True)` and
///    PIL's bilinear resize do; upscaling is the same either way. Results are not rounded back
///    to 8 bits (PIL would round; that changes values by up to 0.5/255).
/// 4. Center crop at top = round((h − crop) / 2), left = round((w − crop) / 2), halves to even
///    (torchvision's `center_crop`). Only the cropped pixels are ever computed.
/// 5. value = (x / 255 − mean[c]) / std[c].
public struct CenterCropPreprocessor: Codable, Equatable, Sendable {
    public var shortSide: Int
    public var crop: Int
    public var mean: [Float]
    public var std: [Float]
    public var antialias: Bool

    enum CodingKeys: String, CodingKey {
        case shortSide = "short_side", crop, mean, std, antialias
    }

    public init(shortSide: Int, crop: Int, mean: [Float] = [0.5, 0.5, 0.5], std: [Float] = [0.5, 0.5, 0.5], antialias: Bool = false) {
        self.shortSide = shortSide; self.crop = crop; self.mean = mean; self.std = std; self.antialias = antialias
    }

    /// EfficientNet-Lite's reference input: short side 256, center 224, (x/255 − 0.498)/0.502.
    public static let efficientNetLite = CenterCropPreprocessor(shortSide: 256, crop: 224, mean: [0.498, 0.498, 0.498],
                                                                std: [0.502, 0.502, 0.502])

    public func validate() throws {
        guard crop > 0, shortSide >= crop, shortSide <= 8192, mean.count == 3, std.count == 3,
              std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw GRLHFError.invalidArgument("CenterCropPreprocessor: short side \(shortSide), crop \(crop), mean \(mean), std \(std) invalid (need 0 < crop ≤ short side ≤ 8192)")
        }
    }

    /// The resized size (height, width) of an image of `height` × `width`.
    public func resizedSize(height: Int, width: Int) -> (height: Int, width: Int) {
        if height <= width { return (shortSide, Int(Double(shortSide) * Double(width) / Double(height))) }
        return (Int(Double(shortSide) * Double(height) / Double(width)), shortSide)
    }

    /// [3, crop, crop] for a decoded PNG.
    public func callAsFunction(_ image: PNG.Image) throws -> Tensor {
        try validate()
        let (w, h, ch) = (image.width, image.height, image.channels)
        guard w > 0, h > 0, (1...4).contains(ch), image.pixels.count == w * h * ch else {
            throw GRLHFError.invalidArgument("CenterCropPreprocessor: image \(w)×\(h)×\(ch) invalid")
        }
        let (nh, nw) = resizedSize(height: h, width: w)
        let top = Int((Double(nh - crop) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(nw - crop) / 2).rounded(.toNearestOrEven))
        let xs = ResizeTaps(input: w, output: nw, range: left..<left + crop, antialias: antialias)
        let ys = ResizeTaps(input: h, output: nh, range: top..<top + crop, antialias: antialias)
        // Pass 1, along rows: every input row at the crop's columns → [3, h, crop].
        var rows = [Float](repeating: 0, count: 3 * h * crop)
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<h {
                for j in 0..<crop {
                    let start = xs.start[j]
                    for c in 0..<3 {
                        let channel = ch >= 3 ? c : 0  // gray (+alpha): every colour channel reads the gray value
                        var acc: Float = 0
                        for t in 0..<xs.taps {
                            acc += xs.weights[j * xs.taps + t] * Float(px[(y * w + start + t) * ch + channel])
                        }
                        rows[(c * h + y) * crop + j] = acc
                    }
                }
            }
        }
        // Pass 2, along columns, then normalization.
        let out = Tensor(uninitialized: [3, crop, crop])
        for c in 0..<3 {
            for i in 0..<crop {
                let start = ys.start[i]
                for j in 0..<crop {
                    var acc: Float = 0
                    for t in 0..<ys.taps { acc += ys.weights[i * ys.taps + t] * rows[(c * h + start + t) * crop + j] }
                    out.data[(c * crop + i) * crop + j] = (acc / 255 - mean[c]) / std[c]
                }
            }
        }
        return out
    }
}

/// Interpolation taps of a 1-D resize from `input` to `output` samples, for the outputs in
/// `range`: output i reads `taps` consecutive inputs from `start[i]` with `weights` (zero-padded,
/// starts clamped so every tap stays inside the input).
struct ResizeTaps {
    var taps: Int
    var start: [Int]
    var weights: [Float]

    init(input: Int, output: Int, range: Range<Int>, antialias: Bool) {
        let scale = Float(input) / Float(output)
        var starts: [Int] = [], lists: [[Float]] = []
        for i in range {
            if antialias && scale > 1 {
                // PyTorch's _compute_weights_aa: a triangle of half-width `scale` around the centre.
                let center = scale * (Float(i) + 0.5), support = scale, inv = 1 / scale
                let lo = Swift.max(Int(center - support + 0.5), 0)
                let hi = Swift.min(Int(center + support + 0.5), input)
                var ws = (lo..<hi).map { j in Swift.max(0, 1 - abs((Float(j) - center + 0.5) * inv)) }
                let total = ws.reduce(0, +)
                if total != 0 { ws = ws.map { $0 / total } }
                starts.append(lo); lists.append(ws)
            } else {
                // PyTorch's area_pixel_compute_source_index (align_corners false) + linear weights.
                let src = Swift.max(0, scale * (Float(i) + 0.5) - 0.5)
                let x0 = Swift.min(Int(src), input - 1)
                let t = Swift.min(Swift.max(src - Float(x0), 0), 1)
                if x0 + 1 < input { starts.append(x0); lists.append([1 - t, t]) } else { starts.append(x0); lists.append([1]) }
            }
        }
        taps = lists.map(\.count).max() ?? 1
        start = []; weights = []
        for (s, ws) in zip(starts, lists) {
            // Shift a window that would run past the end back inside, its weights with it.
            let s2 = Swift.max(0, Swift.min(s, input - taps))
            var padded = [Float](repeating: 0, count: taps)
            for (t, wv) in ws.enumerated() { padded[s - s2 + t] = wv }
            start.append(s2); weights.append(contentsOf: padded)
        }
    }
}
