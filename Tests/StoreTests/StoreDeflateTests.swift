import Foundation
@testable import Store
import Testing

/// Version 3 of `StoreBinary`: version 2 deflated with a preset dictionary when that is
/// smaller (issue 15, store bytes per citizen).
@Suite("StoreBinary version 3: compressed blobs")
struct StoreDeflateTests {
    /// Shaped like a listed citizen's history input: the field names and values the
    /// dictionary was made for, plus free text it knows nothing of.
    struct Listing: Codable, Hashable {
        struct Offer: Codable, Hashable { var offer: String; var from: String; var to: String; var outcome: String }
        struct Information: Codable, Hashable {
            var setting: String
            var substances: [String]
            var earlierOffers: [Offer]
            var functionalLevel: String
            var complexityNotes: String
        }
        var type: String
        var list: String
        var municipality: String
        var asOf: String
        var municipalInformation: Information
        var source: [String: String]
    }

    static func listing(_ n: Int) -> Listing {
        Listing(
            type: "municipal-list", list: "list-1", municipality: "851", asOf: "2026-11-23",
            municipalInformation: .init(
                setting: "outpatient", substances: ["cannabis", "stimulants"],
                earlierOffers: [.init(offer: "dagbehandling \(n)", from: "2022-05-01", to: "2023-01-31", outcome: "dropped-out")],
                functionalLevel: "severely-impaired", complexityNotes: "Noter om forløbet nummer \(n), skrevet af kommunen."),
            source: ["messageId": "list-\(n)", "sender": "municipality.851"])
    }

    @Test("dictionary 1 is frozen: blobs already stored inflate only with exactly these bytes")
    func dictionaryPinned() {
        #expect(StoreDeflate.dictionary1Digest == "0f8614e7d01c932b55cf6e94b8f18ea9ca71d3b5801b92de0c2b6e76612e290f")
        #expect(StoreDeflate.dictionary1.count < 1 << StoreDeflate.windowBits - 1_024, "room in the window for a blob")
    }

    @Test("a listing is written compressed, at most half its version-2 size, and reads back equal")
    func compressesAndRoundTrips() throws {
        for n in 0..<50 {
            let value = Self.listing(n)
            let v2 = try StoreBinary.encode(value, version: 2)
            let v3 = try StoreBinary.encode(value)
            #expect(Array(v3.prefix(2)) == [0xDD, 3])
            #expect(v3.count * 2 <= v2.count, "\(v3.count) of \(v2.count) bytes")
            #expect(try StoreBinary.decode(Listing.self, from: v3) == value)
            #expect(try StoreBinary.decode(Listing.self, from: v2) == value, "version 2 still reads")
            #expect(StoreBinary.topLevelFields(v3)?.map(\.key) == StoreBinary.topLevelFields(v2)?.map(\.key))
        }
    }

    @Test("a short or incompressible value stays version 2")
    func staysUncompressed() throws {
        #expect(Array(try StoreBinary.encode(["a": "b"]).prefix(2)) == [0xDD, 2])
        var rng = SystemRandomNumberGenerator()
        let noise = Data((0..<600).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let blob = try StoreBinary.encode(noise)
        #expect(Array(blob.prefix(2)) == [0xDD, 2])
        #expect(try StoreBinary.decode(Data.self, from: blob) == noise)
    }

    @Test("a compressed blob whose stored size is wrong, or that is cut or extended, throws a store error")
    func damagedSize() throws {
        let v3 = [UInt8](try StoreBinary.encode(Self.listing(1)))
        guard let (count, start) = LEB128.read(v3, at: 2) else { Issue.record("no size"); return }
        for wrong: UInt64 in [count - 1, count + 1, 0, UInt64(64 << 20 + 1)] {
            var blob: [UInt8] = [0xDD, 3]
            LEB128.append(wrong, to: &blob)
            blob += v3[start...]
            #expect(throws: StoreError.self) { try StoreBinary.decode(Listing.self, from: Data(blob)) }
        }
        #expect(throws: StoreError.self) { try StoreBinary.decode(Listing.self, from: Data(v3.dropLast())) }
        #expect(throws: StoreError.self) { try StoreBinary.decode(Listing.self, from: Data(v3 + [0])) }
    }

    @Test("threads encoding and decoding at once each get their own stream: every value comes back equal")
    func concurrentUse() throws {
        let values = (0..<64).map(Self.listing)
        let expected = try values.map { try StoreBinary.encode($0) }
        let mismatches = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<100 {
                let i = (worker * 7 + round) % values.count
                guard let blob = try? StoreBinary.encode(values[i]), blob == expected[i],
                    (try? StoreBinary.decode(Listing.self, from: blob)) == values[i]
                else { mismatches.add(); continue }
            }
        }
        #expect(mismatches.value == 0)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func add() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }
}
