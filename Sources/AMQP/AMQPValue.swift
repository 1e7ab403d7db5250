public import Foundation

/// A value in an AMQP field table (message headers, queue and exchange arguments).
///
/// Only the kinds RabbitMQ actually uses are modelled; anything else read off the wire is
/// kept as `.unsupported` with its kind letter so it is visible rather than silently lost.
public enum AMQPValue: Sendable, Hashable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)
    case bytes(Data)
    case timestamp(UInt64)
    case table([String: AMQPValue])
    case array([AMQPValue])
    case void
    case unsupported(kind: UInt8)

    /// The string payload, if this is a string (or bytes that are UTF-8).
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .bytes(let d): return String(data: d, encoding: .utf8)
        case .int, .bool, .double, .timestamp, .table, .array, .void, .unsupported: return nil
        }
    }

    /// The integer payload, if this is any integer kind.
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .timestamp(let t): return Int64(clamping: t)
        case .string, .bool, .double, .bytes, .table, .array, .void, .unsupported: return nil
        }
    }
}

extension AMQPValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
