import Crypto
public import Foundation

/// A keyed pseudonym of a citizen: 32 lowercase hex characters (128 bits of an
/// HMAC-SHA256). Operators can follow one citizen through logs, audit and reports
/// without seeing the CPR number; without the key it cannot be linked back.
///
/// A distinct type (not a `String`) so that a CPR number cannot be passed where the
/// store expects a pseudonym: `init?(hex:)` accepts only the pseudonym form.
public struct Pseudonym: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let hex: String

    /// Accepts exactly 32 lowercase hex characters.
    public init?(hex: String) {
        let utf8 = hex.utf8
        guard utf8.count == 32,
            utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        self.hex = hex
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Pseudonym(hex: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a pseudonym"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    public static func < (lhs: Pseudonym, rhs: Pseudonym) -> Bool { lhs.hex < rhs.hex }

    public var description: String { hex }
}

/// Turns CPR numbers into `Pseudonym`s: HMAC-SHA256(key, "ddrouter.cpr.v1" ‖ 0 ‖ ten
/// digits), truncated to 16 bytes, hex. The same CPR and key always give the same
/// pseudonym; another key gives an unrelated one.
///
/// Normalisation: surrounding white space and one hyphen after the sixth digit
/// (`DDMMYY-SSSS`) are removed; what remains must be ten ASCII digits. Whether the
/// digits form a valid CPR (date, no modulus-11 check since 2007) is the contract's
/// business, not this type's.
public struct Pseudonymizer: Sendable {
    private let key: KeyBytes

    /// - Parameter key: at least 32 bytes of secret key material.
    public init(key: Data) throws {
        guard key.count >= 32 else {
            throw StoreError(
                .invalidKey,
                "the pseudonym key has \(key.count) bytes; at least 32 random bytes are required (check the key file in the configuration)"
            )
        }
        self.key = KeyBytes(key)
    }

    public func pseudonym(forCPR cpr: String) throws -> Pseudonym {
        guard let digits = Pseudonymizer.normalize(cpr) else {
            throw StoreError(
                .invalidCPR, "a CPR number is not ten digits (DDMMYYSSSS or DDMMYY-SSSS)")
        }
        // The hex output could in theory contain the ten digits themselves (odds about
        // 2e-11). Re-keying with a counter makes "never contains the CPR" a guarantee
        // rather than a probability, and stays deterministic.
        var round: UInt8 = 0
        while true {
            var message = Data("ddrouter.cpr.v1".utf8)
            message.append(0)
            message.append(contentsOf: digits.utf8)
            if round > 0 { message.append(round) }
            var hmac = key.mac
            hmac.update(data: message)
            let mac = hmac.finalize()
            let hex = Hex.encode(Data(mac).prefix(16))
            if !hex.contains(digits) {
                return Pseudonym(hex: hex)!
            }
            round &+= 1
        }
    }

    /// The ten digits of a CPR number, or nil when it is not one.
    static func normalize(_ cpr: String) -> String? {
        var text = cpr.trimmingCharacters(in: .whitespacesAndNewlines)
        let utf8 = Array(text.utf8)
        if utf8.count == 11, utf8[6] == UInt8(ascii: "-") {
            text = String(decoding: utf8[0..<6] + utf8[7...], as: UTF8.self)
        }
        let digits = Array(text.utf8)
        guard digits.count == 10, digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
            return nil
        }
        return text
    }
}

/// Separate keys for the audit chain and for pseudonyms, derived from one master
/// secret with HKDF-SHA256, so that one key file is enough and neither use can be
/// turned into the other.
public struct StoreKeys: Sendable {
    public let auditKey: Data
    public let pseudonymKey: Data

    /// - Parameter master: at least 32 bytes of secret key material.
    public init(master: Data) throws {
        guard master.count >= 32 else {
            throw StoreError(
                .invalidKey,
                "the master key has \(master.count) bytes; at least 32 random bytes are required"
            )
        }
        let ikm = SymmetricKey(data: master)
        func derive(_ label: String) -> Data {
            let key = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: ikm, salt: Data("ddrouter.store".utf8),
                info: Data(label.utf8), outputByteCount: 32)
            return key.withUnsafeBytes { Data($0) }
        }
        auditKey = derive("audit-chain.v1")
        pseudonymKey = derive("cpr-pseudonym.v1")
    }
}

/// Key material held as a `SymmetricKey`.
/// `@unchecked Sendable`: `SymmetricKey` is an immutable value (its storage is never
/// mutated after creation) but is not declared `Sendable` by swift-crypto 3.
/// `mac` is an HMAC already keyed (inner and outer pads hashed): copying it is cheaper
/// than keying a new one per message, and safe because swift-crypto's hash state is
/// copy-on-write and the template itself is never updated.
struct KeyBytes: @unchecked Sendable {
    let symmetric: SymmetricKey
    let mac: HMAC<SHA256>
    init(_ data: Data) {
        symmetric = SymmetricKey(data: data)
        mac = HMAC<SHA256>(key: symmetric)
    }
}

enum Hex {
    static func encode(_ data: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: data.count * 2) { out in
            var i = 0
            for byte in data {
                out[i] = nibble(byte >> 4)
                out[i + 1] = nibble(byte & 0x0f)
                i += 2
            }
            return i
        }
    }

    private static func nibble(_ value: UInt8) -> UInt8 {
        value < 10 ? 0x30 + value : 0x61 + value - 10
    }

    static func decode(_ text: String) -> Data? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out = Data(capacity: utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
