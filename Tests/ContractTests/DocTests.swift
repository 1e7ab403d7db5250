import Foundation
import Testing

@testable import Contract

@Suite("docs/messages.md embeds exactly the example files")
struct DocTests {
    /// `Example: \`Config/examples/<file>\`` followed by a ```json block.
    static func embeddedExamples() throws -> [(file: String, json: String)] {
        let text = String(decoding: try Repo.data("docs/messages.md"), as: UTF8.self)
        var found: [(String, String)] = []
        var pending: String?
        var block: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if var lines = block {
                if line == "```" {
                    if let file = pending { found.append((file, lines.joined(separator: "\n"))) }
                    pending = nil
                    block = nil
                } else {
                    lines.append(line)
                    block = lines
                }
            } else if line.hasPrefix("Example: `Config/examples/"), line.hasSuffix("`") {
                pending = String(line.dropFirst("Example: `Config/examples/".count).dropLast())
            } else if line == "```json", pending != nil {
                block = []
            }
        }
        return found
    }

    @Test("every example file is embedded, and every embedded example equals its file")
    func examplesMatchFiles() throws {
        let embedded = try Self.embeddedExamples()
        let files = try Repo.files(in: "Config/examples", suffix: ".json")
        #expect(Set(embedded.map(\.file)) == Set(files))
        for (file, json) in embedded {
            let inDoc = try JSONValue.parse(Data(json.utf8))
            let onDisk = try JSONValue.parse(Repo.data("Config/examples/\(file)"))
            #expect(inDoc == onDisk, "docs/messages.md differs from Config/examples/\(file)")
        }
    }

    @Test("every message type and every rejection code is documented")
    func everythingDocumented() throws {
        let text = String(decoding: try Repo.data("docs/messages.md"), as: UTF8.self)
        for type in MessageType.allCases {
            #expect(text.contains("### `\(type.rawValue)`"), "no section for \(type.rawValue)")
        }
        for code in RejectionCode.allCases {
            #expect(text.contains("| `\(code.rawValue)` |"), "rejection code \(code.rawValue) not in the table")
        }
    }
}

