import Contract
@testable import Daemon
import Foundation
import Store
import Testing

/// Issue 14, item 5 (R2; docs/messages.md, `municipal-list`): a list 2 may leave out
/// `clinic`; its coordinated courses are shared with the municipality's serving clinic from
/// the directory, an ambiguous directory gets `ambiguous-clinic`, and an entry the case
/// refuses is `out-of-order`, never `duplicate-entry`.
@Suite("list 2 without clinic (R2)")
struct ListTwoClinicTests {
    /// Municipality 851's list 2 (no `clinic`) for `citizens`, consent given for all.
    static func list2(_ citizens: [Int]) throws -> Data {
        var json = try #require(try JSONSerialization.jsonObject(
            with: try ListSliceTests.body(municipality: "851", citizens: citizens)) as? [String: Any])
        json["listKind"] = "list-2"
        json["clinic"] = nil
        return try JSONSerialization.data(withJSONObject: json)
    }

    static func receipt(_ rig: ListSliceTests.Rig, _ id: String) throws -> [String: Any] {
        let body = try #require(try rig.store.receipt(forSender: Pipeline.senderKey(.municipality("851")), messageID: id))
        return try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
    }

    @Test("R2: one serving clinic in the directory: the courses are shared with it")
    func servingClinic() async throws {
        let rig = try ListSliceTests.Rig(servingClinics: { $0 == "851" ? ["amb-syd-aalborg"] : [] })
        defer { rig.close() }
        try await rig.process(try Self.list2([1, 2]), municipality: "851", id: "l2", sliceSize: 1_000)
        let receipt = try Self.receipt(rig, "l2")
        #expect(receipt["acceptedEntries"] as? Int == 2, "\(receipt)")
        #expect((receipt["rejectedEntries"] as? [Any])?.isEmpty ?? true)
        let courses = try rig.store.pendingOutbox(limit: 100).filter { $0.type == "coordinated-course" }
        #expect(courses.count == 2)
        #expect(courses.allSatisfy { $0.routingKey == "clinic.amb-syd-aalborg.coordinated-course" })
    }

    @Test("R2: two clinics (or none) serve the municipality: each entry is ambiguous-clinic, no case is opened")
    func ambiguousClinic() async throws {
        for serving in [["amb-syd-aalborg", "amb-nord-hjoerring"], []] {
            let rig = try ListSliceTests.Rig(servingClinics: { _ in serving })
            defer { rig.close() }
            try await rig.process(try Self.list2([1, 2]), municipality: "851", id: "l2", sliceSize: 1_000)
            let receipt = try Self.receipt(rig, "l2")
            let rejected = try #require(receipt["rejectedEntries"] as? [[String: Any]])
            #expect(rejected.compactMap { $0["code"] as? String } == ["ambiguous-clinic", "ambiguous-clinic"])
            #expect(rejected.allSatisfy { ($0["reason"] as? String)?.contains("/clinic") == true })
            #expect(try rig.store.allCases().isEmpty)
        }
    }

    @Test("R2/R11: an entry the case refuses (list 2 while its list-1 case is open) is out-of-order, not duplicate-entry")
    func refusedIsOutOfOrder() async throws {
        let rig = try ListSliceTests.Rig(servingClinics: { _ in ["amb-syd-aalborg"] })
        defer { rig.close() }
        try await rig.process(try ListSliceTests.body(municipality: "851", citizens: [1]), municipality: "851", id: "l1",
                              sliceSize: 1_000)
        try await rig.process(try Self.list2([1]), municipality: "851", id: "l2", sliceSize: 1_000)
        let rejected = try #require(try Self.receipt(rig, "l2")["rejectedEntries"] as? [[String: Any]])
        #expect(rejected.compactMap { $0["code"] as? String } == ["out-of-order"])
    }
}
