import Foundation
import GRLHF

// grlhf_model, grlhf_tokenizer and grlhf_generation: text-only and multimodal models,
// tokenizers, group sampling and log-probs. The engine traps on bad ids, counts, shapes and
// options, so everything is checked here.

/// A loaded model (a `DecoderLM` or a `MultimodalModel`). One thread at a time per handle
/// computes with it.
final class ModelBox {
    let model: any CausalLM
    init(_ model: any CausalLM) { self.model = model }
    var vocab: Int { model.vocabSize }
    /// The model as a vision-language model, nil when it is text-only.
    var multimodal: MultimodalModel? { model as? MultimodalModel }
}

/// Generated sequences with stable buffers, so `grlhf_generation_tokens` can lend pointers.
final class GenerationBox {
    struct Row {
        let tokens: UnsafeMutablePointer<Int32>
        let logProbs: UnsafeMutablePointer<Float>
        let count: Int
        let finish: Int32
    }
    private(set) var rows: [Row] = []

    init(_ sequences: [GeneratedSequence]) {
        for s in sequences {
            let n = s.tokens.count
            // At least one element, so the borrowed pointers are never NULL.
            let t = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
            let l = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            for i in 0..<n { t[i] = s.tokens[i]; l[i] = s.logProbs[i] }
            rows.append(Row(tokens: t, logProbs: l, count: n, finish: s.finishReason == .stop ? 0 : 1))
        }
    }

    deinit { for r in rows { r.tokens.deallocate(); r.logProbs.deallocate() } }
}

/// Upper bounds that keep requests away from the engine's traps and absurd allocations.
let maxSequenceTokens: Int64 = 1 << 20
let maxGroup: Int64 = 1024
let maxNewTokensLimit: Int64 = 65536
/// Size of grlhf_sampling_params in this version of the header.
let samplingParamsSize = 48

func modelBox(_ handle: OpaquePointer?) throws -> ModelBox {
    try Handles.resolve(handle, .model, as: ModelBox.self)
}

func tokenizerObject(_ handle: OpaquePointer?) throws -> Tokenizer {
    try Handles.resolve(handle, .tokenizer, as: Tokenizer.self)
}

func generationBox(_ handle: OpaquePointer?) throws -> GenerationBox {
    try Handles.resolve(handle, .generation, as: GenerationBox.self)
}

/// Token ids from C: `n` in 0...maxSequenceTokens (or `minimum`), each in 0..<vocab.
func tokenIds(_ ids: UnsafePointer<Int32>?, _ n: Int64, vocab: Int, what: String, minimum: Int64 = 0) throws -> [Int32] {
    guard n >= minimum, n <= maxSequenceTokens else {
        throw Failure.invalidArgument("\(what) length \(n) is outside \(minimum)...\(maxSequenceTokens)")
    }
    if n == 0 { return [] }
    let p = try required(ids, what)
    let array = Array(UnsafeBufferPointer(start: p, count: Int(n)))
    if let (i, bad) = array.enumerated().first(where: { $0.element < 0 || Int($0.element) >= vocab }) {
        throw Failure.invalidArgument("\(what)[\(i)] = \(bad) is outside the vocabulary 0..<\(vocab)")
    }
    return array
}

/// Two-call output of a C string: writes the length (without NUL) and copies when it fits.
func writeString(_ s: String, _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                 _ length: UnsafeMutablePointer<Int64>?) throws {
    let length = try required(length, "length")
    let bytes = Array(s.utf8)
    length.pointee = Int64(bytes.count)
    guard capacity >= 0 else { throw Failure.invalidArgument("capacity \(capacity) is negative") }
    guard let buf else {
        if capacity == 0 { return }  // a size query
        throw Failure.invalidArgument("buf is NULL but capacity is \(capacity)")
    }
    guard capacity > Int64(bytes.count) else {
        throw Failure.invalidArgument("capacity \(capacity) is too small: \(bytes.count) bytes and a NUL are needed")
    }
    for (i, b) in bytes.enumerated() { buf[i] = CChar(bitPattern: b) }
    buf[bytes.count] = 0
}

