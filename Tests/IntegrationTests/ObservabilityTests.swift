import AMQP
import Daemon
import Foundation
import Testing

/// A private vhost with the daemon's user and a `municipality-851` sender, and the environment
/// that points `ddrouter run` (shipped configuration) at it with a fresh store.
struct ObservabilityRig {
    let directory: URL
    let vhost: String
    let senderPassword: String
    let run = UUID().uuidString.prefix(8).lowercased()

    static var shippedConfig: String { Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml").path }

    init() throws {
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("ddr-obs-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        vhost = Broker.unique("ddrouter-obs")
        senderPassword = "obs-\(UUID().uuidString.prefix(12))"
        try Broker.ctl("add_vhost", vhost)
        try Broker.ctl("set_permissions", "-p", vhost, Broker.user, ".*", ".*", ".*")
        if (try? Broker.ctl("add_user", "municipality-851", senderPassword)) == nil {
            try Broker.ctl("change_password", "municipality-851", senderPassword)
        }
        try Broker.ctl("set_permissions", "-p", vhost, "municipality-851", ".*", ".*", ".*")
    }

    func cleanup() {
        _ = try? Broker.ctl("delete_vhost", vhost)
        _ = try? Broker.ctl("delete_user", "municipality-851")
        try? FileManager.default.removeItem(at: directory)
    }

    /// `DDROUTER_*` overrides on top of the shipped configuration.
    var environment: [String: String] {
        [
            "DDROUTER_BROKER_HOST": Broker.host, "DDROUTER_BROKER_PORT": "\(Broker.port)",
            "DDROUTER_BROKER_VHOST": vhost, "DDROUTER_BROKER_USER": Broker.user,
            "DDROUTER_BROKER_PASSWORD": Broker.password, "DDROUTER_BROKER_CONNECT_TIMEOUT_SECONDS": "2",
            "DDROUTER_STORE_PATH": directory.appendingPathComponent("store/ddrouter.sqlite").path,
            "DDROUTER_HTTP_BIND": "127.0.0.1:0", "DDROUTER_LOGGING_FORMAT": "json", "DDROUTER_LOGGING_LEVEL": "info",
            "DDROUTER_METRICS_SAMPLE_SECONDS": "1",
        ]
    }

    func startDaemon(notify: NotifyCollector?, watchdogUSec: Int? = nil) throws -> DaemonProcess {
        var env = environment
        if let notify { env["NOTIFY_SOCKET"] = notify.path }
        if let watchdogUSec { env["WATCHDOG_USEC"] = "\(watchdogUSec)" }
        return try DaemonProcess(arguments: ["run", "--config", Self.shippedConfig], environment: env, directory: directory)
    }

    func sender() async throws -> AMQPClient {
        var c = Broker.configuration(name: "it.obs.sender")
        c.vhost = vhost
        c.authentication = .plain(user: "municipality-851", password: senderPassword)
        let client = AMQPClient(configuration: c, logger: testLogger("obs.sender"))
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        return client
    }
}

func publishList(_ client: AMQPClient, body: Data, id: String, type: String = "municipal-list") async throws {
    try await client.publish(OutboundMessage(
        exchange: "dd.in.municipality.851", routingKey: type, body: body,
        properties: MessageProperties(
            contentType: "application/json", messageID: id, timestamp: UInt64(Date().timeIntervalSince1970),
            type: type, userID: "municipality-851")))
}

/// The value of one sample (summed over the samples matching `labels`), from `/metrics`.
func metricValue(_ samples: [PromSample], _ name: String, _ labels: [String: String] = [:]) -> Double {
    samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }.map(\.value).reduce(0, +)
}

extension ClientTests {
    /// Known CPR numbers for the privacy checks: the example list's two and three more.
    static let knownCPRs = ["010330-4123", "1506315018", "2304851234", "111290-1357", "3007770246"]

    /// The example municipal list with one entry per known CPR.
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

