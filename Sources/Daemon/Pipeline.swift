public import AMQP
public import Contract
public import Foundation
public import Logging
public import Store
public import Workflow

/// The consume → decide → record → ack pipeline of `ddrouter run` (issue 4).
///
/// For each delivery from `ddrouter.inbound`:
/// 1. **decode** with `MessageDecoder` (contract checks, entry-by-entry for lists);
/// 2. **authorize**: the broker-validated `user_id` must be the broker user of the sender the
///    exchange belongs to (`PipelineOptions.userForSender`);
/// 3. **dedupe**: a `message_id` already answered for this sender gets its stored receipt
///    again, byte for byte, and nothing else happens;
/// 4. **workflow**: `municipal-list` goes through `ListProcessing`, `contact-status` through
///    the listed citizens' cases (`Pipeline+Lists.swift`), `clinic-list` is compared with the
///    municipal list (R3); every single-citizen type takes one generic path
///    (`Pipeline+Case.swift`): load the case by pseudonym → `CitizenCase.apply` → record;
///    a citizen without a case gets `unknown-case`, an input the case cannot take now
///    `out-of-order` with the workflow's reason;
/// 5. **one store transaction**: inbox row with the receipt, cases, history, outbox rows
///    (the receipt and every routed event) and audit entries (pseudonyms, never a CPR);
/// 6. **ack**. Publishing is the `OutboxRelay`'s job: nothing goes to the broker from here
///    except dead-letter copies and resent receipts, both confirmed before the ack.
///
/// Rejections (decode or authorization) get a `fatal-error` receipt (stored, so a resend
/// gets the identical one) and an unchanged copy in `ddrouter.dead` with the
/// `x-ddrouter-*` headers; the original is acked. Transient trouble (store busy, a publish
/// refused) requeues the delivery; the quorum queue's delivery limit dead-letters a message
/// that keeps failing.
///
/// Logs carry message ids, types, codes and counts: never a CPR, a name or free text.
public final class Pipeline: Sendable {
    let client: AMQPClient
    let store: Store
    let options: PipelineOptions
    let decoder: MessageDecoder
    let logger: Logger

    public init(client: AMQPClient, store: Store, options: PipelineOptions, logger: Logger) {
        self.client = client
        self.store = store
        self.options = options
        self.decoder = MessageDecoder(codeBook: options.codeBook, topology: options.names)
        self.logger = logger
    }

    /// Consumes `ddrouter.inbound` until the stream ends (`client.stopConsuming()` or
    /// `client.close()`). Each delivery is finished (recorded and acked, or requeued) before
    /// the next one is taken.
    public func run(prefetch: UInt16) async throws {
        for try await delivery in client.consume(queue: options.names.inboundQueue, prefetch: prefetch) {
            let outcome = await handle(delivery)
            switch outcome {
            case .ack: client.ack(delivery.tag)
            case .requeue:
                client.nack(delivery.tag, requeue: true)
                try? await Task.sleep(for: .milliseconds(200))
            case .deadLetter: client.nack(delivery.tag, requeue: false)
            }
        }
    }

    /// What to do with a delivery once it has been handled.
    public enum Settlement: Sendable, Hashable {
        case ack
        /// Transient trouble: nothing was committed; the broker delivers it again.
        case requeue
        /// Not processable now: into the queue's dead-letter exchange (`dd.dead`).
        case deadLetter
    }

