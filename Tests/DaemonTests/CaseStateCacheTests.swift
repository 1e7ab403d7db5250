@testable import Daemon
import Foundation
import Store
import Testing
import Workflow

/// Issue 15: the next message about a case reuses the state its last write encoded, only
/// when the store holds exactly those bytes.
@Suite("CaseStateCache: decoded states by their stored bytes")
struct CaseStateCacheTests {
    static func states() throws -> (CitizenCase, CitizenCase) {
        let a = CitizenCase(citizen: CitizenKey("0101011234"))
        let (data, b) = try StateEncodingTests.decidedState()
        #expect(try StoreBinary.decode(CitizenCase.self, from: data) == b)
        #expect(a != b)
        return (a, b)
    }

    @Test("a state is handed out for its case and its exact bytes only")
    func exactBytes() throws {
        let (a, b) = try Self.states()
        let cache = CaseStateCache(capacity: 4)
        let blobA = try StoreBinary.encode(a), blobB = try StoreBinary.encode(b)
        cache.remember(caseID: "case-1", blob: blobA, state: a)
        #expect(cache.state(caseID: "case-1", blob: blobA) == a)
        #expect(cache.state(caseID: "case-1", blob: blobB) == nil, "other bytes: the store holds another state")
        #expect(cache.state(caseID: "case-2", blob: blobA) == nil, "another case")
        cache.remember(caseID: "case-1", blob: blobB, state: b)
        #expect(cache.state(caseID: "case-1", blob: blobB) == b)
        #expect(cache.state(caseID: "case-1", blob: blobA) == nil)
        #expect(cache.counts.hits == 2 && cache.counts.misses == 3)
    }

    @Test("at most `capacity` cases: the oldest remembered is forgotten first; remembering a case again keeps its place")
    func bounded() throws {
        let (a, _) = try Self.states()
        let blob = try StoreBinary.encode(a)
        let cache = CaseStateCache(capacity: 2)
        cache.remember(caseID: "c1", blob: blob, state: a)
        cache.remember(caseID: "c2", blob: blob, state: a)
        cache.remember(caseID: "c1", blob: blob, state: a)
        #expect(cache.count == 2)
        cache.remember(caseID: "c3", blob: blob, state: a)
        #expect(cache.count == 2)
        #expect(cache.state(caseID: "c1", blob: blob) == nil, "c1 was remembered first")
        #expect(cache.state(caseID: "c2", blob: blob) == a)
        #expect(cache.state(caseID: "c3", blob: blob) == a)
    }

    @Test("in a store: a write that rolls back after its cases were remembered leaves the stored state the one loaded; a committed one is reused")
    func rolledBackWrite() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-statecache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(path: directory.appendingPathComponent("store.sqlite").path, auditKey: DecideTests.keys.auditKey)
        defer { try? store.close() }
        let (request, decoded, pseudonym) = try DecideTests.referral()
        let first = try DecideTests.decide.caseRequest(
            request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: DecideTests.now)
        let caseID = try #require(first.cases.first?.caseID)
        let stored = try #require(first.cases.first?.state)
        let cache = CaseStateCache()
        try store.write { tx in try first.apply(in: tx, remembering: cache) }
        #expect(try store.write { tx in try CaseSnapshot.load(caseID, in: tx, cache: cache).state } == stored)
        #expect(cache.counts.hits == 1)

        // A later state, remembered by a write that then fails: the store keeps the first.
        var later = first
        var work = try #require(later.cases.first)
        var record = try #require(work.record)
        // Another state of the same citizen (an empty case stands for any other).
        let changed = CitizenCase(citizen: stored.citizen)
        #expect(changed != stored)
        record.state = try StoreBinary.encode(changed)
        work.record = record
        work.state = changed
        work.history = []
        later.cases = [work]
        later.answer = nil
        struct Fails: Error {}
        #expect(throws: Fails.self) {
            try store.write { tx in
                try later.apply(in: tx, remembering: cache)
                throw Fails()
            }
        }
        let loaded = try store.write { tx in try CaseSnapshot.load(caseID, in: tx, cache: cache) }
        #expect(loaded.state == stored, "the cache's entry is not what the store holds")
        #expect(try loaded.record.map { try $0.decodeState(as: CitizenCase.self) } == stored)
    }
}
