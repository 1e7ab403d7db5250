public import Foundation

/// The AMQP properties of a delivery, as the consumer received them.
public struct InboundProperties: Sendable, Hashable {
    /// AMQP `type`: the message type (`municipal-list`, ...).
    public var type: String?
    /// AMQP `message_id`: required, unique per sender.
    public var messageID: String?
    /// AMQP `user_id`: required; the broker has checked it equals the connection's user.
    public var userID: String?
    /// AMQP `content_type`: must be `application/json` (a `charset=utf-8` parameter is allowed).
    public var contentType: String?
    /// AMQP `content_encoding`: absent, `identity` or `utf-8`.
    public var contentEncoding: String?
    public var correlationID: String?
    public var timestamp: Date?
    /// The exchange the message was published to; it identifies the sender.
    public var exchange: String
    public var routingKey: String
    /// The body size the broker announced, if known; the larger of this and the body's size counts.
    public var bodySize: Int?

    public init(
        type: String?, messageID: String?, userID: String?, contentType: String?, contentEncoding: String? = nil,
        correlationID: String? = nil, timestamp: Date? = nil, exchange: String, routingKey: String = "",
        bodySize: Int? = nil
    ) {
        self.type = type
        self.messageID = messageID
        self.userID = userID
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.correlationID = correlationID
        self.timestamp = timestamp
        self.exchange = exchange
        self.routingKey = routingKey
        self.bodySize = bodySize
    }
}

/// A validated inbound message, one case per inbound type.
public enum InboundMessage: Sendable, Hashable {
    case municipalList(MunicipalList)
    case clinicList(ClinicList)
    case contactStatus(ContactStatus)
    case referral(Referral)
    case consentUpdate(ConsentUpdate)
    case assessment(Assessment)
    case municipalPosition(MunicipalPosition)
    case meetingOutcome(MeetingOutcome)
    case transitionProposal(TransitionProposal)
    case jointPlan(JointPlan)
    case knowledgeHandover(KnowledgeHandover)
    case patientChoice(PatientChoice)
    case treatmentStarted(TreatmentStarted)
}

/// An accepted inbound message with what the router needs to answer it.
public struct DecodedMessage: Sendable, Hashable {
    public let type: MessageType
    public let sender: Sender
    public let messageID: String
    public let userID: String
    public let correlationID: String?
    /// The message. For lists, `entries` holds only the accepted entries.
    public let message: InboundMessage
    /// For lists: the original index of each accepted entry, aligned with `entries`.
    public let acceptedEntryIndices: [Int]
    /// For lists: the rejected entries, by original index (R11).
    public let rejectedEntries: [EntryRejection]
    /// The `schemaVersion` the sender wrote.
    public let schemaVersion: String
    /// For a municipal list or contact-status message whose body is larger than
    /// `DecoderLimits.decodedEntriesMaxBytes`: the accepted entries, left undecoded in the body
    /// (the typed message's `entries` is then empty); `municipalEntries(_:)` and
    /// `contactStatusEntries(_:)` decode them a slice at a time. (A clinic list is compared
    /// whole with the municipal list, so its entries are always decoded.)
    public let deferredEntries: DeferredEntries?

    init(
        type: MessageType, sender: Sender, messageID: String, userID: String, correlationID: String?,
        message: InboundMessage, acceptedEntryIndices: [Int], rejectedEntries: [EntryRejection], schemaVersion: String,
        deferredEntries: DeferredEntries? = nil
    ) {
        self.type = type
        self.sender = sender
        self.messageID = messageID
        self.userID = userID
        self.correlationID = correlationID
        self.message = message
        self.acceptedEntryIndices = acceptedEntryIndices
        self.rejectedEntries = rejectedEntries
        self.schemaVersion = schemaVersion
        self.deferredEntries = deferredEntries
    }

    /// The accepted entries of a municipal list at `positions` (indices into the accepted
    /// entries, as `acceptedEntryIndices`): taken from the typed list, or decoded from the
    /// body when the decoder deferred them. Exactly one entry per position, or it throws
    /// (also for a message of another type).
    public func municipalEntries(_ positions: Range<Int>) throws -> [MunicipalListEntry] {
        guard case .municipalList(let list) = message else { throw DeferredEntries.Mismatch.otherType }
        return try Self.entries(positions, typed: list.entries, deferred: deferredEntries)
    }

