import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Timer ids kept by their parts (v16)")
struct TimerKeyTests {
    @Test("a day's number and its yyyy-mm-dd convert both ways; a date that does not exist is no day")
    func days() {
        #expect(TimerKey.days(iso: "1970-01-01") == 0)
        #expect(TimerKey.days(iso: "1969-12-31") == -1)
        #expect(TimerKey.days(iso: "2000-03-01") == 11_017)
        #expect(TimerKey.days(iso: "2026-12-07") == 20_794)
        #expect(TimerKey.iso(days: 20_794) == "2026-12-07")
        #expect(TimerKey.days(iso: "0000-01-01") == -719_528)
        #expect(TimerKey.iso(days: 2_932_896) == "9999-12-31")
        for text in ["2026-02-29", "2026-02-30", "1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31",
                     "2026-1-01", "20261201", "2026-12-01T", "２０２６-12-01", "+026-12-01", ""] {
            #expect(TimerKey.days(iso: text) == nil, "\(text)")
        }
        #expect(TimerKey.days(iso: "2000-02-29") != nil && TimerKey.days(iso: "2024-02-29") != nil)
        // Every day of four centuries, and a few eras around them: one number each, in order.
        var previous: Int64?
        for day in Int64(-146_097)...Int64(146_097 * 2) where day % 7 == 0 || day < -146_000 || day > 292_000 {
            let text = TimerKey.iso(days: day)
            #expect(TimerKey.days(iso: text) == day, "\(day) \(text)")
            if let previous { #expect(TimerKey.iso(days: previous) < text) }
            previous = day
        }
    }

    @Test("only the derived form of the row's own case and kind is kept as a day")
    func keys() {
        let id = TimerRecord.id(caseID: "case/ab/12", kind: "meetingReminder", day: "2026-12-07")
        #expect(id == "timer/case/ab/12/meetingReminder/2026-12-07")
        #expect(TimerKey.parts(of: id)?.caseID == "case/ab/12")
        #expect(TimerKey(id: id, caseID: "case/ab/12", kind: "meetingReminder") == .derived(day: 20_794))
        #expect(TimerKey(id: id, caseID: "case/ab/13", kind: "meetingReminder") == nil)
        #expect(TimerKey(id: id, caseID: nil, kind: "meetingReminder") == nil)
        #expect(TimerKey(id: id, caseID: "case/ab/12", kind: "phaseInEnd") == nil)
        for other in ["late", "timer/c1/k/2026-02-30", "timer//k/2026-12-07", "timer/c1//2026-12-07",
                      "timer/k/2026-12-07", "timer/c1/k/2026-12-07x", "timer/c1/k2026-12-07"] {
            #expect(TimerKey(id: other, caseID: "c1", kind: "k") == .text(other), "\(other)")
        }
    }

    @Test("v16 keeps every timer, its id, state and due order; derived ids are stored as days, others as text")
    func migration() throws {
        let scratch = try scratchStore(at: "v15-timers-due-numbers") { db in
            for (id, caseID, kind, due, state) in [
                ("timer/c1/b/2026-11-02", "c1", "b", 1_793_577_600_500, "pending"),
                ("timer/c1/a/2026-11-02", "c1", "a", 1_793_577_600_500, "pending"),
                ("timer/c1/a/2026-10-01", "c1", "a", 1_790_812_800_000, "fired"),
                ("timer/c2/a/2026-11-02", "c1", "a", 1_793_577_600_000, "pending"),  // names another case
                ("late", "c1", "a", 1_793_577_600_100, "pending"),
                ("timer/c3/a/2026-02-30", "c3", "a", 1_793_577_600_200, "pending"),  // no such day
                ("free", nil as String?, "z", 1_793_577_600_300, "pending"),
            ] as [(String, String?, String, Int64, String)] {
                try db.execute(
                    sql: """
                        INSERT INTO timers (timer_id, case_id, kind, due_at, payload, state, fired_at, created_at)
                        VALUES (?, ?, ?, ?, x'', ?, CASE WHEN ?5 = 'fired' THEN 1790812801000 END, 1790000000000)
                        """,
                    arguments: [id, caseID, kind, due, state])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.timers(caseID: "c1").map(\.timerID) == [
            "timer/c1/a/2026-10-01", "timer/c2/a/2026-11-02", "late", "timer/c1/a/2026-11-02", "timer/c1/b/2026-11-02",
        ])
        #expect(try store.dueTimers(at: Date(timeIntervalSince1970: 1_793_577_601), limit: 10).map(\.timerID) == [
            "timer/c2/a/2026-11-02", "late", "timer/c3/a/2026-02-30", "free", "timer/c1/a/2026-11-02", "timer/c1/b/2026-11-02",
        ])
        #expect(try store.timer(id: "timer/c1/a/2026-10-01")?.firedAt == Date(timeIntervalSince1970: 1_790_812_801))
        #expect(try store.timer(id: "free")?.caseID == nil)
        #expect(try store.rawCount("SELECT COUNT(*) FROM timers WHERE timer_id IS NULL AND day IS NOT NULL") == 3)
        #expect(try store.rawCount("SELECT COUNT(*) FROM timers WHERE timer_id IS NOT NULL AND day IS NULL") == 4)
        #expect(try store.rawCount("SELECT COUNT(*) FROM timer_kinds") == 3)
        #expect(try store.rawCount("SELECT day FROM timers WHERE case_id = 'c1' AND state = 'fired'") == 20_727)

        try store.write { (tx) throws in
            // Found by id in either form; a fired one is not armed again.
            #expect(try tx.markFired(timerID: "timer/c2/a/2026-11-02", at: t(1)))
            #expect(try tx.cancelTimer(id: "late"))
            #expect(try tx.schedule(TimerRecord(
                timerID: "timer/c1/a/2026-10-01", caseID: "c1", kind: "a", dueAt: t(9), payload: Data(), createdAt: t(0))) == .alreadyFired)
            // A new derived timer: kept as its day; its kind is new too.
            #expect(try tx.schedule(TimerRecord(
                timerID: "timer/c9/new/2026-12-07", caseID: "c9", kind: "new", dueAt: t(5), payload: Data(), createdAt: t(0))) == .scheduled)
            #expect(try tx.schedule(TimerRecord(
                timerID: "timer/c9/new/2026-12-07", caseID: "c9", kind: "new", dueAt: t(6), payload: Data(), createdAt: t(0))) == .rescheduled)
            #expect(try tx.schedule(TimerRecord(
                timerID: "timer/c9/new/2026-12-08", caseID: "c9", kind: "new", dueAt: t(7), payload: Data(), createdAt: t(0))) == .scheduled)
            // One pending timer per kind: all but the one named go.
            #expect(try tx.cancelTimers(caseID: "c9", kind: "new", except: "timer/c9/new/2026-12-08") == 1)
            #expect(try tx.cancelTimers(caseID: "c9", kind: "unknown-kind") == 0)
        }
        #expect(try store.timers(caseID: "c9").map { "\($0.timerID) \($0.dueAt == t(7))" } == ["timer/c9/new/2026-12-08 true"])
        #expect(try store.rawCount("SELECT COUNT(*) FROM timers WHERE case_id = 'c9' AND timer_id IS NULL AND day = 20795") == 1)
        #expect(try store.timer(id: "timer/c2/a/2026-11-02")?.state == .fired)
        #expect(try store.timer(id: "late") == nil)
        // A derived id of another case than the timer's is refused: two rows would answer to it.
        #expect(storeErrorCode {
            try store.write { tx in
                try tx.schedule(TimerRecord(
                    timerID: "timer/c1/a/2026-12-01", caseID: "c2", kind: "a", dueAt: t(5), payload: Data(), createdAt: t(0)))
            }
        } == .invalidArgument)
    }

    @Test("a timer row edited into a form ddrouter never writes is reported, not guessed")
    func malformedRows() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            _ = try tx.schedule(TimerRecord(timerID: "timer/c1/k/2026-12-07", caseID: "c1", kind: "k", dueAt: t(5), payload: Data(), createdAt: t(0)))
        }
        try store.close()
        var configuration = Configuration()
        configuration.foreignKeysEnabled = false
        let queue = try DatabaseQueue(path: scratch.dbPath, configuration: configuration)
        try queue.write { db in try db.execute(sql: "UPDATE timers SET kind = 99") }
        try queue.close()
        let edited = try scratch.open()
        #expect(storeErrorCode { try edited.timers(caseID: "c1") } == .encoding)
    }
}
