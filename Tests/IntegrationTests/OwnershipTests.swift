import AMQP
import Contract
import Daemon
import Foundation
import Store
import Testing

/// R4: another municipality can neither take over a citizen's open case nor learn that it
/// exists — not by a list entry, not by a referral — and the case's later messages still go
/// to the municipality that owns it.
extension ClientTests {
    static let broenderslev = "dd.in.municipality.810"

    static func referral(_ cpr: String, municipality: String) -> [String: Any] {
        [
            "schemaVersion": "1.0", "cpr": cpr, "municipality": municipality, "referredAt": "2026-11-23T08:15:00Z",
            "grounds": ["mentalDisorder": "suspected", "substanceUse": "diagnosed"],
            "referrer": ["kind": "general-practitioner", "name": "Referrer"],
            "consent": consent("given"),
        ]
    }

    @Test("R4: another municipality's list entry or referral for a citizen with an open case is refused and changes nothing")
    func foreignMunicipalityCannotTakeOverCase() async throws {
        try await DaemonHarness.run("owner", start: Self.monday) { h in
            let inbox851 = h.names.queue(for: .municipality("851"))
            let inbox810 = h.names.queue(for: .municipality("810"))
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            let cpr = "0103304123"  // 851's citizen
            let other = "1506315018"  // nobody's yet: 810 may list this one (the control)
            func mentions(_ d: Delivery, _ cpr: String) -> Bool { String(decoding: d.body, as: UTF8.self).contains(cpr) }

            // 851 lists the citizen; the journal's status puts the case in the clinic's queue.
            try await h.send(Self.list([(cpr, "given")]), type: "municipal-list", id: "own-list", from: Self.aalborg)
            try await h.send(Self.currentCourse([cpr]), type: "contact-status", id: "own-status", from: Self.journalRN)
            var all = try await h.drainAll()
            let request = try #require(all[clinic]?.first { $0.properties.type == "assessment-request" })
            let caseID = try #require(request.json["caseId"] as? String)

            // 810 lists the same CPR (with consent) and a citizen of its own.
            var list810 = Self.list([(cpr, "given"), (other, "given")])
            list810["municipality"] = "810"
            list810["clinic"] = "amb-nord-hjoerring"
            try await h.send(list810, type: "municipal-list", id: "foreign-list", from: Self.broenderslev)
            // ... and refers it.
            try await h.send(Self.referral(cpr, municipality: "810"), type: "referral", id: "foreign-referral",
                             from: Self.broenderslev)
            // A clinic's referral naming 810 for the open case of 851 is refused too.
            var regional = Self.referral(cpr, municipality: "810")
            regional["consent"] = Self.consent("absent")
            try await h.send(regional, type: "referral", id: "regional-referral", from: Self.clinicAalborg)
            all = try await h.drainAll()

            let listReceipt = try #require(all[inbox810]?.first { $0.properties.correlationID == "foreign-list" })
            #expect(listReceipt.json["status"] as? String == "ok")
            #expect(listReceipt.json["acceptedEntries"] as? Int == 1)
            let refusedEntries = listReceipt.json["rejectedEntries"] as? [[String: Any]] ?? []
            #expect(refusedEntries.count == 1)
            #expect(refusedEntries.first?["index"] as? Int == 0)
            #expect(refusedEntries.first?["code"] as? String == "unknown-case")
            let referralReceipt = try #require(all[inbox810]?.first { $0.properties.correlationID == "foreign-referral" })
            #expect(referralReceipt.json["status"] as? String == "fatal-error")
            #expect(referralReceipt.json["code"] as? String == "unknown-case")
            // The receipts tell 810 nothing about the case: no owner, no state, no case id.
            for receipt in [listReceipt, referralReceipt] {
                let text = String(decoding: receipt.body, as: UTF8.self)
                for secret in ["851", caseID, "workflow", "state", "already"] {
                    #expect(!text.contains(secret), "the receipt reveals \(secret): \(text)")
                }
            }
            let regionalReceipt = try #require(all[clinic]?.first { $0.properties.correlationID == "regional-referral" })
            #expect(regionalReceipt.json["status"] as? String == "fatal-error")
            #expect(regionalReceipt.json["code"] as? String == "out-of-order")
            // Nothing about 851's citizen went anywhere but to the region's own queues.
            #expect(!(all[inbox810] ?? []).contains { mentions($0, cpr) })

            // The case still belongs to 851: the clinic's assessment goes to 851, not to 810.
            try await h.send(Self.integratedAssessment(caseID: caseID, cpr: cpr, on: "2026-11-24"), type: "assessment", id: "own-assessment", from: Self.clinicAalborg)
            all = try await h.drainAll()
            let decision = try #require(all[inbox851]?.first { $0.properties.type == "decision" && mentions($0, cpr) })
            #expect(decision.json["municipality"] as? String == "851")
            #expect(!(all[inbox810] ?? []).contains { mentions($0, cpr) }, "851's citizen reached 810")
            let store = try #require(h.service?.store)
            #expect(try store.case(id: caseID)?.municipality == "851")
            // 810's consent was not recorded for 851's citizen.
            let pseudonym = try Pseudonymizer(key: StoreKeys(master: h.storeSettings.masterKey).pseudonymKey)
                .pseudonym(forCPR: cpr)
            #expect(try store.consents(pseudonym: pseudonym).allSatisfy { $0.messageID == "municipality.851/own-list" })
        }
    }
}
