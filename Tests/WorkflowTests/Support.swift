import Foundation
import Workflow

/// Test helpers. Date arithmetic here goes through Foundation's Gregorian calendar, not
/// through `LocalDate`, so expectations are computed independently of the code under test.
enum T {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// Parses `yyyy-MM-dd` into a LocalDate via Foundation's calendar components.
    static func d(_ iso: String) -> LocalDate {
        let parts = iso.split(separator: "-").map { Int($0)! }
        return LocalDate(year: parts[0], month: parts[1], day: parts[2])!
    }

    /// `date` moved by `days`, computed by Foundation (independent oracle).
    static func shift(_ date: LocalDate, _ days: Int) -> LocalDate {
        let start = utc.date(from: DateComponents(year: date.year, month: date.month, day: date.day))!
        let moved = utc.date(byAdding: .day, value: days, to: start)!
        let c = utc.dateComponents([.year, .month, .day], from: moved)
        return LocalDate(year: c.year!, month: c.month!, day: c.day!)!
    }

    static let config = WorkflowConfiguration()
}

/// A small deterministic generator (SplitMix64) so property tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Drives one `CitizenCase` like the daemon would: one inbound message id per input.
struct Driver {
    var citizenCase: CitizenCase
    var config: WorkflowConfiguration
    var counter = 0
    var prefix: String

    init(_ key: String = "citizen-1", config: WorkflowConfiguration = T.config, prefix: String = "msg") {
        citizenCase = CitizenCase(citizen: CitizenKey(key))
        self.config = config
        self.prefix = prefix
    }

    static func instant(_ date: LocalDate, hour: Int = 10) -> Date {
        let start = T.utc.date(from: DateComponents(year: date.year, month: date.month, day: date.day, hour: hour))!
        return start
    }

    @discardableResult
    mutating func send(_ input: CaseInput, on date: LocalDate, hour: Int = 10) -> CaseResult {
        counter += 1
        let context = CaseContext(
            ref: InboundRef(messageID: "\(prefix)-\(counter)"), at: Self.instant(date, hour: hour), on: date)
        return citizenCase.apply(input, context: context, configuration: config)
    }

    var state: String { citizenCase.stateName }
}

extension CaseResult {
    var accepted: Bool {
        if case .accepted = outcome { return true }
        return false
    }
    var rejection: CaseRejection? {
        if case .rejected(let r) = outcome { return r }
        return nil
    }
    func events(_ kind: String) -> [OutboundEvent] { events.filter { $0.payload.kind == kind } }
    func recipients(_ kind: String) -> Set<Party> { Set(events(kind).map(\.recipient)) }
}

/// Independent classification of which payloads carry data about the citizen (as opposed
/// to pure notices). Written from docs/domain.md R4, not derived from `EventPayload.dataOrigins`.
func carriesCitizenData(_ payload: EventPayload) -> Bool {
    switch payload {
    case .heldForConsent, .consentWithdrawn, .deadlineWarning, .reminder, .psychiatryProceedsAlone:
        return false
    case .assessmentRequest, .centralVisitationReferral, .notGroup2, .contactStatusRequest, .coordinatedCourse,
        .assessmentShared, .moreInformationRequested, .decision, .responsibilityTransfer, .transitionProposed,
        .collaborationMeetingNeeded, .handover, .trackEnded:
        return true
    }
}

enum Fixtures {
    static let given = ConsentStatus.given(on: T.d("2026-10-01"), reference: "decl-1")
    static let asOf = T.d("2026-11-23")
    static func entry(_ list: ListKind = .list1, clinic: ClinicID? = "A", consent: ConsentStatus = given, asOf: LocalDate = asOf) -> CaseInput {
        .listed(ListEntry(list: list, municipality: "851", clinic: clinic, asOf: asOf, consent: consent))
    }
    static func currentAt(_ clinic: ClinicID) -> CaseInput {
        .contactStatus(ContactFacts(currentCourses: [CurrentCourse(clinic: clinic, since: T.d("2025-01-01"))]))
    }
}
