import AMQP
import ArgumentParser
import Contract
import Daemon
import Foundation
import Logging
import Synchronization

/// `ddrouter dlq list|requeue`: the messages in `ddrouter.dead` (rejected copies with their
/// `x-ddrouter-*` headers, and deliveries the inbound queue dead-lettered).
///
/// `list` shows ids, types, senders and codes only (never a body) and leaves every message
/// where it is. `requeue` publishes the chosen ones again, unchanged, to the exchange they
/// first arrived on (`x-ddrouter-exchange`, or RabbitMQ's `x-first-death-exchange`) with
/// their original `user_id` — the broker allows that only for a user with the
/// `impersonator` tag, which `topology --definitions` gives ddrouter's own user — and
/// removes them from the queue once the broker confirmed the publish.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "List or requeue the messages in ddrouter.dead.",
        subcommands: [List.self, Requeue.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List ddrouter.dead (no bodies); nothing is removed.")
        @OptionGroup var options: AdminOptions
        @Option(help: "At most this many messages.") var limit: Int = 1000

        func run() async throws {
            let session = try await DeadLetters.open(config: options.config, limit: limit)
            var rows = [["#", "message_id", "type", "exchange", "user", "code", "when"]]
            for (index, d) in session.deliveries.enumerated() {
                let m = DeadLetters.Info(d)
                rows.append(["\(index + 1)", Format.messageID(m.messageID), m.type, m.exchange ?? "-", m.user ?? "-", m.code, m.when])
            }
            await session.release()
            print(Format.table(rows))
            print("\(session.deliveries.count) of \(session.total) message(s) in \(session.queue)")
        }
    }

    struct Requeue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish dead messages again to their original exchange, then remove them from ddrouter.dead.")
        @OptionGroup var options: AdminOptions
        @Flag(help: "Every message.") var all = false
        @Option(help: "Only messages with this message_id (repeatable).") var messageID: [String] = []
        @Option(help: "Only messages with this x-ddrouter-code / death reason, as `dlq list` shows it, e.g. dead-lettered:delivery_limit.") var code: String?

        func validate() throws {
            if !all && messageID.isEmpty && code == nil {
                throw ValidationError("choose the messages: --all, --message-id ID or --code CODE")
            }
        }

        func run() async throws {
            let session = try await DeadLetters.open(config: options.config, limit: 100_000)
            var requeued = 0, skipped = 0, failed = 0
            for d in session.deliveries {
                let m = DeadLetters.Info(d)
                let chosen = all || messageID.contains(m.messageID ?? "") || (code != nil && m.code == code)
                guard chosen else {
                    skipped += 1
                    continue
                }
                guard let exchange = m.exchange else {
                    FileHandle.standardError.write(Data("ddrouter: message \(Format.messageID(m.messageID)) has no original exchange; left in the queue\n".utf8))
                    failed += 1
                    continue
                }
                do {
                    try await session.client.publish(OutboundMessage(
                        exchange: exchange, routingKey: d.routingKey, body: d.body, properties: DeadLetters.original(d, user: m.user)))
                    session.client.ack(d.tag)
                    requeued += 1
                } catch {
                    FileHandle.standardError.write(Data("ddrouter: message \(Format.messageID(m.messageID)) not requeued: \(error)\n".utf8))
                    failed += 1
                }
            }
            await session.release()
            print("requeued \(requeued), left \(skipped + failed) in \(session.queue)")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}

/// A consuming session on `ddrouter.dead` that holds up to `limit` messages unacked.
struct DeadLetters {
    let client: AMQPClient
    let queue: String
    let total: Int
    let deliveries: [Delivery]

    static func open(config: String, limit: Int) async throws -> DeadLetters {
        let settings = try await DaemonSettings.loadOrExit(config: config)
        var configuration = settings.amqp
        configuration.connectionName = "ddrouter-dlq"
        var logger = Logger(label: "ddrouter.dlq")
        logger.logLevel = .error
        let client = AMQPClient(configuration: configuration, logger: logger)
        client.start()
        let queue = settings.names.deadLetterQueue
        let total: Int
        do {
            try await client.waitUntilConnected(timeout: .seconds(15), failOnRefusedLogin: true)
            guard case .queue(let messages, _) = try await client.admin(.inspectQueue(queue)) else {
                throw AMQPError(.closed, "unexpected answer")
            }
            total = Int(messages)
        } catch let error as AMQPError where error.isRefusedLogin {
            await client.close()
            fail(refusedLogin(error, user: configuration.authentication.user, vhost: configuration.vhost), code: 77)  // EX_NOPERM
        } catch {
            await client.close()
            fail("broker: \(queue): \(error)", code: 69)
        }
        let wanted = min(total, max(0, limit))
        guard wanted > 0 else { return DeadLetters(client: client, queue: queue, total: total, deliveries: []) }
        let box = Mutex<[Delivery]>([])
        let stream = client.consume(queue: queue, prefetch: UInt16(min(wanted, 65535)))
        let reader = Task {
            for try await delivery in stream {
                let count = box.withLock { $0.append(delivery); return $0.count }
                if count >= wanted { return }
            }
        }
        // Deliveries arrive at once (prefetch covers them); stop waiting when they stop coming.
        var last = -1
        var quiet = 0
        while quiet < 20 {
            try? await Task.sleep(for: .milliseconds(100))
            let count = box.withLock { $0.count }
            if count >= wanted { break }
            quiet = count == last ? quiet + 1 : 0
            last = count
        }
        await client.stopConsuming()
        reader.cancel()
        return DeadLetters(client: client, queue: queue, total: total, deliveries: box.withLock { $0 })
    }

    /// Closes the connection: every message not acked goes back to the queue.
    func release() async {
        // An admin call runs after the acks queued before it, so they reach the broker first.
        _ = try? await client.admin(.inspectQueue(queue))
        await client.close()
    }

    /// The properties to publish a dead message again with: as it first arrived, minus the
    /// dead-lettering headers, with its original user_id.
    static func original(_ d: Delivery, user: String?) -> MessageProperties {
        var p = d.properties
        for key in p.headers.keys where key.hasPrefix("x-ddrouter-") || key.hasPrefix("x-death") || key.hasPrefix("x-first-death")
            || key.hasPrefix("x-last-death") || key == "x-delivery-count" {
            p.headers[key] = nil
        }
        p.headers["x-ddrouter-requeued-at"] = .string(Contract.Timestamp(Date()).text)
        p.userID = user
        return p
    }

    struct Info {
        var messageID: String?
        var type: String
        var exchange: String?
        var user: String?
        var code: String
        var when: String

        init(_ d: Delivery) {
            let h = d.properties.headers
            func text(_ key: String) -> String? {
                if case .string(let s) = h[key] { return s }
                return nil
            }
            messageID = d.properties.messageID
            // The type property is the sender's text: shown only when it is a known type.
            type = d.properties.type.map { MessageType(rawValue: $0) != nil ? $0 : "(unknown type)" } ?? "-"
            exchange = text(DeadLetterHeaders.exchange) ?? text("x-first-death-exchange")
            user = text("x-ddrouter-user-id") ?? d.properties.userID
            code = text(DeadLetterHeaders.code) ?? text("x-first-death-reason").map { "dead-lettered:\($0)" } ?? "-"
            when = text(DeadLetterHeaders.rejectedAt) ?? "-"
        }
    }
}
