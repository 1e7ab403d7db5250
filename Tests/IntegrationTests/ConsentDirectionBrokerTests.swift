import AMQP
import Contract
import Daemon
import Foundation
import Store
import Testing
import Workflow

/// Issue 14, items 2 and 3 (R4) through the real broker: consent per direction as a list
/// entry states it, and a withdrawal from any party reaching every party of the dialogue.
extension ClientTests {
    private static func types(_ deliveries: [Delivery]?) -> [String] { (deliveries ?? []).map { $0.properties.type ?? "-" } }

    @Test("R4: a list entry's consent municipality-to-region only keeps the assessment and the meeting reminder from the municipality")
    func consentToRegionOnlyOnTheWire() async throws {
        var workflow = WorkflowConfiguration()
        workflow.timers.meetingReminderDays = 1
        try await DaemonHarness.run("c2dir", start: Self.monday, workflow: workflow) { h in
            let inbox = h.names.queue(for: .municipality("851"))
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            let cpr = "0103304123"
            var list = Self.list([(cpr, "given")])
            var entries = try #require(list["entries"] as? [[String: Any]])
            entries[0]["consent"] = [
                "status": "given", "date": "2026-11-20", "directions": ["municipality-to-region"],
                "declarationRef": "SAMTYKKE-TEST-2",
            ]
            list["entries"] = entries

            // Municipal data may reach the region: the clinic gets the assessment request.
            try await h.send(list, type: "municipal-list", id: "d-list", from: Self.aalborg)
            let listReceipt = try await h.receipt(in: inbox, for: "d-list")
            #expect(listReceipt["heldEntries"] == nil)
            try await h.send(Self.currentCourse([cpr]), type: "contact-status", id: "d-status", from: Self.journalRN)
            var all = try await h.drainAll()
            #expect(all[inbox] == nil || all[inbox]?.isEmpty == true)
            let request = try #require(all[clinic]?.first { $0.properties.type == "assessment-request" })
            #expect(request.json["consentInForce"] as? Bool == true)
            let caseID = try #require(request.json["caseId"] as? String)

            // Psychiatry's assessment is region data: without consent region-to-municipality
            // no `municipality.851.decision` (assessment-shared).
            try await h.send(Self.integratedAssessment(caseID: caseID, cpr: cpr, on: "2026-11-23"), type: "assessment", id: "d-assessment", from: Self.clinicAalborg)
            all = try await h.drainAll()
            #expect(Self.types(all[clinic]) == ["receipt"])
            #expect(all[clinic]?.first?.json["status"] as? String == "ok")
            #expect(all[inbox] == nil || all[inbox]?.isEmpty == true, "to the municipality: \(Self.types(all[inbox]))")

            // The decision-meeting reminder ("assessed and waiting for the decision meeting")
            // goes to the clinic only.
            h.clock.advance(days: 1)
            let reminder = try #require(try await h.take(clinic, count: 1).first)
            #expect(reminder.properties.type == "deadline-warning")
            #expect(reminder.json["deadlineKind"] as? String == "meeting")
            all = try await h.drainAll()
            #expect(all.values.allSatisfy { $0.isEmpty }, "unexpected: \(all.mapValues(Self.types))")

            // Consent region-to-municipality given later releases both to the municipality.
            try await h.send([
                "schemaVersion": "1.0", "cpr": cpr, "municipality": "851", "caseId": caseID,
                "consent": [
                    "status": "given", "date": "2026-11-24", "directions": ["region-to-municipality"],
                    "declarationRef": "SAMTYKKE-TEST-3",
                ],
            ], type: "consent-update", id: "d-given", from: Self.aalborg)
            all = try await h.drainAll()
            #expect(Self.types(all[inbox]).sorted() == ["deadline-warning", "decision", "receipt"])
            let shared = try #require(all[inbox]?.first { $0.properties.type == "decision" })
            #expect(shared.properties.headers["x-ddrouter-outcome"] == .string("assessment-shared"))
            #expect((shared.json["explanation"] as? [String: Any])?["outcome"] as? String == "assessment-shared")
        }
    }

