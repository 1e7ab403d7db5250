import Foundation
import Testing
import Workflow

private let day0 = Fixtures.asOf

/// A case routed to clinic A's assessment queue on day0.
private func inAssessment(consent: ConsentStatus = Fixtures.given) -> Driver {
    var d = Driver()
    d.send(Fixtures.currentAt("A"), on: day0)
    d.send(Fixtures.entry(consent: consent), on: day0)
    return d
}

/// A case assessed by clinic A on day0 + 2.
private func assessed(_ course: AssessmentInput.Result = .integrated) -> Driver {
    var d = inAssessment()
    let r = d.send(.assessment(AssessmentInput(result: course)), on: T.shift(day0, 2))
    precondition(r.accepted)
    return d
}

@Suite("R1 routing in the case: unknown status, its timeout, late journal answer")
struct R1CaseTests {
    @Test("R1 unknown status asks the journal and schedules the timeout")
    func unknownAsks() {
        var d = Driver()
        let r = d.send(Fixtures.entry(), on: day0)
        #expect(r.accepted)
        #expect(r.recipients("contact-status-request") == [.journal])
        #expect(r.timers.contains(.schedule(.statusUnknownTimeout, on: T.shift(day0, T.config.timers.statusUnknownWaitDays))))
        #expect(d.state == "workflowA.awaitingJournalStatus")
    }

    @Test("R1 unknown status times out to Central Visitation, never dropped")
    func timeout() {
        var d = Driver()
        d.send(Fixtures.entry(), on: day0)
        let r = d.send(.timerFired(.statusUnknownTimeout), on: T.shift(day0, 7))
        #expect(r.accepted)
        let referral = r.events("cv-referral")
        #expect(referral.count == 1)
        #expect(referral.first?.recipient == .centralVisitation)
        if case .centralVisitationReferral(let reason, _, _, _) = referral.first?.payload {
            #expect(reason == .routing(.statusUnknownTimedOut))
        } else {
            Issue.record("expected a Central Visitation referral")
        }
        #expect(d.citizenCase.workflowA?.routing?.outcome == .centralVisitation(.statusUnknownTimedOut))
    }

    @Test("R1 late journal answer routes as of the list's date and cancels the timeout")
    func lateAnswer() {
        var d = Driver()
        d.send(Fixtures.entry(), on: day0)
        // Closed exactly 365 days before the list's date; the answer comes 5 days later,
        // when it would be 370 days: the list's date decides.
        let closed = T.shift(day0, -365)
        let r = d.send(.contactStatus(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: closed)])), on: T.shift(day0, 5))
        #expect(r.timers.contains(.cancel(.statusUnknownTimeout)))
        #expect(r.events("cv-referral").count == 1)
        let stale = d.send(.timerFired(.statusUnknownTimeout), on: T.shift(day0, 7))
        #expect(stale.rejection != nil)
    }

    @Test("R1 each routing outcome produces its one outbound event", arguments: [
        (ContactFacts(currentCourses: [CurrentCourse(clinic: "B", since: T.d("2024-01-01"))]), "assessment-request", Party.clinic("B")),
        (ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.d("2026-01-01"))]), "cv-referral", .centralVisitation),
        (ContactFacts.none, "cv-referral", .centralVisitation),  // group 3 started 2026-07-01
    ])
    func oneEvent(facts: ContactFacts, kind: String, recipient: Party) {
        var d = Driver()
        d.send(.contactStatus(facts), on: day0)
        let r = d.send(Fixtures.entry(), on: day0)
        #expect(r.events.count == 1)
        #expect(r.events.first?.payload.kind == kind)
        #expect(r.events.first?.recipient == recipient)
        #expect(r.events.first?.explanation.rule == .r1)
    }

    @Test("R1 not group 2 before group 3 replies to the municipality")
    func notGroup2() {
        var d = Driver()
        d.send(.contactStatus(.none), on: T.d("2026-03-01"))
        let r = d.send(Fixtures.entry(asOf: T.d("2026-03-01")), on: T.d("2026-03-02"))
        #expect(r.recipients("not-group-2") == [.municipality("851")])
        #expect(d.state == "workflowA.notGroup2")
    }
}

