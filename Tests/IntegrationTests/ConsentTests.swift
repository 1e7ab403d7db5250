import AMQP
import Contract
import Daemon
import Foundation
import Store
import Testing

/// Issue 4, test 6 (R4): an entry without consent is held and nothing about it reaches the
/// region; a later consent-update releases it; a withdrawal stops the exchange and notifies
/// the parties that had data. Asserted by reading every outbound queue.
extension ClientTests {
    @Test("consent: held without consent, released by consent-update, withdrawal stops the exchange and notifies")
    func consentHeldReleasedWithdrawn() async throws {
        try await DaemonHarness.run("consent", start: Self.monday) { h in
            let inbox = h.names.queue(for: .municipality("851"))
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            let held = "1506315018"  // no consent on the list
            let open = "0103304123"  // consent given: the control
            let regionQueues = h.outboundQueues.filter { !$0.hasPrefix("dd.municipality.") }
            func types(_ deliveries: [Delivery]?) -> [String] { (deliveries ?? []).map { $0.properties.type ?? "-" } }
            func mentions(_ d: Delivery, _ cpr: String) -> Bool { String(decoding: d.body, as: UTF8.self).contains(cpr) }

            // 1. The list and the journal's statuses: both in current treatment at the clinic.
            try await h.send(Self.list([(open, "given"), (held, "absent")]), type: "municipal-list", id: "c-list", from: Self.aalborg)
            try await h.send(Self.currentCourse([open, held]), type: "contact-status", id: "c-status", from: Self.journalRN)
            var all = try await h.drainAll()
            let listReceipt = try #require(all[inbox]?.first { $0.properties.correlationID == "c-list" })
            #expect(listReceipt.json["status"] as? String == "ok")
            #expect(listReceipt.json["acceptedEntries"] as? Int == 2, "a held entry is accepted")
            #expect(listReceipt.json["heldEntries"] as? [Int] == [1], "the sender is told which entry is held (R4)")
            // Nothing about the held citizen reached any regional queue (R4) ...
            for queue in regionQueues {
                #expect(!(all[queue] ?? []).contains { mentions($0, held) }, "held citizen's data in \(queue)")
            }
            // ... while the control citizen went its way.
            #expect(types(all[clinic]) == ["assessment-request"])
            #expect(all[clinic]?.first.map { mentions($0, open) } == true)
            #expect(types(all[inbox]) == ["receipt"])

            // 2. Consent given later: the held entry is released now, with the municipal information.
            var consent: [String: Any] = [
                "schemaVersion": "1.0", "cpr": held, "municipality": "851", "consent": Self.consent("given", on: "2026-11-23"),
            ]
            try await h.send(consent, type: "consent-update", id: "c-given", from: Self.aalborg)
            all = try await h.drainAll()
            #expect(types(all[inbox]) == ["receipt"])
            #expect(all[inbox]?.first?.json["status"] as? String == "ok")
            #expect(all[inbox]?.first?.json["heldEntries"] == nil, "nothing held any more")
            let released = try #require(all[clinic]?.first)
            #expect(types(all[clinic]) == ["assessment-request"])
            // An assessment-request correlates to the list that listed the citizen (docs/messages.md),
            // also when a consent-update released it.
            #expect(released.properties.correlationID == "c-list")
            #expect(released.json["cpr"] as? String == held)
            #expect(released.json["consentInForce"] as? Bool == true)
            #expect(released.json["municipalInformation"] != nil)
            // Routed now (R1 at the list's date), with the explanation of that routing.
            #expect((released.json["explanation"] as? [String: Any])?["rule"] as? String == "R1")
            let caseID = try #require(released.json["caseId"] as? String)

            // 3. Psychiatry assesses; the municipality gets the assessment (regional data).
            try await h.send(Self.integratedAssessment(caseID: caseID, cpr: held, on: "2026-11-24"), type: "assessment", id: "c-assessment", from: Self.clinicAalborg)
            all = try await h.drainAll()
            #expect(types(all[clinic]) == ["receipt"])
            #expect(Set(types(all[inbox])) == ["decision"])

            // 4. Withdrawal: both parties that had data are told to stop the dialogue.
            consent["consent"] = Self.consent("withdrawn", on: "2026-11-25")
            try await h.send(consent, type: "consent-update", id: "c-withdrawn", from: Self.aalborg)
            all = try await h.drainAll()
            for queue in [inbox, clinic] {
                let notices = (all[queue] ?? []).filter { $0.properties.type == "consent-withdrawn" }
                #expect(notices.count == 1, "\(queue): \(types(all[queue]))")
                let notice = try #require(notices.first)
                #expect(notice.properties.correlationID == "c-withdrawn")
                #expect(notice.json["instruction"] as? String == "stop-dialogue")
                #expect(notice.json["caseIds"] as? [String] == [caseID])
                #expect(notice.json["withdrawnOn"] as? String == "2026-11-25", "the withdrawal's own date")
            }
            #expect(types(all[inbox]).sorted() == ["consent-withdrawn", "receipt"])
            #expect(types(all[clinic]) == ["consent-withdrawn"])

            // 5. After the withdrawal nothing crosses: the municipality's position is refused
            //    (R4), and the clinic's decision meeting reaches only the region.
            try await h.send([
                "schemaVersion": "1.0", "caseId": caseID, "cpr": held, "municipality": "851", "regarding": "assessment",
                "position": "agree", "statedOn": "2026-11-26",
            ], type: "municipal-position", id: "c-position", from: Self.aalborg)
            try await h.send([
                "schemaVersion": "1.0", "caseId": caseID, "cpr": held, "municipality": "851", "clinic": "amb-syd-aalborg",
                "meetingKind": "decision", "heldOn": "2026-11-27", "participants": ["psychiatry"], "agreement": "agreed",
                "decision": "coordinated", "furtherMeetingNeeded": false,
            ], type: "meeting-outcome", id: "c-meeting", from: Self.clinicAalborg)
            all = try await h.drainAll()
            #expect(types(all[inbox]) == ["receipt"], "only the position's receipt reaches the municipality")
            let refused = try #require(all[inbox]?.first)
            #expect(refused.json["status"] as? String == "fatal-error")
            #expect(refused.json["code"] as? String == "out-of-order")
            #expect((refused.json["reason"] as? String)?.contains("R4") == true)
            #expect(!(all[clinic] ?? []).contains { $0.json["municipalInformation"] != nil })
            for (queue, deliveries) in all where queue != inbox && queue != clinic {
                #expect(deliveries.isEmpty, "unexpected in \(queue): \(types(deliveries))")
            }
            // The store's consent records: appended per statement (naming sender and message), the withdrawal is current.
            let pseudonym = try Pseudonymizer(key: StoreKeys(master: h.storeSettings.masterKey).pseudonymKey)
                .pseudonym(forCPR: held)
            let store = try #require(h.service?.store)
            let current = try store.currentConsents(pseudonym: pseudonym)
            #expect(!current.isEmpty && current.allSatisfy { $0.state == .withdrawn && $0.messageID == "municipality.851/c-withdrawn" })
            #expect(try store.consents(pseudonym: pseudonym).contains { $0.state == .given && $0.messageID == "municipality.851/c-given" })
        }
    }
}

