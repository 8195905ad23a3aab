import Foundation

// Typed, hostile-input-safe reading of tokenizer.json. Every accessor names the field it reads in
// its error, so a corrupt file says what is wrong and where.

/// A JSON object read from tokenizer.json, with the dotted path it came from.
struct JSONFields {
    let dict: [String: Any]
    let path: String

    init(_ value: Any?, path: String) throws {
        guard let dict = value as? [String: Any] else {
            throw badFile("\(path) must be an object, found \(describeJSON(value))")
        }
        self.dict = dict
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Whether `key` is present with a non-null value.
    func has(_ key: String) -> Bool { dict[key] != nil && !(dict[key] is NSNull) }

    func object(_ key: String) throws -> JSONFields { try JSONFields(dict[key], path: name(key)) }

    func string(_ key: String) throws -> String {
        guard let s = dict[key] as? String else { throw typeError(key, "a string") }
        return s
    }

    /// A string, or nil when the key is missing or null.
    func optionalString(_ key: String) throws -> String? { has(key) ? try string(key) : nil }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard has(key) else { return value }
        guard let b = jsonBool(dict[key]) else { throw typeError(key, "true or false") }
        return b
    }

    func array(_ key: String) throws -> [Any] {
        guard let a = dict[key] as? [Any] else { throw typeError(key, "an array") }
        return a
    }

    func int(_ key: String) throws -> Int {
        guard let i = jsonInt(dict[key]) else { throw typeError(key, "an integer") }
        return i
    }

    private func typeError(_ key: String, _ expected: String) -> GRLHFError {
        badFile("\(name(key)) must be \(expected), found \(describeJSON(dict[key]))")
    }
}

/// `.invalidFormat` about tokenizer.json.
func badFile(_ message: String) -> GRLHFError { .invalidFormat("tokenizer.json: \(message)") }

/// `.unsupported` about tokenizer.json.
func unsupportedFile(_ message: String) -> GRLHFError { .unsupported("tokenizer.json: \(message)") }

/// A JSON integer (never a boolean or a fractional number).
func jsonInt(_ value: Any?) -> Int? {
    guard let n = value as? NSNumber, !(value is String) else { return nil }
    switch UInt8(bitPattern: n.objCType.pointee) {
    case UInt8(ascii: "c"), UInt8(ascii: "d"), UInt8(ascii: "f"): return nil  // bool, double, float
    default: return n as? Int
    }
}

func jsonBool(_ value: Any?) -> Bool? {
    guard let n = value as? NSNumber, !(value is String),
          UInt8(bitPattern: n.objCType.pointee) == UInt8(ascii: "c") else { return nil }
    return n.boolValue
}

/// What a JSON value is, for error messages.
func describeJSON(_ value: Any?) -> String {
    switch value {
    case nil: return "nothing (missing)"
    case is NSNull: return "null"
    case let s as String: return "the string \(String(s.prefix(40)).debugDescription)"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    default:
        if let b = jsonBool(value) { return "\(b)" }
        if let n = value as? NSNumber { return "the number \(n)" }
        return "a value of type \(type(of: value!))"
    }
}

/// `{"type": ...}` of a component, naming the field when it is missing.
func componentType(_ fields: JSONFields) throws -> String { try fields.string("type") }
