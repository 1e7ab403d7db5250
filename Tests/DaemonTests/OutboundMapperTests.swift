import Contract
@testable import Daemon
import Foundation
import Store
import Testing
import Workflow

/// Every workflow event kind becomes a wire message that validates against the committed
/// schema (Config/schemas, compiled into Contract), carries its explanation, and goes to the
/// recipient's queue.
@Suite("OutboundMapper: every event kind → a schema-valid message")
struct OutboundMapperTests {
    static let codeBook = CodeBook(clinics: ["amb-syd-aalborg", "amb-nord-hjoerring"], journals: ["journal-rn"])
    static let decoder = MessageDecoder(codeBook: codeBook)
    static let mapper = OutboundMapper(names: Contract.Topology(), codeBook: codeBook, workflow: WorkflowConfiguration())
    static let day = LocalDate(year: 2026, month: 11, day: 23)!
    static let now = Date(timeIntervalSince1970: 1_795_420_800)  // 2026-11-23T08:00:00Z
    static let ref = InboundRef(messageID: "m-851-1", entry: 0)
    static let clinic: Party = .clinic("amb-syd-aalborg")
    static let municipality: Party = .municipality("851")

    static let data: OutboundMapper.CaseData = {
        var data = OutboundMapper.CaseData(
            municipality: "851", asOf: CalendarDate(iso: "2026-11-23")!, municipalInformation: nil, consentInForce: true,
            grounds: ReferralGrounds(mentalDisorder: .suspected, substanceUse: .diagnosed), clinic: "amb-syd-aalborg",
            today: CalendarDate(iso: "2026-11-23")!,
            jointPlan: HandoverJointPlan(
                planKind: .koordinationsplan, agreedOn: CalendarDate(iso: "2026-11-20")!, documentRef: "KP-1"),
            knowledgeHandover: HandoverKnowledge(
                agreedOn: CalendarDate(iso: "2026-11-21")!, handoverDate: CalendarDate(iso: "2026-11-30")!),
            transitionDate: CalendarDate(iso: "2026-12-01")!, collaborationMeeting: true)
        data.source = MessageSource(
            messageId: "m-851-1", messageType: "municipal-list", sender: SenderRef(kind: .municipality, id: "851"))
        return data
    }()

    /// One sample per payload case (several for some), with a recipient that may get it.
    static let samples: [(EventPayload, Party)] = [
        (.assessmentRequest(clinic: "amb-syd-aalborg", listedBy: ref, origin: .municipality, treatmentStartDeadline: nil), clinic),
        (.centralVisitationReferral(
            reason: .routing(.courseClosedWithinYear(clinic: "x", closedOn: day.adding(days: -30))),
            treatmentStartDeadline: day.adding(days: 14), listedBy: ref, origin: .municipality), .centralVisitation),
        (.centralVisitationReferral(reason: .group3, treatmentStartDeadline: day.adding(days: 14), listedBy: ref, origin: .region),
         .centralVisitation),
        (.centralVisitationReferral(
            reason: .routing(.statusUnknownTimedOut), treatmentStartDeadline: day.adding(days: 14), listedBy: ref,
            origin: .municipality), .centralVisitation),
        (.notGroup2, municipality),
        (.contactStatusRequest(asOf: day, origin: .municipality), .journal),
        (.coordinatedCourse(clinic: "amb-syd-aalborg", asOf: day, listedBy: ref), clinic),
        (.consentWithdrawn(direction: .municipalityToRegion), clinic),
        (.consentWithdrawn(direction: .regionToMunicipality), municipality),
        (.consentWithdrawn(direction: .municipalityToRegion), .centralVisitation),
        (.assessmentShared(course: .integrated, proposedTransitionOn: day.adding(days: 30)), municipality),
        (.moreInformationRequested, municipality),
        (.decision(DecisionRecord(
            workflow: .a, course: .coordinated, municipalityDisagreed: true, psychiatryStatement: "statement",
            transitionOn: nil)), municipality),
        (.decision(DecisionRecord(
            workflow: .a, course: .integrated, municipalityDisagreed: false, psychiatryStatement: nil,
            transitionOn: day.adding(days: 10))), clinic),
        (.responsibilityTransfer(
            from: .municipality, to: .region, at: now, effectiveOn: day, treatmentStartDeadline: day.adding(days: 14)),
         municipality),
        (.responsibilityTransfer(from: .municipality, to: .region, at: now, effectiveOn: day, treatmentStartDeadline: nil), clinic),
        (.transitionProposed(proposedOn: day), municipality),
        (.collaborationMeetingNeeded, municipality),
        (.psychiatryProceedsAlone, clinic),
        (.handover(workflow: .a, course: .integrated, plan: nil), municipality),
        (.handover(workflow: .b, course: .coordinated, plan: .koordinationsplan), clinic),
        (.trackEnded(reason: .patientsChoice), municipality),
        (.deadlineWarning(kind: .approaching, deadline: day.adding(days: 3)), .centralVisitation),
        (.deadlineWarning(kind: .passed, deadline: day.adding(days: -1)), clinic),
    ] + TimerKind.allCases.map { (EventPayload.reminder($0), clinic) }

