import Contract
import Foundation
import Store
import Workflow

/// The pure step of the pipeline: a command (a single-citizen message, a contact status
/// entry, a slice of a municipal list, a clinic list, a comparison of lists, a fired timer),
/// the snapshots of the cases it needs and the time in; one `UnitOfWork` out. No store, no
/// broker, no clock: what it reads was loaded before (`CaseSnapshot.load`), what it changes
/// is written after (`UnitOfWork.apply(in:)`), so it is tested by feeding it values.
struct Decide: Sendable {
    let options: PipelineOptions
    let decoder: MessageDecoder

    var mapper: OutboundMapper {
        OutboundMapper(names: options.names, codeBook: options.codeBook, workflow: options.workflow)
    }

    // MARK: - the answer

    /// The receipt `receipt` as the answer to `decoded`: its inbox entry and outbox row.
    func answer(_ decoded: DecodedMessage, receipt: Receipt, at now: Date) throws -> (inbox: InboxEntry?, receipt: OutboxEvent) {
        let body = try receipt.encodedBody()
        return (
            InboxEntry(
                sender: Pipeline.senderKey(decoded.sender), messageID: decoded.messageID, type: decoded.type.rawValue,
                receivedAt: now, receipt: body),
            receiptRow(body, sender: decoded.sender, messageID: decoded.messageID, at: now))
    }

    /// The ok receipt of a list message (accepted count, rejected entries by sent index,
    /// held entries by sent index).
    func listAnswer(
        _ decoded: DecodedMessage, rejected: [Receipt.RejectedEntry], sentEntries: Int, held: [Int] = [], at now: Date
    ) throws -> UnitOfWork {
        let sender = decoded.sender
        let receipt = Receipt(
            receiptFor: .init(
                messageId: decoded.messageID, messageType: decoded.type.rawValue,
                sender: SenderRef(kind: sender.kind, id: sender.id)),
            status: .ok, receivedAt: Contract.Timestamp(now),
            acceptedEntries: sentEntries - rejected.count, rejectedEntries: rejected.sorted { $0.index < $1.index },
            heldEntries: held.isEmpty ? nil : held.sorted())
        var unit = UnitOfWork(answer: try answer(decoded, receipt: receipt, at: now))
        unit.summary.accepted = sentEntries - rejected.count
        unit.summary.rejected = rejected.count
        return unit
    }

    /// The outbox row of a receipt to `sender`, with a message_id derived from the inbound
    /// one (`receipt/<sender>/<message_id>`) so a resend carries the same id.
    /// A message without a message_id gets a receipt with a fresh id and no correlation_id.
    func receiptRow(_ body: Data, sender: Sender, messageID: String?, at now: Date, suffix: String? = nil) -> OutboxEvent {
        var id = "receipt/\(Pipeline.senderKey(sender))/\(messageID ?? "none-\(UUID().uuidString)")"
        if let suffix { id += "/\(suffix)" }
        return OutboxEvent(
            messageID: id, exchange: options.names.outboundExchange,
            routingKey: options.names.routingKey(for: .receipt, to: Audience(sender: sender)),
            type: MessageType.receipt.rawValue, correlationID: messageID, body: body, createdAt: now)
    }

    // MARK: - a case's decisions

