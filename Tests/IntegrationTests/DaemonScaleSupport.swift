import AMQP
import Foundation
import Store
import Testing

/// A generated municipal list 1 load (issue 4, test 1): citizens spread over the 11
/// municipalities, each with journal facts chosen so that every branch of R1 occurs, and the
/// outcome each citizen must reach, worked out HERE from the generated facts and R1 as
/// docs/domain.md states it, not by the Workflow module's routing code.
struct ScaleWorkload: Sendable {
    /// What the journal says about a citizen (relative to the list's date A).
    enum Category: String, Sendable, CaseIterable {
        case currentAtListClinic       // open course at the list's clinic since A-200
        case currentAtOtherClinic      // open course at the other clinic since A-50
        case closed365DaysBefore       // course closed exactly 365 days before A (inclusive)
        case closed100DaysBefore
        case closedAfterListDate       // closed A+2: still open on A, contact within the year
        case closed366DaysBefore       // just outside the year: no contact
        case acuteFollowedByCourse     // admission A-30 followed by an outpatient course
        case twoAcuteFailedMotivation  // ER A-40 + admission A-90, motivation failed: exception
        case threeAcuteTwoInYear       // rejected A-10, failed A-200, failed A-400 (outside)
        case oneAcuteFailedMotivation  // only one: the exception needs two
        case emergencyRoomOnly         // acute only, no follow-up: does not count
        case unknownToJournal          // known: false
        case courseBegunAfterListDate  // open course since A+1: not current as of A
        case journalNeverAnswers       // request sent, no answer: the case waits (timer not run)
        case noConsent                 // consent absent: held, nothing leaves (R4)
    }

    /// Where a citizen must end.
    enum Outcome: Hashable, Sendable, CustomStringConvertible {
        case assessment(clinic: String)
        case centralVisitation(reason: String)
        case notGroup2
        case awaitingJournal
        case heldForConsent

        var description: String {
            switch self {
            case .assessment(let c): "assessment-request → dd.clinic.\(c).assessments"
            case .centralVisitation(let r): "cv-referral (\(r)) → dd.cv.referrals"
            case .notGroup2: "not group 2 → municipality"
            case .awaitingJournal: "awaiting the journal"
            case .heldForConsent: "held for consent"
            }
        }

        /// CitizenCase.stateName in the store.
        var caseStatus: String {
            switch self {
            case .assessment: "workflowA.inAssessment"
            case .centralVisitation: "workflowA.referredToCentralVisitation"
            case .notGroup2: "workflowA.notGroup2"
            case .awaitingJournal: "workflowA.awaitingJournalStatus"
            case .heldForConsent: "workflowA.listed"
            }
        }
    }

    struct Citizen: Sendable {
        var index: Int
        var cpr: String
        var municipality: String
        var category: Category
    }

    /// Message ids start with it; the same name gives the same ids (runs are comparable).
    let name: String
    let citizens: [Citizen]
    let batchSize: Int

    /// The category cycle (20 steps): current treatment is the common case.
    static let cycle: [Category] = [
        .currentAtListClinic, .currentAtListClinic, .currentAtListClinic, .currentAtListClinic,
        .currentAtOtherClinic, .closed365DaysBefore, .closed100DaysBefore, .closedAfterListDate,
        .closed366DaysBefore, .acuteFollowedByCourse, .twoAcuteFailedMotivation, .threeAcuteTwoInYear,
        .oneAcuteFailedMotivation, .emergencyRoomOnly, .unknownToJournal, .courseBegunAfterListDate,
        .journalNeverAnswers, .noConsent, .currentAtListClinic, .closed100DaysBefore,
    ]

    /// Lists dated before group 3's start (2026-07-01, R8) route "no contact" to "not group
    /// 2"; the others to a group-3 referral.
    static let earlyMunicipalities: Set<String> = ["810", "825", "773", "840"]
    static let group3Start = "2026-07-01"

    init(name: String, count: Int, batchSize: Int = 250) {
        self.name = name
        self.batchSize = batchSize
        let codes = ScaleDirectory.municipalities
        citizens = (0..<count).map { i in
            Citizen(index: i, cpr: Self.cpr(i), municipality: codes[i % codes.count],
                    category: Self.cycle[(i / codes.count) % Self.cycle.count])
        }
    }

