import Contract
import Foundation
import Store
import Workflow

/// Everything one step of a delivery changes in the store, as a value: what `Decide`
/// returns and what `UnitOfWork.apply(in:)`, the only writer of the pipeline, the lists and
/// the timer runner, writes. A delivery is one unit (a single-citizen message, a list's
/// receipt), or several in one transaction (a list: one unit per slice of citizens, one for
/// the comparison of lists, one for the receipt); a fired timer is one unit.
///
/// The writer keeps the order the store relies on: the audit chain in the order the units
/// list its entries (delivery entries first, then each case's), outbox rows in decision
/// order with the receipt last, so the relay publishes a delivery's events before its
/// receipt.
struct UnitOfWork {
    /// A timer this unit fires (marked fired first; a timer fired meanwhile undoes the unit).
    var firedTimer: (id: String, at: Date)?
    /// Audit entries of the delivery itself, not of a case (a rejected entry, a clinic
    /// list's entries, a refused message).
    var audit: [AuditRecord] = []
    /// Per case: its new snapshot and everything that goes with it, in decision order.
    var cases: [CaseWork] = []
    /// List membership (R3) of entries that have no case write of their own (a clinic list).
    var listMembers: [ListMember] = []
    /// Outbound messages that belong to no case (reconciliation reports), each with its
    /// `queued` audit entry.
    var outbox: [(row: OutboxEvent, audit: AuditRecord)] = []
    /// The answer to the sender: its inbox entry and receipt (written last).
    var answer: (inbox: InboxEntry?, receipt: OutboxEvent)?
    /// What the unit did, for the log and the metrics (not written).
    var summary = Pipeline.ListSummary()

    /// A unit that only answers the sender.
    init(answer: (inbox: InboxEntry?, receipt: OutboxEvent)? = nil) { self.answer = answer }

    /// Appends `other` after this unit's writes (its answer replaces this one's, if any).
    mutating func append(_ other: UnitOfWork) {
        if let fired = other.firedTimer { firedTimer = fired }
        audit += other.audit
        cases += other.cases
        listMembers += other.listMembers
        outbox += other.outbox
        if let answer = other.answer { self.answer = answer }
        summary.merge(other.summary)
    }

    /// What one unit writes about one case.
    struct CaseWork {
        var caseID: String
        /// When it was decided (timers scheduled are created then).
        var at: Date
        /// The case's new snapshot; `nil` writes its history only (a stale timer).
        var record: CaseRecord?
        /// The state `record.state` encodes (for `CaseStateCache`; not written). Set with
        /// `record` by `init(caseID:at:record:state:)`, so the two cannot disagree.
        var state: CitizenCase?
        /// The input, then each decision, in order.
        var history: [CaseHistoryEntry] = []
        /// `received`/`timer-fired`, then `queued`/`held` per event, in order.
        var audit: [AuditRecord] = []
        var outbox: [OutboxEvent] = []
        var consent: [ConsentStatement] = []
        var listMember: ListMember?
        var timers: [TimerAction] = []
    }

    /// Writes the unit in `tx`. Throws `Pipeline.DuplicateInbound` when the sender's
    /// message_id was answered meanwhile and `TimerAlreadyFired` when the timer was.
    /// `cache` learns each written case's state by its new bytes (`CaseStateCache`).
    func apply(in tx: StoreTransaction, remembering cache: CaseStateCache? = nil) throws {
        if let fired = firedTimer {
            guard try tx.markFired(timerID: fired.id, at: fired.at) else { throw TimerAlreadyFired() }
        }
        for record in audit { _ = try tx.appendAudit(record) }
        for work in cases {
            try Self.write(work, in: tx)
            if let cache, let record = work.record, let state = work.state {
                cache.remember(caseID: record.caseID, blob: record.state, state: state)
            }
        }
        for member in listMembers { try tx.recordListMember(member) }
        for (row, record) in outbox {
            _ = try tx.enqueue(row)
            _ = try tx.appendAudit(record)
        }
        if let (inbox, receipt) = answer {
            if let inbox, case .duplicate(let stored) = try tx.recordInbox(inbox) {
                throw Pipeline.DuplicateInbound(receipt: stored)
            }
            _ = try tx.enqueue(receipt)
        }
    }

