import AMQP
import Contract
import Daemon
import Foundation
import Store
import Testing
import Workflow

/// Issue 14 through the real broker, with the whole daemon in-process (`DaemonHarness`): each
/// test plays the parties from their own exchanges and reads the answers from their queues.
extension ClientTests {
    /// Municipality `code`'s list 1 for `cprs` (consent given in both directions).
    static func list(of code: String, _ cprs: [String]) -> [String: Any] {
        var body = list(cprs.map { ($0, "given") })
        body["municipality"] = code
        return body
    }

    @Test("contract 'Outbound properties' (issue 14 item 1): 851 and 810 each send a municipal-list with message_id X: both are processed, nothing is dead-lettered")
    func sameMessageIDFromTwoSenders() async throws {
        try await DaemonHarness.run("ids", start: Self.monday) { h in
            let journal = h.names.queue(for: .journal("journal-rn"))
            let inbox851 = h.names.queue(for: .municipality("851"))
            let inbox810 = h.names.queue(for: .municipality("810"))
            try await h.send(Self.list(of: "851", ["0103304123", "0203304123"]), type: "municipal-list", id: "X",
                             from: Self.aalborg)
            #expect(try await h.receipt(in: inbox851, for: "X")["status"] as? String == "ok")
            try await h.send(Self.list(of: "810", ["0303304123", "0403304123"]), type: "municipal-list", id: "X",
                             from: "dd.in.municipality.810")
            let receipt810 = try await h.receipt(in: inbox810, for: "X")
            #expect(receipt810["status"] as? String == "ok", "810's receipt: \(receipt810)")
            #expect(receipt810["acceptedEntries"] as? Int == 2)
            let requests = try await h.take(journal, count: 4)
            #expect(requests.count == 4)
            #expect(Set(requests.compactMap(\.properties.messageID)).count == 4)
            #expect(requests.allSatisfy { $0.properties.correlationID == "X" })
            let rest = try await h.drainAll()
            #expect(rest[h.names.deadLetterQueue, default: []].isEmpty, "dead-lettered: \(rest[h.names.deadLetterQueue] ?? [])")
        }
    }

    /// The case of `cpr` brought to a decision meeting for integrated treatment, held on
    /// `heldOn` with `transitionDate`; returns the case id. Every answer is checked on the way.
    func decideIntegrated(_ h: DaemonHarness, cpr: String, id: String, heldOn: String, transitionDate: String) async throws -> String {
        let inbox = h.names.queue(for: .municipality("851"))
        let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
        let journal = h.names.queue(for: .journal("journal-rn"))
        try await h.send(Self.list([(cpr, "given")]), type: "municipal-list", id: "\(id)-list", from: Self.aalborg)
        #expect(try await h.receipt(in: inbox, for: "\(id)-list")["status"] as? String == "ok")
        _ = try await h.take(journal, count: 1)
        try await h.send(Self.currentCourse([cpr]), type: "contact-status", id: "\(id)-status", from: Self.journalRN)
        #expect(try await h.receipt(in: journal, for: "\(id)-status")["status"] as? String == "ok")
        let request = try #require(try await h.take(clinic, count: 1).first)
        let caseID = try #require(request.json["caseId"] as? String)
        try await h.send(Self.integratedAssessment(caseID: caseID, cpr: cpr, on: heldOn), type: "assessment", id: "\(id)-assessment", from: Self.clinicAalborg)
        #expect(try await h.receipt(in: clinic, for: "\(id)-assessment")["status"] as? String == "ok")
        _ = try await h.take(inbox, count: 1)
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "851", "clinic": "amb-syd-aalborg",
            "meetingKind": "decision", "heldOn": heldOn, "participants": ["municipality", "psychiatry"],
            "agreement": "agreed", "decision": "integrated", "transitionDate": transitionDate,
            "furtherMeetingNeeded": false,
        ], type: "meeting-outcome", id: "\(id)-decision", from: Self.clinicAalborg)
        #expect(try await h.receipt(in: clinic, for: "\(id)-decision")["status"] as? String == "ok")
        return caseID
    }

    @Test("R9 (issue 14 item 7): a transition date ten days after the decision moves responsibility at the start of that date in Copenhagen, stamped so even when the daemon was down then; R10 counts from it")
    func transferAtTheTransitionDate() async throws {
        try await DaemonHarness.run("r9", start: Self.monday) { h in
            let inbox = h.names.queue(for: .municipality("851"))
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            _ = try await decideIntegrated(h, cpr: "0103304123", id: "r9", heldOn: "2026-11-23", transitionDate: "2026-12-03")
            for queue in [inbox, clinic] {
                let got = try await h.take(queue, count: 1)
                #expect(got.map { $0.properties.type ?? "-" } == ["decision"], "only the decision at the meeting")
            }
            // The daemon is down from before the transition date until 2026-12-09.
            await h.stop()
            h.clock.advance(days: 16)
            try await h.start()
            for queue in [inbox, clinic] {
                let transfer = try #require(try await h.take(queue, count: 1).first)
                #expect(transfer.properties.type == "responsibility-transfer")
                // 2026-12-03 00:00 in Copenhagen (CET, UTC+1).
                #expect(transfer.json["transferredAt"] as? String == "2026-12-02T23:00:00Z")
            }
            // R10: 14 days from the transfer is 2026-12-17, warned 3 days before (12-14).
            await h.stop()
            h.clock.advance(days: 5)  // 2026-12-14
            try await h.start()
            let warning = try #require(try await h.take(clinic, count: 1).first)
            #expect(warning.properties.type == "deadline-warning")
            #expect(warning.json["deadline"] as? String == "2026-12-17")
        }
    }
}