extension ClientTests {
    @Test("R3: a clinic list is compared with the municipal list; each side gets counts, and names only with consent")
    func reconciliationUnderConsent() async throws {
        try await DaemonHarness.run("recon", start: Self.monday) { h in
            let inbox = h.names.queue(for: .municipality("851"))
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            let onlyMunicipal = "0103304123"  // consent given
            let both = "1506315018"  // on both lists, no consent
            let onlyClinic = "1205345555"  // only the clinic lists it, no consent
            try await h.send(Self.list([(onlyMunicipal, "given"), (both, "absent")]), type: "municipal-list", id: "r-list",
                             from: Self.aalborg)
            #expect(try await h.receipt(in: inbox, for: "r-list")["status"] as? String == "ok")
            try await h.send([
                "schemaVersion": "1.0", "clinic": "amb-syd-aalborg", "municipality": "851", "listKind": "list-1",
                "asOf": "2026-11-23",
                "entries": [["cpr": both, "courseSince": "2025-02-10"], ["cpr": onlyClinic, "consent": ["status": "absent"]]],
            ], type: "clinic-list", id: "r-clinic", from: Self.clinicAalborg)
            let all = try await h.drainAll()
            let toMunicipality = try #require(all[inbox]?.first { $0.properties.type == "reconciliation-report" })
            let toClinic = try #require(all[clinic]?.first { $0.properties.type == "reconciliation-report" })
            #expect(all[clinic]?.contains { $0.properties.type == "receipt" && $0.json["acceptedEntries"] as? Int == 2 } == true)
            for report in [toMunicipality, toClinic] {
                let counts = report.json["counts"] as? [String: Int]
                #expect(counts?["onBoth"] == 1)
                #expect(counts?["municipalOnly"] == 1)
                #expect(counts?["clinicOnly"] == 1)
                #expect(report.properties.correlationID == "r-clinic")
                #expect((report.json["explanation"] as? [String: Any])?["rule"] as? String == "R3")
            }
            // The municipality may not learn who only the clinic lists (no consent): withheld.
            #expect((toMunicipality.json["clinicOnly"] as? [Any])?.isEmpty == true)
            #expect((toMunicipality.json["counts"] as? [String: Int])?["withheld"] == 1)
            // It is told which of its own citizens the clinic lacks (issue 14 item 4; consent given).
            #expect((toMunicipality.json["municipalOnly"] as? [[String: Any]])?.map { $0["cpr"] as? String } == [onlyMunicipal])
            // The clinic may learn of the municipal-only citizen (consent given), with the case id.
            let named = toClinic.json["municipalOnly"] as? [[String: Any]]
            #expect(named?.map { $0["cpr"] as? String } == [onlyMunicipal])
            #expect(named?.first?["caseId"] != nil)
            // The clinic's own one-list citizen has no consent municipality → region: that the
            // municipality lacks it is not named to the clinic, only counted.
            #expect((toClinic.json["clinicOnly"] as? [Any])?.isEmpty == true)
            #expect((toClinic.json["counts"] as? [String: Int])?["withheld"] == 1)
            #expect(!String(decoding: toMunicipality.body, as: UTF8.self).contains(onlyClinic))
        }
    }
}

