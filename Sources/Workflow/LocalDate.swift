/// A civil calendar date (year, month, day) as used in Europe/Copenhagen.
///
/// Every rule of docs/domain.md works on civil dates: "closed within the last year" (R1),
/// "from 1 July 2026" (R8), "14 days after the referral" (R10). A `LocalDate` has no time
/// of day and no time zone; turning an instant into the Copenhagen civil date is the
/// daemon's job (it owns the clock and the time-zone database). Day arithmetic here is
/// proleptic Gregorian and needs no Foundation time zones, so it is the same on every host.
///
/// Encodes to and decodes from ISO 8601 `yyyy-MM-dd`.
public struct LocalDate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Calendar year, 1...9999.
    public let year: Int
    /// Month of the year, 1...12.
    public let month: Int
    /// Day of the month, 1...28/29/30/31.
    public let day: Int

    /// Creates a date, or returns `nil` if the combination is not a real calendar date
    /// (month out of range, 31 April, 29 February in a common year, year outside 1...9999).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            day >= 1, day <= LocalDate.daysInMonth(year: year, month: month)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses an ISO 8601 calendar date `yyyy-MM-dd` (exactly ten characters, ASCII digits).
    /// Returns `nil` for anything else, including valid-looking but impossible dates.
    public init?(iso: String) {
        let bytes = Array(iso.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else {
            return nil
        }
        self.init(year: y, month: m, day: d)
    }

    /// The date as ISO 8601 `yyyy-MM-dd`.
    public var iso: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public var description: String { iso }

    /// Days since 1970-01-01 (negative before it).
    public var daysSinceEpoch: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `daysSinceEpoch` days after 1970-01-01, or `nil` outside years 1...9999.
    public init?(daysSinceEpoch: Int) {
        // Howard Hinnant's civil_from_days. Far outside years 1...9999 the arithmetic could
        // overflow, so such inputs are rejected first.
        guard abs(daysSinceEpoch) < 10_000_000 else { return nil }
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.init(year: y, month: m, day: d)
    }

    /// This date moved by `days` (may be negative), clamped to 0001-01-01...9999-12-31 so
    /// that no message date, however odd, can trap the daemon.
    public func adding(days: Int) -> LocalDate {
        let (sum, overflow) = daysSinceEpoch.addingReportingOverflow(days)
        if !overflow, let result = LocalDate(daysSinceEpoch: sum) { return result }
        return (overflow ? days > 0 : sum > daysSinceEpoch) ? .max : .min
    }

    /// 0001-01-01, the earliest representable date.
    public static let min = LocalDate(uncheckedYear: 1, month: 1, day: 1)
    /// 9999-12-31, the latest representable date.
    public static let max = LocalDate(uncheckedYear: 9999, month: 12, day: 31)

    private init(uncheckedYear year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Whole days from `earlier` to `self` (positive when `self` is later).
    public func days(since earlier: LocalDate) -> Int {
        daysSinceEpoch - earlier.daysSinceEpoch
    }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Number of days in the given month of the proleptic Gregorian calendar.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        default: return 0  // not a month; callers validate the range first
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = LocalDate(iso: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a calendar date yyyy-MM-dd")
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso)
    }
}
