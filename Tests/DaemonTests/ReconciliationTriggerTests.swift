import Contract
@testable import Daemon
import Foundation
import Store
import Testing

/// Issue 14, item 4 (second half), decision I16 in docs/domain.md, contract
/// "reconciliation-report / When a report is sent": every new list of either side of a
/// municipality–clinic pair gives both sides a fresh report, once both sides have a list of
/// the kind; nothing is sent against an empty side.
@Suite("R3: which lists give both sides a fresh reconciliation report")
struct ReconciliationTriggerTests {
    /// Clinic `clinic`'s list 1 for municipality 851 naming `citizens` (consent given).
    static func clinicList(_ rig: ListSliceTests.Rig, clinic: String = "amb-syd-aalborg", citizens: [Int], id: String) async throws {
        let body = try JSONSerialization.data(withJSONObject: [
            "schemaVersion": "1.0", "clinic": clinic, "municipality": "851", "listKind": "list-1",
            "asOf": "2026-11-23",
            "entries": citizens.map { ["cpr": ListSliceTests.cpr($0), "courseSince": "2025-02-10", "consent": [
                "status": "given", "date": "2026-11-20", "directions": ["municipality-to-region", "region-to-municipality"],
                "declarationRef": "DOC-1",
            ] as [String: Any]] as [String: Any] },
        ] as [String: Any])
        let properties = InboundProperties(
            type: "clinic-list", messageID: id, userID: "clinic-\(clinic)", contentType: "application/json",
            exchange: "dd.in.clinic.\(clinic)")
        let decoded = try ListSliceTests.decoder.decode(properties: properties, body: body).get()
        guard case .clinicList(let list) = decoded.message else {
            Issue.record("not a clinic list: \(decoded.message)")
            return
        }
        #expect(decoded.rejectedEntries.isEmpty)
        #expect(await rig.pipeline.process(clinicList: list, decoded: decoded, at: ListSliceTests.now) == .ack)
    }

    static func reports(_ rig: ListSliceTests.Rig) throws -> [OutboxEvent] {
        try rig.store.pendingOutbox(limit: 10_000).filter { $0.type == "reconciliation-report" }
    }

    static func counts(_ row: OutboxEvent) throws -> [String: Int] {
        let json = try #require(try JSONSerialization.jsonObject(with: row.body) as? [String: Any])
        return try #require(json["counts"] as? [String: Int])
    }

    @Test("I16: a clinic list before any municipal list gets its receipt only; the municipal list that follows gives both sides a report")
    func clinicListFirst() async throws {
        let rig = try ListSliceTests.Rig()
        defer { rig.close() }
        try await Self.clinicList(rig, citizens: [1, 4], id: "c-1")
        #expect(try Self.reports(rig).isEmpty)
        #expect(try rig.store.receipt(forSender: Pipeline.senderKey(.clinic("amb-syd-aalborg")), messageID: "c-1") != nil)

        try await rig.process(try SenderScopedIDTests.list("851", citizens: [1, 2]), municipality: "851", id: "m-1", sliceSize: 1_000)
        let reports = try Self.reports(rig)
        #expect(Set(reports.map(\.routingKey)) == ["municipality.851.reconciliation-report", "clinic.amb-syd-aalborg.reconciliation-report"])
        #expect(reports.count == 2)
        for report in reports {
            #expect(report.correlationID == "m-1")
            #expect(report.messageID.hasPrefix("municipality.851/m-1/reconciliation-report/amb-syd-aalborg/"))
            let counts = try Self.counts(report)
            #expect(counts["onBoth"] == 1 && counts["municipalOnly"] == 1 && counts["clinicOnly"] == 1)
        }
    }

    @Test("I16: after both sides have a list, every later list of either side gives both sides a fresh report")
    func everyLaterListRefreshes() async throws {
        let rig = try ListSliceTests.Rig()
        defer { rig.close() }
        try await rig.process(try SenderScopedIDTests.list("851", citizens: [1, 2]), municipality: "851", id: "m-1", sliceSize: 1_000)
        #expect(try Self.reports(rig).isEmpty)  // no clinic list yet
        try await Self.clinicList(rig, citizens: [1], id: "c-1")
        #expect(try Self.reports(rig).count == 2)
        // A later municipal list adds citizen 4: a fresh report to both sides.
        try await rig.process(try SenderScopedIDTests.list("851", citizens: [4]), municipality: "851", id: "m-2", sliceSize: 1_000)
        let fresh = try Self.reports(rig).filter { $0.correlationID == "m-2" }
        #expect(fresh.count == 2)
        for report in fresh {
            #expect(try Self.counts(report)["onBoth"] == 1)
            #expect(try Self.counts(report)["municipalOnly"] == 2)  // 2 and 4
        }
        // And a later clinic list too.
        try await Self.clinicList(rig, citizens: [2], id: "c-2")
        #expect(try Self.reports(rig).filter { $0.correlationID == "c-2" }.count == 2)
    }

    @Test("I16: a municipal list to all clinics reconciles every clinic that has sent a list of the kind, one report pair each")
    func listToAllClinics() async throws {
        let rig = try ListSliceTests.Rig()
        defer { rig.close() }
        try await rig.process(try SenderScopedIDTests.list("851", citizens: [1]), municipality: "851", id: "m-1", sliceSize: 1_000)
        try await Self.clinicList(rig, citizens: [1], id: "c-south")
        try await Self.clinicList(rig, clinic: "amb-nord-hjoerring", citizens: [2], id: "c-north")
        var all = try #require(try JSONSerialization.jsonObject(with: try SenderScopedIDTests.list("851", citizens: [2])) as? [String: Any])
        all["clinic"] = nil
        try await rig.process(try JSONSerialization.data(withJSONObject: all), municipality: "851", id: "m-all", sliceSize: 1_000)
        let fresh = try Self.reports(rig).filter { $0.correlationID == "m-all" }
        #expect(fresh.count == 4)
        #expect(Set(fresh.map(\.messageID)).count == 4)
        #expect(fresh.filter { $0.routingKey == "municipality.851.reconciliation-report" }.count == 2)
        #expect(fresh.filter { $0.routingKey == "clinic.amb-nord-hjoerring.reconciliation-report" }.count == 1)
        #expect(fresh.filter { $0.routingKey == "clinic.amb-syd-aalborg.reconciliation-report" }.count == 1)
    }
}
