import AMQP
import Daemon
import Foundation
import Testing

extension ClientTests {
    @Test("Generated definitions: a municipality can write only its own exchange, as itself, and read only its own inbox")
    func generatedDefinitionsEnforcePermissions() async throws {
        let vhost = Broker.unique("ddrouter-perm")
        let service = Broker.unique("perm-svc")
        let config = Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml").path
        let settings = try await DaemonSettings.load(
            path: config, environment: ["DDROUTER_BROKER_VHOST": vhost, "DDROUTER_BROKER_USER": service])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(vhost).json")
        try BrokerDefinitions.json(settings: settings).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        try Broker.ctl("import_definitions", file.path)
        let senders = (try Broker.ctl("list_users", "--no-table-headers", "--quiet"))
        defer {
            _ = try? Broker.ctl("delete_vhost", vhost)
            for line in senders.split(separator: "\n") {
                let name = String(line.split(separator: "\t").first ?? "")
                if name.hasPrefix("municipality-") || name.hasPrefix("clinic-") || name.hasPrefix("journal-")
                    || name == "central-visitation" || name == service {
                    _ = try? Broker.ctl("delete_user", name)
                }
            }
        }
        #expect(senders.contains("municipality-851"))
        #expect(!senders.contains("guest"), "the guest user must not exist")
        let password = "perm-test-\(UUID().uuidString.prefix(6))"
        try Broker.ctl("change_password", "municipality-851", password)

        var c = Broker.configuration(name: Broker.unique("it.perm"))
        c.vhost = vhost
        c.authentication = .plain(user: "municipality-851", password: password)
        let client = AMQPClient(configuration: c, logger: testLogger("perm"))
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))

        func send(_ exchange: String, _ key: String = "municipal-list", userID: String = "municipality-851") async throws {
            try await client.publish(OutboundMessage(
                exchange: exchange, routingKey: key, body: Data("{}".utf8),
                properties: MessageProperties(messageID: UUID().uuidString, userID: userID)))
        }
        func refused(_ code: UInt16, _ error: any Error) -> Bool {
            (error as? AMQPError)?.code == .channelClosed && (error as? AMQPError)?.replyCode == code
        }

        // Its own exchange, as itself: accepted and routed into ddrouter.inbound.
        try await send("dd.in.municipality.851")
        // Another municipality's exchange: 403 ACCESS_REFUSED.
        await #expect { try await send("dd.in.municipality.810") } throws: { refused(403, $0) }
        // A forged user_id on its own exchange: the broker refuses it (406 PRECONDITION_FAILED).
        await #expect { try await send("dd.in.municipality.851", userID: "municipality-810") } throws: { refused(406, $0) }
        // The default exchange straight to ddrouter's queue: 403.
        await #expect { try await send("", "ddrouter.inbound") } throws: { refused(403, $0) }
        // Another municipality's inbox: the subscription is refused.
        var other = client.consume(queue: "dd.municipality.810.inbox", prefetch: 1).makeAsyncIterator()
        await #expect { _ = try await other.next() } throws: { refused(403, $0) }
        // Its own inbox: readable.
        if case .queue = try await client.admin(.inspectQueue("dd.municipality.851.inbox")) {} else {
            Issue.record("own inbox not inspectable")
        }
        await client.close()
    }
}
