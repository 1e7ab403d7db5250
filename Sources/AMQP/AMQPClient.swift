import CRabbitMQ
import CRabbitMQShims
import Foundation
public import Logging
import Synchronization

/// A broker connection over rabbitmq-c, owned by one dedicated thread.
///
/// Everything that touches the C connection happens on that thread (rabbitmq-c allows one
/// owner per connection). Callers talk to it through a locked command queue and a wake-up
/// pipe; results come back through continuations and async streams.
///
/// - Publishing is in confirm mode with many messages in flight; `publish` returns when the
///   broker has confirmed, and throws when it nacks, returns the message as unroutable,
///   blocks the connection longer than `publishTimeout`, or the connection dies first
///   (then the message may or may not have arrived: send it again with the same id).
/// - Consuming survives reconnects and `basic.cancel`: the client redeclares the topology
///   and subscribes again. Acks for deliveries of a dead channel are dropped, never sent on
///   the new channel (the broker redelivers those messages).
/// - Channels: 1 consumes, 2 publishes and declares, 3 runs administrative calls, so a
///   channel error in one (e.g. publishing to a missing exchange) leaves the others alone.
public final class AMQPClient: Sendable {
    public let configuration: AMQPConfiguration
    public let topology: Topology
    public let events: AsyncStream<ConnectionEvent>

    let logger: Logger
    let shared: Mutex<Shared>
    let wake: WakePipe
    let watchdog: Watchdog
    let eventSink: AsyncStream<ConnectionEvent>.Continuation
    /// When the I/O thread last went round its loop (ns of the monotonic clock; 0 = not running).
    let ioTick = Atomic<Int64>(0)

    struct Shared {
        var commands: [Command] = []
        var started = false
        var closed = false
        var connectedEndpoint: String?
        var blockedReason: String?
        var nextConsumerID = 1
        /// Queues with a consumer the broker has accepted (basic.consume-ok) on the live connection.
        var consumingQueues: Set<String> = []
        /// Why the latest connection attempt failed; nil once one succeeds.
        var lastConnectError: AMQPError?
    }

    public init(configuration: AMQPConfiguration, topology: Topology = Topology(), logger: Logger) {
        self.configuration = configuration
        self.topology = topology
        self.logger = logger
        self.shared = Mutex(Shared())
        self.wake = WakePipe()
        self.watchdog = Watchdog()
        (self.events, self.eventSink) = AsyncStream.makeStream(
            of: ConnectionEvent.self, bufferingPolicy: .bufferingNewest(256))
    }

    deinit {
        eventSink.finish()
    }

