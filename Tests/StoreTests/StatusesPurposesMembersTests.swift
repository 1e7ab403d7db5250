import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Case statuses by id, consent purposes as digits, list members' pseudonyms as bytes (v21)")
struct StatusesPurposesMembersTests {
    @Test("the contract's purposes are digits in the statement's order; any other purpose keeps the lines")
    func purposes() {
        #expect(Queries.ConsentPurposes.stored(["treatmentDialogue", "courseOverview"]) == 12.databaseValue)
        #expect(Queries.ConsentPurposes.stored(["courseOverview", "treatmentDialogue"]) == 21.databaseValue)
        #expect(Queries.ConsentPurposes.stored(["courseOverview"]) == 2.databaseValue)
        #expect(Queries.ConsentPurposes.stored(["courseOverview", "research"]) == "courseOverview\nresearch".databaseValue)
        for purposes in [["treatmentDialogue"], ["courseOverview", "treatmentDialogue"], ["research"], ["courseOverview", "research"]] {
            #expect(Queries.ConsentPurposes.read(Queries.ConsentPurposes.stored(purposes)) == purposes)
        }
        for bad: DatabaseValue in [0.databaseValue, 13.databaseValue, (-1).databaseValue, "".databaseValue, Data([1]).databaseValue] {
            #expect(Queries.ConsentPurposes.read(bad) == nil, "\(bad)")
        }
    }