    /// A valid CPR number, unique per index below 33,600: DDMMYY from the index (day 1–28,
    /// so always a date), 7th digit 0–3 (1900s), three more digits. No modulus-11 check
    /// (CPR.swift: the contract must not apply one), so most of these fail it on purpose.
    static func cpr(_ i: Int) -> String {
        let day = i % 28 + 1
        let month = (i / 28) % 12 + 1
        let yy = (i / 336) % 100
        let seventh = i % 4
        let rest = (i * 7919) % 1000
        return String(format: "%02d%02d%02d%d%03d", day, month, yy, seventh, rest)
    }

    func asOf(_ municipality: String) -> String {
        Self.earlyMunicipalities.contains(municipality) ? "2026-06-15" : "2026-11-20"
    }

    func listClinic(_ municipality: String) -> String { ScaleDirectory.clinic(of: municipality) }

    func listID(_ municipality: String) -> String { "\(name)-list-\(municipality)" }

    /// R1, restated for the generated facts (docs/domain.md): current treatment → that clinic;
    /// closed course or counted acute contact within 365 days (inclusive) → Central
    /// Visitation; no qualifying contact → group 3 referral from 2026-07-01, else not group 2;
    /// no answer → waits; no consent → held.
    func outcome(_ c: Citizen) -> Outcome {
        let noContact: Outcome = asOf(c.municipality) >= Self.group3Start
            ? .centralVisitation(reason: "group-3") : .notGroup2
        switch c.category {
        case .currentAtListClinic: return .assessment(clinic: listClinic(c.municipality))
        case .currentAtOtherClinic:
            return .assessment(clinic: ScaleDirectory.clinics.first { $0 != listClinic(c.municipality) }!)
        case .closed365DaysBefore, .closed100DaysBefore, .closedAfterListDate, .acuteFollowedByCourse:
            return .centralVisitation(reason: "closed-course-within-year")
        case .twoAcuteFailedMotivation, .threeAcuteTwoInYear:
            return .centralVisitation(reason: "repeated-acute-contacts")
        case .closed366DaysBefore, .oneAcuteFailedMotivation, .emergencyRoomOnly, .unknownToJournal,
             .courseBegunAfterListDate:
            return noContact
        case .journalNeverAnswers: return .awaitingJournal
        case .noConsent: return .heldForConsent
        }
    }

    /// Citizens the journal is asked about (consent given).
    var requested: [Citizen] { citizens.filter { $0.category != .noConsent } }
    /// Citizens the journal answers, in fixed batches per municipality.
    var batches: [(id: String, municipality: String, citizens: [Citizen])] {
        var out: [(String, String, [Citizen])] = []
        for code in ScaleDirectory.municipalities {
            let answered = citizens.filter {
                $0.municipality == code && $0.category != .noConsent && $0.category != .journalNeverAnswers
            }
            for (k, start) in stride(from: 0, to: answered.count, by: batchSize).enumerated() {
                out.append(("\(name)-cs-\(code)-\(k)", code, Array(answered[start..<min(start + batchSize, answered.count)])))
            }
        }
        return out
    }

    // MARK: - bodies

    nonisolated(unsafe) static let municipalInformation: Any = {
        let example = try! JSONSerialization.jsonObject(
            with: Data(contentsOf: Broker.repoRoot.appendingPathComponent("Config/examples/municipal-list.json")))
        let entries = (example as! [String: Any])["entries"] as! [[String: Any]]
        return entries[0]["municipalInformation"]!
    }()

    func listBody(_ municipality: String) throws -> Data {
        let entries: [[String: Any]] = citizens.filter { $0.municipality == municipality }.map { c in
            let consent: [String: Any] = c.category == .noConsent
                ? ["status": "absent"]
                : ["status": "given", "date": "2026-05-02", "directions": ["municipality-to-region", "region-to-municipality"],
                   "declarationRef": "SAMTYKKE-\(c.index)"]
            return ["cpr": c.cpr, "consent": consent, "municipalInformation": Self.municipalInformation]
        }
        return try JSONSerialization.data(withJSONObject: [
            "schemaVersion": "1.0", "municipality": municipality, "clinic": listClinic(municipality),
            "listKind": "list-1", "asOf": asOf(municipality), "entries": entries,
        ], options: [.sortedKeys])
    }

