public import AMQP
public import Contract
public import Foundation
import Metrics
public import Store
import Synchronization

/// The daemon's instrumentation hooks: one-line calls from the pipeline and the relay into
/// swift-metrics. Without `MetricsSystem.bootstrap` (unit tests, other commands) every metric
/// is a no-op; the consumer count still works (readiness needs it).
///
/// Labels come from `MetricLabel` only: a message's own values (ids, CPR numbers, names)
/// never become a label.
public enum Observe {
    // MARK: consumer activity

    private static let consumers = Atomic<Int>(0)

    /// True while at least one pipeline is consuming (between `consumerStarted` and `consumerStopped`).
    public static var isConsuming: Bool { consumers.load(ordering: .relaxed) > 0 }

    /// Called when a pipeline starts consuming.
    public static func consumerStarted() {
        let now = consumers.add(1, ordering: .relaxed).newValue
        Gauge(label: DaemonMetric.consumerActive.name).record(now > 0 ? 1 : 0)
    }

    /// Called when a pipeline's consume loop ends.
    public static func consumerStopped() {
        let now = consumers.subtract(1, ordering: .relaxed).newValue
        Gauge(label: DaemonMetric.consumerActive.name).record(now > 0 ? 1 : 0)
    }

    // MARK: deliveries

    private static let settled = Atomic<Int>(0)

    /// Deliveries settled since the process started (for the systemd status line).
    public static var processedCount: Int { settled.load(ordering: .relaxed) }

    /// What the handling of one delivery noted about itself (set through `note`).
    final class Notes: Sendable {
        struct Value {
            var rejection: String?
            var refusal: String?
            var duplicate = false
        }
        private let state = Mutex(Value())
        func rejected(_ code: String) { state.withLock { $0.rejection = code } }
        func refused(_ code: String) { state.withLock { $0.refusal = code } }
        func duplicate() { state.withLock { $0.duplicate = true } }
        var value: Value { state.withLock { $0 } }
    }

    @TaskLocal static var notes: Notes?

    /// Runs `handle` for one delivery and records its metrics: type × outcome, processing
    /// duration, age at consume, dead letters, rejection codes, the last-processed time.
    public static func delivery(
        _ delivery: Delivery, _ handle: () async -> Pipeline.Settlement
    ) async -> Pipeline.Settlement {
        let type = MetricLabel.type(delivery.properties.type)
        if let sent = delivery.properties.timestamp, sent > 0 {
            let age = max(0, Date().timeIntervalSince1970 - TimeInterval(sent))
            Metrics.Timer(label: DaemonMetric.messageAge.name).recordNanoseconds(Int64(age * 1e9))
        }
        let started = ContinuousClock.now
        let notes = Notes()
        let settlement = await $notes.withValue(notes) { await handle() }
        let elapsed = ContinuousClock.now - started
        Metrics.Timer(label: DaemonMetric.processingDuration.name, dimensions: [("type", type)]).recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        let noted = notes.value
        let outcome: MetricLabel.Outcome
        switch settlement {
        case .requeue:
            outcome = .requeued
        case .deadLetter:
            outcome = .deadLettered
            Counter(label: DaemonMetric.deadLettered.name, dimensions: [("reason", "nacked")]).increment()
        case .ack:
            if noted.duplicate {
                outcome = .duplicate
            } else if let code = noted.rejection {
                outcome = .rejected
                Counter(label: DaemonMetric.messageRejections.name, dimensions: [("code", code)]).increment()
                Counter(label: DaemonMetric.deadLettered.name, dimensions: [("reason", "rejected")]).increment()
            } else if let code = noted.refusal {
                outcome = .refused
                Counter(label: DaemonMetric.messageRejections.name, dimensions: [("code", code)]).increment()
                Counter(label: DaemonMetric.deadLettered.name, dimensions: [("reason", "rejected")]).increment()
            } else {
                outcome = .processed
            }
            Gauge(label: DaemonMetric.lastProcessed.name).record(Date().timeIntervalSince1970)
        }
        Counter(label: DaemonMetric.messagesReceived.name, dimensions: [("type", type), ("outcome", outcome.rawValue)])
            .increment()
        settled.add(1, ordering: .relaxed)
        return settlement
    }

    /// The delivery in hand is being rejected with `code` (a fatal-error receipt and a copy in
    /// ddrouter.dead). Counted once the delivery is acked.
    public static func rejected(code: RejectionCode) {
        notes?.rejected(MetricLabel.rejectionCode(code.rawValue))
    }

    /// The delivery in hand was decoded but its case refused it (`unknown-case`,
    /// `out-of-order`): a fatal-error receipt, committed with the inbox row, and (once that
    /// committed) a copy in ddrouter.dead. Counted once the delivery is acked.
    public static func refused(code: String) {
        notes?.refused(MetricLabel.rejectionCode(code))
    }

    /// The delivery in hand repeats an answered message_id; its stored receipt (`receipt`)
    /// was resent and confirmed.
    public static func duplicate(receipt: Data) {
        notes?.duplicate()
        receiptSent(body: receipt)
    }

    /// The workflow's decisions for one message were committed: `events` outbound events
    /// queued, `held` held back for lack of consent.
    public static func decided(events: Int, held: Int) {
        if events > 0 { Counter(label: DaemonMetric.eventsQueued.name).increment(by: events) }
        if held > 0 { Counter(label: DaemonMetric.consentHolds.name).increment(by: held) }
    }

    /// A receipt published directly (not through the outbox) and confirmed: a resent stored
    /// receipt (`body`).
    public static func receiptSent(body: Data) {
        Counter(label: DaemonMetric.receipts.name, dimensions: [("status", receiptStatus(body))]).increment()
    }

    // MARK: outbox relay

    /// One relay round: `rows` handed to the broker, `failures` (by message_id) the ones that
    /// were not confirmed.
    public static func relayed(_ rows: [OutboxEvent], failures: [String: any Error]) {
        for row in rows {
            let type = MetricLabel.type(row.type)
            Counter(label: DaemonMetric.eventsPublished.name, dimensions: [("type", type)]).increment()
            guard let error = failures[row.messageID] else {
                Counter(label: DaemonMetric.eventsConfirmed.name, dimensions: [("type", type)]).increment()
                if row.type == MessageType.receipt.rawValue {
                    Counter(label: DaemonMetric.receipts.name, dimensions: [("status", receiptStatus(row.body))])
                        .increment()
                }
                continue
            }
            let reason = failureReason(error)
            if reason == "returned" {
                Counter(label: DaemonMetric.eventsReturned.name, dimensions: [("type", type)]).increment()
            }
            Counter(label: DaemonMetric.eventsFailed.name, dimensions: [("type", type), ("reason", reason)]).increment()
        }
    }

    static func failureReason(_ error: any Error) -> String {
        guard let error = error as? AMQPError else { return "other" }
        switch error.code {
        case .unroutable: return "returned"
        case .nacked: return "nacked"
        case .timeout, .blocked: return "timeout"
        case .connectionLost, .channelClosed, .closed, .unreachable: return "connection"
        default: return "other"
        }
    }

    /// The `status` of a receipt body (bounded by `MetricLabel.receiptStatus`).
    static func receiptStatus(_ body: Data) -> String {
        struct Status: Decodable { var status: String? }
        return MetricLabel.receiptStatus((try? JSONDecoder().decode(Status.self, from: body))?.status)
    }
}
