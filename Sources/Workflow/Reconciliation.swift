/// A citizen on a list, for reconciliation (R3).
public struct ListedCitizen: Sendable, Hashable, Codable {
    public var citizen: CitizenKey
    public var list: ListKind

    public init(citizen: CitizenKey, list: ListKind) {
        self.citizen = citizen
        self.list = list
    }
}

/// R3: the comparison of one municipality's and one clinic's lists.
public struct ReconciliationReport: Sendable, Hashable, Codable {
    /// Aggregate counts; always reported to both sides (no citizen data in them).
    public struct Counts: Sendable, Hashable, Codable {
        /// On both lists, on the same list (1 or 2).
        public var onBothSameList: Int
        /// On both, but list 1 on one side and list 2 on the other.
        public var onBothDifferentList: Int
        /// Only on the municipal list.
        public var onlyMunicipal: Int
        /// Only on the clinic's list.
        public var onlyClinic: Int
    }

    /// One citizen the recipient should look at.
    public struct Line: Sendable, Hashable, Codable {
        public var citizen: CitizenKey
        /// The municipal list the citizen is on, if any.
        public var municipalList: ListKind?
        /// The clinic's list the citizen is on, if any.
        public var clinicList: ListKind?
    }

    public var municipality: MunicipalityCode
    public var clinic: ClinicID
    public var asOf: LocalDate
    public var counts: Counts
    /// For the municipality: citizens the clinic lists differently, that only the clinic lists
    /// or that only the municipality lists, as far as consent (region → municipality, course
    /// overview) allows.
    public var toMunicipality: [Line]
    /// For the clinic: citizens the municipality lists differently, that only it lists or that
    /// only the clinic lists, as far as consent (municipality → region, course overview) allows.
    public var toClinic: [Line]
    /// How many lines were withheld from the municipality for lack of consent.
    public var withheldFromMunicipality: Int
    /// How many lines were withheld from the clinic for lack of consent.
    public var withheldFromClinic: Int
    public var explanation: Explanation
}

/// R3: list reconciliation per municipality–clinic pair.
public enum Reconciliation {
    /// Compares the lists. Per-citizen lines go to a side only if `ConsentGate` permits the
    /// other side's data to reach it (a citizen missing from `consents` has no consent);
    /// counts always. The municipal list sets the pace; the clinic's list is there so that
    /// nobody is missed. Duplicates within one list count once (the first entry).
    public static func reconcile(
        municipality: MunicipalityCode, clinic: ClinicID, asOf: LocalDate,
        municipalList: [ListedCitizen], clinicList: [ListedCitizen],
        consents: [CitizenKey: ConsentRecord], configuration: WorkflowConfiguration
    ) -> ReconciliationReport {
        func index(_ list: [ListedCitizen]) -> [CitizenKey: ListKind] {
            var result: [CitizenKey: ListKind] = [:]
            for entry in list where result[entry.citizen] == nil { result[entry.citizen] = entry.list }
            return result
        }
        let municipal = index(municipalList)
        let regional = index(clinicList)
        let everyone = Set(municipal.keys).union(regional.keys).sorted()

        var counts = ReconciliationReport.Counts(
            onBothSameList: 0, onBothDifferentList: 0, onlyMunicipal: 0, onlyClinic: 0)
        var toMunicipality: [ReconciliationReport.Line] = []
        var toClinic: [ReconciliationReport.Line] = []
        var withheldM = 0
        var withheldC = 0
        for citizen in everyone {
            let m = municipal[citizen]
            let c = regional[citizen]
            let consent = consents[citizen] ?? ConsentRecord()
            let line = ReconciliationReport.Line(citizen: citizen, municipalList: m, clinicList: c)
            let forMunicipality: Bool
            let forClinic: Bool
            switch (m, c) {
            case (.some(let ml), .some(let cl)):
                if ml == cl {
                    counts.onBothSameList += 1
                    forMunicipality = false
                    forClinic = false
                } else {
                    counts.onBothDifferentList += 1
                    forMunicipality = true
                    forClinic = true
                }
            // A one-list citizen is a line for both sides: the other side should look for
            // the citizen, and the listing side should know the other lacks its citizen
            // (each named as far as consent towards that side allows).
            case (.some, .none):
                counts.onlyMunicipal += 1
                forMunicipality = true
                forClinic = true
            case (.none, .some):
                counts.onlyClinic += 1
                forMunicipality = true
                forClinic = true
            case (.none, .none):
                forMunicipality = false
                forClinic = false
            }
            if forMunicipality {
                if ConsentGate.permits(from: .region, to: .municipality, purpose: .courseOverview, consent: consent) {
                    toMunicipality.append(line)
                } else {
                    withheldM += 1
                }
            }
            if forClinic {
                if ConsentGate.permits(from: .municipality, to: .region, purpose: .courseOverview, consent: consent) {
                    toClinic.append(line)
                } else {
                    withheldC += 1
                }
            }
        }
        let explanation = configuration.explanation(
            .r3, "lists of municipality \(municipality) and clinic \(clinic) compared",
            [
                "as of \(asOf)",
                "on both lists alike: \(counts.onBothSameList)",
                "on both lists, list 1 vs list 2: \(counts.onBothDifferentList)",
                "only on the municipal list: \(counts.onlyMunicipal)",
                "only on the clinic's list: \(counts.onlyClinic)",
                "lines withheld for lack of consent: \(withheldM) from the municipality, \(withheldC) from the clinic",
            ])
        return ReconciliationReport(
            municipality: municipality, clinic: clinic, asOf: asOf, counts: counts, toMunicipality: toMunicipality,
            toClinic: toClinic, withheldFromMunicipality: withheldM, withheldFromClinic: withheldC,
            explanation: explanation)
    }
}
