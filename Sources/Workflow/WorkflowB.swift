/// Workflow B: from integrated back to coordinated treatment (docs/domain.md, workflow B).
///
/// proposal → consent check (R4) → agreement, or collaboration meeting and psychiatry's
/// decision (R5) → network meeting → joint plan (one of three kinds) → knowledge handover
/// → handover event. R7: the handover is published only when its steps are complete, in
/// that order. The patient may choose a coordinated course at any time (R6).
public struct WorkflowB: Sendable, Hashable, Codable {
    /// Inputs workflow B takes. `CitizenCase` feeds them.
    enum Input: Sendable, Hashable, Codable {
        /// R4: whether dialogue consent (both directions) is now in force.
        case consentChanged(dialogueInForce: Bool)
        case municipalPosition(MunicipalPosition)
        case collaborationMeeting(CollaborationOutcome)
        case networkMeeting(transitionOn: LocalDate?)
        case jointPlan(JointPlanKind)
        case knowledgeHandover
        /// R6.
        case patientChoice
        case timerFired(TimerKind)

        var name: String {
            switch self {
            case .consentChanged: return "consent-update"
            case .municipalPosition: return "municipal-position"
            case .collaborationMeeting: return "meeting-outcome(collaboration)"
            case .networkMeeting: return "meeting-outcome(network)"
            case .jointPlan: return "joint-plan"
            case .knowledgeHandover: return "knowledge-handover"
            case .patientChoice: return "patient-choice"
            case .timerFired(let kind): return "timer(\(kind.rawValue))"
            }
        }
    }

    private enum State: Sendable, Hashable, Codable {
        /// R4: no consent to dialogue; psychiatry assesses and prepares the patient alone.
        case psychiatryAlone
        /// Proposal sent; waiting for the municipality's position.
        case awaitingMunicipalPosition
        /// Disagreement: waiting for the collaboration meeting.
        case awaitingCollaborationMeeting
        /// Decided coordinated; R7 step 1: the network meeting.
        case awaitingNetworkMeeting(decision: DecisionRecord)
        /// R7 step 2: the joint plan.
        case awaitingJointPlan(decision: DecisionRecord, transitionOn: LocalDate?)
        /// R7 step 3: the knowledge handover.
        case awaitingKnowledgeHandover(decision: DecisionRecord, plan: JointPlanKind)
        /// Handed over to a coordinated course (terminal).
        case handedOver(plan: JointPlanKind)
        /// Decided the patient stays integrated (terminal for this proposal).
        case staysIntegrated
        /// R6 (terminal).
        case endedByPatientChoice
    }

    /// The municipality taking over the substance treatment.
    public let municipality: MunicipalityCode
    /// The clinic running the integrated course.
    public let clinic: ClinicID
    private var state: State

    private var parties: [Party] { [.municipality(municipality), .clinic(clinic)] }

    /// Starts workflow B on the clinic's proposal; the consent check happens here (R4).
    static func propose(
        municipality: MunicipalityCode, clinic: ClinicID, dialogueConsent: Bool, context: CaseContext,
        configuration: WorkflowConfiguration
    ) -> (WorkflowB, Step) {
        var machine = WorkflowB(municipality: municipality, clinic: clinic, state: .psychiatryAlone)
        var step = Step()
        if dialogueConsent {
            machine.openDialogue(context: context, config: configuration, step: &step)
        } else {
            machine.aloneWithoutConsent(context: context, config: configuration, step: &step)
        }
        return (machine, step)
    }

    private init(municipality: MunicipalityCode, clinic: ClinicID, state: State) {
        self.municipality = municipality
        self.clinic = clinic
        self.state = state
    }

