import AMQP
import Contract
import Foundation
import Store
import Testing

/// Issue 4, tests 4, 5 and 9 against `ddrouter run` as a subprocess: the bad-input corpus
/// between good messages, repeated message_ids and a foreign user_id, and the audit trail's
/// tamper detection with sqlite. Part of the serialized broker suite.
extension ClientTests {
    static let fixtures = Broker.repoRoot.appendingPathComponent("Tests/Fixtures/bad")
    static let inbox851 = "dd.municipality.851.inbox"
    static let journalQueue = "dd.journal.\(ScaleDirectory.journal).requests"

    /// The queue that receives receipts for a sender's inbound exchange.
    static func receiptQueue(forExchange exchange: String) -> String? {
        if exchange.hasPrefix("dd.in.municipality.") { return "dd.municipality.\(exchange.dropFirst(19)).inbox" }
        if exchange.hasPrefix("dd.in.clinic.") { return "dd.clinic.\(exchange.dropFirst(13)).assessments" }
        if exchange.hasPrefix("dd.in.journal.") { return "dd.journal.\(exchange.dropFirst(14)).requests" }
        return nil
    }

    /// A small good list 1 from municipality 851: `count` citizens with consent, unique per `tag`.
    static func goodList(_ seed: Int, count: Int = 2) throws -> (body: Data, cprs: [String]) {
        let cprs = (0..<count).map { ScaleWorkload.cpr(20_000 + seed * count + $0) }
        let entries: [[String: Any]] = cprs.map {
            ["cpr": $0, "municipalInformation": ScaleWorkload.municipalInformation,
             "consent": ["status": "given", "date": "2026-10-02", "declarationRef": "SAMTYKKE-\(seed)",
                         "directions": ["municipality-to-region", "region-to-municipality"]]]
        }
        let body = try JSONSerialization.data(withJSONObject: [
            "schemaVersion": "1.0", "municipality": "851", "clinic": "amb-syd-aalborg", "listKind": "list-1",
            "asOf": "2026-11-20", "entries": entries,
        ], options: [.sortedKeys])
        return (body, cprs)
    }

    /// Starts a daemon on a fresh store with a collector on every outbound queue and the journal's.
    func startDaemonWithCollector(environment: [String: String] = [:]) async throws -> (DaemonProcess, Collector) {
        try await ScaleDirectory.ensureUsers()
        let collector = Collector()
        let queues = ScaleHarness.outboundQueues + [Self.journalQueue]
        try await collector.purge(["ddrouter.inbound"] + queues)
        let daemon = try DaemonProcess()
        try await daemon.start(environment: environment)
        try await collector.purge(queues)
        collector.consume(queues)
        return (daemon, collector)
    }