    /// Starts the I/O thread; it connects (and reconnects) until `close()`.
    public func start() {
        let first = shared.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started && !s.closed
        }
        guard first else { return }
        let loop = IOLoop(client: self)
        let thread = Thread { loop.run() }
        thread.name = "ddrouter-amqp"
        thread.start()
        watchdog.start(limit: configuration.publishTimeout,
                       silence: configuration.heartbeat > .zero ? configuration.heartbeat * 2 : nil)
    }

    /// True while a connection is open and set up (topology declared, consumers subscribed).
    public var isConnected: Bool { shared.withLock { $0.connectedEndpoint != nil } }

    /// True while the broker has accepted a consumer on `queue` on the live connection (it is
    /// false between a lost connection and the resubscription, and after `stopConsuming`).
    public func isConsuming(queue: String) -> Bool { shared.withLock { $0.consumingQueues.contains(queue) } }

    /// How long ago the I/O thread last went round its loop: it does so at least every 100 ms
    /// while connected or waiting to reconnect, and after every broker round trip while
    /// connecting. A large value means the thread is stuck (e.g. in a blocking call); nil
    /// before `start()` and after `close()`.
    public var ioLoopSilence: Duration? {
        let tick = ioTick.load(ordering: .relaxed)
        guard tick != 0 else { return nil }
        return .nanoseconds(max(0, Watchdog.now() - tick))
    }

    /// The broker's reason while it blocks publishing (memory or disk alarm), else nil.
    public var blockedReason: String? { shared.withLock { $0.blockedReason } }

    /// Why the latest connection attempt failed (the broker refused the login, an endpoint was
    /// unreachable, …); nil before the first attempt ends and while the last one succeeded.
    public var lastConnectError: AMQPError? { shared.withLock { $0.lastConnectError } }

    /// Waits until the client is connected, or throws `.timeout` naming the last failure seen.
    ///
    /// The client keeps retrying every failure (a daemon outlives a broker restart, or a
    /// password fixed meanwhile). A one-shot command passes `failOnRefusedLogin`: then the
    /// first attempt the broker refuses, for credentials (`.authenticationFailed`) or the
    /// vhost (`.vhostAccessRefused`), is thrown at once, naming the user and the vhost.
    public func waitUntilConnected(timeout: Duration, failOnRefusedLogin: Bool = false) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isConnected {
            let (closed, last) = shared.withLock { ($0.closed, $0.lastConnectError) }
            if closed { throw AMQPError(.closed, "client was closed") }
            if failOnRefusedLogin, let last, last.isRefusedLogin { throw last }
            if ContinuousClock.now >= deadline {
                let why = last.map { "; last attempt: \($0)" } ?? ""
                throw AMQPError(.timeout, "no broker connection within \(timeout) (endpoints: \(configuration.endpoints.map(\.description).joined(separator: ", ")))\(why)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Publishes and returns once the broker has confirmed the message.
    public func publish(_ message: OutboundMessage) async throws {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
            let pending = PendingPublish(
                message: message, deadline: ContinuousClock.now + configuration.publishTimeout,
                completion: { cont.resume(with: $0.mapError { $0 as any Error }) })
            if !enqueue([.publish(pending)]) {
                pending.finish(.failure(AMQPError(.closed, "client is closed; message not sent")))
            }
        }
    }

    /// Publishes `messages` in this order (they reach the broker, and so each queue, in it:
    /// one channel) with all of them in flight at once, and returns once every one is
    /// settled: one result per message, in the same order. A failure of one (e.g. returned
    /// as unroutable) does not stop the others.
    public func publish(batch messages: [OutboundMessage]) async -> [Result<Void, AMQPError>] {
        guard !messages.isEmpty else { return [] }
        return await withCheckedContinuation { (cont: CheckedContinuation<[Result<Void, AMQPError>], Never>) in
            let batch = PublishBatch(count: messages.count, continuation: cont)
            let deadline = ContinuousClock.now + configuration.publishTimeout
            let pendings = messages.enumerated().map { index, message in
                PendingPublish(message: message, deadline: deadline, completion: { batch.settle(index, $0) })
            }
            if !enqueue(pendings.map { .publish($0) }) {
                for p in pendings { p.finish(.failure(AMQPError(.closed, "client is closed; message not sent"))) }
            }
        }
    }

    /// Subscribes to a queue. Deliveries continue across reconnects; the stream ends when the
    /// client closes, when `stopConsuming()` is called, or with an error if the broker refuses
    /// the subscription for a reason a retry cannot fix (e.g. the queue does not exist and is
    /// not part of the declared topology).
    public func consume(queue: String, prefetch: UInt16) -> AsyncThrowingStream<Delivery, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Delivery.self, throwing: (any Error).self)
        let id = shared.withLock { s -> Int in
            defer { s.nextConsumerID += 1 }
            return s.nextConsumerID
        }
        let consumer = Consumer(id: id, queue: queue, prefetch: prefetch, continuation: continuation)
        if !enqueue(.subscribe(consumer)) {
            continuation.finish(throwing: AMQPError(.closed, "client is closed"))
        }
        return stream
    }

    public func ack(_ tag: DeliveryTag, multiple: Bool = false) {
        _ = enqueue(.settle(tag, .ack(multiple: multiple)))
    }

    public func nack(_ tag: DeliveryTag, multiple: Bool = false, requeue: Bool) {
        _ = enqueue(.settle(tag, .nack(multiple: multiple, requeue: requeue)))
    }

    public func reject(_ tag: DeliveryTag, requeue: Bool) {
        _ = enqueue(.settle(tag, .reject(requeue: requeue)))
    }

    /// Cancels every consumer (no new deliveries) and ends their streams; acks still work.
    public func stopConsuming() async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            if !enqueue(.stopConsuming(cont)) { cont.resume() }
        }
    }

    /// Runs an administrative call on its own channel.
    public func admin(_ operation: AdminOperation) async throws -> AdminResult {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<AdminResult, any Error>) in
            if !enqueue(.admin(operation, cont)) {
                cont.resume(throwing: AMQPError(.closed, "client is closed"))
            }
        }
    }

    /// Closes the connection. Unconfirmed publishes fail with `.closed`; streams end.
    public func close() async {
        let wasStarted = shared.withLock { s -> Bool in s.started }
        if !wasStarted {
            shared.withLock { $0.closed = true }
            eventSink.finish()
            return
        }
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let accepted = shared.withLock { s -> Bool in
                guard !s.closed else { return false }
                s.closed = true
                s.commands.append(.close(cont))
                return true
            }
            if accepted { wake.signal() } else { cont.resume() }
        }
        watchdog.stop()
    }

    /// Queues a command for the I/O thread; false once the client is closed.
    private func enqueue(_ command: Command) -> Bool { enqueue([command]) }

    /// Queues commands for the I/O thread together, in order; false (none queued) once closed.
    private func enqueue(_ commands: [Command]) -> Bool {
        let accepted = shared.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.commands.append(contentsOf: commands)
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    func takeCommands() -> [Command] {
        shared.withLock { s in
            let c = s.commands
            s.commands.removeAll(keepingCapacity: true)
            return c
        }
    }

    func emit(_ event: ConnectionEvent) { eventSink.yield(event) }
}

