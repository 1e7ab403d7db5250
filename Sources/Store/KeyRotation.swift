public import Foundation
import GRDB

extension AuditAction {
    /// The store's master key was rotated by an operator (`actor`): every pseudonym was
    /// re-keyed and the trail re-chained with the new audit key. The entry's message id
    /// holds the old chain's head, its purpose the operator's purpose and the counts.
    public static let keyRotated: AuditAction = "key-rotated"
}

/// What `Store.rotateKey` did.
public struct KeyRotationReport: Sendable, Hashable {
    /// The head of the old chain (verified with the old key before anything changed).
    public var oldHead: AuditAnchor?
    /// The head of the new chain: the `key-rotated` entry.
    public var newHead: AuditAnchor
    /// Citizens whose pseudonym was re-keyed (one per distinct CPR found in cases).
    public var citizens: Int
    /// Rows whose pseudonym (or case id) was rewritten, over all tables, audit included.
    public var rowsRekeyed: Int
    /// Audit entries re-chained with the new key (before the `key-rotated` entry).
    public var auditEntries: Int
    /// Distinct pseudonyms (in audit, consents, list members, outbox) with no case to map
    /// them from: kept as they are (they can no longer be linked to a CPR with the new key).
    public var unmappedPseudonyms: Int
}

extension Store {
    /// Re-keys the whole store to `newMasterKey` in ONE transaction (offline: stop the
    /// daemon first). Nothing changes when any step fails.
    ///
    /// 1. The audit trail must verify with the current key (else `.conflict`).
    /// 2. No outbox row may be pending (its body and audit fields would carry the old
    ///    case id): let the daemon drain the outbox first (else `.conflict`).
    /// 3. Every case's CPR (`citizen(record)`, from the case state) gives its old and new
    ///    pseudonym; pseudonym columns of cases, consents, list members, outbox and audit
    ///    are rewritten. A case id equal to `caseID(old pseudonym)` becomes
    ///    `caseID(new pseudonym)` in cases, case history, timers (id and case) and in the
    ///    audit message ids that named it, so the daemon finds the case again by CPR.
    /// 4. The audit trail is re-chained with the new audit key and a `key-rotated` entry
    ///    (actor, purpose; message id = the old head) is appended.
    ///
    /// - Parameters:
    ///   - oldPseudonymizer: the current key's pseudonymizer (to check the mapping).
    ///   - citizen: the CPR of a case (from its state), nil when it has none.
    ///   - caseID: how the daemon derives a case id from a pseudonym.
    public func rotateKey(
        newMasterKey: Data, oldPseudonymizer: Pseudonymizer, actor: String, purpose: String, at date: Date,
        citizen: (CaseRecord) throws -> String?, caseID: (Pseudonym) -> String
    ) throws -> KeyRotationReport {
        let newKeys = try StoreKeys(master: newMasterKey)
        let newPseudonymizer = try Pseudonymizer(key: newKeys.pseudonymKey)
        let newAuditKey = KeyBytes(newKeys.auditKey)
        return try write { tx in
            let db = tx.db
            // 1. The old chain must hold, or the rotation would launder a tampered trail.
            let verification = try AuditChain.verify(db: db, key: tx.key, anchor: nil)
            guard case .ok(_, let oldHead) = verification else {
                throw StoreError(
                    .conflict, "refusing to rotate: \(verification) (with the current key); nothing was changed",
                    path: path)
            }
            // 2. Pending outbox rows carry the old case ids in their bodies.
            let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE state = 'pending'") ?? 0
            if pending > 0 {
                throw StoreError(
                    .conflict,
                    "refusing to rotate: \(pending) outbox event(s) are not yet sent; start the daemon with the broker up until they are sent, then stop it and rotate; nothing was changed",
                    path: path)
            }
            // 3. The mapping, from the CPRs in the case states.
            var pseudonyms: [String: String] = [:]  // old hex → new hex
            var caseIDs: [String: String] = [:]  // old case id → new case id
            for record in try Row.fetchAll(db, sql: "SELECT \(Queries.caseColumns) FROM cases").map(Queries.caseRecord) {
                guard let cpr = try citizen(record) else { continue }
                let old = try oldPseudonymizer.pseudonym(forCPR: cpr)
                guard old == record.pseudonym else {
                    throw StoreError(
                        .conflict,
                        "refusing to rotate: case \(record.caseID) holds a citizen whose pseudonym under the current key is not the stored one (wrong key configured?); nothing was changed",
                        path: path)
                }
                let new = try newPseudonymizer.pseudonym(forCPR: cpr)
                pseudonyms[old.hex] = new.hex
                if record.caseID == caseID(old) { caseIDs[record.caseID] = caseID(new) }
            }
            var rows = 0
            var unmapped = Set<String>()
            /// `compact`: the column keeps a pseudonym as `CompactColumn` does (16 bytes), else as text.
            func remap(table: String, column: String, key: String, compact: Bool = false) throws {
                let select = "SELECT \(key), \(column) FROM \(table) WHERE \(column) IS NOT NULL"
                let update = try db.makeStatement(sql: "UPDATE \(table) SET \(column) = ? WHERE \(key) = ?")
                for row in try Row.fetchAll(db, sql: select) {
                    guard case .some(.some(let old)) = CompactColumn.pseudonymText(row[1]) else {
                        throw StoreError(
                            .conflict,
                            "refusing to rotate: \(table).\(column) holds a value ddrouter never writes; nothing was changed",
                            path: path)
                    }
                    guard let new = pseudonyms[old] else {
                        unmapped.insert(old)
                        continue
                    }
                    try update.execute(arguments: [compact ? CompactColumn.pseudonym(hex: new) : new.databaseValue, row[0] as DatabaseValue])
                    rows += db.changesCount
                }
            }
            try remap(table: "cases", column: "pseudonym", key: "case_id", compact: true)
            try remap(table: "consent_statements", column: "pseudonym", key: "id", compact: true)
            try remap(table: "outbox", column: "audit_pseudonym", key: "seq")
            // list_members has the pseudonym in its primary key: rewrite row by row.
            try remapListMembers(db, pseudonyms: pseudonyms, rows: &rows, unmapped: &unmapped)
            for (old, new) in caseIDs {
                let (newColumn, oldColumn) = (CompactColumn.caseID(new), CompactColumn.caseID(old))
                try db.execute(sql: "UPDATE cases SET case_id = ? WHERE case_id = ?", arguments: [newColumn, oldColumn])
                try db.execute(sql: "UPDATE case_history SET case_id = ? WHERE case_id = ?", arguments: [newColumn, oldColumn])
                rows += db.changesCount
                // A derived timer id (`timer/<case>/<kind>/<day>`) is spelled from its row's case
                // (v16) and follows it; an id kept as text that embeds the case is rewritten.
                try db.execute(
                    sql: """
                        UPDATE timers SET timer_id = 'timer/' || ?1 || substr(timer_id, length(?2) + 7)
                        WHERE case_id = ?3 AND substr(timer_id, 1, length(?2) + 7) = 'timer/' || ?2 || '/'
                        """,
                    arguments: [new, old, oldColumn])
                try db.execute(sql: "UPDATE timers SET case_id = ? WHERE case_id = ?", arguments: [newColumn, oldColumn])
                rows += db.changesCount
            }
            // 4. Re-chain the trail with the new key: entries written before v8 each with
            // its own hash, the others seal by seal. The triggers forbid UPDATE, so they are
            // dropped and re-created (exactly as stored) inside this transaction.
            let triggers = try Row.fetchAll(
                db,
                sql: "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit', 'audit_seals', 'audit_subjects')")
            for trigger in triggers {
                try db.execute(sql: "DROP TRIGGER \(String.fromDatabaseValue(trigger["name"])!)")
            }
            let update = try db.makeStatement(
                sql: "UPDATE audit SET pseudonym = ?, message_id = ?, prev_hash = ?, hash = ? WHERE seq = ?")
            let updateRekeyed = try db.makeStatement(sql: "UPDATE audit SET pseudonym = ?, message_id = ? WHERE seq = ?")
            let updateSeal = try db.makeStatement(sql: "UPDATE audit_seals SET hash = ? WHERE last_seq = ?")
            let sealEnds = Set(try Int64.fetchAll(db, sql: "SELECT last_seq FROM audit_seals"))
            var chain = AuditChain.State(next: 1, prev: AuditChain.genesis, terms: auditTerms)
            var entries = 0
            let names = AuditTermNames(db)
            var rewrittenIDs: Set<Int64> = []
            for row in try Row.fetchAll(db, sql: "SELECT \(AuditColumns.selection) FROM audit ORDER BY seq") {
                let seq: Int64 = row[0]
                // The trail verified above, so every row reads; a failure here is a bug.
                guard case .success(var fields) = try StoredAuditRow.decode(row, seq: seq, names: names) else {
                    throw StoreError(.misuse, "audit entry \(seq) verified but does not read; this is a bug", path: path)
                }
                var changed = false
                if let old = fields.pseudonym {
                    if let new = pseudonyms[old] {
                        fields.pseudonym = new
                        changed = true
                    } else {
                        unmapped.insert(old)
                    }
                }
                // A message id keeps its stored form (text, or coded from an anchor) unless its
                // text changes or its anchor's does; it is then written as text.
                var messageID: DatabaseValue = row[6]
                if let old = fields.messageID, let new = caseIDs[old] {
                    fields.messageID = new
                    messageID = new.databaseValue
                    rewrittenIDs.insert(seq)
                    changed = true
                } else if let anchor = AuditMessageIDs.anchorSeq(messageID, seq: seq), rewrittenIDs.contains(anchor) {
                    messageID = fields.messageID.databaseValue
                    changed = true
                }
                if changed { rows += 1 }
                let canonical = fields.canonical
                // An entry naming its citizen by subject id (v20) keeps the id: the subject is
                // re-keyed below, once. One written before keeps the 16 bytes, re-keyed here.
                let stored: DatabaseValue = row[4]
                let pseudonym: DatabaseValue
                if case .int64 = stored.storage {
                    pseudonym = stored
                } else {
                    pseudonym = fields.pseudonym.map(CompactColumn.pseudonym(hex:)) ?? .null
                }
                let sealed = fields.hash.isEmpty
                if sealed {
                    if chain.open == nil { chain.open = AuditChain.Seal(first: seq, prev: chain.prev, key: newAuditKey) }
                    chain.open!.add(canonical)
                    if changed { try updateRekeyed.execute(arguments: [pseudonym, messageID, seq]) }
                    if sealEnds.contains(seq) {
                        chain.prev = chain.open!.finish()
                        chain.open = nil
                        try updateSeal.execute(arguments: [chain.prev, seq])
                    }
                } else {
                    let hash = AuditChain.hash(key: newAuditKey, prevHash: chain.prev, canonical: canonical)
                    try update.execute(arguments: [pseudonym, messageID, chain.prev, hash, seq])
                    chain.prev = hash
                }
                chain.next = seq + 1
                entries += 1
            }
            // The subjects, read above as the entries' old pseudonyms, get the new ones.
            let updateSubject = try db.makeStatement(sql: "UPDATE audit_subjects SET pseudonym = ? WHERE id = ?")
            for subject in try Row.fetchAll(db, sql: "SELECT id, pseudonym FROM audit_subjects") {
                guard case .some(.some(let old)) = CompactColumn.pseudonymText(subject[1]), let new = pseudonyms[old] else {
                    continue
                }
                try updateSubject.execute(arguments: [CompactColumn.pseudonym(hex: new), subject[0] as DatabaseValue])
            }
            for trigger in triggers {
                try db.execute(sql: String.fromDatabaseValue(trigger["sql"])!)
            }
            let note = "\(purpose); re-keyed \(pseudonyms.count) citizen(s), \(rows) row(s); \(unmapped.count) pseudonym(s) without a case kept"
            _ = try AuditChain.append(
                AuditRecord(
                    at: date, actor: actor, action: .keyRotated, pseudonym: nil, messageType: "key-rotation",
                    messageID: oldHead.map { "old-head \($0)" } ?? "old-head none", purpose: note),
                db: db, key: newAuditKey, state: &chain)
            guard let anchor = try AuditChain.seal(db: db, state: &chain) else {
                throw StoreError(.misuse, "the key-rotated audit entry was not sealed; this is a bug", path: path)
            }
            return KeyRotationReport(
                oldHead: oldHead, newHead: anchor, citizens: pseudonyms.count, rowsRekeyed: rows,
                auditEntries: entries, unmappedPseudonyms: unmapped.count)
        }
    }

