import Foundation
import Testing

@testable import Contract

@Suite("The body parser is strict RFC 8259")
struct JSONParserTests {
    static func parse(_ text: String) -> JSONValue? { try? JSONParser.parse(Data(text.utf8)) }

    /// The decoder's rejection of `body` sent as municipality 851's `municipal-list`; nil if accepted.
    static func rejection(ofMunicipalList body: String) -> Rejection? {
        let result = Fixtures.decoder.decode(
            properties: Fixtures.properties("municipal-list", sender: .municipality("851")), body: Data(body.utf8))
        guard case .failure(let rejection) = result else { return nil }
        return rejection
    }

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

    @Test("a streamed array's elements come with their own bytes, also in a slice of a larger Data")
    func streamedElementRanges() throws {
        let text = #"{"a":1, "entries" : [ {"x": [1, 2]} ,"s\"]" ,3 , [] ,null ], "b":"entries"}"#
        let whole = Data(("xx" + text + "yy").utf8)
        let data = whole[2..<(whole.count - 2)]  // indices start at 2: ranges are in data's indices
        var seen: [(Int, JSONValue, String)] = []
        let parsed = try JSONParser.parse(data, streamingArrayAt: "entries") { index, value, range in
            seen.append((index, value, String(decoding: data[range], as: UTF8.self)))
        }
        #expect(parsed.count == 5)
        #expect(parsed.value == .object(["a": .number(1), "entries": .array([]), "b": .string("entries")]))
        #expect(seen.map(\.0) == [0, 1, 2, 3, 4])
        #expect(seen.map(\.2) == [#"{"x": [1, 2]}"#, #""s\"]""#, "3", "[]", "null"])
        // Each element's bytes parse to the element the parser handed over.
        for (_, value, bytes) in seen {
            #expect(try JSONParser.parse(Data(bytes.utf8)) == value)
        }
    }

    @Test("nesting deeper than 64 levels is rejected (docs/messages.md, strict parsing)")
    func depth() {
        func arrays(_ n: Int, around inner: String = "") -> String {
            String(repeating: "[", count: n) + inner + String(repeating: "]", count: n)
        }
        func objects(_ n: Int) -> String {
            String(repeating: #"{"a":"#, count: n - 1) + "{}" + String(repeating: "}", count: n - 1)
        }
        #expect(Self.parse(arrays(64)) != nil)
        #expect(Self.parse(arrays(64, around: "1")) != nil, "a scalar adds no level")
        #expect(Self.parse(arrays(65)) == nil)
        #expect(Self.parse(arrays(66)) == nil)
        #expect(Self.parse(objects(64)) != nil)
        #expect(Self.parse(objects(65)) == nil)
        #expect(Self.parse(String(repeating: #"{"a":["#, count: 32) + "{}" + String(repeating: "]}", count: 32)) == nil)
    }

    @Test("a body nested 65 levels deep is malformed-json, not a schema error (docs/messages.md)")
    func depthRejection() throws {
        let inner = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let rejection = try #require(Self.rejection(ofMunicipalList: #"{"schemaVersion":"1.0","x":\#(inner)}"#), "accepted")
        #expect(rejection.code == .malformedJSON)
        #expect(rejection.reason.contains("nested too deeply"))
    }

    @Test("a duplicate key is malformed-json, so no body means two things")
    func duplicateKeyRejection() throws {
        let rejection = try #require(
            Self.rejection(ofMunicipalList: #"{"schemaVersion":"1.0","schemaVersion":"2.0"}"#), "accepted")
        #expect(rejection.code == .malformedJSON)
        #expect(rejection.reason.contains("duplicate key"))
    }
}
