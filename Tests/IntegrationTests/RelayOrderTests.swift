import AMQP
import Daemon
import Foundation
import Store
import Testing

/// Issue 4: the outbox relay publishes in outbox order, so events for one case reach their
/// queue in the order the pipeline recorded them (a handover or consent-withdrawn never
/// overtakes an earlier event), while many publishes stay in flight together. Part of the
/// serialized broker suite.
extension ClientTests {
    @Test("relay: 1,000 events for one case arrive in outbox order; a later receipt goes first")
    func relayKeepsOutboxOrder() async throws {
        let settings = try await DaemonSettings.load(
            path: Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml").path, environment: [:])
        let names = settings.names
        let inbox = names.queue(for: .municipality("851"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-order-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try StoreKeys(master: Data(repeating: 5, count: 32))
        let store = try Store(path: directory.appendingPathComponent("store.sqlite").path, auditKey: keys.auditKey)
        let client = AMQPClient(
            configuration: Broker.configuration(name: "it.order"), topology: settings.topology, logger: testLogger("order"))
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        _ = try await client.admin(.purgeQueue(inbox))

        let run = UUID().uuidString.prefix(8)
        let types = ["case-status", "assessment-request", "handover", "consent-withdrawn"]
        let ids = (0..<1_000).map { "order-\(run)-\(String(format: "%04d", $0))" }
        let citizen = try Pseudonymizer(key: keys.pseudonymKey).pseudonym(forCPR: "0101701234")
        try store.write { tx in
            for (i, id) in ids.enumerated() {
                _ = try tx.enqueue(OutboxEvent(
                    messageID: id, exchange: names.outboundExchange, routingKey: "municipality.851.\(types[i % types.count])",
                    type: types[i % types.count], correlationID: nil, body: Data("{\"seq\":\(i)}".utf8), createdAt: Date(),
                    audit: OutboxAudit(actor: "municipality.851", pseudonym: citizen, purpose: "test")))
            }
        }
        // A receipt recorded after the 1,000 events goes out in the first round of 256 rows,
        // not behind them; the events' own order is checked below.
        let receiptID = "receipt/municipality.851/order-\(run)"
        try store.write { tx in
            _ = try tx.enqueue(OutboxEvent(
                messageID: receiptID, exchange: names.outboundExchange, routingKey: "municipality.851.receipt",
                type: "receipt", correlationID: "order-\(run)", body: Data("{}".utf8), createdAt: Date()))
        }
        let relay = OutboxRelay(client: client, store: store, logger: testLogger("order"))
        #expect(await relay.round() == .allSent)
        #expect(try store.outboxEvent(messageID: receiptID) == nil, "the receipt went out (and was confirmed) in the first round")
        #expect(try store.pendingOutbox(limit: 2_000).count == ids.count - 255, "the first round took the receipt and 255 events")
        var rounds = 0
        while await relay.round() != .empty, rounds < 50 { rounds += 1 }
        #expect(try store.pendingOutbox(limit: 10).isEmpty, "every row confirmed")

        var got: [String] = []
        _ = try await eventually(within: .seconds(60)) {
            while case .message(let d?) = try await client.admin(.get(inbox)) { got.append(d.properties.messageID ?? "-") }
            return got.count >= ids.count + 1
        }
        got.removeAll { $0 == receiptID }
        #expect(got.count == ids.count)
        let firstOutOfOrder = Array(zip(got, ids)).firstIndex { $0 != $1 }
        #expect(firstOutOfOrder == nil, "first event out of order at \(firstOutOfOrder ?? -1): \(got.prefix(8))")
        await client.close()
        try store.close()
    }
}
