import CPNG
import Foundation

/// PNG images in and out, through libpng's simplified API.
///
/// The simplified API runs libpng's `setjmp`/`longjmp` error handling entirely inside C and
/// reports failures in `png_image.message`, so no longjmp ever crosses a Swift frame and a
/// corrupt file becomes a thrown error, never a crash.
///
/// Reading keeps the file's own channel layout (gray, gray+alpha, RGB, RGBA; palettes expand to
/// RGB or RGBA, low bit depths expand to 8 bits) and returns 8 bits per sample. 16-bit samples
/// are scaled to 8 bits as sRGB-encoded values (like PIL), not treated as linear light. Files that
/// declare a non-sRGB gamma (`gAMA`) are converted to sRGB by libpng, as a browser would.
public enum PNG {
    /// An 8-bit image, rows top to bottom, samples of a pixel interleaved.
    public struct Image: Equatable, Sendable {
        public var width: Int
        public var height: Int
        /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
        public var channels: Int
        /// `height * width * channels` samples, row-major.
        public var pixels: [UInt8]

        public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
            self.width = width
            self.height = height
            self.channels = channels
            self.pixels = pixels
        }

        /// A `width x height` image with every pixel set to `fill` (one value per channel).
        public init(width: Int, height: Int, fill: [UInt8]) {
            let w = max(width, 0), h = max(height, 0)
            self.init(width: w, height: h, channels: fill.count,
                      pixels: [UInt8](repeating: 0, count: w * h * fill.count))
            if !fill.isEmpty {
                for i in stride(from: 0, to: pixels.count, by: fill.count) {
                    for c in 0 ..< fill.count { pixels[i + c] = fill[c] }
                }
            }
        }

        /// The samples as a float tensor of shape [C, H, W] with values in 0...1 (`x / 255`).
        /// The image must be consistent (`pixels.count == width * height * channels`), as every
        /// decoded image is.
        public func tensor() -> Tensor {
            let c = channels, plane = width * height
            let t = Tensor(uninitialized: [c, height, width])  // [C, H, W]
            require(pixels.count == plane * c, "PNG.Image: \(pixels.count) samples for \(width)x\(height)x\(c)")
            let out = t.data
            pixels.withUnsafeBufferPointer { px in
                for i in 0 ..< plane {
                    // Divide rather than multiply by 1/255: exactly torchvision's `to_tensor` values.
                    for ch in 0 ..< c { out[ch * plane + i] = Float(px[i * c + ch]) / 255 }
                }
            }
            return t
        }
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads and decodes the PNG file at `path`.
    /// - Parameter maxPixels: images with more pixels are refused (`.outOfMemory`) before the
    ///   pixel buffer is allocated.
    public static func read(contentsOf path: String, maxPixels: Int = 1 << 26) throws -> Image {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw GRLHFError.io("\(path): \(error.localizedDescription)")
        }
        do {
            return try decode([UInt8](data), maxPixels: maxPixels)
        } catch GRLHFError.invalidFormat(let m) {
            throw GRLHFError.invalidFormat("\(path): \(m)")
        }
    }

    /// Decodes a PNG held in memory. Every failure throws: `.invalidFormat` with libpng's message
    /// for a corrupt or truncated stream, `.outOfMemory` for an image over `maxPixels`.
    public static func decode(_ bytes: [UInt8], maxPixels: Int = 1 << 26) throws -> Image {
        guard maxPixels > 0 else { throw GRLHFError.invalidArgument("PNG: maxPixels must be positive, got \(maxPixels)") }
        guard !bytes.isEmpty else { throw GRLHFError.invalidFormat("PNG: empty input") }
        guard bytes.count >= signature.count, bytes.prefix(signature.count).elementsEqual(signature) else {
            throw GRLHFError.invalidFormat("PNG: bad signature (not a PNG file)")
        }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }  // a no-op once libpng has released it

        let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw GRLHFError.invalidFormat("PNG: \(message(image))") }

        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0 else { throw GRLHFError.invalidFormat("PNG: zero dimension \(width)x\(height)") }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw GRLHFError.outOfMemory("PNG: \(width)x\(height) image exceeds the limit of \(maxPixels) pixels")
        }
        // The file's channels, 8 bits each: drop the linear (16-bit) and color-map flags.
        image.format = image.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        image.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let channels = (image.format & PNG_FORMAT_FLAG_COLOR != 0 ? 3 : 1) + (image.format & PNG_FORMAT_FLAG_ALPHA != 0 ? 1 : 0)

        var buffer = [UInt8](repeating: 0, count: pixels * channels)
        let finished = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw GRLHFError.invalidFormat("PNG: \(message(image))") }
        return Image(width: width, height: height, channels: channels, pixels: buffer)
    }

    /// Encodes an 8-bit gray, gray+alpha, RGB or RGBA image as PNG bytes.
    public static func encode(_ image: Image) throws -> [UInt8] {
        try validate(image)
        var control = png_image()
        control.version = png_uint_32(PNG_IMAGE_VERSION)
        control.width = png_uint_32(image.width)
        control.height = png_uint_32(image.height)
        control.format = [0, PNG_FORMAT_FLAG_ALPHA, PNG_FORMAT_FLAG_COLOR,
                          PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA][image.channels - 1]
        defer { png_image_free(&control) }
        return try image.pixels.withUnsafeBytes { px -> [UInt8] in
            // First pass sizes the output; the second writes it.
            var size: png_alloc_size_t = 0
            guard png_image_write_to_memory(&control, nil, &size, 0, px.baseAddress, 0, nil) != 0, size > 0 else {
                throw GRLHFError.internal("PNG encode: \(message(control))")
            }
            var out = [UInt8](repeating: 0, count: Int(size))
            let ok = out.withUnsafeMutableBytes { png_image_write_to_memory(&control, $0.baseAddress, &size, 0, px.baseAddress, 0, nil) }
            guard ok != 0 else { throw GRLHFError.internal("PNG encode: \(message(control))") }
            out.removeSubrange(Int(size)...)
            return out
        }
    }

    /// Writes `image` to `path` atomically (`AtomicFile`).
    public static func write(_ image: Image, to path: String) throws {
        let bytes = try encode(image)
        try AtomicFile.write(bytes, to: path)
    }

    static func validate(_ image: Image) throws {
        guard (1 ... 4).contains(image.channels) else {
            throw GRLHFError.invalidArgument("PNG: \(image.channels) channels; expected 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)")
        }
        // libpng's limit is 2^31-1 per side; the row stride must also fit its int32.
        guard image.width > 0, image.height > 0, image.width * image.channels <= Int(Int32.max),
              image.height <= Int(Int32.max) else {
            throw GRLHFError.invalidArgument("PNG: cannot encode a \(image.width)x\(image.height) image")
        }
        let (count, overflow) = (image.width * image.channels).multipliedReportingOverflow(by: image.height)
        guard !overflow, count == image.pixels.count else {
            throw GRLHFError.invalidArgument("PNG: \(image.pixels.count) samples for a \(image.width)x\(image.height)x\(image.channels) image")
        }
    }

    static func message(_ image: png_image) -> String {
        var copy = image.message
        let text = withUnsafeBytes(of: &copy) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "libpng failed without a message" : text
    }
}