    /// Handles one delivery; the caller settles it as answered.
    public func handle(_ delivery: Delivery) async -> Settlement {
        let now = options.clock()
        let properties = InboundProperties(
            type: delivery.properties.type, messageID: delivery.properties.messageID,
            userID: delivery.properties.userID, contentType: delivery.properties.contentType,
            contentEncoding: delivery.properties.contentEncoding, correlationID: delivery.properties.correlationID,
            timestamp: delivery.properties.timestamp.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            exchange: delivery.exchange, routingKey: delivery.routingKey, bodySize: delivery.body.count)

        // The sender named by the exchange (known to the code book), for receipts and dedupe.
        let sender = decoder.sender(forExchange: delivery.exchange)

        // Dedupe first: a message_id already answered gets the stored receipt, nothing else.
        if let sender, let messageID = properties.messageID, !messageID.isEmpty {
            do {
                if let stored = try store.receipt(forSender: Self.senderKey(sender), messageID: messageID) {
                    return await resendReceipt(stored, sender: sender, messageID: messageID, type: properties.type)
                }
            } catch {
                logger.warning("inbox lookup failed; requeueing", metadata: ["message_id": "\(Self.loggable(messageID))", "error": "\(error)"])
                return .requeue
            }
        }

        let decoded: DecodedMessage
        switch decoder.decode(properties: properties, body: delivery.body) {
        case .failure(let rejection):
            return await reject(delivery, properties: properties, sender: sender, rejection: rejection, at: now)
        case .success(let message):
            decoded = message
        }
        // Authorization: the broker has checked user_id equals the connection's user; that
        // user must be the one the directory gives the sender of the exchange.
        let expectedUser = options.userForSender(decoded.sender)
        guard decoded.userID == expectedUser else {
            let rejection = Rejection(
                code: .unauthorizedSender, property: "user_id",
                reason: "The user_id is not the broker user of the sender whose exchange the message was published to.")
            return await reject(delivery, properties: properties, sender: decoded.sender, rejection: rejection, at: now)
        }

        switch decoded.message {
        case .municipalList(let list):
            return await process(list: list, decoded: decoded, at: now)
        case .contactStatus(let status):
            return await process(contactStatus: status, decoded: decoded, at: now)
        case .clinicList(let list):
            return await process(clinicList: list, decoded: decoded, at: now)
        case .referral, .consentUpdate, .assessment, .municipalPosition, .meetingOutcome, .transitionProposal,
            .jointPlan, .knowledgeHandover, .patientChoice, .treatmentStarted:
            guard let request = Self.caseRequest(for: decoded, on: Self.civilDate(of: now)) else { return .requeue }
            return await process(caseRequest: request, decoded: decoded, at: now)
        }
    }

    /// Runs `body` in one store transaction and settles the delivery: `.ack` once committed;
    /// a message_id answered meanwhile (a racing copy) gets its stored receipt again;
    /// anything else rolls back and requeues (transient: store busy, disk full).
    func commit(_ decoded: DecodedMessage, _ body: (StoreTransaction) throws -> ListSummary) async -> Settlement {
        do {
            let summary = try store.write(body)
            log(summary, decoded)
            return .ack
        } catch let duplicate as DuplicateInbound {
            return await resendReceipt(duplicate.receipt, sender: decoded.sender, messageID: decoded.messageID,
                                       type: decoded.type.rawValue)
        } catch {
            logger.warning("processing failed; nothing committed, requeueing",
                           metadata: ["message_id": "\(Self.loggable(decoded.messageID))", "error": "\(error)"])
            return .requeue
        }
    }

    /// Stores `receipt` as the answer to the message (inbox) and queues it (outbox), in `tx`.
    /// Throws `DuplicateInbound` if the message_id was answered meanwhile.
    func answer(_ decoded: DecodedMessage, receipt: Receipt, in tx: StoreTransaction, at now: Date) throws {
        let body = try receipt.encodedBody()
        if case .duplicate(let stored) = try tx.recordInbox(InboxEntry(
            sender: Self.senderKey(decoded.sender), messageID: decoded.messageID, type: decoded.type.rawValue,
            receivedAt: now, receipt: body))
        {
            throw DuplicateInbound(receipt: stored)
        }
        _ = try tx.enqueue(receiptRow(body, sender: decoded.sender, messageID: decoded.messageID, at: now))
    }

    func log(_ summary: ListSummary, _ decoded: DecodedMessage) {
        for why in Set(summary.unmapped).sorted() {
            logger.error("workflow event not published: its wire message cannot be built",
                         metadata: ["message_id": "\(Self.loggable(decoded.messageID))", "event": "\(why)"])
        }
        logger.info("message processed", metadata: [
            "message_id": "\(Self.loggable(decoded.messageID))", "type": "\(decoded.type.rawValue)",
            "sender": "\(Self.senderKey(decoded.sender))", "accepted": "\(summary.accepted)",
            "rejected": "\(summary.rejected)", "events": "\(summary.events)", "held": "\(summary.held)",
            "code": "\(summary.refusal ?? "-")",
        ])
    }