@Suite("R2 list 2: coordinated course, shared for overview if consent permits")
struct R2Tests {
    @Test("R2 list-2 entry with consent is shared with the clinic and starts no assessment")
    func shared() {
        var d = Driver()
        let r = d.send(Fixtures.entry(.list2, clinic: "C"), on: day0)
        #expect(r.recipients("coordinated-course") == [.clinic("C")])
        #expect(r.events("assessment-request").isEmpty && r.events("cv-referral").isEmpty)
        #expect(d.state == "coordinatedCourse")
        #expect(d.citizenCase.coordinatedCourse?.clinic == "C")
    }

    @Test("R2 list-2 entry without consent is recorded but held; the municipality is told", arguments: [
        ConsentStatus.absent, .refused(on: T.d("2026-10-01")), .withdrawn(on: T.d("2026-10-01")),
    ])
    func held(consent: ConsentStatus) {
        var d = Driver()
        let r = d.send(Fixtures.entry(.list2, clinic: "C", consent: consent), on: day0)
        #expect(r.events("coordinated-course").isEmpty)
        #expect(r.recipients("held-for-consent") == [.municipality("851")])
        #expect(d.citizenCase.held.count == 1)
    }

    @Test("R2 a list-2 entry without a clinic is rejected with a reason")
    func needsClinic() {
        var d = Driver()
        let r = d.send(Fixtures.entry(.list2, clinic: nil), on: day0)
        #expect(r.rejection?.rule == .r2)
    }
}

@Suite("R4 consent gate")
struct R4Tests {
    @Test("R4 list-1 entry without consent is held, nothing goes to the region, the sender is told", arguments: [
        ConsentStatus.absent, .refused(on: T.d("2026-10-01")), .withdrawn(on: T.d("2026-10-02")),
    ])
    func heldWithoutConsent(consent: ConsentStatus) {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        let r = d.send(Fixtures.entry(consent: consent), on: day0)
        #expect(r.accepted)
        #expect(r.events.allSatisfy { $0.recipient.sector == .municipality })
        #expect(r.recipients("held-for-consent") == [.municipality("851")])
        #expect(d.state == "workflowA.listed")
    }

    @Test("R4 consent given later releases the held entry and routes it")
    func givenLater() {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        d.send(Fixtures.entry(consent: .absent), on: day0)
        let r = d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given)), on: T.shift(day0, 3))
        #expect(r.recipients("assessment-request") == [.clinic("A")])
        #expect(d.state == "workflowA.inAssessment")
    }

    @Test("R4 a held referral counts its 14 days from its release (R10)")
    func heldReferralDeadline() {
        var d = Driver()
        d.send(.contactStatus(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.shift(day0, -10))])), on: day0)
        d.send(Fixtures.entry(), on: day0)  // routed to CV, consent in force
        #expect(d.citizenCase.deadline?.due == T.shift(day0, 14))
    }

    @Test("R4 consent withdrawn mid-case tells every party that had data to stop, and holds what follows")
    func withdrawnMidCase() {
        var d = assessed()  // clinic A has the entry; the municipality has the assessment
        let w = d.send(.consentUpdate(ConsentUpdate(status: .withdrawn(on: T.shift(day0, 4)))), on: T.shift(day0, 4))
        #expect(w.recipients("consent-withdrawn") == [.clinic("A"), .municipality("851")])
        // The municipality may no longer send its position (municipal data to the region).
        let p = d.send(.municipalPosition(.agree), on: T.shift(day0, 5))
        #expect(p.rejection?.rule == .r4)
        // Psychiatry decides alone; nothing reaches the municipality.
        let decision = d.send(.meetingOutcome(.decision(DecisionInput(course: .coordinated))), on: T.shift(day0, 6))
        #expect(decision.accepted)
        #expect(decision.events.filter { $0.recipient.sector == .municipality && carriesCitizenData($0.payload) }.isEmpty)
        #expect(decision.events.contains { $0.payload.kind == "decision" && $0.recipient == .clinic("A") })
        #expect(decision.recipients("held-for-consent") == [.clinic("A")])
    }

    @Test("R4 one direction only: municipal data may go to the region, regional data not back")
    func oneDirection() {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        d.send(Fixtures.entry(consent: .absent), on: day0)
        d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given, directions: [.municipalityToRegion])), on: day0)
        #expect(d.state == "workflowA.inAssessment")
        let r = d.send(.assessment(AssessmentInput(result: .integrated)), on: T.shift(day0, 1))
        #expect(r.events("assessment-shared").isEmpty)
        #expect(r.recipients("held-for-consent") == [.clinic("A")])
        let later = d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given, directions: [.regionToMunicipality])), on: T.shift(day0, 2))
        #expect(later.recipients("assessment-shared") == [.municipality("851")])
        #expect(d.citizenCase.held.isEmpty)
    }

    @Test("R4 gate verdicts per direction and purpose", arguments: [
        (ConsentDirection.municipalityToRegion, ConsentPurpose.treatmentDialogue, EventPayload.contactStatusRequest(asOf: T.d("2026-01-01"), origin: .municipality), Party.journal, false),
        (.municipalityToRegion, .treatmentDialogue, .contactStatusRequest(asOf: T.d("2026-01-01"), origin: .municipality), .municipality("851"), true),
        (.regionToMunicipality, .treatmentDialogue, .notGroup2, .municipality("851"), false),
        (.regionToMunicipality, .treatmentDialogue, .notGroup2, .clinic("A"), true),
        (.municipalityToRegion, .courseOverview, .coordinatedCourse(clinic: "A", asOf: T.d("2026-01-01"), listedBy: InboundRef(messageID: "x")), .clinic("A"), false),
    ])
    func verdicts(direction: ConsentDirection, purpose: ConsentPurpose, payload: EventPayload, recipient: Party, passesWithoutConsent: Bool) {
        let none = ConsentRecord()
        var only = ConsentRecord()
        only.record(Fixtures.given, directions: [direction], purposes: [purpose])
        #expect((ConsentGate.verdict(for: payload, to: recipient, consent: none) == .pass) == passesWithoutConsent)
        #expect(ConsentGate.verdict(for: payload, to: recipient, consent: only) == .pass)
        #expect(ConsentGate.verdict(for: payload, to: recipient, consent: .uniform(.withdrawn(on: T.d("2026-02-01")))) == (passesWithoutConsent ? .pass : .hold(direction: direction, purpose: purpose)))
    }
}

