import Contract
@testable import Daemon
import Foundation
import Store
import Synchronization
import Testing

/// List slices and contact-status messages are decided on a read snapshot ahead of the
/// writer (`Pipeline.decideThread`); the writer writes such a decision only while every case
/// it read is at the revision it read, and decides again otherwise. What is stored must be
/// what deciding in the writer's transaction gives, also when a case changed in between.
@Suite("decisions made ahead of the writer")
struct DecideAheadTests {
    typealias Rig = ListSliceTests.Rig

    /// The test's action for the pipeline's `afterDecidingAhead` hook: run once, at the
    /// `call`-th decision made ahead for `messageID`.
    final class Interleave: Sendable {
        private struct State {
            var calls = 0
            var action: (@Sendable () async -> Void)?
        }
        private let state = Mutex(State())
        let messageID: String
        let call: Int

        init(messageID: String, call: Int = 1) {
            self.messageID = messageID
            self.call = call
        }

        func set(_ action: @escaping @Sendable () async -> Void) { state.withLock { $0.action = action } }

        func hook(_ messageID: String) async {
            guard messageID == self.messageID else { return }
            let action = state.withLock { s -> (@Sendable () async -> Void)? in
                s.calls += 1
                guard s.calls == call else { return nil }
                defer { s.action = nil }
                return s.action
            }
            await action?()
        }
    }

    /// What the store holds, comparable between stores written in another order: history
    /// without its row ids, the outbox and audit sorted.
    struct Stored: Equatable {
        var receipts: [Data?]
        var cases: [CaseRecord]
        var history: [[String]]
        var outbox: [[String]]
        var audit: [String]
    }

    static func stored(_ rig: Rig, receipts: [(Sender, String)]) throws -> Stored {
        let outcome = try ListSliceTests.outcome(of: rig)
        return Stored(
            receipts: try receipts.map { try rig.store.receipt(forSender: Pipeline.senderKey($0.0), messageID: $0.1) },
            cases: outcome.cases,
            history: outcome.history.map { entries in
                entries.map { "\($0.caseID) \($0.kind) \($0.messageID ?? "-") \($0.payload.base64EncodedString()) \($0.explanation?.base64EncodedString() ?? "-")" }
            },
            outbox: outcome.outbox.sorted { $0.joined(separator: " ") < $1.joined(separator: " ") },
            audit: outcome.audit)
    }

    static let journal = Sender.journal("journal-rn")
    static let aalborg = Sender.municipality("851")

    @Test("a contact-status whose citizen's case another message changed after it was decided ahead is decided again")
    func staleStatuses() async throws {
        let list = try ListSliceTests.body(municipality: "851", citizens: [1, 2, 3])
        let first = try ListSliceTests.statusBody(citizens: [1])
        let second = try ListSliceTests.statusBody(citizens: [2, 1])

        // The second message is decided ahead; before the writer gets it, the first one
        // (about citizen 1, whom the second also names) is processed and committed.
        let interleave = Interleave(messageID: "s-2")
        let raced = try Rig(configure: { $0.afterDecidingAhead = { await interleave.hook($0) } })
        defer { raced.close() }
        interleave.set { try? await raced.processStatus(first, id: "s-1", every: 500, decoder: ListSliceTests.decoder) }
        try await raced.process(list, municipality: "851", id: "l-1", sliceSize: 500)
        try await raced.processStatus(second, id: "s-2", every: 500, decoder: ListSliceTests.decoder)
        #expect(raced.pipeline.aheadRedone.load(ordering: .relaxed) == 1)

        // The same messages one after another, each decided ahead and written as decided.
        let inTurn = try Rig()
        defer { inTurn.close() }
        try await inTurn.process(list, municipality: "851", id: "l-1", sliceSize: 500)
        try await inTurn.processStatus(first, id: "s-1", every: 500, decoder: ListSliceTests.decoder)
        try await inTurn.processStatus(second, id: "s-2", every: 500, decoder: ListSliceTests.decoder)
        #expect(inTurn.pipeline.aheadRedone.load(ordering: .relaxed) == 0)
        #expect(inTurn.pipeline.aheadWritten.load(ordering: .relaxed) == 3)

        let receipts = [(Self.aalborg, "l-1"), (Self.journal, "s-1"), (Self.journal, "s-2")]
        let racedStore = try Self.stored(raced, receipts: receipts)
        #expect(racedStore == (try Self.stored(inTurn, receipts: receipts)))
        #expect(racedStore.receipts.allSatisfy { $0 != nil })
    }

