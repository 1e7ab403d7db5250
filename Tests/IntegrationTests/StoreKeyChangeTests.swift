import Daemon
import Foundation
import Store
import Testing

/// Issue 17, item 3: the store key's file changes while the daemon runs, and the procedure of
/// docs/operations.md ("Change the store key file") is followed, with the real binary and the
/// real broker. In ClientTests (serialized) because the daemon consumes the shared
/// `ddrouter.inbound`.
extension ClientTests {
    static let storeKeyA = String(repeating: "a1", count: 32)
    static let storeKeyB = String(repeating: "b2", count: 32)

    @Test("store key file replaced under a running daemon: it keeps the key it started with; a restart with a key that is not the store's is refused (exit 78, nothing written); the old key back, or rotate-key offline and then the new key, and it runs on the same cases")
    func storeKeyFileChange() async throws {
        try await ScaleDirectory.ensureUsers()
        let journalQueue = "dd.journal.\(ScaleDirectory.journal).requests"
        let filled = ["ddrouter.inbound", journalQueue, "dd.municipality.851.inbox"]
        let collector = Collector(name: "it.store-key")
        try await collector.purge(filled)
        let municipality = SenderClient(user: ScaleDirectory.user(municipality: "851"), name: "it.store-key.851")
        defer {
            Task {
                try? await collector.purge(filled)
                await municipality.close()
                await collector.stop()
            }
        }

        // As under systemd: password and store key from $CREDENTIALS_DIRECTORY, no dev_key.
        let daemon = try DaemonProcess()
        defer { daemon.removeFiles() }
        let credentials = daemon.directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        let keyFile = credentials.appendingPathComponent("store-key")
        try Data(Broker.password.utf8).write(to: credentials.appendingPathComponent("broker-password"))
        try Data((Self.storeKeyA + "\n").utf8).write(to: keyFile)
        let yaml = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("password: \(Broker.password)") && !$0.contains("dev_key:") }
            .joined(separator: "\n")
        try yaml.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let environment = ["CREDENTIALS_DIRECTORY": credentials.path]

        let cpr = "0103304123"
        let url = Broker.repoRoot.appendingPathComponent("Config/examples/municipal-list.json")
        var list = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var entry = try #require((list["entries"] as? [[String: Any]])?.first)
        entry["cpr"] = cpr
        list["entries"] = [entry]
        let listBody = try JSONSerialization.data(withJSONObject: list)
        /// The citizen's list again (a new message): with the store's key it reaches the
        /// citizen's one case; with another key it would open a second one.
        func sendList(_ id: String) async throws {
            try await municipality.send(exchange: "dd.in.municipality.851", type: "municipal-list", messageID: id, body: listBody)
            let processed = await eventually(within: .seconds(30)) {
                (try? Self.sqlite(daemon.storePath, "SELECT count(*) FROM inbox WHERE message_id = '\(id)'")) == "1"
            }
            #expect(processed, "\(id) processed:\n\(daemon.logTail())")
        }
        func cases() throws -> String { try Self.sqlite(daemon.storePath, "SELECT group_concat(CASE typeof(case_id) WHEN 'blob' THEN 'case-' || lower(hex(case_id)) ELSE case_id END) FROM cases") }
        func caseID(underKey key: String) throws -> String {
            let keys = try StoreKeys(master: StoreSettings.key(from: Data(key.utf8)))
            return Pipeline.caseID(try Pseudonymizer(key: keys.pseudonymKey).pseudonym(forCPR: cpr))
        }
        func auditVerifies(underKey key: String) throws -> Bool {
            let keys = try StoreKeys(master: StoreSettings.key(from: Data(key.utf8)))
            let store = try Store(path: daemon.storePath, auditKey: keys.auditKey)
            defer { try? store.close() }
            return try store.verifyAudit().isOK
        }
        let caseA = try caseID(underKey: Self.storeKeyA)

        try await daemon.start(environment: environment)
        try await sendList("sk-list-1")
        #expect(try cases() == caseA)

        // 1. The key file is replaced while the daemon runs: it keeps the key it read at start.
        try Data((Self.storeKeyB + "\n").utf8).write(to: keyFile)
        try await sendList("sk-list-2")
        #expect(try cases() == caseA, "the running daemon still finds the citizen's case")
        #expect(daemon.isRunning)

        // 2. Its next start (a restart, a crash's Restart=, a reboot) reads the new file, which
        //    is not the store's key: refused before anything is consumed.
        #expect(try await daemon.terminate() == 0)
        let auditRows = try Self.sqlite(daemon.storePath, "SELECT count(*) FROM audit")
        try await daemon.start(environment: environment, waitForReady: false)
        let status = try await daemon.waitForExit(timeout: .seconds(60))
        #expect(status.map(DaemonProcess.exitCode) == 78, "exit 78 (EX_CONFIG: systemd does not restart it), was \(String(describing: status)):\n\(daemon.logTail())")
        if status == nil { try daemon.kill() }
        let refusal = daemon.logLines.compactMap(\.object).first {
            ($0["level"] as? String) == "critical" && (($0["msg"] as? String) ?? "").contains("the store key does not match the store")
        }
        #expect(refusal != nil, "a critical line says why:\n\(daemon.logTail())")
        let refusalText: String = refusal.flatMap { $0["msg"] as? String } ?? ""
        #expect(refusalText.contains("rotate-key"), "and names the way out")
        #expect(!daemon.logText().contains(cpr) && !daemon.logText().contains("010330-4123"), "no CPR in the log")
        #expect(try cases() == caseA, "no second case")
        #expect(try Self.sqlite(daemon.storePath, "SELECT count(*) FROM audit") == auditRows, "nothing appended to the trail")
        #expect(try auditVerifies(underKey: Self.storeKeyA))

        // 3. The operator puts the store's key back: it runs on as before.
        try Data((Self.storeKeyA + "\n").utf8).write(to: keyFile)
        try await daemon.start(environment: environment)
        try await sendList("sk-list-3")
        #expect(try cases() == caseA)
        #expect(try await daemon.terminate() == 0)

        // 4. A new key the documented way: daemon stopped, rotate-key (reads the current key
        //    from the credential), then the new key into the credential, start.
        let newKeyFile = daemon.directory.appendingPathComponent("store-key.new")
        try Data((Self.storeKeyB + "\n").utf8).write(to: newKeyFile)
        let rotation = try AdminCLI.spawn(
            [DaemonProcess.binary, "rotate-key", "--config", daemon.configPath, "--new-key-file", newKeyFile.path,
             "--purpose", "test: store key change", "--operator", "store-key-test"],
            env: environment)
        #expect(rotation.status == 0, "rotate-key: \(rotation.out)\(rotation.err)")
        try FileManager.default.removeItem(at: keyFile)
        try FileManager.default.moveItem(at: newKeyFile, to: keyFile)
        try await daemon.start(environment: environment)
        try await sendList("sk-list-4")
        let caseB = try caseID(underKey: Self.storeKeyB)
        #expect(caseB != caseA)
        #expect(try cases() == caseB, "the citizen's one case, under its re-keyed id")
        #expect(try await daemon.terminate() == 0)
        #expect(try auditVerifies(underKey: Self.storeKeyB))
        #expect(!(try auditVerifies(underKey: Self.storeKeyA)))
    }

    /// One value from the store with the sqlite3 shell (key-independent).
    static func sqlite(_ path: String, _ sql: String) throws -> String {
        let r = try AdminCLI.spawn(["/usr/bin/sqlite3", path, sql])
        guard r.status == 0 else { throw BrokerError(message: "sqlite3: \(r.err)") }
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
