#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Names the inbound message (and the entry within a list message) that caused a change.
/// Outbound event ids derive from it, so replaying the same message gives the same ids.
public struct InboundRef: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The sender the `message_id` belongs to, as the daemon names it (`municipality.851`,
    /// `clinic.amb-syd-aalborg`, `journal.journal-rn`): a `message_id` is unique per sender
    /// only (docs/messages.md, "Outbound properties"). `nil` for a timer (its id names the case) and
    /// in references stored before ids named the sender (987ea6c and earlier).
    public var sender: String?
    /// The AMQP `message_id` of the inbound message (unique per sender). For timers the
    /// daemon makes a stable id, e.g. `timer/<case>/<kind>/<due date>`.
    public var messageID: String
    /// The entry's index within a list message; `nil` for single-citizen messages.
    public var entry: Int?

    public init(sender: String? = nil, messageID: String, entry: Int? = nil) {
        self.sender = sender
        self.messageID = messageID
        self.entry = entry
    }

    /// `<sender>/<messageID>` or `<sender>/<messageID>#<entry>` (without `<sender>/` when
    /// there is none). Never contains the citizen key.
    public var key: String {
        let message = sender.map { "\($0)/\(messageID)" } ?? messageID
        return entry.map { "\(message)#\($0)" } ?? message
    }
    public var description: String { key }
}

/// A deterministic outbound event id: `<inbound key>/<index>-<kind>`, e.g.
/// `municipality.851/m-851-2026-11#3/0-assessment-request`. The same inbound message applied to the same
/// state always yields the same ids, so consumers can deduplicate a replay.
public struct EventID: Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(inbound: InboundRef, index: Int, kind: String) {
        rawValue = "\(inbound.key)/\(index)-\(kind)"
    }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The kind of course a citizen is in or moves to.
public enum CourseKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Integrated treatment in psychiatry (both disorders).
    case integrated
    /// Coordinated (parallel) course: psychiatry and municipal substance treatment.
    case coordinated
}

/// Why Central Visitation receives a referral.
public enum ReferralReason: Sendable, Hashable, Codable {
    /// R1 routing sent the citizen to Central Visitation.
    case routing(CentralVisitationReason)
    /// R1/R8: no qualifying contact, group 3 phased in.
    case group3
}

/// A decision of workflow A (who is in group 2) or B (back to coordinated or not).
public struct DecisionRecord: Sendable, Hashable, Codable {
    /// The workflow the decision belongs to.
    public enum Workflow: String, Sendable, Hashable, Codable { case a, b }
    public var workflow: Workflow
    /// The course decided.
    public var course: CourseKind
    /// R5: `true` if the municipality disagreed and psychiatry decided by its visitation
    /// right.
    public var municipalityDisagreed: Bool
    /// R5: psychiatry's statement of what it would take (A: to be offered integrated
    /// treatment; B: to stay in it). Present whenever the decision went against the
    /// municipality's view. Free text: never log it.
    public var psychiatryStatement: String?
    /// When the citizen moves, if the decision moves them.
    public var transitionOn: LocalDate?

    public init(
        workflow: Workflow, course: CourseKind, municipalityDisagreed: Bool,
        psychiatryStatement: String?, transitionOn: LocalDate?
    ) {
        self.workflow = workflow
        self.course = course
        self.municipalityDisagreed = municipalityDisagreed
        self.psychiatryStatement = psychiatryStatement
        self.transitionOn = transitionOn
    }
}

/// The joint plan of workflow B (R7), exactly one of three kinds.
public enum JointPlanKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Discharge agreement.
    case udskrivningsaftale
    /// Coordination plan.
    case koordinationsplan
    /// Coordinating action plan.
    case koordinerendeIndsatsplan
}

/// Why an integrated track ended before its regular end.
public enum TrackEndReason: String, Sendable, Hashable, Codable {
    /// R6: the patient chose a coordinated course.
    case patientsChoice = "patient's choice"
}

/// The timers a case asks the daemon to run. At most one of each kind per citizen case.
public enum TimerKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// R1: the journal's contact status did not come.
    case statusUnknownTimeout
    /// Workflow A: the clinic has not assessed.
    case assessmentReminder
    /// Workflows A and B: the next position/meeting outcome has not come.
    case meetingReminder
    /// Workflow A: the agreed transition date has come (R9 moment).
    case transitionDue
    /// R10: the treatment-start deadline is near.
    case treatmentStartWarning
    /// R10: the treatment-start deadline has passed.
    case treatmentStartOverdue
    /// R8: the end of group 2's phase-in period; a list-1 case still undecided then is reported.
    case phaseInEnd
}

