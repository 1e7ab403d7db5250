import Contract
import Foundation
import Store
import Workflow

/// The generic single-citizen path: every inbound type about one citizen (referral,
/// consent-update, assessment, municipal-position, meeting-outcome, transition-proposal,
/// joint-plan, knowledge-handover, patient-choice, treatment-started) becomes a
/// `CaseRequest`, and `process(caseRequest:)` runs it in one store transaction:
/// load the case by pseudonym (`CaseSnapshot`) → `Decide.caseRequest` (pure) →
/// `UnitOfWork.apply`: case, history, outbox, audit, consent and timers, then the receipt.
///
/// A citizen without a case (or a `caseId` that is not the citizen's case) gets a
/// `fatal-error` receipt `unknown-case`; an input the case cannot take in its state gets
/// `out-of-order` with the workflow's reason. Either way nothing about the case changes.
extension Pipeline {
    /// What a single-citizen message asks of the citizen's case.
    struct CaseRequest {
        var cpr: CPR
        /// The `caseId` the body quotes, if any: it must name the citizen's case.
        var quotedCaseID: String?
        /// The input; `nil` records the message in the history only (a meeting that
        /// decided nothing).
        var input: CaseInput?
        /// Consent the message carries, recorded on the case before the input (R4).
        var consent: Contract.Consent?
        /// Whether the message may open a case for a citizen without one.
        var opensCase = false
        var municipality: String?
        /// The clinic the message names (kept on the case for later messages).
        var clinic: String?
        /// History payload.
        var record: CaseInputRecord
        /// For a referral: the data later outbound messages need (municipal information, grounds).
        var listed: ListedInput?
        /// A consent statement to append to the store's consent records once accepted.
        var consentStatement: Contract.Consent?
    }

