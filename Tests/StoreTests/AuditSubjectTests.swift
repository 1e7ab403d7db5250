import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Audit subjects: each citizen's pseudonym once, entries name its id (v20)")
struct AuditSubjectTests {
    @Test("entries name their citizen by subject id; a citizen's entries are found and the trail verifies")
    func subjects() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            for i in 1...6 { try tx.appendAudit(audit(i, pseudonym: i % 3 == 0 ? nil : i % 2 == 0 ? pB : pA)) }
        }
        try store.write { tx in try tx.appendAudit(audit(7, pseudonym: pB)) }
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_subjects") == 2)
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE typeof(pseudonym) = 'integer'") == 5)
        #expect(try store.auditEntries(pseudonym: pA).map(\.seq) == [1, 5])
        #expect(try store.auditEntries(pseudonym: pB).map(\.seq) == [2, 4, 7])
        #expect(try store.auditEntries(afterSeq: 0, limit: 10).map(\.pseudonym) == [pA, pB, nil, pB, pA, nil, pB])
        #expect(try store.verifyAudit() == .ok(count: 7, head: try store.auditHead()))
    }

    @Test("a subject added by a write that rolls back is gone with it; the next write adds it again")
    func rollback() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        #expect(throws: Boom.self) {
            try store.write { tx in
                try tx.appendAudit(audit(1, pseudonym: pA))
                throw Boom()
            }
        }
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_subjects") == 0)
        try store.write { tx in try tx.appendAudit(audit(2, pseudonym: pA)) }
        #expect(try store.auditEntries(pseudonym: pA).map(\.seq) == [1])
        #expect(try store.verifyAudit().isOK)
    }

    @Test("subjects are append-only; an edited subject breaks its entries' seal, a removed one makes them malformed")
    func tampering() throws {
        func fixture() throws -> (Scratch, Store) {
            let scratch = Scratch()
            let store = try scratch.open()
            try store.write { tx in
                for i in 1...3 { try tx.appendAudit(audit(i, pseudonym: i == 2 ? pB : pA)) }
            }
            return (scratch, store)
        }
        do {
            let (_, store) = try fixture()
            #expect(storeErrorCode { try store.executeRaw("UPDATE audit_subjects SET pseudonym = x'00'") } == .constraint)
            #expect(storeErrorCode { try store.executeRaw("DELETE FROM audit_subjects") } == .constraint)
            #expect(try store.verifyAudit().isOK)
        }
        do {
            let (_, store) = try fixture()
            try store.executeRaw("DROP TRIGGER audit_subjects_no_update")
            try store.executeRaw("UPDATE audit_subjects SET pseudonym = x'ffeeddccbbaa99887766554433221100' WHERE pseudonym = x'\(pA.hex)'")
            #expect(try store.verifyAudit() == .broken(seq: 1, reason: .sealMismatch(last: 3)))
        }
        do {
            let (_, store) = try fixture()
            try store.executeRaw("DROP TRIGGER audit_subjects_no_delete")
            try store.executeRaw("DELETE FROM audit_subjects WHERE pseudonym = x'\(pB.hex)'")
            #expect(try store.verifyAudit() == .broken(seq: 2, reason: .malformed(column: "pseudonym")))
        }
    }
}
