import Contract
import Workflow

/// Why the daemon wrote an audit entry: a purpose and its legal basis (docs/domain.md "Facts
/// around the seeds"; docs/operations.md "Audit trail"). A small closed table, so the
/// citizen's "who, when and why" (`audit citizen`) reads the same for every entry of a kind.
/// The entry's `purpose` column holds `recorded`: `<purpose> (<legal basis>)`.
enum AuditPurpose: String, CaseIterable, Sendable {
    /// Municipality ↔ region dialogue about the citizen's treatment (R1 routing of municipal
    /// data, workflow A assessment/decision, workflow B transition, R4 consent changes).
    case treatmentDialogue = "treatment-dialogue"
    /// A coordinated course shared for overview (R2, list 2) and the list comparison (R3).
    case courseOverview = "course-overview"
    /// The region's own data used within the region for the current treatment: journal
    /// contact statuses, a regional referral, a treatment start.
    case regionalTreatment = "regional-treatment"
    /// R10: watching the 14-day treatment-start deadline.
    case treatmentDeadline = "treatment-deadline"
    /// The router answered a message it refused (R11); nothing of it was passed on.
    case answerSender = "answer-sender"

    var legalBasis: String {
        switch self {
        case .treatmentDialogue: "sundhedsloven § 43 (consent), § 82 c"
        case .courseOverview: "sundhedsloven § 43 (consent); coordination with the municipal substance treatment (sundhedsloven §§ 141–142)"
        case .regionalTreatment: "sundhedsloven § 41 (current treatment)"
        case .treatmentDeadline: "sundhedsloven § 82 c, § 87 stk. 2"
        case .answerSender: "R11 receipt to the sender; nothing passed on"
        }
    }

    /// What goes into the audit entry's `purpose` column.
    var recorded: String { "\(rawValue) (\(legalBasis))" }

    /// The purpose of an event sent under a consent purpose (R4).
    init(_ purpose: ConsentPurpose) {
        switch purpose {
        case .treatmentDialogue: self = .treatmentDialogue
        case .courseOverview: self = .courseOverview
        }
    }

    /// The purpose of receiving `type` from `sender` (`listTwo`: a municipal list 2).
    static func received(_ type: MessageType, from sender: Sender, listTwo: Bool = false) -> AuditPurpose {
        if case .municipality = sender {
            return type == .municipalList && listTwo ? .courseOverview : .treatmentDialogue
        }
        switch type {
        case .clinicList: return .courseOverview
        case .contactStatus, .referral, .treatmentStarted: return .regionalTreatment
        default: return .treatmentDialogue
        }
    }

    /// The purpose of a timer firing on a case.
    static func timer(_ kind: TimerKind) -> AuditPurpose {
        switch kind {
        case .treatmentStartWarning, .treatmentStartOverdue: .treatmentDeadline
        case .statusUnknownTimeout, .assessmentReminder, .meetingReminder, .transitionDue, .phaseInEnd:
            .treatmentDialogue
        }
    }
}
