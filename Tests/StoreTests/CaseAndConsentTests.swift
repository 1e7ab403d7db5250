import Foundation
import Testing

@testable import Store

struct DemoState: Codable, Equatable {
    var step: String
    var deadline: Date?
}

@Suite("Cases, history, reports, consent")
struct CaseAndConsentTests {
    func record(_ id: String, _ p: Pseudonym, municipality: String = "851", clinic: String? = "amb-aalborg",
                status: String = "assessment", at: Int = 0) throws -> CaseRecord {
        try CaseRecord(
            caseID: id, pseudonym: p, workflow: "A", municipality: municipality, clinic: clinic, status: status,
            state: DemoState(step: status, deadline: t(at + 14 * 86_400)), updatedAt: t(at))
    }

    @Test("a step's entries (input, decisions) are one row and read back as they were written, in order, between single rows")
    func historyStepsAreOneRow() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let entries = [
            CaseHistoryEntry(caseID: "c1", at: t(5), kind: .input, messageID: "m2", payload: Data([1, 2]), explanation: nil),
            CaseHistoryEntry(caseID: "c1", at: t(5), kind: .decision, messageID: "e1", payload: Data([3]), explanation: Data([4])),
            CaseHistoryEntry(caseID: "c1", at: t(5), kind: .decision, messageID: nil, payload: Data(), explanation: nil),
        ]
        let single = CaseHistoryEntry(caseID: "c1", at: t(0), kind: .input, messageID: "m1", payload: Data([9]), explanation: nil)
        let later = CaseHistoryEntry(caseID: "c1", at: t(9), kind: .input, messageID: "m3", payload: Data([8]), explanation: nil)
        try store.write { tx in
            try tx.appendHistory([single])
            try tx.appendHistory(entries)
            try tx.appendHistory(later)
            // Entries of different instants are rows of their own.
            try tx.appendHistory([
                CaseHistoryEntry(caseID: "c2", at: t(1), kind: .input, messageID: "a", payload: Data([1]), explanation: nil),
                CaseHistoryEntry(caseID: "c2", at: t(2), kind: .decision, messageID: "b", payload: Data([2]), explanation: nil),
            ])
        }
        let history = try store.caseHistory(id: "c1")
        func plain(_ entry: CaseHistoryEntry) -> CaseHistoryEntry {
            var entry = entry
            entry.id = 0
            return entry
        }
        #expect(history.map(plain) == [single] + entries + [later])
        #expect(Set(history[1...3].map(\.id)).count == 1, "one row")
        #expect(history[0].id < history[1].id && history[3].id < history[4].id)
        #expect(try store.rawCount("SELECT COUNT(*) FROM case_history WHERE case_id = 'c1'") == 3)
        // A step row keeps no message id of its own: its entries have theirs.
        #expect(try store.rawCount("SELECT COUNT(*) FROM case_history WHERE kind = 'step' AND message_id IS NULL") == 1)
        #expect(try store.rawCount("SELECT COUNT(*) FROM case_history WHERE case_id = 'c2'") == 2)
        #expect(try store.write { tx in try tx.caseInputPayloads(id: "c1") } == [Data([9]), Data([1, 2]), Data([8])])
    }

    @Test func upsertRevisionsHistoryAndQueries() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            #expect(try tx.upsertCase(record("c1", pA)) == 1)
            try tx.appendHistory(
                CaseHistoryEntry(caseID: "c1", at: t(0), kind: .input, messageID: "m1",
                                 payload: Data("{\"entry\":1}".utf8), explanation: nil))
            try tx.appendHistory(
                CaseHistoryEntry(caseID: "c1", at: t(0), kind: .decision, messageID: "m1",
                                 payload: Data("{\"queue\":\"clinic\"}".utf8), explanation: Data("{\"rule\":\"R1\"}".utf8)))
            #expect(try tx.upsertCase(record("c1", pA, status: "decided", at: 60)) == 2)
            try tx.upsertCase(record("c2", pA, municipality: "860", clinic: nil, status: "central-visitation"))
            try tx.upsertCase(record("c3", pB))
        }
        let c1 = try #require(try store.case(id: "c1"))
        #expect(c1.revision == 2)
        #expect(c1.status == "decided")
        #expect(c1.createdAt == t(0))
        #expect(c1.updatedAt == t(60))
        #expect(try c1.decodeState(as: DemoState.self) == DemoState(step: "decided", deadline: t(60 + 14 * 86_400)))
        #expect(try store.cases(pseudonym: pA).map(\.caseID) == ["c1", "c2"])
        let history = try store.caseHistory(id: "c1")
        #expect(history.map(\.kind) == [.input, .decision])
        #expect(history[1].explanation == Data("{\"rule\":\"R1\"}".utf8))
        #expect(history[0].id < history[1].id)
        #expect(try store.caseHistory(id: "c2").isEmpty)

        let counts = try store.caseCounts()
        #expect(counts == [
            CaseCount(municipality: "851", clinic: "amb-aalborg", status: "assessment", count: 1),
            CaseCount(municipality: "851", clinic: "amb-aalborg", status: "decided", count: 1),
            CaseCount(municipality: "860", clinic: nil, status: "central-visitation", count: 1),
        ])
    }

    @Test func caseNeverChangesCitizenAndRevisionGuards() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in try tx.upsertCase(record("c1", pA)) }
        #expect(storeErrorCode { try store.write { tx in try tx.upsertCase(record("c1", pB)) } } == .conflict)
        #expect(try store.case(id: "c1")?.pseudonym == pA)
        #expect(storeErrorCode { try store.write { tx in try tx.upsertCase(record("c1", pA), expectedRevision: 0) } } == .conflict)
        #expect(try store.write { tx in try tx.upsertCase(record("c1", pA, status: "x"), expectedRevision: 1) } == 2)
        #expect(try store.write { tx in try tx.upsertCase(record("new", pA), expectedRevision: 0) } == 1)
    }

    @Test func operatorViewIsAudited() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in try tx.upsertCase(record("c1", pA)) }
        let seen = try store.viewCase(id: "c1", viewer: "operator:jens", purpose: "support ticket 42", at: t(5))
        #expect(seen?.caseID == "c1")
        #expect(try store.viewCase(id: "missing", viewer: "operator:jens", purpose: "x", at: t(6)) == nil)
        let trail = try store.auditEntries(pseudonym: pA)
        #expect(trail.count == 1)
        #expect(trail.first?.action == .viewed)
        #expect(trail.first?.actor == "operator:jens")
        #expect(trail.first?.purpose == "support ticket 42")
        #expect(trail.first?.at == t(5))
    }

    @Test func consentLatestStateAndWithdrawal() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let purpose = "dobbeltdiagnose, sundhedsloven § 43"
        // Deny by default.
        #expect(try !store.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, at: t(0)))
        try store.write { tx in
            try tx.recordConsent(ConsentRecord(
                pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, state: .given,
                validFrom: t(100), reference: "journal-1", recordedAt: t(50), messageID: "m1"))
            try tx.recordConsent(ConsentRecord(
                pseudonym: pA, direction: .regionToMunicipality, purpose: purpose, state: .refused,
                validFrom: t(50), reference: "journal-1", recordedAt: t(50)))
        }
        #expect(try !store.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, at: t(99)))
        #expect(try store.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, at: t(100)))
        #expect(try !store.consentAllows(pseudonym: pA, direction: .regionToMunicipality, purpose: purpose, at: t(100)))
        #expect(try !store.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: "other", at: t(100)))
        #expect(try !store.consentAllows(pseudonym: pB, direction: .municipalityToRegion, purpose: purpose, at: t(100)))

        try store.write { tx in
            try tx.recordConsent(ConsentRecord(
                pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, state: .withdrawn,
                validFrom: t(100), withdrawnAt: t(200), reference: "journal-2", recordedAt: t(200), messageID: "m2"))
            #expect(try !tx.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, at: t(201)))
        }
        #expect(try !store.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, at: t(300)))
        let current = try store.currentConsents(pseudonym: pA)
        #expect(current.count == 2)
        let m2r = try #require(current.first { $0.direction == .municipalityToRegion })
        #expect(m2r.state == .withdrawn)
        #expect(m2r.withdrawnAt == t(200))
        #expect(m2r.reference == "journal-2")
        #expect(try store.consents(pseudonym: pA).map(\.state) == [.given, .refused, .withdrawn])

        // Given again later: the latest statement wins.
        try store.write { tx in
            try tx.recordConsent(ConsentRecord(
                pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, state: .given,
                validFrom: t(400), reference: "journal-3", recordedAt: t(400)))
        }
        #expect(try store.consentAllows(pseudonym: pA, direction: .municipalityToRegion, purpose: purpose, at: t(400)))
    }

    @Test func givenRecordWithWithdrawalDateStopsAllowingThen() {
        let record = ConsentRecord(
            pseudonym: pA, direction: .regionToMunicipality, purpose: "p", state: .given,
            validFrom: t(0), withdrawnAt: t(10), reference: "r", recordedAt: t(0))
        #expect(record.allows(at: t(9)))
        #expect(!record.allows(at: t(10)))
    }
}