extension ClientTests {
    @Test("R10 (issue 14 item 8): a referral routed to a clinic carries the 14-day deadline from its receipt, and the clinic is warned before it")
    func referralToClinicCarriesDeadline() async throws {
        try await DaemonHarness.run("r10c", start: Self.monday) { h in
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            let journal = h.names.queue(for: .journal("journal-rn"))
            let cpr = "0503304123"
            try await h.send(Self.referral(cpr, municipality: "851"), type: "referral", id: "r10c-ref", from: Self.journalRN)
            let answers = try await h.take(journal, count: 2)
            #expect(Set(answers.compactMap(\.properties.type)) == ["receipt", "contact-status-request"])
            // The journal answers two days later: the deadline still counts from the receipt.
            h.clock.advance(days: 2)
            try await h.send(Self.currentCourse([cpr]), type: "contact-status", id: "r10c-status", from: Self.journalRN)
            #expect(try await h.receipt(in: journal, for: "r10c-status")["status"] as? String == "ok")
            let request = try #require(try await h.take(clinic, count: 1).first)
            #expect(request.properties.type == "assessment-request")
            #expect(request.json["treatmentDeadline"] as? String == "2026-12-07", "received 2026-11-23 + 14 days")
            // 2026-12-04, three days before: the clinic is warned.
            h.clock.advance(days: 9)
            let warning = try #require(try await h.take(clinic, count: 1).first)
            #expect(warning.properties.type == "deadline-warning")
            #expect(warning.json["deadlineKind"] as? String == "treatment-start")
            #expect(warning.json["deadline"] as? String == "2026-12-07")
        }
    }

    @Test("R10 (issue 14 item 8): a status-unknown referral goes to Central Visitation with the deadline and receivedAt of its receipt, not of the timeout")
    func statusUnknownReferralKeepsReceipt() async throws {
        try await DaemonHarness.run("r10u", start: Self.monday) { h in
            let cv = h.names.centralVisitationQueue
            let journal = h.names.queue(for: .journal("journal-rn"))
            try await h.send(Self.referral("0603304123", municipality: "851"), type: "referral", id: "r10u-ref", from: Self.journalRN)
            _ = try await h.take(journal, count: 2)
            // No answer from the journal: the 7-day wait ends on 2026-11-30.
            h.clock.advance(days: 7)
            let referral = try #require(try await h.take(cv, count: 1, within: .seconds(20)).first)
            #expect(referral.properties.type == "cv-referral")
            #expect(referral.json["reason"] as? String == "status-unknown-timeout")
            #expect(referral.json["treatmentDeadline"] as? String == "2026-12-07")
            #expect(referral.json["receivedAt"] as? String == "2026-11-23T09:00:00Z")
        }
    }
}

extension ClientTests {
    @Test("R2 (issue 14 item 5): a list 2 without clinic is shared with the municipality's serving clinic on the wire, never answered duplicate-entry")
    func listTwoWithoutClinicOnTheWire() async throws {
        try await DaemonHarness.run("list2", start: Self.monday) { h in
            let inbox = h.names.queue(for: .municipality("851"))
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            var body = Self.list(of: "851", ["0103304123", "1506315018"])
            body["listKind"] = "list-2"
            body["clinic"] = nil
            try await h.send(body, type: "municipal-list", id: "l2-no-clinic", from: Self.aalborg)
            let receipt = try await h.receipt(in: inbox, for: "l2-no-clinic")
            #expect(receipt["status"] as? String == "ok")
            #expect(receipt["acceptedEntries"] as? Int == 2)
            #expect((receipt["rejectedEntries"] as? [Any] ?? []).isEmpty, "\(receipt)")
            let courses = try await h.take(clinic, count: 2).filter { $0.properties.type == "coordinated-course" }
            #expect(courses.count == 2)
            #expect(courses.allSatisfy { $0.json["clinic"] as? String == "amb-syd-aalborg" })
        }
    }
}