@Suite("R5 visitation right")
struct R5Tests {
    @Test("R5 disagreement without psychiatry's statement is rejected")
    func statementRequired() {
        var d = assessed(.coordinated)
        d.send(.municipalPosition(.disagree), on: T.shift(day0, 3))
        let r = d.send(.meetingOutcome(.decision(DecisionInput(course: .coordinated, municipalityAgrees: false))), on: T.shift(day0, 4))
        #expect(r.rejection?.rule == .r5)
        #expect(d.state == "workflowA.positioned")
    }

    @Test("R5 disagreement resolved by the visitation right records it with the statement", arguments: [
        (MunicipalPosition.disagree, true), (.agree, false),
    ])
    func resolved(position: MunicipalPosition, agreesAtMeeting: Bool) {
        var d = assessed(.coordinated)
        d.send(.municipalPosition(position), on: T.shift(day0, 3))
        let r = d.send(.meetingOutcome(.decision(DecisionInput(course: .coordinated, municipalityAgrees: agreesAtMeeting, psychiatryStatement: "stable abstinence for 3 months"))), on: T.shift(day0, 4))
        #expect(r.accepted)
        let decisions = r.events("decision")
        #expect(Set(decisions.map(\.recipient)) == [.municipality("851"), .clinic("A")])
        for event in decisions {
            guard case .decision(let record) = event.payload else { Issue.record("not a decision"); continue }
            #expect(record.municipalityDisagreed)
            #expect(record.psychiatryStatement == "stable abstinence for 3 months")
            #expect(record.course == .coordinated)
            #expect(event.explanation.rule == .r5)
            #expect(!event.explanation.facts.joined().contains("stable abstinence"))  // free text stays out of explanations
        }
        #expect(d.state == "workflowA.coordinated")
    }

    @Test("R5 agreement needs no statement")
    func agreement() {
        var d = assessed(.coordinated)
        let r = d.send(.meetingOutcome(.decision(DecisionInput(course: .coordinated))), on: T.shift(day0, 4))
        guard case .decision(let record)? = r.events("decision").first?.payload else { Issue.record("no decision"); return }
        #expect(!record.municipalityDisagreed)
        #expect(record.psychiatryStatement == nil)
    }