@Suite("Case listing")
struct CaseListingTests {
    @Test func filtersByMunicipalityClinicAndStatus() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            for (i, (m, c, s)) in [("851", "a", "x"), ("851", "b", "x"), ("860", "a", "y"), ("851", "a", "y")].enumerated() {
                try tx.upsertCase(CaseRecord(caseID: "c\(i)", pseudonym: pA, workflow: "A", municipality: m, clinic: c,
                                             status: s, state: Data("{}".utf8), updatedAt: t(i)))
            }
        }
        #expect(try store.cases(municipality: "851", limit: 10).map(\.caseID) == ["c0", "c1", "c3"])
        #expect(try store.cases(municipality: "851", clinic: "a", limit: 10).map(\.caseID) == ["c0", "c3"])
        #expect(try store.cases(status: "y", limit: 10).map(\.caseID) == ["c2", "c3"])
        #expect(try store.cases(limit: 2).map(\.caseID) == ["c0", "c1"])
    }
}

@Suite("Cases stored compact (v14)")
struct CompactCaseTests {
    @Test("v14 keeps every case with its pseudonym, instants and revision; later writes are compact too; a row the store never wrote is reported")
    func migration() throws {
        let scratch = try scratchStore(at: "v13-timers-compact") { db in
            for (id, p, created) in [
                ("c2", pA.hex, "2026-11-02T00:00:00.000Z"), ("c1", pA.hex, "2026-11-01T00:00:00.000Z"),
                ("c3", pB.hex, "2026-11-03T00:00:00.000Z"), ("bad", "not-a-pseudonym", "2026-11-04T00:00:00.000Z"),
            ] {
                try db.execute(
                    sql: """
                        INSERT INTO cases (case_id, pseudonym, workflow, municipality, clinic, status, state, revision, created_at, updated_at)
                        VALUES (?, ?, 'A', '851', 'amb', 'assessment', x'00', 3, ?, '2026-11-05T12:00:00.250Z')
                        """,
                    arguments: [id, p, created])
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Store.knownMigrations)
        let cases = try store.cases(pseudonym: pA)
        #expect(cases.map(\.caseID) == ["c1", "c2"])
        #expect(cases.allSatisfy { $0.revision == 3 && $0.updatedAt == Timestamp.date("2026-11-05T12:00:00.250Z") })
        #expect(cases[0].createdAt == Timestamp.date("2026-11-01T00:00:00.000Z"))
        #expect(try store.cases(pseudonym: pB).map(\.caseID) == ["c3"])
        #expect(try store.rawCount("SELECT COUNT(*) FROM cases WHERE typeof(pseudonym) = 'blob' AND length(pseudonym) = 16 AND typeof(created_at) = 'integer' AND typeof(updated_at) = 'integer'") == 3)
        #expect(storeErrorCode { try store.write { tx in try tx.case(id: "bad") } } == .encoding)
        // An update keeps the citizen check (same pseudonym) and the revision count.
        var record = cases[0]
        record.status = "decided"
        record.updatedAt = t(9)
        #expect(try store.write { tx in try tx.upsertCase(record) } == 4)
        var other = record
        other.pseudonym = pB
        #expect(storeErrorCode { try store.write { tx in try tx.upsertCase(other) } } == .conflict)
        let read = try #require(try store.write { tx in try tx.case(id: "c1") })
        #expect(read.status == "decided" && read.updatedAt == t(9) && read.createdAt == cases[0].createdAt)
    }
}

@Suite("History steps: the framing of a step row's entries")
struct HistoryStepTests {
    @Test("absent and empty message ids and explanations stay apart; bytes of any value come back")
    func roundTrip() throws {
        let parts = [
            HistoryStep.Part(kind: "input", messageID: nil, payload: Data(), explanation: nil),
            HistoryStep.Part(kind: "decision", messageID: "", payload: Data([0, 0xFF]), explanation: Data()),
            HistoryStep.Part(kind: "æ", messageID: "m/1#2", payload: Data(repeating: 7, count: 300), explanation: Data([1])),
        ]
        let data = HistoryStep(parts: parts).encoded()
        #expect(try HistoryStep(decoding: data).parts == parts)
        #expect(data.count < 2 + 3 * 10 + 300 + 3 + 20)
    }

