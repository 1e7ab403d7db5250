public import Contract
import Configuration

/// Who is who: the municipalities, the clinics and the municipalities each serves (the
/// catchment areas), Central Visitation and the journal integrations, each sender with the
/// broker user it must publish as.
///
/// Keys (`<code>` a three-digit municipality code, `<id>` a clinic or journal id of the
/// form `[a-z0-9]+(-[a-z0-9]+)*`); a section present in the file replaces the built-in
/// Region Nordjylland default (`Directory.nordjylland`) as a whole. A section may also be a
/// plain list of ids (names and users default; a clinic the default directory knows keeps
/// its `serves`), and `DDROUTER_DIRECTORY_MUNICIPALITIES=851,810` narrows a file's mapping:
/// - `directory.municipalities.<code>.name`, `.broker_user` (default `municipality-<code>`)
/// - `directory.clinics.<id>.name`, `.catchment`, `.serves` (municipality codes),
///   `.broker_user` (default `clinic-<id>`)
/// - `directory.journals.<id>.name`, `.broker_user` (default `journal-<id>`)
/// - `directory.central_visitation.name`, `.broker_user` (default `central-visitation`)
public struct Directory: Sendable, Hashable {
    public struct Municipality: Sendable, Hashable {
        public var code: String
        public var name: String
        public var brokerUser: String
        public init(code: String, name: String, brokerUser: String? = nil) {
            self.code = code
            self.name = name
            self.brokerUser = brokerUser ?? "municipality-\(code)"
        }
    }

    public struct Clinic: Sendable, Hashable {
        public var id: String
        public var name: String
        /// The psychiatry's catchment area (Nordjylland: Syd, Nord).
        public var catchment: String
        /// Codes of the municipalities whose citizens this clinic serves.
        public var serves: [String]
        public var brokerUser: String
        public init(id: String, name: String, catchment: String, serves: [String], brokerUser: String? = nil) {
            self.id = id
            self.name = name
            self.catchment = catchment
            self.serves = serves
            self.brokerUser = brokerUser ?? "clinic-\(id)"
        }
    }

    public struct Journal: Sendable, Hashable {
        public var id: String
        public var name: String
        public var brokerUser: String
        public init(id: String, name: String, brokerUser: String? = nil) {
            self.id = id
            self.name = name
            self.brokerUser = brokerUser ?? "journal-\(id)"
        }
    }

    public var municipalities: [Municipality]
    public var clinics: [Clinic]
    public var journals: [Journal]
    public var centralVisitationName: String
    /// Central Visitation's broker user (it reads `dd.cv.referrals`; it sends nothing).
    public var centralVisitationUser: String

    public init(
        municipalities: [Municipality], clinics: [Clinic], journals: [Journal],
        centralVisitationName: String = "Central Visitation", centralVisitationUser: String = "central-visitation"
    ) {
        self.municipalities = municipalities
        self.clinics = clinics
        self.journals = journals
        self.centralVisitationName = centralVisitationName
        self.centralVisitationUser = centralVisitationUser
    }

    /// Region Nordjylland (docs/domain.md): the 11 municipalities, one clinic per catchment area
    /// (Syd: Aalborg, Vesthimmerland, Rebild, Mariagerfjord; Nord: Frederikshavn, Læsø,
    /// Hjørring, Jammerbugt, Brønderslev, Morsø, Thisted) and the region's journal.
    public static let nordjylland = Directory(
        municipalities: [
            .init(code: "851", name: "Aalborg"), .init(code: "810", name: "Brønderslev"),
            .init(code: "813", name: "Frederikshavn"), .init(code: "860", name: "Hjørring"),
            .init(code: "849", name: "Jammerbugt"), .init(code: "825", name: "Læsø"),
            .init(code: "846", name: "Mariagerfjord"), .init(code: "773", name: "Morsø"),
            .init(code: "840", name: "Rebild"), .init(code: "787", name: "Thisted"),
            .init(code: "820", name: "Vesthimmerland"),
        ],
        clinics: [
            .init(id: "amb-syd-aalborg", name: "Psykiatrien Syd, ambulatorium Aalborg", catchment: "Syd",
                  serves: ["851", "820", "840", "846"]),
            .init(id: "amb-nord-hjoerring", name: "Psykiatrien Nord, ambulatorium Hjørring", catchment: "Nord",
                  serves: ["813", "825", "860", "849", "810", "773", "787"]),
        ],
        journals: [.init(id: "journal-rn", name: "Region Nordjylland psychiatric record")])

