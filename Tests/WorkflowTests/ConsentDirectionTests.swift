import Foundation
import Testing
import Workflow

private let day0 = Fixtures.asOf

/// R4 per direction (issue 14, item 2): regional data reaches the municipality only with
/// consent region-to-municipality, municipal data the region only with consent
/// municipality-to-region, whichever message carried the consent.
@Suite("R4 consent per direction")
struct R4DirectionTests {
    /// Which sectors' data each payload carries, written from docs/domain.md R4 and the event
    /// table of docs/messages.md, not derived from `EventPayload.dataOrigins`. The switch is
    /// exhaustive: a new event type does not compile without its row here.
    enum Row: CaseIterable {
        case assessmentRequest, cvReferral, notGroup2, contactStatusRequest, coordinatedCourse, heldForConsent
        case consentWithdrawn, assessmentShared, moreInformationRequested, decision, responsibilityTransfer
        case transitionProposed, collaborationMeetingNeeded, psychiatryProceedsAlone, handover, trackEnded
        case deadlineWarning
        case assessmentReminder, statusUnknownReminder, meetingReminder, transitionDueReminder
        case treatmentStartReminder, phaseInEndReminder
    }

    static func oracle(_ payload: EventPayload) -> (row: Row, carries: Set<Sector>, purpose: ConsentPurpose) {
        let both: Set<Sector> = [.municipality, .region]
        switch payload {
        // The list entry or referral: the sector that sent it.
        case .assessmentRequest(_, _, let origin, _): return (.assessmentRequest, [origin], .treatmentDialogue)
        case .centralVisitationReferral(_, _, _, let origin): return (.cvReferral, [origin], .treatmentDialogue)
        case .contactStatusRequest(_, let origin): return (.contactStatusRequest, [origin], .treatmentDialogue)
        // The municipal list-2 entry, shared for overview (R2).
        case .coordinatedCourse: return (.coordinatedCourse, [.municipality], .courseOverview)
        // Psychiatry's facts, assessment, decision, visitation, proposal (R1, R5, R9, workflow B).
        case .notGroup2: return (.notGroup2, [.region], .treatmentDialogue)
        case .assessmentShared: return (.assessmentShared, [.region], .treatmentDialogue)
        case .moreInformationRequested: return (.moreInformationRequested, [.region], .treatmentDialogue)
        case .decision: return (.decision, [.region], .treatmentDialogue)
        case .responsibilityTransfer: return (.responsibilityTransfer, [.region], .treatmentDialogue)
        case .transitionProposed: return (.transitionProposed, [.region], .treatmentDialogue)
        // Psychiatry works alone: the region's own case (workflow B step 2).
        case .psychiatryProceedsAlone: return (.psychiatryProceedsAlone, [.region], .treatmentDialogue)
        // R10: the region's own deadline, counted from the region's receipt (I7, I13).
        case .deadlineWarning: return (.deadlineWarning, [.region], .treatmentDialogue)
        // Joint matters: what both sides said and decided.
        case .collaborationMeetingNeeded: return (.collaborationMeetingNeeded, both, .treatmentDialogue)
        case .handover: return (.handover, both, .treatmentDialogue)
        case .trackEnded: return (.trackEnded, both, .treatmentDialogue)
        // The sender's own data is held: a notice about that sector's own data.
        case .heldForConsent(let direction, _): return (.heldForConsent, [direction.source], .treatmentDialogue)
        // Must reach every party precisely when consent is gone: carries nothing.
        case .consentWithdrawn: return (.consentWithdrawn, [], .treatmentDialogue)
        case .reminder(let kind):
            switch kind {
            // About the municipal entry that waits for the region's work.
            case .assessmentReminder: return (.assessmentReminder, [.municipality], .treatmentDialogue)
            case .statusUnknownTimeout: return (.statusUnknownReminder, [.municipality], .treatmentDialogue)
            case .phaseInEnd: return (.phaseInEndReminder, [.municipality], .treatmentDialogue)
            // "assessed and waiting for the decision meeting": the joint dialogue.
            case .meetingReminder: return (.meetingReminder, both, .treatmentDialogue)
            case .transitionDue: return (.transitionDueReminder, both, .treatmentDialogue)
            case .treatmentStartWarning, .treatmentStartOverdue: return (.treatmentStartReminder, both, .treatmentDialogue)
            }
        }
    }

