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
}
