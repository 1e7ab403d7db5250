public import AMQP
public import Foundation
public import Logging
public import Store
public import Workflow
public import Contract

/// The running daemon's moving parts: the store, the pipeline consuming `ddrouter.inbound`,
/// the outbox relay and the timer runner, on the `AMQPClient`s the caller owns, starts and
/// closes: `client` consumes, `publisher` (by default the same) publishes. `ddrouter run`
/// gives them separate connections, as RabbitMQ advises: the consuming one pauses reading
/// while big deliveries are held (`AMQPConfiguration.consumerByteLimit`), and a publishing
/// connection the broker blocks (memory or disk alarm) cannot hold up acks.
public final class Service: Sendable {
    public let store: Store
    public let pipeline: Pipeline
    public let relay: OutboxRelay
    public let timers: TimerRunner
    let logger: Logger
    let prefetch: UInt16
    let tasks = TaskBox()
    /// A reason, once, when a part of the service has stopped for good while the process
    /// was not stopping: today the consumer, when the broker refuses the subscription to
    /// `ddrouter.inbound` for a reason the client cannot fix by reconnecting (e.g. access
    /// refused). The process must then exit non-zero so systemd restarts it: it would
    /// otherwise stay up (and READY) consuming nothing.
    public let failures: AsyncStream<String>
    let failure: AsyncStream<String>.Continuation

    /// Opens (creating if needed, directory owner-only) the store and builds the pipeline.
    ///
    /// - Parameters:
    ///   - workflow: the rules' configuration (phasing calendar, timer durations).
    ///   - clock: the time the pipeline, relay and timers use (tests move it forward).
    ///   - userForSender: the broker user each sender must publish as (see `PipelineOptions`).
    ///   - timerInterval: how often due timers are looked for.
    public init(
        settings: DaemonSettings, storeSettings: StoreSettings, client: AMQPClient, publisher: AMQPClient? = nil,
        logger: Logger,
        workflow: WorkflowConfiguration = WorkflowConfiguration(),
        clock: @escaping @Sendable () -> Date = { Date() },
        userForSender: @escaping @Sendable (Sender) -> String = PipelineOptions.defaultUser,
        timerInterval: Duration = .seconds(1)
    ) throws {
        let directory = (storeSettings.path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let keys = try StoreKeys(master: storeSettings.masterKey)
        let store = try Store(path: storeSettings.path, auditKey: keys.auditKey)
        var options = PipelineOptions(
            codeBook: settings.codeBook, names: settings.names, workflow: workflow,
            pseudonymizer: try Pseudonymizer(key: keys.pseudonymKey), userForSender: userForSender, clock: clock,
            deliveryLimit: settings.deliveryLimit)
        let senders = settings.directory
        options.servingClinics = { code in senders.clinics(serving: code) }
        self.store = store
        let pipeline = Pipeline(client: client, publisher: publisher, store: store, options: options, logger: logger)
        self.pipeline = pipeline
        let relay = OutboxRelay(client: publisher ?? client, store: store, logger: logger, clock: clock)
        self.relay = relay
        store.observeOutbox { relay.wake() }
        self.timers = TimerRunner(pipeline: pipeline, store: store, logger: logger, interval: timerInterval)
        self.logger = logger
        self.prefetch = settings.prefetch
        (failures, failure) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(1))
    }

    /// Starts consuming, relaying and firing timers.
    public func start() {
        let pipeline = pipeline
        let relay = relay
        let timers = timers
        let logger = logger
        let prefetch = prefetch
        let failure = failure
        tasks.set(
            consumer: Task {
                do {
                    // Ends without error on shutdown. Reconnects, basic.cancel (queue deleted)
                    // and channel errors are handled inside the client, which resubscribes.
                    try await pipeline.run(prefetch: prefetch)
                } catch {
                    logger.critical("consuming ddrouter.inbound ended; the daemon exits to be restarted",
                                    metadata: ["error": "\(error)"])
                    failure.yield("consuming ddrouter.inbound ended: \(error)")
                    failure.finish()
                }
            },
            relay: Task { await relay.run() },
            timers: Task { await timers.run() })
    }

    /// How long `shutdown` waits for the message in hand and a timer pass in hand (together).
    public static let drainTimeout: Duration = .seconds(15)

    /// Graceful stop: no new deliveries, the message in hand finished and settled (the
    /// prefetched ones stay unacked: the broker requeues them when the connection closes), a
    /// timer pass in hand finished, both bounded by `drainTimeout`; then the outbox flushed with
    /// confirms for at most `flushTimeout` (what is left is sent on the next start), then the
    /// store closed. The caller closes the client afterwards (bounded by the client's RPC
    /// timeout). With the defaults: 15 s + 10 s + 10 s = 35 s, below the unit's
    /// `TimeoutStopSec=45s` (docs/operations.md, "Stop and restart").
    /// Returns whether the outbox was flushed completely.
    @discardableResult
    public func shutdown(client: AMQPClient, flushTimeout: Duration, drainTimeout: Duration = Service.drainTimeout) async -> Bool {
        let (consumer, relayTask, timerTask) = tasks.get()
        pipeline.stop()
        timers.stop()
        await client.stopConsuming()
        let deadline = ContinuousClock.now + drainTimeout
        // A delivery in hand finishes its transaction and is acked; one not started stays unacked.
        if let consumer, !(await Self.finishes(consumer, within: deadline - ContinuousClock.now)) {
            logger.warning("the consumer did not stop in time; unacked deliveries are redelivered on the next start")
        }
        // A timer pass in hand finishes its transaction; a timer not fired yet fires on the next start.
        if let timerTask, !(await Self.finishes(timerTask, within: max(.zero, deadline - ContinuousClock.now))) {
            logger.warning("the timer runner did not stop in time; due timers fire on the next start")
        }
        relay.stop()
        var flushed = true
        if let relayTask { flushed = await Self.finishes(relayTask, within: flushTimeout) }
        if !flushed {
            logger.warning("outbox not flushed in time; pending events are sent on the next start")
        }
        do {
            try store.close()
        } catch {
            // Nothing committed is lost: SQLite replays the WAL at the next start.
            logger.warning("closing the store failed; its WAL is replayed at the next start", metadata: ["error": "\(error)"])
        }
        return flushed
    }

    /// Waits for `task` at most `limit`; cancels it when the time is up. True if it finished.
    static func finishes(_ task: Task<Void, Never>, within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await task.value
                return true
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            if !first { task.cancel() }
            group.cancelAll()
            return first
        }
    }

    final class TaskBox: Sendable {
        private let lock = NSLock()
        private nonisolated(unsafe) var consumer: Task<Void, Never>?
        private nonisolated(unsafe) var relay: Task<Void, Never>?
        private nonisolated(unsafe) var timers: Task<Void, Never>?

        func set(consumer: Task<Void, Never>, relay: Task<Void, Never>, timers: Task<Void, Never>) {
            lock.withLock {
                self.consumer = consumer
                self.relay = relay
                self.timers = timers
            }
        }

        func get() -> (Task<Void, Never>?, Task<Void, Never>?, Task<Void, Never>?) {
            lock.withLock { (consumer, relay, timers) }
        }
    }
}