    /// The code book the contract checks messages against.
    public var codeBook: CodeBook {
        CodeBook(municipalities: Set(municipalities.map(\.code)), clinics: Set(clinics.map(\.id)),
                 journals: Set(journals.map(\.id)))
    }

    /// The broker user `sender` must publish as (the pipeline's authorization); for an id
    /// the directory does not have, the default naming rule (the decoder rejects those
    /// anyway as unknown senders).
    public func brokerUser(for sender: Sender) -> String {
        switch sender {
        case .municipality(let code):
            municipalities.first { $0.code == code }?.brokerUser ?? "municipality-\(code)"
        case .clinic(let id): clinics.first { $0.id == id }?.brokerUser ?? "clinic-\(id)"
        case .journal(let id): journals.first { $0.id == id }?.brokerUser ?? "journal-\(id)"
        }
    }

    /// The sender whose broker user is `user`, if any.
    public func sender(forUser user: String) -> Sender? {
        if let m = municipalities.first(where: { $0.brokerUser == user }) { return .municipality(m.code) }
        if let c = clinics.first(where: { $0.brokerUser == user }) { return .clinic(c.id) }
        if let j = journals.first(where: { $0.brokerUser == user }) { return .journal(j.id) }
        return nil
    }

    /// The clinic serving a municipality's citizens.
    public func clinic(serving code: String) -> Clinic? {
        clinics.first { $0.serves.contains(code) }
    }

    /// The ids of every clinic that serves the municipality, in directory order.
    public func clinics(serving code: String) -> [String] {
        clinics.filter { $0.serves.contains(code) }.map(\.id)
    }

    public func municipalityName(_ code: String) -> String {
        municipalities.first { $0.code == code }?.name ?? code
    }

    /// Everything wrong with the directory, one sentence each; `serviceUser` is ddrouter's
    /// own broker user, which no sender may share.
    public func problems(serviceUser: String) -> [String] {
        var result: [String] = []
        let codes = Set(municipalities.map(\.code))
        if municipalities.isEmpty { result.append("directory.municipalities is empty: at least one municipality is needed") }
        if clinics.isEmpty { result.append("directory.clinics is empty: at least one clinic is needed") }
        for m in municipalities where !(m.code.count == 3 && m.code.allSatisfy(\.isASCII) && m.code.allSatisfy(\.isNumber)) {
            result.append("directory.municipalities.\(m.code): a municipality code has three digits")
        }
        for id in clinics.map(\.id) + journals.map(\.id) where !Self.isValidID(id) {
            result.append("directory: id \"\(id)\" must be lower-case letters and digits in dash-separated words (e.g. amb-syd-aalborg)")
        }
        var servedBy: [String: [String]] = [:]
        for clinic in clinics {
            if clinic.serves.isEmpty {
                result.append("directory.clinics.\(clinic.id).serves is empty: name the municipalities the clinic serves")
            }
            for code in clinic.serves {
                if codes.contains(code) {
                    servedBy[code, default: []].append(clinic.id)
                } else {
                    result.append("directory.clinics.\(clinic.id).serves: municipality \(code) is not in directory.municipalities")
                }
            }
        }
        for m in municipalities {
            let by = servedBy[m.code] ?? []
            if by.isEmpty {
                result.append("directory: municipality \(m.code) (\(m.name)) is served by no clinic; add it to one clinic's serves")
            } else if by.count > 1 {
                result.append("directory: municipality \(m.code) (\(m.name)) is served by \(by.count) clinics (\(by.joined(separator: ", "))); a municipality belongs to one catchment area")
            }
        }
        var users: [(user: String, who: String, key: String)] = [("\(serviceUser)", "ddrouter itself", "broker.user")]
        users += municipalities.map { ($0.brokerUser, "municipality \($0.code)", "directory.municipalities.\($0.code).broker_user") }
        users += clinics.map { ($0.brokerUser, "clinic \($0.id)", "directory.clinics.\($0.id).broker_user") }
        users += journals.map { ($0.brokerUser, "journal \($0.id)", "directory.journals.\($0.id).broker_user") }
        users.append((centralVisitationUser, "Central Visitation", "directory.central_visitation.broker_user"))
        var firstOwner: [String: String] = [:]
        for entry in users {
            if entry.user.trimmingCharacters(in: .whitespaces).isEmpty {
                result.append("\(entry.key) is empty: \(entry.who) has no broker user")
                continue
            }
            if let owner = firstOwner[entry.user] {
                result.append("\(entry.key): broker user \(entry.user) is already the user of \(owner); every sender needs its own")
            } else {
                firstOwner[entry.user] = entry.who
            }
        }
        return result
    }