    @Test("R4: a withdrawal sent by the clinic reaches the municipality, the clinic and the journal; nothing crosses after it")
    func clinicWithdrawalReachesTheMunicipality() async throws {
        try await DaemonHarness.run("c2wd", start: Self.monday) { h in
            let inbox = h.names.queue(for: .municipality("851"))
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            let journal = h.names.queue(for: .journal("journal-rn"))
            let cpr = "0103304123"

            // Listed with consent both ways; the journal is asked, answers; the clinic has the request.
            try await h.send(Self.list([(cpr, "given")]), type: "municipal-list", id: "w-list", from: Self.aalborg)
            #expect(try await h.take(journal, count: 1).first?.properties.type == "contact-status-request")
            try await h.send(Self.currentCourse([cpr]), type: "contact-status", id: "w-status", from: Self.journalRN)
            var all = try await h.drainAll()
            let request = try #require(all[clinic]?.first { $0.properties.type == "assessment-request" })
            let caseID = try #require(request.json["caseId"] as? String)
            #expect(Self.types(all[inbox]) == ["receipt"], "the municipality has received nothing from the region")

            // The clinic withdraws (both directions).
            try await h.send([
                "schemaVersion": "1.0", "cpr": cpr, "municipality": "851", "clinic": "amb-syd-aalborg", "caseId": caseID,
                "consent": ["status": "withdrawn", "date": "2026-11-24"],
            ], type: "consent-update", id: "w-withdrawn", from: Self.clinicAalborg)
            all = try await h.drainAll()
            for queue in [inbox, clinic, journal] {
                let notices = (all[queue] ?? []).filter { $0.properties.type == "consent-withdrawn" }
                #expect(notices.count == 1, "\(queue): \(Self.types(all[queue]))")
                let notice = try #require(notices.first)
                #expect(notice.properties.correlationID == "w-withdrawn")
                #expect(notice.json["instruction"] as? String == "stop-dialogue")
                #expect(notice.json["caseIds"] as? [String] == [caseID])
                #expect(notice.json["withdrawnOn"] as? String == "2026-11-24")
                #expect(notice.json["directions"] as? [String] == ["municipality-to-region", "region-to-municipality"],
                        "both directions are no longer covered")
                #expect(notice.properties.headers["x-ddrouter-rule"] == .string("R4"))
            }
            #expect(Self.types(all[clinic]).sorted() == ["consent-withdrawn", "receipt"])
            #expect(Self.types(all[inbox]) == ["consent-withdrawn"])

            // Further exchange stops: the clinic's assessment stays in the region.
            try await h.send(Self.integratedAssessment(caseID: caseID, cpr: cpr, on: "2026-11-25"), type: "assessment", id: "w-assessment", from: Self.clinicAalborg)
            all = try await h.drainAll()
            #expect(Self.types(all[clinic]) == ["receipt"])
            for (queue, deliveries) in all where queue != clinic {
                #expect(deliveries.isEmpty, "unexpected in \(queue): \(Self.types(deliveries))")
            }
        }
    }

    @Test("R4/R10 (I13): after a withdrawal Central Visitation still gets the treatment-start warning; the municipality nothing")
    func deadlineWarningAfterWithdrawal() async throws {
        try await DaemonHarness.run("c2r10", start: Self.monday) { h in
            let inbox = h.names.queue(for: .municipality("851"))
            let cv = h.names.centralVisitationQueue
            let cpr = "0103304123"
            try await h.send(Self.list([(cpr, "given")]), type: "municipal-list", id: "v-list", from: Self.aalborg)
            #expect(try await h.receipt(in: inbox, for: "v-list")["status"] as? String == "ok")
            try await h.send([
                "schemaVersion": "1.0", "asOf": "2026-11-23",
                "entries": [["cpr": cpr, "known": true, "closedCourses": [["clinic": "amb-syd-aalborg", "closedOn": "2026-10-01"]]]],
            ], type: "contact-status", id: "v-status", from: Self.journalRN)
            var all = try await h.drainAll()
            let referral = try #require(all[cv]?.first { $0.properties.type == "cv-referral" })
            #expect(referral.json["treatmentDeadline"] as? String == "2026-12-07")

            try await h.send([
                "schemaVersion": "1.0", "cpr": cpr, "municipality": "851",
                "consent": ["status": "withdrawn", "date": "2026-11-24"],
            ], type: "consent-update", id: "v-withdrawn", from: Self.aalborg)
            all = try await h.drainAll()
            #expect(Self.types(all[cv]) == ["consent-withdrawn"])
            #expect(Self.types(all[h.names.queue(for: .journal("journal-rn"))]) == ["consent-withdrawn"])
            #expect(Self.types(all[inbox]).sorted() == ["consent-withdrawn", "receipt"])

            // 2026-12-04: three days before the deadline. The region's duty goes on (I13).
            h.clock.advance(days: 11)
            let warning = try #require(try await h.take(cv, count: 1).first)
            #expect(warning.properties.type == "deadline-warning")
            #expect(warning.json["deadlineKind"] as? String == "treatment-start")
            #expect(warning.json["state"] as? String == "approaching")
            #expect(warning.json["deadline"] as? String == "2026-12-07")
            #expect(warning.json["municipalInformation"] == nil)
            all = try await h.drainAll()
            #expect(all.values.allSatisfy { $0.isEmpty }, "unexpected: \(all.mapValues(Self.types))")
        }
    }
}
