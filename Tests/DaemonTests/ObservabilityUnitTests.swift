import CoreMetrics
@testable import Daemon
import Foundation
import Logging
import Store
import Testing

@Suite("Observability: settings, metric catalogue, Prometheus rendering, log handler, health, store gauges")
struct ObservabilityUnitTests {
    // MARK: settings

    @Test func shippedConfigurationHasTheDefaults() async throws {
        let s = try await ObservabilitySettings.load(path: DaemonSettingsTests.shippedConfig, environment: [:])
        #expect(s == ObservabilitySettings())
        #expect(s.bindHost == "127.0.0.1" && s.bindPort == 9464)
        #expect(s.logFormat == .json && s.logLevel == .info && s.sampleInterval == .seconds(5))
    }

    @Test func environmentOverridesAndOff() async throws {
        let s = try await ObservabilitySettings.load(
            path: DaemonSettingsTests.shippedConfig,
            environment: ["DDROUTER_HTTP_BIND": "[::1]:0", "DDROUTER_LOGGING_FORMAT": "text",
                          "DDROUTER_LOGGING_LEVEL": "debug", "DDROUTER_METRICS_SAMPLE_SECONDS": "1"])
        #expect(s.bindHost == "::1" && s.bindPort == 0)
        #expect(s.logFormat == .text && s.logLevel == .debug && s.sampleInterval == .seconds(1))
        let off = try await ObservabilitySettings.load(
            path: DaemonSettingsTests.shippedConfig, environment: ["DDROUTER_HTTP_BIND": "off"])
        #expect(off.bindHost == nil)
        #expect(off.trimInterval == .seconds(30), "the allocator's free pages go back every 30 s unless told otherwise")
        let never = try await ObservabilitySettings.load(
            path: DaemonSettingsTests.shippedConfig, environment: ["DDROUTER_MEMORY_TRIM_SECONDS": "0"])
        #expect(never.trimInterval == nil)
        let check = await ConfigCheck.run(
            path: DaemonSettingsTests.shippedConfig,
            environment: ["DDROUTER_HTTP_BIND": "off", "DDROUTER_LOGGING_FORMAT": "text"])
        #expect(check.problems == [])
        #expect(check.effective.contains("http.bind = off  # env DDROUTER_HTTP_BIND"))
        #expect(check.effective.contains("logging.format = text  # env DDROUTER_LOGGING_FORMAT"))
        #expect(check.effective.contains("logging.level = info"))
        #expect(check.effective.contains("metrics.sample_seconds = 5"))
        #expect(check.effective.contains("memory.trim_seconds = 30"))
    }

