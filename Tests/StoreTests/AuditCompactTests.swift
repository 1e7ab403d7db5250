import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Audit columns of v11: the instant as a number, the pseudonym as bytes, texts once in audit_terms")
struct AuditCompactTests {
    /// A store left at v10 holding a trail as v10 wrote it: entries 1-2 with their own hash
    /// (before v8), entries 3-5 under one seal, every column text. With `editPurposeOf`, that
    /// entry's purpose is edited afterwards (a tamper the upgrade must not launder).
    static func v10Store(editPurposeOf edited: Int64? = nil) throws -> (Scratch, head: AuditAnchor) {
        var head = AuditAnchor(seq: 0, hash: "")
        let scratch = try scratchStore(at: "v10-compressed-blobs") { db in
            func insert(_ i: Int, prev: Data, hash: Data) throws -> [UInt8] {
                let record = audit(i, pseudonym: i == 4 ? nil : (i % 2 == 0 ? pB : pA), action: i % 2 == 0 ? .sent : .received)
                let at = Timestamp.string(record.at)
                try db.execute(
                    sql: """
                        INSERT INTO audit (seq, at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [i, at, record.actor, record.action.rawValue, record.pseudonym?.hex, record.messageType,
                                record.messageID, record.purpose, prev, hash])
                return AuditChain.canonical(
                    seq: Int64(i), at: at, actor: record.actor, action: record.action.rawValue,
                    pseudonym: record.pseudonym?.hex, messageType: record.messageType, messageID: record.messageID,
                    purpose: record.purpose)
            }
            let key = KeyBytes(testKey)
            var prev = AuditChain.genesis
            for i in 1...2 {
                // Inserted first to get the canonical form, then given its hash.
                try db.execute(sql: "DROP TRIGGER IF EXISTS audit_no_update")
                let canonical = try insert(i, prev: prev, hash: Data())
                let hash = AuditChain.hash(key: key, prevHash: prev, canonical: canonical)
                try db.execute(sql: "UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", arguments: [prev, hash, i])
                prev = hash
            }
            var seal = AuditChain.Seal(first: 3, prev: prev, key: key)
            for i in 3...5 { seal.add(try insert(i, prev: Data(), hash: Data())) }
            let hash = seal.finish()
            try db.execute(sql: "INSERT INTO audit_seals (last_seq, first_seq, hash) VALUES (5, 3, ?)", arguments: [hash])
            head = AuditAnchor(seq: 5, hash: Hex.encode(hash))
            if let edited {
                try db.execute(sql: "UPDATE audit SET purpose = 'nothing to see' WHERE seq = ?", arguments: [edited])
            }
            // Put back the guard dropped above, as v10 left it.
            try db.execute(sql: """
                CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END;
                """)
        }
        return (scratch, head)
    }

    @Test("v11 keeps every entry and its texts; the trail verifies against the head printed before the upgrade")
    func upgradeKeepsTheChain() throws {
        let (scratch, head) = try Self.v10Store()
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.verifyAudit() == .ok(count: 5, head: head))
        #expect(try store.verifyAudit(anchor: head).isOK)
        let entries = try store.auditEntries(afterSeq: 0, limit: 10)
        #expect(entries.map(\.seq) == [1, 2, 3, 4, 5])
        for entry in entries {
            let i = Int(entry.seq)
            let record = audit(i, pseudonym: i == 4 ? nil : (i % 2 == 0 ? pB : pA), action: i % 2 == 0 ? .sent : .received)
            #expect(entry.at == record.at && entry.actor == record.actor && entry.action == record.action)
            #expect(entry.pseudonym == record.pseudonym && entry.messageType == record.messageType)
            #expect(entry.messageID == record.messageID && entry.purpose == record.purpose)
        }
        #expect(try store.auditEntries(pseudonym: pB).map(\.seq) == [2])
        #expect(try store.auditEntries(pseudonym: pA).map(\.seq) == [1, 3, 5])
        // Stored compact: numbers, term ids; each text once; the 16 bytes of v11 became the
        // ids of the two citizens in audit_subjects (v20).
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE typeof(at) = 'integer'") == 5)
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE typeof(pseudonym) = 'integer'") == 4)
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_subjects WHERE length(pseudonym) = 16") == 2)
        #expect(try store.rawCount(
            "SELECT COUNT(*) FROM audit WHERE typeof(actor) = 'integer' AND typeof(action) = 'integer' AND typeof(message_type) = 'integer' AND typeof(purpose) = 'integer'") == 5)
        // kommune-851, received, sent, list-1, the purpose.
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_terms") == 5)
        // Appending after the upgrade chains on.
        try store.write { tx in try tx.appendAudit(audit(6)) }
        #expect(try store.verifyAudit().isOK)
        #expect(try store.auditEntries(afterSeq: 5, limit: 1).map(\.purpose) == [audit(6).purpose])
        // The triggers came back with the table: still append-only.
        #expect(storeErrorCode { try store.executeRaw("UPDATE audit SET actor = 1 WHERE seq = 2") } == .constraint)
        #expect(storeErrorCode { try store.executeRaw("DELETE FROM audit WHERE seq = 6") } == .constraint)
        #expect(storeErrorCode { try store.executeRaw("INSERT INTO audit_seals (last_seq, first_seq, hash) VALUES (6, 3, x'00')") } == .constraint)
    }

    @Test("an entry edited before the upgrade is still found after it, at the same entry", arguments: [Int64(2), 4])
    func upgradeDoesNotLaunderAnEdit(seq: Int64) throws {
        let (scratch, _) = try Self.v10Store(editPurposeOf: seq)
        let store = try scratch.open()
        let expected: AuditBreak = seq <= 2 ? .contentMismatch : .sealMismatch(last: 5)
        #expect(try store.verifyAudit() == .broken(seq: seq <= 2 ? seq : 3, reason: expected))
    }

    @Test("a text in audit_terms edited, removed, or an entry pointed at another term: verification finds it")
    func termTampering() throws {
        func trail() throws -> (Scratch, Store) {
            let scratch = Scratch()
            let store = try scratch.open()
            for i in 1...4 {
                try store.write { tx in
                    var record = audit(i)
                    record.purpose = "purpose \(i % 2)"
                    try tx.appendAudit(record)
                }
            }
            #expect(try store.verifyAudit().isOK)
            return (scratch, store)
        }
        do {
            let (_, store) = try trail()
            #expect(storeErrorCode { try store.executeRaw("UPDATE audit_terms SET term = 'x' WHERE term = 'purpose 1'") } == .constraint)
            #expect(storeErrorCode { try store.executeRaw("DELETE FROM audit_terms WHERE term = 'purpose 1'") } == .constraint)
            try store.executeRaw("DROP TRIGGER audit_terms_no_update")
            try store.executeRaw("UPDATE audit_terms SET term = 'consent' WHERE term = 'purpose 1'")
            #expect(try store.verifyAudit() == .broken(seq: 1, reason: .contentMismatch))
        }
        do {
            let (_, store) = try trail()
            try store.executeRaw("DROP TRIGGER audit_terms_no_delete")
            try store.executeRaw("DELETE FROM audit_terms WHERE term = 'purpose 0'")
            #expect(try store.verifyAudit() == .broken(seq: 2, reason: .malformed(column: "purpose")))
            #expect(storeErrorCode { try store.auditEntries(afterSeq: 0, limit: 10) } == .encoding)
        }
        do {
            let (_, store) = try trail()
            try store.executeRaw("DROP TRIGGER audit_no_update")
            try store.executeRaw("UPDATE audit SET purpose = (SELECT purpose FROM audit WHERE seq = 2) WHERE seq = 3")
            #expect(try store.verifyAudit() == .broken(seq: 3, reason: .contentMismatch))
        }
        do {
            let (_, store) = try trail()
            try store.executeRaw("DROP TRIGGER audit_no_update")
            try store.executeRaw("UPDATE audit SET at = at + 1 WHERE seq = 4")
            #expect(try store.verifyAudit() == .broken(seq: 4, reason: .contentMismatch))
            try store.executeRaw("UPDATE audit SET at = 3.5 WHERE seq = 4")
            #expect(try store.verifyAudit() == .broken(seq: 4, reason: .malformed(column: "at")))
            try store.executeRaw("UPDATE audit SET at = 1, pseudonym = x'00' WHERE seq = 4")
            #expect(try store.verifyAudit() == .broken(seq: 4, reason: .malformed(column: "pseudonym")))
        }
    }

    @Test("a term added by a write that rolled back is not reused: later writes store the ids that exist")
    func rolledBackTermsAreForgotten() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        func record(_ i: Int, purpose: String) -> AuditRecord {
            var record = audit(i)
            record.purpose = purpose
            return record
        }
        // The whole write fails after adding "P-x".
        #expect(throws: Boom.self) {
            try store.write { tx in
                try tx.appendAudit(record(1, purpose: "P-x"))
                throw Boom()
            }
        }
        // A savepoint that adds "P-z" rolls back; the write around it commits.
        try store.write { tx in
            _ = try? tx.savepoint { tx in
                try tx.appendAudit(record(1, purpose: "P-z"))
                throw Boom()
            }
            // Takes the id "P-x" (and then "P-z") would have had.
            try tx.appendAudit(record(1, purpose: "P-y"))
        }
        try store.write { tx in
            try tx.appendAudit(record(2, purpose: "P-x"))
            try tx.appendAudit(record(3, purpose: "P-z"))
            try tx.appendAudit(record(4, purpose: "P-y"))
        }
        #expect(try store.verifyAudit().isOK)
        #expect(try store.auditEntries(afterSeq: 0, limit: 10).map(\.purpose) == ["P-y", "P-x", "P-z", "P-y"])
        // A store opened afresh (an empty cache) reads the same.
        try store.close()
        let again = try scratch.open()
        try again.write { tx in try tx.appendAudit(record(5, purpose: "P-x")) }
        #expect(try again.auditEntries(afterSeq: 0, limit: 10).map(\.purpose) == ["P-y", "P-x", "P-z", "P-y", "P-x"])
        #expect(try again.verifyAudit().isOK)
        #expect(try again.rawCount("SELECT COUNT(*) FROM audit_terms WHERE term LIKE 'P-%'") == 3)
    }

    @Test("an instant outside 1970-9999 is kept as its text and verifies")
    func instantsOutsideTheNumberRange() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        var early = audit(1)
        early.at = Date(timeIntervalSince1970: -86_400.25)
        try store.write { tx in
            try tx.appendAudit(early)
            try tx.appendAudit(audit(2))
        }
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE typeof(at) = 'text'") == 1)
        #expect(try store.verifyAudit().isOK)
        #expect(try store.auditEntries(afterSeq: 0, limit: 10).map(\.at) == [early.at, audit(2).at])
    }
}
