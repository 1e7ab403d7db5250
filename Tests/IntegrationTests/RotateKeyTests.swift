import Foundation
import Store
import Testing

/// `ddrouter rotate-key` run as an operator would (no broker): a store written with the
/// configured key A is re-keyed to key B.
@Suite("Rotate key (store)", .serialized)
struct RotateKeyTests {
    static let cprs = [AdminCommandTests.cprA, AdminCommandTests.cprB, AdminCommandTests.cprC]
    static let keyB = String(repeating: "5a", count: 16) + String(repeating: "c3", count: 16)
    /// A pseudonym in the audit trail with no case (e.g. a rejected message's citizen).
    static let orphan = Pseudonym(hex: "0123456789abcdef0123456789abcdef")!

    /// AdminCommandTests' three cases, plus a consent and a pending timer for the first,
    /// an operator view (its message id is the case id) and an audit entry without a case.
    static func fixture() throws -> (AdminCLI, [String]) {
        let (cli, ids) = try AdminCommandTests.fixture()
        let (store, pseudonymizer) = try cli.openStore()
        defer { try? store.close() }
        let pA = try pseudonymizer.pseudonym(forCPR: cprs[0])
        let now = Date()
        try store.write { tx in
            _ = try tx.recordConsent(ConsentRecord(
                pseudonym: pA, direction: .municipalityToRegion, purpose: "treatment-dialogue", state: .given,
                validFrom: now, reference: "decl-1", recordedAt: now))
            _ = try tx.schedule(TimerRecord(
                timerID: "timer/\(ids[0])/r10/2026-01-01", caseID: ids[0], kind: "r10",
                dueAt: now.addingTimeInterval(86_400), payload: Data(#"{"kind":"r10"}"#.utf8), createdAt: now))
            _ = try tx.appendAudit(AuditRecord(
                at: now, actor: "municipality.851", action: .rejected, pseudonym: orphan,
                messageType: "consent-update", messageID: "m-orphan", purpose: "treatment-dialogue"))
        }
        _ = try store.viewCases(pseudonym: pA, viewer: "operator:alice", purpose: "ticket 1", at: now)
        return (cli, ids)
    }

    func writeKey(_ text: String, in cli: AdminCLI) throws -> String {
        let path = cli.directory.appendingPathComponent("new-key").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func rotationReKeysEveryCaseAndReChainsTheTrail() throws {
        let (cli, oldIDs) = try Self.fixture()
        defer { cli.cleanUp() }
        let keyFile = try writeKey(Self.keyB + "\n", in: cli)
        let r = try cli.run(["rotate-key", "--new-key-file", keyFile, "--purpose", "yearly rotation", "--operator", "carol"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("3 citizen(s)"))
        #expect(r.out.contains("1 pseudonym(s) without a case kept"))
        #expect(r.out.contains("replace the store-key credential"))
        #expect(AdminCommandTests.noCPR(r.out + r.err))

        let keysA = try StoreKeys(master: Data(AdminCLI.devKey.utf8))
        let keysB = try StoreKeys(master: Data((0..<32).map { $0 < 16 ? 0x5a : 0xc3 }))
        let pseudoA = try Pseudonymizer(key: keysA.pseudonymKey)
        let pseudoB = try Pseudonymizer(key: keysB.pseudonymKey)
        let store = try Store(path: cli.storePath, auditKey: keysB.auditKey)
        defer { try? store.close() }
        let verification = try store.verifyAudit()
        #expect(verification.isOK, "\(verification)")
        for (index, cpr) in Self.cprs.enumerated() {
            let a = try pseudoA.pseudonym(forCPR: cpr), b = try pseudoB.pseudonym(forCPR: cpr)
            #expect(a != b)
            #expect(try store.cases(pseudonym: a).isEmpty)
            let cases = try store.cases(pseudonym: b)
            #expect(cases.count == 1)
            #expect(cases.first?.caseID == "case-\(b.hex.prefix(24))")
            #expect(cases.first?.caseID != oldIDs[index])
            #expect(try store.auditEntries(pseudonym: a).isEmpty)
            #expect(!(try store.auditEntries(pseudonym: b)).isEmpty)
            #expect(try store.caseHistory(id: oldIDs[index]).isEmpty)
            #expect(!(try store.caseHistory(id: "case-\(b.hex.prefix(24))")).isEmpty)
        }
        let b0 = try pseudoB.pseudonym(forCPR: Self.cprs[0])
        let newID = "case-\(b0.hex.prefix(24))"
        #expect(try store.consents(pseudonym: b0).count == 1)
        let timers = try store.timers(caseID: newID)
        #expect(timers.map(\.timerID) == ["timer/\(newID)/r10/2026-01-01"])
        // The operator's view names the case by its new id.
        #expect(try store.auditEntries(pseudonym: b0).contains { $0.action == .viewed && $0.messageID == newID })
        // The orphan pseudonym is kept.
        #expect(try store.auditEntries(pseudonym: Self.orphan).count == 1)
        let head = try #require(try store.auditHead())
        let last = try #require(try store.auditEntries(afterSeq: head.seq - 1, limit: 1).first)
        #expect(last.action == .keyRotated)
        #expect(last.actor == "operator:carol")
        #expect(last.purpose.hasPrefix("yearly rotation"))
        #expect(last.messageID?.hasPrefix("old-head audit#") == true)

        // With the old key the trail no longer verifies.
        let withA = try Store(path: cli.storePath, auditKey: keysA.auditKey)
        defer { try? withA.close() }
        #expect(!(try withA.verifyAudit()).isOK)
    }

    /// A snapshot of what rotation would change.
    static func snapshot(_ cli: AdminCLI) throws -> [String] {
        let sqlite = "/usr/bin/sqlite3"
        try #require(FileManager.default.isExecutableFile(atPath: sqlite), "sqlite3 is needed")
        let r = try AdminCLI.spawn([sqlite, cli.storePath,
            "SELECT lower(hex(case_id)), lower(hex(pseudonym)) FROM cases ORDER BY 1; SELECT seq, lower(hex(pseudonym)), hex(hash) FROM audit ORDER BY seq; SELECT lower(hex(pseudonym)) FROM consent_statements; SELECT lower(hex(case_id)), day, timer_id FROM timers ORDER BY seq;"])
        return r.out.split(separator: "\n").map(String.init)
    }

    @Test func aTamperedTrailIsNotRotated() throws {
        let (cli, _) = try Self.fixture()
        defer { cli.cleanUp() }
        _ = try AdminCLI.spawn(["/usr/bin/sqlite3", cli.storePath,
                                "DROP TRIGGER audit_no_update; UPDATE audit SET purpose = 'forged' WHERE seq = 2;"])
        let before = try Self.snapshot(cli)
        #expect(before.count > 10)
        let keyFile = try writeKey(Self.keyB, in: cli)
        let r = try cli.run(["rotate-key", "--new-key-file", keyFile, "--purpose", "rotation"])
        #expect(r.status != 0)
        // Entries 1 and 2 were written together: their seal names both.
        #expect(r.err.contains("audit trail broken at entry 1") && r.err.contains("up to 2"), "\(r.err)")
        #expect(r.err.contains("nothing was changed"))
        #expect(try Self.snapshot(cli) == before)
    }

    @Test func aShortNewKeyIsRefused() throws {
        let (cli, _) = try Self.fixture()
        defer { cli.cleanUp() }
        let before = try Self.snapshot(cli)
        let keyFile = try writeKey("too-short-key", in: cli)
        let r = try cli.run(["rotate-key", "--new-key-file", keyFile, "--purpose", "rotation"])
        #expect(r.status == 65)
        #expect(r.err.contains("at least 32"), "\(r.err)")
        #expect(try Self.snapshot(cli) == before)
        let same = try writeKey(AdminCLI.devKey, in: cli)
        let r2 = try cli.run(["rotate-key", "--new-key-file", same, "--purpose", "rotation"])
        #expect(r2.status == 65 && r2.err.contains("is the current store key"), "\(r2.err)")
    }
}
