import Foundation
import Testing
import Workflow

@Suite("R8 a group-2 candidate still undecided at the end of the phase-in period is reported")
struct PhaseInEndTests {
    static let end = T.d("2027-01-01")
    static var config: WorkflowConfiguration {
        var config = WorkflowConfiguration()
        config.phasing.group2PhaseInEnd = end
        return config
    }

    @Test("a list-1 entry before the end schedules the report; an undecided case reports to both sides")
    func undecidedReported() {
        var d = Driver(config: Self.config)
        d.send(Fixtures.currentAt("A"), on: Fixtures.asOf)
        let listed = d.send(Fixtures.entry(), on: Fixtures.asOf)
        #expect(listed.timers.contains(.schedule(.phaseInEnd, on: Self.end)))
        let r = d.send(.timerFired(.phaseInEnd), on: Self.end)
        #expect(r.accepted)
        #expect(r.recipients("reminder") == [.municipality("851"), .clinic("A")])
        #expect(r.events("reminder").allSatisfy { $0.explanation.rule == .r8 })
    }

    @Test("a decided case's report timer is stale; after the end no report is scheduled")
    func decidedIsStale() {
        var d = Driver(config: Self.config)
        d.send(Fixtures.currentAt("A"), on: Fixtures.asOf)
        d.send(Fixtures.entry(), on: Fixtures.asOf)
        d.send(.assessment(AssessmentInput(result: .coordinated)), on: T.shift(Fixtures.asOf, 1))
        d.send(.meetingOutcome(.decision(DecisionInput(course: .coordinated))), on: T.shift(Fixtures.asOf, 2))
        #expect(d.send(.timerFired(.phaseInEnd), on: Self.end).rejection?.rule == .r8)
        var late = Driver(config: Self.config)
        #expect(!late.send(Fixtures.entry(asOf: Self.end), on: Self.end).timers.contains { timer in
            if case .schedule(.phaseInEnd, _) = timer { return true }
            return false
        })
    }
}
