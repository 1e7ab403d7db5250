import Foundation
import Testing

@testable import Store

/// Pinned outputs. If one of these changes, existing audit chains stop verifying or
/// citizens get new pseudonyms: that needs a versioned format, not a silent edit.
///
/// The values were computed independently with Python's standard library, so an
/// auditor can re-check a chain without ddrouter:
///
///     import hmac, hashlib, struct
///     hmac.new(b"\x42" * 32, b"ddrouter.cpr.v1\x00" + b"0101901234", hashlib.sha256).digest()[:16].hex()
///     def f(s): b = s.encode(); return struct.pack(">I", len(b)) + b
///     def o(s): return b"\x00" if s is None else b"\x01" + f(s)
///     c = (b"ddrouter.audit.v1" + struct.pack(">q", 7) + f("2026-11-23T09:34:04.123Z")
///          + f("kommune-851") + f("received") + o("0123456789abcdef0123456789abcdef")
///          + o("list-1") + o(None) + f("sundhedsloven § 43, samtykke"))
///     hmac.new(bytes(range(32)), b"\x00" * 32 + c, hashlib.sha256).hexdigest()
@Suite("Known answers for persisted formats")
struct KnownAnswerTests {
    @Test func pseudonymFormat() throws {
        let p = try Pseudonymizer(key: Data(repeating: 0x42, count: 32)).pseudonym(forCPR: "0101901234")
        #expect(p.hex == "9b8373e4b3f3d58962a0b5d392343d2b")
    }

    @Test func auditHashFormat() throws {
        let canonical = AuditChain.canonical(
            seq: 7, at: "2026-11-23T09:34:04.123Z", actor: "kommune-851", action: "received",
            pseudonym: "0123456789abcdef0123456789abcdef", messageType: "list-1", messageID: nil,
            purpose: "sundhedsloven § 43, samtykke")
        let hash = AuditChain.hash(key: KeyBytes(testKey), prevHash: AuditChain.genesis, canonical: canonical)
        #expect(Hex.encode(hash) == "850fbb92ed3d6dd79c08982da84791b54aee0273a8d0abf0329f52ae563b866f")
    }

    @Test func timestampFormat() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_795_426_444.123)) == "2026-11-23T09:34:04.123Z")
    }
}
