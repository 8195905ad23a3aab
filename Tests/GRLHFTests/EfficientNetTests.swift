import Foundation
import Testing
@testable import GRLHF

// EfficientNet-Lite0 and its ops against PyTorch: golden files made offline by
// Fixtures/efficientnet/make_effnet_fixtures.py (torch's conv2d, batch_norm and interpolate;
// the tests themselves need no torch).

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/efficientnet")
private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
/// The real weights, when fetched (`make models`).
private let weightsPath = root.appendingPathComponent(".cache/models/efficientnet-lite0-57934424.pth").path
private let weightsPresent = FileManager.default.fileExists(atPath: weightsPath)

private func golden(_ file: String) throws -> [String: Tensor] {
    Dictionary(try Safetensors.read(contentsOf: fixtures.appendingPathComponent(file).path).map { ($0.name, $0.tensor) },
               uniquingKeysWith: { a, _ in a })
}

private func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "\(a.shape) vs \(b.shape)")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a.data[i] - b.data[i])) }
    return m
}

@Suite struct ConvolutionTests {
    /// Forward and all three gradients of every fixture case against torch.nn.functional.conv2d.
    @Test(arguments: ["stem3x3s2", "pointwise", "pointwise_s2", "general5x5", "depthwise3x3", "depthwise5x5s2", "depthwise3x3s2_even"])
    func matchesTorch(_ name: String) throws {
        let g = try golden("conv.safetensors")
        let x = g["\(name).x"]!.copy(), w = g["\(name).weight"]!.copy(), bias = g["\(name).bias"]?.copy()
        let stride = Int(g["\(name).stride"]!.item)
        let groups = w.shape[1] == 1 && x.shape[1] > 1 ? x.shape[1] : 1
        for t in [x, w] + (bias.map { [$0] } ?? []) { t.requiresGrad = true }
        let y = Tensor.conv2d(x, weight: w, bias: bias, stride: stride, groups: groups)
        #expect(y.shape == g["\(name).y"]!.shape)
        #expect(maxAbsDiff(y, g["\(name).y"]!) < 1e-5, "\(name) forward")
        y.backward(seed: g["\(name).seed"]!)
        #expect(maxAbsDiff(x.grad!, g["\(name).dx"]!) < 1e-5, "\(name) dx")
        #expect(maxAbsDiff(w.grad!, g["\(name).dweight"]!) < 1e-4, "\(name) dweight")
        if let bias { #expect(maxAbsDiff(bias.grad!, g["\(name).dbias"]!) < 1e-4, "\(name) dbias") }
    }

    /// ReLU6 fused into the kernels (nothing recorded) equals the separate op, on every path;
    /// with gradients on, the fused flag falls back to the two recorded ops.
    @Test func fusedReLU6() {
        var rng = PCG32(seed: 5)
        let x = Tensor.randn([2, 4, 9, 10], std: 3, rng: &rng)
        let cases: [(Tensor, Int, Int)] = [(Tensor.randn([5, 4, 3, 3], rng: &rng), 2, 1), (Tensor.randn([5, 4, 1, 1], rng: &rng), 1, 1),
                                           (Tensor.randn([4, 1, 5, 5], rng: &rng), 2, 4), (Tensor.randn([4, 1, 3, 3], rng: &rng), 1, 4)]
        for (w, stride, groups) in cases {
            let b = Tensor.randn([w.shape[0]], rng: &rng)
            let fused = Tensor.conv2d(x, weight: w, bias: b, stride: stride, groups: groups, relu6: true)
            let plain = Tensor.conv2d(x, weight: w, bias: b, stride: stride, groups: groups).relu6()
            #expect(fused.scalars == plain.scalars)
            let wg = w.copy(); wg.requiresGrad = true
            Tensor.conv2d(x, weight: wg, bias: b, stride: stride, groups: groups, relu6: true).sum().backward()
            let wp = w.copy(); wp.requiresGrad = true
            Tensor.conv2d(x, weight: wp, bias: b, stride: stride, groups: groups).relu6().sum().backward()
            #expect(wg.grad!.scalars == wp.grad!.scalars)
        }
    }

    @Test func relu6AndPooling() {
        let x = Tensor([-1, 0, 0.5, 5.99, 6, 7, -.infinity, .infinity], shape: [8])
        #expect(x.relu6().scalars == [0, 0, 0.5, 5.99, 6, 6, 0, 6])
        #expect(Tensor([.nan], shape: [1]).relu6().item.isNaN)
        let m = Tensor((0..<12).map(Float.init), shape: [1, 2, 2, 3])
        #expect(m.globalAveragePool().shape == [1, 2])
        #expect(m.globalAveragePool().scalars == [2.5, 8.5])
    }
}

@Suite struct CenterCropPreprocessorTests {
    func image(transposed: Bool = false) throws -> PNG.Image {
        let im = try PNG.read(contentsOf: fixtures.appendingPathComponent("resize.png").path)
        guard transposed else { return im }
        var t = PNG.Image(width: im.height, height: im.width, channels: im.channels, pixels: im.pixels)
        for y in 0..<im.height { for x in 0..<im.width { for c in 0..<im.channels {
            t.pixels[(x * im.height + y) * im.channels + c] = im.pixels[(y * im.width + x) * im.channels + c]
        } } }
        return t
    }

