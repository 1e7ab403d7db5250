import Contract

/// Every metric `ddrouter run` exposes on `/metrics`: name, kind, help text, label names and
/// (for histograms) buckets. docs/operations.md lists the same names; a test checks that the
/// two agree and that a running daemon exposes them.
///
/// Label values are always from a small fixed set (`MetricLabel`): never a CPR number, a
/// name, a message_id or anything else a sender chooses.
public enum DaemonMetric: String, CaseIterable, Sendable {
    // messages in
    case messagesReceived = "ddrouter_messages_received_total"
    case messageRejections = "ddrouter_message_rejections_total"
    case processingDuration = "ddrouter_message_processing_duration_seconds"
    case messageAge = "ddrouter_message_age_seconds"
    case lastProcessed = "ddrouter_last_processed_timestamp_seconds"
    case deadLettered = "ddrouter_dead_lettered_total"
    case receipts = "ddrouter_receipts_total"
    case eventsQueued = "ddrouter_events_queued_total"
    case consentHolds = "ddrouter_consent_holds_total"
    // messages out
    case eventsPublished = "ddrouter_events_published_total"
    case eventsConfirmed = "ddrouter_events_confirmed_total"
    case eventsReturned = "ddrouter_events_returned_total"
    case eventsFailed = "ddrouter_events_failed_total"
    // sampled state
    case outboxDepth = "ddrouter_outbox_depth"
    case outboxOldestAge = "ddrouter_outbox_oldest_pending_age_seconds"
    case timersOpen = "ddrouter_timers_open"
    case timersOverdue = "ddrouter_timers_overdue"
    case inboundQueueMessages = "ddrouter_inbound_queue_messages"
    case deadLetterQueueMessages = "ddrouter_dead_letter_queue_messages"
    case storeWritable = "ddrouter_store_writable"
    // broker connection
    case brokerConnected = "ddrouter_broker_connected"
    case brokerBlocked = "ddrouter_broker_blocked"
    case brokerConnections = "ddrouter_broker_connections_total"
    case brokerDisconnections = "ddrouter_broker_disconnections_total"
    case brokerChannelClosures = "ddrouter_broker_channel_closures_total"
    case consumerActive = "ddrouter_consumer_active"
    case ready = "ddrouter_ready"
    // process
    case logMessages = "ddrouter_log_messages_total"
    case buildInfo = "ddrouter_build_info"
    case startTime = "ddrouter_start_time_seconds"

    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public var name: String { rawValue }

    public var kind: Kind {
        switch self {
        case .messagesReceived, .messageRejections, .deadLettered, .receipts, .eventsQueued, .consentHolds,
            .eventsPublished, .eventsConfirmed, .eventsReturned, .eventsFailed, .brokerConnections,
            .brokerDisconnections, .brokerChannelClosures, .logMessages:
            .counter
        case .processingDuration, .messageAge:
            .histogram
        case .lastProcessed, .outboxDepth, .outboxOldestAge, .timersOpen, .timersOverdue, .inboundQueueMessages,
            .deadLetterQueueMessages, .storeWritable, .brokerConnected, .brokerBlocked, .consumerActive, .ready,
            .buildInfo, .startTime:
            .gauge
        }
    }

    /// Label names, in the order they are attached.
    public var labels: [String] {
        switch self {
        case .messagesReceived: ["type", "outcome"]
        case .messageRejections: ["code"]
        case .processingDuration: ["type"]
        case .deadLettered: ["reason"]
        case .receipts: ["status"]
        case .eventsPublished, .eventsConfirmed, .eventsReturned: ["type"]
        case .eventsFailed: ["type", "reason"]
        case .logMessages: ["level"]
        case .brokerChannelClosures: ["reason"]
        case .buildInfo: ["version"]
        default: []
        }
    }

