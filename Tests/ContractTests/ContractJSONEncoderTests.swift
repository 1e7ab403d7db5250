import Foundation
import Testing

@testable import Contract

/// `ContractJSONEncoder` against the machine's `JSONEncoder` with the contract's options, byte
/// for byte. `fast` calls the hand-written encoder alone (no fallback), so a value it declined
/// would fail here instead of passing through `JSONEncoder`.
@Suite("ContractJSONEncoder: the bytes of JSONEncoder(sortedKeys, withoutEscapingSlashes)")
struct ContractJSONEncoderTests {
    static func reference<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func fast<T: Encodable>(_ value: T) throws -> Data { try ContractJSONEncoder.encode(value) }

    /// The fast encoder writes exactly the reference's bytes (and does not decline).
    static func expectSame<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try reference(value)
        let actual = try fast(value)
        #expect(
            actual == expected,
            "\(String(decoding: actual, as: UTF8.self)) != \(String(decoding: expected, as: UTF8.self))",
            sourceLocation: sourceLocation)
    }

    /// The fast encoder declines; `ContractEncoding.encode` still gives the reference's bytes.
    static func expectFallback<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(throws: ContractJSONEncoder.Unsupported.self, sourceLocation: sourceLocation) { try fast(value) }
        #expect(try ContractEncoding.encode(value) == reference(value), sourceLocation: sourceLocation)
    }

    // MARK: (a) the examples

    /// `body` decoded to its contract type (inbound types as the decoder types them).
    static func message(_ type: MessageType, _ body: Data) throws -> any ContractMessage {
        let d = JSONDecoder()
        switch type {
        case .receipt: return try d.decode(Receipt.self, from: body)
        case .cvReferral: return try d.decode(CVReferral.self, from: body)
        case .assessmentRequest: return try d.decode(AssessmentRequest.self, from: body)
        case .coordinatedCourse: return try d.decode(CoordinatedCourse.self, from: body)
        case .contactStatusRequest: return try d.decode(ContactStatusRequest.self, from: body)
        case .decision: return try d.decode(Decision.self, from: body)
        case .handover: return try d.decode(Handover.self, from: body)
        case .responsibilityTransfer: return try d.decode(ResponsibilityTransfer.self, from: body)
        case .reconciliationReport: return try d.decode(ReconciliationReport.self, from: body)
        case .consentWithdrawn: return try d.decode(ConsentWithdrawn.self, from: body)
        case .deadlineWarning: return try d.decode(DeadlineWarning.self, from: body)
        case .municipalList, .clinicList, .contactStatus, .referral, .consentUpdate, .assessment, .municipalPosition,
            .meetingOutcome, .transitionProposal, .jointPlan, .knowledgeHandover, .patientChoice, .treatmentStarted:
            switch try MessageDecoder.typed(type, from: body) {
            case .municipalList(let m): return m
            case .clinicList(let m): return m
            case .contactStatus(let m): return m
            case .referral(let m): return m
            case .consentUpdate(let m): return m
            case .assessment(let m): return m
            case .municipalPosition(let m): return m
            case .meetingOutcome(let m): return m
            case .transitionProposal(let m): return m
            case .jointPlan(let m): return m
            case .knowledgeHandover(let m): return m
            case .patientChoice(let m): return m
            case .treatmentStarted(let m): return m
            }
        }
    }

    @Test("every example body, decoded to its type, re-encodes to JSONEncoder's bytes", arguments: ExampleTests.files)
    func example(file: String) throws {
        let type = try #require(MessageType(rawValue: String(file.split(separator: ".")[0])))
        let message = try Self.message(type, Repo.data("Config/examples/\(file)"))
        try Self.expectSame(message)
        #expect(try message.encodedBody() == Self.reference(message))
    }

    @Test("every message type has an example here, so the fast path covers them all")
    func examplesCoverTypes() {
        let covered = Set(ExampleTests.files.compactMap { MessageType(rawValue: String($0.split(separator: ".")[0])) })
        #expect(covered == Set(MessageType.allCases))
    }

    // MARK: (b) JSONValue trees

    @Test("JSONValue trees: nested objects and arrays, empty containers, null, booleans, integers")
    func jsonValues() throws {
        let values: [JSONValue] = [
            .null, .bool(true), .bool(false), .number(0), .number(-0.0), .number(42), .number(-7),
            .number(8_999_999_999_999_999), .number(-8_999_999_999_999_999), .string(""), .string("x"),
            .array([]), .object([:]), .array([.array([]), .object([:]), .array([.array([.null])])]),
            .object([
                "": .null, "empty": .object([:]), "list": .array([]),
                "deep": .object(["a": .object(["b": .array([.number(1), .bool(false)])])]),
            ]),
            .array([.null, .bool(true), .number(3), .string("s"), .array([.object(["k": .string("v")])])]),
            .object(["b": .number(2), "a": .number(1), "c": .array([.number(3), .number(2), .number(1)])]),
        ]
        for value in values {
            try Self.expectSame(value)
            #expect(try value.encoded() == Self.reference(value))
        }
    }

    // MARK: (c) strings

    static let specialStrings: [String] = {
        var strings = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }
        strings += [
            "\"", "\\", "/", "\u{7F}", "a/b", "http://x.example/p?q=1", "é", "e\u{301}", "Sørensen", "日本語",
            "👍🏽", "👨‍👩‍👧", "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{10FFFF}", "\u{0}",
            "\u{1}\u{1F}\"\\\u{8}\u{C}\n\r\t/\u{7F}æ🎉", "tab\there", "line\nbreak", "\r\n", "\\\"", "\"\"",
            "end\\", "\u{85}", "\u{A0}", String(repeating: "ab\u{1}", count: 100),
        ]
        return strings
    }()

    @Test("strings: every escape, every control character, U+007F, non-ASCII, emoji, as values and as keys")
    func strings() throws {
        for text in Self.specialStrings {
            try Self.expectSame(text)
            try Self.expectSame([text])
            try Self.expectSame(["key": text])
            try Self.expectSame([text: text])
            try Self.expectSame(JSONValue.object([text: .string(text), "z": .array([.string(text)])]))
        }
        // The escapes themselves, spelled out (the reference could change with Foundation).
        #expect(String(decoding: try Self.fast("\u{0}\u{1}\u{8}\u{9}\u{A}\u{C}\u{D}\u{1F}\"\\/\u{7F}"), as: UTF8.self)
            == #""\u0000\u0001\b\t\n\f\r\u001f\"\\/\#u{7F}""#)
    }

    // MARK: (d) key order

    @Test("keys are sorted as JSONEncoder sorts them")
    func keyOrder() throws {
        let keys = ["A", "Z", "_x", "a1", "a10", "a2", "aB", "a_b", "ab", "b-c", "b.c", "bc", "e", "f", "é"]
        let dictionary = Dictionary(uniqueKeysWithValues: keys.reversed().enumerated().map { ($1, $0) })
        try Self.expectSame(dictionary)
        let text = String(decoding: try Self.fast(dictionary), as: UTF8.self)
        let written = text.split(separator: ",").map {
            $0.split(separator: ":")[0].trimmingCharacters(in: CharacterSet(charactersIn: "{\""))
        }
        #expect(written == keys)
        // UTF-8 byte order, not String's `<`: "e\u{301}" (bytes 65 CC 81) before "f", though
        // it compares as "é" (after "f") as a String.
        try Self.expectSame(["f": 1, "e\u{301}": 2, "\u{212B}": 3, "~": 4, "\u{7F}": 5, "Ä": 6])
        #expect(String(decoding: try Self.fast(["f": 1, "e\u{301}": 2]), as: UTF8.self) == "{\"e\u{301}\":2,\"f\":1}")
        // Int keys become string keys, sorted as strings.
        try Self.expectSame([10: "ten", 9: "nine", -1: "minus one", 100: "hundred"])
        // An array of objects: each sorted on its own.
        try Self.expectSame([["b": 1, "a": 2], ["d": 3, "c": 4], [:]])
    }

    // MARK: (e) optional fields

    @Test("optional fields: absent ones are left out, an explicit nil is null")
    func optionals() throws {
        let sender = SenderRef(kind: .clinic, id: "amb-syd-aalborg")
        let at = try #require(Timestamp(iso: "2026-11-23T09:30:02+01:00"))
        let bare = Receipt(
            receiptFor: .init(messageId: nil, messageType: nil, sender: sender), status: .ok, receivedAt: at)
        try Self.expectSame(bare)
        #expect(String(decoding: try Self.fast(bare), as: UTF8.self).contains(#""messageId":null,"messageType":null"#))
        let full = Receipt(
            receiptFor: .init(messageId: "m-1", messageType: "assessment", sender: sender), status: .fatalError,
            receivedAt: at, code: "invalid-field", reason: "a \"reason\"\nwith C:\\path", pointer: "/entries/0/cpr",
            property: "type", acceptedEntries: 3,
            rejectedEntries: [.init(index: 1, code: "c", pointer: "/entries/1", reason: "r")], heldEntries: [0, 2])
        try Self.expectSame(full)
        try Self.expectSame(Optionals(a: nil, b: nil, c: nil))
        try Self.expectSame(Optionals(a: "x", b: 1, c: [nil, "y"]))
        try Self.expectSame(Optional<String>.none)
        try Self.expectSame([Optional<Int>.none, 1])
    }

    struct Optionals: Encodable {
        var a: String?
        var b: Int?
        var c: [String?]?
        enum CodingKeys: String, CodingKey { case a, b, c, d }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(a, forKey: .a)
            try container.encode(b, forKey: .b)
            try container.encodeIfPresent(c, forKey: .c)
            try container.encodeNil(forKey: .d)
        }
    }

    // MARK: (f) what falls back

    struct WithDouble: Codable { var name = "x"; var ratio: Double }
    struct WithFloat: Codable { var values: [Float] }
    struct WithDate: Codable { var at: Date? }
    struct WithData: Codable { var blob: [Data] }
    struct WithURL: Codable { var link: [String: URL] }
    struct WithDecimal: Codable { var amount: Decimal }

    @Test("a Double (or Float, Date, Data, URL, Decimal) falls back to JSONEncoder, with its bytes")
    func fallbacks() throws {
        for ratio in [0.5, 1, -0.0, 1e20, 1e-7, 100, 0.1, 123_456_789.125] {
            try Self.expectFallback(WithDouble(ratio: ratio))
        }
        try Self.expectFallback(WithFloat(values: [1.5, 2]))
        try Self.expectFallback(WithDate(at: Date(timeIntervalSince1970: 1_000_000)))
        try Self.expectSame(WithDate(at: nil))
        try Self.expectFallback(WithData(blob: [Data([1, 2, 3])]))
        try Self.expectFallback(WithURL(link: ["a": try #require(URL(string: "https://x.example/a/b"))]))
        try Self.expectFallback(WithDecimal(amount: Decimal(string: "12.50")!))
        try Self.expectFallback(JSONValue.object(["a": .array([.number(1), .number(0.25)])]))
        try Self.expectFallback(JSONValue.number(1e16))
        let value = JSONValue.array([.number(2.5)])
        #expect(try value.encoded() == Self.reference(value))
    }

    /// Keys twice in one object: JSONEncoder keeps one (and treats canonically equal keys as
    /// one); the fast encoder leaves that to it.
    struct DuplicateKeys: Encodable {
        var keys: [String]
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for (index, key) in keys.enumerated() { try container.encode(index, forKey: Key(stringValue: key)) }
        }
    }

    @Test("a key written twice, or two canonically equal keys, fall back to JSONEncoder")
    func duplicateKeys() throws {
        try Self.expectFallback(DuplicateKeys(keys: ["a", "b", "a"]))
        try Self.expectFallback(DuplicateKeys(keys: ["é", "e\u{301}"]))
        try Self.expectFallback(DuplicateKeys(keys: ["K", "\u{212A}"]))
        try Self.expectSame(DuplicateKeys(keys: ["é", "e", "\u{301}"]))
    }

    // MARK: the rest of the Encoder protocol

    struct Nested: Encodable {
        enum Keys: String, CodingKey { case z, a, list, inner, base }
        enum InnerKeys: String, CodingKey { case y, b }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var inner = container.nestedContainer(keyedBy: InnerKeys.self, forKey: .inner)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try container.encode("zz", forKey: .z)
            try inner.encode(true, forKey: .y)
            try list.encode(1)
            var listed = list.nestedContainer(keyedBy: InnerKeys.self)
            var sublist = list.nestedUnkeyedContainer()
            try list.encode("after")
            try listed.encode("b", forKey: .b)
            try sublist.encodeNil()
            try inner.encode(Int8.min, forKey: .b)
            try container.encode(Empty(), forKey: .a)
            try Base(tag: "base").encode(to: container.superEncoder(forKey: .base))
            try Base(tag: "super").encode(to: container.superEncoder())
        }
    }

    struct Empty: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    class Base: Encodable {
        let tag: String
        init(tag: String) { self.tag = tag }
        enum Keys: String, CodingKey { case tag }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(tag, forKey: .tag)
        }
    }

    final class Derived: Base {
        let extra: [UInt64]
        init(tag: String, extra: [UInt64]) {
            self.extra = extra
            super.init(tag: tag)
        }
        enum DerivedKeys: String, CodingKey { case extra, aa }
        override func encode(to encoder: any Encoder) throws {
            try super.encode(to: encoder)  // the same keyed container, asked for twice
            var container = encoder.container(keyedBy: DerivedKeys.self)
            try container.encode(extra, forKey: .extra)
            try container.encode(Int64.min, forKey: .aa)
        }
    }

    @Test("nested, super and reused containers, empty values, every integer type, top-level scalars")
    func protocolSurface() throws {
        try Self.expectSame(Nested())
        try Self.expectSame(Derived(tag: "d", extra: [0, .max]))
        try Self.expectSame([Empty(), Empty()])
        try Self.expectSame(["e": Empty()])
        try Self.expectSame([Optional(Empty()), nil])
        try Self.expectSame(Int8.min)
        try Self.expectSame([Int16.min, Int16.max])
        try Self.expectSame([Int32.min, Int32.max])
        try Self.expectSame([Int64.min, Int64.max])
        try Self.expectSame([Int.min, Int.max, 0])
        try Self.expectSame([UInt8.max])
        try Self.expectSame([UInt16.max])
        try Self.expectSame([UInt32.max])
        try Self.expectSame([UInt.max, 0])
        try Self.expectSame([Int128.min, Int128.max])
        try Self.expectSame([UInt128.max])
        try Self.expectSame(true)
        try Self.expectSame("top")
        try Self.expectSame([true, false])
        try Self.expectSame(Set(["only"]))
        // JSONEncoder throws for a top-level value that encodes nothing; so does encode.
        #expect(throws: ContractJSONEncoder.Unsupported.self) { try Self.fast(Empty()) }
        #expect(throws: EncodingError.self) { try ContractEncoding.encode(Empty()) }
    }

    @Test("nesting: as deep as JSONEncoder writes, and its error one level deeper")
    func depth() throws {
        func nested(_ depth: Int) -> JSONValue {
            (1..<depth).reduce(JSONValue.array([])) { inner, _ in .array([inner]) }
        }
        try Self.expectSame(nested(511))
        #expect(throws: ContractJSONEncoder.Unsupported.self) { try Self.fast(nested(512)) }
        #expect(throws: EncodingError.self) { try ContractEncoding.encode(nested(512)) }
    }

    /// A value's own error reaches the caller (from JSONEncoder, which runs it again).
    struct Failing: Encodable {
        struct Failure: Error {}
        func encode(to encoder: any Encoder) throws { throw Failure() }
    }

    @Test("an error thrown by a value's encode(to:) reaches the caller")
    func errors() {
        #expect(throws: Failing.Failure.self) { try ContractEncoding.encode(["a": Failing()]) }
    }

    // MARK: randomized

    /// SplitMix64: a fixed seed gives the same trees on every run.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let alphabet: [Character] = Array(
        "aZ09_-./ \\\"'{}[]:,\u{0}\u{1}\u{8}\u{9}\u{A}\u{C}\u{D}\u{1B}\u{1F}\u{7F}éøÅ日€\u{301}\u{2028}👍🏽🇩🇰")

    static func randomString(_ rng: inout SeededGenerator, maxLength: Int = 12) -> String {
        String((0..<Int.random(in: 0...maxLength, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    static func randomValue(_ rng: inout SeededGenerator, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 0 ? 8 : 5), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number(Double(Int64.random(in: -1_000_000_000_000_000...1_000_000_000_000_000, using: &rng)))
        case 3: return .number(Double(Int.random(in: -1000...1000, using: &rng)))
        case 4: return .string(randomString(&rng))
        case 5: return .array((0..<Int.random(in: 0...5, using: &rng)).map { _ in randomValue(&rng, depth: depth - 1) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                object[randomString(&rng, maxLength: 6)] = randomValue(&rng, depth: depth - 1)
            }
            return .object(object)
        }
    }

    @Test("400 random JSONValue trees and 400 random strings, byte for byte")
    func randomized() throws {
        var rng = SeededGenerator(state: 0xDD_2026)
        for _ in 0..<400 {
            try Self.expectSame(Self.randomValue(&rng, depth: 5))
        }
        for _ in 0..<400 {
            let text = Self.randomString(&rng, maxLength: 40)
            try Self.expectSame(text)
            try Self.expectSame([text: [text]])
        }
        // With fractions mixed in: encode falls back for those trees and still matches.
        for _ in 0..<50 {
            let fraction = Double(Int.random(in: 1...999, using: &rng)) / 8
            let tree = JSONValue.array([Self.randomValue(&rng, depth: 3), .number(fraction)])
            #expect(try ContractEncoding.encode(tree) == Self.reference(tree))
        }
    }
}