    @Test("v21 keeps every case's status, every statement's purposes and every list member; new rows are compact too")
    func migration() throws {
        let scratch = try scratchStore(at: "v20-audit-subjects") { db in
            for (id, status, byte) in [("c1", "workflowA.inAssessment", 1), ("c2", "workflowA.referredToCentralVisitation", 2),
                                       ("c3", "workflowA.inAssessment", 3)] as [(String, String, UInt8)] {
                try db.execute(
                    sql: """
                        INSERT INTO cases (case_id, pseudonym, workflow, municipality, clinic, status, state, revision, created_at, updated_at)
                        VALUES (?, ?, 'A', '851', 'amb-syd', ?, x'7b7d', 1, 1790000000000, 1790000001000)
                        """,
                    arguments: [id, Data(repeating: byte, count: 16), status])
            }
            for purposes in ["treatmentDialogue\ncourseOverview", "courseOverview", "research\ncourseOverview"] {
                try db.execute(
                    sql: """
                        INSERT INTO consent_statements (pseudonym, directions, purposes, state, valid_from, reference, message_id, recorded_at)
                        VALUES (?, 12, ?, 'given', 1790000000000, 'REF-1', 'm-1', 1790000000000)
                        """,
                    arguments: [CompactColumn.pseudonym(pA), purposes])
            }
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = 30 WHERE name = 'consent_statements'")
            try db.execute(
                sql: "INSERT INTO list_members VALUES ('municipality', '851', 'amb-syd', 'list-1', ?, '2026-11-23', 'm-1')",
                arguments: [pB.hex])
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.case(id: "c2")?.status == "workflowA.referredToCentralVisitation")
        #expect(try store.cases(municipality: nil, clinic: nil, status: "workflowA.inAssessment", limit: 10).map(\.caseID) == ["c1", "c3"])
        #expect(try store.caseCounts().map { "\($0.status) \($0.count)" } == [
            "workflowA.inAssessment 2", "workflowA.referredToCentralVisitation 1",
        ])
        #expect(try store.rawCount("SELECT COUNT(*) FROM case_statuses") == 2)
        #expect(try store.rawCount("SELECT COUNT(*) FROM cases WHERE typeof(status) = 'integer'") == 3)
        let consents = try store.consents(pseudonym: pA)
        #expect(consents.count == 10)
        #expect(Set(consents.map(\.purpose)) == ["treatmentDialogue", "courseOverview", "research"])
        #expect(try store.rawCount("SELECT COUNT(*) FROM consent_statements WHERE typeof(purposes) = 'integer'") == 2)
        #expect(try store.rawCount("SELECT COUNT(*) FROM consent_statements WHERE purposes = 'research' || char(10) || 'courseOverview'") == 1)
        #expect(try store.rawCount("SELECT COUNT(*) FROM list_members WHERE typeof(pseudonym) = 'blob' AND length(pseudonym) = 16") == 1)

        let next = try store.write { tx in
            _ = try tx.upsertCase(CaseRecord(
                caseID: "c4", pseudonym: pA, workflow: "B", municipality: "851", clinic: nil, status: "workflowB.new",
                state: Data("{}".utf8), updatedAt: t(0)))
            _ = try tx.upsertCase(CaseRecord(
                caseID: "c1", pseudonym: Pseudonym(hex: String(repeating: "01", count: 16))!, workflow: "A", municipality: "851",
                clinic: "amb-syd", status: "workflowA.referredToCentralVisitation", state: Data("{}".utf8), updatedAt: t(1)))
            try tx.recordListMember(ListMember(
                side: .clinic, municipality: "851", clinic: "amb-syd", listKind: "list-1", pseudonym: pA, asOf: "2026-11-24", messageID: "m-2"))
            return try tx.recordConsent(ConsentStatement(
                pseudonym: pB, directions: [.regionToMunicipality], purposes: ["courseOverview", "treatmentDialogue"], state: .given,
                validFrom: t(0), withdrawnAt: nil, reference: "REF-2", recordedAt: t(0), messageID: nil))
        }
        #expect(next == 31)
        #expect(try store.case(id: "c4")?.status == "workflowB.new" && store.case(id: "c1")?.status == "workflowA.referredToCentralVisitation")
        #expect(try store.rawCount("SELECT COUNT(*) FROM case_statuses") == 3)
        #expect(try store.consents(pseudonym: pB).map(\.purpose) == ["courseOverview", "treatmentDialogue"])
        #expect(try store.rawCount("SELECT purposes FROM consent_statements WHERE id = 31") == 21)
        try store.write { (tx) throws in
            #expect(try tx.listMembers(side: .municipality, municipality: "851", clinics: ["amb-syd"], listKind: "list-1").map(\.pseudonym) == [pB])
            #expect(try tx.listMembers(side: .clinic, municipality: "851", clinics: ["amb-syd"], listKind: "list-1").map(\.pseudonym) == [pA])
        }
    }

    @Test("v22 keeps every list member with its side and date; a citizen's cases are found without the pseudonym index")
    func listMembersAndCasesByPseudonym() throws {
        let scratch = try scratchStore(at: "v21-statuses-purposes-members-compact") { db in
            for (side, pseudonym, asOf) in [("municipality", pA, "2026-11-23"), ("clinic", pA, "2026-11-24"), ("municipality", pB, "soon")] {
                try db.execute(
                    sql: "INSERT INTO list_members VALUES (?, '851', 'amb-syd', 'list-1', ?, ?, 'm-1')",
                    arguments: [side, CompactColumn.pseudonym(pseudonym), asOf])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.rawCount("SELECT COUNT(*) FROM list_members WHERE typeof(side) = 'integer'") == 3)
        #expect(try store.rawCount("SELECT COUNT(*) FROM list_members WHERE typeof(as_of) = 'integer'") == 2)
        #expect(try store.rawCount("SELECT COUNT(*) FROM sqlite_master WHERE name = 'cases_by_pseudonym'") == 0)
        try store.write { (tx) throws in
            let clinicSide = try tx.listMembers(side: .clinic, municipality: "851", clinics: ["amb-syd"], listKind: "list-1")
            #expect(clinicSide.map { "\($0.pseudonym == pA) \($0.asOf)" } == ["true 2026-11-24"])
            // A text that is no date stays text and reads as it was.
            #expect(try tx.listMembers(side: .municipality, municipality: "851", clinics: ["amb-syd"], listKind: "list-1")
                .map { "\($0.pseudonym == pA) \($0.asOf)" }.sorted() == ["false soon", "true 2026-11-23"])
            #expect(try tx.listClinics(side: .clinic, municipality: "851", listKind: "list-1") == ["amb-syd"])
            try tx.recordListMember(ListMember(
                side: .clinic, municipality: "851", clinic: "amb-nord", listKind: "list-1", pseudonym: pB, asOf: "2026-12-01", messageID: "m-2"))
            _ = try tx.upsertCase(CaseRecord(
                caseID: "case-\(pB.hex.prefix(24))", pseudonym: pB, workflow: "A", municipality: "851", clinic: nil, status: "s",
                state: Data("{}".utf8), updatedAt: t(0)))
        }
        #expect(try store.rawCount("SELECT side FROM list_members WHERE clinic = 'amb-nord'") == 2)
        #expect(try store.rawCount("SELECT as_of FROM list_members WHERE clinic = 'amb-nord'") == 20_788)
        #expect(try store.viewCases(pseudonym: pB, viewer: "operator", purpose: "test", at: t(1)).map(\.caseID) == ["case-\(pB.hex.prefix(24))"])
        #expect(try store.viewCases(pseudonym: pA, viewer: "operator", purpose: "test", at: t(1)).isEmpty)
    }
}