@Suite("Topology and receipts")
struct TopologyTests {
    @Test("sender exchanges and outbound routing keys follow the documented defaults")
    func defaults() {
        let topology = Topology()
        #expect(topology.sender(forExchange: "dd.in.municipality.851") == .municipality("851"))
        #expect(topology.sender(forExchange: "dd.in.clinic.amb-syd-aalborg") == .clinic("amb-syd-aalborg"))
        #expect(topology.sender(forExchange: "dd.in.journal.journal-rn") == .journal("journal-rn"))
        #expect(topology.sender(forExchange: "dd.in.municipality.") == nil)
        #expect(topology.sender(forExchange: "dd.out") == nil)
        #expect(topology.routingKey(for: .cvReferral, to: .centralVisitation) == "cv.cv-referral")
        #expect(topology.routingKey(for: .assessmentRequest, to: .clinic("amb-syd-aalborg"))
            == "clinic.amb-syd-aalborg.assessment-request")
        #expect(topology.routingKey(for: .receipt, to: .municipality("851")) == "municipality.851.receipt")
        #expect(topology.routingKey(for: .contactStatusRequest, to: .journal("journal-rn"))
            == "journal.journal-rn.contact-status-request")
        #expect(topology.queue(for: .centralVisitation) == "dd.cv.referrals")
        #expect(topology.queue(for: .clinic("a")) == "dd.clinic.a.assessments")
        #expect(topology.queue(for: .municipality("851")) == "dd.municipality.851.inbox")
        #expect(topology.queue(for: .journal("j")) == "dd.journal.j.requests")
        #expect(topology.bindingKey(for: .municipality("851")) == "municipality.851.#")
    }

    @Test("a known exchange of an unknown id is not a sender")
    func unknownIDs() {
        #expect(Fixtures.decoder.sender(forExchange: "dd.in.municipality.999") == nil)
        #expect(Fixtures.decoder.sender(forExchange: "dd.in.clinic.amb-syd-aalborg") == .clinic("amb-syd-aalborg"))
    }

    @Test("an accepted list's receipt counts entries and validates against receipt.schema.json")
    func acceptedReceipt() throws {
        let body = try Repo.data("Tests/Fixtures/bad/list-entry-bad-cpr.json")
        let decoded = try Fixtures.decoder.decode(
            properties: Fixtures.properties("municipal-list", sender: .municipality("851")), body: body
        ).get()
        let receipt = Receipt(accepting: decoded, receivedAt: try #require(Timestamp(iso: "2026-11-23T09:30:02Z")))
        #expect(receipt.status == .ok)
        #expect(receipt.acceptedEntries == 2)
        #expect(receipt.rejectedEntries?.map(\.index) == [1])
        let encoded = try receipt.encodedBody()
        #expect(Fixtures.decoder.validateOutbound(.receipt, body: encoded).isEmpty)
        // Accepted entries keep their original indices.
        #expect(decoded.acceptedEntryIndices == [0, 2])
        guard case .municipalList(let list) = decoded.message else {
            Issue.record("not a municipal list")
            return
        }
        #expect(list.entries.count == 2)
    }

    @Test("a receipt for a message without message_id carries JSON null and validates")
    func receiptWithoutMessageID() throws {
        let properties = InboundProperties(
            type: nil, messageID: nil, userID: "kommune-851", contentType: "application/json",
            exchange: "dd.in.municipality.851")
        let rejection = Rejection(code: .missingMessageID, property: "message_id", reason: "missing")
        let receipt = Receipt(
            rejecting: properties, sender: .municipality("851"), rejection: rejection,
            receivedAt: Timestamp(Date(timeIntervalSince1970: 1_795_000_000)))
        let body = try receipt.encodedBody()
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("\"messageId\":null"))
        #expect(Fixtures.decoder.validateOutbound(.receipt, body: body).isEmpty)
        let deferred = try Receipt(deferring: properties, sender: .municipality("851"), receivedAt: receipt.receivedAt)
            .encodedBody()
        #expect(Fixtures.decoder.validateOutbound(.receipt, body: deferred).isEmpty)
        #expect(String(decoding: deferred, as: UTF8.self).contains(#""status":"transient-error""#))
        let headers = DeadLetterHeaders.headers(for: rejection, exchange: "dd.in.municipality.851", rejectedAt: receipt.receivedAt)
        #expect(headers[DeadLetterHeaders.code] == "missing-message-id")
        #expect(headers[DeadLetterHeaders.property] == "message_id")
    }

    @Test("schemaVersion: any 1.x accepted, other majors and malformed versions rejected", arguments: [
        ("1.0", true), ("1.7", true), ("1.12", true), ("2.0", false), ("0.9", false), ("1", false), ("1.01", false),
        ("v1.0", false), ("1.0.0", false), ("1.", false),
    ])
    func versions(version: String, accepted: Bool) {
        #expect(MessageDecoder.isSupportedVersion(version) == accepted)
    }

    @Test("timestamps: RFC 3339 with seconds and offset only")
    func timestamps() throws {
        #expect(Timestamp(iso: "2026-11-23T09:30:00Z") != nil)
        #expect(Timestamp(iso: "2026-12-10T13:00:00+01:00")?.date == Timestamp(iso: "2026-12-10T12:00:00Z")?.date)
        #expect(Timestamp(iso: "2026-11-23T09:30:00.123456Z") != nil)
        #expect(Timestamp(iso: "2026-11-23T09:30Z") == nil)
        #expect(Timestamp(iso: "2026-11-23 09:30:00Z") == nil)
        #expect(Timestamp(iso: "2026-02-30T09:30:00Z") == nil)
        #expect(Timestamp(iso: "2026-11-23T24:00:00Z") == nil)
        #expect(Timestamp(Date(timeIntervalSince1970: 0)).text == "1970-01-01T00:00:00Z")
        #expect(CalendarDate(year: 2026, month: 11, day: 23)?.adding(days: 14).description == "2026-12-07")
        #expect(CalendarDate(year: 2024, month: 2, day: 28)?.adding(days: 1).description == "2024-02-29")
    }
}
