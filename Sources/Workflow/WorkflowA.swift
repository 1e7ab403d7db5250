#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Who put the citizen into workflow A.
public enum ListingSource: Sendable, Hashable, Codable {
    /// A municipality's list 1: municipal data, crosses to the region only with consent.
    case municipalList
    /// A `referral` from a regional party (a journal system, a clinic): regional data,
    /// so routing needs no consent; the "not group 2" reply goes back to the referrer.
    case regionalReferral(from: Party)

    /// The sector whose data the listing is.
    public var sector: Sector {
        switch self {
        case .municipalList: return .municipality
        case .regionalReferral: return .region
        }
    }

    var replyTo: Party? {
        switch self {
        case .municipalList: return nil
        case .regionalReferral(let from): return from
        }
    }
}

/// The facts of a list-1 entry (or referral) that workflow A keeps.
public struct ListingFacts: Sendable, Hashable, Codable {
    /// The listing municipality.
    public var municipality: MunicipalityCode
    /// The clinic the list was addressed to, if one.
    public var listClinic: ClinicID?
    /// The list's own as-of date: R1 is evaluated at this date, never at the wall clock.
    public var asOf: LocalDate
    /// The inbound list message and entry.
    public var listedBy: InboundRef
    /// Municipal list or regional referral.
    public var source: ListingSource
    /// For a `referral` message: when the router received it and that moment's Copenhagen
    /// date. R10 counts the referral's 14 days from it, whatever its route and however long
    /// routing waits for the journal. `nil` for a list entry (and for referrals stored before
    /// this was kept: they count from the routing day, as then).
    public var receivedAt: Date?
    public var receivedOn: LocalDate?

    public init(
        municipality: MunicipalityCode, listClinic: ClinicID?, asOf: LocalDate, listedBy: InboundRef,
        source: ListingSource = .municipalList, receivedAt: Date? = nil, receivedOn: LocalDate? = nil
    ) {
        self.municipality = municipality
        self.listClinic = listClinic
        self.asOf = asOf
        self.listedBy = listedBy
        self.source = source
        self.receivedAt = receivedAt
        self.receivedOn = receivedOn
    }

    /// R10: the deadline a referral carries when it is routed on `routedOn`: 14 days from
    /// its receipt; for a list entry routed to Central Visitation, from the routing day.
    func treatmentStartDeadline(routedOn: LocalDate, config: WorkflowConfiguration) -> LocalDate {
        (receivedOn ?? routedOn).adding(days: config.timers.treatmentStartLimitDays)
    }
}

/// Workflow A: phasing a list-1 citizen into integrated treatment (docs/domain.md, workflow A).
///
/// listed → (consent, R4) → routed (R1) → assessed (R5) → positions/meetings → decided →
/// transition (R9, R10) → handover. The patient may end the track at any time (R6).
/// A value type: `handle` returns the next step or throws `CaseRejection` naming the state
/// and input; the state is unchanged when it throws.
public struct WorkflowA: Sendable, Hashable, Codable {
    /// Inputs workflow A takes. `CitizenCase` feeds them; consent is its business.
    enum Input: Sendable, Hashable, Codable {
        /// R4: dialogue consent is in force (at listing or later); route now with the facts
        /// known so far.
        case consentInForce(contact: ContactKnowledge)
        /// R1: the journal answered.
        case contactStatus(ContactFacts)
        case assessment(AssessmentInput)
        case municipalPosition(MunicipalPosition)
        case overviewMeeting
        case decisionMeeting(DecisionInput)
        case treatmentStarted(on: LocalDate)
        /// R6.
        case patientChoice
        case timerFired(TimerKind)

        var name: String {
            switch self {
            case .consentInForce: return "consent-in-force"
            case .contactStatus: return "contact-status"
            case .assessment: return "assessment"
            case .municipalPosition: return "municipal-position"
            case .overviewMeeting: return "meeting-outcome(overview)"
            case .decisionMeeting: return "meeting-outcome(decision)"
            case .treatmentStarted: return "treatment-started"
            case .patientChoice: return "patient-choice"
            case .timerFired(let kind): return "timer(\(kind.rawValue))"
            }
        }
    }