    public var help: String {
        switch self {
        case .messagesReceived:
            "Deliveries taken from ddrouter.inbound, by message type (the AMQP type property if known, else other) and outcome (processed, rejected, refused, duplicate, dead-lettered, requeued)."
        case .messageRejections:
            "Messages answered with a fatal-error receipt as a whole, by rejection code: rejected before reaching a case or refused by their case (unknown-case, out-of-order); each has a copy in ddrouter.dead."
        case .processingDuration:
            "Time from taking a delivery to settling it (decode, decide, one store transaction), by message type."
        case .messageAge:
            "Age of a delivery when it is consumed: now minus the sender's AMQP timestamp property (messages with a timestamp only)."
        case .lastProcessed:
            "Unix time at which the last delivery was settled with an ack."
        case .deadLettered:
            "Messages put into ddrouter.dead by the router: rejected (the copy of a message answered with a fatal-error receipt, refused ones included) or nacked (delivery dead-lettered without requeue)."
        case .receipts:
            "Receipts sent to senders and confirmed by the broker, by receipt status."
        case .eventsQueued:
            "Outbound events the workflow wrote to the outbox, from messages and fired timers (receipts not included)."
        case .consentHolds:
            "Outbound events held back because no consent permits them to cross (R4); released when consent arrives."
        case .eventsPublished:
            "Outbox messages (events and receipts) handed to the broker, by message type; retries count again."
        case .eventsConfirmed:
            "Outbox messages the broker confirmed, by message type."
        case .eventsReturned:
            "Outbox messages the broker returned as unroutable (no queue bound for the routing key), by message type."
        case .eventsFailed:
            "Outbox publishes that failed and stay pending, by message type and reason (returned, nacked, timeout, connection, other)."
        case .outboxDepth:
            "Outbox messages not yet confirmed by the broker (sampled)."
        case .outboxOldestAge:
            "Age of the oldest unconfirmed outbox message, 0 when the outbox is empty (sampled)."
        case .timersOpen:
            "Case timers pending (scheduled, neither fired nor cancelled) (sampled)."
        case .timersOverdue:
            "Pending case timers whose due time has passed (sampled)."
        case .inboundQueueMessages:
            "Messages ready in ddrouter.inbound, as the broker reports them (sampled; -1 when unknown)."
        case .deadLetterQueueMessages:
            "Messages in ddrouter.dead waiting for an operator, as the broker reports them (sampled; -1 when unknown)."
        case .storeWritable:
            "1 when the last probe could take the store's write lock and the disk has room, else 0 (sampled)."
        case .brokerConnected:
            "1 while the broker connection is open with the topology declared, else 0."
        case .brokerBlocked:
            "1 while the broker blocks publishing (memory or disk alarm), else 0."
        case .brokerConnections:
            "Broker connections established (the first one and every reconnect)."
        case .brokerDisconnections:
            "Established broker connections lost (failed connection attempts are not counted)."
        case .brokerChannelClosures:
            "Channels the broker closed on an open connection, by reason (consumer-timeout: a delivery stayed unacknowledged longer than the broker's consumer_timeout; not-found, access-refused, precondition-failed, other); the channel is reopened."
        case .consumerActive:
            "1 while the pipeline is consuming ddrouter.inbound, else 0."
        case .ready:
            "1 when /readyz answers 200 (broker connected, consuming, store writable), else 0; computed at each scrape."
        case .logMessages:
            "Log lines written, by level."
        case .buildInfo:
            "Always 1; the version label tells which ddrouter build runs."
        case .startTime:
            "Unix time at which the process started."
        }
    }

    /// Histogram buckets, in seconds.
    public var buckets: [Double] {
        switch self {
        case .processingDuration: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
        case .messageAge: [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400]
        default: []
        }
    }
}

/// The bounded label values. Each function maps anything unexpected to `other`, so a sender
/// cannot create a new time series (or put a CPR number into one) by choosing a property value.
public enum MetricLabel {
    /// A contract message type's name, or `other`.
    public static func type(_ raw: String?) -> String {
        guard let raw, let type = MessageType(rawValue: raw) else { return "other" }
        return type.rawValue
    }

    /// A rejection code's name, or `other`.
    public static func rejectionCode(_ raw: String?) -> String {
        guard let raw, let code = RejectionCode(rawValue: raw) else { return "other" }
        return code.rawValue
    }

    /// A receipt status (`ok`, `transient-error`, `fatal-error`), or `other`.
    public static func receiptStatus(_ raw: String?) -> String {
        guard let raw, let status = Receipt.Status(rawValue: raw) else { return "other" }
        return status.rawValue
    }

    /// What happened to a delivery.
    public enum Outcome: String, Sendable, CaseIterable {
        /// Decided and recorded (possibly with some list entries rejected); acked.
        case processed
        /// Rejected as a whole before reaching a case: fatal-error receipt, copy in ddrouter.dead; acked.
        case rejected
        /// Decoded, but its case refused it (unknown-case, out-of-order): fatal-error receipt, copy in ddrouter.dead; acked.
        case refused
        /// A message_id already answered: the stored receipt was sent again; acked.
        case duplicate
        /// Nacked without requeue: into the queue's dead-letter exchange (ddrouter.dead).
        case deadLettered = "dead-lettered"
        /// Transient trouble; nothing committed; the broker delivers it again.
        case requeued
    }
}
