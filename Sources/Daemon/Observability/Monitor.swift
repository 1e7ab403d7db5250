public import AMQP
public import Contract
import Dispatch
import Foundation
public import Logging
import Metrics
public import Store
import Synchronization

/// Keeps the sampled metrics and the readiness state current while the daemon runs:
/// - follows the broker clients' connection events (connected, lost, blocked): the consuming
///   client's and, when it has its own connection, the publishing one's;
/// - every `interval`: store gauges (outbox depth, oldest pending, open and overdue timers),
///   a store write probe, the depths of `ddrouter.inbound` and `ddrouter.dead`, `ddrouter_ready`,
///   and the systemd `STATUS=` line (counts only, never personal data).
///
/// It is the only reader of each client's `AMQPClient.events` (an `AsyncStream` has one
/// consumer). Queue depths are asked on the publishing connection: an RPC reads everything
/// the broker sent before its answer, and the consuming connection may be holding
/// deliveries back (`AMQPConfiguration.consumerByteLimit`).
/// Store calls block, so they run on a private dispatch queue, not on the cooperative pool.
public final class DaemonMonitor: Sendable {
    /// The client queue depths are asked on: the publisher when there is one.
    let queryClient: AMQPClient
    /// The clients with a connection of their own: `client`, and the publisher if separate.
    let clients: [AMQPClient]
    let store: Store
    let health: DaemonHealth
    let names: Contract.Topology
    let logger: Logger
    let interval: Duration
    let status: @Sendable (String) -> Void
    let queue = DispatchQueue(label: "ddrouter.monitor.store")
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let lastStatus = Mutex<String>("")

    /// - Parameter status: receives a short status line when it changes (systemd `STATUS=`).
    public init(
        client: AMQPClient, publisher: AMQPClient? = nil, store: Store, health: DaemonHealth,
        names: Contract.Topology = Contract.Topology(),
        logger: Logger, interval: Duration, status: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.queryClient = publisher ?? client
        self.clients = publisher.map { $0 === client ? [client] : [client, $0] } ?? [client]
        self.store = store
        self.health = health
        self.names = names
        self.logger = logger
        self.interval = interval
        self.status = status
    }

    public func start() {
        Self.recordConnectionGauges(clients)
        Gauge(label: DaemonMetric.consumerActive.name).record(Observe.isConsuming ? 1 : 0)
        let clients = clients
        let followers = clients.map { followed in Task { [logger] in
            var connected = false
            var hinted = false
            var refusalLogged = false
            for await event in followed.events {
                Self.record(event, wasConnected: &connected, clients: clients, logger: logger)
                // A refused login does not heal by retrying (the client retries anyway: the
                // broker side may be fixed instead): say so once per outage, as an error.
                if case .connected = event { refusalLogged = false }
                if case .disconnected = event, !refusalLogged, let error = followed.lastConnectError, error.isRefusedLogin {
                    logger.error(
                        "the broker refuses ddrouter's login: the password of broker.user (the credential broker-password) or the user's access to the vhost changed; ddrouter keeps retrying and is not ready until it is fixed: put the right password in broker-password and restart ddrouter (docs/operations.md, Change the broker password)",
                        metadata: ["amqp.error": "\(error)", "amqp.connection": "\(followed.configuration.connectionName)"])
                    refusalLogged = true
                }
                // A topology refusal caused by a configuration change: say which key, once.
                if case .disconnected(let reason) = event, !hinted, let hint = TopologyHint.forFailure(reason) {
                    logger.error("the broker refuses ddrouter's topology", metadata: ["hint": "\(hint)", "reason": "\(reason)"])
                    hinted = true
                }
            }
        } }
        let sampler = Task {
            while !Task.isCancelled {
                await sample()
                try? await Task.sleep(for: interval)
            }
        }
        tasks.withLock { $0 = [sampler] + followers }
    }

    /// Stops sampling (before the store is closed). The event task ends when the client closes.
    public func stop() async {
        let running = tasks.withLock { t -> [Task<Void, Never>] in
            defer { t.removeAll() }
            return t
        }
        for task in running { task.cancel() }
        if let sampler = running.first { await sampler.value }
    }