    struct TimerAlreadyFired: Error {}

    private static func write(_ work: CaseWork, in tx: StoreTransaction) throws {
        if let record = work.record { _ = try tx.upsertCase(record) }
        try tx.appendHistory(work.history)
        for record in work.audit { _ = try tx.appendAudit(record) }
        for row in work.outbox { _ = try tx.enqueue(row) }
        for statement in work.consent { _ = try tx.recordConsent(statement) }
        if let member = work.listMember { try tx.recordListMember(member) }
        for timer in work.timers {
            switch timer {
            case .schedule(let kind, let day):
                // One pending timer per kind and case: a new schedule replaces the old one.
                let id = Pipeline.timerID(work.caseID, kind, day)
                try tx.cancelTimers(caseID: work.caseID, kind: kind.rawValue, except: id)
                // No payload: the timer's kind (its own column, and in its id) is all the runner
                // needs; the `{"kind":…}` written before said it again, ~30 bytes a timer.
                _ = try tx.schedule(TimerRecord(
                    timerID: id, caseID: work.caseID, kind: kind.rawValue,
                    dueAt: Pipeline.startOfDay(day) ?? work.at, payload: Data(), createdAt: work.at))
            case .cancel(let kind):
                try tx.cancelTimers(caseID: work.caseID, kind: kind.rawValue)
            }
        }
    }
}

extension UnitOfWork.CaseWork {
    /// A case written with `state` as its new snapshot: `record`'s stored bytes and status
    /// are taken from `state` here, in one place, so the bytes `CaseStateCache` remembers
    /// for a case are always the encoding of the state it hands out for them.
    init(caseID: String, at: Date, record: CaseRecord, state: CitizenCase) throws {
        var record = record
        record.state = try StoreBinary.encode(state)
        record.status = state.stateName
        self.init(caseID: caseID, at: at, record: record)
        self.state = state
    }
}

/// What `Decide` reads about a case before it decides, loaded in the delivery's transaction
/// (`CaseSnapshot.load`): the stored record and state, and what later outbound messages need
/// from its input history.
struct CaseSnapshot {
    var record: CaseRecord?
    var state: CitizenCase?
    /// From the case's input history; `nil` for a case without one (or not read: a case this
    /// delivery opens has only its own input).
    var inputs: InputSummary?

    /// `cache` answers for a state it knows by the stored bytes, and learns the ones it did not.
    static func load(
        _ caseID: String, in tx: some CaseReading, inputs readInputs: Bool = true, cache: CaseStateCache? = nil
    ) throws -> CaseSnapshot {
        guard let record = try tx.case(id: caseID) else { return CaseSnapshot() }
        let state: CitizenCase
        if let known = cache?.state(caseID: caseID, blob: record.state) {
            state = known
        } else {
            state = try record.decodeState(as: CitizenCase.self)
            cache?.remember(caseID: caseID, blob: record.state, state: state)
        }
        let inputs = readInputs ? InputSummary(payloads: try tx.caseInputPayloads(id: caseID)) : nil
        return CaseSnapshot(record: record, state: state, inputs: inputs)
    }
}

/// A case a decision read, at the revision it read (0: there was no such case). A
/// decision made ahead of the writer, on a read snapshot, is written only if every case it
/// read is still at that revision in the writer's transaction (`Pipeline.holds`): every
/// write that changes what `CaseSnapshot.load` reads (the record, its state, an input
/// history row of a kind `InputSummary` takes in) raises the case's revision; the one
/// write that does not (a stale timer's history row) adds only a row `InputSummary` skips.
struct CaseRead: Sendable, Equatable {
    var caseID: String
    var revision: Int64
}

extension Pipeline.ListSummary {
    func merged(_ other: Pipeline.ListSummary) -> Pipeline.ListSummary {
        var summary = self
        summary.merge(other)
        return summary
    }

    mutating func merge(_ other: Pipeline.ListSummary) {
        accepted += other.accepted
        rejected += other.rejected
        refusal = other.refusal ?? refusal
        events += other.events
        held += other.held
        unmapped += other.unmapped
        cases += other.cases
    }
}
