import AMQP
import Contract
import Daemon
import Foundation
import Store
import Synchronization
import Testing
import Workflow

/// The daemon's pipeline and outbox relay in-process against the real broker, with a temporary
/// store. Part of the serialized broker suite: it shares the broker's queues.
extension ClientTests {
    @Test("pipeline: a municipal list is answered and routed; a bad message is rejected and dead-lettered; a repeat changes nothing")
    func pipelineEndToEnd() async throws {
        let settings = try await DaemonSettings.load(
            path: Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml").path, environment: [:])
        let names = settings.names
        let inbox851 = names.queue(for: .municipality("851"))
        let inbox810 = names.queue(for: .municipality("810"))
        let journal = names.queue(for: .journal("journal-rn"))
        let clinic = names.queue(for: .clinic("amb-syd-aalborg"))
        let watched = [names.inboundQueue, names.deadLetterQueue, inbox851, inbox810, journal, clinic,
                       names.centralVisitationQueue]

        // The daemon side: pipeline + relay on their own connection, a fresh store.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-pipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try StoreKeys(master: Data(repeating: 7, count: 32))
        let store = try Store(path: directory.appendingPathComponent("store.sqlite").path, auditKey: keys.auditKey)
        let daemonClient = AMQPClient(
            configuration: Broker.configuration(name: "it.pipeline"), topology: settings.topology,
            logger: testLogger("pipeline"))
        daemonClient.start()
        try await daemonClient.waitUntilConnected(timeout: .seconds(15))
        // Test mapping: every sender publishes as the broker's dev user, except municipality
        // 810, whose user is someone else, so a message on its exchange is unauthorized.
        let brokerUser = Broker.user
        let options = PipelineOptions(
            codeBook: settings.codeBook, names: names, pseudonymizer: try Pseudonymizer(key: keys.pseudonymKey),
            userForSender: { $0.id == "810" ? "municipality-810" : brokerUser })
        for queue in watched { _ = try await daemonClient.admin(.purgeQueue(queue)) }
        let pipeline = Pipeline(client: daemonClient, store: store, options: options, logger: testLogger("pipeline"))
        let relay = OutboxRelay(client: daemonClient, store: store, logger: testLogger("relay"))
        let consumer = Task { try await pipeline.run(prefetch: 20) }
        let relayTask = Task { await relay.run() }

        // The municipalities' side.
        let sender = AMQPClient(
            configuration: Broker.configuration(name: "it.pipeline.sender"), topology: settings.topology,
            logger: testLogger("sender"))
        sender.start()
        try await sender.waitUntilConnected(timeout: .seconds(15))
        func send(_ body: Data, id: String, exchange: String = "dd.in.municipality.851") async throws {
            try await sender.publish(OutboundMessage(
                exchange: exchange, routingKey: "municipal-list", body: body,
                properties: MessageProperties(
                    contentType: "application/json", messageID: id, type: "municipal-list", userID: brokerUser)))
        }
        func drain(_ queue: String, count: Int, within: Duration = .seconds(20)) async throws -> [Delivery] {
            var got: [Delivery] = []
            _ = try await eventually(within: within) {
                if case .message(let d?) = try await sender.admin(.get(queue)) { got.append(d) }
                return got.count >= count
            }
            return got
        }

        let run = UUID().uuidString.prefix(8)
        let listID = "it-list-\(run)"
        let badID = "it-bad-\(run)"
        let foreignID = "it-foreign-\(run)"
        let list = try Data(contentsOf: Broker.repoRoot.appendingPathComponent("Config/examples/municipal-list.json"))
        try await send(list, id: listID)
        try await send(Data("{\"schemaVersion\": \"1.0\", ".utf8), id: badID)
        // 810's own list (its body names 810), but published by a user that is not 810's.
        let list810 = Data(String(decoding: list, as: UTF8.self)
            .replacingOccurrences(of: "\"municipality\": \"851\"", with: "\"municipality\": \"810\"").utf8)
        #expect(list810 != list)
        try await send(list810, id: foreignID, exchange: "dd.in.municipality.810")

        // Receipts: the list is accepted with both entries, the bad message rejected.
        let receipts = try await drain(inbox851, count: 2)
        #expect(receipts.count == 2)
        let listReceipt = try #require(receipts.first { $0.properties.correlationID == listID })
        let listAnswer = try JSONSerialization.jsonObject(with: listReceipt.body) as? [String: Any]
        #expect(listReceipt.routingKey == "municipality.851.receipt")
        #expect(listReceipt.properties.type == "receipt")
        #expect(listAnswer?["status"] as? String == "ok")
        #expect(listAnswer?["acceptedEntries"] as? Int == 2)
        let badReceipt = try #require(receipts.first { $0.properties.correlationID == badID })
        let badAnswer = try JSONSerialization.jsonObject(with: badReceipt.body) as? [String: Any]
        #expect(badAnswer?["status"] as? String == "fatal-error")
        #expect(badAnswer?["code"] as? String == "malformed-json")

        // Municipality 810's exchange with a user that is not 810's: unauthorized, nothing routed.
        let foreign = try await drain(inbox810, count: 1)
        let foreignAnswer = try foreign.first.map { try JSONSerialization.jsonObject(with: $0.body) as? [String: Any] }
        #expect(foreignAnswer??["code"] as? String == "unauthorized-sender")

        // Dead letters: the bad message and the unauthorized one, unchanged, with the reason.
        let dead = try await drain(names.deadLetterQueue, count: 2)
        #expect(dead.count == 2)
        let badDead = try #require(dead.first { $0.properties.messageID == badID })
        #expect(badDead.properties.headers[DeadLetterHeaders.code] == .string("malformed-json"))
        #expect(badDead.properties.headers[DeadLetterHeaders.exchange] == .string("dd.in.municipality.851"))
        #expect(badDead.body == Data("{\"schemaVersion\": \"1.0\", ".utf8))
        #expect(dead.contains { $0.properties.headers[DeadLetterHeaders.code] == .string("unauthorized-sender") })

        // Routed events: entry 0 (consent given, contact status unknown) asks the journal;
        // entry 1 (no consent) is held, so nothing about it leaves (R4).
        let requests = try await drain(journal, count: 1)
        #expect(requests.count == 1)
        let request = try #require(requests.first)
        #expect(request.routingKey == "journal.journal-rn.contact-status-request")
        #expect(request.properties.type == "contact-status-request")
        #expect(request.properties.correlationID == listID)
        #expect(request.properties.messageID?.hasPrefix("municipality.851/\(listID)#") == true, "event ids name the sender")

        // The journal answers: entry 0 is in current treatment at the clinic → assessment
        // request with the municipal information (consent given); entry 1's closed course
        // sends it to Central Visitation, but without consent that is held (R4); entry 2 is
        // no listed citizen → rejected by index.
        let statusID = "it-status-\(run)"
        // The example's entry 1 quotes an illustrative caseId, which is not this router's
        // case id for the citizen (that would be `unknown-case`): answer unsolicited instead.
        var statusBody = try JSONSerialization.jsonObject(with: Data(contentsOf: Broker.repoRoot.appendingPathComponent(
            "Config/examples/contact-status.json"))) as? [String: Any] ?? [:]
        statusBody["entries"] = (statusBody["entries"] as? [[String: Any]])?.map { entry in
            var entry = entry
            entry["caseId"] = nil
            return entry
        }
        try await sender.publish(OutboundMessage(
            exchange: "dd.in.journal.journal-rn", routingKey: "contact-status",
            body: try JSONSerialization.data(withJSONObject: statusBody),
            properties: MessageProperties(
                contentType: "application/json", messageID: statusID, type: "contact-status", userID: brokerUser)))
        let journalReceipts = try await drain(journal, count: 1)
        let statusAnswer = try journalReceipts.first.map {
            try JSONSerialization.jsonObject(with: $0.body) as? [String: Any]
        }
        #expect(journalReceipts.first?.routingKey == "journal.journal-rn.receipt")
        #expect(statusAnswer??["status"] as? String == "ok")
        #expect(statusAnswer??["acceptedEntries"] as? Int == 2)
        let statusRejected = statusAnswer??["rejectedEntries"] as? [[String: Any]]
        #expect(statusRejected?.count == 1)
        #expect(statusRejected?.first?["index"] as? Int == 2)
        #expect(statusRejected?.first?["code"] as? String == "unknown-case")
        let assessments = try await drain(clinic, count: 1)
        let assessment = try #require(assessments.first)
        #expect(assessment.routingKey == "clinic.amb-syd-aalborg.assessment-request")
        // The contract: an assessment-request correlates to the list, not to the journal's answer.
        #expect(assessment.properties.correlationID == listID)
        let assessmentBody = try JSONSerialization.jsonObject(with: assessment.body) as? [String: Any]
        #expect(assessmentBody?["consentInForce"] as? Bool == true)
        #expect(assessmentBody?["municipalInformation"] != nil)
        #expect(assessmentBody?["cpr"] as? String == "0103304123")

        // The same message_id again: the identical receipt, no second event.
        try await send(list, id: listID)
        let again = try await drain(inbox851, count: 1)
        #expect(again.first?.body == listReceipt.body)
        #expect(again.first?.properties.messageID == listReceipt.properties.messageID)
        try await Task.sleep(for: .milliseconds(500))
        for queue in [journal, clinic, names.centralVisitationQueue] {
            if case .queue(let messages, _) = try await sender.admin(.inspectQueue(queue)) {
                #expect(messages == 0, "unexpected message in \(queue)")
            }
        }
        // A clinic's referral (a regional party, R1, R10): accepted; the status is unknown,
        // so the journal is asked first, like for a list-1 entry.
        let referralID = "it-referral-\(run)"
        try await sender.publish(OutboundMessage(
            exchange: "dd.in.clinic.amb-syd-aalborg", routingKey: "referral",
            body: try Data(contentsOf: Broker.repoRoot.appendingPathComponent("Config/examples/referral.json")),
            properties: MessageProperties(
                contentType: "application/json", messageID: referralID, type: "referral", userID: brokerUser)))
        let referralReceipts = try await drain(clinic, count: 1)
        #expect(referralReceipts.first?.routingKey == "clinic.amb-syd-aalborg.receipt")
        let referralAnswer = try referralReceipts.first.map {
            try JSONSerialization.jsonObject(with: $0.body) as? [String: Any]
        }
        #expect(referralAnswer??["status"] as? String == "ok", "\(String(describing: referralAnswer))")
        let referralRequests = try await drain(journal, count: 1)
        #expect(referralRequests.first?.properties.type == "contact-status-request")
        #expect(referralRequests.first?.properties.correlationID == referralID)

        // Consent given later for entry 1 (R4): accepted, and the held Central Visitation
        // referral is released now. A consent-update quoting a caseId that is not the
        // citizen's case is rejected (unknown-case) and changes nothing.
        let wrongCaseID = "it-consent-wrong-\(run)"
        try await sender.publish(OutboundMessage(
            exchange: "dd.in.municipality.851", routingKey: "consent-update",
            body: try Data(contentsOf: Broker.repoRoot.appendingPathComponent("Config/examples/consent-update.json")),
            properties: MessageProperties(
                contentType: "application/json", messageID: wrongCaseID, type: "consent-update", userID: brokerUser)))
        let wrongCase = try await drain(inbox851, count: 1)
        let wrongAnswer = try wrongCase.first.map { try JSONSerialization.jsonObject(with: $0.body) as? [String: Any] }
        #expect(wrongAnswer??["status"] as? String == "fatal-error")
        #expect(wrongAnswer??["code"] as? String == "unknown-case")
        let consentID = "it-consent-\(run)"
        var consent = try JSONSerialization.jsonObject(with: Data(contentsOf: Broker.repoRoot.appendingPathComponent(
            "Config/examples/consent-update.json"))) as? [String: Any] ?? [:]
        consent["caseId"] = nil
        try await sender.publish(OutboundMessage(
            exchange: "dd.in.municipality.851", routingKey: "consent-update",
            body: try JSONSerialization.data(withJSONObject: consent),
            properties: MessageProperties(
                contentType: "application/json", messageID: consentID, type: "consent-update", userID: brokerUser)))
        let consentReceipts = try await drain(inbox851, count: 1)
        let consentAnswer = try consentReceipts.first.map { try JSONSerialization.jsonObject(with: $0.body) as? [String: Any] }
        #expect(consentAnswer??["status"] as? String == "ok")
        let released = try await drain(names.centralVisitationQueue, count: 1)
        #expect(released.first?.properties.type == "cv-referral")
        #expect(released.first?.properties.correlationID == consentID)
        #expect(released.first?.properties.headers["x-ddrouter-rule"] == .string("R1"))

        // Marked sent once the broker confirmed (a consumer may see a message just before).
        #expect(try await eventually(within: .seconds(5)) { try store.pendingOutbox(limit: 10).isEmpty })
        // Every sent row has its "sent" audit entry (written in the same transaction).
        #expect(try store.auditEntries(afterSeq: 0, limit: 10_000).contains { $0.action == .sent && $0.messageType == "cv-referral" })
        #expect(try store.verifyAudit().isOK)

        await daemonClient.stopConsuming()
        _ = try? await consumer.value
        relay.stop()
        await relayTask.value
        await sender.close()
        await daemonClient.close()
        try store.close()
    }
}

// MARK: - An in-process daemon for end-to-end tests

/// A settable clock for the daemon under test (pipeline, relay and timers read it).
final class TestClock: Sendable {
    private let now: Mutex<Date>
    init(_ start: Date) { now = Mutex(start) }
    var date: Date { now.withLock { $0 } }
    func advance(days: Int) { now.withLock { $0 = $0.addingTimeInterval(TimeInterval(days) * 86_400) } }
    @Sendable func callAsFunction() -> Date { date }
}

/// The whole daemon (`Service`: pipeline, outbox relay, timer runner) in-process on its own
/// connection with a temporary store, and a second client that publishes as every party (the
/// broker's dev user; the daemon maps every sender to it) and reads every outbound queue.
/// `restart()` shuts the Service down gracefully and starts a new one on the same store.
final class DaemonHarness: @unchecked Sendable {
    // @unchecked: used from one test task at a time; `service`/`client` change only in start/stop.
    let settings: DaemonSettings
    let names: Contract.Topology
    let directory: URL
    let storeSettings: StoreSettings
    let clock: TestClock
    let workflow: WorkflowConfiguration
    let timerInterval: Duration
    let sender: AMQPClient
    private(set) var service: Service?
    private var client: AMQPClient?
    private var starts = 0
    let label: String