extension ClientTests {
    @Test("R3, decision I16: a clinic list that comes first gets its receipt only; the municipal list after it gives both sides a report on the wire")
    func reconciliationAfterTheMunicipalList() async throws {
        try await DaemonHarness.run("recon2", start: Self.monday) { h in
            let inbox = h.names.queue(for: .municipality("851"))
            let clinic = h.names.queue(for: .clinic("amb-syd-aalborg"))
            let both = "0103304123"
            let onlyClinic = "1205345555"
            try await h.send([
                "schemaVersion": "1.0", "clinic": "amb-syd-aalborg", "municipality": "851", "listKind": "list-1",
                "asOf": "2026-11-23",
                "entries": [["cpr": both, "courseSince": "2025-02-10"], ["cpr": onlyClinic, "courseSince": "2025-03-01"]],
            ], type: "clinic-list", id: "r2-clinic", from: Self.clinicAalborg)
            #expect(try await h.receipt(in: clinic, for: "r2-clinic")["status"] as? String == "ok")
            let first = try await h.drainAll()
            #expect(!first.values.joined().contains { $0.properties.type == "reconciliation-report" })
            try await h.send(Self.list([(both, "given")]), type: "municipal-list", id: "r2-list", from: Self.aalborg)
            #expect(try await h.receipt(in: inbox, for: "r2-list")["status"] as? String == "ok")
            let all = try await h.drainAll()
            for queue in [inbox, clinic] {
                let report = try #require(all[queue]?.first { $0.properties.type == "reconciliation-report" })
                #expect(report.properties.correlationID == "r2-list")
                let counts = report.json["counts"] as? [String: Int]
                #expect(counts?["onBoth"] == 1 && counts?["clinicOnly"] == 1 && counts?["municipalOnly"] == 0)
            }
        }
    }
}
