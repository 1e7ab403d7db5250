public import AMQP
public import Contract
public import Foundation
public import Logging
public import Store
public import Workflow
import Synchronization

/// The consume → decide → record → ack pipeline of `ddrouter run` (issue 4).
///
/// For each delivery from `ddrouter.inbound`:
/// 1. **authorize**: the broker-validated `user_id` must be the broker user of the sender the
///    exchange belongs to (`PipelineOptions.userForSender`), before anything is looked up;
/// 2. **dedupe**: a `message_id` already answered for this sender gets its stored receipt
///    again, byte for byte, and nothing else happens;
/// 3. **decode** with `MessageDecoder` (contract checks, entry-by-entry for lists);
/// 4. **workflow**: `municipal-list` goes through `ListProcessing`, `contact-status` through
///    the listed citizens' cases (`Pipeline+Lists.swift`), `clinic-list` is compared with the
///    municipal list (R3); every single-citizen type takes one generic path
///    (`Pipeline+Case.swift`): load the case by pseudonym → `CitizenCase.apply` → record;
///    a citizen without a case gets `unknown-case`, an input the case cannot take now
///    `out-of-order` with the workflow's reason;
///    Every path has the same three steps: load what the command needs
///    (`CaseSnapshot.load`), decide (`Decide`, pure: command + snapshots + time in, one
///    `UnitOfWork` out), and write it (`UnitOfWork.apply(in:)`, the only writer, used by the
///    lists and the timer runner alike);
/// 5. **one savepoint in a shared store transaction** (group commit, `CommitBatcher`): inbox
///    row with the receipt, cases, history, outbox rows (the receipt and every routed event)
///    and audit entries (pseudonyms, never a CPR). The next delivery is taken as soon as
///    this one has submitted its write; writes submitted while a transaction commits share
///    the next one, in delivery order, so one fsync serves many messages;
/// 6. **ack**, once the transaction holding the write has committed. Publishing is the
///    `OutboxRelay`'s job: nothing goes to the broker from here except dead-letter copies
///    and resent receipts, both confirmed before the ack.
///
/// Rejections (decode or authorization) get a `fatal-error` receipt (stored, so a resend
/// gets the identical one) and a copy in `ddrouter.dead` with the `x-ddrouter-*` headers
/// (body and properties unchanged, except that `user_id` travels as `x-ddrouter-user-id`:
/// `publishDeadLetter`); the original is acked. A message its case refuses (`unknown-case`,
/// `out-of-order`) gets the same copy, published once the refusal has committed. A transient store failure (busy, disk
/// full) is retried in-process with bounded backoff while the delivery is held; what still
/// fails (or a publish refused) requeues the delivery. On the last delivery the quorum
/// queue allows (`x-delivery-count` = `deliveryLimit`) the message is not processed again:
/// it gets a `processing-deferred` receipt and a headered copy in `ddrouter.dead` (`giveUp`).
///
/// Logs carry message ids, types, codes and counts: never a CPR, a name or free text.
public final class Pipeline: Sendable {
    let client: AMQPClient
    /// Where the pipeline's own publishes go (dead letters, deferred and repeated receipts):
    /// the daemon's publishing connection, so they never wait behind deliveries the
    /// consuming connection holds back (`AMQPConfiguration.consumerByteLimit`).
    let publisher: AMQPClient
    let store: Store
    let options: PipelineOptions
    let decoder: MessageDecoder
    /// The pure step: command + snapshots + time in, one `UnitOfWork` out.
    let decide: Decide
    /// Recently written case states by their stored bytes (`CaseSnapshot.load`, `UnitOfWork.apply`).
    let stateCache = CaseStateCache()
    let logger: Logger
    let stopping = StopFlag()
    let busy = BusyClock()
    /// Where the pipeline's store reads outside the group commit run (the dedupe lookup).
    let storeThread = StoreThread(label: "ddrouter.pipeline.store")
    /// Where list slices and contact statuses are decided ahead of the writer, on a read
    /// snapshot (`Store.read`), so the writer's thread only checks and writes them.
    let decideThread = StoreThread(label: "ddrouter.pipeline.decide")
    /// Decisions made ahead that were written as made (`aheadWritten`) and that the writer made
    /// anew because a case they read had changed (`aheadRedone`).
    let aheadWritten = Atomic<Int>(0)
    let aheadRedone = Atomic<Int>(0)
    /// Decisions made ahead and not yet written: at most two (`DecisionPermits`).
    let permits = DecisionPermits(2)
    /// Group commit of every store write of a delivery (`commit`, `reject`).
    let batcher: CommitBatcher<StoreBatchTarget, ListSummary>
    /// When the next delivery may be taken after a requeue (`PipelineOptions.requeuePause`).
    let pause = Mutex<ContinuousClock.Instant?>(nil)
    /// Set by `run` while one delivery is handled: opened when its write is submitted.
    @TaskLocal static var handoff: Handoff?
    /// The delivery `handle` is handling, for `commit`: a message its case refuses
    /// (`unknown-case`, `out-of-order`) is copied to `ddrouter.dead` once the refusal has
    /// committed, like every other rejected message.
    @TaskLocal static var inHand: Delivery?

