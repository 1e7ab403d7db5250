import AMQP
import Contract
@testable import Daemon
import Foundation
import Logging
import Store
import Testing
import Workflow

/// A municipal list is decided and written in slices (memory bounded by the slice), each
/// slice committed on its own: the receipt, cases, history and outbox must be what deciding
/// the whole list at once gives.
@Suite("process(list:) in slices gives what the whole list at once gives")
struct ListSliceTests {
    static let keys = try! StoreKeys(master: Data(repeating: 7, count: 32))
    static let decoder = MessageDecoder(
        codeBook: CodeBook(clinics: ["amb-syd-aalborg", "amb-nord-hjoerring"], journals: ["journal-rn"]))
    static let now = ISO8601DateFormatter().date(from: "2026-11-23T10:00:00Z")!
    /// Leaves every municipal list's entries in its body (as the daemon does above 1 MiB).
    static let deferring = MessageDecoder(
        codeBook: decoder.codeBook, limits: DecoderLimits(decodedEntriesMaxBytes: 0))

    /// A store and a pipeline on it (the AMQP client is never started: nothing is published).
    struct Rig {
        let directory: URL
        let store: Store
        let pipeline: Pipeline

        /// A fresh store, or the `store.sqlite` already in `directory` (removed with it by `close`).
        init(
            directory existing: URL? = nil, servingClinics: @escaping @Sendable (String) -> [String] = { _ in [] },
            configure: (inout PipelineOptions) -> Void = { _ in }
        ) throws {
            directory = existing ?? FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-slices-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            store = try Store(path: directory.appendingPathComponent("store.sqlite").path, auditKey: ListSliceTests.keys.auditKey)
            let logger = Logger(label: "test.slices")
            let client = AMQPClient(
                configuration: AMQPConfiguration(endpoints: [.init(host: "127.0.0.1", port: 1)],
                                                 authentication: .plain(user: "none", password: "none")),
                logger: logger)
            var options = PipelineOptions(
                codeBook: ListSliceTests.decoder.codeBook,
                pseudonymizer: try Pseudonymizer(key: ListSliceTests.keys.pseudonymKey), clock: { ListSliceTests.now })
            options.servingClinics = servingClinics
            configure(&options)
            pipeline = Pipeline(client: client, store: store, options: options, logger: logger)
        }

        func close() {
            try? store.close()
            try? FileManager.default.removeItem(at: directory)
        }

        /// Decodes `body` as a municipal list of `municipality` and processes it in slices of `sliceSize`.
        func process(
            _ body: Data, municipality: String, id: String, sliceSize: Int, decoder: MessageDecoder = ListSliceTests.decoder,
            expecting: Pipeline.Settlement = .ack
        ) async throws {
            let properties = InboundProperties(
                type: "municipal-list", messageID: id, userID: "municipality-\(municipality)",
                contentType: "application/json", exchange: "dd.in.municipality.\(municipality)")
            let decoded = try decoder.decode(properties: properties, body: body).get()
            guard case .municipalList(let list) = decoded.message, let asOf = LocalDate(iso: list.asOf.description) else {
                Issue.record("not a municipal list")
                return
            }
            // The deferring decoder leaves the entries in the body; the other decodes them.
            #expect((decoded.deferredEntries != nil) == (decoder.limits.decodedEntriesMaxBytes < body.count))
            #expect(list.entries.isEmpty == (decoded.deferredEntries != nil))
            let settlement = await pipeline.process(list: list, asOf: asOf, decoded: decoded, at: ListSliceTests.now,
                                                    sliceSize: sliceSize)
            #expect(settlement == expecting)
        }

        /// Decodes `body` as the journal's `contact-status` and processes it, `every` entries a slice.
        func processStatus(_ body: Data, id: String, every: Int, decoder: MessageDecoder) async throws {
            let properties = InboundProperties(
                type: "contact-status", messageID: id, userID: "journal-rn", contentType: "application/json",
                exchange: "dd.in.journal.journal-rn")
            let decoded = try decoder.decode(properties: properties, body: body).get()
            guard case .contactStatus(let status) = decoded.message else {
                Issue.record("not a contact-status")
                return
            }
            #expect((decoded.deferredEntries != nil) == (decoder.limits.decodedEntriesMaxBytes < body.count))
            #expect(status.entries.isEmpty == (decoded.deferredEntries != nil))
            let settlement = await pipeline.process(contactStatus: decoded, at: ListSliceTests.now, progressEvery: every)
            #expect(settlement == .ack)
        }
    }

