import Foundation

/// The contract's JSON encoder for outbound bodies (and `JSONValue.encoded()`): the bytes
/// Foundation's `JSONEncoder` writes with `[.sortedKeys, .withoutEscapingSlashes]`
/// (swift-foundation on Linux), for about a third of its CPU. `JSONEncoder` builds a tree of
/// enums and dictionaries per message and an encoder per nested value; it was a measurable
/// share of the daemon's CPU per routed citizen.
///
/// What it writes, as `JSONEncoder` does (swift-foundation's `JSONWriter`):
/// - compact UTF-8, no insignificant whitespace; object keys sorted by their UTF-8 bytes
///   (`a.utf8.lexicographicallyPrecedes(b.utf8)`, which is what swift-foundation sorts by
///   outside Darwin; it equals `String`'s `<` for NFC keys, and the contract's are ASCII);
/// - strings with `"` `\` escaped, U+0008 U+000C `\n` `\r` `\t` as `\b` `\f` `\n` `\r` `\t`,
///   other controls below U+0020 as `\u00xx` (lowercase hex), everything else raw (`/`,
///   U+007F, non-ASCII, U+2028);
/// - integers in decimal, `true`/`false`, `null` for `encodeNil`; a nested value that
///   encodes nothing as `{}`.
///
/// What it declines, by throwing `Unsupported` so that the caller falls back to
/// `JSONEncoder` for the whole value (`ContractEncoding.encode`):
/// - `Double`, `Float` (and what encodes through them: `Float16`, `CGFloat`): left to
///   `JSONEncoder` on purpose (today its `description` with a trailing `.0` cut, NaN and the
///   infinities an error; no contract field is a floating-point number);
/// - `Date`, `Data`, `URL`, `Decimal`: the types `JSONEncoder` recognises by a dynamic cast
///   and encodes its own way (checked here by metatype, without a cast per value);
/// - an object with the same key twice (`JSONEncoder` keeps one of them, by its own rules,
///   and treats keys `String` calls equal, e.g. NFC and NFD spellings, as one);
/// - nesting deeper than `JSONEncoder` writes (512 containers), a top-level value that
///   encodes nothing (`JSONEncoder` throws);
/// - uses of the `Encoder` protocol that `JSONEncoder` resolves in ways of its own or traps
///   on: a second value into one single-value container, a keyed container requested where
///   an unkeyed one (or a value) was written, `superEncoder()` of an unkeyed container.
///
/// None of the contract's outbound messages (Messages.swift, Receipt.swift) holds any of
/// these: their fields are strings, integers, booleans, string enums, `CalendarDate`,
/// `Timestamp` and `CPR` (strings through a single-value container), arrays and nested
/// structs. A `JSONValue` declines only for a number that is not a whole number below 9e15.
///
/// `codingPath` is always empty and `userInfo` empty: no contract type reads them, and
/// keeping a path per value would cost what this encoder saves. An error thrown by a value's
/// own `encode(to:)` is passed on as is; `ContractEncoding.encode` then asks `JSONEncoder`,
/// so the error the caller sees is `JSONEncoder`'s (with its coding path).
///
/// How: `encode(to:)` runs into a tree of containers held in flat arrays (`JSONTree`);
/// scalar values are written as their final JSON text into one byte buffer as they arrive,
/// keys as their raw UTF-8 beside them. The tree is then written out once, each object's
/// members sorted by key as it is written. The Codable protocols have no "close", so keys
/// cannot be sorted earlier.
enum ContractJSONEncoder {
    /// The value uses something this encoder leaves to `JSONEncoder` (see the type's doc).
    struct Unsupported: Error, CustomStringConvertible {
        let reason: String
        init(_ reason: String) { self.reason = reason }
        var description: String { "not encoded by ContractJSONEncoder: \(reason)" }
    }

    /// `value` as compact JSON with sorted keys, the bytes `JSONEncoder` would write; throws
    /// `Unsupported` for what it leaves to `JSONEncoder`, and whatever `value` throws.
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let tree = JSONTree()
        try tree.encodeValue(value, into: JSONTree.root)
        if let irregular = tree.irregular { throw Unsupported(irregular) }
        return Data(try tree.serialized())
    }
}