    public init(client: AMQPClient, publisher: AMQPClient? = nil, store: Store, options: PipelineOptions, logger: Logger) {
        self.client = client
        self.publisher = publisher ?? client
        self.store = store
        self.options = options
        self.decoder = MessageDecoder(codeBook: options.codeBook, topology: options.names)
        self.decide = Decide(options: options, decoder: decoder)
        self.logger = logger
        self.batcher = CommitBatcher(
            target: StoreBatchTarget(store: store), limits: options.batchLimits, retryDelays: options.retryDelays,
            logger: logger)
    }

    /// Consumes `ddrouter.inbound` until the stream ends (`client.stopConsuming()` or
    /// `client.close()`) or `stop()` is called, and returns once every delivery in hand is
    /// settled.
    ///
    /// Deliveries are handled one after another, in delivery order, up to their store write;
    /// the next one is taken as soon as the previous one has submitted its write to the group
    /// commit (and fewer than `batchLimit` writes wait for a transaction), or was settled
    /// without one. So several deliveries are in hand at once: one being handled, the others
    /// waiting for their transaction to commit. Each is acked only once the transaction
    /// holding its write has committed; acks come in any order. A delivery larger than
    /// `groupCommitMaxBytes` (a big list) starts once everything before it has committed; it
    /// is the only big one in hand, and its sender's next message waits until it is settled,
    /// but other senders' messages are taken meanwhile (from the start: while it is decoded)
    /// and written before its first slice and between its slices. After a
    /// requeue the next delivery waits `requeuePause`. After `stop()` no further delivery is
    /// taken: the transaction being written commits and its deliveries are acked; writes still
    /// waiting for a transaction are not run and their deliveries are requeued; the
    /// prefetched ones stay unacked and the broker puts them back in the queue when the
    /// connection closes.
    public func run(prefetch: UInt16) async throws {
        Observe.consumerStarted()
        defer {
            Observe.consumerStopped()
            let (hits, misses) = stateCache.counts
            logger.info("case states reused", metadata: ["hits": "\(hits)", "misses": "\(misses)"])
            logger.info("decided ahead of the writer", metadata: [
                "written": "\(aheadWritten.load(ordering: .relaxed))", "redone": "\(aheadRedone.load(ordering: .relaxed))"])
        }
        try await withThrowingDiscardingTaskGroup { group in
            // The big delivery in hand (at most one) and, per sender's exchange, the delivery
            // in hand that writes in turns (a list in slices) or the last one `parked`: each
            // settled when open.
            var big: Handoff?
            var inTurns: [String: (settled: Handoff, parked: Bool)] = [:]
            for try await delivery in client.consume(queue: options.names.inboundQueue, prefetch: prefetch) {
                if stopping.isSet { break }
                if let until = pause.withLock({ $0 }), until > .now {
                    try? await Task.sleep(until: until)
                    if stopping.isSet { break }
                }
                let alone = delivery.body.count > options.groupCommitMaxBytes
                if let done = inTurns[delivery.exchange], done.settled.isOpen { inTurns[delivery.exchange] = nil }
                if let done = big, done.isOpen { big = nil }
                // A sender's next message only after its list in slices (or its own message
                // parked before it) is settled: a sender's messages keep their order. One big
                // message in hand at a time (one big list in memory).
                //
                // A big message that arrives while another is in hand is parked in a task of
                // its own that waits for it, and the loop goes on; so is every later message
                // of its sender, behind it. Without this, a second big list of one
                // municipality made another's one-entry list wait for the whole first list.
                // Otherwise the loop waits in place, as before, and the messages keep their
                // arrival order.
                let senderBefore = inTurns[delivery.exchange]
                let bigBefore = alone ? big : nil
                if bigBefore != nil || senderBefore?.parked == true {
                    let settled = Handoff()
                    inTurns[delivery.exchange] = (settled, true)
                    if alone { big = settled }
                    group.addTask { [self] in
                        defer { settled.open() }
                        await senderBefore?.settled.wait()
                        await bigBefore?.wait()
                        if alone { await batcher.waitUntilIdle() }
                        // Not taken at shutdown: unsettled, the broker delivers it again.
                        guard !stopping.isSet else { return }
                        busy.enter()
                        await take(delivery, handoff: Handoff())
                    }
                    continue
                }
                if let before = senderBefore {
                    await before.settled.wait()
                    inTurns[delivery.exchange] = nil
                    if stopping.isSet { break }
                }
                // A big message starts after everything in hand has committed.
                if alone { await batcher.waitUntilIdle() }
                let handoff = Handoff()
                let settled = Handoff()
                busy.enter()
                group.addTask { [self] in
                    await take(delivery, handoff: handoff)
                    settled.open()
                }
                if alone {
                    // A big delivery takes seconds to decode before its first write: others
                    // go on meanwhile, as between a list's slices; its sender's next message
                    // still waits until it is settled.
                    handoff.willWriteInTurns()
                    handoff.open()
                }
                await handoff.wait()
                if handoff.writesInTurns { inTurns[delivery.exchange] = (settled, false) }
                if alone { big = settled }
                busy.progress()
                if stopping.isSet { break }
            }
        }
    }