    /// Every outbound queue: each municipality, clinic and journal, and Central Visitation.
    var outboundQueues: [String] {
        settings.codeBook.municipalities.sorted().map { names.queue(for: .municipality($0)) }
            + settings.codeBook.clinics.sorted().map { names.queue(for: .clinic($0)) }
            + settings.codeBook.journals.sorted().map { names.queue(for: .journal($0)) }
            + [names.centralVisitationQueue]
    }

    init(_ label: String, start: Date, workflow: WorkflowConfiguration = WorkflowConfiguration(),
         timerInterval: Duration = .milliseconds(100)) async throws {
        self.label = label
        let config = Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml").path
        settings = try await DaemonSettings.load(path: config, environment: [:])
        names = settings.names
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-\(label)-\(UUID().uuidString)")
        storeSettings = try await StoreSettings.load(
            path: config, environment: ["DDROUTER_STORE_PATH": directory.appendingPathComponent("store.sqlite").path])
        clock = TestClock(start)
        self.workflow = workflow
        self.timerInterval = timerInterval
        sender = AMQPClient(
            configuration: Broker.configuration(name: "it.\(label).parties"), topology: settings.topology,
            logger: testLogger("\(label).parties"))
        sender.start()
        try await sender.waitUntilConnected(timeout: .seconds(15))
        for queue in outboundQueues + [names.inboundQueue, names.deadLetterQueue] {
            _ = try await sender.admin(.purgeQueue(queue))
        }
    }

