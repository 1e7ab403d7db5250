import Foundation
import Testing

@testable import Contract

@Suite("Scale: a list of 10,000 citizens (issue 4, test 1)")
struct ScaleTests {
    /// Fictitious CPRs: birth dates in 2030–2036 (7th digit 4), which no living person has.
    static func cpr(_ n: Int) -> String {
        let day = 1 + n % 28
        let month = 1 + (n / 28) % 12
        let year = 30 + (n / 336) % 7
        let serial = n % 1000
        return String(format: "%02d%02d%02d-4%03d", day, month, year, serial)
    }

    @Test("10,000 entries with one bad one decode entry by entry")
    func tenThousand() throws {
        guard case .object(var list) = try JSONValue.parse(Repo.data("Config/examples/municipal-list.json")),
            case .array(let sample)? = list["entries"], case .object(let template) = sample[0]
        else {
            Issue.record("example has changed shape")
            return
        }
        var entries: [JSONValue] = []
        var seen: Set<String> = []
        for n in 0..<10_000 {
            var entry = template
            let cpr = Self.cpr(n)
            #expect(seen.insert(cpr).inserted)
            entry["cpr"] = .string(n == 4_321 ? "310230-4123" : cpr)
            entries.append(.object(entry))
        }
        list["entries"] = .array(entries)
        let body = try JSONValue.object(list).encoded()
        #expect(body.count < DecoderLimits().maxBodyBytes)
        let start = ContinuousClock.now
        let decoded = try Fixtures.decoder.decode(
            properties: Fixtures.properties("municipal-list", sender: .municipality("851")), body: body
        ).get()
        let elapsed = ContinuousClock.now - start
        #expect(decoded.acceptedEntryIndices.count == 9_999)
        // Over 1 MiB: the entries stay in the body, decoded a slice at a time by the pipeline.
        #expect(decoded.deferredEntries?.count == 9_999)
        #expect(try decoded.municipalEntries(4_320..<4_322).map(\.cpr.digits) == [Self.cpr(4_320), Self.cpr(4_322)].map { $0.replacingOccurrences(of: "-", with: "") })
        #expect(decoded.rejectedEntries.map(\.index) == [4_321])
        #expect(decoded.rejectedEntries.first?.rejection.code == .invalidCPR)
        #expect(elapsed < .seconds(60), "decoding 10,000 entries took \(elapsed)")
        print("10,000-entry list: \(body.count) bytes, decoded in \(elapsed)")
    }
}
