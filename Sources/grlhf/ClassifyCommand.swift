import ArgumentParser
import Foundation
import GRLHF

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "ImageNet top-k of a PNG with EfficientNet-Lite0 (indices and probabilities; no class names).")

    @Option(help: "EfficientNet-Lite0 weights: the .pth (`make models`: .cache/models/efficientnet-lite0-57934424.pth) or a .safetensors copy.") var model: String
    @Option(help: "A PNG image (RGB, RGBA, gray).") var image: String
    @Option(help: "How many classes to print.") var top: Int = 5
    @Flag(help: "Antialias the downscale (PIL-like bilinear) instead of plain bilinear.") var antialias = false
    @Option(help: "Run the forward this many times and report the mean time per image on stderr.") var repeats: Int = 1
    @Option(help: "Threads for grlhf's parallel work.") var threads: Int = 1

    func run() throws {
        Runtime.setThreads(threads)
        guard (1...1000).contains(top), repeats >= 1 else { throw ValidationError("--top must be 1…1000 and --repeats ≥ 1") }
        let net = try EfficientNetLite0(contentsOf: model)
        var pre = CenterCropPreprocessor.efficientNetLite
        pre.antialias = antialias
        let pixels = try EfficientNetLite0.pixels(pngAt: image, preprocessor: pre)
        var logits = Tensor(zeros: [1, 1000])
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repeats { logits = withNoGrad { net.logits(pixels) } }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(repeats)
        let probs = withNoGrad { logits.softmax() }
        for i in (0..<1000).sorted(by: { probs.data[$0] > probs.data[$1] }).prefix(top) {
            print("\(i)\t\(String(format: "%.4f", probs.data[i]))")
        }
        FileHandle.standardError.write(Data(String(format: "[forward %.2f ms per image, %d run(s), %d thread(s)]\n", ms, repeats, threads).utf8))
    }
}
