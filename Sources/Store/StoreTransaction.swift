public import Foundation
import GRDB

/// One write transaction, handed to the closure of `Store.write`. Everything written
/// through it commits together when the closure returns, or not at all when it throws.
///
/// Several inbound messages may share one transaction (batching: one fsync for many
/// messages). Wrap each message's work in `savepoint { }` so that one message that
/// fails rolls back alone while the others of the batch still commit.
///
/// Do not keep the transaction after the closure returns: every method then throws
/// `StoreError.Code.misuse`. Not `Sendable`: use it on the thread that runs the closure.
public final class StoreTransaction {
    let db: Database
    let key: KeyBytes
    let path: String
    let terms: AuditTerms
    var isOpen = true
    /// The audit chain as of this transaction's last append (read at the first): saves a
    /// query per entry and holds the entries not yet sealed. A savepoint that rolls back
    /// restores it as it was when the savepoint began.
    var audit: AuditChain.State?
    /// Whether this transaction enqueued an outbox row (`Store.write` then tells its outbox observer).
    var enqueued = false

    init(db: Database, key: KeyBytes, path: String, terms: AuditTerms) {
        self.db = db
        self.key = key
        self.path = path
        self.terms = terms
    }

    private func run<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        guard isOpen else {
            throw StoreError(
                .misuse,
                "a store transaction was used after its write closure returned (\(operation)); this is a bug in the caller",
                path: path)
        }
        do {
            return try body()
        } catch {
            throw StoreError.wrap(error, operation, path: path)
        }
    }

    /// Runs `body` in a nested savepoint: if it throws, only its writes are undone and
    /// the error is rethrown; the enclosing transaction continues.
    @discardableResult
    public func savepoint<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        guard isOpen else {
            throw StoreError(.misuse, "a store transaction was used after its write closure returned", path: path)
        }
        // Cached SAVEPOINT / RELEASE / ROLLBACK TO statements: this runs once per
        // message of a batch, and GRDB's `inSavepoint` prepares them anew each time.
        do {
            try db.cachedStatement(sql: "SAVEPOINT ddrouter_message").execute()
        } catch {
            throw StoreError.wrap(error, "savepoint", path: path)
        }
        let chain = audit
        let result: T
        do {
            result = try body(self)
            // A message's entries get their own seal: a later message of the batch that
            // rolls back cannot undo it.
            try sealAudit()
        } catch {
            audit = chain
            do {
                try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT ddrouter_message").execute()
                try db.cachedStatement(sql: "RELEASE SAVEPOINT ddrouter_message").execute()
            } catch let rollbackError {
                // SQLite may already have rolled back the whole transaction (disk
                // full, I/O error): the write as a whole fails at commit.
                throw StoreError.wrap(rollbackError, "rolling back a savepoint", path: path)
            }
            throw StoreError.wrap(error, "savepoint", path: path)
        }
        do {
            try db.cachedStatement(sql: "RELEASE SAVEPOINT ddrouter_message").execute()
        } catch {
            audit = nil
            throw StoreError.wrap(error, "releasing a savepoint", path: path)
        }
        return result
    }

    /// Whether the transaction is still open. SQLite rolls a whole transaction back on some
    /// errors (a full disk, an I/O error) even inside a savepoint; after that nothing of it
    /// can be committed, and a batch of messages must fail as a whole (`CommitBatcher`).
    public var isActive: Bool { isOpen && db.isInsideTransaction }

    // MARK: inbox

    /// Records an inbound message with the receipt sent for it. If the same (sender,
    /// message id) is already recorded (also earlier in this same transaction), writes
    /// nothing and returns `.duplicate` with the stored receipt: the caller must then
    /// resend that receipt and apply no effects.
    public func recordInbox(_ entry: InboxEntry) throws -> InboxResult {
        try run("recording inbound message \(entry.messageID)") {
            try db.cachedStatement(
                sql: """
                    INSERT INTO inbox (sender, message_id, type, received_at, receipt) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (sender, message_id) DO NOTHING
                    """
            ).execute(arguments: [
                entry.sender, entry.messageID, entry.type, Timestamp.string(entry.receivedAt),
                entry.receipt,
            ])
            if db.changesCount == 1 { return .recorded }
            let stored = try Queries.receipt(db, sender: entry.sender, messageID: entry.messageID)
            return .duplicate(receipt: stored ?? Data())
        }
    }

    /// The stored receipt for a message, seen from inside this transaction.
    public func receipt(forSender sender: String, messageID: String) throws -> Data? {
        try run("reading inbox") { try Queries.receipt(db, sender: sender, messageID: messageID) }
    }

    // MARK: cases

    /// Inserts or updates a case and returns its new revision (1 for a new case).
    ///
    /// - Parameter expectedRevision: when given, the write happens only if the stored
    ///   revision equals it (0 = "must not exist yet"); otherwise `.conflict` is thrown.
    ///   Use it when the state was read outside this transaction.
    /// - Throws: `.conflict` also when the case id exists for another pseudonym.
    @discardableResult
    public func upsertCase(_ record: CaseRecord, expectedRevision: Int64? = nil) throws -> Int64 {
        try run("writing case \(record.caseID)") {
            if let expectedRevision {
                let current =
                    try Int64.fetchOne(
                        db.cachedStatement(sql: "SELECT revision FROM cases WHERE case_id = ?"),
                        arguments: [CompactColumn.caseID(record.caseID)]) ?? 0
                guard current == expectedRevision else {
                    throw StoreError(
                        .conflict,
                        "case \(record.caseID) is at revision \(current), the caller expected \(expectedRevision); it changed since it was read",
                        path: path)
                }
            }
            let at = CompactColumn.instant(record.updatedAt).stored
            let revision = try Int64.fetchOne(
                db.cachedStatement(
                    sql: """
                        INSERT INTO cases (case_id, pseudonym, workflow, municipality, clinic, status, state, revision, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
                        ON CONFLICT (case_id) DO UPDATE SET
                            workflow = excluded.workflow, municipality = excluded.municipality,
                            clinic = excluded.clinic, status = excluded.status, state = excluded.state,
                            revision = cases.revision + 1, updated_at = excluded.updated_at
                        WHERE cases.pseudonym = excluded.pseudonym
                        RETURNING revision
                        """),
                arguments: [
                    CompactColumn.caseID(record.caseID), CompactColumn.pseudonym(record.pseudonym), record.workflow, record.municipality,
                    record.clinic, try caseStatus(record.status), record.state, at, at,
                ])
            guard let revision else {
                throw StoreError(
                    .conflict,
                    "case \(record.caseID) already exists for another citizen; a case never changes citizen",
                    path: path)
            }
            return revision
        }
    }

    /// The id of a case status's name in `case_statuses`, added the first time a case has it.
    private func caseStatus(_ status: String) throws -> Int64 {
        try Queries.nameID(db, table: "case_statuses", column: "status", status)
    }

    public func `case`(id: String) throws -> CaseRecord? {
        try run("reading case \(id)") { try Queries.caseRecord(db, id: id) }
    }

    /// The case's stored revision, 0 when there is no such case: what a decision made
    /// ahead of this transaction (on a `StoreReader`) compares with the revision it read.
    public func caseRevision(id: String) throws -> Int64 {
        try run("reading the revision of case \(id)") {
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT revision FROM cases WHERE case_id = ?"), arguments: [CompactColumn.caseID(id)]) ?? 0
        }
    }

    public func cases(pseudonym: Pseudonym) throws -> [CaseRecord] {
        try run("reading cases") { try Queries.cases(db, pseudonym: pseudonym) }
    }

    /// Appends an input or decision to a case's history; returns its id.
    @discardableResult
    public func appendHistory(_ entry: CaseHistoryEntry) throws -> Int64 {
        try run("appending history of case \(entry.caseID)") {
            try db.cachedStatement(
                sql: """
                    INSERT INTO case_history (case_id, at, kind, message_id, payload, explanation)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                CompactColumn.caseID(entry.caseID), CompactColumn.instant(entry.at).stored, entry.kind.rawValue, entry.messageID,
                entry.payload, entry.explanation,
            ])
            return db.lastInsertedRowID
        }
    }

    /// Appends what one step did to a case (its input, then its decisions) as one row
    /// (`HistoryStep`, compressed as a whole) when there are several entries of one case and
    /// instant, each entry as its own row otherwise (an uncompressed payload or explanation,
    /// `StoreBinary.encodeUncompressed`, is then compressed on its own). Read back, the
    /// entries of a step are the same bytes, in the same order; those of one row share its id.
    public func appendHistory(_ entries: [CaseHistoryEntry]) throws {
        guard let first = entries.first, entries.count > 1,
            entries.allSatisfy({ $0.caseID == first.caseID && $0.at == first.at })
        else {
            for var entry in entries {
                entry.payload = StoreBinary.compressedIfVersion2(entry.payload)
                entry.explanation = entry.explanation.map(StoreBinary.compressedIfVersion2)
                _ = try appendHistory(entry)
            }
            return
        }
        let step = HistoryStep(parts: entries.map {
            HistoryStep.Part(kind: $0.kind.rawValue, messageID: $0.messageID, payload: $0.payload, explanation: $0.explanation)
        })
        // The row's own message id stays empty: each entry of the step carries its own, and
        // nothing reads the row's (it was the first entry's again, ~40 bytes a row).
        _ = try appendHistory(CaseHistoryEntry(
            caseID: first.caseID, at: first.at, kind: HistoryStep.kind, messageID: nil,
            payload: step.compressed(), explanation: nil))
    }

    public func caseHistory(id: String) throws -> [CaseHistoryEntry] {
        try run("reading history of case \(id)") { try Queries.caseHistory(db, caseID: id) }
    }

    /// The payloads of the case's `input` history rows, oldest first.
    public func caseInputPayloads(id: String) throws -> [Data] {
        try run("reading inputs of case \(id)") { try Queries.caseInputPayloads(db, caseID: id) }
    }

    // MARK: consent

    /// Appends a consent statement, one row for all the directions and purposes it covers;
    /// returns its id. The latest statement per (pseudonym, direction, purpose) is the
    /// current one.
    @discardableResult
    public func recordConsent(_ statement: ConsentStatement) throws -> Int64 {
        try run("recording consent") {
            guard !statement.directions.isEmpty, Set(statement.directions).count == statement.directions.count,
                !statement.purposes.isEmpty, Set(statement.purposes).count == statement.purposes.count,
                !statement.purposes.contains(where: { $0.isEmpty || $0.contains(where: \.isNewline) })
            else {
                throw StoreError(.encoding, "a consent statement needs directions and purposes, each once, no purpose empty or with a line break")
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO consent_statements
                        (pseudonym, directions, purposes, state, valid_from, withdrawn_at, reference, message_id, recorded_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                CompactColumn.pseudonym(statement.pseudonym), Queries.ConsentDirections.stored(statement.directions),
                Queries.ConsentPurposes.stored(statement.purposes),
                statement.state.rawValue, CompactColumn.instant(statement.validFrom).stored,
                statement.withdrawnAt.map { CompactColumn.instant($0).stored }, statement.reference, statement.messageID,
                CompactColumn.instant(statement.recordedAt).stored,
            ])
            return db.lastInsertedRowID
        }
    }

    /// Appends a statement about one direction and purpose.
    @discardableResult
    public func recordConsent(_ record: ConsentRecord) throws -> Int64 {
        try recordConsent(ConsentStatement(record))
    }

    public func consents(pseudonym: Pseudonym) throws -> [ConsentRecord] {
        try run("reading consent") { try Queries.consents(db, pseudonym: pseudonym) }
    }

    public func currentConsents(pseudonym: Pseudonym) throws -> [ConsentRecord] {
        try run("reading consent") { try Queries.currentConsents(db, pseudonym: pseudonym) }
    }

    /// Deny by default: true only if the latest statement for this direction and
    /// purpose is "given", valid at `date` and not withdrawn by then.
    public func consentAllows(
        pseudonym: Pseudonym, direction: ConsentDirection, purpose: String, at date: Date
    ) throws -> Bool {
        try run("reading consent") {
            try Queries.currentConsent(db, pseudonym: pseudonym, direction: direction, purpose: purpose)?
                .allows(at: date) ?? false
        }
    }

    // MARK: outbox

    /// Queues an event for publication. Idempotent while the row is pending: the same message
    /// id with the same exchange, routing key, type, correlation id, headers and body
    /// (compared by the body's SHA-256) returns `.alreadyEnqueued` and writes nothing. The
    /// same id with different content throws `.conflict`: two different events must never
    /// share an id, or consumers would drop one as a duplicate. A confirmed row is deleted
    /// (its `sent` audit entry stays), so the check does not reach it; nothing enqueues a
    /// committed decision's events again, since a redelivered message is answered from the
    /// inbox without being decided again.
    @discardableResult
    public func enqueue(_ event: OutboxEvent) throws -> EnqueueResult {
        enqueued = true
        return try run("enqueueing event \(event.messageID)") {
            let headers = StoreJSON.encodeHeaders(event.headers)
            let digest = Queries.bodyDigest(event.body)
            try db.cachedStatement(
                sql: """
                    INSERT INTO outbox (message_id, exchange, routing_key, type, correlation_id, headers, body_sha256, created_at,
                                        audit_actor, audit_pseudonym, audit_purpose)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (message_id) DO NOTHING
                    """
            ).execute(arguments: [
                event.messageID, event.exchange, event.routingKey, event.type,
                event.correlationID, headers, digest, Timestamp.string(event.createdAt),
                event.audit?.actor, event.audit?.pseudonym?.hex, event.audit?.purpose,
            ])
            if db.changesCount == 1 {
                try db.cachedStatement(sql: "INSERT INTO outbox_bodies (seq, body) VALUES (?, ?)")
                    .execute(arguments: [db.lastInsertedRowID, event.body])
                return .enqueued
            }
            guard let stored = try Queries.outboxEvent(db, messageID: event.messageID) else {
                throw StoreError(.database, "outbox refused event \(event.messageID) for no visible reason", path: path)
            }
            guard stored.exchange == event.exchange, stored.routingKey == event.routingKey,
                stored.type == event.type, stored.correlationID == event.correlationID,
                stored.headers == event.headers,
                stored.bodyDigest.map({ $0 == digest }) ?? (stored.body == event.body)
            else {
                throw StoreError(
                    .conflict,
                    "outbox already holds a different event with message id \(event.messageID); event ids must be unique per content",
                    path: path)
            }
            return .alreadyEnqueued
        }
    }

    /// Deletes events confirmed by the broker (their `sent` audit entries are the caller's);
    /// returns how many were pending.
    @discardableResult
    public func markSent(messageIDs: some Sequence<String>) throws -> Int {
        try run("marking events sent") { try Queries.markSent(db, messageIDs: messageIDs) }
    }

    // MARK: timers

    /// Schedules a timer. A pending timer with the same id is moved to the new due
    /// time and payload; a fired one is never armed again; a cancelled one is re-armed.
    /// An id of the derived form (`TimerRecord.id`) must name the timer's own case and kind.
    @discardableResult
    public func schedule(_ timer: TimerRecord) throws -> ScheduleResult {
        try run("scheduling timer \(timer.timerID)") {
            guard let key = TimerKey(id: timer.timerID, caseID: timer.caseID, kind: timer.kind) else {
                throw StoreError(
                    .invalidArgument, "timer \(timer.timerID) names another case or kind than the timer it is given for")
            }
            let existing = try Queries.timerRow(db, id: timer.timerID)
            let kind = try timerKind(timer.kind)
            switch existing.flatMap({ TimerState(rawValue: $0.state) }) {
            case .fired?:
                return .alreadyFired
            case .pending?, .cancelled?:
                try db.cachedStatement(
                    sql: """
                        UPDATE timers SET case_id = ?, kind = ?, due_at = ?, payload = ?, state = 'pending', fired_at = NULL
                        WHERE seq = ?
                        """
                ).execute(arguments: [
                    CompactColumn.caseID(timer.caseID), kind, CompactColumn.due(timer.dueAt), timer.payload, existing?.seq,
                ])
                return existing?.state == TimerState.pending.rawValue ? .rescheduled : .scheduled
            case nil:
                var day: Int64?
                var text: String?
                switch key {
                case .derived(let value): day = value
                case .text(let value): text = value
                }
                try db.cachedStatement(
                    sql: """
                        INSERT INTO timers (case_id, kind, day, timer_id, due_at, payload, state, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
                        """
                ).execute(arguments: [
                    CompactColumn.caseID(timer.caseID), kind, day, text, CompactColumn.due(timer.dueAt),
                    timer.payload, CompactColumn.instant(timer.createdAt).stored,
                ])
                return .scheduled
            }
        }
    }

    /// The id of `kind` in `timer_kinds`, added the first time a timer has that kind.
    private func timerKind(_ kind: String) throws -> Int64 {
        try Queries.nameID(db, table: "timer_kinds", column: "kind", kind)
    }

    /// Cancels a pending timer: its row is deleted (a cancelled timer and no timer are the
    /// same to `schedule`, and the case history has why); false when it is not pending
    /// (fired, unknown).
    @discardableResult
    public func cancelTimer(id: String) throws -> Bool {
        try run("cancelling timer \(id)") {
            guard let row = try Queries.timerRow(db, id: id) else { return false }
            try db.cachedStatement(
                sql: "DELETE FROM timers WHERE seq = ? AND state = 'pending'"
            ).execute(arguments: [row.seq])
            return db.changesCount == 1
        }
    }

    /// Cancels every pending timer of a case; returns how many.
    @discardableResult
    public func cancelTimers(caseID: String) throws -> Int {
        try run("cancelling timers of case \(caseID)") {
            try db.cachedStatement(
                sql: "DELETE FROM timers WHERE case_id = ? AND state = 'pending'"
            ).execute(arguments: [CompactColumn.caseID(caseID)])
            return db.changesCount
        }
    }

    /// Cancels a case's pending timers of one kind, but for `except`; returns how many.
    @discardableResult
    public func cancelTimers(caseID: String, kind: String, except: String? = nil) throws -> Int {
        try run("cancelling timers of case \(caseID)") {
            guard let kindID = try Queries.timerKind(db, kind) else { return 0 }
            let kept = try except.flatMap { try Queries.timerRow(db, id: $0)?.seq }
            try db.cachedStatement(
                sql: "DELETE FROM timers WHERE case_id = ? AND kind = ? AND state = 'pending' AND seq IS NOT ?"
            ).execute(arguments: [CompactColumn.caseID(caseID), kindID, kept])
            return db.changesCount
        }
    }

    /// Marks a timer fired. Returns true exactly once per timer: call it in the same
    /// transaction as the effects of firing and apply them only when it returns true.
    public func markFired(timerID: String, at date: Date) throws -> Bool {
        try run("firing timer \(timerID)") {
            guard let row = try Queries.timerRow(db, id: timerID) else { return false }
            try db.cachedStatement(
                sql: "UPDATE timers SET state = 'fired', fired_at = ? WHERE seq = ? AND state = 'pending'"
            ).execute(arguments: [CompactColumn.instant(date).stored, row.seq])
            return db.changesCount == 1
        }
    }

    public func timer(id: String) throws -> TimerRecord? {
        try run("reading timer \(id)") { try Queries.timer(db, id: id) }
    }

    public func timers(caseID: String) throws -> [TimerRecord] {
        try run("reading timers of case \(caseID)") { try Queries.timers(db, caseID: caseID) }
    }

    // MARK: list members (R3)

    /// Records (or refreshes) a citizen's place on a list of a municipality-clinic pair.
    public func recordListMember(_ member: ListMember) throws {
        try run("recording a list member") {
            try db.cachedStatement(
                sql: """
                    INSERT INTO list_members (side, municipality, clinic, list_kind, pseudonym, as_of, message_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (side, municipality, clinic, list_kind, pseudonym)
                    DO UPDATE SET as_of = excluded.as_of, message_id = excluded.message_id
                    """
            ).execute(arguments: [
                Queries.ListSide.stored(member.side), member.municipality, member.clinic, member.listKind,
                CompactColumn.pseudonym(member.pseudonym), CompactColumn.day(member.asOf), member.messageID,
            ])
        }
    }

    /// The members of one side's lists of `municipality` for any of `clinics`, of one kind.
    public func listMembers(
        side: ListMember.Side, municipality: String, clinics: [String], listKind: String
    ) throws -> [ListMember] {
        try run("reading list members") {
            var members: [ListMember] = []
            let statement = try db.cachedStatement(
                sql: """
                    SELECT clinic, pseudonym, as_of, message_id FROM list_members
                    WHERE side = ? AND municipality = ? AND clinic = ? AND list_kind = ?
                    ORDER BY pseudonym
                    """)
            for clinic in clinics {
                for row in try Row.fetchAll(
                    statement, arguments: [Queries.ListSide.stored(side), municipality, clinic, listKind])
                {
                    guard case .some(.some(let text)) = CompactColumn.pseudonymText(row[1]), let pseudonym = Pseudonym(hex: text)
                    else { continue }
                    guard let asOf = CompactColumn.dayText(row[2]) else {
                        throw StoreError(.encoding, "list_members.as_of holds a value ddrouter never writes")
                    }
                    members.append(ListMember(
                        side: side, municipality: municipality, clinic: row[0], listKind: listKind, pseudonym: pseudonym,
                        asOf: asOf, messageID: row[3]))
                }
            }
            return members
        }
    }

    /// The clinics that have list members on `side` for `municipality` and `listKind`
    /// (`""`, a municipal list to all clinics, included when present), sorted.
    public func listClinics(side: ListMember.Side, municipality: String, listKind: String) throws -> [String] {
        try run("reading list clinics") {
            try String.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT DISTINCT clinic FROM list_members
                        WHERE side = ? AND municipality = ? AND list_kind = ? ORDER BY clinic
                        """),
                arguments: [Queries.ListSide.stored(side), municipality, listKind])
        }
    }

    // MARK: list slices

    /// Records that the entries `start..<end` of a sender's list message are decided and
    /// written (in this transaction), with `result`: what the slice contributes to the receipt.
    /// The caller has checked `hasListSlice` in the same transaction.
    public func recordListSlice(
        sender: String, messageID: String, start: Int, end: Int, result: Data, at date: Date
    ) throws {
        try run("recording a list slice") {
            try db.cachedStatement(
                sql: """
                    INSERT INTO list_slices (sender, message_id, start, end, result, recorded_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [sender, messageID, start, end, result, Timestamp.string(date)])
        }
    }

    /// Whether the slice starting at `start` of a sender's list message is recorded.
    public func hasListSlice(sender: String, messageID: String, start: Int) throws -> Bool {
        try run("reading a list slice") { try Queries.hasListSlice(db, sender: sender, messageID: messageID, start: start) }
    }

    /// The recorded slices of a sender's list message, in order of their start.
    public func listSlices(sender: String, messageID: String) throws -> [(range: Range<Int>, result: Data)] {
        try run("reading list slices") {
            try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT start, end, result FROM list_slices WHERE sender = ? AND message_id = ? ORDER BY start"),
                arguments: [sender, messageID]
            ).map { row in
                let start: Int = row["start"]
                let end: Int = row["end"]
                return (start..<max(start, end), row["result"])
            }
        }
    }

    /// Forgets the slices of a sender's list message (its receipt is written).
    @discardableResult
    public func deleteListSlices(sender: String, messageID: String) throws -> Int {
        try run("deleting list slices") {
            try db.cachedStatement(sql: "DELETE FROM list_slices WHERE sender = ? AND message_id = ?")
                .execute(arguments: [sender, messageID])
            return db.changesCount
        }
    }

    // MARK: audit

    /// Appends one entry to the audit trail; returns its seq. The entries of a savepoint,
    /// and those of the transaction outside any, are sealed together when it ends
    /// (`sealAudit`): one keyed hash per write, not per entry.
    @discardableResult
    public func appendAudit(_ record: AuditRecord) throws -> Int64 {
        try run("appending to the audit trail") {
            var state = try audit ?? AuditChain.State.read(db, terms: terms)
            defer { audit = state }
            return try AuditChain.append(record, db: db, key: key, state: &state)
        }
    }

    /// Seals the entries appended since the last seal; returns the new head of the chain
    /// (`nil`: nothing to seal). `Store.write` calls it before it commits.
    @discardableResult
    public func sealAudit() throws -> AuditAnchor? {
        guard audit?.open != nil else { return nil }
        return try run("sealing the audit trail") {
            try AuditChain.seal(db: db, state: &audit!)
        }
    }
}

@available(*, unavailable, message: "a StoreTransaction belongs to the thread running the write closure")
extension StoreTransaction: Sendable {}
