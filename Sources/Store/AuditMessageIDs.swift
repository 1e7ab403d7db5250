import Foundation
import GRDB

/// How `audit.message_id` keeps a message id from schema v17 on: as its text, or as a blob
/// that spells it from an earlier entry's message id (its anchor).
///
/// A list citizen's entries name ids such as `municipality.851/m-851-2026-11#6289/0-contact-status-request`
/// and the next citizen's `…#6290/0-contact-status-request`: about 60 bytes each, four per
/// citizen (queued and sent, for two events), that differ from one another in a few
/// characters. A coded id is:
///
/// | field | form |
/// |---|---|
/// | distance | LEB128: the entry's seq minus its anchor's (≥ 1) |
/// | prefix | LEB128: bytes taken from the start of the anchor's id |
/// | suffix | LEB128: bytes taken from the end of the anchor's id |
/// | middle | the remaining bytes of the id, UTF-8 |
///
/// so the id is `anchor[..<prefix] + middle + anchor[(count - suffix)...]`. An anchor is an
/// entry whose id is stored as text (never a coded one), written in the same transaction,
/// one of the last `anchors` such entries: a reader that walks the trail in seq order finds it
/// among the last ones it read (`AuditTermNames`). What the chain hashes is the id's text, as
/// before: changing an anchor's id changes the ids spelled from it, and `audit verify` finds
/// the change at the anchor.
enum AuditMessageIDs {
    /// How many recent text ids of its transaction a writer codes an id against.
    static let anchors = 8
    /// An id is coded only when that saves at least this many bytes.
    static let minimumSaving = 4

    /// The ids stored as text so far in one transaction, newest last (`AuditChain.State`).
    struct Recent {
        private(set) var entries: [(seq: Int64, bytes: [UInt8])] = []

        /// The column's value for `text` written as entry `seq`; a text value is remembered
        /// as an anchor for the ids after it.
        mutating func stored(_ text: String, seq: Int64) -> DatabaseValue {
            let bytes = Array(text.utf8)
            if let coded = AuditMessageIDs.code(bytes, seq: seq, anchors: entries) { return Data(coded).databaseValue }
            if entries.count == AuditMessageIDs.anchors { entries.removeFirst() }
            entries.append((seq, bytes))
            return text.databaseValue
        }
    }

    /// The shortest coding of `bytes` against one of `anchors`, when it saves `minimumSaving`.
    static func code(_ bytes: [UInt8], seq: Int64, anchors: [(seq: Int64, bytes: [UInt8])]) -> [UInt8]? {
        var best: [UInt8]?
        for anchor in anchors.reversed() where anchor.seq < seq {
            let limit = min(bytes.count, anchor.bytes.count)
            var prefix = 0
            while prefix < limit, bytes[prefix] == anchor.bytes[prefix] { prefix += 1 }
            var suffix = 0
            while prefix + suffix < limit,
                bytes[bytes.count - 1 - suffix] == anchor.bytes[anchor.bytes.count - 1 - suffix]
            {
                suffix += 1
            }
            var out: [UInt8] = []
            LEB128.append(UInt64(seq - anchor.seq), to: &out)
            LEB128.append(UInt64(prefix), to: &out)
            LEB128.append(UInt64(suffix), to: &out)
            guard out.count + bytes.count - prefix - suffix + minimumSaving <= bytes.count else { continue }
            out += bytes[prefix..<(bytes.count - suffix)]
            if best == nil || out.count < best!.count { best = out }
        }
        return best
    }

    /// The anchor's seq of a coded id stored in entry `seq`; nil for a text or NULL.
    static func anchorSeq(_ value: DatabaseValue, seq: Int64) -> Int64? {
        guard case .blob(let blob) = value.storage, let (distance, _) = LEB128.read(Array(blob), at: 0),
            distance >= 1, distance < UInt64(seq)
        else { return nil }
        return seq - Int64(distance)
    }

    /// The id `blob` spells for entry `seq`; nil when it is not a coding ddrouter writes, or
    /// its anchor (`anchor(seq)`, nil when that entry has no text id) does not fit it.
    static func decode(_ blob: [UInt8], seq: Int64, anchor: (Int64) throws -> [UInt8]?) rethrows -> String? {
        guard let (distance, a) = LEB128.read(blob, at: 0), let (prefix, b) = LEB128.read(blob, at: a),
            let (suffix, start) = LEB128.read(blob, at: b), distance >= 1, distance < UInt64(Int64.max),
            seq - Int64(distance) >= 1, let base = try anchor(seq - Int64(distance)),
            prefix <= UInt64(base.count), suffix <= UInt64(base.count) - prefix
        else { return nil }
        var bytes = Array(base[..<Int(prefix)])
        bytes += blob[start...]
        bytes += base[(base.count - Int(suffix))...]
        return String(validating: bytes, as: UTF8.self)
    }
}
