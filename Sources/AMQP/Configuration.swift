import Foundation

/// Everything needed to reach a broker.
///
/// Keys (as the daemon's configuration names them): `endpoints` (host:port list, first
/// reachable wins), `vhost`, `auth` (PLAIN user/password or EXTERNAL with a client
/// certificate), `tls`, `heartbeat`, `connectTimeout`, `rpcTimeout`, `publishTimeout`,
/// `reconnect` (backoff), `connectionName`.
public struct AMQPConfiguration: Sendable {
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { "\(host):\(port)" }
    }

    public enum Authentication: Sendable {
        /// SASL PLAIN with a user name and password.
        case plain(user: String, password: String)
        /// SASL EXTERNAL: the broker takes the identity from the TLS client certificate.
        case external(identity: String)

        /// The user name that logs in, for messages ("(certificate)" for EXTERNAL without one).
        public var user: String {
            switch self {
            case .plain(let user, _): return user
            case .external(let identity): return identity.isEmpty ? "(certificate)" : identity
            }
        }
    }

    public struct TLS: Sendable {
        /// PEM file with the CA certificates that may sign the broker's certificate.
        public var caCertificatePath: String
        /// PEM client certificate and key (required for EXTERNAL login).
        public var clientCertificatePath: String?
        public var clientKeyPath: String?
        /// Verify the broker's certificate chain (default on; off only for diagnosis).
        public var verifyPeer: Bool
        /// Verify that the broker's certificate names the host connected to (default on).
        public var verifyHostname: Bool

        public init(
            caCertificatePath: String, clientCertificatePath: String? = nil,
            clientKeyPath: String? = nil, verifyPeer: Bool = true, verifyHostname: Bool = true
        ) {
            self.caCertificatePath = caCertificatePath
            self.clientCertificatePath = clientCertificatePath
            self.clientKeyPath = clientKeyPath
            self.verifyPeer = verifyPeer
            self.verifyHostname = verifyHostname
        }
    }

    /// Capped exponential backoff with full jitter between reconnect attempts.
    public struct Backoff: Sendable, Equatable {
        public var initial: Duration
        public var maximum: Duration
        public var multiplier: Double
        public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(10), multiplier: Double = 2) {
            self.initial = initial
            self.maximum = maximum
            self.multiplier = multiplier
        }
    }

    /// The broker user the connection logs in as, when the configuration names it (PLAIN,
    /// or EXTERNAL with an identity): what the broker accepts as the `user_id` property of a
    /// message published on this connection. nil for EXTERNAL without an identity.
    public var userID: String? {
        switch authentication {
        case .plain(let user, _): return user
        case .external(let identity): return identity.isEmpty ? nil : identity
        }
    }

    public var endpoints: [Endpoint]
    public var vhost: String
    public var authentication: Authentication
    public var tls: TLS?
    /// Heartbeat interval offered to the broker (0 disables; default 30 s).
    public var heartbeat: Duration
    public var connectTimeout: Duration
    /// Bound on every synchronous broker call (declare, qos, consume, channel open).
    public var rpcTimeout: Duration
    /// Bound on a publish from the call until the broker's confirm, including time spent
    /// waiting while the broker blocks the connection.
    public var publishTimeout: Duration
    public var backoff: Backoff
    public var connectionName: String
    /// Largest frame the client accepts (rabbitmq-c default 128 KiB).
    public var frameMax: Int
    /// Byte bound on what consumers hold besides their two largest deliveries: while the
    /// bodies of deliveries handed to consumers and not yet acked, nacked or rejected, less the
    /// two largest of them, add up to more than this, or the next delivery's body would take
    /// them over it, the client reads no further (its header is read, its body waits in the
    /// socket; the broker then holds further deliveries back by TCP flow control), unless a
    /// publish on the connection awaits its confirm, which comes on the same connection. The
    /// two largest are not counted so that one big message in hand (a list processed in
    /// slices) and one waiting behind it (the same sender's next list) leave room for the small
    /// ones of other senders; a third big one waits before its body. So consumers hold at most
    /// this plus two messages. nil: no bound (the prefetch count is the only one).
    /// Heartbeats are sent while reading is paused.
    public var consumerByteLimit: Int?

    public init(
        endpoints: [Endpoint],
        vhost: String = "/",
        authentication: Authentication,
        tls: TLS? = nil,
        heartbeat: Duration = .seconds(30),
        connectTimeout: Duration = .seconds(5),
        rpcTimeout: Duration = .seconds(10),
        publishTimeout: Duration = .seconds(30),
        backoff: Backoff = Backoff(),
        connectionName: String = "ddrouter",
        frameMax: Int = 131_072,
        consumerByteLimit: Int? = nil
    ) {
        self.endpoints = endpoints
        self.vhost = vhost
        self.authentication = authentication
        self.tls = tls
        self.heartbeat = heartbeat
        self.connectTimeout = connectTimeout
        self.rpcTimeout = rpcTimeout
        self.publishTimeout = publishTimeout
        self.backoff = backoff
        self.connectionName = connectionName
        self.frameMax = frameMax
        self.consumerByteLimit = consumerByteLimit
    }
}

/// Exchanges, queues and bindings the client declares on every (re)connect.
public struct Topology: Sendable, Equatable {
    public struct Exchange: Sendable, Equatable {
        public enum Kind: String, Sendable { case direct, topic, fanout, headers }
        public var name: String
        public var kind: Kind
        public var durable: Bool
        public var autoDelete: Bool
        public var `internal`: Bool
        public var arguments: [String: AMQPValue]
        public init(name: String, kind: Kind, durable: Bool = true, autoDelete: Bool = false,
                    internal: Bool = false, arguments: [String: AMQPValue] = [:]) {
            self.name = name
            self.kind = kind
            self.durable = durable
            self.autoDelete = autoDelete
            self.internal = `internal`
            self.arguments = arguments
        }
    }

    public struct Queue: Sendable, Equatable {
        public enum Kind: String, Sendable { case classic, quorum }
        public var name: String
        public var kind: Kind
        public var durable: Bool
        public var exclusive: Bool
        public var autoDelete: Bool
        /// Extra arguments, e.g. `x-dead-letter-exchange`, `x-delivery-limit`.
        public var arguments: [String: AMQPValue]
        public init(name: String, kind: Kind = .classic, durable: Bool = true, exclusive: Bool = false,
                    autoDelete: Bool = false, arguments: [String: AMQPValue] = [:]) {
            self.name = name
            self.kind = kind
            self.durable = durable
            self.exclusive = exclusive
            self.autoDelete = autoDelete
            self.arguments = arguments
        }

        /// Arguments as sent to the broker: `x-queue-type` plus the caller's.
        var declaredArguments: [String: AMQPValue] {
            var args = arguments
            args["x-queue-type"] = .string(kind.rawValue)
            return args
        }
    }

    public struct Binding: Sendable, Equatable {
        public var queue: String
        public var exchange: String
        public var routingKey: String
        public var arguments: [String: AMQPValue]
        public init(queue: String, exchange: String, routingKey: String, arguments: [String: AMQPValue] = [:]) {
            self.queue = queue
            self.exchange = exchange
            self.routingKey = routingKey
            self.arguments = arguments
        }
    }

    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var bindings: [Binding]

    public init(exchanges: [Exchange] = [], queues: [Queue] = [], bindings: [Binding] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }
}
