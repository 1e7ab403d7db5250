import AMQP
import Contract
import Daemon
import Foundation
import Store
import Testing
import Workflow

/// Issue 14 through the real broker, with the whole daemon in-process (`DaemonHarness`): each
/// test plays the parties from their own exchanges and reads the answers from their queues.
extension ClientTests {
    /// Municipality `code`'s list 1 for `cprs` (consent given in both directions).
    static func list(of code: String, _ cprs: [String]) -> [String: Any] {
        var body = list(cprs.map { ($0, "given") })
        body["municipality"] = code
        return body
    }

    @Test("contract 'Outbound properties' (issue 14 item 1): 851 and 810 each send a municipal-list with message_id X: both are processed, nothing is dead-lettered")
    func sameMessageIDFromTwoSenders() async throws {
        try await DaemonHarness.run("ids", start: Self.monday) { h in
            let journal = h.names.queue(for: .journal("journal-rn"))
            let inbox851 = h.names.queue(for: .municipality("851"))
            let inbox810 = h.names.queue(for: .municipality("810"))
            try await h.send(Self.list(of: "851", ["0103304123", "0203304123"]), type: "municipal-list", id: "X",
                             from: Self.aalborg)
            #expect(try await h.receipt(in: inbox851, for: "X")["status"] as? String == "ok")
            try await h.send(Self.list(of: "810", ["0303304123", "0403304123"]), type: "municipal-list", id: "X",
                             from: "dd.in.municipality.810")
            let receipt810 = try await h.receipt(in: inbox810, for: "X")
            #expect(receipt810["status"] as? String == "ok", "810's receipt: \(receipt810)")
            #expect(receipt810["acceptedEntries"] as? Int == 2)
            let requests = try await h.take(journal, count: 4)
            #expect(requests.count == 4)
            #expect(Set(requests.compactMap(\.properties.messageID)).count == 4)
            #expect(requests.allSatisfy { $0.properties.correlationID == "X" })
            let rest = try await h.drainAll()
            #expect(rest[h.names.deadLetterQueue, default: []].isEmpty, "dead-lettered: \(rest[h.names.deadLetterQueue] ?? [])")
        }
    }
}
