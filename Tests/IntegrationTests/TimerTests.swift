import AMQP
import Contract
import Daemon
import Foundation
import Store
import Testing
import Workflow

/// Issue 4, test 8: timers survive restarts and fire once. The daemon's clock is injected
/// and moved forward between restarts of the whole Service on the same store; the wait is
/// configured short (one day).
extension ClientTests {
    @Test("timers: the status-unknown wait and the R10 warnings fire once each across restarts")
    func timersFireOnceAcrossRestarts() async throws {
        var workflow = WorkflowConfiguration()
        workflow.timers.statusUnknownWaitDays = 1
        try await DaemonHarness.run("timers", start: Self.monday, workflow: workflow) { h in
            let cv = h.names.centralVisitationQueue
            let journal = h.names.queue(for: .journal("journal-rn"))
            let inbox = h.names.queue(for: .municipality("851"))
            func types(_ deliveries: [Delivery]?) -> [String] { (deliveries ?? []).map { $0.properties.type ?? "-" } }

            // A listed citizen whose status is unknown: the journal is asked, the wait starts.
            try await h.send(Self.list([("0103304123", "given")]), type: "municipal-list", id: "t-list", from: Self.aalborg)
            var all = try await h.drainAll()
            #expect(types(all[journal]) == ["contact-status-request"])
            #expect(types(all[inbox]) == ["receipt"])
            #expect(all[cv] == nil)

            // Restart two days later: the wait is over; the case goes to Central Visitation.
            await h.stop()
            h.clock.advance(days: 2)
            try await h.start()
            let referral = try #require(try await h.take(cv, count: 1).first)
            #expect(referral.properties.type == "cv-referral")
            #expect(referral.json["reason"] as? String == "status-unknown-timeout")
            #expect(referral.properties.correlationID == "t-list", "timer events correlate with the listing message")
            #expect(referral.json["treatmentDeadline"] as? String == "2026-12-09")
            let caseID = try #require(referral.json["caseId"] as? String)
            all = try await h.drainAll()
            #expect(all.values.allSatisfy { $0.isEmpty }, "\(all.mapValues(types))")

            // Restart again at the same time: nothing fires twice.
            await h.stop()
            try await h.start()
            try await Task.sleep(for: .milliseconds(800))
            all = try await h.drainAll()
            #expect(all.values.allSatisfy { $0.isEmpty }, "a timer fired again: \(all.mapValues(types))")
            let store = try #require(h.service?.store)
            let timers = try store.timers(caseID: caseID)
            #expect(timers.filter { $0.kind == TimerKind.statusUnknownTimeout.rawValue }.map(\.state) == [.fired])

            // R10: three days before the deadline a warning; after it, "passed". Each once.
            h.clock.advance(days: 12)  // 2026-12-07: the warning day (deadline 2026-12-09 - 3 = 2026-12-06)
            let approaching = try #require(try await h.take(cv, count: 1).first)
            #expect(approaching.properties.type == "deadline-warning")
            #expect(approaching.json["state"] as? String == "approaching")
            #expect(approaching.json["deadlineKind"] as? String == "treatment-start")
            #expect(approaching.json["deadline"] as? String == "2026-12-09")
            await h.stop()
            h.clock.advance(days: 3)  // 2026-12-10: past the deadline
            try await h.start()
            let passed = try #require(try await h.take(cv, count: 1).first)
            #expect(passed.json["state"] as? String == "passed")
            #expect((passed.json["daysRemaining"] as? Int).map { $0 < 0 } == true)
            #expect((passed.json["explanation"] as? [String: Any])?["rule"] as? String == "R10")
            await h.stop()
            try await h.start()
            try await Task.sleep(for: .milliseconds(800))
            all = try await h.drainAll()
            #expect(all.values.allSatisfy { $0.isEmpty }, "\(all.mapValues(types))")
            let fired = try #require(h.service?.store).timers(caseID: caseID).filter { $0.state == .fired }
            #expect(Set(fired.map(\.kind)) == [
                TimerKind.statusUnknownTimeout.rawValue, TimerKind.treatmentStartWarning.rawValue,
                TimerKind.treatmentStartOverdue.rawValue,
            ])
            #expect(fired.count == 3)
        }
    }
}
