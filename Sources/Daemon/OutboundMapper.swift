import Contract
import Foundation
import Store
import Workflow

/// Turns a workflow `OutboundEvent` into the outbox row of its wire message
/// (docs/messages.md): exchange `dd.out`, routing key `<audience>.<wire type>`, the
/// event's deterministic id as `message_id`, the inbound `message_id` as `correlation_id`.
///
/// First slice: the four events a municipal list or a contact-status produces are mapped
/// (`assessment-request`, `cv-referral`, `coordinated-course`, `contact-status-request`);
/// `held-for-consent` is a hold (nothing leaves; the receipt already accepted the entry);
/// every other payload answers `.notMapped` and is kept in the case history only.
struct OutboundMapper {
    let names: Contract.Topology
    let codeBook: CodeBook
    let workflow: WorkflowConfiguration

    enum Wire {
        case publish(OutboxEvent)
        case held
        case notMapped(String)
    }

    /// What the wire messages need about the case beyond the event: from the list entry
    /// that opened it (kept in the case history as `ListedInput`).
    struct CaseData {
        var municipality: String
        var asOf: CalendarDate
        var municipalInformation: MunicipalInformation?
        /// Whether consent to the dialogue (municipality → region) is in force now (R4).
        var consentInForce: Bool
        /// The inbound referral's grounds, when a referral opened the case.
        var grounds: ReferralGrounds?
    }

    func message(
        for event: OutboundEvent, caseID: String, cpr: CPR, data: CaseData, source: MessageSource, at now: Date
    ) throws -> Wire {
        let consentInForce = data.consentInForce
        let information = consentInForce ? data.municipalInformation : nil
        let explanation = Contract.Explanation(
            rule: event.explanation.rule.rawValue, outcome: event.payload.kind, facts: event.explanation.facts,
            rulesVersion: event.explanation.rulesVersion)
        guard let audience = audience(for: event.recipient) else {
            return .notMapped("\(event.payload.kind) to \(event.recipient): no such recipient in the directory")
        }
        func row<M: ContractMessage>(_ message: M) throws -> Wire {
            .publish(OutboxEvent(
                messageID: event.id.rawValue, exchange: names.outboundExchange,
                routingKey: names.routingKey(for: M.messageType, to: audience), type: M.messageType.rawValue,
                correlationID: source.messageId, body: try message.encodedBody(), createdAt: now))
        }
        switch event.payload {
        case .assessmentRequest(let clinic, _, _):
            return try row(AssessmentRequest(
                caseId: caseID, cpr: cpr, municipality: data.municipality, clinic: clinic.rawValue, asOf: data.asOf,
                municipalInformation: information, consentInForce: consentInForce, explanation: explanation,
                source: source))
        case .centralVisitationReferral(let reason, let deadline, _, _):
            guard let due = CalendarDate(iso: deadline.iso) else { return .notMapped("cv-referral: deadline") }
            return try row(CVReferral(
                caseId: caseID, cpr: cpr, municipality: data.municipality, reason: Self.reason(reason),
                receivedAt: Contract.Timestamp(now), treatmentDeadline: due, grounds: data.grounds, municipalInformation: information,
                explanation: explanation, source: source))
        case .coordinatedCourse(let clinic, let asOf, _):
            guard let day = CalendarDate(iso: asOf.iso) else { return .notMapped("coordinated-course: date") }
            return try row(Contract.CoordinatedCourse(
                caseId: caseID, cpr: cpr, municipality: data.municipality, clinic: clinic.rawValue, asOf: day,
                municipalInformation: information, source: source))
        case .contactStatusRequest(let asOf, _):
            guard let day = CalendarDate(iso: asOf.iso) else { return .notMapped("contact-status-request: date") }
            let wait = TimeInterval(workflow.timers.statusUnknownWaitDays) * 86_400
            return try row(ContactStatusRequest(
                caseId: caseID, cpr: cpr, asOf: day, requestedAt: Contract.Timestamp(now),
                replyBy: Contract.Timestamp(now.addingTimeInterval(wait))))
        case .heldForConsent:
            return .held
        default:
            return .notMapped(event.payload.kind)
        }
    }

    /// The outbound audience of a workflow party. The workflow names "the journal" without
    /// an id; the directory's first journal (sorted) is it until there are several.
    func audience(for party: Party) -> Audience? {
        switch party {
        case .municipality(let code): return .municipality(code.rawValue)
        case .clinic(let id): return .clinic(id.rawValue)
        case .centralVisitation: return .centralVisitation
        case .journal: return codeBook.journals.sorted().first.map(Audience.journal)
        }
    }

    static func reason(_ reason: ReferralReason) -> CVReferralReason {
        switch reason {
        case .group3: return .group3
        case .routing(let why):
            switch why {
            case .courseClosedWithinYear, .acuteContactFollowedByOutpatientCourse: return .closedCourseWithinYear
            case .repeatedAcuteContactsWithoutEngagement: return .repeatedAcuteContacts
            case .statusUnknownTimedOut: return .statusUnknownTimeout
            }
        }
    }
}

/// The list entry's data a case keeps for later outbound messages (history payload of the
/// `input` entry of a `municipal-list`). Contains the municipal information: personal data,
/// kept in the store only and sent on only under the consent gate.
struct ListedInput: Codable {
    var type: String
    var list: String
    var municipality: String
    var asOf: CalendarDate
    var municipalInformation: MunicipalInformation?
    var grounds: ReferralGrounds?
}
