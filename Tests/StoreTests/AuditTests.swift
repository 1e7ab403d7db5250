import Foundation
import Testing

@testable import Store

@Suite("Audit trail: chain, verification, tamper detection, triggers")
struct AuditTests {
    /// A store holding `count` chained entries.
    func filled(_ scratch: Scratch, count: Int = 1000) throws -> Store {
        let store = try scratch.open()
        try store.write { tx in
            for i in 1...count {
                try tx.appendAudit(audit(i, pseudonym: i % 3 == 0 ? pB : (i % 7 == 0 ? nil : pA),
                                         action: i % 2 == 0 ? .sent : .received))
            }
        }
        return store
    }

    @Test func thousandEntriesVerify() throws {
        let scratch = Scratch()
        let store = try filled(scratch)
        let result = try store.verifyAudit()
        let head = try #require(try store.auditHead())
        #expect(result == .ok(count: 1000, head: head))
        #expect(head.seq == 1000)
        #expect(try store.verifyAudit(anchor: head).isOK)
        let page = try store.auditEntries(afterSeq: 0, limit: 3)
        #expect(page.map(\.seq) == [1, 2, 3])
        #expect(page[0].prevHash == Data(repeating: 0, count: 32))
        #expect(page[1].prevHash == page[0].hash)
        #expect(page[0].purpose == "sundhedsloven § 43, samtykke")
        #expect(try store.auditEntries(pseudonym: pB).allSatisfy { $0.pseudonym == pB && $0.seq % 3 == 0 })
        #expect(try store.auditEntries(pseudonym: pB).count == 333)
    }

    @Test func verificationAcrossReopenAndAppends() throws {
        let scratch = Scratch()
        do {
            let store = try filled(scratch, count: 10)
            try store.close()
        }
        let store = try scratch.open()
        let anchor = try store.write { tx in try tx.appendAudit(audit(11)) }
        #expect(anchor.seq == 11)
        #expect(try store.verifyAudit() == .ok(count: 11, head: anchor))
    }

