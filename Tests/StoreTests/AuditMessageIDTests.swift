import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Audit message ids coded from an earlier entry's (v17)")
struct AuditMessageIDTests {
    static func record(_ i: Int, _ messageID: String?, pseudonym: Pseudonym? = pA) -> AuditRecord {
        AuditRecord(
            at: t(i), actor: "municipality.851", action: .sent, pseudonym: pseudonym,
            messageType: "contact-status-request", messageID: messageID, purpose: "treatment-dialogue")
    }

    static func listID(_ entry: Int, _ kind: String = "contact-status-request") -> String {
        "municipality.851/m-851-2026-11#\(entry)/0-\(kind)"
    }

    @Test("a coding spells exactly the id it was made for, against any anchor; one that saves too little is not made")
    func roundTrip() throws {
        let ids = [
            Self.listID(6289), Self.listID(6290), Self.listID(16290), Self.listID(6290, "cv-referral"),
            "journal.journal-rn/status-65#249/0-cv-referral", "ærø/kommune-æøå#12/0-henvisning", "ærø/kommune-æøå#13/0-henvisning",
            "", "x", "bench-list-lq0-0",
        ]
        for text in ids {
            for anchor in ids {
                let coded = AuditMessageIDs.code(Array(text.utf8), seq: 10, anchors: [(Int64(7), Array(anchor.utf8))])
                if let coded {
                    #expect(coded.count + AuditMessageIDs.minimumSaving <= text.utf8.count)
                    let decoded = AuditMessageIDs.decode(coded, seq: 10) { $0 == 7 ? Array(anchor.utf8) : nil }
                    #expect(decoded == text, "\(text) from \(anchor)")
                    // Read against another anchor text, it is not that id.
                    #expect(AuditMessageIDs.decode(coded, seq: 10) { _ in Array("other".utf8) } != text)
                }
            }
        }
        let next = try #require(AuditMessageIDs.code(Array(Self.listID(6290).utf8), seq: 10, anchors: [(Int64(9), Array(Self.listID(6289).utf8))]))
        #expect(next.count <= 5, "one byte apart: distance, prefix, suffix and the byte")
        #expect(AuditMessageIDs.code(Array("bench-list-lq0-0".utf8), seq: 10, anchors: [(Int64(9), Array(Self.listID(1).utf8))]) == nil)
        // The best of several anchors, and never a later one.
        let anchors: [(seq: Int64, bytes: [UInt8])] = [(3, Array(Self.listID(6289).utf8)), (5, Array("unrelated".utf8))]
        #expect(AuditMessageIDs.code(Array(Self.listID(6289).utf8), seq: 6, anchors: anchors)?.first == 3)
        #expect(AuditMessageIDs.code(Array(Self.listID(6289).utf8), seq: 3, anchors: anchors) == nil)
        // Damaged codings are not read.
        for blob: [UInt8] in [[], [0, 0, 0], [0x80], [11, 0, 0], [1, 200, 0], [1, 0, 200], [1, 30, 30], [1, 0, 0, 0xFF]] {
            #expect(AuditMessageIDs.decode(blob, seq: 10) { _ in Array(Self.listID(1).utf8) } == nil, "\(blob)")
        }
    }

