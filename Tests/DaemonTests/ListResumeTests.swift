@testable import Daemon
import Foundation
import Store
import Synchronization
import Testing

#if DEBUG
/// A municipal list commits slice by slice (issue 15): a delivery that fails in the middle
/// keeps the slices it committed, and the redelivery decides only the rest. Together they
/// give exactly what one delivery without the fault gives: no entry decided twice, no event
/// or audit entry twice, one receipt for the whole list.
@Suite("a municipal list resumes after its last committed slice")
struct ListResumeTests {
    /// Fails the `failing`th write (1-based) of message `l-851`, once.
    final class FailOnce: Sendable {
        let failing: Int
        let calls = Atomic<Int>(0)
        init(failing: Int) { self.failing = failing }
        struct Injected: Error {}
        func check(_ id: String) throws {
            guard id == "l-851" else { return }
            if calls.add(1, ordering: .relaxed).newValue == failing { throw Injected() }
        }
    }

    static let citizens: [Int?] = [1, 2, 3, 4, nil, 5, 6, 7, 8, 9, 10, 11, 12, 13, nil, 14, 15, 16, 17, 18]

    /// The workload of `ListSliceTests.run` (813's cases for 4 and 7, then 851's list) in
    /// slices of 4, with the fault of `fault` (if any) on 851's list, then the list again.
    static func run(failingWrite: Int?) async throws -> (ListSliceTests.Outcome, slicesBeforeRedelivery: Int, casesBefore: Int) {
        let fault = failingWrite.map(FailOnce.init)
        let rig = try ListSliceTests.Rig(configure: { options in
            if let fault { options.faultInjection = { try fault.check($0) } }
        })
        defer { rig.close() }
        let sender = Pipeline.senderKey(.municipality("851"))
        try await rig.process(try ListSliceTests.body(municipality: "813", citizens: [4, 7]), municipality: "813",
                              id: "l-813", sliceSize: 4)
        let body = try ListSliceTests.body(municipality: "851", citizens: citizens)
        var slicesBefore = 0
        var casesBefore = 0
        if fault != nil {
            try await rig.process(body, municipality: "851", id: "l-851", sliceSize: 4, expecting: Pipeline.Settlement.requeue)
            #expect(try rig.store.receipt(forSender: sender, messageID: "l-851") == nil, "no receipt before the last slice")
            slicesBefore = try rig.store.write { try $0.listSlices(sender: sender, messageID: "l-851").count }
            casesBefore = try rig.store.allCases().count
        }
        try await rig.process(body, municipality: "851", id: "l-851", sliceSize: 4)
        #expect(try rig.store.write { try $0.listSlices(sender: sender, messageID: "l-851") }.isEmpty,
                "the slice rows go with the receipt")
        try await rig.processStatus(try ListSliceTests.statusBody(citizens: [1, 2, 99, 4, 5, 6, 10]), id: "s-1", every: 4,
                                    decoder: ListSliceTests.decoder)
        return (try ListSliceTests.outcome(of: rig), slicesBefore, casesBefore)
    }

    @Test("the fourth of five slices fails: three stay committed, the redelivery decides the other two; same rows as without the fault")
    func resumesAfterCommittedSlices() async throws {
        let (whole, _, _) = try await Self.run(failingWrite: nil)
        #expect(whole.cases.count == 18)
        // 18 accepted entries in slices of 4: five writes; the fourth fails.
        let (resumed, slicesBefore, casesBefore) = try await Self.run(failingWrite: 4)
        #expect(slicesBefore == 3)
        // The first three slices (positions 0..<12: citizens 1-12 less the two rejected
        // entries and 813's two) opened their cases; the 813 list opened 2.
        #expect(casesBefore > 2 && casesBefore < 18, "\(casesBefore) cases after the failed delivery")
        #expect(resumed.receipt == whole.receipt)
        #expect(resumed.statusReceipt == whole.statusReceipt)
        #expect(resumed.cases == whole.cases)
        #expect(resumed.history == whole.history)
        #expect(resumed.outbox == whole.outbox)
        #expect(resumed.audit == whole.audit)
    }

    @Test("the last slice fails (it also writes the receipt and the R3 comparison): the redelivery writes only those and the last slice")
    func lastSliceFails() async throws {
        let (whole, _, _) = try await Self.run(failingWrite: nil)
        let (resumed, slicesBefore, _) = try await Self.run(failingWrite: 5)
        #expect(slicesBefore == 4)
        #expect(resumed.receipt == whole.receipt)
        #expect(resumed.outbox == whole.outbox)
        #expect(resumed.audit == whole.audit)
        #expect(resumed.history == whole.history)
    }
}
#endif