    /// The accepted entries of a contact-status message at `positions`, as `municipalEntries(_:)`.
    public func contactStatusEntries(_ positions: Range<Int>) throws -> [ContactStatusEntry] {
        guard case .contactStatus(let status) = message else { throw DeferredEntries.Mismatch.otherType }
        return try Self.entries(positions, typed: status.entries, deferred: deferredEntries)
    }

    private static func entries<Entry: Decodable>(
        _ positions: Range<Int>, typed: [Entry], deferred: DeferredEntries?
    ) throws -> [Entry] {
        let count = deferred?.count ?? typed.count
        guard positions.lowerBound >= 0, positions.upperBound <= count else { throw DeferredEntries.Mismatch.outOfRange }
        if let deferred { return try deferred.decode(Entry.self, positions) }
        return Array(typed[positions])
    }
}

/// The accepted entries of a list message kept as their bytes in the body instead of as typed
/// values: the typed entries of a 26,800-entry (16 MiB) municipal list take about 31 MiB on
/// top of the body, which the daemon holds anyway until the delivery is settled
/// (docs/performance.md, "Memory"). Each entry has been validated and decoded once by the
/// decoder; decoding it again here runs the same decoder on the same bytes.
public struct DeferredEntries: Sendable, Hashable {
    /// Entries asked of the wrong message type, or positions beyond the accepted entries (a
    /// router defect: the caller's transaction is undone).
    public enum Mismatch: Error, Sendable {
        case otherType
        case outOfRange
    }

    let body: Data
    /// Each accepted entry's bytes in `body`, in order.
    let ranges: [Range<Int>]

    public var count: Int { ranges.count }

    /// The entries at `positions`, decoded.
    public func decode<Entry: Decodable>(_ type: Entry.Type, _ positions: Range<Int>) throws -> [Entry] {
        let decoder = JSONDecoder()
        return try ranges[positions].map { try Self.decode(type, from: body, range: $0, with: decoder) }
    }

    /// Decodes one entry from its bytes in `body` (the decoder's check and `decode` share it).
    static func decode<Entry: Decodable>(
        _ type: Entry.Type, from body: Data, range: Range<Int>, with decoder: JSONDecoder
    ) throws -> Entry {
        try decoder.decode(type, from: body[range])
    }
}

/// Limits on inbound messages (the contract's; not configuration keys of the daemon).
public struct DecoderLimits: Sendable, Hashable {
    /// Largest accepted body in bytes (default 16 MiB: a list of about 26,000 citizens).
    public var maxBodyBytes: Int
    /// A municipal list or contact-status message with a larger body keeps its accepted
    /// entries undecoded in the body (`DecodedMessage.deferredEntries`), to be decoded a slice
    /// at a time (default 1 MiB, about 1,600 municipal-list entries).
    public var decodedEntriesMaxBytes: Int

    public init(maxBodyBytes: Int = 16 * 1024 * 1024, decodedEntriesMaxBytes: Int = 1024 * 1024) {
        self.maxBodyBytes = maxBodyBytes
        self.decodedEntriesMaxBytes = decodedEntriesMaxBytes
    }
}

/// Decodes and validates inbound deliveries against the contract (docs/messages.md).
///
/// Checks run in the documented order and the first failure decides the message's
/// rejection; in list messages a fault inside one entry rejects only that entry (R11).
/// Authorization of `user_id` against the sender, dedupe and the rules are later stages.
public struct MessageDecoder: Sendable {
    public let codeBook: CodeBook
    public let topology: Topology
    public let limits: DecoderLimits
    let schemas: SchemaSet
    /// Whether list bodies are validated and decoded entry by entry while parsed (see
    /// `EntryCollector`); tests turn it off to compare with the whole-tree path.
    var streamsLists = true

    public init(codeBook: CodeBook, topology: Topology = Topology(), limits: DecoderLimits = DecoderLimits()) {
        self.codeBook = codeBook
        self.topology = topology
        self.limits = limits
        self.schemas = .embedded
    }

