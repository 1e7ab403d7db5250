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
    /// HMAC of the previous entry (32 zero bytes for the first). Empty for an entry written
    /// from schema v8 on: a seal covers it with the other entries of its write.
    public var prevHash: Data
    /// HMAC(key, prevHash ‖ canonical encoding of this entry); empty for a sealed entry.
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
    /// The seal over the entries from this one up to `last` does not match them: one of them
    /// was edited, removed and renumbered, or replaced (or another audit key is configured).
    /// A seal of one entry is reported as `contentMismatch`.
    case sealMismatch(last: Int64)
    /// The entries from this one on are covered by no seal: a seal was deleted, or entries
    /// were added without the audit key.
    case unsealed
    /// Entries from this one up to `through`, which a seal covers, are missing: the end of
    /// the trail was removed.
    case cutOff(through: Int64)

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
        case .sealMismatch(let last):
            "the seal over it and the entries after it up to \(last) does not match them; one of them was edited, replaced or renumbered (or a different audit key is configured)"
        case .cutOff(let last):
            "it and the entries after it up to \(last) are missing although a seal covers them; the end of the trail was removed"
        case .unsealed:
            "no seal covers it; a seal was deleted or entries were added without the audit key"
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

    /// What a seal's keyed hash starts with after the previous hash: it keeps a seal's
    /// input apart from an entry's (`hash`).
    static let sealTag = Array("ddrouter.audit.seal.v1".utf8)

    /// A write's entries on their way into one seal: HMAC(key, previous hash ‖ `sealTag` ‖
    /// the canonical encoding of each entry, in seq order). The canonical encodings carry
    /// their seq and length-prefixed fields, so the concatenation is unambiguous.
    struct Seal {
        let first: Int64
        var mac: HMAC<SHA256>

        init(first: Int64, prev: Data, key: KeyBytes) {
            self.first = first
            mac = key.mac
            mac.update(data: prev)
            mac.update(data: AuditChain.sealTag)
        }

        mutating func add(_ canonical: [UInt8]) { mac.update(data: canonical) }

        func finish() -> Data { mac.finalize().withUnsafeBytes { Data($0) } }
    }

    /// The chain as one write transaction sees it: the next seq, the hash the next seal
    /// chains to, and the entries appended since the last seal.
    struct State {
        var next: Int64
        var prev: Data
        var open: Seal?
        /// The store's committed `audit_terms` ids, and those this write looked up or added
        /// (handed to `terms` when it commits).
        let terms: AuditTerms
        var pendingTerms: [String: Int64] = [:]
        /// The message ids this write stored as text, anchors for the next (`AuditMessageIDs`).
        var recentIDs = AuditMessageIDs.Recent()
        /// The `audit_subjects` ids this write looked up or added, by pseudonym (v20).
        var subjects: [Pseudonym: Int64] = [:]

        init(next: Int64, prev: Data, terms: AuditTerms) {
            self.next = next
            self.prev = prev
            self.terms = terms
        }

        /// Read from the table: after the newest entry, chained to the hash that covers it
        /// (`head`).
        static func read(_ db: Database, terms: AuditTerms) throws -> State {
            guard let head = try head(db) else { return State(next: 1, prev: genesis, terms: terms) }
            if let hash = head.hash, hash.count == 32 { return State(next: head.seq + 1, prev: hash, terms: terms) }
            // A trail whose newest entries lack their seal chains on from the last seal;
            // `verify` names the unsealed entries.
            let seal = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT hash FROM audit_seals ORDER BY last_seq DESC LIMIT 1"))
            return State(next: head.seq + 1, prev: seal ?? genesis, terms: terms)
        }

        mutating func term(_ text: String, _ db: Database) throws -> Int64 {
            try terms.id(text, db: db, pending: &pendingTerms)
        }

        /// The id of `pseudonym` in `audit_subjects`, added the first time an entry names it.
        /// Kept for this write only: an id added by a write that rolls back names nothing.
        mutating func subject(_ pseudonym: Pseudonym, _ db: Database) throws -> Int64 {
            if let id = subjects[pseudonym] { return id }
            let id = try Queries.nameID(db, table: "audit_subjects", column: "pseudonym", CompactColumn.pseudonym(pseudonym))
            subjects[pseudonym] = id
            return id
        }
    }

    /// The newest entry's seq and the hash that covers it: its own (an entry written before
    /// v8) or its seal's; `hash` is `nil` when no seal ends at it. `nil` for an empty trail.
    static func head(_ db: Database) throws -> (seq: Int64, hash: Data?)? {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"))
        else { return nil }
        let seq: Int64 = try row.decode(atIndex: 0)
        let own: Data = try row.decode(atIndex: 1)
        if !own.isEmpty { return (seq, own) }
        let seal = try Data.fetchOne(
            db.cachedStatement(sql: "SELECT hash FROM audit_seals WHERE last_seq = ?"), arguments: [seq])
        return (seq, seal)
    }

    /// Appends one entry inside the caller's transaction, to be sealed with the others of
    /// its write (`seal`); returns its seq.
    static func append(_ record: AuditRecord, db: Database, key: KeyBytes, state: inout State) throws -> Int64 {
        let seq = state.next
        let (storedAt, at) = CompactColumn.instant(record.at)
        let pseudonym = record.pseudonym?.hex
        let subject = try record.pseudonym.map { try state.subject($0, db) }
        let actor = try state.term(record.actor, db)
        let action = try state.term(record.action.rawValue, db)
        let messageType = try record.messageType.map { try state.term($0, db) }
        let purpose = try state.term(record.purpose, db)
        try db.cachedStatement(
            sql: """
                INSERT INTO audit (seq, at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, X'', X'')
                """
        ).execute(arguments: [
            seq, storedAt, actor, action, subject, messageType,
            record.messageID.map { state.recentIDs.stored($0, seq: seq) }, purpose,
        ])
        if state.open == nil { state.open = Seal(first: seq, prev: state.prev, key: key) }
        state.open!.add(canonical(
            seq: seq, at: at, actor: record.actor, action: record.action.rawValue, pseudonym: pseudonym,
            messageType: record.messageType, messageID: record.messageID, purpose: record.purpose))
        state.next = seq + 1
        return seq
    }

    /// Writes the seal of the entries appended since the last one, if any; returns the new
    /// head of the chain.
    @discardableResult
    static func seal(db: Database, state: inout State) throws -> AuditAnchor? {
        guard let open = state.open else { return nil }
        let hash = open.finish()
        let last = state.next - 1
        try db.cachedStatement(sql: "INSERT INTO audit_seals (last_seq, first_seq, hash) VALUES (?, ?, ?)")
            .execute(arguments: [last, open.first, hash])
        state.prev = hash
        state.open = nil
        return AuditAnchor(seq: last, hash: Hex.encode(hash))
    }

    /// Walks the whole trail in seq order (streaming, constant memory): each entry written
    /// before v8 against its own hash, each seal against its entries.
    static func verify(db: Database, key: KeyBytes, anchor: AuditAnchor?) throws
        -> AuditVerification
    {
        let names = AuditTermNames(db)
        let rows = try Row.fetchCursor(db, sql: "SELECT \(AuditColumns.selection) FROM audit ORDER BY seq")
        let seals = try Row.fetchCursor(db, sql: "SELECT last_seq, first_seq, hash FROM audit_seals ORDER BY last_seq")
        func nextSeal() throws -> (last: Int64, first: Int64, hash: Data?)? {
            guard let row = try seals.next() else { return nil }
            let hash = try? row.decode(Data.self, atIndex: 2)
            return ((try? row.decode(atIndex: 0)) ?? 0, (try? row.decode(atIndex: 1)) ?? 0, hash?.count == 32 ? hash : nil)
        }
        var seal = try nextSeal()
        var open: Seal?
        var expected: Int64 = 1
        var prev = genesis
        var anchorSeen = false
        func anchored(_ seq: Int64, _ hash: Data) -> Bool {
            guard let anchor, anchor.seq == seq else { return true }
            anchorSeen = true
            return Hex.encode(hash) == anchor.hash.lowercased()
        }
        while let row = try rows.next() {
            // A tampered row may hold values of any type: report it, never trap.
            guard let seq = try? row.decode(Int64.self, atIndex: 0) else {
                return .broken(seq: expected, reason: .malformed(column: "seq"))
            }
            if seq != expected {
                // ORDER BY seq makes seq < expected impossible; a larger one is a gap.
                return .broken(seq: expected, reason: .missing(found: seq))
            }
            let fields: StoredAuditRow
            switch try StoredAuditRow.decode(row, seq: seq, names: names) {
            case .success(let value): fields = value
            case .failure(let reason): return .broken(seq: seq, reason: reason)
            }
            let canonical = fields.canonical
            let storedPrev = fields.prevHash
            let storedHash = fields.hash
            expected = seq + 1
            if storedPrev.isEmpty && storedHash.isEmpty {
                // Sealed with the other entries of its write.
                if open == nil {
                    guard let next = seal, next.first == seq else {
                        return .broken(seq: seq, reason: .unsealed)
                    }
                    open = Seal(first: seq, prev: prev, key: key)
                }
                open!.add(canonical)
                guard let current = seal, current.last == seq else { continue }
                guard let stored = current.hash else {
                    return .broken(seq: current.first, reason: .malformed(column: "audit_seals.hash"))
                }
                // Constant-time comparison is not needed here: the verifier holds the key.
                if open!.finish() != stored {
                    return .broken(
                        seq: current.first, reason: current.first == seq ? .contentMismatch : .sealMismatch(last: seq))
                }
                if !anchored(seq, stored) { return .broken(seq: seq, reason: .anchorMismatch) }
                prev = stored
                open = nil
                seal = try nextSeal()
                continue
            }
            // An entry of a version before v8, with its own hash; never inside a seal.
            if let open { return .broken(seq: open.first, reason: .sealMismatch(last: seal?.last ?? seq)) }
            if let next = seal, next.first <= seq { return .broken(seq: seq, reason: .malformed(column: "hash")) }
            guard storedPrev.count == 32 else {
                return .broken(seq: seq, reason: .malformed(column: "prev_hash"))
            }
            guard storedHash.count == 32 else {
                return .broken(seq: seq, reason: .malformed(column: "hash"))
            }
            if storedPrev != prev {
                return .broken(seq: seq, reason: .brokenLink)
            }
            if hash(key: key, prevHash: prev, canonical: canonical) != storedHash {
                return .broken(seq: seq, reason: .contentMismatch)
            }
            if !anchored(seq, storedHash) { return .broken(seq: seq, reason: .anchorMismatch) }
            prev = storedHash
        }
        // A seal left over names entries that are gone: the end of the trail was cut off.
        if let seal { return .broken(seq: expected, reason: .cutOff(through: seal.last)) }
        if let open { return .broken(seq: open.first, reason: .unsealed) }
        if let anchor, !anchorSeen {
            return .broken(seq: anchor.seq, reason: .anchorMismatch)
        }
        let count = expected - 1
        return .ok(
            count: count,
            head: count == 0 ? nil : AuditAnchor(seq: count, hash: Hex.encode(prev)))
    }

    /// An entry of a row selected as `AuditColumns.selection`.
    static func entry(_ row: Row, names: AuditTermNames) throws -> AuditEntry {
        func malformed(_ column: String) -> StoreError {
            StoreError(.encoding, "audit column \(column) holds a value ddrouter never writes")
        }
        guard let seq = try? row.decode(Int64.self, atIndex: 0) else { throw malformed("seq") }
        let stored: StoredAuditRow
        switch try StoredAuditRow.decode(row, seq: seq, names: names) {
        case .success(let value): stored = value
        case .failure(.malformed(let column)): throw malformed(column)
        case .failure: throw malformed("?")
        }
        var pseudonym: Pseudonym?
        if let text = stored.pseudonym {
            guard let value = Pseudonym(hex: text) else { throw malformed("pseudonym") }
            pseudonym = value
        }
        return AuditEntry(
            seq: seq,
            at: try Timestamp.decode(stored.at, column: "audit.at"),
            actor: stored.actor,
            action: AuditAction(rawValue: stored.action),
            pseudonym: pseudonym,
            messageType: stored.messageType,
            messageID: stored.messageID,
            purpose: stored.purpose,
            prevHash: stored.prevHash,
            hash: stored.hash)
    }
}
