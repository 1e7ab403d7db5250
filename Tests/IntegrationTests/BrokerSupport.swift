import AMQP
import Foundation
import Logging
import Testing

/// The broker started by `scripts/broker.sh` (via `make test`), found through the variables
/// `scripts/broker.sh env` prints. Defaults match the script's dev instance, so a plain
/// `swift test` works while `scripts/broker.sh start` is running.
enum Broker {
    static let env = ProcessInfo.processInfo.environment

    static var host: String { env["DDR_AMQP_HOST"] ?? "127.0.0.1" }
    static var port: Int { Int(env["DDR_AMQP_PORT"] ?? "") ?? 5682 }
    static var vhost: String { env["DDR_AMQP_VHOST"] ?? "ddrouter" }
    static var user: String { env["DDR_AMQP_USER"] ?? "ddrouter" }
    static var password: String { env["DDR_AMQP_PASSWORD"] ?? "ddrouter-dev" }

    static var repoRoot: URL {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("repository root not found above \(#filePath)")
    }

    static func configuration(
        name: String, heartbeat: Duration = .seconds(30), publishTimeout: Duration = .seconds(30),
        port: Int? = nil, host: String? = nil
    ) -> AMQPConfiguration {
        _ = classicQueuesRemoved
        return AMQPConfiguration(
            endpoints: [.init(host: host ?? self.host, port: port ?? self.port)], vhost: vhost,
            authentication: .plain(user: user, password: password), heartbeat: heartbeat,
            publishTimeout: publishTimeout,
            backoff: .init(initial: .milliseconds(50), maximum: .seconds(2)),
            connectionName: name)
    }

    /// ddrouter declares the recipients' `dd.*` queues quorum (docs/messages.md); a test
    /// broker that an older checkout started and that still runs (so `broker.sh start` did
    /// not provision it again) may hold them classic, and every declare of the daemon's
    /// topology would fail. They hold test data only: deleted once per test process.
    static let classicQueuesRemoved: Void = {
        guard let listed = try? ctl("list_queues", "-p", vhost, "name", "type", "--no-table-headers", "--quiet") else { return }
        for line in listed.split(separator: "\n") {
            let fields = line.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, fields[0].hasPrefix("dd."), fields[1] == "classic" else { continue }
            _ = try? ctl("delete_queue", "-p", vhost, fields[0])
        }
    }()

    /// Runs `rabbitmqctl` against the test node (through `scripts/broker.sh ctl`).
    @discardableResult
    static func ctl(_ args: String..., instanceEnv: [String: String] = [:]) throws -> String {
        try run([script, "ctl"] + args, env: instanceEnv)
    }

    /// Restarts the test broker (`scripts/broker.sh restart`: stop, then start with the same
    /// node, ports and data, provisioning the users as every start does); returns once it
    /// accepts AMQP again. Every connection is dropped, so only for the serialized suite.
    static func restart() async throws {
        _ = try await offPool { try run([script, "restart"]) }
    }

    /// `scripts/broker.sh`, as `scripts/broker.sh env` names it (else the one in this checkout).
    static var script: String {
        env["DDR_BROKER_SCRIPT"] ?? repoRoot.appendingPathComponent("scripts/broker.sh").path
    }

    /// Runs a command and returns its output; throws with the output when it fails.
    ///
    /// posix_spawn + waitpid rather than Foundation's Process: `broker.sh start` leaves a node
    /// running in the background, and Process on Linux was seen never to notice such a
    /// script's exit (a zombie it did not reap), hanging the test.
    @discardableResult
    static func run(_ argv: [String], env extra: [String: String] = [:]) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in extra { environment[k] = v }
        let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-run-\(UUID().uuidString)").path
        defer { unlink(outPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw BrokerError(message: "cannot run \(argv[0]): error \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            throw BrokerError(message: "\(argv.joined(separator: " ")) failed (status \(status)): \(text)")
        }
        return text
    }

    /// The broker's pid for the connection with this `connection_name`.
    static func connectionPID(named name: String) throws -> String? {
        let out = try ctl("list_connections", "pid", "client_properties", "--no-table-headers", "--quiet")
        let lines = out.split(separator: "\n")
        // The exact name first: the daemon's "ddrouter" must not find "ddrouter.publish".
        let line = lines.first { $0.contains("\"\(name)\"") } ?? lines.first { $0.contains(name) }
        return line.flatMap { $0.split(separator: "\t").first }.map(String.init)
    }

    static func unique(_ prefix: String) -> String {
        "\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }
}

struct BrokerError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Collects the client's connection events for assertions.
actor EventLog {
    private(set) var events: [ConnectionEvent] = []
    func append(_ e: ConnectionEvent) { events.append(e) }
    func contains(where p: (ConnectionEvent) -> Bool) -> Bool { events.contains(where: p) }

    static func follow(_ client: AMQPClient) -> (EventLog, Task<Void, Never>) {
        let log = EventLog()
        let task = Task {
            for await e in client.events { await log.append(e) }
        }
        return (log, task)
    }
}

/// Polls until `condition` holds or the time is up; returns whether it held.
func eventually(within: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

func testLogger(_ label: String) -> Logger {
    var l = Logger(label: label)
    l.logLevel = .warning
    return l
}

extension Topology {
    static func singleQueue(_ name: String) -> Topology {
        Topology(queues: [.init(name: name, kind: .classic, durable: true)])
    }
}

/// Publishes `ids` to `queue` with confirms, at most `window` in flight, and resends on every
/// retryable failure (connection loss, timeout) until each one is confirmed.
func publishAll(_ client: AMQPClient, queue: String, ids: [String], window: Int = 256,
                body: @Sendable @escaping (String) -> Data) async throws -> Int {
    try await withThrowingTaskGroup(of: Int.self) { group in
        var next = 0
        var resends = 0
        func add() {
            let id = ids[next]
            next += 1
            group.addTask {
                var attempts = 0
                while true {
                    do {
                        try await client.publish(OutboundMessage(
                            exchange: "", routingKey: queue, body: body(id),
                            properties: MessageProperties(contentType: "application/octet-stream", messageID: id)))
                        return attempts
                    } catch let e as AMQPError where e.isRetryable {
                        attempts += 1
                        if attempts > 200 { throw e }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
        }
        for _ in 0..<min(window, ids.count) { add() }
        while let r = try await group.next() {
            resends += r
            if next < ids.count { add() }
        }
        return resends
    }
}

actor Counter {
    private(set) var value = 0
    func increment() { value += 1 }
}