    /// The state's name, for rejections, metrics and `ddrouter cases`.
    public var stateName: String {
        switch state {
        case .psychiatryAlone: return "psychiatryAlone"
        case .awaitingMunicipalPosition: return "awaitingMunicipalPosition"
        case .awaitingCollaborationMeeting: return "awaitingCollaborationMeeting"
        case .awaitingNetworkMeeting: return "awaitingNetworkMeeting"
        case .awaitingJointPlan: return "awaitingJointPlan"
        case .awaitingKnowledgeHandover: return "awaitingKnowledgeHandover"
        case .handedOver: return "handedOver"
        case .staysIntegrated: return "staysIntegrated"
        case .endedByPatientChoice: return "endedByPatientChoice"
        }
    }

    /// `true` when this proposal is over.
    public var isClosed: Bool {
        switch state {
        case .handedOver, .staysIntegrated, .endedByPatientChoice: return true
        case .psychiatryAlone, .awaitingMunicipalPosition, .awaitingCollaborationMeeting,
            .awaitingNetworkMeeting, .awaitingJointPlan, .awaitingKnowledgeHandover:
            return false
        }
    }

    /// `true` if the patient is still in integrated treatment after this proposal closed.
    public var staysIntegrated: Bool {
        switch state {
        case .staysIntegrated: return true
        case .psychiatryAlone, .awaitingMunicipalPosition, .awaitingCollaborationMeeting,
            .awaitingNetworkMeeting, .awaitingJointPlan, .awaitingKnowledgeHandover, .handedOver,
            .endedByPatientChoice:
            return false
        }
    }

