import Foundation
import Testing
import Workflow

/// Property tests over many generated citizens and message orders, with a seeded generator.
/// Expectations come from an independent oracle written from docs/domain.md (R1) and from the
/// test's own record of which consents were given (R4), not from the code under test.
@Suite("Properties: generated citizens and message orders")
struct PropertyTests {
    static let group3Start = T.d("2026-07-01")
    static let asOfChoices = [T.d("2026-06-30"), T.d("2026-07-01"), T.d("2026-11-23")]

    enum Journal: CaseIterable { case before, after, never }

    struct Citizen {
        var key: CitizenKey
        var asOf: LocalDate
        var facts: ContactFacts
        var consentAtListing: Bool
        var journal: Journal
    }

    static func offset(_ rng: inout SeededGenerator) -> Int {
        // Weighted towards the edges of the 365-day window.
        let edges = [0, 1, 364, 365, 366, 367, -1, -3]
        return Bool.random(using: &rng) ? edges.randomElement(using: &rng)! : Int.random(in: -20...800, using: &rng)
    }

    static func generate(count: Int, seed: UInt64) -> [Citizen] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { i in
            let asOf = asOfChoices.randomElement(using: &rng)!
            var facts = ContactFacts()
            if Int.random(in: 0..<4, using: &rng) == 0 {
                facts.currentCourses = [CurrentCourse(clinic: ["A", "B"].randomElement(using: &rng)!, since: T.shift(asOf, -offset(&rng)))]
            }
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                facts.closedCourses.append(ClosedCourse(clinic: "X", closedOn: T.shift(asOf, -offset(&rng))))
            }
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                facts.acuteContacts.append(AcuteContact(
                    date: T.shift(asOf, -offset(&rng)), kind: Bool.random(using: &rng) ? .emergencyRoom : .shortStabilisingAdmission,
                    followedByOutpatientCourse: Int.random(in: 0..<5, using: &rng) == 0,
                    motivationFailedOrTreatmentRejected: Int.random(in: 0..<5, using: &rng) < 2))
            }
            return Citizen(
                key: CitizenKey("p\(i)"), asOf: asOf, facts: facts,
                consentAtListing: Int.random(in: 0..<5, using: &rng) < 3,
                journal: Journal.allCases.randomElement(using: &rng)!)
        }
    }

    /// Days from `a` to `b` by Foundation's calendar.
    static func days(_ a: LocalDate, _ b: LocalDate) -> Int {
        let da = T.utc.date(from: DateComponents(year: a.year, month: a.month, day: a.day))!
        let db = T.utc.date(from: DateComponents(year: b.year, month: b.month, day: b.day))!
        return T.utc.dateComponents([.day], from: da, to: db).day!
    }

    /// The R1 oracle: (event kind, recipient) of the one routing event docs/domain.md expects.
    static func expectedRouting(_ c: Citizen) -> (String, Party) {
        if c.journal == .never { return ("cv-referral", .centralVisitation) }
        let f = c.facts
        if let current = f.currentCourses.first(where: { days($0.since, c.asOf) >= 0 }) {
            return ("assessment-request", .clinic(current.clinic))
        }
        let inYear = { (d: LocalDate) in (0...365).contains(days(d, c.asOf)) }
        let closed = f.closedCourses.contains { inYear($0.closedOn) || days($0.closedOn, c.asOf) < 0 }
        let acuteCourse = f.acuteContacts.contains { inYear($0.date) && $0.followedByOutpatientCourse }
        let failed = f.acuteContacts.filter { inYear($0.date) && $0.motivationFailedOrTreatmentRejected }.count
        if closed || acuteCourse || failed >= 2 { return ("cv-referral", .centralVisitation) }
        if days(group3Start, c.asOf) >= 0 { return ("cv-referral", .centralVisitation) }
        return ("not-group-2", .municipality("851"))
    }

    static let routingKinds: Set<String> = ["assessment-request", "cv-referral", "not-group-2"]

    /// Test-side data origin of each payload, from docs/domain.md: what the municipality listed
    /// is municipal data; what psychiatry knows or decides is regional.
    static func origin(_ p: EventPayload) -> Set<Sector> {
        switch p {
        // Every citizen in these runs comes from a municipal list.
        case .assessmentRequest, .centralVisitationReferral, .contactStatusRequest, .coordinatedCourse: return [.municipality]
        case .notGroup2, .assessmentShared, .moreInformationRequested, .decision, .responsibilityTransfer, .transitionProposed: return [.region]
        case .handover, .trackEnded, .collaborationMeetingNeeded: return [.municipality, .region]
        case .heldForConsent, .consentWithdrawn, .deadlineWarning, .reminder, .psychiatryProceedsAlone: return []
        }
    }

    /// One message of a citizen's script.
    enum Message { case list, journal, consentGiven, withdraw, assessment(AssessmentInput.Result), decision(CourseKind), patientChoice, timers(LocalDate) }

    struct Run {
        var cases: [CitizenKey: CitizenCase] = [:]
        var events: [CitizenKey: [OutboundEvent]] = [:]
        var scheduled: [CitizenKey: [TimerKind: LocalDate]] = [:]
        var consentGiven: [CitizenKey: Bool] = [:]
        var violations: [String] = []
        var replayFailures: [String] = []
        var hour = 10

        mutating func apply(_ input: CaseInput, for key: CitizenKey, ref: InboundRef, on: LocalDate) {
            let before = cases[key] ?? CitizenCase(citizen: key)
            var c = before
            let context = CaseContext(ref: ref, at: Driver.instant(on, hour: hour), on: on)
            let result = c.apply(input, context: context, configuration: T.config)
            // Determinism (a redelivery the store did not answer, or a replica, decides the
            // same): the same input on the same snapshot gives the same answer and state.
            var copy = before
            let again = copy.apply(input, context: context, configuration: T.config)
            if !(again == result && copy == c) {
                replayFailures.append(ref.key)
            }
            cases[key] = c
            // R4 oracle: no event with citizen data crosses sectors unless the test gave consent.
            let given = consentGiven[key] ?? false
            for e in result.events where !given {
                if origin(e.payload).contains(where: { $0 != e.recipient.sector }) {
                    violations.append("\(e.id) \(e.payload.kind) to \(e.recipient)")
                }
            }
            events[key, default: []] += result.events
            for t in result.timers {
                switch t {
                case .schedule(let kind, let on): scheduled[key, default: [:]][kind] = on
                case .cancel(let kind): scheduled[key, default: [:]][kind] = nil
                }
            }
        }

        /// Fires every due timer of the R1 status wait, as the daemon's timer service would.
        mutating func fireStatusTimers(_ key: CitizenKey) {
            if let due = scheduled[key]?[.statusUnknownTimeout] {
                apply(.timerFired(.statusUnknownTimeout), for: key, ref: InboundRef(messageID: "timer/\(key.rawValue)/status/\(due)"), on: due)
            }
        }
    }

    static func script(for c: Citizen) -> [(Message, Int)] {
        // (message, day offset from the list's date)
        var s: [(Message, Int)] = []
        if c.journal == .before { s.append((.journal, 0)) }
        s.append((.list, 1))
        if c.journal == .after { s.append((.journal, 3)) }
        return s
    }

    static func perform(_ m: Message, _ c: Citizen, day: Int, index: Int, run: inout Run) {
        let on = T.shift(c.asOf, day)
        let ref = InboundRef(messageID: "m/\(c.key.rawValue)/\(index)")
        switch m {
        case .list:
            run.consentGiven[c.key] = c.consentAtListing
            let entry = ListEntry(list: .list1, municipality: "851", clinic: nil, asOf: c.asOf, consent: c.consentAtListing ? Fixtures.given : .absent)
            run.apply(.listed(entry), for: c.key, ref: ref, on: on)
        case .journal:
            run.apply(.contactStatus(c.facts), for: c.key, ref: ref, on: on)
        case .consentGiven:
            run.consentGiven[c.key] = true
            run.apply(.consentUpdate(ConsentUpdate(status: Fixtures.given)), for: c.key, ref: ref, on: on)
        case .withdraw:
            run.consentGiven[c.key] = false
            run.apply(.consentUpdate(ConsentUpdate(status: .withdrawn(on: on))), for: c.key, ref: ref, on: on)
        case .assessment(let r):
            run.apply(.assessment(AssessmentInput(result: r)), for: c.key, ref: ref, on: on)
        case .decision(let course):
            run.apply(.meetingOutcome(.decision(DecisionInput(course: course, transitionOn: on, municipalityAgrees: true))), for: c.key, ref: ref, on: on)
        case .patientChoice:
            run.apply(.patientChoice, for: c.key, ref: ref, on: on)
        case .timers:
            run.fireStatusTimers(c.key)
        }
    }

    /// Interleaves the citizens' scripts in a random order that keeps each citizen's own order.
    static func interleave(_ citizens: [Citizen], scripts: [[(Message, Int)]], seed: UInt64, run: inout Run) {
        var rng = SeededGenerator(seed: seed)
        var cursor = Array(repeating: 0, count: citizens.count)
        var pending = Array(citizens.indices)
        while !pending.isEmpty {
            let pick = Int.random(in: 0..<pending.count, using: &rng)
            let i = pending[pick]
            let (m, day) = scripts[i][cursor[i]]
            perform(m, citizens[i], day: day, index: cursor[i], run: &run)
            cursor[i] += 1
            if cursor[i] == scripts[i].count { pending.remove(at: pick) }
        }
    }

    @Test("R1 every list-1 citizen ends in exactly one routing outcome, the one docs/domain.md gives", arguments: [1 as UInt64, 2, 3])
    func exactlyOneOutcome(seed: UInt64) {
        let citizens = Self.generate(count: 300, seed: seed)
        var run = Run()
        Self.interleave(citizens, scripts: citizens.map(Self.script), seed: seed &+ 100, run: &run)
        for c in citizens { run.fireStatusTimers(c.key) }
        // Phase 1: consented citizens are routed once; the others are held, sender told.
        for c in citizens {
            let routed = run.events[c.key, default: []].filter { Self.routingKinds.contains($0.payload.kind) }
            if c.consentAtListing {
                let (kind, recipient) = Self.expectedRouting(c)
                #expect(routed.count == 1, "citizen \(c.key.rawValue)")
                #expect(routed.first?.payload.kind == kind, "citizen \(c.key.rawValue) facts \(c.facts) asOf \(c.asOf)")
                #expect(routed.first?.recipient == recipient, "citizen \(c.key.rawValue)")
                #expect(run.cases[c.key]?.workflowA?.routing != nil)
            } else {
                #expect(routed.isEmpty)
                #expect(run.events[c.key, default: []].contains { $0.payload.kind == "held-for-consent" && $0.recipient == .municipality("851") })
                #expect(run.cases[c.key]?.stateName == "workflowA.listed")
            }
        }
        // Phase 2: consent given later; every citizen now has exactly one routing outcome.
        for c in citizens where !c.consentAtListing {
            Self.perform(.consentGiven, c, day: 10, index: 99, run: &run)
            run.fireStatusTimers(c.key)
        }
        for c in citizens {
            let routed = run.events[c.key, default: []].filter { Self.routingKinds.contains($0.payload.kind) }
            #expect(routed.count == 1, "citizen \(c.key.rawValue)")
            #expect(routed.first?.payload.kind == Self.expectedRouting(c).0)
        }
        #expect(run.violations.isEmpty, "\(run.violations.prefix(5))")
        #expect(run.replayFailures.isEmpty, "\(run.replayFailures.prefix(5))")
    }

    @Test("R4 no event crosses sectors without consent, across random whole-case scripts", arguments: [11 as UInt64, 12])
    func noCrossingWithoutConsent(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let citizens = Self.generate(count: 200, seed: seed)
        let scripts: [[(Message, Int)]] = citizens.map { c in
            var s = Self.script(for: c)
            var day = 4
            let tail: [Message] = [.consentGiven, .withdraw, .assessment(.integrated), .assessment(.coordinated), .decision(.integrated), .decision(.coordinated), .patientChoice, .timers(c.asOf)]
            for _ in 0..<Int.random(in: 2...7, using: &rng) {
                s.append((tail.randomElement(using: &rng)!, day))
                day += Int.random(in: 0...3, using: &rng)
            }
            return s
        }
        var run = Run()
        Self.interleave(citizens, scripts: scripts, seed: seed, run: &run)
        #expect(run.violations.isEmpty, "\(run.violations.prefix(5))")
        #expect(run.replayFailures.isEmpty, "\(run.replayFailures.prefix(5))")
        // Every case is still accounted for (no case dropped).
        #expect(Set(run.cases.keys) == Set(citizens.map(\.key)))
    }

    @Test("Outcomes do not depend on the order of independent citizens nor on the time of day")
    func orderIndependence() {
        let citizens = Self.generate(count: 200, seed: 7)
        func outcome(order seed: UInt64, hour: Int) -> [CitizenKey: [String]] {
            var run = Run()
            run.hour = hour
            // One list message with the entries in a seed-dependent order, journal
            // answers interleaved in another.
            var rng = SeededGenerator(seed: seed)
            let shuffled = citizens.shuffled(using: &rng)
            for c in shuffled where c.journal == .before { Self.perform(.journal, c, day: 0, index: 0, run: &run) }
            var list = MunicipalList(messageID: "list-\(seed)", municipality: "851", clinic: nil, list: .list1, asOf: Self.asOfChoices[2], entries: [])
            list.entries = shuffled.map { .init(citizen: $0.key, consent: $0.consentAtListing ? Fixtures.given : .absent) }
            let byKey = Dictionary(uniqueKeysWithValues: citizens.map { ($0.key, $0) })
            var cases = run.cases
            let outcomes = ListProcessing.apply(list, at: Driver.instant(Self.asOfChoices[2], hour: hour), on: Self.asOfChoices[2], cases: &cases, configuration: T.config)
            run.cases = cases
            for o in outcomes { run.events[o.citizen, default: []] += o.events }
            for c in shuffled.reversed() where c.journal == .after { Self.perform(.journal, byKey[c.key]!, day: 3, index: 1, run: &run) }
            var result: [CitizenKey: [String]] = [:]
            for c in citizens {
                let kinds = run.events[c.key, default: []].map { "\($0.payload.kind)->\($0.recipient)" }
                result[c.key] = [run.cases[c.key]!.stateName, "\(String(describing: run.cases[c.key]!.workflowA?.routing?.outcome))"] + kinds
            }
            return result
        }
        let a = outcome(order: 1, hour: 1)
        let b = outcome(order: 2, hour: 23)
        #expect(a.count == citizens.count)
        for c in citizens { #expect(a[c.key] == b[c.key], "citizen \(c.key.rawValue)") }
    }
}
