/// A direction in which data about a citizen may cross between the sectors (R4).
public enum ConsentDirection: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Municipal data to the region (e.g. the list entry to a clinic or Central Visitation).
    case municipalityToRegion
    /// Regional data to the municipality (e.g. "not group 2", an assessment, a decision).
    case regionToMunicipality

    /// The direction from one sector to another, `nil` within one sector.
    public init?(from: Sector, to: Sector) {
        switch (from, to) {
        case (.municipality, .region): self = .municipalityToRegion
        case (.region, .municipality): self = .regionToMunicipality
        case (.municipality, .municipality), (.region, .region): return nil
        }
    }

    /// The sector the data comes from.
    public var source: Sector {
        switch self {
        case .municipalityToRegion: return .municipality
        case .regionToMunicipality: return .region
        }
    }

    /// The sector the data goes to.
    public var destination: Sector {
        switch self {
        case .municipalityToRegion: return .region
        case .regionToMunicipality: return .municipality
        }
    }

    public static func < (lhs: ConsentDirection, rhs: ConsentDirection) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// What a consent covers (health act § 43: consent is recorded per purpose).
public enum ConsentPurpose: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Dialogue between municipality and region about the citizen's treatment: routing
    /// (R1), the assessment and decision of workflow A, the transition of workflow B.
    case treatmentDialogue
    /// Sharing a coordinated course for overview (R2) and per-citizen detail in the list
    /// reconciliation (R3).
    case courseOverview

    public static func < (lhs: ConsentPurpose, rhs: ConsentPurpose) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// The recorded state of one consent. Only `.given` is in force; everything else denies.
public enum ConsentStatus: Sendable, Hashable, Codable {
    /// Nothing recorded (the default: deny).
    case absent
    /// Given on a date, with an optional reference to the signed declaration.
    case given(on: LocalDate, reference: String?)
    /// Refused on a date.
    case refused(on: LocalDate)
    /// Withdrawn on a date; stops all further exchange (R4).
    case withdrawn(on: LocalDate)

    /// `true` only for `.given`.
    public var isInForce: Bool {
        switch self {
        case .given: return true
        case .absent, .refused, .withdrawn: return false
        }
    }
}

/// Consent per direction and purpose for one citizen (R4). Deny by default.
public struct ConsentRecord: Sendable, Hashable, Codable {
    /// One recorded consent.
    public struct Entry: Sendable, Hashable, Codable {
        public var direction: ConsentDirection
        public var purpose: ConsentPurpose
        public var status: ConsentStatus
    }

    /// Recorded entries, sorted by direction then purpose (stable encoding).
    public private(set) var entries: [Entry] = []

    /// An empty record: nothing is permitted.
    public init() {}

    /// The status for one direction and purpose; `.absent` if never recorded.
    public func status(_ direction: ConsentDirection, _ purpose: ConsentPurpose) -> ConsentStatus {
        entries.first { $0.direction == direction && $0.purpose == purpose }?.status ?? .absent
    }

    /// Whether data may cross in `direction` for `purpose` now.
    public func permits(_ direction: ConsentDirection, _ purpose: ConsentPurpose) -> Bool {
        status(direction, purpose).isInForce
    }

    /// Records a status for the given directions and purposes (all of them by default: the
    /// municipality's consent form covers the dialogue in both directions).
    public mutating func record(
        _ status: ConsentStatus,
        directions: [ConsentDirection] = ConsentDirection.allCases,
        purposes: [ConsentPurpose] = ConsentPurpose.allCases
    ) {
        for direction in directions {
            for purpose in purposes {
                entries.removeAll { $0.direction == direction && $0.purpose == purpose }
                entries.append(Entry(direction: direction, purpose: purpose, status: status))
            }
        }
        entries.sort { ($0.direction, $0.purpose) < ($1.direction, $1.purpose) }
    }

    /// A record with `status` for every direction and purpose.
    public static func uniform(_ status: ConsentStatus) -> ConsentRecord {
        var record = ConsentRecord()
        record.record(status)
        return record
    }
}

/// The verdict of the consent gate on one outbound event.
public enum GateVerdict: Sendable, Hashable, Codable {
    /// The event may be published.
    case pass
    /// The event must be held: it would carry data in `direction` for `purpose` without
    /// consent in force.
    case hold(direction: ConsentDirection, purpose: ConsentPurpose)
}

/// R4: the one place that decides whether data about a citizen may cross sectors.
///
/// Every outbound event of a case passes `ConsentGate.verdict` (in `CitizenCase.apply`),
/// and the list reconciliation (R3) asks `ConsentGate.permits` per citizen. Nothing else
/// in the module decides about consent.
public enum ConsentGate {
    /// Whether data from `source` may reach `destination` for `purpose`. Always `true`
    /// within one sector; across sectors only while consent is in force.
    public static func permits(
        from source: Sector, to destination: Sector, purpose: ConsentPurpose, consent: ConsentRecord
    ) -> Bool {
        guard let direction = ConsentDirection(from: source, to: destination) else { return true }
        return consent.permits(direction, purpose)
    }

    /// The verdict for an event with `payload` to `recipient`: every sector whose data the
    /// payload carries must be allowed to reach the recipient's sector.
    public static func verdict(
        for payload: EventPayload, to recipient: Party, consent: ConsentRecord
    ) -> GateVerdict {
        for source in payload.dataOrigins.sorted(by: { $0.rawValue < $1.rawValue }) {
            if !permits(from: source, to: recipient.sector, purpose: payload.purpose, consent: consent),
                let direction = ConsentDirection(from: source, to: recipient.sector)
            {
                return .hold(direction: direction, purpose: payload.purpose)
            }
        }
        return .pass
    }
}
