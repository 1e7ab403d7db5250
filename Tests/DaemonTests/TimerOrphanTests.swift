import AMQP
import Contract
@testable import Daemon
import Foundation
import Logging
import Store
import Testing
import Workflow

@Suite("TimerRunner: a timer on a case that cannot be written is an orphan and changes nothing")
struct TimerOrphanTests {
    @Test("a case whose citizen key is not a CPR: the timer is marked fired, the case and its history stay as they were")
    func orphanBeforeWrite() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-orphan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try StoreKeys(master: Data(repeating: 3, count: 32))
        let store = try Store(path: directory.appendingPathComponent("store.sqlite").path, auditKey: keys.auditKey)
        defer { try? store.close() }
        let logger = Logger(label: "test.orphan")
        let client = AMQPClient(configuration: AMQPConfiguration(endpoints: [.init(host: "127.0.0.1", port: 1)], authentication: .plain(user: "none", password: "none")), logger: logger)
        let pipeline = Pipeline(
            client: client, store: store,
            options: PipelineOptions(codeBook: CodeBook(clinics: [], journals: []), pseudonymizer: try Pseudonymizer(key: keys.pseudonymKey)),
            logger: logger)
        let runner = TimerRunner(pipeline: pipeline, store: store, logger: logger)

        // A listed case waiting for the journal, whose citizen key is not a CPR number.
        let day = LocalDate(year: 2026, month: 11, day: 23)!
        var citizenCase = CitizenCase(citizen: CitizenKey("not-a-cpr"))
        let listed = citizenCase.apply(
            .listed(ListEntry(list: .list1, municipality: "851", clinic: "amb-syd-aalborg", asOf: day,
                              consent: .given(on: day, reference: "ref"))),
            context: CaseContext(ref: InboundRef(messageID: "m"), at: Date(), on: day), configuration: WorkflowConfiguration())
        #expect(listed.outcome == .accepted)
        let pseudonym = try Pseudonymizer(key: keys.pseudonymKey).pseudonym(forCPR: "0103304123")
        let timer = TimerRecord(
            timerID: "timer/case-x/statusUnknownTimeout", caseID: "case-x", kind: TimerKind.statusUnknownTimeout.rawValue,
            dueAt: Date(timeIntervalSince1970: 0), payload: Data("{}".utf8), createdAt: Date())
        try store.write { tx in
            _ = try tx.upsertCase(CaseRecord(
                caseID: "case-x", pseudonym: pseudonym, workflow: "A", municipality: "851", clinic: nil,
                status: citizenCase.stateName, state: citizenCase, updatedAt: Date()))
            _ = try tx.schedule(timer)
        }
        let before = try #require(try store.case(id: "case-x"))

        #expect(try runner.fire(timer) == .orphan)
        let after = try #require(try store.case(id: "case-x"))
        #expect(after.status == before.status)
        #expect(after.state == before.state)
        #expect(try store.caseHistory(id: "case-x").isEmpty)
        #expect(try store.timer(id: timer.timerID)?.fired == true)
    }
}