    /// A journal's `contact-status` for `citizens`, the example's two entries taken in turn
    /// (without the example's `caseId`).
    static func statusBody(citizens: [Int]) throws -> Data {
        let url = DaemonSettingsTests.repoRoot.appendingPathComponent("Config/examples/contact-status.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let templates = try #require(json["entries"] as? [[String: Any]])
        #expect(templates.count >= 2)
        json["entries"] = citizens.enumerated().map { i, n -> [String: Any] in
            var entry = templates[i % 2]
            entry["cpr"] = cpr(n)
            entry["caseId"] = nil
            return entry
        }
        return try JSONSerialization.data(withJSONObject: json)
    }

    /// Fictitious CPR numbers (born 2030, 7th digit 4).
    static func cpr(_ n: Int) -> String { String(format: "%02d%02d30-4%03d", 1 + n % 28, 1 + n / 28, n) }

    /// A list of `municipality` with the example's first entry for each citizen in `citizens`
    /// (consent absent for multiples of 3; `"bad"` gives an entry the decoder rejects).
    static func body(municipality: String, citizens: [Int?]) throws -> Data {
        let url = DaemonSettingsTests.repoRoot.appendingPathComponent("Config/examples/municipal-list.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let template = try #require((json["entries"] as? [[String: Any]])?.first)
        json["municipality"] = municipality
        json["entries"] = citizens.map { n -> [String: Any] in
            var entry = template
            guard let n else {
                entry["cpr"] = "321330-4999"
                return entry
            }
            entry["cpr"] = cpr(n)
            if n % 3 == 0 { entry["consent"] = ["status": "absent"] }
            return entry
        }
        return try JSONSerialization.data(withJSONObject: json)
    }

    struct Outcome: Equatable {
        var receipt: Data?
        var statusReceipt: Data?
        var cases: [CaseRecord]
        var history: [[CaseHistoryEntry]]
        var outbox: [[String]]
        var audit: [String]
    }

    static func run(sliceSize: Int, decoder: MessageDecoder = ListSliceTests.decoder) async throws -> Outcome {
        let rig = try Rig()
        defer { rig.close() }
        // Citizens 4 and 7 have cases of municipality 813 (R4: 851's entries for them change nothing).
        try await rig.process(try body(municipality: "813", citizens: [4, 7]), municipality: "813", id: "l-813",
                              sliceSize: sliceSize, decoder: decoder)
        let citizens: [Int?] = [1, 2, 3, 4, nil, 5, 6, 7, 8, 9, 10, 11, 12, 13, nil, 14, 15, 16, 17, 18]
        try await rig.process(try body(municipality: "851", citizens: citizens), municipality: "851", id: "l-851",
                              sliceSize: sliceSize, decoder: decoder)
        // The journal's statuses for some of them (99 has no case; 4 is 813's citizen).
        try await rig.processStatus(try statusBody(citizens: [1, 2, 99, 4, 5, 6, 10]), id: "s-1", every: sliceSize,
                                    decoder: decoder)
        return try outcome(of: rig)
    }

    /// What `rig`'s store holds: the receipts of `l-851` and `s-1`, cases, history, outbox, audit.
    static func outcome(of rig: Rig) throws -> Outcome {
        let cases = try rig.store.allCases().sorted { $0.caseID < $1.caseID }
        return Outcome(
            receipt: try rig.store.receipt(forSender: Pipeline.senderKey(.municipality("851")), messageID: "l-851"),
            statusReceipt: try rig.store.receipt(forSender: Pipeline.senderKey(.journal("journal-rn")), messageID: "s-1"),
            cases: cases,
            history: try cases.map { try rig.store.caseHistory(id: $0.caseID) },
            outbox: try rig.store.pendingOutbox(limit: 10_000).map {
                [$0.messageID, $0.type, $0.exchange, $0.routingKey, String(decoding: $0.body, as: UTF8.self)]
            },
            audit: try rig.store.auditEntries(afterSeq: 0, limit: 100_000).map {
                "\($0.actor) \($0.action) \($0.pseudonym?.hex ?? "-") \($0.messageType ?? "-") \($0.messageID ?? "-") \($0.purpose)"
            }.sorted())
    }

    @Test("slices of 1, 4 and 7 entries: same receipt, cases, history, outbox and audit rows as one slice")
    func sameAsWhole() async throws {
        let whole = try await Self.run(sliceSize: 1_000_000)
        let receipt = try #require(whole.receipt)
        let json = try #require(try JSONSerialization.jsonObject(with: receipt) as? [String: Any])
        // Sent indices: 4 and 14 are not CPR numbers (decoder), 3 and 7 are 813's citizens (R4).
        let rejected = try #require(json["rejectedEntries"] as? [[String: Any]])
        #expect(rejected.compactMap { $0["index"] as? Int } == [3, 4, 7, 14])
        #expect(rejected.compactMap { $0["code"] as? String } == ["unknown-case", "invalid-cpr", "unknown-case", "invalid-cpr"])
        #expect(json["acceptedEntries"] as? Int == 16)
        // Consent absent (citizens 3, 6, 9, 12, 15, 18): held, by sent index.
        #expect(json["heldEntries"] as? [Int] == [2, 6, 9, 12, 16, 19])
        #expect(whole.cases.count == 18)
        #expect(!whole.outbox.isEmpty)
        // The statuses: 99 has no case (sent index 2); the other six are taken.
        let statusReceiptBody = try #require(whole.statusReceipt)
        let statusReceipt = try #require(try JSONSerialization.jsonObject(with: statusReceiptBody) as? [String: Any])
        #expect(statusReceipt["acceptedEntries"] as? Int == 6)
        #expect((statusReceipt["rejectedEntries"] as? [[String: Any]])?.compactMap { $0["index"] as? Int } == [2])
        for size in [1, 4, 7] {
            let sliced = try await Self.run(sliceSize: size)
            #expect(sliced.receipt == whole.receipt, "slice \(size)")
            #expect(sliced.statusReceipt == whole.statusReceipt, "slice \(size)")
            #expect(sliced.cases == whole.cases, "slice \(size)")
            #expect(sliced.history == whole.history, "slice \(size)")
            #expect(sliced.outbox == whole.outbox, "slice \(size)")
            #expect(sliced.audit == whole.audit, "slice \(size)")
        }
    }

    @Test("entries left in the body and decoded a slice at a time: same rows as entries decoded up front")
    func deferredEntries() async throws {
        let decodedUpFront = try await Self.run(sliceSize: 1_000_000)
        #expect(decodedUpFront.cases.count == 18)
        for size in [1_000_000, 4, 1] {
            let deferred = try await Self.run(sliceSize: size, decoder: Self.deferring)
            #expect(deferred.receipt == decodedUpFront.receipt, "slice \(size)")
            #expect(deferred.statusReceipt == decodedUpFront.statusReceipt, "slice \(size)")
            #expect(deferred.cases == decodedUpFront.cases, "slice \(size)")
            #expect(deferred.history == decodedUpFront.history, "slice \(size)")
            #expect(deferred.outbox == decodedUpFront.outbox, "slice \(size)")
            #expect(deferred.audit == decodedUpFront.audit, "slice \(size)")
        }
    }

    @Test("a long list message reports progress to the watchdog every slice, not only when it is settled")
    func progressPerSlice() async throws {
        let rig = try Rig()
        defer { rig.close() }
        let busy = rig.pipeline.busy
        // A municipal list of 9 in slices of 4: progress at each of the 3 slices.
        busy.enter()
        var before = BusyClock.now()
        var calls = busy.progressCount
        try await rig.process(try Self.body(municipality: "851", citizens: Array(1...9)), municipality: "851", id: "l-1",
                              sliceSize: 4)
        #expect(busy.lastProgress >= before)
        #expect(busy.progressCount - calls == 3)
        // A journal's contact statuses (here for citizens without a case: each is rejected,
        // and still counts): progress every `progressEvery` entries, none below that.
        let url = DaemonSettingsTests.repoRoot.appendingPathComponent("Config/examples/contact-status.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let template = try #require((json["entries"] as? [[String: Any]])?.first)
        json["entries"] = (100..<103).map { n -> [String: Any] in
            var entry = template
            entry["cpr"] = Self.cpr(n)
            return entry
        }
        let properties = InboundProperties(
            type: "contact-status", messageID: "s-1", userID: "journal-rn", contentType: "application/json",
            exchange: "dd.in.journal.journal-rn")
        let decoded = try Self.decoder.decode(properties: properties, body: try JSONSerialization.data(withJSONObject: json)).get()
        guard case .contactStatus(let status) = decoded.message else {
            Issue.record("not a contact-status")
            return
        }
        #expect(status.entries.count == 3)
        before = BusyClock.now()
        calls = busy.progressCount
        #expect(await rig.pipeline.process(contactStatus: decoded, at: Self.now, progressEvery: 1_000) == .ack)
        #expect(busy.lastProgress < before, "3 entries are under one slice of 1,000: no progress yet")
        #expect(busy.progressCount == calls)
        let again = try Self.decoder.decode(
            properties: InboundProperties(
                type: "contact-status", messageID: "s-2", userID: "journal-rn", contentType: "application/json",
                exchange: "dd.in.journal.journal-rn"),
            body: try JSONSerialization.data(withJSONObject: json)).get()
        #expect(await rig.pipeline.process(contactStatus: again, at: Self.now, progressEvery: 1) == .ack)
        #expect(busy.lastProgress >= before)
        #expect(busy.progressCount - calls == 2, "after entries 0 and 1 of 3")
        busy.leave()
    }

    @Test("a repeated citizen (which the decoder never passes) is answered as the workflow answers it")
    func repeats() {
        let list = Workflow.MunicipalList(
            messageID: "m", municipality: "851", clinic: nil, list: .list1, asOf: LocalDate(year: 2026, month: 11, day: 23)!,
            entries: ["a", "b", "a", "c", "a"].map { Workflow.MunicipalList.Entry(citizen: CitizenKey($0), consent: .absent) })
        #expect(Pipeline.repeatedCitizens(list) == [2: 0, 4: 0])
    }
}
