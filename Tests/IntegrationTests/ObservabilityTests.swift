import AMQP
import Contract
import Daemon
import Foundation
import Logging
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 5, observability, against `ddrouter run` as a subprocess (DaemonProcess) and the
/// test broker: `/metrics` parsed and checked, `/livez`, `/readyz` following the broker and
/// the store, JSON-lines logs with pseudonyms only, no CPR in logs, metrics or STATUS=, and
/// the notify sequence (READY after connect, WATCHDOG at half WATCHDOG_USEC, STOPPING on SIGTERM).
extension ClientTests {
    /// Known CPR numbers for the privacy checks: the example list's two and three more, and
    /// one for a clinic's assessment about a citizen without a case.
    static let knownCPRs = ["010330-4123", "1506315018", "2304851234", "111290-1357", "3007770246"]
    static let caselessCPR = "2912881995"

    /// The example municipal list (names, free text, one entry without consent) with one entry
    /// per known CPR.
    static func listWithKnownCPRs() throws -> Data {
        let example = try Data(contentsOf: Broker.repoRoot.appendingPathComponent("Config/examples/municipal-list.json"))
        guard var list = try JSONSerialization.jsonObject(with: example) as? [String: Any],
            let entries = list["entries"] as? [[String: Any]], entries.count >= 2
        else { throw BrokerError(message: "unexpected example list") }
        list["entries"] = knownCPRs.enumerated().map { i, cpr -> [String: Any] in
            var entry = entries[i % 2]
            entry["cpr"] = cpr
            return entry
        }
        return try JSONSerialization.data(withJSONObject: list)
    }

    /// The example assessment about a citizen who has no case (refused: unknown-case).
    static func caselessAssessment() throws -> Data {
        let example = try Data(contentsOf: Broker.repoRoot.appendingPathComponent("Config/examples/assessment.json"))
        guard var assessment = try JSONSerialization.jsonObject(with: example) as? [String: Any] else {
            throw BrokerError(message: "unexpected example assessment")
        }
        assessment["cpr"] = caselessCPR
        assessment["caseId"] = "case-unknown-\(UUID().uuidString.prefix(6).lowercased())"
        return try JSONSerialization.data(withJSONObject: assessment)
    }

    static func send(_ sender: SenderClient, exchange: String, type: String, id: String, body: Data) async throws {
        try await sender.send(exchange: exchange, body: body, properties: MessageProperties(
            contentType: "application/json", messageID: id, timestamp: UInt64(Date().timeIntervalSince1970),
            type: type, userID: sender.user))
    }

