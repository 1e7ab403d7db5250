/// The one error type of the AMQP layer: a code an operator and a caller can branch on,
/// and a message that says what happened and what to do about it.
public struct AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// No broker address accepted a TCP/TLS connection.
        case unreachable
        /// TLS handshake or certificate verification failed.
        case tls
        /// The broker refused the credentials.
        case authenticationFailed
        /// The user may not use the virtual host.
        case vhostAccessRefused
        /// A handshake, RPC or publish did not complete within its bound.
        case timeout
        /// The connection died (socket error, missed heartbeats, broker closed it).
        case connectionLost
        /// The broker closed the channel (e.g. 404 NOT_FOUND for a missing exchange).
        case channelClosed
        /// The broker negatively acknowledged a publish (basic.nack).
        case nacked
        /// A mandatory publish could not be routed to any queue (basic.return).
        case unroutable
        /// The broker blocked the connection (memory or disk alarm) for longer than the bound.
        case blocked
        /// Declaring exchanges, queues or bindings failed.
        case topology
        /// The client was closed; nothing more can be sent.
        case closed
        /// An invalid argument was given (e.g. a message over the frame limit).
        case invalidArgument
        /// An error inside rabbitmq-c that fits no other code.
        case library
    }

    public var code: Code
    public var message: String
    /// AMQP reply code from the broker, where there was one (e.g. 403, 404, 530).
    public var replyCode: UInt16?

    public init(_ code: Code, _ message: String, replyCode: UInt16? = nil) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
    }

    public var description: String {
        if let replyCode { return "AMQP \(code.rawValue) (\(replyCode)): \(message)" }
        return "AMQP \(code.rawValue): \(message)"
    }

    /// The broker refused the login: wrong or unknown credentials, or a user without access to
    /// the vhost. Retrying does not help until someone fixes the user or the configuration.
    public var isRefusedLogin: Bool { code == .authenticationFailed || code == .vhostAccessRefused }

    /// Whether a publish that failed with this error may have been lost in flight and should
    /// be sent again (with the same message_id) once the connection is back.
    public var isRetryable: Bool {
        switch code {
        case .connectionLost, .timeout, .blocked, .unreachable, .channelClosed, .closed: return true
        case .nacked: return true
        case .tls, .authenticationFailed, .vhostAccessRefused, .unroutable, .topology,
            .invalidArgument, .library:
            return false
        }
    }
}