/// The encoding in progress: containers and their members in flat arrays (no object per
/// node), scalar JSON text and raw key bytes in one buffer.
final class JSONTree {
    /// A value's place: the root, an object member or an array element.
    struct Member {
        /// The key's raw UTF-8 in `bytes` (empty range for array elements and the root).
        var keyStart: Int
        var keyEnd: Int
        var value: Value = .none
        /// The next member of the same container, -1 for the last.
        var next: Int = -1
    }

    enum Value {
        /// Nothing encoded (yet): written as `{}`, as `JSONEncoder` writes a nested value
        /// that encodes nothing.
        case none
        /// Final JSON text in `bytes`.
        case text(start: Int, end: Int)
        /// An index into `containers`.
        case container(Int)
    }

    struct Container {
        let isObject: Bool
        var first = -1
        var last = -1
        var count = 0
    }

    /// The member that holds the top-level value.
    static let root = 0

    // Unchecked: one encoding runs on one thread, and no access to these overlaps another
    // (the closures that append to `bytes` touch nothing else). The runtime's exclusivity
    // checks on a class's properties were a quarter of the encoder's time.
    @exclusivity(unchecked) var bytes: [UInt8] = []
    @exclusivity(unchecked) var members: [Member] = [Member(keyStart: 0, keyEnd: 0)]
    @exclusivity(unchecked) var containers: [Container] = []
    /// Why this encoding must be left to `JSONEncoder`, when the protocol was used in a way
    /// it handles its own way (found where no error can be thrown, e.g. in `container(keyedBy:)`).
    var irregular: String?

    init() {
        bytes.reserveCapacity(1_024)
        members.reserveCapacity(64)
        containers.reserveCapacity(16)
    }

    // MARK: building

    /// Appends a member to `container` (keyed when `key` is given); returns its index.
    func member(in container: Int, key: String? = nil) -> Int {
        let keyStart = bytes.count
        if var key {
            key.withUTF8 { bytes.append(contentsOf: $0) }
        }
        let index = members.count
        members.append(Member(keyStart: keyStart, keyEnd: bytes.count))
        let last = containers[container].last
        if last >= 0 { members[last].next = index } else { containers[container].first = index }
        containers[container].last = index
        containers[container].count += 1
        return index
    }

    /// Appends a new container as a member of `container`; returns the new one's index.
    func nestedContainer(in container: Int, key: String?, isObject: Bool) -> Int {
        let slot = member(in: container, key: key)
        let nested = containers.count
        containers.append(Container(isObject: isObject))
        members[slot].value = .container(nested)
        return nested
    }

    /// The container of the value at `slot`: a new one, or the one already there when the
    /// same kind is requested again (as `JSONEncoder` returns the same storage).
    func container(at slot: Int, isObject: Bool) -> Int {
        switch members[slot].value {
        case .container(let existing) where containers[existing].isObject == isObject:
            return existing
        case .none:
            break
        case .text, .container:
            irregular = "a \(isObject ? "keyed" : "unkeyed") container requested where another value was encoded"
        }
        let index = containers.count
        containers.append(Container(isObject: isObject))
        if case .none = members[slot].value { members[slot].value = .container(index) }
        return index
    }

    /// Marks the start of a scalar value for `slot`; `finish` records it.
    @inline(__always)
    func begin(_ slot: Int) -> Int {
        if case .none = members[slot].value {} else {
            irregular = "a second value encoded into one single-value container"
        }
        return bytes.count
    }

    @inline(__always)
    func finish(_ slot: Int, from start: Int) {
        members[slot].value = .text(start: start, end: bytes.count)
    }

    func null(_ slot: Int) {
        let start = begin(slot)
        append("null")
        finish(slot, from: start)
    }

    func bool(_ value: Bool, _ slot: Int) {
        let start = begin(slot)
        append(value ? "true" : "false")
        finish(slot, from: start)
    }

    @inline(__always)
    private func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func integer(_ value: some FixedWidthInteger, _ slot: Int) {
        let start = begin(slot)
        var text = String(value)
        text.withUTF8 { bytes.append(contentsOf: $0) }
        finish(slot, from: start)
    }

