import AMQP
import Foundation
import Testing

/// Issue 5, the systemd watchdog proves liveness: `ddrouter run` sends `WATCHDOG=1` only while
/// its AMQP I/O thread goes round its loop and its pipeline is not stuck on one delivery; an
/// idle daemon pings. `READY=1` comes only once the broker has accepted the consumer. (The
/// notify sequence and cadence themselves: ObservabilityTests.) Part of the serialized broker suite.
extension ClientTests {
    @Test("daemon subprocess: READY after the broker accepted the consumer; WATCHDOG=1 while idle, withheld while the pipeline is stuck, back after")
    func daemonWatchdogFollowsLiveness() async throws {
        let (daemon, collector) = try await startDaemonWithCollector(environment: ["WATCHDOG_USEC": "2000000"])
        defer { daemon.removeFiles() }
        let poller = daemon.pollNotifications()
        defer { poller.cancel() }

        // READY=1 has come: the broker already lists the daemon's consumer on ddrouter.inbound.
        let admin = AMQPClient(configuration: Broker.configuration(name: "it.watchdog.admin"), logger: testLogger("it.watchdog.admin"))
        admin.start()
        try await admin.waitUntilConnected(timeout: .seconds(30))
        if case .queue(_, let consumers) = try await admin.admin(.inspectQueue("ddrouter.inbound")) {
            #expect(consumers == 1, "the consumer is subscribed when READY=1 arrives")
        }
        await admin.close()

        // Idle but healthy: pings about every second (half of WATCHDOG_USEC).
        func pings() -> [ContinuousClock.Instant] { daemon.notifications().filter { $0.text == "WATCHDOG=1" }.map(\.at) }
        #expect(await eventually(within: .seconds(10)) { pings().count >= 3 }, "an idle daemon pings")

        // A stuck pipeline: the store is write-locked by another process for 7 s, so the
        // delivery in hand waits (busy timeout 5 s, requeue, again).
        let store = daemon.storePath
        let locker = Task {
            try await offPool {
                try Broker.run(["/bin/sh", "-c", "printf 'BEGIN EXCLUSIVE;\\n.shell sleep 7\\nCOMMIT;\\n' | /usr/bin/sqlite3 '\(store)'"])
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        let lockedAt = ContinuousClock.now
        let m851 = SenderClient(user: ScaleDirectory.user(municipality: "851"), name: "it.watchdog.851")
        let (list, _) = try Self.goodList(960)
        try await m851.send(exchange: "dd.in.municipality.851", type: "municipal-list", messageID: "watchdog-1", body: list)
        _ = try await locker.value
        let unlockedAt = ContinuousClock.now

        #expect(await eventually(within: .seconds(30)) {
            await collector.mailbox.count { $0.type == "receipt" && $0.correlationID == "watchdog-1" } >= 1
        }, "processed once the store is free")
        #expect(await eventually(within: .seconds(10)) { pings().filter { $0 > unlockedAt }.count >= 3 }, "pings resume")

        let all = pings()
        let window = [lockedAt] + all.filter { $0 > lockedAt && $0 < unlockedAt } + [unlockedAt]
        let longestGap = zip(window.dropFirst(), window).map { ($0 - $1) / .milliseconds(1) }.max() ?? 0
        #expect(longestGap >= 3000, "no WATCHDOG=1 for seconds while the pipeline was stuck (longest gap \(longestGap) ms)")
        #expect(daemon.logText().contains("watchdog ping withheld"))
        #expect(try await daemon.terminate() == 0)
        await m851.close()
        await collector.stop()
    }
}