    @Test("R5 decision before psychiatry's assessment is rejected")
    func beforeAssessment() {
        var d = inAssessment()
        #expect(d.send(.meetingOutcome(.decision(DecisionInput(course: .coordinated))), on: day0).rejection?.rule == .r5)
    }
}

@Suite("R6 patient's choice")
struct R6Tests {
    static func inTransition() -> Driver {
        var d = assessed()
        d.send(.meetingOutcome(.decision(DecisionInput(course: .integrated, transitionOn: T.shift(day0, 4)))), on: T.shift(day0, 4))
        return d
    }

    @Test("R6 patient's choice mid-case ends the integrated track with reason \"patient's choice\"", arguments: [0, 1, 2, 3])
    func midCase(stage: Int) {
        var d: Driver
        switch stage {
        case 0: d = inAssessment()
        case 1: d = assessed()
        case 2: d = Self.inTransition()
        default:
            d = Self.inTransition()
            d.send(.treatmentStarted(on: T.shift(day0, 6)), on: T.shift(day0, 6))
        }
        let r = d.send(.patientChoice, on: T.shift(day0, 10))
        #expect(r.accepted)
        let ended = r.events("track-ended")
        #expect(Set(ended.map(\.recipient)) == [.municipality("851"), .clinic("A")])
        #expect(ended.allSatisfy { $0.payload == .trackEnded(reason: .patientsChoice) })
        #expect(TrackEndReason.patientsChoice.rawValue == "patient's choice")
        #expect(d.state == "workflowA.endedByPatientChoice")
        #expect(d.citizenCase.deadline == nil)
        // Nothing further is accepted on the ended track.
        #expect(d.send(.patientChoice, on: T.shift(day0, 11)).rejection?.rule == .r6)
    }

    @Test("R6 patient's choice mid-way through workflow B")
    func inWorkflowB() {
        var d = R7Tests.proposed()
        d.send(.municipalPosition(.agree), on: day0)
        d.send(.meetingOutcome(.network(transitionOn: nil)), on: day0)
        let r = d.send(.patientChoice, on: T.shift(day0, 1))
        #expect(r.events("track-ended").count == 2)
        #expect(d.state == "workflowB.endedByPatientChoice")
        #expect(d.send(.jointPlan(.koordinationsplan), on: T.shift(day0, 2)).rejection != nil)
    }
}

