import Foundation
import GRDB
import Synchronization

/// How the `audit` table keeps an entry from schema v11 on, and how a row is turned back
/// into the texts the chain hashes (`AuditChain.canonical`). The hashed form did not change
/// with v11: only the columns did, so seals written before verify after.
///
/// - `at`: an instant as `CompactColumn` keeps one (milliseconds, or the text).
/// - `actor`, `action`, `message_type`, `purpose`: the id of the text in `audit_terms` (a
///   few dozen texts, repeated in every row before). A text found in one of these columns
///   instead of an id is taken as it is: it can only have been written there by hand, and it
///   then fails its seal like any other edit.
/// - `pseudonym`: from v20 the id of the citizen's pseudonym in `audit_subjects` (each
///   pseudonym stored once, where it was 16 bytes in each of the citizen's entries and again
///   in `audit_by_pseudonym`); in entries written before, as `CompactColumn` keeps one (16
///   bytes, or a text that is not a pseudonym).
/// - `message_id`: the text, or from v17 a blob that spells it from an earlier entry's
///   (`AuditMessageIDs`).
enum AuditColumns {
    static func term(_ value: DatabaseValue, _ names: AuditTermNames) throws -> String? {
        switch value.storage {
        case .int64(let id): try names.name(id)
        case .string(let text): text
        default: nil
        }
    }

    /// The columns `decode` reads, in its order.
    static let selection = "seq, at, actor, action, pseudonym, message_type, message_id, purpose, prev_hash, hash"
}

/// One row of `audit` read back as the texts its hash covers (columns as `AuditColumns.selection`).
struct StoredAuditRow {
    var seq: Int64
    var at: String
    var actor: String
    var action: String
    var pseudonym: String?
    var messageType: String?
    var messageID: String?
    var purpose: String
    var prevHash: Data
    var hash: Data

    var canonical: [UInt8] {
        AuditChain.canonical(
            seq: seq, at: at, actor: actor, action: action, pseudonym: pseudonym, messageType: messageType,
            messageID: messageID, purpose: purpose)
    }

    /// A tampered row may hold values of any type: a column the store never writes that way is
    /// reported by name, never trapped on.
    static func decode(_ row: Row, seq: Int64, names: AuditTermNames) throws -> Result<StoredAuditRow, AuditBreak> {
        func value(_ index: Int) -> DatabaseValue { row[index] }
        guard let at = CompactColumn.instantText(value(1)) else { return .failure(.malformed(column: "at")) }
        guard let actor = try AuditColumns.term(value(2), names) else { return .failure(.malformed(column: "actor")) }
        guard let action = try AuditColumns.term(value(3), names) else { return .failure(.malformed(column: "action")) }
        let pseudonym: String?
        if case .int64(let id) = value(4).storage {
            guard let text = try names.subject(id) else { return .failure(.malformed(column: "pseudonym")) }
            pseudonym = text
        } else {
            guard let text = CompactColumn.pseudonymText(value(4)) else { return .failure(.malformed(column: "pseudonym")) }
            pseudonym = text
        }
        var messageType: String?
        if !value(5).isNull {
            guard let text = try AuditColumns.term(value(5), names) else {
                return .failure(.malformed(column: "message_type"))
            }
            messageType = text
        }
        var messageID: String?
        switch value(6).storage {
        case .null: break
        case .string(let text):
            messageID = text
            names.remember(messageID: text, seq: seq)
        case .blob(let blob):
            guard let text = try AuditMessageIDs.decode(Array(blob), seq: seq, anchor: names.messageID(anchor:)) else {
                return .failure(.malformed(column: "message_id"))
            }
            messageID = text
        default: return .failure(.malformed(column: "message_id"))
        }
        guard let purpose = try AuditColumns.term(value(7), names) else { return .failure(.malformed(column: "purpose")) }
        guard let prevHash = try? row.decode(Data.self, atIndex: 8) else {
            return .failure(.malformed(column: "prev_hash"))
        }
        guard let hash = try? row.decode(Data.self, atIndex: 9) else { return .failure(.malformed(column: "hash")) }
        return .success(StoredAuditRow(
            seq: seq, at: at, actor: actor, action: action, pseudonym: pseudonym, messageType: messageType,
            messageID: messageID, purpose: purpose, prevHash: prevHash, hash: hash))
    }
}