    @Test("a list's entries keep their ids coded; every read gives the texts back and the trail verifies")
    func storedCoded() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        var written: [String?] = []
        try store.write { tx in
            for i in 0..<40 {
                let id: String? = i % 10 == 9 ? nil : i % 4 == 3 ? "bench-list-lq0-0" : Self.listID(6000 + i)
                written.append(id)
                try tx.appendAudit(Self.record(i, id, pseudonym: i % 2 == 0 ? pA : pB))
            }
        }
        try store.write { tx in try tx.appendAudit(Self.record(50, Self.listID(6000))) }
        written.append(Self.listID(6000))
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE typeof(message_id) = 'blob'") >= 25)
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE typeof(message_id) = 'null'") == 4)
        // The next transaction starts its own anchors: its first id is text.
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE seq = 41 AND typeof(message_id) = 'text'") == 1)
        #expect(try store.verifyAudit() == .ok(count: 41, head: try store.auditHead()))
        #expect(try store.auditEntries(afterSeq: 0, limit: 100).map(\.messageID) == written)
        // A citizen's entries are read apart from their anchors, which come from the table.
        let forB = try store.auditEntries(pseudonym: pB)
        #expect(forB.map(\.messageID) == written.enumerated().filter { $0.offset % 2 == 1 && $0.offset < 40 }.map(\.element))
    }

    @Test("an anchor or a coded id changed by hand is found by audit verify; a coding that names no text id is malformed")
    func tampering() throws {
        func fixture() throws -> (Scratch, Store, anchor: Int64, coded: Int64) {
            let scratch = Scratch()
            let store = try scratch.open()
            try store.write { tx in
                for i in 1...4 { try tx.appendAudit(Self.record(i, Self.listID(100 + i))) }
            }
            let anchor = try store.rawCount("SELECT MIN(seq) FROM audit WHERE typeof(message_id) = 'text'")
            let coded = try store.rawCount("SELECT MAX(seq) FROM audit WHERE typeof(message_id) = 'blob'")
            try store.executeRaw("DROP TRIGGER audit_no_update")
            return (scratch, store, Int64(anchor), Int64(coded))
        }
        do {
            let (_, store, anchor, _) = try fixture()
            try store.executeRaw("UPDATE audit SET message_id = '\(Self.listID(999))' WHERE seq = \(anchor)")
            #expect(try store.verifyAudit() == .broken(seq: 1, reason: .sealMismatch(last: 4)))
        }
        do {
            // Entry 1 is the text anchor of entries 2-4: entry 4 now says "3", coded from entry 1.
            let (_, store, anchor, coded) = try fixture()
            #expect(anchor == 1 && coded == 4)
            try store.executeRaw("UPDATE audit SET message_id = x'03000033' WHERE seq = \(coded)")
            #expect(try store.verifyAudit() == .broken(seq: 1, reason: .sealMismatch(last: 4)))
        }
        do {
            // Coded from a coded id (the entry before is one): not a form ddrouter writes.
            let (_, store, _, coded) = try fixture()
            try store.executeRaw("UPDATE audit SET message_id = x'010000' WHERE seq = \(coded)")
            #expect(try store.verifyAudit() == .broken(seq: coded, reason: .malformed(column: "message_id")))
        }
    }

    @Test("a key rotation keeps coded ids coded; an id coded from a rewritten case id is written out as its text")
    func rotation() throws {
        let scratch = Scratch()
        let oldPseudonymizer = try Pseudonymizer(key: Data(repeating: 1, count: 32))
        let cpr = "0101701234"
        let old = try oldPseudonymizer.pseudonym(forCPR: cpr)
        let oldCase = "case-\(old.hex.prefix(24))"
        let newMaster = Data(repeating: 0x5A, count: 32)
        let ids = [oldCase, "\(oldCase)/explain", Self.listID(1), Self.listID(2), Self.listID(3)]
        do {
            let store = try scratch.open()
            try store.write { tx in
                _ = try tx.upsertCase(CaseRecord(
                    caseID: oldCase, pseudonym: old, workflow: "A", municipality: "851", clinic: nil,
                    status: "s", state: Data("{}".utf8), updatedAt: t(0)))
                for (i, id) in ids.enumerated() { try tx.appendAudit(Self.record(i, id, pseudonym: old)) }
            }
            #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE typeof(message_id) = 'blob'") == 3)
            let report = try store.rotateKey(
                newMasterKey: newMaster, oldPseudonymizer: oldPseudonymizer, actor: "operator", purpose: "test",
                at: t(100), citizen: { _ in cpr }, caseID: { "case-\($0.hex.prefix(24))" })
            #expect(report.citizens == 1)
            try store.close()
        }
        let store = try scratch.open(key: try StoreKeys(master: newMaster).auditKey)
        #expect(try store.verifyAudit() == .ok(count: 6, head: try store.auditHead()))
        let newPseudonym = try Pseudonymizer(key: try StoreKeys(master: newMaster).pseudonymKey).pseudonym(forCPR: cpr)
        let newCase = "case-\(newPseudonym.hex.prefix(24))"
        // The citizen's subject is re-keyed once; its entries keep the subject's id.
        #expect(try store.auditEntries(pseudonym: newPseudonym).map(\.seq) == [1, 2, 3, 4, 5])
        #expect(try store.auditEntries(pseudonym: old).isEmpty)
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit_subjects") == 1)
        #expect(try store.auditEntries(afterSeq: 0, limit: 5).map(\.messageID) == [newCase, "\(oldCase)/explain"] + ids.dropFirst(2))
        #expect(try store.rawCount("SELECT COUNT(*) FROM audit WHERE seq <= 5 AND typeof(message_id) = 'blob'") == 2)
        // The case moved to its new id, kept as 12 bytes (v18).
        #expect(try store.case(id: newCase)?.pseudonym != nil && store.case(id: oldCase) == nil)
        #expect(try store.rawCount("SELECT COUNT(*) FROM cases WHERE typeof(case_id) = 'blob'") == 1)
    }
}