    /// Writes a case's decisions: history, outbox rows (or holds) with their audit entries, timers.
    // swiftlint:disable:next function_parameter_count
    func record(
        events: [OutboundEvent], timers: [TimerAction], in tx: StoreTransaction, caseID: String, cpr: CPR,
        pseudonym: Pseudonym, data: OutboundMapper.CaseData, source: MessageSource, at now: Date,
        summary: inout ListSummary
    ) throws {
        let mapper = OutboundMapper(names: options.names, codeBook: options.codeBook, workflow: options.workflow)
        for event in events {
            _ = try tx.appendHistory(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .decision, messageID: event.id.rawValue,
                payload: try StoreJSON.encode(event.payload), explanation: try StoreJSON.encode(event.explanation)))
            switch try mapper.message(for: event, caseID: caseID, cpr: cpr, data: data, source: source, at: now) {
            case .publish(var row):
                // Never send what the router itself would reject (the committed schemas).
                if let type = MessageType(rawValue: row.type),
                    let problem = decoder.validateOutbound(type, body: row.body).first
                {
                    summary.unmapped.append("\(event.payload.kind) → \(row.type): \(problem.code.rawValue) at \(problem.pointer?.description ?? "-")")
                    continue
                }
                row.audit = OutboxAudit(
                    actor: Self.partyKey(event.recipient), pseudonym: pseudonym, purpose: event.payload.purpose.rawValue)
                _ = try tx.enqueue(row)
                _ = try tx.appendAudit(AuditRecord(
                    at: now, actor: Self.partyKey(event.recipient), action: "queued", pseudonym: pseudonym,
                    messageType: row.type, messageID: row.messageID, purpose: event.payload.purpose.rawValue))
                summary.events += 1
            case .held:
                _ = try tx.appendAudit(AuditRecord(
                    at: now, actor: Self.partyKey(event.recipient), action: .held, pseudonym: pseudonym,
                    messageType: event.payload.wireType, messageID: event.id.rawValue,
                    purpose: event.payload.purpose.rawValue))
                summary.held += 1
            case .unavailable(let why):
                summary.unmapped.append(why)
            }
        }
        for timer in timers {
            switch timer {
            case .schedule(let kind, let day):
                // One pending timer per kind and case: a new schedule replaces the old one.
                for record in try tx.timers(caseID: caseID)
                where record.kind == kind.rawValue && record.state == .pending && record.timerID != Self.timerID(caseID, kind, day) {
                    _ = try tx.cancelTimer(id: record.timerID)
                }
                _ = try tx.schedule(TimerRecord(
                    timerID: Self.timerID(caseID, kind, day), caseID: caseID, kind: kind.rawValue,
                    dueAt: Self.startOfDay(day) ?? now, payload: try StoreJSON.encode(["kind": kind.rawValue]),
                    createdAt: now))
            case .cancel(let kind):
                for record in try tx.timers(caseID: caseID) where record.kind == kind.rawValue && !record.fired {
                    _ = try tx.cancelTimer(id: record.timerID)
                }
            }
        }
    }

    /// `timer/<case>/<kind>/<due day>`: stable, so a replay schedules the same timer and
    /// the fired timer's events get stable ids.
    static func timerID(_ caseID: String, _ kind: TimerKind, _ day: LocalDate) -> String {
        "timer/\(caseID)/\(kind.rawValue)/\(day.iso)"
    }

    struct ListSummary {
        var accepted = 0
        var rejected = 0
        /// The rejection code of a single-citizen message refused by its case.
        var refusal: String?
        var events = 0
        var held = 0
        var unmapped: [String] = []
    }

    struct DuplicateInbound: Error {
        var receipt: Data
    }

    // MARK: - rejections

    func reject(_ delivery: Delivery, properties: InboundProperties, sender: Sender?, rejection: Rejection,
                at now: Date) async -> Settlement {
        logger.notice("message rejected", metadata: [
            "message_id": "\(Self.loggable(properties.messageID))",
            "exchange": "\(delivery.exchange)", "code": "\(rejection.code.rawValue)",
        ])
        // 1. The unchanged copy in ddrouter.dead, confirmed before anything is committed.
        var deadProperties = delivery.properties
        // The copy is published by the router's own user; the broker refuses a user_id that
        // is not the connection's, so the original one travels in a header instead.
        if let user = deadProperties.userID {
            deadProperties.headers["x-ddrouter-user-id"] = .string(user)
        }
        deadProperties.userID = nil
        for (key, value) in DeadLetterHeaders.headers(for: rejection, exchange: delivery.exchange,
                                                      rejectedAt: Contract.Timestamp(now)) {
            deadProperties.headers[key] = .string(value)
        }
        do {
            try await client.publish(OutboundMessage(
                exchange: options.deadLetterExchange, routingKey: delivery.routingKey, body: delivery.body,
                properties: deadProperties))
        } catch {
            logger.warning("dead-letter copy not confirmed; requeueing", metadata: ["error": "\(error)"])
            return .requeue
        }
        // 2. The fatal-error receipt (stored when there is a message_id, so a resend gets it again).
        guard let sender else {
            // Unknown exchange: there is nobody to answer; the dead letter is the record.
            return .ack
        }
        do {
            let receipt = Receipt(rejecting: properties, sender: sender, rejection: rejection,
                                  receivedAt: Contract.Timestamp(now))
            let body = try receipt.encodedBody()
            let messageID = properties.messageID.flatMap { $0.isEmpty ? nil : $0 }
            try store.write { tx in
                if let messageID {
                    if case .duplicate(let stored) = try tx.recordInbox(InboxEntry(
                        sender: Self.senderKey(sender), messageID: messageID, type: properties.type ?? "",
                        receivedAt: now, receipt: body))
                    {
                        throw DuplicateInbound(receipt: stored)
                    }
                }
                _ = try tx.enqueue(receiptRow(body, sender: sender, messageID: messageID, at: now))
                _ = try tx.appendAudit(AuditRecord(
                    at: now, actor: Self.senderKey(sender), action: .rejected, pseudonym: nil,
                    messageType: properties.type.map { String($0.prefix(64)) }, messageID: messageID,
                    purpose: rejection.code.rawValue))
            }
            return .ack
        } catch let duplicate as DuplicateInbound {
            return await resendReceipt(duplicate.receipt, sender: sender, messageID: properties.messageID ?? "",
                                       type: properties.type)
        } catch {
            logger.warning("recording the rejection failed; requeueing", metadata: ["error": "\(error)"])
            return .requeue
        }
    }

    // MARK: - receipts

    /// The outbox row of a receipt to `sender`, with a message_id derived from the inbound
    /// one (`receipt/<sender>/<message_id>`) so a resend carries the same id.
    /// A message without a message_id gets a receipt with a fresh id and no correlation_id.
    func receiptRow(_ body: Data, sender: Sender, messageID: String?, at now: Date, suffix: String? = nil) -> OutboxEvent {
        var id = "receipt/\(Self.senderKey(sender))/\(messageID ?? "none-\(UUID().uuidString)")"
        if let suffix { id += "/\(suffix)" }
        return OutboxEvent(
            messageID: id, exchange: options.names.outboundExchange,
            routingKey: options.names.routingKey(for: .receipt, to: Audience(sender: sender)),
            type: MessageType.receipt.rawValue, correlationID: messageID, body: body, createdAt: now)
    }

    /// A sender-chosen message_id as logged: at most 128 characters, and replaced by
    /// `(redacted)` if it contains a run of six or more digits (it might carry a CPR number
    /// or a birth date, which never go into a log).
    static func loggable(_ messageID: String?) -> String {
        guard let messageID, !messageID.isEmpty else { return "-" }
        var run = 0
        for character in messageID {
            run = character.isASCII && character.isNumber ? run + 1 : 0
            if run >= 6 { return "(redacted)" }
        }
        return String(messageID.prefix(128))
    }

    /// A repeated message_id: publish the stored receipt again, identical body and id.
    func resendReceipt(_ body: Data, sender: Sender, messageID: String, type: String?) async -> Settlement {
        let row = receiptRow(body, sender: sender, messageID: messageID, at: options.clock())
        do {
            try await client.publish(Self.outbound(row))
            logger.info("duplicate message_id; stored receipt resent", metadata: [
                "message_id": "\(Self.loggable(messageID))", "sender": "\(Self.senderKey(sender))", "type": "\(type ?? "-")",
            ])
            return .ack
        } catch {
            logger.warning("resending a stored receipt failed; requeueing",
                           metadata: ["message_id": "\(Self.loggable(messageID))", "error": "\(error)"])
            return .requeue
        }
    }

    // MARK: - helpers

    /// The AMQP message for an outbox row: persistent JSON with the row's id, type and
    /// correlation id; mandatory, so a message no queue takes fails instead of vanishing.
    public static func outbound(_ row: OutboxEvent) -> OutboundMessage {
        var properties = MessageProperties()
        properties.contentType = "application/json"
        properties.persistent = true
        properties.messageID = row.messageID
        properties.type = row.type
        properties.correlationID = row.correlationID
        properties.timestamp = UInt64(max(0, row.createdAt.timeIntervalSince1970))
        properties.appID = "ddrouter"
        for (key, value) in row.headers { properties.headers[key] = .string(value) }
        return OutboundMessage(exchange: row.exchange, routingKey: row.routingKey, body: row.body,
                               properties: properties, mandatory: true)
    }

    /// The inbox key of a sender: `municipality.851`, `clinic.<id>`, `journal.<id>`.
    static func senderKey(_ sender: Sender) -> String { "\(sender.kind.rawValue).\(sender.id)" }

    static func partyKey(_ party: Party) -> String {
        switch party {
        case .municipality(let code): "municipality.\(code.rawValue)"
        case .clinic(let id): "clinic.\(id.rawValue)"
        case .centralVisitation: "cv"
        case .journal: "journal"
        }
    }

    /// A citizen's case id: derived from the pseudonym, so it is stable and carries no CPR.
    static func caseID(_ pseudonym: Pseudonym) -> String { "case-\(pseudonym.hex.prefix(24))" }

    static func consent(_ consent: Contract.Consent) -> Workflow.ConsentStatus {
        let day = consent.date.flatMap { LocalDate(iso: $0.description) }
        switch consent.status {
        case .given:
            guard let day else { return .absent }
            return .given(on: day, reference: consent.declarationRef)
        case .refused: return day.map { .refused(on: $0) } ?? .absent
        case .withdrawn: return day.map { .withdrawn(on: $0) } ?? .absent
        case .absent: return .absent
        }
    }

    static let copenhagen: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Copenhagen") ?? .gmt
        return calendar
    }()

    /// The Europe/Copenhagen civil date of an instant.
    static func civilDate(of date: Date) -> LocalDate {
        let c = copenhagen.dateComponents([.year, .month, .day], from: date)
        return LocalDate(year: c.year ?? 1970, month: c.month ?? 1, day: c.day ?? 1)
            ?? LocalDate(year: 1970, month: 1, day: 1)!
    }

    /// Midnight Europe/Copenhagen at the start of `day`.
    static func startOfDay(_ day: LocalDate) -> Date? {
        copenhagen.date(from: DateComponents(year: day.year, month: day.month, day: day.day))
    }
}