    @Test("a truncated or foreign payload throws a store error")
    func damaged() throws {
        let data = [UInt8](HistoryStep(parts: [
            HistoryStep.Part(kind: "input", messageID: "m", payload: Data([1, 2, 3]), explanation: nil),
        ]).encoded())
        for cut in 0..<data.count where cut != 2 {
            #expect(throws: StoreError.self) { try HistoryStep(decoding: Data(data[0..<cut])) }
        }
        #expect(try HistoryStep(decoding: Data(data[0..<2])).parts.isEmpty)
        #expect(throws: StoreError.self) { try HistoryStep(decoding: Data("{}".utf8)) }
    }

    /// A step as the daemon writes one: the list entry as input, a decision with its
    /// explanation, both uncompressed version-2 values.
    static func daemonLikeParts() throws -> [HistoryStep.Part] {
        let input = try StoreBinary.encodeUncompressed([
            "type": "municipal-list", "municipality": "851", "asOf": "2026-11-23",
            "setting": "outpatient", "earlierOffers": "ambulant rådgivning 2022-05-01 2023-01-31 dropped-out",
            "messageId": "bench-list-0", "functionalLevel": "severely-impaired",
        ])
        let decision = try StoreBinary.encodeUncompressed(["contactStatusRequest": "2026-11-23", "origin": "municipality"])
        let explanation = try StoreBinary.encodeUncompressed([
            "rule": "R1", "summary": "waiting for the journal's contact status", "rulesVersion": "ddrouter-rules-1",
            "facts": "psychiatric status not known as of 2026-11-23; contact status requested from the journal",
        ])
        return [
            HistoryStep.Part(kind: "input", messageID: "municipality.851/bench-list-0#7", payload: input, explanation: nil),
            HistoryStep.Part(kind: "decision", messageID: "municipality.851/bench-list-0#7/0-contact-status-request",
                             payload: decision, explanation: explanation),
        ]
    }

