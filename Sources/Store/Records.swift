public import Foundation

// Value types the store reads and writes. Domain values (case state, decisions,
// explanations, timer payloads) travel as JSON `Data` so that the store does not
// depend on the Workflow or Contract modules; `StoreJSON` and the `decode…` helpers
// convert from and to `Codable` types.

/// JSON encoding used for blobs: sorted keys (byte-stable for the same value),
/// ISO 8601 dates.
public enum StoreJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        do {
            return try encoder.encode(value)
        } catch {
            throw StoreError(
                .encoding, "cannot encode a \(T.self) as JSON for the store: \(error)")
        }
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: data)
        } catch {
            // The DecodingError names the coding path, never the values.
            throw StoreError(
                .encoding,
                "a stored blob does not decode as \(T.self) (written by an incompatible version?): \(Self.describe(error))"
            )
        }
    }

    /// `[String: String]` as JSON with sorted keys (stable bytes for the same
    /// dictionary), without JSONEncoder's per-call cost: it runs once per outbound
    /// event. Read back with `decode(_:from:)`.
    static func encodeHeaders(_ headers: [String: String]) -> Data {
        if headers.isEmpty { return Data("{}".utf8) }
        var out = [UInt8]()
        out.reserveCapacity(64)
        out.append(UInt8(ascii: "{"))
        func string(_ text: String) {
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: [0x5c, 0x22])
                case UInt8(ascii: "\\"): out.append(contentsOf: [0x5c, 0x5c])
                case 0x08: out.append(contentsOf: [0x5c, UInt8(ascii: "b")])
                case 0x0c: out.append(contentsOf: [0x5c, UInt8(ascii: "f")])
                case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
                case 0x0d: out.append(contentsOf: [0x5c, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5c, UInt8(ascii: "t")])
                case 0..<0x20:
                    out.append(contentsOf: Array("\\u00".utf8))
                    out.append(contentsOf: Array(Hex.encode([byte]).utf8))
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        // JSONEncoder's .sortedKeys orders by String comparison.
        for (index, key) in headers.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            string(key)
            out.append(UInt8(ascii: ":"))
            string(headers[key]!)
        }
        out.append(UInt8(ascii: "}"))
        return Data(out)
    }

    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(type(of: error))" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let c): return "type mismatch at '\(path(c))'"
        case .valueNotFound(_, let c): return "missing value at '\(path(c))'"
        case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)' at '\(path(c))'"
        case .dataCorrupted(let c): return "corrupted data at '\(path(c))'"
        @unknown default: return "decoding error"
        }
    }
}

// MARK: - Inbox

/// One inbound message as remembered for de-duplication, with the receipt that was
/// sent for it (resent byte-identical when the same message arrives again).
public struct InboxEntry: Sendable, Hashable {
    public var sender: String
    public var messageID: String
    public var type: String
    public var receivedAt: Date
    public var receipt: Data

    public init(sender: String, messageID: String, type: String, receivedAt: Date, receipt: Data) {
        self.sender = sender
        self.messageID = messageID
        self.type = type
        self.receivedAt = receivedAt
        self.receipt = receipt
    }
}

public enum InboxResult: Sendable, Hashable {
    /// First time this (sender, message id) was seen; the entry is recorded.
    case recorded
    /// Seen before: nothing was written; resend this stored receipt, change nothing.
    case duplicate(receipt: Data)
}

// MARK: - Cases

public struct CaseRecord: Sendable, Hashable {
    public var caseID: String
    public var pseudonym: Pseudonym
    /// Workflow kind, e.g. "A" / "B" or a longer name chosen by the Workflow module.
    public var workflow: String
    /// Official municipality code, e.g. "851" for Aalborg.
    public var municipality: String
    public var clinic: String?
    /// Status used for reports and queues.
    public var status: String
    /// The case's state machine value as JSON.
    public var state: Data
    public var updatedAt: Date
    /// Set by the store: 1 when created, +1 on every update.
    public internal(set) var revision: Int64
    /// Set by the store: the `updatedAt` of the first write.
    public internal(set) var createdAt: Date?

