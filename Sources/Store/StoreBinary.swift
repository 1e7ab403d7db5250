public import Foundation
import Synchronization

/// The store's compact binary encoding of a case's state (`cases.state`) and of its history
/// rows' payloads and explanations (`case_history`), in place of
/// Foundation's `JSONEncoder`, whose per-container cost was the largest single item of the
/// daemon's CPU per list citizen (docs/performance.md, section 3).
///
/// It serves any `Codable` value (the workflow's synthesized conformances stay the one
/// description of the state), written in one pass into one byte buffer, read without a
/// tree: a container is located by its length prefix and its keys are compared in place.
///
/// Layout, version 1: the two bytes `DD 01`, then one value. A value is a tag byte and its
/// payload:
///
/// | tag | value | payload |
/// |---|---|---|
/// | 01 | nil | — |
/// | 02 / 03 | false / true | — |
/// | 04 | signed integer | zigzag LEB128 |
/// | 05 | unsigned integer | LEB128 |
/// | 06 | Double | 8 bytes, little-endian IEEE 754 |
/// | 07 | Float | 4 bytes, little-endian IEEE 754 |
/// | 08 | string | LEB128 byte count, UTF-8 |
/// | 09 | keyed container | byte count (v1: UInt32 LE; v2: LEB128), then per entry: key (v1: LEB128 count, UTF-8), value |
/// | 0A | unkeyed container | byte count (as for 09), then the values |
/// | 0B | `Data` | LEB128 byte count, bytes |
/// | 0C | string, again (version 2) | LEB128 number of an earlier string |
///
/// Version 2 (`DD 02`, what `encode` writes) says each string once per blob: a key or a
/// string value met again is written as a reference to its first occurrence. Strings are
/// numbered 0, 1, … in the order their literals appear in the blob (which is the order they
/// were written: the writer only appends). A string value is then tag 08 with a literal or
/// tag 0C with the LEB128 number of an earlier one; a key is one LEB128 number `n`: an even
/// `n` is followed by a literal of `n / 2` bytes, an odd `n` refers to string `n / 2`. A case
/// state repeats most of its keys and many values (four consent entries with the same
/// fields, reference and date; the clinic in the listing, the routing and the contact).
/// Version 2 also writes a container's byte count as LEB128 (one byte for most) where
/// version 1 keeps four. A list citizen's case state: 1,490 bytes in version 1, about 980
/// in version 2.
///
/// Version 3 (`DD 03`, what `encode` writes when it is smaller) is a version-2 value
/// compressed: the LEB128 byte count of the version-2 value (without its `DD 02`), then that
/// value as raw deflate with `StoreDeflate`'s preset dictionary 1 (a 4 KiB window). Decoding
/// inflates it and reads the version-2 value. A blob that does not get smaller (under 64
/// bytes, or little to compress) stays version 2. A list citizen's case state: about 720
/// bytes in version 2, about 330 in version 3; its listing in the history about 1,000 and
/// 400 (docs/performance.md, 3f).
///
/// Stores written before this encoding hold JSON (its first byte is `{`) or version 1:
/// `decode` reads all of them, and a case is rewritten in the current version the next time
/// it changes, so no migration step is needed. A dictionary keyed by strings is written with sorted keys, so
/// equal states give equal bytes (the case state holds no other dictionary and no set; one
/// of those would follow its iteration order: the same value, not always the same bytes).
public enum StoreBinary {
    static let magic: UInt8 = 0xDD
    /// The layout versions `decode` reads; `encode` writes the last.
    static let versions: ClosedRange<UInt8> = 1...3

