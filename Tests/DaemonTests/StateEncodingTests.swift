import Contract
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

    /// A state written before the routing outcome was kept alone: `routing` with the
    /// decision's explanation beside the outcome.
    @Test("a routed case keeps its routing outcome without the explanation, which is in its history; a state with the explanation still loads")
    func routingWithoutExplanation() throws {
        // A referral that waits for the journal, then the journal's answer routes it.
        let (request, decoded, pseudonym) = try DecideTests.referral()
        let opened = try DecideTests.decide.caseRequest(
            request, decoded: decoded, pseudonym: pseudonym, snapshot: CaseSnapshot(), at: DecideTests.now)
        let record = try #require(opened.cases.first?.record)
        let status = try CaseRequestTests.decoded("contact-status", type: "contact-status", exchange: "dd.in.journal.journal-rn")
        var entry = try #require(try status.contactStatusEntries(0..<1).first)
        entry.cpr = request.cpr
        entry.caseId = nil
        let decision = try DecideTests.decide.contactStatus(
            entry, index: 0, decoded: status, pseudonym: pseudonym,
            snapshot: CaseSnapshot(record: record, state: try record.decodeState(as: CitizenCase.self), inputs: InputSummary()),
            source: MessageSource(messageId: "m-1", messageType: "contact-status", sender: SenderRef(kind: .journal, id: "journal-rn")),
            at: DecideTests.now)
        guard case .decided(let work, _) = decision else {
            Issue.record("the contact status was not taken: \(decision)")
            return
        }
        let state = work.record?.state ?? Data()
        let decided = try StoreBinary.decode(CitizenCase.self, from: state)
        let routing = try #require(decided.workflowA?.routing, "the referral was routed")
        // The explanation went to the history with the routed event, not into the state.
        let explanations = try work.history.compactMap { entry in
            try entry.explanation.map { try StoreBinary.decode(Workflow.Explanation.self, from: $0) }
        }
        let summary = try #require(explanations.first?.summary)
        #expect(!String(decoding: state, as: UTF8.self).contains(summary))

        // The earlier shape: the same state as JSON with an explanation under `routing`.
        let json = try StoreJSON.encode(decided)
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        var track = try #require(object["track"] as? [String: Any])
        var workflowA = try #require(track["workflowA"] as? [String: Any])
        var a = try #require(workflowA["_0"] as? [String: Any])
        var stored = try #require(a["routing"] as? [String: Any])
        #expect(stored["explanation"] == nil)
        stored["explanation"] = try JSONSerialization.jsonObject(with: StoreJSON.encode(try #require(explanations.first)))
        a["routing"] = stored
        workflowA["_0"] = a
        track["workflowA"] = workflowA
        object["track"] = track
        let old = try JSONSerialization.data(withJSONObject: object)
        let loaded = try StoreJSON.decode(CitizenCase.self, from: old)
        #expect(loaded.workflowA?.routing == routing)
        #expect(loaded == decided)
    }
}