    /// Handles a delivery taken by `run` (after `busy.enter()`): opens `handoff` when done (if
    /// the handling has not opened it at its first write), settles it, leaves `busy`.
    private func take(_ delivery: Delivery, handoff: Handoff) async {
        let outcome = await Self.$handoff.withValue(handoff) {
            await Observe.delivery(delivery) { await handle(delivery) }
        }
        handoff.open()
        settle(delivery, outcome)
        busy.leave()
    }

    private func settle(_ delivery: Delivery, _ outcome: Settlement) {
        switch outcome {
        case .ack: client.ack(delivery.tag)
        case .requeue:
            pause.withLock { $0 = .now + options.requeuePause }
            client.nack(delivery.tag, requeue: true)
        case .deadLetter: client.nack(delivery.tag, requeue: false)
        }
    }

    /// Graceful shutdown: `run` returns once the deliveries in hand are settled (their
    /// transaction committed, acked), without taking the prefetched ones (issue 4: "finish
    /// the message in hand").
    public func stop() {
        stopping.set()
        batcher.stop()
    }

    /// How long the pipeline has had deliveries in hand without progress (taking one, handing
    /// one's write over, settling one, finishing a slice of a list message), i.e. how long its
    /// slowest step in hand (one delivery's handling, one slice, one transaction) has taken so
    /// far; zero while waiting for a delivery: the watchdog's measure of a stuck pipeline
    /// (`WatchdogGate`).
    public var busyFor: Duration { busy.busyFor }

    /// How many deliveries are in hand: taken and not yet settled (one being handled, the
    /// others with their writes in or waiting for a group-commit transaction). After `stop()`
    /// no delivery is taken, so this is an upper bound of what is still finished.
    public var deliveriesInHand: Int { busy.inHand }

    /// How many group-commit transactions have committed since start (each holds the writes
    /// of one or more deliveries).
    public var committedTransactions: Int { batcher.committedTransactions }

    /// What to do with a delivery once it has been handled.
    public enum Settlement: Sendable, Hashable {
        case ack
        /// Trouble that in-process retries did not overcome: nothing was committed; the
        /// broker delivers it again (counted against the queue's delivery limit).
        case requeue
        /// Not processable, and not even its dead-letter copy could be published: into the
        /// queue's dead-letter exchange (`dd.dead`) by the broker.
        case deadLetter
    }

    /// How many times the broker delivered this message before (`x-delivery-count`, set by
    /// quorum queues on redelivery; 0 on the first delivery).
    static func previousDeliveries(_ delivery: Delivery) -> Int {
        guard let count = delivery.properties.headers["x-delivery-count"]?.intValue else { return 0 }
        return Int(clamping: max(0, count))
    }

    /// Handles one delivery; the caller settles it as answered.
    public func handle(_ delivery: Delivery) async -> Settlement {
        await Self.$inHand.withValue(delivery) { await handleInHand(delivery) }
    }