    /// A bad value is one problem line from `check-config` (exit 78) that names the key, and
    /// `load` (what `run` calls) refuses it the same way.
    @Test(arguments: [
        ("DDROUTER_HTTP_BIND", "9464", "http.bind must be HOST:PORT"),
        ("DDROUTER_HTTP_BIND", "localhost:99999", "http.bind port must be 0-65535, got 99999"),
        ("DDROUTER_HTTP_BIND", "127.0.0.1:http", "http.bind must be HOST:PORT"),
        ("DDROUTER_HTTP_BIND", "::1:9464", "http.bind must be HOST:PORT"),
        ("DDROUTER_HTTP_BIND", "[fe80::zz]:9464", "http.bind: fe80::zz is not an IPv6 address"),
        ("DDROUTER_HTTP_BIND", "999.1.1.1:9464", "http.bind: \"999.1.1.1\" is not an IP address or host name"),
        ("DDROUTER_HTTP_BIND", "my host:9464", "http.bind: \"my host\" is not an IP address or host name"),
        ("DDROUTER_LOGGING_FORMAT", "xml", "logging.format must be json or text, got \"xml\""),
        ("DDROUTER_LOGGING_LEVEL", "loud", "logging.level must be one of trace, debug, info, notice, warning, error, critical"),
        ("DDROUTER_METRICS_SAMPLE_SECONDS", "0", "metrics.sample_seconds must be 1-300, got 0"),
        ("DDROUTER_MEMORY_TRIM_SECONDS", "-1", "memory.trim_seconds must be 0-3600, got -1"),
    ])
    func badValuesAreOneClearLine(variable: String, value: String, problem: String) async throws {
        let check = await ConfigCheck.run(path: DaemonSettingsTests.shippedConfig, environment: [variable: value])
        #expect(check.problems.count == 1, "\(check.problems)")
        #expect(check.problems.first?.hasPrefix(problem) == true, "\(check.problems)")
        await #expect { try await ObservabilitySettings.load(path: DaemonSettingsTests.shippedConfig, environment: [variable: value]) } throws: {
            "\($0)".hasPrefix(problem)
        }
    }

    @Test func goodBindAddresses() {
        for (text, host, port) in [("127.0.0.1:9464", "127.0.0.1", 9464), ("[::1]:0", "::1", 0),
                                   ("localhost:9100", "localhost", 9100), ("mgmt-1.example.org:80", "mgmt-1.example.org", 80)] {
            guard case .success(let parsed) = ObservabilitySettings.parseBind(text) else {
                Issue.record("\(text) refused")
                continue
            }
            #expect(parsed.0 == host && parsed.1 == port)
        }
    }

    @Test func everyKeyIsInTheShippedFileWithItsDefault() throws {
        let text = try String(contentsOfFile: DaemonSettingsTests.shippedConfig, encoding: .utf8)
        #expect(ConfigSchema.contributors.contains { $0 == ObservabilitySettings.self })
        for spec in ObservabilitySettings.configKeys {
            let parts = spec.name.split(separator: ".")
            #expect(text.contains("\n\(parts[0]):\n") && text.contains("  \(parts[1]): \(spec.defaultValue) "),
                    "\(spec.name) in Config/ddrouter.yaml")
            #expect(text.contains("# default \(spec.defaultValue)"), "\(spec.name)'s default is commented")
        }
    }

    // MARK: catalogue

    @Test func metricNamesFollowPrometheusConventions() {
        let allowedLabels: Set = ["type", "outcome", "code", "reason", "status", "level", "version"]
        for metric in DaemonMetric.allCases {
            #expect(metric.name.hasPrefix("ddrouter_"))
            #expect(metric.name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })
            #expect((metric.kind == .counter) == metric.name.hasSuffix("_total"), "\(metric.name)")
            if metric.kind == .histogram {
                #expect(metric.name.hasSuffix("_seconds") && !metric.buckets.isEmpty)
                #expect(metric.buckets == metric.buckets.sorted())
            }
            #expect(!metric.help.isEmpty)
            #expect(Set(metric.labels).isSubset(of: allowedLabels), "\(metric.name) labels \(metric.labels)")
        }
    }

    @Test func everyMetricIsDocumented() throws {
        let doc = try String(
            contentsOf: DaemonSettingsTests.repoRoot.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        for metric in DaemonMetric.allCases {
            #expect(doc.contains("`\(metric.name)`"), "\(metric.name) in docs/operations.md")
        }
    }

    @Test("a channel the broker closes: the reason label of ddrouter_broker_channel_closures_total is a closed set; a consumer timeout is logged as an error that says what to do")
    func channelClosures() {
        let timeout = "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 2000 ms. This timeout value can be configured, see consumers doc guide to learn more"
        #expect(DaemonMonitor.channelClosureReason(code: 406, text: timeout) == "consumer-timeout")
        #expect(DaemonMonitor.channelClosureReason(code: 406, text: "PRECONDITION_FAILED - inequivalent arg 'x-queue-type'") == "precondition-failed")
        #expect(DaemonMonitor.channelClosureReason(code: 404, text: "NOT_FOUND - no exchange 'x'") == "not-found")
        #expect(DaemonMonitor.channelClosureReason(code: 403, text: "ACCESS_REFUSED") == "access-refused")
        #expect(DaemonMonitor.channelClosureReason(code: 541, text: "INTERNAL_ERROR") == "other")

        let lines = ChannelLogLines()
        let logger = Logger(label: "test") { _ in ChannelLogLines.Handler(lines: lines) }
        var connected = true
        DaemonMonitor.record(
            .channelClosed(channel: "consume", code: 406, reason: timeout), wasConnected: &connected, clients: [], logger: logger)
        let logged = lines.all
        #expect(logged.count == 1)
        #expect(logged.first?.level == .error)
        #expect(logged.first?.message.contains("consumer_timeout") == true)
        #expect(logged.first?.metadata["reason"] == "consumer-timeout")
    }

    @Test func labelValuesAreBounded() {
        #expect(MetricLabel.type("municipal-list") == "municipal-list")
        #expect(MetricLabel.type("0103304123") == "other")
        #expect(MetricLabel.type(nil) == "other")
        #expect(MetricLabel.rejectionCode("malformed-json") == "malformed-json")
        #expect(MetricLabel.rejectionCode("Mette Sørensen") == "other")
        #expect(MetricLabel.receiptStatus("fatal-error") == "fatal-error")
        #expect(MetricLabel.receiptStatus("010330-4123") == "other")
        #expect(Observe.receiptStatus(Data(#"{"status":"ok","x":1}"#.utf8)) == "ok")
        #expect(Observe.receiptStatus(Data("not json".utf8)) == "other")
    }

    // MARK: rendering

    @Test func factoryRendersHelpTypeAndSecondsBuckets() {
        let factory = DaemonMetricsFactory()
        factory.makeCounter(
            label: DaemonMetric.messagesReceived.name, dimensions: [("type", "referral"), ("outcome", "processed")]
        ).increment(by: 2)
        factory.makeTimer(label: DaemonMetric.processingDuration.name, dimensions: [("type", "referral")])
            .recordNanoseconds(3_000_000)
        factory.makeRecorder(label: DaemonMetric.outboxDepth.name, dimensions: [], aggregate: false).record(Int64(7))
        let text = factory.render()
        #expect(text.contains("# HELP ddrouter_messages_received_total Deliveries taken"))
        #expect(text.contains("# TYPE ddrouter_messages_received_total counter"))
        #expect(text.contains(#"ddrouter_messages_received_total{type="referral",outcome="processed"} 2"#))
        #expect(text.contains("# TYPE ddrouter_message_processing_duration_seconds histogram"))
        #expect(text.contains(#"ddrouter_message_processing_duration_seconds_bucket{type="referral",le="0.0025"} 0"#))
        #expect(text.contains(#"ddrouter_message_processing_duration_seconds_bucket{type="referral",le="0.005"} 1"#))
        #expect(text.contains("# TYPE ddrouter_outbox_depth gauge"))
        #expect(text.contains("ddrouter_outbox_depth 7"))
    }

    // MARK: log handler

    static func log(
        _ format: DaemonLogHandler.Format, _ message: Logger.Message, _ metadata: Logger.Metadata = [:],
        level: Logger.Level = .info
    ) -> String {
        let sink = LogSink.memory()
        var handler = DaemonLogHandler(label: "ddrouter", format: format, level: .info, sink: sink)
        handler.metadata = ["process.role": "test"]
        let logger = Logger(label: "ddrouter") { _ in handler }
        logger.log(level: level, message, metadata: metadata)
        return sink.lines.joined()
    }

    @Test func jsonLinesWithDottedKeys() throws {
        let line = Self.log(.json, "message processed", [
            "message_id": "list-7", "type": "municipal-list", "store": ["path": "/var/lib/x"],
            "citizen.pseudonym": "0123456789abcdef0123456789abcdef", "quote": "a \"b\"\nc",
        ])
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["msg"] as? String == "message processed")
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "ddrouter")
        #expect((object["ts"] as? String)?.count == 24)
        #expect(object["message.id"] as? String == "list-7")
        #expect(object["message.type"] as? String == "municipal-list")
        #expect(object["store.path"] as? String == "/var/lib/x")
        #expect(object["process.role"] as? String == "test")
        #expect(object["quote"] as? String == "a \"b\"\nc")
        #expect(object["citizen.pseudonym"] as? String == "0123456789abcdef0123456789abcdef", "a pseudonym is not redacted")
        #expect(object["message_id"] == nil)
    }

    @Test func cprShapedTokensAreRedactedAsASafetyNet() {
        let line = Self.log(.json, "entry 010330-4123 failed", ["error": "cpr 1506315018 bad", "id": "x-2304851234"])
        #expect(!line.contains("010330-4123") && !line.contains("1506315018") && !line.contains("2304851234"))
        #expect(line.contains("(redacted-cpr)"))
        // Not CPR-shaped: longer digit runs, digits inside words or hex, timestamps.
        #expect(DaemonLogHandler.redactingCPR("seq 12345678901 ok") == "seq 12345678901 ok")
        #expect(DaemonLogHandler.redactingCPR("ab0103304123") == "ab0103304123")
        #expect(DaemonLogHandler.redactingCPR("2026-11-23T14:30:00.123Z") == "2026-11-23T14:30:00.123Z")
        #expect(DaemonLogHandler.redactingCPR("(0103304123)") == "((redacted-cpr))")
        let text = Self.log(.text, "hello", ["message_id": "a b", "n": "3"], level: .warning)
        #expect(text.hasSuffix(" warning ddrouter: hello message.id=\"a b\" n=3 process.role=test\n"))
    }

    // MARK: health

    @Test func readinessNamesTheFirstMissingCondition() {
        final class Flags: @unchecked Sendable {
            var broker = false
            var consuming = false
        }
        let flags = Flags()
        let health = DaemonHealth(brokerConnected: { flags.broker }, consuming: { flags.consuming })
        #expect(health.readiness().reason == "broker not connected")
        flags.broker = true
        #expect(health.readiness().reason == "not consuming ddrouter.inbound")
        flags.consuming = true
        #expect(health.readiness().reason == "store not checked yet")
        health.storeProbed(problem: "store disk nearly full (3 MiB free)")
        #expect(health.readiness() == (false, "store disk nearly full (3 MiB free)"))
        health.storeProbed(problem: nil)
        #expect(health.readiness() == (true, "ready"))
        health.markStopping()
        #expect(health.readiness() == (false, "stopping"))
    }

    // MARK: store gauges

    @Test func storeGaugesCountPendingWorkAndTheProbeSeesAClosedStore() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ddr-gauges-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try Store(path: dir.appendingPathComponent("s.sqlite").path, auditKey: Data(repeating: 1, count: 32))
        let now = Date()
        #expect(try store.gauges(at: now) == StoreGauges(outboxPending: 0, oldestPendingAt: nil, timersPending: 0, timersOverdue: 0))
        try store.write { tx in
            for i in 0..<3 {
                _ = try tx.enqueue(OutboxEvent(
                    messageID: "m\(i)", exchange: "dd.out", routingKey: "k", type: "receipt", correlationID: nil,
                    body: Data("{}".utf8), createdAt: now.addingTimeInterval(Double(i - 10))))
            }
            _ = try tx.schedule(TimerRecord(timerID: "t1", caseID: nil, kind: "k", dueAt: now.addingTimeInterval(-60),
                                            payload: Data("{}".utf8), createdAt: now))
            _ = try tx.schedule(TimerRecord(timerID: "t2", caseID: nil, kind: "k", dueAt: now.addingTimeInterval(3600),
                                            payload: Data("{}".utf8), createdAt: now))
        }
        _ = try store.markSent(messageIDs: ["m0"])
        let gauges = try store.gauges(at: now)
        #expect(gauges.outboxPending == 2 && gauges.timersPending == 2 && gauges.timersOverdue == 1)
        let oldest = try #require(gauges.oldestPendingAt)
        #expect(abs(oldest.timeIntervalSince(now.addingTimeInterval(-9))) < 0.01)
        #expect(store.writeProbe() == nil)
        #expect(store.writeProbe(minimumFreeBytes: .max)?.contains("disk nearly full") == true)
        try store.close()
        #expect(store.writeProbe() != nil)
    }
}

/// Log lines a test logger received (level, message, metadata as text).
final class ChannelLogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(level: Logger.Level, message: String, metadata: [String: String])] = []
    var all: [(level: Logger.Level, message: String, metadata: [String: String])] { lock.withLock { lines } }

    struct Handler: LogHandler {
        let lines: ChannelLogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let text = (event.metadata ?? [:]).mapValues { "\($0)" }
            lines.lock.withLock { lines.lines.append((event.level, "\(event.message)", text)) }
        }
    }
}
