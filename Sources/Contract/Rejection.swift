/// Stable, machine-readable rejection codes (docs/messages.md, "Rejection codes").
///
/// The raw values are the contract: vendors match on them. Add codes, never rename.
public enum RejectionCode: String, Sendable, Hashable, Codable, CaseIterable {
    // AMQP properties and transport (checked before the body is read)
    case unknownSender = "unknown-sender"
    case missingUserID = "missing-user-id"
    case missingMessageID = "missing-message-id"
    case invalidMessageID = "invalid-message-id"
    case missingType = "missing-type"
    case unknownType = "unknown-type"
    case senderNotAllowed = "sender-not-allowed"
    case unsupportedContentType = "unsupported-content-type"
    case unsupportedContentEncoding = "unsupported-content-encoding"
    case emptyBody = "empty-body"
    case bodyTooLarge = "body-too-large"
    // body syntax
    case invalidEncoding = "invalid-encoding"
    case malformedJSON = "malformed-json"
    case unsupportedSchemaVersion = "unsupported-schema-version"
    // schema (the rules in Config/schemas)
    case schemaViolation = "schema-violation"
    case missingField = "missing-field"
    case unknownField = "unknown-field"
    case wrongType = "wrong-type"
    case invalidValue = "invalid-value"
    case invalidCPR = "invalid-cpr"
    case invalidDate = "invalid-date"
    // code book and cross-field rules
    case unknownMunicipality = "unknown-municipality"
    case unknownClinic = "unknown-clinic"
    case unknownJournal = "unknown-journal"
    case senderMismatch = "sender-mismatch"
    case duplicateEntry = "duplicate-entry"
    // produced by later stages of the daemon (authorization, workflow), listed so the
    // receipt vocabulary is complete in one place
    case unauthorizedSender = "unauthorized-sender"
    case unknownCase = "unknown-case"
    case outOfOrder = "out-of-order"
    case ambiguousClinic = "ambiguous-clinic"
    case processingDeferred = "processing-deferred"

    /// Whether `scripts/check-schemas.py` can see this fault from the body and schema alone.
    public var isSchemaLevel: Bool {
        switch self {
        case .unsupportedSchemaVersion, .schemaViolation, .missingField, .unknownField, .wrongType, .invalidValue,
            .invalidCPR, .invalidDate:
            true
        case .unknownSender, .missingUserID, .missingMessageID, .invalidMessageID, .missingType, .unknownType,
            .senderNotAllowed, .unsupportedContentType, .unsupportedContentEncoding, .emptyBody, .bodyTooLarge,
            .invalidEncoding, .malformedJSON, .unknownMunicipality, .unknownClinic, .unknownJournal, .senderMismatch,
            .duplicateEntry, .unauthorizedSender, .unknownCase, .outOfOrder, .ambiguousClinic, .processingDeferred:
            false
        }
    }
}

/// Why a message (or one entry of a list) was not accepted.
///
/// `reason` names the field and the problem for a human, and never contains the
/// offending value: no CPR digits, no free text from the message (DESIGN: logging).
public struct Rejection: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: RejectionCode
    /// JSON pointer into the body (`/entries/3/cpr`; `""` = the whole body), if the fault is in the body.
    public let pointer: JSONPointer?
    /// The AMQP property at fault (`message_id`, `content_type`, ...), if the fault is in the properties.
    public let property: String?
    public let reason: String

    public init(code: RejectionCode, pointer: JSONPointer? = nil, property: String? = nil, reason: String) {
        self.code = code
        self.pointer = pointer
        self.property = property
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}

/// A rejected entry of a list message (R11: the rest of the list is accepted).
public struct EntryRejection: Sendable, Hashable {
    /// Zero-based index into the inbound `entries` array.
    public let index: Int
    public let rejection: Rejection

    public init(index: Int, rejection: Rejection) {
        self.index = index
        self.rejection = rejection
    }
}

/// Headers the router adds to the copy of a rejected message in the dead-letter queue
/// (docs/messages.md, "Dead letters"). Values never contain personal data.
public enum DeadLetterHeaders {
    public static let code = "x-ddrouter-code"
    public static let reason = "x-ddrouter-reason"
    public static let pointer = "x-ddrouter-pointer"
    public static let property = "x-ddrouter-property"
    public static let exchange = "x-ddrouter-exchange"
    public static let rejectedAt = "x-ddrouter-rejected-at"

    /// The headers for `rejection` of a message that arrived on `exchange`.
    public static func headers(for rejection: Rejection, exchange: String, rejectedAt: Timestamp) -> [String: String] {
        var headers = [
            code: rejection.code.rawValue, reason: rejection.reason, DeadLetterHeaders.exchange: exchange,
            DeadLetterHeaders.rejectedAt: rejectedAt.text,
        ]
        if let pointer = rejection.pointer { headers[DeadLetterHeaders.pointer] = pointer.description }
        if let property = rejection.property { headers[DeadLetterHeaders.property] = property }
        return headers
    }
}
