import Crypto
public import Foundation
import GRDB

/// What happened, in the audit trail. Open set.
public struct AuditAction: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    /// A message was received from `actor`.
    public static let received: AuditAction = "received"
    /// An event was sent to `actor` (confirmed by the broker).
    public static let sent: AuditAction = "sent"
    /// An operator (`actor`) looked at a citizen's data.
    public static let viewed: AuditAction = "viewed"
    /// A message was rejected (fatal-error receipt).
    public static let rejected: AuditAction = "rejected"
    /// Data was held back because consent was missing.
    public static let held: AuditAction = "held"
}

/// An audit entry as the caller supplies it. `at` comes from the caller (the message's
/// time or an injected clock), never from a hidden clock read.
public struct AuditRecord: Sendable, Hashable {
    public var at: Date
    /// Sender, recipient or operator id.
    public var actor: String
    public var action: AuditAction
    public var pseudonym: Pseudonym?
    public var messageType: String?
    public var messageID: String?
    /// Purpose or legal basis, e.g. "sundhedsloven § 43, samtykke".
    public var purpose: String

    public init(
        at: Date, actor: String, action: AuditAction, pseudonym: Pseudonym?,
        messageType: String?, messageID: String?, purpose: String
    ) {
        self.at = at
        self.actor = actor
        self.action = action
        self.pseudonym = pseudonym
        self.messageType = messageType
        self.messageID = messageID
        self.purpose = purpose
    }
}

/// A stored audit entry with its place in the chain.
public struct AuditEntry: Sendable, Hashable {
    public var seq: Int64
    /// The instant exactly as stored and hashed (UTC, milliseconds).
    public var at: Date
    public var actor: String
    public var action: AuditAction
    public var pseudonym: Pseudonym?
    public var messageType: String?
    public var messageID: String?
    public var purpose: String
    /// HMAC of the previous entry (32 zero bytes for the first).
    public var prevHash: Data
    /// HMAC(key, prevHash ‖ canonical encoding of this entry).
    public var hash: Data
}

/// The head of the chain at some moment: the daemon can log it (or ship it elsewhere)
/// so that a later verification also detects entries cut off the end, which a chain
/// alone cannot show.
public struct AuditAnchor: Sendable, Hashable, Codable, CustomStringConvertible {
    public var seq: Int64
    /// Hex of the entry's hash.
    public var hash: String

    public init(seq: Int64, hash: String) {
        self.seq = seq
        self.hash = hash
    }

    public var description: String { "audit#\(seq):\(hash)" }
}

public enum AuditVerification: Sendable, Hashable, CustomStringConvertible {
    /// Every entry verified; `head` is the last one (nil when the trail is empty).
    case ok(count: Int64, head: AuditAnchor?)
    /// `seq` is the first entry that does not verify.
    case broken(seq: Int64, reason: AuditBreak)

    public var isOK: Bool {
        switch self {
        case .ok: true
        case .broken: false
        }
    }

    public var description: String {
        switch self {
        case .ok(let count, let head):
            "audit trail verified: \(count) entries, head \(head.map(\.description) ?? "none")"
        case .broken(let seq, let reason):
            "audit trail broken at entry \(seq): \(reason)"
        }
    }
}

public enum AuditBreak: Error, Sendable, Hashable, CustomStringConvertible {
    /// The entry with this seq is missing: the next stored entry has `found`.
    /// (Entries were deleted.)
    case missing(found: Int64)
    /// The entry's link to its predecessor does not match the predecessor's hash:
    /// entries were reordered, replaced or deleted and renumbered.
    case brokenLink
    /// The entry's content does not match its hash: it was edited (or the trail was
    /// written with another audit key).
    case contentMismatch
    /// The entry named by the anchor is missing or different: the end of the trail
    /// was cut off or rewritten.
    case anchorMismatch
    /// A column holds a value the store never writes (hash length, timestamp form,
    /// pseudonym form).
    case malformed(column: String)

