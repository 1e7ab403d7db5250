/// Every message type of the contract; the raw value is the AMQP `type` property and the
/// schema's file name (`Config/schemas/<raw value>.schema.json`).
public enum MessageType: String, Sendable, Hashable, Codable, CaseIterable {
    // inbound
    case municipalList = "municipal-list"
    case clinicList = "clinic-list"
    case contactStatus = "contact-status"
    case referral
    case consentUpdate = "consent-update"
    case assessment
    case municipalPosition = "municipal-position"
    case meetingOutcome = "meeting-outcome"
    case transitionProposal = "transition-proposal"
    case jointPlan = "joint-plan"
    case knowledgeHandover = "knowledge-handover"
    case patientChoice = "patient-choice"
    case treatmentStarted = "treatment-started"
    // outbound
    case receipt
    case cvReferral = "cv-referral"
    case assessmentRequest = "assessment-request"
    case coordinatedCourse = "coordinated-course"
    case contactStatusRequest = "contact-status-request"
    case decision
    case handover
    case responsibilityTransfer = "responsibility-transfer"
    case reconciliationReport = "reconciliation-report"
    case consentWithdrawn = "consent-withdrawn"
    case deadlineWarning = "deadline-warning"

    public enum Direction: Sendable { case inbound, outbound }

    public var direction: Direction {
        switch self {
        case .municipalList, .clinicList, .contactStatus, .referral, .consentUpdate, .assessment, .municipalPosition,
            .meetingOutcome, .transitionProposal, .jointPlan, .knowledgeHandover, .patientChoice, .treatmentStarted:
            .inbound
        case .receipt, .cvReferral, .assessmentRequest, .coordinatedCourse, .contactStatusRequest, .decision, .handover,
            .responsibilityTransfer, .reconciliationReport, .consentWithdrawn, .deadlineWarning:
            .outbound
        }
    }

    public static var inbound: [MessageType] { allCases.filter { $0.direction == .inbound } }
    public static var outbound: [MessageType] { allCases.filter { $0.direction == .outbound } }

    /// Which kinds of sender may send this inbound type (empty for outbound types).
    public var allowedSenders: Set<SenderKind> {
        switch self {
        case .municipalList, .municipalPosition: [.municipality]
        case .clinicList, .assessment, .transitionProposal: [.clinic]
        case .contactStatus: [.journal]
        case .referral: [.municipality, .clinic, .journal]
        case .consentUpdate, .meetingOutcome, .jointPlan, .knowledgeHandover, .patientChoice: [.municipality, .clinic]
        case .treatmentStarted: [.clinic, .journal]
        case .receipt, .cvReferral, .assessmentRequest, .coordinatedCourse, .contactStatusRequest, .decision, .handover,
            .responsibilityTransfer, .reconciliationReport, .consentWithdrawn, .deadlineWarning:
            []
        }
    }

    /// List messages carry `entries`, validated and answered entry by entry (R11).
    public var isList: Bool {
        switch self {
        case .municipalList, .clinicList, .contactStatus: true
        case .referral, .consentUpdate, .assessment, .municipalPosition, .meetingOutcome, .transitionProposal, .jointPlan,
            .knowledgeHandover, .patientChoice, .treatmentStarted, .receipt, .cvReferral, .assessmentRequest,
            .coordinatedCourse, .contactStatusRequest, .decision, .handover, .responsibilityTransfer,
            .reconciliationReport, .consentWithdrawn, .deadlineWarning:
            false
        }
    }
}