    @Test("a list slice whose citizen's case changed while the slice before it was written is decided again")
    func staleSlice() async throws {
        let earlier = try ListSliceTests.body(municipality: "851", citizens: [2])
        let list = try ListSliceTests.body(municipality: "851", citizens: [1, 2, 3])
        let status = try ListSliceTests.statusBody(citizens: [2])

        // Slices of one entry: the second slice (citizen 2) is decided ahead while the first
        // is written; before the writer gets it, a contact status changes citizen 2's case.
        let interleave = Interleave(messageID: "l-2", call: 2)
        let raced = try Rig(configure: { $0.afterDecidingAhead = { await interleave.hook($0) } })
        defer { raced.close() }
        interleave.set { try? await raced.processStatus(status, id: "s-1", every: 500, decoder: ListSliceTests.decoder) }
        try await raced.process(earlier, municipality: "851", id: "l-1", sliceSize: 1)
        try await raced.process(list, municipality: "851", id: "l-2", sliceSize: 1)
        #expect(raced.pipeline.aheadRedone.load(ordering: .relaxed) == 1)

        // The status before the list: the list's slices then read the changed case.
        let inTurn = try Rig()
        defer { inTurn.close() }
        try await inTurn.process(earlier, municipality: "851", id: "l-1", sliceSize: 1)
        try await inTurn.processStatus(status, id: "s-1", every: 500, decoder: ListSliceTests.decoder)
        try await inTurn.process(list, municipality: "851", id: "l-2", sliceSize: 1)
        #expect(inTurn.pipeline.aheadRedone.load(ordering: .relaxed) == 0)

        let receipts = [(Self.aalborg, "l-1"), (Self.aalborg, "l-2"), (Self.journal, "s-1")]
        let racedStore = try Self.stored(raced, receipts: receipts)
        #expect(racedStore == (try Self.stored(inTurn, receipts: receipts)))
        #expect(racedStore.receipts.allSatisfy { $0 != nil })
    }

    @Test("every permit of a decision made ahead comes back: written, redone, or its write failed")
    func permitsReturn() async throws {
        struct Injected: Error {}
        let rig = try Rig(configure: { $0.faultInjection = { id in if id == "l-fails" { throw Injected() } } })
        defer { rig.close() }
        let list = try ListSliceTests.body(municipality: "851", citizens: [1, 2, 3, 4, 5])
        try await rig.process(list, municipality: "851", id: "l-ok", sliceSize: 2)
        try await rig.processStatus(try ListSliceTests.statusBody(citizens: [1, 2]), id: "s-1", every: 500,
                                    decoder: ListSliceTests.decoder)
        #expect(rig.pipeline.permits.available == 2)
        // The first slice's write fails while the second is decided ahead: both permits back.
        let other = try ListSliceTests.body(municipality: "851", citizens: [6, 7, 8, 9])
        try await rig.process(other, municipality: "851", id: "l-fails", sliceSize: 2, expecting: .requeue)
        #expect(rig.pipeline.permits.available == 2)
        #expect(rig.pipeline.aheadWritten.load(ordering: .relaxed) == 4)
    }

    @Test("permits: at most the count are out; a returned one goes to the longest waiter")
    func permits() async {
        let permits = DecisionPermits(2)
        await permits.acquire()
        await permits.acquire()
        #expect(permits.available == 0)
        final class Order: Sendable { let list = Mutex<[Int]>([]) }
        let order = Order()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await permits.acquire()
                order.list.withLock { $0.append(1) }
            }
            // The first waiter is queued before the permits come back.
            while permits.waiting < 1 { await Task.yield() }
            group.addTask {
                await permits.acquire()
                order.list.withLock { $0.append(2) }
            }
            while permits.waiting < 2 { await Task.yield() }
            #expect(order.list.withLock { $0 }.isEmpty)
            permits.release()
            while order.list.withLock({ $0.count }) < 1 { await Task.yield() }
            #expect(order.list.withLock { $0 } == [1])
            permits.release()
        }
        #expect(order.list.withLock { $0 } == [1, 2])
        #expect(permits.available == 0)
        permits.release()
        permits.release()
        #expect(permits.available == 2)
    }

    @Test("a decision read on a snapshot holds until a case it read is written, and not after")
    func revisions() throws {
        let rig = try Rig()
        defer { rig.close() }
        let caseID = "case-under-test"
        let record = CaseRecord(
            caseID: caseID, pseudonym: try rig.pipeline.options.pseudonymizer.pseudonym(forCPR: "0101304001"),
            workflow: "A", municipality: "851", clinic: nil, status: "new", state: Data([1]), updatedAt: ListSliceTests.now)
        let before = try rig.store.read { reader in try reader.case(id: caseID)?.revision ?? 0 }
        #expect(before == 0)
        let read = [CaseRead(caseID: caseID, revision: before)]
        #expect(try rig.store.write { tx in try rig.pipeline.holds(read, in: tx) })
        try rig.store.write { tx in _ = try tx.upsertCase(record) }
        #expect(try !rig.store.write { tx in try rig.pipeline.holds(read, in: tx) })
        let now = try rig.store.read { reader in try reader.case(id: caseID)?.revision ?? 0 }
        #expect(now == 1)
        #expect(try rig.store.write { tx in try rig.pipeline.holds([CaseRead(caseID: caseID, revision: now)], in: tx) })
    }
}
