import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Inbox, atomicity, outbox, timers")
struct PipelineTests {
    @Test func duplicateMessageReturnsStoredReceiptByteIdentical() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        // Not valid UTF-8 and with NUL bytes: must come back exactly.
        let receipt = Data([0x00, 0xff, 0xfe, 0x7b, 0x00, 0x22, 0xc3, 0x28, 0x0a])
        let first = try store.write { tx in
            try tx.recordInbox(
                InboxEntry(sender: "kommune-851", messageID: "m-1", type: "list-1", receivedAt: t(0), receipt: receipt))
        }
        #expect(first == .recorded)
        #expect(try store.receipt(forSender: "kommune-851", messageID: "m-1") == receipt)
        #expect(try store.receipt(forSender: "kommune-860", messageID: "m-1") == nil)

        let second = try store.write { tx in
            try tx.recordInbox(
                InboxEntry(sender: "kommune-851", messageID: "m-1", type: "list-1", receivedAt: t(9), receipt: Data("other".utf8)))
        }
        #expect(second == .duplicate(receipt: receipt))
        let entry = try store.inboxEntry(sender: "kommune-851", messageID: "m-1")
        #expect(entry?.receivedAt == t(0))
        #expect(entry?.receipt == receipt)

        // Same id from another sender is another message.
        let other = try store.write { tx in
            try tx.recordInbox(
                InboxEntry(sender: "kommune-860", messageID: "m-1", type: "list-1", receivedAt: t(1), receipt: Data([9])))
        }
        #expect(other == .recorded)
    }

    @Test func duplicateInsideOneBatchIsSeen() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let results = try store.write { tx in
            [
                try tx.recordInbox(InboxEntry(sender: "s", messageID: "x", type: "t", receivedAt: t(0), receipt: Data([1]))),
                try tx.recordInbox(InboxEntry(sender: "s", messageID: "x", type: "t", receivedAt: t(0), receipt: Data([2]))),
            ]
        }
        #expect(results == [.recorded, .duplicate(receipt: Data([1]))])
    }

    @Test func writeThatThrowsMidwayLeavesNothing() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        #expect(throws: Boom.self) {
            try store.write { tx in
                _ = try tx.recordInbox(InboxEntry(sender: "s", messageID: "m", type: "t", receivedAt: t(0), receipt: Data([1])))
                try tx.upsertCase(
                    CaseRecord(caseID: "c1", pseudonym: pA, workflow: "A", municipality: "851", clinic: "amb-aalborg",
                               status: "assessment", state: Data("{}".utf8), updatedAt: t(0)))
                try tx.appendHistory(
                    CaseHistoryEntry(caseID: "c1", at: t(0), kind: .input, messageID: "m", payload: Data("{}".utf8), explanation: nil))
                try tx.recordConsent(
                    ConsentRecord(pseudonym: pA, direction: .municipalityToRegion, purpose: "p", state: .given,
                                  validFrom: t(0), reference: "r", recordedAt: t(0)))
                try tx.enqueue(event("e1"))
                try tx.schedule(TimerRecord(timerID: "tm1", caseID: "c1", kind: "k", dueAt: t(5), payload: Data(), createdAt: t(0)))
                try tx.appendAudit(audit(1))
                throw Boom()
            }
        }
        #expect(try store.receipt(forSender: "s", messageID: "m") == nil)
        #expect(try store.case(id: "c1") == nil)
        #expect(try store.caseHistory(id: "c1").isEmpty)
        #expect(try store.consents(pseudonym: pA).isEmpty)
        #expect(try store.pendingOutbox(limit: 10).isEmpty)
        #expect(try store.timer(id: "tm1") == nil)
        #expect(try store.auditHead() == nil)
        #expect(try store.verifyAudit() == .ok(count: 0, head: nil))
    }

    @Test func savepointRollsBackOneMessageOfABatch() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            for i in 1...3 {
                do {
                    try tx.savepoint { tx in
                        _ = try tx.recordInbox(
                            InboxEntry(sender: "s", messageID: "m\(i)", type: "t", receivedAt: t(i), receipt: Data([UInt8(i)])))
                        try tx.enqueue(event("e\(i)"))
                        try tx.appendAudit(audit(i))
                        if i == 2 { throw Boom() }
                    }
                } catch is Boom {
                    // the daemon would record a rejection receipt instead
                }
            }
        }
        #expect(try store.receipt(forSender: "s", messageID: "m1") != nil)
        #expect(try store.receipt(forSender: "s", messageID: "m2") == nil)
        #expect(try store.receipt(forSender: "s", messageID: "m3") != nil)
        #expect(try store.pendingOutbox(limit: 10).map(\.messageID) == ["e1", "e3"])
        #expect(try store.verifyAudit() .isOK)
        #expect(try store.auditEntries(afterSeq: 0, limit: 10).map(\.messageID) == ["msg-1", "msg-3"])
    }

    @Test func nestedSavepointsRollBackOnlyTheirOwnWrites() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            try tx.savepoint { tx in
                try tx.enqueue(event("outer-1"))
                do {
                    try tx.savepoint { tx in
                        try tx.enqueue(event("inner"))
                        try tx.appendAudit(audit(1))
                        throw Boom()
                    }
                } catch is Boom {}
                try tx.enqueue(event("outer-2"))
                try tx.appendAudit(audit(2))
            }
        }
        #expect(try store.pendingOutbox(limit: 10).map(\.messageID) == ["outer-1", "outer-2"])
        #expect(try store.verifyAudit().isOK)
        #expect(try store.auditEntries(afterSeq: 0, limit: 10).map(\.messageID) == ["msg-2"])
    }

    @Test func transactionCannotEscapeItsClosure() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let escaped = try store.write { tx in tx }
        #expect(storeErrorCode { _ = try escaped.enqueue(event("late")) } == .misuse)
        #expect(try store.pendingOutbox(limit: 10).isEmpty)
    }

    @Test func outboxPendingThenSentInInsertionOrder() throws {
        let scratch = Scratch()
        do {
            let store = try scratch.open()
            // ids deliberately not in alphabetical order
            let ids = ["zeta", "alpha", "mu", "beta", "omega"]
            try store.write { tx in
                for (i, id) in ids.enumerated() {
                    let result = try tx.enqueue(event(id, body: "{\"n\":\(i)}"))
                    #expect(result == .enqueued)
                }
            }
            #expect(try store.pendingOutbox(limit: 10).map(\.messageID) == ids)
            #expect(try store.pendingOutbox(limit: 2).map(\.messageID) == ["zeta", "alpha"])
            #expect(try store.markSent(messageIDs: ["alpha", "beta"]) == 2)
            #expect(try store.markSent(messageIDs: ["alpha"]) == 0)
            #expect(try store.pendingOutbox(limit: 10).map(\.messageID) == ["zeta", "mu", "omega"])
            #expect(try store.outboxEvent(messageID: "alpha") == nil, "a confirmed row is deleted")
            try store.recordPublishAttempt(messageIDs: ["zeta", "alpha"])
            #expect(try store.outboxEvent(messageID: "zeta")?.attempts == 1)
            #expect(try store.outboxEvent(messageID: "mu")?.attempts == 0)
            try store.close()
        }
        // After a restart the unconfirmed events are still there, in order, intact.
        let store = try scratch.open()
        let pending = try store.pendingOutbox(limit: 10)
        #expect(pending.map(\.messageID) == ["zeta", "mu", "omega"])
        #expect(pending.first?.headers == ["x-reason": "R1"])
        #expect(pending.first?.body == Data("{\"n\":0}".utf8))
        #expect(pending.first?.correlationID == "in-1")
        #expect(pending.first?.createdAt == t(0))
    }

    @Test func duplicateEventIDIsIdempotentOrConflict() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        #expect(try store.write { tx in try tx.enqueue(event("e1", body: "{\"a\":1}")) } == .enqueued)
        // Same id, same content: a replay; nothing is added.
        #expect(try store.write { tx in try tx.enqueue(event("e1", body: "{\"a\":1}")) } == .alreadyEnqueued)
        #expect(try store.pendingOutbox(limit: 10).count == 1)
        // Same id, other content: refused, and the transaction rolls back.
        #expect(
            storeErrorCode {
                try store.write { tx in
                    try tx.enqueue(event("e2"))
                    try tx.enqueue(event("e1", body: "{\"a\":2}"))
                }
            } == .conflict)
        #expect(try store.pendingOutbox(limit: 10).map(\.messageID) == ["e1"])
        #expect(try store.outboxEvent(messageID: "e1")?.body == Data("{\"a\":1}".utf8))
    }

    @Test func timersFireOnceAcrossReopen() throws {
        let scratch = Scratch()
        do {
            let store = try scratch.open()
            try store.write { tx in
                try tx.schedule(TimerRecord(timerID: "late", caseID: "c1", kind: "deadline", dueAt: t(300), payload: Data([3]), createdAt: t(0)))
                try tx.schedule(TimerRecord(timerID: "soon", caseID: "c1", kind: "reminder", dueAt: t(100), payload: Data([1]), createdAt: t(0)))
                try tx.schedule(TimerRecord(timerID: "mid", caseID: "c2", kind: "reminder", dueAt: t(200), payload: Data([2]), createdAt: t(0)))
            }
            #expect(try store.dueTimers(at: t(99), limit: 10).isEmpty)
            #expect(try store.dueTimers(at: t(200), limit: 10).map(\.timerID) == ["soon", "mid"])
            #expect(try store.dueTimers(at: t(200), limit: 1).map(\.timerID) == ["soon"])
            let fired = try store.write { tx in try tx.markFired(timerID: "soon", at: t(150)) }
            #expect(fired)
            let again = try store.write { tx in try tx.markFired(timerID: "soon", at: t(151)) }
            #expect(!again)
            // Rescheduling a pending timer moves it.
            let moved = try store.write { tx in
                try tx.schedule(TimerRecord(timerID: "mid", caseID: "c2", kind: "reminder", dueAt: t(250), payload: Data([4]), createdAt: t(1)))
            }
            #expect(moved == .rescheduled)
            try store.close()
        }
        let store = try scratch.open()
        #expect(try store.dueTimers(at: t(1000), limit: 10).map(\.timerID) == ["mid", "late"])
        #expect(try store.timer(id: "mid")?.payload == Data([4]))
        let soon = try store.timer(id: "soon")
        #expect(soon?.fired == true)
        #expect(soon?.firedAt == t(150))
        #expect(try store.write { tx in try tx.markFired(timerID: "soon", at: t(400)) } == false)
        // A fired timer is never armed again under the same id.
        let rearm = try store.write { tx in
            try tx.schedule(TimerRecord(timerID: "soon", caseID: "c1", kind: "reminder", dueAt: t(500), payload: Data(), createdAt: t(2)))
        }
        #expect(rearm == .alreadyFired)
        #expect(try store.dueTimers(at: t(1000), limit: 10).map(\.timerID) == ["mid", "late"])
        // Firing rolled back with its effects stays pending.
        #expect(throws: Boom.self) {
            try store.write { tx in
                #expect(try tx.markFired(timerID: "mid", at: t(600)))
                throw Boom()
            }
        }
        #expect(try store.timer(id: "mid")?.state == .pending)
        // Cancel.
        #expect(try store.write { tx in try tx.cancelTimers(caseID: "c2") } == 1)
        #expect(try store.write { tx in try tx.cancelTimer(id: "late") })
        #expect(try store.dueTimers(at: t(1000), limit: 10).isEmpty)
        #expect(try store.write { tx in try tx.markFired(timerID: "late", at: t(700)) } == false)
        // A cancelled timer leaves no row (schema v7); the fired one stays, and a cancelled
        // one scheduled again is armed again.
        #expect(try store.timer(id: "late") == nil && store.timer(id: "mid") == nil)
        #expect(try store.timers(caseID: "c1").map(\.timerID) == ["soon"])
        #expect(try !store.write { tx in try tx.cancelTimer(id: "soon") }, "a fired timer is not cancelled")
        let armed = try store.write { tx in
            try tx.schedule(TimerRecord(timerID: "late", caseID: "c1", kind: "deadline", dueAt: t(800), payload: Data(), createdAt: t(3)))
        }
        #expect(armed == .scheduled)
        #expect(try store.dueTimers(at: t(1000), limit: 10).map(\.timerID) == ["late"])
    }

    @Test("v7 deletes the cancelled timers earlier versions kept; pending and fired ones stay")
    func migrationDeletesCancelledTimers() throws {
        let scratch = try scratchStore(at: "v6-consent-statements") { db in
            for (id, state) in [("p", "pending"), ("f", "fired"), ("c", "cancelled")] {
                try db.execute(
                    sql: """
                        INSERT INTO timers (timer_id, case_id, kind, due_at, payload, state, created_at)
                        VALUES (?, 'c1', 'reminder', '2026-11-01T00:00:00.000Z', x'', ?, '2026-10-01T00:00:00.000Z')
                        """,
                    arguments: [id, state])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.timers(caseID: "c1").map { "\($0.timerID) \($0.state)" } == ["f fired", "p pending"])
    }

    @Test("v13 keeps every timer with its instants, stored as numbers; due order, firing and the gauges work on them")
    func compactTimers() throws {
        let scratch = try scratchStore(at: "v12-consent-compact") { db in
            for (id, due, state, fired) in [
                ("timer/c1/b/2026-11-02", "2026-11-02T00:00:00.500Z", "pending", nil as String?),
                ("timer/c1/a/2026-11-02", "2026-11-02T00:00:00.500Z", "pending", nil),
                ("timer/c1/z/2026-11-01", "2026-11-01T23:00:00.000Z", "pending", nil),
                ("timer/c1/f/2026-10-01", "2026-10-01T00:00:00.000Z", "fired", "2026-10-01T00:00:01.250Z"),
                ("timer/c2/x/2026-12-01", "2026-12-01T00:00:00.000Z", "pending", nil),
            ] {
                try db.execute(
                    sql: """
                        INSERT INTO timers (timer_id, case_id, kind, due_at, payload, state, fired_at, created_at)
                        VALUES (?, substr(?, 7, 2), 'k', ?, x'01', ?, ?, '2026-09-01T00:00:00.000Z')
                        """,
                    arguments: [id, id, due, state, fired])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        let c1 = try store.timers(caseID: "c1")
        #expect(c1.map(\.timerID) == ["timer/c1/f/2026-10-01", "timer/c1/z/2026-11-01", "timer/c1/a/2026-11-02", "timer/c1/b/2026-11-02"])
        #expect(c1[0].firedAt == Timestamp.date("2026-10-01T00:00:01.250Z") && c1[0].state == .fired)
        #expect(c1[2].dueAt == Timestamp.date("2026-11-02T00:00:00.500Z") && c1[2].createdAt == Timestamp.date("2026-09-01T00:00:00.000Z"))
        #expect(try store.rawCount("SELECT COUNT(*) FROM timers WHERE typeof(due_at) = 'integer' AND typeof(created_at) = 'integer'") == 5)
        // Due: in (due_at, timer_id) order, up to the instant given, the fired one not again.
        let now = try #require(Timestamp.date("2026-11-02T00:00:00.500Z"))
        #expect(try store.dueTimers(at: now, limit: 10).map(\.timerID) == [
            "timer/c1/z/2026-11-01", "timer/c1/a/2026-11-02", "timer/c1/b/2026-11-02",
        ])
        #expect(try store.dueTimers(at: now.addingTimeInterval(-0.001), limit: 10).map(\.timerID) == ["timer/c1/z/2026-11-01"])
        let gauges = try store.gauges(at: now)
        #expect(gauges.timersPending == 4 && gauges.timersOverdue == 3)
        // Written after the upgrade: numbers too; fired once.
        try store.write { tx in
            _ = try tx.schedule(TimerRecord(timerID: "timer/c3/k/2026-11-05", caseID: "c3", kind: "k", dueAt: t(5), payload: Data(), createdAt: t(0)))
            #expect(try tx.markFired(timerID: "timer/c1/z/2026-11-01", at: t(7)))
            #expect(try !tx.markFired(timerID: "timer/c1/z/2026-11-01", at: t(8)))
        }
        #expect(try store.timers(caseID: "c1").first { $0.timerID == "timer/c1/z/2026-11-01" }?.firedAt == t(7))
        #expect(try store.timers(caseID: "c3").map(\.dueAt) == [t(5)])
        #expect(try store.rawCount("SELECT COUNT(*) FROM timers WHERE typeof(due_at) = 'integer' AND (fired_at IS NULL OR typeof(fired_at) = 'integer')") == 6)
        // An instant outside what a number holds exactly: a due time before 1970 is due at once.
        try store.write { tx in
            _ = try tx.schedule(TimerRecord(timerID: "early", caseID: "c4", kind: "k", dueAt: Date(timeIntervalSince1970: -5), payload: Data(), createdAt: t(0)))
        }
        #expect(try store.dueTimers(at: Date(timeIntervalSince1970: 0), limit: 10).map(\.timerID) == ["early"])
    }

    @Test("v15: a due time v13 kept as text (before 1970, February 30) becomes a number and is due; a text that is no timestamp stays and is reported")
    func dueTimesKeptAsTextBecomeNumbers() throws {
        let scratch = try scratchStore(at: "v12-consent-compact") { db in
            for (id, due) in [
                ("before-1970", "1969-07-20T20:17:40.000Z"), ("feb-30", "2026-02-30T00:00:00.000Z"),
                ("later", "2026-12-01T00:00:00.000Z"), ("garbage", "soon"),
            ] {
                try db.execute(
                    sql: """
                        INSERT INTO timers (timer_id, case_id, kind, due_at, payload, state, created_at)
                        VALUES (?, ?, 'k', ?, x'', 'pending', '2026-01-01T00:00:00.000Z')
                        """,
                    arguments: [id, id, due])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        #expect(try store.rawCount("SELECT COUNT(*) FROM timers WHERE typeof(due_at) = 'integer'") == 3)
        #expect(try store.timers(caseID: "before-1970").map(\.dueAt) == [Date(timeIntervalSince1970: 0)])
        #expect(try store.timers(caseID: "feb-30").map(\.dueAt) == [Timestamp.date("2026-03-02T00:00:00.000Z")])
        #expect(try store.dueTimers(at: try #require(Timestamp.date("2026-03-02T00:00:00.000Z")), limit: 10).map(\.timerID)
                == ["before-1970", "feb-30"])
        #expect(try store.rawCount("SELECT COUNT(*) FROM timers WHERE due_at = 'soon'") == 1)
        #expect(storeErrorCode { try store.timers(caseID: "garbage") } == .encoding)
    }
}

@Suite("Outbox header encoding")
struct HeaderEncodingTests {
    @Test func trickyHeadersRoundTrip() throws {
        let headers = [
            "x-reason": "say \"no\" \\ then / stop", "ctl": "a\u{01}b\tc\nd\re\u{1f}", "unicode": "Læsø ø æ å 😀",
            "": "empty key", "z": "",
        ]
        let data = StoreJSON.encodeHeaders(headers)
        #expect(try StoreJSON.decode([String: String].self, from: data) == headers)
        #expect(StoreJSON.encodeHeaders(headers) == data)
        #expect(StoreJSON.encodeHeaders([:]) == Data("{}".utf8))
        #expect(StoreJSON.encodeHeaders(["b": "2", "a": "1"]) == Data("{\"a\":\"1\",\"b\":\"2\"}".utf8))

        let scratch = Scratch()
        let store = try scratch.open()
        var e = event("h1")
        e.headers = headers
        try store.write { tx in try tx.enqueue(e) }
        #expect(try store.pendingOutbox(limit: 1).first?.headers == headers)
        #expect(try store.write { tx in try tx.enqueue(e) } == .alreadyEnqueued)
    }
}

@Suite("Timers: cancelling a case's timers of one kind")
struct CancelTimersTests {
    @Test("only the case's pending timers of that kind go, the one named in except stays, fired ones stay")
    func cancelsByKind() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        func timer(_ id: String, _ caseID: String, _ kind: String) -> TimerRecord {
            TimerRecord(timerID: id, caseID: caseID, kind: kind, dueAt: t(10), payload: Data(), createdAt: t(0))
        }
        try store.write { tx in
            for record in [timer("a1", "c1", "a"), timer("a2", "c1", "a"), timer("a3", "c1", "a"),
                           timer("b1", "c1", "b"), timer("a4", "c2", "a")] {
                _ = try tx.schedule(record)
            }
            #expect(try tx.markFired(timerID: "a3", at: t(10)))
        }
        #expect(try store.write { tx in try tx.cancelTimers(caseID: "c1", kind: "a", except: "a2") } == 1)
        #expect(try store.write { tx in try tx.timers(caseID: "c1") }.map(\.timerID).sorted() == ["a2", "a3", "b1"])
        #expect(try store.write { tx in try tx.cancelTimers(caseID: "c1", kind: "a") } == 1)
        #expect(try store.write { tx in try tx.timers(caseID: "c1") }.map(\.timerID).sorted() == ["a3", "b1"])
        #expect(try store.write { tx in try tx.timers(caseID: "c2") }.map(\.timerID) == ["a4"])
    }
}
