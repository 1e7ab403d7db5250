import Foundation
import Testing

@testable import Store

@Suite("Batched pipeline writes")
struct ThroughputTests {
    /// 10,000 messages the way the daemon writes them (inbox, case, two history
    /// entries, consent check, an event, a timer, two audit entries), 250 per
    /// transaction. Asserts the outcome; prints the rate (debug builds are slow,
    /// the real benchmark runs elsewhere in release mode).
    @Test func tenThousandMessagesInBatches() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let pseudonymizer = try Pseudonymizer(key: testKey)
        let total = 10_000
        let batch = 250
        let started = ContinuousClock.now
        for first in stride(from: 0, to: total, by: batch) {
            try store.write { tx in
                for i in first..<(first + batch) {
                    try tx.savepoint { tx in
                        let id = "m-\(i)"
                        let cpr = String(format: "%06d%04d", 10_190 + i % 900, i)
                        let pseudonym = try pseudonymizer.pseudonym(forCPR: cpr)
                        guard try tx.recordInbox(
                            InboxEntry(sender: "kommune-851", messageID: id, type: "list-1", receivedAt: t(i),
                                       receipt: Data("{\"ack\":\"ok\",\"id\":\"\(id)\"}".utf8))) == .recorded
                        else { return }
                        _ = try tx.consentAllows(pseudonym: pseudonym, direction: .municipalityToRegion, purpose: "p", at: t(i))
                        try tx.upsertCase(CaseRecord(
                            caseID: "case-\(i)", pseudonym: pseudonym, workflow: "A", municipality: ["851", "860", "813"][i % 3],
                            clinic: "amb-\(i % 4)", status: ["assessment", "central-visitation"][i % 2],
                            state: Data("{\"step\":\"new\"}".utf8), updatedAt: t(i)))
                        try tx.appendHistory(CaseHistoryEntry(caseID: "case-\(i)", at: t(i), kind: .input, messageID: id,
                                                              payload: Data("{\"entry\":0}".utf8), explanation: nil))
                        try tx.appendHistory(CaseHistoryEntry(caseID: "case-\(i)", at: t(i), kind: .decision, messageID: id,
                                                              payload: Data("{\"queue\":\"clinic\"}".utf8),
                                                              explanation: Data("{\"rule\":\"R1\"}".utf8)))
                        try tx.enqueue(OutboxEvent(messageID: "\(id)/assessment", exchange: "ddrouter.events",
                                                   routingKey: "clinic.assessment", type: "assessment-request",
                                                   correlationID: id, body: Data("{}".utf8), createdAt: t(i)))
                        try tx.schedule(TimerRecord(timerID: "\(id)/r10", caseID: "case-\(i)", kind: "treatment-deadline",
                                                    dueAt: t(i + 14 * 86_400), payload: Data(), createdAt: t(i)))
                        try tx.appendAudit(AuditRecord(at: t(i), actor: "kommune-851", action: .received, pseudonym: pseudonym,
                                                       messageType: "list-1", messageID: id, purpose: "sundhedsloven § 43"))
                        try tx.appendAudit(AuditRecord(at: t(i), actor: "amb-\(i % 4)", action: .sent, pseudonym: pseudonym,
                                                       messageType: "assessment-request", messageID: "\(id)/assessment",
                                                       purpose: "sundhedsloven § 43"))
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("store: \(total) messages in \(elapsed) = \(Int(Double(total) / seconds)) messages/s (this build)")

        #expect(try store.pendingOutbox(limit: total + 1).count == total)
        #expect(try store.caseCounts().reduce(0) { $0 + $1.count } == total)
        #expect(try store.dueTimers(at: t(total + 14 * 86_400), limit: total + 1).count == total)
        #expect(try store.verifyAudit() == .ok(count: Int64(2 * total), head: try store.auditHead()))
    }
}
