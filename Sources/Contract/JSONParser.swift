import Foundation

/// A strict RFC 8259 parser straight from UTF-8 bytes to `JSONValue`.
///
/// Written for the inbound path: `JSONDecoder` into a recursive enum was far too slow for
/// lists of 10,000 citizens. Stricter than many parsers on purpose: duplicate keys in an
/// object, nesting deeper than 64 levels, lone surrogate escapes and anything after the
/// value are errors, so a body cannot mean two things to two readers.
struct JSONParser {
    struct Failure: Error, Sendable {
        let offset: Int
        let problem: String
    }

    static let maxDepth = 64

    /// The body's bytes, read in place (a list body is up to 16 MiB: no copy of it).
    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    static func parse(_ data: Data) throws(Failure) -> JSONValue {
        let result = data.withUnsafeBytes { raw -> Result<JSONValue, Failure> in
            var parser = JSONParser(raw.bindMemory(to: UInt8.self))
            return Result { () throws(Failure) in try parser.document() }
        }
        return try result.get()
    }

    /// Parses `data` like `parse`, except that when the document is an object whose member
    /// `key` is an array, that array's elements are handed to `element` one by one (with
    /// their index) instead of being kept: the returned tree has an empty array there, and
    /// `count` is the number of elements. A list body is validated and decoded entry by
    /// entry this way, so the generic tree of a whole 16 MiB list never exists at once.
    /// `element` also gets the element's bytes: its range in `data`'s indices (from the first
    /// to the last byte of the value, without the whitespace around it).
    /// `element` may be called for some elements of a body that turns out not to be JSON.
    static func parse(
        _ data: Data, streamingArrayAt key: String, _ element: (Int, JSONValue, Range<Int>) -> Void
    ) throws(Failure) -> (value: JSONValue, count: Int?) {
        let base = data.startIndex
        let result = data.withUnsafeBytes { raw -> Result<(value: JSONValue, count: Int?), Failure> in
            var parser = JSONParser(raw.bindMemory(to: UInt8.self))
            return Result { () throws(Failure) in
                parser.skipWhitespace()
                guard parser.i < parser.bytes.count, parser.bytes[parser.i] == UInt8(ascii: "{") else {
                    return (try parser.document(), nil)
                }
                let (value, count) = try parser.object(depth: 0, streaming: key) { index, value, range in
                    element(index, value, (base + range.lowerBound)..<(base + range.upperBound))
                }
                parser.skipWhitespace()
                guard parser.i == parser.bytes.count else { throw parser.fail("data after the JSON value") }
                return (value, count)
            }
        }
        return try result.get()
    }

    private mutating func document() throws(Failure) -> JSONValue {
        skipWhitespace()
        let value = try value(depth: 0)
        skipWhitespace()
        guard i == bytes.count else { throw fail("data after the JSON value") }
        return value
    }

    private func fail(_ problem: String) -> Failure { Failure(offset: i, problem: problem) }

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    /// `depth` counts the containers around the value; a container at depth `d` is level
    /// `d + 1`, so the two container functions refuse `depth >= maxDepth` (level 65 and more).
    private mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count else { throw fail("unexpected end") }
        let matches = word.withUTF8Buffer { buffer in
            (0..<count).allSatisfy { bytes[i + $0] == buffer[$0] }
        }
        guard matches else { throw fail("invalid literal") }
        i += count
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONValue {
        try object(depth: depth, streaming: nil) { _, _, _ in }.value
    }

    /// An object. When `key` is given and its member is an array, that array's elements go
    /// to `element` instead of into the tree (see `parse(_:streamingArrayAt:_:)`): the tree
    /// has an empty array there and `count` is the number of elements.
    private mutating func object(
        depth: Int, streaming key: String?, _ element: (Int, JSONValue, Range<Int>) -> Void
    ) throws(Failure) -> (value: JSONValue, count: Int?) {
        guard depth < JSONParser.maxDepth else { throw fail("nested too deeply") }
        i += 1
        var result: [String: JSONValue] = [:]
        var count: Int?
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return (.object(result), nil)
        }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let name = try string()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipWhitespace()
            let member: JSONValue
            if let key, name == key, i < bytes.count, bytes[i] == UInt8(ascii: "["), result[name] == nil {
                count = try array(depth: depth + 1, streaming: element)
                member = .array([])
            } else {
                member = try value(depth: depth + 1)
            }
            guard result.updateValue(member, forKey: name) == nil else { throw fail("duplicate key") }
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
            } else if bytes[i] == UInt8(ascii: "}") {
                i += 1
                return (.object(result), count)
            } else {
                throw fail("expected ',' or '}'")
            }
        }
    }

    /// `array(depth:)`, handing each element (with its byte offsets) to `element` instead of
    /// keeping it; returns the count.
    private mutating func array(depth: Int, streaming element: (Int, JSONValue, Range<Int>) -> Void) throws(Failure) -> Int {
        guard depth < JSONParser.maxDepth else { throw fail("nested too deeply") }
        i += 1
        var count = 0
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return 0
        }
        while true {
            skipWhitespace()
            let start = i
            let value = try value(depth: depth + 1)
            element(count, value, start..<i)
            count += 1
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
            } else if bytes[i] == UInt8(ascii: "]") {
                i += 1
                return count
            } else {
                throw fail("expected ',' or ']'")
            }
        }
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONValue {
        var result: [JSONValue] = []
        _ = try array(depth: depth, streaming: { _, element, _ in result.append(element) })
        return .array(result)
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("unexpected end in \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt32
            switch b {
            case 48...57: d = UInt32(b - 48)
            case 65...70: d = UInt32(b - 55)
            case 97...102: d = UInt32(b - 87)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    private mutating func string() throws(Failure) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 { i += 1 }
        guard i < bytes.count else { throw fail("unterminated string") }
        if bytes[i] == UInt8(ascii: "\"") {
            i += 1
            return String(decoding: bytes[start..<(i - 1)], as: UTF8.self)
        }
        var out = [UInt8](bytes[start..<i])
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            guard b >= 0x20 else { throw fail("control character in string") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail("lone surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("lone surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("lone surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid escape") }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                throw fail("invalid escape")
            }
        }
    }

    private mutating func number() throws(Failure) -> Double {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count else { throw fail("invalid number") }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else if bytes[i] >= 49, bytes[i] <= 57 {
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        } else {
            throw fail("invalid value")
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let digits = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > digits else { throw fail("invalid number") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let digits = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > digits else { throw fail("invalid number") }
        }
        guard let value = Double(String(decoding: bytes[start..<i], as: UTF8.self)), value.isFinite else {
            throw fail("number out of range")
        }
        return value
    }
}
