public import Foundation

/// AMQP basic properties. Every field is optional; `persistent` maps to delivery mode 2.
public struct MessageProperties: Sendable, Equatable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: [String: AMQPValue]
    public var persistent: Bool
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    public var expiration: String?
    public var messageID: String?
    /// Seconds since the Unix epoch, as AMQP carries it.
    public var timestamp: UInt64?
    public var type: String?
    /// Must equal the connection's user name, or the broker refuses the publish.
    public var userID: String?
    public var appID: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: [String: AMQPValue] = [:],
        persistent: Bool = true, priority: UInt8? = nil, correlationID: String? = nil,
        replyTo: String? = nil, expiration: String? = nil, messageID: String? = nil,
        timestamp: UInt64? = nil, type: String? = nil, userID: String? = nil, appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.persistent = persistent
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
    }
}

/// A message to publish.
public struct OutboundMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var body: Data
    public var properties: MessageProperties
    /// Fail the publish if no queue receives the message (basic.return).
    public var mandatory: Bool

    public init(exchange: String, routingKey: String, body: Data,
                properties: MessageProperties = MessageProperties(), mandatory: Bool = true) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        self.mandatory = mandatory
    }
}

/// A message received from a queue. Acknowledge it through the client that delivered it.
public struct Delivery: Sendable {
    public var body: Data
    public var properties: MessageProperties
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    public var consumerTag: String
    public var queue: String
    /// Identifies this delivery on the channel that carried it. Acks for a delivery from a
    /// channel that has since died are dropped, never sent on the new one.
    public var tag: DeliveryTag

    public init(body: Data, properties: MessageProperties, exchange: String, routingKey: String,
                redelivered: Bool, consumerTag: String, queue: String, tag: DeliveryTag) {
        self.body = body
        self.properties = properties
        self.exchange = exchange
        self.routingKey = routingKey
        self.redelivered = redelivered
        self.consumerTag = consumerTag
        self.queue = queue
        self.tag = tag
    }
}

public struct DeliveryTag: Sendable, Hashable, Comparable {
    /// Which incarnation of the consuming channel carried the delivery.
    public var channelGeneration: UInt64
    public var value: UInt64
    public init(channelGeneration: UInt64, value: UInt64) {
        self.channelGeneration = channelGeneration
        self.value = value
    }
    public static func < (a: DeliveryTag, b: DeliveryTag) -> Bool {
        (a.channelGeneration, a.value) < (b.channelGeneration, b.value)
    }
}

/// What the client tells its owner about the connection (for readiness, metrics, logs).
public enum ConnectionEvent: Sendable, Equatable {
    case connected(endpoint: String)
    case disconnected(reason: String)
    case blocked(reason: String)
    case unblocked
    /// The broker cancelled a consumer (its queue was deleted); the client redeclares and
    /// resubscribes.
    case consumerCancelled(queue: String)
    case resubscribed(queue: String)
    /// Deliveries from a dead channel whose acks were dropped (the broker redelivers them).
    case staleAcksDropped(count: Int)
    /// The broker closed one of the connection's channels (`channel`: `consume`, `publish` or
    /// `admin`) with `code` and its reply text, e.g. 406 when a delivery stayed unacknowledged
    /// longer than the broker's `consumer_timeout`. The client has reopened it: a consuming
    /// channel is subscribed again and the broker redelivers its unsettled deliveries; a
    /// publishing channel's unconfirmed publishes have failed with `.channelClosed`.
    case channelClosed(channel: String, code: UInt16, reason: String)
}
