import AMQP
import Foundation
import Logging
import Testing

/// Integration tests of the AMQP layer against the real RabbitMQ that `scripts/broker.sh`
/// runs on 127.0.0.1. Serialized: several tests disturb the whole broker (stop_app, memory
/// alarm), which must not overlap with any other broker test.
@Suite("AMQP client against a real broker", .serialized)
struct ClientTests {

    static func body(for id: String) -> Data {
        // A recognisable, id-dependent body so corruption or mix-ups are caught.
        Data("payload:\(id):".utf8) + Data((0..<64).map { UInt8(truncatingIfNeeded: $0 &+ id.utf8.count) })
    }

    @Test("1: 10,000 persistent messages with confirms arrive exactly once, bodies intact")
    func tenThousandExactlyOnce() async throws {
        let queue = Broker.unique("it.bulk")
        let client = AMQPClient(configuration: Broker.configuration(name: queue), topology: .singleQueue(queue),
                                logger: testLogger("bulk"))
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        let ids = (0..<10_000).map { "m-\($0)" }
        let resends = try await publishAll(client, queue: queue, ids: ids, window: 512, body: Self.body(for:))
        #expect(resends == 0)

        var seen: [String: Int] = [:]
        let deliveries = client.consume(queue: queue, prefetch: 500)
        for try await d in deliveries {
            let id = try #require(d.properties.messageID)
            seen[id, default: 0] += 1
            #expect(d.body == Self.body(for: id), "body of \(id) changed")
            #expect(d.properties.persistent)
            client.ack(d.tag)
            if seen.count == ids.count { break }
        }
        #expect(seen.count == 10_000)
        #expect(seen.values.allSatisfy { $0 == 1 }, "a message arrived twice")
        #expect(Set(seen.keys) == Set(ids))
        // Everything was acked: the queue is empty.
        let drained = try await eventually(within: .seconds(5)) {
            if case .queue(let messages, _) = try await client.admin(.inspectQueue(queue)) { return messages == 0 }
            return false
        }
        #expect(drained)
        await client.stopConsuming()  // else basic.cancel recovery would recreate the queue
        _ = try await client.admin(.deleteQueue(queue))
        await client.close()
    }

