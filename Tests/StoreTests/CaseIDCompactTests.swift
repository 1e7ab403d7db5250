import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Case ids kept as 12 bytes, history instants as numbers (v18)")
struct CaseIDCompactTests {
    static let daemonCase = "case-0123456789abcdef01234567"

    @Test("only the daemon's form case-<24 lowercase hex> becomes bytes; any other id stays its text")
    func forms() {
        #expect(CompactColumn.caseID(Self.daemonCase) == Data(Hex.decode("0123456789abcdef01234567")!).databaseValue)
        #expect(CompactColumn.caseIDText(CompactColumn.caseID(Self.daemonCase)) == Self.daemonCase)
        for other in ["c1", "case-0123456789ABCDEF01234567", "case-0123456789abcdef0123456", "case-0123456789abcdef012345678",
                      "case-0123456789abcdef0123456g", "kase-0123456789abcdef01234567", "case-0123456789abcdef01234567 "] {
            #expect(CompactColumn.caseID(other) == other.databaseValue, "\(other)")
            #expect(CompactColumn.caseIDText(CompactColumn.caseID(other)) == other)
        }
        #expect(CompactColumn.caseIDText(Data([1, 2, 3]).databaseValue) == nil)
        #expect(CompactColumn.caseIDText(7.databaseValue) == nil)
    }

    @Test("v18 keeps every case, history entry and timer under its id; history ids go on from where they were")
    func migration() throws {
        let ids = [Self.daemonCase, "c1"]
        let scratch = try scratchStore(at: "v17-audit-message-ids-coded") { db in
            try db.execute(sql: "INSERT INTO timer_kinds (kind) VALUES ('k')")
            for (i, id) in ids.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO cases (case_id, pseudonym, workflow, municipality, clinic, status, state, revision, created_at, updated_at)
                        VALUES (?, ?, 'A', '851', NULL, 'open', x'7b7d', 3, 1790000000000, 1790000001000)
                        """,
                    arguments: [id, Data(repeating: UInt8(i + 1), count: 16)])
                for (at, kind) in [("2026-09-21T14:13:20.000Z", "input"), ("2026-09-21T14:13:21.250Z", "decision")] {
                    try db.execute(
                        sql: "INSERT INTO case_history (case_id, at, kind, message_id, payload, explanation) VALUES (?, ?, ?, 'm-1', x'7b7d', NULL)",
                        arguments: [id, at, kind])
                }
                try db.execute(
                    sql: """
                        INSERT INTO timers (case_id, kind, day, timer_id, due_at, payload, state, created_at)
                        VALUES (?, (SELECT id FROM timer_kinds WHERE kind = 'k'), 20794, NULL, 1796601600000, x'', 'pending', 1790000000000)
                        """,
                    arguments: [id])
            }
            try db.execute(sql: "INSERT INTO case_history (case_id, at, kind, payload) VALUES ('c2', 'not a time', 'input', x'')")
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = 40 WHERE name = 'case_history'")
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.rawCount("SELECT COUNT(*) FROM cases WHERE typeof(case_id) = 'blob' AND length(case_id) = 12") == 1)
        #expect(try store.rawCount("SELECT COUNT(*) FROM timers WHERE typeof(case_id) = 'blob'") == 1)
        #expect(try store.rawCount("SELECT COUNT(*) FROM case_history WHERE typeof(case_id) = 'blob'") == 2)
        #expect(try store.rawCount("SELECT COUNT(*) FROM case_history WHERE typeof(at) = 'integer'") == 4)
        for id in ids {
            let record = try #require(try store.case(id: id))
            #expect(record.caseID == id && record.revision == 3 && record.createdAt == Date(timeIntervalSince1970: 1_790_000_000))
            let history = try store.caseHistory(id: id)
            #expect(history.map(\.caseID) == [id, id])
            #expect(history.map(\.at) == [Date(timeIntervalSince1970: 1_790_000_000), Date(timeIntervalSince1970: 1_790_000_001.25)])
            #expect(try store.timers(caseID: id).map(\.timerID) == ["timer/\(id)/k/2026-12-07"])
            #expect(try store.timer(id: "timer/\(id)/k/2026-12-07")?.caseID == id)
        }
        // A history instant that is no timestamp stays as it was, and is reported when read.
        #expect(storeErrorCode { try store.caseHistory(id: "c2") } == .encoding)
        // Written after the upgrade: bytes and numbers too; ids after the kept counter.
        let next = try store.write { tx in
            try tx.appendHistory(CaseHistoryEntry(
                caseID: Self.daemonCase, at: t(5), kind: .input, messageID: nil, payload: Data(), explanation: nil))
        }
        #expect(next == 41)
        #expect(try store.rawCount("SELECT COUNT(*) FROM case_history WHERE typeof(case_id) = 'blob' AND typeof(at) = 'integer'") == 3)
        #expect(try store.caseHistory(id: Self.daemonCase).last?.at == t(5))
        try store.write { (tx) throws in
            #expect(try tx.cancelTimers(caseID: Self.daemonCase) == 1)
        }
        #expect(try store.timers(caseID: Self.daemonCase).isEmpty && store.timers(caseID: "c1").count == 1)
    }
}
