import Foundation
import Testing

@testable import Contract

/// DESIGN: never a CPR number or free text from a message in a log line. Rejection
/// reasons end up in receipts, dead-letter headers and logs, so they must not echo them.
@Suite("Rejection reasons never contain the CPR or free text")
struct PrivacyTests {
    static func cprValues(_ value: JSONValue) -> [String] {
        switch value {
        case .object(let object):
            object.flatMap { key, child -> [String] in
                if key == "cpr", case .string(let s) = child { return [s] }
                return cprValues(child)
            }
        case .array(let items): items.flatMap(cprValues)
        case .null, .bool, .number, .string: []
        }
    }

    /// The CPR text and every 6-digit run of its digits (a birth date is personal data too).
    static func forbidden(_ cpr: String) -> [String] {
        let digits = cpr.filter(\.isNumber)
        var out = [cpr]
        if digits.count >= 6 {
            let chars = Array(digits)
            for start in 0...(chars.count - 6) { out.append(String(chars[start..<(start + 6)])) }
        }
        return out.filter { !$0.isEmpty }
    }

    static func texts(_ result: Result<DecodedMessage, Rejection>) -> [String] {
        switch result {
        case .failure(let r): [r.reason, r.pointer?.description ?? "", r.property ?? ""]
        case .success(let d): d.rejectedEntries.flatMap { [$0.rejection.reason, $0.rejection.pointer?.description ?? ""] }
        }
    }

    @Test("no bad fixture's rejection echoes a CPR of its body")
    func badFixtures() throws {
        let index = try #require(BadIndex.loaded)
        for fixture in index.fixtures {
            let body = try BadIndex.body(fixture)
            guard let json = try? JSONValue.parse(body) else { continue }
            let result = index.decoder.decode(properties: BadIndex.properties(fixture, bodySize: body.count), body: body)
            for text in Self.texts(result) {
                for cpr in Self.cprValues(json) {
                    for bad in Self.forbidden(cpr) {
                        #expect(!text.contains(bad), "\(fixture.file): reason echoes CPR digits")
                    }
                }
            }
        }
    }

    static let referral: [String: JSONValue] = {
        guard case .object(let o)? = try? JSONValue.parse(Repo.data("Config/examples/referral.json")) else { return [:] }
        return o
    }()

    @Test("generated bad CPRs, free text and CPR-like field names are not echoed")
    func generated() throws {
        var generator = SystemRandomNumberGenerator()
        let sender = Sender.municipality("813")
        var cases: [(Data, [String])] = []
        for _ in 0..<300 {
            let day = Int.random(in: 0...39, using: &generator)
            let month = Int.random(in: 0...14, using: &generator)
            let rest = Int.random(in: 0...99_999_999, using: &generator)
            var cpr = String(format: "%02d%02d%08d", day, month, rest)
            if Bool.random(using: &generator) { cpr.insert("-", at: cpr.index(cpr.startIndex, offsetBy: 6)) }
            if Int.random(in: 0..<5, using: &generator) == 0 { cpr += "7" }
            var body = Self.referral
            body["cpr"] = .string(cpr)
            cases.append((try JSONValue.object(body).encoded(), Self.forbidden(cpr)))
        }
        var withField = Self.referral
        withField["0103304123"] = .string("x")
        cases.append((try JSONValue.object(withField).encoded(), ["0103304123", "010330"]))
        var withText = Self.referral
        let secret = "Hemmelig journaltekst om borgeren"
        withText["text"] = .string(secret + String(repeating: "!", count: 4000))
        cases.append((try JSONValue.object(withText).encoded(), [secret]))
        var wrongTypeCPR = Self.referral
        wrongTypeCPR["cpr"] = .number(103_304_123)
        cases.append((try JSONValue.object(wrongTypeCPR).encoded(), ["103304123"]))

        for (body, forbidden) in cases {
            let result = Fixtures.decoder.decode(properties: Fixtures.properties("referral", sender: sender), body: body)
            for text in Self.texts(result) {
                for bad in forbidden { #expect(!text.contains(bad)) }
            }
        }
    }
}
