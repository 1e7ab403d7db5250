/// A Danish CPR number (personnummer), validated and normalised to ten digits.
///
/// Rules (docs/messages.md, "CPR numbers"; docs/domain.md "Facts around the seeds"):
/// - ten digits, written `DDMMYYSSSS` or `DDMMYY-SSSS`; stored without the hyphen;
/// - the first six digits are a valid date, the century taken from the 7th digit by the
///   CPR office's table (see `century(seventhDigit:twoDigitYear:)`);
/// - **no modulus-11 check**: since 2007 valid numbers exist that fail it.
///
/// `description` is redacted so a CPR never reaches a log line by string interpolation.
public struct CPR: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The ten digits, without hyphen. Personal data: never log it.
    public let digits: String

    /// Why a string is not a CPR number. The texts never contain the value.
    public enum Problem: Sendable, Hashable {
        case form
        case date

        public var explanation: String {
            switch self {
            case .form: "is not a CPR number: it must be ten digits, DDMMYYSSSS or DDMMYY-SSSS"
            case .date:
                "is not a valid CPR number: the first six digits are not a valid date (DDMMYY, century from the 7th digit)"
            }
        }
    }

    /// Validates and normalises `text`; throws nothing, returns the problem instead.
    public static func parse(_ text: String) -> Result<CPR, CPRError> {
        let scalars = Array(text.unicodeScalars)
        let digits: [UInt8]
        func digit(_ s: Unicode.Scalar) -> UInt8? {
            (s.value >= 48 && s.value <= 57) ? UInt8(s.value - 48) : nil
        }
        if scalars.count == 10 {
            let mapped = scalars.compactMap(digit)
            guard mapped.count == 10 else { return .failure(CPRError(problem: .form)) }
            digits = mapped
        } else if scalars.count == 11, scalars[6] == "-" {
            let mapped = (scalars[0..<6] + scalars[7..<11]).compactMap(digit)
            guard mapped.count == 10 else { return .failure(CPRError(problem: .form)) }
            digits = mapped
        } else {
            return .failure(CPRError(problem: .form))
        }
        let day = Int(digits[0]) * 10 + Int(digits[1])
        let month = Int(digits[2]) * 10 + Int(digits[3])
        let yy = Int(digits[4]) * 10 + Int(digits[5])
        let year = century(seventhDigit: Int(digits[6]), twoDigitYear: yy) + yy
        guard CalendarDate.isValid(year: year, month: month, day: day) else {
            return .failure(CPRError(problem: .date))
        }
        return .success(CPR(digits: String(decoding: digits.map { $0 + 48 }, as: UTF8.self)))
    }

    /// Convenience: `nil` when `text` is not a valid CPR number.
    public init?(_ text: String) {
        guard case .success(let cpr) = CPR.parse(text) else { return nil }
        self = cpr
    }

    private init(digits: String) { self.digits = digits }

    /// The CPR office's century table: 7th digit 0–3 → 1900s; 4 and 9 → 2000s for
    /// years 00–36, else 1900s; 5–8 → 2000s for years 00–57, else 1800s.
    public static func century(seventhDigit: Int, twoDigitYear yy: Int) -> Int {
        switch seventhDigit {
        case 0...3: 1900
        case 4, 9: yy <= 36 ? 2000 : 1900
        default: yy <= 57 ? 2000 : 1800
        }
    }

    /// Date of birth as encoded in the number.
    public var birthDate: CalendarDate {
        let d = Array(digits.utf8).map { Int($0) - 48 }
        let yy = d[4] * 10 + d[5]
        let year = CPR.century(seventhDigit: d[6], twoDigitYear: yy) + yy
        // Validated at construction, so the date exists.
        return CalendarDate(uncheckedYear: year, month: d[2] * 10 + d[3], day: d[0] * 10 + d[1])
    }

    public var description: String { "CPR(redacted)" }
    public var debugDescription: String { "CPR(redacted)" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        switch CPR.parse(text) {
        case .success(let cpr): self = cpr
        case .failure(let error):
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "CPR " + error.problem.explanation)
        }
    }

    /// Encodes the normalised ten digits (no hyphen).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(digits)
    }
}

/// A CPR validation failure; carries no digits.
public struct CPRError: Error, Sendable, Hashable {
    public let problem: CPR.Problem
}