/// The texts of `audit_terms` one read needs, looked up by id as its rows name them and kept
/// for that read: a few dozen in practice, but the table only grows (a rejected message's type
/// and an operator's purpose become terms), so a read never loads all of it, and keeps at most
/// `limit` (beyond that, a text is looked up again). An id naming no text (a term removed by
/// hand) reads as nil, and its entries as malformed.
///
/// It also keeps the message ids the read met as text, the last `recentIDs` of them: the
/// anchors of the coded ids after them (`AuditMessageIDs`). An anchor not among them (a read
/// that skips entries) is read from the table.
final class AuditTermNames {
    private let db: Database
    private var known: [Int64: String?] = [:]
    static let limit = 4096
    private var recent: [(seq: Int64, bytes: [UInt8])] = []
    static let recentIDs = 4 * AuditMessageIDs.anchors

    private var subjects: [Int64: String?] = [:]

    /// The pseudonym (hex) of subject `id`; nil when there is no such subject.
    func subject(_ id: Int64) throws -> String? {
        if let hit = subjects[id] { return hit }
        let value = try DatabaseValue.fetchOne(
            db.cachedStatement(sql: "SELECT pseudonym FROM audit_subjects WHERE id = ?"), arguments: [id])
        var text: String?
        if case .blob(let bytes)? = value?.storage, bytes.count == 16 { text = Hex.encode(bytes) }
        if subjects.count < Self.limit { subjects[id] = text }
        return text
    }

    func remember(messageID text: String, seq: Int64) {
        if recent.count == Self.recentIDs { recent.removeFirst() }
        recent.append((seq, Array(text.utf8)))
    }

    /// The text id of entry `seq`; nil when that entry has none (no entry, NULL, a coded id).
    func messageID(anchor seq: Int64) throws -> [UInt8]? {
        if let hit = recent.last(where: { $0.seq == seq }) { return hit.bytes }
        let value = try DatabaseValue.fetchOne(
            db.cachedStatement(sql: "SELECT message_id FROM audit WHERE seq = ?"), arguments: [seq])
        guard case .string(let text)? = value?.storage else { return nil }
        return Array(text.utf8)
    }

    init(_ db: Database) { self.db = db }

    func name(_ id: Int64) throws -> String? {
        if let hit = known[id] { return hit }
        let value = try DatabaseValue.fetchOne(
            db.cachedStatement(sql: "SELECT term FROM audit_terms WHERE id = ?"), arguments: [id])
        var text: String?
        if case .string(let term)? = value?.storage { text = term }
        if known.count < Self.limit { known[id] = text }
        return text
    }
}

/// The `audit_terms` ids committed so far, shared by the store's writes so that an entry
/// costs no look-up of its texts. A write keeps the ids it looked up or added in its
/// `AuditChain.State` and hands them over only when it has committed (an id of a write that
/// rolled back would name nothing). Ids never change: the table refuses UPDATE and DELETE.
final class AuditTerms: Sendable {
    private let committed = Mutex<[String: Int64]>([:])
    /// Texts kept in memory at most; beyond, a text is looked up in the table (a sender
    /// that makes up a new message type for each rejected message cannot grow the cache).
    static let limit = 4096

    func id(_ term: String, db: Database, pending: inout [String: Int64]) throws -> Int64 {
        if let id = pending[term] ?? committed.withLock({ $0[term] }) { return id }
        let id = try Queries.nameID(db, table: "audit_terms", column: "term", term)
        pending[term] = id
        return id
    }

    /// Called after the write that looked these up has committed.
    func commit(_ pending: [String: Int64]) {
        guard !pending.isEmpty else { return }
        committed.withLock { known in
            for (term, id) in pending where known.count < Self.limit { known[term] = id }
        }
    }
}