    /// Fails to compile when a payload case is added, so the samples above get a look.
    static func isSampled(_ payload: EventPayload) -> Bool {
        switch payload {
        case .assessmentRequest, .centralVisitationReferral, .notGroup2, .contactStatusRequest, .coordinatedCourse,
            .heldForConsent, .consentWithdrawn, .assessmentShared, .moreInformationRequested, .decision,
            .responsibilityTransfer, .transitionProposed, .collaborationMeetingNeeded, .psychiatryProceedsAlone,
            .handover, .trackEnded, .deadlineWarning, .reminder:
            return true
        }
    }

    static func event(_ payload: EventPayload, to recipient: Party) -> OutboundEvent {
        OutboundEvent(
            id: EventID(inbound: ref, index: 0, kind: payload.kind), recipient: recipient, citizen: CitizenKey("0103304123"),
            payload: payload,
            explanation: Explanation(rule: .r5, summary: "test", facts: ["fact one", "fact two"], rulesVersion: "test-1"))
    }

    static func map(_ payload: EventPayload, to recipient: Party, data: OutboundMapper.CaseData = data) throws
        -> OutboundMapper.Wire
    {
        try mapper.message(
            for: event(payload, to: recipient), caseID: "case-0123456789abcdef01234567", cpr: CPR("0103304123")!,
            data: data, source: data.source!, at: now)
    }

