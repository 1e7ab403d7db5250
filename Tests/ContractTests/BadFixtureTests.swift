import Foundation
import Testing

@testable import Contract

/// `Tests/Fixtures/bad/index.json`, the corpus the daemon's integration test also sends.
struct BadIndex: Decodable {
    struct Book: Decodable {
        let municipalities: [String]
        let clinics: [String]
        let journals: [String]
    }
    struct Expect: Decodable {
        struct Entry: Decodable {
            let index: Int
            let code: String
            let pointer: String
        }
        let status: String
        let code: String?
        let pointer: String?
        let property: String?
        let acceptedEntries: Int?
        let rejectedEntries: [Entry]?
    }
    struct Fixture: Decodable, CustomTestStringConvertible {
        let file: String
        let kind: String
        let exchange: String
        let routingKey: String
        let properties: [String: String]
        let padToBytes: Int?
        let expect: Expect
        let schemaLevel: Bool
        var testDescription: String { file }
    }
    let codeBook: Book
    let maxBodyBytes: Int
    let fixtures: [Fixture]

    static let loaded: BadIndex? = try? JSONDecoder().decode(
        BadIndex.self, from: Repo.data("Tests/Fixtures/bad/index.json"))

    var decoder: MessageDecoder {
        MessageDecoder(
            codeBook: CodeBook(
                municipalities: Set(codeBook.municipalities), clinics: Set(codeBook.clinics),
                journals: Set(codeBook.journals)),
            limits: DecoderLimits(maxBodyBytes: maxBodyBytes))
    }

    static func body(_ fixture: Fixture) throws -> Data {
        var data = try Repo.data("Tests/Fixtures/bad/\(fixture.file)")
        if let size = fixture.padToBytes, size > data.count {
            data.append(Data(repeating: 0x20, count: size - data.count))
        }
        return data
    }

    static func properties(_ fixture: Fixture, bodySize: Int) -> InboundProperties {
        let p = fixture.properties
        return InboundProperties(
            type: p["type"], messageID: p["message_id"], userID: p["user_id"], contentType: p["content_type"],
            contentEncoding: p["content_encoding"], exchange: fixture.exchange, routingKey: fixture.routingKey,
            bodySize: bodySize)
    }
}

@Suite("Tests/Fixtures/bad: every bad input fails with exactly its code")
struct BadFixtureTests {
    static let fixtures = BadIndex.loaded?.fixtures ?? []

    @Test("the index loads and lists at least 25 kinds, each file once")
    func indexIsComplete() throws {
        let index = try #require(BadIndex.loaded)
        #expect(index.fixtures.count >= 25)
        let files = try Repo.files(in: "Tests/Fixtures/bad", suffix: ".json").filter { $0 != "index.json" }
        #expect(Set(index.fixtures.map(\.file)) == Set(files))
        #expect(Set(index.fixtures.map(\.file)).count == index.fixtures.count)
        #expect(Set(index.fixtures.compactMap { $0.properties["message_id"] }).count
            == index.fixtures.filter { $0.properties["message_id"] != nil }.count)
    }

    @Test("fixture is rejected as the index says", arguments: fixtures)
    func fixtureFails(_ fixture: BadIndex.Fixture) throws {
        let index = try #require(BadIndex.loaded)
        let body = try BadIndex.body(fixture)
        let result = index.decoder.decode(properties: BadIndex.properties(fixture, bodySize: body.count), body: body)
        switch result {
        case .failure(let rejection):
            #expect(fixture.expect.status == "fatal-error", "unexpectedly rejected: \(rejection)")
            #expect(rejection.code.rawValue == fixture.expect.code, "\(rejection)")
            if let pointer = fixture.expect.pointer { #expect(rejection.pointer?.description == pointer) }
            if let property = fixture.expect.property { #expect(rejection.property == property) }
            #expect(rejection.code.isSchemaLevel == fixture.schemaLevel || !fixture.schemaLevel)
        case .success(let decoded):
            #expect(fixture.expect.status == "ok", "accepted, expected \(fixture.expect.code ?? "?")")
            #expect(decoded.acceptedEntryIndices.count == fixture.expect.acceptedEntries)
            let got = decoded.rejectedEntries.map { "\($0.index) \($0.rejection.code.rawValue) \($0.rejection.pointer?.description ?? "")" }
            let want = (fixture.expect.rejectedEntries ?? []).map { "\($0.index) \($0.code) \($0.pointer)" }
            #expect(got == want)
            #expect(!decoded.rejectedEntries.isEmpty, "a bad fixture must reject something")
        }
    }

    @Test("the same bad input always gets the identical receipt bytes")
    func receiptsAreDeterministic() throws {
        let index = try #require(BadIndex.loaded)
        let at = try #require(Timestamp(iso: "2026-11-23T09:30:00Z"))
        for fixture in index.fixtures {
            let body = try BadIndex.body(fixture)
            let properties = BadIndex.properties(fixture, bodySize: body.count)
            let sender = index.decoder.sender(forExchange: fixture.exchange) ?? .municipality("851")
            func receipt() throws -> Data {
                switch index.decoder.decode(properties: properties, body: body) {
                case .failure(let rejection):
                    try Receipt(rejecting: properties, sender: sender, rejection: rejection, receivedAt: at).encodedBody()
                case .success(let decoded): try Receipt(accepting: decoded, receivedAt: at).encodedBody()
                }
            }
            let first = try receipt()
            #expect(first == (try receipt()), "\(fixture.file)")
            #expect(index.decoder.validateOutbound(.receipt, body: first).isEmpty, "\(fixture.file)")
        }
    }
}
