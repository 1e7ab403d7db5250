import Testing
import Workflow

/// R1 routing edges, each expectation written from docs/domain.md's text, not from the code.
@Suite("R1 routing of a list-1 citizen")
struct R1RoutingTests {
    static let asOf = T.d("2026-11-23")  // after group 3's default start 2026-07-01

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let asOf: LocalDate
        let contact: ContactKnowledge
        let expected: RoutingOutcome
        var testDescription: String { name }
    }

    static func ago(_ days: Int, from date: LocalDate = asOf) -> LocalDate { T.shift(date, -days) }
    static func er(_ daysAgo: Int, followUp: Bool = false, failed: Bool = false, kind: AcuteContact.Kind = .emergencyRoom) -> AcuteContact {
        AcuteContact(date: ago(daysAgo), kind: kind, followedByOutpatientCourse: followUp, motivationFailedOrTreatmentRejected: failed)
    }
    static let beforeGroup3 = T.d("2026-03-01")

    static let cases: [Case] = [
        Case(name: "R1 current treatment at clinic A goes to clinic A's queue", asOf: asOf,
             contact: .known(ContactFacts(currentCourses: [CurrentCourse(clinic: "A", since: ago(400))])),
             expected: .clinicAssessment("A")),
        Case(name: "R1 current treatment wins over a recent closed course", asOf: asOf,
             contact: .known(ContactFacts(currentCourses: [CurrentCourse(clinic: "B", since: ago(10))],
                                          closedCourses: [ClosedCourse(clinic: "A", closedOn: ago(20))])),
             expected: .clinicAssessment("B")),
        Case(name: "R1 course closed exactly 365 days before counts", asOf: asOf,
             contact: .known(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: ago(365))])),
             expected: .centralVisitation(.courseClosedWithinYear(clinic: "X", closedOn: ago(365)))),
        Case(name: "R1 course closed 366 days before does not count (group 3 started)", asOf: asOf,
             contact: .known(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: ago(366))])),
             expected: .group3Referral),
        Case(name: "R1 course closed 366 days before does not count (before group 3)", asOf: beforeGroup3,
             contact: .known(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: ago(366, from: beforeGroup3))])),
             expected: .notGroup2),
        Case(name: "R1 course closed the same day counts", asOf: asOf,
             contact: .known(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: asOf)])),
             expected: .centralVisitation(.courseClosedWithinYear(clinic: "X", closedOn: asOf))),
        Case(name: "R1 one acute-only emergency-room visit does not count", asOf: beforeGroup3,
             contact: .known(ContactFacts(acuteContacts: [AcuteContact(date: ago(30, from: beforeGroup3), kind: .emergencyRoom)])),
             expected: .notGroup2),
        Case(name: "R1 short stabilising admission without outpatient course does not count", asOf: asOf,
             contact: .known(ContactFacts(acuteContacts: [er(30, kind: .shortStabilisingAdmission)])),
             expected: .group3Referral),
        Case(name: "R1 one acute contact with failed motivation does not count", asOf: asOf,
             contact: .known(ContactFacts(acuteContacts: [er(30, failed: true)])),
             expected: .group3Referral),
        Case(name: "R1 two acute contacts with failed motivation count", asOf: asOf,
             contact: .known(ContactFacts(acuteContacts: [er(30, failed: true), er(200, failed: true, kind: .shortStabilisingAdmission)])),
             expected: .centralVisitation(.repeatedAcuteContactsWithoutEngagement(count: 2))),
        Case(name: "R1 two failed-motivation contacts at 365 days count", asOf: asOf,
             contact: .known(ContactFacts(acuteContacts: [er(365, failed: true), er(0, failed: true)])),
             expected: .centralVisitation(.repeatedAcuteContactsWithoutEngagement(count: 2))),
        Case(name: "R1 two failed-motivation contacts, one 366 days ago, do not count", asOf: beforeGroup3,
             contact: .known(ContactFacts(acuteContacts: [
                AcuteContact(date: ago(366, from: beforeGroup3), kind: .emergencyRoom, motivationFailedOrTreatmentRejected: true),
                AcuteContact(date: ago(5, from: beforeGroup3), kind: .emergencyRoom, motivationFailedOrTreatmentRejected: true)])),
             expected: .notGroup2),
        Case(name: "R1 two acute-only contacts without failed motivation do not count", asOf: asOf,
             contact: .known(ContactFacts(acuteContacts: [er(30), er(60)])),
             expected: .group3Referral),
        Case(name: "R1 acute contact followed by an outpatient course counts as a course", asOf: asOf,
             contact: .known(ContactFacts(acuteContacts: [er(100, followUp: true)])),
             expected: .centralVisitation(.acuteContactFollowedByOutpatientCourse(date: ago(100)))),
        Case(name: "R1 acute contact followed by an outpatient course 366 days ago does not count", asOf: asOf,
             contact: .known(ContactFacts(acuteContacts: [er(366, followUp: true)])),
             expected: .group3Referral),
        Case(name: "R1 group 3 on its start date gets a group-3 referral", asOf: T.d("2026-07-01"),
             contact: .known(.none), expected: .group3Referral),
        Case(name: "R1 the day before group 3 starts: not group 2", asOf: T.d("2026-06-30"),
             contact: .known(.none), expected: .notGroup2),
        Case(name: "R1 unknown status waits for the journal", asOf: asOf,
             contact: .unknown, expected: .awaitingJournalStatus),
        Case(name: "R1 open course begun after the list's date is not current", asOf: beforeGroup3,
             contact: .known(ContactFacts(currentCourses: [CurrentCourse(clinic: "A", since: T.shift(beforeGroup3, 1))])),
             expected: .notGroup2),
        Case(name: "R1 course closed after the list's date was open on it: contact within the year", asOf: asOf,
             contact: .known(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.shift(asOf, 3))])),
             expected: .centralVisitation(.courseClosedWithinYear(clinic: "X", closedOn: T.shift(asOf, 3)))),
    ]

    @Test("R1 routing table", arguments: cases)
    func table(_ c: Case) {
        let decision = Routing.route(contact: c.contact, asOf: c.asOf, configuration: T.config)
        #expect(decision.outcome == c.expected)
        #expect(decision.explanation.rule == .r1)
        #expect(decision.explanation.rulesVersion == T.config.rulesVersion)
        #expect(!decision.explanation.facts.isEmpty)
    }

    @Test("R1 explanation states the facts it used, e.g. days before the list's date")
    func explanationFacts() {
        let decision = Routing.route(
            contact: .known(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.d("2025-12-02"))])),
            asOf: T.d("2026-11-23"), configuration: WorkflowConfiguration(rulesVersion: "test-v9"))
        #expect(decision.explanation.facts.contains { $0.contains("course at clinic X closed 2025-12-02, 356 days before 2026-11-23") })
        #expect(decision.explanation.rulesVersion == "test-v9")
    }

    @Test("R1 with several open courses the list's clinic is preferred")
    func listClinicPreferred() {
        let facts = ContactFacts(currentCourses: [
            CurrentCourse(clinic: "A", since: Self.ago(10)), CurrentCourse(clinic: "B", since: Self.ago(500)),
        ])
        #expect(Routing.route(contact: .known(facts), listClinic: "B", asOf: Self.asOf, configuration: T.config).outcome == .clinicAssessment("B"))
        #expect(Routing.route(contact: .known(facts), asOf: Self.asOf, configuration: T.config).outcome == .clinicAssessment("A"))
    }

    @Test("R1 unknown status times out to Central Visitation for manual visitation")
    func timeout() {
        let decision = Routing.statusTimedOut(waitingSince: Self.asOf, on: T.shift(Self.asOf, 7), configuration: T.config)
        #expect(decision.outcome == .centralVisitation(.statusUnknownTimedOut))
        #expect(decision.explanation.facts.contains { $0.contains("7 days later") })
    }

    @Test("R8 group-3 start date is read from configuration", arguments: [
        ("2027-01-01", RoutingOutcome.notGroup2), ("2026-11-23", .group3Referral), ("2026-11-24", .notGroup2),
    ])
    func configurableGroup3(start: String, expected: RoutingOutcome) {
        var config = WorkflowConfiguration()
        config.phasing.group3Start = T.d(start)
        #expect(Routing.route(contact: .known(.none), asOf: Self.asOf, configuration: config).outcome == expected)
    }
}
