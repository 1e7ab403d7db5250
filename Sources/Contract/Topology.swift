import Foundation

/// Who sent a message, as identified by the inbound exchange it was published to.
public enum Sender: Sendable, Hashable, CustomStringConvertible {
    case municipality(String)
    case clinic(String)
    case journal(String)

    public var kind: SenderKind {
        switch self {
        case .municipality: .municipality
        case .clinic: .clinic
        case .journal: .journal
        }
    }

    /// Municipality code, clinic id or journal id.
    public var id: String {
        switch self {
        case .municipality(let id), .clinic(let id), .journal(let id): id
        }
    }

    public var description: String { "\(kind.rawValue) \(id)" }
}

public enum SenderKind: String, Sendable, Hashable, Codable, CaseIterable {
    case municipality
    case clinic
    case journal
}

/// Where an outbound message goes on the outbound exchange.
public enum Audience: Sendable, Hashable {
    /// Psychiatry's Central Visitation.
    case centralVisitation
    case clinic(String)
    case municipality(String)
    case journal(String)

    public init(sender: Sender) {
        switch sender {
        case .municipality(let code): self = .municipality(code)
        case .clinic(let id): self = .clinic(id)
        case .journal(let id): self = .journal(id)
        }
    }
}

/// The broker names (docs/messages.md, "Topology"). Every name is configurable; the
/// defaults are the documented topology.
///
/// Config keys: `inboundMunicipalityExchangePrefix`, `inboundClinicExchangePrefix`,
/// `inboundJournalExchangePrefix`, `inboundQueue`, `outboundExchange`, `deadLetterQueue`,
/// `centralVisitationQueue`, `clinicQueueTemplate`, `municipalityQueueTemplate`,
/// `journalQueueTemplate` (templates: `{id}` is replaced by the clinic id, municipality
/// code or journal id).
public struct Topology: Sendable, Hashable {
    public var inboundMunicipalityExchangePrefix = "dd.in.municipality."
    public var inboundClinicExchangePrefix = "dd.in.clinic."
    public var inboundJournalExchangePrefix = "dd.in.journal."
    /// Quorum queue every inbound exchange is bound to.
    public var inboundQueue = "ddrouter.inbound"
    /// Topic exchange for everything the router publishes.
    public var outboundExchange = "dd.out"
    public var deadLetterQueue = "ddrouter.dead"
    /// Central Visitation's queue (binding key `cv.#`).
    public var centralVisitationQueue = "dd.cv.referrals"
    public var clinicQueueTemplate = "dd.clinic.{id}.assessments"
    public var municipalityQueueTemplate = "dd.municipality.{id}.inbox"
    public var journalQueueTemplate = "dd.journal.{id}.requests"

    public init() {}

    /// The sender an inbound exchange belongs to, if the name has one of the prefixes.
    /// Whether the id is known is the code book's business.
    public func sender(forExchange exchange: String) -> Sender? {
        func rest(_ prefix: String) -> String? {
            guard exchange.hasPrefix(prefix) else { return nil }
            let id = String(exchange.dropFirst(prefix.count))
            return id.isEmpty ? nil : id
        }
        if let id = rest(inboundMunicipalityExchangePrefix) { return .municipality(id) }
        if let id = rest(inboundClinicExchangePrefix) { return .clinic(id) }
        if let id = rest(inboundJournalExchangePrefix) { return .journal(id) }
        return nil
    }

    /// The inbound exchange of `sender`.
    public func exchange(for sender: Sender) -> String {
        switch sender {
        case .municipality(let code): inboundMunicipalityExchangePrefix + code
        case .clinic(let id): inboundClinicExchangePrefix + id
        case .journal(let id): inboundJournalExchangePrefix + id
        }
    }

    /// Routing key on `outboundExchange`: `<audience>.<message-type>`, where the
    /// audience is `cv`, `clinic.<id>`, `municipality.<code>` or `journal.<id>`.
    public func routingKey(for type: MessageType, to audience: Audience) -> String {
        "\(Topology.audiencePrefix(audience)).\(type.rawValue)"
    }

    /// The queue that receives `audience`'s messages (bound with `<audience>.#`).
    public func queue(for audience: Audience) -> String {
        switch audience {
        case .centralVisitation: centralVisitationQueue
        case .clinic(let id): clinicQueueTemplate.replacingOccurrences(of: "{id}", with: id)
        case .municipality(let code): municipalityQueueTemplate.replacingOccurrences(of: "{id}", with: code)
        case .journal(let id): journalQueueTemplate.replacingOccurrences(of: "{id}", with: id)
        }
    }

    /// The binding key of `queue(for:)` on `outboundExchange`.
    public func bindingKey(for audience: Audience) -> String {
        Topology.audiencePrefix(audience) + ".#"
    }

    static func audiencePrefix(_ audience: Audience) -> String {
        switch audience {
        case .centralVisitation: "cv"
        case .clinic(let id): "clinic.\(id)"
        case .municipality(let code): "municipality.\(code)"
        case .journal(let id): "journal.\(id)"
        }
    }
}
