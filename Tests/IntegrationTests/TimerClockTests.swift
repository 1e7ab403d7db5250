import AMQP
import Daemon
import Foundation
import Testing
import Workflow

/// Issue 14, "timers cannot be tried": `ddrouter timers run --as-of` fires a stopped
/// daemon's timers as of a later moment on a test installation (store.dev_key), and the
/// daemon publishes what they queued when it starts again. These end-to-end tests use it,
/// with the real daemon binary and the real broker, for R1's status-unknown timeout, R10's
/// treatment-start warnings and the assessment reminder (docs/operations.md, "Trying the timers").
extension ClientTests {
    /// Runs the built `ddrouter` with `arguments`, outside any systemd unit; returns its exit
    /// status and what it printed (stdout and stderr).
    static func ddrouter(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DDROUTER_") }
        for key in ["INVOCATION_ID", "CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC"] {
            environment.removeValue(forKey: key)
        }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// `timers run --as-of <day>` on the daemon's store, expecting success.
    static func runTimers(_ daemon: DaemonProcess, asOf day: LocalDate) throws -> String {
        let run = try ddrouter([
            "timers", "run", "--config", daemon.configPath, "--as-of", day.iso, "--purpose", "test: timers run forward",
            "--operator", "timer-clock-test",
        ])
        #expect(run.status == 0, "timers run --as-of \(day.iso): \(run.output)")
        return run.output
    }

    static func day(_ offset: Int, from day: LocalDate) -> LocalDate {
        let start = Pipeline.startOfDay(day)!
        return Pipeline.civilDate(of: start.addingTimeInterval(Double(offset) * 86_400 + 12 * 3_600))
    }

    @Test("timers run --as-of (test installation): R1's status-unknown timeout, the R10 warnings and the assessment reminder reach the wire")
    func timersRunForward() async throws {
        try await ScaleDirectory.ensureUsers()
        let collector = Collector(name: "it.timer-clock")
        let journalQueue = "dd.journal.\(ScaleDirectory.journal).requests"
        let clinicQueue = "dd.clinic.\(ScaleDirectory.sydClinic).assessments"
        let queues = ScaleHarness.outboundQueues + [journalQueue]
        try await collector.purge(["ddrouter.inbound"] + queues)
        let daemon = try DaemonProcess()
        defer { daemon.removeFiles() }
        try await daemon.start()
        collector.consume(queues)
        let municipality = SenderClient(user: ScaleDirectory.user(municipality: "851"), name: "it.timer-clock.851")
        let journal = SenderClient(user: ScaleDirectory.journalUser, name: "it.timer-clock.journal")
        defer {
            Task {
                await municipality.close()
                await journal.close()
                await collector.stop()
            }
        }
        let unknown = "0103304123"  // the journal never answers: R1's wait runs out
        let current = "1506315018"  // in current treatment at the clinic: an assessment request
        let today = Pipeline.civilDate(of: Date())

        // The list (both with consent) and the journal's answer for one of them.
        let url = Broker.repoRoot.appendingPathComponent("Config/examples/municipal-list.json")
        var list = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let template = try #require((list["entries"] as? [[String: Any]])?.first)
        list["entries"] = [unknown, current].map { cpr -> [String: Any] in
            var entry = template
            entry["cpr"] = cpr
            return entry
        }
        try await municipality.send(
            exchange: "dd.in.municipality.851", type: "municipal-list", messageID: "tc-list",
            body: try JSONSerialization.data(withJSONObject: list))
        func arrived(_ queue: String, _ type: String, about cpr: String? = nil) async -> [Mailbox.Message] {
            await collector.mailbox.messages(in: queue).filter {
                $0.type == type && (cpr == nil || String(decoding: $0.body, as: UTF8.self).contains(cpr!))
            }
        }
        #expect(await eventually(within: .seconds(30)) { await arrived(journalQueue, "contact-status-request").count == 2 })
        try await journal.send(
            exchange: "dd.in.journal.\(ScaleDirectory.journal)", type: "contact-status", messageID: "tc-status",
            body: try JSONSerialization.data(withJSONObject: [
                "schemaVersion": "1.0", "asOf": today.iso,
                "entries": [["cpr": current, "known": true, "currentCourse": ["clinic": ScaleDirectory.sydClinic, "since": "2025-02-10"]]],
            ] as [String: Any]))
        #expect(await eventually(within: .seconds(30)) { await !arrived(clinicQueue, "assessment-request", about: current).isEmpty })

        // While the daemon runs, the store is its own: refused, nothing changed.
        let busy = try Self.ddrouter([
            "timers", "run", "--config", daemon.configPath, "--as-of", Self.day(8, from: today).iso, "--purpose", "test",
        ])
        #expect(busy.status == 75, "\(busy.output)")
        #expect(busy.output.contains("another ddrouter process uses the store"))
        let listed = try Self.ddrouter(["timers", "list", "--config", daemon.configPath])
        #expect(listed.status == 0)
        #expect(listed.output.contains("statusUnknownTimeout") && listed.output.contains("assessmentReminder"), "\(listed.output)")
        #expect(!listed.output.contains(unknown) && !listed.output.contains(current))

        // R1: eight days on, the status is still unknown: the case goes to Central Visitation.
        try await daemon.terminate()
        let first = try Self.runTimers(daemon, asOf: Self.day(8, from: today))
        #expect(!first.contains(unknown) && !first.contains(current), "no CPR in the command's output")
        #expect(await arrived("dd.cv.referrals", "cv-referral").isEmpty, "nothing is published before the daemon runs")
        try await daemon.start()
        #expect(await eventually(within: .seconds(30)) { await !arrived("dd.cv.referrals", "cv-referral", about: unknown).isEmpty })
        let referral = try #require(await arrived("dd.cv.referrals", "cv-referral", about: unknown).first?.json)
        #expect(referral["reason"] as? String == "status-unknown-timeout")
        let deadline = try #require((referral["treatmentDeadline"] as? String).flatMap { LocalDate(iso: $0) })
        // A list entry's Central Visitation referral is made by the timeout, at the moved clock:
        // R10 counts from then (a `referral` message would count from its own receipt, I12).
        #expect(deadline == Self.day(22, from: today))

        // R10: two days before the deadline, the warning; the day after it, "passed". The
        // clinic's assessment reminder (14 days after its request) comes by then too.
        try await daemon.terminate()
        _ = try Self.runTimers(daemon, asOf: Self.day(-2, from: deadline))
        try await daemon.start()
        #expect(await eventually(within: .seconds(30)) { await !arrived("dd.cv.referrals", "deadline-warning").isEmpty })
        let approaching = try #require(await arrived("dd.cv.referrals", "deadline-warning").first?.json)
        #expect(approaching["state"] as? String == "approaching")
        #expect(approaching["deadline"] as? String == deadline.iso)

        try await daemon.terminate()
        _ = try Self.runTimers(daemon, asOf: Self.day(1, from: deadline))
        try await daemon.start()
        #expect(await eventually(within: .seconds(30)) { await arrived("dd.cv.referrals", "deadline-warning").count == 2 })
        #expect(await arrived("dd.cv.referrals", "deadline-warning").last?.json?["state"] as? String == "passed")
        #expect(await eventually(within: .seconds(30)) {
            await arrived(clinicQueue, "deadline-warning", about: current).contains { $0.json?["deadlineKind"] as? String == "assessment" }
        })
        // Each timer fired once: running the same moment again changes nothing.
        try await daemon.terminate()
        let again = try Self.runTimers(daemon, asOf: Self.day(1, from: deadline))
        #expect(again.contains("0 outbound message(s) queued"), "\(again)")
        #expect(!daemon.logText().contains(unknown) && !daemon.logText().contains(current))
    }

    @Test("timers run is refused on a store keyed for production, with the clock running backwards, and leaves the store alone")
    func timersRunRefusals() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.removeFiles() }
        let keyFile = daemon.directory.appendingPathComponent("store-key").path
        try String(repeating: "ab", count: 32).write(toFile: keyFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile)
        let production = daemon.directory.appendingPathComponent("production.yaml").path
        let yaml = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
            .replacingOccurrences(of: "dev_key: \"\(DaemonProcess.storeKey)\"", with: "key_file: \(keyFile)")
        #expect(yaml.contains("key_file"))
        try yaml.write(toFile: production, atomically: true, encoding: .utf8)
        let tomorrow = Self.day(1, from: Pipeline.civilDate(of: Date())).iso
        let refused = try Self.ddrouter(["timers", "run", "--config", production, "--as-of", tomorrow, "--purpose", "test"])
        #expect(refused.status == 77, "\(refused.output)")
        #expect(refused.output.contains("test installations only"))
        #expect(!FileManager.default.fileExists(atPath: daemon.storePath), "nothing was opened or created")
        let backwards = try Self.ddrouter(["timers", "run", "--config", daemon.configPath, "--as-of", "2020-01-01", "--purpose", "test"])
        #expect(backwards.status == 64, "\(backwards.output)")
        #expect(backwards.output.contains("only moves forward"))
        #expect(!FileManager.default.fileExists(atPath: daemon.storePath))
    }
}
