import Crypto
import Foundation
import GRDB
import Testing

@testable import Store

/// Data minimisation in the outbox (issue 15, store size): a row the broker confirmed keeps
/// the SHA-256 of its body, not the body, and enqueueing is still idempotent against it.
@Suite("Outbox: a sent row keeps its body's digest, not the body")
struct SentBodyTests {
    @Test("confirming moves what the sent entry says (recipient, pseudonym, purpose) into the audit trail and clears it from the row")
    func auditColumnsClearedOnConfirm() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        var pending = event("a", body: "{}")
        pending.audit = OutboxAudit(actor: "clinic.amb-1", pseudonym: pA, purpose: "treatment-dialogue")
        try store.write { tx in _ = try tx.enqueue(pending) }
        #expect(try store.outboxEvent(messageID: "a")?.audit == pending.audit, "pending: kept for the sent entry")
        #expect(try store.confirmSent(try store.dueOutbox(at: t(0), limit: 10), at: t(1)) == 1)
        #expect(try store.outboxEvent(messageID: "a")?.audit == nil)
        let sent = try #require(try store.auditEntries(pseudonym: pA).last)
        #expect(sent.action == .sent && sent.actor == "clinic.amb-1" && sent.purpose == "treatment-dialogue")
        #expect(sent.messageID == "a")
    }

    @Test("confirming erases the body and keeps its SHA-256; the same event again is a replay, another body a conflict")
    func erasedOnConfirm() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let body = #"{"cpr":"0101304123","municipalInformation":"…"}"#
        try store.write { tx in
            _ = try tx.enqueue(event("a", body: body))
            _ = try tx.enqueue(event("b", body: "{}"))
        }
        #expect(try store.outboxEvent(messageID: "a")?.body == Data(body.utf8), "pending: body kept")
        #expect(try store.outboxEvent(messageID: "a")?.bodyDigest == Data(SHA256.hash(data: Data(body.utf8))), "the digest is kept from the start")
        #expect(try store.confirmSent(try store.dueOutbox(at: t(0), limit: 10).filter { $0.messageID == "a" }, at: t(1)) == 1)
        let sent = try #require(try store.outboxEvent(messageID: "a"))
        #expect(sent.state == .sent)
        #expect(sent.body.isEmpty)
        #expect(sent.bodyDigest == Data(SHA256.hash(data: Data(body.utf8))))
        #expect(try store.outboxEvent(messageID: "b")?.body == Data("{}".utf8), "a pending row keeps its body")
        // A replay derives the same event: nothing is written, nothing is sent again.
        #expect(try store.write { tx in try tx.enqueue(event("a", body: body)) } == .alreadyEnqueued)
        #expect(try store.pendingOutbox(limit: 10).map(\.messageID) == ["b"])
        // Another body under the same id is still refused.
        #expect(storeErrorCode { try store.write { tx in try tx.enqueue(event("a", body: "{}")) } } == .conflict)
        // No byte of the body is left in the file: its row in outbox_bodies is deleted (its
        // page freed for the next bodies), the pending one's is there.
        let raw = try DatabaseQueue(path: scratch.dbPath).read { db in
            try Data.fetchAll(db, sql: """
                SELECT b.body FROM outbox_bodies b JOIN outbox o ON o.seq = b.seq ORDER BY o.message_id
                """)
        }
        #expect(raw == [Data("{}".utf8)])
    }

    @Test("the v3 migration erases the bodies of rows sent under v2 and keeps their digests; v5 moves the pending ones' bodies apart, with their digests")
    func migrationErasesSentBodies() throws {
        // A store at v2, as the previous release left it, with one sent and one pending row.
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
        let sent = try #require(try store.outboxEvent(messageID: "old-sent"))
        #expect(sent.body.isEmpty)
        #expect(sent.bodyDigest == Data(SHA256.hash(data: Data(#"{"cpr":"0101304123"}"#.utf8))))
        // v5 moves the pending body to outbox_bodies and stores its digest.
        let pending = try #require(try store.outboxEvent(messageID: "old-pending"))
        #expect(pending.body == Data(#"{"x":1}"#.utf8))
        #expect(pending.bodyDigest == Data(SHA256.hash(data: Data(#"{"x":1}"#.utf8))))
        #expect(try store.confirmSent([pending], at: t(2)) == 1)
        #expect(try store.outboxEvent(messageID: "old-pending")?.body.isEmpty == true)
        let again = OutboxEvent(
            messageID: "old-pending", exchange: "ddrouter.events", routingKey: "cv.cv-referral", type: "cv-referral",
            correlationID: nil, headers: [:], body: Data(#"{"x":1}"#.utf8), createdAt: t(3))
        #expect(try store.write { tx in try tx.enqueue(again) } == .alreadyEnqueued)
    }
}
