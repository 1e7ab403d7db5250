@testable import Daemon
import Foundation
@testable import Store
import Testing
import Workflow

/// Issue 15: the case state is stored in `StoreBinary`, not Foundation's JSON, and the JSON
/// states of stores written by earlier versions still load (no migration step).
@Suite("Case state encoding")
struct StateEncodingTests {
    /// The state a real decision wrote: a referral with consent, routed.
    static func decidedState() throws -> (Data, CitizenCase) {
        let (request, decoded, pseudonym) = try DecideTests.referral()
        let unit = try DecideTests.decide.caseRequest(
            request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: DecideTests.now)
        let record = try #require(unit.cases.first?.record)
        return (record.state, try record.decodeState(as: CitizenCase.self))
    }

    @Test("a decided case is written in the binary encoding and reads back equal")
    func binaryRoundTrip() throws {
        let (data, state) = try Self.decidedState()
        #expect(StoreBinary.isBinary(data))
        #expect(try StoreBinary.decode(CitizenCase.self, from: StoreBinary.encode(state)) == state)
        #expect(state.stateName != "none", "the referral moved the case")
    }

    @Test("a case state written in version 1 of the encoding (every string written out) loads the same, and version 2 is smaller")
    func versionOneStillLoads() throws {
        let (data, state) = try Self.decidedState()
        let one = try StoreBinary.encode(state, version: 1)
        #expect(try StoreBinary.decode(CitizenCase.self, from: one) == state)
        #expect(data.count < one.count)
    }

    @Test("a case state stored as JSON by an earlier version loads the same")
    func earlierJSONStillLoads() throws {
        let (_, state) = try Self.decidedState()
        let json = try StoreJSON.encode(state)
        let record = CaseRecord(
            caseID: "c", pseudonym: try DecideTests.decide.options.pseudonymizer.pseudonym(forCPR: "0101011234"),
            workflow: "A", municipality: "813", clinic: nil, status: state.stateName, state: json, updatedAt: DecideTests.now)
        #expect(try record.decodeState(as: CitizenCase.self) == state)
        #expect(try StoreBinary.encode(state).count < json.count)
    }
}