@Suite("R7 workflow B order")
struct R7Tests {
    /// An integrated patient at clinic A with consent; the clinic proposes the move back.
    static func proposed(consent: Bool = true) -> Driver {
        var d = Driver()
        if consent { d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given)), on: day0) }
        let r = d.send(.transitionProposal(TransitionProposal(municipality: "851", clinic: "A")), on: day0)
        precondition(r.accepted)
        return d
    }

    enum Step: String, CaseIterable, Sendable { case agree, disagree, collabAgree, collabDecide, network, plan, knowledge }
    static func input(_ s: Step) -> CaseInput {
        switch s {
        case .agree: return .municipalPosition(.agree)
        case .disagree: return .municipalPosition(.disagree)
        case .collabAgree: return .meetingOutcome(.collaboration(.agreed(.coordinated)))
        case .collabDecide: return .meetingOutcome(.collaboration(.psychiatryDecides(.coordinated, statement: "would need weekly attendance")))
        case .network: return .meetingOutcome(.network(transitionOn: T.shift(day0, 20)))
        case .plan: return .jointPlan(.udskrivningsaftale)
        case .knowledge: return .knowledgeHandover
        }
    }

    /// Sequences and, per step, whether docs/domain.md's order allows it at that point.
    static let sequences: [([Step], [Bool])] = [
        ([.agree, .network, .plan, .knowledge], [true, true, true, true]),
        ([.disagree, .collabAgree, .network, .plan, .knowledge], [true, true, true, true, true]),
        ([.disagree, .collabDecide, .network, .plan, .knowledge], [true, true, true, true, true]),
        ([.agree, .plan, .knowledge, .network, .plan, .knowledge], [true, false, false, true, true, true]),
        ([.agree, .knowledge, .network, .knowledge, .plan, .knowledge], [true, false, true, false, true, true]),
        ([.network, .disagree, .network, .collabAgree, .network, .plan, .knowledge], [false, true, false, true, true, true, true]),
        ([.agree, .collabAgree, .network, .network, .plan, .plan, .knowledge], [true, false, true, false, true, false, true]),
    ]

    @Test("R7 steps are accepted only in order; the handover comes only when complete", arguments: sequences)
    func order(steps: [Step], allowed: [Bool]) {
        var d = Self.proposed()
        var handovers = 0
        var done: Set<Step> = []
        for (step, expected) in zip(steps, allowed) {
            let r = d.send(Self.input(step), on: day0)
            #expect(r.accepted == expected, "step \(step.rawValue)")
            if r.accepted { done.insert(step) }
            let h = r.events("handover")
            if !h.isEmpty {
                handovers += 1
                #expect(done.isSuperset(of: [.network, .plan, .knowledge]))
                #expect(Set(h.map(\.recipient)) == [.municipality("851"), .clinic("A")])
            }
        }
        #expect(handovers == 1)
        #expect(d.state == "workflowB.handedOver")
    }

    @Test("R7 psychiatry's decision over disagreement needs its statement (R5 in B)")
    func collaborationStatement() {
        var d = Self.proposed()
        d.send(.municipalPosition(.disagree), on: day0)
        let r = d.send(.meetingOutcome(.collaboration(.psychiatryDecides(.coordinated, statement: nil))), on: day0)
        #expect(r.rejection?.rule == .r5)
        // The outbound decision records the disagreement, so it carries a statement either way.
        #expect(d.send(.meetingOutcome(.collaboration(.psychiatryDecides(.integrated, statement: nil))), on: day0).rejection?.rule == .r5)
        let stay = d.send(.meetingOutcome(.collaboration(.psychiatryDecides(.integrated, statement: "needs the integrated offer"))), on: day0)
        #expect(stay.accepted)
        #expect(d.state == "workflowB.staysIntegrated")
    }

    @Test("R7 without consent psychiatry proceeds alone; meetings need consent; consent later opens the dialogue")
    func withoutConsent() {
        var d = Self.proposed(consent: false)
        #expect(d.state == "workflowB.psychiatryAlone")
        #expect(d.send(.meetingOutcome(.network(transitionOn: nil)), on: day0).rejection?.rule == .r4)
        let r = d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given)), on: T.shift(day0, 1))
        #expect(r.recipients("transition-proposed") == [.municipality("851")])
        #expect(d.state == "workflowB.awaitingMunicipalPosition")
    }
}

@Suite("R9 responsibility moves at visitation")
struct R9Tests {
    @Test("R9 an integrated decision effective today transfers responsibility to both, time-stamped")
    func immediate() {
        var d = assessed()
        let on = T.shift(day0, 4)
        let r = d.send(.meetingOutcome(.decision(DecisionInput(course: .integrated, transitionOn: on))), on: on, hour: 13)
        let transfers = r.events("responsibility-transfer")
        #expect(Set(transfers.map(\.recipient)) == [.municipality("851"), .clinic("A")])
        for t in transfers {
            guard case .responsibilityTransfer(let from, let to, let at, let effectiveOn, let deadline) = t.payload else { continue }
            #expect(from == .municipality && to == .region)
            #expect(at == Driver.instant(on, hour: 13))
            #expect(effectiveOn == on)
            #expect(deadline == T.shift(on, 14))
            #expect(t.explanation.rule == .r9)
        }
    }

    @Test("R9 a later transition date waits for its timer")
    func later() {
        var d = assessed()
        let move = T.shift(day0, 30)
        let r = d.send(.meetingOutcome(.decision(DecisionInput(course: .integrated, transitionOn: move))), on: T.shift(day0, 4))
        #expect(r.events("responsibility-transfer").isEmpty)
        #expect(r.timers.contains(.schedule(.transitionDue, on: move)))
        let fired = d.send(.timerFired(.transitionDue), on: move)
        #expect(fired.events("responsibility-transfer").count == 2)
        #expect(d.state == "workflowA.inTransition")
    }

    @Test("R9 Central Visitation's visitation to integrated transfers responsibility")
    func viaCentralVisitation() {
        var d = Driver()
        d.send(.contactStatus(.none), on: day0)
        d.send(Fixtures.entry(), on: day0)  // group-3 referral
        let r = d.send(.assessment(AssessmentInput(result: .integrated, clinic: "B")), on: T.shift(day0, 3))
        #expect(Set(r.events("responsibility-transfer").map(\.recipient)) == [.municipality("851"), .clinic("B")])
    }
}

