import Contract
import Foundation
import Store
import Workflow

/// List messages: `municipal-list` (R1, R2, R4) in slices that commit one by one,
/// `contact-status` (R1) entry by entry in one transaction per message, `clinic-list`
/// compared with the municipal list (R3).
extension Pipeline {
    // MARK: - municipal-list

    /// How many entries of a municipal list are decided and committed together: the cases,
    /// pseudonyms and workflow outcomes of one slice are released before the next slice is
    /// loaded, so memory stays bounded by the slice, not by the list (docs/performance.md,
    /// "Memory"), and another sender's message waits at most about one slice.
    static let listSliceSize = 500

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

    /// What one committed slice of a municipal list contributes to the list's receipt,
    /// stored with the slice (`list_slices`) so that the receipt, written when the last slice
    /// has committed, answers the whole list also when earlier slices were committed by an
    /// earlier delivery of the message.
    struct SliceResult: Codable, Equatable {
        var rejected: [Receipt.RejectedEntry]
        var held: [Int]
        /// Positions answered as a foreign municipality's citizen (R4), for a later repeat.
        var foreign: [Int]
    }

    /// The slices of a list's last delivery do not cover the list: a slice is missing (or the
    /// slice size changed between deliveries). Nothing of the receipt is written.
    struct ListSliceGap: Error, CustomStringConvertible {
        var description: String { "the committed slices of the list do not cover its entries" }
    }