    func string(_ value: String, _ slot: Int) {
        let start = begin(slot)
        bytes.append(0x22)
        var value = value
        value.withUTF8 { JSONTree.appendEscaped($0, to: &bytes) }
        bytes.append(0x22)
        finish(slot, from: start)
    }

    /// Writes one value of any type into `slot`.
    func encodeValue<T: Encodable>(_ value: T, into slot: Int) throws {
        // By metatype, not by cast: a cast per value costs more than most values' bytes.
        // The bit casts are between identical types.
        if T.self == String.self {
            string(unsafeBitCast(value, to: String.self), slot)
        } else if T.self == Int.self {
            integer(unsafeBitCast(value, to: Int.self), slot)
        } else if T.self == Bool.self {
            bool(unsafeBitCast(value, to: Bool.self), slot)
        } else if T.self == Date.self || T.self == Data.self || T.self == URL.self || T.self == Decimal.self {
            // JSONEncoder finds these by a dynamic cast and writes them by its strategies.
            throw ContractJSONEncoder.Unsupported("\(T.self)")
        } else {
            try value.encode(to: JSONTreeEncoder(tree: self, slot: slot))
        }
    }

    /// `utf8` with JSONWriter's escapes (`withoutEscapingSlashes`), without quotes.
    static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var mark = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
            if index > mark { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[mark..<index])) }
            out.append(0x5C)
            switch byte {
            case 0x22, 0x5C: out.append(byte)
            case 0x08: out.append(0x62)  // b
            case 0x0C: out.append(0x66)  // f
            case 0x0A: out.append(0x6E)  // n
            case 0x0D: out.append(0x72)  // r
            case 0x09: out.append(0x74)  // t
            default:
                // \u00xx, lowercase hex (the high digit is 0 or 1)
                out.append(0x75)
                out.append(0x30)
                out.append(0x30)
                out.append(0x30 + (byte >> 4))
                let low = byte & 0x0F
                out.append(low < 10 ? 0x30 + low : 0x61 - 10 + low)
            }
            mark = index + 1
        }
        if utf8.count > mark { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[mark...])) }
    }

    // MARK: writing out

    /// The finished JSON text.
    func serialized() throws -> [UInt8] {
        let rootValue = members[JSONTree.root].value
        guard !rootValue.isNone else {
            throw ContractJSONEncoder.Unsupported("the top-level value encoded nothing")
        }
        return try bytes.withUnsafeBufferPointer { bytes in
            var writer = JSONTreeWriter(bytes: bytes, members: members, containers: containers)
            writer.out.reserveCapacity(bytes.count + members.count * 4)
            try writer.write(rootValue, depth: 0)
            return writer.out
        }
    }
}

extension JSONTree.Value {
    var isNone: Bool {
        if case .none = self { true } else { false }
    }
}

/// Writes a `JSONTree` out, objects with sorted members.
struct JSONTreeWriter {
    /// JSONWriter's limit: it throws for a container nested this deep.
    static let maximumDepth = 512

    let bytes: UnsafeBufferPointer<UInt8>
    let members: [JSONTree.Member]
    let containers: [JSONTree.Container]
    var out: [UInt8] = []
    /// Members of the objects being written, sorted; each object uses the end of it and
    /// removes its part when done (one buffer for all of them).
    var order: [Int] = []

    init(bytes: UnsafeBufferPointer<UInt8>, members: [JSONTree.Member], containers: [JSONTree.Container]) {
        self.bytes = bytes
        self.members = members
        self.containers = containers
    }

    mutating func write(_ value: JSONTree.Value, depth: Int) throws {
        switch value {
        case .none:
            out.append(0x7B)  // {
            out.append(0x7D)  // }
        case .text(let start, let end):
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
        case .container(let index):
            guard depth + 1 < Self.maximumDepth else {
                throw ContractJSONEncoder.Unsupported("containers nested \(Self.maximumDepth) deep")
            }
            if containers[index].isObject {
                try writeObject(containers[index], depth: depth + 1)
            } else {
                try writeArray(containers[index], depth: depth + 1)
            }
        }
    }