/// The product of `factors`, Int.max when it overflows.
func saturatingProduct(_ factors: [Int]) -> Int {
    var cells = 1
    for f in factors {
        let (product, overflow) = cells.multipliedReportingOverflow(by: f)
        cells = overflow ? Int.max : product
    }
    return cells
}

/// Refuses a forward over `time` (expanded) positions with `images` images whose logits [T, V],
/// attention scores [heads, T, T] or vision-tower activations would exceed the tensor limit
/// (an allocation failure aborts the process).
func checkForwardSize(_ box: ModelBox, time: Int, images: Int = 0) throws {
    let c = box.model.language.config
    var buffers = [("logits", [time, c.vocabSize]), ("attention scores", [c.numAttentionHeads, time, time])]
    if let tower = box.multimodal?.config.tower, images > 0 { buffers += tower.largestBuffers(images: images) }
    for (what, factors) in buffers where saturatingProduct(factors) > Tensor.maxBytes / 4 {
        throw Failure(.outOfMemory, "\(time) positions\(images > 0 ? " and \(images) images" : "") need \(what) above the tensor limit")
    }
}

/// Positions `ids` occupy once each image placeholder is widened, refused above
/// maxSequenceTokens (computed before `expandImageTokens` allocates them).
func expandedLength(_ box: ModelBox, _ ids: [Int32]) throws -> Int {
    guard let placeholder = box.model.imageTokenId else { return ids.count }
    let images = ids.lazy.filter { $0 == placeholder }.count
    let (length, overflow) = (ids.count - images).addingReportingOverflow(saturatingProduct([images, box.model.tokensPerImage]))
    guard !overflow, length <= maxSequenceTokens else {
        throw Failure.invalidArgument("\(ids.count) ids with \(images) images expand to \(length) positions, above \(maxSequenceTokens)")
    }
    return length
}

/// The `images` argument of a call on `ids`: NULL when the ids hold no image placeholder,
/// else a tensor [I, C, S, S] with one image per placeholder, C and S those the vision tower
/// reads. Returns nil for no images.
func imageBatch(_ handle: OpaquePointer?, for box: ModelBox, ids: [Int32], what: String) throws -> Tensor? {
    let placeholders = box.model.imageTokenId.map { id in ids.lazy.filter { $0 == id }.count } ?? 0
    let holds = "\(placeholders) image placeholder\(placeholders == 1 ? "" : "s") (id \(box.model.imageTokenId ?? -1)) in \(what)"
    guard let handle else {
        guard placeholders == 0 else { throw Failure.invalidArgument("\(holds) but images is NULL") }
        return nil
    }
    let images = try tensor(handle)
    guard let m = box.multimodal else {
        throw Failure.invalidArgument("the model is text-only; images must be NULL")
    }
    let v = m.config.tower
    let expected = [placeholders, v.numChannels, v.imageSize, v.imageSize]
    guard images.shape == expected else {
        throw Failure.invalidArgument("images has shape \(images.shape), but \(holds) need \(expected)")
    }
    return placeholders == 0 ? nil : images
}

