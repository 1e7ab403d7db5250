import AMQP
import Contract
import Daemon
import Foundation
import Store
import Testing

/// Issue 4, test 7: workflows A and B end to end through the real broker, with the whole
/// daemon in-process (`DaemonHarness`): every step is a message a party publishes to its own
/// exchange, and every answer is read from the parties' queues.
extension ClientTests {
    static let aalborg = "dd.in.municipality.851"
    static let clinicAalborg = "dd.in.clinic.amb-syd-aalborg"
    static let journalRN = "dd.in.journal.journal-rn"

    static var municipalInformation: [String: Any] {
        [
            "substanceTreatment": ["since": "2024-03-01", "setting": "outpatient", "substances": ["cannabis"]],
            "contactPerson": ["name": "Staff Member", "role": "rusmiddelkonsulent"],
        ]
    }

    static func consent(_ status: String, on date: String = "2026-11-20") -> [String: Any] {
        switch status {
        case "given":
            return ["status": "given", "date": date, "directions": ["municipality-to-region", "region-to-municipality"],
                    "declarationRef": "SAMTYKKE-TEST-1"]
        case "absent": return ["status": "absent"]
        default: return ["status": status, "date": date]
        }
    }

    static func list(_ entries: [(cpr: String, consent: String)], asOf: String = "2026-11-23") -> [String: Any] {
        [
            "schemaVersion": "1.0", "municipality": "851", "clinic": "amb-syd-aalborg", "listKind": "list-1",
            "asOf": asOf,
            "entries": entries.map { ["cpr": $0.cpr, "consent": consent($0.consent), "municipalInformation": municipalInformation] },
        ]
    }

    static func currentCourse(_ cprs: [String], asOf: String = "2026-11-23") -> [String: Any] {
        [
            "schemaVersion": "1.0", "asOf": asOf,
            "entries": cprs.map { ["cpr": $0, "known": true, "currentCourse": ["clinic": "amb-syd-aalborg", "since": "2025-02-10"]] },
        ]
    }

    /// The south clinic's `assessment` of 851's citizen `cpr` in case `caseID`: integrated.
    static func integratedAssessment(caseID: String, cpr: String, on day: String) -> [String: Any] {
        [
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "clinic": "amb-syd-aalborg", "municipality": "851",
            "assessedOn": day, "outcome": "integrated", "statement": "Statement.",
        ]
    }

    static let monday = Date(timeIntervalSince1970: 1_795_424_400)  // 2026-11-23T09:00:00Z

    @Test("workflow A end to end: list → assessment request → assessment → disagreement → decision by visitation right → responsibility transfer → handover")
    func workflowAEndToEnd() async throws {
        try await DaemonHarness.run("wfa", start: Self.monday) { h in
        let inbox = h.names.queue(for: .municipality("851"))
        let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
        let journal = h.names.queue(for: .journal("journal-rn"))
        let cpr = "0103304123"

        // 1. The municipal list (consent given); the journal's status: current course at the clinic.
        try await h.send(Self.list([(cpr, "given")]), type: "municipal-list", id: "wfa-list", from: Self.aalborg)
        #expect(try await h.receipt(in: inbox, for: "wfa-list")["status"] as? String == "ok")
        let question = try await h.take(journal, count: 1)
        #expect(question.first?.properties.type == "contact-status-request")
        try await h.send(Self.currentCourse([cpr]), type: "contact-status", id: "wfa-status", from: Self.journalRN)
        #expect(try await h.receipt(in: journal, for: "wfa-status")["status"] as? String == "ok")

        // 2. The assessment request reaches the clinic with the municipal information.
        let request = try #require(try await h.take(clinic, count: 1).first)
        #expect(request.properties.type == "assessment-request")
        #expect(request.json["municipalInformation"] != nil)
        #expect((request.json["explanation"] as? [String: Any])?["rule"] as? String == "R1")
        let caseID = try #require(request.json["caseId"] as? String)

        // 3. Psychiatry assesses: integrated. The municipality gets the assessment for its position.
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "clinic": "amb-syd-aalborg", "municipality": "851",
            "assessedOn": "2026-11-23", "outcome": "integrated", "statement": "Statement.",
            "proposedTransitionDate": "2026-11-23",
        ], type: "assessment", id: "wfa-assessment", from: Self.clinicAalborg)
        #expect(try await h.receipt(in: clinic, for: "wfa-assessment")["status"] as? String == "ok")
        let shared = try #require(try await h.take(inbox, count: 1).first)
        #expect(shared.properties.type == "decision")
        #expect(shared.properties.headers["x-ddrouter-outcome"] == .string("assessment-shared"))

