import AMQP
import Foundation
import Logging
import Synchronization

struct BenchSettings: Sendable {
    var host = "127.0.0.1"
    var port = 5672
    var vhost = "ddrouter"
    var user = "ddrouter"
    var password = "ddrouter-dev"
    /// Password of the sender users (municipality-851, journal-journal-rn) that bench.sh creates.
    var senderPassword = "ddbench-sender"
    var prefetch = 200

    /// The defaults, overridden by the broker variables `scripts/broker.sh env` prints
    /// (`DDR_AMQP_*`) and the sender password bench.sh and soak.sh set (`DDBENCH_SENDER_PASSWORD`).
    static func fromEnvironment(_ e: [String: String] = ProcessInfo.processInfo.environment) -> BenchSettings {
        var settings = BenchSettings()
        settings.host = e["DDR_AMQP_HOST"] ?? settings.host
        settings.port = e["DDR_AMQP_PORT"].flatMap(Int.init) ?? settings.port
        settings.vhost = e["DDR_AMQP_VHOST"] ?? settings.vhost
        settings.user = e["DDR_AMQP_USER"] ?? settings.user
        settings.password = e["DDR_AMQP_PASSWORD"] ?? settings.password
        settings.senderPassword = e["DDBENCH_SENDER_PASSWORD"] ?? settings.senderPassword
        return settings
    }

    func amqp(name: String, user: String? = nil) -> AMQPConfiguration {
        AMQPConfiguration(
            endpoints: [.init(host: host, port: port)], vhost: vhost,
            authentication: .plain(user: user ?? self.user, password: user == nil ? password : senderPassword),
            connectionName: name)
    }
}

let benchLogger: Logger = {
    var l = Logger(label: "ddbench")
    l.logLevel = .warning
    return l
}()

/// Everything the daemon sends that the bench sees, counted by (queue, type), with the
/// arrival time of the last one and, for the latency run, per correlation id.
final class Observer: Sendable {
    struct State {
        var counts: [String: Int] = [:]
        var last = now()
        var byCorrelation: [String: [ContinuousClock.Instant]] = [:]
        var trackCorrelation = false
        var badReceipts = 0
        var firstBadReceipt: String?
        /// Deliveries the broker flagged as redelivered, and (queue, message_id) pairs that
        /// arrived more than once: a count above its expectation says which of the two it was.
        var redelivered = 0
        var repeats = 0
        var seen: Set<String> = []
    }
    let state = Mutex(State())

    func record(_ d: Delivery) {
        let t = now()
        let type = d.properties.type ?? "?"
        var bad: String?
        if type == "receipt" {
            let text = String(decoding: d.body, as: UTF8.self)
            if !text.contains(#""status":"ok""#) && !text.contains(#""status": "ok""#) || text.contains(#""index""#) {
                bad = String(text.prefix(400))
            }
        }
        state.withLock { s in
            s.counts["\(d.queue) \(type)", default: 0] += 1
            s.last = t
            if d.redelivered { s.redelivered += 1 }
            if let id = d.properties.messageID, !s.seen.insert(d.queue + " " + id).inserted { s.repeats += 1 }
            if let bad {
                s.badReceipts += 1
                s.firstBadReceipt = s.firstBadReceipt ?? bad
            }
            if s.trackCorrelation, let c = d.properties.correlationID { s.byCorrelation[c, default: []].append(t) }
        }
    }

    func count(_ queue: String, _ type: String) -> Int { state.withLock { $0.counts["\(queue) \(type)"] ?? 0 } }
    func total(type: String) -> Int {
        state.withLock { s in s.counts.filter { $0.key.hasSuffix(" " + type) }.values.reduce(0, +) }
    }
    var last: ContinuousClock.Instant { state.withLock { $0.last } }
    func summary() -> String {
        state.withLock { s in
            s.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                + (s.redelivered + s.repeats > 0 ? " (redelivered \(s.redelivered), message ids repeated \(s.repeats))" : "")
        }
    }
}

enum Q {
    static let inbound = "ddrouter.inbound"
    static let dead = "ddrouter.dead"
    static let inbox851 = "dd.municipality.851.inbox"
    static let inbox810 = "dd.municipality.810.inbox"
    static let cv = "dd.cv.referrals"
    static let syd = "dd.clinic.amb-syd-aalborg.assessments"
    static let nord = "dd.clinic.amb-nord-hjoerring.assessments"
    static let journal = "dd.journal.journal-rn.requests"
    static let outputs = [dead, inbox851, inbox810, cv, syd, nord, journal]
}

