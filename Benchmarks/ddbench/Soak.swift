import AMQP
import Foundation
import Synchronization

// `ddbench soak`: the one-hour soak of issue 17 (scripts/soak.sh, `make soak`). Runs the
// release daemon with a fresh store and a test clock against the broker of DDR_AMQP_*, puts a
// steady mixed load on it (municipal lists, referrals, the journal's answers, assessments,
// positions, decision meetings, consent withdrawals, workflow B from proposal to handover),
// moves the daemon's test clock forward so that timers fall due, samples the daemon every
// `--sample` seconds into a CSV, and at the end checks the pass criteria, the ledger among
// them: every message the soak sent, with the receipt and the events it expects, against what
// arrived. Prints PASS/FAIL per criterion; exit status 1 if any failed.
//
//   ddbench soak --ddrouter PATH --work DIR [--duration 1h] [--warmup 5m] [--rate 300]
//                [--sample 60s] [--clock-step 60s] [--clock-days 1] [--wal-limit-mib 64]
//                [--rss-limit-mib-per-hour 1] [--drain 5m]

enum Soak {
    struct Options: Sendable {
        var ddrouter = ".build/release/ddrouter"
        var work = URL(fileURLWithPath: "var/soak/run")
        var duration: Double = 3600
        var warmup: Double?
        /// Citizen messages per second: list entries, the journal's status entries and every
        /// single-citizen message, all counted.
        var rate: Double = 300
        var sample: Double = 60
        var clockStep: Double = 60
        var clockDays: Double = 1
        var walLimitMiB: Double = 64
        var rssLimit: Double = 1
        var drain: Double = 300
        /// fds and threads: the most max − min may be after the warm-up.
        var flatTolerance: Double = 2

        /// 5 minutes, or a fifth of a run shorter than 25 minutes.
        var effectiveWarmup: Double { warmup ?? min(300, duration / 5) }
    }

    static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        for (unit, factor) in [("h", 3600.0), ("min", 60), ("m", 60), ("s", 1)] where t.hasSuffix(unit) {
            return Double(t.dropLast(unit.count)).map { $0 * factor }
        }
        return Double(t)
    }

    static let usage = """
        usage: ddbench soak --ddrouter PATH --work DIR [--duration 1h] [--warmup 5m] [--rate 300] [--sample 60s]
                            [--clock-step 60s] [--clock-days 1] [--wal-limit-mib 64] [--rss-limit-mib-per-hour 1]
                            [--drain 5m] [--flat-tolerance 2]

        """

    static func parse(_ arguments: [String]) -> Options? {
        var o = Options()
        var args = arguments[...]
        while let a = args.popFirst() {
            guard let v = args.popFirst() else { return nil }
            func secs() -> Double? { seconds(v) }
            switch a {
            case "--ddrouter": o.ddrouter = v
            case "--work": o.work = URL(fileURLWithPath: v)
            case "--duration": guard let s = secs(), s > 0 else { return nil }; o.duration = s
            case "--warmup": guard let s = secs(), s >= 0 else { return nil }; o.warmup = s
            case "--rate": guard let r = Double(v), r > 0 else { return nil }; o.rate = r
            case "--sample": guard let s = secs(), s >= 5 else { return nil }; o.sample = s
            case "--clock-step": guard let s = secs(), s >= 5 else { return nil }; o.clockStep = s
            case "--clock-days": guard let d = Double(v), d >= 0 else { return nil }; o.clockDays = d
            case "--wal-limit-mib": guard let d = Double(v), d > 0 else { return nil }; o.walLimitMiB = d
            case "--rss-limit-mib-per-hour": guard let d = Double(v), d > 0 else { return nil }; o.rssLimit = d
            case "--drain": guard let s = secs(), s > 0 else { return nil }; o.drain = s
            case "--flat-tolerance": guard let d = Double(v), d >= 0 else { return nil }; o.flatTolerance = d
            default: return nil
            }
        }
        return o
    }

    static func main(_ arguments: [String]) async -> Int32 {
        guard let o = parse(arguments) else {
            FileHandle.standardError.write(Data(usage.utf8))
            return 2
        }
        let settings = BenchSettings.fromEnvironment()
        do {
            return try await SoakRun(options: o, settings: settings).run()
        } catch {
            log("soak FAILED: \(error)")
            return 1
        }
    }
}

/// Civil dates in Europe/Copenhagen, the daemon's zone for due days.
enum Day {
    static let calendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "Europe/Copenhagen")!
        return c
    }()

    static func iso(_ date: Date) -> String {
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    /// `yyyy-MM-dd` as 00:00 UTC of that day (seconds since the epoch).
    static func epoch(_ iso: String) -> Double? {
        let p = iso.split(separator: "-").compactMap { Int($0) }
        guard p.count == 3 else { return nil }
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        return utc.date(from: DateComponents(year: p[0], month: p[1], day: p[2]))?.timeIntervalSince1970
    }
}

/// `"name":"value"` in a JSON text (the daemon writes compact JSON; spaces after the colon
/// are tolerated), the first occurrence.
func jsonString(_ text: String, _ name: String) -> String? {
    guard let r = text.range(of: "\"\(name)\":") else { return nil }
    var i = r.upperBound
    while i < text.endIndex, text[i] == " " { i = text.index(after: i) }
    if i < text.endIndex, text[i] == "[" { i = text.index(after: i) }  // first of an array of strings
    guard i < text.endIndex, text[i] == "\"" else { return nil }
    let start = text.index(after: i)
    guard let end = text[start...].firstIndex(of: "\"") else { return nil }
    return String(text[start..<end])
}