    /// A municipal list, slice by slice (`sliceSize` accepted entries each), each slice
    /// decided and committed in its own group-commit write with a `list_slices` row saying it
    /// is done, so that:
    /// - a redelivery (after a crash, a requeue, a lost connection) resumes after the last
    ///   committed slice: no entry is decided twice, no event is queued twice;
    /// - the deliveries of other senders taken meanwhile (`run`) are written between the
    ///   slices: a big list does not hold up another municipality's one-entry list;
    /// - memory stays bounded by the slice.
    /// The receipt (one, for the whole list), the R3 comparison and the removal of the slice
    /// rows are written together after the last slice.
    func process(
        list: Contract.MunicipalList, asOf: LocalDate, decoded: DecodedMessage, at now: Date,
        sliceSize: Int = Pipeline.listSliceSize
    ) async -> Settlement {
        let sender = decoded.sender
        let senderKey = Self.senderKey(sender)
        let today = Self.civilDate(of: now)
        let count = decoded.acceptedEntryIndices.count
        let slices = stride(from: 0, to: count, by: max(1, sliceSize)).map { $0..<min(count, $0 + max(1, sliceSize)) }
        let source = MessageSource(
            messageId: decoded.messageID, messageType: decoded.type.rawValue,
            sender: SenderRef(kind: sender.kind, id: sender.id))

        // The workflow's view of the list: only keys and consent per entry, so the whole
        // list can be passed for every slice. A big list's entries stay in its body
        // (`DecodedMessage.deferredEntries`) and are decoded a slice at a time, here and
        // again in each slice, so only one slice of typed entries is in memory at once.
        var keys: [Workflow.MunicipalList.Entry] = []
        keys.reserveCapacity(count)
        do {
            for slice in slices {
                // `municipalEntries` gives one entry per position of the slice, or throws.
                for entry in try decoded.municipalEntries(slice) {
                    keys.append(Workflow.MunicipalList.Entry(
                        citizen: CitizenKey(entry.cpr.digits), consent: Self.consent(entry.consent),
                        consentDirections: entry.consent.directions.map(Self.directions)))
                }
            }
        } catch {
            return await settlement(of: .failure(error), decoded)
        }
        // R2: a list 2 without `clinic` shares its courses with the municipality's
        // serving clinic, when the directory names exactly one.
        let serving = options.servingClinics(list.municipality)
        let listClinic = list.clinic ?? (list.listKind == .list2 && serving.count == 1 ? serving.first : nil)
        let workflowList = Workflow.MunicipalList(
            sender: senderKey, messageID: decoded.messageID, municipality: MunicipalityCode(list.municipality),
            clinic: listClinic.map { ClinicID($0) }, list: list.listKind == .list1 ? .list1 : .list2, asOf: asOf,
            entries: keys)
        let sentEntries = decoded.acceptedEntryIndices.count + decoded.rejectedEntries.count

        if list.listKind == .list2, listClinic == nil {
            // No clinic to share with: every entry is answered so, none reaches a case.
            let why = serving.isEmpty
                ? "The list names no clinic and the router's directory names no clinic serving municipality \(list.municipality): name the clinic in `/clinic`."
                : "The list names no clinic and \(serving.count) clinics serve municipality \(list.municipality) in the router's directory: name the clinic in `/clinic`."
            return await commit(decoded) { tx -> ListSummary in
                var rejected = decoded.rejectedEntries.map(Receipt.RejectedEntry.init)
                for index in decoded.acceptedEntryIndices {
                    rejected.append(.init(
                        index: index, code: RejectionCode.ambiguousClinic.rawValue, pointer: "/entries/\(index)", reason: why))
                }
                try answer(decoded, rejected: rejected, sentEntries: sentEntries, in: tx, at: now)
                var summary = ListSummary()
                summary.accepted = sentEntries - rejected.count
                summary.rejected = rejected.count
                return summary
            }
        }

        let repeats = Self.repeatedCitizens(workflowList)
        let messageID = decoded.messageID

        /// Decides the slice on a read snapshot, ahead of the writer (`Store.read` on the
        /// pipeline's decide thread): `nil` when an earlier delivery committed it, when the
        /// list repeats a citizen (a repeat answers as an earlier slice did, which only the
        /// writer's transaction knows), or when the read or the decision failed (the writer
        /// then decides it itself and meets the failure there).
        /// A decision it returns holds one of `permits` until its write is done (`release`).
        func prepare(_ slice: Range<Int>) -> Task<SliceDecision?, Never> {
            Task {
                guard repeats.isEmpty else { return nil }
                await permits.acquire()
                let decision = try? await decideThread.run { [self] () -> SliceDecision? in
                    // The cases are read in one short read transaction and decided after it: a
                    // reader held open while deciding would keep SQLite from restarting the WAL.
                    let pseudonyms = try pseudonyms(slice, of: workflowList)
                    let cases = try store.read { reader -> SliceCases? in
                        if try reader.hasListSlice(sender: senderKey, messageID: messageID, start: slice.lowerBound) {
                            return nil
                        }
                        return try self.cases(slice, of: workflowList, repeats: repeats, pseudonyms: pseudonyms, reading: reader)
                    }
                    guard let cases else { return nil }
                    return try decide(
                        slice: slice, entries: try decoded.municipalEntries(slice), of: list, workflowList,
                        repeats: repeats, decoded: decoded, source: source, today: today, cases: cases, at: now,
                        run: ListRun(rejected: []))
                }
                guard let decision = decision ?? nil else {
                    permits.release()
                    return nil
                }
                await afterDecidingAhead(messageID)
                return decision
            }
        }

        /// Decides and records the slice, unless an earlier delivery of the message did:
        /// `prepared`, when none of the cases it read changed since, else decided anew here.
        func write(_ slice: Range<Int>, prepared: SliceDecision?, in tx: StoreTransaction) throws -> ListSummary {
            if try tx.hasListSlice(sender: senderKey, messageID: messageID, start: slice.lowerBound) { return ListSummary() }
            var run = ListRun(rejected: [])
            if !repeats.isEmpty {
                // A repeat answers as its earlier entry did, which may be in an earlier slice.
                for (_, data) in try tx.listSlices(sender: senderKey, messageID: messageID) {
                    run.foreign.formUnion(try StoreBinary.decode(SliceResult.self, from: data).foreign)
                }
            }
            let decision: SliceDecision
            if let prepared, try holds(prepared.read, in: tx) {
                decision = prepared
            } else {
                let cases = try cases(
                    slice, of: workflowList, repeats: repeats, pseudonyms: try pseudonyms(slice, of: workflowList), reading: tx)
                decision = try decide(
                    slice: slice, entries: try decoded.municipalEntries(slice), of: list, workflowList, repeats: repeats,
                    decoded: decoded, source: source, today: today, cases: cases, at: now, run: run)
            }
            try decision.unit.apply(in: tx, remembering: stateCache)
            run = decision.run
            run.summary.merge(decision.unit.summary)
            let result = SliceResult(rejected: run.rejected, held: run.held, foreign: run.foreign.filter(slice.contains).sorted())
            try tx.recordListSlice(
                sender: senderKey, messageID: messageID, start: slice.lowerBound, end: slice.upperBound,
                result: try StoreBinary.encode(result), at: now)
            return run.summary
        }

        /// After the last slice: the receipt for the whole list from the recorded slices, the
        /// R3 comparison, and the slices forgotten.
        func finish(in tx: StoreTransaction, decided: ListSummary) throws -> ListSummary {
            var rejected = decoded.rejectedEntries.map(Receipt.RejectedEntry.init)
            var held: [Int] = []
            var covered = 0
            for (range, data) in try tx.listSlices(sender: senderKey, messageID: messageID) {
                guard range.lowerBound == covered else { throw ListSliceGap() }
                covered = range.upperBound
                let result = try StoreBinary.decode(SliceResult.self, from: data)
                rejected += result.rejected
                held += result.held
            }
            guard covered == count else { throw ListSliceGap() }
            var summary = decided
            // R3: a new municipal list refreshes the reports of every pair it belongs to.
            try reconcile(municipalList: list, clinic: listClinic, decoded: decoded, in: tx, at: now, summary: &summary)
            try answer(decoded, rejected: rejected, sentEntries: sentEntries, held: held, in: tx, at: now)
            try tx.deleteListSlices(sender: senderKey, messageID: messageID)
            summary.accepted = sentEntries - rejected.count
            summary.rejected = rejected.count
            return summary
        }

        // Several slices: their writes come one after another, and the sender's next message
        // must not land between them (`run`).
        if slices.count > 1 { Self.handoff?.willWriteInTurns() }
        // What this delivery decided (a resumed list: only its own slices), for the log.
        var decided = ListSummary()
        // The next slice is decided on a read snapshot while the writer writes this one.
        var next = slices.first.map(prepare)
        for (number, slice) in slices.enumerated() {
            busy.progress()
            let last = number == slices.count - 1
            let prepared = await next?.value
            next = last ? nil : prepare(slices[number + 1])
            let result = await self.write(decoded) { tx -> ListSummary in
                // A copy of this message answered meanwhile: its receipt, nothing decided again.
                if let stored = try tx.receipt(forSender: senderKey, messageID: messageID) {
                    throw DuplicateInbound(receipt: stored)
                }
                let summary = try write(slice, prepared: prepared, in: tx)
                return last ? try finish(in: tx, decided: decided.merged(summary)) : summary
            }
            if prepared != nil { permits.release() }
            guard case .success(let summary) = result, !last else {
                // The slice decided ahead is not written; its read ends before the delivery settles.
                if await next?.value != nil { permits.release() }
                return await settlement(of: result, decoded)
            }
            decided.merge(summary)
        }
        // An empty list (every entry rejected by the decoder): its receipt only.
        return await commit(decoded) { tx in try finish(in: tx, decided: decided) }
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

    /// What deciding one slice of a municipal list produced: the unit to write, what the
    /// slice adds to the list's receipt, and the revision of every case it read.
    struct SliceDecision: Sendable {
        var unit: UnitOfWork
        var run: ListRun
        var read: [CaseRead]
    }

    /// The cases of a slice's citizens, keyed by CPR inside the workflow (outbound bodies
    /// need it) and by pseudonym in the store, and the revision of each case read.
    struct SliceCases: Sendable {
        var pseudonyms: [CitizenKey: Pseudonym] = [:]
        /// The citizens who have a case (a repeat's case is its earlier entry's: not read).
        var snapshots: [CitizenKey: CaseSnapshot] = [:]
        var read: [CaseRead] = []
    }

    /// The pseudonyms of the citizens at `slice` (HMACs: computed before the read).
    func pseudonyms(_ slice: Range<Int>, of workflowList: Workflow.MunicipalList) throws -> [CitizenKey: Pseudonym] {
        var pseudonyms: [CitizenKey: Pseudonym] = [:]
        for position in slice {
            let citizen = workflowList.entries[position].citizen
            if pseudonyms[citizen] == nil {
                pseudonyms[citizen] = try options.pseudonymizer.pseudonym(forCPR: citizen.rawValue)
            }
        }
        return pseudonyms
    }

    /// Reads the cases of the citizens at `slice` from `reader` (the writer's transaction,
    /// or a read snapshot taken ahead of it: `prepare`).
    func cases(
        _ slice: Range<Int>, of workflowList: Workflow.MunicipalList, repeats: [Int: Int],
        pseudonyms: [CitizenKey: Pseudonym], reading reader: some CaseReading
    ) throws -> SliceCases {
        var cases = SliceCases(pseudonyms: pseudonyms)
        cases.read.reserveCapacity(slice.count)
        var seen: Set<CitizenKey> = []
        for position in slice {
            let citizen = workflowList.entries[position].citizen
            // A repeat's case was changed by its earlier entry: only the first entry reads it.
            guard seen.insert(citizen).inserted, repeats[position] == nil, let pseudonym = pseudonyms[citizen] else { continue }
            let caseID = Self.caseID(pseudonym)
            let snapshot = try CaseSnapshot.load(caseID, in: reader, cache: stateCache)
            cases.read.append(CaseRead(caseID: caseID, revision: snapshot.record?.revision ?? 0))
            if snapshot.record != nil { cases.snapshots[citizen] = snapshot }
        }
        return cases
    }

    /// Decides the entries at `slice` (positions in the accepted entries; `entries` are those
    /// entries) against their cases (`Decide.slice`). `run` holds what earlier slices
    /// answered (repeats).
    // swiftlint:disable:next function_parameter_count
    func decide(
        slice: Range<Int>, entries: [MunicipalListEntry], of list: Contract.MunicipalList,
        _ workflowList: Workflow.MunicipalList, repeats: [Int: Int],
        decoded: DecodedMessage, source: MessageSource, today: LocalDate, cases: SliceCases, at now: Date,
        run: ListRun
    ) throws -> SliceDecision {
        var run = run
        let unit = try decide.slice(
            slice, entries: entries, of: list, workflowList, repeats: repeats, decoded: decoded, source: source,
            today: today, pseudonyms: cases.pseudonyms, snapshots: cases.snapshots, at: now, run: &run)
        return SliceDecision(unit: unit, run: run, read: cases.read)
    }

    /// Whether an event is the workflow's notice that an entry is held for consent (R4),
    /// which the receipt carries (`heldEntries`) instead of a message of its own.
    static func isHeldNotice(_ event: OutboundEvent) -> Bool {
        if case .heldForConsent = event.payload { return true }
        return false
    }

    /// Stores the ok receipt of a list message (`Decide.listAnswer`).
    func answer(
        _ decoded: DecodedMessage, rejected: [Receipt.RejectedEntry], sentEntries: Int, held: [Int] = [],
        in tx: StoreTransaction, at now: Date
    ) throws {
        try decide.listAnswer(decoded, rejected: rejected, sentEntries: sentEntries, held: held, at: now).apply(in: tx)
    }

    // MARK: - contact-status

    /// What deciding a contact-status message produced: a unit per step of entries, the
    /// entries rejected, and the revision of every case it read.
    struct StatusDecision: Sendable {
        var units: [UnitOfWork]
        var rejected: [Receipt.RejectedEntry]
        var read: [CaseRead]
    }

    /// A journal's contact statuses (R1): each entry updates the case of a listed citizen,
    /// which may now route it (assessment request, Central Visitation). An entry for a
    /// citizen without a case is rejected (`unknown-case`): statuses answer list entries.
    /// The entries come from `decoded` (`contactStatusEntries`), `progressEvery` at a time.
    /// A message of at most one step is decided ahead of the writer on a read snapshot
    /// (`decideThread`); the writer writes that decision when no case it read has changed
    /// since, and decides the message itself otherwise (and for a longer message, whose
    /// steps it decides and writes one at a time so that memory stays bounded by a step).
    func process(
        contactStatus decoded: DecodedMessage, at now: Date, progressEvery: Int = Pipeline.listSliceSize
    ) async -> Settlement {
        let source = MessageSource(
            messageId: decoded.messageID, messageType: decoded.type.rawValue,
            sender: SenderRef(kind: decoded.sender.kind, id: decoded.sender.id))
        let prepared: StatusDecision?
        let ahead = decoded.acceptedEntryIndices.count <= max(1, progressEvery)
        if ahead {
            await permits.acquire()
            prepared = try? await decideThread.run { [self] in
                // The cases are read in one short read transaction and decided after it: a
                // reader held open while deciding would keep SQLite from restarting the WAL.
                let count = decoded.acceptedEntryIndices.count
                var pseudonyms: [String: Pseudonym] = [:]
                for entry in try decoded.contactStatusEntries(0..<count) where pseudonyms[entry.cpr.digits] == nil {
                    pseudonyms[entry.cpr.digits] = try options.pseudonymizer.pseudonym(forCPR: entry.cpr.digits)
                }
                var read: [CaseRead] = []
                let snapshots = try store.read { reader in
                    var snapshots: [String: CaseSnapshot] = [:]
                    for (cpr, pseudonym) in pseudonyms {
                        let caseID = Self.caseID(pseudonym)
                        let snapshot = try CaseSnapshot.load(caseID, in: reader, cache: stateCache)
                        read.append(CaseRead(caseID: caseID, revision: snapshot.record?.revision ?? 0))
                        snapshots[cpr] = snapshot
                    }
                    return snapshots
                }
                var decision = StatusDecision(units: [], rejected: [], read: read)
                try decide(contactStatus: decoded, source: source, at: now, progressEvery: progressEvery, cases: { cpr in
                    guard let pseudonym = pseudonyms[cpr], let snapshot = snapshots[cpr] else { throw CaseNotRead() }
                    return (pseudonym, snapshot)
                }, step: { decision.units.append($0) }, rejected: { decision.rejected = $0 })
                return decision
            }
            if prepared != nil { await afterDecidingAhead(decoded.messageID) }
        } else {
            prepared = nil
        }
        // The decision's permit is returned once its write is done (or failed).
        defer { if ahead { permits.release() } }
        return await commit(decoded) { tx -> ListSummary in
            let sentEntries = decoded.acceptedEntryIndices.count + decoded.rejectedEntries.count
            var summary = ListSummary()
            var rejected: [Receipt.RejectedEntry]
            if let prepared, try holds(prepared.read, in: tx) {
                for unit in prepared.units {
                    try unit.apply(in: tx, remembering: stateCache)
                    summary.merge(unit.summary)
                }
                rejected = prepared.rejected
            } else {
                rejected = []
                try decide(contactStatus: decoded, source: source, at: now, progressEvery: progressEvery, cases: { cpr in
                    let pseudonym = try options.pseudonymizer.pseudonym(forCPR: cpr)
                    return (pseudonym, try CaseSnapshot.load(Self.caseID(pseudonym), in: tx, cache: stateCache))
                }, step: { unit in
                    try unit.apply(in: tx, remembering: stateCache)
                    summary.merge(unit.summary)
                }, rejected: { rejected = $0 })
            }
            try answer(decoded, rejected: rejected, sentEntries: sentEntries, in: tx, at: now)
            summary.accepted = sentEntries - rejected.count
            summary.rejected = rejected.count
            return summary
        }
    }

    /// A contact-status entry's case was not among those read ahead (a bug: they are read
    /// for every entry's CPR); the writer then decides the message itself.
    struct CaseNotRead: Error {}

    /// Decides a contact-status message's entries, a step of `progressEvery` entries at a
    /// time, against their cases as `cases` gives them (by CPR: the pseudonym and the
    /// snapshot): `step` gets each step's unit (to write it, or keep it), then `rejected` the
    /// entries rejected (the decoder's and the repeats and refusals found here).
    // swiftlint:disable:next function_parameter_count
    func decide(
        contactStatus decoded: DecodedMessage, source: MessageSource, at now: Date, progressEvery: Int,
        cases: (_ cpr: String) throws -> (Pseudonym, CaseSnapshot), step: (UnitOfWork) throws -> Void,
        rejected report: ([Receipt.RejectedEntry]) -> Void
    ) throws {
        var rejected = decoded.rejectedEntries.map(Receipt.RejectedEntry.init)
        var seen: Set<String> = []
        // A big message's entries stay in its body and are decoded a slice at a time
        // (`DecodedMessage.deferredEntries`).
        let count = decoded.acceptedEntryIndices.count
        let stride = max(1, progressEvery)
        for start in Swift.stride(from: 0, to: count, by: stride) {
            // One step: load its cases, decide each entry, hand over what was decided.
            var unit = UnitOfWork()
            for (offset, entry) in try decoded.contactStatusEntries(start..<min(count, start + stride)).enumerated() {
                let position = start + offset
                listProgress(at: position, every: progressEvery)
                let index = decoded.acceptedEntryIndices[position]
                guard seen.insert(entry.cpr.digits).inserted else {
                    rejected.append(Self.repeatedEntry(index))
                    continue
                }
                let (pseudonym, snapshot) = try cases(entry.cpr.digits)
                switch try decide.contactStatus(
                    entry, index: index, decoded: decoded, pseudonym: pseudonym, snapshot: snapshot, source: source, at: now)
                {
                case .rejected(let entry):
                    rejected.append(entry)
                case .decided(let work, let decided):
                    unit.cases.append(work)
                    unit.summary.merge(decided)
                }
            }
            try step(unit)
        }
        report(rejected)
    }

    /// The answer to an entry naming a citizen an earlier entry of the same message named
    /// (contact-status, clinic-list: the decoder passes such repeats for these types).
    static func repeatedEntry(_ index: Int) -> Receipt.RejectedEntry {
        .init(index: index, code: RejectionCode.duplicateEntry.rawValue, pointer: "/entries/\(index)",
              reason: "The citizen is already an earlier entry of this message.")
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
            var received = UnitOfWork()
            for (position, entry) in list.entries.enumerated() {
                listProgress(at: position, every: progressEvery)
                let index = decoded.acceptedEntryIndices[position]
                guard seen.insert(entry.cpr.digits).inserted else {
                    rejected.append(Self.repeatedEntry(index))
                    continue
                }
                let pseudonym = try options.pseudonymizer.pseudonym(forCPR: entry.cpr.digits)
                received.audit.append(AuditRecord(
                    at: now, actor: senderKey, action: .received, pseudonym: pseudonym,
                    messageType: decoded.type.rawValue, messageID: decoded.messageID, purpose: AuditPurpose.received(decoded.type, from: decoded.sender).recorded))
            }
            try received.apply(in: tx)
            try reconcile(list, decoded: decoded, accepted: seen, in: tx, at: now, summary: &summary)
            try answer(decoded, rejected: rejected, sentEntries: sentEntries, in: tx, at: now)
            summary.accepted = sentEntries - rejected.count
            summary.rejected = rejected.count
            return summary
        }
    }
}