    @Test("daemon subprocess: the bad-input corpus between good messages — specific receipt and dead letter each, every good one processed (issue 4, test 4)")
    func daemonBadCorpus() async throws {
        let index = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.fixtures.appendingPathComponent("index.json"))) as? [String: Any])
        let fixtures = try #require(index["fixtures"] as? [[String: Any]])
            .filter { $0["viaBroker"] as? Bool != false }
        let fatal = fixtures.filter { ($0["expect"] as? [String: Any])?["status"] as? String == "fatal-error" }
        #expect(fatal.count >= 25, "at least 25 kinds of bad input rejected as a whole (ok/partial lists not counted)")
        #expect(Set(fatal.compactMap { ($0["expect"] as? [String: Any])?["code"] as? String }).count >= 20,
                "distinct rejection codes")

        let (daemon, collector) = try await startDaemonWithCollector()
        defer { daemon.removeFiles() }
        var senders: [String: SenderClient] = [:]
        func sender(for exchange: String) throws -> SenderClient {
            if let s = senders[exchange] { return s }
            let user = try #require(ScaleDirectory.user(forExchange: exchange))
            let s = SenderClient(user: user, name: "it.bad.\(user)")
            senders[exchange] = s
            return s
        }

        // good 0, bad 0, good 1, bad 1, …, good n: each published and confirmed in turn.
        var goods: [(id: String, cprs: [String])] = []
        var sentBodies: [String: Data] = [:]
        func sendGood(_ k: Int) async throws {
            let (body, cprs) = try Self.goodList(k)
            let id = "good-\(k)"
            try await sender(for: "dd.in.municipality.851").send(
                exchange: "dd.in.municipality.851", type: "municipal-list", messageID: id, body: body)
            goods.append((id, cprs))
        }
        let started = ContinuousClock.now
        for (k, fixture) in fixtures.enumerated() {
            try await sendGood(k)
            let file = try #require(fixture["file"] as? String)
            let exchange = try #require(fixture["exchange"] as? String)
            let props = fixture["properties"] as? [String: String] ?? [:]
            var body = try Data(contentsOf: Self.fixtures.appendingPathComponent(file))
            if let pad = fixture["padToBytes"] as? Int, pad > body.count {
                body.append(Data(repeating: 0x20, count: pad - body.count))
            }
            let s = try sender(for: exchange)
            // The fixture names its users in index.json's `users`; the daemon's directory
            // maps each exchange to `<kind>-<id>`: publish as that user (the broker only
            // accepts a user_id equal to the connection's user). Absent stays absent.
            let properties = MessageProperties(
                contentType: props["content_type"], contentEncoding: props["content_encoding"],
                messageID: props["message_id"], type: props["type"], userID: props["user_id"].map { _ in s.user })
            try await s.send(exchange: exchange, routingKey: fixture["routingKey"] as? String ?? "", body: body,
                             properties: properties)
            sentBodies[file] = body
        }
        try await sendGood(fixtures.count)

        // Wait for every receipt: one per fixture and per good list.
        let expectedReceipts = fixtures.count + goods.count
        let arrived = await eventually(within: .seconds(180)) {
            await collector.mailbox.count { $0.type == "receipt" } >= expectedReceipts
        }
        let receiptCount = await collector.mailbox.count { $0.type == "receipt" }
        #expect(arrived, "\(receiptCount) of \(expectedReceipts) receipts")
        // …and the journal requests of the good lists' citizens (each good list is processed).
        let goodCitizens = goods.flatMap(\.cprs)
        _ = await eventually(within: .seconds(60)) {
            await collector.mailbox.count { $0.type == "contact-status-request" } >= goodCitizens.count
        }
        try await Task.sleep(for: .seconds(1))
        print("bad corpus: \(fixtures.count) fixtures + \(goods.count) good lists answered in \(ContinuousClock.now - started)")
        #expect(try await daemon.terminate() == 0)
        await collector.stop()
        for s in senders.values { await s.close() }

        let messages = await collector.mailbox.messages
        let receipts = messages.filter { $0.type == "receipt" }
        let dead = messages.filter { $0.queue == "ddrouter.dead" }
        var usedReceipts = Set<String>()
        for fixture in fixtures {
            let file = fixture["file"] as? String ?? "?"
            let exchange = fixture["exchange"] as? String ?? ""
            let expect = fixture["expect"] as? [String: Any] ?? [:]
            let status = expect["status"] as? String
            let code = expect["code"] as? String
            let id = (fixture["properties"] as? [String: String])?["message_id"]
            let queue = Self.receiptQueue(forExchange: exchange)
            // The receipt: correlated by message_id; without a usable id, the one with its code.
            let candidates = receipts.filter { $0.queue == queue && !usedReceipts.contains($0.messageID ?? "") }
            let receipt = candidates.first { id != nil && $0.correlationID == id }
                ?? candidates.first { $0.correlationID == nil && code != nil && $0.json?["code"] as? String == code }
            guard let receipt, let json = receipt.json else {
                Issue.record("\(file): no receipt in \(queue ?? "?")")
                continue
            }
            usedReceipts.insert(receipt.messageID ?? "")
            #expect(json["status"] as? String == status, "\(file): status \(json["status"] ?? "-")")
            if status == "fatal-error" {
                #expect(json["code"] as? String == code, "\(file): code \(json["code"] ?? "-"), expected \(code ?? "-")")
                if let pointer = expect["pointer"] as? String {
                    #expect(json["pointer"] as? String == pointer, "\(file): pointer \(json["pointer"] ?? "-")")
                }
                if let property = expect["property"] as? String {
                    #expect(json["property"] as? String == property, "\(file): property \(json["property"] ?? "-")")
                }
                #expect(!((json["reason"] as? String) ?? "").isEmpty, "\(file): receipt without a reason")
                // The unchanged copy in ddrouter.dead with the reason in its headers.
                let codeHeader = AMQPValue.string(code ?? "")
                let copy = dead.first { (m: Mailbox.Message) -> Bool in
                    if let id { return m.messageID == id }
                    return m.messageID == nil && m.headers[DeadLetterHeaders.code] == codeHeader
                }
                #expect(copy != nil, "\(file): no copy in ddrouter.dead")
                if let copy {
                    #expect(copy.headers[DeadLetterHeaders.code] == .string(code ?? ""), "\(file): dead-letter code")
                    #expect(copy.headers[DeadLetterHeaders.exchange] == .string(exchange), "\(file): dead-letter exchange")
                    #expect(copy.headers[DeadLetterHeaders.reason] != nil, "\(file): dead-letter reason")
                    #expect(copy.body == sentBodies[file], "\(file): dead-letter body changed")
                }
            } else {
                #expect(json["acceptedEntries"] as? Int == expect["acceptedEntries"] as? Int,
                        "\(file): accepted \(json["acceptedEntries"] ?? "-")")
                let rejected = (json["rejectedEntries"] as? [[String: Any]] ?? []).map {
                    "\($0["index"] ?? "-") \($0["code"] ?? "-") \($0["pointer"] ?? "-")"
                }
                let wanted = (expect["rejectedEntries"] as? [[String: Any]] ?? []).map {
                    "\($0["index"] ?? "-") \($0["code"] ?? "-") \($0["pointer"] ?? "-")"
                }
                #expect(rejected == wanted, "\(file): rejected entries \(rejected)")
            }
        }
        #expect(dead.count == fatal.count, "\(dead.count) dead letters for \(fatal.count) fatal fixtures")

        // Every good message around them: an ok receipt with both entries, and a journal request each.
        for good in goods {
            let receipt = receipts.first { $0.correlationID == good.id }
            #expect(receipt?.json?["status"] as? String == "ok" && receipt?.json?["acceptedEntries"] as? Int == 2,
                    "\(good.id): \(receipt?.json ?? [:])")
        }
        let asked = Set(messages.filter { $0.type == "contact-status-request" }.compactMap { $0.json?["cpr"] as? String })
        #expect(Set(goodCitizens).isSubset(of: asked), "\(Set(goodCitizens).subtracting(asked).count) good citizens not asked about")
        #expect(!daemon.logText().contains("0103304123") && !daemon.logText().contains("010330-4123"), "CPR in the log")
    }

    @Test("daemon subprocess: a repeated message_id gets the identical receipt and no second effect, across a restart; a foreign user_id is rejected and nothing forwarded (issue 4, test 5)")
    func daemonRepeatAndForeignUser() async throws {
        let (daemon, collector) = try await startDaemonWithCollector()
        defer { daemon.removeFiles() }
        let m851 = SenderClient(user: ScaleDirectory.user(municipality: "851"), name: "it.repeat.851")
        let m810 = SenderClient(user: ScaleDirectory.user(municipality: "810"), name: "it.repeat.810")
        let (list, cprs) = try Self.goodList(900)
        try await m851.send(exchange: "dd.in.municipality.851", type: "municipal-list", messageID: "repeat-1", body: list)
        #expect(await eventually(within: .seconds(30)) {
            let requests = await collector.mailbox.count { $0.type == "contact-status-request" }
            let receipts = await collector.mailbox.count { $0.type == "receipt" }
            return requests >= 2 && receipts >= 1
        })
        // Restart between the two copies: the store, not memory, remembers the message_id.
        #expect(try await daemon.terminate() == 0)
        try await daemon.start()
        try await m851.send(exchange: "dd.in.municipality.851", type: "municipal-list", messageID: "repeat-1", body: list)

        // The same list body, published to 851's exchange by municipality 810's user (the
        // broker lets it: see ScaleDirectory.ensureUsers): unauthorized, nothing forwarded.
        let (foreign, foreignCPRs) = try Self.goodList(901)
        try await m810.send(exchange: "dd.in.municipality.851", type: "municipal-list", messageID: "foreign-1", body: foreign)
        #expect(await eventually(within: .seconds(30)) {
            let receipts = await collector.mailbox.count { $0.type == "receipt" }
            let dead = await collector.mailbox.count { $0.queue == "ddrouter.dead" }
            return receipts >= 3 && dead >= 1
        })
        try await Task.sleep(for: .seconds(2))
        #expect(try await daemon.terminate() == 0)
        await collector.stop()
        await m851.close()
        await m810.close()

        let messages = await collector.mailbox.messages
        let repeats = messages.filter { $0.type == "receipt" && $0.correlationID == "repeat-1" }
        #expect(repeats.count == 2)
        #expect(Set(repeats.map(\.body)).count == 1, "the second receipt is byte-identical")
        #expect(Set(repeats.compactMap(\.messageID)).count == 1, "with the same message_id")
        #expect(repeats.first?.json?["status"] as? String == "ok")
        #expect(repeats.first?.json?["acceptedEntries"] as? Int == 2)
        let requests = messages.filter { $0.type == "contact-status-request" }
        #expect(requests.count == 2, "no second effect: \(requests.count) journal requests")
        #expect(Set(requests.compactMap { $0.json?["cpr"] as? String }) == Set(cprs))

        let foreignReceipt = messages.first { $0.type == "receipt" && $0.correlationID == "foreign-1" }
        #expect(foreignReceipt?.queue == Self.inbox851)
        #expect(foreignReceipt?.json?["status"] as? String == "fatal-error")
        #expect(foreignReceipt?.json?["code"] as? String == "unauthorized-sender")
        let deadCopy = messages.first { $0.queue == "ddrouter.dead" && $0.messageID == "foreign-1" }
        #expect(deadCopy?.headers[DeadLetterHeaders.code] == .string("unauthorized-sender"))
        let mentioned = messages.filter { m in foreignCPRs.contains { m.body.range(of: Data($0.utf8)) != nil } }
        #expect(mentioned.allSatisfy { $0.queue == "ddrouter.dead" }, "nothing about the foreign list's citizens forwarded")
        #expect(messages.filter { $0.queue != "ddrouter.dead" && $0.type != "receipt" && $0.type != "contact-status-request" }.isEmpty)
        let (store, pseudonymizer) = try ScaleHarness.openStore(daemon.storePath)
        defer { try? store.close() }
        for cpr in foreignCPRs {
            #expect(try store.cases(pseudonym: try pseudonymizer.pseudonym(forCPR: cpr)).isEmpty, "no case for a foreign entry")
        }
    }

    @Test("daemon subprocess: after a run the audit trail verifies; an edited or a deleted row is found and named (issue 4, test 9)")
    func daemonAuditTamper() async throws {
        let workload = ScaleWorkload(name: "audit", count: 220, batchSize: 50)
        let (result, daemon) = try await ScaleHarness.run(workload)
        defer { daemon.removeFiles() }
        try ScaleHarness.verify(result)

        let (store, _) = try ScaleHarness.openStore(result.storePath)
        let verification = try store.verifyAudit()
        guard case .ok(let count, let head) = verification else {
            Issue.record("fresh trail does not verify: \(verification)")
            return
        }
        #expect(count > Int64(workload.citizens.count), "one entry per message received and event sent: \(count)")
        #expect(try store.verifyAudit(anchor: head).isOK)
        let edited = daemon.directory.appendingPathComponent("edited.sqlite").path
        let deleted = daemon.directory.appendingPathComponent("deleted.sqlite").path
        try store.backup(to: edited)
        try store.backup(to: deleted)
        try store.close()

        // What someone with the file and sqlite3 can do: drop the guard triggers, then edit
        // or delete one row in the middle of the trail.
        let victim = count / 2
        try await offPool {
            try Broker.run(["/usr/bin/sqlite3", edited,
                            "DROP TRIGGER audit_no_update; UPDATE audit SET purpose = 'none' WHERE seq = \(victim);"])
            try Broker.run(["/usr/bin/sqlite3", deleted,
                            "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = \(victim);"])
        }
        let editedStore = try Store(path: edited, auditKey: try StoreKeys(master: Data(DaemonProcess.storeKey.utf8)).auditKey)
        let editedResult = try editedStore.verifyAudit()
        try editedStore.close()
        // The victim's seal covers the entries of its write: it names the first and the last.
        switch editedResult {
        case .broken(let seq, .contentMismatch):
            #expect(seq == victim, "\(editedResult)")
        case .broken(let seq, .sealMismatch(let last)):
            #expect(seq < victim && victim <= last || seq <= victim && victim < last, "names the seal over the entry: \(editedResult)")
        default:
            Issue.record("an edited entry must break its seal: \(editedResult)")
        }

        let deletedStore = try Store(path: deleted, auditKey: try StoreKeys(master: Data(DaemonProcess.storeKey.utf8)).auditKey)
        let deletedResult = try deletedStore.verifyAudit()
        try deletedStore.close()
        #expect(deletedResult == .broken(seq: victim, reason: .missing(found: victim + 1)), "\(deletedResult)")
        #expect(deletedResult.description.contains("entry \(victim)"), "names the first bad entry: \(deletedResult)")
    }
}
