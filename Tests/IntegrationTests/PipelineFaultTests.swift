import AMQP
import Contract
import Daemon
import Foundation
import Store
import Synchronization
import Testing

/// The pipeline in-process against the real broker with options the `Service` does not
/// expose: a short store busy timeout and (DEBUG builds) a fault hook. Every sender publishes
/// as the broker's dev user, except municipality 810, whose directory user is another one.
final class FaultHarness: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    let settings: DaemonSettings
    let names: Contract.Topology
    let directory: URL
    let storePath: String
    let keys: StoreKeys
    let store: Store
    let daemon: AMQPClient
    let sender: AMQPClient
    let pipeline: Pipeline
    let relay: OutboxRelay
    private var tasks: [Task<Void, Never>] = []

    init(_ label: String, prefetch: UInt16 = 1, configure: (inout PipelineOptions) -> Void = { _ in }) async throws {
        settings = try await DaemonSettings.load(
            path: Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml").path, environment: [:])
        names = settings.names
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        storePath = directory.appendingPathComponent("store.sqlite").path
        keys = try StoreKeys(master: Data(repeating: 5, count: 32))
        store = try Store(options: .init(path: storePath, auditKey: keys.auditKey, busyTimeout: 0.1))
        daemon = AMQPClient(configuration: Broker.configuration(name: "it.\(label).daemon"), topology: settings.topology,
                            logger: testLogger("\(label).daemon"))
        daemon.start()
        try await daemon.waitUntilConnected(timeout: .seconds(15))
        sender = AMQPClient(configuration: Broker.configuration(name: "it.\(label).parties"), topology: settings.topology,
                            logger: testLogger("\(label).parties"))
        sender.start()
        try await sender.waitUntilConnected(timeout: .seconds(15))
        let user = Broker.user
        var options = PipelineOptions(
            codeBook: settings.codeBook, names: names, pseudonymizer: try Pseudonymizer(key: keys.pseudonymKey),
            userForSender: { $0.id == "810" ? "municipality-810" : user }, deliveryLimit: settings.deliveryLimit)
        options.requeuePause = .milliseconds(50)
        configure(&options)
        pipeline = Pipeline(client: daemon, store: store, options: options, logger: testLogger("\(label).pipeline"))
        for queue in [names.inboundQueue, names.deadLetterQueue, names.queue(for: .municipality("851")),
                      names.queue(for: .municipality("810")), names.queue(for: .journal("journal-rn"))] {
            _ = try await sender.admin(.purgeQueue(queue))
        }
        let pipeline = pipeline
        let relay = OutboxRelay(client: daemon, store: store, logger: testLogger("\(label).relay"))
        self.relay = relay
        tasks = [Task { try? await pipeline.run(prefetch: prefetch) }, Task { await relay.run() }]
    }

    func finish() async {
        await daemon.stopConsuming()
        relay.stop()
        for task in tasks { await task.value }
        await daemon.close()
        await sender.close()
        try? store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func send(_ body: Data, type: String, id: String, exchange: String = "dd.in.municipality.851") async throws {
        try await sender.publish(OutboundMessage(
            exchange: exchange, routingKey: type, body: body,
            properties: MessageProperties(contentType: "application/json", messageID: id, type: type, userID: Broker.user)))
    }

    /// Every message in `queue` until nothing new arrived for `quiet`, or `until` holds.
    func collect(_ queue: String, within: Duration = .seconds(30), quiet: Duration = .milliseconds(800),
                 until done: ([Delivery]) -> Bool = { _ in false }) async throws -> [Delivery] {
        var got: [Delivery] = []
        let deadline = ContinuousClock.now + within
        var idleSince = ContinuousClock.now
        while ContinuousClock.now < deadline {
            if case .message(let d?) = try await sender.admin(.get(queue)) {
                got.append(d)
                idleSince = ContinuousClock.now
                continue
            }
            if done(got) && ContinuousClock.now - idleSince >= quiet { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return got
    }

    static func list(_ cprs: [String], municipality: String = "851") throws -> Data {
        try JSONSerialization.data(withJSONObject: [
            "schemaVersion": "1.0", "municipality": municipality, "clinic": "amb-syd-aalborg", "listKind": "list-1",
            "asOf": "2026-11-23",
            "entries": cprs.map {
                ["cpr": $0, "consent": ClientTests.consent("given"), "municipalInformation": ClientTests.municipalInformation]
            },
        ])
    }
}

extension ClientTests {
    @Test("pipeline: a store locked for longer than its busy timeout is retried in-process; the message is processed once, with an ok receipt")
    func pipelineRetriesBusyStore() async throws {
        let h = try await FaultHarness("busy")
        let inbox = h.names.queue(for: .municipality("851"))
        // Another connection holds the store's write lock for 3 s (30 × the busy timeout).
        let locker = try Store(options: .init(path: h.storePath, auditKey: h.keys.auditKey, busyTimeout: 0.1))
        let locked = Atomic<Bool>(false)
        let holder = Thread {
            _ = try? locker.write { _ in
                locked.store(true, ordering: .sequentiallyConsistent)
                Thread.sleep(forTimeInterval: 3)
            }
        }
        holder.start()
        _ = await eventually(within: .seconds(5)) { locked.load(ordering: .sequentiallyConsistent) }
        let id = "busy-\(UUID().uuidString.prefix(8))"
        try await h.send(try FaultHarness.list(["0103304123"]), type: "municipal-list", id: id)

        let receipts = try await h.collect(inbox, within: .seconds(20)) { $0.contains { $0.properties.correlationID == id } }
            .filter { $0.properties.type == "receipt" }
        #expect(receipts.count == 1, "exactly one receipt")
        #expect(receipts.first?.json["status"] as? String == "ok")
        #expect(receipts.first?.json["acceptedEntries"] as? Int == 1)
        #expect(try await h.collect(h.names.deadLetterQueue, quiet: .milliseconds(200)) { _ in true }.isEmpty,
                "nothing dead-lettered")
        #expect(try h.store.inboxEntry(sender: "municipality.851", messageID: id) != nil)
        try? locker.close()
        await h.finish()
    }

    @Test("pipeline: a message_id already answered, repeated by a user that is not the sender's, gets an unauthorized rejection, not the stored receipt")
    func pipelineAuthorizesBeforeDedupe() async throws {
        let h = try await FaultHarness("authz")
        let inbox810 = h.names.queue(for: .municipality("810"))
        let id = "authz-\(UUID().uuidString.prefix(8))"
        // 810 (its directory user is municipality-810) already sent this message_id and got its receipt.
        let stored = Data("{\"stored\":\"receipt of 810's own message\"}".utf8)
        try h.store.write { tx in
            _ = try tx.recordInbox(InboxEntry(
                sender: "municipality.810", messageID: id, type: "municipal-list", receivedAt: Date(), receipt: stored))
        }
        // The same message_id on 810's exchange, published by another user.
        try await h.send(try FaultHarness.list(["0103304123"], municipality: "810"), type: "municipal-list", id: id,
                         exchange: "dd.in.municipality.810")
        let answers = try await h.collect(inbox810, within: .seconds(15)) { !$0.isEmpty }
        #expect(answers.count == 1)
        #expect(!answers.contains { $0.body == stored }, "the stored receipt was resent to an unauthorized publisher")
        #expect(answers.first?.json["status"] as? String == "fatal-error")
        #expect(answers.first?.json["code"] as? String == "unauthorized-sender")
        #expect(answers.first?.properties.messageID != "receipt/municipality.810/\(id)", "a receipt id of its own")
        // The real sender's record is untouched.
        #expect(try h.store.receipt(forSender: "municipality.810", messageID: id) == stored)
        await h.finish()
    }

    #if DEBUG
    @Test("pipeline: a message whose processing keeps failing is answered processing-deferred and dead-lettered with headers after the delivery limit; the next message is processed")
    func pipelinePoisonMessage() async throws {
        let attempts = Mutex<Int>(0)
        struct InjectedFault: Error {}
        let h = try await FaultHarness("poison") { options in
            options.faultInjection = { id in
                guard id.hasPrefix("poison-") else { return }
                attempts.withLock { $0 += 1 }
                throw InjectedFault()
            }
        }
        let inbox = h.names.queue(for: .municipality("851"))
        let run = UUID().uuidString.prefix(8)
        let poison = "poison-\(run)", good = "good-\(run)"
        try await h.send(try FaultHarness.list(["0103304123"]), type: "municipal-list", id: poison)
        try await h.send(try FaultHarness.list(["1506315018"]), type: "municipal-list", id: good)

        let receipts = try await h.collect(inbox, within: .seconds(30)) { got in
            [poison, good].allSatisfy { id in got.contains { $0.properties.correlationID == id } }
        }.filter { $0.properties.type == "receipt" }
        let deferred = receipts.filter { $0.properties.correlationID == poison }
        #expect(deferred.count == 1)
        #expect(deferred.first?.json["status"] as? String == "transient-error")
        #expect(deferred.first?.json["code"] as? String == "processing-deferred")
        #expect(receipts.filter { $0.properties.correlationID == good }.map { $0.json["status"] as? String } == ["ok"])
        // The copy in ddrouter.dead carries the router's headers (not the broker's bare x-death).
        let dead = try await h.collect(h.names.deadLetterQueue, within: .seconds(5)) { !$0.isEmpty }
        #expect(dead.count == 1)
        #expect(dead.first?.properties.messageID == poison)
        #expect(dead.first?.properties.headers["x-ddrouter-code"] == .string("processing-deferred"))
        #expect(dead.first?.properties.headers["x-ddrouter-user-id"] == .string(Broker.user))
        // Processing was tried once per allowed delivery, then given up; nothing was stored.
        #expect(attempts.withLock { $0 } == h.settings.deliveryLimit)
        #expect(try h.store.inboxEntry(sender: "municipality.851", messageID: poison) == nil)
        #expect(try await h.collect(h.names.inboundQueue, quiet: .milliseconds(200)) { _ in true }.isEmpty)
        await h.finish()
    }
    #endif
}
