import Crypto
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
            sender: try row.decode(atIndex: 0), messageID: try row.decode(atIndex: 1), type: try row.decode(atIndex: 2),
            receivedAt: try Timestamp.decode(try row.decode(atIndex: 3), column: "inbox.received_at"), receipt: try row.decode(atIndex: 4))
    }

    // MARK: cases

    /// The columns `caseRecord` reads, in its order: the status by its name (v21 keeps the id
    /// of the name in `case_statuses`).
    static let caseColumns =
        "case_id, pseudonym, workflow, municipality, clinic, (SELECT s.status FROM case_statuses AS s WHERE s.id = cases.status), state, revision, created_at, updated_at"

    static func caseRecord(_ row: Row) throws -> CaseRecord {
        let caseID = try CompactColumn.caseIDText(row[0], column: "cases.case_id")
        guard case .some(.some(let text)) = CompactColumn.pseudonymText(row[1]), let pseudonym = Pseudonym(hex: text) else {
            throw StoreError(.encoding, "cases.pseudonym of case \(caseID) holds a value ddrouter never writes")
        }
        guard let status = String.fromDatabaseValue(row[5]) else {
            throw StoreError(.encoding, "cases.status of case \(caseID) names no status of case_statuses")
        }
        var record = CaseRecord(
            caseID: caseID, pseudonym: pseudonym, workflow: try row.decode(atIndex: 2), municipality: try row.decode(atIndex: 3),
            clinic: try row.decode(atIndex: 4), status: status, state: try row.decode(atIndex: 6),
            updatedAt: try CompactColumn.date(row[9], column: "cases.updated_at"))
        record.revision = try row.decode(atIndex: 7)
        record.createdAt = try CompactColumn.date(row[8], column: "cases.created_at")
        return record
    }

    static func caseRecord(_ db: Database, id: String) throws -> CaseRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(caseColumns) FROM cases WHERE case_id = ?"),
            arguments: [CompactColumn.caseID(id)]
        ).map(caseRecord)
    }

    static func cases(_ db: Database, pseudonym: Pseudonym) throws -> [CaseRecord] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT \(caseColumns) FROM cases WHERE pseudonym = ? ORDER BY created_at, case_id"),
            arguments: [CompactColumn.pseudonym(pseudonym)]
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
                      AND (?3 IS NULL OR status = (SELECT id FROM case_statuses WHERE status = ?3))
                    ORDER BY updated_at, case_id LIMIT ?4
                    """),
            arguments: [municipality, clinic, status, limit]
        ).map(caseRecord)
    }

    static func caseHistory(_ db: Database, caseID: String) throws -> [CaseHistoryEntry] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT id, case_id, at, kind, message_id, payload, explanation FROM case_history WHERE case_id = ? ORDER BY id"),
            arguments: [CompactColumn.caseID(caseID)]
        ).map { row in
            var entry = CaseHistoryEntry(
                caseID: try CompactColumn.caseIDText(row[1], column: "case_history.case_id"),
                at: try CompactColumn.date(row[2], column: "case_history.at"),
                kind: HistoryKind(rawValue: try row.decode(atIndex: 3)), messageID: try row.decode(atIndex: 4), payload: try row.decode(atIndex: 5),
                explanation: try row.decode(atIndex: 6))
            entry.id = try row.decode(atIndex: 0)
            return entry.kind == HistoryStep.kind ? try HistoryStep.entries(of: entry) : [entry]
        }.flatMap { $0 }
    }

    /// The payloads of a case's inputs, oldest first: what `caseHistory` gives filtered to
    /// inputs, without reading (or decoding timestamps of) decision rows.
    static func hasListSlice(_ db: Database, sender: String, messageID: String, start: Int) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM list_slices WHERE sender = ? AND message_id = ? AND start = ?"),
            arguments: [sender, messageID, start]) ?? false
    }

    static func caseInputPayloads(_ db: Database, caseID: String) throws -> [Data] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT kind, payload FROM case_history WHERE case_id = ? AND kind IN (?, ?) ORDER BY id"),
            arguments: [CompactColumn.caseID(caseID), HistoryKind.input.rawValue, HistoryStep.kind.rawValue]
        ).flatMap { row -> [Data] in
            let payload: Data = try row.decode(atIndex: 1)
            guard try row.decode(String.self, atIndex: 0) == HistoryStep.kind.rawValue else { return [payload] }
            return try HistoryStep(decoding: payload).parts
                .filter { $0.kind == HistoryKind.input.rawValue }.map(\.payload)
        }
    }

    static func caseCounts(_ db: Database) throws -> [CaseCount] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT municipality, clinic, (SELECT s.status FROM case_statuses AS s WHERE s.id = cases.status), COUNT(*)
                    FROM cases GROUP BY municipality, clinic, cases.status
                    ORDER BY 1, 2, 3
                    """)
        ).map { CaseCount(municipality: try $0.decode(atIndex: 0), clinic: try $0.decode(atIndex: 1), status: try $0.decode(atIndex: 2), count: try $0.decode(atIndex: 3)) }
    }

    // MARK: consent

    static let consentColumns =
        "id, pseudonym, directions, purposes, state, valid_from, withdrawn_at, reference, recorded_at, message_id"

    /// A `consent_statements` row as its records (one per direction and purpose).
    static func consentRecords(_ row: Row) throws -> [ConsentRecord] {
        let id: Int64 = try row.decode(atIndex: 0)
        func malformed() -> StoreError {
            StoreError(.encoding, "consent statement \(id) holds a value ddrouter never writes")
        }
        guard let directions = ConsentDirections.read(row[2]),
            case .some(.some(let pseudonymText)) = CompactColumn.pseudonymText(row[1]),
            let pseudonym = Pseudonym(hex: pseudonymText),
            let state = ConsentState(rawValue: try row.decode(atIndex: 4)), let purposes = ConsentPurposes.read(row[3])
        else { throw malformed() }
        let withdrawn: DatabaseValue = row[6]
        let statement = ConsentStatement(
            pseudonym: pseudonym, directions: directions,
            purposes: purposes, state: state,
            validFrom: try CompactColumn.date(row[5], column: "consent_statements.valid_from"),
            withdrawnAt: withdrawn.isNull ? nil : try CompactColumn.date(withdrawn, column: "consent_statements.withdrawn_at"),
            reference: try row.decode(atIndex: 7),
            recordedAt: try CompactColumn.date(row[8], column: "consent_statements.recorded_at"),
            messageID: try row.decode(atIndex: 9))
        return statement.records(id: id)
    }

    /// A list member's side as `list_members.side` keeps it (v22): 1 municipality, 2 clinic.
    enum ListSide {
        static func stored(_ side: ListMember.Side) -> Int64 {
            switch side {
            case .municipality: 1
            case .clinic: 2
            }
        }
    }

    /// A statement's purposes as `consent_statements.purposes` keeps them (v21): one digit per
    /// purpose in the statement's order, when each is a purpose of the contract (1
    /// `treatmentDialogue`, 2 `courseOverview`), else their lines of text (as before v21).
    enum ConsentPurposes {
        static let known = ["treatmentDialogue", "courseOverview"]

        static func stored(_ purposes: [String]) -> DatabaseValue {
            let codes = purposes.compactMap { purpose in known.firstIndex(of: purpose).map { $0 + 1 } }
            guard codes.count == purposes.count, codes.count < 10 else { return purposes.joined(separator: "\n").databaseValue }
            return DigitList.number(codes).databaseValue
        }

        static func read(_ value: DatabaseValue) -> [String]? {
            switch value.storage {
            case .int64(let number):
                return DigitList.codes(number, upTo: known.count)?.map { known[$0 - 1] }
            case .string(let lines) where !lines.isEmpty:
                return lines.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            default: return nil
            }
        }
    }

    /// A statement's directions as `consent_statements.directions` keeps them (v12): one
    /// digit per direction, in the statement's order; a text of direction lines (a row the
    /// migration kept as it was) reads too.
    enum ConsentDirections {
        static let order: [ConsentDirection] = [.municipalityToRegion, .regionToMunicipality]

        static func stored(_ directions: [ConsentDirection]) -> DatabaseValue {
            DigitList.number(directions.map { order.firstIndex(of: $0)! + 1 }).databaseValue
        }

        static func read(_ value: DatabaseValue) -> [ConsentDirection]? {
            var directions: [ConsentDirection] = []
            switch value.storage {
            case .int64(let number):
                guard let codes = DigitList.codes(number, upTo: order.count) else { return nil }
                directions = codes.map { order[$0 - 1] }
            case .string(let lines):
                for line in lines.split(separator: "\n") {
                    guard let direction = ConsentDirection(rawValue: String(line)) else { return nil }
                    directions.append(direction)
                }
            default: return nil
            }
            return directions.isEmpty ? nil : directions
        }
    }

    /// A short list of codes 1-9 as one number, a decimal digit per code in the list's order
    /// (`[1, 2]` is 12): how consent directions (v12) and purposes (v21) are kept.
    enum DigitList {
        static func number(_ codes: [Int]) -> Int64 {
            codes.reduce(0) { $0 * 10 + Int64($1) }
        }

        /// The codes of `number`, each in `1...upTo`; nil for 0, a negative number or another digit.
        static func codes(_ number: Int64, upTo: Int) -> [Int]? {
            guard number > 0 else { return nil }
            var number = number
            var codes: [Int] = []
            while number > 0 {
                let digit = Int(number % 10)
                guard (1...upTo).contains(digit) else { return nil }
                codes.insert(digit, at: 0)
                number /= 10
            }
            return codes
        }
    }

    /// Every statement's records, oldest statement first.
    static func consents(_ db: Database, pseudonym: Pseudonym) throws -> [ConsentRecord] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT \(consentColumns) FROM consent_statements WHERE pseudonym = ? ORDER BY id"),
            arguments: [CompactColumn.pseudonym(pseudonym)]
        ).flatMap(consentRecords)
    }

    /// The latest record per (direction, purpose), ordered by direction and purpose.
    static func currentConsents(_ db: Database, pseudonym: Pseudonym) throws -> [ConsentRecord] {
        var latest: [String: ConsentRecord] = [:]
        for record in try consents(db, pseudonym: pseudonym) {
            latest["\(record.direction.rawValue)\n\(record.purpose)"] = record
        }
        return latest.sorted { $0.key < $1.key }.map(\.value)
    }

    static func currentConsent(
        _ db: Database, pseudonym: Pseudonym, direction: ConsentDirection, purpose: String
    ) throws -> ConsentRecord? {
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT \(consentColumns) FROM consent_statements WHERE pseudonym = ? ORDER BY id DESC"),
            arguments: [CompactColumn.pseudonym(pseudonym)])
        while let row = try rows.next() {
            if let record = try consentRecords(row).first(where: { $0.direction == direction && $0.purpose == purpose }) {
                return record
            }
        }
        return nil
    }

    // MARK: outbox

    static let outboxColumns =
        "seq, message_id, exchange, routing_key, type, correlation_id, headers, COALESCE((SELECT b.body FROM outbox_bodies b WHERE b.seq = outbox.seq), x''), created_at, state, attempts, next_attempt_at, audit_actor, audit_pseudonym, audit_purpose, body_sha256"

    static func outboxEvent(_ row: Row) throws -> OutboxEvent {
        let messageID: String = try row.decode(atIndex: 1)
        let headersData: Data = try row.decode(atIndex: 6)
        guard let state = OutboxState(rawValue: try row.decode(atIndex: 9)) else {
            throw StoreError(.encoding, "outbox event \(messageID) has a state ddrouter never writes")
        }
        var event = OutboxEvent(
            messageID: messageID, exchange: try row.decode(atIndex: 2), routingKey: try row.decode(atIndex: 3), type: try row.decode(atIndex: 4),
            correlationID: try row.decode(atIndex: 5),
            headers: try StoreJSON.decode([String: String].self, from: headersData),
            body: try row.decode(atIndex: 7), createdAt: try Timestamp.decode(try row.decode(atIndex: 8), column: "outbox.created_at"))
        event.sequence = try row.decode(atIndex: 0)
        event.state = state
        event.attempts = try row.decode(atIndex: 10)
        let nextText: String? = try row.decode(atIndex: 11)
        event.nextAttemptAt = try nextText.map { try Timestamp.decode($0, column: "outbox.next_attempt_at") }
        let actor: String? = try row.decode(atIndex: 12)
        let pseudonymText: String? = try row.decode(atIndex: 13)
        let purpose: String? = try row.decode(atIndex: 14)
        if let actor, let purpose {
            event.audit = OutboxAudit(actor: actor, pseudonym: pseudonymText.flatMap(Pseudonym.init(hex:)), purpose: purpose)
        }
        event.bodyDigest = try row.decode(atIndex: 15)
        return event
    }

    /// Pending rows the relay may publish at `now`: receipts first, then the other rows;
    /// within each, never-tried rows first in enqueue order, then retried rows whose back-off
    /// has passed, earliest first. A row that keeps failing is pushed back by its own back-off
    /// and never holds up the others.
    ///
    /// Receipts go first because a receipt answers a sender who waits for it, while the events
    /// of a big list can fill the outbox for minutes: in enqueue order a one-entry list's
    /// receipt would queue behind them all. A receipt is no case's event, so the order of
    /// each case's events (and of everything else) is unchanged. `outbox_due_receipts`
    /// (migration v4) keeps the first query off the backlog.
    static func dueOutbox(_ db: Database, at now: Date, limit: Int) throws -> [OutboxEvent] {
        let at = Timestamp.string(now)
        let receipts = try Row.fetchAll(db.cachedStatement(sql: dueOutboxSQL(receipts: true)), arguments: [at, limit])
            .map(outboxEvent)
        guard receipts.count < limit else { return receipts }
        let others = try Row.fetchAll(
            db.cachedStatement(sql: dueOutboxSQL(receipts: false)), arguments: [at, limit - receipts.count]
        ).map(outboxEvent)
        return receipts + others
    }

    /// The two queries of `dueOutbox` (arguments: now, limit). Each names its index, whose
    /// order is the order wanted (SQLite sorts NULL first: never-tried rows by `seq`, then
    /// retried ones by due time), so a round reads about `limit` rows and sorts nothing.
    /// Left to itself, without statistics, the planner scanned `outbox_pending` and sorted
    /// every pending row each round: the whole backlog of a big list. The literal `'receipt'`
    /// matches `outbox_due_receipts`'s WHERE; if an index could not be used, the query fails.
    static func dueOutboxSQL(receipts: Bool) -> String {
        """
        SELECT \(outboxColumns) FROM outbox INDEXED BY \(receipts ? "outbox_due_receipts" : "outbox_due")
        WHERE state = 'pending' AND type \(receipts ? "=" : "<>") 'receipt' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
        ORDER BY next_attempt_at, seq LIMIT ?
        """
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

    /// Deletes the pending rows the broker has confirmed, with their bodies (`outbox_bodies`).
    /// What stays of a sent event is its `sent` audit entry (recipient, citizen, type, message
    /// id, purpose, time), written by the caller in the same transaction from the pending row
    /// it read: data minimisation (once the recipient has it, the router keeps who got what,
    /// not the CPR and health data again), and the fact is kept once. Returns how many rows
    /// were pending.
    static func markSent(_ db: Database, messageIDs: some Sequence<String>) throws -> Int {
        let read = try db.cachedStatement(sql: "SELECT seq FROM outbox WHERE message_id = ? AND state = 'pending'")
        let delete = try db.cachedStatement(sql: "DELETE FROM outbox WHERE seq = ?")
        let erase = try db.cachedStatement(sql: "DELETE FROM outbox_bodies WHERE seq = ?")
        var changed = 0
        for id in messageIDs {
            guard let seq = try Int64.fetchOne(read, arguments: [id]) else { continue }
            try delete.execute(arguments: [seq])
            changed += db.changesCount
            try erase.execute(arguments: [seq])
        }
        return changed
    }

    /// The SHA-256 every pending row keeps of its body (the idempotence check of `enqueue`).
    static func bodyDigest(_ body: Data) -> Data { Data(SHA256.hash(data: body)) }

    static func recordAttempt(_ db: Database, messageIDs: some Sequence<String>) throws {
        let statement = try db.cachedStatement(
            sql: "UPDATE outbox SET attempts = attempts + 1 WHERE message_id = ? AND state = 'pending'")
        for id in messageIDs {
            try statement.execute(arguments: [id])
        }
    }

    // MARK: timers

    /// The columns `timer(_:)` reads, in its order (`timers` joined with its kind's name).
    static let timerSelection = """
        SELECT t.timer_id, t.case_id, k.kind, t.day, t.due_at, t.payload, t.state, t.fired_at, t.created_at, t.seq
        FROM timers AS t LEFT JOIN timer_kinds AS k ON k.id = t.kind
        """

    static func timer(_ row: Row) throws -> TimerRecord {
        let seq: Int64 = try row.decode(atIndex: 9)
        func malformed(_ column: String) -> StoreError {
            StoreError(.encoding, "timer \(seq) has a \(column) ddrouter never writes; the file was edited outside ddrouter")
        }
        guard let kind = String.fromDatabaseValue(row[2]) else { throw malformed("kind") }
        var caseID: String?
        let caseValue: DatabaseValue = row[1]
        if !caseValue.isNull {
            guard let text = CompactColumn.caseIDText(caseValue) else { throw malformed("case id") }
            caseID = text
        }
        let timerID: String
        if let text = String.fromDatabaseValue(row[0]) {
            timerID = text
        } else if let day = Int64.fromDatabaseValue(row[3]), let caseID {
            timerID = TimerKey.id(caseID: caseID, kind: kind, day: day)
        } else {
            throw malformed("id")
        }
        guard let state = TimerState(rawValue: try row.decode(atIndex: 6)) else { throw malformed("state") }
        var timer = TimerRecord(
            timerID: timerID, caseID: caseID, kind: kind,
            dueAt: try CompactColumn.date(row[4], column: "timers.due_at"), payload: try row.decode(atIndex: 5),
            createdAt: try CompactColumn.date(row[8], column: "timers.created_at"))
        timer.state = state
        let fired: DatabaseValue = row[7]
        timer.firedAt = fired.isNull ? nil : try CompactColumn.date(fired, column: "timers.fired_at")
        return timer
    }

    /// The id of `value` in a table of names (`id INTEGER PRIMARY KEY`, `column` UNIQUE): the
    /// audit's terms and subjects, timer kinds, case statuses. Added when it is not there yet.
    static func nameID(_ db: Database, table: String, column: String, _ value: some DatabaseValueConvertible) throws -> Int64 {
        if let id = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM \(table) WHERE \(column) = ?"), arguments: [value])
        {
            return id
        }
        try db.cachedStatement(sql: "INSERT INTO \(table) (\(column)) VALUES (?)").execute(arguments: [value])
        return db.lastInsertedRowID
    }

    /// The id of a kind's name in `timer_kinds`, nil when no timer had that kind yet.
    static func timerKind(_ db: Database, _ kind: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM timer_kinds WHERE kind = ?"), arguments: [kind])
    }

    /// The row (`seq`) and state of the timer with this id: a derived id by its case, kind and
    /// day, any other by its text (and a derived one by its text too: v16 kept an id as text
    /// when it named another case or kind than its row).
    static func timerRow(_ db: Database, id: String) throws -> (seq: Int64, state: String)? {
        if let parts = TimerKey.parts(of: id), let kind = try timerKind(db, parts.kind),
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT seq, state FROM timers WHERE case_id = ? AND kind = ? AND day = ?"),
                arguments: [CompactColumn.caseID(parts.caseID), kind, parts.day])
        {
            return (try row.decode(atIndex: 0), try row.decode(atIndex: 1))
        }
        return try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, state FROM timers WHERE timer_id = ?"), arguments: [id]
        ).map { (try $0.decode(atIndex: 0), try $0.decode(atIndex: 1)) }
    }

    static func timer(_ db: Database, id: String) throws -> TimerRecord? {
        guard let row = try timerRow(db, id: id) else { return nil }
        return try Row.fetchOne(
            db.cachedStatement(sql: "\(timerSelection) WHERE t.seq = ?"), arguments: [row.seq]
        ).map(timer)
    }

    static func timers(_ db: Database, caseID: String) throws -> [TimerRecord] {
        try Row.fetchAll(
            db.cachedStatement(sql: "\(timerSelection) WHERE t.case_id = ? ORDER BY t.due_at, t.seq"),
            arguments: [CompactColumn.caseID(caseID)]
        ).map(timer)
    }

    static func dueTimers(_ db: Database, at: Date, limit: Int) throws -> [TimerRecord] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "\(timerSelection) WHERE t.state = 'pending' AND t.due_at <= ? ORDER BY t.due_at, t.seq LIMIT ?"),
            arguments: [CompactColumn.due(at), limit]
        ).map(timer)
    }

    // MARK: audit

    static func auditEntries(_ db: Database, pseudonym: Pseudonym) throws -> [AuditEntry] {
        let names = AuditTermNames(db)
        return try Row.fetchAll(
            // Entries of v20 on name the subject's id; those written before, the 16 bytes.
            db.cachedStatement(
                sql: """
                    SELECT \(AuditColumns.selection) FROM audit
                    WHERE pseudonym IN ((SELECT id FROM audit_subjects WHERE pseudonym = ?1), ?1) ORDER BY seq
                    """),
            arguments: [CompactColumn.pseudonym(pseudonym)]
        ).map { try AuditChain.entry($0, names: names) }
    }

    static func auditEntries(_ db: Database, afterSeq: Int64, limit: Int) throws -> [AuditEntry] {
        let names = AuditTermNames(db)
        return try Row.fetchAll(
            db.cachedStatement(sql: "SELECT \(AuditColumns.selection) FROM audit WHERE seq > ? ORDER BY seq LIMIT ?"),
            arguments: [afterSeq, limit]
        ).map { try AuditChain.entry($0, names: names) }
    }

    /// The newest entry and the hash that covers it: its own (before v8) or its seal's.
    static func auditHead(_ db: Database) throws -> AuditAnchor? {
        try AuditChain.head(db).map { AuditAnchor(seq: $0.seq, hash: Hex.encode($0.hash ?? Data())) }
    }
}
