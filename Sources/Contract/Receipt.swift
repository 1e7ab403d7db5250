/// The answer to every inbound message (R11), sent to the sender's queue with routing key
/// `<sender>.receipt` and `correlation_id` = the inbound `message_id`.
///
/// MedCom practice: `ok`, `transient-error` or `fatal-error`; a repeated `message_id` gets the
/// identical receipt (the daemon stores it and resends it byte for byte).
public struct Receipt: ContractMessage {
    public static let messageType = MessageType.receipt

    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Accepted; list entries may still be rejected one by one (`rejectedEntries`).
        case ok
        /// Not processed now for a reason on the router's side; resend the same message, same message_id, later.
        case transientError = "transient-error"
        /// Rejected; do not resend unchanged.
        case fatalError = "fatal-error"
    }

    public struct For: Sendable, Hashable, Codable {
        /// The inbound `message_id`, `nil` (JSON null) if it had none.
        public var messageId: String?
        /// The inbound `type`, `nil` (JSON null) if it had none.
        public var messageType: String?
        public var sender: SenderRef

        public init(messageId: String?, messageType: String?, sender: SenderRef) {
            self.messageId = messageId
            self.messageType = messageType
            self.sender = sender
        }

        enum CodingKeys: String, CodingKey { case messageId, messageType, sender }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(messageId, forKey: .messageId)  // explicit null: the field is required
            try container.encode(messageType, forKey: .messageType)
            try container.encode(sender, forKey: .sender)
        }
    }

    public struct RejectedEntry: Sendable, Hashable, Codable {
        public var index: Int
        public var code: String
        public var pointer: String
        public var reason: String

        public init(index: Int, code: String, pointer: String, reason: String) {
            self.index = index
            self.code = code
            self.pointer = pointer
            self.reason = reason
        }

        public init(_ entry: EntryRejection) {
            self.init(
                index: entry.index, code: entry.rejection.code.rawValue,
                pointer: entry.rejection.pointer?.description ?? "/entries/\(entry.index)",
                reason: entry.rejection.reason)
        }
    }

    public var schemaVersion: String
    public var receiptFor: For
    public var status: Status
    public var receivedAt: Timestamp
    /// A `RejectionCode` raw value; present unless `status` is ok.
    public var code: String?
    public var reason: String?
    public var pointer: String?
    public var property: String?
    public var acceptedEntries: Int?
    /// Accepted entries held for lack of consent (R4): list indices; `[0]` for a held
    /// single-citizen message. `nil` when nothing is held.
    public var heldEntries: [Int]?
    public var rejectedEntries: [RejectedEntry]?

    public init(
        schemaVersion: String = contractSchemaVersion, receiptFor: For, status: Status, receivedAt: Timestamp,
        code: String? = nil, reason: String? = nil, pointer: String? = nil, property: String? = nil,
        acceptedEntries: Int? = nil, rejectedEntries: [RejectedEntry]? = nil, heldEntries: [Int]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.receiptFor = receiptFor
        self.status = status
        self.receivedAt = receivedAt
        self.code = code
        self.reason = reason
        self.pointer = pointer
        self.property = property
        self.acceptedEntries = acceptedEntries
        self.rejectedEntries = rejectedEntries
        self.heldEntries = heldEntries
    }

    /// The receipt for an accepted message; for lists, with its rejected entries.
    public init(accepting message: DecodedMessage, receivedAt: Timestamp) {
        self.init(
            receiptFor: For(
                messageId: message.messageID, messageType: message.type.rawValue,
                sender: SenderRef(kind: message.sender.kind, id: message.sender.id)),
            status: .ok, receivedAt: receivedAt,
            acceptedEntries: message.type.isList ? message.acceptedEntryIndices.count : nil,
            rejectedEntries: message.type.isList ? message.rejectedEntries.map(RejectedEntry.init) : nil)
    }

    /// The transient-error receipt: the router could not process the message now; the sender
    /// resends the same message with the same message_id later. Do not store it as the final
    /// answer to that message_id.
    public init(deferring properties: InboundProperties, sender: Sender, receivedAt: Timestamp) {
        self.init(
            receiptFor: For(
                messageId: properties.messageID.flatMap { $0.isEmpty ? nil : String($0.prefix(256)) },
                messageType: properties.type.flatMap { $0.isEmpty ? nil : String($0.prefix(64)) },
                sender: SenderRef(kind: sender.kind, id: sender.id)),
            status: .transientError, receivedAt: receivedAt, code: RejectionCode.processingDeferred.rawValue,
            reason: "The router could not process the message now; send the same message with the same message_id again later.")
    }

    /// The fatal-error receipt for a rejected message. `sender` is the sender the exchange
    /// names (or the one the daemon's directory maps the user_id to).
    public init(rejecting properties: InboundProperties, sender: Sender, rejection: Rejection, receivedAt: Timestamp) {
        self.init(
            receiptFor: For(
                messageId: properties.messageID.flatMap { $0.isEmpty ? nil : String($0.prefix(256)) },
                messageType: properties.type.flatMap { $0.isEmpty ? nil : String($0.prefix(64)) },
                sender: SenderRef(kind: sender.kind, id: sender.id)),
            status: .fatalError, receivedAt: receivedAt, code: rejection.code.rawValue, reason: rejection.reason,
            pointer: rejection.pointer?.description, property: rejection.property)
    }
}
