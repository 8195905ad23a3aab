import Foundation

/// A Hugging Face model directory: `config.json` beside `model.safetensors` (or `pytorch_model.bin`).
enum ModelDirectory {
    /// The decoded `config.json`; engine errors pass through, anything else is a format error.
    static func config<C: Decodable>(_ directory: String, as type: C.Type) throws -> C {
        try decode(URL(fileURLWithPath: directory).appendingPathComponent("config.json").path, as: type)
    }

    /// A decoded JSON file, with the errors of `config`.
    static func decode<C: Decodable>(_ path: String, as type: C.Type) throws -> C {
        guard let data = FileManager.default.contents(atPath: path) else { throw GRLHFError.io("\(path): cannot read") }
        do { return try JSONDecoder().decode(C.self, from: data) } catch let e as GRLHFError { throw e } catch {
            throw GRLHFError.invalidFormat("\(path): \(error)")
        }
    }

    /// Loads `model.safetensors` into `module` by name, or `pytorch_model.bin` (a torch.save state
    /// dict, read without Python) when there is no safetensors file. Every parameter must be there
    /// with its shape; extra tensors are an error unless `ignoring` accepts their names.
    static func loadWeights(_ directory: String, into module: Module, ignoring: (String) -> Bool = { _ in false }) throws {
        try loadWeights(directory, into: module.namedParameters(), ignoring: ignoring)
    }

    /// `loadWeights` into named tensors (a model's parameters with its LoRA adapters, say).
    static func loadWeights(_ directory: String, into targets: [(name: String, tensor: Tensor)], ignoring: (String) -> Bool = { _ in false }) throws {
        let url = URL(fileURLWithPath: directory)
        let safetensors = url.appendingPathComponent("model.safetensors").path
        let pytorch = url.appendingPathComponent("pytorch_model.bin").path
        let useTorch = !FileManager.default.fileExists(atPath: safetensors) && FileManager.default.fileExists(atPath: pytorch)
        let path = useTorch ? pytorch : safetensors
        let weights = try useTorch ? PyTorchCheckpoint.read(contentsOf: path) : Safetensors.read(contentsOf: path)
        let unused = try Module.assign(Dictionary(weights.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }), to: targets)
            .filter { !ignoring($0) }
        guard unused.isEmpty else { throw GRLHFError.invalidFormat("\(path): unexpected tensors \(unused.prefix(5))") }
    }

    /// Writes `config.json` and `model.safetensors` (every parameter of `module` by name) into
    /// `directory`, each file atomically.
    static func save<C: Encodable>(_ directory: String, config: C, module: Module) throws {
        try save(directory, config: config, tensors: module.namedParameters())
    }

    /// `save` of named tensors (a model's parameters with its LoRA adapters, say).
    static func save<C: Encodable>(_ directory: String, config: C, tensors: [(name: String, tensor: Tensor)]) throws {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw GRLHFError.io("\(directory): cannot create the directory (\(error.localizedDescription))")
        }
        try AtomicFile.writeJSON(config, to: directory + "/config.json")
        try Safetensors.write(tensors, to: directory + "/model.safetensors", metadata: ["format": "pt"])
    }
}