    /// A case's events and timers as writes of `work`: a history row per decision, an
    /// outbox row with its `queued` audit entry per event that may go out (or a `held` entry
    /// when consent withholds it, R4), the timer plan.
    // swiftlint:disable:next function_parameter_count
    func events(
        _ events: [OutboundEvent], timers: [TimerAction], caseID: String, cpr: CPR, pseudonym: Pseudonym,
        data: OutboundMapper.CaseData, source: MessageSource, at now: Date, into work: inout UnitOfWork.CaseWork,
        summary: inout Pipeline.ListSummary
    ) throws {
        let mapper = mapper
        let before = (events: summary.events, held: summary.held)
        defer {
            summary.cases.append(.init(caseID: caseID, pseudonym: pseudonym, events: summary.events - before.events,
                                       held: summary.held - before.held))
        }
        for event in events {
            work.history.append(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .decision, messageID: event.id.rawValue,
                payload: try StoreBinary.encodeUncompressed(event.payload), explanation: try StoreBinary.encodeUncompressed(event.explanation)))
            switch try mapper.message(for: event, caseID: caseID, cpr: cpr, data: data, source: source, at: now) {
            case .publish(var row):
                // The body is valid against its schema by construction: OutboundMapperTests
                // validate every event kind over every shape of case data (`neverInvalid`),
                // which is cheaper than checking each body here (issue 15).
                let purpose = AuditPurpose(event.payload.purpose).recorded
                row.audit = OutboxAudit(actor: Pipeline.partyKey(event.recipient), pseudonym: pseudonym, purpose: purpose)
                work.outbox.append(row)
                work.audit.append(AuditRecord(
                    at: now, actor: Pipeline.partyKey(event.recipient), action: "queued", pseudonym: pseudonym,
                    messageType: row.type, messageID: row.messageID, purpose: purpose))
                summary.events += 1
            case .held:
                work.audit.append(AuditRecord(
                    at: now, actor: Pipeline.partyKey(event.recipient), action: .held, pseudonym: pseudonym,
                    messageType: event.payload.wireType, messageID: event.id.rawValue,
                    purpose: AuditPurpose(event.payload.purpose).recorded))
                summary.held += 1
            case .unavailable(let why):
                summary.unmapped.append(why)
            }
        }
        work.timers += timers
    }

    /// What outbound messages about the case need: the listing (or referral) data, the
    /// latest joint plan, knowledge handover and network-meeting date of the current
    /// workflow B and whether a collaboration meeting was held in it (`inputs`, from the
    /// case's input history including this delivery's input), and its consent.
    static func caseData(
        inputs: InputSummary, municipality: String, clinic: String?, citizenCase: CitizenCase, on today: LocalDate
    ) -> OutboundMapper.CaseData {
        let listed = inputs.listed
        let day = CalendarDate(iso: today.iso) ?? CalendarDate(year: 1970, month: 1, day: 1)!
        var data = OutboundMapper.CaseData(
            municipality: listed?.municipality ?? municipality, asOf: listed?.asOf ?? day,
            municipalInformation: listed?.municipalInformation,
            consentInForce: citizenCase.consent.permits(.municipalityToRegion, .treatmentDialogue),
            grounds: listed?.grounds, clinic: clinic, today: day, jointPlan: inputs.jointPlan,
            knowledgeHandover: inputs.knowledge, transitionDate: inputs.transitionDate,
            collaborationMeeting: inputs.collaboration)
        data.source = listed?.source
        data.receivedAt = citizenCase.workflowA?.listing.receivedAt
        data.withdrawnOn = citizenCase.consent.entries.compactMap { entry -> CalendarDate? in
            switch entry.status {
            case .withdrawn(let on), .refused(let on): return CalendarDate(iso: on.iso)
            case .given, .absent: return nil
            }
        }.max()
        data.withdrawnDirections = Workflow.ConsentDirection.allCases.filter { direction in
            switch citizenCase.consent.status(direction, .treatmentDialogue) {
            case .withdrawn, .refused: return true
            case .given, .absent: return false
            }
        }
        return data
    }

    /// A consent statement as the store keeps it: one statement for its directions and both
    /// purposes the workflow records (append-only; the latest per direction and purpose is
    /// current). `absent` states nothing and gives none.
    static func consentStatements(
        _ consent: Contract.Consent, pseudonym: Pseudonym, messageID: String, at now: Date
    ) -> [ConsentStatement] {
        let state: ConsentState
        switch consent.status {
        case .given: state = .given
        case .refused: state = .refused
        case .withdrawn: state = .withdrawn
        case .absent: return []
        }
        let day = consent.date.flatMap { LocalDate(iso: $0.description) }.flatMap(Pipeline.startOfDay) ?? now
        var directions: [StoreConsentRecord.Direction] = []
        for direction in consent.directions ?? Contract.ConsentDirection.allCases {
            let stored: StoreConsentRecord.Direction = direction == .municipalityToRegion ? .municipalityToRegion : .regionToMunicipality
            if !directions.contains(stored) { directions.append(stored) }
        }
        guard !directions.isEmpty else { return [] }
        return [ConsentStatement(
            pseudonym: pseudonym, directions: directions, purposes: Workflow.ConsentPurpose.allCases.map(\.rawValue),
            state: state, validFrom: day, withdrawnAt: state == .withdrawn ? day : nil,
            reference: consent.declarationRef ?? "-", recordedAt: now, messageID: messageID)]
    }

    // MARK: - a single-citizen message

    /// A single-citizen message (`Pipeline.CaseRequest`) against the citizen's case
    /// (`snapshot`, loaded by pseudonym): refused (`unknown-case`, `out-of-order`, answered
    /// with a fatal-error receipt), or applied to the case, with the case's new snapshot,
    /// history, audit, events, timers, consent and the ok receipt.
    // swiftlint:disable:next function_body_length
    func caseRequest(
        _ request: Pipeline.CaseRequest, decoded: DecodedMessage, pseudonym: Pseudonym, snapshot: CaseSnapshot,
        at now: Date
    ) throws -> UnitOfWork {
        let today = Pipeline.civilDate(of: now)
        let sender = decoded.sender
        let senderKey = Pipeline.senderKey(sender)
        let source = MessageSource(
            messageId: decoded.messageID, messageType: decoded.type.rawValue,
            sender: SenderRef(kind: sender.kind, id: sender.id))
        let caseID = Pipeline.caseID(pseudonym)
        let existing = snapshot.record

        func refuse(_ code: RejectionCode, pointer: String? = nil, _ reason: String) throws -> UnitOfWork {
            let receipt = Receipt(
                receiptFor: .init(
                    messageId: decoded.messageID, messageType: decoded.type.rawValue,
                    sender: SenderRef(kind: sender.kind, id: sender.id)),
                status: .fatalError, receivedAt: Contract.Timestamp(now), code: code.rawValue,
                reason: String(reason.prefix(1000)), pointer: pointer)
            var unit = UnitOfWork(answer: try answer(decoded, receipt: receipt, at: now))
            unit.audit.append(AuditRecord(
                at: now, actor: senderKey, action: .rejected, pseudonym: pseudonym,
                messageType: decoded.type.rawValue, messageID: decoded.messageID, purpose: AuditPurpose.answerSender.recorded))
            unit.summary.rejected = 1
            unit.summary.refusal = Rejection(
                code: code, pointer: pointer.map(Pipeline.jsonPointer), reason: String(reason.prefix(1000)))
            return unit
        }

        if let quoted = request.quotedCaseID, existing == nil || quoted != caseID {
            return try refuse(
                .unknownCase, pointer: "/caseId",
                "`/caseId` does not name a case of this citizen: quote the caseId of the router's message about the citizen.")
        }
        // A municipality acts only on its own citizens' cases (R4: another municipality
        // learns nothing, not even that a case exists).
        if let existing, !request.opensCase, case .municipality(let code) = sender, existing.municipality != code {
            return try refuse(.unknownCase, "The citizen has no case with municipality \(code).")
        }
        if existing == nil && !request.opensCase {
            return try refuse(
                .unknownCase,
                "The citizen has no case: a \(decoded.type.rawValue) needs a case opened by a municipal list, a referral or a transition proposal.")
        }
        var citizenCase = snapshot.state ?? CitizenCase(citizen: CitizenKey(request.cpr.digits))
        // A message that may open a case must not take over another municipality's open
        // case (R4): its consent, listing data and the case's later messages would go to
        // that municipality. A municipality gets the same answer as for a citizen without
        // a case; a regional sender (which may know the case) is told what is wrong.
        if request.opensCase, let owner = citizenCase.owningMunicipality,
            let named = request.municipality, named != owner.rawValue
        {
            if case .municipality(let code) = sender {
                return try refuse(.unknownCase, "The citizen has no case with municipality \(code).")
            }
            return try refuse(
                .outOfOrder, pointer: "/municipality",
                "The citizen's open case belongs to another municipality than `/municipality` names; it changes only once that case is closed (R4).")
        }
        var events: [OutboundEvent] = []
        var timers: [TimerAction] = []
        // A consent carried by the message; `absent` states nothing and leaves a
        // recorded consent in place.
        if let consent = request.consent, consent.status != .absent {
            let result = citizenCase.apply(
                .consentUpdate(Pipeline.consentUpdate(consent)),
                context: CaseContext(ref: InboundRef(sender: senderKey, messageID: decoded.messageID + "/consent"), at: now, on: today),
                configuration: options.workflow)
            events += result.events
            timers += result.timers
        }
        if let input = request.input {
            let result = citizenCase.apply(
                input, context: CaseContext(ref: InboundRef(sender: senderKey, messageID: decoded.messageID), at: now, on: today),
                configuration: options.workflow)
            if case .rejected(let why) = result.outcome {
                return try refuse(
                    .outOfOrder, "The citizen's case cannot take this \(decoded.type.rawValue) now: \(why.description)")
            }
            events += result.events
            timers += result.timers
        }

        let municipality = existing?.municipality ?? request.municipality ?? ""
        let clinic = Pipeline.clinicInCharge(citizenCase) ?? request.clinic ?? existing?.clinic
        // The record's state and status come from `citizenCase` (`CaseWork.init`).
        var work = try UnitOfWork.CaseWork(
            caseID: caseID, at: now,
            record: CaseRecord(
                caseID: caseID, pseudonym: pseudonym, workflow: citizenCase.workflowB != nil ? "B" : "A",
                municipality: municipality, clinic: clinic, status: "", state: Data(), updatedAt: now),
            state: citizenCase)
        var inputs = snapshot.inputs ?? InputSummary()
        if let listed = request.listed {
            inputs.listed = listed
            work.history.append(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .input, messageID: Pipeline.sourceKey(decoded),
                payload: try StoreBinary.encodeUncompressed(listed), explanation: nil))
        } else {
            inputs.add(request.record)
            work.history.append(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .input, messageID: Pipeline.sourceKey(decoded),
                payload: try StoreBinary.encodeUncompressed(request.record), explanation: nil))
        }
        work.audit.append(AuditRecord(
            at: now, actor: senderKey, action: .received, pseudonym: pseudonym,
            messageType: decoded.type.rawValue, messageID: decoded.messageID,
            purpose: AuditPurpose.received(decoded.type, from: sender).recorded))
        let data = Self.caseData(inputs: inputs, municipality: municipality, clinic: clinic, citizenCase: citizenCase, on: today)
        var summary = Pipeline.ListSummary()
        try self.events(events, timers: timers, caseID: caseID, cpr: request.cpr, pseudonym: pseudonym, data: data,
                        source: source, at: now, into: &work, summary: &summary)
        if let statement = request.consentStatement ?? request.consent {
            work.consent = Self.consentStatements(statement, pseudonym: pseudonym, messageID: Pipeline.sourceKey(decoded), at: now)
        }
        var receipt = Receipt(accepting: decoded, receivedAt: Contract.Timestamp(now))
        if request.opensCase, events.contains(where: Pipeline.isHeldNotice) { receipt.heldEntries = [0] }
        var unit = UnitOfWork(answer: try answer(decoded, receipt: receipt, at: now))
        unit.cases = [work]
        summary.accepted = 1
        unit.summary = summary
        return unit
    }

    // MARK: - contact-status

    /// One entry of the journal's `contact-status` (R1) against its citizen's case:
    /// rejected (no case, a `caseId` of another case, a case that cannot take it now), or
    /// the case's new snapshot with its decisions.
    enum EntryDecision {
        case rejected(Receipt.RejectedEntry)
        case decided(UnitOfWork.CaseWork, Pipeline.ListSummary)
    }

    // swiftlint:disable:next function_parameter_count
    func contactStatus(
        _ entry: ContactStatusEntry, index: Int, decoded: DecodedMessage, pseudonym: Pseudonym, snapshot: CaseSnapshot,
        source: MessageSource, at now: Date
    ) throws -> EntryDecision {
        let today = Pipeline.civilDate(of: now)
        let caseID = Pipeline.caseID(pseudonym)
        func reject(_ code: RejectionCode, pointer: String = "/entries/\(index)", _ reason: String) -> EntryDecision {
            .rejected(.init(index: index, code: code.rawValue, pointer: pointer, reason: reason))
        }
        guard var record = snapshot.record, var citizenCase = snapshot.state else {
            return reject(.unknownCase, "No case for this citizen: contact statuses answer citizens on a municipal list.")
        }
        if let quoted = entry.caseId, quoted != caseID {
            return reject(
                .unknownCase, pointer: "/entries/\(index)/caseId", "`/entries/\(index)/caseId` does not name a case of this citizen.")
        }
        let facts = Pipeline.facts(entry)
        let result = citizenCase.apply(
            .contactStatus(facts),
            context: CaseContext(
                ref: InboundRef(sender: Pipeline.senderKey(decoded.sender), messageID: decoded.messageID, entry: index),
                at: now, on: today),
            configuration: options.workflow)
        if case .rejected(let why) = result.outcome {
            return reject(.outOfOrder, "The case cannot take a contact status now: \(why.description)")
        }
        record.clinic = Pipeline.clinicInCharge(citizenCase) ?? record.clinic
        record.updatedAt = now
        var work = try UnitOfWork.CaseWork(caseID: caseID, at: now, record: record, state: citizenCase)
        work.history.append(CaseHistoryEntry(
            caseID: caseID, at: now, kind: .input, messageID: "\(Pipeline.sourceKey(decoded))#\(index)",
            payload: try StoreBinary.encodeUncompressed(facts), explanation: nil))
        work.audit.append(AuditRecord(
            at: now, actor: Pipeline.senderKey(decoded.sender), action: .received, pseudonym: pseudonym,
            messageType: decoded.type.rawValue, messageID: decoded.messageID,
            purpose: AuditPurpose.received(decoded.type, from: decoded.sender).recorded))
        // Contact facts are no input row `InputSummary` keeps: the stored inputs are all.
        let data = Self.caseData(
            inputs: snapshot.inputs ?? InputSummary(), municipality: record.municipality, clinic: record.clinic,
            citizenCase: citizenCase, on: today)
        var summary = Pipeline.ListSummary()
        try events(result.events, timers: result.timers, caseID: caseID, cpr: entry.cpr, pseudonym: pseudonym,
                   data: data, source: source, at: now, into: &work, summary: &summary)
        return .decided(work, summary)
    }

    // MARK: - a fired timer

    /// A due timer against its case: `.orphan` (no case, an unknown kind, a case whose
    /// citizen key is no CPR: only marked fired), `.stale` (the case no longer expects it:
    /// marked fired and noted in the history) or `.fired` with the case's decisions.
    func timer(_ timer: TimerRecord, snapshot: CaseSnapshot, at now: Date) throws -> (UnitOfWork, TimerRunner.Outcome) {
        let today = Pipeline.civilDate(of: now)
        var unit = UnitOfWork()
        unit.firedTimer = (timer.timerID, now)
        guard let caseID = timer.caseID, var record = snapshot.record, var citizenCase = snapshot.state,
            let kind = TimerKind(rawValue: timer.kind)
        else { return (unit, .orphan) }
        // A case whose citizen key is no CPR cannot be written to: mark the timer fired
        // and change nothing else.
        guard let cpr = CPR(citizenCase.citizen.rawValue) else { return (unit, .orphan) }
        let result = citizenCase.apply(
            .timerFired(kind),
            context: CaseContext(ref: InboundRef(sender: nil, messageID: timer.timerID), at: now, on: today, dueAt: timer.dueAt),
            configuration: options.workflow)
        if case .rejected(let why) = result.outcome {
            var work = UnitOfWork.CaseWork(caseID: caseID, at: now, record: nil)
            work.history.append(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .input, messageID: timer.timerID,
                payload: try StoreBinary.encodeUncompressed(["timer": kind.rawValue, "stale": why.description]), explanation: nil))
            unit.cases = [work]
            return (unit, .stale)
        }
        record.updatedAt = now
        var work = try UnitOfWork.CaseWork(caseID: caseID, at: now, record: record, state: citizenCase)
        work.history.append(CaseHistoryEntry(
            caseID: caseID, at: now, kind: .input, messageID: timer.timerID,
            payload: try StoreBinary.encodeUncompressed(["timer": kind.rawValue]), explanation: nil))
        work.audit.append(AuditRecord(
            at: now, actor: "ddrouter", action: "timer-fired", pseudonym: record.pseudonym, messageType: "timer",
            messageID: timer.timerID, purpose: AuditPurpose.timer(kind).recorded))
        let data = Self.caseData(
            inputs: snapshot.inputs ?? InputSummary(), municipality: record.municipality, clinic: record.clinic,
            citizenCase: citizenCase, on: today)
        let source = data.source ?? MessageSource(
            messageId: caseID, messageType: "timer", sender: SenderRef(kind: .municipality, id: record.municipality))
        try events(result.events, timers: result.timers, caseID: caseID, cpr: cpr, pseudonym: record.pseudonym,
                   data: data, source: source, at: now, into: &work, summary: &unit.summary)
        unit.cases = [work]
        return (unit, .fired)
    }
}
