import Foundation
import Testing
import Workflow

@Suite("LocalDate: civil dates without time zones")
struct LocalDateTests {
    @Test(
        "ISO parse and format round-trip",
        arguments: ["2024-02-29", "2025-12-31", "2026-01-01", "0001-01-01", "9999-12-31", "2026-07-01"])
    func roundTrip(iso: String) throws {
        let date = try #require(LocalDate(iso: iso))
        #expect(date.iso == iso)
    }

    @Test(
        "impossible or malformed dates are rejected",
        arguments: [
            "2025-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-4-01", "20260401",
            "2026-04-0a", "", "2026-04-01T00:00", "1900-02-29", "0000-01-01",
        ])
    func rejects(iso: String) {
        #expect(LocalDate(iso: iso) == nil)
    }

    @Test("day arithmetic agrees with Foundation's Gregorian calendar")
    func arithmeticMatchesFoundation() {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<2_000 {
            let start = LocalDate(
                year: Int.random(in: 1901...2099, using: &rng), month: Int.random(in: 1...12, using: &rng),
                day: Int.random(in: 1...28, using: &rng))!
            let delta = Int.random(in: -1_000...1_000, using: &rng)
            let expected = T.shift(start, delta)
            #expect(start.adding(days: delta) == expected)
            #expect(expected.days(since: start) == delta)
        }
    }

    @Test("days since epoch matches Foundation's seconds since 1970 / 86400")
    func epoch() {
        for iso in ["1970-01-01", "2000-02-29", "2026-11-23", "1969-12-31"] {
            let date = LocalDate(iso: iso)!
            let foundation = T.utc.date(from: DateComponents(year: date.year, month: date.month, day: date.day))!
            #expect(date.daysSinceEpoch == Int(foundation.timeIntervalSince1970 / 86_400))
        }
    }

    @Test("ordering and Codable as a plain ISO string")
    func codable() throws {
        let a = LocalDate(iso: "2025-12-02")!
        let b = LocalDate(iso: "2026-11-23")!
        #expect(a < b)
        let data = try JSONEncoder().encode([a])
        #expect(String(decoding: data, as: UTF8.self) == #"["2025-12-02"]"#)
        #expect(try JSONDecoder().decode([LocalDate].self, from: data) == [a])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([LocalDate].self, from: Data(#"["2025-02-30"]"#.utf8))
        }
    }
}

@Suite("LocalDate: range")
struct LocalDateRangeTests {
    @Test("arithmetic clamps at the representable range instead of trapping", arguments: [
        ("9999-12-20", 14, "9999-12-31"), ("0001-01-05", -10, "0001-01-01"), ("2026-01-01", Int.max, "9999-12-31"),
        ("2026-01-01", Int.min, "0001-01-01"), ("9999-12-31", 0, "9999-12-31"),
    ])
    func clamps(start: String, days: Int, expected: String) {
        #expect(LocalDate(iso: start)!.adding(days: days).iso == expected)
    }

    @Test("min and max bound every date")
    func bounds() {
        #expect(LocalDate.min.iso == "0001-01-01")
        #expect(LocalDate.max.iso == "9999-12-31")
        #expect(LocalDate(daysSinceEpoch: LocalDate.max.daysSinceEpoch + 1) == nil)
        #expect(LocalDate(daysSinceEpoch: LocalDate.min.daysSinceEpoch - 1) == nil)
    }
}