    /// Records one connection event of one of `clients` (the daemon's connections).
    /// `wasConnected` tells a lost connection from a failed attempt (both arrive as
    /// `.disconnected`): only the first counts as a disconnection. The connected and blocked
    /// gauges are read from all of `clients` after the event, whichever connection it is of.
    static func record(_ event: ConnectionEvent, wasConnected: inout Bool, clients: [AMQPClient], logger: Logger) {
        switch event {
        case .connected:
            wasConnected = true
            recordConnectionGauges(clients)
            Counter(label: DaemonMetric.brokerConnections.name).increment()
        case .disconnected:
            recordConnectionGauges(clients)
            if wasConnected { Counter(label: DaemonMetric.brokerDisconnections.name).increment() }
            wasConnected = false
        case .blocked, .unblocked:
            recordConnectionGauges(clients)
        case .consumerCancelled(let queue):
            logger.warning("the broker cancelled a consumer; subscribing again", metadata: ["amqp.queue": "\(queue)"])
        case .channelClosed(let channel, let code, let reason):
            let kind = channelClosureReason(code: code, text: reason)
            Counter(label: DaemonMetric.brokerChannelClosures.name, dimensions: [("reason", kind)]).increment()
            // The reply text is the broker's (channel number, timeout, queue or exchange name): no message content.
            let metadata: Logger.Metadata = [
                "amqp.channel": "\(channel)", "amqp.code": "\(code)", "amqp.reason": "\(reason)", "reason": "\(kind)",
            ]
            if kind == "consumer-timeout" {
                logger.error(
                    "the broker closed the consuming channel: a delivery stayed unacknowledged longer than its consumer_timeout; the channel is reopened and the broker redelivers the unsettled deliveries (raise consumer_timeout if this repeats)",
                    metadata: metadata)
            } else {
                logger.warning("the broker closed a channel; it is reopened", metadata: metadata)
            }
        case .resubscribed, .staleAcksDropped:
            break
        }
    }

    /// The `reason` label of `ddrouter_broker_channel_closures_total` (a closed set).
    static func channelClosureReason(code: UInt16, text: String) -> String {
        switch code {
        case 406 where text.contains("delivery acknowledgement") && text.contains("timed out"): "consumer-timeout"
        case 404: "not-found"
        case 403: "access-refused"
        case 406: "precondition-failed"
        default: "other"
        }
    }

    /// `broker_connected`: every connection is up; `broker_blocked`: the broker blocks any of them.
    static func recordConnectionGauges(_ clients: [AMQPClient]) {
        Gauge(label: DaemonMetric.brokerConnected.name).record(clients.allSatisfy(\.isConnected) ? 1 : 0)
        Gauge(label: DaemonMetric.brokerBlocked.name).record(clients.allSatisfy { $0.blockedReason == nil } ? 0 : 1)
    }

    /// One sampling round (also called by tests).
    public func sample() async {
        let connected = clients.allSatisfy(\.isConnected)
        Self.recordConnectionGauges(clients)
        Gauge(label: DaemonMetric.consumerActive.name).record(Observe.isConsuming ? 1 : 0)
        let inbound = connected ? await queueDepth(names.inboundQueue) : nil
        let dead = connected ? await queueDepth(names.deadLetterQueue) : nil
        Gauge(label: DaemonMetric.inboundQueueMessages.name).record(inbound.map(Double.init) ?? -1)
        Gauge(label: DaemonMetric.deadLetterQueueMessages.name).record(dead.map(Double.init) ?? -1)

        let (gauges, problem) = await onStoreQueue { [store] () -> (StoreGauges?, String?) in
            let now = Date()
            let problem = store.writeProbe()
            return ((try? store.gauges(at: now)), problem)
        }
        let previous = health.storeProblem
        health.storeProbed(problem: problem)
        Gauge(label: DaemonMetric.storeWritable.name).record(problem == nil ? 1 : 0)
        if let problem, previous != problem {
            logger.error("store not writable", metadata: ["store.problem": "\(problem)"])
        } else if problem == nil, previous != nil {
            logger.notice("store writable again")
        }
        if let gauges {
            Gauge(label: DaemonMetric.outboxDepth.name).record(gauges.outboxPending)
            let oldest = gauges.oldestPendingAt.map { max(0, Date().timeIntervalSince($0)) } ?? 0
            Gauge(label: DaemonMetric.outboxOldestAge.name).record(oldest)
            Gauge(label: DaemonMetric.timersOpen.name).record(gauges.timersPending)
            Gauge(label: DaemonMetric.timersOverdue.name).record(gauges.timersOverdue)
        }
        let readiness = health.readiness()
        Gauge(label: DaemonMetric.ready.name).record(readiness.ready ? 1 : 0)

        // systemd STATUS=: state and counts only.
        var line = readiness.ready ? "consuming" : "not ready: \(readiness.reason)"
        line += "; \(Observe.processedCount) messages settled since start"
        if let gauges { line += "; outbox \(gauges.outboxPending) pending; \(gauges.timersPending) timers open" }
        let changed = lastStatus.withLock { last -> Bool in
            defer { last = line }
            return last != line
        }
        if changed { status(line) }
    }

    /// The ready-message count of a queue, or nil when the broker does not answer within 2 s.
    /// (An unstructured task, so a call the broker never answers cannot hold the sampler up.)
    func queueDepth(_ queue: String) async -> Int? {
        let once = Mutex<CheckedContinuation<Int?, Never>?>(nil)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
            once.withLock { $0 = continuation }
            let finish: @Sendable (Int?) -> Void = { value in
                once.withLock { c in
                    c?.resume(returning: value)
                    c = nil
                }
            }
            let admin = Task { [queryClient] in
                if case .queue(let messages, _) = try? await queryClient.admin(.inspectQueue(queue)) {
                    finish(Int(messages))
                } else {
                    finish(nil)
                }
            }
            Task {
                try? await Task.sleep(for: .seconds(2))
                admin.cancel()
                finish(nil)
            }
        }
    }

    private func onStoreQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }
}