func jsonInt(_ text: String, _ name: String) -> Int? {
    guard let r = text.range(of: "\"\(name)\":") else { return nil }
    let digits = text[r.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
    return Int(digits)
}

func digits(_ s: String) -> String { String(s.filter(\.isNumber)) }

final class SoakRun: Sendable {
    enum Role: Sendable {
        case municipality, clinic, journal
        var exchange: String {
            switch self {
            case .municipality: "dd.in.municipality.851"
            case .clinic: "dd.in.clinic.amb-syd-aalborg"
            case .journal: "dd.in.journal.journal-rn"
            }
        }
        var user: String {
            switch self {
            case .municipality: "municipality-851"
            case .clinic: "clinic-amb-syd-aalborg"
            case .journal: "journal-journal-rn"
            }
        }
        /// Where the daemon puts this sender's receipts.
        var receiptQueue: String {
            switch self {
            case .municipality: Q.inbox851
            case .clinic: Q.syd
            case .journal: Q.journal
            }
        }
    }

    /// A citizen the soak follows past its first message.
    struct Plan {
        enum Kind { case chainA, chainW, workflowB, answer }
        var kind: Kind
        var index: Int
        var caseID: String?
        var step = 0
        /// The message whose receipt the next step waits for (nil: none).
        var waiting: String?
    }

    struct Key: Hashable {
        var queue: String
        var type: String
        var who: String  // "msg:<message id>" for receipts, else the citizen's CPR
    }

    struct Action {
        var role: Role
        var type: String
        var id: String
        var body: Data
    }

    struct SampleRow {
        var t: Double
        var rss: Double
        var fds: Double
        var threads: Double
        var storeMiB: Double
        var walMiB: Double
        var walCheckpoints: Double
        var outbox: Double
        var probeMs: Double
        var cpu: Double
        var load: Double
        var clockDays: Double
        var sentMessages: Int
        var sentItems: Int
        var received: Int
        var rssAnon: Double
        var rssFile: Double
    }

    struct State {
        var plans: [String: Plan] = [:]
        var expected: [Key: Int] = [:]
        var expectedTotal = 0
        var matched = 0
        /// Timer-made events, expected once the test clock has passed `due`.
        var conditional: [Key: (count: Int, due: Double)] = [:]
        var conditionalTotal = 0
        var conditionalMatched = 0
        var unexpected: [String: Int] = [:]
        var seen: Set<Int> = []
        var repeats = 0
        var badReceipts = 0
        var firstBad: String?
        var accepted: [String: Int] = [:]
        var caseToCPR: [String: String] = [:]
        var pendingStatus: [String] = []
        var pendingSince = now()
        var statusSequence = 0
        var listSequence = 0
        var sentMessages = 0
        var sentItems = 0
        var sentByType: [String: Int] = [:]
        var received = 0
        var receivedByType: [String: Int] = [:]
        var publishFailures = 0
        var publishRetries = 0
        var inFlight = 0
        var probe: (cpr: String, id: String, t0: ContinuousClock.Instant, got: Int, last: ContinuousClock.Instant)?
        var clockOffset: Double = 0
        var datesOffset: Double = 0
        var nextList = 0
        /// Citizen indexes: lists from 0, referrals from `firstReferral`, workflow B and the
        /// probe above those.
        static let firstReferral = 20_000_000
        var nextReferral = firstReferral
        var nextWorkflowB = 25_000_000
        var nextProbe = 30_000_000
        var lastArrival = now()
        var rows: [SampleRow] = []
    }

    let o: Soak.Options
    let settings: BenchSettings
    let state = Mutex(State())
    let clients: [AMQPClient]
    let municipality: AMQPClient
    let clinic: AMQPClient
    let journal: AMQPClient
    let observer: AMQPClient
    let clockFile: URL

    init(options: Soak.Options, settings: BenchSettings) {
        o = options
        self.settings = settings
        municipality = AMQPClient(configuration: settings.amqp(name: "soak.municipality", user: Role.municipality.user), logger: benchLogger)
        clinic = AMQPClient(configuration: settings.amqp(name: "soak.clinic", user: Role.clinic.user), logger: benchLogger)
        journal = AMQPClient(configuration: settings.amqp(name: "soak.journal", user: Role.journal.user), logger: benchLogger)
        observer = AMQPClient(configuration: settings.amqp(name: "soak.observer"), logger: benchLogger)
        clients = [municipality, clinic, journal, observer]
        clockFile = options.work.appendingPathComponent("test-clock-offset")
    }

    func client(_ role: Role) -> AMQPClient {
        switch role {
        case .municipality: municipality
        case .clinic: clinic
        case .journal: journal
        }
    }

    // MARK: - clock and dates

    /// Today for message dates: the test clock's, a few seconds behind each move (the daemon
    /// reads the offset at most once a second).
    func today(_ s: State, plusDays days: Int = 0) -> String {
        Day.iso(Date().addingTimeInterval(s.datesOffset + Double(days) * 86_400))
    }

    func writeClock(_ offset: Double) throws {
        try String(format: "%.0f\n", offset).write(to: clockFile, atomically: true, encoding: .utf8)
    }

    /// The daemon's clock now (as the soak last set it), seconds since the epoch.
    func clockNow(_ s: State) -> Double { Date().timeIntervalSince1970 + s.clockOffset }

    // MARK: - the ledger

    func expect(_ s: inout State, _ queue: String, _ type: String, _ who: String) {
        s.expected[Key(queue: queue, type: type, who: who), default: 0] += 1
        s.expectedTotal += 1
    }

    func expectReceipt(_ s: inout State, _ role: Role, _ id: String) {
        expect(&s, role.receiptQueue, "receipt", "msg:" + id)
    }

    func expectLater(_ s: inout State, _ queue: String, _ type: String, _ who: String, count: Int, due: Double) {
        let key = Key(queue: queue, type: type, who: who)
        if let c = s.conditional[key] {
            s.conditional[key] = (c.count + count, max(c.due, due))
        } else {
            s.conditional[key] = (count, due)
        }
        s.conditionalTotal += count
    }

    func sent(_ s: inout State, _ type: String, items: Int) {
        s.sentMessages += 1
        s.sentItems += items
        s.sentByType[type, default: 0] += 1
    }

    // MARK: - messages

    static let information = Citizens.information

    func referralBody(_ i: Int) -> Data { Citizens.referral(i) }

    func listBody(_ s: State, _ range: Range<Int>) -> Data {
        var text = #"{"schemaVersion":"1.0","municipality":"851","clinic":"amb-syd-aalborg","listKind":"list-1","asOf":""#
            + today(s) + #"","entries":["#
        text.reserveCapacity(range.count * 700)
        for i in range {
            if i != range.lowerBound { text += "," }
            text += Citizens.listEntry(i)
        }
        return Data((text + "]}").utf8)
    }

    func body(_ fields: String) -> Data { Data(("{\"schemaVersion\":\"1.0\"," + fields + "}").utf8) }

    /// The next step of a followed citizen, with what it expects; nil when the plan is done
    /// or waits for something. Called under the lock.
    func nextStep(_ s: inout State, cpr: String) -> Action? {
        guard var plan = s.plans[cpr], plan.kind != .answer, plan.waiting == nil, let caseID = plan.caseID else { return nil }
        let m = Role.municipality, c = Role.clinic
        let who = #""caseId":""# + caseID + #"","cpr":""# + cpr + #"","municipality":"851""#
        let day = today(s)
        let step = plan.step + 1
        let id = "soak.\(plan.index).\(step)"
        var action: Action?
        switch (plan.kind, step) {
        case (.chainA, 1), (.chainW, 1):
            action = Action(role: c, type: "assessment", id: id, body: body(who + #","clinic":"amb-syd-aalborg","assessedOn":""# + day
                + #"","outcome":"integrated","statement":"Soak assessment.","proposedTransitionDate":""# + today(s, plusDays: 30) + "\""))
            expectReceipt(&s, c, id)
            expect(&s, Q.inbox851, "decision", cpr)
        case (.chainA, 2):
            action = Action(role: m, type: "municipal-position", id: id, body: body(who
                + #","regarding":"assessment","position":"disagree","comment":"Soak position.","statedOn":""# + day + "\""))
            expectReceipt(&s, m, id)
        case (.chainA, 3):
            action = Action(role: c, type: "meeting-outcome", id: id, body: body(who
                + #","clinic":"amb-syd-aalborg","meetingKind":"decision","heldOn":""# + day
                + #"","participants":["municipality","psychiatry"],"agreement":"disagreed","decision":"coordinated","psychiatryStatement":"Soak statement.","furtherMeetingNeeded":false"#))
            expectReceipt(&s, c, id)
            expect(&s, Q.inbox851, "decision", cpr)
            expect(&s, Q.syd, "decision", cpr)
        case (.chainW, 2):
            action = Action(role: m, type: "consent-update", id: id, body: body(#""cpr":""# + cpr
                + #"","municipality":"851","consent":{"status":"withdrawn","date":""# + day + #""}"#))
            expectReceipt(&s, m, id)
            // Every party that had the citizen's data: the municipality, the clinic, the journal.
            expect(&s, Q.inbox851, "consent-withdrawn", cpr)
            expect(&s, Q.syd, "consent-withdrawn", cpr)
            expect(&s, Q.journal, "consent-withdrawn", cpr)
        case (.workflowB, 1):
            action = Action(role: m, type: "municipal-position", id: id, body: body(who
                + #","regarding":"transition-proposal","position":"disagree","comment":"Not yet.","statedOn":""# + day + "\""))
            expectReceipt(&s, m, id)
            // "collaboration meeting needed", to both (a deadline-warning: R7's meeting is due).
            expect(&s, Q.inbox851, "deadline-warning", cpr)
            expect(&s, Q.syd, "deadline-warning", cpr)
        case (.workflowB, 2):
            action = Action(role: c, type: "meeting-outcome", id: id, body: body(who
                + #","clinic":"amb-syd-aalborg","meetingKind":"collaboration","heldOn":""# + day
                + #"","participants":["municipality","psychiatry"],"agreement":"agreed","decision":"coordinated","furtherMeetingNeeded":false"#))
            expectReceipt(&s, c, id)
            expect(&s, Q.inbox851, "decision", cpr)
            expect(&s, Q.syd, "decision", cpr)
        case (.workflowB, 3):
            action = Action(role: m, type: "meeting-outcome", id: id, body: body(who
                + #","clinic":"amb-syd-aalborg","meetingKind":"network","heldOn":""# + day
                + #"","participants":["municipality","psychiatry","patient"],"agreement":"agreed","decision":"coordinated","transitionDate":""#
                + today(s, plusDays: 30) + #"","furtherMeetingNeeded":false"#))
            expectReceipt(&s, m, id)
        case (.workflowB, 4):
            action = Action(role: c, type: "joint-plan", id: id, body: body(who
                + #","clinic":"amb-syd-aalborg","planKind":"koordinationsplan","revision":false,"agreedOn":""# + day
                + #"","documentRef":"KP-SOAK-\#(plan.index)""#))
            expectReceipt(&s, c, id)
        case (.workflowB, 5):
            action = Action(role: m, type: "knowledge-handover", id: id, body: body(who
                + #","clinic":"amb-syd-aalborg","agreedOn":""# + day + #"","handoverDate":""# + today(s, plusDays: 14)
                + #"","topics":["medication","crisis-plan"]"#))
            expectReceipt(&s, m, id)
            expect(&s, Q.inbox851, "handover", cpr)
            expect(&s, Q.syd, "handover", cpr)
        default:
            s.plans.removeValue(forKey: cpr)  // done
            return nil
        }
        plan.step = step
        plan.waiting = id
        s.plans[cpr] = plan
        if let action { sent(&s, action.type, items: 1) }
        return action
    }

    /// The citizen of a message id "soak.<citizen index>.<step>" (ids carry no CPR number).
    static func citizen(_ messageID: String) -> String? {
        let parts = messageID.split(separator: ".")
        guard parts.count == 3, parts[0] == "soak", let i = Int(parts[1]) else { return nil }
        return Citizens.cpr(i)
    }

    /// Everything the daemon sent that the soak sees: ledger, plans, the journal's answers, the probe.
    func arrived(_ d: Delivery) {
        let type = d.properties.type ?? "?"
        let text = String(decoding: d.body, as: UTF8.self)
        let t = now()
        var actions: [Action] = []
        state.withLock { s in
            s.received += 1
            s.receivedByType[type, default: 0] += 1
            s.lastArrival = t
            if let id = d.properties.messageID, !s.seen.insert((d.queue + " " + id).hashValue).inserted { s.repeats += 1 }
            var cpr: String?
            let who: String
            if type == "receipt" {
                let correlation = d.properties.correlationID ?? "?"
                who = "msg:" + correlation
                var bad = jsonString(text, "status") != "ok"
                if let want = s.accepted.removeValue(forKey: correlation), jsonInt(text, "acceptedEntries") != want { bad = true }
                if bad {
                    s.badReceipts += 1
                    if s.firstBad == nil { s.firstBad = String(text.prefix(400)) }
                }
                // "soak.<citizen index>.<step>": the step's receipt; the citizen's next step may go.
                if let c = Self.citizen(correlation), var plan = s.plans[c], plan.waiting == correlation {
                    cpr = c
                    plan.waiting = nil
                    s.plans[c] = plan
                }
            } else {
                let caseID = jsonString(text, "caseId") ?? jsonString(text, "caseIds")
                if let c = jsonString(text, "cpr") { cpr = digits(c) }
                // An event correlates to the message that caused it: "soak.<citizen index>.<step>".
                if cpr == nil, let c = d.properties.correlationID.flatMap(Self.citizen) { cpr = c }
                if let caseID {
                    if let c = cpr { s.caseToCPR[caseID] = c } else { cpr = s.caseToCPR[caseID] }
                }
                who = cpr ?? "case:" + (caseID ?? "?")
                if let cpr, let caseID, var plan = s.plans[cpr], plan.caseID == nil {
                    plan.caseID = caseID
                    s.plans[cpr] = plan
                }
                if type == "cv-referral", let cpr, let i = Citizens.index(ofCPR: cpr) {
                    if (i / 8) % 8 != 3, let caseID {
                        // Seven in eight: the journal reports the treatment start (R10's clock
                        // stops; Central Visitation's case moves to the integrated offer).
                        let id = "soak.\(i).9"
                        expectReceipt(&s, .journal, id)
                        // A list citizen's consent covers both directions, so the municipality
                        // gets the handover too; a referral's (and the probe's, indexes from
                        // 20,000,000) covers municipality-to-region only, and it does not.
                        if i < State.firstReferral { expect(&s, Q.inbox851, "handover", cpr) }
                        expect(&s, Q.cv, "handover", cpr)
                        sent(&s, "treatment-started", items: 1)
                        actions.append(Action(role: .journal, type: "treatment-started", id: id, body: body(#""caseId":""# + caseID
                            + #"","cpr":""# + cpr + #"","clinic":"amb-syd-aalborg","startedOn":""# + today(s) + "\"")))
                    } else if let deadline = jsonString(text, "treatmentDeadline"), let day = Day.epoch(deadline) {
                        // The others: R10's "approaching" before the deadline, "passed" after it.
                        expectLater(&s, Q.cv, "deadline-warning", cpr, count: 2, due: day + 2 * 86_400)
                    }
                }
            }
            let key = Key(queue: d.queue, type: type, who: who)
            if let n = s.expected[key] {
                if n <= 1 { s.expected.removeValue(forKey: key) } else { s.expected[key] = n - 1 }
                s.matched += 1
            } else if let c = s.conditional[key] {
                if c.count <= 1 { s.conditional.removeValue(forKey: key) } else { s.conditional[key] = (c.count - 1, c.due) }
                s.conditionalMatched += 1
            } else {
                s.unexpected["\(d.queue) \(type)", default: 0] += 1
            }
            if var p = s.probe, (type == "receipt" && d.properties.correlationID == p.id) || (type == "contact-status-request" && cpr == p.cpr) {
                p.got += 1
                p.last = t
                s.probe = p
            }
            guard let cpr else { return }
            if type == "contact-status-request", d.queue == Q.journal {
                if let plan = s.plans[cpr] {
                    if s.pendingStatus.isEmpty { s.pendingStatus.reserveCapacity(256); s.pendingSince = t }
                    s.pendingStatus.append(Citizens.statusEntry(plan.index, cpr: cpr))
                    if plan.kind == .answer { s.plans.removeValue(forKey: cpr) }
                }
                return
            }
            if let action = nextStep(&s, cpr: cpr) { actions.append(action) }
        }
        for a in actions { publish(a) }
    }

    // MARK: - publishing

    func publish(_ a: Action) {
        state.withLock { $0.inFlight += 1 }
        let c = client(a.role)
        Task {
            var failure: (any Error)?
            for attempt in 0..<6 {
                if attempt > 0 {
                    state.withLock { $0.publishRetries += 1 }
                    try? await Task.sleep(for: .seconds(Double(attempt)))
                }
                do {
                    // Same message_id on a resend: the daemon answers it once (docs/messages.md).
                    try await c.publish(OutboundMessage(
                        exchange: a.role.exchange, routingKey: a.type, body: a.body,
                        properties: MessageProperties(contentType: "application/json", messageID: a.id, type: a.type,
                                                      userID: a.role.user)))
                    failure = nil
                    break
                } catch {
                    failure = error
                }
            }
            state.withLock { s in
                s.inFlight -= 1
                if failure != nil { s.publishFailures += 1 }
            }
            if let failure { log("publish \(a.type) \(a.id) failed for good: \(failure)") }
        }
    }

    func sendList(entries n: Int) {
        guard n > 0 else { return }
        let action: Action = state.withLock { s in
            let start = s.nextList
            s.nextList += n
            s.listSequence += 1
            let id = "soak.list.\(s.listSequence)"
            let due = clockNow(s) + 8 * 86_400 + 3_600
            for i in start..<(start + n) {
                let cpr = Citizens.cpr(i)
                switch Citizens.branch(i) {
                case .currentAtSyd:
                    // Workflow A to the decision meeting, or (every other one) a withdrawal after the assessment.
                    s.plans[cpr] = Plan(kind: (i / 8) % 2 == 0 ? .chainA : .chainW, index: i)
                    expect(&s, Q.journal, "contact-status-request", cpr)
                    expect(&s, Q.syd, "assessment-request", cpr)
                case .noConsent:
                    break  // held (R4): nothing leaves
                case .currentAtNord:
                    // The journal never answers: R1's status-unknown timeout sends it to Central
                    // Visitation once the test clock has moved 7 days on.
                    expect(&s, Q.journal, "contact-status-request", cpr)
                    expectLater(&s, Q.cv, "cv-referral", cpr, count: 1, due: due)
                default:
                    s.plans[cpr] = Plan(kind: .answer, index: i)
                    expect(&s, Q.journal, "contact-status-request", cpr)
                    expect(&s, Q.cv, "cv-referral", cpr)
                }
            }
            expectReceipt(&s, .municipality, id)
            s.accepted[id] = n
            sent(&s, "municipal-list", items: n)
            return Action(role: .municipality, type: "municipal-list", id: id, body: listBody(s, start..<(start + n)))
        }
        publish(action)
    }

    /// A referral of a citizen the journal knows with a closed or acute course: Central Visitation.
    func sendReferral(probe: Bool = false) -> (cpr: String, id: String) {
        let (action, cpr): (Action, String) = state.withLock { s in
            var i = probe ? s.nextProbe : s.nextReferral
            while !(1...5).contains(i % 8) { i += 1 }
            if probe { s.nextProbe = i + 1 } else { s.nextReferral = i + 1 }
            let cpr = Citizens.cpr(i)
            let id = "soak.\(i).0"
            s.plans[cpr] = Plan(kind: .answer, index: i)
            expectReceipt(&s, .municipality, id)
            expect(&s, Q.journal, "contact-status-request", cpr)
            expect(&s, Q.cv, "cv-referral", cpr)
            sent(&s, "referral", items: 1)
            if probe { s.probe = (cpr, id, now(), 0, now()) }
            return (Action(role: .municipality, type: "referral", id: id, body: referralBody(i)), cpr)
        }
        publish(action)
        return (cpr, action.id)
    }

    /// Workflow B's start: the clinic proposes a coordinated course (consent given).
    func sendProposal() {
        let action: Action = state.withLock { s in
            let i = s.nextWorkflowB
            s.nextWorkflowB += 1
            let cpr = Citizens.cpr(i)
            let id = "soak.\(i).0"
            s.plans[cpr] = Plan(kind: .workflowB, index: i, waiting: id)
            expectReceipt(&s, .clinic, id)
            expect(&s, Q.inbox851, "decision", cpr)
            sent(&s, "transition-proposal", items: 1)
            return Action(role: .clinic, type: "transition-proposal", id: id, body: body(#""cpr":""# + cpr
                + #"","clinic":"amb-syd-aalborg","municipality":"851","proposedOn":""# + today(s)
                + #"","stabilityStatement":"Stable.","consent":{"status":"given","date":"2026-10-02","directions":["municipality-to-region","region-to-municipality"],"declarationRef":"SAMTYKKE-SOAK"},"proposedTransitionDate":""#
                + today(s, plusDays: 30) + "\""))
        }
        publish(action)
    }

    /// The journal's answers, collected into contact-status messages (up to 200 entries or 20 ms).
    func flushStatuses(force: Bool = false) {
        let action: Action? = state.withLock { s in
            guard !s.pendingStatus.isEmpty, force || s.pendingStatus.count >= 200 || now() - s.pendingSince >= .milliseconds(20)
            else { return nil }
            s.statusSequence += 1
            let id = "soak.status.\(s.statusSequence)"
            let entries = s.pendingStatus
            s.pendingStatus.removeAll(keepingCapacity: true)
            expectReceipt(&s, .journal, id)
            s.accepted[id] = entries.count
            sent(&s, "contact-status", items: entries.count)
            let body = #"{"schemaVersion":"1.0","asOf":""# + today(s) + #"","entries":["# + entries.joined(separator: ",") + "]}"
            return Action(role: .journal, type: "contact-status", id: id, body: Data(body.utf8))
        }
        if let action { publish(action) }
    }

    // MARK: - sampling

    static func fileSize(_ path: String) -> Double {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.doubleValue ?? 0
    }

    /// The WAL header's checkpoint sequence number (bytes 12-15, big-endian): it grows each
    /// time a checkpoint completed and the WAL restarted from its beginning.
    static func walCheckpoints(_ path: String) -> Double {
        guard let h = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? h.close() }
        guard let d = try? h.read(upToCount: 16), d.count == 16 else { return 0 }
        let b = [UInt8](d)
        return Double(UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15]))
    }

    static func fdCount(_ pid: Int32) -> Double {
        Double((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? -1)
    }

    static func loadAverage() -> Double {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)).flatMap { $0.split(separator: " ").first.flatMap { Double($0) } } ?? -1
    }

    /// GET http://127.0.0.1:port/metrics (blocking; a plain socket, Connection: close).
    static func scrape(port: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return nil }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return nil }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func metric(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    /// The HTTP port the daemon logged (http.bind 127.0.0.1:0 picks one).
    static func httpPort(log path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let r = text.range(of: "\"http.port\":\"")
        else { return nil }
        return Int(text[r.upperBound...].prefix { $0.isNumber })
    }

    /// A referral through the daemon: publish → its receipt and its contact-status-request.
    func probe() async -> Double {
        _ = sendReferral(probe: true)
        let deadline = now() + .seconds(60)
        while now() < deadline {
            let done: Double? = state.withLock { s in
                guard let p = s.probe, p.got >= 2 else { return nil }
                s.probe = nil
                return (p.last - p.t0).ms
            }
            if let done { return done }
            try? await Task.sleep(for: .milliseconds(1))
        }
        state.withLock { $0.probe = nil }
        return -1
    }

    // MARK: - the run

    /// Citizen messages a list entry brings (on average over the 8 branches): itself, 6/8
    /// journal answers, 2.5/8 workflow A steps (assessment, position, meeting or withdrawal)
    /// and 6/8 × 7/8 treatment starts.
    static let itemsPerListEntry = 1 + 6.0 / 8 + 2.5 / 8 + 6.0 / 8 * 7 / 8
    /// A referral: itself, the journal's answer, 7/8 treatment starts.
    static let itemsPerReferral = 2 + 7.0 / 8

    func run() async throws -> Int32 {
        let work = o.work
        try? FileManager.default.removeItem(at: work)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try writeClock(0)
        let warmup = o.effectiveWarmup
        let E = 0.6 * o.rate / SoakRun.itemsPerListEntry, R = 0.25 * o.rate / SoakRun.itemsPerReferral, B = 0.15 * o.rate / 6
        log("soak: \(f(o.duration)) s, warm-up \(warmup) s, rate \(o.rate) citizen messages/s: "
            + "\(f(E, 1)) list entries/s (a list every 5 s), \(f(R, 1)) referrals/s, \(f(B, 2)) workflow B cases/s; "
            + "test clock +\(o.clockDays) day(s) every \(o.clockStep) s; samples every \(o.sample) s")

        // Nothing left over from an earlier run in the queues the ledger reads.
        observer.start()
        try await observer.waitUntilConnected(timeout: .seconds(15))
        for q in [Q.inbound] + Q.outputs { _ = try? await observer.admin(.purgeQueue(q)) }

        let daemon = try await Daemon(
            binary: o.ddrouter, directory: work.appendingPathComponent("daemon"), settings: settings, queueType: "quorum",
            environment: ["DDR_TEST_CLOCK_FILE": clockFile.path])
        let pid = daemon.pid
        let storePath = work.appendingPathComponent("daemon/store/ddrouter.sqlite").path
        guard let port = Self.httpPort(log: daemon.logPath) else {
            await daemon.stop()
            throw BenchError("no http.port in \(daemon.logPath)")
        }
        log("daemon pid \(pid) ready in \(f(daemon.startupSeconds, 2)) s; metrics on 127.0.0.1:\(port)")

        for c in [municipality, clinic, journal] {
            c.start()
            try await c.waitUntilConnected(timeout: .seconds(15))
        }
        var consumers: [Task<Void, Never>] = []
        for (c, q) in [(observer, Q.inbox851), (observer, Q.cv), (observer, Q.syd), (observer, Q.nord), (observer, Q.dead),
                       (journal, Q.journal)] {
            consumers.append(Task { [self] in
                do {
                    for try await d in c.consume(queue: q, prefetch: 1000) {
                        arrived(d)
                        c.ack(d.tag)
                    }
                } catch {
                    log("consumer \(q): \(error)")
                }
            })
        }
        let flusher = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
                flushStatuses()
            }
        }

        let t0 = now()
        let csvPath = work.appendingPathComponent("samples.csv").path
        _ = FileManager.default.createFile(atPath: csvPath, contents: Data(
            "t_s,rss_mib,fds,threads,store_mib,wal_mib,wal_checkpoints,outbox_depth,probe_ms,daemon_cpu_s,load1,clock_days,sent_messages,sent_items,received,rss_anon_mib,rss_file_mib\n".utf8))
        let csv = try FileHandle(forWritingTo: URL(fileURLWithPath: csvPath))
        try csv.seekToEnd()
        let sampleNow: @Sendable () async -> Void = { [self] in
            let t = (now() - t0).s
            let latency = await probe()
            let out = await onThread { () -> String? in Self.scrape(port: port) }
            let (sm, si, rc, days) = state.withLock { ($0.sentMessages, $0.sentItems, $0.received, $0.clockOffset / 86_400) }
            let row = SampleRow(
                t: t, rss: ProcStatus.rssMiB(pid) ?? -1, fds: Self.fdCount(pid), threads: ProcStatus.kib(pid, "Threads") ?? -1,
                storeMiB: Self.fileSize(storePath) / 1_048_576, walMiB: Self.fileSize(storePath + "-wal") / 1_048_576,
                walCheckpoints: Self.walCheckpoints(storePath + "-wal"),
                outbox: out.flatMap { Self.metric($0, "ddrouter_outbox_depth") } ?? -1, probeMs: latency,
                cpu: ProcStatus.cpuSeconds(pid) ?? -1, load: Self.loadAverage(), clockDays: days,
                sentMessages: sm, sentItems: si, received: rc,
                rssAnon: (ProcStatus.kib(pid, "RssAnon") ?? -1024) / 1024, rssFile: (ProcStatus.kib(pid, "RssFile") ?? -1024) / 1024)
            state.withLock { $0.rows.append(row) }
            let line = [f(row.t, 0), f(row.rss, 2), f(row.fds), f(row.threads), f(row.storeMiB, 2), f(row.walMiB, 2),
                        f(row.walCheckpoints), f(row.outbox), f(row.probeMs, 1), f(row.cpu, 1), f(row.load, 2),
                        f(row.clockDays, 0), "\(row.sentMessages)", "\(row.sentItems)", "\(row.received)", f(row.rssAnon, 2),
                        f(row.rssFile, 2)].joined(separator: ",")
            csv.write(Data((line + "\n").utf8))
            log("sample t=\(f(t))s rss=\(f(row.rss, 1))MiB (anon \(f(row.rssAnon, 1)), file \(f(row.rssFile, 1))) fds=\(f(row.fds)) threads=\(f(row.threads)) store=\(f(row.storeMiB, 1))MiB "
                + "wal=\(f(row.walMiB, 1))MiB ckpt=\(f(row.walCheckpoints)) outbox=\(f(row.outbox)) probe=\(f(row.probeMs, 1))ms "
                + "load=\(f(row.load, 2)) clock=+\(f(row.clockDays))d sent=\(si) items/\(sm) msgs received=\(rc)")
        }
        await sampleNow()

        // The load: lists every 5 s, referrals and proposals spread over 100 ms ticks.
        let end = t0 + .seconds(o.duration)
        var nextSample = t0 + .seconds(o.sample)
        var nextClock = t0 + .seconds(o.clockStep)
        var nextList = t0
        var accList = 0.0, accReferral = 0.0, accProposal = 0.0
        var tick = t0
        var sampling: Task<Void, Never>?
        while now() < end {
            tick = tick + .milliseconds(100)
            try? await Task.sleep(until: tick, clock: .continuous)
            accList += E / 10
            accReferral += R / 10
            accProposal += B / 10
            if now() >= nextList {
                let n = Int(accList)
                accList -= Double(n)
                sendList(entries: n)
                nextList = nextList + .seconds(5)
            }
            while accReferral >= 1 { _ = sendReferral(); accReferral -= 1 }
            while accProposal >= 1 { sendProposal(); accProposal -= 1 }
            if now() >= nextClock, o.clockDays > 0 {
                nextClock = nextClock + .seconds(o.clockStep)
                let offset = state.withLock { s in
                    s.clockOffset += o.clockDays * 86_400
                    return s.clockOffset
                }
                try writeClock(offset)
                Task { [self] in
                    try? await Task.sleep(for: .seconds(3))
                    state.withLock { $0.datesOffset = offset }
                }
            }
            if now() >= nextSample {
                nextSample = nextSample + .seconds(o.sample)
                await sampling?.value
                sampling = Task { await sampleNow() }
            }
        }
        await sampling?.value
        log("load stopped after \(f((now() - t0).s)) s; draining (at most \(o.drain) s)")

        // Drain: the chains in flight finish; then every expectation due by the final clock
        // is met, or nothing arrived for 90 s, or the drain time is up.
        let drainEnd = now() + .seconds(o.drain)
        while now() < drainEnd {
            try? await Task.sleep(for: .seconds(1))
            flushStatuses(force: true)
            let (open, idle) = state.withLock { s -> (Int, Double) in
                let final = clockNow(s)
                let dueOpen = s.conditional.values.filter { $0.due <= final }.reduce(0) { $0 + $1.count }
                return (s.expected.values.reduce(0, +) + dueOpen + s.inFlight, (now() - s.lastArrival).s)
            }
            if open == 0 && idle > 5 { break }
            if idle > 90 { log("nothing arrived for 90 s; \(open) expectation(s) open"); break }
        }
        let drained = (now() - end).s
        let finalRSS = ProcStatus.rssMiB(pid) ?? -1
        let hwm = ProcStatus.hwmMiB(pid) ?? -1
        flusher.cancel()
        for t in consumers { t.cancel() }
        for c in clients { await c.close() }
        await daemon.stop()
        let exitStatus = daemon.process.terminationStatus
        try? csv.close()

        return evaluate(rows: state.withLock { $0.rows }, warmup: warmup, drained: drained, finalRSS: finalRSS, hwm: hwm,
                        daemonExit: exitStatus, logPath: daemon.logPath)
    }

    // MARK: - the verdict

    static func slope(_ points: [(Double, Double)]) -> Double {
        let n = Double(points.count)
        guard n >= 2 else { return .nan }
        let mx = points.map(\.0).reduce(0, +) / n, my = points.map(\.1).reduce(0, +) / n
        let sxx = points.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
        let sxy = points.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +)
        return sxx > 0 ? sxy / sxx : .nan
    }

    func evaluate(rows: [SampleRow], warmup: Double, drained: Double, finalRSS: Double, hwm: Double,
                  daemonExit: Int32, logPath: String) -> Int32 {
        var lines: [String] = []
        var failed = false
        func verdict(_ ok: Bool, _ name: String, _ text: String) {
            if !ok { failed = true }
            lines.append("\(ok ? "PASS" : "FAIL")  \(name): \(text)")
        }
        let post = rows.filter { $0.t >= warmup }
        let window = (post.last?.t ?? 0) - (post.first?.t ?? 0)
        lines.append("samples: \(rows.count) (\(post.count) after the \(f(warmup)) s warm-up, over \(f(window)) s); drain \(f(drained)) s")

        // RSS: slope of a least-squares line over the samples after the warm-up, MiB per hour.
        let rssSlope = Self.slope(post.map { ($0.t / 3600, $0.rss) })
        let rssValues = post.map(\.rss)
        verdict(post.count >= 3 && rssSlope <= o.rssLimit, "RSS",
                "\(f(rssSlope, 2)) MiB/h fitted over \(post.count) samples (limit \(f(o.rssLimit, 1)) MiB/h); "
                + "\(f(rssValues.first ?? -1, 1)) → \(f(rssValues.last ?? -1, 1)) MiB, min \(f(rssValues.min() ?? -1, 1)), max \(f(rssValues.max() ?? -1, 1)); "
                + "at the end \(f(finalRSS, 1)) MiB, VmHWM \(f(hwm, 1)) MiB")
        for (name, values) in [("file descriptors", post.map(\.fds)), ("threads", post.map(\.threads))] {
            let lo = values.min() ?? -1, hi = values.max() ?? -1
            verdict(post.count >= 3 && hi - lo <= o.flatTolerance && lo >= 0, name,
                    "\(f(values.first ?? -1)) → \(f(values.last ?? -1)), min \(f(lo)), max \(f(hi)) after the warm-up (flat: max − min ≤ \(f(o.flatTolerance)))")
        }
        let wal = post.map(\.walMiB), ckpt = post.map(\.walCheckpoints)
        let restarts = (ckpt.last ?? 0) - (ckpt.first ?? 0)
        verdict(post.count >= 3 && (wal.max() ?? .infinity) <= o.walLimitMiB && restarts > 0, "WAL",
                "max \(f(wal.max() ?? -1, 1)) MiB after the warm-up (limit \(f(o.walLimitMiB)) MiB, the store's journal_size_limit); "
                + "WAL restarted after a complete checkpoint \(f(restarts)) time(s) (header sequence \(f(ckpt.first ?? -1)) → \(f(ckpt.last ?? -1))); "
                + "store \(f(post.first?.storeMiB ?? -1, 1)) → \(f(post.last?.storeMiB ?? -1, 1)) MiB")

        // Error-level log lines (JSON log: "level":"error" or "critical"), over the whole run.
        var errorLines: [String] = []
        var logLines = 0
        if let text = try? String(contentsOfFile: logPath, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                logLines += 1
                if line.contains("\"level\":\"error\"") || line.contains("\"level\":\"critical\"") {
                    errorLines.append(jsonString(String(line), "msg") ?? String(line.prefix(200)))
                }
            }
        }
        verdict(logLines > 0 && errorLines.isEmpty, "error-level log lines",
                "\(errorLines.count) of \(logLines) lines" + (errorLines.isEmpty ? "" : "; first: " + errorLines.prefix(3).joined(separator: " | ")))

        // The ledger.
        let s = state.withLock { $0 }
        let final = clockNow(s)
        let dueOpen = s.conditional.filter { $0.value.due <= final }
        let dueOpenCount = dueOpen.values.reduce(0) { $0 + $1.count }
        let notDue = s.conditional.values.filter { $0.due > final }.reduce(0) { $0 + $1.count }
        let lost = s.expected.values.reduce(0, +) + dueOpenCount
        var missingByKind: [String: Int] = [:]
        for (k, n) in s.expected { missingByKind["\(k.queue) \(k.type)", default: 0] += n }
        for (k, v) in dueOpen { missingByKind["\(k.queue) \(k.type) (timer)", default: 0] += v.count }
        let missing = missingByKind.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        verdict(lost == 0 && s.badReceipts == 0 && s.publishFailures == 0, "nothing lost (ledger)",
                "\(s.sentMessages) messages sent (\(s.sentItems) citizen messages, \(f(Double(s.sentItems) / o.duration, 1))/s); "
                + "\(s.matched) of \(s.expectedTotal) expected receipts and events arrived; timer events: \(s.conditionalMatched) arrived of "
                + "\(s.conditionalTotal) foreseen, \(dueOpenCount) due by the final clock missing, \(notDue) not yet due; "
                + "\(lost) lost; \(s.badReceipts) receipts not ok or with a wrong acceptedEntries"
                + (s.firstBad.map { " (first: \($0))" } ?? "") + "; \(s.publishFailures) publishes failed for good"
                + (missing.isEmpty ? "" : "; missing: " + missing))
        let extras = s.unexpected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.append("info  sent by type: " + s.sentByType.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        lines.append("info  received by type: " + s.receivedByType.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        lines.append("info  arrived beyond the ledger (not foreseen; not a failure): " + (extras.isEmpty ? "none" : extras))
        lines.append("info  the same message_id twice in one queue: \(s.repeats); publish retries \(s.publishRetries); daemon exit status \(daemonExit)")
        let probes = post.map(\.probeMs).filter { $0 >= 0 }.sorted()
        if !probes.isEmpty {
            lines.append("info  probe latency after the warm-up: median \(f(probes[probes.count / 2], 1)) ms, max \(f(probes.last!, 1)) ms, "
                + "\(post.filter { $0.probeMs < 0 }.count) probe(s) without an answer within 60 s")
        }
        let outbox = post.map(\.outbox)
        lines.append("info  outbox depth after the warm-up: max \(f(outbox.max() ?? -1)), last \(f(outbox.last ?? -1)); "
            + "load average \(f(post.map(\.load).min() ?? -1, 2))–\(f(post.map(\.load).max() ?? -1, 2)); "
            + "daemon CPU \(f((rows.last?.cpu ?? 0) - (rows.first?.cpu ?? 0), 0)) s; test clock +\(f(s.clockOffset / 86_400)) days")
        lines.append(failed ? "FAIL  soak" : "PASS  soak")
        let report = lines.joined(separator: "\n") + "\n"
        print(report, terminator: "")
        try? report.write(to: o.work.appendingPathComponent("summary.txt"), atomically: true, encoding: .utf8)
        return failed ? 1 : 0
    }
}
