/// The identifiers the router knows, filled by the caller from configuration.
///
/// Keys (daemon config): `municipalities` (official three-digit codes), `clinics` and
/// `journals` (ids of the form `[a-z0-9]+(-[a-z0-9]+)*`). Another region uses its own (R8).
public struct CodeBook: Sendable, Hashable {
    public var municipalities: Set<String>
    public var clinics: Set<String>
    public var journals: Set<String>

    public init(
        municipalities: Set<String> = CodeBook.nordjyllandMunicipalities,
        clinics: Set<String>,
        journals: Set<String>
    ) {
        self.municipalities = municipalities
        self.clinics = clinics
        self.journals = journals
    }

    /// The 11 municipalities of Region Nordjylland (docs/domain.md): Aalborg 851,
    /// Brønderslev 810, Frederikshavn 813, Hjørring 860, Jammerbugt 849, Læsø 825,
    /// Mariagerfjord 846, Morsø 773, Rebild 840, Thisted 787, Vesthimmerland 820.
    public static let nordjyllandMunicipalities: Set<String> = [
        "851", "810", "813", "860", "849", "825", "846", "773", "840", "787", "820",
    ]

    func contains(_ kind: CodeBookKind, _ id: String) -> Bool {
        switch kind {
        case .municipality: municipalities.contains(id)
        case .clinic: clinics.contains(id)
        case .journal: journals.contains(id)
        }
    }
}

/// Which code book a schema's `x-codebook` annotation names.
enum CodeBookKind: String, Sendable {
    case municipality
    case clinic
    case journal

    var unknownCode: RejectionCode {
        switch self {
        case .municipality: .unknownMunicipality
        case .clinic: .unknownClinic
        case .journal: .unknownJournal
        }
    }
}