@Suite("R10 fourteen days")
struct R10Tests {
    static func referred() -> (Driver, CaseResult) {
        var d = Driver()
        d.send(.contactStatus(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.shift(day0, -100))])), on: day0)
        let r = d.send(Fixtures.entry(), on: day0)
        return (d, r)
    }

    @Test("R10 every referral carries the deadline and schedules the warning and the overdue alarm")
    func carries() {
        let (_, r) = Self.referred()
        let deadline = T.shift(day0, 14)
        guard case .centralVisitationReferral(_, let carried, _, _)? = r.events("cv-referral").first?.payload else {
            Issue.record("no referral"); return
        }
        #expect(carried == deadline)
        #expect(r.timers.contains(.schedule(.treatmentStartWarning, on: T.shift(deadline, -3))))
        #expect(r.timers.contains(.schedule(.treatmentStartOverdue, on: T.shift(deadline, 1))))
    }

    @Test("R10 warnings are raised before and when the deadline passes", arguments: [
        (TimerKind.treatmentStartWarning, DeadlineWarningKind.approaching, 11),
        (.treatmentStartOverdue, .passed, 15),
    ])
    func raised(kind: TimerKind, warning: DeadlineWarningKind, dayOffset: Int) {
        var (d, _) = Self.referred()
        let r = d.send(.timerFired(kind), on: T.shift(day0, dayOffset))
        let warnings = r.events("deadline-warning")
        #expect(!warnings.isEmpty)
        #expect(warnings.allSatisfy { $0.payload == .deadlineWarning(kind: warning, deadline: T.shift(day0, 14)) })
        #expect(warnings.contains { $0.recipient == .centralVisitation })
        #expect(warnings.allSatisfy { $0.explanation.rule == .r10 })
    }

    @Test("R10 a recorded treatment start cancels the alarms; a late timer is rejected, not ignored")
    func started() {
        var (d, _) = Self.referred()
        let r = d.send(.treatmentStarted(on: T.shift(day0, 9)), on: T.shift(day0, 9))
        #expect(r.timers.contains(.cancel(.treatmentStartWarning)))
        #expect(r.timers.contains(.cancel(.treatmentStartOverdue)))
        #expect(d.citizenCase.deadline == nil)
        #expect(d.send(.timerFired(.treatmentStartOverdue), on: T.shift(day0, 15)).rejection?.rule == .r10)
    }

    @Test("R10 the workflow A transition starts the deadline; treatment start hands over")
    func transition() {
        var d = assessed()
        let on = T.shift(day0, 4)
        let r = d.send(.meetingOutcome(.decision(DecisionInput(course: .integrated, transitionOn: on))), on: on)
        #expect(r.timers.contains(.schedule(.treatmentStartOverdue, on: T.shift(on, 15))))
        #expect(d.citizenCase.deadline?.party == .clinic("A"))
        let s = d.send(.treatmentStarted(on: T.shift(on, 2)), on: T.shift(on, 2))
        #expect(Set(s.events("handover").map(\.recipient)) == [.municipality("851"), .clinic("A")])
        #expect(d.state == "workflowA.integrated")
    }

    @Test("R10 a referral released after consent counts 14 days from its release")
    func releasedLater() {
        var d = Driver()
        d.send(.contactStatus(.none), on: day0)
        d.send(Fixtures.entry(consent: .absent), on: day0)
        let release = T.shift(day0, 6)
        let r = d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given)), on: release)
        guard case .centralVisitationReferral(_, let due, _, _)? = r.events("cv-referral").first?.payload else {
            Issue.record("no referral released"); return
        }
        #expect(due == T.shift(release, 14))
        #expect(d.citizenCase.deadline?.due == T.shift(release, 14))
    }
}