/// Refuses a config.json whose parameters would exceed the tensor limit, before the engine
/// builds (and so allocates) them: a failed allocation aborts the process. A file that does not
/// parse, or sizes that are not positive, pass here and get the engine's own error.
func checkModelSize(configFile path: String) throws {
    struct Sizes: Decodable {
        var vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads: Int?
        var numKeyValueHeads, headDim, imageSize, patchSize, numChannels: Int?
    }
    struct Parts: Decodable { var textConfig, visionConfig: Sizes? }  // a llava config
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    guard let data = FileManager.default.contents(atPath: path),
          let top = try? decoder.decode(Sizes.self, from: data),
          let parts = try? decoder.decode(Parts.self, from: data) else { return }
    var total = 0
    func add(_ factors: Int?...) {
        let f = factors.compactMap { $0 }
        guard f.count == factors.count, f.allSatisfy({ $0 > 0 }) else { return }
        let (sum, overflow) = total.addingReportingOverflow(saturatingProduct(f))
        total = overflow ? Int.max : sum
    }
    let text = parts.textConfig ?? top
    if let heads = text.numAttentionHeads, let hidden = text.hiddenSize, heads > 0 {
        let headDim = text.headDim ?? hidden / heads, kv = text.numKeyValueHeads ?? heads
        add(2, text.vocabSize, hidden)                                   // embeddings and LM head
        add(text.numHiddenLayers, 2, hidden, heads, headDim)             // q, o
        add(text.numHiddenLayers, 2, hidden, kv, headDim)                // k, v
        add(text.numHiddenLayers, 3, hidden, text.intermediateSize)      // SwiGLU MLP
    }
    if let v = parts.visionConfig, let size = v.imageSize, let patch = v.patchSize, size > 0, patch > 0 {
        let side = size / patch
        add(side, side, v.hiddenSize)                                    // position embeddings
        add(v.numChannels ?? 3, patch, patch, v.hiddenSize)              // patch embedding
        add(v.numHiddenLayers, 4, v.hiddenSize, v.hiddenSize)            // attention
        add(v.numHiddenLayers, 2, v.hiddenSize, v.intermediateSize)      // MLP
        add(2, v.hiddenSize, text.hiddenSize)                            // projector
    }
    guard total <= Tensor.maxBytes / 4 else {
        throw Failure(.outOfMemory, "\(path): about \(total) parameters, above the tensor limit of \(Tensor.maxBytes) bytes")
    }
}

// MARK: - Models

@_cdecl("grlhf_model_load")
public func grlhf_model_load(_ dir: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let dir = try utf8String(dir, "dir")
        // A GGUF's sizes are checked against its own bytes by the loader.
        if dir.hasSuffix(".gguf") {
            try Runtime.requireBLAS()
            return Handles.register(ModelBox(try DecoderLM.load(gguf: dir)), as: .model)
        }
        try checkModelSize(configFile: URL(fileURLWithPath: dir).appendingPathComponent("config.json").path)
        try Runtime.requireBLAS()
        return Handles.register(ModelBox(try loadModel(directory: dir)), as: .model)
    }
}

@_cdecl("grlhf_model_init")
public func grlhf_model_init(_ configPath: UnsafePointer<CChar>?, _ seed: UInt64,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let path = try utf8String(configPath, "config_json_path")
        try checkModelSize(configFile: path)
        try Runtime.requireBLAS()
        return Handles.register(ModelBox(try initModel(configFile: path, seed: seed)), as: .model)
    }
}

@_cdecl("grlhf_model_save")
public func grlhf_model_save(_ handle: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> Int32 {
    entry {
        let box = try modelBox(handle)
        try box.model.save(directory: try utf8String(dir, "dir"))
    }
}

@_cdecl("grlhf_model_free")
public func grlhf_model_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .model)
}

@_cdecl("grlhf_model_vocab_size")
public func grlhf_model_vocab_size(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry(out: out, empty: 0) { Int64(try modelBox(handle).vocab) }
}

@_cdecl("grlhf_model_image_info")
public func grlhf_model_image_info(_ handle: OpaquePointer?, _ imageTokenId: UnsafeMutablePointer<Int32>?,
                                   _ tokensPerImage: UnsafeMutablePointer<Int64>?,
                                   _ imageSize: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        imageTokenId?.pointee = -1; tokensPerImage?.pointee = 0; imageSize?.pointee = 0
        let box = try modelBox(handle)
        let id = try required(imageTokenId, "image_token_id")
        let perImage = try required(tokensPerImage, "tokens_per_image"), size = try required(imageSize, "image_size")
        guard let m = box.multimodal else { return }
        id.pointee = m.config.imageTokenIndex
        perImage.pointee = Int64(m.tokensPerImage)
        size.pointee = Int64(m.config.tower.imageSize)
    }
}

