import Contract
@testable import Daemon
import Foundation
import Testing

/// `check-config`'s validation: the shipped file passes; each kind of mistake is one
/// clear line; environment and credentials override the file; secrets are never printed.
@Suite("check-config")
struct ConfigCheckTests {
    /// A temporary configuration: the shipped file with `edit` applied to its text.
    static func config(_ edit: (String) -> String = { $0 }) throws -> String {
        let text = try String(contentsOfFile: DaemonSettingsTests.shippedConfig, encoding: .utf8)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-cfg-\(UUID().uuidString.prefix(8)).yaml")
        try edit(text).write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    static func check(_ edit: (String) -> String = { $0 }, env: [String: String] = [:]) async throws -> ConfigCheck {
        let path = try config(edit)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return await ConfigCheck.run(path: path, environment: env)
    }

    @Test func shippedConfigurationIsValidAndSecretsAreRedacted() async throws {
        let check = try await Self.check()
        #expect(check.problems == [])
        let text = check.effective.joined(separator: "\n")
        #expect(text.contains("broker.password = (redacted)"))
        #expect(text.contains("store.dev_key = (redacted)"))
        #expect(!text.contains("ddrouter-dev"), "the broker password leaked")
        #expect(!text.contains("DEVELOPMENT-ONLY"), "the store key leaked")
        #expect(text.contains("directory.clinics.amb-syd-aalborg.serves = [851, 820, 840, 846]"))
        #expect(text.contains("workflow.phasing.group3_start = 2026-07-01"))
        let http = try await Self.check(env: ["DDROUTER_HTTP_BIND": "127.0.0.1:9000"])
        #expect(http.problems == [])
        #expect(http.effective.contains("http.bind = 127.0.0.1:9000  # env DDROUTER_HTTP_BIND"))
    }

    @Test func shippedDirectoryIsNordjylland() async throws {
        let s = try await DaemonSettings.load(path: DaemonSettingsTests.shippedConfig, environment: [:])
        let nordjylland = Directory.nordjylland
        #expect(Set(s.directory.municipalities) == Set(nordjylland.municipalities))
        #expect(Set(s.directory.clinics) == Set(nordjylland.clinics))
        #expect(s.directory.journals == nordjylland.journals)
        #expect(s.directory.centralVisitationUser == "central-visitation")
        #expect(s.directory.clinic(serving: "825")?.catchment == "Nord")
        #expect(s.directory.clinic(serving: "846")?.catchment == "Syd")
        #expect(s.directory.brokerUser(for: .municipality("851")) == "municipality-851")
        #expect(s.directory.brokerUser(for: .journal("journal-rn")) == "journal-journal-rn")
        #expect(s.workflow == WorkflowSettings.defaults)
    }

    @Test func unknownKeyIsNamedWithASuggestion() async throws {
        let check = try await Self.check { $0.replacingOccurrences(of: "  heartbeat_seconds: 30", with: "  heartbeat_secs: 30") }
        #expect(check.problems.count == 1)
        #expect(check.problems.first?.hasPrefix("unknown key broker.heartbeat_secs in /") == true)
        #expect(check.problems.first?.hasSuffix(".yaml (did you mean broker.heartbeat_seconds?)") == true)
    }

    @Test func unknownKeyInADirectoryEntryAndUnknownEnvironmentVariable() async throws {
        let check = try await Self.check(
            { $0.replacingOccurrences(of: "      catchment: Syd", with: "      catchment: Syd\n      serve: [\"851\"]") },
            env: ["DDROUTER_BROKER_PROT": "5672"])
        #expect(check.problems.count == 2)
        #expect(check.problems.contains { $0.hasPrefix("unknown key directory.clinics.amb-syd-aalborg.serve ") && $0.hasSuffix("(did you mean directory.clinics.amb-syd-aalborg.serves?)") })
        #expect(check.problems.contains("environment variable DDROUTER_BROKER_PROT overrides no key (did you mean DDROUTER_BROKER_PORT?)"))
    }

    @Test func badValuesAreNamed() async throws {
        let check = try await Self.check {
            $0.replacingOccurrences(of: "port: 5682", with: "port: many")
                .replacingOccurrences(of: "group2_start: 2025-07-01", with: "group2_start: 2025-13-01")
                .replacingOccurrences(of: "external_login: false", with: "external_login: maybe")
                .replacingOccurrences(of: "deadline_warning_lead_days: 3", with: "deadline_warning_lead_days: 20")
        }
        #expect(check.problems.contains("broker.port must be a whole number, got \"many\""))
        #expect(check.problems.contains("workflow.phasing.group2_start must be a date yyyy-MM-dd, got \"2025-13-01\""))
        #expect(check.problems.contains("broker.external_login must be true or false, got \"maybe\""))
        #expect(check.problems.contains("workflow.timers.deadline_warning_lead_days must be at least 1 and less than treatment_start_limit_days"))
        #expect(check.problems.count == 4)
    }

    @Test func clinicServingAnUnknownMunicipality() async throws {
        let check = try await Self.check { $0.replacingOccurrences(of: "[\"851\", \"820\", \"840\", \"846\"]", with: "[\"851\", \"820\", \"840\", \"846\", \"999\"]") }
        #expect(check.problems == ["directory.clinics.amb-syd-aalborg.serves: municipality 999 is not in directory.municipalities"])
    }

    @Test func municipalityServedByNoClinicOrByTwo() async throws {
        let none = try await Self.check { $0.replacingOccurrences(of: "[\"851\", \"820\", \"840\", \"846\"]", with: "[\"851\", \"820\", \"840\"]") }
        #expect(none.problems == ["directory: municipality 846 (Mariagerfjord) is served by no clinic; add it to one clinic's serves"])
        let two = try await Self.check { $0.replacingOccurrences(of: "[\"851\", \"820\", \"840\", \"846\"]", with: "[\"851\", \"820\", \"840\", \"846\", \"825\"]") }
        #expect(two.problems == ["directory: municipality 825 (Læsø) is served by 2 clinics (amb-nord-hjoerring, amb-syd-aalborg); a municipality belongs to one catchment area"])
    }

    @Test func senderWithoutBrokerUserAndDuplicateUsers() async throws {
        let check = try await Self.check {
            $0.replacingOccurrences(of: "broker_user: municipality-810", with: "broker_user: \"\"")
                .replacingOccurrences(of: "broker_user: municipality-813", with: "broker_user: municipality-851")
                .replacingOccurrences(of: "broker_user: central-visitation", with: "broker_user: ddrouter")
        }
        #expect(check.problems.contains("directory.municipalities.810.broker_user is empty: municipality 810 has no broker user"))
        #expect(check.problems.contains("directory.municipalities.851.broker_user: broker user municipality-851 is already the user of municipality 813; every sender needs its own"))
        #expect(check.problems.contains("directory.central_visitation.broker_user: broker user ddrouter is already the user of ddrouter itself; every sender needs its own"))
        #expect(check.problems.count == 3)
    }

    @Test func directorySectionsAsListsAndNarrowedByEnvironment() async throws {
        let path = try Self.config {
            $0.replacingOccurrences(of: "  journals:                  # id: {name, broker_user (default journal-<id>)}\n    journal-rn:\n      name: \"Region Nordjylland psychiatric record\"\n      broker_user: journal-journal-rn", with: "  journals: [\"journal-rn\", \"journal-two\"]")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let s = try await DaemonSettings.load(path: path, environment: [:])
        #expect(s.directory.journals.map(\.id) == ["journal-rn", "journal-two"])
        #expect(s.directory.brokerUser(for: .journal("journal-two")) == "journal-journal-two")
        #expect(await ConfigCheck.run(path: path, environment: [:]).problems == [])
        // Narrow the municipalities (and the clinics' catchments) for a test installation.
        let env = ["DDROUTER_DIRECTORY_MUNICIPALITIES": "851", "DDROUTER_DIRECTORY_CLINICS": "amb-syd-aalborg",
                   "DDROUTER_DIRECTORY_CLINICS_AMB_SYD_AALBORG_SERVES": "851"]
        let narrow = try await DaemonSettings.load(path: path, environment: env)
        #expect(narrow.directory.municipalities.map(\.code) == ["851"])
        #expect(narrow.directory.municipalities.first?.name == "Aalborg")
        #expect(narrow.codeBook.clinics == ["amb-syd-aalborg"])
        #expect(await ConfigCheck.run(path: path, environment: env).problems == [])
    }

    @Test func environmentOverridesFileAndDirectoryEntries() async throws {
        let env = [
            "DDROUTER_BROKER_PORT": "5999",
            "DDROUTER_DIRECTORY_MUNICIPALITIES_851_BROKER_USER": "aalborg-kommune",
            "DDROUTER_WORKFLOW_TIMERS_STATUS_UNKNOWN_WAIT_DAYS": "10",
        ]
        let check = try await Self.check(env: env)
        #expect(check.problems == [])
        #expect(check.effective.contains("broker.port = 5999  # env DDROUTER_BROKER_PORT"))
        let s = try await DaemonSettings.load(path: DaemonSettingsTests.shippedConfig, environment: env)
        #expect(s.amqp.endpoints.first?.port == 5999)
        #expect(s.directory.brokerUser(for: .municipality("851")) == "aalborg-kommune")
        #expect(s.workflow.timers.statusUnknownWaitDays == 10)
        let cluster = try await DaemonSettings.load(
            path: DaemonSettingsTests.shippedConfig, environment: ["DDROUTER_BROKER_ENDPOINTS": "mq1:5671,mq2:5671"])
        #expect(cluster.amqp.endpoints == [.init(host: "mq1", port: 5671), .init(host: "mq2", port: 5671)])
        let badCluster = try await Self.check(env: ["DDROUTER_BROKER_ENDPOINTS": "mq1"])
        #expect(badCluster.problems == ["broker.endpoints: \"mq1\" is not host:port"])
        let bad = try await Self.check(env: ["DDROUTER_INBOUND_PREFETCH": "0"])
        #expect(bad.problems == ["inbound.prefetch must be 1-65535, got 0"])
    }

    @Test func secretsComeFromTheCredentialsDirectory() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-cred-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "s3cret-from-credential\n".write(to: dir.appendingPathComponent("broker-password"), atomically: true, encoding: .utf8)
        let key = String(repeating: "ab", count: 32)
        try key.write(to: dir.appendingPathComponent("store-key"), atomically: true, encoding: .utf8)
        let env = ["CREDENTIALS_DIRECTORY": dir.path]
        let path = try Self.config { $0.replacingOccurrences(of: "  password: ddrouter-dev", with: "") }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let s = try await DaemonSettings.load(path: path, environment: env)
        guard case .plain(let user, let password) = s.amqp.authentication else {
            Issue.record("expected PLAIN authentication")
            return
        }
        #expect(user == "ddrouter" && password == "s3cret-from-credential")
        let store = try await StoreSettings.load(path: path, environment: env)
        #expect(store.masterKey == Data(repeating: 0xab, count: 32))
        #expect(!store.usesDevelopmentKey)
        let check = await ConfigCheck.run(path: path, environment: env)
        #expect(check.problems == [])
        #expect(check.effective.contains("broker.password = (redacted)  # credential broker-password"))
        #expect(check.effective.contains("store.key = (redacted)  # credential store-key"))
        #expect(!check.effective.joined().contains("s3cret") && !check.effective.joined().contains(key))
    }

    @Test func missingStoreKeyAndShortKeyAreProblems() async throws {
        let check = try await Self.check { $0.replacingOccurrences(of: "  dev_key: ", with: "  # dev_key: ") }
        #expect(check.problems.count == 1)
        #expect(check.problems.first?.hasPrefix("no store key") == true)
        let short = try await Self.check { $0.replacingOccurrences(of: "dev_key: \"ddrouter-DEVELOPMENT-ONLY-store-key-do-not-use-in-production\"", with: "dev_key: short") }
        #expect(short.problems == ["the store key has 5 bytes; at least 32 random bytes are needed (e.g. openssl rand -hex 32)"])
    }

    @Test func everyKeyIsDocumentedInTheShippedFile() throws {
        let text = try String(contentsOfFile: DaemonSettingsTests.shippedConfig, encoding: .utf8)
        for spec in ConfigSchema.keys {
            let leaf = String(spec.name.split(separator: ".").last!)
            #expect(text.contains(leaf + ":") || text.contains(leaf + " "), "\(spec.name) is not in Config/ddrouter.yaml")
        }
    }

    @Test func definitionsUseTheDirectoryUsers() async throws {
        let s = try await DaemonSettings.load(
            path: DaemonSettingsTests.shippedConfig,
            environment: ["DDROUTER_DIRECTORY_CLINICS_AMB_NORD_HJOERRING_BROKER_USER": "nord-amb"])
        let definitions = BrokerDefinitions.make(settings: s)
        let users = (definitions["users"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(users.contains("nord-amb") && !users.contains("clinic-amb-nord-hjoerring"))
        #expect(users.count == 16, "service, 11 municipalities, 2 clinics, 1 journal, Central Visitation")
        let permissions = definitions["permissions"] as? [[String: Any]] ?? []
        let nord = permissions.first { $0["user"] as? String == "nord-amb" }
        #expect(nord?["write"] as? String == "^dd\\.in\\.clinic\\.amb-nord-hjoerring$")
    }

    @Test("Topology (docs/messages.md): the generated definitions declare every queue, the outbound ones included, as a durable quorum queue")
    func definitionsDeclareQuorumQueues() async throws {
        let s = try await DaemonSettings.load(path: DaemonSettingsTests.shippedConfig, environment: [:])
        let queues = BrokerDefinitions.make(settings: s)["queues"] as? [[String: Any]] ?? []
        #expect(queues.count == 17, "inbound, dead letters, 11 municipalities, 2 clinics, 1 journal, Central Visitation")
        for queue in queues {
            let arguments = queue["arguments"] as? [String: Any]
            #expect(arguments?["x-queue-type"] as? String == "quorum", "\(queue["name"] ?? "?") is not quorum")
            #expect(queue["durable"] as? Bool == true, "\(queue["name"] ?? "?") is not durable")
        }
        // The daemon declares the same.
        #expect(s.topology.queues.allSatisfy { $0.kind == .quorum && $0.durable })
    }

    @Test func shippedDefinitionsExampleIsCurrent() async throws {
        let s = try await DaemonSettings.load(path: DaemonSettingsTests.shippedConfig, environment: [:])
        let example = try Data(contentsOf: DaemonSettingsTests.repoRoot.appendingPathComponent("deploy/rabbitmq/definitions.example.json"))
        let generated = try BrokerDefinitions.json(settings: s)
        let a = try JSONSerialization.jsonObject(with: example) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: generated) as? NSDictionary
        #expect(a == b, "regenerate: ddrouter topology --definitions --config Config/ddrouter.yaml --output deploy/rabbitmq/definitions.example.json")
    }
}

/// Issue 5: production must not run on the published development key. Under systemd a
/// missing `store-key` credential is skipped silently, so `store.dev_key` is refused there.
@Suite("check-config: store.dev_key under systemd")
struct DevKeyRefusalTests {
    static func credentials(storeKey: String?) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-cred-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "broker-secret".write(to: dir.appendingPathComponent("broker-password"), atomically: true, encoding: .utf8)
        if let storeKey { try storeKey.write(to: dir.appendingPathComponent("store-key"), atomically: true, encoding: .utf8) }
        return dir.path
    }

    @Test("credentials without store-key: the dev key is refused with one clear line (check-config and run)")
    func refusedWithCredentials() async throws {
        let dir = try Self.credentials(storeKey: nil)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let check = try await ConfigCheckTests.check(env: ["CREDENTIALS_DIRECTORY": dir])
        #expect(check.problems == [StoreSettings.devKeyRefused])
        await #expect(throws: ConfigSource.Failure.self) {
            try await StoreSettings.load(path: DaemonSettingsTests.shippedConfig, environment: ["CREDENTIALS_DIRECTORY": dir])
        }
    }

    @Test("a systemd notify service without credentials: refused")
    func refusedUnderSystemd() async throws {
        let check = try await ConfigCheckTests.check(env: ["INVOCATION_ID": "0123abcd", "NOTIFY_SOCKET": "/run/systemd/notify"])
        #expect(check.problems == [StoreSettings.devKeyRefused])
    }

    @Test("with the store-key credential, or in development, all is well")
    func acceptedOtherwise() async throws {
        let dir = try Self.credentials(storeKey: String(repeating: "ab", count: 32))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try await ConfigCheckTests.check(env: ["CREDENTIALS_DIRECTORY": dir]).problems == [])
        let withKey = try await StoreSettings.load(path: DaemonSettingsTests.shippedConfig, environment: ["CREDENTIALS_DIRECTORY": dir])
        #expect(!withKey.usesDevelopmentKey)
        // A shell in a terminal started by a user service has INVOCATION_ID but is no deployment.
        let dev = try await StoreSettings.load(path: DaemonSettingsTests.shippedConfig, environment: ["INVOCATION_ID": "0123abcd"])
        #expect(dev.usesDevelopmentKey)
    }
}