    static let ref = InboundRef(messageID: "list", entry: 0)
    static let samples: [EventPayload] = [
        .assessmentRequest(clinic: "A", listedBy: ref, origin: .municipality, treatmentStartDeadline: nil),
        .assessmentRequest(clinic: "A", listedBy: ref, origin: .region, treatmentStartDeadline: day0),
        .centralVisitationReferral(reason: .group3, treatmentStartDeadline: day0, listedBy: ref, origin: .municipality),
        .centralVisitationReferral(
            reason: .routing(.statusUnknownTimedOut), treatmentStartDeadline: day0, listedBy: ref, origin: .region),
        .notGroup2,
        .contactStatusRequest(asOf: day0, origin: .municipality),
        .contactStatusRequest(asOf: day0, origin: .region),
        .coordinatedCourse(clinic: "A", asOf: day0, listedBy: ref),
        .heldForConsent(direction: .municipalityToRegion, purpose: .treatmentDialogue),
        .heldForConsent(direction: .regionToMunicipality, purpose: .treatmentDialogue),
        .heldForConsent(direction: .municipalityToRegion, purpose: .courseOverview),
        .consentWithdrawn(direction: .municipalityToRegion),
        .consentWithdrawn(direction: .regionToMunicipality),
        .assessmentShared(course: .integrated, proposedTransitionOn: day0),
        .moreInformationRequested,
        .decision(DecisionRecord(workflow: .a, course: .coordinated, municipalityDisagreed: false, psychiatryStatement: nil, transitionOn: nil)),
        .responsibilityTransfer(from: .municipality, to: .region, at: Date(timeIntervalSince1970: 0), effectiveOn: day0, treatmentStartDeadline: day0),
        .transitionProposed(proposedOn: day0),
        .collaborationMeetingNeeded,
        .psychiatryProceedsAlone,
        .handover(workflow: .b, course: .coordinated, plan: .koordinationsplan),
        .trackEnded(reason: .patientsChoice),
        .deadlineWarning(kind: .approaching, deadline: day0),
        .deadlineWarning(kind: .passed, deadline: day0),
    ] + TimerKind.allCases.map { EventPayload.reminder($0) }

    static let recipients: [Party] = [.municipality("851"), .clinic("A"), .centralVisitation, .journal]

    @Test("R4 every event type has a row in the table")
    func everyTypeHasARow() {
        #expect(Set(Self.samples.map { Self.oracle($0).row }) == Set(Row.allCases))
    }

