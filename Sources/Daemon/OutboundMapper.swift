import Contract
import Foundation
import Store
import Workflow

/// Turns a workflow `OutboundEvent` into the outbox row of its wire message
/// (docs/messages.md, "Which event becomes which message"): exchange `dd.out`, routing key
/// `<audience>.<wire type>`, the event's deterministic id as `message_id`, the inbound
/// `message_id` as `correlation_id` (for an `assessment-request`: the listing's).
///
/// Every event kind has its message. The event's explanation travels in the body where the
/// schema has an `explanation` field, and always in the headers `x-ddrouter-rule`,
/// `x-ddrouter-outcome` and `x-ddrouter-rules-version` (codes only: no personal data).
/// `held-for-consent` is a hold: nothing leaves (the receipt already accepted the entry;
/// the audit trail records the hold).
struct OutboundMapper {
    let names: Contract.Topology
    let codeBook: CodeBook
    let workflow: WorkflowConfiguration

    enum Wire: Equatable {
        case publish(OutboxEvent)
        case held
        /// The message cannot be built from what the case knows (e.g. no clinic for a
        /// message whose schema requires one): logged as an error, kept in the history.
        case unavailable(String)
    }

    /// What the wire messages need about the case beyond the event: from the inputs kept in
    /// the case history (`ListedInput`, `CaseInputRecord`).
    struct CaseData {
        var municipality: String
        var asOf: CalendarDate
        var municipalInformation: MunicipalInformation?
        /// Whether consent to the dialogue (municipality → region) is in force now (R4).
        var consentInForce: Bool
        /// The inbound referral's grounds, when a referral opened the case.
        var grounds: ReferralGrounds?
        /// The clinic of the case (the last one an input named), if any.
        var clinic: String?
        /// The day the event happens (Europe/Copenhagen).
        var today: CalendarDate
        /// Workflow B: the joint plan and the knowledge handover recorded, the network
        /// meeting's transition date, whether a collaboration meeting was held.
        var jointPlan: HandoverJointPlan?
        var knowledgeHandover: HandoverKnowledge?
        var transitionDate: CalendarDate?
        var collaborationMeeting = false
        /// The message that listed or referred the citizen (for messages a timer sends).
        var source: MessageSource?
        /// The date of the latest consent withdrawal or refusal recorded on the case (R4).
        var withdrawnOn: CalendarDate?
        /// When the router received the referral that opened the case (R10), if a referral did.
        var receivedAt: Date?
        /// The directions whose dialogue consent is withdrawn or refused now (R4): what a
        /// `consent-withdrawn` lists as no longer covered.
        var withdrawnDirections: [Workflow.ConsentDirection] = []

        init(
            municipality: String, asOf: CalendarDate, municipalInformation: MunicipalInformation?,
            consentInForce: Bool, grounds: ReferralGrounds? = nil, clinic: String? = nil, today: CalendarDate? = nil,
            jointPlan: HandoverJointPlan? = nil, knowledgeHandover: HandoverKnowledge? = nil,
            transitionDate: CalendarDate? = nil, collaborationMeeting: Bool = false
        ) {
            self.municipality = municipality
            self.asOf = asOf
            self.municipalInformation = municipalInformation
            self.consentInForce = consentInForce
            self.grounds = grounds
            self.clinic = clinic
            self.today = today ?? asOf
            self.jointPlan = jointPlan
            self.knowledgeHandover = knowledgeHandover
            self.transitionDate = transitionDate
            self.collaborationMeeting = collaborationMeeting
        }
    }

    /// Legal basis of an R9 transfer to the region (health act ch. 17 b).
    static let transferToRegionBasis = "sundhedsloven § 82 c"
    /// Legal basis of a transfer back to the municipality (its substance treatment duty).
    static let transferToMunicipalityBasis = "sundhedsloven §§ 141-142"

