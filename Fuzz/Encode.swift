// Fuzz target: the receipt and event encoders, fed from what the decoder makes of the input
// (FuzzSupport.delivery). Properties: no crash; every receipt (accepting, rejecting,
// deferring) and every event built from a decoded message validates against its outbound
// schema; an accepted message re-encoded is accepted again as the same message.
import Foundation

private let received = Timestamp(iso: "2026-11-23T09:30:02Z")!
private let asOf = CalendarDate(year: 2026, month: 11, day: 23)!

private func check<M: ContractMessage>(_ message: M, _ what: String) {
    let body: Data
    do { body = try message.encodedBody() } catch { FuzzSupport.fail("\(what) does not encode: \(error)") }
    let problems = FuzzSupport.decoder.validateOutbound(M.messageType, body: body)
    guard problems.isEmpty else { FuzzSupport.fail("\(what) breaks its schema: \(problems)") }
}

/// The typed inbound message, encoded as the contract writes bodies.
private func encoded(_ message: InboundMessage) throws -> Data {
    switch message {
    case .municipalList(let m): try m.encodedBody()
    case .clinicList(let m): try m.encodedBody()
    case .contactStatus(let m): try m.encodedBody()
    case .referral(let m): try m.encodedBody()
    case .consentUpdate(let m): try m.encodedBody()
    case .assessment(let m): try m.encodedBody()
    case .municipalPosition(let m): try m.encodedBody()
    case .meetingOutcome(let m): try m.encodedBody()
    case .transitionProposal(let m): try m.encodedBody()
    case .jointPlan(let m): try m.encodedBody()
    case .knowledgeHandover(let m): try m.encodedBody()
    case .patientChoice(let m): try m.encodedBody()
    case .treatmentStarted(let m): try m.encodedBody()
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEncode(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let (decoder, properties, body) = FuzzSupport.delivery(fuzzInput(start, count)) else { return 0 }
    let sender = decoder.sender(forExchange: properties.exchange)!
    if body.isEmpty {  // the deferring receipt depends on the properties only: the type and sender
        check(Receipt(deferring: properties, sender: sender, receivedAt: received), "a deferring receipt")
    }
    switch decoder.decode(properties: properties, body: body) {
    case .failure(let rejection):
        check(Receipt(rejecting: properties, sender: sender, rejection: rejection, receivedAt: received), "a rejecting receipt")
        let headers = DeadLetterHeaders.headers(for: rejection, exchange: properties.exchange, rejectedAt: received)
        if headers[DeadLetterHeaders.code] != rejection.code.rawValue { FuzzSupport.fail("dead-letter headers without the code") }
    case .success(let decoded):
        check(Receipt(accepting: decoded, receivedAt: received), "an accepting receipt")
        let source = MessageSource(
            messageId: decoded.messageID, messageType: decoded.type.rawValue,
            sender: SenderRef(kind: decoded.sender.kind, id: decoded.sender.id))
        let explanation = Explanation(rule: "R1", outcome: "fuzz", facts: [], rulesVersion: "fuzz")
        // Events carry what the inbound message said: a cv-referral and an assessment-request
        // per municipal-list entry (municipal information, consent) and per referral (grounds).
        switch decoded.message {
        case .municipalList(let list):
            let entries = (try? decoded.municipalEntries(0..<decoded.acceptedEntryIndices.count)) ?? list.entries
            for entry in entries.prefix(4) {
                check(CVReferral(
                    caseId: "case-fuzz", cpr: entry.cpr, municipality: list.municipality, reason: .closedCourseWithinYear,
                    receivedAt: received, treatmentDeadline: asOf.adding(days: 14),
                    municipalInformation: entry.municipalInformation, explanation: explanation, source: source),
                    "a cv-referral from a list entry")
                check(AssessmentRequest(
                    caseId: "case-fuzz", cpr: entry.cpr, municipality: list.municipality, clinic: "amb-syd-aalborg",
                    asOf: asOf, municipalInformation: entry.municipalInformation, consentInForce: true,
                    explanation: explanation, source: source), "an assessment-request from a list entry")
            }
        case .referral(let referral):
            check(CVReferral(
                caseId: "case-fuzz", cpr: referral.cpr, municipality: referral.municipality, reason: .closedCourseWithinYear,
                receivedAt: received, treatmentDeadline: asOf.adding(days: 14), grounds: referral.grounds,
                municipalInformation: referral.municipalInformation, explanation: explanation, source: source),
                "a cv-referral from a referral")
        default:
            break
        }
        // Round trip: the message as the router understood it, sent again, means the same.
        guard decoded.deferredEntries == nil else { return 0 }
        let again: Data
        do { again = try encoded(decoded.message) } catch { FuzzSupport.fail("the decoded message does not encode: \(error)") }
        switch decoder.decode(properties: properties, body: again) {
        case .failure(let rejection):
            FuzzSupport.fail("the decoded message re-encoded is rejected: \(rejection.code.rawValue) \(rejection.pointer?.description ?? "")")
        case .success(let second):
            guard second.message == decoded.message else { FuzzSupport.fail("the decoded message re-encoded decodes to another message") }
        }
    }
    return 0
}