    @Test("a step is stored deflated as a whole (DE 02) when smaller; its entries come back byte for byte")
    func compressedStep() throws {
        let parts = try Self.daemonLikeParts()
        let step = HistoryStep(parts: parts)
        let frame = step.encoded()
        let stored = step.compressed()
        #expect(Array(stored.prefix(2)) == [0xDE, 0x02])
        #expect(stored.count * 10 < frame.count * 8, "\(stored.count) of \(frame.count) bytes")
        #expect(try HistoryStep(decoding: stored).parts == parts)
        // Smaller than each entry compressed on its own (what was stored before).
        let alone = HistoryStep(parts: parts.map {
            HistoryStep.Part(kind: $0.kind, messageID: $0.messageID, payload: StoreBinary.compressedIfVersion2($0.payload),
                             explanation: $0.explanation.map(StoreBinary.compressedIfVersion2))
        }).encoded()
        #expect(stored.count < alone.count, "\(stored.count) vs \(alone.count)")
        // A step too small to gain is kept as its frame.
        let tiny = HistoryStep(parts: [HistoryStep.Part(kind: "input", messageID: "m", payload: Data([1]), explanation: nil)])
        #expect(tiny.compressed() == tiny.encoded())
    }

    @Test("a damaged compressed step throws a store error; it never crashes")
    func damagedCompressedStep() throws {
        let stored = [UInt8](HistoryStep(parts: try Self.daemonLikeParts()).compressed())
        for cut in [2, 3, 4, stored.count / 2, stored.count - 1] {
            #expect(throws: StoreError.self) { try HistoryStep(decoding: Data(stored[0..<cut])) }
        }
        // Raw deflate has no checksum: a changed byte may inflate to other bytes of the right
        // size (as a changed byte of an uncompressed row reads as other bytes). It must not trap.
        for index in 2..<stored.count {
            var flipped = stored
            flipped[index] ^= 0x55
            _ = try? HistoryStep(decoding: Data(flipped))
        }
        var longer = stored
        longer[2] = 0x7F  // a wrong inflated size
        #expect(throws: StoreError.self) { try HistoryStep(decoding: Data(longer)) }
    }

    @Test("a single entry given uncompressed is stored compressed and decodes to the same value")
    func singleEntryCompressed() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let value = ["purpose": String(repeating: "treatment-dialogue ", count: 8)]
        let payload = try StoreBinary.encodeUncompressed(value)
        try store.write { tx in
            try tx.appendHistory([CaseHistoryEntry(caseID: "c1", at: t(0), kind: .input, messageID: "m", payload: payload, explanation: nil)])
        }
        let stored = try #require(try store.caseHistory(id: "c1").first)
        #expect(Array(stored.payload.prefix(2)) == [0xDD, 0x03] && stored.payload.count < payload.count)
        #expect(try StoreBinary.decode([String: String].self, from: stored.payload) == value)
    }
}