    static func isValidID(_ id: String) -> Bool {
        let words = id.split(separator: "-", omittingEmptySubsequences: false)
        return !words.isEmpty && words.allSatisfy { word in
            !word.isEmpty && word.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
        }
    }
}

/// Reads `directory.*` (see `Directory`).
public enum DirectorySettings: ConfigKeyContributor {
    public static let configKeys: [ConfigKeySpec] = [
        .init("directory.municipalities"), .init("directory.clinics"),
        .init("directory.journals"),
        .init("directory.municipalities.*.name"),
        .init("directory.municipalities.*.broker_user", default: "municipality-<code>"),
        .init("directory.clinics.*.name"), .init("directory.clinics.*.catchment"),
        .init("directory.clinics.*.serves", default: "[]"),
        .init("directory.clinics.*.broker_user", default: "clinic-<id>"),
        .init("directory.journals.*.name"),
        .init("directory.journals.*.broker_user", default: "journal-<id>"),
        .init("directory.central_visitation.name", default: "Central Visitation"),
        .init("directory.central_visitation.broker_user", default: "central-visitation"),
    ]

    public static func read(_ r: SettingsReader) -> Directory {
        let defaults = Directory.nordjylland
        let source = r.source
        func text(_ key: String, _ fallback: String) -> String { r.string(key, default: fallback) ?? fallback }
        // The ids of a section: a list (the short form, or DDROUTER_DIRECTORY_<SECTION>=a,b
        // to narrow a file's mapping), else the file's mapping keys, else the default.
        func ids(_ section: String, _ fallback: [String]) -> [String] {
            if r.reader.stringArray(forKey: ConfigKey(section)) != nil {
                return r.stringArray(section, default: fallback)
            }
            return source.children(of: section) ?? fallback
        }

        let municipalities: [Directory.Municipality] = ids("directory.municipalities", defaults.municipalities.map(\.code)).map { code in
            let base = "directory.municipalities.\(code)"
            let name = text("\(base).name", defaults.municipalities.first { $0.code == code }?.name ?? code)
            return .init(code: code, name: name, brokerUser: text("\(base).broker_user", "municipality-\(code)"))
        }
        let clinicIDs = ids("directory.clinics", defaults.clinics.map(\.id))
        let clinics: [Directory.Clinic] = clinicIDs.map { id in
            let base = "directory.clinics.\(id)"
            let fallback = defaults.clinics.first { $0.id == id }
            return .init(
                id: id, name: text("\(base).name", fallback?.name ?? id),
                catchment: text("\(base).catchment", fallback?.catchment ?? ""),
                serves: r.stringArray("\(base).serves", default: fallback?.serves ?? []),
                brokerUser: text("\(base).broker_user", "clinic-\(id)"))
        }
        let journalIDs = ids("directory.journals", defaults.journals.map(\.id))
        let journals: [Directory.Journal] = journalIDs.map { id in
            let base = "directory.journals.\(id)"
            return .init(id: id, name: text("\(base).name", defaults.journals.first { $0.id == id }?.name ?? id),
                         brokerUser: text("\(base).broker_user", "journal-\(id)"))
        }
        return Directory(
            municipalities: municipalities, clinics: clinics, journals: journals,
            centralVisitationName: text("directory.central_visitation.name", defaults.centralVisitationName),
            centralVisitationUser: text("directory.central_visitation.broker_user", defaults.centralVisitationUser))
    }
}