    private func handleInHand(_ delivery: Delivery) async -> Settlement {
        let now = options.clock()
        let properties = InboundProperties(
            type: delivery.properties.type, messageID: delivery.properties.messageID,
            userID: delivery.properties.userID, contentType: delivery.properties.contentType,
            contentEncoding: delivery.properties.contentEncoding, correlationID: delivery.properties.correlationID,
            timestamp: delivery.properties.timestamp.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            exchange: delivery.exchange, routingKey: delivery.routingKey, bodySize: delivery.body.count)

        // The sender named by the exchange (known to the code book), for receipts and dedupe.
        let sender = decoder.sender(forExchange: delivery.exchange)

        // Authorization before anything is looked up or resent: the broker has checked that
        // user_id is the connection's user; that user must be the one the directory gives
        // the sender of the exchange. A missing user_id is the decoder's `missing-user-id`.
        if let sender, let user = properties.userID, !user.isEmpty, user != options.userForSender(sender) {
            let rejection = Rejection(
                code: .unauthorizedSender, property: "user_id",
                reason: "The user_id is not the broker user of the sender whose exchange the message was published to.")
            return await reject(delivery, properties: properties, sender: sender, rejection: rejection, at: now,
                                remember: false)
        }

        // Dedupe: a message_id already answered gets the stored receipt, nothing else. A
        // copy whose write is still in an uncommitted transaction is waited for first.
        if let sender, let messageID = properties.messageID, !messageID.isEmpty {
            await batcher.waitUntilSettled(key: Self.inboxKey(sender, messageID))
            do {
                let key = Self.senderKey(sender)
                let store = store
                if let stored = try await retrying({
                    try await storeThread.run { try store.receipt(forSender: key, messageID: messageID) }
                }) {
                    return await resendReceipt(stored, sender: sender, messageID: messageID, type: properties.type)
                }
            } catch {
                logger.warning("inbox lookup failed", metadata: ["message_id": "\(Self.loggable(messageID))", "error": "\(error)"])
                return await requeueOrGiveUp(delivery, properties: properties, sender: sender, at: now)
            }
        }
        // The last delivery the broker allows: processing failed on every earlier one (or
        // crashed the daemon). Answer and dead-letter it ourselves instead of trying again.
        if Self.previousDeliveries(delivery) >= options.deliveryLimit {
            return await giveUp(delivery, properties: properties, sender: sender, at: now)
        }

        let decoded: DecodedMessage
        switch decoder.decode(properties: properties, body: delivery.body) {
        case .failure(let rejection):
            return await reject(delivery, properties: properties, sender: sender, rejection: rejection, at: now)
        case .success(let message):
            decoded = message
        }
        switch decoded.message {
        case .municipalList(let list):
            // The decoder has checked the date; one it passes but the rules cannot read is
            // still a permanent fault of this message: reject it, never requeue it.
            guard let asOf = LocalDate(iso: list.asOf.description) else {
                return await reject(delivery, properties: properties, sender: decoded.sender, rejection: Rejection(
                    code: .invalidDate, pointer: JSONPointer(["asOf"]),
                    reason: "`/asOf` is not a date the router can route by."), at: now)
            }
            return await process(list: list, asOf: asOf, decoded: decoded, at: now, sliceSize: options.listSliceSize)
        case .contactStatus:
            return await process(contactStatus: decoded, at: now)
        case .clinicList(let list):
            return await process(clinicList: list, decoded: decoded, at: now)
        case .referral, .consentUpdate, .assessment, .municipalPosition, .meetingOutcome, .transitionProposal,
            .jointPlan, .knowledgeHandover, .patientChoice, .treatmentStarted:
            guard let request = Self.caseRequest(for: decoded, on: Self.civilDate(of: now)) else {
                return await reject(delivery, properties: properties, sender: decoded.sender, rejection: Rejection(
                    code: .unknownType, property: "type", reason: "The router has no processing for this message type."),
                    at: now)
            }
            return await process(caseRequest: request, decoded: decoded, at: now)
        }
    }

    /// Runs `body` in its own savepoint of a group-commit transaction and settles the
    /// delivery: `.ack` once that transaction has committed; a message_id answered meanwhile
    /// (a racing copy) gets its stored receipt again; anything else rolls back this message's
    /// writes alone and requeues (a transient store failure after the in-process retries).
    func commit(_ decoded: DecodedMessage, _ body: (StoreTransaction) throws -> ListSummary) async -> Settlement {
        await settlement(of: await write(decoded, body), decoded)
    }

    /// One store write of the delivery of `decoded` (keyed by its sender's message_id, with
    /// the DEBUG fault injection), without settling it: `commit`, or one slice of a list.
    func write(_ decoded: DecodedMessage, _ body: (StoreTransaction) throws -> ListSummary) async
        -> Result<ListSummary, any Error>
    {
        await write(key: Self.inboxKey(decoded.sender, decoded.messageID)) { tx in
            #if DEBUG
            try options.faultInjection?(decoded.messageID)
            #endif
            return try body(tx)
        }
    }