@_cdecl("grlhf_image_load")
public func grlhf_image_load(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let box = try modelBox(handle)
        let path = try utf8String(path, "png_path")
        guard let m = box.multimodal else { throw Failure.invalidArgument("the model is text-only; it reads no images") }
        // A config may name a preprocessor size or channel count the vision tower does not read.
        let v = m.config.tower
        guard v.numChannels == 3, m.config.preprocessor.size == v.imageSize else {
            throw Failure(.unsupported, "the vision tower reads \(v.numChannels)×\(v.imageSize)×\(v.imageSize) images, the preprocessor makes 3×\(m.config.preprocessor.size)×\(m.config.preprocessor.size)")
        }
        return newTensorHandle(try m.pixels(pngAt: path))
    }
}

@_cdecl("grlhf_model_logprobs")
public func grlhf_model_logprobs(_ handle: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ n: Int64,
                                 _ imagesHandle: OpaquePointer?,
                                 _ out: UnsafeMutablePointer<Float>?, _ capacity: Int64) -> Int32 {
    entry {
        let box = try modelBox(handle)
        let v = box.vocab
        let ids = try tokenIds(ids, n, vocab: v, what: "ids", minimum: 1)
        let time = try expandedLength(box, ids)
        let images = try imageBatch(imagesHandle, for: box, ids: ids, what: "ids")
        let needed = ids.count - 1
        guard capacity >= Int64(needed) else {
            throw Failure.invalidArgument("capacity \(capacity) is below the \(needed) log-probs needed")
        }
        guard needed > 0 else { return }
        let out = try required(out, "out")
        try checkForwardSize(box, time: time, images: images?.shape[0] ?? 0)
        try Runtime.requireBLAS()
        let expanded = box.model.expandImageTokens(ids)
        let logp = withNoGrad {  // owns its storage
            box.model.logits(expanded, batch: 1, time: time, images: images).logSoftmax()
        }
        let data = logp.data
        // ids[t+1] is predicted at the last expanded position of ids[t]; an image placeholder
        // is not predicted (its positions hold image features), so its entry is 0.
        let placeholder = box.model.imageTokenId, perImage = box.model.tokensPerImage
        var position = -1
        for t in 0..<needed {
            position += ids[t] == placeholder ? perImage : 1
            out[t] = ids[t + 1] == placeholder ? 0 : data[position * v + Int(ids[t + 1])]
        }
    }
}

// MARK: - Tokenizers

@_cdecl("grlhf_tokenizer_load")
public func grlhf_tokenizer_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let path = try utf8String(path, "path")
        return Handles.register(path.hasSuffix(".gguf") ? try Tokenizer(gguf: GGUFFile.open(path)) : try Tokenizer.load(contentsOf: path),
                                as: .tokenizer)
    }
}

@_cdecl("grlhf_tokenizer_free")
public func grlhf_tokenizer_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .tokenizer)
}

@_cdecl("grlhf_tokenizer_vocab_size")
public func grlhf_tokenizer_vocab_size(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry(out: out, empty: 0) { Int64(try tokenizerObject(handle).vocabSize) }
}

@_cdecl("grlhf_tokenizer_encode")
public func grlhf_tokenizer_encode(_ handle: OpaquePointer?, _ text: UnsafePointer<CChar>?,
                                   _ ids: UnsafeMutablePointer<Int32>?, _ capacity: Int64,
                                   _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        count?.pointee = 0
        let tok = try tokenizerObject(handle)
        let text = try utf8String(text, "text")
        let count = try required(count, "count")
        guard capacity >= 0 else { throw Failure.invalidArgument("capacity \(capacity) is negative") }
        let encoded = tok.encode(text, addSpecialTokens: false)
        count.pointee = Int64(encoded.count)
        guard let ids else {
            if capacity == 0 { return }  // a size query
            throw Failure.invalidArgument("ids is NULL but capacity is \(capacity)")
        }
        guard capacity >= Int64(encoded.count) else {
            throw Failure.invalidArgument("capacity \(capacity) is too small: \(encoded.count) ids are needed")
        }
        for (i, id) in encoded.enumerated() { ids[i] = id }
    }
}