    /// The sender an exchange belongs to, if it is an inbound sender exchange of a known
    /// municipality, clinic or journal.
    public func sender(forExchange exchange: String) -> Sender? {
        guard let sender = topology.sender(forExchange: exchange) else { return nil }
        switch sender {
        case .municipality(let code): return codeBook.municipalities.contains(code) ? sender : nil
        case .clinic(let id): return codeBook.clinics.contains(id) ? sender : nil
        case .journal(let id): return codeBook.journals.contains(id) ? sender : nil
        }
    }

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    public func decode(properties: InboundProperties, body: Data) -> Result<DecodedMessage, Rejection> {
        // 1. sender and AMQP properties
        guard let sender = sender(forExchange: properties.exchange) else {
            return .failure(Rejection(
                code: .unknownSender, property: "exchange",
                reason: "The exchange is not the inbound exchange of a municipality, clinic or journal the router knows."))
        }
        guard let userID = properties.userID, !userID.isEmpty else {
            return .failure(Rejection(
                code: .missingUserID, property: "user_id",
                reason: "The AMQP property user_id is missing; set it to the user you connect as."))
        }
        guard let messageID = properties.messageID, !messageID.isEmpty else {
            return .failure(Rejection(
                code: .missingMessageID, property: "message_id",
                reason: "The AMQP property message_id is missing; every message needs an id unique per sender."))
        }
        guard MessageDecoder.isValidMessageID(messageID) else {
            return .failure(Rejection(
                code: .invalidMessageID, property: "message_id",
                reason: "The AMQP property message_id must be 1-128 characters: letters, digits, '.', '_', ':', '-', starting with a letter or digit."))
        }
        guard let typeName = properties.type, !typeName.isEmpty else {
            return .failure(Rejection(
                code: .missingType, property: "type", reason: "The AMQP property type is missing; it names the message type."))
        }
        guard let type = MessageType(rawValue: typeName), type.direction == .inbound else {
            return .failure(Rejection(
                code: .unknownType, property: "type",
                reason: "The AMQP property type is not an inbound message type of the contract (see docs/messages.md)."))
        }
        guard type.allowedSenders.contains(sender.kind) else {
            let allowed = SenderKind.allCases.filter(type.allowedSenders.contains).map(\.rawValue).joined(separator: ", ")
            return .failure(Rejection(
                code: .senderNotAllowed, property: "type",
                reason: "A \(sender.kind.rawValue) may not send \(type.rawValue); it is sent by: \(allowed)."))
        }
        guard let contentType = properties.contentType, MessageDecoder.isJSONContentType(contentType) else {
            return .failure(Rejection(
                code: .unsupportedContentType, property: "content_type",
                reason: "The AMQP property content_type must be application/json."))
        }
        if let encoding = properties.contentEncoding, !encoding.isEmpty,
            !["identity", "utf-8", "utf8"].contains(encoding.lowercased())
        {
            return .failure(Rejection(
                code: .unsupportedContentEncoding, property: "content_encoding",
                reason: "The AMQP property content_encoding must be absent (or identity): compressed bodies are not accepted."))
        }
        // 2. body
        if max(properties.bodySize ?? 0, body.count) > limits.maxBodyBytes {
            return .failure(Rejection(
                code: .bodyTooLarge, pointer: .root,
                reason: "The body is larger than the limit of \(limits.maxBodyBytes) bytes; split the list into several messages."))
        }
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            return .failure(Rejection(code: .emptyBody, pointer: .root, reason: "The body is empty."))
        }
        guard String(validating: body, as: UTF8.self) != nil, !body.starts(with: [0xEF, 0xBB, 0xBF]) else {
            return .failure(Rejection(
                code: .invalidEncoding, pointer: .root, reason: "The body is not UTF-8 text (without byte-order mark)."))
        }
        // Lists are parsed with their entries streamed: each entry is validated, checked for
        // a repeated citizen and decoded on its own and its generic tree dropped at once, so a
        // 16 MiB list never exists as one tree (docs/performance.md, "Memory").
        var entries: EntryCollector?
        if streamsLists, type.isList, let schema = schemas.entriesSchema(for: type.rawValue) {
            entries = EntryCollector(
                type: type, schema: schema,
                deferring: (type == .municipalList || type == .contactStatus) && body.count > limits.decodedEntriesMaxBytes)
        }
        let json: JSONValue
        do {
            if entries != nil {
                let parsed = try JSONParser.parse(body, streamingArrayAt: "entries") { index, entry, range in
                    entries?.take(entry, index: index, bytes: range, of: body, schemas: schemas, codeBook: codeBook)
                }
                json = parsed.value
                entries?.count = parsed.count
            } else {
                json = try JSONParser.parse(body)
            }
        } catch {
            // The problem texts are fixed strings and the offset a number: no message content.
            return .failure(Rejection(
                code: .malformedJSON, pointer: .root,
                reason: "The body is not well-formed JSON (RFC 8259): \(error.problem) at byte \(error.offset)."))
        }
        guard case .object(var object) = json else {
            return .failure(Rejection(code: .wrongType, pointer: .root, reason: "The body must be a JSON object."))
        }
        // 3. version before anything else in the body: another major may have other fields
        guard let versionValue = object["schemaVersion"] else {
            return .failure(Rejection(
                code: .missingField, pointer: JSONPointer(["schemaVersion"]),
                reason: "`/schemaVersion` is required but missing."))
        }
        guard case .string(let version) = versionValue, MessageDecoder.isSupportedVersion(version) else {
            return .failure(Rejection(
                code: .unsupportedSchemaVersion, pointer: JSONPointer(["schemaVersion"]),
                reason: "`/schemaVersion` must be \"1.<minor>\": this router implements major version 1 of the contract."))
        }
        // 4. schema, code book
        let streamed = entries?.count.map { (pointer: JSONPointer(["entries"]), count: $0) }
        let issues = schemas.validate(json, type: type.rawValue, codeBook: codeBook, elided: streamed)
        var entryIssues: [Int: SchemaIssue] = [:]
        for issue in issues {
            if type.isList, issue.pointer.tokens.count >= 2, issue.pointer.tokens[0] == "entries",
                let index = Int(issue.pointer.tokens[1])
            {
                if entryIssues[index] == nil { entryIssues[index] = issue }
            } else {
                return .failure(Rejection(code: issue.code, pointer: issue.pointer, reason: issue.reason))
            }
        }
        // 5. the sender names itself consistently
        if case .string(let named)? = object["municipality"], sender.kind == .municipality, named != sender.id {
            return .failure(Rejection(
                code: .senderMismatch, pointer: JSONPointer(["municipality"]),
                reason: "`/municipality` must be the sending municipality (the one whose exchange the message was sent to)."))
        }
        if case .string(let named)? = object["clinic"], sender.kind == .clinic, named != sender.id {
            return .failure(Rejection(
                code: .senderMismatch, pointer: JSONPointer(["clinic"]),
                reason: "`/clinic` must be the sending clinic (the one whose exchange the message was sent to)."))
        }
        // 6. entries: one rejection per bad entry, duplicates of an accepted citizen rejected
        // (a streamed list did this entry by entry while it was parsed).
        var accepted: [Int] = []
        var rejected: [EntryRejection] = []
        if let streamed = entries, streamed.count != nil {
            accepted = streamed.accepted
            rejected = streamed.rejected
        } else if type.isList, case .array(let entries)? = object["entries"] {
            var seen: Set<String> = []
            var kept: [JSONValue] = []
            for (index, entry) in entries.enumerated() {
                if let rejection = MessageDecoder.entryRejection(entry, index: index, issue: entryIssues[index], seen: &seen) {
                    rejected.append(rejection)
                    continue
                }
                accepted.append(index)
                kept.append(entry)
            }
            object["entries"] = .array(kept)
        }
        // 7. typed decoding of what passed
        let message: InboundMessage
        do {
            let typed = try MessageDecoder.typed(type, from: try JSONValue.object(object).encoded())
            if let streamed = entries, streamed.count != nil {
                guard !streamed.undecodable else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "entry")) }
                message = try streamed.attach(to: typed)
            } else {
                message = typed
            }
        } catch {
            return .failure(Rejection(
                code: .schemaViolation, pointer: .root,
                reason: "The body passed the schema but could not be decoded; this is a router defect, please report it."))
        }
        return .success(DecodedMessage(
            type: type, sender: sender, messageID: messageID, userID: userID, correlationID: properties.correlationID,
            message: message, acceptedEntryIndices: accepted, rejectedEntries: rejected, schemaVersion: version,
            deferredEntries: entries?.deferred(in: body)))
    }

    /// Step 6 for one list entry: its first schema issue, or a repeat of a CPR number an
    /// earlier accepted entry has; `nil` (and its CPR remembered in `seen`) if it is accepted.
    static func entryRejection(_ entry: JSONValue, index: Int, issue: SchemaIssue?, seen: inout Set<String>) -> EntryRejection? {
        if let issue {
            return EntryRejection(index: index, rejection: Rejection(code: issue.code, pointer: issue.pointer, reason: issue.reason))
        }
        if case .object(let fields) = entry, case .string(let text)? = fields["cpr"], case .success(let cpr) = CPR.parse(text) {
            guard seen.insert(cpr.digits).inserted else {
                let pointer = JSONPointer(["entries", String(index), "cpr"])
                return EntryRejection(index: index, rejection: Rejection(
                    code: .duplicateEntry, pointer: pointer,
                    reason: "`\(pointer)` repeats the CPR number of an earlier entry in this list; each citizen may appear once."))
            }
        }
        return nil
    }

    static func typed(_ type: MessageType, from data: Data) throws -> InboundMessage {
        let d = JSONDecoder()
        switch type {
        case .municipalList: return .municipalList(try d.decode(MunicipalList.self, from: data))
        case .clinicList: return .clinicList(try d.decode(ClinicList.self, from: data))
        case .contactStatus: return .contactStatus(try d.decode(ContactStatus.self, from: data))
        case .referral: return .referral(try d.decode(Referral.self, from: data))
        case .consentUpdate: return .consentUpdate(try d.decode(ConsentUpdate.self, from: data))
        case .assessment: return .assessment(try d.decode(Assessment.self, from: data))
        case .municipalPosition: return .municipalPosition(try d.decode(MunicipalPosition.self, from: data))
        case .meetingOutcome: return .meetingOutcome(try d.decode(MeetingOutcome.self, from: data))
        case .transitionProposal: return .transitionProposal(try d.decode(TransitionProposal.self, from: data))
        case .jointPlan: return .jointPlan(try d.decode(JointPlan.self, from: data))
        case .knowledgeHandover: return .knowledgeHandover(try d.decode(KnowledgeHandover.self, from: data))
        case .patientChoice: return .patientChoice(try d.decode(PatientChoice.self, from: data))
        case .treatmentStarted: return .treatmentStarted(try d.decode(TreatmentStarted.self, from: data))
        case .receipt, .cvReferral, .assessmentRequest, .coordinatedCourse, .contactStatusRequest, .decision, .handover,
            .responsibilityTransfer, .reconciliationReport, .consentWithdrawn, .deadlineWarning:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not an inbound type"))
        }
    }

    static func isValidMessageID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...128).contains(bytes.count) else { return false }
        for (i, b) in bytes.enumerated() {
            let alnum = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
            if i == 0 { guard alnum else { return false } } else {
                guard alnum || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: ":")
                    || b == UInt8(ascii: "-")
                else { return false }
            }
        }
        return true
    }

    static func isJSONContentType(_ value: String) -> Bool {
        let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard parts.first == "application/json" else { return false }
        return parts.dropFirst().allSatisfy { $0 == "charset=utf-8" || $0 == "charset=\"utf-8\"" }
    }

    /// "1.<minor>" with a decimal minor: any minor of major 1.
    static func isSupportedVersion(_ version: String) -> Bool {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "1", let minor = parts.last, !minor.isEmpty, minor.count <= 4,
            minor.allSatisfy({ $0.isASCII && $0.isNumber }), minor == "0" || minor.first != "0"
        else { return false }
        return true
    }

    /// Validates an outbound body against its schema (used by tests and by the daemon before
    /// publishing, so the router never sends what it would reject).
    public func validateOutbound(_ type: MessageType, body: Data) -> [Rejection] {
        guard let json = try? JSONValue.parse(body) else {
            return [Rejection(code: .malformedJSON, pointer: .root, reason: "The body is not well-formed JSON.")]
        }
        return schemas.validate(json, type: type.rawValue, codeBook: codeBook)
            .map { Rejection(code: $0.code, pointer: $0.pointer, reason: $0.reason) }
    }
}

