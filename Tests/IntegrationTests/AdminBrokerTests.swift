import AMQP
import Foundation
import Testing

/// `ddrouter publish` and `ddrouter dlq` against the test broker, in a vhost of their own
/// set up from `ddrouter topology --definitions` (so the users are the directory's).
extension ClientTests {
    /// A vhost with the generated definitions; the service user and the municipality have
    /// passwords. Returns the CLI environment and a cleanup.
    /// Every sender gets a broker user of its own name (unique per run), so the users other
    /// tests create on the shared broker (municipality-851, …) are neither changed nor deleted.
    static func adminVhost(municipalityUser: String = Broker.unique("adm-m851"))
        throws -> (cli: AdminCLI, env: [String: String], service: String, password: String, cleanup: () -> Void)
    {
        let vhost = Broker.unique("ddrouter-admin")
        let service = Broker.unique("admin-svc")
        let password = "admin-\(UUID().uuidString.prefix(8))"
        let clinicUser = Broker.unique("adm-clinic"), journalUser = Broker.unique("adm-journal"), cvUser = Broker.unique("adm-cv")
        // A directory of one municipality keeps the broker users (and the rabbitmqctl calls
        // to make and delete them) few.
        let cli = try AdminCLI { text in
            guard let start = text.range(of: "\ndirectory:\n"), let end = text.range(of: "\n# The rules' calendar") else { return text }
            return text.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: """

                directory:
                  municipalities:
                    "851": {name: Aalborg, broker_user: \(municipalityUser)}
                  clinics:
                    amb-syd-aalborg: {serves: ["851"], broker_user: \(clinicUser)}
                  journals:
                    journal-rn: {broker_user: \(journalUser)}
                  central_visitation: {broker_user: \(cvUser)}

                """)
        }
        let env = [
            "DDROUTER_BROKER_HOST": Broker.host, "DDROUTER_BROKER_PORT": "\(Broker.port)",
            "DDROUTER_BROKER_VHOST": vhost, "DDROUTER_BROKER_USER": service, "DDROUTER_BROKER_PASSWORD": password,
        ]
        let definitions = cli.directory.appendingPathComponent("definitions.json").path
        let generated = try cli.run(["topology", "--definitions", "--output", definitions], env: env)
        try #require(generated.status == 0, "topology: \(generated.err)")
        try Broker.ctl("import_definitions", definitions)
        try Broker.ctl("change_password", service, password)
        try Broker.ctl("change_password", municipalityUser, password)
        let cleanup = {
            _ = try? Broker.ctl("delete_vhost", vhost)
            for name in [service, municipalityUser, clinicUser, journalUser, cvUser] {
                _ = try? Broker.ctl("delete_user", name)
            }
            cli.cleanUp()
        }
        return (cli, env, service, password, cleanup)
    }

    static func serviceClient(vhost: String, user: String, password: String) async throws -> AMQPClient {
        var c = Broker.configuration(name: Broker.unique("it.admin"))
        c.vhost = vhost
        c.authentication = .plain(user: user, password: password)
        let client = AMQPClient(configuration: c, logger: testLogger("admin"))
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        return client
    }

    static func get(_ client: AMQPClient, _ queue: String) async throws -> Delivery? {
        guard case .message(let d) = try await client.admin(.get(queue)) else { return nil }
        return d
    }

    static func depth(_ client: AMQPClient, _ queue: String) async throws -> UInt32 {
        guard case .queue(let messages, _) = try await client.admin(.inspectQueue(queue)) else { return 0 }
        return messages
    }

    /// One vhost for both commands: setting one up and removing it costs about ten
    /// rabbitmqctl calls, seconds each.
    @Test("ddrouter publish and ddrouter dlq against the broker, as the directory's users")
    func adminPublishAndDeadLetters() async throws {
        let user = Broker.unique("adm-m851")
        let (cli, env, service, password, cleanup) = try Self.adminVhost(municipalityUser: user)
        defer { cleanup() }
        try await publishSetsTheProperties(cli: cli, env: env, service: service, password: password, user: user)
        try await deadLetterListAndRequeue(cli: cli, env: env, service: service, password: password, user: user)
    }

    /// publish: the sender's exchange, its user_id, type, message_id, content type, persistent.
    func publishSetsTheProperties(cli: AdminCLI, env: [String: String], service: String, password: String, user: String) async throws {
        let body = cli.directory.appendingPathComponent("list.json").path
        try #"{"hello":"list"}"#.write(toFile: body, atomically: true, encoding: .utf8)
        let passwordFile = cli.directory.appendingPathComponent("pw").path
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)

        let r = try cli.run(["publish", "--type", "municipal-list", "--sender", "municipality:851", "--password-file", passwordFile,
                             "--message-id", "admin-pub-1", body], env: env)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("published municipal-list message_id=admin-pub-1 to dd.in.municipality.851 as \(user)"))
        // The password may also come on standard input.
        let viaStdin = try cli.run(["publish", "--type", "municipal-list", "--sender", "municipality:851", body],
                                   env: env, stdin: password + "\n")
        #expect(viaStdin.status == 0, "\(viaStdin.err)")

        let client = try await Self.serviceClient(vhost: env["DDROUTER_BROKER_VHOST"]!, user: service, password: password)
        defer { Task { await client.close() } }
        let d = try #require(try await Self.get(client, "ddrouter.inbound"))
        _ = try await Self.get(client, "ddrouter.inbound")  // the one sent with the password on stdin
        #expect(d.exchange == "dd.in.municipality.851")
        #expect(d.routingKey == "municipal-list")
        #expect(d.properties.type == "municipal-list")
        #expect(d.properties.messageID == "admin-pub-1")
        #expect(d.properties.userID == user)
        #expect(d.properties.contentType == "application/json")
        #expect(d.properties.persistent)
        #expect(d.properties.timestamp != nil)
        #expect(d.body == Data(#"{"hello":"list"}"#.utf8))
        #expect(try await Self.depth(client, "ddrouter.inbound") == 0)

        // A type the sender does not send, and a sender outside the directory, are refused.
        let wrongType = try cli.run(["publish", "--type", "assessment", "--sender", "municipality:851", "--password-file", passwordFile, body], env: env)
        #expect(wrongType.status != 0 && wrongType.err.contains("does not send assessment"))
        let unknown = try cli.run(["publish", "--type", "municipal-list", "--sender", "municipality:999", "--password-file", passwordFile, body], env: env)
        #expect(unknown.status == 78 && unknown.err.contains("not in the directory"))
    }

    /// dlq: list leaves the messages; requeue republishes to the original exchange with the
    /// original user_id and removes them.
    func deadLetterListAndRequeue(cli: AdminCLI, env: [String: String], service: String, password: String, user: String) async throws {
        let client = try await Self.serviceClient(vhost: env["DDROUTER_BROKER_VHOST"]!, user: service, password: password)
        defer { Task { await client.close() } }
        func dead(_ id: String, code: String) async throws {
            try await client.publish(OutboundMessage(
                exchange: "dd.dead", routingKey: "municipal-list", body: Data(#"{"dead":"\#(id)"}"#.utf8),
                properties: MessageProperties(
                    contentType: "application/json",
                    headers: ["x-ddrouter-exchange": .string("dd.in.municipality.851"),
                              "x-ddrouter-user-id": .string(user), "x-ddrouter-code": .string(code),
                              "x-ddrouter-rejected-at": .string("2026-11-23T10:00:00Z")],
                    messageID: id, type: "municipal-list")))
        }
        try await dead("dead-1", code: "schema-violation")
        try await dead("dead-2", code: "processing-deferred")

        let list = try cli.run(["dlq", "list"], env: env)
        #expect(list.status == 0, "\(list.err)")
        #expect(list.out.contains("dead-1") && list.out.contains("schema-violation") && list.out.contains("dd.in.municipality.851"))
        #expect(list.out.contains("dead-2") && list.out.contains("2 of 2 message(s) in ddrouter.dead"))
        #expect(!list.out.contains(#"{"dead""#), "no bodies in list output")
        #expect(try await eventually(within: .seconds(5)) { try await Self.depth(client, "ddrouter.dead") == 2 })

        let none = try cli.run(["dlq", "requeue"], env: env)
        #expect(none.status != 0 && none.err.contains("choose the messages"))
        let requeue = try cli.run(["dlq", "requeue", "--code", "schema-violation"], env: env)
        #expect(requeue.status == 0, "\(requeue.err)")
        #expect(requeue.out.contains("requeued 1, left 1"))
        #expect(try await eventually(within: .seconds(5)) { try await Self.depth(client, "ddrouter.dead") == 1 })

        let d = try #require(try await Self.get(client, "ddrouter.inbound"))
        #expect(d.properties.messageID == "dead-1")
        #expect(d.exchange == "dd.in.municipality.851")
        #expect(d.properties.userID == user)
        #expect(d.properties.headers["x-ddrouter-code"] == nil)
        #expect(d.properties.headers["x-ddrouter-requeued-at"] != nil)
        #expect(d.body == Data(#"{"dead":"dead-1"}"#.utf8))
        let left = try #require(try await Self.get(client, "ddrouter.dead"))
        #expect(left.properties.messageID == "dead-2")
    }

    /// Issue 14, item 13: `dlq requeue` as the dev broker's own `ddrouter` user (the shipped
    /// configuration's `broker.user`) after `scripts/broker.sh` restarted the broker. The
    /// start used to set that user's tags to `administrator` alone, so the republish with the
    /// sender's user_id was refused (PRECONDITION_FAILED) and the message stayed dead.
    @Test("dlq requeue as the broker's ddrouter user works after a broker restart (it keeps the impersonator tag)")
    func requeueAfterBrokerRestart() async throws {
        let user = Broker.unique("adm-m851")
        let (cli, adminEnv, _, _, cleanup) = try Self.adminVhost(municipalityUser: user)
        defer { cleanup() }
        let vhost = try #require(adminEnv["DDROUTER_BROKER_VHOST"])
        try Broker.ctl("set_permissions", "-p", vhost, Broker.user, ".*", ".*", ".*")
        var env = adminEnv
        env["DDROUTER_BROKER_USER"] = Broker.user
        env["DDROUTER_BROKER_PASSWORD"] = Broker.password

        try await Broker.restart()

        let client = try await Self.serviceClient(vhost: vhost, user: Broker.user, password: Broker.password)
        defer { Task { await client.close() } }
        try await client.publish(OutboundMessage(
            exchange: "dd.dead", routingKey: "municipal-list", body: Data(#"{"dead":"after-restart"}"#.utf8),
            properties: MessageProperties(
                contentType: "application/json",
                headers: ["x-ddrouter-exchange": .string("dd.in.municipality.851"),
                          "x-ddrouter-user-id": .string(user), "x-ddrouter-code": .string("schema-violation"),
                          "x-ddrouter-rejected-at": .string("2026-12-02T10:00:00Z")],
                messageID: "dead-after-restart", type: "municipal-list")))
        #expect(try await eventually(within: .seconds(5)) { try await Self.depth(client, "ddrouter.dead") == 1 })

        let requeue = try cli.run(["dlq", "requeue", "--all"], env: env)
        #expect(requeue.status == 0, "\(requeue.err)")
        #expect(requeue.out.contains("requeued 1, left 0"), "\(requeue.out)")
        #expect(!requeue.err.contains("PRECONDITION_FAILED"), "\(requeue.err)")
        let d = try #require(try await Self.get(client, "ddrouter.inbound"), "the requeued message reached ddrouter.inbound")
        #expect(d.properties.messageID == "dead-after-restart")
        #expect(d.properties.userID == user)
        #expect(try await Self.depth(client, "ddrouter.dead") == 0)
    }

    /// Issue 14, item 15: `publish` with a wrong password used to wait out its 15 s and say
    /// only "AMQP timeout: no broker connection within 15.0 seconds".
    @Test("ddrouter publish with a wrong password fails at once, saying the broker refused the login for that user and vhost")
    func publishWithWrongPasswordFailsFast() async throws {
        let user = Broker.unique("adm-wrongpw")
        try await offPool {
            try Broker.ctl("add_user", user, "the-right-password")
            try Broker.ctl("set_permissions", "-p", Broker.vhost, user, "^$", ".*", ".*")
        }
        defer { _ = try? Broker.ctl("delete_user", user) }
        let cli = try AdminCLI { $0.replacingOccurrences(of: "broker_user: municipality-851}", with: "broker_user: \(user)}") }
        defer { cli.cleanUp() }
        let env = ["DDROUTER_BROKER_HOST": Broker.host, "DDROUTER_BROKER_PORT": "\(Broker.port)", "DDROUTER_BROKER_VHOST": Broker.vhost]
        let body = cli.directory.appendingPathComponent("list.json").path
        try #"{"hello":"list"}"#.write(toFile: body, atomically: true, encoding: .utf8)

        let started = ContinuousClock.now
        let r = try cli.run(["publish", "--type", "municipal-list", "--sender", "municipality:851", "--timeout", "15", body],
                            env: env, stdin: "a-wrong-password\n")
        let took = ContinuousClock.now - started
        #expect(r.status == 77, "exit \(r.status): \(r.err)")
        #expect(took < .seconds(5), "took \(took): \(r.err)")
        #expect(r.err.contains("the broker refused the login of user '\(user)' on vhost '\(Broker.vhost)'"), "\(r.err)")
        #expect(!r.err.contains("timeout"), "\(r.err)")

        // What retrying may fix is still waited for; the timeout then names the last failure.
        var unreachable = env
        unreachable["DDROUTER_BROKER_PORT"] = "1"
        let closed = try cli.run(["publish", "--type", "municipal-list", "--sender", "municipality:851", "--timeout", "1", body],
                                 env: unreachable, stdin: "a-wrong-password\n")
        #expect(closed.status == 69, "exit \(closed.status): \(closed.err)")
        #expect(closed.err.contains("no broker connection within 1.0 seconds") && closed.err.contains("last attempt: AMQP unreachable"),
                "\(closed.err)")
    }

    /// `ddrouter run` as a subprocess: a sender whose broker user the directory renames is
    /// accepted as itself (the default naming rule would call it unauthorized).
    @Test("ddrouter run authorizes senders by the directory's broker users")
    func runUsesTheDirectoryUsers() async throws {
        let user = Broker.unique("aalborg-kommune")
        let (cli, env, service, password, cleanup) = try Self.adminVhost(municipalityUser: user)
        defer { cleanup() }
        let client = try await Self.serviceClient(vhost: env["DDROUTER_BROKER_VHOST"]!, user: service, password: password)
        defer { Task { await client.close() } }
        let log = cli.directory.appendingPathComponent("run.log").path
        let pid = try AdminCLI.spawnBackground([AdminCLI.binary, "run", "--config", cli.config], env: env, output: log)
        defer {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        }
        let consuming = try await eventually(within: .seconds(30)) {
            guard case .queue(_, let consumers) = try await client.admin(.inspectQueue("ddrouter.inbound")) else { return false }
            return consumers >= 1
        }
        try #require(consuming, "the daemon did not start consuming: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

        let passwordFile = cli.directory.appendingPathComponent("pw").path
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let list = Broker.repoRoot.appendingPathComponent("Config/examples/municipal-list.json").path
        let published = try cli.run(["publish", "--type", "municipal-list", "--sender", "municipality:851",
                                     "--password-file", passwordFile, "--message-id", "run-list-1", list], env: env)
        #expect(published.status == 0, "\(published.err)")
        var receipt: Delivery?
        _ = try await eventually(within: .seconds(20)) {
            receipt = try await Self.get(client, "dd.municipality.851.inbox")
            return receipt != nil
        }
        let answer = try receipt.map { try JSONSerialization.jsonObject(with: $0.body) as? [String: Any] }
        #expect(receipt?.properties.correlationID == "run-list-1")
        #expect(answer??["status"] as? String == "ok", "receipt: \(answer ?? nil ?? [:])")
    }
}
