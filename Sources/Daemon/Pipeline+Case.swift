import Contract
import Foundation
import Store
import Workflow

/// The generic single-citizen path: every inbound type about one citizen (referral,
/// consent-update, assessment, municipal-position, meeting-outcome, transition-proposal,
/// joint-plan, knowledge-handover, patient-choice, treatment-started) becomes a
/// `CaseRequest`, and `process(caseRequest:)` runs it in one store transaction:
/// load the case by pseudonym → `CitizenCase.apply` → case, history, outbox, audit and
/// timers → receipt.
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
        let today = Self.civilDate(of: now)
        let sender = decoded.sender
        let senderKey = Self.senderKey(sender)
        let source = MessageSource(
            messageId: decoded.messageID, messageType: decoded.type.rawValue,
            sender: SenderRef(kind: sender.kind, id: sender.id))
        return await commit(decoded) { tx -> ListSummary in
            var summary = ListSummary()
            let pseudonym = try options.pseudonymizer.pseudonym(forCPR: request.cpr.digits)
            let caseID = Self.caseID(pseudonym)
            let existing = try tx.case(id: caseID)

            func refuse(_ code: RejectionCode, pointer: String? = nil, _ reason: String) throws -> ListSummary {
                let receipt = Receipt(
                    receiptFor: .init(
                        messageId: decoded.messageID, messageType: decoded.type.rawValue,
                        sender: SenderRef(kind: sender.kind, id: sender.id)),
                    status: .fatalError, receivedAt: Contract.Timestamp(now), code: code.rawValue,
                    reason: String(reason.prefix(1000)), pointer: pointer)
                try answer(decoded, receipt: receipt, in: tx, at: now)
                _ = try tx.appendAudit(AuditRecord(
                    at: now, actor: senderKey, action: .rejected, pseudonym: pseudonym,
                    messageType: decoded.type.rawValue, messageID: decoded.messageID, purpose: AuditPurpose.answerSender.recorded))
                summary.rejected = 1
                summary.refusal = Rejection(code: code, pointer: pointer.map(Self.jsonPointer), reason: String(reason.prefix(1000)))
                return summary
            }

            if let quoted = request.quotedCaseID, existing == nil || quoted != caseID {
                return try refuse(
                    .unknownCase, pointer: "/caseId",
                    "`/caseId` does not name a case of this citizen: quote the caseId of the router's message about the citizen.")
            }
            // A municipality acts only on its own citizens' cases (R4: another municipality
            // learns nothing, not even that a case exists).
            if let existing, !request.opensCase, case .municipality(let code) = sender, existing.municipality != code {
                return try refuse(
                    .unknownCase, "The citizen has no case with municipality \(code).")
            }
            if existing == nil && !request.opensCase {
                return try refuse(
                    .unknownCase,
                    "The citizen has no case: a \(decoded.type.rawValue) needs a case opened by a municipal list, a referral or a transition proposal.")
            }
            var citizenCase = try existing?.decodeState(as: CitizenCase.self)
                ?? CitizenCase(citizen: CitizenKey(request.cpr.digits))
            // A message that may open a case must not take over another municipality's open
            // case (R4): its consent, listing data and the case's later messages would go to
            // that municipality. A municipality gets the same answer as for a citizen without
            // a case; a regional sender (which may know the case) is told what is wrong.
            if request.opensCase, let owner = citizenCase.owningMunicipality,
                let named = request.municipality, named != owner.rawValue
            {
                if case .municipality(let code) = sender {
                    return try refuse(.unknownCase, "The citizen has no case with municipality \(code).")
                }
                return try refuse(
                    .outOfOrder, pointer: "/municipality",
                    "The citizen's open case belongs to another municipality than `/municipality` names; it changes only once that case is closed (R4).")
            }
            var events: [OutboundEvent] = []
            var timers: [TimerAction] = []
            // A consent carried by the message; `absent` states nothing and leaves a
            // recorded consent in place.
            if let consent = request.consent, consent.status != .absent {
                let result = citizenCase.apply(
                    .consentUpdate(Self.consentUpdate(consent)),
                    context: CaseContext(ref: InboundRef(sender: senderKey, messageID: decoded.messageID + "/consent"), at: now, on: today),
                    configuration: options.workflow)
                events += result.events
                timers += result.timers
            }
            if let input = request.input {
                let result = citizenCase.apply(
                    input, context: CaseContext(ref: InboundRef(sender: senderKey, messageID: decoded.messageID), at: now, on: today),
                    configuration: options.workflow)
                if case .rejected(let why) = result.outcome {
                    return try refuse(
                        .outOfOrder, "The citizen's case cannot take this \(decoded.type.rawValue) now: \(why.description)")
                }
                events += result.events
                timers += result.timers
            }

            let municipality = existing?.municipality ?? request.municipality ?? ""
            let clinic = Self.clinicInCharge(citizenCase) ?? request.clinic ?? existing?.clinic
            _ = try tx.upsertCase(CaseRecord(
                caseID: caseID, pseudonym: pseudonym, workflow: citizenCase.workflowB != nil ? "B" : "A",
                municipality: municipality, clinic: clinic, status: citizenCase.stateName, state: citizenCase,
                updatedAt: now))
            _ = try tx.appendHistory(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .input, messageID: Self.sourceKey(decoded),
                payload: try request.listed.map { try StoreJSON.encode($0) } ?? StoreJSON.encode(request.record),
                explanation: nil))
            _ = try tx.appendAudit(AuditRecord(
                at: now, actor: senderKey, action: .received, pseudonym: pseudonym,
                messageType: decoded.type.rawValue, messageID: decoded.messageID,
                purpose: AuditPurpose.received(decoded.type, from: sender).recorded))
            let data = try caseData(
                in: tx, caseID: caseID, municipality: municipality, clinic: clinic, citizenCase: citizenCase, on: today)
            try record(events: events, timers: timers, in: tx, caseID: caseID, cpr: request.cpr,
                       pseudonym: pseudonym, data: data, source: source, at: now, summary: &summary)
            if let statement = request.consentStatement ?? request.consent {
                try recordConsent(statement, pseudonym: pseudonym, messageID: Self.sourceKey(decoded), in: tx, at: now)
            }
            var receipt = Receipt(accepting: decoded, receivedAt: Contract.Timestamp(now))
            if request.opensCase, events.contains(where: Self.isHeldNotice) { receipt.heldEntries = [0] }
            try answer(decoded, receipt: receipt, in: tx, at: now)
            summary.accepted = 1
            return summary
        }
    }

    /// The clinic the case's workflow has in charge, if it names one (not Central Visitation).
    static func clinicInCharge(_ citizenCase: CitizenCase) -> String? {
        if let b = citizenCase.workflowB { return b.clinic.rawValue }
        if case .clinic(let id)? = citizenCase.workflowA?.regionParty { return id.rawValue }
        return citizenCase.coordinatedCourse?.clinic.rawValue
    }

    /// Appends a consent statement to the store's consent records (per direction, for both
    /// purposes the workflow records; append-only, the latest per direction and purpose is
    /// current). `absent` states nothing and is not recorded.
    func recordConsent(
        _ consent: Contract.Consent, pseudonym: Pseudonym, messageID: String, in tx: StoreTransaction, at now: Date
    ) throws {
        let state: ConsentState
        switch consent.status {
        case .given: state = .given
        case .refused: state = .refused
        case .withdrawn: state = .withdrawn
        case .absent: return
        }
        let day = consent.date.flatMap { LocalDate(iso: $0.description) }.flatMap(Self.startOfDay) ?? now
        for direction in consent.directions ?? Contract.ConsentDirection.allCases {
            for purpose in Workflow.ConsentPurpose.allCases {
                _ = try tx.recordConsent(StoreConsentRecord(
                    pseudonym: pseudonym,
                    direction: direction == .municipalityToRegion
                        ? StoreConsentRecord.Direction.municipalityToRegion : .regionToMunicipality,
                    purpose: purpose.rawValue, state: state, validFrom: day,
                    withdrawnAt: state == .withdrawn ? day : nil, reference: consent.declarationRef ?? "-",
                    recordedAt: now, messageID: messageID))
            }
        }
    }

    /// What outbound messages about the case need, from its history: the listing (or
    /// referral) data, the latest joint plan, knowledge handover and network-meeting date
    /// of the current workflow B, and whether a collaboration meeting was held in it.
    func caseData(
        in tx: StoreTransaction, caseID: String, municipality: String, clinic: String?, citizenCase: CitizenCase,
        on today: LocalDate, onlyInput: ListedInput? = nil
    ) throws -> OutboundMapper.CaseData {
        // A case opened by this very message has that listing as its only input: no read.
        let inputs = try onlyInput.map { InputSummary(listed: $0) }
            ?? InputSummary(payloads: tx.caseInputPayloads(id: caseID))
        let listed = inputs.listed
        let day = CalendarDate(iso: today.iso) ?? CalendarDate(year: 1970, month: 1, day: 1)!
        var data = OutboundMapper.CaseData(
            municipality: listed?.municipality ?? municipality, asOf: listed?.asOf ?? day,
            municipalInformation: listed?.municipalInformation,
            consentInForce: citizenCase.consent.permits(.municipalityToRegion, .treatmentDialogue),
            grounds: listed?.grounds, clinic: clinic, today: day, jointPlan: inputs.jointPlan,
            knowledgeHandover: inputs.knowledge, transitionDate: inputs.transitionDate,
            collaborationMeeting: inputs.collaboration)
        data.source = listed?.source
        data.receivedAt = citizenCase.workflowA?.listing.receivedAt
        data.withdrawnOn = citizenCase.consent.entries.compactMap { entry -> CalendarDate? in
            switch entry.status {
            case .withdrawn(let on), .refused(let on): return CalendarDate(iso: on.iso)
            case .given, .absent: return nil
            }
        }.max()
        data.withdrawnDirections = Workflow.ConsentDirection.allCases.filter { direction in
            switch citizenCase.consent.status(direction, .treatmentDialogue) {
            case .withdrawn, .refused: return true
            case .given, .absent: return false
            }
        }
        return data
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

    init(listed: ListedInput) { self.listed = listed }

    /// Reads the payloads oldest first. Each row is decoded once, as `HistoryInputRow`,
    /// which never fails for a row of another shape: a listing (`list` present), a
    /// single-citizen input (`type` without `list`), or something else (contact facts, timer
    /// inputs), which is skipped.
    init(payloads: [Data]) {
        for payload in payloads {
            guard let row = try? StoreJSON.decode(HistoryInputRow.self, from: payload) else { continue }
            if let list = row.list, let type = row.type, let municipality = row.municipality, let asOf = row.asOf {
                listed = ListedInput(
                    type: type, list: list, municipality: municipality, asOf: asOf,
                    municipalInformation: row.municipalInformation, grounds: row.grounds, source: row.source)
                continue
            }
            guard let type = row.type else { continue }
            if type == MessageType.transitionProposal.rawValue {
                // A new proposal starts workflow B afresh.
                (jointPlan, knowledge, transitionDate, collaboration) = (nil, nil, nil, false)
            }
            if let plan = row.jointPlan { jointPlan = plan }
            if let handover = row.knowledgeHandover { knowledge = handover }
            if row.meetingKind == MeetingKind.network.rawValue, let date = row.transitionDate { transitionDate = date }
            if row.meetingKind == MeetingKind.collaboration.rawValue { collaboration = true }
        }
    }
}