/// Administrative calls (run on channel 3).
public enum AdminOperation: Sendable {
    /// Passive declare: does the queue exist, how many messages and consumers.
    case inspectQueue(String)
    case purgeQueue(String)
    case deleteQueue(String)
    /// basic.get with auto-ack: removes and returns one message, or nil when empty.
    case get(String)
}

public enum AdminResult: Sendable {
    case queue(messages: UInt32, consumers: UInt32)
    case purged(messages: UInt32)
    case deleted(messages: UInt32)
    case message(Delivery?)
}

enum Settle {
    case ack(multiple: Bool)
    case nack(multiple: Bool, requeue: Bool)
    case reject(requeue: Bool)

    var multiple: Bool {
        switch self {
        case .ack(let multiple), .nack(let multiple, _): return multiple
        case .reject: return false
        }
    }
}

enum Command {
    case publish(PendingPublish)
    case settle(DeliveryTag, Settle)
    case subscribe(Consumer)
    case stopConsuming(CheckedContinuation<Void, Never>)
    case admin(AdminOperation, CheckedContinuation<AdminResult, any Error>)
    case close(CheckedContinuation<Void, Never>)
}

/// A publish on its way. Created by the caller, then touched only by the I/O thread.
// @unchecked Sendable: handed over once through the locked command queue; after that only
// the I/O thread reads or writes it.
final class PendingPublish: @unchecked Sendable {
    let message: OutboundMessage
    let deadline: ContinuousClock.Instant
    private var completion: (@Sendable (Result<Void, AMQPError>) -> Void)?
    var returned: AMQPError?

    init(message: OutboundMessage, deadline: ContinuousClock.Instant,
         completion: @escaping @Sendable (Result<Void, AMQPError>) -> Void) {
        self.message = message
        self.deadline = deadline
        self.completion = completion
    }

    func finish(_ result: Result<Void, AMQPError>) {
        guard let c = completion else { return }
        completion = nil
        c(result)
    }
}

