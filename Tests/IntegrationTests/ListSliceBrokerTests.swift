import AMQP
@testable import Daemon
import Foundation
import Store
import Testing

/// A big list commits slice by slice (issue 15), so other senders are not held up by it,
/// while its own sender's messages keep their order.
extension ClientTests {
    @Test("pipeline: a 400-entry list in slices of 50; another municipality's list sent after it is answered before it, the same municipality's next list after it")
    func bigListLetsOthersThrough() async throws {
        let h = try await SliceRig.harness("slices")
        let run = UUID().uuidString.prefix(8)
        let big = try FaultHarness.list((0..<400).map { ScaleWorkload.cpr(42_000 + $0) })
        #expect(big.count > 16 * 1024, "the list is a big delivery")
        let ids = (big: "big-\(run)", other: "other-\(run)", next: "next-\(run)")
        try await h.send(big, type: "municipal-list", id: ids.big)
        try await h.send(try FaultHarness.list([ScaleWorkload.cpr(42_500)], municipality: "810"), type: "municipal-list",
                         id: ids.other, exchange: "dd.in.municipality.810")
        try await h.send(try FaultHarness.list([ScaleWorkload.cpr(42_501)]), type: "municipal-list", id: ids.next)

        let seqs = try await SliceRig.receiptSeqs(h, [("851", ids.big), ("810", ids.other), ("851", ids.next)])
        let seq = (big: seqs[0], other: seqs[1], next: seqs[2])
        #expect(seq.other < seq.big, "810's list waited for the whole big list (receipt seq \(seq.other) > \(seq.big))")
        #expect(seq.next > seq.big, "851's next list was answered before its big one")
        try SliceRig.expectOK(h, ids.big, accepted: 400)
        #expect(try h.store.write { try $0.listSlices(sender: "municipality.851", messageID: ids.big) }.isEmpty)
        #expect(h.pipeline.committedTransactions >= 8, "\(h.pipeline.committedTransactions) transactions")
        #expect(try await h.collect(h.names.deadLetterQueue, quiet: .milliseconds(200)) { _ in true }.isEmpty,
                "nothing dead-lettered")
        await h.finish()
    }

    @Test("pipeline: two big lists of one municipality in a row; another municipality's list sent after both is answered before the first is done")
    func secondBigListDoesNotBlockOthers() async throws {
        let h = try await SliceRig.harness("slices2")
        let run = UUID().uuidString.prefix(8)
        let first = try FaultHarness.list((0..<400).map { ScaleWorkload.cpr(43_000 + $0) })
        let second = try FaultHarness.list((0..<400).map { ScaleWorkload.cpr(43_400 + $0) })
        #expect(first.count > 16 * 1024 && second.count > 16 * 1024, "both are big deliveries")
        let ids = (first: "first-\(run)", second: "second-\(run)", other: "other-\(run)")
        try await h.send(first, type: "municipal-list", id: ids.first)
        try await h.send(second, type: "municipal-list", id: ids.second)
        try await h.send(try FaultHarness.list([ScaleWorkload.cpr(43_900)], municipality: "810"), type: "municipal-list",
                         id: ids.other, exchange: "dd.in.municipality.810")

        let seqs = try await SliceRig.receiptSeqs(h, [("851", ids.first), ("851", ids.second), ("810", ids.other)])
        let seq = (first: seqs[0], second: seqs[1], other: seqs[2])
        // Before: the loop waited at the second big list (same sender, one big at a time) and
        // took nothing behind it, so 810 was answered only after the whole first list.
        #expect(seq.other < seq.first, "810's list waited behind 851's second big list (receipt seq \(seq.other) > \(seq.first))")
        #expect(seq.first < seq.second, "851's lists were answered out of order")
        for id in [ids.first, ids.second] { try SliceRig.expectOK(h, id, accepted: 400) }
        #expect(try await h.collect(h.names.deadLetterQueue, quiet: .milliseconds(200)) { _ in true }.isEmpty,
                "nothing dead-lettered")
        await h.finish()
    }
}

/// What the slice tests share: a pipeline whose lists over 16 KiB are big deliveries, in
/// slices of 50, and the outbox order of the receipts they wait for.
enum SliceRig {
    static func harness(_ name: String) async throws -> FaultHarness {
        let user = Broker.user
        return try await FaultHarness(name, prefetch: 20) { options in
            options.groupCommitMaxBytes = 16 * 1024
            options.listSliceSize = 50
            options.userForSender = { _ in user }
        }
    }

    /// The audit sequence of each (municipality, message id)'s receipt's `sent` entry, once
    /// all are sent (within 120 s; a missing one fails the test). Receipts go out in the
    /// order they were committed (receipts first, each round in enqueue order), and the
    /// outbox row itself is deleted once the broker has confirmed it.
    static func receiptSeqs(_ h: FaultHarness, _ messages: [(municipality: String, id: String)]) async throws -> [Int64] {
        func seqs() throws -> [Int64?] {
            let sent = try h.store.auditEntries(afterSeq: 0, limit: 1_000_000).filter { $0.action == .sent && $0.messageType == "receipt" }
            return messages.map { m in
                sent.first { $0.messageID == "receipt/municipality.\(m.municipality)/\(m.id)" }?.seq
            }
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline, try seqs().contains(nil) {
            try await Task.sleep(for: .milliseconds(100))
        }
        return try zip(messages, seqs()).map { m, seq in try #require(seq, "no receipt sent for \(m.id) of \(m.municipality)") }
    }

    /// 851's receipt for `id` is `ok` with `accepted` entries.
    static func expectOK(_ h: FaultHarness, _ id: String, accepted: Int) throws {
        let receipt = try #require(try h.store.receipt(forSender: "municipality.851", messageID: id))
        let json = try #require(try JSONSerialization.jsonObject(with: receipt) as? [String: Any])
        #expect(json["status"] as? String == "ok")
        #expect(json["acceptedEntries"] as? Int == accepted)
    }
}
