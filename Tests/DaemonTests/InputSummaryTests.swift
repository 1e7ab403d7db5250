import Contract
@testable import Daemon
import Foundation
import Store
import Testing
import Workflow

/// `InputSummary` reads a case's input history rows (listings, single-citizen inputs,
/// contact facts, timer inputs) with one decode per row: what it keeps must be what the
/// outbound messages of the case need.
@Suite("InputSummary: a case's input rows → the data of its outbound messages")
struct InputSummaryTests {
    static func day(_ iso: String) -> CalendarDate { CalendarDate(iso: iso)! }

    static func listed(_ municipality: String, _ list: String) -> ListedInput {
        ListedInput(type: "municipal-list", list: list, municipality: municipality, asOf: day("2026-11-01"),
                    municipalInformation: nil, grounds: nil, source: nil)
    }

    /// Rows as the store holds them: binary since issue 15, JSON in stores written before.
    enum Encoding: CaseIterable { case binary, json }

    static func row<T: Encodable>(_ value: T, _ encoding: Encoding) throws -> Data {
        switch encoding {
        case .binary: try StoreBinary.encode(value)
        case .json: try StoreJSON.encode(value)
        }
    }

    @Test("the latest listing wins; contact facts and timer rows are skipped, not misread", arguments: Encoding.allCases)
    func latestListing(encoding: Encoding) throws {
        let payloads = [
            try Self.row(Self.listed("851", "list1"), encoding),
            try Self.row(ContactFacts.none, encoding),
            try Self.row(["timer": "statusUnknownTimeout"], encoding),
            try Self.row(Self.listed("860", "list2"), encoding),
            try Self.row(["timer": "meetingReminder", "stale": "case moved on"], encoding),
        ]
        let summary = InputSummary(payloads: payloads)
        #expect(summary.listed == Self.listed("860", "list2"))
        #expect(summary.jointPlan == nil && summary.knowledge == nil && summary.transitionDate == nil)
        #expect(!summary.collaboration)
    }

    @Test("workflow B inputs since the latest transition proposal; an earlier proposal's are forgotten",
          arguments: Encoding.allCases)
    func workflowB(encoding: Encoding) throws {
        let plan = HandoverJointPlan(planKind: .koordinationsplan, agreedOn: Self.day("2026-10-01"), documentRef: "KP-1")
        let knowledge = HandoverKnowledge(agreedOn: Self.day("2026-10-02"), handoverDate: Self.day("2026-10-20"))
        var network = CaseInputRecord(type: "meeting-outcome", clinic: nil)
        network.meetingKind = MeetingKind.network.rawValue
        network.transitionDate = Self.day("2026-12-01")
        var collaboration = CaseInputRecord(type: "meeting-outcome", clinic: nil)
        collaboration.meetingKind = MeetingKind.collaboration.rawValue
        var planRow = CaseInputRecord(type: "joint-plan", clinic: nil)
        planRow.jointPlan = plan
        var handoverRow = CaseInputRecord(type: "knowledge-handover", clinic: nil)
        handoverRow.knowledgeHandover = knowledge

        let first = [
            try Self.row(Self.listed("851", "list1"), encoding),
            try Self.row(CaseInputRecord(type: "transition-proposal", clinic: "amb-syd-aalborg"), encoding),
            try Self.row(collaboration, encoding), try Self.row(network, encoding), try Self.row(planRow, encoding), try Self.row(handoverRow, encoding),
        ]
        let summary = InputSummary(payloads: first)
        #expect(summary.listed == Self.listed("851", "list1"))
        #expect(summary.jointPlan == plan)
        #expect(summary.knowledge == knowledge)
        #expect(summary.transitionDate == Self.day("2026-12-01"))
        #expect(summary.collaboration)

        let again = InputSummary(payloads: first + [try Self.row(CaseInputRecord(type: "transition-proposal", clinic: nil), encoding)])
        #expect(again.listed == Self.listed("851", "list1"))
        #expect(again.jointPlan == nil && again.knowledge == nil && again.transitionDate == nil)
        #expect(!again.collaboration)
    }

    @Test("a row that is not JSON is skipped; the rows around it still count", arguments: Encoding.allCases)
    func unreadableRow(encoding: Encoding) throws {
        let summary = InputSummary(payloads: [try Self.row(Self.listed("851", "list1"), encoding), Data("not json".utf8)])
        #expect(summary.listed == Self.listed("851", "list1"))
    }
}
