import AMQP
import Foundation
import Testing

/// Issue 17, item 3: the broker refusing work. Each test starts its own broker instance
/// (scripts/broker.sh) with the setting it needs, on its own ports, and stops it at the end.
/// Part of the serialized broker suite: the reject-publish test sets a policy on the dev
/// broker, which other tests of that suite restart (`Broker.restart`), so it must not run
/// beside them.
extension ClientTests {
    /// An instance whose consumer_timeout is 2 s, checked every 500 ms (RabbitMQ checks it on
    /// each channel's tick, by default once a minute).
    static let refusalTimeoutInstance = [
        "DDR_BROKER_INSTANCE": "ct-it", "DDR_AMQP_PORT": "5694", "DDR_AMQPS_PORT": "5693",
        "DDR_DIST_PORT": "25694", "DDR_NODE_NAME": "ddrouter-ct-it@localhost",
    ]

    @Test("consumer_timeout: a delivery held past it closes the consuming channel; the client reopens it, the delivery comes again, nothing is lost, and the event says why")
    func consumerTimeout() async throws {
        let dir = Broker.repoRoot.appendingPathComponent("var/broker/ct-it")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("[{rabbit, [{consumer_timeout, 2000}, {channel_tick_interval, 500}]}].\n".utf8)
            .write(to: dir.appendingPathComponent("advanced.config"))
        try Broker.run([Broker.script, "start"], env: Self.refusalTimeoutInstance)
        defer { _ = try? Broker.run([Broker.script, "stop"], env: Self.refusalTimeoutInstance) }

        let queue = Broker.unique("it.consumer-timeout")
        let client = AMQPClient(
            configuration: Broker.configuration(name: queue, port: 5694), topology: .singleQueue(queue),
            logger: testLogger("consumer-timeout"))
        let (log, follower) = EventLog.follow(client)
        defer { follower.cancel() }
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(30))
        let ids = (0..<50).map { "m-\($0)" }
        _ = try await publishAll(client, queue: queue, ids: ids, body: { Data($0.utf8) })