    /// Whether `data` is in this encoding, any version (and not the JSON of earlier versions).
    public static func isBinary(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == magic && versions.contains(data[data.startIndex + 1])
    }

    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        try encode(value, version: versions.upperBound)
    }

    /// Version 2, never compressed: for a value the store compresses together with others
    /// (the entries of a history step, `StoreTransaction.appendHistory`), where one stream
    /// over all of them is smaller than each compressed alone. Reads like any other version.
    public static func encodeUncompressed<T: Encodable>(_ value: T) throws -> Data {
        try encode(value, version: 2)
    }

    /// `bytes` as the store keeps a blob on its own: a version-2 blob compressed (version
    /// 3) when that is smaller, anything else as it is.
    static func compressedIfVersion2(_ data: Data) -> Data {
        guard data.count >= 2, data[data.startIndex] == magic, data[data.startIndex + 1] == 2,
            let compressed = compressed(version2: [UInt8](data))
        else { return data }
        return Data(compressed)
    }

    /// Versions 1 and 2 are kept for the tests that show such blobs still read. Version 3 is
    /// version 2 compressed (`StoreDeflate`) when that is smaller, version 2 otherwise.
    static func encode<T: Encodable>(_ value: T, version: UInt8) throws -> Data {
        let writer = BinaryWriter(interning: version >= 2)
        writer.bytes.reserveCapacity(1_024)
        writer.bytes.append(magic)
        writer.bytes.append(min(version, 2))
        do {
            try writer.encodeValue(value, level: 0)
            writer.closeAll()
        } catch {
            throw StoreError(.encoding, "cannot encode a \(T.self) for the store: \(error)")
        }
        guard version >= 3 else { return Data(writer.bytes) }
        return Data(compressed(version2: writer.bytes) ?? writer.bytes)
    }

    /// `DD 03`, the LEB128 byte count of the version-2 value (what follows its `DD 02`), then
    /// that value deflated with dictionary 1; `nil` when that is not smaller than `bytes`.
    static func compressed(version2 bytes: [UInt8]) -> [UInt8]? {
        StoreDeflate.framed(bytes, header: (magic, 3))
    }

    /// A blob of any binary version as version 1 or 2 bytes: a version-3 blob inflated.
    static func expanded(_ blob: [UInt8]) throws(BinaryError) -> [UInt8] {
        guard blob.count >= 2, blob[0] == magic, blob[1] == 3 else { return blob }
        return try StoreDeflate.unframed(blob, header: (magic, 2))
    }

    /// Decodes a value written by `encode`, or the JSON of earlier versions.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        guard isBinary(data) else { return try StoreJSON.decode(type, from: data) }
        do {
            let reader = try BinaryReader(blob: try expanded([UInt8](data)))
            let end = try reader.skip(2)
            guard end == reader.bytes.count else {
                throw BinaryError("\(reader.bytes.count - end) bytes after the value")
            }
            return try reader.decodeValue(type, at: 2)
        } catch let error as BinaryError {
            throw StoreError(
                .encoding,
                "a stored blob does not decode as \(T.self) (written by an incompatible version?): \(error.reason)")
        } catch {
            throw StoreError(
                .encoding,
                "a stored blob does not decode as \(T.self) (written by an incompatible version?): \(StoreJSON.describe(error))")
        }
    }
}

extension StoreBinary {
    /// The entries of a binary value's outermost keyed container: each key, with its value
    /// when that is a string. `nil` when `data` is not such a value. For tools that show
    /// what kind of row a history entry is without knowing its type.
    public static func topLevelFields(_ data: Data) -> [(key: String, string: String?)]? {
        guard isBinary(data), let blob = try? expanded([UInt8](data)), let reader = try? BinaryReader(blob: blob) else { return nil }
        guard let entries = try? reader.keyedEntries(2) else { return nil }
        return entries.compactMap { entry in
            guard let key = String(validating: reader.bytes[entry.key], as: UTF8.self) else { return nil }
            return (key, try? reader.string(entry.value))
        }
    }
}

/// LEB128, the unsigned numbers of `StoreBinary` and of the history steps' framing
/// (`HistoryStep`): seven bits a byte, low first, the high bit set on all but the last.
enum LEB128 {
    @inline(__always)
    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// The number at `at` and the offset after it; `nil` when the bytes end inside it or it
    /// does not fit 64 bits.
    @inline(__always)
    static func read(_ bytes: [UInt8], at: Int) -> (UInt64, Int)? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var offset = at
        while offset >= 0, offset < bytes.count, shift < 64 {
            let next = bytes[offset]
            offset += 1
            value |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return (value, offset) }
            shift += 7
        }
        return nil
    }
}

/// What went wrong reading or writing the binary encoding; names keys and tags, never values.
struct BinaryError: Error, CustomStringConvertible {
    let reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

enum BinaryTag {
    static let null: UInt8 = 0x01
    static let `false`: UInt8 = 0x02
    static let `true`: UInt8 = 0x03
    static let signed: UInt8 = 0x04
    static let unsigned: UInt8 = 0x05
    static let double: UInt8 = 0x06
    static let float: UInt8 = 0x07
    static let string: UInt8 = 0x08
    static let keyed: UInt8 = 0x09
    static let unkeyed: UInt8 = 0x0A
    static let data: UInt8 = 0x0B
    static let stringAgain: UInt8 = 0x0C
}

// MARK: - writing

/// One pass, one buffer. Containers are written as they are used; the Codable protocols have
/// no "close", so a container is closed (its length patched) when its parent, or anything
/// outside it, is written to again. A container written to after it was closed is a misuse
/// the synthesized conformances never make; it throws instead of writing a wrong blob.
final class BinaryWriter {
    var bytes: [UInt8] = []
    /// Version 2: each string written so far, by its number (`nil` writes version 1).
    private var strings: [String: Int]?