    /// The settlement of a delivery whose last write had `result` (see `commit`).
    func settlement(of result: Result<ListSummary, any Error>, _ decoded: DecodedMessage) async -> Settlement {
        do {
            let summary = try result.get()
            log(summary, decoded)
            if let refusal = summary.refusal, let delivery = Self.inHand {
                return await deadLetterRefused(delivery, refusal: refusal)
            }
            return .ack
        } catch let duplicate as DuplicateInbound {
            return await resendReceipt(duplicate.receipt, sender: decoded.sender, messageID: decoded.messageID,
                                       type: decoded.type.rawValue)
        } catch is CommitBatcher<StoreBatchTarget, ListSummary>.Stopped {
            logger.info("stopping: not processed, requeued", metadata: ["message_id": "\(Self.loggable(decoded.messageID))"])
            return .requeue
        } catch {
            // A list in slices keeps the slices committed before this one: its redelivery resumes.
            logger.warning("processing failed; this step is undone, requeueing",
                           metadata: ["message_id": "\(Self.loggable(decoded.messageID))", "error": "\(error)"])
            return .requeue
        }
    }

    /// Submits a delivery's store write to the group commit, opens the delivery's handoff
    /// (`run` takes the next delivery) and returns once its transaction has committed, or
    /// with the error that undid the write. Transient store failures are retried by the
    /// batcher with the backoff of `options.retryDelays`, holding the delivery.
    func write(key: String?, _ body: (StoreTransaction) throws -> ListSummary) async -> Result<ListSummary, any Error> {
        let handoff = Self.handoff
        return await batcher.submit(key: key, body, submitted: { handoff?.open() })
    }

    /// Calls the DEBUG hook `PipelineOptions.afterDecidingAhead` (nothing in a release build).
    func afterDecidingAhead(_ messageID: String) async {
        #if DEBUG
        await options.afterDecidingAhead?(messageID)
        #endif
    }

    /// Whether a decision made ahead of the writer still holds in `tx`: every case it read
    /// is at the revision it read (`CaseRead`). Counted in `aheadWritten` / `aheadRedone`.
    func holds(_ read: [CaseRead], in tx: StoreTransaction) throws -> Bool {
        for entry in read where try tx.caseRevision(id: entry.caseID) != entry.revision {
            aheadRedone.add(1, ordering: .relaxed)
            return false
        }
        aheadWritten.add(1, ordering: .relaxed)
        return true
    }

    /// The group-commit key of a sender's message_id (`CommitBatcher.waitUntilSettled`).
    static func inboxKey(_ sender: Sender, _ messageID: String) -> String { "\(senderKey(sender)) \(messageID)" }