@_cdecl("grlhf_tokenizer_decode")
public func grlhf_tokenizer_decode(_ handle: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ n: Int64,
                                   _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                                   _ length: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        length?.pointee = 0
        let tok = try tokenizerObject(handle)
        guard n >= 0, n <= maxSequenceTokens else {
            throw Failure.invalidArgument("n \(n) is outside 0...\(maxSequenceTokens)")
        }
        let array = n == 0 ? [] : Array(UnsafeBufferPointer(start: try required(ids, "ids"), count: Int(n)))
        // decode skips ids that name no token, as the `tokenizers` library does.
        try writeString(tok.decode(array, skipSpecialTokens: false), buf, capacity, length)
    }
}

@_cdecl("grlhf_chatml_user_prompt")
public func grlhf_chatml_user_prompt(_ message: UnsafePointer<CChar>?, _ buf: UnsafeMutablePointer<CChar>?,
                                     _ capacity: Int64, _ length: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry {
        length?.pointee = 0
        let message = try utf8String(message, "message")
        let prompt = ChatTemplate.chatML(messages: [(role: "user", content: message)], addGenerationPrompt: true)
        try writeString(prompt, buf, capacity, length)
    }
}

// MARK: - Generation

@_cdecl("grlhf_sampling_params_default")
public func grlhf_sampling_params_default(_ out: UnsafeMutableRawPointer?) -> Int32 {
    entry {
        let p = try required(out, "out")
        p.storeBytes(of: UInt32(samplingParamsSize), toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: Float(1), toByteOffset: 4, as: Float.self)
        p.storeBytes(of: Int32(0), toByteOffset: 8, as: Int32.self)
        p.storeBytes(of: Float(1), toByteOffset: 12, as: Float.self)
        p.storeBytes(of: Int64(64), toByteOffset: 16, as: Int64.self)
        p.storeBytes(of: UInt64(0), toByteOffset: 24, as: UInt64.self)
        p.storeBytes(of: UInt(0), toByteOffset: 32, as: UInt.self)
        p.storeBytes(of: Int64(0), toByteOffset: 40, as: Int64.self)
    }
}

/// Reads and validates a grlhf_sampling_params (NULL gives the defaults).
func samplingOptions(_ params: UnsafeRawPointer?, vocab: Int) throws -> SamplingOptions {
    guard let p = params else { return SamplingOptions() }
    let size = p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
    guard size >= UInt32(samplingParamsSize) else {
        throw Failure.invalidArgument("params->struct_size \(size) is below \(samplingParamsSize); start from grlhf_sampling_params_default")
    }
    let temperature = p.loadUnaligned(fromByteOffset: 4, as: Float.self)
    let topK = p.loadUnaligned(fromByteOffset: 8, as: Int32.self)
    let topP = p.loadUnaligned(fromByteOffset: 12, as: Float.self)
    let maxNew = p.loadUnaligned(fromByteOffset: 16, as: Int64.self)
    let seed = p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    let stopBits = p.loadUnaligned(fromByteOffset: 32, as: UInt.self)
    let nStop = p.loadUnaligned(fromByteOffset: 40, as: Int64.self)
    guard temperature.isFinite, temperature >= 0 else {
        throw Failure.invalidArgument("temperature \(temperature) is not finite and >= 0")
    }
    guard topK >= 0 else { throw Failure.invalidArgument("top_k \(topK) is negative") }
    guard topP.isFinite, topP > 0, topP <= 1 else { throw Failure.invalidArgument("top_p \(topP) is outside (0, 1]") }
    guard maxNew >= 0, maxNew <= maxNewTokensLimit else {
        throw Failure.invalidArgument("max_new_tokens \(maxNew) is outside 0...\(maxNewTokensLimit)")
    }
    let stops = try tokenIds(UnsafePointer(bitPattern: stopBits), nStop, vocab: vocab, what: "stop_tokens")
    return SamplingOptions(temperature: temperature, topK: Int(topK), topP: topP, maxNewTokens: Int(maxNew),
                           stopTokens: Set(stops), seed: seed)
}