    @Test("observability: /metrics parses and is named by convention, /livez and /readyz answer, no CPR in logs, metrics or STATUS=, notify sequence")
    func observabilityEndToEnd() async throws {
        let rig = try ObservabilityRig()
        defer { rig.cleanup() }
        let notify = try NotifyCollector(directory: rig.directory)
        defer { notify.close() }
        let daemon = try rig.startDaemon(notify: notify, watchdogUSec: 1_000_000)
        let port = try await daemon.httpPort()
        let ready = await eventually(within: .seconds(60)) { notify.texts.contains { $0.hasPrefix("READY=1") } }
        #expect(ready, "READY=1 once connected and consuming; stdout:\n\(daemon.stdout)")
        #expect(try httpGet(port: port, path: "/livez").status == 200)
        let readyz = try httpGet(port: port, path: "/readyz")
        #expect(readyz.status == 200 && readyz.body == "ready\n", "readyz: \(readyz)")

        // Traffic: a list with known CPRs, the same again (duplicate), a list whose message_id
        // embeds a CPR, a truncated body with a CPR (rejected), a type not processed yet.
        let sender = try await rig.sender()
        let list = try Self.listWithKnownCPRs()
        try await publishList(sender, body: list, id: "obs-list-\(rig.run)")
        try await publishList(sender, body: list, id: "obs-list-\(rig.run)")
        try await publishList(sender, body: list, id: "obs-2304851234-\(rig.run)")
        try await publishList(sender, body: Data("{\"schemaVersion\":\"1.0\",\"entries\":[{\"cpr\":\"3007770246\"".utf8),
                              id: "obs-bad-\(rig.run)")
        try await publishList(sender, body: Data("{}".utf8), id: "obs-position-\(rig.run)", type: "municipal-position")
        await sender.close()

        var samples: [PromSample] = []
        let settled = await eventually(within: .seconds(60)) {
            guard let text = try? httpGet(port: port, path: "/metrics").body else { return false }
            samples = parsePrometheus(text).samples
            return metricValue(samples, "ddrouter_messages_received_total") >= 5
                && metricValue(samples, "ddrouter_outbox_depth") == 0
                && metricValue(samples, "ddrouter_events_confirmed_total") >= 1
        }
        #expect(settled, "five deliveries settled and the outbox drained; stdout:\n\(daemon.stdout)")
        let metricsText = try httpGet(port: port, path: "/metrics").body
        let parsed = parsePrometheus(metricsText)
        #expect(parsed.errors.isEmpty, "invalid exposition lines: \(parsed.errors)")
        samples = parsed.samples

        // Names: every family ddrouter_-prefixed, counters end in _total, histograms in _seconds.
        #expect(!parsed.types.isEmpty)
        for (name, type) in parsed.types {
            #expect(name.hasPrefix("ddrouter_"), "\(name)")
            if type == "counter" { #expect(name.hasSuffix("_total"), "counter \(name)") }
            if type == "histogram" { #expect(name.hasSuffix("_seconds"), "histogram \(name)") }
        }
        for metric in DaemonMetric.allCases where ![.eventsReturned, .eventsFailed, .brokerDisconnections].contains(metric) {
            #expect(parsed.types[metric.name] == metric.kind.rawValue, "\(metric.name) exposed as a \(metric.kind)")
        }
        for sample in samples {
            for (key, value) in sample.labels {
                #expect(!looksLikeCPR(value), "label \(sample.name){\(key)} carries a CPR-like value")
                #expect(value.count <= 40, "label \(sample.name){\(key)} is unexpectedly long: \(value)")
            }
        }
        // The traffic, as counted.
        func received(_ outcome: String) -> Double {
            metricValue(samples, "ddrouter_messages_received_total", ["type": "municipal-list", "outcome": outcome])
        }
        #expect(received("processed") == 2)
        #expect(received("duplicate") == 1)
        #expect(received("rejected") == 1)
        #expect(metricValue(samples, "ddrouter_messages_received_total", ["type": "municipal-position", "outcome": "deferred"]) == 1)
        #expect(metricValue(samples, "ddrouter_message_rejections_total", ["code": "malformed-json"]) == 1)
        #expect(metricValue(samples, "ddrouter_dead_lettered_total", ["reason": "rejected"]) == 1)
        #expect(metricValue(samples, "ddrouter_dead_lettered_total", ["reason": "deferred"]) == 1)
        #expect(metricValue(samples, "ddrouter_receipts_total", ["status": "ok"]) >= 3, "two answers and one resend")
        #expect(metricValue(samples, "ddrouter_receipts_total", ["status": "fatal-error"]) == 1)
        #expect(metricValue(samples, "ddrouter_receipts_total", ["status": "transient-error"]) == 1)
        #expect(metricValue(samples, "ddrouter_consent_holds_total") >= 1, "entries without consent are held")
        #expect(metricValue(samples, "ddrouter_message_processing_duration_seconds_count") == 5)
        #expect(metricValue(samples, "ddrouter_message_age_seconds_count") == 5)
        #expect(metricValue(samples, "ddrouter_broker_connected") == 1)
        #expect(metricValue(samples, "ddrouter_ready") == 1)
        #expect(metricValue(samples, "ddrouter_store_writable") == 1)
        #expect(metricValue(samples, "ddrouter_last_processed_timestamp_seconds") > Date().timeIntervalSince1970 - 120)
        #expect(samples.contains { $0.name == "ddrouter_build_info" && $0.labels["version"] != nil && $0.value == 1 })

        // Shutdown: STOPPING=1, exit 0.
        let exit = await daemon.stop(signal: SIGTERM)
        #expect(exit == 0, "exit status; stderr:\n\(daemon.stderr)")
        let texts = notify.texts
        let readyIndex = texts.firstIndex { $0.hasPrefix("READY=1") }
        let stoppingIndex = texts.firstIndex { $0.hasPrefix("STOPPING=1") }
        #expect(readyIndex != nil && stoppingIndex != nil && readyIndex! < stoppingIndex!, "\(texts)")
        // WATCHDOG=1 at about half of WATCHDOG_USEC (1 s): gaps around 0.5 s.
        let pings = notify.datagrams.filter { $0.text == "WATCHDOG=1" }.map(\.at)
        #expect(pings.count >= 4, "watchdog pings: \(pings.count)")
        if pings.count >= 3 {
            let gaps = zip(pings.dropFirst(), pings).map { ($0 - $1) / .milliseconds(1) }.sorted()
            let median = gaps[gaps.count / 2]
            #expect(median > 350 && median < 900, "median watchdog gap \(median) ms")
        }

        // Privacy: no known CPR (with or without the hyphen), name or free text anywhere.
        let logs = daemon.stdout + daemon.stderr
        let statusTexts = texts.joined(separator: "\n")
        for form in cprForms(Self.knownCPRs) {
            #expect(!logs.contains(form), "CPR \(form) in the logs")
            #expect(!metricsText.contains(form), "CPR \(form) in /metrics")
            #expect(!statusTexts.contains(form), "CPR \(form) in a notify datagram")
        }
        for text in ["Mette", "Sørensen", "Hjemløs", "mette.sorensen"] {
            #expect(!logs.contains(text), "\(text) in the logs")
        }
        // The logs themselves: JSON lines with ts, level, msg; dotted keys.
        let lines = daemon.logLines
        #expect(lines.count > 5)
        for line in lines {
            guard let object = line.object else {
                Issue.record("not a JSON log line: \(line.text)")
                continue
            }
            #expect(object["ts"] is String && object["level"] is String && object["msg"] is String, "\(line.text)")
            #expect(!object.keys.contains("message_id"), "legacy key in \(line.text)")
        }
        let processed = lines.compactMap(\.object).filter { $0["msg"] as? String == "message processed" }
        #expect(processed.contains { $0["message.id"] as? String == "obs-list-\(rig.run)" })
        #expect(processed.contains { $0["message.id"] as? String == "(redacted)" }, "the id with a CPR is redacted")
        let cases = lines.compactMap(\.object).filter { $0["msg"] as? String == "case updated" }
        #expect(cases.count >= Self.knownCPRs.count, "one line per citizen's case")
        for line in cases {
            let pseudonym = line["citizen.pseudonym"] as? String ?? ""
            #expect(pseudonym.count == 32 && pseudonym.allSatisfy(\.isHexDigit), "pseudonym \(pseudonym)")
            #expect((line["case.id"] as? String)?.hasPrefix("case-") == true)
        }
    }

    @Test("observability: /readyz is 503 and READY=1 is not sent while the broker is down; both follow when it comes up")
    func readyzFollowsTheBroker() async throws {
        let rig = try ObservabilityRig()
        defer { rig.cleanup() }
        let notify = try NotifyCollector(directory: rig.directory)
        defer { notify.close() }
        try Broker.ctl("stop_app")
        var appStopped = true
        defer { if appStopped { _ = try? Broker.ctl("start_app") } }

        let daemon = try rig.startDaemon(notify: notify)
        let port = try await daemon.httpPort()
        #expect(try httpGet(port: port, path: "/livez").status == 200)
        let down = try httpGet(port: port, path: "/readyz")
        #expect(down.status == 503 && down.body == "broker not connected\n", "readyz: \(down)")
        try await Task.sleep(for: .seconds(2))
        #expect(!notify.texts.contains { $0.hasPrefix("READY=1") }, "READY=1 before the broker is up: \(notify.texts)")
        let metrics = parsePrometheus(try httpGet(port: port, path: "/metrics").body).samples
        #expect(metricValue(metrics, "ddrouter_broker_connected") == 0)
        #expect(metricValue(metrics, "ddrouter_ready") == 0)
        #expect(notify.texts.contains { $0.hasPrefix("STATUS=not ready: broker not connected") }, "\(notify.texts)")

        try Broker.ctl("start_app")
        appStopped = false
        let up = await eventually(within: .seconds(90)) { (try? httpGet(port: port, path: "/readyz").status) == 200 }
        #expect(up, "readyz after the broker came up; stdout:\n\(daemon.stdout)")
        #expect(await eventually(within: .seconds(10)) { notify.texts.contains { $0.hasPrefix("READY=1") } })
        #expect(await daemon.stop(signal: SIGTERM) == 0, "stderr:\n\(daemon.stderr)")
        #expect(notify.texts.contains { $0.hasPrefix("STOPPING=1") })
    }
}