    private mutating func writeArray(_ container: JSONTree.Container, depth: Int) throws {
        out.append(0x5B)  // [
        var member = container.first
        while member >= 0 {
            if member != container.first { out.append(0x2C) }  // ,
            try write(members[member].value, depth: depth)
            member = members[member].next
        }
        out.append(0x5D)  // ]
    }

    private mutating func writeObject(_ container: JSONTree.Container, depth: Int) throws {
        let base = order.count
        var member = container.first
        while member >= 0 {
            order.append(member)
            member = members[member].next
        }
        let end = order.count
        if end - base > 1 {
            let (members, bytes) = (self.members, self.bytes)
            order[base..<end].sort { Self.keyPrecedes($0, $1, members, bytes) }
            try checkDistinctKeys(base..<end)
        }
        out.append(0x7B)  // {
        for position in base..<end {
            if position > base { out.append(0x2C) }  // ,
            let entry = members[order[position]]
            out.append(0x22)
            JSONTree.appendEscaped(UnsafeBufferPointer(rebasing: bytes[entry.keyStart..<entry.keyEnd]), to: &out)
            out.append(0x22)
            out.append(0x3A)  // :
            try write(entry.value, depth: depth)
        }
        out.append(0x7D)  // }
        order.removeSubrange(base..<end)
    }

    /// UTF-8 byte order, as swift-foundation's JSONWriter sorts keys.
    private static func keyPrecedes(
        _ a: Int, _ b: Int, _ members: [JSONTree.Member], _ bytes: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        let a = members[a]
        let b = members[b]
        let common = min(a.keyEnd - a.keyStart, b.keyEnd - b.keyStart)
        var offset = 0
        while offset < common {
            let x = bytes[a.keyStart + offset]
            let y = bytes[b.keyStart + offset]
            if x != y { return x < y }
            offset += 1
        }
        return a.keyEnd - a.keyStart < b.keyEnd - b.keyStart
    }

    private func keyBytes(_ member: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[members[member].keyStart..<members[member].keyEnd])
    }

    /// Throws when two members of one object have keys `String` calls equal: equal bytes
    /// (next to each other once sorted) or, only possible with non-ASCII keys, canonically
    /// equivalent ones. `JSONEncoder` stores an object's members in a dictionary and keeps
    /// one of them; which one is its business.
    private func checkDistinctKeys(_ range: Range<Int>) throws {
        var nonASCII = false
        for position in range {
            let key = keyBytes(order[position])
            if position > range.lowerBound, key.elementsEqual(keyBytes(order[position - 1])) {
                throw ContractJSONEncoder.Unsupported("a key encoded twice in one object")
            }
            if !nonASCII { nonASCII = key.contains { $0 >= 0x80 } }
        }
        guard nonASCII else { return }
        var seen = Set<String>(minimumCapacity: range.count)
        for position in range {
            guard seen.insert(String(decoding: keyBytes(order[position]), as: UTF8.self)).inserted else {
                throw ContractJSONEncoder.Unsupported("two keys of one object are equal as Strings")
            }
        }
    }
}

// MARK: - the Codable protocols

