public import AMQP
public import Foundation
public import Logging
public import Store
import Synchronization

/// Publishes the store's pending outbox rows with publisher confirms and marks them sent
/// only when the broker has confirmed them.
///
/// Each round takes up to `batchSize` rows that are due (receipts first, so a waiting sender
/// is answered ahead of a big list's queued events; within receipts and within the rest,
/// never-tried rows first in enqueue order, then retried rows whose back-off has passed:
/// `Store.dueOutbox`) and publishes them in that order, all
/// in flight at once on the confirm channel (`AMQPClient.publish(batch:)`), so events for one
/// case reach a queue in the order they were recorded. Only a row that failed on its own and
/// backs off can be overtaken by later rows. The confirmed ones are marked sent, each with its
/// `sent` audit entry, in one transaction (`Store.confirmSent`). A row whose publish failed
/// for a reason of its own (unroutable, nacked, refused) stays pending with its own
/// exponential back-off (`retryDelay` doubled per attempt, at most `maxRetryDelay`), so a
/// row that keeps failing never holds up the others; a publish that failed because the
/// connection is down backs nothing off (the relay pauses `retryDelay` instead). Either way
/// the row is sent again with the same `message_id` (consumers deduplicate on it). After a reconnect or a
/// restart the unconfirmed rows are simply pending: the next rounds publish them again.
public final class OutboxRelay: Sendable {
    let client: AMQPClient
    let store: Store
    let logger: Logger
    let batchSize: Int
    let idleDelay: Duration
    let retryDelay: Duration
    let maxRetryDelay: Duration
    let clock: @Sendable () -> Date
    private let state = Mutex(State())
    private let wakeup = WakeSignal()
    /// Where the relay's store calls run (never on the cooperative pool).
    let storeThread = StoreThread(label: "ddrouter.relay.store")

    struct State {
        var stopping = false
    }

    public init(client: AMQPClient, store: Store, logger: Logger, batchSize: Int = 256,
                idleDelay: Duration = .milliseconds(100), retryDelay: Duration = .milliseconds(500),
                maxRetryDelay: Duration = .seconds(60), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.client = client
        self.store = store
        self.logger = logger
        self.batchSize = batchSize
        self.idleDelay = idleDelay
        self.retryDelay = retryDelay
        self.maxRetryDelay = maxRetryDelay
        self.clock = clock
    }

    /// Runs until `stop` has been called and (bounded by the caller) the outbox is empty.
    public func run() async {
        while true {
            let outcome = await round()
            let stopping = state.withLock { $0.stopping }
            switch outcome {
            case .empty:
                if stopping { return }
                // Until a commit enqueues a row (`wake`), at most `idleDelay`.
                await wakeup.wait(atMost: idleDelay)
            case .allSent:
                continue
            case .someFailed:
                // The failed rows back off on their own; others may be due at once.
                try? await Task.sleep(for: min(retryDelay, idleDelay))
            case .connectionDown:
                // Nothing can go out until the client has reconnected.
                try? await Task.sleep(for: retryDelay)
            }
        }
    }

    /// Asks `run` to return once the outbox is empty; the caller bounds the wait (cancel the task).
    public func stop() {
        state.withLock { $0.stopping = true }
        wakeup.signal()
    }

    /// Something was enqueued: an idle relay starts its next round now instead of after
    /// `idleDelay` (`Store.observeOutbox` calls this after each commit that enqueued a row).
    public func wake() {
        wakeup.signal()
    }

    public enum Round: Sendable, Hashable {
        /// Nothing was due.
        case empty
        case allSent
        /// Some rows failed for a reason of their own (unroutable, nacked, refused): each
        /// backs off on its own; the others went out.
        case someFailed
        /// Publishing failed because the connection is down (lost, blocked, timed out): the
        /// rows are not backed off, so they go out as soon as the client has reconnected.
        case connectionDown
    }

    /// Failures of the connection rather than of the row.
    static func isConnectionFailure(_ error: any Error) -> Bool {
        guard let error = error as? AMQPError else { return false }
        switch error.code {
        case .connectionLost, .timeout, .blocked, .unreachable, .closed: return true
        case .tls, .authenticationFailed, .vhostAccessRefused, .channelClosed, .nacked, .unroutable, .topology,
            .invalidArgument, .library:
            return false
        }
    }

    /// One round: publish up to `batchSize` due rows, mark the confirmed ones sent.
    public func round() async -> Round {
        let rows: [OutboxEvent]
        do {
            let (store, clock, batchSize) = (store, clock, batchSize)
            rows = try await storeThread.run { try store.dueOutbox(at: clock(), limit: batchSize) }
        } catch {
            logger.warning("reading the outbox failed", metadata: ["error": "\(error)"])
            return .someFailed
        }
        if rows.isEmpty { return .empty }
        // In outbox order on the one publishing channel, all in flight together: events for
        // the same case reach each queue in the order the pipeline recorded them (a
        // consent-withdrawn never overtakes the event before it). Confirms stay pipelined.
        let user = client.configuration.userID
        let outcomes = await client.publish(batch: rows.map { Pipeline.outbound($0, userID: user) })
        let results: [(String, (any Error)?)] = zip(rows, outcomes).map { row, outcome in
            switch outcome {
            case .success: (row.messageID, nil)
            case .failure(let error): (row.messageID, error)
            }
        }
        Observe.relayed(rows, failures: Dictionary(results.compactMap { id, e in e.map { (id, $0) } }) { a, _ in a })
        let sentIDs = Set(results.filter { $0.1 == nil }.map(\.0))
        let sent = rows.filter { sentIDs.contains($0.messageID) }
        let failed = results.compactMap { id, error in error.map { (id, $0) } }
        let connectionFailures = failed.filter { Self.isConnectionFailure($0.1) }.map(\.0)
        let rowFailures = failed.filter { !Self.isConnectionFailure($0.1) }.map(\.0)
        do {
            let (store, clock) = (store, clock)
            let (baseDelay, maxDelay) = (Self.seconds(retryDelay), Self.seconds(maxRetryDelay))
            try await storeThread.run {
                if !sent.isEmpty { _ = try store.confirmSent(sent, at: clock()) }
                if !rowFailures.isEmpty {
                    try store.recordFailedPublish(
                        messageIDs: rowFailures, at: clock(), baseDelay: baseDelay, maxDelay: maxDelay)
                }
                if !connectionFailures.isEmpty { try store.recordPublishAttempt(messageIDs: connectionFailures) }
            }
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
            return rowFailures.isEmpty ? .connectionDown : .someFailed
        }
        return .allSent
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}

/// A wake-up for one waiter: `signal` before `wait` is remembered (once), so no signal is lost.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Returns at the next `signal` (or at once if one came since the last wait), after
    /// `timeout` at the latest, or when the task is cancelled.
    func wait(atMost timeout: Duration) async {
        if state.withLock({ s in defer { s.pending = false }; return s.pending }) { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.waitForSignal() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}