    public init(
        caseID: String, pseudonym: Pseudonym, workflow: String, municipality: String,
        clinic: String?, status: String, state: Data, updatedAt: Date
    ) {
        self.caseID = caseID
        self.pseudonym = pseudonym
        self.workflow = workflow
        self.municipality = municipality
        self.clinic = clinic
        self.status = status
        self.state = state
        self.updatedAt = updatedAt
        self.revision = 0
        self.createdAt = nil
    }

    /// Convenience: encodes `state` with `StoreBinary`.
    public init<State: Encodable>(
        caseID: String, pseudonym: Pseudonym, workflow: String, municipality: String,
        clinic: String?, status: String, state: State, updatedAt: Date
    ) throws {
        self.init(
            caseID: caseID, pseudonym: pseudonym, workflow: workflow,
            municipality: municipality, clinic: clinic, status: status,
            state: try StoreBinary.encode(state), updatedAt: updatedAt)
    }

    public func decodeState<State: Decodable>(as type: State.Type) throws -> State {
        try StoreBinary.decode(type, from: state)
    }
}

/// What a history entry records. Open set: the Workflow module may add kinds.
public struct HistoryKind: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    /// An input that reached the case (a message, an entry of a list, a timer).
    public static let input: HistoryKind = "input"
    /// A decision taken by the rules, with its explanation.
    public static let decision: HistoryKind = "decision"
}

/// Several history entries of one case and instant in one `case_history` row (kind
/// `step`): a delivery's input and the decisions it led to, one row instead of two or three.
///
/// The row's payload frames the entries' own blobs (already `StoreBinary`) without
/// re-encoding them: the bytes `DE 01`, then per entry its kind, message id, payload and
/// explanation, each a LEB128 byte count and the bytes, the count 0 with the flag byte
/// before them telling an absent message id or explanation from an empty one (bit 0:
/// message id present, bit 1: explanation present). About ten bytes per entry.
///
/// Written since 2026-12-07 as `DE 02`, the LEB128 byte count of that frame after its `DE 01`,
/// then the frame deflated with the store's dictionary (`StoreDeflate`), when that is
/// smaller: one stream over all the entries, which the daemon hands over uncompressed
/// (`StoreBinary.encodeUncompressed`), is a quarter smaller than each entry deflated alone.
/// The entries' bytes are kept exactly as given.
struct HistoryStep {
    static let kind: HistoryKind = "step"
    static let magic: (UInt8, UInt8) = (0xDE, 0x01)
    static let compressedMagic: (UInt8, UInt8) = (0xDE, 0x02)

    struct Part: Equatable {
        var kind: String
        var messageID: String?
        var payload: Data
        var explanation: Data?
    }

    var parts: [Part]

    func encoded() -> Data { Data(frame()) }

    private func frame() -> [UInt8] {
        var bytes: [UInt8] = [Self.magic.0, Self.magic.1]
        bytes.reserveCapacity(parts.reduce(16) { $0 + $1.payload.count + ($1.explanation?.count ?? 0) + 80 })
        func field(_ data: some Collection<UInt8>) {
            LEB128.append(UInt64(data.count), to: &bytes)
            bytes.append(contentsOf: data)
        }
        for part in parts {
            bytes.append((part.messageID == nil ? 0 : 1) | (part.explanation == nil ? 0 : 2))
            field(Array(part.kind.utf8))
            field(Array((part.messageID ?? "").utf8))
            field(part.payload)
            field(part.explanation ?? Data())
        }
        return bytes
    }

    /// `encoded()`, deflated when that is smaller.
    func compressed() -> Data {
        let frame = frame()
        return Data(StoreDeflate.framed(frame, header: Self.compressedMagic) ?? frame)
    }

    init(parts: [Part]) { self.parts = parts }

