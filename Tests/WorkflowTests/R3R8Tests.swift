import Foundation
import Testing
import Workflow

@Suite("R3 reconciliation of municipal and clinic lists")
struct R3Tests {
    static let given = Fixtures.given
    static func key(_ s: String) -> CitizenKey { CitizenKey(s) }

    @Test("R3 who is on one list and not the other; detail only as consent allows; counts always")
    func reconcile() {
        var m2r = ConsentRecord()
        m2r.record(Self.given, directions: [.municipalityToRegion])
        let report = Reconciliation.reconcile(
            municipality: "851", clinic: "A", asOf: T.d("2026-11-23"),
            municipalList: [
                .init(citizen: Self.key("c1"), list: .list1), .init(citizen: Self.key("c2"), list: .list1),
                .init(citizen: Self.key("c3"), list: .list2), .init(citizen: Self.key("c5"), list: .list1),
                .init(citizen: Self.key("c2"), list: .list2),  // duplicate: the first entry counts
            ],
            clinicList: [
                .init(citizen: Self.key("c1"), list: .list1), .init(citizen: Self.key("c3"), list: .list1),
                .init(citizen: Self.key("c4"), list: .list2),
            ],
            consents: [Self.key("c2"): .uniform(Self.given), Self.key("c3"): m2r],
            configuration: T.config)
        #expect(report.counts.onBothSameList == 1)
        #expect(report.counts.onBothDifferentList == 1)
        #expect(report.counts.onlyMunicipal == 2)
        #expect(report.counts.onlyClinic == 1)
        #expect(report.toClinic.map(\.citizen.rawValue) == ["c2", "c3"])
        #expect(report.withheldFromClinic == 2)  // c4 and c5 have no consent
        // The municipality learns of its own c2 (consent both ways) that the clinic lacks it.
        #expect(report.toMunicipality.map(\.citizen.rawValue) == ["c2"])
        #expect(report.withheldFromMunicipality == 3)  // c4, c5 none, c3 only municipality→region
        #expect(report.explanation.rule == .r3)
        #expect(!report.explanation.description.contains("c2"))
    }

    @Test("R3 (issue 14 item 4): each side is told which of its own citizens the other lacks; named + withheld covers every one-list citizen")
    func ownCitizensTheOtherLacks() {
        let report = Reconciliation.reconcile(
            municipality: "851", clinic: "A", asOf: T.d("2026-11-23"),
            municipalList: ["A", "B", "C"].map { .init(citizen: Self.key($0), list: .list1) },
            clinicList: ["A", "D", "E"].map { .init(citizen: Self.key($0), list: .list1) },
            consents: [Self.key("B"): .uniform(Self.given), Self.key("D"): .uniform(Self.given)],
            configuration: T.config)
        #expect(report.counts.onlyMunicipal == 2)
        #expect(report.counts.onlyClinic == 2)
        #expect(report.toMunicipality.map(\.citizen.rawValue) == ["B", "D"])
        #expect(report.toClinic.map(\.citizen.rawValue) == ["B", "D"])
        #expect(report.toMunicipality.count + report.withheldFromMunicipality == 4)
        #expect(report.toClinic.count + report.withheldFromClinic == 4)
        #expect(report.toMunicipality.first { $0.citizen == Self.key("B") }?.clinicList == nil, "B: the clinic lacks it")
    }

    @Test("R3 a citizen only on the clinic's list reaches the municipality only with consent", arguments: [
        (ConsentRecord.uniform(Fixtures.given), true),
        (ConsentRecord.uniform(.withdrawn(on: T.d("2026-11-01"))), false),
        (ConsentRecord(), false),
    ])
    func onlyClinic(consent: ConsentRecord, shown: Bool) {
        let report = Reconciliation.reconcile(
            municipality: "773", clinic: "B", asOf: T.d("2026-11-23"), municipalList: [],
            clinicList: [.init(citizen: Self.key("x"), list: .list1)], consents: [Self.key("x"): consent],
            configuration: T.config)
        #expect(report.counts.onlyClinic == 1)
        #expect(report.toMunicipality.count == (shown ? 1 : 0))
        #expect(report.withheldFromMunicipality == (shown ? 0 : 1))
    }
}

@Suite("R8 phasing calendar as configuration")
struct R8Tests {
    @Test("R8 defaults are docs/domain.md's table")
    func defaults() {
        let p = PhasingCalendar.nordjylland
        #expect(p.group1Start.iso == "2024-09-01")
        #expect(p.group2Start.iso == "2025-07-01")
        #expect(p.group2PhaseInEnd.iso == "2026-07-01")
        #expect(p.group3Start.iso == "2026-07-01")
        #expect(WorkflowConfiguration().problems.isEmpty)
    }

