public import AMQP
import Foundation
public import Logging
public import Store
import Synchronization

/// Publishes the store's pending outbox rows with publisher confirms and marks them sent
/// only when the broker has confirmed them.
///
/// Each round takes up to `batchSize` pending rows (oldest first) and publishes them all at
/// once (many in flight on the confirm channel); the confirmed ones are marked sent in one
/// transaction. A row whose publish failed stays pending and is sent again, with the same
/// `message_id`, after `retryDelay` (consumers deduplicate on it). After a restart the
/// pending rows are simply the first round's work.
public final class OutboxRelay: Sendable {
    let client: AMQPClient
    let store: Store
    let logger: Logger
    let batchSize: Int
    let idleDelay: Duration
    let retryDelay: Duration
    private let state = Mutex(State())

    struct State {
        var stopping = false
    }

    public init(client: AMQPClient, store: Store, logger: Logger, batchSize: Int = 256,
                idleDelay: Duration = .milliseconds(100), retryDelay: Duration = .milliseconds(500)) {
        self.client = client
        self.store = store
        self.logger = logger
        self.batchSize = batchSize
        self.idleDelay = idleDelay
        self.retryDelay = retryDelay
    }

    /// Runs until `stop` has been called and (bounded by the caller) the outbox is empty.
    public func run() async {
        while true {
            let outcome = await round()
            let stopping = state.withLock { $0.stopping }
            switch outcome {
            case .empty:
                if stopping { return }
                try? await Task.sleep(for: idleDelay)
            case .allSent:
                continue
            case .someFailed:
                try? await Task.sleep(for: retryDelay)
            }
        }
    }

    /// Asks `run` to return once the outbox is empty; the caller bounds the wait (cancel the task).
    public func stop() {
        state.withLock { $0.stopping = true }
    }

    public enum Round: Sendable, Hashable {
        case empty
        case allSent
        case someFailed
    }

    /// One round: publish up to `batchSize` pending rows, mark the confirmed ones sent.
    public func round() async -> Round {
        let rows: [OutboxEvent]
        do {
            rows = try store.pendingOutbox(limit: batchSize)
        } catch {
            logger.warning("reading the outbox failed", metadata: ["error": "\(error)"])
            return .someFailed
        }
        if rows.isEmpty { return .empty }
        let results = await withTaskGroup(of: (String, (any Error)?).self) { group in
            for row in rows {
                group.addTask { [client] in
                    do {
                        try await client.publish(Pipeline.outbound(row))
                        return (row.messageID, nil)
                    } catch {
                        return (row.messageID, error)
                    }
                }
            }
            var all: [(String, (any Error)?)] = []
            for await result in group { all.append(result) }
            return all
        }
        Observe.relayed(rows, failures: Dictionary(results.compactMap { id, e in e.map { (id, $0) } }) { a, _ in a })
        let sent = results.filter { $0.1 == nil }.map(\.0)
        let failed = results.compactMap { id, error in error.map { (id, $0) } }
        do {
            if !sent.isEmpty { _ = try store.markSent(messageIDs: sent, at: Date()) }
            if !failed.isEmpty { try store.recordPublishAttempt(messageIDs: failed.map(\.0)) }
        } catch {
            // Confirmed but not marked: they are sent again later with the same message_id.
            logger.warning("marking the outbox failed", metadata: ["error": "\(error)"])
            return .someFailed
        }
        if let (id, error) = failed.first {
            let retryable = (error as? AMQPError)?.isRetryable ?? false
            logger.warning("outbox publish failed; rows stay pending", metadata: [
                "failed": "\(failed.count)", "sent": "\(sent.count)", "first.message_id": "\(Pipeline.loggable(id))",
                "error": "\(error)", "retryable": "\(retryable)",
            ])
            return .someFailed
        }
        return .allSent
    }
}