    /// Resize (up, down, portrait, antialiased), crop and normalization within 1e-5 of
    /// F.interpolate(bilinear, align_corners=False) on the float image, on a 29x19 crop of a photo.
    @Test(arguments: [("up_30_24", 30, 24, false, false), ("down_12_10", 12, 10, false, false),
                      ("portrait_up_30_24", 30, 24, false, true), ("aa_down_12_10", 12, 10, true, false),
                      ("aa_down_17_15", 17, 15, true, false), ("aa_up_30_24", 30, 24, true, false)])
    func matchesTorch(_ name: String, _ short: Int, _ crop: Int, _ antialias: Bool, _ transposed: Bool) throws {
        let p = CenterCropPreprocessor(shortSide: short, crop: crop, mean: [0.498, 0.498, 0.498], std: [0.502, 0.502, 0.502],
                                       antialias: antialias)
        let out = try p(image(transposed: transposed))
        let expected = try golden("preprocess.safetensors")[name]!
        #expect(out.shape == expected.shape)
        #expect(maxAbsDiff(out, expected) < 1e-5, "\(name): \(maxAbsDiff(out, expected))")
    }

    /// The real setting on a photo: a 256x256 image is only cropped (first three rows checked).
    @Test func efficientNetSettingOnAPhoto() throws {
        let out = try CenterCropPreprocessor.efficientNetLite(PNG.read(contentsOf: fixtures.appendingPathComponent("chelsea.png").path))
        #expect(out.shape == [3, 224, 224])
        let expected = try golden("preprocess.safetensors")["chelsea_256_224_rows0to2"]!
        var worst: Float = 0
        for c in 0..<3 { for i in 0..<3 * 224 { worst = max(worst, abs(out.data[c * 224 * 224 + i] - expected.data[c * 3 * 224 + i])) } }
        #expect(worst < 1e-5)
    }