    private enum State: Sendable, Hashable, Codable {
        /// Listed; waiting for dialogue consent (R4: the entry is held).
        case listed
        /// R1: status unknown; asked the journal on `since`.
        case awaitingJournalStatus(since: LocalDate)
        /// R1: in the clinic's assessment queue.
        case inAssessment(clinic: ClinicID)
        /// R1: referred to Central Visitation; it visits (assessment) or treatment starts.
        case referredToCentralVisitation
        /// R1: replied "not group 2" (terminal; a later list may list the citizen again).
        case notGroup2
        /// Assessed by psychiatry; waiting for the municipality's position / the decision.
        case assessed(region: Party, assessment: CourseKind)
        /// The municipality stated its position; waiting for the decision meeting.
        case positioned(region: Party, assessment: CourseKind, position: MunicipalPosition)
        /// Decided integrated; waiting for the agreed transition date.
        case awaitingTransition(region: Party, decision: DecisionRecord)
        /// R9: responsibility moved to the region; waiting for treatment start (R10).
        case inTransition(region: Party)
        /// Treatment started in the integrated offer (handed over).
        case integrated(region: Party)
        /// Decided coordinated course (terminal).
        case coordinated
        /// R6 (terminal).
        case endedByPatientChoice
    }

    /// The listing this case came from.
    public private(set) var listing: ListingFacts
    private var state: State

    /// A new case for a list-1 entry, waiting for consent.
    public init(listing: ListingFacts) {
        self.listing = listing
        self.state = .listed
    }

    /// The state's name, for rejections, metrics and `ddrouter cases`.
    public var stateName: String {
        switch state {
        case .listed: return "listed"
        case .awaitingJournalStatus: return "awaitingJournalStatus"
        case .inAssessment: return "inAssessment"
        case .referredToCentralVisitation: return "referredToCentralVisitation"
        case .notGroup2: return "notGroup2"
        case .assessed: return "assessed"
        case .positioned: return "positioned"
        case .awaitingTransition: return "awaitingTransition"
        case .inTransition: return "inTransition"
        case .integrated: return "integrated"
        case .coordinated: return "coordinated"
        case .endedByPatientChoice: return "endedByPatientChoice"
        }
    }

    /// `true` when the case can take no further input but may be replaced by a new listing.
    public var isClosed: Bool {
        switch state {
        case .notGroup2, .coordinated, .endedByPatientChoice: return true
        case .listed, .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation,
            .assessed, .positioned, .awaitingTransition, .inTransition, .integrated:
            return false
        }
    }

    /// `true` once the citizen is in integrated treatment (workflow B may start).
    public var isIntegrated: Bool {
        switch state {
        case .integrated: return true
        case .listed, .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation,
            .notGroup2, .assessed, .positioned, .awaitingTransition, .inTransition,
            .coordinated, .endedByPatientChoice:
            return false
        }
    }

    /// `true` while waiting for consent (R4).
    public var isAwaitingConsent: Bool {
        switch state {
        case .listed: return true
        case .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation, .notGroup2,
            .assessed, .positioned, .awaitingTransition, .inTransition, .integrated,
            .coordinated, .endedByPatientChoice:
            return false
        }
    }

    /// The region-side party in charge, once routed.
    public var regionParty: Party? {
        switch state {
        case .listed, .awaitingJournalStatus, .notGroup2, .coordinated, .endedByPatientChoice:
            return nil
        case .inAssessment(let clinic): return .clinic(clinic)
        case .referredToCentralVisitation: return .centralVisitation
        case .assessed(let region, _), .positioned(let region, _, _),
            .awaitingTransition(let region, _), .inTransition(let region), .integrated(let region):
            return region
        }
    }

    /// The routing outcome, if routing has happened and produced a final outcome; `nil`
    /// while listed or awaiting the journal.
    public private(set) var routing: RoutingRecord?

    private var municipality: Party { .municipality(listing.municipality) }

