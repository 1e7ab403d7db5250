import Contract
@testable import Daemon
import Foundation
import Testing
import Workflow

/// The pure half of the generic single-case path: each inbound type (the committed
/// examples) becomes the right case input, with what it opens, quotes and records.
@Suite("Pipeline.caseRequest: every single-citizen type → its case input")
struct CaseRequestTests {
    static let decoder = MessageDecoder(
        codeBook: CodeBook(clinics: ["amb-syd-aalborg", "amb-nord-hjoerring"], journals: ["journal-rn"]))
    static let today = LocalDate(year: 2026, month: 11, day: 23)!

    static func decoded(_ example: String, type: String, exchange: String, edit: (inout [String: Any]) -> Void = { _ in })
        throws -> DecodedMessage
    {
        let url = DaemonSettingsTests.repoRoot.appendingPathComponent("Config/examples/\(example).json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&json)
        let body = try JSONSerialization.data(withJSONObject: json)
        let properties = InboundProperties(
            type: type, messageID: "m-1", userID: "u", contentType: "application/json", exchange: exchange)
        switch decoder.decode(properties: properties, body: body) {
        case .success(let message): return message
        case .failure(let rejection): throw rejection
        }
    }

    static func request(_ example: String, type: String, exchange: String, edit: (inout [String: Any]) -> Void = { _ in })
        throws -> Pipeline.CaseRequest
    {
        try #require(Pipeline.caseRequest(for: try decoded(example, type: type, exchange: exchange, edit: edit), on: today))
    }

    @Test("a municipal referral carries its consent and opens a case; a regional one needs no consent")
    func referral() throws {
        let municipal = try Self.request("referral", type: "referral", exchange: "dd.in.municipality.813")
        #expect(municipal.opensCase)
        #expect(municipal.consent?.status == .given)
        #expect(municipal.input == .referral(ReferralInput(municipality: "813", clinic: nil, asOf: Self.today, from: .municipality("813"))))
        #expect(municipal.listed?.grounds?.mentalDisorder == .suspected)
        let regional = try Self.request("referral", type: "referral", exchange: "dd.in.journal.journal-rn")
        #expect(regional.consent == nil)
        #expect(regional.input == .referral(ReferralInput(municipality: "813", clinic: nil, asOf: Self.today, from: .journal)))
    }

    @Test("consent-update quotes its case and records the statement")
    func consentUpdate() throws {
        let r = try Self.request("consent-update.withdrawn", type: "consent-update", exchange: "dd.in.municipality.851")
        #expect(!r.opensCase)
        #expect(r.quotedCaseID == nil)
        #expect(r.consentStatement?.status == .withdrawn)
        #expect(r.input == .consentUpdate(Workflow.ConsentUpdate(status: .withdrawn(on: LocalDate(iso: "2026-12-01")!))))
        let quoted = try Self.request("consent-update", type: "consent-update", exchange: "dd.in.municipality.851")
        #expect(quoted.quotedCaseID == "case-851-7f3a9c")
    }

    @Test("assessment, position, patient choice and treatment start")
    func singleSteps() throws {
        let assessment = try Self.request("assessment", type: "assessment", exchange: "dd.in.clinic.amb-syd-aalborg")
        #expect(assessment.input == .assessment(AssessmentInput(
            result: .integrated, clinic: "amb-syd-aalborg", proposedTransitionOn: LocalDate(iso: "2027-01-04"))))
        #expect(assessment.clinic == "amb-syd-aalborg")
        let position = try Self.request("municipal-position", type: "municipal-position", exchange: "dd.in.municipality.851")
        #expect(position.input == .municipalPosition(.disagree))
        let choice = try Self.request("patient-choice", type: "patient-choice", exchange: "dd.in.clinic.amb-syd-aalborg")
        #expect(choice.input == .patientChoice)
        let started = try Self.request("treatment-started", type: "treatment-started", exchange: "dd.in.clinic.amb-nord-hjoerring")
        #expect(started.input == .treatmentStarted(on: LocalDate(iso: "2026-12-01")!))
        #expect(started.quotedCaseID == "case-813-c0ffee")
    }

    @Test("meetings: a decision over disagreement keeps psychiatry's statement; an undecided meeting is recorded only")
    func meetings() throws {
        let decision = try Self.request("meeting-outcome", type: "meeting-outcome", exchange: "dd.in.clinic.amb-syd-aalborg")
        #expect(decision.input == .meetingOutcome(.decision(DecisionInput(
            course: .coordinated, municipalityAgrees: false,
            psychiatryStatement: "Tilbydes integreret behandling ved forværring af psykotiske symptomer."))))
        let network = try Self.request(
            "meeting-outcome.network", type: "meeting-outcome", exchange: "dd.in.clinic.amb-nord-hjoerring")
        #expect(network.input == .meetingOutcome(.network(transitionOn: LocalDate(iso: "2027-04-01"))))
        #expect(network.record.meetingKind == "network")
        #expect(network.record.transitionDate == CalendarDate(iso: "2027-04-01"))
        let undecided = try Self.request("meeting-outcome", type: "meeting-outcome", exchange: "dd.in.clinic.amb-syd-aalborg") {
            $0["decision"] = "undecided"
        }
        #expect(undecided.input == nil)
        let collaboration = try Self.request(
            "meeting-outcome", type: "meeting-outcome", exchange: "dd.in.clinic.amb-syd-aalborg"
        ) { $0["meetingKind"] = "collaboration" }
        #expect(collaboration.input == .meetingOutcome(.collaboration(.psychiatryDecides(
            .coordinated, statement: "Tilbydes integreret behandling ved forværring af psykotiske symptomer."))))
    }

    @Test("workflow B: the proposal opens a case with its consent; plan and handover keep their details")
    func workflowB() throws {
        let proposal = try Self.request(
            "transition-proposal", type: "transition-proposal", exchange: "dd.in.clinic.amb-nord-hjoerring")
        #expect(proposal.opensCase)
        #expect(proposal.consent?.status == .given)
        #expect(proposal.input == .transitionProposal(Workflow.TransitionProposal(municipality: "860", clinic: "amb-nord-hjoerring")))
        let plan = try Self.request("joint-plan", type: "joint-plan", exchange: "dd.in.clinic.amb-nord-hjoerring")
        #expect(plan.input == .jointPlan(.koordinationsplan))
        #expect(plan.record.jointPlan?.documentRef == "KP-2027-0088")
        let handover = try Self.request(
            "knowledge-handover", type: "knowledge-handover", exchange: "dd.in.clinic.amb-nord-hjoerring")
        #expect(handover.input == .knowledgeHandover)
        #expect(handover.record.knowledgeHandover?.handoverDate == CalendarDate(iso: "2027-03-30"))
    }

    @Test("list messages take the list path")
    func lists() throws {
        let list = try Self.decoded("municipal-list", type: "municipal-list", exchange: "dd.in.municipality.851")
        #expect(Pipeline.caseRequest(for: list, on: Self.today) == nil)
    }
}