/// The journal integration: consumes `dd.journal.journal-rn.requests` and, when `answer`
/// is on, answers each contact-status-request with that citizen's status, collected into
/// contact-status messages of up to `batch` entries (or what arrived within 5 ms).
final class JournalPeer: Sendable {
    let client: AMQPClient
    let observer: Observer
    let answer: Bool
    let batch: Int
    struct State {
        var pending: [String] = []
        var since = now()
        var sentMessages = 0
        var sentEntries = 0
        var sequence = 0
        var failures = 0
    }
    let state = Mutex(State())
    let run: String

    init(settings: BenchSettings, observer: Observer, answer: Bool, batch: Int, run: String) {
        client = AMQPClient(configuration: settings.amqp(name: "ddbench.journal", user: "journal-journal-rn"),
                            logger: benchLogger)
        self.observer = observer
        self.answer = answer
        self.batch = batch
        self.run = run
    }

    var sentMessages: Int { state.withLock { $0.sentMessages } }
    var failures: Int { state.withLock { $0.failures } }

    func start() async throws -> [Task<Void, Never>] {
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        let consumer = Task { [self] in
            do {
                for try await d in client.consume(queue: Q.journal, prefetch: 2000) {
                    observer.record(d)
                    client.ack(d.tag)
                    guard answer, d.properties.type == "contact-status-request" else { continue }
                    guard let object = try? JSONSerialization.jsonObject(with: d.body) as? [String: Any],
                          let cpr = object["cpr"] as? String, let i = Citizens.index(ofCPR: cpr) else { continue }
                    let full = state.withLock { s -> [String]? in
                        if s.pending.isEmpty { s.since = now() }
                        s.pending.append(Citizens.statusEntry(i, cpr: cpr))
                        return s.pending.count >= batch ? take(&s) : nil
                    }
                    if let full { await send(full) }
                }
            } catch {
                FileHandle.standardError.write(Data("journal peer: \(error)\n".utf8))
            }
        }
        let flusher = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
                let due = state.withLock { s -> [String]? in
                    !s.pending.isEmpty && now() - s.since >= .milliseconds(5) ? take(&s) : nil
                }
                if let due { await send(due) }
            }
        }
        return [consumer, flusher]
    }

    private func take(_ s: inout State) -> [String] {
        defer { s.pending.removeAll(keepingCapacity: true) }
        return s.pending
    }

    private func send(_ entries: [String]) async {
        let id = state.withLock { s -> String in
            s.sequence += 1
            return "bench-status-\(run)-\(s.sequence)"
        }
        do {
            try await client.publish(OutboundMessage(
                exchange: "dd.in.journal.journal-rn", routingKey: "contact-status", body: Citizens.contactStatus(entries),
                properties: MessageProperties(contentType: "application/json", messageID: id, type: "contact-status",
                                              userID: "journal-journal-rn")))
            state.withLock {
                $0.sentMessages += 1
                $0.sentEntries += entries.count
            }
        } catch {
            state.withLock { $0.failures += 1 }
            FileHandle.standardError.write(Data("journal peer publish: \(error)\n".utf8))
        }
    }

    func close() async { await client.close() }
}

/// The observer's connection: consumes every output queue except the journal's.
final class OutputConsumer: Sendable {
    let client: AMQPClient
    let observer: Observer
    init(settings: BenchSettings, observer: Observer) {
        client = AMQPClient(configuration: settings.amqp(name: "ddbench.observer"), logger: benchLogger)
        self.observer = observer
    }

    func start() async throws -> [Task<Void, Never>] {
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        return Q.outputs.filter { $0 != Q.journal }.map { queue in
            Task { [self] in
                do {
                    for try await d in client.consume(queue: queue, prefetch: 2000) {
                        observer.record(d)
                        client.ack(d.tag)
                    }
                } catch {
                    FileHandle.standardError.write(Data("observer \(queue): \(error)\n".utf8))
                }
            }
        }
    }

    func purgeAll() async throws {
        for q in Q.outputs { _ = try await client.admin(.purgeQueue(q)) }
    }

    func close() async { await client.close() }
}