    init(interning: Bool) { strings = interning ? Dictionary(minimumCapacity: 96) : nil }

    /// The number of `text` if it was written before; otherwise numbers it and returns `nil`.
    private func seen(_ text: String) -> Int? {
        guard strings != nil else { return nil }
        let next = strings!.count
        // One hash: the entry is made with `next` if it is not there yet.
        let number = Self.entry(&strings![text, default: next])
        return number == next ? nil : number
    }

    private static func entry(_ value: inout Int) -> Int { value }
    /// Open containers, outermost first: where their length field starts, and an id.
    private var open: [(lengthAt: Int, id: Int, count: Int)] = []
    private var nextID = 0

    /// Makes the container `id` at `level` the innermost open one, closing those inside it.
    func prepare(level: Int, id: Int) throws {
        while open.count > level + 1 { close() }
        guard open.count == level + 1, open[level].id == id else {
            throw BinaryError("a container was written to after a later one was opened beside it")
        }
    }

    /// Closes every container above `level` (the level a new value is written at).
    func prepareValue(level: Int) throws {
        guard open.count >= level else { throw BinaryError("a value was written into a closed container") }
        while open.count > level { close() }
    }

    private func close() {
        let last = open.removeLast()
        let length = UInt32(truncatingIfNeeded: bytes.count - last.lengthAt - 4)
        if strings != nil {
            // Version 2: the length as LEB128 in place of the four bytes kept for it (every
            // container still open is outside this one: their offsets stay as they are).
            var prefix: [UInt8] = []
            LEB128.append(UInt64(length), to: &prefix)
            bytes.replaceSubrange(last.lengthAt..<last.lengthAt + 4, with: prefix)
            return
        }
        bytes[last.lengthAt] = UInt8(truncatingIfNeeded: length)
        bytes[last.lengthAt + 1] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[last.lengthAt + 2] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[last.lengthAt + 3] = UInt8(truncatingIfNeeded: length >> 24)
    }

    func closeAll() { while !open.isEmpty { close() } }