    /// Starts a Service on the store (creating it the first time).
    func start() async throws {
        starts += 1
        let client = AMQPClient(
            configuration: Broker.configuration(name: "it.\(label).daemon\(starts)"), topology: settings.topology,
            logger: testLogger("\(label).daemon"))
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        let user = Broker.user
        let service = try Service(
            settings: settings, storeSettings: storeSettings, client: client, logger: testLogger("\(label).service"),
            workflow: workflow, clock: clock.callAsFunction, userForSender: { _ in user }, timerInterval: timerInterval)
        service.start()
        self.client = client
        self.service = service
    }

    /// Graceful stop: no new deliveries, outbox flushed, store closed, connection closed.
    func stop() async {
        guard let service, let client else { return }
        await service.shutdown(client: client, flushTimeout: .seconds(10))
        await client.close()
        self.service = nil
        self.client = nil
    }

    /// Runs `body` with a started daemon and always stops it (and deletes its store) after.
    static func run(
        _ label: String, start: Date, workflow: WorkflowConfiguration = WorkflowConfiguration(),
        _ body: (DaemonHarness) async throws -> Void
    ) async throws {
        let h = try await DaemonHarness(label, start: start, workflow: workflow)
        do {
            try await h.start()
            try await body(h)
        } catch {
            await h.finish()
            throw error
        }
        await h.finish()
    }