    @Test("the samples cover every payload kind except the consent hold")
    func coverage() {
        let kinds = Set(Self.samples.map(\.0.kind))
        #expect(Self.samples.allSatisfy { Self.isSampled($0.0) })
        #expect(kinds == [
            "assessment-request", "cv-referral", "not-group-2", "contact-status-request", "coordinated-course",
            "consent-withdrawn", "assessment-shared", "more-information-requested", "decision",
            "responsibility-transfer", "transition-proposed", "collaboration-meeting-needed",
            "psychiatry-proceeds-alone", "handover", "track-ended", "deadline-warning", "reminder",
        ])
    }

    @Test("every event kind maps to a message valid against its schema, routed to its recipient, with its explanation",
          arguments: Self.samples.indices)
    func mapsValid(index: Int) throws {
        let (payload, recipient) = Self.samples[index]
        guard case .publish(let row) = try Self.map(payload, to: recipient) else {
            Issue.record("\(payload.kind) was not published")
            return
        }
        let type = try #require(MessageType(rawValue: row.type))
        #expect(row.type == payload.wireType || payload.wireType == "decision" || payload.wireType == "deadline-warning",
                "\(payload.kind) became \(row.type)")
        let problems = Self.decoder.validateOutbound(type, body: row.body)
        #expect(problems.isEmpty, "\(payload.kind) → \(row.type): \(problems.map(\.reason))")
        let audience = try #require(Self.mapper.audience(for: recipient))
        #expect(row.routingKey == Contract.Topology().routingKey(for: type, to: audience))
        #expect(row.messageID == "m-851-1#0/0-\(payload.kind)")
        #expect(row.correlationID == "m-851-1")
        // The explanation travels as headers always, and in the body where the schema has it.
        #expect(row.headers["x-ddrouter-rule"] == "R5")
        #expect(row.headers["x-ddrouter-outcome"] == payload.kind)
        #expect(row.headers["x-ddrouter-rules-version"] == "test-1")
        let body = try #require(try JSONSerialization.jsonObject(with: row.body) as? [String: Any])
        let schemaHasExplanation = type != .contactStatusRequest  // a question to the journal, not a routing decision
        if schemaHasExplanation {
            let explanation = body["explanation"] as? [String: Any]
            #expect(explanation?["facts"] as? [String] == ["fact one", "fact two"], "\(payload.kind)")
            #expect(explanation?["outcome"] as? String == payload.kind)
        }
        // CPRs travel as ten digits in bodies, never in headers.
        #expect(body["cpr"] as? String == "0103304123")
        #expect(!row.headers.values.contains { $0.contains("0103304123") })
    }

    /// The case data in every shape a case can have when an event is mapped: each optional
    /// fact absent, each present, consent in force or not, a referral's grounds or a list's.
    static var dataVariants: [OutboundMapper.CaseData] {
        var minimal = OutboundMapper.CaseData(
            municipality: "851", asOf: CalendarDate(iso: "2026-11-23")!, municipalInformation: nil, consentInForce: false)
        minimal.source = data.source
        var withdrawn = data
        withdrawn.consentInForce = false
        withdrawn.withdrawnOn = CalendarDate(iso: "2026-11-22")!
        withdrawn.withdrawnDirections = [.municipalityToRegion, .regionToMunicipality]
        var referred = data
        referred.receivedAt = now
        referred.municipalInformation = MunicipalInformation(
            substanceTreatment: SubstanceTreatment(since: CalendarDate(iso: "2024-01-01")!),
            complexityNotes: "free text", contactPerson: ContactPerson(name: "Staff Member"))
        var noClinic = data
        noClinic.clinic = nil
        return [data, minimal, withdrawn, referred, noClinic]
    }

    /// Issue 15: the router no longer validates each outbound body against its schema at run
    /// time (it cost 6 % of the daemon's CPU per list citizen). This test carries that check:
    /// every event kind, to its recipient, over every shape of case data, gives a message that
    /// validates, a consent hold, or a reasoned "cannot send" — never an invalid body.
    @Test("every event kind over every shape of case data: valid, held or reported, never invalid",
          arguments: Self.samples.indices)
    func neverInvalid(index: Int) throws {
        let (payload, recipient) = Self.samples[index]
        for (variant, data) in Self.dataVariants.enumerated() {
            switch try Self.map(payload, to: recipient, data: data) {
            case .publish(let row):
                let type = try #require(MessageType(rawValue: row.type))
                let problems = Self.decoder.validateOutbound(type, body: row.body)
                #expect(problems.isEmpty, "\(payload.kind) → \(row.type), data variant \(variant): \(problems.map(\.reason))")
            case .held, .unavailable:
                break
            }
        }
    }

    @Test("R5: a decision over the municipality's disagreement carries the visitation right and the statement")
    func visitationRight() throws {
        let record = DecisionRecord(
            workflow: .a, course: .coordinated, municipalityDisagreed: true, psychiatryStatement: "what it would take",
            transitionOn: nil)
        guard case .publish(let row) = try Self.map(.decision(record), to: Self.municipality) else {
            Issue.record("not published")
            return
        }
        let body = try #require(try JSONSerialization.jsonObject(with: row.body) as? [String: Any])
        #expect(body["basis"] as? String == "visitation-right")
        #expect(body["overMunicipalDisagreement"] as? Bool == true)
        #expect(body["psychiatryStatement"] as? String == "what it would take")
        #expect(body["outcome"] as? String == "coordinated")
    }

    @Test("workflow B's handover names the plan, the knowledge handover and the steps in order")
    func handoverB() throws {
        guard case .publish(let row) = try Self.map(.handover(workflow: .b, course: .coordinated, plan: .koordinationsplan),
                                                    to: Self.municipality)
        else {
            Issue.record("not published")
            return
        }
        let body = try #require(try JSONSerialization.jsonObject(with: row.body) as? [String: Any])
        #expect(body["direction"] as? String == "to-coordinated")
        #expect(body["effectiveOn"] as? String == "2026-12-01")
        #expect(body["completedSteps"] as? [String]
            == ["collaboration-meeting", "network-meeting", "joint-plan", "knowledge-handover"])
        #expect((body["jointPlan"] as? [String: Any])?["documentRef"] as? String == "KP-1")
        #expect((body["knowledgeHandover"] as? [String: Any])?["handoverDate"] as? String == "2026-11-30")
    }

    @Test("the consent hold publishes nothing; without consent no municipal information is attached")
    func consentGate() throws {
        #expect(try Self.map(.heldForConsent(direction: .municipalityToRegion, purpose: .treatmentDialogue),
                             to: Self.municipality) == .held)
        var data = Self.data
        data.municipalInformation = MunicipalInformation(
            substanceTreatment: SubstanceTreatment(since: CalendarDate(iso: "2024-01-01")!),
            contactPerson: ContactPerson(name: "Staff Member"))
        data.consentInForce = false
        guard case .publish(let row) = try Self.map(
            .assessmentRequest(clinic: "amb-syd-aalborg", listedBy: Self.ref, origin: .municipality, treatmentStartDeadline: nil), to: Self.clinic,
            data: data)
        else {
            Issue.record("not published")
            return
        }
        let body = try #require(try JSONSerialization.jsonObject(with: row.body) as? [String: Any])
        #expect(body["municipalInformation"] == nil)
        #expect(body["consentInForce"] as? Bool == false)
        data.consentInForce = true
        guard case .publish(let withConsent) = try Self.map(
            .assessmentRequest(clinic: "amb-syd-aalborg", listedBy: Self.ref, origin: .municipality, treatmentStartDeadline: nil), to: Self.clinic,
            data: data)
        else { return }
        let full = try #require(try JSONSerialization.jsonObject(with: withConsent.body) as? [String: Any])
        #expect(full["municipalInformation"] != nil)
    }

    @Test("a message whose schema needs a clinic the case does not know is reported, not sent invalid")
    func missingClinic() throws {
        var data = Self.data
        data.clinic = nil
        let wire = try Self.map(
            .responsibilityTransfer(from: .municipality, to: .region, at: Self.now, effectiveOn: Self.day,
                                    treatmentStartDeadline: nil),
            to: .centralVisitation, data: data)
        guard case .unavailable(let why) = wire else {
            Issue.record("expected unavailable, got \(wire)")
            return
        }
        #expect(why.contains("responsibility-transfer"))
    }
}
