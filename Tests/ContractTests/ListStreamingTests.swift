import Foundation
import Testing

@testable import Contract

/// Lists are validated and decoded entry by entry while parsed (memory: no generic tree of
/// a whole 16 MiB list). The result must be exactly what validating and decoding the whole
/// tree gives: same typed entries, accepted indices, rejections (index, code, pointer, reason).
@Suite("List bodies decoded entry by entry give what the whole-tree path gives")
struct ListStreamingTests {
    static var whole: MessageDecoder {
        var decoder = Fixtures.decoder
        decoder.streamsLists = false
        return decoder
    }

    static func both(_ type: String, sender: Sender, body: Data) -> (streamed: Result<DecodedMessage, Rejection>,
                                                                     whole: Result<DecodedMessage, Rejection>) {
        let properties = Fixtures.properties(type, sender: sender)
        return (Fixtures.decoder.decode(properties: properties, body: body),
                whole.decode(properties: properties, body: body))
    }

    static func text(_ value: JSONValue) throws -> String {
        String(decoding: try value.encoded(), as: UTF8.self)
    }

    /// The example list with its entries replaced by `entries` (JSON texts).
    static func list(_ example: String, entries: [String], edit: (inout [String: JSONValue]) -> Void = { _ in }) throws -> Data {
        guard case .object(var object) = try JSONValue.parse(Repo.data("Config/examples/\(example).json")) else {
            throw Rejection(code: .wrongType, pointer: .root, reason: "example is not an object")
        }
        object["entries"] = .array([])
        edit(&object)
        let head = try text(.object(object))
        // Put the entries in by text, so entries that are not objects (or not JSON values
        // the tree would keep as written) reach the decoder as written.
        let marker = #""entries":[]"#
        return Data(head.replacingOccurrences(of: marker, with: #""entries":["# + entries.joined(separator: ",") + "]").utf8)
    }

    static func entries(_ example: String) throws -> [String] {
        guard case .object(let object) = try JSONValue.parse(Repo.data("Config/examples/\(example).json")),
            case .array(let entries)? = object["entries"]
        else { return [] }
        return try entries.map(text)
    }

    @Test("the three list types are streamed (their entries schema allows it)")
    func listsAreStreamed() {
        for type in MessageType.allCases where type.isList && type.direction == .inbound {
            #expect(SchemaSet.embedded.entriesSchema(for: type.rawValue) != nil, "\(type.rawValue)")
        }
    }

    @Test("every committed example and bad fixture decodes the same both ways")
    func corpus() throws {
        for file in try Repo.files(in: "Config/examples", suffix: ".json") {
            let body = try Repo.data("Config/examples/\(file)")
            let name = String(file.dropLast(".json".count))
            let typeName = String(name.split(separator: ".").first ?? "")
            guard let type = MessageType(rawValue: typeName), type.direction == .inbound else { continue }
            let sender = Fixtures.sender(for: type, body: try JSONValue.parse(body))
            let (streamed, whole) = Self.both(typeName, sender: sender, body: body)
            #expect(streamed == whole, "\(file)")
            #expect((try? streamed.get()) != nil, "\(file) is accepted")
        }
        let index = try #require(BadIndex.loaded)
        var streamingDecoder = index.decoder
        streamingDecoder.streamsLists = true
        var wholeDecoder = index.decoder
        wholeDecoder.streamsLists = false
        for fixture in index.fixtures {
            let body = try BadIndex.body(fixture)
            let properties = BadIndex.properties(fixture, bodySize: body.count)
            #expect(streamingDecoder.decode(properties: properties, body: body)
                    == wholeDecoder.decode(properties: properties, body: body), "\(fixture.file)")
        }
    }

    @Test("a municipal list with every kind of bad entry: same rejections, same typed entries")
    func mixedMunicipalList() throws {
        let good = try Self.entries("municipal-list")
        #expect(good.count >= 2)
        func with(_ entry: String, cpr: String) -> String {
            entry.replacingOccurrences(of: #""cpr":"010330-4123""#, with: #""cpr":""# + cpr + #"""#)
                .replacingOccurrences(of: #""cpr":"1506315018""#, with: #""cpr":""# + cpr + #"""#)
        }
        let entries = [
            good[0],                                                        // 0 accepted
            good[1],                                                        // 1 accepted
            with(good[0], cpr: "3213301234"),                               // 2 invalid CPR
            with(good[1], cpr: "010330-4123"),                              // 3 repeats 0
            "17",                                                           // 4 not an object
            #"{"cpr":"0204304123","consent":{"status":"absent"}}"#,         // 5 missing municipalInformation
            with(good[0], cpr: "0304304123").replacingOccurrences(of: #""functionalLevel""#, with: #""shoeSize":1,"functionalLevel""#),  // 6 unknown field
            with(good[0], cpr: "3213301234").replacingOccurrences(of: "2024-03-01", with: "2024-13-01"),  // 7 two faults: first decides
            with(good[1], cpr: "0504304123"),                               // 8 accepted
            with(good[0], cpr: "0304304123"),                               // 9 accepted: 6 (same CPR) was rejected
            // 10 accepted: escapes in the free text, decoded from the entry's own bytes
            with(good[1], cpr: "0604304123").replacingOccurrences(
                of: #""note":"Borger ønsker kontakt via SMS.""#, with: #""note":"Sk\u00e6rm \/ \"x\" \ud83d\ude00 \\ \n""#),
        ]
        let body = try Self.list("municipal-list", entries: entries)
        let (streamed, whole) = Self.both("municipal-list", sender: .municipality("851"), body: body)
        #expect(streamed == whole)
        let decoded = try streamed.get()
        #expect(decoded.acceptedEntryIndices == [0, 1, 8, 9, 10])
        #expect(decoded.rejectedEntries.map(\.index) == [2, 3, 4, 5, 6, 7])
        #expect(decoded.rejectedEntries.map(\.rejection.code) == [
            .invalidCPR, .duplicateEntry, .wrongType, .missingField, .unknownField,
            (try whole.get()).rejectedEntries[5].rejection.code,
        ])
        guard case .municipalList(let list) = decoded.message else {
            Issue.record("not a municipal list")
            return
        }
        #expect(list.entries.map(\.cpr.digits) == ["0103304123", "1506315018", "0504304123", "0304304123", "0604304123"])
        #expect(list.entries.last?.note == "Skærm / \"x\" 😀 \\ \n", "the example's note has changed: the escapes were not put in")
        #expect(list.municipality == "851")
    }

    @Test("municipal lists and contact statuses over decodedEntriesMaxBytes leave their entries in the body; decoded, they are the same")
    func deferredEntries() throws {
        let good = try Self.entries("municipal-list")
        let entries = [good[0], "17", good[1], good[0], #"{"cpr":"0204304123","consent":{"status":"absent"}}"#,
                       good[1].replacingOccurrences(of: #""cpr":"1506315018""#, with: #""cpr":"0504304123""#)]
        let body = try Self.list("municipal-list", entries: entries)
        let properties = Fixtures.properties("municipal-list", sender: .municipality("851"))
        let upFront = try Fixtures.decoder.decode(properties: properties, body: body).get()
        var limits = Fixtures.decoder.limits
        limits.decodedEntriesMaxBytes = body.count - 1
        let deferring = MessageDecoder(codeBook: Fixtures.decoder.codeBook, topology: Fixtures.decoder.topology, limits: limits)
        let deferred = try deferring.decode(properties: properties, body: body).get()
        #expect(upFront.deferredEntries == nil)
        #expect(deferred.deferredEntries?.count == 3)
        #expect(deferred.acceptedEntryIndices == [0, 2, 5])
        #expect(deferred.acceptedEntryIndices == upFront.acceptedEntryIndices)
        #expect(deferred.rejectedEntries == upFront.rejectedEntries)
        guard case .municipalList(let typed) = upFront.message, case .municipalList(let bare) = deferred.message else {
            Issue.record("not a municipal list")
            return
        }
        #expect(typed.entries.count == 3)
        #expect(bare.entries.isEmpty)
        #expect(try deferred.municipalEntries(0..<3) == typed.entries)
        #expect(try deferred.municipalEntries(1..<3) == Array(typed.entries[1..<3]))
        #expect(try upFront.municipalEntries(1..<3) == Array(typed.entries[1..<3]))
        #expect(try deferred.municipalEntries(3..<3).isEmpty)
        // Everything but the entries is the same message.
        var withoutEntries = typed
        withoutEntries.entries = []
        #expect(bare == withoutEntries)
        // The other accessor, or positions past the accepted entries, are a defect: thrown.
        #expect(throws: DeferredEntries.Mismatch.self) { try deferred.contactStatusEntries(0..<3) }
        #expect(throws: DeferredEntries.Mismatch.self) { try deferred.municipalEntries(2..<4) }
        #expect(throws: DeferredEntries.Mismatch.self) { try upFront.municipalEntries(2..<4) }
        // At the limit itself the entries are decoded up front.
        limits.decodedEntriesMaxBytes = body.count
        let atLimit = MessageDecoder(codeBook: Fixtures.decoder.codeBook, topology: Fixtures.decoder.topology, limits: limits)
        #expect(try atLimit.decode(properties: properties, body: body).get().deferredEntries == nil)
        limits.decodedEntriesMaxBytes = 0
        let zero = MessageDecoder(codeBook: Fixtures.decoder.codeBook, topology: Fixtures.decoder.topology, limits: limits)
        // A contact-status waits in its body the same way.
        let statusEntries = try Self.entries("contact-status")
        let status = try Self.list("contact-status", entries: statusEntries + ["null"] + statusEntries.prefix(1))
        let statusProperties = Fixtures.properties("contact-status", sender: .journal("journal-rn"))
        let statusUpFront = try Fixtures.decoder.decode(properties: statusProperties, body: status).get()
        let statusDeferred = try zero.decode(properties: statusProperties, body: status).get()
        #expect(statusUpFront.deferredEntries == nil)
        #expect(statusDeferred.deferredEntries?.count == statusEntries.count)
        #expect(statusDeferred.acceptedEntryIndices == statusUpFront.acceptedEntryIndices)
        #expect(statusDeferred.rejectedEntries == statusUpFront.rejectedEntries)
        #expect(statusDeferred.rejectedEntries.map(\.index) == [statusEntries.count, statusEntries.count + 1])
        guard case .contactStatus(let typedStatus) = statusUpFront.message,
            case .contactStatus(let bareStatus) = statusDeferred.message
        else {
            Issue.record("not a contact-status")
            return
        }
        #expect(bareStatus.entries.isEmpty)
        #expect(try statusDeferred.contactStatusEntries(0..<statusEntries.count) == typedStatus.entries)
        #expect(throws: DeferredEntries.Mismatch.self) { try statusDeferred.municipalEntries(0..<statusEntries.count) }
        // A clinic list is compared whole with the municipal list: never left in the body.
        let clinic = try Self.list("clinic-list", entries: try Self.entries("clinic-list"))
        let decodedClinic = try zero.decode(
            properties: Fixtures.properties("clinic-list", sender: .clinic("amb-syd-aalborg")), body: clinic).get()
        #expect(decodedClinic.deferredEntries == nil)
        guard case .clinicList(let clinicMessage) = decodedClinic.message else {
            Issue.record("not a clinic-list")
            return
        }
        #expect(!clinicMessage.entries.isEmpty)
    }

    @Test("contact-status and clinic-list entries: same rejections and typed entries")
    func otherLists() throws {
        for (type, sender) in [("contact-status", Sender.journal("journal-rn")), ("clinic-list", .clinic("amb-syd-aalborg"))] {
            let good = try Self.entries(type)
            let entries = good + [good[0], "null", #"{"cpr":"010330-4123x"}"#]
            let body = try Self.list(type, entries: entries)
            let (streamed, whole) = Self.both(type, sender: sender, body: body)
            #expect(streamed == whole, "\(type)")
            let decoded = try streamed.get()
            #expect(decoded.acceptedEntryIndices == Array(0..<good.count), "\(type)")
            #expect(decoded.rejectedEntries.map(\.index) == Array(good.count..<(good.count + 3)), "\(type)")
        }
    }

    @Test("message-level faults around the entries decide as before", arguments: [
        "too-many", "entries-object", "trailing-garbage", "entries-twice", "bad-version-after-entries", "empty",
    ])
    func messageLevel(_ kind: String) throws {
        let good = try Self.entries("municipal-list")
        var body: Data
        switch kind {
        case "too-many":
            body = try Self.list("municipal-list", entries: Array(repeating: "1", count: 50_001))
        case "entries-object":
            body = try Self.list("municipal-list", entries: []) { $0["entries"] = .object([:]) }
            body = Data(String(decoding: body, as: UTF8.self)
                .replacingOccurrences(of: #""entries":[]"#, with: #""entries":{}"#).utf8)
        case "trailing-garbage":
            body = try Self.list("municipal-list", entries: good)
            body.append(contentsOf: Array(" x".utf8))
        case "entries-twice":
            body = try Self.list("municipal-list", entries: good)
            body = Data(String(decoding: body, as: UTF8.self)
                .replacingOccurrences(of: #""listKind""#, with: #""entries":[],"listKind""#).utf8)
        case "bad-version-after-entries":
            body = try Self.list("municipal-list", entries: good + ["1"]) { $0["schemaVersion"] = .string("2.0") }
        default:
            body = try Self.list("municipal-list", entries: [])
        }
        let (streamed, whole) = Self.both("municipal-list", sender: .municipality("851"), body: body)
        #expect(streamed == whole)
        if kind != "empty" { #expect((try? streamed.get()) == nil) }
    }
}
