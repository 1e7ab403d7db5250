#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// When an input happens: the inbound message it came in, its instant and its civil date.
/// Time comes only from here (the message's `asOf`/timestamp or the daemon's injected
/// clock for timers); the core never reads a clock.
public struct CaseContext: Sendable, Hashable, Codable {
    /// The inbound message (and list entry) that carries the input.
    public var ref: InboundRef
    /// The instant the input takes effect (R9 stamps responsibility transfers with it).
    public var at: Date
    /// The Europe/Copenhagen civil date of `at`, computed by the daemon.
    public var on: LocalDate
    /// For a fired timer, the moment it was due (midnight Europe/Copenhagen at the start of
    /// its day), which may be long before `at` when the daemon was down then; `nil` for a
    /// message. R9 stamps a transfer on its transition date with it.
    public var dueAt: Date?

    public init(ref: InboundRef, at: Date, on: LocalDate, dueAt: Date? = nil) {
        self.ref = ref
        self.at = at
        self.on = on
        self.dueAt = dueAt
    }
}

/// An input the case cannot take in its current state, with the reason. Nothing is
/// silently ignored (R11): the daemon answers the sender with this reason.
public struct CaseRejection: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The case's state when the input came, e.g. `workflowA.inAssessment`.
    public var state: String
    /// The input, e.g. `knowledge-handover`.
    public var input: String
    /// Why it was rejected, for the operator and the sender.
    public var reason: String
    /// The rule that forbids it, if one does.
    public var rule: RuleID?

    public init(state: String, input: String, reason: String, rule: RuleID? = nil) {
        self.state = state
        self.input = input
        self.reason = reason
        self.rule = rule
    }

    public var description: String {
        "\(input) rejected in state \(state): \(reason)" + (rule.map { " (\($0.rawValue))" } ?? "")
    }
}

/// An outbound event before the consent gate and before it has an id. Internal: only
/// events that passed the gate (`OutboundEvent`) leave the module.
struct DraftEvent: Sendable, Hashable, Codable {
    var recipient: Party
    var payload: EventPayload
    var explanation: Explanation

    init(recipient: Party, payload: EventPayload, explanation: Explanation) {
        self.recipient = recipient
        self.payload = payload
        self.explanation = explanation
    }
}

/// What a state machine asks for after one input: events (not yet gated) and timers.
struct Step: Sendable, Hashable, Codable {
    var drafts: [DraftEvent] = []
    var timers: [TimerAction] = []
    /// Remarks for the receipt and the audit trail (no citizen data, no free text).
    var notes: [String] = []

    init(drafts: [DraftEvent] = [], timers: [TimerAction] = [], notes: [String] = []) {
        self.drafts = drafts
        self.timers = timers
        self.notes = notes
    }

    mutating func send(_ payload: EventPayload, to recipients: [Party], _ explanation: Explanation) {
        for recipient in recipients {
            drafts.append(DraftEvent(recipient: recipient, payload: payload, explanation: explanation))
        }
    }
}

/// A municipality's view on psychiatry's assessment or proposal.
public enum MunicipalPosition: String, Sendable, Hashable, Codable, CaseIterable {
    case agree
    case disagree
}

/// Psychiatry's assessment of a listed citizen (workflow A, step 3), by a clinic or by
/// Central Visitation.
public struct AssessmentInput: Sendable, Hashable, Codable {
    public enum Result: String, Sendable, Hashable, Codable, CaseIterable {
        case integrated
        case coordinated
        case needsMoreInformation
    }

    public var result: Result
    /// The clinic that will run an integrated course, if known (Central Visitation names it).
    public var clinic: ClinicID?
    /// Proposed transition date, if any.
    public var proposedTransitionOn: LocalDate?

    public init(result: Result, clinic: ClinicID? = nil, proposedTransitionOn: LocalDate? = nil) {
        self.result = result
        self.clinic = clinic
        self.proposedTransitionOn = proposedTransitionOn
    }
}

/// The decision meeting of workflow A (step 4).
public struct DecisionInput: Sendable, Hashable, Codable {
    /// The course decided: integrated means the citizen is in group 2.
    public var course: CourseKind
    /// When the citizen moves; required for `.integrated`.
    public var transitionOn: LocalDate?
    /// `false` if the municipality disagreed at the meeting (R5). A recorded `disagree`
    /// position counts as disagreement too.
    public var municipalityAgrees: Bool
    /// R5: psychiatry's statement of what it would take for the citizen to be offered
    /// integrated treatment; required when the municipality disagrees and the decision is
    /// not integrated.
    public var psychiatryStatement: String?

    public init(
        course: CourseKind, transitionOn: LocalDate? = nil, municipalityAgrees: Bool = true,
        psychiatryStatement: String? = nil
    ) {
        self.course = course
        self.transitionOn = transitionOn
        self.municipalityAgrees = municipalityAgrees
        self.psychiatryStatement = psychiatryStatement
    }
}

/// Outcome of workflow B's collaboration meeting (without the patient).
public enum CollaborationOutcome: Sendable, Hashable, Codable {
    /// Both sides now agree on this course.
    case agreed(CourseKind)
    /// Still disagreement: psychiatry decides by its visitation right (R5). A decision for
    /// `.coordinated` must state what it would take for the patient to stay integrated.
    case psychiatryDecides(CourseKind, statement: String?)
}

/// A meeting outcome message.
public enum MeetingOutcome: Sendable, Hashable, Codable {
    /// Workflow A step 2: the shared overview meeting took place.
    case overview
    /// Workflow A step 4: the decision meeting.
    case decision(DecisionInput)
    /// Workflow B: the network meeting (with the patient) decided the concrete transition.
    case network(transitionOn: LocalDate?)
    /// Workflow B: the collaboration meeting on disagreement.
    case collaboration(CollaborationOutcome)
}

/// A `LocalDate` helper for the timers.
extension WorkflowConfiguration {
    func explanation(_ rule: RuleID, _ summary: String, _ facts: [String]) -> Explanation {
        Explanation(rule: rule, summary: summary, facts: facts, rulesVersion: rulesVersion)
    }
}
