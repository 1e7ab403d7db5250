import Contract
import Foundation
import Store
import Workflow

/// List messages: `municipal-list` (R1, R2, R4) and `contact-status` (R1) entry by entry in
/// one transaction per message, `clinic-list` compared with the municipal list (R3).
extension Pipeline {
    // MARK: - municipal-list

    /// How many entries of a municipal list are decided and written together: the cases,
    /// pseudonyms and workflow outcomes of one slice are released before the next slice is
    /// loaded, so memory stays bounded by the slice, not by the list (docs/performance.md,
    /// "Memory"). All slices still go into the message's one store transaction.
    static let listSliceSize = 1_000

    /// Tells the watchdog that a long list message is moving: called every `every` entries
    /// (a slice), so `busyFor` measures one slice, not the whole message. Without it a list
    /// of 26,800 citizens (one transaction of an estimated 10-30 s on the bench machine, quiet
    /// to busy; docs/performance.md, section 3) could look like a hung pipeline, and systemd
    /// would restart the daemon in the middle of it, again on every redelivery
    /// (docs/operations.md, "WatchdogSec").
    func listProgress(at position: Int, every: Int) {
        if position > 0, position % max(1, every) == 0 { busy.progress() }
    }

    /// What the slices of one municipal list build up for its receipt and log.
    struct ListRun {
        var rejected: [Receipt.RejectedEntry]
        var held: [Int] = []
        var summary = ListSummary()
        /// Positions (in the accepted entries) answered as a foreign municipality's citizen (R4).
        var foreign: Set<Int> = []
    }

    func process(
        list: Contract.MunicipalList, asOf: LocalDate, decoded: DecodedMessage, at now: Date,
        sliceSize: Int = Pipeline.listSliceSize
    ) async -> Settlement {
        let sender = decoded.sender
        let today = Self.civilDate(of: now)
        let count = decoded.acceptedEntryIndices.count
        let slices = stride(from: 0, to: count, by: max(1, sliceSize)).map { $0..<min(count, $0 + max(1, sliceSize)) }
        let source = MessageSource(
            messageId: decoded.messageID, messageType: decoded.type.rawValue,
            sender: SenderRef(kind: sender.kind, id: sender.id))

        return await commit(decoded) { tx -> ListSummary in
            // The workflow's view of the list: only keys and consent per entry, so the whole
            // list can be passed for every slice. A big list's entries stay in its body
            // (`DecodedMessage.deferredEntries`) and are decoded a slice at a time, here and
            // again below, so only one slice of typed entries is in memory at once.
            var keys: [Workflow.MunicipalList.Entry] = []
            keys.reserveCapacity(count)
            for slice in slices {
                // `municipalEntries` gives one entry per position of the slice, or throws.
                for entry in try decoded.municipalEntries(slice) {
                    keys.append(Workflow.MunicipalList.Entry(
                        citizen: CitizenKey(entry.cpr.digits), consent: Self.consent(entry.consent),
                        consentDirections: entry.consent.directions.map(Self.directions)))
                }
            }
            // R2: a list 2 without `clinic` shares its courses with the municipality's
            // serving clinic, when the directory names exactly one.
            let serving = options.servingClinics(list.municipality)
            let listClinic = list.clinic ?? (list.listKind == .list2 && serving.count == 1 ? serving.first : nil)
            let workflowList = Workflow.MunicipalList(
                sender: Self.senderKey(sender), messageID: decoded.messageID, municipality: MunicipalityCode(list.municipality),
                clinic: listClinic.map { ClinicID($0) }, list: list.listKind == .list1 ? .list1 : .list2, asOf: asOf,
                entries: keys)
            var run = ListRun(rejected: decoded.rejectedEntries.map(Receipt.RejectedEntry.init))
            if list.listKind == .list2, listClinic == nil {
                // No clinic to share with: every entry is answered so, none reaches a case.
                let why = serving.isEmpty
                    ? "The list names no clinic and the router's directory names no clinic serving municipality \(list.municipality): name the clinic in `/clinic`."
                    : "The list names no clinic and \(serving.count) clinics serve municipality \(list.municipality) in the router's directory: name the clinic in `/clinic`."
                for index in decoded.acceptedEntryIndices {
                    run.rejected.append(.init(
                        index: index, code: RejectionCode.ambiguousClinic.rawValue, pointer: "/entries/\(index)", reason: why))
                }
            } else {
                let repeats = Self.repeatedCitizens(workflowList)
                for slice in slices {
                    busy.progress()
                    try process(
                        slice: slice, entries: try decoded.municipalEntries(slice), of: list, workflowList, repeats: repeats,
                        decoded: decoded, source: source, today: today, in: tx, at: now, run: &run)
                }
                // R3: a new municipal list refreshes the reports of every pair it belongs to.
                try reconcile(municipalList: list, clinic: listClinic, decoded: decoded, in: tx, at: now, summary: &run.summary)
            }
            let sentEntries = decoded.acceptedEntryIndices.count + decoded.rejectedEntries.count
            try answer(decoded, rejected: run.rejected, sentEntries: sentEntries, held: run.held, in: tx, at: now)
            run.summary.accepted = sentEntries - run.rejected.count
            run.summary.rejected = run.rejected.count
            return run.summary
        }
    }