/// The entries of a list message, taken one at a time while the body is parsed: each is
/// validated against the entry schema, checked for a repeated citizen (step 6) and, if
/// accepted, decoded from its bytes to its typed entry; its generic tree is then dropped.
/// Gives the same accepted indices, rejections and typed entries as validating and decoding
/// the whole tree. When `deferring`, an accepted entry is decoded only to check that it
/// decodes, and its bytes' range is kept instead of the typed entry (`DeferredEntries`).
struct EntryCollector {
    enum Entries {
        case municipal([MunicipalListEntry])
        case clinic([ClinicListEntry])
        case contactStatus([ContactStatusEntry])
    }

    let schema: (schema: JSONValue, base: String)
    var entries: Entries
    /// Entries seen (set once the array has been read to its end).
    var count: Int?
    var accepted: [Int] = []
    var rejected: [EntryRejection] = []
    /// An accepted entry could not be decoded to its type (a router defect: the message is refused).
    var undecodable = false
    /// Whether the typed entries are dropped and their bytes' ranges kept (`deferred(in:)`).
    let deferring: Bool
    private var ranges: [Range<Int>] = []
    private var seen: Set<String> = []
    private let decoder = JSONDecoder()

    init?(type: MessageType, schema: (schema: JSONValue, base: String), deferring: Bool = false) {
        switch type {
        case .municipalList: entries = .municipal([])
        case .clinicList: entries = .clinic([])
        case .contactStatus: entries = .contactStatus([])
        default: return nil
        }
        self.schema = schema
        self.deferring = deferring
    }

