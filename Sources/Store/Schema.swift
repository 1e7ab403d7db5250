import Foundation
import GRDB

/// Versioned schema. Migrations are append-only: never edit a registered migration,
/// add a new one ("v2-…") instead. Opening an existing file applies the missing ones.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-initial") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2-outbox-retry-and-audit") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3-list-slices-and-sent-bodies") { db in
            // For the rows sent before v3 (see `v3`).
            try withBodyDigest(db) { try db.execute(sql: v3) }
        }
        migrator.registerMigration("v4-outbox-receipts-first") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5-outbox-bodies-apart") { db in
            // For the rows pending at v5 (see `v5`).
            try withBodyDigest(db) { try db.execute(sql: v5) }
        }
        migrator.registerMigration("v6-consent-statements") { db in
            try db.execute(sql: v6)
        }
        migrator.registerMigration("v7-cancelled-timers-deleted") { db in
            try db.execute(sql: v7)
        }
        migrator.registerMigration("v8-audit-seals") { db in
            try db.execute(sql: v8)
        }
        migrator.registerMigration("v9-sent-outbox-deleted") { db in
            try db.execute(sql: v9)
        }
        // No table changes: case states and history blobs are written compressed from here on
        // (`StoreBinary` version 3), which an earlier build cannot read. Recorded as a
        // migration so that such a build refuses the whole store ("written by a newer
        // ddrouter") instead of failing on each compressed case it meets.
        migrator.registerMigration("v10-compressed-blobs") { _ in }
        migrator.registerMigration("v11-audit-compact") { db in
            try withCompactConversions(db) { try db.execute(sql: v11) }
        }
        migrator.registerMigration("v12-consent-compact") { db in
            try withCompactConversions(db) { try db.execute(sql: v12) }
        }
        migrator.registerMigration("v13-timers-compact") { db in
            try withCompactConversions(db) { try db.execute(sql: v13) }
        }
        migrator.registerMigration("v14-cases-compact") { db in
            try withCompactConversions(db) { try db.execute(sql: v14) }
        }
        migrator.registerMigration("v15-timers-due-numbers") { db in
            try withCompactConversions(db) { try db.execute(sql: v15) }
        }
        migrator.registerMigration("v16-timers-by-parts") { db in
            try withCompactConversions(db) { try db.execute(sql: v16) }
        }
        // No table changes: from here on an audit entry's message id may be stored coded from
        // an earlier entry's (`AuditMessageIDs`), which an earlier build reads as a malformed
        // row. Recorded so that such a build refuses the whole store instead.
        migrator.registerMigration("v17-audit-message-ids-coded") { _ in }
        migrator.registerMigration("v18-case-ids-compact") { db in
            try withCompactConversions(db) { try db.execute(sql: v18) }
        }
        // `cases_by_report` (municipality, clinic, status) served no query that runs: the case
        // list's optional filters (`?1 IS NULL OR municipality = ?1`) cannot use it, and the
        // counts by group read the table as fast on an admin's request. It held the 37-byte
        // status and the clinic again for every case, about 70 bytes per list citizen.
        migrator.registerMigration("v19-cases-report-index-dropped") { db in
            try db.execute(sql: "DROP INDEX IF EXISTS cases_by_report")
        }
        migrator.registerMigration("v20-audit-subjects") { db in
            try db.execute(sql: v20)
        }
        migrator.registerMigration("v21-statuses-purposes-members-compact") { db in
            try withCompactConversions(db) { try db.execute(sql: v21) }
        }
        migrator.registerMigration("v22-list-members-compact") { db in
            try withCompactConversions(db) { try db.execute(sql: v22) }
        }
        return migrator
    }

    /// Runs `body` with the SQL functions `compact_at(text)`, `compact_pseudonym(text)` and
    /// `compact_due(text)`: the forms `CompactColumn` stores (`instant(text:)`, `pseudonym(hex:)`,
    /// `due`), or the value unchanged when it is not the text the store writes (a row edited by
    /// hand keeps its edit, and fails verification or is reported as before).
    private static func withCompactConversions(_ db: Database, _ body: () throws -> Void) throws {
        func conversion(_ name: String, _ convert: @escaping @Sendable (String) -> DatabaseValue?) -> DatabaseFunction {
            DatabaseFunction(name, argumentCount: 1, pure: true) { values in
                guard case .string(let text) = values[0].storage else { return values[0] }
                return convert(text) ?? values[0]
            }
        }
        let functions = [
            conversion("compact_at") { CompactColumn.instant(text: $0) },
            conversion("compact_pseudonym") { CompactColumn.pseudonym(hex: $0) },
            conversion("compact_due") { Timestamp.date($0).map { CompactColumn.due($0).databaseValue } },
            conversion("compact_case") { CompactColumn.caseID($0) },
            conversion("compact_day") { CompactColumn.day($0) },
            conversion("compact_purposes") {
                Queries.ConsentPurposes.read($0.databaseValue).map(Queries.ConsentPurposes.stored)
            },
            // `timer_day(timer_id, case_id, kind)`: the day a derived id is kept as, else NULL.
            DatabaseFunction("timer_day", argumentCount: 3, pure: true) { values in
                guard case .string(let id) = values[0].storage, case .string(let kind) = values[2].storage,
                    case .derived(let day)? = TimerKey(id: id, caseID: String.fromDatabaseValue(values[1]), kind: kind)
                else { return nil }
                return day
            },
        ]
        for function in functions { db.add(function: function) }
        defer { for function in functions { db.remove(function: function) } }
        try body()
    }

    /// Runs `body` with the SQL function `sha256_of_body(body)`, the digest
    /// `Queries.bodyDigest` keeps of an outbox body.
    private static func withBodyDigest(_ db: Database, _ body: () throws -> Void) throws {
        let digest = DatabaseFunction("sha256_of_body", argumentCount: 1, pure: true) { values in
            guard let body = Data.fromDatabaseValue(values[0]) else { return nil }
            return Queries.bodyDigest(body)
        }
        db.add(function: digest)
        defer { db.remove(function: digest) }
        try body()
    }

    /// Names of all migrations this build knows, in order.
    static var migrationNames: [String] { migrator.migrations }

    static let v1 = """
        -- Every inbound message per sender, with the receipt sent for it (dedupe).
        CREATE TABLE inbox (
            sender      TEXT NOT NULL,
            message_id  TEXT NOT NULL,
            type        TEXT NOT NULL,
            received_at TEXT NOT NULL,
            receipt     BLOB NOT NULL,
            PRIMARY KEY (sender, message_id)
        ) WITHOUT ROWID;

        -- Current state of each case; JSON state blob from the Workflow module.
        CREATE TABLE cases (
            case_id      TEXT PRIMARY KEY NOT NULL,
            pseudonym    TEXT NOT NULL,
            workflow     TEXT NOT NULL,
            municipality TEXT NOT NULL,
            clinic       TEXT,
            status       TEXT NOT NULL,
            state        BLOB NOT NULL,
            revision     INTEGER NOT NULL,
            created_at   TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        );
        CREATE INDEX cases_by_pseudonym ON cases (pseudonym);
        CREATE INDEX cases_by_report ON cases (municipality, clinic, status);

        -- Every input and decision of a case, with its explanation.
        CREATE TABLE case_history (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id     TEXT NOT NULL,
            at          TEXT NOT NULL,
            kind        TEXT NOT NULL,
            message_id  TEXT,
            payload     BLOB NOT NULL,
            explanation BLOB
        );
        CREATE INDEX case_history_by_case ON case_history (case_id, id);

        -- Consent statements, appended; the latest per subject is current.
        CREATE TABLE consents (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            pseudonym    TEXT NOT NULL,
            direction    TEXT NOT NULL
                CHECK (direction IN ('municipality-to-region', 'region-to-municipality')),
            purpose      TEXT NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('given', 'refused', 'withdrawn')),
            valid_from   TEXT NOT NULL,
            withdrawn_at TEXT,
            reference    TEXT NOT NULL,
            message_id   TEXT,
            recorded_at  TEXT NOT NULL
        );
        CREATE INDEX consents_by_subject ON consents (pseudonym, direction, purpose, id);

        -- Events to publish; AUTOINCREMENT keeps seq monotonic even after purges.
        CREATE TABLE outbox (
            seq            INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id     TEXT NOT NULL UNIQUE,
            exchange       TEXT NOT NULL,
            routing_key    TEXT NOT NULL,
            type           TEXT NOT NULL,
            correlation_id TEXT,
            headers        BLOB NOT NULL,
            body           BLOB NOT NULL,
            created_at     TEXT NOT NULL,
            state          TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
            attempts       INTEGER NOT NULL DEFAULT 0,
            sent_at        TEXT
        );
        CREATE INDEX outbox_pending ON outbox (seq) WHERE state = 'pending';

        CREATE TABLE timers (
            timer_id   TEXT PRIMARY KEY NOT NULL,
            case_id    TEXT,
            kind       TEXT NOT NULL,
            due_at     TEXT NOT NULL,
            payload    BLOB NOT NULL,
            state      TEXT NOT NULL CHECK (state IN ('pending', 'fired', 'cancelled')),
            fired_at   TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX timers_due ON timers (due_at, timer_id) WHERE state = 'pending';
        CREATE INDEX timers_by_case ON timers (case_id);

        -- Append-only, hash-chained audit trail. The triggers are a guard rail against
        -- mistakes; the keyed chain is what detects deliberate tampering.
        CREATE TABLE audit (
            seq          INTEGER PRIMARY KEY,
            at           TEXT NOT NULL,
            actor        TEXT NOT NULL,
            action       TEXT NOT NULL,
            pseudonym    TEXT,
            message_type TEXT,
            message_id   TEXT,
            purpose      TEXT NOT NULL,
            prev_hash    BLOB NOT NULL,
            hash         BLOB NOT NULL
        );
        CREATE INDEX audit_by_pseudonym ON audit (pseudonym, seq) WHERE pseudonym IS NOT NULL;
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: DELETE refused'); END;
        -- Only the next seq may be inserted: stops INSERT OR REPLACE over an old row
        -- (REPLACE deletes without firing the DELETE trigger) and back-filled gaps.
        CREATE TRIGGER audit_append_only BEFORE INSERT ON audit
        WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit)
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: only the next seq may be inserted'); END;
        """

    /// The relay's per-row back-off (a row that keeps failing must not hold up the others)
    /// and who/what/why of each row, so the "sent" audit entry is written in the same
    /// transaction that marks the row sent; list membership for R3.
    static let v2 = """
        ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
        ALTER TABLE outbox ADD COLUMN audit_actor TEXT;
        ALTER TABLE outbox ADD COLUMN audit_pseudonym TEXT;
        ALTER TABLE outbox ADD COLUMN audit_purpose TEXT;
        CREATE INDEX outbox_due ON outbox (next_attempt_at, seq) WHERE state = 'pending';

        -- R3: who is on which list of a municipality-clinic pair (clinic '' = a municipal
        -- list to all clinics), for the reconciliation of municipal and clinic lists.
        CREATE TABLE list_members (
            side         TEXT NOT NULL CHECK (side IN ('municipality', 'clinic')),
            municipality TEXT NOT NULL,
            clinic       TEXT NOT NULL,
            list_kind    TEXT NOT NULL,
            pseudonym    TEXT NOT NULL,
            as_of        TEXT NOT NULL,
            message_id   TEXT NOT NULL,
            PRIMARY KEY (side, municipality, clinic, list_kind, pseudonym)
        ) WITHOUT ROWID;
        """

    /// A list message is decided in slices, each committed on its own: the slices of a
    /// sender's message done so far, with what each contributes to the receipt, so a
    /// redelivery resumes after the last committed slice (no entry decided twice) and the
    /// receipt, written with the last slice, answers the whole list. The rows of a message
    /// are deleted in the transaction that writes its receipt.
    static let v3 = """
        CREATE TABLE list_slices (
            sender      TEXT NOT NULL,
            message_id  TEXT NOT NULL,
            start       INTEGER NOT NULL,
            end         INTEGER NOT NULL,
            result      BLOB NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (sender, message_id, start)
        ) WITHOUT ROWID;

        -- A sent event keeps the SHA-256 of its body, not the body (the CPR and health data it
        -- carried): the recipient has it, the audit trail says who got what. Rows sent
        -- before this migration are erased here too.
        ALTER TABLE outbox ADD COLUMN body_sha256 BLOB;
        UPDATE outbox SET body_sha256 = sha256_of_body(body), body = x'' WHERE state = 'sent';
        """

    /// The relay sends due receipts before other rows (`Queries.dueOutbox`): this index finds
    /// them without reading past the events a big list has queued.
    static let v4 = """
        CREATE INDEX outbox_due_receipts ON outbox (next_attempt_at, seq) WHERE state = 'pending' AND type = 'receipt';
        """

    /// A pending row's body waits in `outbox_bodies` (keyed by the row's `seq`) and is deleted
    /// when the broker confirms the row, so its pages are freed and reused by the next bodies;
    /// erased in place (v3) they stayed allocated to the outbox, whose rows are only appended
    /// (docs/performance.md, 3b). Every row keeps its body's SHA-256 from the start.
    static let v5 = """
        CREATE TABLE outbox_bodies (
            seq  INTEGER PRIMARY KEY,
            body BLOB NOT NULL
        );
        INSERT INTO outbox_bodies (seq, body) SELECT seq, body FROM outbox WHERE state = 'pending';
        UPDATE outbox SET body_sha256 = sha256_of_body(body) WHERE state = 'pending';
        ALTER TABLE outbox DROP COLUMN body;
        """

    /// One row per consent statement (before: one per direction and purpose it covers, four
    /// for a list entry's consent). `directions` and `purposes` hold the statement's values,
    /// one per line. Rows of earlier versions become one-direction, one-purpose statements
    /// under their ids, so "the latest per direction and purpose" reads as before.
    static let v6 = """
        CREATE TABLE consent_statements (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            pseudonym    TEXT NOT NULL,
            directions   TEXT NOT NULL,
            purposes     TEXT NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('given', 'refused', 'withdrawn')),
            valid_from   TEXT NOT NULL,
            withdrawn_at TEXT,
            reference    TEXT NOT NULL,
            message_id   TEXT,
            recorded_at  TEXT NOT NULL
        );
        INSERT INTO consent_statements
            (id, pseudonym, directions, purposes, state, valid_from, withdrawn_at, reference, message_id, recorded_at)
            SELECT id, pseudonym, direction, purpose, state, valid_from, withdrawn_at, reference, message_id, recorded_at
            FROM consents ORDER BY id;
        DROP TABLE consents;
        CREATE INDEX consent_statements_by_subject ON consent_statements (pseudonym, id);
        """

    /// A cancelled timer is deleted, not kept as a `cancelled` row (`schedule` treats the two
    /// alike; the case history says why it was cancelled): a list citizen's status-unknown
    /// timer was one such row each.
    static let v7 = """
        DELETE FROM timers WHERE state = 'cancelled';
        """

    /// One keyed hash per write instead of one per entry (`AuditChain`): entries written from
    /// v8 on keep empty `prev_hash` and `hash` and are covered, a write's entries together, by
    /// a row of `audit_seals`. Entries written before keep their own hashes, and the first
    /// seal chains to the last of them, so the trail verifies across the upgrade. Seals are
    /// append-only like the entries: a seal names the newest entry and starts after the last seal.
    static let v8 = """
        CREATE TABLE audit_seals (
            last_seq  INTEGER PRIMARY KEY,
            first_seq INTEGER NOT NULL,
            hash      BLOB NOT NULL
        );
        CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END;
        CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: DELETE refused'); END;
        CREATE TRIGGER audit_seals_append_only BEFORE INSERT ON audit_seals
        WHEN NEW.last_seq IS NOT (SELECT MAX(seq) FROM audit)
          OR NEW.first_seq <= (SELECT COALESCE(MAX(last_seq), 0) FROM audit_seals)
          OR NEW.first_seq > NEW.last_seq
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: a seal covers the newest entries, after the last seal'); END;
        """

    /// A confirmed outbox row is deleted, not kept as a `sent` row: its `sent` audit entry
    /// already says who received which message about whom, when and why, and the row's digest,
    /// routing and headers were kept for nothing but the idempotence check of a pending row.
    /// Kept, they grew the store by about 900 bytes per list citizen, forever. The `state`
    /// column and its CHECK stay (SQLite cannot drop a CHECK without rebuilding the table).
    static let v9 = """
        DELETE FROM outbox_bodies WHERE seq IN (SELECT seq FROM outbox WHERE state = 'sent');
        DELETE FROM outbox WHERE state = 'sent';
        """

    /// The audit table, rebuilt compact (`AuditColumns`): the instant as milliseconds, the
    /// pseudonym as 16 bytes, and actor, action, message type and purpose as ids of
    /// `audit_terms`, each text stored once. What the chain hashes is unchanged: a row is read
    /// back into the same texts, so seals and pre-v8 hashes verify across the rebuild.
    /// Columns without a declared type keep what is written (a number stays a number, a text
    /// a text). The audit triggers go with the old table and are created again as they were;
    /// the seals' insert trigger names the audit table, so it is dropped for the rename and
    /// created again too.
    static let v11 = """
        CREATE TABLE audit_terms (
            id   INTEGER PRIMARY KEY,
            term TEXT NOT NULL UNIQUE
        );
        CREATE TRIGGER audit_terms_no_update BEFORE UPDATE ON audit_terms
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END;
        CREATE TRIGGER audit_terms_no_delete BEFORE DELETE ON audit_terms
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: DELETE refused'); END;
        INSERT INTO audit_terms (term)
            SELECT actor FROM audit WHERE typeof(actor) = 'text'
            UNION SELECT action FROM audit WHERE typeof(action) = 'text'
            UNION SELECT message_type FROM audit WHERE typeof(message_type) = 'text'
            UNION SELECT purpose FROM audit WHERE typeof(purpose) = 'text';

        CREATE TABLE audit_compact (
            seq          INTEGER PRIMARY KEY,
            at           NOT NULL,
            actor        NOT NULL,
            action       NOT NULL,
            pseudonym,
            message_type,
            message_id   TEXT,
            purpose      NOT NULL,
            prev_hash    BLOB NOT NULL,
            hash         BLOB NOT NULL
        );
        INSERT INTO audit_compact (seq, at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash)
            SELECT seq, compact_at(at),
                CASE typeof(actor) WHEN 'text' THEN (SELECT id FROM audit_terms WHERE term = actor) ELSE actor END,
                CASE typeof(action) WHEN 'text' THEN (SELECT id FROM audit_terms WHERE term = action) ELSE action END,
                compact_pseudonym(pseudonym),
                CASE typeof(message_type) WHEN 'text' THEN (SELECT id FROM audit_terms WHERE term = message_type) ELSE message_type END,
                message_id,
                CASE typeof(purpose) WHEN 'text' THEN (SELECT id FROM audit_terms WHERE term = purpose) ELSE purpose END,
                prev_hash, hash
            FROM audit ORDER BY seq;
        DROP TRIGGER audit_seals_append_only;
        DROP TRIGGER audit_no_update;
        DROP TRIGGER audit_no_delete;
        DROP TRIGGER audit_append_only;
        DROP TABLE audit;
        ALTER TABLE audit_compact RENAME TO audit;
        CREATE INDEX audit_by_pseudonym ON audit (pseudonym, seq) WHERE pseudonym IS NOT NULL;
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: DELETE refused'); END;
        CREATE TRIGGER audit_append_only BEFORE INSERT ON audit
        WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit)
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: only the next seq may be inserted'); END;
        CREATE TRIGGER audit_seals_append_only BEFORE INSERT ON audit_seals
        WHEN NEW.last_seq IS NOT (SELECT MAX(seq) FROM audit)
          OR NEW.first_seq <= (SELECT COALESCE(MAX(last_seq), 0) FROM audit_seals)
          OR NEW.first_seq > NEW.last_seq
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: a seal covers the newest entries, after the last seal'); END;
        """

    /// Consent statements rebuilt compact: the pseudonym as 16 bytes, the instants as
    /// milliseconds (`CompactColumn`), the directions as digits in the statement's order
    /// (1 municipality-to-region, 2 region-to-municipality: 12 for both, in that order).
    /// A value that is not the store's own form is kept as it was (and reads as before: a
    /// text of direction lines, a timestamp text; anything else is reported).
    static let v12 = """
        CREATE TABLE consent_statements_compact (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            pseudonym    BLOB NOT NULL,
            directions   NOT NULL,
            purposes     TEXT NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('given', 'refused', 'withdrawn')),
            valid_from   NOT NULL,
            withdrawn_at,
            reference    TEXT NOT NULL,
            message_id   TEXT,
            recorded_at  NOT NULL
        );
        INSERT INTO consent_statements_compact
            (id, pseudonym, directions, purposes, state, valid_from, withdrawn_at, reference, message_id, recorded_at)
            SELECT id, compact_pseudonym(pseudonym),
                CASE directions
                    WHEN 'municipality-to-region' THEN 1
                    WHEN 'region-to-municipality' THEN 2
                    WHEN 'municipality-to-region' || char(10) || 'region-to-municipality' THEN 12
                    WHEN 'region-to-municipality' || char(10) || 'municipality-to-region' THEN 21
                    ELSE directions END,
                purposes, state, compact_at(valid_from), compact_at(withdrawn_at), reference, message_id,
                compact_at(recorded_at)
            FROM consent_statements ORDER BY id;
        DROP TABLE consent_statements;
        ALTER TABLE consent_statements_compact RENAME TO consent_statements;
        CREATE INDEX consent_statements_by_subject ON consent_statements (pseudonym, id);
        """

    /// Timers rebuilt compact: keyed by their id without a rowid (the id was stored in the
    /// row and again in its unique index), the instants as milliseconds (`CompactColumn`;
    /// `due_at` always a number, so `due_at <= ?` compares numbers). A value that is not the
    /// store's own form is kept as it was and reported when the timer is read (v15 turns the
    /// due times kept as text into numbers). `timers_due` still orders by (due_at, timer_id):
    /// the key is part of every index of such a table.
    static let v13 = """
        CREATE TABLE timers_compact (
            timer_id   TEXT PRIMARY KEY NOT NULL,
            case_id    TEXT,
            kind       TEXT NOT NULL,
            due_at     NOT NULL,
            payload    BLOB NOT NULL,
            state      TEXT NOT NULL CHECK (state IN ('pending', 'fired', 'cancelled')),
            fired_at,
            created_at NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO timers_compact (timer_id, case_id, kind, due_at, payload, state, fired_at, created_at)
            SELECT timer_id, case_id, kind, compact_at(due_at), payload, state, compact_at(fired_at), compact_at(created_at)
            FROM timers;
        DROP TABLE timers;
        ALTER TABLE timers_compact RENAME TO timers;
        CREATE INDEX timers_due ON timers (due_at, timer_id) WHERE state = 'pending';
        CREATE INDEX timers_by_case ON timers (case_id);
        """

    /// Cases rebuilt compact: the pseudonym as 16 bytes and the two instants as milliseconds
    /// (`CompactColumn`); a value that is not the store's own form is kept as it was and
    /// reported when the case is read. The rowid stays: the two other indexes point at it
    /// (keyed by the 29-byte case id instead, both would grow).
    static let v14 = """
        CREATE TABLE cases_compact (
            case_id      TEXT PRIMARY KEY NOT NULL,
            pseudonym    BLOB NOT NULL,
            workflow     TEXT NOT NULL,
            municipality TEXT NOT NULL,
            clinic       TEXT,
            status       TEXT NOT NULL,
            state        BLOB NOT NULL,
            revision     INTEGER NOT NULL,
            created_at   NOT NULL,
            updated_at   NOT NULL
        );
        INSERT INTO cases_compact (rowid, case_id, pseudonym, workflow, municipality, clinic, status, state, revision, created_at, updated_at)
            SELECT rowid, case_id, compact_pseudonym(pseudonym), workflow, municipality, clinic, status, state, revision,
                compact_at(created_at), compact_at(updated_at)
            FROM cases ORDER BY rowid;
        DROP TABLE cases;
        ALTER TABLE cases_compact RENAME TO cases;
        CREATE INDEX cases_by_pseudonym ON cases (pseudonym);
        CREATE INDEX cases_by_report ON cases (municipality, clinic, status);
        """

    /// v13 kept a due time as text when it had no exact number (an instant before 1970, or a
    /// date like February 30 that the text form accepts): the due query compares numbers, and
    /// never selected those. Each that is a timestamp becomes its number as new timers store it
    /// (`CompactColumn.due`: before 1970 is due at once, as its text was before v13). A text
    /// that is no timestamp at all (edited by hand) stays, is never due, and is reported
    /// when the timer is read.
    static let v15 = """
        UPDATE timers SET due_at = compact_due(due_at) WHERE typeof(due_at) <> 'integer';
        """

    /// Case ids as 12 bytes (`CompactColumn.caseID`: `case-<24 hex>`, the form the daemon
    /// writes; any other id stays text) in `cases`, `timers` and `case_history`, and the
    /// history's instants as milliseconds. A case id was 29 bytes in the case row and its key,
    /// in each history row and its index, in each timer and its index: about 9 times per list
    /// citizen. `cases` and `timers` are updated in place (a blob keeps its form in a TEXT
    /// column); `case_history` is rebuilt, since its `at` column is declared TEXT and would turn
    /// a number back into text. Its AUTOINCREMENT counter is kept.
    static let v18 = """
        UPDATE cases SET case_id = compact_case(case_id) WHERE typeof(case_id) = 'text';
        UPDATE timers SET case_id = compact_case(case_id) WHERE typeof(case_id) = 'text';
        CREATE TABLE case_history_compact (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id     TEXT NOT NULL,
            at          NOT NULL,
            kind        TEXT NOT NULL,
            message_id  TEXT,
            payload     BLOB NOT NULL,
            explanation BLOB
        );
        INSERT INTO case_history_compact (id, case_id, at, kind, message_id, payload, explanation)
            SELECT id, compact_case(case_id), compact_at(at), kind, message_id, payload, explanation
            FROM case_history ORDER BY id;
        UPDATE sqlite_sequence
            SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'case_history'), 0))
            WHERE name = 'case_history_compact';
        DROP TABLE case_history;
        ALTER TABLE case_history_compact RENAME TO case_history;
        CREATE INDEX case_history_by_case ON case_history (case_id, id);
        """

    /// The audit trail's citizens, each pseudonym once (`audit_subjects`), and each entry
    /// naming its citizen by the subject's id: the 16 bytes had been in every entry of the
    /// citizen and again in `audit_by_pseudonym`. The entries written before are converted
    /// (the update triggers are dropped for it and created again as they were). What the chain
    /// hashes is the pseudonym's text, read back through the subject, so seals verify across
    /// the change; `audit_subjects` is append-only like the trail, and an edited or removed
    /// subject is found by `audit verify` at the first entry that names it.
    static let v20 = """
        CREATE TABLE audit_subjects (
            id        INTEGER PRIMARY KEY,
            pseudonym BLOB NOT NULL UNIQUE
        );
        CREATE TRIGGER audit_subjects_no_update BEFORE UPDATE ON audit_subjects
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END;
        CREATE TRIGGER audit_subjects_no_delete BEFORE DELETE ON audit_subjects
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: DELETE refused'); END;
        INSERT INTO audit_subjects (pseudonym)
            SELECT pseudonym FROM audit WHERE typeof(pseudonym) = 'blob' AND length(pseudonym) = 16
            GROUP BY pseudonym ORDER BY MIN(seq);
        DROP TRIGGER audit_no_update;
        UPDATE audit SET pseudonym = (SELECT id FROM audit_subjects WHERE audit_subjects.pseudonym = audit.pseudonym)
            WHERE typeof(pseudonym) = 'blob' AND length(pseudonym) = 16;
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE refused'); END;
        """

    /// A case's status as the id of its name in the new `case_statuses` (the 37-byte names
    /// such as `workflowA.referredToCentralVisitation` were in every case row); a consent
    /// statement's purposes as one digit each (`Queries.ConsentPurposes`), where they were their
    /// names, one per line; a list member's pseudonym as 16 bytes. `cases` and
    /// `consent_statements` are rebuilt (their TEXT columns would turn numbers back into text;
    /// the rowids, ids and AUTOINCREMENT counter stay), `list_members` is updated in place.
    static let v21 = """
        CREATE TABLE case_statuses (
            id     INTEGER PRIMARY KEY,
            status TEXT NOT NULL UNIQUE
        );
        INSERT INTO case_statuses (status) SELECT DISTINCT status FROM cases ORDER BY status;
        CREATE TABLE cases_compact (
            case_id      TEXT PRIMARY KEY NOT NULL,
            pseudonym    BLOB NOT NULL,
            workflow     TEXT NOT NULL,
            municipality TEXT NOT NULL,
            clinic       TEXT,
            status       INTEGER NOT NULL REFERENCES case_statuses (id),
            state        BLOB NOT NULL,
            revision     INTEGER NOT NULL,
            created_at   NOT NULL,
            updated_at   NOT NULL
        );
        INSERT INTO cases_compact (rowid, case_id, pseudonym, workflow, municipality, clinic, status, state, revision, created_at, updated_at)
            SELECT rowid, case_id, pseudonym, workflow, municipality, clinic,
                (SELECT id FROM case_statuses WHERE case_statuses.status = cases.status), state, revision, created_at, updated_at
            FROM cases ORDER BY rowid;
        DROP TABLE cases;
        ALTER TABLE cases_compact RENAME TO cases;
        CREATE INDEX cases_by_pseudonym ON cases (pseudonym);

        CREATE TABLE consent_statements_compact (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            pseudonym    BLOB NOT NULL,
            directions   NOT NULL,
            purposes     NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('given', 'refused', 'withdrawn')),
            valid_from   NOT NULL,
            withdrawn_at,
            reference    TEXT NOT NULL,
            message_id   TEXT,
            recorded_at  NOT NULL
        );
        INSERT INTO consent_statements_compact
            (id, pseudonym, directions, purposes, state, valid_from, withdrawn_at, reference, message_id, recorded_at)
            SELECT id, pseudonym, directions, compact_purposes(purposes), state, valid_from, withdrawn_at, reference,
                message_id, recorded_at
            FROM consent_statements ORDER BY id;
        UPDATE sqlite_sequence
            SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'consent_statements'), 0))
            WHERE name = 'consent_statements_compact';
        DROP TABLE consent_statements;
        ALTER TABLE consent_statements_compact RENAME TO consent_statements;
        CREATE INDEX consent_statements_by_subject ON consent_statements (pseudonym, id);

        UPDATE list_members SET pseudonym = compact_pseudonym(pseudonym) WHERE typeof(pseudonym) = 'text';
        """

    /// `list_members` rebuilt with the side as a number (1 municipality, 2 clinic, where it was
    /// the word) and the list's date as its day number (`CompactColumn.day`; a text that is no
    /// date stays as it was). `cases_by_pseudonym` goes: only an operator's
    /// `cases show` by CPR or pseudonym asks for a citizen's cases, and it reads the table
    /// instead (a case's id is its key); the index held 16 bytes and a rowid per case.
    static let v22 = """
        CREATE TABLE list_members_compact (
            side         INTEGER NOT NULL CHECK (side IN (1, 2)),
            municipality TEXT NOT NULL,
            clinic       TEXT NOT NULL,
            list_kind    TEXT NOT NULL,
            pseudonym    BLOB NOT NULL,
            as_of        NOT NULL,
            message_id   TEXT NOT NULL,
            PRIMARY KEY (side, municipality, clinic, list_kind, pseudonym)
        ) WITHOUT ROWID;
        INSERT INTO list_members_compact (side, municipality, clinic, list_kind, pseudonym, as_of, message_id)
            SELECT CASE side WHEN 'municipality' THEN 1 ELSE 2 END, municipality, clinic, list_kind, pseudonym,
                compact_day(as_of), message_id
            FROM list_members ORDER BY 1, 2, 3, 4, 5;
        DROP TABLE list_members;
        ALTER TABLE list_members_compact RENAME TO list_members;
        DROP INDEX IF EXISTS cases_by_pseudonym;
        """

    /// Timers rebuilt by their parts (`TimerKey`): a derived id `timer/<case>/<kind>/<day>`
    /// is kept as its day, any other id as its text (`timer_id`, NULL otherwise), and the
    /// kind as the id of its name in `timer_kinds`, so the row and its indexes no longer hold
    /// the 67-byte id and the 20-byte kind. `seq` keeps the order v13 gave timers due at the
    /// same instant (by id) for the timers migrated; a timer scheduled later comes after them
    /// (due order is by `due_at`, then `seq`).
    static let v16 = """
        CREATE TABLE timer_kinds (
            id   INTEGER PRIMARY KEY,
            kind TEXT NOT NULL UNIQUE
        );
        INSERT INTO timer_kinds (kind) SELECT DISTINCT kind FROM timers ORDER BY kind;
        CREATE TABLE timers_by_parts (
            seq        INTEGER PRIMARY KEY,
            case_id    TEXT,
            kind       INTEGER NOT NULL REFERENCES timer_kinds (id),
            day        INTEGER,
            timer_id   TEXT,
            due_at     NOT NULL,
            payload    BLOB NOT NULL,
            state      TEXT NOT NULL CHECK (state IN ('pending', 'fired', 'cancelled')),
            fired_at,
            created_at NOT NULL,
            CHECK ((day IS NULL) <> (timer_id IS NULL))
        );
        INSERT INTO timers_by_parts (case_id, kind, day, timer_id, due_at, payload, state, fired_at, created_at)
            SELECT case_id, (SELECT id FROM timer_kinds WHERE timer_kinds.kind = t.kind), day,
                CASE WHEN day IS NULL THEN timer_id END, due_at, payload, state, fired_at, created_at
            FROM (SELECT *, timer_day(timer_id, case_id, kind) AS day FROM timers) AS t
            ORDER BY due_at, timer_id;
        DROP TABLE timers;
        ALTER TABLE timers_by_parts RENAME TO timers;
        CREATE UNIQUE INDEX timers_by_case ON timers (case_id, kind, day);
        CREATE UNIQUE INDEX timers_by_id ON timers (timer_id) WHERE timer_id IS NOT NULL;
        CREATE INDEX timers_due ON timers (due_at) WHERE state = 'pending';
        """
}