    /// Maps a decoded single-citizen message to its case request. `today` is the
    /// Europe/Copenhagen date of receipt (a referral's R1 date and R10 start).
    static func caseRequest(for decoded: DecodedMessage, on today: LocalDate) -> CaseRequest? {
        func local(_ date: CalendarDate?) -> LocalDate? { date.flatMap { LocalDate(iso: $0.description) } }
        func record(clinic: String? = nil) -> CaseInputRecord {
            CaseInputRecord(type: decoded.type.rawValue, clinic: clinic)
        }
        let source = MessageSource(
            messageId: decoded.messageID, messageType: decoded.type.rawValue,
            sender: SenderRef(kind: decoded.sender.kind, id: decoded.sender.id))
        switch decoded.message {
        case .referral(let m):
            let from: Party
            switch decoded.sender {
            case .municipality(let code): from = .municipality(MunicipalityCode(code))
            case .clinic(let id): from = .clinic(ClinicID(id))
            case .journal: from = .journal
            }
            let asOf = CalendarDate(iso: today.iso) ?? CalendarDate(year: 1970, month: 1, day: 1)!
            var isMunicipal = false
            if case .municipality = decoded.sender { isMunicipal = true }
            return CaseRequest(
                cpr: m.cpr, input: .referral(ReferralInput(
                    municipality: MunicipalityCode(m.municipality), clinic: m.clinic.map { ClinicID($0) }, asOf: today,
                    from: from)),
                // A municipal referral's consent decides whether its data may cross (R4); a
                // regional one needs none to be routed within the region.
                consent: isMunicipal ? m.consent : nil, opensCase: true, municipality: m.municipality, clinic: m.clinic,
                record: record(clinic: m.clinic),
                listed: ListedInput(
                    type: decoded.type.rawValue, list: "referral", municipality: m.municipality, asOf: asOf,
                    municipalInformation: m.municipalInformation, grounds: m.grounds, source: source))
        case .consentUpdate(let m):
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId, input: .consentUpdate(consentUpdate(m.consent)),
                municipality: m.municipality, clinic: m.clinic, record: record(clinic: m.clinic),
                consentStatement: m.consent)
        case .assessment(let m):
            let result: AssessmentInput.Result
            switch m.outcome {
            case .integrated: result = .integrated
            case .coordinated: result = .coordinated
            case .needsMoreInformation: result = .needsMoreInformation
            }
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId,
                input: .assessment(AssessmentInput(
                    result: result, clinic: ClinicID(m.clinic), proposedTransitionOn: local(m.proposedTransitionDate))),
                municipality: m.municipality, clinic: m.clinic, record: record(clinic: m.clinic))
        case .municipalPosition(let m):
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId, input: .municipalPosition(m.position == .agree ? .agree : .disagree),
                municipality: m.municipality, record: record())
        case .meetingOutcome(let m):
            var entry = record(clinic: m.clinic)
            entry.meetingKind = m.meetingKind.rawValue
            entry.transitionDate = m.transitionDate
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId, input: meetingInput(m), municipality: m.municipality,
                clinic: m.clinic, record: entry)
        case .transitionProposal(let m):
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId,
                input: .transitionProposal(Workflow.TransitionProposal(
                    municipality: MunicipalityCode(m.municipality), clinic: ClinicID(m.clinic))),
                consent: m.consent, opensCase: true, municipality: m.municipality, clinic: m.clinic,
                record: record(clinic: m.clinic))
        case .jointPlan(let m):
            var entry = record(clinic: m.clinic)
            entry.jointPlan = HandoverJointPlan(planKind: m.planKind, agreedOn: m.agreedOn, documentRef: m.documentRef)
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId, input: .jointPlan(jointPlanKind(m.planKind)),
                municipality: m.municipality, clinic: m.clinic, record: entry)
        case .knowledgeHandover(let m):
            var entry = record(clinic: m.clinic)
            entry.knowledgeHandover = HandoverKnowledge(agreedOn: m.agreedOn, handoverDate: m.handoverDate)
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId, input: .knowledgeHandover, municipality: m.municipality,
                clinic: m.clinic, record: entry)
        case .patientChoice(let m):
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId, input: .patientChoice, municipality: m.municipality,
                clinic: m.clinic, record: record(clinic: m.clinic))
        case .treatmentStarted(let m):
            return CaseRequest(
                cpr: m.cpr, quotedCaseID: m.caseId,
                input: .treatmentStarted(on: local(m.startedOn) ?? today), clinic: m.clinic,
                record: record(clinic: m.clinic))
        case .municipalList, .clinicList, .contactStatus:
            return nil  // list messages take the list path
        }
    }

    /// A meeting outcome as a case input; `nil` for a meeting that decided nothing
    /// (`undecided`), which is recorded only.
    static func meetingInput(_ m: Contract.MeetingOutcome) -> CaseInput? {
        let course: CourseKind?
        switch m.decision {
        case .integrated?: course = .integrated
        case .coordinated?: course = .coordinated
        case .undecided?, nil: course = nil
        }
        let transitionOn = m.transitionDate.flatMap { LocalDate(iso: $0.description) }
        switch m.meetingKind {
        case .overview:
            return .meetingOutcome(.overview)
        case .decision:
            guard let course else { return nil }
            return .meetingOutcome(.decision(DecisionInput(
                course: course, transitionOn: transitionOn, municipalityAgrees: m.agreement == .agreed,
                psychiatryStatement: m.psychiatryStatement)))
        case .network:
            guard course != nil else { return nil }
            return .meetingOutcome(.network(transitionOn: transitionOn))
        case .collaboration:
            guard let course else { return nil }
            return .meetingOutcome(.collaboration(
                m.agreement == .agreed ? .agreed(course) : .psychiatryDecides(course, statement: m.psychiatryStatement)))
        }
    }

    static func jointPlanKind(_ kind: Contract.JointPlanKind) -> Workflow.JointPlanKind {
        switch kind {
        case .udskrivningsaftale: return .udskrivningsaftale
        case .koordinationsplan: return .koordinationsplan
        case .koordinerendeIndsatsplan: return .koordinerendeIndsatsplan
        }
    }

    /// A wire consent as a case input (R4). `directions` absent means both.
    static func consentUpdate(_ consent: Contract.Consent) -> Workflow.ConsentUpdate {
        Workflow.ConsentUpdate(
            status: Self.consent(consent),
            directions: Self.directions(consent.directions ?? Contract.ConsentDirection.allCases))
    }

    /// Wire consent directions as the workflow's (R4).
    static func directions(_ directions: [Contract.ConsentDirection]) -> [Workflow.ConsentDirection] {
        directions.map { $0 == .municipalityToRegion ? .municipalityToRegion : .regionToMunicipality }
    }

    // MARK: - the path

    func process(caseRequest request: CaseRequest, decoded: DecodedMessage, at now: Date) async -> Settlement {
        await commit(decoded) { tx -> ListSummary in
            let pseudonym = try options.pseudonymizer.pseudonym(forCPR: request.cpr.digits)
            let snapshot = try CaseSnapshot.load(Self.caseID(pseudonym), in: tx, cache: stateCache)
            let unit = try decide.caseRequest(request, decoded: decoded, pseudonym: pseudonym, snapshot: snapshot, at: now)
            try unit.apply(in: tx, remembering: stateCache)
            return unit.summary
        }
    }

    /// The clinic the case's workflow has in charge, if it names one (not Central Visitation).
    static func clinicInCharge(_ citizenCase: CitizenCase) -> String? {
        if let b = citizenCase.workflowB { return b.clinic.rawValue }
        if case .clinic(let id)? = citizenCase.workflowA?.regionParty { return id.rawValue }
        return citizenCase.coordinatedCourse?.clinic.rawValue
    }
}