    /// Takes the entry at `index`, whose bytes are `body[bytes]`.
    // swiftlint:disable:next function_parameter_count
    mutating func take(
        _ entry: JSONValue, index: Int, bytes: Range<Int>, of body: Data, schemas: SchemaSet, codeBook: CodeBook
    ) {
        let issue = schemas.validateEntry(entry, index: index, schema: schema, codeBook: codeBook).first
        if let rejection = MessageDecoder.entryRejection(entry, index: index, issue: issue, seen: &seen) {
            rejected.append(rejection)
            return
        }
        accepted.append(index)
        guard !undecodable else { return }
        do {
            // Decoded from its own bytes (the entry passed the schema, and the parser refuses
            // duplicate keys, so the bytes mean what the validated tree means).
            switch entries {
            case .municipal(var list):
                let typed = try DeferredEntries.decode(MunicipalListEntry.self, from: body, range: bytes, with: decoder)
                if deferring {
                    ranges.append(bytes)
                    return
                }
                entries = .municipal([])  // keeps `list` uniquely referenced: appended in place
                list.append(typed)
                entries = .municipal(list)
            case .clinic(var list):
                let typed = try DeferredEntries.decode(ClinicListEntry.self, from: body, range: bytes, with: decoder)
                entries = .clinic([])
                list.append(typed)
                entries = .clinic(list)
            case .contactStatus(var list):
                let typed = try DeferredEntries.decode(ContactStatusEntry.self, from: body, range: bytes, with: decoder)
                if deferring {
                    ranges.append(bytes)
                    return
                }
                entries = .contactStatus([])
                list.append(typed)
                entries = .contactStatus(list)
            }
        } catch {
            undecodable = true
        }
    }

    /// The deferred entries' bytes, when deferring and the entries were streamed (otherwise
    /// the whole-tree path decoded them into the message).
    func deferred(in body: Data) -> DeferredEntries? {
        deferring && count != nil ? DeferredEntries(body: body, ranges: ranges) : nil
    }

    /// The typed message decoded without its entries, with the collected entries put in.
    func attach(to message: InboundMessage) throws -> InboundMessage {
        switch (message, entries) {
        case (.municipalList(var list), .municipal(let entries)):
            list.entries = entries
            return .municipalList(list)
        case (.clinicList(var list), .clinic(let entries)):
            list.entries = entries
            return .clinicList(list)
        case (.contactStatus(var status), .contactStatus(let entries)):
            status.entries = entries
            return .contactStatus(status)
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "list type"))
        }
    }
}

