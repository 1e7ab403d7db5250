/// An opaque key for one citizen. The daemon passes a pseudonym or the CPR number; the
/// core only compares keys and never prints them: `description` is redacted so a key can
/// not leak into a log line or an explanation by string interpolation.
public struct CitizenKey: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    CustomDebugStringConvertible
{
    /// The raw key. Read it only to persist or to map back to a wire message.
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { "CitizenKey(redacted)" }
    public var debugDescription: String { "CitizenKey(redacted)" }

    public static func < (lhs: CitizenKey, rhs: CitizenKey) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Identifier of a regional psychiatric outpatient clinic (ambulatorium), as in the
/// directory of senders.
public struct ClinicID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (lhs: ClinicID, rhs: ClinicID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Official municipality code as a string, e.g. `"851"` for Aalborg. The core does not
/// validate codes against the directory; the contract layer does.
public struct MunicipalityCode: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (lhs: MunicipalityCode, rhs: MunicipalityCode) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The two sectors between which data about a citizen crosses only with consent (R4).
public enum Sector: String, Sendable, Hashable, Codable, CaseIterable {
    /// The municipality: municipal substance treatment (kommunal rusmiddelbehandling).
    case municipality
    /// The region: psychiatry, its clinics, Central Visitation and the journal systems.
    case region
}

/// A party that receives outbound events. Each belongs to one `Sector`.
public enum Party: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// A municipality's inbox (`dd.municipality.<code>.inbox`).
    case municipality(MunicipalityCode)
    /// A clinic's assessment queue (`dd.clinic.<id>.assessments`).
    case clinic(ClinicID)
    /// Psychiatry's Central Visitation (`dd.cv.referrals`).
    case centralVisitation
    /// The region's journal integration (`dd.journal.<id>.requests`); the daemon picks the id.
    case journal

    /// The sector the party belongs to.
    public var sector: Sector {
        switch self {
        case .municipality: return .municipality
        case .clinic, .centralVisitation, .journal: return .region
        }
    }

    public var description: String {
        switch self {
        case .municipality(let code): return "municipality \(code)"
        case .clinic(let id): return "clinic \(id)"
        case .centralVisitation: return "Central Visitation"
        case .journal: return "journal"
        }
    }

    private var sortKey: (Int, String) {
        switch self {
        case .municipality(let code): return (0, code.rawValue)
        case .clinic(let id): return (1, id.rawValue)
        case .centralVisitation: return (2, "")
        case .journal: return (3, "")
        }
    }

    public static func < (lhs: Party, rhs: Party) -> Bool { lhs.sortKey < rhs.sortKey }
}