    @Test func sizesAndErrors() throws {
        let p = CenterCropPreprocessor.efficientNetLite
        #expect(p.resizedSize(height: 300, width: 451) == (256, 384))
        #expect(p.resizedSize(height: 640, width: 427) == (383, 256))
        let gray = PNG.Image(width: 5, height: 9, fill: [200])
        let out = try CenterCropPreprocessor(shortSide: 4, crop: 3)(gray)
        #expect(out.shape == [3, 3, 3] && out.scalars.allSatisfy { abs($0 - (200 / 255 - 0.5) / 0.5) < 1e-6 })
        #expect(throws: GRLHFError.self) { try CenterCropPreprocessor(shortSide: 10, crop: 11)(gray) }
        #expect(throws: GRLHFError.self) { try p(PNG.Image(width: 0, height: 3, fill: [1, 2, 3])) }
    }
}

/// A state dict shaped like the .pth (random values; variances positive).
private func syntheticStateDict() -> [String: Tensor] {
    var rng = PCG32(seed: 11)
    var sd: [String: Tensor] = [:]
    func bn(_ p: String, _ n: Int) {
        sd[p + ".weight"] = Tensor.uniform([n], low: 0.5, high: 1.5, rng: &rng)
        sd[p + ".bias"] = Tensor.randn([n], std: 0.1, rng: &rng)
        sd[p + ".running_mean"] = Tensor.randn([n], std: 0.1, rng: &rng)
        sd[p + ".running_var"] = Tensor.uniform([n], low: 0.5, high: 2, rng: &rng)
        sd[p + ".num_batches_tracked"] = Tensor(scalar: 0)
    }
    func conv(_ name: String, _ shape: [Int]) { sd[name + ".weight"] = Tensor.randn(shape, std: 0.1, rng: &rng) }
    conv("_conv_stem", [32, 3, 3, 3]); bn("_bn0", 32)
    for (i, s) in EfficientNetLite0.blockSpecs.enumerated() {
        let p = "_blocks.\(i).", mid = s.input * s.expand
        if s.expand != 1 { conv(p + "_expand_conv", [mid, s.input, 1, 1]); bn(p + "_bn0", mid) }
        conv(p + "_depthwise_conv", [mid, 1, s.kernel, s.kernel]); bn(p + "_bn1", mid)
        conv(p + "_project_conv", [s.output, mid, 1, 1]); bn(p + "_bn2", s.output)
    }
    conv("_conv_head", [1280, 320, 1, 1]); bn("_bn1", 1280)
    sd["_fc.weight"] = Tensor.randn([1000, 1280], std: 0.01, rng: &rng)
    sd["_fc.bias"] = Tensor(zeros: [1000])
    return sd
}

@Suite struct EfficientNetLoaderTests {
    /// Every tensor of the .pth is checked: 296 entries, 4,631,000 parameters once folded.
    @Test func loadsAndFolds() throws {
        let sd = syntheticStateDict()
        #expect(sd.count == 296)
        let m = try EfficientNetLite0(stateDict: sd)
        #expect(m.namedParameters().count == 2 + 2 * (16 * 3 - 1) + 2 + 2)
        #expect(m.parameters.allSatisfy { !$0.requiresGrad })
        // Folding: the stem's first output channel equals conv then batch norm, by hand.
        let w = sd["_conv_stem.weight"]!, g = sd["_bn0.weight"]!, b = sd["_bn0.bias"]!
        let mu = sd["_bn0.running_mean"]!, v = sd["_bn0.running_var"]!
        let scale = g.data[0] / (v.data[0] + 1e-3).squareRoot()
        let stem = m.stateDict()
        #expect(abs(stem["_conv_stem.weight"]!.data[5] - w.data[5] * scale) < 1e-6)
        #expect(abs(stem["_conv_stem.bias"]!.data[0] - (b.data[0] - mu.data[0] * scale)) < 1e-6)
    }

    @Test func reportsMissingWrongAndExtraTensors() throws {
        var sd = syntheticStateDict()
        sd["_blocks.7._bn1.running_var"] = nil
        #expect { try EfficientNetLite0(stateDict: sd) } throws: { "\($0)".contains("missing tensor _blocks.7._bn1.running_var") }
        sd = syntheticStateDict()
        sd["_blocks.3._depthwise_conv.weight"] = Tensor(zeros: [144, 1, 3, 3])
        #expect { try EfficientNetLite0(stateDict: sd) } throws: {
            "\($0)".contains("_blocks.3._depthwise_conv.weight has shape [144, 1, 3, 3], expected [144, 1, 5, 5]")
        }
        sd = syntheticStateDict()
        sd["_blocks.16._project_conv.weight"] = Tensor(zeros: [1])
        #expect { try EfficientNetLite0(stateDict: sd) } throws: { "\($0)".contains("unexpected tensors _blocks.16._project_conv.weight") }
        sd = syntheticStateDict()
        sd["_bn1.running_var"]!.data[3] = -1
        #expect(throws: GRLHFError.self) { try EfficientNetLite0(stateDict: sd) }
        #expect(throws: GRLHFError.self) { try EfficientNetLite0(contentsOf: "/nonexistent/model.onnx") }
        #expect(throws: PyTorchCheckpointError.self) { try EfficientNetLite0(contentsOf: "/nonexistent/model.pth") }
    }

    /// Shapes of every output, on a small input (the trunk is fully convolutional).
    @Test func outputShapes() throws {
        let m = try EfficientNetLite0(stateDict: syntheticStateDict())
        var rng = PCG32(seed: 1)
        let x = Tensor.randn([2, 3, 64, 96], rng: &rng)
        withNoGrad {
            #expect(m.featureMap(x).shape == [2, 1280, 2, 3])
            #expect(m.pooled(x).shape == [2, 1280])
            #expect(m.logits(x).shape == [2, 1000])
        }
        let encoder: any VisionEncoder = m
        #expect(encoder.tokensPerImage == 49 && encoder.featureWidth == 1280 && encoder.imageSize == 224)
        m.tokens = .pooled
        #expect(m.tokensPerImage == 1)
    }
}

private struct Reference: Decodable {
    struct Photo: Decodable {
        var name: String, file: String, top5: [Int], top5_logits: [Double], pooled_first8: [Double], pooled_l2: Double
    }
    var photos: [Photo]
}

