import Foundation
import Testing

@testable import Store

@Suite("Audit trail: chain, verification, tamper detection, triggers")
struct AuditTests {
    /// A store holding `count` chained entries, each in its own savepoint (so each has its
    /// own seal: a damaged entry is named exactly), or all in one seal.
    func filled(_ scratch: Scratch, count: Int = 1000, oneSeal: Bool = false) throws -> Store {
        let store = try scratch.open()
        try store.write { tx in
            for i in 1...count {
                let record = audit(i, pseudonym: i % 3 == 0 ? pB : (i % 7 == 0 ? nil : pA),
                                   action: i % 2 == 0 ? .sent : .received)
                if oneSeal {
                    try tx.appendAudit(record)
                } else {
                    try tx.savepoint { try $0.appendAudit(record) }
                }
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
        // Sealed entries keep no hash of their own (schema v8).
        #expect(page.allSatisfy { $0.prevHash.isEmpty && $0.hash.isEmpty })
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_seals") == 1000)
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
        let anchor = try #require(try store.write { tx in
            try tx.appendAudit(audit(11))
            return try tx.sealAudit()
        })
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
        #expect(result == .broken(seq: 300, reason: .contentMismatch))
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
        #expect(try store.verifyAudit() == .broken(seq: 700, reason: .contentMismatch))
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
        #expect(result == .broken(seq: 10, reason: .contentMismatch))
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
        // Entries cut off with their seals left behind are found without an anchor …
        #expect(try store.verifyAudit() == .broken(seq: 19, reason: .cutOff(through: 19)))
        try store.executeRaw("DROP TRIGGER audit_seals_no_delete")
        try store.executeRaw("DELETE FROM audit_seals WHERE last_seq > 18")
        // … entries and seals cut off leave a consistent chain …
        #expect(try store.verifyAudit().isOK)
        // … but the logged head is gone.
        #expect(try store.verifyAudit(anchor: anchor) == .broken(seq: 20, reason: .anchorMismatch))
    }

    @Test("a write's entries share one seal: an edited, removed or added entry breaks it, named by its first entry")
    func sealedTogether() throws {
        let scratch = Scratch()
        let store = try filled(scratch, count: 10, oneSeal: true)
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_seals") == 1)
        let head = try #require(try store.auditHead())
        #expect(head.seq == 10)
        #expect(try store.verifyAudit() == .ok(count: 10, head: head))
        #expect(try store.verifyAudit(anchor: head).isOK)
        // An anchor inside a seal is no head ddrouter ever printed.
        #expect(try store.verifyAudit(anchor: AuditAnchor(seq: 5, hash: head.hash)) == .broken(seq: 5, reason: .anchorMismatch))
        try store.executeRaw("DROP TRIGGER audit_no_update")
        try store.executeRaw("UPDATE audit SET actor = 'someone else' WHERE seq = 7")
        let result = try store.verifyAudit()
        #expect(result == .broken(seq: 1, reason: .sealMismatch(last: 10)))
        #expect(result.description.contains("entry 1") && result.description.contains("up to 10"), "\(result)")
    }

    @Test("entries appended without their seal (or after a deleted one) are reported unsealed")
    func unsealedEntries() throws {
        let scratch = Scratch()
        let store = try filled(scratch, count: 5)
        try store.executeRaw("DROP TRIGGER audit_seals_no_delete")
        try store.executeRaw("DELETE FROM audit_seals WHERE last_seq = 3")
        #expect(try store.verifyAudit() == .broken(seq: 3, reason: .unsealed))
    }

    @Test("a savepoint that rolls back takes its entries out of the seal; the rest of the write still verifies")
    func rolledBackEntriesLeaveTheSeal() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            try tx.appendAudit(audit(1))
            _ = try? tx.savepoint { tx in
                try tx.appendAudit(audit(2))
                throw StoreError(.conflict, "undo")
            }
            try tx.appendAudit(audit(3))
        }
        #expect(try store.auditEntries(afterSeq: 0, limit: 10).map(\.actor) == [audit(1).actor, audit(3).actor])
        #expect(try store.verifyAudit() == .ok(count: 2, head: try store.auditHead()))
    }

    @Test("the seals append like the entries: no update, no delete, none that does not end at the newest entry")
    func sealTriggers() throws {
        let scratch = Scratch()
        let store = try filled(scratch, count: 3)
        #expect(storeErrorCode { try store.executeRaw("UPDATE audit_seals SET hash = X'00' WHERE last_seq = 2") } == .constraint)
        #expect(storeErrorCode { try store.executeRaw("DELETE FROM audit_seals WHERE last_seq = 3") } == .constraint)
        #expect(storeErrorCode {
            try store.executeRaw("INSERT INTO audit_seals (last_seq, first_seq, hash) VALUES (2, 2, X'00')")
        } == .constraint)
        #expect(try store.verifyAudit().isOK)
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