    func statusBody(_ batch: [Citizen], municipality: String) throws -> Data {
        let a = asOf(municipality)
        func day(_ offset: Int) -> String { Self.day(a, plus: offset) }
        func acute(_ offset: Int, _ kind: String, followUp: Bool = false, failed: Bool = false, rejected: Bool = false)
            -> [String: Any]
        {
            ["date": day(offset), "kind": kind, "outpatientFollowUp": followUp, "motivationFailed": failed,
             "treatmentRejectedShortlyAfter": rejected]
        }
        let list = listClinic(municipality)
        let other = ScaleDirectory.clinics.first { $0 != list }!
        let entries: [[String: Any]] = batch.map { c in
            var e: [String: Any] = ["cpr": c.cpr, "known": true]
            switch c.category {
            case .currentAtListClinic: e["currentCourse"] = ["clinic": list, "since": day(-200)]
            case .currentAtOtherClinic: e["currentCourse"] = ["clinic": other, "since": day(-50)]
            case .closed365DaysBefore:
                e["closedCourses"] = [["clinic": list, "openedOn": day(-700), "closedOn": day(-365)]]
            case .closed100DaysBefore:
                e["closedCourses"] = [["clinic": other, "openedOn": day(-400), "closedOn": day(-100)]]
            case .closedAfterListDate:
                e["closedCourses"] = [["clinic": list, "openedOn": day(-300), "closedOn": day(2)]]
            case .closed366DaysBefore:
                e["closedCourses"] = [["clinic": list, "openedOn": day(-900), "closedOn": day(-366)]]
            case .acuteFollowedByCourse: e["acuteContacts"] = [acute(-30, "admission", followUp: true)]
            case .twoAcuteFailedMotivation:
                e["acuteContacts"] = [acute(-40, "emergency-room", failed: true), acute(-90, "admission", failed: true)]
            case .threeAcuteTwoInYear:
                e["acuteContacts"] = [
                    acute(-10, "emergency-room", rejected: true), acute(-200, "short-stabilising-admission", failed: true),
                    acute(-400, "emergency-room", failed: true),
                ]
            case .oneAcuteFailedMotivation: e["acuteContacts"] = [acute(-20, "emergency-room", failed: true)]
            case .emergencyRoomOnly: e["acuteContacts"] = [acute(-5, "emergency-room")]
            case .unknownToJournal: e["known"] = false
            case .courseBegunAfterListDate: e["currentCourse"] = ["clinic": list, "since": day(1)]
            case .journalNeverAnswers, .noConsent: break
            }
            return e
        }
        return try JSONSerialization.data(withJSONObject: [
            "schemaVersion": "1.0", "asOf": a, "entries": entries,
        ], options: [.sortedKeys])
    }

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    static func day(_ iso: String, plus days: Int) -> String {
        let parts = iso.split(separator: "-").map { Int($0)! }
        let date = utc.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))!
        let shifted = utc.date(byAdding: .day, value: days, to: date)!
        let c = utc.dateComponents([.year, .month, .day], from: shifted)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }
}