/// The `Encoder` of one value (and its single-value container): the tree and the member
/// the value goes into. A struct of two words, so passing it as `any Encoder` allocates
/// nothing.
struct JSONTreeEncoder: Encoder, SingleValueEncodingContainer {
    let tree: JSONTree
    let slot: Int

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(
            JSONTreeKeyedContainer<Key>(tree: tree, container: tree.container(at: slot, isObject: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        JSONTreeUnkeyedContainer(tree: tree, container: tree.container(at: slot, isObject: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() throws { tree.null(slot) }
    func encode(_ value: Bool) throws { tree.bool(value, slot) }
    func encode(_ value: String) throws { tree.string(value, slot) }
    func encode(_ value: Double) throws { throw ContractJSONEncoder.Unsupported("Double") }
    func encode(_ value: Float) throws { throw ContractJSONEncoder.Unsupported("Float") }
    func encode(_ value: Int) throws { tree.integer(value, slot) }
    func encode(_ value: Int8) throws { tree.integer(value, slot) }
    func encode(_ value: Int16) throws { tree.integer(value, slot) }
    func encode(_ value: Int32) throws { tree.integer(value, slot) }
    func encode(_ value: Int64) throws { tree.integer(value, slot) }
    func encode(_ value: Int128) throws { tree.integer(value, slot) }
    func encode(_ value: UInt) throws { tree.integer(value, slot) }
    func encode(_ value: UInt8) throws { tree.integer(value, slot) }
    func encode(_ value: UInt16) throws { tree.integer(value, slot) }
    func encode(_ value: UInt32) throws { tree.integer(value, slot) }
    func encode(_ value: UInt64) throws { tree.integer(value, slot) }
    func encode(_ value: UInt128) throws { tree.integer(value, slot) }

    func encode<T: Encodable>(_ value: T) throws {
        // JSONEncoder encodes the value into this same encoder; so does this one (the slot
        // must still be empty, as JSONEncoder requires).
        _ = tree.begin(slot)
        try tree.encodeValue(value, into: slot)
    }
}

struct JSONTreeKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let tree: JSONTree
    let container: Int

    var codingPath: [any CodingKey] { [] }

    private func slot(_ key: Key) -> Int { tree.member(in: container, key: key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws { tree.null(slot(key)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { tree.bool(value, slot(key)) }
    mutating func encode(_ value: String, forKey key: Key) throws { tree.string(value, slot(key)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { throw ContractJSONEncoder.Unsupported("Double") }
    mutating func encode(_ value: Float, forKey key: Key) throws { throw ContractJSONEncoder.Unsupported("Float") }
    mutating func encode(_ value: Int, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: Int128, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { tree.integer(value, slot(key)) }
    mutating func encode(_ value: UInt128, forKey key: Key) throws { tree.integer(value, slot(key)) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try tree.encodeValue(value, into: slot(key))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(JSONTreeKeyedContainer<NestedKey>(
            tree: tree, container: tree.nestedContainer(in: container, key: key.stringValue, isObject: true)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        JSONTreeUnkeyedContainer(
            tree: tree, container: tree.nestedContainer(in: container, key: key.stringValue, isObject: false))
    }

    /// The member `"super"`, as `JSONEncoder` names it.
    mutating func superEncoder() -> any Encoder {
        JSONTreeEncoder(tree: tree, slot: tree.member(in: container, key: "super"))
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        JSONTreeEncoder(tree: tree, slot: slot(key))
    }
}

struct JSONTreeUnkeyedContainer: UnkeyedEncodingContainer {
    let tree: JSONTree
    let container: Int

    var codingPath: [any CodingKey] { [] }
    var count: Int { tree.containers[container].count }

    private func slot() -> Int { tree.member(in: container) }

    mutating func encodeNil() throws { tree.null(slot()) }
    mutating func encode(_ value: Bool) throws { tree.bool(value, slot()) }
    mutating func encode(_ value: String) throws { tree.string(value, slot()) }
    mutating func encode(_ value: Double) throws { throw ContractJSONEncoder.Unsupported("Double") }
    mutating func encode(_ value: Float) throws { throw ContractJSONEncoder.Unsupported("Float") }
    mutating func encode(_ value: Int) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: Int8) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: Int16) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: Int32) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: Int64) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: Int128) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: UInt) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: UInt8) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: UInt16) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: UInt32) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: UInt64) throws { tree.integer(value, slot()) }
    mutating func encode(_ value: UInt128) throws { tree.integer(value, slot()) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try tree.encodeValue(value, into: slot())
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(JSONTreeKeyedContainer<NestedKey>(
            tree: tree, container: tree.nestedContainer(in: container, key: nil, isObject: true)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        JSONTreeUnkeyedContainer(tree: tree, container: tree.nestedContainer(in: container, key: nil, isObject: false))
    }

    /// `JSONEncoder` inserts a super encoder's value at the index it was created for when
    /// that encoder is released, and `count` leaves it out until then; rather than copy
    /// that, this is left to `JSONEncoder`.
    mutating func superEncoder() -> any Encoder {
        tree.irregular = "superEncoder() of an unkeyed container"
        return JSONTreeEncoder(tree: tree, slot: slot())
    }
}