    public var description: String {
        switch self {
        case .missing(let found):
            "entry is missing (next stored entry is \(found)); entries were deleted"
        case .brokenLink:
            "its link to the previous entry does not match; entries were reordered, replaced or deleted"
        case .contentMismatch:
            "its content does not match its hash; it was edited (or a different audit key is configured)"
        case .anchorMismatch:
            "the anchored entry is missing or different; the end of the trail was removed or rewritten"
        case .malformed(let column):
            "column \(column) holds a value ddrouter never writes; the row was edited"
        }
    }
}

/// The hash chain: canonical encoding and HMAC.
enum AuditChain {
    static let genesis = Data(repeating: 0, count: 32)

    /// Canonical, unambiguous encoding of one entry: a version tag, the seq as 8 bytes
    /// big-endian, then each field length-prefixed (4 bytes big-endian) and each
    /// optional field preceded by a presence byte. The timestamp is its stored text.
    static func canonical(
        seq: Int64, at: String, actor: String, action: String, pseudonym: String?,
        messageType: String?, messageID: String?, purpose: String
    ) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(
            64 + at.utf8.count + actor.utf8.count + action.utf8.count + purpose.utf8.count
                + (pseudonym?.utf8.count ?? 0) + (messageType?.utf8.count ?? 0)
                + (messageID?.utf8.count ?? 0))
        out.append(contentsOf: "ddrouter.audit.v1".utf8)
        let seqBits = UInt64(bitPattern: seq)
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: seqBits >> UInt64(shift)))
        }
        func field(_ text: String) {
            let count = UInt32(truncatingIfNeeded: text.utf8.count)
            for shift in stride(from: 24, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: count >> UInt32(shift)))
            }
            out.append(contentsOf: text.utf8)
        }
        func optional(_ text: String?) {
            if let text {
                out.append(1)
                field(text)
            } else {
                out.append(0)
            }
        }
        field(at)
        field(actor)
        field(action)
        optional(pseudonym)
        optional(messageType)
        optional(messageID)
        field(purpose)
        return out
    }

    static func hash(key: KeyBytes, prevHash: Data, canonical: [UInt8]) -> Data {
        var mac = key.mac
        mac.update(data: prevHash)
        mac.update(data: canonical)
        return mac.finalize().withUnsafeBytes { Data($0) }
    }

    typealias Head = (seq: Int64, hash: Data)

    /// Appends one entry inside the caller's transaction; returns its anchor and the
    /// new head. `cached` is the head as of the previous append in this transaction
    /// (nil: read it from the table).
    static func append(_ record: AuditRecord, db: Database, key: KeyBytes, cached: Head?) throws
        -> (AuditAnchor, Head)
    {
        let head: Head
        if let cached {
            head = cached
        } else if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"))
        {
            head = (try row.decode(atIndex: 0), try row.decode(atIndex: 1))
        } else {
            head = (0, genesis)
        }
        let seq = head.seq + 1
        let prev = head.hash
        let at = Timestamp.string(record.at)
        let canonical = canonical(
            seq: seq, at: at, actor: record.actor, action: record.action.rawValue,
            pseudonym: record.pseudonym?.hex, messageType: record.messageType,
            messageID: record.messageID, purpose: record.purpose)
        let hash = hash(key: key, prevHash: prev, canonical: canonical)
        try db.cachedStatement(
            sql: """
                INSERT INTO audit (seq, at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            seq, at, record.actor, record.action.rawValue, record.pseudonym?.hex,
            record.messageType, record.messageID, record.purpose, prev, hash,
        ])
        return (AuditAnchor(seq: seq, hash: Hex.encode(hash)), (seq, hash))
    }

    /// Walks the whole trail in seq order (streaming, constant memory).
    static func verify(db: Database, key: KeyBytes, anchor: AuditAnchor?) throws
        -> AuditVerification
    {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT seq, at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash
                FROM audit ORDER BY seq
                """)
        var expected: Int64 = 1
        var prev = genesis
        var anchorSeen = false
        while let row = try rows.next() {
            // A tampered row may hold values of any type: report it, never trap.
            func column<T: DatabaseValueConvertible>(_ index: Int, _ name: String) -> Result<T, AuditBreak> {
                (try? row.decode(T.self, atIndex: index)).map { .success($0) }
                    ?? .failure(.malformed(column: name))
            }
            func optionalColumn(_ index: Int, _ name: String) -> Result<String?, AuditBreak> {
                if row.hasNull(atIndex: index) { return .success(nil) }
                return (try? row.decode(String.self, atIndex: index)).map { .success($0) }
                    ?? .failure(.malformed(column: name))
            }
            guard case .success(let seq) = column(0, "seq") as Result<Int64, AuditBreak> else {
                return .broken(seq: expected, reason: .malformed(column: "seq"))
            }
            if seq != expected {
                // ORDER BY seq makes seq < expected impossible; a larger one is a gap.
                return .broken(seq: expected, reason: .missing(found: seq))
            }
            let fields: (String, String, String, String?, String?, String?, String, Data, Data)
            do {
                fields = (
                    try column(1, "at").get(), try column(2, "actor").get(),
                    try column(3, "action").get(), try optionalColumn(4, "pseudonym").get(),
                    try optionalColumn(5, "message_type").get(),
                    try optionalColumn(6, "message_id").get(), try column(7, "purpose").get(),
                    try column(8, "prev_hash").get(), try column(9, "hash").get()
                )
            } catch {
                return .broken(seq: seq, reason: error)
            }
            let (at, actor, action, pseudonym, messageType, messageID, purpose, storedPrev, storedHash) = fields
            guard storedPrev.count == 32 else {
                return .broken(seq: seq, reason: .malformed(column: "prev_hash"))
            }
            guard storedHash.count == 32 else {
                return .broken(seq: seq, reason: .malformed(column: "hash"))
            }
            if storedPrev != prev {
                return .broken(seq: seq, reason: .brokenLink)
            }
            let canonical = canonical(
                seq: seq, at: at, actor: actor, action: action, pseudonym: pseudonym,
                messageType: messageType, messageID: messageID, purpose: purpose)
            let computed = hash(key: key, prevHash: prev, canonical: canonical)
            // Constant-time comparison is not needed here: the verifier holds the key.
            if computed != storedHash {
                return .broken(seq: seq, reason: .contentMismatch)
            }
            if let anchor, anchor.seq == seq {
                guard Hex.encode(storedHash) == anchor.hash.lowercased() else {
                    return .broken(seq: seq, reason: .anchorMismatch)
                }
                anchorSeen = true
            }
            prev = storedHash
            expected = seq + 1
        }
        if let anchor, !anchorSeen {
            return .broken(seq: anchor.seq, reason: .anchorMismatch)
        }
        let count = expected - 1
        return .ok(
            count: count,
            head: count == 0 ? nil : AuditAnchor(seq: count, hash: Hex.encode(prev)))
    }

    static func entry(_ row: Row) throws -> AuditEntry {
        let pseudonymText: String? = try row.decode(forColumn: "pseudonym")
        var pseudonym: Pseudonym?
        if let pseudonymText {
            guard let value = Pseudonym(hex: pseudonymText) else {
                throw StoreError(.encoding, "audit column pseudonym holds a value ddrouter never writes")
            }
            pseudonym = value
        }
        return AuditEntry(
            seq: try row.decode(forColumn: "seq"),
            at: try Timestamp.decode(try row.decode(forColumn: "at"), column: "audit.at"),
            actor: try row.decode(forColumn: "actor"),
            action: AuditAction(rawValue: try row.decode(forColumn: "action")),
            pseudonym: pseudonym,
            messageType: try row.decode(forColumn: "message_type"),
            messageID: try row.decode(forColumn: "message_id"),
            purpose: try row.decode(forColumn: "purpose"),
            prevHash: try row.decode(forColumn: "prev_hash"),
            hash: try row.decode(forColumn: "hash"))
    }
}
