#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A municipal list message (`municipal-list`), as the core needs it.
public struct MunicipalList: Sendable, Hashable, Codable {
    /// One entry.
    public struct Entry: Sendable, Hashable, Codable {
        public var citizen: CitizenKey
        public var consent: ConsentStatus
        /// The directions `consent` covers; `nil` means both (R4).
        public var consentDirections: [ConsentDirection]?
        /// Overrides the list's clinic for this entry, if given.
        public var clinic: ClinicID?

        public init(
            citizen: CitizenKey, consent: ConsentStatus, consentDirections: [ConsentDirection]? = nil,
            clinic: ClinicID? = nil
        ) {
            self.citizen = citizen
            self.consent = consent
            self.consentDirections = consentDirections
            self.clinic = clinic
        }
    }

    /// The sender of the list, as `InboundRef.sender` names it.
    public var sender: String?
    /// The inbound `message_id`.
    public var messageID: String
    public var municipality: MunicipalityCode
    /// The clinic the list is for; `nil` for a list to all clinics.
    public var clinic: ClinicID?
    public var list: ListKind
    /// The list's own date (R1 routes as of it).
    public var asOf: LocalDate
    public var entries: [Entry]

    public init(
        sender: String? = nil, messageID: String, municipality: MunicipalityCode, clinic: ClinicID?, list: ListKind,
        asOf: LocalDate, entries: [Entry]
    ) {
        self.sender = sender
        self.messageID = messageID
        self.municipality = municipality
        self.clinic = clinic
        self.list = list
        self.asOf = asOf
        self.entries = entries
    }
}

/// The result for one list entry (R11), with the case result behind it.
public struct ListEntryOutcome: Sendable, Hashable, Codable {
    /// The entry's index in the list.
    public var index: Int
    public var citizen: CitizenKey
    /// The receipt line.
    public var result: EntryResult
    /// Events and timers of the entry's case (empty when rejected before reaching it).
    public var events: [OutboundEvent]
    public var timers: [TimerAction]
}

/// R11: applies a municipal list entry by entry; every entry gets an answer.
public enum ListProcessing {
    /// Applies every entry to its citizen's case (created if new) and returns one outcome
    /// per entry, in list order. An entry naming a citizen already named earlier in the same
    /// list is rejected with a reason; nothing is dropped silently. Entry `i` uses inbound
    /// reference `<sender>/messageID#i`, so replaying the list changes nothing. Entries whose index is
    /// in `skipping` (answered by the caller) are left out: no outcome, no case change.
    public static func apply(
        _ list: MunicipalList, at: Date, on: LocalDate, cases: inout [CitizenKey: CitizenCase],
        configuration: WorkflowConfiguration, skipping: Set<Int> = []
    ) -> [ListEntryOutcome] {
        var seen: [CitizenKey: Int] = [:]
        var outcomes: [ListEntryOutcome] = []
        for (index, entry) in list.entries.enumerated() where !skipping.contains(index) {
            if let first = seen[entry.citizen] {
                outcomes.append(
                    ListEntryOutcome(
                        index: index, citizen: entry.citizen,
                        result: .rejected(reason: "the citizen is already entry \(first) of this list"),
                        events: [], timers: []))
                continue
            }
            seen[entry.citizen] = index
            let context = CaseContext(ref: InboundRef(sender: list.sender, messageID: list.messageID, entry: index), at: at, on: on)
            var citizenCase = cases[entry.citizen] ?? CitizenCase(citizen: entry.citizen)
            let result = citizenCase.apply(
                .listed(
                    ListEntry(
                        list: list.list, municipality: list.municipality, clinic: entry.clinic ?? list.clinic,
                        asOf: list.asOf, consent: entry.consent, consentDirections: entry.consentDirections)),
                context: context, configuration: configuration)
            cases[entry.citizen] = citizenCase
            outcomes.append(
                ListEntryOutcome(
                    index: index, citizen: entry.citizen, result: result.entryResult, events: result.events,
                    timers: result.timers))
        }
        return outcomes
    }
}