    @Test("R4 every municipality-bound and region-bound event is held without consent in its direction, and only then",
          arguments: samples)
    func heldWithoutConsentInItsDirection(payload: EventPayload) {
        let (_, carries, purpose) = Self.oracle(payload)
        #expect(payload.purpose == purpose)
        for recipient in Self.recipients {
            let other: Sector = recipient.sector == .municipality ? .region : .municipality
            let into = ConsentDirection(from: other, to: recipient.sector)!
            let out = ConsentDirection(from: recipient.sector, to: other)!
            // Consent in force only the other way (and for every purpose): the gate must hold
            // exactly what carries the other sector's data into the recipient's.
            var onlyOut = ConsentRecord()
            onlyOut.record(Fixtures.given, directions: [out])
            let expected: GateVerdict = carries.contains(other) ? .hold(direction: into, purpose: purpose) : .pass
            #expect(ConsentGate.verdict(for: payload, to: recipient, consent: onlyOut) == expected,
                    "\(payload.kind) to \(recipient) without consent \(into.rawValue)")
            #expect(ConsentGate.verdict(for: payload, to: recipient, consent: ConsentRecord()) == expected,
                    "\(payload.kind) to \(recipient) without any consent")
            #expect(ConsentGate.verdict(for: payload, to: recipient, consent: .uniform(Fixtures.given)) == .pass,
                    "\(payload.kind) to \(recipient) with consent both ways")
        }
    }

    /// A citizen in current treatment at clinic A, listed with consent only
    /// municipality-to-region (the list entry's `directions`), and assessed integrated.
    static func assessedWithConsentToRegionOnly() -> (Driver, CaseResult) {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        let listed = d.send(
            .listed(ListEntry(list: .list1, municipality: "851", clinic: "A", asOf: day0, consent: Fixtures.given,
                              consentDirections: [.municipalityToRegion])), on: day0)
        #expect(listed.recipients("assessment-request") == [.clinic("A")], "municipal data may reach the region")
        let assessed = d.send(.assessment(AssessmentInput(result: .integrated)), on: T.shift(day0, 2))
        return (d, assessed)
    }

    @Test("R4 a list entry's consent municipality-to-region only: the assessment is held from the municipality")
    func listEntryConsentOneDirection() {
        var (d, assessed) = Self.assessedWithConsentToRegionOnly()
        #expect(d.citizenCase.consent.permits(.municipalityToRegion, .treatmentDialogue))
        #expect(!d.citizenCase.consent.permits(.regionToMunicipality, .treatmentDialogue))
        #expect(assessed.accepted)
        #expect(assessed.events("assessment-shared").isEmpty, "psychiatry's assessment is region data")
        #expect(assessed.recipients("held-for-consent") == [.clinic("A")], "the clinic is told its data is held")
        #expect(d.state == "workflowA.assessed")

        // The decision-meeting reminder says the citizen was assessed: region data as well.
        let reminder = d.send(.timerFired(.meetingReminder), on: T.shift(day0, 16))
        #expect(reminder.recipients("reminder") == [.clinic("A")])
        #expect(!reminder.events.contains { $0.recipient.sector == .municipality && carriesCitizenData($0.payload) })
        #expect(!reminder.events.contains { $0.recipient == .municipality("851") && $0.payload.kind == "reminder" })

        // Consent region-to-municipality given later releases what was held, in order.
        let given = d.send(
            .consentUpdate(ConsentUpdate(status: Fixtures.given, directions: [.regionToMunicipality])),
            on: T.shift(day0, 17))
        #expect(given.events.filter { $0.recipient == .municipality("851") }.map(\.payload.kind) == [
            "assessment-shared", "reminder",
        ])
        #expect(d.citizenCase.held.isEmpty)
    }

    @Test("R4 a list entry naming both directions, or none, opens both")
    func listEntryBothDirections() {
        for directions in [nil, [ConsentDirection.municipalityToRegion, .regionToMunicipality]] {
            var d = Driver()
            d.send(Fixtures.currentAt("A"), on: day0)
            d.send(.listed(ListEntry(list: .list1, municipality: "851", clinic: "A", asOf: day0, consent: Fixtures.given,
                                     consentDirections: directions)), on: day0)
            let r = d.send(.assessment(AssessmentInput(result: .integrated)), on: T.shift(day0, 2))
            #expect(r.recipients("assessment-shared") == [.municipality("851")])
        }
    }

    @Test("R4 a later list entry for one direction leaves the other direction's recorded consent in place")
    func listEntryKeepsOtherDirection() {
        var d = Driver()
        d.send(Fixtures.entry(.list2, clinic: "A"), on: day0)  // both directions given
        d.send(.listed(ListEntry(list: .list2, municipality: "851", clinic: "A", asOf: day0,
                                 consent: .refused(on: T.shift(day0, 1)), consentDirections: [.municipalityToRegion])),
               on: T.shift(day0, 1))
        #expect(!d.citizenCase.consent.permits(.municipalityToRegion, .treatmentDialogue))
        #expect(d.citizenCase.consent.permits(.regionToMunicipality, .treatmentDialogue))
    }
}

/// R4 withdrawal (issue 14, item 3): a withdrawal from any party tells every party of the
/// dialogue, and stops further exchange; the region's own R10 duty goes on (I13, I14).
@Suite("R4 withdrawal tells every party of the dialogue")
struct R4WithdrawalTests {
    /// Listed with consent both ways, status unknown (the journal is asked), then in
    /// current treatment: clinic A has the assessment request; the municipality has
    /// received nothing from the region yet.
    static func inAssessmentAfterJournal() -> Driver {
        var d = Driver()
        d.send(Fixtures.entry(), on: day0)
        let routed = d.send(Fixtures.currentAt("A"), on: day0)
        #expect(routed.recipients("assessment-request") == [.clinic("A")])
        return d
    }