    /// Applies one input. Throws `CaseRejection` (state unchanged) if the input is
    /// impossible in the current state. Internal on purpose: the drafts it returns have
    /// not passed the consent gate, so only `CitizenCase.apply` may call it (R4).
    mutating func handle(
        _ input: Input, context: CaseContext, configuration: WorkflowConfiguration
    ) throws(CaseRejection) -> Step {
        let config = configuration
        let stateLabel = "workflowB.\(stateName)"
        func reject(_ reason: String, _ rule: RuleID? = nil) -> CaseRejection {
            CaseRejection(state: stateLabel, input: input.name, reason: reason, rule: rule)
        }
        let closedReason = "this transition proposal is closed"
        let noDialogue = "no consent to dialogue: psychiatry assesses and prepares the patient alone"
        var step = Step()

        switch input {
        case .consentChanged(let inForce):
            switch state {
            case .psychiatryAlone:
                if inForce {
                    openDialogue(context: context, config: config, step: &step)
                } else {
                    step.notes.append("still no consent to dialogue")
                }
            case .awaitingMunicipalPosition, .awaitingCollaborationMeeting, .awaitingNetworkMeeting,
                .awaitingJointPlan, .awaitingKnowledgeHandover:
                if inForce {
                    step.notes.append("consent unchanged for workflow B")
                } else {
                    // R4: withdrawal stops the dialogue; psychiatry continues alone.
                    step.timers.append(.cancel(.meetingReminder))
                    aloneWithoutConsent(context: context, config: config, step: &step)
                }
            case .handedOver, .staysIntegrated, .endedByPatientChoice:
                step.notes.append("consent change recorded; the transition proposal is closed")
            }

        case .municipalPosition(let position):
            switch state {
            case .awaitingMunicipalPosition:
                switch position {
                case .agree:
                    let record = DecisionRecord(
                        workflow: .b, course: .coordinated, municipalityDisagreed: false, psychiatryStatement: nil,
                        transitionOn: nil)
                    state = .awaitingNetworkMeeting(decision: record)
                    step.send(
                        .decision(record), to: parties,
                        config.explanation(.r7, "agreed: back to a coordinated course", [
                            "municipality \(municipality) agreed on \(context.on)", "next: network meeting",
                        ]))
                case .disagree:
                    state = .awaitingCollaborationMeeting
                    step.send(
                        .collaborationMeetingNeeded, to: parties,
                        config.explanation(.r7, "disagreement: collaboration meeting needed", [
                            "municipality \(municipality) disagreed on \(context.on)",
                            "a collaboration meeting without the patient comes first",
                        ]))
                }
            case .psychiatryAlone:
                throw reject(noDialogue, .r4)
            case .awaitingCollaborationMeeting, .awaitingNetworkMeeting, .awaitingJointPlan,
                .awaitingKnowledgeHandover:
                throw reject("the municipality's position has already been recorded", .r7)
            case .handedOver, .staysIntegrated, .endedByPatientChoice:
                throw reject(closedReason)
            }

        case .collaborationMeeting(let outcome):
            switch state {
            case .awaitingCollaborationMeeting:
                try collaborate(outcome, context: context, config: config, step: &step, reject: reject)
            case .psychiatryAlone:
                throw reject(noDialogue, .r4)
            case .awaitingMunicipalPosition:
                throw reject("no disagreement recorded: a collaboration meeting is only for disagreement", .r7)
            case .awaitingNetworkMeeting, .awaitingJointPlan, .awaitingKnowledgeHandover:
                throw reject("the disagreement has been settled already", .r7)
            case .handedOver, .staysIntegrated, .endedByPatientChoice:
                throw reject(closedReason)
            }

        case .networkMeeting(let transitionOn):
            switch state {
            case .awaitingNetworkMeeting(let decision):
                state = .awaitingJointPlan(decision: decision, transitionOn: transitionOn)
                step.notes.append("network meeting recorded (R7 step 1 of 3)")
            case .psychiatryAlone:
                throw reject(noDialogue, .r4)
            case .awaitingMunicipalPosition, .awaitingCollaborationMeeting:
                throw reject("agreement or psychiatry's decision comes before the network meeting", .r7)
            case .awaitingJointPlan, .awaitingKnowledgeHandover:
                throw reject("the network meeting has already been held", .r7)
            case .handedOver, .staysIntegrated, .endedByPatientChoice:
                throw reject(closedReason)
            }

        case .jointPlan(let kind):
            switch state {
            case .awaitingJointPlan(let decision, _):
                state = .awaitingKnowledgeHandover(decision: decision, plan: kind)
                step.notes.append("joint plan recorded: \(kind.rawValue) (R7 step 2 of 3)")
            case .psychiatryAlone:
                throw reject(noDialogue, .r4)
            case .awaitingMunicipalPosition, .awaitingCollaborationMeeting, .awaitingNetworkMeeting:
                throw reject("the network meeting comes before the joint plan", .r7)
            case .awaitingKnowledgeHandover:
                throw reject("a joint plan has already been made for this transition", .r7)
            case .handedOver, .staysIntegrated, .endedByPatientChoice:
                throw reject(closedReason)
            }

        case .knowledgeHandover:
            switch state {
            case .awaitingKnowledgeHandover(let decision, let plan):
                state = .handedOver(plan: plan)
                step.timers.append(.cancel(.meetingReminder))
                var facts = [
                    "network meeting held", "joint plan made: \(plan.rawValue)",
                    "knowledge handed over on \(context.on)",
                ]
                if decision.municipalityDisagreed {
                    facts.append("decided by psychiatry's visitation right over the municipality's disagreement")
                }
                step.send(
                    .handover(workflow: .b, course: .coordinated, plan: plan), to: parties,
                    config.explanation(.r7, "handed over to a coordinated course", facts))
            case .psychiatryAlone:
                throw reject(noDialogue, .r4)
            case .awaitingMunicipalPosition, .awaitingCollaborationMeeting, .awaitingNetworkMeeting,
                .awaitingJointPlan:
                throw reject("the network meeting and the joint plan come before the knowledge handover", .r7)
            case .handedOver, .staysIntegrated, .endedByPatientChoice:
                throw reject(closedReason)
            }

        case .patientChoice:
            switch state {
            case .psychiatryAlone, .awaitingMunicipalPosition, .awaitingCollaborationMeeting,
                .awaitingNetworkMeeting, .awaitingJointPlan, .awaitingKnowledgeHandover, .staysIntegrated:
                state = .endedByPatientChoice
                step.timers.append(.cancel(.meetingReminder))
                step.send(
                    .trackEnded(reason: .patientsChoice), to: parties,
                    config.explanation(.r6, "integrated track ended: patient's choice", [
                        "the patient chose a coordinated course on \(context.on)"
                    ]))
            case .handedOver, .endedByPatientChoice:
                throw reject("the integrated track has already ended", .r6)
            }

        case .timerFired(let kind):
            switch kind {
            case .meetingReminder:
                switch state {
                case .awaitingMunicipalPosition, .awaitingCollaborationMeeting, .awaitingNetworkMeeting,
                    .awaitingJointPlan, .awaitingKnowledgeHandover:
                    step.send(
                        .reminder(.meetingReminder), to: parties,
                        config.explanation(.r7, "workflow B reminder", [
                            "waiting in step \(stateName) on \(context.on)"
                        ]))
                    step.timers.append(
                        .schedule(.meetingReminder, on: context.on.adding(days: config.timers.meetingReminderDays)))
                case .psychiatryAlone, .handedOver, .staysIntegrated, .endedByPatientChoice:
                    throw reject("stale timer: no step with the municipality is outstanding")
                }
            case .statusUnknownTimeout, .assessmentReminder, .transitionDue, .treatmentStartWarning,
                .treatmentStartOverdue, .phaseInEnd:
                throw reject("workflow B runs no \(kind.rawValue) timer")
            }
        }
        return step
    }

