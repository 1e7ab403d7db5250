import Foundation
import GRDB

/// Reads shared by `Store` (each in its own read transaction) and `StoreTransaction`
/// (inside the caller's write). Every statement is a cached prepared statement.
enum Queries {
    static func receipt(_ db: Database, sender: String, messageID: String) throws -> Data? {
        try Data.fetchOne(
            db.cachedStatement(sql: "SELECT receipt FROM inbox WHERE sender = ? AND message_id = ?"),
            arguments: [sender, messageID])
    }

    static func inboxEntry(_ db: Database, sender: String, messageID: String) throws -> InboxEntry? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT sender, message_id, type, received_at, receipt FROM inbox WHERE sender = ? AND message_id = ?"),
                arguments: [sender, messageID])
        else { return nil }
        return InboxEntry(
            sender: row[0], messageID: row[1], type: row[2],
            receivedAt: try Timestamp.decode(row[3], column: "inbox.received_at"), receipt: row[4])
    }

    // MARK: cases

    static let caseColumns =
        "case_id, pseudonym, workflow, municipality, clinic, status, state, revision, created_at, updated_at"

    static func caseRecord(_ row: Row) throws -> CaseRecord {
        guard let pseudonym = Pseudonym(hex: row[1]) else {
            throw StoreError(.encoding, "cases.pseudonym of case \(row[0] as String) holds a value ddrouter never writes")
        }
        var record = CaseRecord(
            caseID: row[0], pseudonym: pseudonym, workflow: row[2], municipality: row[3],
            clinic: row[4], status: row[5], state: row[6],
            updatedAt: try Timestamp.decode(row[9], column: "cases.updated_at"))
        record.revision = row[7]
        record.createdAt = try Timestamp.decode(row[8], column: "cases.created_at")
        return record
    }

    static func caseRecord(_ db: Database, id: String) throws -> CaseRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(caseColumns) FROM cases WHERE case_id = ?"),
            arguments: [id]
        ).map(caseRecord)
    }

    static func cases(_ db: Database, pseudonym: Pseudonym) throws -> [CaseRecord] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT \(caseColumns) FROM cases WHERE pseudonym = ? ORDER BY created_at, case_id"),
            arguments: [pseudonym.hex]
        ).map(caseRecord)
    }

    static func cases(
        _ db: Database, municipality: String?, clinic: String?, status: String?, limit: Int
    ) throws -> [CaseRecord] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT \(caseColumns) FROM cases
                    WHERE (?1 IS NULL OR municipality = ?1) AND (?2 IS NULL OR clinic = ?2)
                      AND (?3 IS NULL OR status = ?3)
                    ORDER BY updated_at, case_id LIMIT ?4
                    """),
            arguments: [municipality, clinic, status, limit]
        ).map(caseRecord)
    }

    static func caseHistory(_ db: Database, caseID: String) throws -> [CaseHistoryEntry] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT id, case_id, at, kind, message_id, payload, explanation FROM case_history WHERE case_id = ? ORDER BY id"),
            arguments: [caseID]
        ).map { row in
            var entry = CaseHistoryEntry(
                caseID: row[1], at: try Timestamp.decode(row[2], column: "case_history.at"),
                kind: HistoryKind(rawValue: row[3]), messageID: row[4], payload: row[5],
                explanation: row[6])
            entry.id = row[0]
            return entry
        }
    }

    static func caseCounts(_ db: Database) throws -> [CaseCount] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT municipality, clinic, status, COUNT(*) FROM cases
                    GROUP BY municipality, clinic, status
                    ORDER BY municipality, clinic, status
                    """)
        ).map { CaseCount(municipality: $0[0], clinic: $0[1], status: $0[2], count: $0[3]) }
    }

    // MARK: consent

    static let consentColumns =
        "id, pseudonym, direction, purpose, state, valid_from, withdrawn_at, reference, recorded_at, message_id"

    static func consent(_ row: Row) throws -> ConsentRecord {
        guard let pseudonym = Pseudonym(hex: row[1]),
            let direction = ConsentDirection(rawValue: row[2]),
            let state = ConsentState(rawValue: row[4])
        else {
            throw StoreError(.encoding, "consent record \(row[0] as Int64) holds a value ddrouter never writes")
        }
        let withdrawnText: String? = row[6]
        var record = ConsentRecord(
            pseudonym: pseudonym, direction: direction, purpose: row[3], state: state,
            validFrom: try Timestamp.decode(row[5], column: "consents.valid_from"),
            withdrawnAt: try withdrawnText.map { try Timestamp.decode($0, column: "consents.withdrawn_at") },
            reference: row[7],
            recordedAt: try Timestamp.decode(row[8], column: "consents.recorded_at"),
            messageID: row[9])
        record.id = row[0]
        return record
    }

    /// Every statement, oldest first.
    static func consents(_ db: Database, pseudonym: Pseudonym) throws -> [ConsentRecord] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT \(consentColumns) FROM consents WHERE pseudonym = ? ORDER BY id"),
            arguments: [pseudonym.hex]
        ).map(consent)
    }

    /// The latest statement per (direction, purpose).
    static func currentConsents(_ db: Database, pseudonym: Pseudonym) throws -> [ConsentRecord] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT \(consentColumns) FROM consents c
                    WHERE pseudonym = ? AND id = (
                        SELECT MAX(id) FROM consents l
                        WHERE l.pseudonym = c.pseudonym AND l.direction = c.direction AND l.purpose = c.purpose)
                    ORDER BY direction, purpose
                    """),
            arguments: [pseudonym.hex]
        ).map(consent)
    }

    static func currentConsent(
        _ db: Database, pseudonym: Pseudonym, direction: ConsentDirection, purpose: String
    ) throws -> ConsentRecord? {
        try Row.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT \(consentColumns) FROM consents
                    WHERE pseudonym = ? AND direction = ? AND purpose = ?
                    ORDER BY id DESC LIMIT 1
                    """),
            arguments: [pseudonym.hex, direction.rawValue, purpose]
        ).map(consent)
    }

    // MARK: outbox

    static let outboxColumns =
        "seq, message_id, exchange, routing_key, type, correlation_id, headers, body, created_at, state, attempts, sent_at"

    static func outboxEvent(_ row: Row) throws -> OutboxEvent {
        let headersData: Data = row[6]
        guard let state = OutboxState(rawValue: row[9]) else {
            throw StoreError(.encoding, "outbox event \(row[1] as String) has a state ddrouter never writes")
        }
        var event = OutboxEvent(
            messageID: row[1], exchange: row[2], routingKey: row[3], type: row[4],
            correlationID: row[5],
            headers: try StoreJSON.decode([String: String].self, from: headersData),
            body: row[7], createdAt: try Timestamp.decode(row[8], column: "outbox.created_at"))
        event.sequence = row[0]
        event.state = state
        event.attempts = row[10]
        let sentText: String? = row[11]
        event.sentAt = try sentText.map { try Timestamp.decode($0, column: "outbox.sent_at") }
        return event
    }

    static func pendingOutbox(_ db: Database, limit: Int) throws -> [OutboxEvent] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT \(outboxColumns) FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?"),
            arguments: [limit]
        ).map(outboxEvent)
    }

    static func outboxEvent(_ db: Database, messageID: String) throws -> OutboxEvent? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(outboxColumns) FROM outbox WHERE message_id = ?"),
            arguments: [messageID]
        ).map(outboxEvent)
    }

    static func markSent(_ db: Database, messageIDs: some Sequence<String>, at: Date) throws -> Int {
        let statement = try db.cachedStatement(
            sql: "UPDATE outbox SET state = 'sent', sent_at = ? WHERE message_id = ? AND state = 'pending'")
        let at = Timestamp.string(at)
        var changed = 0
        for id in messageIDs {
            try statement.execute(arguments: [at, id])
            changed += db.changesCount
        }
        return changed
    }

    static func recordAttempt(_ db: Database, messageIDs: some Sequence<String>) throws {
        let statement = try db.cachedStatement(
            sql: "UPDATE outbox SET attempts = attempts + 1 WHERE message_id = ? AND state = 'pending'")
        for id in messageIDs {
            try statement.execute(arguments: [id])
        }
    }

    // MARK: timers

    static let timerColumns = "timer_id, case_id, kind, due_at, payload, state, fired_at, created_at"

    static func timer(_ row: Row) throws -> TimerRecord {
        guard let state = TimerState(rawValue: row[5]) else {
            throw StoreError(.encoding, "timer \(row[0] as String) has a state ddrouter never writes")
        }
        var timer = TimerRecord(
            timerID: row[0], caseID: row[1], kind: row[2],
            dueAt: try Timestamp.decode(row[3], column: "timers.due_at"), payload: row[4],
            createdAt: try Timestamp.decode(row[7], column: "timers.created_at"))
        timer.state = state
        let firedText: String? = row[6]
        timer.firedAt = try firedText.map { try Timestamp.decode($0, column: "timers.fired_at") }
        return timer
    }

    static func timer(_ db: Database, id: String) throws -> TimerRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(timerColumns) FROM timers WHERE timer_id = ?"),
            arguments: [id]
        ).map(timer)
    }

    static func timers(_ db: Database, caseID: String) throws -> [TimerRecord] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT \(timerColumns) FROM timers WHERE case_id = ? ORDER BY due_at, timer_id"),
            arguments: [caseID]
        ).map(timer)
    }

    static func dueTimers(_ db: Database, at: Date, limit: Int) throws -> [TimerRecord] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT \(timerColumns) FROM timers WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, timer_id LIMIT ?"),
            arguments: [Timestamp.string(at), limit]
        ).map(timer)
    }

    // MARK: audit

    static let auditColumns =
        "seq, at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash"

    static func auditEntries(_ db: Database, pseudonym: Pseudonym) throws -> [AuditEntry] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT \(auditColumns) FROM audit WHERE pseudonym = ? ORDER BY seq"),
            arguments: [pseudonym.hex]
        ).map(AuditChain.entry)
    }

    static func auditEntries(_ db: Database, afterSeq: Int64, limit: Int) throws -> [AuditEntry] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT \(auditColumns) FROM audit WHERE seq > ? ORDER BY seq LIMIT ?"),
            arguments: [afterSeq, limit]
        ).map(AuditChain.entry)
    }

    static func auditHead(_ db: Database) throws -> AuditAnchor? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        ).map { AuditAnchor(seq: $0[0], hash: Hex.encode($0[1] as Data)) }
    }
}
