import Foundation
import Testing

@testable import Contract

@Suite("CPR numbers: ten digits, a valid date by the century table, no modulus 11")
struct CPRTests {
    @Test("both written forms normalise to ten digits")
    func normalises() throws {
        #expect(try #require(CPR("010330-4123")).digits == "0103304123")
        #expect(try #require(CPR("0103304123")).digits == "0103304123")
    }

    @Test("a valid date that fails modulus 11 is accepted")
    func modulus11IsNotChecked() throws {
        // 0101901234: weights 4 3 2 7 6 5 4 3 2 1 give 0+4+0+7+54+0+4+6+6+4 = 85, not divisible by 11.
        let digits = Array("0101901234").map { Int(String($0))! }
        let sum = zip(digits, [4, 3, 2, 7, 6, 5, 4, 3, 2, 1]).map(*).reduce(0, +)
        #expect(sum % 11 != 0)
        #expect(CPR("0101901234") != nil)
    }

    @Test("29 February is valid only in a leap year of the century the 7th digit gives", arguments: [
        ("290200-0123", false),  // 0 → 1900: not a leap year
        ("290200-4123", true),  // 4, 00 → 2000: leap (divisible by 400)
        ("290200-5123", true),  // 5, 00 → 2000
        ("290296-1123", true),  // 1996
        ("290297-1123", false),  // 1997
        ("290231-4123", false),  // 4, 31 → 2031
        ("290232-9123", true),  // 9, 32 → 2032
        ("290236-4123", true),  // 4, 36 → 2036
        ("290237-4123", false),  // 4, 37 → 1937
        ("290256-7123", true),  // 7, 56 → 2056
        ("290258-6123", false),  // 6, 58 → 1858
        ("290260-5123", true),  // 5, 60 → 1860
    ])
    func leapYears(cpr: String, valid: Bool) {
        #expect((CPR(cpr) != nil) == valid)
    }

    @Test("century table of the CPR office")
    func centuries() throws {
        #expect(CPR.century(seventhDigit: 0, twoDigitYear: 5) == 1900)
        #expect(CPR.century(seventhDigit: 3, twoDigitYear: 99) == 1900)
        #expect(CPR.century(seventhDigit: 4, twoDigitYear: 36) == 2000)
        #expect(CPR.century(seventhDigit: 4, twoDigitYear: 37) == 1900)
        #expect(CPR.century(seventhDigit: 9, twoDigitYear: 36) == 2000)
        #expect(CPR.century(seventhDigit: 9, twoDigitYear: 37) == 1900)
        #expect(CPR.century(seventhDigit: 5, twoDigitYear: 57) == 2000)
        #expect(CPR.century(seventhDigit: 8, twoDigitYear: 58) == 1800)
        #expect(try #require(CPR("150637-4123")).birthDate == CalendarDate(year: 1937, month: 6, day: 15))
        #expect(try #require(CPR("150657-8123")).birthDate == CalendarDate(year: 2057, month: 6, day: 15))
    }

    @Test("impossible dates and forms are rejected", arguments: [
        "310430-4123",  // 31 April
        "310630-4123",  // 31 June
        "310930-4123",  // 31 September
        "311130-4123",  // 31 November
        "000130-4123",  // day 0
        "011330-4123",  // month 13
        "320130-4123",  // day 32
        "01033O-4123",  // letter O
        "010330 4123",  // space
        "010330-412",  // nine digits
        "01033041234",  // eleven digits
        "0103-304123",  // hyphen in the wrong place
        "",
        "０１０３３０４１２３",  // full-width digits
    ])
    func rejected(cpr: String) {
        #expect(CPR(cpr) == nil)
    }

    @Test("30-day months accept the 30th", arguments: ["300430-4123", "300630-4123", "300930-4123", "301130-4123"])
    func thirtieth(cpr: String) {
        #expect(CPR(cpr) != nil)
    }

    @Test("description and debugDescription are redacted")
    func redacted() throws {
        let cpr = try #require(CPR("010330-4123"))
        #expect(!"\(cpr)".contains("0103"))
        #expect(!String(reflecting: cpr).contains("0103"))
        #expect("\(cpr)" == "CPR(redacted)")
    }
}
