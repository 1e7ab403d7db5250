import AMQP
import Contract
@testable import Daemon
import Foundation
import Logging
import Store
import Testing
import Workflow

/// Issue 14, item 1 (docs/messages.md, "Outbound properties"): a `message_id` is unique per sender
/// only, so every id the router derives from one (events, reconciliation reports, case
/// history, consent records) names the sender too. Two senders may use the same id.
@Suite("ids the router derives name the sender of the message they come from")
struct SenderScopedIDTests {
    /// Municipality `municipality`'s list for `citizens` (consent given for all).
    static func list(_ municipality: String, citizens: [Int]) throws -> Data {
        // Multiples of 3 are held (consent absent) by `ListSliceTests.body`: avoid them.
        #expect(citizens.allSatisfy { $0 % 3 != 0 })
        return try ListSliceTests.body(municipality: municipality, citizens: citizens)
    }

    @Test("contract 'Outbound properties': 851 and 810 both send a municipal-list with message_id X; both are processed, with distinct event ids")
    func sameMessageIDFromTwoMunicipalities() async throws {
        let rig = try ListSliceTests.Rig()
        defer { rig.close() }
        try await rig.process(try Self.list("851", citizens: [1, 2]), municipality: "851", id: "X", sliceSize: 1_000)
        try await rig.process(try Self.list("810", citizens: [4, 5]), municipality: "810", id: "X", sliceSize: 1_000)
        let receipt810 = try #require(try rig.store.receipt(forSender: Pipeline.senderKey(.municipality("810")), messageID: "X"))
        let json = try #require(try JSONSerialization.jsonObject(with: receipt810) as? [String: Any])
        #expect(json["status"] as? String == "ok")
        #expect(json["acceptedEntries"] as? Int == 2)
        let events = try rig.store.pendingOutbox(limit: 1_000).filter { $0.type != "receipt" }
        // Two contact-status requests per list (one per citizen): four in all, ids distinct.
        let requests = events.filter { $0.type == "contact-status-request" }
        #expect(requests.count == 4)
        #expect(Set(events.map(\.messageID)).count == events.count)
        #expect(requests.filter { $0.messageID.hasPrefix("municipality.851/X#") }.count == 2)
        #expect(requests.filter { $0.messageID.hasPrefix("municipality.810/X#") }.count == 2)
        // The history names the sender of each input.
        for record in try rig.store.allCases() {
            let inputs = try rig.store.caseHistory(id: record.caseID).filter { $0.kind == .input }
            #expect(!inputs.isEmpty)
            #expect(inputs.allSatisfy {
                $0.messageID?.hasPrefix("municipality.851/X#") == true || $0.messageID?.hasPrefix("municipality.810/X#") == true
            })
        }
    }

    @Test("R3, contract 'Outbound properties': two clinics' lists with the same message_id give distinct reconciliation reports")
    func sameMessageIDFromTwoClinics() async throws {
        let rig = try ListSliceTests.Rig()
        defer { rig.close() }
        // 851's list 1 for the south clinic and one for the north clinic.
        try await rig.process(try Self.list("851", citizens: [1]), municipality: "851", id: "m-south", sliceSize: 1_000)
        var north = try #require(try JSONSerialization.jsonObject(with: try Self.list("851", citizens: [2])) as? [String: Any])
        north["clinic"] = "amb-nord-hjoerring"
        try await rig.process(try JSONSerialization.data(withJSONObject: north), municipality: "851", id: "m-north", sliceSize: 1_000)
        // Both clinics answer with their own list, both with message_id "C": each report
        // goes to municipality 851 and to the clinic.
        for (clinic, citizen) in [("amb-syd-aalborg", 1), ("amb-nord-hjoerring", 2)] {
            let body = try JSONSerialization.data(withJSONObject: [
                "schemaVersion": "1.0", "clinic": clinic, "municipality": "851", "listKind": "list-1",
                "asOf": "2026-11-23", "entries": [["cpr": ListSliceTests.cpr(citizen), "courseSince": "2025-02-10"]],
            ] as [String: Any])
            let properties = InboundProperties(
                type: "clinic-list", messageID: "C", userID: "clinic-\(clinic)", contentType: "application/json",
                exchange: "dd.in.clinic.\(clinic)")
            let decoded = try ListSliceTests.decoder.decode(properties: properties, body: body).get()
            guard case .clinicList(let list) = decoded.message else {
                Issue.record("not a clinic list: \(decoded.message)")
                return
            }
            #expect(await rig.pipeline.process(clinicList: list, decoded: decoded, at: ListSliceTests.now) == .ack)
            let receipt = try #require(try rig.store.receipt(forSender: Pipeline.senderKey(.clinic(clinic)), messageID: "C"))
            #expect((try JSONSerialization.jsonObject(with: receipt) as? [String: Any])?["status"] as? String == "ok")
        }
        let reports = try rig.store.pendingOutbox(limit: 1_000).filter { $0.type == "reconciliation-report" }
        #expect(Set(reports.map(\.messageID)).count == reports.count)
        #expect(reports.filter { $0.routingKey == "municipality.851.reconciliation-report" }.count == 2)
        #expect(reports.filter { $0.messageID.hasPrefix("clinic.amb-syd-aalborg/C/") }.count == 2)
        #expect(reports.filter { $0.messageID.hasPrefix("clinic.amb-nord-hjoerring/C/") }.count == 2)
    }

    // MARK: - upgrade from a store written by 987ea6c

    /// A store written by the version before sender-scoped ids (commit 987ea6c): municipality
    /// 851's list "X" for citizens 1 and 2 (consent given, status unknown), then the journal's
    /// status "S0" for citizen 1 (current course: an assessment request), processed but
    /// nothing relayed, so the requests are pending with the old ids
    /// `X#0/0-contact-status-request`, `X#1/0-contact-status-request` and
    /// `S0#0/0-assessment-request`. Master key 32 × 7.
    static let upgradeFixture = DaemonSettingsTests.repoRoot.appendingPathComponent("Tests/Fixtures/stores/v2-987ea6c.sqlite")

    /// Writes `upgradeFixture` (run once, by the commit that added it, with the code of
    /// 987ea6c: `DDR_WRITE_STORE_FIXTURE=1 swift test --filter SenderScopedIDTests`). Later
    /// code writes later ids, so this is only how the file was made, not a way to remake it.
    @Test("writes the upgrade fixture", .enabled(if: ProcessInfo.processInfo.environment["DDR_WRITE_STORE_FIXTURE"] != nil))
    func writeUpgradeFixture() async throws {
        let rig = try ListSliceTests.Rig()
        defer { rig.close() }
        try await rig.process(try Self.list("851", citizens: [1, 2]), municipality: "851", id: "X", sliceSize: 1_000)
        try await rig.processStatus(try ListSliceTests.statusBody(citizens: [1]), id: "S0", every: 1_000,
                                    decoder: ListSliceTests.decoder)
        // The store with its write-ahead log; `sqlite3 <file> 'PRAGMA wal_checkpoint(TRUNCATE)'`
        // then folded the log into the one fixture file.
        try? FileManager.default.createDirectory(
            at: Self.upgradeFixture.deletingLastPathComponent(), withIntermediateDirectories: true)
        for suffix in ["", "-wal", "-shm"] {
            let from = rig.directory.appendingPathComponent("store.sqlite" + suffix)
            let to = URL(fileURLWithPath: Self.upgradeFixture.path + suffix)
            try? FileManager.default.removeItem(at: to)
            if FileManager.default.fileExists(atPath: from.path) { try FileManager.default.copyItem(at: from, to: to) }
        }
    }

    @Test("upgrade: a store of 987ea6c keeps its ids; a redelivery finds its stored receipt; 810's X and the journal's answer for 851's citizens take new ids")
    func upgradeFromSenderlessIDs() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-upgrade-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.upgradeFixture, to: directory.appendingPathComponent("store.sqlite"))
        let rig = try ListSliceTests.Rig(directory: directory)
        defer { rig.close() }
        let old = Set(try rig.store.pendingOutbox(limit: 1_000).filter { $0.type != "receipt" }.map(\.messageID))
        #expect(old == ["X#0/0-contact-status-request", "X#1/0-contact-status-request", "S0#0/0-assessment-request"],
                "the fixture is the old format")
        // Every case state written by the old version decodes.
        for record in try rig.store.allCases() { _ = try record.decodeState(as: CitizenCase.self) }
        let receipt851 = try rig.store.receipt(forSender: Pipeline.senderKey(.municipality("851")), messageID: "X")

        // 851's X again (the ack was lost before the upgrade) is answered, before any
        // decision, from the inbox the old version wrote under (sender, message_id): the
        // lookup the pipeline makes first finds it. (Resending it needs the broker: the rig
        // has none.)
        #expect(receipt851 != nil)

        // 810's own X: processed, new ids, the old rows untouched.
        try await rig.process(try Self.list("810", citizens: [4, 5]), municipality: "810", id: "X", sliceSize: 1_000)
        let afterMunicipality = try rig.store.pendingOutbox(limit: 1_000).filter { $0.type != "receipt" }
        #expect(old.isSubset(of: Set(afterMunicipality.map(\.messageID))))
        #expect(afterMunicipality.filter { $0.messageID.hasPrefix("municipality.810/X#") }.count == 2)

        // The journal answers for 851's citizen 2 (a case written by the old version): taken.
        try await rig.processStatus(try ListSliceTests.statusBody(citizens: [2]), id: "X", every: 1_000,
                                    decoder: ListSliceTests.decoder)
        let statusReceipt = try #require(try rig.store.receipt(forSender: Pipeline.senderKey(.journal("journal-rn")), messageID: "X"))
        let json = try #require(try JSONSerialization.jsonObject(with: statusReceipt) as? [String: Any])
        #expect(json["acceptedEntries"] as? Int == 1)
        let all = try rig.store.pendingOutbox(limit: 1_000)
        #expect(Set(all.map(\.messageID)).count == all.count)
        #expect(all.contains { $0.messageID == "journal.journal-rn/X#0/0-assessment-request" })

        // Schema v8 on an old trail: the old version's entries (a hash each) and the seals
        // written since verify as one chain.
        let verification = try rig.store.verifyAudit()
        #expect(verification.isOK, "\(verification)")
        let entries = try rig.store.auditEntries(afterSeq: 0, limit: 100_000)
        #expect(entries.contains { $0.hash.count == 32 } && entries.contains { $0.hash.isEmpty })
        // Every case's history reads, the old version's rows and the steps written since.
        var kinds = Set<String>()
        for record in try rig.store.allCases() {
            for entry in try rig.store.caseHistory(id: record.caseID) { kinds.insert(entry.kind.rawValue) }
        }
        #expect(kinds == ["input", "decision"], "steps read back as their entries: \(kinds)")
    }
}