    func message(
        for event: OutboundEvent, caseID: String, cpr: CPR, data: CaseData, source: MessageSource, at now: Date
    ) throws -> Wire {
        let consentInForce = data.consentInForce
        let information = consentInForce ? data.municipalInformation : nil
        let explanation = Contract.Explanation(
            rule: event.explanation.rule.rawValue, outcome: event.payload.kind,
            facts: event.explanation.facts.map { String($0.prefix(500)) },
            rulesVersion: event.explanation.rulesVersion)
        guard let audience = audience(for: event.recipient) else {
            return .unavailable("\(event.payload.kind) to \(event.recipient): no such recipient in the directory")
        }
        // The clinic the message names: the recipient itself, else the case's clinic.
        let clinic: String? = {
            if case .clinic(let id) = event.recipient { return id.rawValue }
            return data.clinic
        }()
        func row<M: ContractMessage>(_ message: M, correlation: String? = nil) throws -> Wire {
            .publish(OutboxEvent(
                messageID: event.id.rawValue, exchange: names.outboundExchange,
                routingKey: names.routingKey(for: M.messageType, to: audience), type: M.messageType.rawValue,
                correlationID: correlation ?? source.messageId, headers: headers(explanation),
                body: try message.encodedBody(), createdAt: now))
        }
        func date(_ day: LocalDate) -> CalendarDate { CalendarDate(iso: day.iso) ?? data.today }
        func warning(_ kind: DeadlineKind, deadline: CalendarDate, state: DeadlineState) throws -> Wire {
            try row(DeadlineWarning(
                caseId: caseID, cpr: cpr, deadlineKind: kind, deadline: deadline, state: state,
                daysRemaining: deadline.daysSinceEpoch - data.today.daysSinceEpoch, evaluatedAt: Contract.Timestamp(now),
                explanation: explanation))
        }
        func decision(
            _ outcome: DecisionOutcome, _ basis: DecisionBasis, disagreed: Bool = false, statement: String? = nil,
            transition: LocalDate? = nil
        ) throws -> Wire {
            try row(Decision(
                caseId: caseID, cpr: cpr, municipality: data.municipality, clinic: clinic, decidedOn: data.today,
                outcome: outcome, basis: basis, overMunicipalDisagreement: disagreed, psychiatryStatement: statement,
                transitionDate: transition.map(date), explanation: explanation))
        }

        switch event.payload {
        case .assessmentRequest(let clinic, _, _, let deadline):
            // Correlates to the list (or referral) that listed the citizen, as the contract
            // says, also when the journal's contact status released it: the clinic answers
            // about that listing (its asOf and municipal information), and never sees the
            // journal's messages.
            let listing = data.source ?? source
            return try row(AssessmentRequest(
                caseId: caseID, cpr: cpr, municipality: data.municipality, clinic: clinic.rawValue, asOf: data.asOf,
                assessBy: data.today.adding(days: workflow.timers.assessmentReminderDays),
                treatmentDeadline: deadline.map(date),
                municipalInformation: information, consentInForce: consentInForce, explanation: explanation,
                source: listing), correlation: listing.messageId)
        case .centralVisitationReferral(let reason, let deadline, _, _):
            return try row(CVReferral(
                caseId: caseID, cpr: cpr, municipality: data.municipality, reason: Self.reason(reason),
                receivedAt: Contract.Timestamp(data.receivedAt ?? now), treatmentDeadline: date(deadline), grounds: data.grounds,
                municipalInformation: information, explanation: explanation, source: source))
        case .coordinatedCourse(let clinic, let asOf, _):
            return try row(Contract.CoordinatedCourse(
                caseId: caseID, cpr: cpr, municipality: data.municipality, clinic: clinic.rawValue, asOf: date(asOf),
                municipalInformation: information, source: source, explanation: explanation))
        case .contactStatusRequest(let asOf, _):
            let wait = TimeInterval(workflow.timers.statusUnknownWaitDays) * 86_400
            return try row(ContactStatusRequest(
                caseId: caseID, cpr: cpr, asOf: date(asOf), requestedAt: Contract.Timestamp(now),
                replyBy: Contract.Timestamp(now.addingTimeInterval(wait))))
        case .heldForConsent:
            return .held
        case .notGroup2:
            return try decision(.notGroup2, .routing)
        case .decision(let record):
            let outcome: DecisionOutcome = record.course == .integrated ? .integrated : .coordinated
            return try decision(
                outcome, record.municipalityDisagreed ? .visitationRight : .agreement,
                disagreed: record.municipalityDisagreed, statement: record.psychiatryStatement,
                transition: record.transitionOn)
        case .assessmentShared(let course, let proposed):
            // Psychiatry's assessment under its visitation right, for the municipality's
            // position (explanation.outcome `assessment-shared`); the decision follows.
            return try decision(course == .integrated ? .integrated : .coordinated, .visitationRight, transition: proposed)
        case .transitionProposed:
            // Workflow B: psychiatry proposes a coordinated course; the municipality answers
            // with a municipal-position regarding the transition proposal.
            return try decision(.coordinated, .visitationRight)
        case .psychiatryProceedsAlone:
            // To the clinic only: without dialogue consent psychiatry assesses and prepares
            // the patient for a coordinated course alone (workflow B step 2).
            return try decision(.coordinated, .visitationRight)
        case .trackEnded:
            return try decision(.coordinated, .patientChoice)
        case .moreInformationRequested:
            // The assessment waits for the municipality's information: its deadline is the
            // configured assessment reminder.
            return try warning(
                .assessment, deadline: data.today.adding(days: workflow.timers.assessmentReminderDays), state: .approaching)
        case .collaborationMeetingNeeded:
            return try warning(
                .meeting, deadline: data.today.adding(days: workflow.timers.meetingReminderDays), state: .approaching)
        case .responsibilityTransfer(let from, let to, let at, _, _):
            guard let clinic else {
                return .unavailable("responsibility-transfer: the case names no clinic")
            }
            return try row(ResponsibilityTransfer(
                caseId: caseID, cpr: cpr, municipality: data.municipality, clinic: clinic,
                from: from == .municipality ? .municipality : .region, to: to == .municipality ? .municipality : .region,
                transferredAt: Contract.Timestamp(at),
                legalBasis: to == .region ? Self.transferToRegionBasis : Self.transferToMunicipalityBasis,
                explanation: explanation))
        case .handover(let workflowKind, _, let plan):
            guard let clinic else { return .unavailable("handover: the case names no clinic") }
            switch workflowKind {
            case .a:
                return try row(Handover(
                    caseId: caseID, cpr: cpr, municipality: data.municipality, clinic: clinic, direction: .toIntegrated,
                    effectiveOn: data.today, completedSteps: [.decision], explanation: explanation))
            case .b:
                var jointPlan = data.jointPlan
                if let plan, jointPlan?.planKind != Self.planKind(plan) {
                    jointPlan = nil  // the recorded details are of another plan: leave them out
                }
                return try row(Handover(
                    caseId: caseID, cpr: cpr, municipality: data.municipality, clinic: clinic, direction: .toCoordinated,
                    effectiveOn: data.transitionDate ?? data.knowledgeHandover?.handoverDate ?? data.today,
                    jointPlan: jointPlan, knowledgeHandover: data.knowledgeHandover,
                    completedSteps: (data.collaborationMeeting ? [.collaborationMeeting] : [.decision])
                        + [.networkMeeting, .jointPlan, .knowledgeHandover],
                    explanation: explanation))
            }
        case .consentWithdrawn(let direction):
            // Every direction no longer covered, not only the one this party took part in.
            let directions = Set(data.withdrawnDirections + [direction]).sorted()
            return try row(ConsentWithdrawn(
                cpr: cpr, municipality: data.municipality, caseIds: [caseID], withdrawnOn: data.withdrawnOn ?? data.today,
                directions: directions.map { $0 == .municipalityToRegion ? .municipalityToRegion : .regionToMunicipality },
                instruction: .stopDialogue, explanation: explanation))
        case .deadlineWarning(let kind, let deadline):
            return try warning(.treatmentStart, deadline: date(deadline), state: kind == .passed ? .passed : .approaching)
        case .reminder(let kind):
            // A configured wait ran out today without the expected input.
            let deadline = kind == .phaseInEnd ? date(workflow.phasing.group2PhaseInEnd) : data.today
            return try warning(Self.deadlineKind(kind), deadline: deadline, state: .passed)
        }
    }

