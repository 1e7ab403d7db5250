import Foundation
import GRDB

/// How the store keeps an instant and a pseudonym in the tables rebuilt compact (the audit
/// trail from v11, consent statements from v12), and how it reads them back.
///
/// - An instant: milliseconds since 1970 (an integer) when its text form converts back
///   exactly (`Timestamp.exactMilliseconds`), otherwise the text (`Timestamp.string`).
/// - A pseudonym: the 16 bytes its 32 hex characters spell.
///
/// Read back, either form gives the same text, so what is hashed or compared as text is
/// unchanged. A value of another form (a row edited by hand, or migrated as it was because it
/// was not the store's own form) is kept as it is and read as malformed, or as its text.
enum CompactColumn {
    static func instant(_ date: Date) -> (stored: DatabaseValue, text: String) {
        let millis = Timestamp.milliseconds(date)
        let text = Timestamp.string(milliseconds: millis)
        return (Timestamp.exactMilliseconds.contains(millis) ? millis.databaseValue : text.databaseValue, text)
    }

    /// The stored form of a timestamp's text: the milliseconds when the text is the store's
    /// form and converts back exactly, else the text (the migrations' `compact_at`).
    static func instant(text: String) -> DatabaseValue {
        guard let date = Timestamp.date(text) else { return text.databaseValue }
        let millis = Timestamp.milliseconds(date)
        guard Timestamp.exactMilliseconds.contains(millis), Timestamp.string(milliseconds: millis) == text else {
            return text.databaseValue
        }
        return millis.databaseValue
    }

    /// An instant's text, from either form; nil for any other value.
    static func instantText(_ value: DatabaseValue) -> String? {
        switch value.storage {
        case .int64(let millis) where Timestamp.exactMilliseconds.contains(millis):
            Timestamp.string(milliseconds: millis)
        case .string(let text): text
        default: nil
        }
    }

    /// A due time as `timers.due_at` keeps it (v13): always milliseconds, so that `due_at <= ?`
    /// compares numbers; an instant outside 1970-9999 is moved to the nearest end of that range
    /// (before 1970 is due at once either way; after 9999, never).
    static func due(_ date: Date) -> Int64 {
        min(max(Timestamp.milliseconds(date), Timestamp.exactMilliseconds.lowerBound), Timestamp.exactMilliseconds.upperBound)
    }

    /// An instant column read as a date; a malformed value is reported, never guessed.
    static func date(_ value: DatabaseValue, column: String) throws -> Date {
        guard let text = instantText(value) else {
            throw StoreError(
                .encoding,
                "column \(column) holds a timestamp that is not in the store's format; the file was edited outside ddrouter")
        }
        return try Timestamp.decode(text, column: column)
    }

    /// The stored form of a pseudonym's text: 16 bytes when it is one, else the text.
    static func pseudonym(hex: String) -> DatabaseValue {
        guard Pseudonym(hex: hex) != nil, let bytes = Hex.decode(hex) else { return hex.databaseValue }
        return bytes.databaseValue
    }

    static func pseudonym(_ pseudonym: Pseudonym) -> DatabaseValue { self.pseudonym(hex: pseudonym.hex) }

    /// A pseudonym column's text: `.some(nil)` for NULL; `nil` for a value the store never writes.
    static func pseudonymText(_ value: DatabaseValue) -> String?? {
        switch value.storage {
        case .null: .some(nil)
        case .blob(let bytes) where bytes.count == 16: .some(Hex.encode(bytes))
        case .string(let text): .some(text)
        default: nil
        }
    }

    /// A date `yyyy-mm-dd` as `list_members.as_of` keeps it (v22): its day number
    /// (`TimerKey.days(iso:)`), or the text of anything else.
    static func day(_ text: String) -> DatabaseValue {
        TimerKey.days(iso: text).map(\.databaseValue) ?? text.databaseValue
    }

    /// A date column's text, from either form; nil for any other value (a number outside
    /// the years 0000-9999).
    static func dayText(_ value: DatabaseValue) -> String? {
        switch value.storage {
        case .int64(let days) where (-719_528...2_932_896).contains(days): TimerKey.iso(days: days)
        case .string(let text): text
        default: nil
        }
    }

    /// The stored form of a case id (v18): the 12 bytes the 24 hex digits of `case-<hex>` spell
    /// (the form the daemon gives a case, `Pipeline.caseID`), or the text of any other id.
    static func caseID(_ id: String) -> DatabaseValue {
        let prefix = "case-"
        guard id.utf8.count == prefix.utf8.count + 24, id.hasPrefix(prefix) else { return id.databaseValue }
        let hex = String(id.dropFirst(prefix.count))
        guard hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
            let bytes = Hex.decode(hex), bytes.count == 12
        else { return id.databaseValue }
        return bytes.databaseValue
    }

    static func caseID(_ id: String?) -> DatabaseValue { id.map(caseID) ?? .null }

    /// A case id column's text, from either form; nil for a value the store never writes.
    static func caseIDText(_ value: DatabaseValue) -> String? {
        switch value.storage {
        case .blob(let bytes) where bytes.count == 12: "case-" + Hex.encode(bytes)
        case .string(let text): text
        default: nil
        }
    }

    static func caseIDText(_ value: DatabaseValue, column: String) throws -> String {
        guard let text = caseIDText(value) else {
            throw StoreError(.encoding, "column \(column) holds a case id ddrouter never writes; the file was edited outside ddrouter")
        }
        return text
    }
}