    @Test("R4 a withdrawal sent by the clinic tells the municipality whose data the region had")
    func clinicWithdraws() {
        var d = Self.inAssessmentAfterJournal()
        let w = d.send(.consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(day0, 1)))), on: T.shift(day0, 1))
        #expect(w.accepted)
        #expect(w.recipients("consent-withdrawn") == [.journal, .clinic("A"), .municipality("851")])
        #expect(w.events("consent-withdrawn").count == 3, "one notice per party")

        // Further exchange stops: the assessment stays in the region.
        let assessed = d.send(.assessment(AssessmentInput(result: .integrated)), on: T.shift(day0, 2))
        #expect(assessed.accepted)
        #expect(!assessed.events.contains { $0.recipient.sector == .municipality && carriesCitizenData($0.payload) })
        let position = d.send(.municipalPosition(.agree), on: T.shift(day0, 3))
        #expect(position.rejection?.rule == .r4)
        let reminder = d.send(.timerFired(.meetingReminder), on: T.shift(day0, 16))
        #expect(!reminder.events.contains { $0.recipient.sector == .municipality && $0.payload.kind == "reminder" })
    }

    @Test("R4 a withdrawal of one direction tells both ends of that direction")
    func oneDirectionWithdrawn() {
        var d = Self.inAssessmentAfterJournal()
        let w = d.send(
            .consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(day0, 1)), directions: [.municipalityToRegion])),
            on: T.shift(day0, 1))
        #expect(w.recipients("consent-withdrawn") == [.journal, .clinic("A"), .municipality("851")])
        for event in w.events("consent-withdrawn") {
            #expect(event.payload == .consentWithdrawn(direction: .municipalityToRegion))
        }
    }

    @Test("R4 a second withdrawal tells nobody again; nothing was sent in between")
    func secondWithdrawal() {
        var d = Self.inAssessmentAfterJournal()
        d.send(.consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(day0, 1)))), on: T.shift(day0, 1))
        let again = d.send(.consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(day0, 2)))), on: T.shift(day0, 2))
        #expect(again.events("consent-withdrawn").isEmpty)
    }

    @Test("R4 without data exchanged, a withdrawal tells nobody")
    func nothingExchanged() {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        d.send(Fixtures.entry(consent: .absent), on: day0)  // held: nothing crossed
        let w = d.send(.consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(day0, 1)))), on: T.shift(day0, 1))
        #expect(w.events("consent-withdrawn").isEmpty)
    }

    @Test("R4/R10 (I13) after a withdrawal Central Visitation keeps its treatment-start warnings, with region data only")
    func deadlineWarningsGoOnInTheRegion() {
        var d = Driver()
        d.send(.contactStatus(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.shift(day0, -10))])), on: day0)
        let routed = d.send(Fixtures.entry(), on: day0)
        #expect(routed.recipients("cv-referral") == [.centralVisitation])
        let due = T.shift(day0, 14)
        #expect(d.citizenCase.deadline?.due == due)

        let w = d.send(.consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(day0, 2)))), on: T.shift(day0, 2))
        #expect(w.recipients("consent-withdrawn") == [.centralVisitation, .municipality("851")])
        #expect(d.citizenCase.deadline?.due == due, "the region's duty to start treatment does not end with the consent")

        for (kind, warning) in [(TimerKind.treatmentStartWarning, DeadlineWarningKind.approaching), (.treatmentStartOverdue, .passed)] {
            let r = d.send(.timerFired(kind), on: kind == .treatmentStartWarning ? T.shift(due, -3) : T.shift(due, 1))
            #expect(r.accepted)
            #expect(r.events.map(\.recipient) == [.centralVisitation])
            #expect(r.events.map(\.payload) == [.deadlineWarning(kind: warning, deadline: due)])
            #expect(r.events.allSatisfy { $0.payload.dataOrigins == [.region] }, "region data only")
            #expect(d.citizenCase.held.isEmpty)
        }
        // Central Visitation's visitation stays in the region: the municipality gets nothing.
        let visit = d.send(.assessment(AssessmentInput(result: .coordinated)), on: T.shift(due, 2))
        #expect(visit.recipients("decision") == [.centralVisitation])
    }
}
