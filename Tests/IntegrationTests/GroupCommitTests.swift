import AMQP
import Foundation
import Testing

/// Group commit against the real broker and store: many referrals in flight at once (the
/// daemon's prefetch), one message_id repeated inside the burst.
extension ClientTests {
    @Test("pipeline: 300 referrals published at once are each answered ok exactly once and all stored, in fewer transactions than messages; a message_id repeated in the burst gets the identical receipt")
    func groupCommitBurst() async throws {
        let h = try await FaultHarness("burst", prefetch: 200)
        let inbox = h.names.queue(for: .municipality("851"))
        let run = UUID().uuidString.prefix(8)
        let count = 300
        let ids = (0..<count).map { "burst-\(run)-\($0)" }
        let bodies = try (0..<count).map {
            try JSONSerialization.data(withJSONObject: Self.referral(ScaleWorkload.cpr(30_000 + $0), municipality: "851"))
        }
        let repeated = 7
        let sender = h.sender
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0...count {
                // The last publish repeats message `repeated` (same id and body) inside the burst.
                let (id, body) = i < count ? (ids[i], bodies[i]) : (ids[repeated], bodies[repeated])
                group.addTask {
                    try await sender.publish(OutboundMessage(
                        exchange: "dd.in.municipality.851", routingKey: "referral", body: body,
                        properties: MessageProperties(contentType: "application/json", messageID: id, type: "referral",
                                                      userID: Broker.user)))
                }
            }
            try await group.waitForAll()
        }
        let receipts = try await h.collect(inbox, within: .seconds(120)) { got in
            got.count { $0.properties.type == "receipt" } >= count + 1
        }.filter { $0.properties.type == "receipt" }
        print("group commit burst: \(receipts.count) receipts in \(ContinuousClock.now - started), \(h.pipeline.committedTransactions) transactions")

        let byID = Dictionary(grouping: receipts) { $0.properties.correlationID ?? "-" }
        #expect(receipts.count == count + 1, "\(receipts.count) receipts for \(count + 1) messages")
        for (i, id) in ids.enumerated() {
            let answers = byID[id] ?? []
            #expect(answers.count == (i == repeated ? 2 : 1), "\(id): \(answers.count) receipts")
            #expect(answers.allSatisfy { $0.json["status"] as? String == "ok" }, "\(id): \(answers.map { $0.json["status"] ?? "-" })")
            #expect(Set(answers.map(\.body)).count == 1, "\(id): receipts differ")
            #expect(try h.store.inboxEntry(sender: "municipality.851", messageID: id) != nil, "\(id) not stored")
        }
        #expect(h.pipeline.committedTransactions < count, "\(h.pipeline.committedTransactions) transactions for \(count) messages")
        #expect(try await h.collect(h.names.deadLetterQueue, quiet: .milliseconds(200)) { _ in true }.isEmpty,
                "nothing dead-lettered")
        await h.finish()
    }
}