    /// Reads what `encoded` wrote; a damaged payload throws a store error naming no content.
    init(decoding data: Data) throws {
        var bytes = [UInt8](data)
        if bytes.count >= 2, bytes[0] == Self.compressedMagic.0, bytes[1] == Self.compressedMagic.1 {
            do {
                bytes = try StoreDeflate.unframed(bytes, header: Self.magic)
            } catch {
                throw StoreError(.encoding, "a compressed case history step is damaged (\(error.reason))")
            }
        }
        guard bytes.count >= 2, bytes[0] == Self.magic.0, bytes[1] == Self.magic.1 else {
            throw StoreError(.encoding, "a case history step is not in the step layout (written by an incompatible version?)")
        }
        var offset = 2
        func damaged() -> StoreError { StoreError(.encoding, "a case history step is damaged (at byte \(offset))") }
        func field() throws -> ArraySlice<UInt8> {
            guard let (count, next) = LEB128.read(bytes, at: offset) else { throw damaged() }
            offset = next
            guard count <= UInt64(bytes.count - offset) else { throw damaged() }
            defer { offset += Int(count) }
            return bytes[offset..<offset + Int(count)]
        }
        var parts: [Part] = []
        while offset < bytes.count {
            let flags = bytes[offset]
            offset += 1
            guard flags & ~3 == 0, let kind = String(validating: try field(), as: UTF8.self),
                let messageID = String(validating: try field(), as: UTF8.self)
            else { throw damaged() }
            let payload = Data(try field())
            let explanation = Data(try field())
            parts.append(Part(
                kind: kind, messageID: flags & 1 == 0 ? nil : messageID, payload: payload,
                explanation: flags & 2 == 0 ? nil : explanation))
        }
        self.parts = parts
    }

    /// The entries of a `step` row, each with the row's id, case and instant.
    static func entries(of row: CaseHistoryEntry) throws -> [CaseHistoryEntry] {
        try HistoryStep(decoding: row.payload).parts.map { part in
            var entry = CaseHistoryEntry(
                caseID: row.caseID, at: row.at, kind: HistoryKind(rawValue: part.kind), messageID: part.messageID,
                payload: part.payload, explanation: part.explanation)
            entry.id = row.id
            return entry
        }
    }
}

public struct CaseHistoryEntry: Sendable, Hashable {
    /// Set by the store; increases in insertion order (the entries of one step share it).
    public internal(set) var id: Int64
    public var caseID: String
    public var at: Date
    public var kind: HistoryKind
    /// The inbound message (or timer id) that caused this entry, if any.
    public var messageID: String?
    /// The input or decision as JSON.
    public var payload: Data
    /// Why: the rule's explanation as JSON.
    public var explanation: Data?

    public init(
        caseID: String, at: Date, kind: HistoryKind, messageID: String?, payload: Data,
        explanation: Data?
    ) {
        self.id = 0
        self.caseID = caseID
        self.at = at
        self.kind = kind
        self.messageID = messageID
        self.payload = payload
        self.explanation = explanation
    }
}

// MARK: - Consent

public enum ConsentDirection: String, Sendable, Hashable, CaseIterable, Codable {
    case municipalityToRegion = "municipality-to-region"
    case regionToMunicipality = "region-to-municipality"
}

public enum ConsentState: String, Sendable, Hashable, CaseIterable, Codable {
    case given
    case refused
    case withdrawn
}

/// What a citizen's consent says about one direction and purpose (stored as part of a
/// `ConsentStatement`). Statements are appended, never changed; the latest statement per
/// (direction, purpose) is the current one. Deny by default: no record means no consent.
public struct ConsentRecord: Sendable, Hashable {
    /// Set by the store; increases in insertion order.
    public internal(set) var id: Int64
    public var pseudonym: Pseudonym
    public var direction: ConsentDirection
    /// e.g. "dual-diagnosis coordination (sundhedsloven § 43)".
    public var purpose: String
    public var state: ConsentState
    public var validFrom: Date
    public var withdrawnAt: Date?
    /// Where the consent is documented (journal note, form id).
    public var reference: String
    public var recordedAt: Date
    /// The inbound message that carried this statement, if any.
    public var messageID: String?

    /// `ConsentDirection` under a name that does not clash with `Workflow.ConsentDirection`.
    public typealias Direction = ConsentDirection

    public init(
        pseudonym: Pseudonym, direction: ConsentDirection, purpose: String, state: ConsentState,
        validFrom: Date, withdrawnAt: Date? = nil, reference: String, recordedAt: Date,
        messageID: String? = nil
    ) {
        self.id = 0
        self.pseudonym = pseudonym
        self.direction = direction
        self.purpose = purpose
        self.state = state
        self.validFrom = validFrom
        self.withdrawnAt = withdrawnAt
        self.reference = reference
        self.recordedAt = recordedAt
        self.messageID = messageID
    }

