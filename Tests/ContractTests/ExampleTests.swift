import Foundation
import Testing

@testable import Contract

@Suite("Config/examples: every example is a valid message")
struct ExampleTests {
    static let files: [String] = (try? Repo.files(in: "Config/examples", suffix: ".json")) ?? []

    @Test("there is an example for every message type")
    func everyTypeHasAnExample() {
        let covered = Set(Self.files.map { String($0.split(separator: ".")[0]) })
        for type in MessageType.allCases {
            #expect(covered.contains(type.rawValue), "no example for \(type.rawValue)")
        }
        #expect(Self.files.count >= MessageType.allCases.count)
    }

    @Test("the embedded schemas are the files in Config/schemas")
    func embeddedSchemasMatchFiles() throws {
        let files = try Repo.files(in: "Config/schemas", suffix: ".schema.json")
        #expect(Set(files.map { String($0.dropLast(".schema.json".count)) }) == Set(EmbeddedSchemas.all.keys))
        for file in files {
            let name = String(file.dropLast(".schema.json".count))
            let onDisk = try JSONValue.parse(Repo.data("Config/schemas/\(file)"))
            let embedded = try JSONValue.parse(Data((EmbeddedSchemas.all[name] ?? "").utf8))
            #expect(onDisk == embedded, "\(file) differs from EmbeddedSchemas: run scripts/check-schemas.py --write-swift")
        }
        for type in MessageType.allCases {
            #expect(SchemaSet.embedded.hasSchema(for: type.rawValue), "no schema for \(type.rawValue)")
        }
    }

    @Test("every example validates; inbound ones decode, outbound ones round-trip", arguments: files)
    func exampleValidates(file: String) throws {
        let type = try #require(MessageType(rawValue: String(file.split(separator: ".")[0])))
        let body = try Repo.data("Config/examples/\(file)")
        let json = try JSONValue.parse(body)
        switch type.direction {
        case .inbound:
            let sender = Fixtures.sender(for: type, body: json)
            let result = Fixtures.decoder.decode(
                properties: Fixtures.properties(type.rawValue, sender: sender), body: body)
            let decoded = try result.get()
            #expect(decoded.type == type)
            #expect(decoded.rejectedEntries.isEmpty)
            // The typed value re-encodes to the same JSON (CPRs normalised to ten digits).
            let reencoded = try JSONValue.parse(try Self.encode(decoded.message))
            #expect(reencoded == Fixtures.normalisingCPR(json))
        case .outbound:
            let problems = Fixtures.decoder.validateOutbound(type, body: body)
            #expect(problems.isEmpty, "\(problems)")
            let reencoded = try JSONValue.parse(try Self.roundTrip(type, body))
            #expect(reencoded == json)
        }
    }

    static func encode(_ message: InboundMessage) throws -> Data {
        switch message {
        case .municipalList(let m): try m.encodedBody()
        case .clinicList(let m): try m.encodedBody()
        case .contactStatus(let m): try m.encodedBody()
        case .referral(let m): try m.encodedBody()
        case .consentUpdate(let m): try m.encodedBody()
        case .assessment(let m): try m.encodedBody()
        case .municipalPosition(let m): try m.encodedBody()
        case .meetingOutcome(let m): try m.encodedBody()
        case .transitionProposal(let m): try m.encodedBody()
        case .jointPlan(let m): try m.encodedBody()
        case .knowledgeHandover(let m): try m.encodedBody()
        case .patientChoice(let m): try m.encodedBody()
        case .treatmentStarted(let m): try m.encodedBody()
        }
    }

    static func roundTrip(_ type: MessageType, _ body: Data) throws -> Data {
        let d = JSONDecoder()
        return switch type {
        case .receipt: try d.decode(Receipt.self, from: body).encodedBody()
        case .cvReferral: try d.decode(CVReferral.self, from: body).encodedBody()
        case .assessmentRequest: try d.decode(AssessmentRequest.self, from: body).encodedBody()
        case .coordinatedCourse: try d.decode(CoordinatedCourse.self, from: body).encodedBody()
        case .contactStatusRequest: try d.decode(ContactStatusRequest.self, from: body).encodedBody()
        case .decision: try d.decode(Decision.self, from: body).encodedBody()
        case .handover: try d.decode(Handover.self, from: body).encodedBody()
        case .responsibilityTransfer: try d.decode(ResponsibilityTransfer.self, from: body).encodedBody()
        case .reconciliationReport: try d.decode(ReconciliationReport.self, from: body).encodedBody()
        case .consentWithdrawn: try d.decode(ConsentWithdrawn.self, from: body).encodedBody()
        case .deadlineWarning: try d.decode(DeadlineWarning.self, from: body).encodedBody()
        case .municipalList, .clinicList, .contactStatus, .referral, .consentUpdate, .assessment, .municipalPosition,
            .meetingOutcome, .transitionProposal, .jointPlan, .knowledgeHandover, .patientChoice, .treatmentStarted:
            body
        }
    }
}