/// The journal integration's side: consumes `dd.journal.journal-rn.requests` as the
/// journal's broker user, records every contact-status-request and receipt, and answers a
/// batch of citizens with one `contact-status` (published as the journal) once every
/// citizen of the batch has been asked about. Batches are fixed by the workload, so the
/// answers' message_ids do not depend on timing.
actor JournalPeer {
    let workload: ScaleWorkload
    let sender: SenderClient
    let queue = "dd.journal.\(ScaleDirectory.journal).requests"
    /// cpr → distinct request message_ids, and how many copies arrived.
    private(set) var requests: [String: Set<String>] = [:]
    private(set) var requestCopies = 0
    private(set) var receipts: [Mailbox.Message] = []
    private(set) var unexpected: [String] = []
    private(set) var sentBatches = 0
    private var waiting: [String: Set<String>] = [:]
    private var batchOf: [String: String] = [:]
    private var bodies: [String: (municipality: String, citizens: [ScaleWorkload.Citizen])] = [:]
    private var consumer: Task<Void, Never>?
    private var sends: [Task<Void, Never>] = []
    private let answer: Bool

    init(workload: ScaleWorkload, answer: Bool = true) {
        self.workload = workload
        self.answer = answer
        sender = SenderClient(user: ScaleDirectory.journalUser, name: "it.journal-peer")
        for batch in workload.batches {
            waiting[batch.id] = Set(batch.citizens.map(\.cpr))
            bodies[batch.id] = (batch.municipality, batch.citizens)
            for c in batch.citizens { batchOf[c.cpr] = batch.id }
        }
    }

    func start() async throws {
        try await sender.client.waitUntilConnected(timeout: .seconds(30))
        let stream = sender.client.consume(queue: queue, prefetch: 500)
        let client = sender.client
        consumer = Task {
            do {
                for try await d in stream {
                    self.handle(d)
                    client.ack(d.tag)
                }
            } catch {
                self.note("consuming the journal queue failed: \(error)")
            }
        }
    }

    private func note(_ s: String) { unexpected.append(s) }

    private func handle(_ d: Delivery) {
        switch d.properties.type {
        case "contact-status-request":
            requestCopies += 1
            guard let json = try? JSONSerialization.jsonObject(with: d.body) as? [String: Any],
                  let cpr = json["cpr"] as? String, let id = d.properties.messageID
            else {
                unexpected.append("unreadable contact-status-request \(d.properties.messageID ?? "-")")
                return
            }
            requests[cpr, default: []].insert(id)
            guard answer, let batch = batchOf[cpr] else { return }
            if waiting[batch]?.remove(cpr) != nil, waiting[batch]?.isEmpty == true {
                send(batch)
            }
        case "receipt":
            receipts.append(.init(
                queue: queue, type: d.properties.type, messageID: d.properties.messageID,
                correlationID: d.properties.correlationID, routingKey: d.routingKey, redelivered: d.redelivered,
                headers: d.properties.headers, body: d.body))
        default:
            unexpected.append("unexpected \(d.properties.type ?? "untyped") message on the journal queue")
        }
    }

    private func send(_ batch: String) {
        guard let (municipality, citizens) = bodies[batch] else { return }
        sentBatches += 1
        let workload = workload
        let sender = sender
        sends.append(Task {
            do {
                let body = try workload.statusBody(citizens, municipality: municipality)
                try await sender.send(exchange: "dd.in.journal.\(ScaleDirectory.journal)", type: "contact-status",
                                      messageID: batch, body: body)
            } catch {
                self.note("sending \(batch) failed: \(error)")
            }
        })
    }

    func stop() async {
        for task in sends { await task.value }
        await sender.client.stopConsuming()
        await consumer?.value
        await sender.close()
    }
}

/// What a run of `ddrouter run` with a workload produced.
struct ScaleResult: Sendable {
    var workload: ScaleWorkload
    var messages: [Mailbox.Message]
    var journalRequests: [String: Set<String>]
    var journalRequestCopies: Int
    var journalReceipts: [Mailbox.Message]
    var peerProblems: [String]
    var exitCode: Int32?
    var storePath: String
    var log: String
    var seconds: Double
    var disturbances: [String]
    /// The SIGTERM stops in the middle of the run (`Disturbance.sigterm`).
    var stops: [StopObservation] = []

    /// Every message in the outbound queues except receipts: the routed events.
    var events: [Mailbox.Message] { messages.filter { $0.type != "receipt" && $0.queue != "ddrouter.dead" } }
}

enum Disturbance: Sendable {
    case none
    /// SIGKILL the daemon once this share of the expected routed events has arrived, then start it again.
    case kill9(atShare: Double)
    /// `rabbitmqctl stop_app`, then `start_app`, once this share has arrived.
    case brokerRestart(atShare: Double)
    /// SIGTERM once this share has arrived (a second SIGTERM as soon as the daemon says
    /// STOPPING=1 when `twice`), wait for the exit, then start it again.
    case sigterm(atShare: Double, twice: Bool)
    /// Runs `body` once this share has arrived (the harness waits for it); its text is the
    /// disturbance's description. `body` records its own issues: it does not throw, so the
    /// harness always stops what it started (NetworkFaultTests: a network fault).
    case custom(atShare: Double, body: @Sendable (DaemonProcess) async -> String)
}

/// How a daemon stopped on SIGTERM in the middle of a run.
struct StopObservation: Sendable {
    var signals: Int
    /// The raw wait status; nil if it did not exit within the bound (it was then killed).
    var waitStatus: Int32?
    var seconds: Double
    /// "message processed" log lines after the "stopping" line: the message in hand only.
    var processedAfterStop: Int
    /// `pipeline.in_hand` of the daemon's `stopping` line: deliveries taken and not yet settled.
    var inHandAtStop: Int?

    var exitCode: Int32? { waitStatus.flatMap(DaemonProcess.exitCode) }
}