    private mutating func openDialogue(context: CaseContext, config: WorkflowConfiguration, step: inout Step) {
        state = .awaitingMunicipalPosition
        step.send(
            .transitionProposed(proposedOn: context.on), to: [.municipality(municipality)],
            config.explanation(.r7, "psychiatry proposes a coordinated course", [
                "clinic \(clinic) finds the patient stable on \(context.on)",
                "consent to dialogue is in force",
            ]))
        step.timers.append(.schedule(.meetingReminder, on: context.on.adding(days: config.timers.meetingReminderDays)))
    }

    private mutating func aloneWithoutConsent(context: CaseContext, config: WorkflowConfiguration, step: inout Step) {
        state = .psychiatryAlone
        step.send(
            .psychiatryProceedsAlone, to: [.clinic(clinic)],
            config.explanation(.r4, "no consent to dialogue: psychiatry proceeds alone", [
                "no consent in force on \(context.on) for dialogue with municipality \(municipality)",
                "psychiatry assesses the need alone and prepares the patient for municipal substance treatment",
            ]))
    }

    private mutating func collaborate(
        _ outcome: CollaborationOutcome, context: CaseContext, config: WorkflowConfiguration, step: inout Step,
        reject: (String, RuleID?) -> CaseRejection
    ) throws(CaseRejection) {
        let record: DecisionRecord
        var facts = ["collaboration meeting on \(context.on)"]
        switch outcome {
        case .agreed(let course):
            record = DecisionRecord(
                workflow: .b, course: course, municipalityDisagreed: false, psychiatryStatement: nil, transitionOn: nil)
            facts.append("agreement reached: \(course.rawValue) course")
        case .psychiatryDecides(let course, let statement):
            let text = statement.flatMap { $0.isEmpty ? nil : $0 }
            // R5: a decision over the disagreement always carries psychiatry's statement.
            if text == nil {
                throw reject(
                    course == .coordinated
                        ? "psychiatry decides over the disagreement but must state what it would take for the patient to stay in the integrated course"
                        : "psychiatry decides over the disagreement but must state its reasons for keeping the integrated course",
                    .r5)
            }
            record = DecisionRecord(
                workflow: .b, course: course, municipalityDisagreed: true, psychiatryStatement: text, transitionOn: nil)
            facts.append("still disagreement: psychiatry decides by its visitation right: \(course.rawValue) course")
        }
        switch record.course {
        case .coordinated:
            state = .awaitingNetworkMeeting(decision: record)
            facts.append("next: network meeting")
        case .integrated:
            state = .staysIntegrated
            step.timers.append(.cancel(.meetingReminder))
        }
        step.send(
            .decision(record), to: parties,
            config.explanation(.r5, record.municipalityDisagreed ? "decided by psychiatry's visitation right" : "decided in agreement", facts))
    }
}
