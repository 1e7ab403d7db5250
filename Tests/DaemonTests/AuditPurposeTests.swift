import Contract
@testable import Daemon
import Testing
import Workflow

@Suite("audit entries record a purpose and its legal basis, never a rejection code or timer kind")
struct AuditPurposeTests {
    @Test("every purpose names a legal basis; the recorded text is purpose (basis)")
    func table() {
        for purpose in AuditPurpose.allCases {
            #expect(!purpose.legalBasis.isEmpty)
            #expect(purpose.recorded == "\(purpose.rawValue) (\(purpose.legalBasis))")
            #expect(RejectionCode(rawValue: purpose.rawValue) == nil)
            #expect(TimerKind(rawValue: purpose.rawValue) == nil)
        }
        #expect(AuditPurpose.treatmentDialogue.legalBasis.contains("§ 43"))
        #expect(AuditPurpose.regionalTreatment.legalBasis.contains("§ 41"))
    }

    @Test("received messages: list 1 is treatment dialogue, list 2 course overview, regional data regional treatment")
    func received() {
        let m: Sender = .municipality("851")
        #expect(AuditPurpose.received(.municipalList, from: m) == .treatmentDialogue)
        #expect(AuditPurpose.received(.municipalList, from: m, listTwo: true) == .courseOverview)
        #expect(AuditPurpose.received(.referral, from: m) == .treatmentDialogue)
        #expect(AuditPurpose.received(.referral, from: .clinic("amb-syd-aalborg")) == .regionalTreatment)
        #expect(AuditPurpose.received(.contactStatus, from: .journal("journal-rn")) == .regionalTreatment)
        #expect(AuditPurpose.received(.clinicList, from: .clinic("amb-syd-aalborg")) == .courseOverview)
        #expect(AuditPurpose.received(.assessment, from: .clinic("amb-syd-aalborg")) == .treatmentDialogue)
    }

    @Test("timers and consent purposes map into the table")
    func timersAndEvents() {
        #expect(AuditPurpose.timer(.treatmentStartOverdue) == .treatmentDeadline)
        #expect(AuditPurpose.timer(.statusUnknownTimeout) == .treatmentDialogue)
        #expect(AuditPurpose(ConsentPurpose.courseOverview) == .courseOverview)
        #expect(AuditPurpose(ConsentPurpose.treatmentDialogue) == .treatmentDialogue)
    }
}