    /// Runs `operation` (a store read outside the group commit, e.g. the dedupe lookup),
    /// retrying it in-process while it fails for a transient store reason (busy, disk full)
    /// with the backoff of `options.retryDelays`, holding the delivery.
    func retrying<T>(_ operation: () async throws -> T) async throws -> T {
        var delays = options.retryDelays[...]
        while true {
            do {
                return try await operation()
            } catch let error as StoreError where error.isTransient {
                guard let delay = delays.popFirst() else { throw error }
                logger.notice("store busy; retrying", metadata: ["error": "\(error.code.rawValue)", "in": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
    }

    func log(_ summary: ListSummary, _ decoded: DecodedMessage) {
        Observe.decided(events: summary.events, held: summary.held)
        if let refusal = summary.refusal { Observe.refused(code: refusal.code.rawValue) }
        for why in Set(summary.unmapped).sorted() {
            logger.error("workflow event not published: its wire message cannot be built",
                         metadata: ["message_id": "\(Self.loggable(decoded.messageID))", "event": "\(why)"])
        }
        for line in summary.cases {
            logger.info("case updated", metadata: [
                "citizen.pseudonym": "\(line.pseudonym.hex)", "case.id": "\(line.caseID)",
                "message.id": "\(Self.loggable(decoded.messageID))", "events": "\(line.events)", "held": "\(line.held)",
            ])
        }
        logger.info("message processed", metadata: [
            "message_id": "\(Self.loggable(decoded.messageID))", "type": "\(decoded.type.rawValue)",
            "sender": "\(Self.senderKey(decoded.sender))", "accepted": "\(summary.accepted)",
            "rejected": "\(summary.rejected)", "events": "\(summary.events)", "held": "\(summary.held)",
            "code": "\(summary.refusal?.code.rawValue ?? "-")",
        ])
    }

    /// `timer/<case>/<kind>/<due day>` (`TimerRecord.id`): stable, so a replay schedules the
    /// same timer and the fired timer's events get stable ids.
    static func timerID(_ caseID: String, _ kind: TimerKind, _ day: LocalDate) -> String {
        TimerRecord.id(caseID: caseID, kind: kind.rawValue, day: day.iso)
    }

    struct ListSummary {
        var accepted = 0
        var rejected = 0
        /// Why its case refused a single-citizen message (`unknown-case`, `out-of-order`):
        /// the receipt's code, reason and pointer, for the dead-letter copy's headers.
        var refusal: Rejection?
        var events = 0
        var held = 0
        var unmapped: [String] = []
        /// The cases decided, for one log line each (pseudonym only: operators follow a citizen by it).
        var cases: [CaseLine] = []

        struct CaseLine {
            var caseID: String
            var pseudonym: Pseudonym
            var events: Int
            var held: Int
        }
    }

    struct DuplicateInbound: Error {
        var receipt: Data
    }

    // MARK: - rejections

    /// With `remember: false` (an unauthorized publisher) the message_id is not recorded: it
    /// must neither answer nor block the real sender's message of that id, and its receipt
    /// gets an id of its own.
    func reject(_ delivery: Delivery, properties: InboundProperties, sender: Sender?, rejection: Rejection,
                at now: Date, remember: Bool = true) async -> Settlement {
        Observe.rejected(code: rejection.code)
        logger.notice("message rejected", metadata: [
            "message_id": "\(Self.loggable(properties.messageID))",
            "exchange": "\(Self.loggable(delivery.exchange))", "type": "\(Self.loggableType(properties.type))",
            "code": "\(rejection.code.rawValue)",
        ])
        // 1. The unchanged copy in ddrouter.dead, confirmed before anything is committed.
        do {
            try await publishDeadLetter(delivery, rejection: rejection, at: now)
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
            let key = remember ? messageID.map { Self.inboxKey(sender, $0) } : nil
            var unit = UnitOfWork()
            let receiptRow = receiptRow(
                body, sender: sender, messageID: messageID, at: now,
                suffix: remember ? nil : "\(rejection.code.rawValue)-\(UUID().uuidString)")
            unit.answer = (
                remember ? messageID.map {
                    InboxEntry(sender: Self.senderKey(sender), messageID: $0, type: properties.type ?? "", receivedAt: now, receipt: body)
                } : nil,
                receiptRow)
            unit.audit.append(AuditRecord(
                at: now, actor: Self.senderKey(sender), action: .rejected, pseudonym: nil,
                messageType: properties.type.map { String($0.prefix(64)) }, messageID: messageID,
                purpose: AuditPurpose.answerSender.recorded))
            _ = try await write(key: key) { tx in
                try unit.apply(in: tx)
                return ListSummary()
            }.get()
            return .ack
        } catch let duplicate as DuplicateInbound {
            return await resendReceipt(duplicate.receipt, sender: sender, messageID: properties.messageID ?? "",
                                       type: properties.type)
        } catch is CommitBatcher<StoreBatchTarget, ListSummary>.Stopped {
            logger.info("stopping: rejection not recorded, requeued", metadata: ["message_id": "\(Self.loggable(properties.messageID))"])
            return .requeue
        } catch {
            logger.warning("recording the rejection failed; requeueing", metadata: ["error": "\(error)"])
            return .requeue
        }
    }

    /// The copy in `ddrouter.dead` of a message its case refused (docs/messages.md, "Dead
    /// letters": every fatal-error message has one). The refusal is decided inside the
    /// message's transaction, so the copy is published after that has committed, before the
    /// ack. If the broker does not confirm it, the delivery is rejected without requeue: the
    /// inbound queue's dead-letter exchange puts the message itself into `ddrouter.dead`
    /// (with `x-death`, code `dead-lettered:rejected` in `ddrouter dlq list`), so it is never
    /// missing there; a redelivery would only get the stored receipt.
    func deadLetterRefused(_ delivery: Delivery, refusal: Rejection) async -> Settlement {
        do {
            try await publishDeadLetter(delivery, rejection: refusal, at: options.clock())
            return .ack
        } catch {
            logger.warning("dead-letter copy of a refused message not confirmed; leaving it to the broker's dead-letter exchange",
                           metadata: ["message_id": "\(Self.loggable(delivery.properties.messageID))", "error": "\(error)"])
            return .deadLetter
        }
    }

    /// Publishes the unchanged copy of `delivery` to the dead-letter exchange with the
    /// `x-ddrouter-*` headers of `rejection`, and waits for the broker's confirm.
    func publishDeadLetter(_ delivery: Delivery, rejection: Rejection, at now: Date) async throws {
        var deadProperties = delivery.properties
        // The copy is published by the router's own user; the broker refuses a user_id that
        // is not the connection's, so the original one travels in a header instead.
        if let user = deadProperties.userID {
            deadProperties.headers["x-ddrouter-user-id"] = .string(user)
        }
        deadProperties.userID = nil
        deadProperties.headers["x-delivery-count"] = nil
        for (key, value) in DeadLetterHeaders.headers(for: rejection, exchange: delivery.exchange,
                                                      rejectedAt: Contract.Timestamp(now)) {
            deadProperties.headers[key] = .string(value)
        }
        try await publisher.publish(OutboundMessage(
            exchange: options.deadLetterExchange, routingKey: delivery.routingKey, body: delivery.body,
            properties: deadProperties))
    }

    /// Requeues a delivery that failed, or gives up on it if this was the last delivery the
    /// broker allows.
    func requeueOrGiveUp(_ delivery: Delivery, properties: InboundProperties, sender: Sender?, at now: Date) async
        -> Settlement
    {
        guard Self.previousDeliveries(delivery) >= options.deliveryLimit else { return .requeue }
        return await giveUp(delivery, properties: properties, sender: sender, at: now)
    }

    /// A message processing failed on for `deliveryLimit` deliveries (or that crashed the
    /// daemon as often): its copy goes to `ddrouter.dead` with `x-ddrouter-code:
    /// processing-deferred`, the sender gets a `transient-error` receipt
    /// (`processing-deferred`: resend the same message later), nothing is committed, and the
    /// delivery is acked. Nothing is stored for its message_id, so a resend, or
    /// `ddrouter dlq requeue --code processing-deferred` once the cause is fixed, processes
    /// it. If even the copy cannot be published, the broker dead-letters it (`.deadLetter`).
    func giveUp(_ delivery: Delivery, properties: InboundProperties, sender: Sender?, at now: Date) async -> Settlement {
        let deliveries = Self.previousDeliveries(delivery) + 1
        let rejection = Rejection(
            code: .processingDeferred,
            reason: "Processing failed on \(deliveries) deliveries; nothing was committed. Requeue the message once the cause is fixed.")
        Observe.rejected(code: rejection.code)
        logger.error("processing failed on every allowed delivery; dead-lettered with processing-deferred", metadata: [
            "message_id": "\(Self.loggable(properties.messageID))", "deliveries": "\(deliveries)",
            "sender": "\(sender.map(Self.senderKey) ?? "-")",
        ])
        do {
            try await publishDeadLetter(delivery, rejection: rejection, at: now)
        } catch {
            logger.warning("dead-letter copy not confirmed; leaving it to the broker's dead-letter exchange",
                           metadata: ["error": "\(error)"])
            return .deadLetter
        }
        guard let sender else { return .ack }
        do {
            let body = try Receipt(deferring: properties, sender: sender, receivedAt: Contract.Timestamp(now)).encodedBody()
            let row = receiptRow(body, sender: sender, messageID: properties.messageID.flatMap { $0.isEmpty ? nil : $0 },
                                 at: now, suffix: "deferred")
            try await publisher.publish(Self.outbound(row, userID: publisher.configuration.userID))
        } catch {
            logger.error("the processing-deferred receipt was not confirmed; the dead letter is the record",
                         metadata: ["message_id": "\(Self.loggable(properties.messageID))", "error": "\(error)"])
        }
        return .ack
    }

    // MARK: - receipts

    /// The outbox row of a receipt to `sender`, with a message_id derived from the inbound
    /// one (`receipt/<sender>/<message_id>`) so a resend carries the same id.
    /// A message without a message_id gets a receipt with a fresh id and no correlation_id.
    func receiptRow(_ body: Data, sender: Sender, messageID: String?, at now: Date, suffix: String? = nil) -> OutboxEvent {
        decide.receiptRow(body, sender: sender, messageID: messageID, at: now, suffix: suffix)
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

    /// A sender-set AMQP `type` as logged: a contract type name, `(unknown)` for anything
    /// else (a closed set: sender text never reaches the log), `-` when absent.
    static func loggableType(_ type: String?) -> String {
        guard let type, !type.isEmpty else { return "-" }
        return MessageType(rawValue: type)?.rawValue ?? "(unknown)"
    }

    /// A repeated message_id: publish the stored receipt again, identical body and id.
    func resendReceipt(_ body: Data, sender: Sender, messageID: String, type: String?) async -> Settlement {
        let row = receiptRow(body, sender: sender, messageID: messageID, at: options.clock())
        do {
            try await publisher.publish(Self.outbound(row, userID: publisher.configuration.userID))
            Observe.duplicate(receipt: body)
            logger.info("duplicate message_id; stored receipt resent", metadata: [
                "message_id": "\(Self.loggable(messageID))", "sender": "\(Self.senderKey(sender))", "type": "\(Self.loggableType(type))",
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
    /// `userID` is the publishing connection's broker user (`AMQPConfiguration.userID`): the
    /// contract's `user_id` of every outbound message, which the broker checks against the
    /// connection (docs/messages.md, Outbound messages).
    public static func outbound(_ row: OutboxEvent, userID: String?) -> OutboundMessage {
        var properties = MessageProperties()
        properties.userID = userID
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

    /// A JSON pointer written as text (RFC 6901, e.g. `/caseId`).
    static func jsonPointer(_ text: String) -> JSONPointer {
        JSONPointer(text.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        })
    }

    /// The inbox key of a sender: `municipality.851`, `clinic.<id>`, `journal.<id>`.
    static func senderKey(_ sender: Sender) -> String { "\(sender.kind.rawValue).\(sender.id)" }

    /// `<sender>/<message_id>`: what the router stores and derives from an inbound message
    /// (case history, consent records, event and report ids), since a `message_id` is unique
    /// per sender only (docs/messages.md, "Outbound properties").
    static func sourceKey(_ decoded: DecodedMessage) -> String { "\(senderKey(decoded.sender))/\(decoded.messageID)" }

    static func partyKey(_ party: Party) -> String {
        switch party {
        case .municipality(let code): "municipality.\(code.rawValue)"
        case .clinic(let id): "clinic.\(id.rawValue)"
        case .centralVisitation: "cv"
        case .journal: "journal"
        }
    }

    /// A citizen's case id: derived from the pseudonym, so it is stable and carries no CPR.
    public static func caseID(_ pseudonym: Pseudonym) -> String { "case-\(pseudonym.hex.prefix(24))" }

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

    /// The Europe/Copenhagen civil date of an instant (the daemon's and the admin commands' "today").
    public static func civilDate(of date: Date) -> LocalDate {
        let c = copenhagen.dateComponents([.year, .month, .day], from: date)
        return LocalDate(year: c.year ?? 1970, month: c.month ?? 1, day: c.day ?? 1)
            ?? LocalDate(year: 1970, month: 1, day: 1)!
    }

    /// Midnight Europe/Copenhagen at the start of `day`.
    public static func startOfDay(_ day: LocalDate) -> Date? {
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
    /// The clinics the directory says serve a municipality (R2: a list 2 without `clinic`
    /// shares its coordinated courses with the municipality's serving clinic).
    public var servingClinics: @Sendable (String) -> [String] = { _ in [] }
    public var clock: @Sendable () -> Date
    /// The inbound queue's `x-delivery-limit` (`inbound.delivery_limit`): on the delivery
    /// after this many failed ones the pipeline answers and dead-letters the message itself.
    public var deliveryLimit: Int
    /// In-process retries of a transient store failure (busy, disk full), holding the
    /// delivery: one attempt more than delays. Requeueing counts against the delivery limit.
    public var retryDelays: [Duration] = [50, 100, 200, 400, 800, 1600].map { .milliseconds($0) }
    /// Bounds of one group-commit transaction: at most this many deliveries' writes, and no
    /// further one once it has run this long. A lone delivery never waits for company.
    public var batchLimit = 100
    public var batchDuration: Duration = .milliseconds(100)
    /// A delivery with a larger body (a big list) is handled alone, as without group commit,
    /// so that only one big message is decoded and in memory at a time.
    public var groupCommitMaxBytes = 256 * 1024
    /// Accepted entries of a municipal list decided and committed together (`Pipeline.listSliceSize`).
    public var listSliceSize = Pipeline.listSliceSize
    var batchLimits: CommitBatcher<StoreBatchTarget, Pipeline.ListSummary>.Limits {
        .init(writes: batchLimit, duration: batchDuration)
    }
    /// Pause after a requeue before the next delivery is taken.
    public var requeuePause: Duration = .milliseconds(200)
    #if DEBUG
    /// Test-only fault injection (DEBUG builds only): called inside every processing
    /// transaction with the message_id; a thrown error fails (rolls back) the transaction.
    public var faultInjection: (@Sendable (String) throws -> Void)?
    /// Test-only (DEBUG builds only): awaited with the message_id after a list slice or a
    /// contact-status message was decided ahead of the writer and before the writer gets
    /// it, so a test can change a case the decision read in between.
    public var afterDecidingAhead: (@Sendable (String) async -> Void)?
    #endif

    public init(
        codeBook: CodeBook, names: Contract.Topology = Contract.Topology(),
        workflow: WorkflowConfiguration = WorkflowConfiguration(), pseudonymizer: Pseudonymizer,
        deadLetterExchange: String = "dd.dead",
        userForSender: @escaping @Sendable (Sender) -> String = PipelineOptions.defaultUser,
        clock: @escaping @Sendable () -> Date = { Date() }, deliveryLimit: Int = 5
    ) {
        self.codeBook = codeBook
        self.names = names
        self.workflow = workflow
        self.pseudonymizer = pseudonymizer
        self.deadLetterExchange = deadLetterExchange
        self.userForSender = userForSender
        self.clock = clock
        self.deliveryLimit = max(1, deliveryLimit)
    }

    /// `<kind>-<id>`: see `userForSender`.
    public static let defaultUser: @Sendable (Sender) -> String = { "\($0.kind.rawValue)-\($0.id)" }
}