@_cdecl("grlhf_generate_group")
public func grlhf_generate_group(_ handle: OpaquePointer?, _ prompt: UnsafePointer<Int32>?, _ nPrompt: Int64,
                                 _ imagesHandle: OpaquePointer?, _ group: Int64, _ params: UnsafeRawPointer?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    entry(out: out, empty: nil) {
        let box = try modelBox(handle)
        let prompt = try tokenIds(prompt, nPrompt, vocab: box.vocab, what: "prompt", minimum: 1)
        let time = try expandedLength(box, prompt)
        let images = try imageBatch(imagesHandle, for: box, ids: prompt, what: "prompt")
        guard group >= 1, group <= maxGroup else {
            throw Failure.invalidArgument("group \(group) is outside 1...\(maxGroup)")
        }
        let options = try samplingOptions(params, vocab: box.vocab)
        // The KV cache holds keys and values of every layer for group × (prompt + new) positions;
        // refuse what cannot be allocated instead of letting the allocation abort the process.
        let c = box.model.language.config
        let floats = saturatingProduct([2, c.numHiddenLayers, c.numKeyValueHeads, c.headDim, Int(group),
                                        time + max(options.maxNewTokens, 1)])
        try checkForwardSize(box, time: time, images: images?.shape[0] ?? 0)
        guard floats <= Tensor.maxBytes / 4 else {
            throw Failure(.outOfMemory, "a group of \(group) × \(time + options.maxNewTokens) positions needs a KV cache above the tensor limit")
        }
        try Runtime.requireBLAS()
        let sequences = box.model.sampleGroup(prompt: prompt, images: images, count: Int(group), options: options)
        return Handles.register(GenerationBox(sequences), as: .generation)
    }
}

@_cdecl("grlhf_generation_count")
public func grlhf_generation_count(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    entry(out: out, empty: 0) { Int64(try generationBox(handle).rows.count) }
}

@_cdecl("grlhf_generation_tokens")
public func grlhf_generation_tokens(_ handle: OpaquePointer?, _ index: Int64,
                                    _ tokens: UnsafeMutablePointer<UnsafePointer<Int32>?>?,
                                    _ logprobs: UnsafeMutablePointer<UnsafePointer<Float>?>?,
                                    _ length: UnsafeMutablePointer<Int64>?,
                                    _ finish: UnsafeMutablePointer<Int32>?) -> Int32 {
    entry {
        tokens?.pointee = nil; logprobs?.pointee = nil; length?.pointee = 0; finish?.pointee = 0
        let box = try generationBox(handle)
        let tokens = try required(tokens, "tokens"), logprobs = try required(logprobs, "logprobs")
        let length = try required(length, "length"), finish = try required(finish, "finish_reason")
        guard index >= 0, index < box.rows.count else {
            throw Failure.invalidArgument("index \(index) is outside 0..<\(box.rows.count)")
        }
        let row = box.rows[Int(index)]
        tokens.pointee = UnsafePointer(row.tokens); logprobs.pointee = UnsafePointer(row.logProbs)
        length.pointee = Int64(row.count); finish.pointee = row.finish
    }
}

@_cdecl("grlhf_generation_free")
public func grlhf_generation_free(_ handle: OpaquePointer?) {
    Handles.free(handle, .generation)
}