/// Schema v8 seals a write's entries together; a trail written before keeps a hash per entry.
@Suite("Audit trail across the v8 upgrade: entries with their own hash, then seals")
struct AuditUpgradeTests {
    /// A store left at v7 with `count` entries chained one by one, as v7 wrote them.
    static func legacyStore(count: Int) throws -> Scratch {
        try scratchStore(at: "v7-cancelled-timers-deleted") { db in
            var prev = AuditChain.genesis
            for i in 1...count {
                let record = audit(i)
                let at = Timestamp.string(record.at)
                let canonical = AuditChain.canonical(
                    seq: Int64(i), at: at, actor: record.actor, action: record.action.rawValue,
                    pseudonym: record.pseudonym?.hex, messageType: record.messageType, messageID: record.messageID,
                    purpose: record.purpose)
                let hash = AuditChain.hash(key: KeyBytes(testKey), prevHash: prev, canonical: canonical)
                try db.execute(
                    sql: """
                        INSERT INTO audit (seq, at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [i, at, record.actor, record.action.rawValue, record.pseudonym?.hex, record.messageType,
                                record.messageID, record.purpose, prev, hash])
                prev = hash
            }
        }
    }

    @Test("entries of v7 verify with the seals written after the upgrade; an anchor printed before still verifies")
    func legacyThenSealed() throws {
        let scratch = try Self.legacyStore(count: 3)
        let store = try scratch.open()
        let before = try #require(try store.auditHead())
        #expect(before.seq == 3 && before.hash.count == 64)
        #expect(try store.verifyAudit() == .ok(count: 3, head: before))
        try store.write { tx in
            try tx.appendAudit(audit(4))
            try tx.appendAudit(audit(5))
        }
        let after = try #require(try store.auditHead())
        #expect(after.seq == 5 && after.hash != before.hash)
        #expect(try store.verifyAudit() == .ok(count: 5, head: after))
        #expect(try store.verifyAudit(anchor: before).isOK)
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_seals") == 1)
        // The first seal chains to the last entry of v7: editing that entry breaks it.
        try store.executeRaw("DROP TRIGGER audit_no_update")
        try store.executeRaw("UPDATE audit SET purpose = 'edited' WHERE seq = 3")
        #expect(try store.verifyAudit() == .broken(seq: 3, reason: .contentMismatch))
    }

    @Test("an entry of v7 inside a seal's range is refused, not taken for sealed")
    func legacyInsideSeal() throws {
        let scratch = try Self.legacyStore(count: 2)
        let store = try scratch.open()
        try store.write { tx in
            try tx.appendAudit(audit(3))
            try tx.appendAudit(audit(4))
        }
        try store.executeRaw("DROP TRIGGER audit_no_update")
        // Give entry 4 the hashes of entry 2: it now looks like an entry of v7.
        try store.executeRaw("""
            UPDATE audit SET (prev_hash, hash) = (SELECT prev_hash, hash FROM audit WHERE seq = 2) WHERE seq = 4
            """)
        #expect(try store.verifyAudit() == .broken(seq: 3, reason: .sealMismatch(last: 4)))
    }

    @Test("a key rotation re-chains both kinds of entry and seals its own entry; the trail verifies with the new key only")
    func rotationAcrossTheUpgrade() throws {
        let scratch = try Self.legacyStore(count: 3)
        let newMaster = Data(repeating: 0x5A, count: 32)
        do {
            let store = try scratch.open()
            try store.write { tx in
                try tx.appendAudit(audit(4))
                try tx.appendAudit(audit(5))
            }
            try store.write { tx in try tx.appendAudit(audit(6)) }
            let report = try store.rotateKey(
                newMasterKey: newMaster, oldPseudonymizer: try Pseudonymizer(key: Data(repeating: 1, count: 32)),
                actor: "operator", purpose: "test", at: t(100), citizen: { _ in nil }, caseID: { "case-\($0.hex)" })
            #expect(report.auditEntries == 6)
            #expect(report.newHead.seq == 7)
            try store.close()
        }
        let newKey = try StoreKeys(master: newMaster).auditKey
        let store = try scratch.open(key: newKey)
        #expect(try store.verifyAudit() == .ok(count: 7, head: try store.auditHead()))
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_seals") == 3)
        let old = try scratch.open(key: testKey)
        #expect(try old.verifyAudit() == .broken(seq: 1, reason: .contentMismatch))
    }
}