    /// The explanation's codes as AMQP headers (rule, outcome, rules version): no facts, no
    /// personal data.
    func headers(_ explanation: Contract.Explanation) -> [String: String] {
        [
            "x-ddrouter-rule": explanation.rule, "x-ddrouter-outcome": explanation.outcome,
            "x-ddrouter-rules-version": explanation.rulesVersion,
        ]
    }

    /// The outbound audience of a workflow party. The workflow names "the journal" without
    /// an id; the directory's first journal (sorted) is it until there are several.
    func audience(for party: Party) -> Audience? {
        switch party {
        case .municipality(let code): return .municipality(code.rawValue)
        case .clinic(let id): return .clinic(id.rawValue)
        case .centralVisitation: return .centralVisitation
        case .journal: return codeBook.journals.sorted().first.map(Audience.journal)
        }
    }

    static func reason(_ reason: ReferralReason) -> CVReferralReason {
        switch reason {
        case .group3: return .group3
        case .routing(let why):
            switch why {
            case .courseClosedWithinYear, .acuteContactFollowedByOutpatientCourse: return .closedCourseWithinYear
            case .repeatedAcuteContactsWithoutEngagement: return .repeatedAcuteContacts
            case .statusUnknownTimedOut: return .statusUnknownTimeout
            }
        }
    }

