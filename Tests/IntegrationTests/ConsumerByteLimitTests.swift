import AMQP
import Foundation
import Testing

/// `AMQPConfiguration.consumerByteLimit` against the real broker: the client stops reading
/// while its consumers hold more unsettled body bytes than the limit (docs/performance.md,
/// section 4: a big list's bodies no longer pile up in the consumer).
actor DeliveryBox {
    private(set) var deliveries: [Delivery] = []
    func add(_ d: Delivery) { deliveries.append(d) }
    var count: Int { deliveries.count }
}

extension ClientTests {
    @Test("9: over the consumer byte limit no further delivery is read; heartbeats keep the connection; settling resumes reading; a publish is still confirmed")
    func consumerByteLimit() async throws {
        let queue = Broker.unique("it.bytelimit")
        let size = 400 * 1024
        let publisher = AMQPClient(configuration: Broker.configuration(name: queue + ".pub"), topology: .singleQueue(queue),
                                   logger: testLogger("bytelimit.pub"))
        publisher.start()
        try await publisher.waitUntilConnected(timeout: .seconds(15))
        let ids = (0..<6).map { "big-\($0)" }
        _ = try await publishAll(publisher, queue: queue, ids: ids) { id in Data(repeating: UInt8(id.utf8.last!), count: size) }

        var config = Broker.configuration(name: queue + ".sub", heartbeat: .seconds(2))
        // The two largest held are not counted: 2 bodies fit besides them, the 5th would cross
        // the limit and waits before its body.
        config.consumerByteLimit = 1024 * 1024
        let consumer = AMQPClient(configuration: config, topology: .singleQueue(queue), logger: testLogger("bytelimit.sub"))
        let (events, follower) = EventLog.follow(consumer)
        consumer.start()
        try await consumer.waitUntilConnected(timeout: .seconds(15))
        let box = DeliveryBox()
        let reader = Task {
            for try await d in consumer.consume(queue: queue, prefetch: 10) { await box.add(d) }
        }

        // The fifth delivery would cross 1 MiB besides the two largest: reading stops there, although
        // the broker has sent all six (prefetch 10). 10 s is five 2 s heartbeat intervals: the
        // broker would close a connection that sent nothing for that long.
        #expect(await eventually(within: .seconds(10)) { await box.count >= 4 })
        try await Task.sleep(for: .seconds(10))
        #expect(await box.count == 4, "read on past the byte limit")
        // The client reads nothing now, so it would not notice a close: ask the broker.
        #expect(try Broker.connectionPID(named: queue + ".sub") != nil,
                "the broker closed the paused connection: no heartbeats from the client?")

        // A publish on the paused connection: its confirm comes on this connection, so the
        // client reads again until it is confirmed (with a bound of 10 s, the publish timeout
        // is 30 s).
        let t0 = ContinuousClock.now
        try await consumer.publish(OutboundMessage(
            exchange: "", routingKey: queue + ".nowhere", body: Data("x".utf8),
            properties: MessageProperties(messageID: "while-paused"), mandatory: false))
        #expect(ContinuousClock.now - t0 < .seconds(10))

        // Settling gives room: every delivery arrives, in order, bodies intact.
        var acked = 0
        while acked < ids.count {
            #expect(await eventually(within: .seconds(10)) { await box.count > acked }, "no delivery after \(acked) acks")
            let held = await box.deliveries
            guard held.count > acked else { break }
            consumer.ack(held[acked].tag)
            acked += 1
        }
        let all = await box.deliveries
        #expect(!(await events.contains { if case .disconnected = $0 { true } else { false } }),
                "the connection dropped (the broker closed it while reading was paused?)")
        #expect(all.compactMap(\.properties.messageID).sorted() == ids, "a delivery missing or repeated")
        #expect(all.allSatisfy { $0.body.count == size && $0.body.first == UInt8($0.properties.messageID!.utf8.last!) })

        await consumer.stopConsuming()
        reader.cancel()
        _ = try await publisher.admin(.deleteQueue(queue))
        await consumer.close()
        await publisher.close()
        follower.cancel()
    }
}

extension ClientTests {
    @Test("9b: two deliveries bigger than the byte limit do not stop the small ones behind them (a big list in hand and one waiting leave room for other senders); a third waits before its body")
    func consumerByteLimitLeavesTheLargestOut() async throws {
        let queue = Broker.unique("it.bytelimit.big")
        let publisher = AMQPClient(configuration: Broker.configuration(name: queue + ".pub"), topology: .singleQueue(queue),
                                   logger: testLogger("bytelimit.big.pub"))
        publisher.start()
        try await publisher.waitUntilConnected(timeout: .seconds(15))
        // One 3 MiB body first, then eight of 100 KiB (800 KiB besides the big one: under 1 MiB).
        let ids = ["big"] + (0..<8).map { "small-\($0)" }
        _ = try await publishAll(publisher, queue: queue, ids: ids, window: 1) { id in
            Data(repeating: 1, count: id == "big" ? 3 * 1024 * 1024 : 100 * 1024)
        }

        var config = Broker.configuration(name: queue + ".sub")
        config.consumerByteLimit = 1024 * 1024
        let consumer = AMQPClient(configuration: config, topology: .singleQueue(queue), logger: testLogger("bytelimit.big.sub"))
        consumer.start()
        try await consumer.waitUntilConnected(timeout: .seconds(15))
        let box = DeliveryBox()
        let reader = Task {
            for try await d in consumer.consume(queue: queue, prefetch: 20) { await box.add(d) }
        }
        // Nothing is settled: the big one stays in hand, and every small one is still read.
        #expect(await eventually(within: .seconds(10)) { await box.count == ids.count },
                "a delivery bigger than the limit stopped the reading of the small ones behind it")
        let held = await box.deliveries
        #expect(held.compactMap(\.properties.messageID) == ids)

        // A second big one (the same sender's next list, waiting its turn) is not counted
        // either: the small one published after it is read while both are held.
        _ = try await publishAll(publisher, queue: queue, ids: ["big-2", "after"], window: 1) { id in
            Data(repeating: 2, count: id == "big-2" ? 3 * 1024 * 1024 : 100 * 1024)
        }
        #expect(await eventually(within: .seconds(10)) { await box.count == ids.count + 2 },
                "a second big delivery held stopped the reading of the small one behind it")
        // A third big one would be counted (3 MiB besides the two largest): it waits before its
        // body, and the small one behind it waits too, until one of the big ones is settled.
        _ = try await publishAll(publisher, queue: queue, ids: ["big-3", "after-3"], window: 1) { id in
            Data(repeating: 3, count: id == "big-3" ? 3 * 1024 * 1024 : 100 * 1024)
        }
        try await Task.sleep(for: .seconds(2))
        #expect(await box.count == ids.count + 2, "read a third big delivery past the byte limit")
        consumer.ack(held[0].tag)
        #expect(await eventually(within: .seconds(10)) { await box.count == ids.count + 4 }, "settling a big one did not resume reading")
        let all = await box.deliveries
        #expect(all.compactMap(\.properties.messageID) == ids + ["big-2", "after", "big-3", "after-3"])
        #expect(all.suffix(2).map(\.body.count) == [3 * 1024 * 1024, 100 * 1024], "a body held back before it was read came out wrong")
        #expect(all.suffix(2).allSatisfy { $0.body.allSatisfy { $0 == 3 } })
        for d in all.dropFirst() { consumer.ack(d.tag) }

        await consumer.stopConsuming()
        reader.cancel()
        _ = try await publisher.admin(.deleteQueue(queue))
        await consumer.close()
        await publisher.close()
    }
}