    @Test func triggersBlockUpdateDeleteAndReplace() throws {
        let scratch = Scratch()
        let store = try filled(scratch, count: 5)
        #expect(storeErrorCode { try store.executeRaw("UPDATE audit SET actor = 'x' WHERE seq = 2") } == .constraint)
        #expect(storeErrorCode { try store.executeRaw("DELETE FROM audit WHERE seq = 5") } == .constraint)
        #expect(storeErrorCode {
            try store.executeRaw("""
                INSERT OR REPLACE INTO audit (seq, at, actor, action, purpose, prev_hash, hash)
                SELECT 3, at, 'x', action, purpose, prev_hash, hash FROM audit WHERE seq = 3
                """)
        } == .constraint)
        #expect(storeErrorCode {
            try store.executeRaw("""
                INSERT INTO audit (seq, at, actor, action, purpose, prev_hash, hash)
                SELECT 9, at, actor, action, purpose, prev_hash, hash FROM audit WHERE seq = 5
                """)
        } == .constraint)
        #expect(try store.verifyAudit() == .ok(count: 5, head: try store.auditHead()))
    }

    @Test func editedRowIsNamed() throws {
        let scratch = Scratch()
        let store = try filled(scratch)
        try store.executeRaw("DROP TRIGGER audit_no_update")
        try store.executeRaw("UPDATE audit SET purpose = 'nothing to see' WHERE seq = 500")
        #expect(try store.verifyAudit() == .broken(seq: 500, reason: .contentMismatch))
    }

    @Test func editedPseudonymIsNamed() throws {
        let scratch = Scratch()
        let store = try filled(scratch)
        try store.executeRaw("DROP TRIGGER audit_no_update")
        try store.executeRaw("UPDATE audit SET pseudonym = NULL WHERE seq = 42")
        #expect(try store.verifyAudit() == .broken(seq: 42, reason: .contentMismatch))
    }

    @Test func deletedRowIsNamed() throws {
        let scratch = Scratch()
        let store = try filled(scratch)
        try store.executeRaw("DROP TRIGGER audit_no_delete")
        try store.executeRaw("DELETE FROM audit WHERE seq = 300")
        #expect(try store.verifyAudit() == .broken(seq: 300, reason: .missing(found: 301)))
    }

    @Test func deletedAndRenumberedRowsAreNamed() throws {
        let scratch = Scratch()
        let store = try filled(scratch)
        try store.executeRaw("DROP TRIGGER audit_no_delete; DROP TRIGGER audit_no_update")
        try store.executeRaw("DELETE FROM audit WHERE seq = 300")
        try store.executeRaw("UPDATE audit SET seq = seq - 1 WHERE seq > 300")
        let result = try store.verifyAudit()
        #expect(result == .broken(seq: 300, reason: .brokenLink))
    }

    @Test func swappedRowsAreNamed() throws {
        let scratch = Scratch()
        let store = try filled(scratch)
        try store.executeRaw("DROP TRIGGER audit_no_update")
        // Exchange the seq numbers of entries 700 and 701 (every column moves along).
        try store.executeRaw("""
            UPDATE audit SET seq = -1 WHERE seq = 700;
            UPDATE audit SET seq = 700 WHERE seq = 701;
            UPDATE audit SET seq = 701 WHERE seq = -1;
            """)
        #expect(try store.verifyAudit() == .broken(seq: 700, reason: .brokenLink))
    }

    @Test func swappedContentIsNamed() throws {
        let scratch = Scratch()
        let store = try filled(scratch)
        try store.executeRaw("DROP TRIGGER audit_no_update")
        // Keep the seq column, exchange everything else of entries 10 and 11.
        try store.executeRaw("""
            CREATE TEMP TABLE saved AS SELECT * FROM audit WHERE seq IN (10, 11);
            UPDATE audit SET (at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash) =
              (SELECT at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash
               FROM saved WHERE saved.seq = 21 - audit.seq)
            WHERE seq IN (10, 11);
            """)
        let result = try store.verifyAudit()
        #expect(result == .broken(seq: 10, reason: .brokenLink))
    }

    @Test func wrongTypesAreReportedNotTrapped() throws {
        let scratch = Scratch()
        let store = try filled(scratch, count: 20)
        try store.executeRaw("DROP TRIGGER audit_no_update")
        try store.executeRaw("UPDATE audit SET actor = X'C328FF' WHERE seq = 15")
        #expect(try store.verifyAudit() == .broken(seq: 15, reason: .malformed(column: "actor")))
        try store.executeRaw("UPDATE audit SET hash = 'abc' WHERE seq = 4")
        #expect(try store.verifyAudit() == .broken(seq: 4, reason: .malformed(column: "hash")))
        // Reading the trail reports the damage as a StoreError without quoting the row.
        do {
            _ = try store.auditEntries(afterSeq: 14, limit: 1)
            Issue.record("a row with a non-text actor was read")
        } catch let error as StoreError {
            #expect(error.code == .encoding)
            #expect(!error.description.contains("kommune"))
        }
    }

    @Test func truncatedTailIsCaughtOnlyWithAnchor() throws {
        let scratch = Scratch()
        let store = try filled(scratch, count: 20)
        let anchor = try #require(try store.auditHead())
        try store.executeRaw("DROP TRIGGER audit_no_delete")
        try store.executeRaw("DELETE FROM audit WHERE seq > 18")
        // The chain that is left is consistent …
        #expect(try store.verifyAudit().isOK)
        // … but the logged head is gone.
        #expect(try store.verifyAudit(anchor: anchor) == .broken(seq: 20, reason: .anchorMismatch))
    }

    @Test func anotherKeyDoesNotVerify() throws {
        let scratch = Scratch()
        do {
            let store = try filled(scratch, count: 3)
            try store.close()
        }
        let store = try scratch.open(key: otherKey)
        #expect(try store.verifyAudit() == .broken(seq: 1, reason: .contentMismatch))
    }

    @Test func canonicalEncodingSeparatesFields() {
        // Moving a character from one field to the next must change the encoding.
        let a = AuditChain.canonical(seq: 1, at: "x", actor: "ab", action: "c", pseudonym: nil,
                                     messageType: nil, messageID: nil, purpose: "p")
        let b = AuditChain.canonical(seq: 1, at: "x", actor: "a", action: "bc", pseudonym: nil,
                                     messageType: nil, messageID: nil, purpose: "p")
        let c = AuditChain.canonical(seq: 1, at: "x", actor: "ab", action: "c", pseudonym: nil,
                                     messageType: "", messageID: nil, purpose: "p")
        #expect(a != b)
        #expect(a != c)
    }
}
