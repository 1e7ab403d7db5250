import AMQP
import Foundation
import Testing

/// Issue 17, item 3: the broker refusing work. Each test starts its own broker instance
/// (scripts/broker.sh) with the setting it needs, on its own ports, and stops it at the end.
@Suite("The broker says no", .serialized)
struct BrokerRefusalTests {
    /// An instance whose consumer_timeout is 2 s, checked every 500 ms (RabbitMQ checks it on
    /// each channel's tick, by default once a minute).
    static let timeoutInstance = [
        "DDR_BROKER_INSTANCE": "ct-it", "DDR_AMQP_PORT": "5694", "DDR_AMQPS_PORT": "5693",
        "DDR_DIST_PORT": "25694", "DDR_NODE_NAME": "ddrouter-ct-it@localhost",
    ]

    @Test("consumer_timeout: a delivery held past it closes the consuming channel; the client reopens it, the delivery comes again, nothing is lost, and the event says why")
    func consumerTimeout() async throws {
        let dir = Broker.repoRoot.appendingPathComponent("var/broker/ct-it")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("[{rabbit, [{consumer_timeout, 2000}, {channel_tick_interval, 500}]}].\n".utf8)
            .write(to: dir.appendingPathComponent("advanced.config"))
        try Broker.run([Broker.script, "start"], env: Self.timeoutInstance)
        defer { _ = try? Broker.run([Broker.script, "stop"], env: Self.timeoutInstance) }

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
}