    private func remapListMembers(
        _ db: Database, pseudonyms: [String: String], rows: inout Int, unmapped: inout Set<String>
    ) throws {
        let update = try db.makeStatement(
            sql: """
                UPDATE list_members SET pseudonym = ?
                WHERE side = ? AND municipality = ? AND clinic = ? AND list_kind = ? AND pseudonym = ?
                """)
        for row in try Row.fetchAll(
            db, sql: "SELECT side, municipality, clinic, list_kind, pseudonym FROM list_members")
        {
            guard case .some(.some(let old)) = CompactColumn.pseudonymText(row[4]) else {
                throw StoreError(
                    .conflict, "refusing to rotate: list_members.pseudonym holds a value ddrouter never writes; nothing was changed",
                    path: path)
            }
            guard let new = pseudonyms[old] else {
                unmapped.insert(old)
                continue
            }
            // Kept in the form it had: 16 bytes from v21, the text before.
            let stored: DatabaseValue = row[4]
            let newValue: DatabaseValue
            if case .blob = stored.storage { newValue = CompactColumn.pseudonym(hex: new) } else { newValue = new.databaseValue }
            try update.execute(arguments: [newValue, row[0] as DatabaseValue, row[1] as DatabaseValue,
                                           row[2] as DatabaseValue, row[3] as DatabaseValue, stored])
            rows += db.changesCount
        }
    }
}
