import Foundation
import GRDB
import Testing

@testable import Store

/// Issue 15, "consent: one row per statement": a statement covering both directions and
/// both purposes is one row, read back as its four records; rows of earlier versions keep
/// their meaning across the v6 migration.
@Suite("Consent: one row per statement")
struct ConsentStatementTests {
    static let purposes = ["course-overview", "treatment-dialogue"]

    @Test("a statement for two directions and two purposes is one row and reads as four records; a later one wins per direction and purpose")
    func oneRowPerStatement() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            _ = try tx.recordConsent(ConsentStatement(
                pseudonym: pA, directions: [.municipalityToRegion, .regionToMunicipality], purposes: Self.purposes,
                state: .given, validFrom: t(10), reference: "decl-1", recordedAt: t(10), messageID: "m1"))
            // Withdrawn later, for one direction only.
            _ = try tx.recordConsent(ConsentStatement(
                pseudonym: pA, directions: [.regionToMunicipality], purposes: Self.purposes,
                state: .withdrawn, validFrom: t(20), withdrawnAt: t(20), reference: "decl-2", recordedAt: t(20), messageID: "m2"))
        }
        let rows = try DatabaseQueue(path: scratch.dbPath).read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM consent_statements")
        }
        #expect(rows == 2)
        let all = try store.consents(pseudonym: pA)
        #expect(all.count == 6)
        #expect(Set(all.prefix(4).map(\.id)).count == 1 && all.prefix(4).allSatisfy { $0.state == .given && $0.messageID == "m1" })
        let current = try store.currentConsents(pseudonym: pA)
        #expect(current.map { "\($0.direction.rawValue) \($0.purpose) \($0.state)" } == [
            "municipality-to-region course-overview given", "municipality-to-region treatment-dialogue given",
            "region-to-municipality course-overview withdrawn", "region-to-municipality treatment-dialogue withdrawn",
        ])
        #expect(try store.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: "treatment-dialogue", at: t(30)))
        #expect(try !store.consentAllows(pseudonym: pA, direction: .regionToMunicipality, purpose: "treatment-dialogue", at: t(30)))
        #expect(try !store.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: "other", at: t(30)))
        #expect(try store.consents(pseudonym: pB).isEmpty)
    }

    @Test("a statement without directions or purposes, or with a purpose holding a line break, is refused and writes nothing")
    func malformedStatementsAreRefused() throws {
        let store = try Scratch().open()
        for statement in [
            ConsentStatement(pseudonym: pA, directions: [], purposes: ["p"], state: .given, validFrom: t(0), reference: "r", recordedAt: t(0)),
            ConsentStatement(pseudonym: pA, directions: [.municipalityToRegion], purposes: [], state: .given, validFrom: t(0), reference: "r", recordedAt: t(0)),
            ConsentStatement(pseudonym: pA, directions: [.municipalityToRegion], purposes: ["a\nb"], state: .given, validFrom: t(0), reference: "r", recordedAt: t(0)),
        ] {
            #expect(storeErrorCode { try store.write { tx in try tx.recordConsent(statement) } } == .encoding)
        }
        #expect(try store.consents(pseudonym: pA).isEmpty)
    }

    @Test("v6 turns each consent row of v5 into a one-direction, one-purpose statement under its id: the latest per direction and purpose stays the latest")
    func migrationKeepsEveryRecord() throws {
        let scratch = try scratchStore(at: "v5-outbox-bodies-apart") { db in
            for (direction, purpose, state, at) in [
                ("municipality-to-region", "p, with a comma", "given", "2026-11-01T00:00:00.000Z"),
                ("region-to-municipality", "p, with a comma", "refused", "2026-11-01T00:00:00.000Z"),
                ("municipality-to-region", "p, with a comma", "withdrawn", "2026-11-02T00:00:00.000Z"),
            ] {
                try db.execute(
                    sql: """
                        INSERT INTO consents (pseudonym, direction, purpose, state, valid_from, reference, recorded_at)
                        VALUES (?, ?, ?, ?, ?, 'ref', ?)
                        """,
                    arguments: [pA.hex, direction, purpose, state, at, at])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.consents(pseudonym: pA).map { "\($0.id) \($0.direction.rawValue) \($0.state)" } == [
            "1 municipality-to-region given", "2 region-to-municipality refused", "3 municipality-to-region withdrawn",
        ])
        #expect(try store.currentConsents(pseudonym: pA).map(\.state) == [.withdrawn, .refused])
        // Ids go on after the migrated ones.
        let next = try store.write { tx in
            try tx.recordConsent(ConsentRecord(
                pseudonym: pA, direction: .regionToMunicipality, purpose: "p, with a comma", state: .given,
                validFrom: t(0), reference: "r", recordedAt: t(0)))
        }
        #expect(next == 4)
    }
    @Test("v12 keeps every statement (both orders of directions, a withdrawal) and stores it compact; a value not in the store's form stays and is reported")
    func compactMigration() throws {
        let lines = "municipality-to-region\nregion-to-municipality"
        let scratch = try scratchStore(at: "v11-audit-compact") { db in
            for (p, directions, state, withdrawn) in [
                (pA.hex, lines, "given", nil as String?),
                (pA.hex, "region-to-municipality\nmunicipality-to-region", "withdrawn", "2026-11-03T10:00:00.123Z"),
                (pB.hex, "region-to-municipality", "refused", nil),
                (pB.hex, "sideways", "given", nil),
            ] {
                try db.execute(
                    sql: """
                        INSERT INTO consent_statements (pseudonym, directions, purposes, state, valid_from, withdrawn_at, reference, message_id, recorded_at)
                        VALUES (?, ?, 'course-overview' || char(10) || 'treatment-dialogue', ?, '2026-11-01T00:00:00.000Z', ?, 'ref', 'm', '2026-11-02T00:00:00.000Z')
                        """,
                    arguments: [p, directions, state, withdrawn])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        let a = try store.consents(pseudonym: pA)
        #expect(a.map { "\($0.id) \($0.direction.rawValue) \($0.purpose) \($0.state)" } == [
            "1 municipality-to-region course-overview given", "1 municipality-to-region treatment-dialogue given",
            "1 region-to-municipality course-overview given", "1 region-to-municipality treatment-dialogue given",
            "2 region-to-municipality course-overview withdrawn", "2 region-to-municipality treatment-dialogue withdrawn",
            "2 municipality-to-region course-overview withdrawn", "2 municipality-to-region treatment-dialogue withdrawn",
        ])
        #expect(a.allSatisfy { $0.validFrom == Timestamp.date("2026-11-01T00:00:00.000Z") && $0.recordedAt == Timestamp.date("2026-11-02T00:00:00.000Z") })
        #expect(a[4].withdrawnAt == Timestamp.date("2026-11-03T10:00:00.123Z") && a[0].withdrawnAt == nil)
        #expect(try store.rawCount("SELECT COUNT(*) FROM consent_statements WHERE typeof(pseudonym) = 'blob' AND length(pseudonym) = 16 AND typeof(valid_from) = 'integer' AND typeof(recorded_at) = 'integer'") == 4)
        #expect(try store.rawCount("SELECT COUNT(*) FROM consent_statements WHERE directions IN (12, 21, 2)") == 3)
        // The row with a direction ddrouter never writes kept it, and is reported when read.
        #expect(try store.rawCount("SELECT COUNT(*) FROM consent_statements WHERE directions = 'sideways'") == 1)
        #expect(storeErrorCode { try store.consents(pseudonym: pB) } == .encoding)
        // Written after: compact too, and read back the same.
        let next = try store.write { tx in
            try tx.recordConsent(ConsentStatement(
                pseudonym: pA, directions: [.regionToMunicipality, .municipalityToRegion], purposes: ["course-overview"],
                state: .withdrawn, validFrom: t(1), withdrawnAt: t(2), reference: "r2", recordedAt: t(3), messageID: nil))
        }
        #expect(next == 5)
        let written = try store.consents(pseudonym: pA).filter { $0.id == 5 }
        #expect(written.map(\.direction) == [.regionToMunicipality, .municipalityToRegion])
        #expect(written.allSatisfy { $0.withdrawnAt == t(2) && $0.validFrom == t(1) && $0.recordedAt == t(3) && $0.messageID == nil })
        #expect(try store.rawCount("SELECT COUNT(*) FROM consent_statements WHERE id = 5 AND directions = 21 AND typeof(withdrawn_at) = 'integer'") == 1)
    }
}
