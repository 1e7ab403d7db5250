import Contract
@testable import Daemon
import Foundation
import Testing
import Workflow

/// docs/messages.md, "Outbound messages": each outbound type's section names the routing keys
/// (`<audience>.<type>`) it is sent with. This pins that list to what the code emits: many
/// seeded random input sequences (a third of them from workflow B's inputs only) drive
/// `CitizenCase` through workflows A and B, consent
/// changes and timers, every event is mapped to its wire message as the daemon maps it
/// (`OutboundMapper`), and the (type, audience kind) pairs seen must be exactly the documented
/// ones. Receipts and reconciliation reports are not workflow events: their audiences are the
/// ones `Pipeline.receiptRow` (the sender's) and `Pipeline.reconcile` (the pair) use.
@Suite("docs/messages.md: outbound audiences")
struct AudienceDocTests {
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return url
    }()

    /// `cv`, `clinic.<id>`, `municipality.<code>`, `journal.<id>` of a routing key or doc pattern.
    static func audienceKind(ofRoutingKey key: String, type: String) -> String? {
        guard key.hasSuffix("." + type) else { return nil }
        let audience = String(key.dropLast(type.count + 1))
        if audience == "cv" { return "cv" }
        for kind in ["clinic", "municipality", "journal"] where audience.hasPrefix(kind + ".") { return kind }
        return nil
    }

    /// Per outbound type, the audience kinds its section's routing keys name.
    static func documented() throws -> [String: Set<String>] {
        let text = try String(contentsOf: repoRoot.appendingPathComponent("docs/messages.md"), encoding: .utf8)
        guard let start = text.range(of: "\n## Outbound messages\n"), let end = text.range(of: "\n## Dead letters\n") else {
            throw DocError(message: "docs/messages.md has no Outbound messages section")
        }
        var result: [String: Set<String>] = [:]
        for section in text[start.upperBound..<end.lowerBound].components(separatedBy: "\n### `").dropFirst() {
            let type = String(section.prefix { $0 != "`" })
            guard let line = section.split(separator: "\n").first(where: { $0.hasPrefix("- **Exchange:**") }) else { continue }
            let keys = line.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            result[type] = Set(keys.compactMap { audienceKind(ofRoutingKey: $0, type: type) })
        }
        return result
    }

    struct DocError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static let codeBook = CodeBook(clinics: ["amb-syd-aalborg", "amb-nord-hjoerring"], journals: ["journal-rn"])
    static let mapper = OutboundMapper(names: Contract.Topology(), codeBook: codeBook, workflow: WorkflowConfiguration())
    static let start = LocalDate(year: 2026, month: 11, day: 23)!

    /// The inputs the random sequences draw from: every input kind, with the variants that
    /// lead to different events.
    static func inputs(on day: LocalDate) -> [CaseInput] {
        let given = ConsentStatus.given(on: day.adding(days: -30), reference: "decl-1")
        let clinic: ClinicID = "amb-syd-aalborg"
        let facts: [ContactFacts] = [
            ContactFacts(currentCourses: [CurrentCourse(clinic: clinic, since: day.adding(days: -300))]),
            ContactFacts(closedCourses: [ClosedCourse(clinic: "x", closedOn: day.adding(days: -30))]),
            .none,
        ]
        var inputs: [CaseInput] = [
            .listed(ListEntry(list: .list1, municipality: "851", clinic: clinic, asOf: day, consent: given)),
            .listed(ListEntry(list: .list1, municipality: "851", clinic: nil, asOf: day, consent: .absent)),
            .listed(ListEntry(list: .list2, municipality: "851", clinic: clinic, asOf: day, consent: given)),
            .referral(ReferralInput(municipality: "851", clinic: clinic, asOf: day, from: .clinic(clinic))),
            .referral(ReferralInput(municipality: "851", clinic: nil, asOf: day, from: .journal)),
            .referral(ReferralInput(municipality: "851", clinic: nil, asOf: day, from: .municipality("851"))),
            .consentUpdate(ConsentUpdate(status: given)),
            .consentUpdate(ConsentUpdate(status: .withdrawn(on: day))),
            .consentUpdate(ConsentUpdate(status: .withdrawn(on: day), directions: [.regionToMunicipality])),
            .assessment(AssessmentInput(result: .integrated, clinic: clinic, proposedTransitionOn: day.adding(days: 20))),
            .assessment(AssessmentInput(result: .coordinated, clinic: clinic)),
            .assessment(AssessmentInput(result: .needsMoreInformation, clinic: clinic)),
            .municipalPosition(.agree), .municipalPosition(.disagree),
            .meetingOutcome(.overview),
            .meetingOutcome(.decision(DecisionInput(course: .integrated, transitionOn: day.adding(days: 7)))),
            .meetingOutcome(.decision(DecisionInput(course: .coordinated, municipalityAgrees: false, psychiatryStatement: "s"))),
            .meetingOutcome(.network(transitionOn: day.adding(days: 14))),
            .meetingOutcome(.collaboration(.agreed(.coordinated))),
            .meetingOutcome(.collaboration(.psychiatryDecides(.coordinated, statement: "s"))),
            .transitionProposal(TransitionProposal(municipality: "851", clinic: clinic)),
            .jointPlan(.koordinationsplan), .knowledgeHandover, .patientChoice, .treatmentStarted(on: day),
        ]
        inputs += facts.map { CaseInput.contactStatus($0) }
        inputs += TimerKind.allCases.map { CaseInput.timerFired($0) }
        return inputs
    }

    /// Workflow B's inputs (R7), the only ones drawn from in a third of the sequences: the
    /// whole of workflow B is a chain that sequences drawing from every input seldom complete.
    static func workflowBInputs(on day: LocalDate) -> [CaseInput] {
        let clinic: ClinicID = "amb-syd-aalborg"
        return [
            .consentUpdate(ConsentUpdate(status: .given(on: day.adding(days: -30), reference: "decl-1"))),
            .transitionProposal(TransitionProposal(municipality: "851", clinic: clinic)),
            .municipalPosition(.agree), .municipalPosition(.disagree),
            .meetingOutcome(.collaboration(.agreed(.coordinated))),
            .meetingOutcome(.collaboration(.psychiatryDecides(.coordinated, statement: "s"))),
            .meetingOutcome(.network(transitionOn: day.adding(days: 14))),
            .jointPlan(.koordinationsplan), .jointPlan(.udskrivningsaftale), .jointPlan(.koordinerendeIndsatsplan),
            .knowledgeHandover, .patientChoice, .timerFired(.meetingReminder),
        ]
    }

    /// What the workflow's events become on the wire: "type → audience kind" and
    /// "type rule outcome" (the explanation's codes, from the `x-ddrouter-*` headers).
    struct Emitted {
        var audiences: Set<String> = []
        var explanations: Set<String> = []
    }

    /// One run of the seeded sequences, shared by the tests.
    static let run: Result<Emitted, any Error> = Result { try emitted(sequences: 6000, seed: 14) }

    static func emitted(sequences: Int, seed: UInt64) throws -> Emitted {
        var rng = Generator(seed: seed)
        var seen = Emitted()
        let cpr = try #require(CPR("0103304123"))
        for sequence in 0..<sequences {
            var citizenCase = CitizenCase(citizen: CitizenKey("c\(sequence)"))
            var day = start
            let onlyB = sequence % 3 == 0
            for step in 0..<Int.random(in: 1...16, using: &rng) {
                let pool = onlyB ? workflowBInputs(on: day) : inputs(on: day)
                // Workflow B starts with consent in force and the proposal, then goes at random.
                let input = onlyB && step < 2 ? pool[step] : pool.randomElement(using: &rng)!
                let at = Date(timeIntervalSince1970: 1_795_420_800 + TimeInterval(day.daysSinceEpoch - start.daysSinceEpoch) * 86_400)
                let result = citizenCase.apply(
                    input, context: CaseContext(ref: InboundRef(messageID: "s\(sequence)-\(step)"), at: at, on: day),
                    configuration: WorkflowConfiguration())
                for event in result.events {
                    var data = OutboundMapper.CaseData(
                        municipality: "851", asOf: CalendarDate(iso: start.iso)!, municipalInformation: nil,
                        consentInForce: true, clinic: "amb-syd-aalborg", today: CalendarDate(iso: day.iso)!)
                    data.source = MessageSource(
                        messageId: "s\(sequence)", messageType: "municipal-list", sender: SenderRef(kind: .municipality, id: "851"))
                    let source = MessageSource(
                        messageId: "s\(sequence)-\(step)", messageType: input.name, sender: SenderRef(kind: .municipality, id: "851"))
                    guard case .publish(let row) = try mapper.message(
                        for: event, caseID: "case-1", cpr: cpr, data: data, source: source, at: at) else { continue }
                    if let kind = audienceKind(ofRoutingKey: row.routingKey, type: row.type) {
                        seen.audiences.insert("\(row.type) → \(kind)")
                    }
                    seen.explanations.insert(
                        "\(row.type) \(row.headers["x-ddrouter-rule"] ?? "-") \(row.headers["x-ddrouter-outcome"] ?? "-")")
                }
                day = day.adding(days: Int.random(in: 0...10, using: &rng))
            }
        }
        // Not workflow events: receipts go to the sender (any kind), reconciliation reports to the pair.
        for kind in SenderKind.allCases { seen.audiences.insert("receipt → \(kind.rawValue)") }
        seen.audiences.insert("reconciliation-report → municipality")
        seen.audiences.insert("reconciliation-report → clinic")
        seen.explanations.insert("reconciliation-report R3 lists-compared")  // Pipeline.reconcile
        return seen
    }

    @Test("Outbound messages (docs/messages.md): the routing keys each type's section lists are exactly the audiences the code sends it to")
    func documentedAudiencesAreTheEmittedOnes() throws {
        let documented = try Self.documented()
        #expect(Set(documented.keys) == Set(MessageType.outbound.map(\.rawValue)))
        let docPairs = Set(documented.flatMap { type, kinds in kinds.map { "\(type) → \($0)" } })
        let emitted = try Self.run.get().audiences
        #expect(emitted.subtracting(docPairs).isEmpty, "sent but not in docs/messages.md: \(emitted.subtracting(docPairs).sorted())")
        #expect(docPairs.subtracting(emitted).isEmpty, "documented but never sent: \(docPairs.subtracting(emitted).sorted())")
    }

    @Test("Outbound examples (docs/messages.md): each example's explanation (rule, outcome) is one the code sends with that type")
    func exampleExplanationsAreTheEmittedOnes() throws {
        let emitted = try Self.run.get().explanations
        let examples = Self.repoRoot.appendingPathComponent("Config/examples")
        var checked = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: examples.path).sorted() where file.hasSuffix(".json") {
            let type = String(file.prefix { $0 != "." })
            guard MessageType(rawValue: type)?.direction == .outbound else { continue }
            let body = try JSONSerialization.jsonObject(with: Data(contentsOf: examples.appendingPathComponent(file))) as? [String: Any]
            guard let explanation = body?["explanation"] as? [String: Any] else { continue }
            let key = "\(type) \(explanation["rule"] as? String ?? "-") \(explanation["outcome"] as? String ?? "-")"
            #expect(emitted.contains(key), "\(file): the router never sends \(key); it sends \(emitted.filter { $0.hasPrefix(type + " ") }.sorted())")
            checked += 1
        }
        #expect(checked >= 7)
    }

    /// SplitMix64, so the sequences are the same on every run.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