/// What the pipeline needs besides the broker and the store.
public struct PipelineOptions: Sendable {
    public var codeBook: CodeBook
    public var names: Contract.Topology
    public var workflow: WorkflowConfiguration
    public var pseudonymizer: Pseudonymizer
    /// Exchange for rejected messages' copies (fanout, bound to `ddrouter.dead`).
    public var deadLetterExchange: String
    /// The broker user a sender must publish as.
    ///
    /// Default mapping (until the directory config names users per sender): the broker user
    /// name is `<kind>-<id>`, e.g. user `municipality-851` publishes to exchange
    /// `dd.in.municipality.851`, `clinic-amb-syd-aalborg` to `dd.in.clinic.amb-syd-aalborg`,
    /// `journal-journal-rn` to `dd.in.journal.journal-rn`. The broker guarantees `user_id`
    /// equals the connection's user, so the pair (exchange, user_id) authenticates the sender.
    public var userForSender: @Sendable (Sender) -> String
    public var clock: @Sendable () -> Date

    public init(
        codeBook: CodeBook, names: Contract.Topology = Contract.Topology(),
        workflow: WorkflowConfiguration = WorkflowConfiguration(), pseudonymizer: Pseudonymizer,
        deadLetterExchange: String = "dd.dead",
        userForSender: @escaping @Sendable (Sender) -> String = PipelineOptions.defaultUser,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.codeBook = codeBook
        self.names = names
        self.workflow = workflow
        self.pseudonymizer = pseudonymizer
        self.deadLetterExchange = deadLetterExchange
        self.userForSender = userForSender
        self.clock = clock
    }

    /// `<kind>-<id>`: see `userForSender`.
    public static let defaultUser: @Sendable (Sender) -> String = { "\($0.kind.rawValue)-\($0.id)" }
}