    enum Breakage: String, CaseIterable, Sendable {
        case group3Start, group2Start, deadlineWarningLeadDays, statusUnknownWaitDays, rulesVersion
        func apply(to c: inout WorkflowConfiguration) {
            switch self {
            case .group3Start: c.phasing.group3Start = T.d("2025-01-01")
            case .group2Start: c.phasing.group2Start = T.d("2024-01-01")
            case .deadlineWarningLeadDays: c.timers.deadlineWarningLeadDays = 14
            case .statusUnknownWaitDays: c.timers.statusUnknownWaitDays = 0
            case .rulesVersion: c.rulesVersion = ""
            }
        }
    }

    @Test("R8 an inconsistent configuration is reported, one problem per key", arguments: Breakage.allCases)
    func problems(breakage: Breakage) {
        var config = WorkflowConfiguration()
        breakage.apply(to: &config)
        #expect(config.problems.count == 1)
        #expect(config.problems.first?.contains(breakage.rawValue) == true)
    }

    @Test("R8 another region's group-3 date changes the case's routing")
    func otherRegion() {
        var config = WorkflowConfiguration()
        config.phasing.group3Start = T.d("2027-01-01")
        var d = Driver(config: config)
        d.send(.contactStatus(.none), on: Fixtures.asOf)
        let r = d.send(Fixtures.entry(), on: Fixtures.asOf)
        #expect(r.recipients("not-group-2") == [.municipality("851")])
    }
}

@Suite("Persistence and closed cases")
struct PersistenceTests {
    @Test("a case survives a JSON round trip mid-workflow and continues identically")
    func roundTrip() throws {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: Fixtures.asOf)
        d.send(Fixtures.entry(consent: .absent), on: Fixtures.asOf)
        d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given)), on: T.shift(Fixtures.asOf, 1))
        d.send(.assessment(AssessmentInput(result: .integrated)), on: T.shift(Fixtures.asOf, 2))
        let data = try JSONEncoder().encode(d.citizenCase)
        let restored = try JSONDecoder().decode(CitizenCase.self, from: data)
        #expect(restored == d.citizenCase)
        var copy = d
        copy.citizenCase = restored
        let input = CaseInput.meetingOutcome(.decision(DecisionInput(course: .integrated, transitionOn: T.shift(Fixtures.asOf, 3))))
        #expect(d.send(input, on: T.shift(Fixtures.asOf, 3)) == copy.send(input, on: T.shift(Fixtures.asOf, 3)))
        #expect(d.citizenCase == copy.citizenCase)
        // The persisted form never spells the key in a description.
        #expect(!"\(restored.citizen)".contains("citizen-1"))
    }

    @Test("R6 a referral held for consent is discarded when the patient chooses; consent later starts nothing")
    func heldReferralDiscarded() {
        var d = Driver()
        d.send(Fixtures.entry(), on: Fixtures.asOf)  // awaiting journal, consent given
        d.send(.consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(Fixtures.asOf, 1)))), on: T.shift(Fixtures.asOf, 1))
        let timeout = d.send(.timerFired(.statusUnknownTimeout), on: T.shift(Fixtures.asOf, 7))
        #expect(timeout.events("cv-referral").isEmpty)
        #expect(d.citizenCase.held.count == 1)
        #expect(d.citizenCase.deadline == nil)
        d.send(.patientChoice, on: T.shift(Fixtures.asOf, 8))
        // Only the track-ended notices themselves wait for consent now.
        #expect(!d.citizenCase.held.isEmpty)
        #expect(d.citizenCase.held.allSatisfy { $0.payload == .trackEnded(reason: .patientsChoice) })
        let later = d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given)), on: T.shift(Fixtures.asOf, 9))
        #expect(later.events("cv-referral").isEmpty)
        #expect(d.citizenCase.deadline == nil)
    }

    @Test("R4 withdrawal stops reminders about joint meetings to the municipality")
    func remindersGated() {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: Fixtures.asOf)
        d.send(Fixtures.entry(), on: Fixtures.asOf)
        d.send(.assessment(AssessmentInput(result: .integrated)), on: T.shift(Fixtures.asOf, 1))
        d.send(.consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(Fixtures.asOf, 2)))), on: T.shift(Fixtures.asOf, 2))
        let r = d.send(.timerFired(.meetingReminder), on: T.shift(Fixtures.asOf, 15))
        #expect(r.events("reminder").allSatisfy { $0.recipient.sector == .region } )
        #expect(r.events("reminder").isEmpty)
    }
}
