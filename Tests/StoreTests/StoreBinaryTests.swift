import Foundation
@testable import Store
import Testing

/// The compact encoding of case states (`StoreBinary`): what goes in comes out, the JSON of
/// stores written before it still reads, and a damaged blob throws instead of crashing.
@Suite("StoreBinary: the case state's compact encoding")
struct StoreBinaryTests {
    enum Shape: Codable, Hashable {
        case none
        case circle(radius: Double)
        case labelled(String, Int?)
        case nested(Inner)
    }

    struct Empty: Codable, Hashable {}

    struct Inner: Codable, Hashable {
        var name: String
        var when: Date
        var tags: [String]
        var maybe: Int?
    }

    enum Kind: String, Codable, Hashable { case first, second }

    struct Everything: Codable, Hashable {
        var flag: Bool
        var small: Int8
        var wide: Int64
        var negative: Int
        var unsigned: UInt64
        var ratio: Double
        var single: Float
        var text: String
        var unicode: String
        var absent: String?
        var present: String?
        var kind: Kind
        var shapes: [Shape]
        var optionals: [Int?]
        var byName: [String: Inner]
        var byNumber: [Int: String]
        var set: Set<String>
        var blob: Data
        var empty: Empty
        var grid: [[Int]]
        var when: Date
    }

    /// Sub-second: the binary encoding keeps a `Date` exactly (JSON's ISO 8601 keeps seconds).
    static let when = Date(timeIntervalSince1970: 1_795_000_000.125)

    static func sample(when: Date = when) -> Everything {
        let inner = Inner(name: "inner", when: when, tags: ["a", "", "ææ"], maybe: nil)
        return Everything(
            flag: true, small: -128, wide: .min, negative: -1, unsigned: .max, ratio: -0.5e-300, single: 3.25,
            text: "plain", unicode: "Æbleø \u{1F600} \"quoted\" \\ / \n", absent: nil, present: "here", kind: .second,
            shapes: [.none, .circle(radius: 2), .labelled("x", nil), .labelled("", 7), .nested(inner)],
            optionals: [1, nil, -3], byName: ["one": inner, "": inner], byNumber: [1: "a", -2: "b"],
            set: ["x", "y"], blob: Data([0, 1, 255]), empty: Empty(), grid: [[], [1, 2], [3]], when: when)
    }

    @Test("every kind of value comes back equal")
    func roundTrip() throws {
        let value = Self.sample()
        let data = try StoreBinary.encode(value)
        #expect(StoreBinary.isBinary(data))
        #expect(try StoreBinary.decode(Everything.self, from: data) == value)
    }

    @Test("a version-1 blob (every string written out) still decodes, and version 2 writes repeats once")
    func readsVersionOne() throws {
        let value = Self.sample()
        let one = try StoreBinary.encode(value, version: 1)
        let two = try StoreBinary.encode(value, version: 2)
        #expect(one[one.startIndex + 1] == 1 && two[two.startIndex + 1] == 2)
        #expect(StoreBinary.isBinary(one))
        #expect(try StoreBinary.decode(Everything.self, from: one) == value)
        // The sample repeats `inner` (its keys and values) three times.
        #expect(two.count < one.count)
    }

    @Test("version 2 refers to a repeated key or string value instead of writing it again")
    func repeatsAreReferences() throws {
        struct Entry: Codable, Equatable { var direction: String; var reference: String }
        let entries = (0..<4).map { _ in Entry(direction: "municipalityToRegion", reference: "SAMTYKKE-2026-0142") }
        let one = try StoreBinary.encode(entries, version: 1)
        let two = try StoreBinary.encode(entries, version: 2)
        let text = { (data: Data) in String(decoding: data, as: UTF8.self) }
        #expect(text(one).components(separatedBy: "SAMTYKKE-2026-0142").count == 5)
        #expect(text(two).components(separatedBy: "SAMTYKKE-2026-0142").count == 2)
        #expect(text(two).components(separatedBy: "direction").count == 2)
        #expect(try StoreBinary.decode([Entry].self, from: two) == entries)
        #expect(two.count * 2 < one.count)
    }

    @Test("containers of every length class (LEB128 counts of 1 to 3 bytes) come back equal")
    func containerLengths() throws {
        for count in [0, 1, 20, 200, 20_000] {
            let value = ["outer": (0..<count).map { "v\($0 % 300)" }, "after": ["x"]]
            let data = try StoreBinary.encode(value)
            #expect(try StoreBinary.decode([String: [String]].self, from: data) == value)
            #expect(try StoreBinary.decode([String: [String]].self, from: StoreBinary.encode(value, version: 1)) == value)
        }
    }