    func finish() async {
        await stop()
        await sender.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Publishes `body` (a JSON object) as `type` from the sender of `exchange`.
    func send(_ body: [String: Any], type: String, id: String, from exchange: String) async throws {
        try await sender.publish(OutboundMessage(
            exchange: exchange, routingKey: type, body: try JSONSerialization.data(withJSONObject: body),
            properties: MessageProperties(contentType: "application/json", messageID: id, type: type, userID: Broker.user)))
    }

    /// Takes messages from `queue` until `count` arrived or the time is up.
    func drain(_ queue: String, count: Int, within: Duration = .seconds(15)) async throws -> [Delivery] {
        var got: [Delivery] = []
        _ = try await eventually(within: within) {
            while got.count < count, case .message(let d?) = try await sender.admin(.get(queue)) { got.append(d) }
            return got.count >= count
        }
        return got
    }

    /// Reads every outbound queue until nothing new has arrived for `quiet`.
    func drainAll(quiet: Duration = .milliseconds(600)) async throws -> [String: [Delivery]] {
        var all = pending
        pending = [:]
        var idleSince = ContinuousClock.now
        while ContinuousClock.now - idleSince < quiet {
            var got = false
            for queue in outboundQueues {
                while case .message(let d?) = try await sender.admin(.get(queue)) {
                    all[queue, default: []].append(d)
                    got = true
                }
            }
            if got { idleSince = ContinuousClock.now } else { try await Task.sleep(for: .milliseconds(50)) }
        }
        return all
    }

    /// Waits for the receipt of `id` in `queue` and returns its body.
    func receipt(in queue: String, for id: String) async throws -> [String: Any] {
        var found: [String: Any]?
        _ = try await eventually(within: .seconds(15)) {
            while case .message(let d?) = try await sender.admin(.get(queue)) {
                if d.properties.type == "receipt", d.properties.correlationID == id {
                    found = try JSONSerialization.jsonObject(with: d.body) as? [String: Any]
                } else {
                    pending[queue, default: []].append(d)
                }
            }
            return found != nil
        }
        return found ?? [:]
    }

    /// Non-receipt messages taken from a queue while looking for a receipt; `take` returns them first.
    private var pending: [String: [Delivery]] = [:]

    /// Messages of `queue` (the ones set aside by `receipt` first) until `count` arrived.
    func take(_ queue: String, count: Int, within: Duration = .seconds(15)) async throws -> [Delivery] {
        var got = pending.removeValue(forKey: queue) ?? []
        if got.count < count { got += try await drain(queue, count: count - got.count, within: within) }
        return got
    }
}

extension Delivery {
    /// The body as a JSON object.
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
}

extension ClientTests {
    @Test("relay: a row that keeps failing backs off and never blocks the others; confirmed rows get their sent audit entry; an unconfirmed row is sent again with the same message_id")
    func relayBackOffAndResend() async throws {
        let settings = try await DaemonSettings.load(
            path: Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml").path, environment: [:])
        let names = settings.names
        let inbox = names.queue(for: .municipality("851"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-relay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try StoreKeys(master: Data(repeating: 9, count: 32))
        let store = try Store(path: directory.appendingPathComponent("store.sqlite").path, auditKey: keys.auditKey)
        let client = AMQPClient(
            configuration: Broker.configuration(name: "it.relay"), topology: settings.topology, logger: testLogger("relay"))
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        _ = try await client.admin(.purgeQueue(inbox))
        let clock = TestClock(Date())
        let now = clock.date
        func row(_ id: String, routingKey: String = "municipality.851.receipt") -> OutboxEvent {
            OutboxEvent(
                messageID: id, exchange: names.outboundExchange, routingKey: routingKey, type: "receipt",
                correlationID: nil, body: Data("{\"id\":\"\(id)\"}".utf8), createdAt: now,
                audit: OutboxAudit(actor: "municipality.851", pseudonym: nil, purpose: "test"))
        }
        let run = UUID().uuidString.prefix(8)
        let failing = "relay-\(run)-unroutable"
        let good = (1...3).map { "relay-\(run)-good-\($0)" }
        let unconfirmed = "relay-\(run)-unconfirmed"
        try store.write { tx in
            _ = try tx.enqueue(row(failing, routingKey: "nobody.listens.here"))  // the oldest row
            for id in good { _ = try tx.enqueue(row(id)) }
            _ = try tx.enqueue(row(unconfirmed))
        }
        // A relay that published `unconfirmed` and died before recording the broker's confirm.
        try await client.publish(Pipeline.outbound(row(unconfirmed), userID: Broker.user))

        // One row per round: the old relay would take the failing oldest row every time.
        let relay = OutboxRelay(
            client: client, store: store, logger: testLogger("relay"), batchSize: 1, retryDelay: .seconds(60),
            clock: clock.callAsFunction)
        #expect(await relay.round() == .someFailed)
        let backedOff = try #require(try store.outboxEvent(messageID: failing))
        #expect(backedOff.attempts == 1)
        #expect(backedOff.nextAttemptAt.map { $0 > now } == true)
        var rounds: [OutboxRelay.Round] = []
        for _ in 0..<5 { rounds.append(await relay.round()) }
        #expect(rounds == [.allSent, .allSent, .allSent, .allSent, .empty], "the failing row is not due; the others go")
        #expect(try store.outboxEvent(messageID: failing)?.state == .pending)

        // The inbox got every good row once and the unconfirmed one twice, with the same id.
        var got: [String] = []
        _ = try await eventually(within: .seconds(10)) {
            while case .message(let d?) = try await client.admin(.get(inbox)) { got.append(d.properties.messageID ?? "-") }
            return got.count >= 5
        }
        #expect(got.sorted() == (good + [unconfirmed, unconfirmed]).sorted())
        // Each confirmed row has exactly one "sent" audit entry; the failing one none.
        let sent = try store.auditEntries(afterSeq: 0, limit: 100).filter { $0.action == .sent }
        #expect(sent.compactMap(\.messageID).sorted() == (good + [unconfirmed]).sorted())
        #expect(sent.allSatisfy { $0.actor == "municipality.851" && $0.purpose == "test" })
        #expect(try store.verifyAudit().isOK)

        // After its back-off the failing row is tried again (and still fails: attempts grow).
        clock.advance(days: 1)
        #expect(await relay.round() == .someFailed)
        #expect(try store.outboxEvent(messageID: failing)?.attempts == 2)
        await client.close()
        try store.close()
    }
}
