public import Foundation

/// A parsed JSON document, kept exact enough to validate against the contract's schemas.
///
/// Parsed with `JSONDecoder`, so booleans and numbers stay distinct (`true` is never `1`).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `data` as one JSON value (RFC 8259, strictly: no duplicate keys, depth ≤ 64).
    /// Throws when it is not JSON.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONParser.parse(data)
    }

    /// The JSON Schema type name of this value ("integer" for whole numbers).
    var schemaTypeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number(let n): n.rounded() == n && n.isFinite ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Compact serialisation with sorted keys (used to re-decode validated parts): the bytes
    /// `JSONEncoder` writes with `[.sortedKeys, .withoutEscapingSlashes]`, through
    /// `ContractEncoding.encode` (a tree with a number other than a whole one below 9e15 goes
    /// to `JSONEncoder`).
    func encoded() throws -> Data {
        try ContractEncoding.encode(self)
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < 9.0e15 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// A JSON pointer (RFC 6901) to a place in a message body, e.g. `/entries/3/cpr`.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    public private(set) var tokens: [String]

    public init(_ tokens: [String] = []) { self.tokens = tokens }

    public static let root = JSONPointer()

    func appending(_ token: String) -> JSONPointer { JSONPointer(tokens + [token]) }
    func appending(_ index: Int) -> JSONPointer { JSONPointer(tokens + [String(index)]) }

    /// The RFC 6901 text: "" for the whole document, `/a/0/b` otherwise.
    public var description: String {
        tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }
            .joined()
    }
}