    /// True when this record allows sharing at `date`: given, already valid, and not
    /// withdrawn at or before `date`.
    public func allows(at date: Date) -> Bool {
        switch state {
        case .given:
            guard validFrom <= date else { return false }
            if let withdrawnAt, withdrawnAt <= date { return false }
            return true
        case .refused, .withdrawn:
            return false
        }
    }
}

/// One consent statement as it is stored: one row for every direction and purpose it
/// covers (a list entry's consent covers both purposes for its directions). Reading expands
/// it into one `ConsentRecord` per direction and purpose, all with the statement's id.
public struct ConsentStatement: Sendable, Hashable {
    public var pseudonym: Pseudonym
    /// Not empty, no repeats.
    public var directions: [ConsentDirection]
    /// Not empty, no repeats, none containing a line break (the store's separator).
    public var purposes: [String]
    public var state: ConsentState
    public var validFrom: Date
    public var withdrawnAt: Date?
    public var reference: String
    public var recordedAt: Date
    public var messageID: String?

    public init(
        pseudonym: Pseudonym, directions: [ConsentDirection], purposes: [String], state: ConsentState,
        validFrom: Date, withdrawnAt: Date? = nil, reference: String, recordedAt: Date, messageID: String? = nil
    ) {
        self.pseudonym = pseudonym
        self.directions = directions
        self.purposes = purposes
        self.state = state
        self.validFrom = validFrom
        self.withdrawnAt = withdrawnAt
        self.reference = reference
        self.recordedAt = recordedAt
        self.messageID = messageID
    }

    /// A statement about one direction and purpose.
    public init(_ record: ConsentRecord) {
        self.init(
            pseudonym: record.pseudonym, directions: [record.direction], purposes: [record.purpose], state: record.state,
            validFrom: record.validFrom, withdrawnAt: record.withdrawnAt, reference: record.reference,
            recordedAt: record.recordedAt, messageID: record.messageID)
    }

    /// One record per direction and purpose, directions first, in the statement's order.
    public func records(id: Int64) -> [ConsentRecord] {
        directions.flatMap { direction in
            purposes.map { purpose in
                var record = ConsentRecord(
                    pseudonym: pseudonym, direction: direction, purpose: purpose, state: state, validFrom: validFrom,
                    withdrawnAt: withdrawnAt, reference: reference, recordedAt: recordedAt, messageID: messageID)
                record.id = id
                return record
            }
        }
    }
}

/// `ConsentRecord` under a name that does not clash with `Workflow.ConsentRecord` (the
/// module name `Store` is shadowed by the class `Store`, so `Store.ConsentRecord` cannot
/// disambiguate it in modules importing both).
public typealias StoreConsentRecord = ConsentRecord

// MARK: - Outbox

/// What the outbox holds: only events the broker has not yet confirmed (a confirmed row is
/// deleted; its `sent` audit entry is what stays). Stores before schema v9 also held `sent`
/// rows; the v9 migration deleted them.
public enum OutboxState: String, Sendable, Hashable, CaseIterable {
    /// Not yet confirmed by the broker (may have been published before a crash).
    case pending
}

/// An event to publish. `messageID` is unique across the outbox; enqueueing the same
/// id again with the same content is a no-op (idempotent), with other content an error.
public struct OutboxEvent: Sendable, Hashable {
    /// Set by the store; publication order.
    public internal(set) var sequence: Int64
    public var messageID: String
    public var exchange: String
    public var routingKey: String
    public var type: String
    public var correlationID: String?
    public var headers: [String: String]
    public var body: Data
    public var createdAt: Date
    /// SHA-256 of the body, kept from the enqueue on (the idempotence check of `enqueue`);
    /// `nil` only for a row read before it was stored.
    public internal(set) var bodyDigest: Data?
    public internal(set) var state: OutboxState
    public internal(set) var attempts: Int
    /// When the relay may try a row again after a failed publish (`nil`: never failed).
    public internal(set) var nextAttemptAt: Date?
    /// Who receives the event, about whom and why: the "sent" audit entry written when the
    /// broker confirms it. Not published; not part of the idempotence check.
    public var audit: OutboxAudit?