    /// Applies one input. Throws `CaseRejection` (state unchanged) if the input is
    /// impossible in the current state. Internal on purpose: the drafts it returns have
    /// not passed the consent gate, so only `CitizenCase.apply` may call it (R4).
    mutating func handle(
        _ input: Input, context: CaseContext, configuration: WorkflowConfiguration
    ) throws(CaseRejection) -> Step {
        let config = configuration
        let stateLabel = "workflowA.\(stateName)"
        func reject(_ reason: String, _ rule: RuleID? = nil) -> CaseRejection {
            CaseRejection(state: stateLabel, input: input.name, reason: reason, rule: rule)
        }
        var step = Step()

        switch input {
        case .consentInForce(let contact):
            switch state {
            case .listed:
                route(contact: contact, context: context, config: config, step: &step)
            case .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation, .notGroup2,
                .assessed, .positioned, .awaitingTransition, .inTransition, .integrated,
                .coordinated, .endedByPatientChoice:
                step.notes.append("consent in force; the case is already past routing")
            }

        case .contactStatus(let facts):
            switch state {
            case .awaitingJournalStatus:
                step.timers.append(.cancel(.statusUnknownTimeout))
                route(contact: .known(facts), context: context, config: config, step: &step)
            case .listed, .inAssessment, .referredToCentralVisitation, .notGroup2, .assessed,
                .positioned, .awaitingTransition, .inTransition, .integrated, .coordinated,
                .endedByPatientChoice:
                step.notes.append("contact status recorded; routing does not wait for it")
            }

        case .assessment(let assessment):
            switch state {
            case .inAssessment(let clinic):
                try assess(assessment, region: .clinic(clinic), context: context, config: config, step: &step)
            case .referredToCentralVisitation:
                try assess(assessment, region: .centralVisitation, context: context, config: config, step: &step)
            case .listed:
                throw reject("the entry is held for lack of consent; nothing was sent to assess", .r4)
            case .awaitingJournalStatus:
                throw reject("not routed yet: waiting for the journal's contact status", .r1)
            case .notGroup2:
                throw reject("the citizen was routed as not group 2; no assessment was requested", .r1)
            case .assessed, .positioned, .awaitingTransition, .inTransition, .integrated,
                .coordinated, .endedByPatientChoice:
                throw reject("already assessed")
            }

        case .municipalPosition(let position):
            switch state {
            case .assessed(let region, let assessment):
                state = .positioned(region: region, assessment: assessment, position: position)
                step.notes.append("municipal position recorded: \(position.rawValue)")
            case .positioned(let region, let assessment, _):
                state = .positioned(region: region, assessment: assessment, position: position)
                step.notes.append("municipal position replaced: \(position.rawValue)")
            case .listed, .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation:
                throw reject("psychiatry has not assessed yet")
            case .notGroup2, .awaitingTransition, .inTransition, .integrated, .coordinated,
                .endedByPatientChoice:
                throw reject("the decision has been made; a position can no longer change it", .r5)
            }

        case .overviewMeeting:
            switch state {
            case .inAssessment, .assessed, .positioned, .referredToCentralVisitation:
                step.notes.append("shared overview meeting recorded")
            case .listed, .awaitingJournalStatus:
                throw reject("not routed to a clinic yet")
            case .notGroup2, .awaitingTransition, .inTransition, .integrated, .coordinated,
                .endedByPatientChoice:
                throw reject("the overview step is over for this case")
            }

        case .decisionMeeting(let decision):
            switch state {
            case .assessed(let region, _):
                try decide(decision, position: nil, region: region, context: context, config: config, step: &step)
            case .positioned(let region, _, let position):
                try decide(decision, position: position, region: region, context: context, config: config, step: &step)
            case .listed, .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation:
                throw reject("psychiatry has not assessed yet; the decision meeting needs its assessment", .r5)
            case .notGroup2, .awaitingTransition, .inTransition, .integrated, .coordinated,
                .endedByPatientChoice:
                throw reject("already decided")
            }

        case .treatmentStarted(let startedOn):
            switch state {
            case .inTransition(let region):
                state = .integrated(region: region)
                step.send(
                    .handover(workflow: .a, course: .integrated, plan: nil), to: [municipality, region],
                    config.explanation(.r10, "integrated treatment started", ["treatment started \(startedOn)"]))
            case .referredToCentralVisitation:
                // Treatment in the integrated offer means Central Visitation visited the
                // citizen to it: responsibility moves now (R9).
                let region = Party.centralVisitation
                transfer(
                    region: region, at: context.at, on: context.on, context: context, config: config, step: &step,
                    withDeadline: false)
                state = .integrated(region: region)
                step.send(
                    .handover(workflow: .a, course: .integrated, plan: nil), to: [municipality, region],
                    config.explanation(.r10, "integrated treatment started", ["treatment started \(startedOn)"]))
            case .listed, .awaitingJournalStatus, .inAssessment, .notGroup2, .assessed, .positioned,
                .awaitingTransition:
                throw reject("no referral is awaiting a treatment start in this state", .r10)
            case .integrated, .coordinated, .endedByPatientChoice:
                throw reject("treatment start already recorded or the track has ended", .r10)
            }

        case .patientChoice:
            switch state {
            case .listed, .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation,
                .assessed, .positioned, .awaitingTransition, .inTransition, .integrated:
                let region = regionParty
                state = .endedByPatientChoice
                step.timers += [
                    .cancel(.statusUnknownTimeout), .cancel(.assessmentReminder), .cancel(.meetingReminder),
                    .cancel(.transitionDue),
                ]
                step.send(
                    .trackEnded(reason: .patientsChoice), to: [municipality] + (region.map { [$0] } ?? []),
                    config.explanation(.r6, "integrated track ended: patient's choice", [
                        "the patient chose a coordinated course on \(context.on)"
                    ]))
            case .notGroup2, .coordinated, .endedByPatientChoice:
                throw reject("there is no integrated track to end", .r6)
            }

        case .timerFired(let kind):
            try timer(kind, context: context, config: config, step: &step, reject: reject)
        }
        return step
    }

