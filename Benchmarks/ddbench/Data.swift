import Foundation

/// Synthetic citizens for the benchmark. Citizen `i` has a valid, unique CPR number (a real
/// date, serial from 1000; never a real person's pattern matters here: synthetic data) and a
/// journal status chosen by `i % 8`, so every R1 branch occurs in every list.
enum Citizens {
    /// The R1 branch of citizen `i` and what the daemon routes for it.
    enum Branch: Int, CaseIterable {
        case currentAtSyd = 0        // current course at the list's clinic → assessment-request
        case closedWithinYear = 1    // course closed 2025-12-02 → cv-referral
        case acuteWithCourse = 2     // acute contact followed by an outpatient course → cv-referral
        case repeatedAcute = 3       // two acute contacts, motivation failed → cv-referral (R1 exception)
        case acuteOnly = 4           // one acute contact only: no contact → group-3 cv-referral (R8)
        case unknownToJournal = 5    // known: false → no contact → group-3 cv-referral
        case noConsent = 6           // consent absent: held (R4), nothing leaves, no journal request
        case currentAtNord = 7       // current course at another clinic → assessment-request there

        var routed: String? {
            switch self {
            case .currentAtSyd, .currentAtNord: "assessment-request"
            case .noConsent: nil
            default: "cv-referral"
            }
        }
    }

    static func branch(_ i: Int) -> Branch { Branch(rawValue: i % 8)! }

    /// DDMMYY-SSSS with a date from 1900–1999 (7th digit 1) and the serial carrying `i / 33600`.
    static func cpr(_ i: Int) -> String {
        let d = i % 33_600
        let serial = 1000 + i / 33_600
        let day = d % 28 + 1, month = (d / 28) % 12 + 1, yy = d / 336
        return String(format: "%02d%02d%02d%04d", day, month, yy, serial)
    }

    static func index(ofCPR cpr: String) -> Int? {
        let digits = Array(cpr.utf8.filter { $0 >= 48 && $0 <= 57 }.map { Int($0) - 48 })
        guard digits.count == 10 else { return nil }
        let day = digits[0] * 10 + digits[1], month = digits[2] * 10 + digits[3], yy = digits[4] * 10 + digits[5]
        let serial = digits[6] * 1000 + digits[7] * 100 + digits[8] * 10 + digits[9]
        return (day - 1) + (month - 1) * 28 + yy * 336 + (serial - 1000) * 33_600
    }

    /// The expected routed events (assessment-request, cv-referral) for citizens `range`.
    static func expectedRouted(_ range: Range<Int>, referral: Bool) -> Int {
        range.reduce(0) { n, i in
            let b = branch(i)
            if referral { return n + 1 }  // referrals carry consent: every one is routed
            return n + (b.routed == nil ? 0 : 1)
        }
    }

    static let information = #"""
    {"substanceTreatment":{"since":"2024-03-01","setting":"outpatient","substances":["cannabis","stimulants"]},"earlierOffers":[{"offer":"ambulant rådgivning","from":"2022-05-01","to":"2023-01-31","outcome":"dropped-out"}],"functionalLevel":"severely-impaired","complexityNotes":"Hjemløs i perioder.","contactPerson":{"name":"Kontakt Person","role":"rusmiddelkonsulent","phone":"+45 99 31 31 31","email":"kontakt@kommune.example"}}
    """#

    static func listEntry(_ i: Int) -> String {
        let consent = branch(i) == .noConsent
            ? #"{"status":"absent"}"#
            : #"{"status":"given","date":"2026-10-02","directions":["municipality-to-region","region-to-municipality"],"declarationRef":"SAMTYKKE-2026-0142"}"#
        return #"{"cpr":""# + cpr(i) + #"","consent":"# + consent + #","municipalInformation":"# + information + "}"
    }

    /// A list-1 municipal list of `municipality` (851) to amb-syd-aalborg with citizens `range`.
    static func list(_ range: Range<Int>, municipality: String = "851") -> Data {
        var s = #"{"schemaVersion":"1.0","municipality":""# + municipality + #"","clinic":"amb-syd-aalborg","listKind":"list-1","asOf":"2026-11-23","entries":["#
        s.reserveCapacity(range.count * 700)
        var first = true
        for i in range {
            if !first { s += "," }
            first = false
            s += listEntry(i)
        }
        s += "]}"
        return Data(s.utf8)
    }

    /// Citizens `0..<entries` as list bodies of at most `chunk` entries each (one list in
    /// several messages, as the body limit asks of a big one).
    static func lists(_ entries: Int, chunk: Int) -> [Data] {
        stride(from: 0, to: entries, by: chunk).map { list($0..<min(entries, $0 + chunk)) }
    }

    static func referral(_ i: Int) -> Data {
        Data((#"{"schemaVersion":"1.0","cpr":""# + cpr(i) + #"","municipality":"851","referredAt":"2026-11-23T08:15:00Z","grounds":{"mentalDisorder":"suspected","substanceUse":"diagnosed"},"diagnoses":["DF102"],"referrer":{"kind":"general-practitioner","name":"Lægerne","contactPerson":{"name":"Læge","phone":"+45 98 00 00 00"}},"consent":{"status":"given","date":"2026-11-20","directions":["municipality-to-region"],"declarationRef":"SAMTYKKE-2026-0311"},"municipalInformation":"# + information + "}").utf8)
    }

    /// The journal's answer for citizen `i`.
    static func statusEntry(_ i: Int, cpr: String) -> String {
        let head = #"{"cpr":""# + cpr + #"","known":"#
        switch branch(i) {
        case .currentAtSyd:
            return head + #"true,"currentCourse":{"clinic":"amb-syd-aalborg","since":"2025-02-10"}}"#
        case .currentAtNord:
            return head + #"true,"currentCourse":{"clinic":"amb-nord-hjoerring","since":"2024-06-01"}}"#
        case .closedWithinYear:
            return head + #"true,"closedCourses":[{"clinic":"amb-syd-aalborg","openedOn":"2024-01-08","closedOn":"2025-12-02"}]}"#
        case .acuteWithCourse:
            return head + #"true,"acuteContacts":[{"date":"2026-04-11","kind":"emergency-room","outpatientFollowUp":true,"motivationFailed":false,"treatmentRejectedShortlyAfter":false}]}"#
        case .repeatedAcute:
            return head + #"true,"acuteContacts":[{"date":"2026-03-01","kind":"emergency-room","outpatientFollowUp":false,"motivationFailed":true,"treatmentRejectedShortlyAfter":false},{"date":"2026-05-01","kind":"emergency-room","outpatientFollowUp":false,"motivationFailed":true,"treatmentRejectedShortlyAfter":false}]}"#
        case .acuteOnly:
            return head + #"true,"acuteContacts":[{"date":"2026-04-11","kind":"emergency-room","outpatientFollowUp":false,"motivationFailed":false,"treatmentRejectedShortlyAfter":false}]}"#
        case .unknownToJournal, .noConsent:
            return head + "false}"
        }
    }

    static func contactStatus(_ entries: [String]) -> Data {
        Data((#"{"schemaVersion":"1.0","asOf":"2026-11-23","entries":["# + entries.joined(separator: ",") + "]}").utf8)
    }
}