    public init(
        messageID: String, exchange: String, routingKey: String, type: String,
        correlationID: String?, headers: [String: String] = [:], body: Data, createdAt: Date,
        audit: OutboxAudit? = nil
    ) {
        self.audit = audit
        self.nextAttemptAt = nil
        self.sequence = 0
        self.messageID = messageID
        self.exchange = exchange
        self.routingKey = routingKey
        self.type = type
        self.correlationID = correlationID
        self.headers = headers
        self.body = body
        self.createdAt = createdAt
        self.state = .pending
        self.attempts = 0
    }
}

/// The audit facts of an outbox row (see `OutboxEvent.audit`).
public struct OutboxAudit: Sendable, Hashable {
    /// The recipient, e.g. `municipality.851`, `clinic.<id>`, `cv`.
    public var actor: String
    /// The citizen the event is about, if one.
    public var pseudonym: Pseudonym?
    /// Purpose or legal basis of the disclosure.
    public var purpose: String

    public init(actor: String, pseudonym: Pseudonym?, purpose: String) {
        self.actor = actor
        self.pseudonym = pseudonym
        self.purpose = purpose
    }
}

public enum EnqueueResult: Sendable, Hashable {
    case enqueued
    /// An identical event with this id is already in the outbox; nothing was written.
    case alreadyEnqueued
}

// MARK: - Timers

public enum TimerState: String, Sendable, Hashable, CaseIterable {
    case pending
    case fired
    /// Written by schema v6 and earlier only: a cancelled timer's row is deleted now (v7
    /// deletes the old ones).
    case cancelled
}

public struct TimerRecord: Sendable, Hashable {
    public var timerID: String
    public var caseID: String?
    public var kind: String
    public var dueAt: Date
    /// What to do when it fires, as JSON.
    public var payload: Data
    public var createdAt: Date
    public internal(set) var state: TimerState
    public internal(set) var firedAt: Date?

    public init(
        timerID: String, caseID: String?, kind: String, dueAt: Date, payload: Data,
        createdAt: Date
    ) {
        self.timerID = timerID
        self.caseID = caseID
        self.kind = kind
        self.dueAt = dueAt
        self.payload = payload
        self.createdAt = createdAt
        self.state = .pending
        self.firedAt = nil
    }

    public var fired: Bool { state == .fired }
}

public enum ScheduleResult: Sendable, Hashable {
    /// A new timer (or a cancelled one re-armed).
    case scheduled
    /// A pending timer with this id got the new due time and payload.
    case rescheduled
    /// A timer with this id has fired already; it is not armed again.
    case alreadyFired
}

// MARK: - Reports

public struct CaseCount: Sendable, Hashable {
    public var municipality: String
    public var clinic: String?
    public var status: String
    public var count: Int

    public init(municipality: String, clinic: String?, status: String, count: Int) {
        self.municipality = municipality
        self.clinic = clinic
        self.status = status
        self.count = count
    }
}

// MARK: - List members (R3)

/// A citizen on a municipal or clinic list of one municipality-clinic pair.
public struct ListMember: Sendable, Hashable {
    public enum Side: String, Sendable, Hashable, CaseIterable {
        case municipality
        case clinic
    }

    public var side: Side
    public var municipality: String
    /// The clinic of the pair; `""` for a municipal list to all clinics.
    public var clinic: String
    /// `list-1` or `list-2`.
    public var listKind: String
    public var pseudonym: Pseudonym
    /// The list's own date (`yyyy-MM-dd`).
    public var asOf: String
    public var messageID: String

    public init(
        side: Side, municipality: String, clinic: String, listKind: String, pseudonym: Pseudonym, asOf: String,
        messageID: String
    ) {
        self.side = side
        self.municipality = municipality
        self.clinic = clinic
        self.listKind = listKind
        self.pseudonym = pseudonym
        self.asOf = asOf
        self.messageID = messageID
    }
}