        // 4. The municipality disagrees.
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "851", "regarding": "assessment",
            "position": "disagree", "comment": "Comment.", "statedOn": "2026-11-23",
        ], type: "municipal-position", id: "wfa-position", from: Self.aalborg)
        #expect(try await h.receipt(in: inbox, for: "wfa-position")["status"] as? String == "ok")
        // Another municipality cannot act on (or learn of) the case.
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "810", "regarding": "assessment",
            "position": "agree", "statedOn": "2026-11-23",
        ], type: "municipal-position", id: "wfa-foreign", from: "dd.in.municipality.810")
        let foreign = try await h.receipt(in: h.names.queue(for: .municipality("810")), for: "wfa-foreign")
        #expect(foreign["code"] as? String == "unknown-case")

        // 5. The decision meeting: psychiatry decides integrated by its visitation right, with
        //    its statement, moving today → decision and responsibility transfer to both (R5, R9).
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "851", "clinic": "amb-syd-aalborg",
            "meetingKind": "decision", "heldOn": "2026-11-23", "participants": ["municipality", "psychiatry"],
            "agreement": "disagreed", "decision": "integrated", "transitionDate": "2026-11-23",
            "psychiatryStatement": "Integrated treatment is needed.", "furtherMeetingNeeded": false,
        ], type: "meeting-outcome", id: "wfa-decision", from: Self.clinicAalborg)
        #expect(try await h.receipt(in: clinic, for: "wfa-decision")["status"] as? String == "ok")
        for queue in [inbox, clinic] {
            let got = try await h.take(queue, count: 2)
            let decision = try #require(got.first { $0.properties.type == "decision" }, "no decision in \(queue)")
            #expect(decision.json["basis"] as? String == "visitation-right")
            #expect(decision.json["overMunicipalDisagreement"] as? Bool == true)
            #expect(decision.json["psychiatryStatement"] as? String == "Integrated treatment is needed.")
            #expect(decision.json["outcome"] as? String == "integrated")
            #expect(decision.properties.correlationID == "wfa-decision")
            let transfer = try #require(got.first { $0.properties.type == "responsibility-transfer" }, "no transfer in \(queue)")
            #expect(transfer.json["from"] as? String == "municipality")
            #expect(transfer.json["to"] as? String == "region")
            #expect(transfer.json["clinic"] as? String == "amb-syd-aalborg")
            #expect(transfer.json["legalBasis"] as? String == "sundhedsloven § 82 c")
            #expect((transfer.json["explanation"] as? [String: Any])?["rule"] as? String == "R9")
        }

        // 6. Treatment starts → the handover to both (and the R10 deadline stops).
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "clinic": "amb-syd-aalborg", "startedOn": "2026-11-25",
        ], type: "treatment-started", id: "wfa-started", from: Self.clinicAalborg)
        #expect(try await h.receipt(in: clinic, for: "wfa-started")["status"] as? String == "ok")
        for queue in [inbox, clinic] {
            let handover = try #require(try await h.take(queue, count: 1).first)
            #expect(handover.properties.type == "handover")
            #expect(handover.json["direction"] as? String == "to-integrated")
            #expect(handover.json["explanation"] != nil)
        }
        // Nothing else anywhere: no stray or duplicate event.
        let rest = try await h.drainAll()
        #expect(rest.values.allSatisfy { $0.isEmpty }, "unexpected: \(rest.mapValues { $0.map { $0.properties.type ?? "-" } })")
        let store = try #require(h.service?.store)
        #expect(try store.verifyAudit().isOK)
        }
    }

    @Test("workflow B end to end: proposal → collaboration meeting → network meeting → joint plan → knowledge handover → handover")
    func workflowBEndToEnd() async throws {
        try await DaemonHarness.run("wfb", start: Self.monday) { h in
        let inbox = h.names.queue(for: .municipality("860"))
        let clinic = h.names.queue(for: .clinic("amb-nord-hjoerring"))
        let hjoerring = "dd.in.municipality.860"
        let clinicHjoerring = "dd.in.clinic.amb-nord-hjoerring"
        let cpr = "2902324999"

        // 1. The clinic proposes the move back (consent to the dialogue given): the case opens
        //    and the municipality gets the proposal.
        try await h.send([
            "schemaVersion": "1.0", "cpr": cpr, "clinic": "amb-nord-hjoerring", "municipality": "860",
            "proposedOn": "2026-11-23", "stabilityStatement": "Stable.", "consent": Self.consent("given"),
            "proposedTransitionDate": "2027-01-04",
        ], type: "transition-proposal", id: "wfb-proposal", from: clinicHjoerring)
        #expect(try await h.receipt(in: clinic, for: "wfb-proposal")["status"] as? String == "ok")
        let proposal = try #require(try await h.take(inbox, count: 1).first)
        #expect(proposal.properties.type == "decision")
        #expect(proposal.properties.headers["x-ddrouter-outcome"] == .string("transition-proposed"))
        let caseID = try #require(proposal.json["caseId"] as? String)

        // 2. The municipality disagrees → a collaboration meeting is needed (both told).
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "860",
            "regarding": "transition-proposal", "position": "disagree", "comment": "Not yet.", "statedOn": "2026-11-24",
        ], type: "municipal-position", id: "wfb-position", from: hjoerring)
        #expect(try await h.receipt(in: inbox, for: "wfb-position")["status"] as? String == "ok")
        for queue in [inbox, clinic] {
            let notice = try #require(try await h.take(queue, count: 1).first)
            #expect(notice.properties.headers["x-ddrouter-outcome"] == .string("collaboration-meeting-needed"))
        }

        // R7: a joint plan before the meetings is out of order, with the workflow's reason.
        let plan: [String: Any] = [
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "860", "clinic": "amb-nord-hjoerring",
            "planKind": "koordinationsplan", "revision": false, "agreedOn": "2026-12-09", "documentRef": "KP-TEST-1",
        ]
        try await h.send(plan, type: "joint-plan", id: "wfb-plan-early", from: clinicHjoerring)
        let early = try await h.receipt(in: clinic, for: "wfb-plan-early")
        #expect(early["status"] as? String == "fatal-error")
        #expect(early["code"] as? String == "out-of-order")
        #expect((early["reason"] as? String)?.contains("R7") == true)

        // 3. The collaboration meeting agrees on a coordinated course → decision to both.
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "860", "clinic": "amb-nord-hjoerring",
            "meetingKind": "collaboration", "heldOn": "2026-11-30", "participants": ["municipality", "psychiatry"],
            "agreement": "agreed", "decision": "coordinated", "furtherMeetingNeeded": false,
        ], type: "meeting-outcome", id: "wfb-collaboration", from: clinicHjoerring)
        #expect(try await h.receipt(in: clinic, for: "wfb-collaboration")["status"] as? String == "ok")
        for queue in [inbox, clinic] {
            let decision = try #require(try await h.take(queue, count: 1).first)
            #expect(decision.properties.type == "decision")
            #expect(decision.json["basis"] as? String == "agreement")
            #expect(decision.json["outcome"] as? String == "coordinated")
        }

        // 4. Network meeting (with the patient), joint plan, knowledge handover: each accepted,
        //    nothing published until the last step; then the handover to both.
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "860", "clinic": "amb-nord-hjoerring",
            "meetingKind": "network", "heldOn": "2026-12-02", "participants": ["municipality", "psychiatry", "patient"],
            "agreement": "agreed", "decision": "coordinated", "transitionDate": "2027-01-04", "furtherMeetingNeeded": false,
        ], type: "meeting-outcome", id: "wfb-network", from: hjoerring)
        #expect(try await h.receipt(in: inbox, for: "wfb-network")["status"] as? String == "ok")
        try await h.send(plan, type: "joint-plan", id: "wfb-plan", from: clinicHjoerring)
        #expect(try await h.receipt(in: clinic, for: "wfb-plan")["status"] as? String == "ok")
        try await h.send([
            "schemaVersion": "1.0", "caseId": caseID, "cpr": cpr, "municipality": "860", "clinic": "amb-nord-hjoerring",
            "agreedOn": "2026-12-16", "handoverDate": "2026-12-30", "topics": ["medication", "crisis-plan"],
        ], type: "knowledge-handover", id: "wfb-knowledge", from: hjoerring)
        #expect(try await h.receipt(in: inbox, for: "wfb-knowledge")["status"] as? String == "ok")
        for queue in [inbox, clinic] {
            let handover = try #require(try await h.take(queue, count: 1).first)
            #expect(handover.properties.type == "handover")
            #expect(handover.properties.correlationID == "wfb-knowledge")
            #expect(handover.json["direction"] as? String == "to-coordinated")
            #expect(handover.json["effectiveOn"] as? String == "2027-01-04")
            #expect(handover.json["completedSteps"] as? [String]
                == ["collaboration-meeting", "network-meeting", "joint-plan", "knowledge-handover"])
            #expect((handover.json["jointPlan"] as? [String: Any])?["documentRef"] as? String == "KP-TEST-1")
            #expect((handover.json["explanation"] as? [String: Any])?["rule"] as? String == "R7")
        }
        let rest = try await h.drainAll()
        #expect(rest.values.allSatisfy { $0.isEmpty }, "unexpected: \(rest.mapValues { $0.map { $0.properties.type ?? "-" } })")
        }
    }
}