/// A timer instruction for the daemon. Time comes from inputs, never from a clock here;
/// the daemon fires a timer on its civil date (Europe/Copenhagen) by applying
/// `CaseInput.timerFired(kind)`.
public enum TimerAction: Sendable, Hashable, Codable {
    /// Start (or replace) the case's timer of this kind, due on the date.
    case schedule(TimerKind, on: LocalDate)
    /// Stop the case's timer of this kind, if any.
    case cancel(TimerKind)
}

/// R10 warnings.
public enum DeadlineWarningKind: String, Sendable, Hashable, Codable {
    /// The treatment-start deadline is `deadlineWarningLeadDays` away.
    case approaching
    /// The deadline passed without a recorded treatment start.
    case passed
}

/// What an outbound event says. Each case names the wire message the daemon should send
/// (`wireType`) and declares whose data it carries (`dataOrigins`), which the consent gate
/// (R4) checks against the recipient's sector.
public enum EventPayload: Sendable, Hashable, Codable {
    /// R1: assessment case for the clinic's queue. Carries the list entry or referral
    /// (`listedBy` tells the daemon which stored entry to attach); `origin` is the sector
    /// that sent it (the municipality for a list, the region for a journal referral).
    /// A referral's (not a list entry's) assessment request carries its R10 deadline.
    case assessmentRequest(clinic: ClinicID, listedBy: InboundRef, origin: Sector, treatmentStartDeadline: LocalDate?)
    /// R1/R10: referral to Central Visitation with the treatment-start deadline.
    case centralVisitationReferral(
        reason: ReferralReason, treatmentStartDeadline: LocalDate, listedBy: InboundRef, origin: Sector)
    /// R1: reply to the municipality (or the referrer) that the citizen is not group 2.
    case notGroup2
    /// R1: ask the journal for the citizen's contact status; `origin` as above.
    case contactStatusRequest(asOf: LocalDate, origin: Sector)
    /// R2: a coordinated course, for the clinic's overview.
    case coordinatedCourse(clinic: ClinicID, asOf: LocalDate, listedBy: InboundRef)
    /// R4: the sender's data is held for lack of consent in `direction` for `purpose`.
    case heldForConsent(direction: ConsentDirection, purpose: ConsentPurpose)
    /// R4: consent was withdrawn; the recipient must stop the dialogue about the citizen.
    case consentWithdrawn(direction: ConsentDirection)
    /// Workflow A: psychiatry's assessment, shared with the municipality for dialogue.
    case assessmentShared(course: CourseKind, proposedTransitionOn: LocalDate?)
    /// Workflow A: psychiatry needs more information from the municipality.
    case moreInformationRequested
    /// Workflows A and B: a decision (R5 visitation right recorded in it).
    case decision(DecisionRecord)
    /// R9: responsibility for the substance treatment moves between sectors at `at`.
    /// When it moves to the region, the R10 deadline starts.
    case responsibilityTransfer(
        from: Sector, to: Sector, at: Date, effectiveOn: LocalDate, treatmentStartDeadline: LocalDate?)
    /// Workflow B: the region proposes the move back to a coordinated course.
    case transitionProposed(proposedOn: LocalDate)
    /// Workflow B: disagreement; a collaboration meeting (without the patient) is needed.
    case collaborationMeetingNeeded
    /// Workflow B without dialogue consent: psychiatry assesses and prepares alone.
    case psychiatryProceedsAlone
    /// Workflow A: integrated treatment started; B: knowledge handed over (R7 complete).
    case handover(workflow: DecisionRecord.Workflow, course: CourseKind, plan: JointPlanKind?)
    /// R6: the integrated track ended.
    case trackEnded(reason: TrackEndReason)
    /// R10: the treatment-start deadline nears or passed.
    case deadlineWarning(kind: DeadlineWarningKind, deadline: LocalDate)
    /// A configured reminder (assessment or meeting) is due.
    case reminder(TimerKind)

    /// The wire message the daemon should publish for this payload (docs/messages.md).
    public var wireType: String {
        switch self {
        case .assessmentRequest: return "assessment-request"
        case .centralVisitationReferral: return "cv-referral"
        case .notGroup2: return "decision"
        case .contactStatusRequest: return "contact-status-request"
        case .coordinatedCourse: return "coordinated-course"
        case .heldForConsent: return "receipt"
        case .consentWithdrawn: return "consent-withdrawn"
        case .assessmentShared: return "decision"
        case .moreInformationRequested: return "decision"
        case .decision: return "decision"
        case .responsibilityTransfer: return "responsibility-transfer"
        case .transitionProposed: return "decision"
        case .collaborationMeetingNeeded: return "decision"
        case .psychiatryProceedsAlone: return "decision"
        case .handover: return "handover"
        case .trackEnded: return "decision"
        case .deadlineWarning: return "deadline-warning"
        case .reminder: return "deadline-warning"
        }
    }