    private mutating func timer(
        _ kind: TimerKind, context: CaseContext, config: WorkflowConfiguration, step: inout Step,
        reject: (String, RuleID?) -> CaseRejection
    ) throws(CaseRejection) {
        switch kind {
        case .statusUnknownTimeout:
            switch state {
            case .awaitingJournalStatus(let since):
                let decision = Routing.statusTimedOut(waitingSince: since, on: context.on, configuration: config)
                apply(decision, context: context, config: config, step: &step)
            case .listed, .inAssessment, .referredToCentralVisitation, .notGroup2, .assessed,
                .positioned, .awaitingTransition, .inTransition, .integrated, .coordinated,
                .endedByPatientChoice:
                throw reject("stale timer: the case is no longer waiting for the journal", .r1)
            }
        case .assessmentReminder:
            switch state {
            case .inAssessment(let clinic):
                step.send(
                    .reminder(.assessmentReminder), to: [.clinic(clinic)],
                    config.explanation(.r1, "assessment reminder", [
                        "assessment requested \(config.timers.assessmentReminderDays) days ago and not received by \(context.on)"
                    ]))
            case .listed, .awaitingJournalStatus, .referredToCentralVisitation, .notGroup2, .assessed,
                .positioned, .awaitingTransition, .inTransition, .integrated, .coordinated,
                .endedByPatientChoice:
                throw reject("stale timer: no assessment is outstanding", nil)
            }
        case .meetingReminder:
            switch state {
            case .assessed(let region, _), .positioned(let region, _, _):
                step.send(
                    .reminder(.meetingReminder), to: [municipality, region],
                    config.explanation(.r5, "decision meeting reminder", [
                        "assessed and waiting for the decision meeting on \(context.on)"
                    ]))
            case .listed, .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation,
                .notGroup2, .awaitingTransition, .inTransition, .integrated, .coordinated,
                .endedByPatientChoice:
                throw reject("stale timer: no meeting is outstanding", nil)
            }
        case .transitionDue:
            switch state {
            case .awaitingTransition(let region, let decision):
                // R9: responsibility moved at the start of the agreed transition date, when
                // the timer was due, however late the daemon fires it (docs/domain.md, I11).
                transfer(
                    region: region, at: context.dueAt ?? context.at, on: decision.transitionOn ?? context.on,
                    context: context, config: config, step: &step, withDeadline: true)
                state = .inTransition(region: region)
            case .listed, .awaitingJournalStatus, .inAssessment, .referredToCentralVisitation,
                .notGroup2, .assessed, .positioned, .inTransition, .integrated, .coordinated,
                .endedByPatientChoice:
                throw reject("stale timer: no transition is pending", .r9)
            }
        case .phaseInEnd:
            switch state {
            case .listed, .awaitingJournalStatus, .inAssessment, .assessed, .positioned:
                let region = regionParty
                step.send(
                    .reminder(.phaseInEnd), to: [municipality] + (region.map { [$0] } ?? []),
                    config.explanation(.r8, "group 2 phase-in period ended without a decision", [
                        "listed on list 1 as of \(listing.asOf)",
                        "the phase-in period for group 2 ended \(config.phasing.group2PhaseInEnd)",
                        "case still undecided on \(context.on) (state \(stateName))",
                    ]))
            case .referredToCentralVisitation, .notGroup2, .awaitingTransition, .inTransition, .integrated,
                .coordinated, .endedByPatientChoice:
                throw reject("stale timer: the case is decided or routed elsewhere", .r8)
            }
        case .treatmentStartWarning, .treatmentStartOverdue:
            // R10 timers belong to the case (CitizenCase), which tracks the deadline
            // across both workflows; they never reach the workflow.
            throw reject("R10 timers are handled by the case, not by workflow A", .r10)
        }
    }