        // Every delivery is acked at once but the first one of m-0, which is held (never
        // acked) until the broker gives up on it.
        let deliveries = client.consume(queue: queue, prefetch: 20)
        let outcome = try await withThrowingTaskGroup(of: (seen: [String: Int], held: Delivery?)?.self) { group in
            group.addTask {
                var seen: [String: Int] = [:]
                var held: Delivery?
                var acked: Set<String> = []
                for try await d in deliveries {
                    let id = d.properties.messageID ?? "?"
                    seen[id, default: 0] += 1
                    if id == "m-0", held == nil {
                        held = d
                        continue
                    }
                    client.ack(d.tag)
                    acked.insert(id)
                    if acked.count == ids.count { break }
                }
                return (seen, held)
            }
            group.addTask {
                try await Task.sleep(for: .seconds(40))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let result = try #require(outcome, "the held delivery never came again within 40 s")
        #expect(result.seen["m-0"] == 2, "the held delivery is redelivered once")
        #expect(Set(result.seen.keys) == Set(ids), "nothing lost")
        #expect(result.held?.redelivered == false)
        // The held delivery's tag belongs to the closed channel: acking it now is dropped.
        if let held = result.held { client.ack(held.tag) }

        let closed = await eventually(within: .seconds(5)) {
            await log.contains {
                if case .channelClosed(let channel, let code, let reason) = $0 {
                    return channel == "consume" && code == 406 && reason.contains("delivery acknowledgement")
                }
                return false
            }
        }
        #expect(closed, "a channelClosed(consume, 406, delivery acknowledgement ... timed out) event")
        let drained = try await eventually(within: .seconds(10)) {
            if case .queue(let messages, _) = try await client.admin(.inspectQueue(queue)) { return messages == 0 }
            return false
        }
        #expect(drained, "every message acked: the queue is empty")
        #expect(client.isConnected, "the connection itself stayed up")
        await client.stopConsuming()
        _ = try? await client.admin(.deleteQueue(queue))
        await client.close()
    }

    @Test("reject-publish: a recipient queue at its x-max-length nacks the daemon's publishes; the rows stay pending, counted as nacked; once the queue drains they are sent again with backoff, each once")
    func rejectPublish() async throws {
        try await ScaleDirectory.ensureUsers()
        // Municipality 860's inbox (its receipts) holds one message and refuses the rest. A
        // policy, not queue arguments: the daemon declares the queue with its own arguments.
        let inbox = "dd.municipality.860.inbox"
        let policy = Broker.unique("it-reject-publish")
        let collector = Collector()
        try await collector.purge(["ddrouter.inbound", inbox])
        let daemon = try DaemonProcess()
        defer { daemon.removeFiles() }
        try await daemon.start()  // declares the queue
        let port = try await daemon.httpPort()
        _ = try Broker.ctl(
            "set_policy", "-p", Broker.vhost, "--apply-to", "queues", "--priority", "100", policy,
            "^dd\\.municipality\\.860\\.inbox$", #"{"max-length":1,"overflow":"reject-publish"}"#)
        var policySet = true
        defer { if policySet { _ = try? Broker.ctl("clear_policy", "-p", Broker.vhost, policy) } }
        let applied = await eventually(within: .seconds(20)) {
            ((try? Broker.ctl("list_queues", "-p", Broker.vhost, "name", "policy", "--no-table-headers", "--quiet")) ?? "")
                .split(separator: "\n").contains { $0.hasPrefix("\(inbox)\t") && $0.hasSuffix(policy) }
        }
        #expect(applied, "the policy applies to the queue")
        // The queue is full before the daemon publishes: one message of ours (the limit is
        // soft for a batch of publishes into an empty quorum queue: some went in).
        try await collector.client.publish(OutboundMessage(
            exchange: "", routingKey: inbox, body: Data("filler".utf8), mandatory: true))
        let sender = SenderClient(user: ScaleDirectory.user(municipality: "860"), name: "it.reject-publish")
        let ids = (0..<5).map { "rp-860-\($0)" }
        for (k, id) in ids.enumerated() {
            let cpr = ScaleWorkload.cpr(61_000 + k)
            let body = try JSONSerialization.data(withJSONObject: [
                "schemaVersion": "1.0", "municipality": "860", "clinic": "amb-nord-hjoerring", "listKind": "list-1",
                "asOf": "2026-11-20",
                "entries": [[
                    "cpr": cpr, "municipalInformation": ScaleWorkload.municipalInformation,
                    "consent": ["status": "given", "date": "2026-10-02", "declarationRef": "SAMTYKKE-RP-\(k)",
                                "directions": ["municipality-to-region", "region-to-municipality"]],
                ]],
            ], options: [.sortedKeys])
            try await sender.send(exchange: "dd.in.municipality.860", type: "municipal-list", messageID: id, body: body)
        }

        // The receipts are refused (all or most: the limit is soft): nacked, pending, counted.
        func metric(_ name: String, reason: String? = nil) throws -> Double {
            parsePrometheus(try httpGet(port: port, path: "/metrics").body).samples
                .filter { $0.name == name && (reason == nil || $0.labels["reason"] == reason) }.map(\.value).reduce(0, +)
        }
        let nacked = try await eventually(within: .seconds(60)) {
            try metric("ddrouter_events_failed_total", reason: "nacked") >= 1 && metric("ddrouter_outbox_depth") >= 1
        }
        #expect(nacked, "nacks counted and rows pending:\n\(daemon.logTail(10))")

        // The queue drains (a consumer takes the filler; the limit stays): every receipt
        // arrives, once each. (Removing the policy instead does not end the refusals on
        // RabbitMQ 3.10: the channel keeps rejecting until the queue tells it to go, which
        // it does when its length falls below the limit.)
        collector.consume([inbox])
        let all = await eventually(within: .seconds(90)) {
            await collector.mailbox.messages(in: inbox).filter { $0.type == "receipt" }.count >= ids.count
        }
        try await Task.sleep(for: .seconds(2))  // a repeat would arrive by now
        let receipts = await collector.mailbox.messages(in: inbox).filter { $0.type == "receipt" }
        #expect(all, "every receipt arrived after the queue drained: \(receipts.count) of \(ids.count)")
        #expect(receipts.compactMap(\.correlationID).sorted() == ids.sorted(), "each receipt once, none lost")
        #expect(Set(receipts.compactMap(\.messageID)).count == receipts.count, "no receipt repeated")
        let drained = try await eventually(within: .seconds(30)) { try metric("ddrouter_outbox_depth") == 0 }
        #expect(drained, "the outbox is empty again")
        _ = try Broker.ctl("clear_policy", "-p", Broker.vhost, policy)
        policySet = false
        await collector.stop()
        await sender.close()
        _ = try await daemon.terminate()
    }
}
