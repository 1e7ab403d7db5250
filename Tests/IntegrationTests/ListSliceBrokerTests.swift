import AMQP
@testable import Daemon
import Foundation
import Testing

/// A big list commits slice by slice (issue 15), so other senders are not held up by it,
/// while its own sender's messages keep their order.
extension ClientTests {
    @Test("pipeline: a 400-entry list in slices of 50; another municipality's list sent after it is answered before it, the same municipality's next list after it")
    func bigListLetsOthersThrough() async throws {
        let user = Broker.user
        let h = try await FaultHarness("slices", prefetch: 20) { options in
            options.groupCommitMaxBytes = 16 * 1024
            options.listSliceSize = 50
            options.userForSender = { _ in user }
        }
        let run = UUID().uuidString.prefix(8)
        let big = try FaultHarness.list((0..<400).map { ScaleWorkload.cpr(42_000 + $0) })
        #expect(big.count > 16 * 1024, "the list is a big delivery")
        let ids = (big: "big-\(run)", other: "other-\(run)", next: "next-\(run)")
        try await h.send(big, type: "municipal-list", id: ids.big)
        try await h.send(try FaultHarness.list([ScaleWorkload.cpr(42_500)], municipality: "810"), type: "municipal-list",
                         id: ids.other, exchange: "dd.in.municipality.810")
        try await h.send(try FaultHarness.list([ScaleWorkload.cpr(42_501)]), type: "municipal-list", id: ids.next)

        func receiptSeq(_ sender: String, _ id: String) throws -> Int64? {
            try h.store.outboxEvent(messageID: "receipt/municipality.\(sender)/\(id)")?.sequence
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if try receiptSeq("851", ids.big) != nil, try receiptSeq("810", ids.other) != nil,
               try receiptSeq("851", ids.next) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let seq = (big: try #require(try receiptSeq("851", ids.big)), other: try #require(try receiptSeq("810", ids.other)),
                   next: try #require(try receiptSeq("851", ids.next)))
        #expect(seq.other < seq.big, "810's list waited for the whole big list (receipt seq \(seq.other) > \(seq.big))")
        #expect(seq.next > seq.big, "851's next list was answered before its big one")
        let receipt = try #require(try h.store.receipt(forSender: "municipality.851", messageID: ids.big))
        let json = try #require(try JSONSerialization.jsonObject(with: receipt) as? [String: Any])
        #expect(json["status"] as? String == "ok")
        #expect(json["acceptedEntries"] as? Int == 400)
        #expect(try h.store.write { try $0.listSlices(sender: "municipality.851", messageID: ids.big) }.isEmpty)
        #expect(h.pipeline.committedTransactions >= 8, "\(h.pipeline.committedTransactions) transactions")
        #expect(try await h.collect(h.names.deadLetterQueue, quiet: .milliseconds(200)) { _ in true }.isEmpty,
                "nothing dead-lettered")
        await h.finish()
    }
}

extension ClientTests {
    @Test("pipeline: two big lists of one municipality in a row; another municipality's list sent after both is answered before the first is done")
    func secondBigListDoesNotBlockOthers() async throws {
        let user = Broker.user
        let h = try await FaultHarness("slices2", prefetch: 20) { options in
            options.groupCommitMaxBytes = 16 * 1024
            options.listSliceSize = 50
            options.userForSender = { _ in user }
        }
        let run = UUID().uuidString.prefix(8)
        let first = try FaultHarness.list((0..<400).map { ScaleWorkload.cpr(43_000 + $0) })
        let second = try FaultHarness.list((0..<400).map { ScaleWorkload.cpr(43_400 + $0) })
        #expect(first.count > 16 * 1024 && second.count > 16 * 1024, "both are big deliveries")
        let ids = (first: "first-\(run)", second: "second-\(run)", other: "other-\(run)")
        try await h.send(first, type: "municipal-list", id: ids.first)
        try await h.send(second, type: "municipal-list", id: ids.second)
        try await h.send(try FaultHarness.list([ScaleWorkload.cpr(43_900)], municipality: "810"), type: "municipal-list",
                         id: ids.other, exchange: "dd.in.municipality.810")

        func receiptSeq(_ sender: String, _ id: String) throws -> Int64? {
            try h.store.outboxEvent(messageID: "receipt/municipality.\(sender)/\(id)")?.sequence
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if try receiptSeq("851", ids.first) != nil, try receiptSeq("851", ids.second) != nil,
               try receiptSeq("810", ids.other) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let seq = (first: try #require(try receiptSeq("851", ids.first)), second: try #require(try receiptSeq("851", ids.second)),
                   other: try #require(try receiptSeq("810", ids.other)))
        // Before: the loop waited at the second big list (same sender, one big at a time) and
        // took nothing behind it, so 810 was answered only after the whole first list.
        #expect(seq.other < seq.first, "810's list waited behind 851's second big list (receipt seq \(seq.other) > \(seq.first))")
        #expect(seq.first < seq.second, "851's lists were answered out of order")
        for id in [ids.first, ids.second] {
            let receipt = try #require(try h.store.receipt(forSender: "municipality.851", messageID: id))
            let json = try #require(try JSONSerialization.jsonObject(with: receipt) as? [String: Any])
            #expect(json["status"] as? String == "ok")
            #expect(json["acceptedEntries"] as? Int == 400)
        }
        #expect(try await h.collect(h.names.deadLetterQueue, quiet: .milliseconds(200)) { _ in true }.isEmpty,
                "nothing dead-lettered")
        await h.finish()
    }
}
