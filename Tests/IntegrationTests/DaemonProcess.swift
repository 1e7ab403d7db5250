import AMQP
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ddrouter run` as a child process of the test, against the test broker, with its own
/// configuration file and store in `directory`.
///
/// - Readiness: the test creates a datagram socket and passes it as `NOTIFY_SOCKET`; the
///   daemon sends `READY=1` once it is connected and consuming (SystemdNotifier).
/// - Notifications: every datagram on that socket is kept with its arrival time
///   (`notifications()`), for tests of the notify protocol (STATUS=, WATCHDOG=1, STOPPING=1).
/// - HTTP: `/metrics`, `/livez`, `/readyz` on 127.0.0.1 with a free port (logged as `http.port`).
/// - Output: stdout and stderr are appended to `directory/daemon.log` (restarts append).
/// - Ending: `terminate()` (SIGTERM, waits for the exit status), `kill()` (SIGKILL). A
///   process still running when the object goes away is killed and reaped in `deinit`.
final class DaemonProcess: @unchecked Sendable {
    // @unchecked: `pid` and `exited` are only touched under `lock`.
    let directory: URL
    let configPath: String
    let storePath: String
    let logPath: String
    let notifyPath: String
    /// The network namespace the daemon runs in (`ip netns exec`), nil for the test's own.
    let namespace: String?
    private let lock = NSLock()
    private var pid: pid_t = 0
    private var exited = true
    private var notifyFD: Int32 = -1
    /// Counts the notify sockets opened, so a drain thread stops with its own socket.
    private var notifyGeneration = 0
    private var received: [(at: ContinuousClock.Instant, text: String)] = []

    /// The store's development master key (the daemon reads it from `store.dev_key`).
    static let storeKey = "ddrouter-scale-tests-store-key-not-a-secret-0123456789"

    /// The built `ddrouter` next to the test bundle, else in `.build/debug` of the checkout.
    static var binary: String {
        var candidates: [String] = []
        if let exe = Bundle.main.executablePath {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("ddrouter").path)
        }
        let bundleDir = Bundle.main.bundleURL.deletingLastPathComponent()
        candidates.append(bundleDir.appendingPathComponent("ddrouter").path)
        candidates.append(Broker.repoRoot.appendingPathComponent(".build/debug/ddrouter").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }

    /// Writes the configuration for a fresh store in a new temporary directory. `brokerHost`
    /// and `brokerPort` default to the test broker's; with `namespace` the daemon runs in that
    /// network namespace (`ip netns exec`, as root: NetworkFaultTests), its HTTP endpoint on
    /// that namespace's loopback.
    init(prefetch: Int = 200, extraConfig: String = "", brokerHost: String? = nil, brokerPort: Int? = nil,
         heartbeatSeconds: Int = 10, namespace: String? = nil) throws {
        self.namespace = namespace
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddr-daemon-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configPath = directory.appendingPathComponent("ddrouter.yaml").path
        storePath = directory.appendingPathComponent("store/ddrouter.sqlite").path
        logPath = directory.appendingPathComponent("daemon.log").path
        notifyPath = directory.appendingPathComponent("notify.sock").path
        let yaml = """
            broker:
              host: \(brokerHost ?? Broker.host)
              port: \(brokerPort ?? Broker.port)
              vhost: \(Broker.vhost)
              user: \(Broker.user)
              password: \(Broker.password)
              heartbeat_seconds: \(heartbeatSeconds)
              publish_timeout_seconds: 30
            directory:
              municipalities: [\(ScaleDirectory.municipalities.map { "\"\($0)\"" }.joined(separator: ", "))]
              clinics: [\(ScaleDirectory.clinics.map { "\"\($0)\"" }.joined(separator: ", "))]
              journals: ["\(ScaleDirectory.journal)"]
            inbound:
              prefetch: \(prefetch)
            store:
              path: \(storePath)
              dev_key: "\(Self.storeKey)"
            http:
              bind: 127.0.0.1:0
            \(extraConfig)
            """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit {
        if isRunning {
            _ = try? kill()
        }
        if notifyFD >= 0 { close(notifyFD) }
    }

    var isRunning: Bool { lock.withLock { !exited } }

    /// The running daemon's pid (the same process after `ip netns exec` has exec'd it).
    var processID: pid_t? { lock.withLock { exited ? nil : pid } }

    /// `ip` of iproute2, for `ip netns exec`.
    static var ipCommand: String {
        ["/usr/sbin/ip", "/usr/bin/ip", "/sbin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? "/usr/sbin/ip"
    }

    /// Starts the daemon and waits for `READY=1`. Throws (with the log's tail) if it exits
    /// first or does not get ready within `timeout`. `environment` is added to the child's
    /// (e.g. `WATCHDOG_USEC`); with `waitForReady: false` it returns once the process runs.
    func start(timeout: Duration = .seconds(60), environment extra: [String: String] = [:],
               waitForReady: Bool = true) async throws {
        precondition(!isRunning, "daemon already running")
        try openNotifySocket()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DDROUTER_") }
        environment["NOTIFY_SOCKET"] = notifyPath
        environment.removeValue(forKey: "WATCHDOG_USEC")
        // Not a deployment even when the tests run inside a systemd service (store.dev_key).
        environment.removeValue(forKey: "INVOCATION_ID")
        environment.removeValue(forKey: "CREDENTIALS_DIRECTORY")
        for (key, value) in extra { environment[key] = value }
        let argv = (namespace.map { [Self.ipCommand, "netns", "exec", $0] } ?? [])
            + [Self.binary, "run", "--config", configPath, "--flush-seconds", "10"]
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw BrokerError(message: "cannot start \(argv[0]): error \(rc)") }
        lock.withLock {
            pid = child
            exited = false
            received = []
        }
        guard waitForReady else { return }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if notifications().contains(where: { $0.text.split(separator: "\n").contains("READY=1") }) { return }
            if let status = reap(block: false) {
                throw BrokerError(message: "ddrouter exited (status \(status)) before READY=1:\n\(logTail())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = try? kill()
        throw BrokerError(message: "ddrouter did not send READY=1 within \(timeout):\n\(logTail())")
    }

    /// SIGTERM, then waits for the exit; returns the exit code (nil if killed by a signal).
    /// After `timeout` it kills the process and throws.
    @discardableResult
    func terminate(timeout: Duration = .seconds(60)) async throws -> Int32? {
        let child = lock.withLock { exited ? 0 : pid }
        guard child > 0 else { return nil }
        Glibc.kill(child, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = reap(block: false) { return Self.exitCode(status) }
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = try kill()
        throw BrokerError(message: "ddrouter did not exit within \(timeout) of SIGTERM:\n\(logTail())")
    }

    /// Sends `signal` to the running daemon (no wait).
    func send(signal: Int32) {
        let child = lock.withLock { exited ? 0 : pid }
        if child > 0 { Glibc.kill(child, signal) }
    }

    /// Waits for the daemon to exit; returns the raw wait status, nil if it still runs after `timeout`.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = reap(block: false) { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Waits until a notification datagram has a line equal to `line`; false after `timeout`.
    func waitForNotification(_ line: String, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if notifications().contains(where: { $0.text.split(separator: "\n").contains(Substring(line)) }) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// SIGKILL and reap. Returns the raw wait status.
    @discardableResult
    func kill() throws -> Int32 {
        let child = lock.withLock { exited ? 0 : pid }
        guard child > 0 else { return 0 }
        Glibc.kill(child, SIGKILL)
        return reap(block: true) ?? 0
    }

    /// The exit code of a wait status, nil when the process was ended by a signal.
    static func exitCode(_ status: Int32) -> Int32? {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
    }

    /// Reaps the child if it has exited (or waits for it when `block`).
    private func reap(block: Bool) -> Int32? {
        lock.withLock {
            guard !exited else { return nil }
            var status: Int32 = 0
            var r: pid_t
            repeat { r = waitpid(pid, &status, block ? 0 : WNOHANG) } while r < 0 && errno == EINTR
            guard r == pid else { return nil }
            exited = true
            return status
        }
    }

    func logText() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func logTail(_ lines: Int = 40) -> String {
        logText().split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Removes the temporary directory (store, log, config). The daemon must have ended.
    /// With DDR_KEEP_DAEMON_FILES set, keeps it for a post-mortem and says where it is.
    func removeFiles() {
        if ProcessInfo.processInfo.environment["DDR_KEEP_DAEMON_FILES"] != nil {
            print("daemon files kept in \(directory.path)")
            return
        }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: - NOTIFY_SOCKET

    private func openNotifySocket() throws {
        lock.withLock {
            if notifyFD >= 0 {
                close(notifyFD)
                notifyFD = -1
            }
        }
        unlink(notifyPath)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw BrokerError(message: "socket() failed: errno \(errno)") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(notifyPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw BrokerError(message: "NOTIFY_SOCKET path too long: \(notifyPath)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes + [0]) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else {
            close(fd)
            throw BrokerError(message: "bind(\(notifyPath)) failed: errno \(errno)")
        }
        let generation = lock.withLock { () -> Int in
            notifyFD = fd
            notifyGeneration += 1
            return notifyGeneration
        }
        // Drain the socket all the time, as systemd does: a datagram socket's queue is short
        // (net.unix.max_dgram_qlen is 10 in a fresh network namespace), and the daemon drops
        // what does not fit rather than block.
        let drainer = Thread { [weak self] in
            while let self, self.drain(generation: generation) {
                usleep(20_000)
            }
        }
        drainer.start()
    }

    /// Reads what waits on the notify socket into `received`; false once that socket is gone.
    private func drain(generation: Int) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        return lock.withLock {
            guard notifyFD >= 0, notifyGeneration == generation else { return false }
            while true {
                let n = recv(notifyFD, &buffer, buffer.count, 0)
                guard n > 0 else { break }
                received.append((ContinuousClock.now, String(decoding: buffer[0..<n], as: UTF8.self)))
            }
            return true
        }
    }

    /// Every datagram received since the last start, with the time it was read (a thread
    /// reads the socket every 20 ms): the ones kept so far and those waiting on the socket.
    func notifications() -> [(at: ContinuousClock.Instant, text: String)] {
        let generation = lock.withLock { notifyGeneration }
        _ = drain(generation: generation)
        return lock.withLock { received }
    }
}

/// Runs blocking work (posix_spawn + waitpid of `rabbitmqctl`) on its own thread, so the
/// cooperative pool (two threads on a 2-core CI machine) keeps running the test's clients.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
        let thread = Thread {
            do { cont.resume(returning: try body()) } catch { cont.resume(throwing: error) }
        }
        thread.start()
    }
}

/// The directory of the scale tests (Config/ddrouter.yaml's): 11 municipalities, two clinics,
/// one journal; and the broker users of the senders.
enum ScaleDirectory {
    static let syd = ["851", "820", "840", "846"]
    static let nord = ["813", "825", "860", "849", "810", "773", "787"]
    static let municipalities = (syd + nord).sorted()
    static let sydClinic = "amb-syd-aalborg"
    static let nordClinic = "amb-nord-hjoerring"
    static let clinics = [sydClinic, nordClinic]
    static let journal = "journal-rn"

    static func clinic(of municipality: String) -> String { syd.contains(municipality) ? sydClinic : nordClinic }

    /// The broker user the daemon expects for a sender (PipelineOptions.defaultUser).
    static func user(municipality code: String) -> String { "municipality-\(code)" }
    static func user(clinic id: String) -> String { "clinic-\(id)" }
    static var journalUser: String { "journal-\(journal)" }
    static func password(_ user: String) -> String { "test-\(user)" }

    /// The user of the sender an inbound exchange belongs to.
    static func user(forExchange exchange: String) -> String? {
        if exchange.hasPrefix("dd.in.municipality.") { return user(municipality: String(exchange.dropFirst(19))) }
        if exchange.hasPrefix("dd.in.clinic.") { return user(clinic: String(exchange.dropFirst(13))) }
        if exchange.hasPrefix("dd.in.journal.") { return "journal-\(exchange.dropFirst(14))" }
        return nil
    }

    /// Creates the senders' users on the test broker (one `import_definitions`, once per
    /// test process): write to their own inbound exchange, read their own queue. Exception,
    /// on purpose: `municipality-810` may also write to 851's exchange, a broker
    /// misconfiguration the daemon's own user_id check must catch (issue 4, test 5).
    static func ensureUsers() async throws {
        try await UsersOnce.shared.run {
            func exact(_ s: String) -> String { "^" + NSRegularExpression.escapedPattern(for: s) + "$" }
            var users: [[String: Any]] = []
            var permissions: [[String: Any]] = []
            func add(_ name: String, write: String, read: String) {
                users.append(["name": name, "password": password(name), "tags": [String]()])
                permissions.append(["user": name, "vhost": Broker.vhost, "configure": "^$", "write": write, "read": read])
            }
            for code in municipalities {
                let write = code == "810"
                    ? "^dd\\.in\\.municipality\\.(810|851)$" : exact("dd.in.municipality.\(code)")
                add(user(municipality: code), write: write, read: exact("dd.municipality.\(code).inbox"))
            }
            for id in clinics {
                add(user(clinic: id), write: exact("dd.in.clinic.\(id)"), read: exact("dd.clinic.\(id).assessments"))
            }
            add(journalUser, write: exact("dd.in.journal.\(journal)"), read: exact("dd.journal.\(journal).requests"))
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("ddr-users-\(UUID().uuidString).json")
            try JSONSerialization.data(withJSONObject: ["users": users, "permissions": permissions]).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            _ = try await offPool { try Broker.ctl("import_definitions", file.path) }
            // The import is asynchronous: wait until the last user can log in.
            let probe = SenderClient(user: journalUser, name: "it.users-probe")
            defer { Task { await probe.close() } }
            try await probe.client.waitUntilConnected(timeout: .seconds(60))
        }
    }
}

/// Runs the user import one at a time. Not once per process: PermissionTests imports and
/// deletes users with the same default names (`municipality-851`, ...), so every daemon test
/// imports its users again (the import is idempotent and resets the passwords).
actor UsersOnce {
    static let shared = UsersOnce()
    func run(_ body: () async throws -> Void) async throws {
        try await body()
    }
}

/// A sender's own connection (its broker user, no topology of its own).
final class SenderClient: Sendable {
    let user: String
    let client: AMQPClient

    init(user: String, name: String) {
        self.user = user
        var configuration = Broker.configuration(name: name)
        configuration.authentication = .plain(user: user, password: ScaleDirectory.password(user))
        client = AMQPClient(configuration: configuration, logger: testLogger(name))
        client.start()
    }

    /// Publishes with confirms, resending (same message_id) on every retryable failure, as a
    /// well-behaved sender does across a broker restart.
    func send(exchange: String, routingKey: String = "", body: Data, properties: MessageProperties) async throws {
        var attempts = 0
        while true {
            do {
                try await client.publish(OutboundMessage(
                    exchange: exchange, routingKey: routingKey, body: body, properties: properties))
                return
            } catch let e as AMQPError where e.isRetryable {
                attempts += 1
                if attempts > 600 { throw e }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// A contract message from this sender: JSON, its type, its message_id, user_id = its user.
    func send(exchange: String, type: String, messageID: String, body: Data) async throws {
        try await send(exchange: exchange, body: body, properties: MessageProperties(
            contentType: "application/json", messageID: messageID, type: type, userID: user))
    }

    func close() async { await client.close() }
}

/// Everything that arrives on a set of queues, read by the admin user and acked.
actor Mailbox {
    struct Message: Sendable {
        var queue: String
        var type: String?
        var messageID: String?
        var correlationID: String?
        var routingKey: String
        var redelivered: Bool
        var headers: [String: AMQPValue]
        var body: Data

        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    }

    private(set) var messages: [Message] = []
    private var watchers: [(@Sendable (Message) -> Void)] = []

    func append(_ m: Message) {
        messages.append(m)
        for w in watchers { w(m) }
    }

    func messages(in queue: String) -> [Message] { messages.filter { $0.queue == queue } }
    func count(where predicate: @Sendable (Message) -> Bool) -> Int { messages.reduce(0) { $0 + (predicate($1) ? 1 : 0) } }
    func onMessage(_ watcher: @escaping @Sendable (Message) -> Void) { watchers.append(watcher) }
}

/// Consumes queues into a `Mailbox` until `stop()`; survives broker restarts (the client
/// resubscribes; unacked deliveries come again, marked redelivered).
final class Collector: Sendable {
    let client: AMQPClient
    let mailbox = Mailbox()
    private let tasks: Mutex<[Task<Void, Never>]> = Mutex([])

    init(name: String = "it.collector") {
        client = AMQPClient(configuration: Broker.configuration(name: name), logger: testLogger(name))
        client.start()
    }

    func purge(_ queues: [String]) async throws {
        try await client.waitUntilConnected(timeout: .seconds(30))
        for queue in queues { _ = try? await client.admin(.purgeQueue(queue)) }
    }

    func consume(_ queues: [String]) {
        for queue in queues {
            let stream = client.consume(queue: queue, prefetch: 500)
            let client = client
            let mailbox = mailbox
            let task = Task {
                do {
                    for try await d in stream {
                        await mailbox.append(.init(
                            queue: queue, type: d.properties.type, messageID: d.properties.messageID,
                            correlationID: d.properties.correlationID, routingKey: d.routingKey,
                            redelivered: d.redelivered, headers: d.properties.headers, body: d.body))
                        client.ack(d.tag)
                    }
                } catch {
                    Issue.record("consuming \(queue) failed: \(error)")
                }
            }
            tasks.withLock { $0.append(task) }
        }
    }

    func stop() async {
        await client.stopConsuming()
        for task in tasks.withLock({ $0 }) { await task.value }
        await client.close()
    }
}