    @Test("2: unroutable mandatory publish fails; a missing exchange fails clearly; the client keeps working")
    func unroutableAndMissingExchange() async throws {
        let queue = Broker.unique("it.route")
        let client = AMQPClient(configuration: Broker.configuration(name: queue), topology: .singleQueue(queue),
                                logger: testLogger("route"))
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))

        let unroutable = OutboundMessage(exchange: "amq.direct", routingKey: "nobody.listens.\(queue)", body: Data("x".utf8),
                                         properties: MessageProperties(messageID: "u-1"))
        await #expect { try await client.publish(unroutable) } throws: { error in
            guard let e = error as? AMQPError else { return false }
            return e.code == .unroutable && e.message.contains("nobody.listens") && e.replyCode == 312
        }

        let missing = OutboundMessage(exchange: "no-such-exchange-\(queue)", routingKey: "k", body: Data("x".utf8),
                                      properties: MessageProperties(messageID: "x-1"))
        await #expect { try await client.publish(missing) } throws: { error in
            guard let e = error as? AMQPError else { return false }
            return e.code == .channelClosed && e.replyCode == 404 && e.message.contains("no-such-exchange")
        }

        // Still working: a routable publish is confirmed and delivered.
        try await client.publish(OutboundMessage(exchange: "", routingKey: queue, body: Data("ok".utf8),
                                                 properties: MessageProperties(messageID: "ok-1")))
        var it = client.consume(queue: queue, prefetch: 10).makeAsyncIterator()
        let d = try #require(try await it.next())
        #expect(d.properties.messageID == "ok-1")
        client.ack(d.tag)
        #expect(client.isConnected)
        await client.stopConsuming()  // else basic.cancel recovery would recreate the queue
        _ = try await client.admin(.deleteQueue(queue))
        await client.close()
    }

    /// Shared body of tests 3 and 4: publish while something kills the connection, consume
    /// everything, and check no confirmed message is missing.
    func survives(_ disturbance: @escaping @Sendable (String) async throws -> Void, label: String) async throws {
        let queue = Broker.unique("it.\(label)")
        let client = AMQPClient(configuration: Broker.configuration(name: queue), topology: .singleQueue(queue),
                                logger: testLogger(label))
        let (log, follower) = EventLog.follow(client)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))

        let ids = (0..<10_000).map { "\(label)-\($0)" }
        let progress = Counter()
        let consumer = Task { () throws -> Set<String> in
            var seen = Set<String>()
            for try await d in client.consume(queue: queue, prefetch: 200) {
                if let id = d.properties.messageID, seen.insert(id).inserted { await progress.increment() }
                client.ack(d.tag)
                if seen.count == ids.count { break }
            }
            return seen
        }
        let publisher = Task {
            try await publishAll(client, queue: queue, ids: ids, window: 32, body: Self.body(for:))
        }
        // Disturb mid-stream: after a tenth has gone through, well before the end.
        let midway = await eventually(within: .seconds(30)) { await progress.value >= 1_000 }
        #expect(midway, "stream did not start")
        #expect(await progress.value < ids.count, "stream finished before the disturbance")
        try await disturbance(queue)
        _ = try await publisher.value

        let all = try await withThrowingTaskGroup(of: Set<String>?.self) { group in
            group.addTask { try await consumer.value }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            consumer.cancel()
            return first
        }
        let seen = try #require(all, "consumer did not see every message within 60 s")
        #expect(seen == Set(ids), "missing: \(Set(ids).subtracting(seen).sorted().prefix(10))")
        #expect(await log.contains { if case .disconnected = $0 { return true } else { return false } })
        try await client.waitUntilConnected(timeout: .seconds(30))
        let reconnects = await log.events.filter { if case .connected = $0 { return true } else { return false } }.count
        #expect(reconnects >= 2, "expected a reconnect")
        // The topology came back: the queue exists (passive declare succeeds).
        _ = try await client.admin(.inspectQueue(queue))
        await client.stopConsuming()  // else basic.cancel recovery would recreate the queue
        _ = try await client.admin(.deleteQueue(queue))
        await client.close()
        follower.cancel()
    }

    @Test("3: close_connection mid-stream: reconnect, topology back, nothing confirmed lost")
    func closeConnectionMidStream() async throws {
        try await survives({ name in
            let pid = try #require(try Broker.connectionPID(named: name), "connection \(name) not listed")
            try Broker.ctl("close_connection", pid, "integration test closes the connection")
        }, label: "closeconn")
    }

    @Test("4: stop_app then start_app while publishing: same guarantees")
    func stopStartApp() async throws {
        try await survives({ _ in
            try Broker.ctl("stop_app")
            try await Task.sleep(for: .seconds(1))
            try Broker.ctl("start_app")
            try Broker.ctl("await_startup")
        }, label: "stopapp")
    }

    @Test("5: queue deleted while consuming: basic.cancel seen, queue redeclared, consuming resumes")
    func queueDeletedWhileConsuming() async throws {
        let queue = Broker.unique("it.cancel")
        let client = AMQPClient(configuration: Broker.configuration(name: queue), topology: .singleQueue(queue),
                                logger: testLogger("cancel"))
        let (log, follower) = EventLog.follow(client)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        var it = client.consume(queue: queue, prefetch: 10).makeAsyncIterator()
        try await client.publish(OutboundMessage(exchange: "", routingKey: queue, body: Data("a".utf8),
                                                 properties: MessageProperties(messageID: "before")))
        let first = try #require(try await it.next())
        #expect(first.properties.messageID == "before")
        client.ack(first.tag)

        try Broker.ctl("delete_queue", "--vhost", Broker.vhost, queue)
        let resubscribed = await eventually(within: .seconds(10)) {
            await log.contains { $0 == .resubscribed(queue: queue) }
        }
        #expect(await log.contains { $0 == .consumerCancelled(queue: queue) })
        #expect(resubscribed)

        try await client.publish(OutboundMessage(exchange: "", routingKey: queue, body: Data("b".utf8),
                                                 properties: MessageProperties(messageID: "after")))
        let second = try #require(try await it.next())
        #expect(second.properties.messageID == "after")
        client.ack(second.tag)
        await client.stopConsuming()  // else basic.cancel recovery would recreate the queue
        _ = try await client.admin(.deleteQueue(queue))
        await client.close()
        follower.cancel()
    }

    @Test("6: memory alarm: publish fails within its bound and says why; works again after the alarm clears")
    func memoryAlarm() async throws {
        let queue = Broker.unique("it.alarm")
        let client = AMQPClient(configuration: Broker.configuration(name: queue, publishTimeout: .seconds(3)),
                                topology: .singleQueue(queue), logger: testLogger("alarm"))
        let (log, follower) = EventLog.follow(client)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        try await client.publish(OutboundMessage(exchange: "", routingKey: queue, body: Data("1".utf8)))

        try Broker.ctl("set_vm_memory_high_watermark", "0.0000001")
        do {
            defer { _ = try? Broker.ctl("set_vm_memory_high_watermark", "0.4") }
            // RabbitMQ blocks a connection when it next publishes during an alarm, and tells
            // clients that advertise `connection.blocked` (the shim does).
            let started = ContinuousClock.now
            await #expect { try await client.publish(OutboundMessage(exchange: "", routingKey: queue, body: Data("2".utf8))) } throws: { error in
                guard let e = error as? AMQPError else { return false }
                return e.code == .blocked && e.message.contains("blocked")
            }
            let waited = ContinuousClock.now - started
            #expect(waited >= .seconds(2) && waited < .seconds(10), "publish waited \(waited), bound is 3 s")
            #expect(client.blockedReason != nil, "no connection.blocked received")
            #expect(await log.contains { if case .blocked = $0 { return true } else { return false } })
        }
        let unblocked = await eventually(within: .seconds(20)) { client.blockedReason == nil }
        #expect(unblocked)
        #expect(await log.contains { $0 == .unblocked })
        // The message held during the alarm may still be confirmed; a new one certainly is.
        try await client.publish(OutboundMessage(exchange: "", routingKey: queue, body: Data("3".utf8)))
        await client.stopConsuming()  // else basic.cancel recovery would recreate the queue
        _ = try await client.admin(.deleteQueue(queue))
        await client.close()
        follower.cancel()
    }

    @Test("7: an idle connection with a 5 s heartbeat stays up for 30 s")
    func idleHeartbeat() async throws {
        let queue = Broker.unique("it.heartbeat")
        let client = AMQPClient(configuration: Broker.configuration(name: queue, heartbeat: .seconds(5)),
                                topology: .singleQueue(queue), logger: testLogger("heartbeat"))
        let (log, follower) = EventLog.follow(client)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        let listed = try Broker.ctl("list_connections", "client_properties", "timeout", "--no-table-headers", "--quiet")
        let ours = listed.split(separator: "\n").first { $0.contains(queue) }
        #expect(ours?.hasSuffix("\t5") == true, "heartbeat not negotiated as 5 s: \(ours ?? "not listed")")

        try await Task.sleep(for: .seconds(30))
        #expect(client.isConnected)
        let drops = await log.events.filter { if case .disconnected = $0 { return true } else { return false } }
        #expect(drops.isEmpty, "connection dropped while idle: \(drops)")
        #expect(try Broker.connectionPID(named: queue) != nil, "broker no longer lists the connection")
        try await client.publish(OutboundMessage(exchange: "", routingKey: queue, body: Data("alive".utf8)))
        await client.stopConsuming()  // else basic.cancel recovery would recreate the queue
        _ = try await client.admin(.deleteQueue(queue))
        await client.close()
        follower.cancel()
    }
}