/// The results of `publish(batch:)`, gathered as each message settles (on the I/O thread, or
/// on the caller's when the client is closed); the continuation resumes after the last one.
final class PublishBatch: Sendable {
    private let state: Mutex<(results: [Result<Void, AMQPError>?], left: Int)>
    private let continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>

    init(count: Int, continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) {
        state = Mutex((Array(repeating: nil, count: count), count))
        self.continuation = continuation
    }

    func settle(_ index: Int, _ result: Result<Void, AMQPError>) {
        let done = state.withLock { s -> [Result<Void, AMQPError>]? in
            guard s.results[index] == nil else { return nil }
            s.results[index] = result
            s.left -= 1
            return s.left == 0 ? s.results.map { $0! } : nil
        }
        if let done { continuation.resume(returning: done) }
    }
}

struct Consumer: Sendable {
    let id: Int
    let queue: String
    let prefetch: UInt16
    let continuation: AsyncThrowingStream<Delivery, any Error>.Continuation
    var tag: String { "ddrouter.\(id).\(queue)" }
}

/// A self-pipe that wakes the I/O thread's poll when a command is queued.
final class WakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        let rc = fds.withUnsafeMutableBufferPointer { pipe($0.baseAddress!) }
        precondition(rc == 0, "pipe failed: \(errno)")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    func signal() {
        var b: UInt8 = 1
        _ = write(writeFD, &b, 1)  // EAGAIN means a wake-up is already pending: fine.
    }

    func drain() {
        var buf = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buf, buf.count) > 0 {}
    }
}

/// Unsticks the I/O thread if a publish blocks in the socket for longer than the publish
/// bound (rabbitmq-c writes without a deadline; a broker that stops reading, as it does
/// under a resource alarm, would hold it forever), or for two heartbeat intervals in which
/// nothing at all arrived on the socket: a live broker sends its heartbeats even while it
/// reads nothing (an alarm), but a dead path sends nothing, and rabbitmq-c notices missed
/// heartbeats only in its read calls, which a blocked write keeps it out of. It shuts the
/// socket down, which makes the write fail and the client reconnect.
final class Watchdog: Sendable {
    private let busySince = Atomic<Int64>(0)  // ns of the monotonic clock, 0 = idle
    private let fd = Atomic<Int32>(-1)
    private let running = Atomic<Bool>(false)

    /// `silence`: how long a blocked write may see no byte arrive (nil: no such bound).
    func start(limit: Duration, silence: Duration?) {
        guard running.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        let limitNs = Int64(limit.seconds * 1e9)
        let silenceNs = silence.map { Int64($0.seconds * 1e9) }
        let thread = Thread { [self] in
            // The write being watched (its start), the bytes waiting to be read when last
            // looked at, and when that count last changed.
            var watched: (since: Int64, waiting: Int32, changed: Int64)?
            while running.load(ordering: .relaxed) {
                usleep(200_000)
                let since = busySince.load(ordering: .relaxed)
                guard since != 0 else { watched = nil; continue }
                let now = Self.now()
                let f = fd.load(ordering: .relaxed)
                var stuck = now - since > limitNs
                if let silenceNs, f >= 0 {
                    var waiting: Int32 = 0
                    _ = ioctl(f, UInt(FIONREAD), &waiting)
                    if watched?.since != since {
                        watched = (since, waiting, now)
                    } else if watched?.waiting != waiting {
                        watched = (since, waiting, now)
                    } else if let w = watched, now - w.changed > silenceNs {
                        stuck = true
                    }
                }
                if stuck {
                    if f >= 0 { shutdown(f, Int32(SHUT_RDWR)) }
                    busySince.store(0, ordering: .relaxed)
                    watched = nil
                }
            }
        }
        thread.name = "ddrouter-amqp-watchdog"
        thread.start()
    }

    func stop() { running.store(false, ordering: .relaxed) }

    func enter(fd f: Int32) {
        fd.store(f, ordering: .relaxed)
        busySince.store(Self.now(), ordering: .relaxed)
    }

    func leave() { busySince.store(0, ordering: .relaxed) }

    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
