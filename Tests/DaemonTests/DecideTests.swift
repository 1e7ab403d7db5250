import Contract
@testable import Daemon
import Foundation
import Store
import Testing
import Workflow

/// Issue 15, "decide is pure": `Decide` takes a command, the case snapshots and the time,
/// and returns one `UnitOfWork` holding everything the delivery changes. These tests feed it
/// values only: no SQLite, no broker, no clock.
@Suite("Decide: command + snapshots + time in, one UnitOfWork out")
struct DecideTests {
    static let keys = try! StoreKeys(master: Data(repeating: 7, count: 32))
    static let now = ISO8601DateFormatter().date(from: "2026-11-23T10:00:00Z")!
    static let decide = Decide(
        options: PipelineOptions(
            codeBook: CaseRequestTests.decoder.codeBook,
            pseudonymizer: try! Pseudonymizer(key: keys.pseudonymKey), clock: { Date.distantPast }),
        decoder: CaseRequestTests.decoder)

    static func referral() throws -> (Pipeline.CaseRequest, DecodedMessage, Pseudonym) {
        let decoded = try CaseRequestTests.decoded("referral", type: "referral", exchange: "dd.in.municipality.813")
        let request = try #require(Pipeline.caseRequest(for: decoded, on: CaseRequestTests.today))
        return (request, decoded, try decide.options.pseudonymizer.pseudonym(forCPR: request.cpr.digits))
    }

    @Test("a municipal referral for a citizen without a case: one case written, its input, audit, events and consent, the ok receipt last")
    func referralOpensACase() throws {
        let (request, decoded, pseudonym) = try Self.referral()
        let unit = try Self.decide.caseRequest(request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: Self.now)
        #expect(unit.cases.count == 1)
        let work = try #require(unit.cases.first)
        #expect(work.caseID == Pipeline.caseID(pseudonym))
        #expect(work.record?.municipality == "813")
        #expect(work.history.first?.kind == .input)
        #expect(work.history.first?.messageID == "municipality.813/m-1")
        #expect(work.history.dropFirst().allSatisfy { $0.kind == .decision })
        #expect(work.history.count == 1 + work.outbox.count + unit.summary.held)
        #expect(work.audit.first?.action == .received)
        #expect(!work.outbox.isEmpty, "a referral with consent is routed: the journal is asked, or it is referred")
        #expect(work.outbox.allSatisfy { $0.messageID.hasPrefix("municipality.813/m-1") })
        #expect(!work.consent.isEmpty)
        #expect(unit.answer?.inbox?.messageID == "m-1")
        #expect(unit.answer?.receipt.type == "receipt")
        let body = try #require(unit.answer?.receipt.body)
        let receipt = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(receipt["status"] as? String == "ok")
        #expect(unit.summary.accepted == 1 && unit.summary.refusal == nil)
        // Nothing about the citizen is in what a log sees.
        #expect(unit.summary.cases.map(\.pseudonym) == [pseudonym])
    }

    @Test("the same command, snapshots and time give the same unit (no clock, no store read inside)")
    func deterministic() throws {
        let (request, decoded, pseudonym) = try Self.referral()
        let first = try Self.decide.caseRequest(request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: Self.now)
        let second = try Self.decide.caseRequest(request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: Self.now)
        #expect(first.cases.map { $0.outbox.map(\.messageID) } == second.cases.map { $0.outbox.map(\.messageID) })
        #expect(first.cases.map { $0.outbox.map(\.body) } == second.cases.map { $0.outbox.map(\.body) })
        #expect(first.cases.first?.record?.state == second.cases.first?.record?.state)
        #expect(first.answer?.receipt.body == second.answer?.receipt.body)
        // A later time is a different decision moment: the receipt says so.
        let later = try Self.decide.caseRequest(
            request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: Self.now.addingTimeInterval(60))
        #expect(later.answer?.receipt.body != first.answer?.receipt.body)
    }

    @Test("a consent-update for a citizen without a case is refused: no case written, a fatal-error receipt and a rejected audit entry")
    func consentUpdateWithoutACase() throws {
        let decoded = try CaseRequestTests.decoded("consent-update", type: "consent-update", exchange: "dd.in.municipality.851")
        let request = try #require(Pipeline.caseRequest(for: decoded, on: CaseRequestTests.today))
        let pseudonym = try Self.decide.options.pseudonymizer.pseudonym(forCPR: request.cpr.digits)
        let unit = try Self.decide.caseRequest(request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: Self.now)
        #expect(unit.cases.isEmpty)
        #expect(unit.summary.refusal?.code == .unknownCase)
        #expect(unit.audit.map(\.action) == [.rejected])
        let body = try #require(unit.answer?.receipt.body)
        let receipt = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(receipt["status"] as? String == "fatal-error")
        #expect(receipt["code"] as? String == "unknown-case")
    }

    @Test("a timer without a case is an orphan: only marked fired")
    func orphanTimer() throws {
        let timer = TimerRecord(
            timerID: "timer/case-x/assessmentReminder/2026-12-07", caseID: "case-x", kind: "assessmentReminder",
            dueAt: Self.now, payload: Data(), createdAt: Self.now)
        let (unit, outcome) = try Self.decide.timer(timer, snapshot: CaseSnapshot(), at: Self.now)
        #expect(outcome == .orphan)
        #expect(unit.firedTimer?.id == timer.timerID)
        #expect(unit.cases.isEmpty && unit.outbox.isEmpty && unit.answer == nil)
    }

    @Test("a timer the case no longer expects is stale: marked fired, a history note, no snapshot, nothing sent")
    func staleTimer() throws {
        let (request, decoded, pseudonym) = try Self.referral()
        let opened = try Self.decide.caseRequest(request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: Self.now)
        let record = try #require(opened.cases.first?.record)
        let snapshot = CaseSnapshot(record: record, state: try record.decodeState(as: CitizenCase.self), inputs: InputSummary())
        // A transition that was never agreed.
        let timer = TimerRecord(
            timerID: "timer/\(record.caseID)/transitionDue/2026-12-07", caseID: record.caseID, kind: "transitionDue",
            dueAt: Self.now, payload: Data(), createdAt: Self.now)
        let (unit, outcome) = try Self.decide.timer(timer, snapshot: snapshot, at: Self.now)
        #expect(outcome == .stale)
        #expect(unit.cases.count == 1)
        #expect(unit.cases.first?.record == nil)
        #expect(unit.cases.first?.outbox.isEmpty == true)
        #expect(unit.cases.first?.history.count == 1)
    }
}