    /// A short kebab-case name of the payload case, used in event ids.
    public var kind: String {
        switch self {
        case .assessmentRequest: return "assessment-request"
        case .centralVisitationReferral: return "cv-referral"
        case .notGroup2: return "not-group-2"
        case .contactStatusRequest: return "contact-status-request"
        case .coordinatedCourse: return "coordinated-course"
        case .heldForConsent: return "held-for-consent"
        case .consentWithdrawn: return "consent-withdrawn"
        case .assessmentShared: return "assessment-shared"
        case .moreInformationRequested: return "more-information-requested"
        case .decision: return "decision"
        case .responsibilityTransfer: return "responsibility-transfer"
        case .transitionProposed: return "transition-proposed"
        case .collaborationMeetingNeeded: return "collaboration-meeting-needed"
        case .psychiatryProceedsAlone: return "psychiatry-proceeds-alone"
        case .handover: return "handover"
        case .trackEnded: return "track-ended"
        case .deadlineWarning: return "deadline-warning"
        case .reminder: return "reminder"
        }
    }

    /// R4: the sectors whose data about the citizen this payload carries. The gate lets
    /// the event through only if each of them may reach the recipient's sector.
    public var dataOrigins: Set<Sector> {
        switch self {
        case .assessmentRequest(_, _, let origin, _), .centralVisitationReferral(_, _, _, let origin),
            .contactStatusRequest(_, let origin):
            // The list entry or referral (and that the citizen is on a list).
            return [origin]
        case .coordinatedCourse:
            // The municipal list-2 entry.
            return [.municipality]
        case .notGroup2, .assessmentShared, .moreInformationRequested, .transitionProposed,
            .responsibilityTransfer, .decision:
            // Psychiatry's facts, assessment or decision (R5: psychiatry decides; the
            // decision's region-side recipient took part in it).
            return [.region]
        case .psychiatryProceedsAlone, .deadlineWarning:
            // The region's own case: psychiatry working alone (workflow B step 2), the R10
            // deadline counted from the region's receipt. They flow inside the region, also
            // after a withdrawal (I13), and never to a municipality without consent.
            return [.region]
        case .heldForConsent(let direction, _):
            // A notice to the sender about its own data.
            return [direction.source]
        case .handover, .trackEnded, .collaborationMeetingNeeded:
            // Joint matters: what each side said and decided.
            return [.municipality, .region]
        case .reminder(let kind):
            switch kind {
            case .assessmentReminder, .statusUnknownTimeout, .phaseInEnd:
                // About the municipal entry awaiting the region's work.
                return [.municipality]
            case .meetingReminder, .transitionDue, .treatmentStartWarning, .treatmentStartOverdue:
                // About a joint meeting: part of the dialogue, which withdrawal stops.
                return [.municipality, .region]
            }
        case .consentWithdrawn:
            // It must reach a party of the dialogue precisely when consent is gone, so it
            // carries nothing and cannot be gated.
            return []
        }
    }

    /// R4: the purpose under which the payload's data crosses.
    public var purpose: ConsentPurpose {
        switch self {
        case .coordinatedCourse: return .courseOverview
        case .assessmentRequest, .centralVisitationReferral, .notGroup2, .contactStatusRequest,
            .heldForConsent, .consentWithdrawn, .assessmentShared, .moreInformationRequested,
            .decision, .responsibilityTransfer, .transitionProposed, .collaborationMeetingNeeded,
            .psychiatryProceedsAlone, .handover, .trackEnded, .deadlineWarning, .reminder:
            return .treatmentDialogue
        }
    }
}

/// One outbound event: who receives it, about which citizen, what it says, and why.
public struct OutboundEvent: Sendable, Hashable, Codable {
    /// Deterministic id (see `EventID`).
    public var id: EventID
    /// The receiving party; the daemon maps it to a routing key.
    public var recipient: Party
    /// The citizen the event is about (the daemon maps the key back to the CPR for the
    /// wire message, never to a log line).
    public var citizen: CitizenKey
    /// What the event says.
    public var payload: EventPayload
    /// The rule behind the event and the facts it used.
    public var explanation: Explanation

    public init(
        id: EventID, recipient: Party, citizen: CitizenKey, payload: EventPayload,
        explanation: Explanation
    ) {
        self.id = id
        self.recipient = recipient
        self.citizen = citizen
        self.payload = payload
        self.explanation = explanation
    }
}