    static func deadlineKind(_ kind: TimerKind) -> DeadlineKind {
        switch kind {
        case .statusUnknownTimeout: return .contactStatus
        case .assessmentReminder: return .assessment
        case .meetingReminder, .transitionDue: return .meeting
        case .treatmentStartWarning, .treatmentStartOverdue: return .treatmentStart
        case .phaseInEnd: return .phaseInEnd
        }
    }

    static func planKind(_ kind: Workflow.JointPlanKind) -> Contract.JointPlanKind {
        switch kind {
        case .udskrivningsaftale: return .udskrivningsaftale
        case .koordinationsplan: return .koordinationsplan
        case .koordinerendeIndsatsplan: return .koordinerendeIndsatsplan
        }
    }
}

/// The list entry's (or referral's) data a case keeps for later outbound messages (history
/// payload of the `input` entry that listed the citizen). Contains the municipal
/// information: personal data, kept in the store only and sent on only under the consent gate.
struct ListedInput: Codable, Equatable {
    var type: String
    var list: String
    var municipality: String
    var asOf: CalendarDate
    var municipalInformation: MunicipalInformation?
    var grounds: ReferralGrounds?
    /// The listing message (for messages a timer sends later); absent in older rows.
    var source: MessageSource?
}

/// An `input` history row read as either shape at once (`ListedInput` has `list`,
/// `CaseInputRecord` has `type` only), so reading a case's inputs decodes each row once and
/// never throws for a row of another shape (contact facts, timer inputs).
struct HistoryInputRow: Decodable {
    var type: String?
    var list: String?
    var municipality: String?
    var asOf: CalendarDate?
    var municipalInformation: MunicipalInformation?
    var grounds: ReferralGrounds?
    var source: MessageSource?
    var clinic: String?
    var meetingKind: String?
    var transitionDate: CalendarDate?
    var jointPlan: HandoverJointPlan?
    var knowledgeHandover: HandoverKnowledge?
}

/// The history payload of a single-citizen input: its type and what later outbound
/// messages need from it (never free text).
struct CaseInputRecord: Codable {
    var type: String
    var clinic: String?
    var meetingKind: String?
    var transitionDate: CalendarDate?
    var jointPlan: HandoverJointPlan?
    var knowledgeHandover: HandoverKnowledge?
}