    /// The sum of the samples named `name` whose labels include `labels`.
    static func metric(_ samples: [PromSample], _ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }.map(\.value)
            .reduce(0, +)
    }

    /// Every value a label may take: closed sets, none of them chosen by a sender.
    static let allowedLabelValues: [String: Set<String>] = [
        "type": Set(MessageType.allCases.map(\.rawValue) + ["other"]),
        "outcome": Set(MetricLabel.Outcome.allCases.map(\.rawValue)),
        "code": Set(RejectionCode.allCases.map(\.rawValue) + ["other"]),
        "reason": ["rejected", "nacked", "returned", "timeout", "connection", "other"],
        "status": ["ok", "transient-error", "fatal-error", "other"],
        "level": Set(Logger.Level.allCases.map(\.rawValue)),
    ]

    @Test("observability: /metrics parsed and named by convention with bounded labels; JSON logs with pseudonyms; no CPR in logs, metrics or STATUS=; READY, WATCHDOG cadence, STOPPING")
    func observabilityEndToEnd() async throws {
        try await ScaleDirectory.ensureUsers()
        let collector = Collector(name: "it.obs.collector")
        let queues = ScaleHarness.outboundQueues + [Self.journalQueue]
        try await collector.purge(["ddrouter.inbound"] + queues)
        let daemon = try DaemonProcess(extraConfig: "metrics:\n  sample_seconds: 1")
        defer { daemon.removeFiles() }
        try await daemon.start(environment: ["WATCHDOG_USEC": "1000000"])
        let poller = daemon.pollNotifications()
        defer { poller.cancel() }
        collector.consume(queues)
        let port = try await daemon.httpPort()
        #expect(try httpGet(port: port, path: "/livez").status == 200)
        let readyz = try httpGet(port: port, path: "/readyz")
        #expect(readyz.status == 200 && readyz.body == "ready\n", "readyz: \(readyz)")

        // Traffic: a list with known CPRs, the same again (duplicate), a list whose message_id
        // embeds a CPR, a truncated body with a CPR (rejected), an assessment without a case (refused).
        let municipality = SenderClient(user: ScaleDirectory.user(municipality: "851"), name: "it.obs.851")
        let clinic = SenderClient(user: ScaleDirectory.user(clinic: ScaleDirectory.sydClinic), name: "it.obs.clinic")
        // Letters only: a hex run id with six digits in a row would be logged "(redacted)"
        // like a message_id that may carry a CPR (Pipeline.loggable).
        let run = String((0..<8).map { _ in "abcdefghijklmnopqrstuvwxyz".randomElement()! })
        let list = try Self.listWithKnownCPRs()
        let exchange851 = "dd.in.municipality.851"
        try await Self.send(municipality, exchange: exchange851, type: "municipal-list", id: "obs-list-\(run)", body: list)
        try await Self.send(municipality, exchange: exchange851, type: "municipal-list", id: "obs-list-\(run)", body: list)
        try await Self.send(municipality, exchange: exchange851, type: "municipal-list", id: "obs-2304851234-\(run)", body: list)
        try await Self.send(municipality, exchange: exchange851, type: "municipal-list", id: "obs-bad-\(run)",
                            body: Data(#"{"schemaVersion":"1.0","entries":[{"cpr":"3007770246""#.utf8))
        try await Self.send(clinic, exchange: "dd.in.clinic.\(ScaleDirectory.sydClinic)", type: "assessment",
                            id: "obs-assessment-\(run)", body: try Self.caselessAssessment())
        await municipality.close()
        await clinic.close()

        var samples: [PromSample] = []
        let settled = await eventually(within: .seconds(60)) {
            guard let text = try? httpGet(port: port, path: "/metrics").body else { return false }
            samples = parsePrometheus(text).samples
            // Every delivery answered (receipts are counted when queued) and every queued
            // event confirmed: the daemon stops after the message in hand, so terminating
            // it earlier would leave deliveries unprocessed.
            return Self.metric(samples, "ddrouter_messages_received_total") >= 5
                && Self.metric(samples, "ddrouter_receipts_total") >= 5
                && Self.metric(samples, "ddrouter_outbox_depth") == 0
                && Self.metric(samples, "ddrouter_events_confirmed_total") >= 5
                && Self.metric(samples, "ddrouter_events_confirmed_total")
                    >= Self.metric(samples, "ddrouter_events_queued_total")
        }
        #expect(settled, "five deliveries settled and the outbox drained:\n\(daemon.logTail())")
        let metricsText = try httpGet(port: port, path: "/metrics").body
        let parsed = parsePrometheus(metricsText)
        #expect(parsed.errors.isEmpty, "invalid exposition lines: \(parsed.errors)")
        samples = parsed.samples

        // Names: every family ddrouter_-prefixed, counters end in _total, histograms in _seconds.
        #expect(!parsed.types.isEmpty)
        for (name, type) in parsed.types {
            #expect(name.hasPrefix("ddrouter_"), "\(name)")
            #expect(name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }, "\(name)")
            if type == "counter" { #expect(name.hasSuffix("_total"), "counter \(name)") }
            if type == "histogram" { #expect(name.hasSuffix("_seconds"), "histogram \(name)") }
        }
        // Every catalogued metric but those that appear only after a fault.
        let onFaultOnly: Set<DaemonMetric> = [.eventsReturned, .eventsFailed, .brokerDisconnections, .brokerChannelClosures]
        for metric in DaemonMetric.allCases where !onFaultOnly.contains(metric) {
            #expect(parsed.types[metric.name] == metric.kind.rawValue, "\(metric.name) exposed as a \(metric.kind)")
        }
        // Label values from closed sets only (le: a bucket bound; version: the build's).
        for sample in samples {
            for (key, value) in sample.labels {
                switch key {
                case "le": #expect(value == "+Inf" || Double(value) != nil, "\(sample.name) le=\(value)")
                case "version": #expect(sample.name == "ddrouter_build_info" && value.count <= 40)
                default:
                    #expect(Self.allowedLabelValues[key]?.contains(value) == true,
                            "label \(sample.name){\(key)=\"\(value)\"} is not from its closed set")
                }
            }
        }
        // The traffic, as counted.
        func received(_ type: String, _ outcome: String) -> Double {
            Self.metric(samples, "ddrouter_messages_received_total", ["type": type, "outcome": outcome])
        }
        #expect(received("municipal-list", "processed") == 2)
        #expect(received("municipal-list", "duplicate") == 1)
        #expect(received("municipal-list", "rejected") == 1)
        #expect(received("assessment", "refused") == 1)
        #expect(Self.metric(samples, "ddrouter_message_rejections_total", ["code": "malformed-json"]) == 1)
        #expect(Self.metric(samples, "ddrouter_message_rejections_total", ["code": "unknown-case"]) == 1)
        // The rejected list and the refused assessment: every fatal-error answer has its copy.
        #expect(Self.metric(samples, "ddrouter_dead_lettered_total", ["reason": "rejected"]) == 2)
        #expect(Self.metric(samples, "ddrouter_receipts_total", ["status": "ok"]) == 3, "two answers and one resend")
        #expect(Self.metric(samples, "ddrouter_receipts_total", ["status": "fatal-error"]) == 2)
        #expect(Self.metric(samples, "ddrouter_consent_holds_total") >= 1, "entries without consent are held")
        #expect(Self.metric(samples, "ddrouter_events_queued_total") >= 1)
        #expect(Self.metric(samples, "ddrouter_events_published_total") >= Self.metric(samples, "ddrouter_events_confirmed_total"))
        #expect(Self.metric(samples, "ddrouter_message_processing_duration_seconds_count") == 5)
        #expect(Self.metric(samples, "ddrouter_message_age_seconds_count") == 5)
        #expect(Self.metric(samples, "ddrouter_timers_overdue") == 0)
        #expect(Self.metric(samples, "ddrouter_broker_connected") == 1)
        #expect(Self.metric(samples, "ddrouter_consumer_active") == 1)
        #expect(Self.metric(samples, "ddrouter_ready") == 1)
        #expect(Self.metric(samples, "ddrouter_store_writable") == 1)
        #expect(Self.metric(samples, "ddrouter_last_processed_timestamp_seconds") > Date().timeIntervalSince1970 - 120)
        #expect(samples.contains { $0.name == "ddrouter_build_info" && $0.labels["version"] != nil && $0.value == 1 })

        // Shutdown after a few watchdog periods: exit 0, then the notify sequence.
        _ = await eventually(within: .seconds(10)) {
            daemon.notifications().filter { $0.text == "WATCHDOG=1" }.count >= 6
        }
        #expect(try await daemon.terminate() == 0, "exit status:\n\(daemon.logTail())")
        poller.cancel()
        await collector.stop()
        let datagrams = daemon.notifications()
        let texts = datagrams.map(\.text)
        let readyIndex = texts.firstIndex { $0.split(separator: "\n").contains("READY=1") }
        let stoppingIndex = texts.firstIndex { $0.split(separator: "\n").contains("STOPPING=1") }
        #expect(readyIndex != nil && stoppingIndex != nil && readyIndex! < stoppingIndex!, "\(texts)")
        let logLines = daemon.logLines.compactMap(\.object)
        let connectedAt = logLines.firstIndex { $0["msg"] as? String == "connected to broker" }
        let readyAt = logLines.firstIndex { $0["msg"] as? String == "ready: connected and consuming" }
        #expect(connectedAt != nil && readyAt != nil && connectedAt! < readyAt!, "READY=1 follows the connection")
        // WATCHDOG=1 at half of WATCHDOG_USEC (1 s): gaps of about 0.5 s.
        let pings = datagrams.filter { $0.text == "WATCHDOG=1" }.map(\.at)
        #expect(pings.count >= 4, "watchdog pings: \(pings.count)")
        if pings.count >= 3 {
            let gaps = zip(pings.dropFirst(), pings).map { ($0 - $1) / .milliseconds(1) }.sorted()
            let median = gaps[gaps.count / 2]
            #expect(median > 350 && median < 800, "median watchdog gap \(median) ms")
        }
        #expect(texts.contains { $0.hasPrefix("STATUS=consuming; ") }, "a STATUS= line with counts: \(texts)")

        // Privacy: no known CPR (with or without the hyphen), name or free text anywhere.
        let logs = daemon.logText()
        let statusTexts = texts.joined(separator: "\n")
        for form in cprForms(Self.knownCPRs + [Self.caselessCPR]) {
            #expect(!logs.contains(form), "CPR \(form) in the logs")
            #expect(!metricsText.contains(form), "CPR \(form) in /metrics")
            #expect(!statusTexts.contains(form), "CPR \(form) in a notify datagram")
        }
        for text in ["Mette", "Sørensen", "Hjemløs", "mette.sorensen", "SMS", "psykotisk"] {
            #expect(!logs.contains(text), "\(text) in the logs")
            #expect(!statusTexts.contains(text), "\(text) in a notify datagram")
        }
        // The log itself: JSON lines with ts, level, logger, msg; dotted metadata keys.
        let lines = daemon.logLines
        #expect(lines.count > 5)
        for line in lines {
            guard let object = line.object else {
                Issue.record("not a JSON log line: \(line.text)")
                continue
            }
            #expect(object["ts"] is String && object["level"] is String && object["msg"] is String, "\(line.text)")
            for key in object.keys where !["ts", "level", "logger", "msg"].contains(key) {
                #expect(!key.contains("_") || key.contains("."), "undotted snake_case key \(key) in \(line.text)")
            }
        }
        let processed = logLines.filter { $0["msg"] as? String == "message processed" }
        #expect(processed.contains { $0["message.id"] as? String == "obs-list-\(run)" },
                "processed: \(processed.map { "\($0["message.id"] ?? "-") \($0["message.type"] ?? "-")" })")
        #expect(processed.contains { $0["message.id"] as? String == "(redacted)" }, "the id with a CPR is redacted")
        // Citizens only by keyed pseudonym: the store's HMAC of the CPR, from the store key.
        let keys = try StoreKeys(master: Data(DaemonProcess.storeKey.utf8))
        let pseudonymizer = try Pseudonymizer(key: keys.pseudonymKey)
        let expected = Set(try Self.knownCPRs.map { try pseudonymizer.pseudonym(forCPR: $0).hex })
        let cases = logLines.filter { $0["msg"] as? String == "case updated" }
        let logged = Set(cases.compactMap { $0["citizen.pseudonym"] as? String })
        #expect(logged == expected, "one pseudonym per listed citizen, keyed by the store key")
        for line in cases { #expect((line["case.id"] as? String)?.hasPrefix("case-") == true) }
    }

    @Test("observability: /readyz is 503 and READY=1 not sent while the broker is down, 200 after; 503 while the store cannot be written")
    func readyzFollowsBrokerAndStore() async throws {
        let daemon = try DaemonProcess(extraConfig: "metrics:\n  sample_seconds: 1")
        defer { daemon.removeFiles() }
        _ = try await offPool { try Broker.ctl("stop_app") }
        var appStopped = true
        defer { if appStopped { _ = try? Broker.ctl("start_app") } }

        try await daemon.start(waitForReady: false)
        let poller = daemon.pollNotifications()
        defer { poller.cancel() }
        let port = try await daemon.httpPort()
        #expect(try httpGet(port: port, path: "/livez").status == 200)
        let down = try httpGet(port: port, path: "/readyz")
        #expect(down.status == 503 && down.body == "broker not connected\n", "readyz: \(down)")
        let statusSeen = await eventually(within: .seconds(10)) {
            daemon.notifications().contains { $0.text.hasPrefix("STATUS=not ready: broker not connected") }
        }
        #expect(statusSeen, "\(daemon.notifications().map(\.text))")
        #expect(!daemon.notifications().contains { $0.text.contains("READY=1") }, "READY=1 before the broker is up")
        let metrics = parsePrometheus(try httpGet(port: port, path: "/metrics").body).samples
        #expect(Self.metric(metrics, "ddrouter_broker_connected") == 0)
        #expect(Self.metric(metrics, "ddrouter_ready") == 0)

        _ = try await offPool { try Broker.ctl("start_app") }
        appStopped = false
        let up = await eventually(within: .seconds(90)) { (try? httpGet(port: port, path: "/readyz").status) == 200 }
        #expect(up, "readyz after the broker came up:\n\(daemon.logTail())")
        #expect(await eventually(within: .seconds(10)) { daemon.notifications().contains { $0.text.contains("READY=1") } })

        // The store: another process holds SQLite's write lock past the busy timeout (5 s).
        let keys = try StoreKeys(master: Data(DaemonProcess.storeKey.utf8))
        let holder = try Store(path: daemon.storePath, auditKey: keys.auditKey)
        let released = Task.detached {
            try await offPool { try holder.write { _ in Thread.sleep(forTimeInterval: 12) } }
        }
        var blocked: (status: Int, body: String)?
        let notWritable = await eventually(within: .seconds(11)) {
            blocked = try? httpGet(port: port, path: "/readyz")
            return blocked?.status == 503
        }
        #expect(notWritable && blocked?.body.hasPrefix("store write failed") == true, "readyz: \(String(describing: blocked))")
        try await released.value
        try holder.close()
        let writable = await eventually(within: .seconds(20)) { (try? httpGet(port: port, path: "/readyz").status) == 200 }
        #expect(writable, "readyz once the store is writable again")

        #expect(try await daemon.terminate() == 0, "\(daemon.logTail())")
        #expect(daemon.notifications().contains { $0.text.contains("STOPPING=1") })
    }
}
