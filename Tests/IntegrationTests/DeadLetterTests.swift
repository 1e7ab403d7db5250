import AMQP
import Contract
import Daemon
import Foundation
import Testing

/// docs/messages.md, "Dead letters": one rule for every message the router turns away, on the
/// real broker. A message its case refuses (`unknown-case`, `out-of-order`) gets its copy in
/// `ddrouter.dead` like a message the checks reject, and each copy carries exactly what the
/// section says: the body byte for byte, the properties as sent except `user_id` (in
/// `x-ddrouter-user-id`), the sender's headers, and the `x-ddrouter-*` headers.
extension ClientTests {
    @Test("Dead letters (docs/messages.md): refused messages (unknown-case, out-of-order) are copied to ddrouter.dead with exactly the documented properties and headers; a resend adds no second copy")
    func refusedMessagesAreDeadLettered() async throws {
        try await FaultHarness.with("refused-dead") { h in
        let inbox851 = h.names.queue(for: .municipality("851"))
        let clinicQueue = h.names.queue(for: .clinic("amb-syd-aalborg"))
        _ = try await h.sender.admin(.purgeQueue(clinicQueue))
        let run = UUID().uuidString.prefix(8)

        // A citizen with an open case in 851 (workflow A), for the out-of-order refusal.
        let listID = "dead-list-\(run)"
        try await h.send(try FaultHarness.list(["0103304123"]), type: "municipal-list", id: listID)
        _ = try await h.collect(inbox851, within: .seconds(20)) { got in
            got.contains { $0.properties.correlationID == listID && $0.properties.type == "receipt" }
        }

        func publish(_ body: Data, type: String, id: String, exchange: String) async throws -> MessageProperties {
            let properties = MessageProperties(
                contentType: "application/json", contentEncoding: "utf-8",
                headers: ["x-vendor-trace": .string("trace-\(run)"), "x-vendor-attempt": .int(1)], persistent: true,
                correlationID: "vendor-correlation-\(run)", messageID: id, timestamp: 1_790_000_000, type: type,
                userID: Broker.user, appID: "vendor-app")
            try await h.sender.publish(OutboundMessage(exchange: exchange, routingKey: type, body: body, properties: properties))
            return properties
        }
        // unknown-case: a consent-update quoting a caseId for a citizen without a case.
        let unknownID = "dead-unknown-\(run)"
        let unknownBody = try Data(contentsOf: Broker.repoRoot.appendingPathComponent("Config/examples/consent-update.json"))
        let unknownSent = try await publish(unknownBody, type: "consent-update", id: unknownID, exchange: "dd.in.municipality.851")
        // out-of-order: a clinic's referral naming another municipality than the open case's.
        let orderID = "dead-order-\(run)"
        let orderBody = try JSONSerialization.data(withJSONObject: Self.referral("0103304123", municipality: "810"))
        let orderSent = try await publish(orderBody, type: "referral", id: orderID, exchange: "dd.in.clinic.amb-syd-aalborg")

        let receipts = try await h.collect(inbox851, within: .seconds(20)) { $0.contains { $0.properties.correlationID == unknownID } }
            + h.collect(clinicQueue, within: .seconds(20)) { $0.contains { $0.properties.correlationID == orderID } }
        let unknownReceipt = try #require(receipts.first { $0.properties.correlationID == unknownID })
        let orderReceipt = try #require(receipts.first { $0.properties.correlationID == orderID })
        #expect(unknownReceipt.json["code"] as? String == "unknown-case")
        #expect(orderReceipt.json["code"] as? String == "out-of-order")

        let dead = try await h.collect(h.names.deadLetterQueue, within: .seconds(10)) { $0.count >= 2 }
        #expect(dead.count == 2, "one copy per refused message: \(dead.map { $0.properties.messageID ?? "-" })")
        for (id, sent, body, receipt, exchange) in [
            (unknownID, unknownSent, unknownBody, unknownReceipt, "dd.in.municipality.851"),
            (orderID, orderSent, orderBody, orderReceipt, "dd.in.clinic.amb-syd-aalborg"),
        ] {
            let copy = try #require(dead.first { $0.properties.messageID == id }, "no dead letter for \(id)")
            #expect(copy.body == body, "\(id): body not byte for byte")
            #expect(copy.routingKey == sent.type, "\(id): routing key")
            // Properties as sent, except user_id (the router publishes the copy as itself).
            var expected = sent
            expected.userID = nil
            var got = copy.properties
            #expect(got.userID == nil, "\(id): a dead letter carries no user_id")
            let added = got.headers.filter { $0.key.hasPrefix("x-ddrouter-") }
            // ddrouter.dead is a quorum queue: it adds its own x-delivery-count when read.
            got.headers = got.headers.filter { !$0.key.hasPrefix("x-ddrouter-") && $0.key != "x-delivery-count" }
            expected.headers = sent.headers
            #expect(got == expected, "\(id): properties differ from the sent ones")
            // Exactly the documented headers, the receipt's code, reason and pointer among them.
            var headers: [String: AMQPValue] = [
                DeadLetterHeaders.code: .string(receipt.json["code"] as? String ?? "?"),
                DeadLetterHeaders.reason: .string(receipt.json["reason"] as? String ?? "?"),
                DeadLetterHeaders.exchange: .string(exchange),
                "x-ddrouter-user-id": .string(Broker.user),
            ]
            if let pointer = receipt.json["pointer"] as? String { headers[DeadLetterHeaders.pointer] = .string(pointer) }
            let rejectedAt = added[DeadLetterHeaders.rejectedAt]
            var rest = added
            rest[DeadLetterHeaders.rejectedAt] = nil
            #expect(rest == headers, "\(id): x-ddrouter headers")
            if case .string(let text)? = rejectedAt {
                #expect(Contract.Timestamp(iso: text) != nil && text.hasSuffix("Z"), "\(id): x-ddrouter-rejected-at \(text)")
            } else {
                Issue.record("\(id): no x-ddrouter-rejected-at")
            }
        }
        #expect(unknownReceipt.json["pointer"] as? String == "/caseId")
        #expect(orderReceipt.json["pointer"] as? String == "/municipality")

        // A resend of a refused message gets its stored receipt again, and no second copy.
        _ = try await publish(unknownBody, type: "consent-update", id: unknownID, exchange: "dd.in.municipality.851")
        let again = try await h.collect(inbox851, within: .seconds(20)) { $0.contains { $0.properties.correlationID == unknownID } }
        #expect(again.first { $0.properties.correlationID == unknownID }?.body == unknownReceipt.body)
        #expect(try await h.collect(h.names.deadLetterQueue, quiet: .milliseconds(300)) { _ in true }.isEmpty,
                "a resend adds no dead letter")
        }
    }
}

extension FaultHarness {
    /// Runs `body` with a harness and finishes it also when `body` throws (a failed
    /// `#require`), so its pipeline does not stay on `ddrouter.inbound` and take the next
    /// test's messages.
    static func with(_ label: String, _ body: (FaultHarness) async throws -> Void) async throws {
        let h = try await FaultHarness(label)
        do {
            try await body(h)
        } catch {
            await h.finish()
            throw error
        }
        await h.finish()
    }
}