enum ScaleHarness {
    static var outboundQueues: [String] {
        ScaleDirectory.clinics.map { "dd.clinic.\($0).assessments" } + ["dd.cv.referrals"]
            + ScaleDirectory.municipalities.map { "dd.municipality.\($0).inbox" } + ["ddrouter.dead"]
    }

    /// Runs the daemon as a subprocess on a fresh store, sends the workload's lists, lets the
    /// journal peer answer, waits until every expected receipt and routed event has arrived
    /// (plus a quiet second), stops the daemon with SIGTERM and returns what arrived.
    static func run(_ workload: ScaleWorkload, disturbance: Disturbance = .none,
                    timeout: Duration = .seconds(600),
                    daemon makeDaemon: () throws -> DaemonProcess = { try DaemonProcess() })
        async throws -> (ScaleResult, DaemonProcess)
    {
        try await ScaleDirectory.ensureUsers()
        let started = ContinuousClock.now
        let collector = Collector()
        try await collector.purge(["ddrouter.inbound", "dd.journal.\(ScaleDirectory.journal).requests"] + outboundQueues)
        let daemon = try makeDaemon()
        try await daemon.start()
        try await collector.purge(["dd.journal.\(ScaleDirectory.journal).requests"] + outboundQueues)
        collector.consume(outboundQueues)
        let peer = JournalPeer(workload: workload)
        try await peer.start()

        let expectedRouted = workload.citizens.filter {
            switch workload.outcome($0) {
            case .assessment, .centralVisitation: true
            default: false
            }
        }.count
        let expectedReceipts = ScaleDirectory.municipalities.count + workload.batches.count

        // The municipalities send their lists at once, each as its own broker user.
        let senders = ScaleDirectory.municipalities.map {
            SenderClient(user: ScaleDirectory.user(municipality: $0), name: "it.municipality-\($0)")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (code, sender) in zip(ScaleDirectory.municipalities, senders) {
                group.addTask {
                    try await sender.client.waitUntilConnected(timeout: .seconds(30))
                    try await sender.send(exchange: "dd.in.municipality.\(code)", type: "municipal-list",
                                          messageID: workload.listID(code), body: try workload.listBody(code))
                }
            }
            try await group.waitForAll()
        }

        var disturbances: [String] = []
        var stops: [StopObservation] = []
        var pendingDisturbance = disturbance
        func routedSoFar() async -> Int {
            Set(await collector.mailbox.messages.filter {
                $0.type == "assessment-request" || $0.type == "cv-referral"
            }.compactMap(\.messageID)).count
        }
        func receiptsSoFar() async -> Int {
            let lists = Set(await collector.mailbox.messages.filter { $0.type == "receipt" }.compactMap(\.correlationID)).count
            let statuses = Set(await peer.receipts.compactMap(\.correlationID)).count
            return lists + statuses
        }
        let deadline = ContinuousClock.now + timeout
        var complete = false
        while ContinuousClock.now < deadline {
            let routed = await routedSoFar()
            switch pendingDisturbance {
            case .kill9(let share) where Double(routed) >= share * Double(expectedRouted):
                try daemon.kill()
                disturbances.append("kill -9 after \(routed) of \(expectedRouted) routed events")
                try await daemon.start()
                pendingDisturbance = .none
            case .brokerRestart(let share) where Double(routed) >= share * Double(expectedRouted):
                _ = try await offPool { try Broker.ctl("stop_app") }
                try await Task.sleep(for: .seconds(1))
                _ = try await offPool { try Broker.ctl("start_app") }
                disturbances.append("broker stop_app/start_app after \(routed) of \(expectedRouted) routed events")
                pendingDisturbance = .none
            case .sigterm(let share, let twice) where Double(routed) >= share * Double(expectedRouted):
                let logBefore = daemon.logText().count
                let t0 = ContinuousClock.now
                daemon.send(signal: SIGTERM)
                if twice, try await daemon.waitForNotification("STOPPING=1", timeout: .seconds(10)) {
                    daemon.send(signal: SIGTERM)
                }
                var status = try await daemon.waitForExit(timeout: .seconds(60))
                let elapsed = ContinuousClock.now - t0
                if status == nil { _ = try daemon.kill(); status = nil }
                let log = String(daemon.logText().dropFirst(logBefore))
                let afterStop = log.range(of: "stopping").map { log[$0.upperBound...] } ?? ""
                let processed = afterStop.components(separatedBy: "message processed").count - 1
                // The daemon logs how many deliveries it had in hand when it stopped taking more.
                // (`"pipeline.in_hand":"2"` in JSON lines, `pipeline.in_hand=2` in text lines).
                let inHand = (log.range(of: "\"pipeline.in_hand\":\"") ?? log.range(of: "pipeline.in_hand=")).flatMap { start in
                    Int(log[start.upperBound...].prefix(while: \.isNumber))
                }
                stops.append(StopObservation(
                    signals: twice ? 2 : 1, waitStatus: status,
                    seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                    processedAfterStop: processed, inHandAtStop: inHand))
                disturbances.append("SIGTERM\(twice ? " twice" : "") after \(routed) of \(expectedRouted) routed events")
                try await daemon.start()
                pendingDisturbance = .none
            case .custom(let share, let body) where Double(routed) >= share * Double(expectedRouted):
                pendingDisturbance = .none
                disturbances.append("\(await body(daemon)) after \(routed) of \(expectedRouted) routed events")
            default:
                break
            }
            if routed >= expectedRouted, await receiptsSoFar() >= expectedReceipts {
                complete = true
                break
            }
            if !daemon.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        // A quiet period: whatever else the daemon sends (copies, unmapped kinds) arrives.
        var last = await collector.mailbox.messages.count
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1500))
            let now = await collector.mailbox.messages.count
            if now == last { break }
            last = now
        }
        // The peer, collector and senders stop whatever the daemon did: left running, they
        // would consume the next test's queues.
        let exit: Int32?
        do {
            exit = daemon.isRunning ? try await daemon.terminate() : nil
        } catch {
            await peer.stop()
            await collector.stop()
            for s in senders { await s.close() }
            throw error
        }
        let seconds = Double((ContinuousClock.now - started).components.seconds)
            + Double((ContinuousClock.now - started).components.attoseconds) / 1e18
        try await Task.sleep(for: .milliseconds(300))
        await peer.stop()
        await collector.stop()
        for s in senders { await s.close() }
        if !complete {
            Issue.record("""
                run \(workload.name) did not complete within \(timeout): \(await routedSoFar()) of \(expectedRouted) \
                routed events, \(await receiptsSoFar()) of \(expectedReceipts) receipts; daemon log tail:
                \(daemon.logTail())
                """)
        }
        let result = ScaleResult(
            workload: workload, messages: await collector.mailbox.messages, journalRequests: await peer.requests,
            journalRequestCopies: await peer.requestCopies, journalReceipts: await peer.receipts,
            peerProblems: await peer.unexpected, exitCode: exit, storePath: daemon.storePath, log: daemon.logText(),
            seconds: seconds, disturbances: disturbances, stops: stops)
        return (result, daemon)
    }

    static func openStore(_ path: String) throws -> (Store, Pseudonymizer) {
        let keys = try StoreKeys(master: Data(DaemonProcess.storeKey.utf8))
        return (try Store(path: path, auditKey: keys.auditKey), try Pseudonymizer(key: keys.pseudonymKey))
    }

    /// The guarantees of issue 4, tests 1–3, for one run.
    static func verify(_ r: ScaleResult, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let w = r.workload
        #expect(r.exitCode == 0, "daemon exit after SIGTERM", sourceLocation: sourceLocation)
        #expect(r.peerProblems.isEmpty, "\(r.peerProblems.prefix(5))", sourceLocation: sourceLocation)
        let dead = r.messages.filter { $0.queue == "ddrouter.dead" }
        #expect(dead.isEmpty, "dead letters: \(dead.prefix(3).map { $0.messageID ?? "-" })", sourceLocation: sourceLocation)

        // Routed events per citizen: exactly one distinct message_id, in the right queue, with
        // the right type and reason, carrying its explanation. Copies with the same id are allowed.
        var byCPR: [String: [Mailbox.Message]] = [:]
        var unreadable = 0
        for m in r.events {
            guard let cpr = m.json?["cpr"] as? String else {
                unreadable += 1
                continue
            }
            byCPR[cpr, default: []].append(m)
        }
        #expect(unreadable == 0, "routed events without a cpr", sourceLocation: sourceLocation)
        var expectedCounts: [String: Int] = [:]
        var actualCounts: [String: Int] = [:]
        var wrong: [String] = []
        let citizenByCPR = Dictionary(uniqueKeysWithValues: w.citizens.map { ($0.cpr, $0) })
        var batchOf: [String: String] = [:]
        for b in w.batches { for c in b.citizens { batchOf[c.cpr] = b.id } }
        for cpr in byCPR.keys where citizenByCPR[cpr] == nil { wrong.append("event for a citizen not on any list") }
        for c in w.citizens {
            let expected = w.outcome(c)
            expectedCounts[expected.description, default: 0] += 1
            let got = byCPR[c.cpr] ?? []
            let ids = Set(got.compactMap(\.messageID))
            switch expected {
            case .awaitingJournal, .heldForConsent:
                if !got.isEmpty { wrong.append("#\(c.index) (\(c.category)): \(got.count) events, expected none") }
                actualCounts[expected.description, default: 0] += got.isEmpty ? 1 : 0
                continue
            case .notGroup2, .assessment, .centralVisitation:
                break
            }
            guard ids.count == 1, let m = got.first else {
                wrong.append("#\(c.index) (\(c.category)): \(ids.count) distinct events, expected one (\(expected))")
                continue
            }
            for copy in got where copy.body != m.body || copy.queue != m.queue {
                wrong.append("#\(c.index): copies of \(m.messageID ?? "-") differ")
            }
            let json = m.json ?? [:]
            let actual: ScaleWorkload.Outcome?
            switch (m.queue, m.type) {
            case ("dd.cv.referrals", "cv-referral"): actual = .centralVisitation(reason: json["reason"] as? String ?? "?")
            case (let q, "assessment-request") where q.hasPrefix("dd.clinic."):
                actual = .assessment(clinic: String(q.dropFirst("dd.clinic.".count).dropLast(".assessments".count)))
                if json["clinic"] as? String != String(q.dropFirst("dd.clinic.".count).dropLast(".assessments".count)) {
                    wrong.append("#\(c.index): assessment-request body names another clinic than its queue")
                }
            case ("dd.municipality.\(c.municipality).inbox", _): actual = .notGroup2
            default: actual = nil
            }
            if let actual { actualCounts[actual.description, default: 0] += 1 }
            if actual != expected {
                wrong.append("#\(c.index) (\(c.category)): \(m.type ?? "-") in \(m.queue), expected \(expected)")
            }
            if json["municipality"] as? String != c.municipality {
                wrong.append("#\(c.index): event names municipality \(json["municipality"] ?? "-")")
            }
            // Its explanation: R1, the facts used, the rules version.
            let explanation = json["explanation"] as? [String: Any]
            let facts = explanation?["facts"] as? [String] ?? []
            if explanation?["rule"] as? String != "R1" || facts.isEmpty
                || (explanation?["rulesVersion"] as? String ?? "").isEmpty
            {
                wrong.append("#\(c.index): event without its R1 explanation")
            }
            // docs/messages.md: an assessment-request correlates to the list that listed the
            // citizen; the other routing events to the journal answer that routed them.
            if m.type == "assessment-request" ? m.correlationID != w.listID(c.municipality) : m.correlationID != batchOf[c.cpr] {
                wrong.append("#\(c.index): \(m.type ?? "-")'s correlation_id is not the message the contract says")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) citizens wrong, first: \(wrong.prefix(8))", sourceLocation: sourceLocation)
        print("\(w.name): per queue and reason (expected / arrived):\n"
              + expectedCounts.keys.sorted().map { "  \($0): \(expectedCounts[$0] ?? 0) / \(actualCounts[$0] ?? 0)" }
              .joined(separator: "\n"))
        #expect(actualCounts == expectedCounts,
                "per queue and reason: expected \(expectedCounts.sorted { $0.key < $1.key }), got \(actualCounts.sorted { $0.key < $1.key })",
                sourceLocation: sourceLocation)

        // Journal requests: one distinct request per citizen with consent, none for the others.
        let requested = Set(w.requested.map(\.cpr))
        let askedTwice = r.journalRequests.filter { $0.value.count != 1 }.count
        #expect(Set(r.journalRequests.keys) == requested,
                "\(requested.subtracting(r.journalRequests.keys).count) citizens never asked about, \(Set(r.journalRequests.keys).subtracting(requested).count) asked about without consent",
                sourceLocation: sourceLocation)
        #expect(askedTwice == 0, "\(askedTwice) citizens with several distinct requests", sourceLocation: sourceLocation)

        // Receipts: every inbound message exactly one receipt (copies byte-identical), ok,
        // with every entry accepted.
        var receiptsFor: [String: [Mailbox.Message]] = [:]
        for m in r.messages where m.type == "receipt" { receiptsFor[m.correlationID ?? "-", default: []].append(m) }
        for m in r.journalReceipts { receiptsFor[m.correlationID ?? "-", default: []].append(m) }
        var expectedInbound: [String: (queue: String, entries: Int)] = [:]
        for code in ScaleDirectory.municipalities {
            expectedInbound[w.listID(code)] = ("dd.municipality.\(code).inbox", w.citizens.filter { $0.municipality == code }.count)
        }
        for b in w.batches { expectedInbound[b.id] = ("dd.journal.\(ScaleDirectory.journal).requests", b.citizens.count) }
        #expect(Set(receiptsFor.keys) == Set(expectedInbound.keys),
                "receipts for \(Set(receiptsFor.keys).symmetricDifference(expectedInbound.keys).sorted().prefix(5))",
                sourceLocation: sourceLocation)
        var receiptProblems: [String] = []
        for (id, copies) in receiptsFor {
            guard let expected = expectedInbound[id], let first = copies.first else { continue }
            if Set(copies.compactMap(\.messageID)).count != 1 { receiptProblems.append("\(id): several receipt ids") }
            if copies.contains(where: { $0.body != first.body }) { receiptProblems.append("\(id): receipt copies differ") }
            if first.queue != expected.queue { receiptProblems.append("\(id): receipt in \(first.queue)") }
            let json = first.json ?? [:]
            if json["status"] as? String != "ok" || json["acceptedEntries"] as? Int != expected.entries
                || !((json["rejectedEntries"] as? [Any])?.isEmpty ?? true)
            {
                receiptProblems.append("\(id): \(json["status"] ?? "-") accepted \(json["acceptedEntries"] ?? "-") of \(expected.entries)")
            }
        }
        #expect(receiptProblems.isEmpty, "\(receiptProblems.prefix(5))", sourceLocation: sourceLocation)

        // The store: each citizen's case in the expected state; nothing left in the outbox;
        // the audit trail verifies.
        let (store, pseudonymizer) = try openStore(r.storePath)
        defer { try? store.close() }
        var stateProblems: [String] = []
        for c in w.citizens {
            let cases = try store.cases(pseudonym: try pseudonymizer.pseudonym(forCPR: c.cpr))
            let status = cases.map(\.status)
            if status != [w.outcome(c).caseStatus] {
                stateProblems.append("#\(c.index) (\(c.category)): \(status), expected \(w.outcome(c).caseStatus)")
            }
        }
        #expect(stateProblems.isEmpty, "\(stateProblems.count) cases: \(stateProblems.prefix(5))", sourceLocation: sourceLocation)
        #expect(try store.pendingOutbox(limit: 10).isEmpty, "outbox not empty", sourceLocation: sourceLocation)
        let audit = try store.verifyAudit()
        #expect(audit.isOK, "\(audit)", sourceLocation: sourceLocation)
        // The log never carries a CPR number.
        let leaked = w.citizens.prefix(500).filter { r.log.contains($0.cpr) }.count
        #expect(leaked == 0, "CPR numbers in the daemon log", sourceLocation: sourceLocation)
    }

    /// The distinct outbound messages of a run (queue, message_id) with their bodies without
    /// the fields that carry the wall clock, for comparing a disturbed run with an undisturbed one.
    static func fingerprint(_ r: ScaleResult) -> [String: String] {
        var out: [String: String] = [:]
        let volatile: Set<String> = ["receivedAt", "requestedAt", "replyBy"]
        for m in r.messages + r.journalReceipts {
            guard var json = m.json else { continue }
            for k in volatile { json.removeValue(forKey: k) }
            let text = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
                .map { String(decoding: $0, as: UTF8.self) } ?? ""
            out["\(m.queue) \(m.messageID ?? "-")"] = text
        }
        for (cpr, ids) in r.journalRequests { out["journal-request \(cpr)"] = ids.sorted().joined(separator: ",") }
        return out
    }
}

/// Undisturbed runs, kept for the tests that compare a disturbed run with one.
actor Baselines {
    static let shared = Baselines()
    private var runs: [String: [String: String]] = [:]
    func store(_ r: ScaleResult) { runs[r.workload.name] = ScaleHarness.fingerprint(r) }
    func fingerprint(_ name: String) -> [String: String]? { runs[name] }
}
