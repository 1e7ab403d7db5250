import AMQP
import Contract
import Daemon
import Foundation
import Testing

/// docs/messages.md, "Outbound messages": the properties of what the router publishes, on the
/// real broker. `user_id` is the router's broker user on every outbound message (the broker
/// checks it against the publishing connection), and an `assessment-request` correlates to
/// the list that listed the citizen, also when the journal's answer released it.
extension ClientTests {
    @Test("Outbound messages (docs/messages.md): every message the router publishes carries user_id = the router's broker user; an assessment-request's correlation_id and source are the list's message_id")
    func outboundPropertiesOnTheWire() async throws {
        try await FaultHarness.with("outbound-props") { h in
        let inbox851 = h.names.queue(for: .municipality("851"))
        let journal = h.names.queue(for: .journal("journal-rn"))
        let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
        _ = try await h.sender.admin(.purgeQueue(clinic))
        let run = UUID().uuidString.prefix(8)

        // The list: a receipt (outbox) and, status unknown, a contact-status-request.
        let listID = "props-list-\(run)"
        let list = try FaultHarness.list(["0103304123"])
        try await h.send(list, type: "municipal-list", id: listID)
        var seen = try await h.collect(inbox851, within: .seconds(20)) { $0.contains { $0.properties.correlationID == listID } }
        let requests = try await h.collect(journal, within: .seconds(20)) { !$0.isEmpty }
        #expect(requests.first?.properties.type == "contact-status-request")
        seen += requests

        // The journal's answer releases the assessment request (R1, current treatment).
        let statusID = "props-status-\(run)"
        let status = try JSONSerialization.data(withJSONObject: [
            "schemaVersion": "1.0", "asOf": "2026-11-23",
            "entries": [["cpr": "0103304123", "known": true,
                         "currentCourse": ["clinic": "amb-syd-aalborg", "since": "2025-02-10"]]],
        ])
        try await h.send(status, type: "contact-status", id: statusID, exchange: "dd.in.journal.journal-rn")
        seen += try await h.collect(journal, within: .seconds(20)) { $0.contains { $0.properties.correlationID == statusID } }
        let assessments = try await h.collect(clinic, within: .seconds(20)) { !$0.isEmpty }
        seen += assessments
        let assessment = try #require(assessments.first { $0.properties.type == "assessment-request" })
        // correlation_id: "the inbound list's message_id" (and the body's source names it).
        #expect(assessment.properties.correlationID == listID, "correlation_id \(assessment.properties.correlationID ?? "-")")
        let source = assessment.json["source"] as? [String: Any]
        #expect(source?["messageId"] as? String == listID)
        #expect(source?["messageType"] as? String == "municipal-list")

        // A repeated message_id: the stored receipt, published by the pipeline itself.
        try await h.send(list, type: "municipal-list", id: listID)
        let resent = try await h.collect(inbox851, within: .seconds(20)) { $0.contains { $0.properties.correlationID == listID } }
        #expect(resent.count == 1)
        seen += resent
        // A rejected message: its fatal-error receipt.
        let badID = "props-bad-\(run)"
        try await h.send(Data("{".utf8), type: "municipal-list", id: badID)
        seen += try await h.collect(inbox851, within: .seconds(20)) { $0.contains { $0.properties.correlationID == badID } }

        #expect(seen.count >= 6, "\(seen.map { $0.properties.type ?? "-" })")
        #expect(Set(seen.compactMap(\.properties.type)) == ["receipt", "contact-status-request", "assessment-request"])
        for message in seen {
            #expect(message.properties.userID == Broker.user,
                    "\(message.properties.type ?? "-") \(message.properties.messageID ?? "-") has user_id \(message.properties.userID ?? "none")")
            #expect(message.properties.appID == "ddrouter")
        }
        }
    }
}