    // MARK: - R1

    private mutating func route(
        contact: ContactKnowledge, context: CaseContext, config: WorkflowConfiguration, step: inout Step
    ) {
        let decision = Routing.route(
            contact: contact, listClinic: listing.listClinic, asOf: listing.asOf, configuration: config)
        apply(decision, context: context, config: config, step: &step)
    }

    private mutating func apply(
        _ decision: RoutingDecision, context: CaseContext, config: WorkflowConfiguration, step: inout Step
    ) {
        let deadline = listing.treatmentStartDeadline(routedOn: context.on, config: config)
        switch decision.outcome {
        case .clinicAssessment(let clinic):
            routing = RoutingRecord(decision)
            state = .inAssessment(clinic: clinic)
            // R10: a referral carries its deadline to the clinic too; a list entry's starts
            // only when responsibility moves (R9).
            step.send(
                .assessmentRequest(
                    clinic: clinic, listedBy: listing.listedBy, origin: listing.source.sector,
                    treatmentStartDeadline: listing.receivedOn == nil ? nil : deadline),
                to: [.clinic(clinic)], decision.explanation)
            step.timers.append(
                .schedule(.assessmentReminder, on: context.on.adding(days: config.timers.assessmentReminderDays)))
        case .centralVisitation(let reason):
            routing = RoutingRecord(decision)
            state = .referredToCentralVisitation
            step.send(
                .centralVisitationReferral(
                    reason: .routing(reason), treatmentStartDeadline: deadline, listedBy: listing.listedBy,
                    origin: listing.source.sector),
                to: [.centralVisitation], decision.explanation)
        case .group3Referral:
            routing = RoutingRecord(decision)
            state = .referredToCentralVisitation
            step.send(
                .centralVisitationReferral(
                    reason: .group3, treatmentStartDeadline: deadline, listedBy: listing.listedBy,
                    origin: listing.source.sector),
                to: [.centralVisitation], decision.explanation)
        case .notGroup2:
            routing = RoutingRecord(decision)
            state = .notGroup2
            // A municipal list gets the reply; a referral's referrer gets it.
            step.send(.notGroup2, to: [listing.source.replyTo ?? municipality], decision.explanation)
        case .awaitingJournalStatus:
            state = .awaitingJournalStatus(since: context.on)
            step.send(
                .contactStatusRequest(asOf: listing.asOf, origin: listing.source.sector), to: [.journal],
                decision.explanation)
            step.timers.append(
                .schedule(.statusUnknownTimeout, on: context.on.adding(days: config.timers.statusUnknownWaitDays)))
        }
    }

    // MARK: - Assessment and decision (R5)

    private mutating func assess(
        _ assessment: AssessmentInput, region: Party, context: CaseContext, config: WorkflowConfiguration,
        step: inout Step
    ) throws(CaseRejection) {
        let inCharge = assessment.clinic.map(Party.clinic) ?? region
        switch assessment.result {
        case .needsMoreInformation:
            step.send(
                .moreInformationRequested, to: [municipality],
                config.explanation(.r5, "psychiatry needs more information", [
                    "assessment on \(context.on): more information needed from the municipality"
                ]))
            step.notes.append("assessment pending more information")
        case .integrated, .coordinated:
            let course: CourseKind = assessment.result == .integrated ? .integrated : .coordinated
            if region == .centralVisitation {
                // Central Visitation's visitation is itself the decision (R5): no meeting.
                let record = DecisionRecord(
                    workflow: .a, course: course, municipalityDisagreed: false, psychiatryStatement: nil,
                    transitionOn: assessment.proposedTransitionOn)
                step.send(
                    .decision(record), to: [municipality, inCharge],
                    config.explanation(.r5, "Central Visitation visited the citizen", [
                        "visitation on \(context.on) to a \(course.rawValue) course"
                    ]))
                switch course {
                case .integrated:
                    // The referral's R10 deadline is already running since Central
                    // Visitation received it; the transfer does not restart it.
                    transfer(
                        region: inCharge, at: context.at, on: context.on, context: context, config: config, step: &step,
                        withDeadline: false)
                    state = .inTransition(region: inCharge)
                case .coordinated:
                    state = .coordinated
                }
                return
            }
            state = .assessed(region: inCharge, assessment: course)
            step.timers.append(.cancel(.assessmentReminder))
            step.timers.append(
                .schedule(.meetingReminder, on: context.on.adding(days: config.timers.meetingReminderDays)))
            step.send(
                .assessmentShared(course: course, proposedTransitionOn: assessment.proposedTransitionOn),
                to: [municipality],
                config.explanation(.r5, "psychiatry assessed the citizen", [
                    "assessment on \(context.on): \(course.rawValue) course"
                ]))
        }
    }

