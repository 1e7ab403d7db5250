import Foundation
import Store
import Testing
import Workflow

/// Runs the built `ddrouter` binary (.build/debug/ddrouter) as a subprocess against a
/// temporary configuration and store, as an operator would.
struct AdminCLI {
    let directory: URL
    let config: String
    let storePath: String
    /// The key the temporary configuration gives the store (`store.dev_key`).
    static let devKey = "admin-test-store-key-0123456789abcdef-0123456789"

    struct Result {
        var status: Int32
        var out: String
        var err: String
    }

    static var binary: String {
        Broker.repoRoot.appendingPathComponent(".build/debug/ddrouter").path
    }

    /// A configuration: the shipped file with its store in a temporary directory; `extra`
    /// environment overrides are applied to every command.
    init(edit: (String) -> String = { $0 }) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-admin-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        storePath = directory.appendingPathComponent("store.sqlite").path
        let shipped = try String(contentsOf: Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml"), encoding: .utf8)
        var text = shipped.replacingOccurrences(of: "path: var/ddrouter.sqlite", with: "path: \(storePath)")
        text = text.replacingOccurrences(
            of: "dev_key: \"ddrouter-DEVELOPMENT-ONLY-store-key-do-not-use-in-production\"", with: "dev_key: \"\(Self.devKey)\"")
        config = directory.appendingPathComponent("ddrouter.yaml").path
        try edit(text).write(toFile: config, atomically: true, encoding: .utf8)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Opens the store with the key the configuration names.
    func openStore() throws -> (Store, Pseudonymizer) {
        let keys = try StoreKeys(master: Data(Self.devKey.utf8))
        return (try Store(path: storePath, auditKey: keys.auditKey), try Pseudonymizer(key: keys.pseudonymKey))
    }

    /// `ddrouter <args> --config <config>`; `stdin` is fed to standard input.
    func run(_ args: [String], env extra: [String: String] = [:], stdin: String? = nil) throws -> Result {
        try Self.spawn([Self.binary] + args + ["--config", config], env: extra, stdin: stdin)
    }

    /// Starts `argv` in the background (standard output and error to `output`); the caller
    /// stops it by pid.
    static func spawnBackground(_ argv: [String], env extra: [String: String] = [:], output: String) throws -> pid_t {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DDROUTER_") }
        for (k, v) in extra { environment[k] = v }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
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
        return pid
    }

    static func spawn(_ argv: [String], env extra: [String: String] = [:], stdin: String? = nil) throws -> Result {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DDROUTER_") }
        for (k, v) in extra { environment[k] = v }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-cli-\(UUID().uuidString)").path
        let outPath = base + ".out", errPath = base + ".err", inPath = base + ".in"
        try (stdin ?? "").write(toFile: inPath, atomically: true, encoding: .utf8)
        defer { unlink(outPath); unlink(errPath); unlink(inPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
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
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Result(status: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), out: out, err: err)
    }
}

/// Cases built with the real rules (Workflow) and stored through the Store API, as the
/// daemon stores them.
enum AdminFixtures {
    static func date(_ iso: String) -> LocalDate { LocalDate(iso: iso)! }

    /// Stores a list-1 case for `cpr` in `municipality`; `facts` (when consent is given)
    /// routes it. Returns the case id.
    @discardableResult
    static func listedCase(
        store: Store, pseudonymizer: Pseudonymizer, cpr: String, municipality: String, consent: Bool,
        facts: ContactFacts?, at now: Date = Date()
    ) throws -> String {
        let config = WorkflowConfiguration()
        let asOf = date("2025-10-01")
        var c = CitizenCase(citizen: CitizenKey(cpr))
        let listed = ListEntry(
            list: .list1, municipality: MunicipalityCode(municipality), clinic: nil, asOf: asOf,
            consent: consent ? .given(on: date("2025-09-01"), reference: "decl-1") : .absent)
        let messageID = "list-\(municipality)-\(UUID().uuidString.prefix(6))"
        _ = c.apply(.listed(listed), context: CaseContext(ref: InboundRef(messageID: messageID, entry: 0), at: now, on: asOf),
                    configuration: config)
        // The routing decision's explanation, as the daemon keeps it: in the history only.
        var routedWhy: Explanation?
        if let facts {
            let result = c.apply(.contactStatus(facts), context: CaseContext(ref: InboundRef(messageID: "status-\(messageID)", entry: 0), at: now, on: asOf),
                                 configuration: config)
            routedWhy = result.events.first?.explanation
        }
        let pseudonym = try pseudonymizer.pseudonym(forCPR: cpr)
        let caseID = "case-\(pseudonym.hex.prefix(24))"
        let clinic: String? = {
            if case .clinic(let id) = c.workflowA?.regionParty { return id.rawValue }
            return nil
        }()
        try store.write { tx in
            _ = try tx.upsertCase(try CaseRecord(
                caseID: caseID, pseudonym: pseudonym, workflow: "A", municipality: municipality, clinic: clinic,
                status: c.stateName, state: c, updatedAt: now))
            _ = try tx.appendHistory(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .input, messageID: messageID,
                payload: Data(#"{"type":"municipal-list","list":"list1","municipalInformation":"FREE TEXT SECRET"}"#.utf8), explanation: nil))
            if c.workflowA?.routing != nil, let routedWhy {
                _ = try tx.appendHistory(CaseHistoryEntry(
                    caseID: caseID, at: now, kind: .decision, messageID: "ev-\(messageID)",
                    payload: Data(#"{"cvReferral":{"note":"FREE TEXT SECRET"}}"#.utf8), explanation: try StoreJSON.encode(routedWhy)))
                // Rows as the daemon writes them since issue 15: in the store's binary encoding.
                _ = try tx.appendHistory(CaseHistoryEntry(
                    caseID: caseID, at: now, kind: .input, messageID: "\(messageID)-binary",
                    payload: try StoreBinary.encode(["type": "contact-status", "note": "FREE TEXT SECRET"]), explanation: nil))
                _ = try tx.appendHistory(CaseHistoryEntry(
                    caseID: caseID, at: now, kind: .decision, messageID: "ev-\(messageID)-binary",
                    payload: try StoreBinary.encode(["notGroup2": ["note": "FREE TEXT SECRET"]]),
                    explanation: try StoreBinary.encode(routedWhy)))
            }
            _ = try tx.appendAudit(AuditRecord(
                at: now, actor: "municipality.\(municipality)", action: .received, pseudonym: pseudonym,
                messageType: "municipal-list", messageID: messageID, purpose: "treatment-dialogue"))
            _ = try tx.appendAudit(AuditRecord(
                at: now, actor: clinic.map { "clinic.\($0)" } ?? "cv", action: "queued", pseudonym: pseudonym,
                messageType: clinic == nil ? "cv-referral" : "assessment-request", messageID: "ev-\(messageID)", purpose: "assessment"))
        }
        return caseID
    }
}