@Suite("R11 everything is answered")
struct R11Tests {
    @Test("R11 every list entry gets an answer; a repeated citizen is rejected with a reason")
    func listEntries() {
        var cases: [CitizenKey: CitizenCase] = [:]
        let list = MunicipalList(
            messageID: "list-851-1", municipality: "851", clinic: "A", list: .list1, asOf: day0,
            entries: [
                .init(citizen: CitizenKey("c1"), consent: Fixtures.given),
                .init(citizen: CitizenKey("c2"), consent: .absent),
                .init(citizen: CitizenKey("c1"), consent: Fixtures.given),
            ])
        let outcomes = ListProcessing.apply(list, at: Driver.instant(day0), on: day0, cases: &cases, configuration: T.config)
        #expect(outcomes.map(\.index) == [0, 1, 2])
        guard case .accepted = outcomes[0].result, case .accepted = outcomes[1].result,
            case .rejected(let reason) = outcomes[2].result
        else { Issue.record("unexpected results \(outcomes.map(\.result))"); return }
        #expect(reason.contains("entry 0"))
        #expect(cases.count == 2)
        // Event ids are per entry and never contain the citizen key.
        for outcome in outcomes { for e in outcome.events { #expect(e.id.rawValue.hasPrefix("list-851-1#\(outcome.index)/")) } }
        #expect(outcomes.flatMap(\.events).allSatisfy { !$0.id.rawValue.contains("c1") && !$0.id.rawValue.contains("c2") })
    }

    @Test("R11 impossible inputs are rejected naming state and input", arguments: [
        CaseInput.knowledgeHandover, .jointPlan(.koordinationsplan), .assessment(AssessmentInput(result: .integrated)),
        .meetingOutcome(.network(transitionOn: nil)), .treatmentStarted(on: T.d("2026-11-24")), .timerFired(.transitionDue),
    ])
    func impossible(input: CaseInput) {
        var d = Driver()
        d.send(Fixtures.entry(), on: day0)  // awaiting journal status
        let before = d.citizenCase
        let r = d.send(input, on: day0)
        #expect(r.rejection?.state == "workflowA.awaitingJournalStatus")
        #expect(r.rejection?.input == input.name)
        #expect(r.events.isEmpty)
        guard case .rejected = r.entryResult else { Issue.record("not a rejection"); return }
        // State unchanged apart from remembering the answer.
        #expect(d.citizenCase.stateName == before.stateName && d.citizenCase.held == before.held)
    }

    @Test("Event ids are deterministic: the same message on the same stored state (a crash before commit) gives identical events")
    func deterministicIDs() {
        var d = Driver()
        d.send(.contactStatus(ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.shift(day0, -30))])), on: day0)
        var first = d.citizenCase
        var second = d.citizenCase
        let ctx = CaseContext(ref: InboundRef(messageID: "list-9", entry: 4), at: Driver.instant(day0), on: day0)
        let a = first.apply(Fixtures.entry(), context: ctx, configuration: T.config)
        let b = second.apply(Fixtures.entry(), context: ctx, configuration: T.config)
        #expect(a == b && first == second)
        #expect(a.events.map(\.id.rawValue) == ["list-9#4/0-cv-referral"])
    }

    @Test("the case holds no log of its inputs: the same journal status under ten message ids leaves the state the first left")
    func stateDoesNotGrow() throws {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        let once = d.citizenCase
        for _ in 0..<9 { #expect(d.send(Fixtures.currentAt("A"), on: day0).accepted) }
        #expect(d.citizenCase == once)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(d.citizenCase) == encoder.encode(once))
    }

    @Test("R11 a message applied again is decided again on the new state: the case keeps no log of its inputs; the store's inbox answers a repeat")
    func noReplayLog() {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        let ctx = CaseContext(ref: InboundRef(messageID: "same"), at: Driver.instant(day0), on: day0)
        let first = d.citizenCase.apply(Fixtures.entry(), context: ctx, configuration: T.config)
        let second = d.citizenCase.apply(Fixtures.entry(), context: ctx, configuration: T.config)
        #expect(first.outcome == .accepted && !first.events.isEmpty)
        // The list entry is not new to the case any more: the second answer is the one an
        // open case gives (the daemon never gets here: its inbox answers the repeat first).
        #expect(second != first)
    }
}

@Suite("R1 referrals from a regional party")
struct R1ReferralTests {
    static func referral(from: Party = .journal, asOf: LocalDate = day0) -> CaseInput {
        .referral(ReferralInput(municipality: "860", clinic: nil, asOf: asOf, from: from))
    }

