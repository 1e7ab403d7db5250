import Foundation
import Testing

@testable import Contract

@Suite("The body parser is strict RFC 8259")
struct JSONParserTests {
    static func parse(_ text: String) -> JSONValue? { try? JSONParser.parse(Data(text.utf8)) }

    @Test("well-formed values parse to the right JSONValue")
    func accepts() {
        #expect(Self.parse(#" {"a": [1, -2.5e3, true, false, null, "x\"\\\/\n\u00e6\ud83d\ude00"]} "#)
            == .object(["a": .array([.number(1), .number(-2500), .bool(true), .bool(false), .null, .string("x\"\\/\næ😀")])]))
        #expect(Self.parse("0") == .number(0))
        #expect(Self.parse("\"Sørensen\"") == .string("Sørensen"))
        #expect(Self.parse("[]") == .array([]))
        #expect(Self.parse("{}") == .object([:]))
    }

    @Test("malformed input is rejected", arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "-", "1e", "tru", "nul", "'a'", "{a:1}",
        "{\"a\":1 \"b\":2}", "[1 2]", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{01}b\"", "\"abc",
        "{\"a\":1,\"a\":2}", "1 2", "NaN", "Infinity", "1e999",
    ])
    func rejects(text: String) {
        #expect(Self.parse(text) == nil)
    }

    @Test("nesting deeper than 64 levels is rejected")
    func depth() {
        #expect(Self.parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)) != nil)
        #expect(Self.parse(String(repeating: "[", count: 66) + String(repeating: "]", count: 66)) == nil)
    }

    @Test("a duplicate key is malformed-json, so no body means two things")
    func duplicateKeyRejection() throws {
        let body = Data(#"{"schemaVersion":"1.0","schemaVersion":"2.0"}"#.utf8)
        let result = Fixtures.decoder.decode(
            properties: Fixtures.properties("municipal-list", sender: .municipality("851")), body: body)
        guard case .failure(let rejection) = result else {
            Issue.record("accepted")
            return
        }
        #expect(rejection.code == .malformedJSON)
        #expect(rejection.reason.contains("duplicate key"))
    }
}
