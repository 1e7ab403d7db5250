import Foundation
import Testing

@testable import Contract

@Suite("Outbound messages: built in Swift, encoded with sorted keys, valid against their schemas")
struct OutboundTests {
    @Test("a cv-referral built from values encodes deterministically and validates")
    func cvReferral() throws {
        let cpr = try #require(CPR("150631-5018"))
        let received = try #require(Timestamp(iso: "2026-11-23T09:30:02Z"))
        let asOf = try #require(CalendarDate(year: 2026, month: 11, day: 23))
        let referral = CVReferral(
            caseId: "case-851-7f3a9c", cpr: cpr, municipality: "851", reason: .closedCourseWithinYear,
            receivedAt: received, treatmentDeadline: asOf.adding(days: 14),
            explanation: Explanation(
                rule: "R1", outcome: "closed-course-within-year",
                facts: ["course at clinic amb-syd-aalborg closed 2025-12-02, 356 days before 2026-11-23"],
                rulesVersion: "test"),
            source: MessageSource(
                messageId: "851-list1", messageType: "municipal-list", sender: SenderRef(kind: .municipality, id: "851")))
        let envelope = try OutboundEnvelope(
            referral, to: .centralVisitation, messageID: "out-1", correlationID: "851-list1",
            timestamp: received.date)
        #expect(envelope.routingKey == "cv.cv-referral")
        #expect(envelope.type == .cvReferral)
        #expect(envelope.contentType == "application/json")
        #expect(Fixtures.decoder.validateOutbound(.cvReferral, body: envelope.body).isEmpty)
        #expect(envelope.body == (try referral.encodedBody()))
        let text = String(decoding: envelope.body, as: UTF8.self)
        #expect(text.hasPrefix(#"{"caseId":"case-851-7f3a9c","cpr":"1506315018","explanation":"#))
        #expect(text.contains(#""treatmentDeadline":"2026-12-07""#))
        #expect(!text.contains("grounds"), "absent optionals are omitted, not null")
    }

    @Test("an outbound body that breaks its schema is caught before publishing")
    func invalidOutbound() throws {
        let decision = Decision(
            caseId: "c1", cpr: try #require(CPR("0103304123")), municipality: "851",
            decidedOn: try #require(CalendarDate(iso: "2026-12-10")), outcome: .coordinated, basis: .visitationRight,
            overMunicipalDisagreement: true,
            explanation: Explanation(rule: "R5", outcome: "visitation-right", facts: [], rulesVersion: "test"))
        let problems = Fixtures.decoder.validateOutbound(.decision, body: try decision.encodedBody())
        #expect(problems.map(\.code) == [.missingField])
        #expect(problems.first?.pointer?.description == "/psychiatryStatement")
    }
}
