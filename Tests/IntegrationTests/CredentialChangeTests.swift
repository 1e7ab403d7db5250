import AMQP
import Foundation
import Testing

/// Issue 17, item 3: the daemon's broker password changes while it runs, and the procedure
/// of docs/operations.md ("Change the broker password") is followed. In ClientTests
/// (serialized): the daemon consumes the shared `ddrouter.inbound`, and beside another
/// broker test it would take that test's deliveries into its own store.
extension ClientTests {
    @Test("broker password changed under a running daemon: it keeps its connections; on the next login the refusal is an error line naming the user and the procedure, not a silent retry; with the new password in the credential file and a restart it is ready again")
    func brokerPasswordChange() async throws {
        let user = Broker.unique("ddr-cred")
        _ = try Broker.ctl("add_user", user, "first-password")
        defer { _ = try? Broker.ctl("delete_user", user) }
        _ = try Broker.ctl("set_permissions", "-p", Broker.vhost, user, ".*", ".*", ".*")
        _ = try Broker.ctl("set_user_tags", user, "impersonator")

        // As under systemd: the password and the store key come from $CREDENTIALS_DIRECTORY.
        let daemon = try DaemonProcess()
        defer { daemon.removeFiles() }
        let credentials = daemon.directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try Data("first-password".utf8).write(to: credentials.appendingPathComponent("broker-password"))
        try Data(String(repeating: "ab", count: 32).utf8).write(to: credentials.appendingPathComponent("store-key"))
        var yaml = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "  user: \(Broker.user)\n", with: "  user: \(user)\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("password: \(Broker.password)") && !$0.contains("dev_key:") }
            .joined(separator: "\n")
        try yaml.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let environment = ["CREDENTIALS_DIRECTORY": credentials.path]

        try await daemon.start(environment: environment)
        let port = try await daemon.httpPort()
        #expect(try httpGet(port: port, path: "/readyz").status == 200)

        // 1. The password changes on the broker: open connections are not affected.
        _ = try Broker.ctl("change_password", user, "second-password")
        try await Task.sleep(for: .seconds(2))
        #expect(try httpGet(port: port, path: "/readyz").status == 200, "connections opened before the change stay up")

        // 2. The daemon's next login (here: its connections closed by the broker) is refused.
        let connections = try Broker.ctl("list_connections", "pid", "user", "--no-table-headers", "--quiet")
        for line in connections.split(separator: "\n") where line.hasSuffix("\t\(user)") {
            _ = try? Broker.ctl("close_connection", String(line.split(separator: "\t")[0]), "test: password changed")
        }
        func refusalLogged() -> [String: Any]? {
            daemon.logLines.compactMap(\.object).first {
                ($0["level"] as? String) == "error" && (($0["msg"] as? String) ?? "").contains("refuses ddrouter's login")
            }
        }
        let refused = await eventually(within: .seconds(30)) { refusalLogged() != nil }
        #expect(refused, "an error line says the broker refuses the login:\n\(daemon.logTail())")
        if let line = refusalLogged() {
            #expect("\(line)".contains(user), "the line names the user")
            #expect(((line["msg"] as? String) ?? "").contains("broker-password"), "the line names the credential to fix")
        }
        #expect(try httpGet(port: port, path: "/readyz").status == 503, "not ready while the login is refused")
        let metrics = try httpGet(port: port, path: "/metrics").body
        #expect(metrics.contains("ddrouter_broker_connected 0"))
        #expect(daemon.isRunning, "it keeps retrying (the broker side may be fixed instead)")

        // 3. The documented procedure: the new password into the credential, restart.
        try Data("second-password".utf8).write(to: credentials.appendingPathComponent("broker-password"))
        _ = try await daemon.terminate()
        try await daemon.start(environment: environment)  // returns at READY=1: connected and consuming
        #expect(daemon.isRunning, "ready with the new password")
        _ = try await daemon.terminate()
    }
}
