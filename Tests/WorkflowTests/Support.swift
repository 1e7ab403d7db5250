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
