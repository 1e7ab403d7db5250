import Foundation

/// How `timers` keeps a timer's id (v16).
///
/// The daemon names a case's timer `timer/<case>/<kind>/<yyyy-mm-dd>` (`TimerRecord.id`):
/// the case and the kind are columns of the row already, so such an id is kept as its day
/// alone, a number of days since 1970-01-01, and spelled again when the row is read. Before
/// v16 the 67-byte id was stored three times (the row's key, `timers_due`, `timers_by_case`).
/// Any other id (one a test or an older build chose) is kept as its text.
enum TimerKey: Hashable {
    /// The derived id of the row's own case and kind.
    case derived(day: Int64)
    /// An id of any other form.
    case text(String)

    /// The form `id` is stored in for a timer of `caseID` and `kind`; nil when `id` has the
    /// derived form but names another case or kind (two rows could then answer to one id).
    init?(id: String, caseID: String?, kind: String) {
        guard let parts = Self.parts(of: id) else {
            self = .text(id)
            return
        }
        guard parts.caseID == caseID, parts.kind == kind else { return nil }
        self = .derived(day: parts.day)
    }

    /// The case, kind and day a derived id names; nil for an id of another form (including
    /// a day that is not a real date written as the store spells it).
    static func parts(of id: String) -> (caseID: String, kind: String, day: Int64)? {
        let prefix = "timer/"
        guard id.hasPrefix(prefix), id.utf8.count > prefix.utf8.count + 11 else { return nil }
        let dayText = String(id.suffix(10))
        let rest = id.dropFirst(prefix.count).dropLast(10)
        guard rest.last == "/", let day = days(iso: dayText) else { return nil }
        let caseAndKind = rest.dropLast()
        guard let slash = caseAndKind.lastIndex(of: "/") else { return nil }
        let caseID = String(caseAndKind[..<slash])
        let kind = String(caseAndKind[caseAndKind.index(after: slash)...])
        guard !caseID.isEmpty, !kind.isEmpty else { return nil }
        return (caseID, kind, day)
    }

    static func id(caseID: String, kind: String, day: Int64) -> String {
        "timer/\(caseID)/\(kind)/\(iso(days: day))"
    }

    // MARK: days

    /// Days since 1970-01-01 of a proleptic Gregorian `yyyy-mm-dd` (years 0000-9999); nil for
    /// any other text, or a date that does not exist (February 30).
    static func days(iso text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        return Timestamp.daysFromCivil(year: year, month: month, day: day)
    }

    /// The `yyyy-mm-dd` of a day number `days(iso:)` gives.
    static func iso(days: Int64) -> String {
        let (year, month, day) = Timestamp.civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

extension TimerRecord {
    /// The id of a case's timer of `kind` due on `day` (`yyyy-mm-dd`): stable, so a replay
    /// schedules the same timer and the fired timer's events get stable ids. The store keeps
    /// such an id as its day (`TimerKey`).
    public static func id(caseID: String, kind: String, day: String) -> String {
        "timer/\(caseID)/\(kind)/\(day)"
    }
}
