import AMQP
import Foundation
import Testing

/// What `ddrouter run` does when its subscription to `ddrouter.inbound` is lost. The client
/// reconnects and resubscribes by itself after a forced connection close and after the
/// broker cancels the consumer (queue deleted): the daemon keeps working. When the broker
/// refuses the subscription for good (access refused), the consume stream ends with an
/// error: the daemon must exit non-zero (69) so that systemd's Restart=on-failure restarts
/// it, instead of staying up consuming nothing. Part of the serialized broker suite.
extension ClientTests {
    /// Sends a good list from 851 and waits for its receipt.
    func roundTrip(_ sender: SenderClient, _ collector: Collector, id: String, seed: Int) async throws -> Bool {
        let (list, _) = try Self.goodList(seed)
        try await sender.send(exchange: "dd.in.municipality.851", type: "municipal-list", messageID: id, body: list)
        return await eventually(within: .seconds(30)) {
            await collector.mailbox.count { $0.type == "receipt" && $0.correlationID == id } >= 1
        }
    }

    @Test("daemon subprocess: forced connection close and consumer cancel (queue deleted): it resubscribes and keeps processing")
    func daemonResubscribes() async throws {
        let (daemon, collector) = try await startDaemonWithCollector()
        defer { daemon.removeFiles() }
        let m851 = SenderClient(user: ScaleDirectory.user(municipality: "851"), name: "it.loss.851")
        #expect(try await roundTrip(m851, collector, id: "loss-before", seed: 950))

        let pid = try #require(try await offPool { try Broker.connectionPID(named: "ddrouter") }, "the daemon's connection")
        _ = try await offPool { try Broker.ctl("close_connection", pid, "integration test closes the daemon's connection") }
        #expect(try await roundTrip(m851, collector, id: "loss-after-close", seed: 951), "processed after the reconnect")
        #expect(daemon.isRunning)

        // Deleting the queue makes the broker cancel the consumer; the client redeclares and resubscribes.
        let admin = AMQPClient(configuration: Broker.configuration(name: "it.loss.admin"), logger: testLogger("it.loss.admin"))
        admin.start()
        try await admin.waitUntilConnected(timeout: .seconds(30))
        _ = try await admin.admin(.deleteQueue("ddrouter.inbound"))
        #expect(await eventually(within: .seconds(10)) { daemon.logText().contains("broker cancelled consumer") })
        #expect(await eventually(within: .seconds(10)) {
            if case .queue(_, let consumers)? = try? await admin.admin(.inspectQueue("ddrouter.inbound")) { return consumers >= 1 }
            return false
        }, "the queue is back with the daemon's consumer")
        await admin.close()
        #expect(try await roundTrip(m851, collector, id: "loss-after-cancel", seed: 952), "processed after the resubscribe")
        #expect(daemon.isRunning, "still running")
        #expect(try await daemon.terminate() == 0)
        await m851.close()
        await collector.stop()
    }

    @Test("daemon subprocess: the broker refuses the subscription (access refused): exit 69, not a live daemon consuming nothing")
    func daemonExitsWhenConsumingEnds() async throws {
        // A ddrouter user that may declare and publish everything but not read ddrouter.inbound.
        let user = "ddrouter-noread"
        _ = try await offPool {
            _ = try? Broker.ctl("delete_user", user)
            try Broker.ctl("add_user", user, "test-noread")
            try Broker.ctl("set_permissions", "-p", Broker.vhost, user, ".*", ".*", "^(?!ddrouter\\.inbound$).*")
        }
        defer { _ = try? Broker.ctl("delete_user", user) }
        let daemon = try DaemonProcess()
        defer { daemon.removeFiles() }
        try await daemon.start(environment: ["DDROUTER_BROKER_USER": user, "DDROUTER_BROKER_PASSWORD": "test-noread"],
                               waitForReady: false)
        let status = try await daemon.waitForExit(timeout: .seconds(60))
        if status == nil { _ = try daemon.kill() }
        #expect(status.flatMap(DaemonProcess.exitCode) == 69, "exit status \(status.map(String.init) ?? "none (still running)"):\n\(daemon.logTail())")
        #expect(daemon.logText().contains("consuming ddrouter.inbound ended"))
    }

    @Test("daemon subprocess: a changed inbound.delivery_limit is named in the log and the daemon is not ready")
    func daemonNamesChangedDeliveryLimit() async throws {
        // The queue exists with the default limit (5) from the other daemon tests or from here.
        let first = try DaemonProcess()
        try await first.start()
        #expect(try await first.terminate() == 0)
        first.removeFiles()

        let daemon = try DaemonProcess()
        defer { daemon.removeFiles() }
        try await daemon.start(environment: ["DDROUTER_INBOUND_DELIVERY_LIMIT": "6"], waitForReady: false)
        let named = await eventually(within: .seconds(30)) { daemon.logText().contains("inbound.delivery_limit differs") }
        #expect(named, "log:\n\(daemon.logTail())")
        #expect(!daemon.notifications().contains { $0.text.split(separator: "\n").contains("READY=1") }, "not ready")
        #expect(daemon.isRunning, "retrying, not crashing")
        _ = try daemon.kill()
    }
}
