import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Outbox: per-row back-off, sent audit on confirm, list members")
struct OutboxRetryTests {
    @Test("a failed row backs off on its own; never-tried rows come first; the delay doubles")
    func backOff() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            for id in ["a", "b", "c"] { _ = try tx.enqueue(event(id)) }
        }
        try store.recordFailedPublish(messageIDs: ["a"], at: t(0), baseDelay: 10, maxDelay: 25)
        #expect(try store.dueOutbox(at: t(0), limit: 10).map(\.messageID) == ["b", "c"])
        #expect(try store.dueOutbox(at: t(10), limit: 10).map(\.messageID) == ["b", "c", "a"])
        #expect(try store.dueOutbox(at: t(10), limit: 1).map(\.messageID) == ["b"])
        let first = try #require(try store.outboxEvent(messageID: "a"))
        #expect(first.attempts == 1)
        #expect(first.nextAttemptAt == t(10))
        try store.recordFailedPublish(messageIDs: ["a"], at: t(10), baseDelay: 10, maxDelay: 25)
        #expect(try store.outboxEvent(messageID: "a")?.nextAttemptAt == t(30))
        try store.recordFailedPublish(messageIDs: ["a"], at: t(30), baseDelay: 10, maxDelay: 25)
        #expect(try store.outboxEvent(messageID: "a")?.nextAttemptAt == t(55), "capped at maxDelay")
        // Everything pending is still listed for operators and shutdown checks.
        #expect(try store.pendingOutbox(limit: 10).count == 3)
    }

    @Test("due receipts go before the other rows; the rest keep their enqueue order")
    func receiptsFirst() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        func receipt(_ id: String) -> OutboxEvent {
            var row = event(id)
            row.type = "receipt"
            row.routingKey = "municipality.810.receipt"
            return row
        }
        try store.write { tx in
            for id in ["e1", "e2", "e3"] { _ = try tx.enqueue(event(id)) }
            _ = try tx.enqueue(receipt("r1"))
            _ = try tx.enqueue(event("e4"))
            _ = try tx.enqueue(receipt("r2"))
        }
        #expect(try store.dueOutbox(at: t(0), limit: 10).map(\.messageID) == ["r1", "r2", "e1", "e2", "e3", "e4"])
        #expect(try store.dueOutbox(at: t(0), limit: 3).map(\.messageID) == ["r1", "r2", "e1"])
        #expect(try store.dueOutbox(at: t(0), limit: 1).map(\.messageID) == ["r1"])
        // A receipt that backs off waits for its time like any row, and is then first again.
        try store.recordFailedPublish(messageIDs: ["r1"], at: t(0), baseDelay: 10, maxDelay: 25)
        #expect(try store.dueOutbox(at: t(0), limit: 10).map(\.messageID) == ["r2", "e1", "e2", "e3", "e4"])
        #expect(try store.dueOutbox(at: t(10), limit: 10).map(\.messageID) == ["r2", "r1", "e1", "e2", "e3", "e4"])
        // Each query reads its index in order (no backlog read or sorted); receipts their own.
        let plan = try store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + Queries.dueOutboxSQL(receipts: true), arguments: ["x", 1])
                .map { $0["detail"] as String? ?? "" }.joined(separator: "; ")
        }
        #expect(plan.contains("outbox_due_receipts"), "query plan: \(plan)")
        let others = try store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + Queries.dueOutboxSQL(receipts: false), arguments: ["x", 1])
                .map { $0["detail"] as String? ?? "" }.joined(separator: "; ")
        }
        #expect(others.contains("outbox_due"), "query plan: \(others)")
        #expect(!(plan + others).contains("TEMP B-TREE"), "a round sorts no backlog: \(plan); \(others)")
    }

    @Test("confirmSent marks each row sent with one sent audit entry, once")
    func confirm() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        var row = event("x")
        row.audit = OutboxAudit(actor: "municipality.851", pseudonym: pA, purpose: "treatmentDialogue")
        try store.write { tx in
            _ = try tx.enqueue(row)
            _ = try tx.enqueue(event("y"))
        }
        let rows = try store.dueOutbox(at: t(0), limit: 10)
        #expect(rows.first?.audit == row.audit, "the audit facts are stored with the row")
        #expect(try store.confirmSent(rows, at: t(1)) == 2)
        #expect(try store.confirmSent(rows, at: t(2)) == 0)
        let sent = try store.auditEntries(afterSeq: 0, limit: 10).filter { $0.action == .sent }
        #expect(sent.count == 2)
        let x = try #require(sent.first { $0.messageID == "x" })
        #expect(x.actor == "municipality.851")
        #expect(x.pseudonym == pA)
        #expect(x.purpose == "treatmentDialogue")
        // Without stored audit facts the recipient comes from the routing key.
        #expect(sent.first { $0.messageID == "y" }?.actor == "region.visitation")
        #expect(try store.verifyAudit().isOK)
        #expect(try store.dueOutbox(at: t(3), limit: 10).isEmpty)
    }

    @Test("list members accumulate per side, pair and kind")
    func listMembers() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            try tx.recordListMember(ListMember(
                side: .municipality, municipality: "851", clinic: "", listKind: "list-1", pseudonym: pA,
                asOf: "2026-11-23", messageID: "m1"))
            try tx.recordListMember(ListMember(
                side: .municipality, municipality: "851", clinic: "c1", listKind: "list-1", pseudonym: pB,
                asOf: "2026-11-23", messageID: "m2"))
            try tx.recordListMember(ListMember(
                side: .municipality, municipality: "851", clinic: "c1", listKind: "list-1", pseudonym: pB,
                asOf: "2026-11-30", messageID: "m3"))
            try tx.recordListMember(ListMember(
                side: .clinic, municipality: "851", clinic: "c1", listKind: "list-2", pseudonym: pA,
                asOf: "2026-11-23", messageID: "m4"))
            let municipal = try tx.listMembers(side: .municipality, municipality: "851", clinics: ["c1", ""], listKind: "list-1")
            #expect(municipal.map(\.pseudonym) == [pB, pA])
            #expect(municipal.first?.asOf == "2026-11-30")
            #expect(try tx.listMembers(side: .clinic, municipality: "851", clinics: ["c1"], listKind: "list-1").isEmpty)
        }
    }
}