/// What later outbound messages need from a case's `input` history rows: the latest listing
/// (or referral) and, since the latest transition proposal, workflow B's plan, handover,
/// transition date and whether a collaboration meeting was held.
struct InputSummary: Equatable {
    var listed: ListedInput?
    var jointPlan: HandoverJointPlan?
    var knowledge: HandoverKnowledge?
    var transitionDate: CalendarDate?
    var collaboration = false

    init() {}

    init(listed: ListedInput) { self.listed = listed }

    /// Reads the payloads oldest first (`add`).
    init(payloads: [Data]) {
        for payload in payloads { add(payload) }
    }

    /// Takes in the next input row. Each row is decoded once, as `HistoryInputRow`, which
    /// never fails for a row of another shape: a listing (`list` present), a single-citizen
    /// input (`type` without `list`), or something else (contact facts, timer inputs), which
    /// is skipped.
    mutating func add(_ payload: Data) {
        guard let row = try? StoreBinary.decode(HistoryInputRow.self, from: payload) else { return }
        if let list = row.list, let type = row.type, let municipality = row.municipality, let asOf = row.asOf {
            listed = ListedInput(
                type: type, list: list, municipality: municipality, asOf: asOf,
                municipalInformation: row.municipalInformation, grounds: row.grounds, source: row.source)
            return
        }
        guard let type = row.type else { return }
        add(type: type, jointPlan: row.jointPlan, knowledgeHandover: row.knowledgeHandover,
            meetingKind: row.meetingKind, transitionDate: row.transitionDate)
    }

    /// Takes in a single-citizen message's own input row, as `add(_:)` would its stored form.
    mutating func add(_ record: CaseInputRecord) {
        add(type: record.type, jointPlan: record.jointPlan, knowledgeHandover: record.knowledgeHandover,
            meetingKind: record.meetingKind, transitionDate: record.transitionDate)
    }

    /// Workflow B's part of an input row (a stored one or this delivery's own).
    private mutating func add(
        type: String, jointPlan plan: HandoverJointPlan?, knowledgeHandover handover: HandoverKnowledge?,
        meetingKind: String?, transitionDate date: CalendarDate?
    ) {
        if type == MessageType.transitionProposal.rawValue {
            // A new proposal starts workflow B afresh.
            (jointPlan, knowledge, transitionDate, collaboration) = (nil, nil, nil, false)
        }
        if let plan { jointPlan = plan }
        if let handover { knowledge = handover }
        if meetingKind == MeetingKind.network.rawValue, let date { transitionDate = date }
        if meetingKind == MeetingKind.collaboration.rawValue { collaboration = true }
    }
}
