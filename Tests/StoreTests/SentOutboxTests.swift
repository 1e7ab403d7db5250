import Crypto
import Foundation
import GRDB
import Testing

@testable import Store

/// Data minimisation in the outbox (issue 15, store size): a row the broker confirmed is
/// deleted with its body; its `sent` audit entry is what the store keeps of it.
@Suite("Outbox: a confirmed row is deleted, its sent audit entry stays")
struct SentOutboxTests {
    @Test("confirming writes the sent entry (recipient, pseudonym, purpose, type, id) and deletes the row and its body")
    func confirmDeletes() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let body = #"{"cpr":"0101304123","municipalInformation":"…"}"#
        var pending = event("a", body: body)
        pending.audit = OutboxAudit(actor: "clinic.amb-1", pseudonym: pA, purpose: "treatment-dialogue")
        try store.write { tx in
            _ = try tx.enqueue(pending)
            _ = try tx.enqueue(event("b", body: "{}"))
        }
        #expect(try store.outboxEvent(messageID: "a")?.audit == pending.audit, "pending: kept for the sent entry")
        #expect(try store.outboxEvent(messageID: "a")?.bodyDigest == Data(SHA256.hash(data: Data(body.utf8))), "the digest is kept while pending")
        let due = try store.dueOutbox(at: t(0), limit: 10).filter { $0.messageID == "a" }
        #expect(try store.confirmSent(due, at: t(1)) == 1)
        #expect(try store.outboxEvent(messageID: "a") == nil, "a confirmed row is deleted")
        #expect(try store.confirmSent(due, at: t(2)) == 0, "confirmed twice: no second entry")
        let sent = try store.auditEntries(pseudonym: pA).filter { $0.action == .sent }
        #expect(sent.count == 1)
        #expect(sent.first?.actor == "clinic.amb-1" && sent.first?.purpose == "treatment-dialogue")
        #expect(sent.first?.messageID == "a" && sent.first?.messageType == "assessment-request" && sent.first?.at == t(1))
        #expect(try store.outboxEvent(messageID: "b")?.body == Data("{}".utf8), "a pending row keeps its body")
        #expect(try store.pendingOutbox(limit: 10).map(\.messageID) == ["b"])
        // No byte of the confirmed body is left in a table: only the pending row's body is.
        let raw = try DatabaseQueue(path: scratch.dbPath).read { db in
            (try Data.fetchAll(db, sql: "SELECT body FROM outbox_bodies"), try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox"))
        }
        #expect(raw.0 == [Data("{}".utf8)])
        #expect(raw.1 == 1)
    }

    @Test("while a row is pending the same event again is a replay and another body a conflict")
    func idempotentWhilePending() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in _ = try tx.enqueue(event("a", body: "{\"n\":1}")) }
        #expect(try store.write { tx in try tx.enqueue(event("a", body: "{\"n\":1}")) } == .alreadyEnqueued)
        #expect(storeErrorCode { try store.write { tx in try tx.enqueue(event("a", body: "{}")) } } == .conflict)
        #expect(try store.pendingOutbox(limit: 10).count == 1)
    }

    @Test("v3 erases the bodies of rows sent under v2, v5 moves pending bodies apart, v9 deletes the sent rows; pending ones are untouched")
    func migrationsOfSentRows() throws {
        // A store at v2, as an early release left it, with one sent and one pending row.
        let scratch = try scratchStore(at: "v2-outbox-retry-and-audit") { db in
            for (id, state, body) in [("old-sent", "sent", #"{"cpr":"0101304123"}"#), ("old-pending", "pending", #"{"x":1}"#)] {
                try db.execute(
                    sql: """
                        INSERT INTO outbox (message_id, exchange, routing_key, type, headers, body, created_at, state, sent_at)
                        VALUES (?, 'ddrouter.events', 'cv.cv-referral', 'cv-referral', '{}', ?, '2026-11-01T00:00:00.000Z', ?, ?)
                        """,
                    arguments: [id, Data(body.utf8), state, state == "sent" ? "2026-11-01T00:00:01.000Z" : nil])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.outboxEvent(messageID: "old-sent") == nil, "v9 deleted the sent row")
        let pending = try #require(try store.outboxEvent(messageID: "old-pending"))
        #expect(pending.body == Data(#"{"x":1}"#.utf8))
        #expect(pending.bodyDigest == Data(SHA256.hash(data: Data(#"{"x":1}"#.utf8))))
        #expect(try store.confirmSent([pending], at: t(2)) == 1)
        #expect(try store.outboxEvent(messageID: "old-pending") == nil)
        let counts = try DatabaseQueue(path: scratch.dbPath).read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox"), try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox_bodies"))
        }
        #expect(counts.0 == 0 && counts.1 == 0)
    }

    @Test("v9 deletes the rows sent under v8 and their leftover bodies, and keeps the pending ones with theirs")
    func v9DeletesSentRows() throws {
        let scratch = try scratchStore(at: "v8-audit-seals") { db in
            for (seq, id, state) in [(1, "s", "sent"), (2, "p", "pending")] {
                try db.execute(
                    sql: """
                        INSERT INTO outbox (seq, message_id, exchange, routing_key, type, headers, body_sha256, created_at, state, sent_at)
                        VALUES (?, ?, 'ddrouter.events', 'cv.cv-referral', 'cv-referral', '{}', x'00', '2026-11-01T00:00:00.000Z', ?, NULL)
                        """,
                    arguments: [seq, id, state])
                try db.execute(sql: "INSERT INTO outbox_bodies (seq, body) VALUES (?, ?)", arguments: [seq, Data("{\"\(id)\":1}".utf8)])
            }
        }
        let store = try scratch.open()
        #expect(try store.outboxEvent(messageID: "s") == nil)
        #expect(try store.outboxEvent(messageID: "p")?.body == Data("{\"p\":1}".utf8))
        let bodies = try DatabaseQueue(path: scratch.dbPath).read { db in try Int64.fetchAll(db, sql: "SELECT seq FROM outbox_bodies") }
        #expect(bodies == [2])
    }
}