    private mutating func decide(
        _ decision: DecisionInput, position: MunicipalPosition?, region: Party, context: CaseContext,
        config: WorkflowConfiguration, step: inout Step
    ) throws(CaseRejection) {
        let disagreed = !decision.municipalityAgrees || position == .disagree
        let statement = decision.psychiatryStatement.flatMap { $0.isEmpty ? nil : $0 }
        // R5: a decision over the municipality's disagreement always carries psychiatry's
        // statement (the outbound decision requires it whenever it records disagreement).
        if disagreed && statement == nil {
            throw CaseRejection(
                state: "workflowA.\(stateName)", input: "meeting-outcome(decision)",
                reason: decision.course == .coordinated
                    ? "the municipality disagrees: psychiatry decides, but must state what it would take for the citizen to be offered integrated treatment"
                    : "the municipality disagrees: psychiatry decides, but must state its reasons for the integrated course",
                rule: .r5)
        }
        if decision.course == .integrated && decision.transitionOn == nil {
            throw CaseRejection(
                state: "workflowA.\(stateName)", input: "meeting-outcome(decision)",
                reason: "a decision for integrated treatment needs the agreed transition date")
        }
        let record = DecisionRecord(
            workflow: .a, course: decision.course, municipalityDisagreed: disagreed,
            psychiatryStatement: statement, transitionOn: decision.transitionOn)
        var facts = ["decision meeting on \(context.on): \(decision.course.rawValue) course"]
        if disagreed { facts.append("the municipality disagreed; psychiatry's assessment is final (visitation right)") }
        if let on = decision.transitionOn { facts.append("transition on \(on)") }
        step.timers.append(.cancel(.meetingReminder))
        step.send(
            .decision(record), to: [municipality, region],
            config.explanation(.r5, disagreed ? "decided by psychiatry's visitation right" : "decided in agreement", facts))
        switch decision.course {
        case .coordinated:
            state = .coordinated
        case .integrated:
            let transitionOn = decision.transitionOn ?? context.on
            if transitionOn <= context.on {
                // A transition date of today or earlier: responsibility moves at the decision
                // (it cannot move before it was decided).
                transfer(
                    region: region, at: context.at, on: context.on, context: context, config: config, step: &step,
                    withDeadline: true)
                state = .inTransition(region: region)
            } else {
                state = .awaitingTransition(region: region, decision: record)
                step.timers.append(.schedule(.transitionDue, on: transitionOn))
            }
        }
    }

    // MARK: - R9

    /// R9: responsibility moves to the region at `at` (its Copenhagen date `on`); with
    /// `withDeadline` the R10 deadline counts from `on`.
    private func transfer(
        region: Party, at: Date, on: LocalDate, context: CaseContext, config: WorkflowConfiguration, step: inout Step,
        withDeadline: Bool
    ) {
        let deadline = withDeadline ? on.adding(days: config.timers.treatmentStartLimitDays) : nil
        var facts = [
            on == context.on
                ? "psychiatry visited the citizen to the integrated offer on \(context.on)"
                : "psychiatry visited the citizen to the integrated offer; the agreed transition date was \(on)",
            "responsibility for the substance treatment moves from municipality \(listing.municipality) to the region (health act § 82 c)",
        ]
        if let deadline { facts.append("treatment must start no later than \(deadline) (R10)") }
        step.send(
            .responsibilityTransfer(
                from: .municipality, to: .region, at: at, effectiveOn: on,
                treatmentStartDeadline: deadline),
            to: [municipality, region], config.explanation(.r9, "responsibility transferred to the region", facts))
    }
}