    /// Entries naming a citizen an earlier entry of the same list names: position → the
    /// earlier position. Empty for what the decoder passes (it rejects such repeats); kept so
    /// the slices answer a repeat as `ListProcessing` does over the whole list.
    static func repeatedCitizens(_ list: Workflow.MunicipalList) -> [Int: Int] {
        var first: [CitizenKey: Int] = [:]
        var repeats: [Int: Int] = [:]
        for (position, entry) in list.entries.enumerated() {
            if let earlier = first[entry.citizen] { repeats[position] = earlier } else { first[entry.citizen] = position }
        }
        return repeats
    }

    /// Decides and writes the entries at `slice` (positions in the accepted entries; `entries`
    /// are those entries) in `tx`: loads only their cases, applies the workflow to them (entry
    /// references stay `<sender>/messageID#position`) and writes each case, its history, audit,
    /// consent, list membership and events.
    // swiftlint:disable:next function_body_length function_parameter_count
    func process(
        slice: Range<Int>, entries: [MunicipalListEntry], of list: Contract.MunicipalList,
        _ workflowList: Workflow.MunicipalList, repeats: [Int: Int],
        decoded: DecodedMessage, source: MessageSource, today: LocalDate, in tx: StoreTransaction, at now: Date,
        run: inout ListRun
    ) throws {
        let sender = decoded.sender
        let senderKey = Self.senderKey(sender)
        // Cases of the slice's citizens, keyed by CPR inside the workflow (outbound bodies
        // need it) and by pseudonym in the store.
        var cases: [CitizenKey: CitizenCase] = [:]
        var pseudonyms: [CitizenKey: Pseudonym] = [:]
        var knownClinics: [CitizenKey: String] = [:]
        var stored: Set<CitizenKey> = []  // citizens with a case before this message
        for position in slice {
            let citizen = workflowList.entries[position].citizen
            guard pseudonyms[citizen] == nil else { continue }
            let pseudonym = try options.pseudonymizer.pseudonym(forCPR: citizen.rawValue)
            pseudonyms[citizen] = pseudonym
            // A repeat's case was changed by its earlier entry: only the first entry reads it.
            if repeats[position] == nil, let record = try tx.case(id: Self.caseID(pseudonym)) {
                cases[citizen] = try record.decodeState(as: CitizenCase.self)
                knownClinics[citizen] = record.clinic
                stored.insert(citizen)
            }
        }
        // The workflow sees the slice only; other positions are skipped (no outcome, no change).
        var skipping = Set<Int>(minimumCapacity: workflowList.entries.count - slice.count)
        for position in 0..<slice.lowerBound { skipping.insert(position) }
        for position in slice.upperBound..<workflowList.entries.count { skipping.insert(position) }
        for position in slice {
            let citizen = workflowList.entries[position].citizen
            let index = decoded.acceptedEntryIndices[position]
            if let earlier = repeats[position] {
                // As `ListProcessing` answers a repeat, or as R4 below if the first was foreign.
                skipping.insert(position)
                guard run.foreign.contains(earlier) else {
                    run.rejected.append(.init(
                        index: index, code: RejectionCode.duplicateEntry.rawValue, pointer: "/entries/\(index)",
                        reason: "the citizen is already entry \(earlier) of this list"))
                    continue
                }
            } else {
                // R4: an entry for a citizen whose open case belongs to another municipality
                // changes nothing (no consent, no listing, no takeover of the case) and is
                // answered like an entry about a citizen this municipality has no case for.
                guard let owner = cases[citizen]?.owningMunicipality, owner != workflowList.municipality else {
                    continue
                }
            }
            run.foreign.insert(position)
            skipping.insert(position)
            run.rejected.append(.init(
                index: index, code: RejectionCode.unknownCase.rawValue, pointer: "/entries/\(index)",
                reason: "The citizen has no case with municipality \(list.municipality) that this entry may change."))
            _ = try tx.appendAudit(AuditRecord(
                at: now, actor: senderKey, action: .rejected, pseudonym: pseudonyms[citizen],
                messageType: decoded.type.rawValue, messageID: decoded.messageID,
                purpose: AuditPurpose.answerSender.recorded))
        }
        let outcomes = ListProcessing.apply(
            workflowList, at: now, on: today, cases: &cases, configuration: options.workflow, skipping: skipping)

        for outcome in outcomes {
            // Positions count the accepted entries only; receipts use the sent index.
            let originalIndex = decoded.acceptedEntryIndices[outcome.index]
            let entry = entries[outcome.index - slice.lowerBound]
            guard let pseudonym = pseudonyms[outcome.citizen] else { continue }
            switch outcome.result {
            case .rejected(let reason):
                // Repeats are answered above (`repeats`): what reaches here is the case
                // refusing the entry in its state, not a duplicate.
                run.rejected.append(.init(
                    index: originalIndex, code: RejectionCode.outOfOrder.rawValue,
                    pointer: "/entries/\(originalIndex)", reason: "The case cannot take this entry now: \(reason)"))
                continue
            case .accepted:
                break
            }
            guard let citizenCase = cases[outcome.citizen] else { continue }
            if outcome.events.contains(where: Self.isHeldNotice) { run.held.append(originalIndex) }
            let caseID = Self.caseID(pseudonym)
            // A list to all clinics keeps the clinic an earlier message named.
            let clinic = Self.clinicInCharge(citizenCase) ?? list.clinic ?? knownClinics[outcome.citizen]
            _ = try tx.upsertCase(CaseRecord(
                caseID: caseID, pseudonym: pseudonym, workflow: citizenCase.workflowB != nil ? "B" : "A",
                municipality: list.municipality, clinic: clinic, status: citizenCase.stateName, state: citizenCase,
                updatedAt: now))
            let listed = ListedInput(
                type: decoded.type.rawValue, list: list.listKind.rawValue, municipality: list.municipality,
                asOf: list.asOf, municipalInformation: entry.municipalInformation, source: source)
            _ = try tx.appendHistory(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .input, messageID: "\(Self.sourceKey(decoded))#\(originalIndex)",
                payload: try StoreJSON.encode(listed), explanation: nil))
            // A case this message opened has this listing as its only input: no need to read
            // the history back.
            let data = try caseData(
                in: tx, caseID: caseID, municipality: list.municipality, clinic: clinic, citizenCase: citizenCase,
                on: today, onlyInput: stored.contains(outcome.citizen) ? nil : listed)
            _ = try tx.appendAudit(AuditRecord(
                at: now, actor: senderKey, action: .received, pseudonym: pseudonym,
                messageType: decoded.type.rawValue, messageID: decoded.messageID,
                purpose: AuditPurpose.received(decoded.type, from: sender, listTwo: list.listKind == .list2).recorded))
            try recordConsent(entry.consent, pseudonym: pseudonym, messageID: Self.sourceKey(decoded), in: tx, at: now)
            try tx.recordListMember(ListMember(
                side: .municipality, municipality: list.municipality, clinic: list.clinic ?? "",
                listKind: list.listKind.rawValue, pseudonym: pseudonym, asOf: list.asOf.description,
                messageID: decoded.messageID))
            try record(events: outcome.events, timers: outcome.timers, in: tx, caseID: caseID, cpr: entry.cpr,
                       pseudonym: pseudonym, data: data, source: source, at: now, summary: &run.summary)
        }
    }

    /// Whether an event is the workflow's notice that an entry is held for consent (R4),
    /// which the receipt carries (`heldEntries`) instead of a message of its own.
    static func isHeldNotice(_ event: OutboundEvent) -> Bool {
        if case .heldForConsent = event.payload { return true }
        return false
    }

    /// Stores the ok receipt of a list message (accepted count, rejected entries by sent
    /// index, held entries by sent index).
    func answer(
        _ decoded: DecodedMessage, rejected: [Receipt.RejectedEntry], sentEntries: Int, held: [Int] = [],
        in tx: StoreTransaction, at now: Date
    ) throws {
        let sender = decoded.sender
        let receipt = Receipt(
            receiptFor: .init(
                messageId: decoded.messageID, messageType: decoded.type.rawValue,
                sender: SenderRef(kind: sender.kind, id: sender.id)),
            status: .ok, receivedAt: Contract.Timestamp(now),
            acceptedEntries: sentEntries - rejected.count, rejectedEntries: rejected.sorted { $0.index < $1.index },
            heldEntries: held.isEmpty ? nil : held.sorted())
        try answer(decoded, receipt: receipt, in: tx, at: now)
    }

    // MARK: - contact-status

    /// A journal's contact statuses (R1): each entry updates the case of a listed citizen,
    /// which may now route it (assessment request, Central Visitation). An entry for a
    /// citizen without a case is rejected (`unknown-case`): statuses answer list entries.
    /// The entries come from `decoded` (`contactStatusEntries`), `progressEvery` at a time.
    func process(
        contactStatus decoded: DecodedMessage, at now: Date, progressEvery: Int = Pipeline.listSliceSize
    ) async -> Settlement {
        let today = Self.civilDate(of: now)
        let source = MessageSource(
            messageId: decoded.messageID, messageType: decoded.type.rawValue,
            sender: SenderRef(kind: decoded.sender.kind, id: decoded.sender.id))
        return await commit(decoded) { tx -> ListSummary in
            var rejected = decoded.rejectedEntries.map(Receipt.RejectedEntry.init)
            let sentEntries = decoded.acceptedEntryIndices.count + decoded.rejectedEntries.count
            var summary = ListSummary()
            var seen: Set<String> = []
            // A big message's entries stay in its body and are decoded a slice at a time
            // (`DecodedMessage.deferredEntries`).
            let count = decoded.acceptedEntryIndices.count
            let step = max(1, progressEvery)
            for start in stride(from: 0, to: count, by: step) {
                for (offset, entry) in try decoded.contactStatusEntries(start..<min(count, start + step)).enumerated() {
                    let position = start + offset
                    listProgress(at: position, every: progressEvery)
                    let index = decoded.acceptedEntryIndices[position]
                    func reject(_ code: RejectionCode, _ reason: String) {
                        rejected.append(.init(index: index, code: code.rawValue, pointer: "/entries/\(index)", reason: reason))
                    }
                    guard seen.insert(entry.cpr.digits).inserted else {
                        reject(.duplicateEntry, "The citizen is already an earlier entry of this message.")
                        continue
                    }
                    let pseudonym = try options.pseudonymizer.pseudonym(forCPR: entry.cpr.digits)
                    let caseID = Self.caseID(pseudonym)
                    guard var record = try tx.case(id: caseID) else {
                        reject(.unknownCase, "No case for this citizen: contact statuses answer citizens on a municipal list.")
                        continue
                    }
                    if let quoted = entry.caseId, quoted != caseID {
                        rejected.append(.init(
                            index: index, code: RejectionCode.unknownCase.rawValue, pointer: "/entries/\(index)/caseId",
                            reason: "`/entries/\(index)/caseId` does not name a case of this citizen."))
                        continue
                    }
                    var citizenCase = try record.decodeState(as: CitizenCase.self)
                    let facts = Self.facts(entry)
                    let result = citizenCase.apply(
                        .contactStatus(facts),
                        context: CaseContext(ref: InboundRef(sender: Self.senderKey(decoded.sender), messageID: decoded.messageID, entry: index), at: now, on: today),
                        configuration: options.workflow)
                    if case .rejected(let why) = result.outcome {
                        reject(.outOfOrder, "The case cannot take a contact status now: \(why.description)")
                        continue
                    }
                    record.state = try StoreJSON.encode(citizenCase)
                    record.status = citizenCase.stateName
                    record.clinic = Self.clinicInCharge(citizenCase) ?? record.clinic
                    record.updatedAt = now
                    _ = try tx.upsertCase(record)
                    _ = try tx.appendHistory(CaseHistoryEntry(
                        caseID: caseID, at: now, kind: .input, messageID: "\(Self.sourceKey(decoded))#\(index)",
                        payload: try StoreJSON.encode(facts), explanation: nil))
                    _ = try tx.appendAudit(AuditRecord(
                        at: now, actor: Self.senderKey(decoded.sender), action: .received, pseudonym: pseudonym,
                        messageType: decoded.type.rawValue, messageID: decoded.messageID,
                        purpose: AuditPurpose.received(decoded.type, from: decoded.sender).recorded))
                    let data = try caseData(
                        in: tx, caseID: caseID, municipality: record.municipality, clinic: record.clinic,
                        citizenCase: citizenCase, on: today)
                    try self.record(events: result.events, timers: result.timers, in: tx, caseID: caseID, cpr: entry.cpr,
                               pseudonym: pseudonym, data: data, source: source, at: now, summary: &summary)
                }
            }
            try answer(decoded, rejected: rejected, sentEntries: sentEntries, in: tx, at: now)
            summary.accepted = sentEntries - rejected.count
            summary.rejected = rejected.count
            return summary
        }
    }

    static func facts(_ entry: ContactStatusEntry) -> ContactFacts {
        guard entry.known else { return .none }
        func day(_ date: CalendarDate) -> LocalDate? { LocalDate(iso: date.description) }
        return ContactFacts(
            currentCourses: entry.currentCourse.flatMap { course in
                day(course.since).map { [Workflow.CurrentCourse(clinic: ClinicID(course.clinic), since: $0)] }
            } ?? [],
            closedCourses: (entry.closedCourses ?? []).compactMap { course in
                day(course.closedOn).map { Workflow.ClosedCourse(clinic: ClinicID(course.clinic), closedOn: $0) }
            },
            acuteContacts: (entry.acuteContacts ?? []).compactMap { contact in
                day(contact.date).map {
                    // The workflow knows two kinds; a full admission counts as an admission.
                    Workflow.AcuteContact(
                        date: $0, kind: contact.kind == .emergencyRoom ? .emergencyRoom : .shortStabilisingAdmission,
                        followedByOutpatientCourse: contact.outpatientFollowUp,
                        motivationFailedOrTreatmentRejected: contact.motivationFailed || contact.treatmentRejectedShortlyAfter)
                }
            })
    }


    // MARK: - clinic-list

    /// A clinic's own list (R3): it starts no case. Each entry is accepted and recorded in
    /// the audit trail; the comparison with the municipal list of the same pair is sent to
    /// both sides as `reconciliation-report`s (see `reconcile`).
    func process(
        clinicList list: Contract.ClinicList, decoded: DecodedMessage, at now: Date,
        progressEvery: Int = Pipeline.listSliceSize
    ) async -> Settlement {
        let senderKey = Self.senderKey(decoded.sender)
        return await commit(decoded) { tx -> ListSummary in
            var summary = ListSummary()
            let sentEntries = decoded.acceptedEntryIndices.count + decoded.rejectedEntries.count
            var rejected = decoded.rejectedEntries.map(Receipt.RejectedEntry.init)
            var seen: Set<String> = []
            for (position, entry) in list.entries.enumerated() {
                listProgress(at: position, every: progressEvery)
                let index = decoded.acceptedEntryIndices[position]
                guard seen.insert(entry.cpr.digits).inserted else {
                    rejected.append(.init(
                        index: index, code: RejectionCode.duplicateEntry.rawValue, pointer: "/entries/\(index)",
                        reason: "The citizen is already an earlier entry of this message."))
                    continue
                }
                let pseudonym = try options.pseudonymizer.pseudonym(forCPR: entry.cpr.digits)
                _ = try tx.appendAudit(AuditRecord(
                    at: now, actor: senderKey, action: .received, pseudonym: pseudonym,
                    messageType: decoded.type.rawValue, messageID: decoded.messageID, purpose: AuditPurpose.received(decoded.type, from: decoded.sender).recorded))
            }
            try reconcile(list, decoded: decoded, accepted: seen, in: tx, at: now, summary: &summary)
            try answer(decoded, rejected: rejected, sentEntries: sentEntries, in: tx, at: now)
            summary.accepted = sentEntries - rejected.count
            summary.rejected = rejected.count
            return summary
        }
    }
}
