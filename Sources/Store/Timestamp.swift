import Foundation

/// The store's one text form for instants: UTC, millisecond precision, fixed width,
/// e.g. `2026-11-23T09:34:04.123Z`. Fixed width makes text order equal time order, so
/// `due_at <= ?` works on the column, and an operator can read the file with `sqlite3`.
/// The audit chain hashes this text, so formatting must be exact and stable: the
/// conversion is pure arithmetic (no formatter, no locale, no time zone database).
enum Timestamp {
    static func string(_ date: Date) -> String { string(milliseconds: milliseconds(date)) }

    /// Milliseconds since 1970 as the text form counts them: rounded to the nearest, so that
    /// a value read back and written again keeps its text (floor would drift by one for
    /// values like .123 stored as .12299…).
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// The instants whose text `string(milliseconds:)` writes without clamping the year
    /// (1970-01-01 up to the end of 9999): for these, the number and the text convert into
    /// each other exactly, so a column may keep the number and give back the text.
    static let exactMilliseconds: ClosedRange<Int64> = 0...253_402_300_799_999

    static func string(milliseconds totalMillis: Int64) -> String {
        var seconds = totalMillis / 1000
        var millis = totalMillis % 1000
        if millis < 0 {
            millis += 1000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        return String(unsafeUninitializedCapacity: 24) { out in
            var index = 0
            func put(_ value: Int64, width: Int) {
                var v = value
                var i = index + width - 1
                while i >= index {
                    out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                    i -= 1
                }
                index += width
            }
            func put(_ ascii: Unicode.Scalar) {
                out[index] = UInt8(ascii: ascii)
                index += 1
            }
            put(max(0, min(9999, year)), width: 4)
            put("-")
            put(month, width: 2)
            put("-")
            put(day, width: 2)
            put("T")
            put(secondOfDay / 3600, width: 2)
            put(":")
            put(secondOfDay / 60 % 60, width: 2)
            put(":")
            put(secondOfDay % 60, width: 2)
            put(".")
            put(millis, width: 3)
            put("Z")
            return index
        }
    }

    /// Parses exactly the form `string(_:)` produces; nil for anything else.
    static func date(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            b[19] == UInt8(ascii: "."), b[23] == UInt8(ascii: "Z")
        else { return nil }
        func num(_ from: Int, _ count: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<(from + count) {
                let c = b[i]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int64(c - UInt8(ascii: "0"))
            }
            return v
        }
        guard let year = num(0, 4), let month = num(5, 2), let day = num(8, 2),
            let hour = num(11, 2), let minute = num(14, 2), let second = num(17, 2),
            let millis = num(20, 3), (1...12).contains(month), (1...31).contains(day),
            hour < 24, minute < 60, second < 60
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let totalMillis = ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis
        return Date(timeIntervalSince1970: Double(totalMillis) / 1000)
    }

    /// Reads a timestamp column; a malformed value is reported, never guessed.
    static func decode(_ text: String, column: String) throws -> Date {
        guard let date = date(text) else {
            throw StoreError(
                .encoding,
                "column \(column) holds a timestamp that is not in the store's format; the file was edited outside ddrouter"
            )
        }
        return date
    }

    // Howard Hinnant's algorithms (proleptic Gregorian calendar).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