    /// Opens a container at `level` (after its tag is written); returns its id.
    func openContainer(tag: UInt8) -> Int {
        bytes.append(tag)
        let at = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0])
        nextID += 1
        open.append((at, nextID, 0))
        return nextID
    }

    func countEntry(level: Int) { open[level].count += 1 }
    func count(level: Int) -> Int { open[level].count }

    func varint(_ value: UInt64) { LEB128.append(value, to: &bytes) }

    func key(_ key: some CodingKey) { keyText(key.stringValue) }

    func keyText(_ text: String) {
        var text = text
        if strings == nil {
            varint(UInt64(text.utf8.count))
        } else if let number = seen(text) {
            varint(UInt64(number) << 1 | 1)
            return
        } else {
            varint(UInt64(text.utf8.count) << 1)
        }
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    func null() { bytes.append(BinaryTag.null) }
    func bool(_ value: Bool) { bytes.append(value ? BinaryTag.true : BinaryTag.false) }
    func signed(_ value: Int64) {
        bytes.append(BinaryTag.signed)
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }
    func unsigned(_ value: UInt64) {
        bytes.append(BinaryTag.unsigned)
        varint(value)
    }
    func double(_ value: Double) {
        bytes.append(BinaryTag.double)
        let bits = value.bitPattern
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
    }
    func float(_ value: Float) {
        bytes.append(BinaryTag.float)
        let bits = value.bitPattern
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }
    func string(_ value: String) {
        if let number = seen(value) {
            bytes.append(BinaryTag.stringAgain)
            varint(UInt64(number))
            return
        }
        bytes.append(BinaryTag.string)
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
    func data(_ value: Data) {
        bytes.append(BinaryTag.data)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Writes one value at `level` (the number of containers it is inside).
    func encodeValue<T: Encodable>(_ value: T, level: Int) throws {
        try prepareValue(level: level)
        // Compared by metatype, not cast: a dynamic cast per value was a fifth of the
        // encoder's time. The bit casts are between identical types.
        if T.self == String.self {
            string(unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            signed(Int64(unsafeBitCast(value, to: Int.self)))
        } else if T.self == Bool.self {
            bool(unsafeBitCast(value, to: Bool.self))
        } else if T.self == Data.self {
            data(unsafeBitCast(value, to: Data.self))
        } else if BinarySortedKeysCache.conforms(T.self), let dictionary = value as? any BinarySortedKeys {
            try dictionary.encodeSorted(into: self, level: level)
        } else {
            let start = bytes.count
            let encoder = BinaryValueEncoder(writer: self, level: level)
            try value.encode(to: encoder)
            // A value that wrote nothing (an empty struct) is an empty keyed container.
            if bytes.count == start {
                _ = openContainer(tag: BinaryTag.keyed)
                try prepareValue(level: level)
            }
        }
    }
}

/// Which types are dictionaries keyed by strings, remembered: asking the runtime whether a
/// type conforms is a lookup of its own, once per value written, that cost more than the
/// value's bytes.
enum BinarySortedKeysCache {
    private static let known = Mutex<[ObjectIdentifier: Bool]>([:])

    static func conforms<T>(_ type: T.Type) -> Bool {
        let id = ObjectIdentifier(type)
        if let answer = known.withLock({ $0[id] }) { return answer }
        let answer = type is any BinarySortedKeys.Type
        known.withLock { $0[id] = answer }
        return answer
    }
}

/// A dictionary keyed by strings is written with its keys sorted, as `StoreJSON` writes it:
/// equal states give equal bytes, whatever order the dictionary was filled in.
protocol BinarySortedKeys {
    func encodeSorted(into writer: BinaryWriter, level: Int) throws
}

extension Dictionary: BinarySortedKeys where Key == String, Value: Encodable {
    func encodeSorted(into writer: BinaryWriter, level: Int) throws {
        let id = writer.openContainer(tag: BinaryTag.keyed)
        for key in keys.sorted() {
            try writer.prepare(level: level, id: id)
            writer.keyText(key)
            try writer.encodeValue(self[key]!, level: level + 1)
        }
        try writer.prepareValue(level: level)
    }
}

/// The `Encoder` for one value at one level.
struct BinaryValueEncoder: Encoder {
    let writer: BinaryWriter
    let level: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(BinaryKeyedEncoder<Key>(writer: writer, level: level, id: open(BinaryTag.keyed)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        BinaryUnkeyedEncoder(writer: writer, level: level, id: open(BinaryTag.unkeyed))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        BinarySingleEncoder(writer: writer, level: level)
    }

    private func open(_ tag: UInt8) -> Int {
        // A container is the value's first write; anything still open inside the level is done.
        try? writer.prepareValue(level: level)
        return writer.openContainer(tag: tag)
    }
}

struct BinaryKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: BinaryWriter
    /// The level of the value this container is; its entries are at `level + 1`.
    let level: Int
    let id: Int
    var codingPath: [any CodingKey] { [] }

    private func entry(_ key: Key) throws {
        try writer.prepare(level: level, id: id)
        writer.key(key)
    }

    mutating func encodeNil(forKey key: Key) throws { try entry(key); writer.null() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try entry(key); writer.bool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try entry(key); writer.string(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try entry(key); writer.double(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try entry(key); writer.float(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try entry(key); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try entry(key); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try entry(key); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try entry(key); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try entry(key); writer.signed(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try entry(key); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try entry(key); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try entry(key); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try entry(key); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try entry(key); writer.unsigned(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try entry(key)
        try writer.encodeValue(value, level: level + 1)
    }

    // Synthesized code writes every optional property through `encodeIfPresent`; the
    // protocol's default reaches `encode` through one more generic call per property.
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value { try entry(key); writer.string(value) }
    }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value { try entry(key); writer.bool(value) }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value { try entry(key); writer.signed(Int64(value)) }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try entry(key); try writer.encodeValue(value, level: level + 1) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        try? entry(key)
        return KeyedEncodingContainer(BinaryKeyedEncoder<NestedKey>(
            writer: writer, level: level + 1, id: writer.openContainer(tag: BinaryTag.keyed)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        try? entry(key)
        return BinaryUnkeyedEncoder(writer: writer, level: level + 1, id: writer.openContainer(tag: BinaryTag.unkeyed))
    }

    mutating func superEncoder() -> any Encoder {
        try? writer.prepare(level: level, id: id)
        writer.key(BinarySuperKey())
        return BinaryValueEncoder(writer: writer, level: level + 1)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        try? entry(key)
        return BinaryValueEncoder(writer: writer, level: level + 1)
    }
}

struct BinarySuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

struct BinaryUnkeyedEncoder: UnkeyedEncodingContainer {
    let writer: BinaryWriter
    let level: Int
    let id: Int
    var codingPath: [any CodingKey] { [] }
    var count: Int { writer.count(level: level) }

    private func element() throws {
        try writer.prepare(level: level, id: id)
        writer.countEntry(level: level)
    }

    mutating func encodeNil() throws { try element(); writer.null() }
    mutating func encode(_ value: Bool) throws { try element(); writer.bool(value) }
    mutating func encode(_ value: String) throws { try element(); writer.string(value) }
    mutating func encode(_ value: Double) throws { try element(); writer.double(value) }
    mutating func encode(_ value: Float) throws { try element(); writer.float(value) }
    mutating func encode(_ value: Int) throws { try element(); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try element(); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try element(); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try element(); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try element(); writer.signed(value) }
    mutating func encode(_ value: UInt) throws { try element(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try element(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try element(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try element(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try element(); writer.unsigned(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try element()
        try writer.encodeValue(value, level: level + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        try? element()
        return KeyedEncodingContainer(BinaryKeyedEncoder<NestedKey>(
            writer: writer, level: level + 1, id: writer.openContainer(tag: BinaryTag.keyed)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        try? element()
        return BinaryUnkeyedEncoder(writer: writer, level: level + 1, id: writer.openContainer(tag: BinaryTag.unkeyed))
    }

    mutating func superEncoder() -> any Encoder {
        try? element()
        return BinaryValueEncoder(writer: writer, level: level + 1)
    }
}

struct BinarySingleEncoder: SingleValueEncodingContainer {
    let writer: BinaryWriter
    let level: Int
    var codingPath: [any CodingKey] { [] }

    private func value() throws { try writer.prepareValue(level: level) }

    mutating func encodeNil() throws { try value(); writer.null() }
    mutating func encode(_ value: Bool) throws { try self.value(); writer.bool(value) }
    mutating func encode(_ value: String) throws { try self.value(); writer.string(value) }
    mutating func encode(_ value: Double) throws { try self.value(); writer.double(value) }
    mutating func encode(_ value: Float) throws { try self.value(); writer.float(value) }
    mutating func encode(_ value: Int) throws { try self.value(); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try self.value(); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try self.value(); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try self.value(); writer.signed(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try self.value(); writer.signed(value) }
    mutating func encode(_ value: UInt) throws { try self.value(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try self.value(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try self.value(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try self.value(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try self.value(); writer.unsigned(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try writer.encodeValue(value, level: level) }
}

// MARK: - reading

/// Reads values in place: a container's entries are found by their length prefixes, keys are
/// compared without making strings. Every read is bounds-checked: a damaged blob throws.
final class BinaryReader {
    let bytes: [UInt8]
    /// Version 2: where each numbered string's literal is (`nil` for version 1).
    private var strings: [Range<Int>]?

    /// A reader of a whole blob, magic and version first. A version-2 blob is read through once
    /// here, to number its strings, so that any value can then be read on its own.
    init(blob: [UInt8]) throws {
        bytes = blob
        guard blob.count >= 2, blob[0] == StoreBinary.magic, (1...2).contains(blob[1]) else {
            throw BinaryError("not a binary blob of a known version")
        }
        if blob[1] >= 2 {
            strings = []
            _ = try number(2, depth: 0)
        }
    }

    /// Numbers the string literals of the value at `at` and of everything inside it, in the
    /// order they appear; returns the offset after the value.
    private func number(_ at: Int, depth: Int) throws -> Int {
        guard depth < 100 else { throw BinaryError("containers nest too deep (at byte \(at))") }
        switch try byte(at) {
        case BinaryTag.string:
            let (count, start) = try length(at + 1)
            strings!.append(start..<start + count)
            return start + count
        case BinaryTag.keyed, BinaryTag.unkeyed:
            let keyed = bytes[at] == BinaryTag.keyed
            let (count, start) = try containerLength(at + 1)
            let end = start + count
            var offset = start
            while offset < end {
                if keyed {
                    let (range, next, literal) = try key(offset)
                    if literal { strings!.append(range) }
                    offset = next
                }
                offset = try number(offset, depth: depth + 1)
                guard offset <= end else { throw BinaryError("a value runs past its container (at byte \(at))") }
            }
            return end
        default:
            return try skip(at)
        }
    }

    /// The key at `at`: the bytes of its text, the offset after it, and whether it was
    /// written there (and not referred to).
    func key(_ at: Int) throws -> (Range<Int>, Int, Bool) {
        guard strings != nil else {
            let (count, start) = try length(at)
            return (start..<start + count, start + count, true)
        }
        let (value, next) = try varint(at)
        if value & 1 == 1 {
            return (try earlier(value >> 1, at: at), next, false)
        }
        let count = value >> 1
        guard count <= UInt64(bytes.count - next) else { throw BinaryError("a length runs past the blob (at byte \(at))") }
        return (next..<next + Int(count), next + Int(count), true)
    }

    /// The literal of string `number`, which must come before `at`.
    private func earlier(_ number: UInt64, at: Int) throws -> Range<Int> {
        guard let strings, number < UInt64(strings.count), strings[Int(number)].lowerBound < at else {
            throw BinaryError("a string reference at byte \(at) names no earlier string")
        }
        return strings[Int(number)]
    }

    func byte(_ at: Int) throws -> UInt8 {
        guard at >= 0, at < bytes.count else { throw BinaryError("the blob ends early (at byte \(at))") }
        return bytes[at]
    }

    /// A LEB128 number at `at`: its value and the offset after it.
    func varint(_ at: Int) throws -> (UInt64, Int) {
        guard let number = LEB128.read(bytes, at: at) else {
            throw BinaryError("a number runs past the blob or is too long (at byte \(at))")
        }
        return number
    }

    func length(_ at: Int) throws -> (Int, Int) {
        let (value, next) = try varint(at)
        guard value <= UInt64(bytes.count - next) else { throw BinaryError("a length runs past the blob (at byte \(at))") }
        return (Int(value), next)
    }

    func containerLength(_ at: Int) throws -> (Int, Int) {
        if strings != nil {
            let (value, next) = try varint(at)
            guard value <= UInt64(bytes.count - next) else {
                throw BinaryError("a container runs past the blob (at byte \(at))")
            }
            return (Int(value), next)
        }
        guard at + 4 <= bytes.count else { throw BinaryError("the blob ends early (at byte \(at))") }
        let value = Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
        guard value <= bytes.count - at - 4 else { throw BinaryError("a container runs past the blob (at byte \(at))") }
        return (value, at + 4)
    }

    /// The offset after the value at `at`.
    func skip(_ at: Int) throws -> Int {
        switch try byte(at) {
        case BinaryTag.null, BinaryTag.false, BinaryTag.true: return at + 1
        case BinaryTag.signed, BinaryTag.unsigned, BinaryTag.stringAgain: return try varint(at + 1).1
        case BinaryTag.double: return try bounded(at + 9)
        case BinaryTag.float: return try bounded(at + 5)
        case BinaryTag.string, BinaryTag.data:
            let (count, next) = try length(at + 1)
            return next + count
        case BinaryTag.keyed, BinaryTag.unkeyed:
            let (count, next) = try containerLength(at + 1)
            return next + count
        case let tag: throw BinaryError("unknown tag \(tag) at byte \(at)")
        }
    }

    private func bounded(_ end: Int) throws -> Int {
        guard end <= bytes.count else { throw BinaryError("the blob ends early (at byte \(end))") }
        return end
    }

    func isNil(_ at: Int) throws -> Bool { try byte(at) == BinaryTag.null }

    func bool(_ at: Int) throws -> Bool {
        switch try byte(at) {
        case BinaryTag.true: return true
        case BinaryTag.false: return false
        case let tag: throw BinaryError("expected a Bool, found tag \(tag) at byte \(at)")
        }
    }

    func int64(_ at: Int) throws -> Int64 {
        switch try byte(at) {
        case BinaryTag.signed:
            let raw = try varint(at + 1).0
            return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
        case BinaryTag.unsigned:
            let raw = try varint(at + 1).0
            guard raw <= UInt64(Int64.max) else { throw BinaryError("a number at byte \(at) does not fit") }
            return Int64(raw)
        case let tag: throw BinaryError("expected an integer, found tag \(tag) at byte \(at)")
        }
    }

    func uint64(_ at: Int) throws -> UInt64 {
        switch try byte(at) {
        case BinaryTag.unsigned: return try varint(at + 1).0
        case BinaryTag.signed:
            let value = try int64(at)
            guard value >= 0 else { throw BinaryError("a negative number at byte \(at) where an unsigned one belongs") }
            return UInt64(value)
        case let tag: throw BinaryError("expected an integer, found tag \(tag) at byte \(at)")
        }
    }

    func integer<T: FixedWidthInteger>(_ type: T.Type, _ at: Int) throws -> T {
        if T.isSigned {
            guard let value = T(exactly: try int64(at)) else { throw BinaryError("a number at byte \(at) does not fit \(T.self)") }
            return value
        }
        guard let value = T(exactly: try uint64(at)) else { throw BinaryError("a number at byte \(at) does not fit \(T.self)") }
        return value
    }

    func double(_ at: Int) throws -> Double {
        switch try byte(at) {
        case BinaryTag.double:
            _ = try bounded(at + 9)
            var bits: UInt64 = 0
            for index in 0..<8 { bits |= UInt64(bytes[at + 1 + index]) << UInt64(8 * index) }
            return Double(bitPattern: bits)
        case BinaryTag.float: return Double(try float(at))
        case BinaryTag.signed: return Double(try int64(at))
        case BinaryTag.unsigned: return Double(try uint64(at))
        case let tag: throw BinaryError("expected a number, found tag \(tag) at byte \(at)")
        }
    }

    func float(_ at: Int) throws -> Float {
        guard try byte(at) == BinaryTag.float else { return Float(try double(at)) }
        _ = try bounded(at + 5)
        var bits: UInt32 = 0
        for index in 0..<4 { bits |= UInt32(bytes[at + 1 + index]) << UInt32(8 * index) }
        return Float(bitPattern: bits)
    }

    func string(_ at: Int) throws -> String {
        let range: Range<Int>
        switch try byte(at) {
        case BinaryTag.string:
            let (count, start) = try length(at + 1)
            range = start..<start + count
        case BinaryTag.stringAgain where strings != nil:
            range = try earlier(try varint(at + 1).0, at: at)
        case let tag:
            throw BinaryError("expected a string, found tag \(tag) at byte \(at)")
        }
        guard let text = String(validating: bytes[range], as: UTF8.self) else {
            throw BinaryError("a string at byte \(at) is not UTF-8")
        }
        return text
    }

    func data(_ at: Int) throws -> Data {
        guard try byte(at) == BinaryTag.data else {
            throw BinaryError("expected bytes, found tag \(try byte(at)) at byte \(at)")
        }
        let (count, start) = try length(at + 1)
        return Data(bytes[start..<start + count])
    }

    /// The entries of the keyed container at `at`: key range and value offset.
    func keyedEntries(_ at: Int) throws -> [(key: Range<Int>, value: Int)] {
        guard try byte(at) == BinaryTag.keyed else {
            throw BinaryError("expected a keyed container, found tag \(try byte(at)) at byte \(at)")
        }
        let (count, start) = try containerLength(at + 1)
        let end = start + count
        var entries: [(key: Range<Int>, value: Int)] = []
        var offset = start
        while offset < end {
            let (key, value, _) = try key(offset)
            offset = try skip(value)
            guard offset <= end else { throw BinaryError("an entry runs past its container at byte \(value)") }
            entries.append((key, value))
        }
        return entries
    }

    /// The value offsets of the unkeyed container at `at`.
    func unkeyedEntries(_ at: Int) throws -> [Int] {
        guard try byte(at) == BinaryTag.unkeyed else {
            throw BinaryError("expected an unkeyed container, found tag \(try byte(at)) at byte \(at)")
        }
        let (count, start) = try containerLength(at + 1)
        let end = start + count
        var values: [Int] = []
        var offset = start
        while offset < end {
            values.append(offset)
            offset = try skip(offset)
            guard offset <= end else { throw BinaryError("a value runs past its container at byte \(values.last ?? offset)") }
        }
        return values
    }

    func keyMatches(_ range: Range<Int>, _ key: String) -> Bool {
        var key = key
        return key.withUTF8 { utf8 in
            guard utf8.count == range.count else { return false }
            var index = range.lowerBound
            for byte in utf8 {
                if bytes[index] != byte { return false }
                index += 1
            }
            return true
        }
    }

    func decodeValue<T: Decodable>(_ type: T.Type, at: Int) throws -> T {
        if T.self == String.self { return try string(at) as! T }
        if T.self == Data.self { return try data(at) as! T }
        if T.self == Int.self { return try integer(Int.self, at) as! T }
        if T.self == Bool.self { return try bool(at) as! T }
        return try T(from: BinaryValueDecoder(reader: self, at: at))
    }
}

struct BinaryValueDecoder: Decoder {
    let reader: BinaryReader
    let at: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(BinaryKeyedDecoder<Key>(reader: reader, entries: try reader.keyedEntries(at)))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        BinaryUnkeyedDecoder(reader: reader, values: try reader.unkeyedEntries(at))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        BinarySingleDecoder(reader: reader, at: at)
    }
}

struct BinaryKeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let reader: BinaryReader
    let entries: [(key: Range<Int>, value: Int)]
    /// Where the last key was found: synthesized code asks for keys in the order they were
    /// written (an optional one up to three times: contains, nil, value), so the key asked
    /// for is usually the last one found or the one after it.
    private let cursor = Cursor()
    final class Cursor { var last = 0 }

    init(reader: BinaryReader, entries: [(key: Range<Int>, value: Int)]) {
        self.reader = reader
        self.entries = entries
    }

    var codingPath: [any CodingKey] { [] }

    var allKeys: [Key] {
        entries.compactMap { entry in
            String(validating: reader.bytes[entry.key], as: UTF8.self).flatMap { Key(stringValue: $0) }
        }
    }

    private func find(_ key: Key) -> Int? {
        let name = key.stringValue
        let count = entries.count
        guard count > 0 else { return nil }
        var index = cursor.last < count ? cursor.last : 0
        for _ in 0..<count {
            if reader.keyMatches(entries[index].key, name) {
                cursor.last = index
                return entries[index].value
            }
            index = index + 1 == count ? 0 : index + 1
        }
        return nil
    }

    private func value(_ key: Key) throws -> Int {
        guard let at = find(key) else { throw BinaryError("no value for key \"\(key.stringValue)\"") }
        return at
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }
    func decodeNil(forKey key: Key) throws -> Bool { try reader.isNil(try value(key)) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try reader.bool(try value(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try reader.string(try value(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try reader.double(try value(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try reader.float(try value(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try reader.integer(type, try value(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try reader.integer(type, try value(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try reader.integer(type, try value(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try reader.integer(type, try value(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try reader.integer(type, try value(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try reader.integer(type, try value(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try reader.integer(type, try value(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try reader.integer(type, try value(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try reader.integer(type, try value(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try reader.integer(type, try value(key)) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try reader.decodeValue(type, at: try value(key))
    }

    // Synthesized code reads every optional property through `decodeIfPresent`, whose
    // default looks the key up three times (`contains`, `decodeNil`, `decode`).
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let at = find(key), try !reader.isNil(at) else { return nil }
        return try reader.string(at)
    }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let at = find(key), try !reader.isNil(at) else { return nil }
        return try reader.bool(at)
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        guard let at = find(key), try !reader.isNil(at) else { return nil }
        return try reader.integer(type, at)
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let at = find(key), try !reader.isNil(at) else { return nil }
        return try reader.decodeValue(type, at: at)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(BinaryKeyedDecoder<NestedKey>(reader: reader, entries: try reader.keyedEntries(try value(key))))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        BinaryUnkeyedDecoder(reader: reader, values: try reader.unkeyedEntries(try value(key)))
    }

    func superDecoder() throws -> any Decoder {
        guard let entry = entries.first(where: { reader.keyMatches($0.key, "super") }) else {
            throw BinaryError("no value for key \"super\"")
        }
        return BinaryValueDecoder(reader: reader, at: entry.value)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        BinaryValueDecoder(reader: reader, at: try value(key))
    }
}

struct BinaryUnkeyedDecoder: UnkeyedDecodingContainer {
    let reader: BinaryReader
    let values: [Int]
    var currentIndex = 0
    var codingPath: [any CodingKey] { [] }
    var count: Int? { values.count }
    var isAtEnd: Bool { currentIndex >= values.count }

    init(reader: BinaryReader, values: [Int]) {
        self.reader = reader
        self.values = values
    }

    private mutating func next() throws -> Int {
        guard currentIndex < values.count else { throw BinaryError("an unkeyed container has no more values") }
        defer { currentIndex += 1 }
        return values[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard currentIndex < values.count else { throw BinaryError("an unkeyed container has no more values") }
        if try reader.isNil(values[currentIndex]) {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try reader.bool(try next()) }
    mutating func decode(_ type: String.Type) throws -> String { try reader.string(try next()) }
    mutating func decode(_ type: Double.Type) throws -> Double { try reader.double(try next()) }
    mutating func decode(_ type: Float.Type) throws -> Float { try reader.float(try next()) }
    mutating func decode(_ type: Int.Type) throws -> Int { try reader.integer(type, try next()) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try reader.integer(type, try next()) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try reader.integer(type, try next()) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try reader.integer(type, try next()) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try reader.integer(type, try next()) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try reader.integer(type, try next()) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try reader.integer(type, try next()) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try reader.integer(type, try next()) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try reader.integer(type, try next()) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try reader.integer(type, try next()) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try reader.decodeValue(type, at: try next()) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(BinaryKeyedDecoder<NestedKey>(reader: reader, entries: try reader.keyedEntries(try next())))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        BinaryUnkeyedDecoder(reader: reader, values: try reader.unkeyedEntries(try next()))
    }

    mutating func superDecoder() throws -> any Decoder { BinaryValueDecoder(reader: reader, at: try next()) }
}

struct BinarySingleDecoder: SingleValueDecodingContainer {
    let reader: BinaryReader
    let at: Int
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { (try? reader.isNil(at)) ?? false }
    func decode(_ type: Bool.Type) throws -> Bool { try reader.bool(at) }
    func decode(_ type: String.Type) throws -> String { try reader.string(at) }
    func decode(_ type: Double.Type) throws -> Double { try reader.double(at) }
    func decode(_ type: Float.Type) throws -> Float { try reader.float(at) }
    func decode(_ type: Int.Type) throws -> Int { try reader.integer(type, at) }
    func decode(_ type: Int8.Type) throws -> Int8 { try reader.integer(type, at) }
    func decode(_ type: Int16.Type) throws -> Int16 { try reader.integer(type, at) }
    func decode(_ type: Int32.Type) throws -> Int32 { try reader.integer(type, at) }
    func decode(_ type: Int64.Type) throws -> Int64 { try reader.integer(type, at) }
    func decode(_ type: UInt.Type) throws -> UInt { try reader.integer(type, at) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try reader.integer(type, at) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try reader.integer(type, at) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try reader.integer(type, at) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try reader.integer(type, at) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try reader.decodeValue(type, at: at) }
}