/// The real network, loaded once for the suite.
private enum RealWeights {
    static let model = Result { try EfficientNetLite0(contentsOf: weightsPath) }
}

/// The real ImageNet weights on five real photos against the PyTorch reference forward (BN not
/// folded, float64). Skipped when the weights are not in .cache/models.
@Suite(.serialized, .enabled(if: weightsPresent, "EfficientNet-Lite0 not fetched: run `make models` (.cache/models/efficientnet-lite0-57934424.pth)"))
struct EfficientNetLite0RealWeightsTests {
    /// The .pth read directly and the same tensors through a safetensors round trip build the same network.
    @Test func pthAndSafetensorsAgree() throws {
        let tensors = try PyTorchCheckpoint.read(contentsOf: weightsPath)
        let floats = tensors.filter { !$0.name.hasSuffix("num_batches_tracked") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effnet-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Safetensors.write(floats, to: path)
        let a = try RealWeights.model.get(), b = try EfficientNetLite0(contentsOf: path)
        #expect(a.namedParameters().map(\.name) == b.namedParameters().map(\.name))
        #expect(zip(a.parameters, b.parameters).allSatisfy { $0.scalars == $1.scalars })
    }

    @Test func photosMatchReference() throws {
        let m = try RealWeights.model.get()
        #expect(m.parameterCount == 4_631_000)
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixtures.appendingPathComponent("reference.json")))
        let arrays = try golden("reference.safetensors")
        let images = Tensor.concat(try ref.photos.map { try EfficientNetLite0.pixels(pngAt: fixtures.appendingPathComponent($0.file).path) },
                                   axis: 0)                                                    // [5, 3, 224, 224]
        let (pooled, logits, tokens) = withNoGrad { () -> (Tensor, Tensor, Tensor) in
            let map = m.featureMap(images)                                                     // [5, 1280, 7, 7]
            let pooled = map.globalAveragePool()
            return (pooled, m.classify(pooled: pooled), map.reshape(5, 1280, 49).transpose())
        }
        var worstLogit: Float = 0, worstPooled: Float = 0, worstToken: Float = 0
        for (i, photo) in ref.photos.enumerated() {
            let row = Tensor(Array(logits.scalars[i * 1000..<(i + 1) * 1000]), shape: [1000])
            let top = (0..<1000).sorted { row.data[$0] > row.data[$1] }
            #expect(top[0] == photo.top5[0], "\(photo.name): top-1 \(top[0]), reference \(photo.top5[0])")
            #expect(Array(top.prefix(5)) == photo.top5, "\(photo.name): top-5")
            worstLogit = max(worstLogit, maxAbsDiff(row, arrays["\(photo.name).logits"]!))
            let p = Tensor(Array(pooled.scalars[i * 1280..<(i + 1) * 1280]), shape: [1280])
            worstPooled = max(worstPooled, maxAbsDiff(p, arrays["\(photo.name).pooled"]!))
            let sample = arrays["\(photo.name).tokens_sample"]!                                 // tokens 0, 24, 48; 16 values
            for (j, t) in [0, 24, 48].enumerated() {
                for k in 0..<16 { worstToken = max(worstToken, abs(tokens.data[(i * 49 + t) * 1280 + k] - sample.data[j * 16 + k])) }
            }
        }
        print("EfficientNet-Lite0 vs PyTorch reference: max |logit error| \(worstLogit), pooled \(worstPooled), tokens \(worstToken)")
        #expect(worstLogit < 1e-3)
        #expect(worstPooled < 1e-4)
        #expect(worstToken < 1e-4)
        #expect(ref.photos.map { $0.top5[0] } == [285, 967, 657, 985, 698])  // data.md §A2's table
    }

    @Test func visionEncoderTokens() throws {
        let m = try RealWeights.model.get()
        defer { m.tokens = .featureMap }
        let x = try EfficientNetLite0.pixels(pngAt: fixtures.appendingPathComponent("coffee.png").path)
        let arrays = try golden("reference.safetensors")
        withNoGrad {
            let t = m.features(x)
            #expect(t.shape == [1, 49, 1280])
            #expect(abs(t.data[24 * 1280 + 3] - arrays["coffee.tokens_sample"]!.data[16 + 3]) < 1e-4)
            m.tokens = .pooled
            let p = m.features(x)
            #expect(p.shape == [1, 1, 1280])
            #expect(maxAbsDiff(p, arrays["coffee.pooled"]!) < 1e-4)
        }
    }
}
