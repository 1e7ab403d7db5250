public import Foundation

/// The contract version this module implements and writes into outbound messages.
/// Inbound messages are accepted with any `1.<minor>` (docs/messages.md, "Versions").
public let contractSchemaVersion = "1.0"

/// A message of the contract: a Codable body with its AMQP `type`.
public protocol ContractMessage: Sendable, Hashable, Codable {
    static var messageType: MessageType { get }
}

extension ContractMessage {
    /// The body as sent: UTF-8 JSON, keys sorted, no insignificant whitespace, `/` unescaped;
    /// the bytes `JSONEncoder` writes with those options (`ContractEncoding.encode`).
    public func encodedBody() throws -> Data {
        try ContractEncoding.encode(self)
    }
}

/// The one JSON encoding of the contract: what `JSONEncoder` writes with
/// `[.sortedKeys, .withoutEscapingSlashes]`.
enum ContractEncoding {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// `value` encoded by `ContractJSONEncoder`, which writes the same bytes as `encoder()`
    /// for less CPU; anything it leaves out (a `Double`, a `Date`, …) or any error makes it
    /// `encoder()`'s work, so the result, or the error, is always `JSONEncoder`'s.
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        if let body = try? ContractJSONEncoder.encode(value) { return body }
        return try encoder().encode(value)
    }
}

/// An outbound message ready to publish on `Topology.outboundExchange`.
public struct OutboundEnvelope: Sendable, Hashable {
    public let type: MessageType
    /// Routing key `<audience>.<type>` (see `Topology.routingKey(for:to:)`).
    public let routingKey: String
    /// Deterministic, derived by the caller from the inbound message id (DESIGN: replay gives identical ids).
    public let messageID: String
    public let correlationID: String?
    public let timestamp: Date
    /// Always `application/json`.
    public let contentType: String
    public let body: Data

    /// Encodes `message` for `audience`. The caller supplies the deterministic `messageID`.
    public init<M: ContractMessage>(
        _ message: M, to audience: Audience, messageID: String, correlationID: String?, timestamp: Date,
        topology: Topology = Topology()
    ) throws {
        self.type = M.messageType
        self.routingKey = topology.routingKey(for: M.messageType, to: audience)
        self.messageID = messageID
        self.correlationID = correlationID
        self.timestamp = timestamp
        self.contentType = "application/json"
        self.body = try message.encodedBody()
    }
}