    @Test("R1 a journal referral is routed by the same rules without waiting for consent (regional data)", arguments: [
        (ContactFacts(currentCourses: [CurrentCourse(clinic: "B", since: T.d("2025-02-01"))]), "assessment-request", Party.clinic("B")),
        (ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.shift(day0, -365))]), "cv-referral", .centralVisitation),
        (ContactFacts(closedCourses: [ClosedCourse(clinic: "X", closedOn: T.shift(day0, -366))]), "cv-referral", .centralVisitation),  // group 3
    ])
    func routed(facts: ContactFacts, kind: String, recipient: Party) {
        var d = Driver()
        d.send(.contactStatus(facts), on: day0)
        let r = d.send(Self.referral(), on: day0)
        #expect(r.events.map(\.payload.kind) == [kind])
        #expect(r.events.first?.recipient == recipient)
        #expect(d.citizenCase.held.isEmpty)
    }

    @Test("R1 not group 2 is answered to the referrer, not to the municipality, and needs no consent")
    func notGroup2ToReferrer() {
        var d = Driver()
        d.send(.contactStatus(.none), on: T.d("2026-03-01"))
        let r = d.send(Self.referral(from: .clinic("C"), asOf: T.d("2026-03-01")), on: T.d("2026-03-01"))
        #expect(r.recipients("not-group-2") == [.clinic("C")])
        #expect(r.events("held-for-consent").isEmpty)
    }

    @Test("R10 a referral carries its fourteen days")
    func deadline() {
        var d = Driver()
        d.send(.contactStatus(.none), on: day0)
        d.send(Self.referral(), on: day0)
        #expect(d.citizenCase.deadline?.due == T.shift(day0, 14))
    }

    @Test("R1/R4 a municipality's referral is municipal data: held until consent, then routed like a list-1 entry")
    func fromMunicipality() {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        let held = d.send(Self.referral(from: .municipality("860")), on: day0)
        #expect(held.accepted)
        #expect(held.events("assessment-request").isEmpty)
        #expect(held.recipients("held-for-consent") == [.municipality("860")])
        let released = d.send(.consentUpdate(ConsentUpdate(status: Fixtures.given)), on: T.shift(day0, 1))
        #expect(released.recipients("assessment-request") == [.clinic("A")])
        #expect(d.send(Self.referral(from: .municipality("851")), on: day0).rejection?.rule == .r1)
    }

    @Test("R4 the municipality still gets the assessment only with consent")
    func dialogueStillGated() {
        var d = Driver()
        d.send(Fixtures.currentAt("A"), on: day0)
        d.send(Self.referral(), on: day0)
        let r = d.send(.assessment(AssessmentInput(result: .integrated)), on: T.shift(day0, 1))
        #expect(r.events("assessment-shared").isEmpty)
        #expect(r.recipients("held-for-consent") == [.clinic("A")])
    }
}

@Suite("R4 case ownership: only the owning municipality lists or refers a citizen with an open case")
struct OwnershipTests {
    @Test("an open workflow A, a coordinated course and a running workflow B have an owner; a closed case has none")
    func owner() {
        var d = Driver()
        #expect(d.citizenCase.owningMunicipality == nil, "no case yet")
        d.send(Fixtures.entry(), on: day0)
        #expect(d.citizenCase.owningMunicipality == "851")
        d.send(.patientChoice, on: T.shift(day0, 1))
        #expect(d.citizenCase.workflowA?.isClosed == true)
        #expect(d.citizenCase.owningMunicipality == nil, "a closed case may be listed afresh")

        var listed2 = Driver()
        listed2.send(Fixtures.entry(.list2, clinic: "C"), on: day0)
        #expect(listed2.citizenCase.owningMunicipality == "851")
    }

    @Test("a list entry the caller answers itself is skipped: no outcome, no case change")
    func skipping() {
        let list = MunicipalList(
            messageID: "m", municipality: "810", clinic: "A", list: .list1, asOf: day0,
            entries: [.init(citizen: CitizenKey("c-0"), consent: Fixtures.given), .init(citizen: CitizenKey("c-1"), consent: Fixtures.given)])
        var cases: [CitizenKey: CitizenCase] = [:]
        let outcomes = ListProcessing.apply(
            list, at: Driver.instant(day0), on: day0, cases: &cases, configuration: T.config, skipping: [0])
        #expect(outcomes.map(\.index) == [1])
        #expect(cases[CitizenKey("c-0")] == nil)
        #expect(cases[CitizenKey("c-1")]?.owningMunicipality == "810")
    }
}
