/// An image encoder whose output a multimodal model splices into its token sequence: pixel
/// values [B, 3, S, S] in, features [B, tokensPerImage, featureWidth] out, one row per image
/// token. `VisionTransformer` (patch tokens, CLS dropped) and `EfficientNetLite0` (the 7×7 map
/// as 49 tokens, or the pooled vector as one) conform.
public protocol VisionEncoder: Module {
    /// Side S of the square pixel input [B, 3, S, S].
    var imageSize: Int { get }
    /// Tokens one image becomes.
    var tokensPerImage: Int { get }
    /// Width of each token's feature vector.
    var featureWidth: Int { get }
    /// Features [B, tokensPerImage, featureWidth] for pixel values [B, 3, S, S].
    func features(_ images: Tensor) -> Tensor
}

extension VisionTransformer: VisionEncoder {
    public var imageSize: Int { config.imageSize }
    public var tokensPerImage: Int { config.patches }
    public var featureWidth: Int { config.hiddenSize }

    /// The final hidden states of the patches [B, N, D] (the CLS token dropped), row by row.
    public func features(_ images: Tensor) -> Tensor {
        let h = self(images)                                                      // [B, 1+N, D]
        return h.slice(axis: 1, 1..<h.shape[1])
    }
}