    @Test("a reference to a string that is not earlier in the blob throws")
    func referenceAhead() throws {
        // [ "a", again(0) ] is valid; again(1) and a key naming string 5 are not.
        let valid: [UInt8] = [0xDD, 0x02, 0x0A, 5, 0x08, 1, 0x61, 0x0C, 0]
        #expect(try StoreBinary.decode([String].self, from: Data(valid)) == ["a", "a"])
        var ahead = valid
        ahead[ahead.count - 1] = 1
        #expect(throws: StoreError.self) { try StoreBinary.decode([String].self, from: Data(ahead)) }
        struct One: Codable { var a: String }
        let key: [UInt8] = [0xDD, 0x02, 0x09, 4, 11, 0x08, 1, 0x61]
        #expect(throws: StoreError.self) { try StoreBinary.decode(One.self, from: Data(key)) }
    }

    @Test("a store written before this encoding holds JSON, and it still decodes")
    func readsTheJSONOfEarlierVersions() throws {
        let value = Self.sample(when: Date(timeIntervalSince1970: 1_795_000_000))
        let json = try StoreJSON.encode(value)
        #expect(!StoreBinary.isBinary(json))
        #expect(try StoreBinary.decode(Everything.self, from: json) == value)
    }

    @Test("a field a later version dropped is skipped: a case state written with its input log decodes without it")
    func skipsDroppedFields() throws {
        struct Before: Codable { var track: String; var applied: [String: [Int]]; var held: [Int] }
        struct After: Codable, Equatable { var track: String; var held: [Int] }
        let old = Before(track: "workflowA", applied: ["m-1": [1, 2], "m-2": [3]], held: [7])
        for data in [try StoreBinary.encode(old), try StoreJSON.encode(old)] {
            #expect(try StoreBinary.decode(After.self, from: data) == After(track: "workflowA", held: [7]))
        }
    }

    @Test("equal values give equal bytes, whatever order a dictionary was filled in")
    func deterministic() throws {
        var forwards: [String: Int] = [:]
        var backwards: [String: Int] = [:]
        let keys = (0..<200).map { "key-\($0)" }
        for (index, key) in keys.enumerated() { forwards[key] = index }
        for (index, key) in keys.enumerated().reversed() { backwards[key] = index }
        backwards.reserveCapacity(5_000)
        #expect(forwards == backwards)
        #expect(try StoreBinary.encode(forwards) == StoreBinary.encode(backwards))
        #expect(try StoreBinary.decode([String: Int].self, from: StoreBinary.encode(forwards)) == forwards)
    }

    @Test("smaller than the JSON it replaces")
    func smaller() throws {
        let value = Self.sample()
        #expect(try StoreBinary.encode(value).count < StoreJSON.encode(value).count)
    }

    @Test("a truncated or changed blob throws a store error; it never crashes or reads out of bounds")
    func damagedBlobs() throws {
        #expect(try StoreBinary.encode(Self.sample())[1] == 3, "the sample is written compressed")
        try damaged([UInt8](try StoreBinary.encode(Self.sample())))
        try damaged([UInt8](try StoreBinary.encode(Self.sample(), version: 2)))
        try damaged([UInt8](try StoreBinary.encode(Self.sample(), version: 1)))
    }

    private func damaged(_ data: [UInt8]) throws {
        var threw = 0
        for cut in 0..<data.count {
            do {
                _ = try StoreBinary.decode(Everything.self, from: Data(data[0..<cut]))
            } catch let error as StoreError {
                #expect(error.code == .encoding)
                threw += 1
            }
        }
        #expect(threw == data.count, "every truncation must be refused")
        for index in 2..<data.count {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var changed = data
                changed[index] ^= flip
                // Decoding may succeed with a different value (a changed character); it must not trap.
                _ = try? StoreBinary.decode(Everything.self, from: Data(changed))
            }
        }
        var trailing = data
        trailing.append(BinaryTag.null)
        #expect(throws: StoreError.self) { try StoreBinary.decode(Everything.self, from: Data(trailing)) }
    }

    /// Writes into a container after a sibling was opened beside it: the synthesized
    /// conformances never do, and a one-pass writer cannot place it.
    struct OutOfOrder: Encodable {
        enum Keys: String, CodingKey { case a, b, c }
        func encode(to encoder: any Encoder) throws {
            var outer = encoder.container(keyedBy: Keys.self)
            var first = outer.nestedContainer(keyedBy: Keys.self, forKey: .a)
            var second = outer.nestedContainer(keyedBy: Keys.self, forKey: .b)
            try second.encode(1, forKey: .c)
            try first.encode(2, forKey: .c)
        }
    }

    @Test("a container used out of order throws instead of writing a wrong blob")
    func misuseThrows() {
        #expect(throws: StoreError.self) { try StoreBinary.encode(OutOfOrder()) }
    }

    @Test("a missing key names the key, never a value")
    func missingKey() throws {
        struct Old: Codable { var name: String }
        struct New: Codable { var name: String; var added: Int }
        let data = try StoreBinary.encode(Old(name: "secret-value"))
        do {
            _ = try StoreBinary.decode(New.self, from: data)
            Issue.record("decoding without the key must fail")
        } catch let error as StoreError {
            #expect(error.message.contains("added"))
            #expect(!error.message.contains("secret-value"))
        }
    }
}
