import Foundation
import Testing

/// deploy/ has what issue 5 lists for operators: the unit's directives and the admin wrapper.
@Suite("deploy/ contents")
struct UnitContentTests {
    static func file(_ path: String) throws -> String {
        try String(contentsOf: DaemonSettingsTests.repoRoot.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func unitHasTheOperatorDirectives() throws {
        let lines = Set(try Self.file("deploy/ddrouter.service").split(separator: "\n").map(String.init))
        for required in [
            "Type=notify", "Restart=on-failure", "RestartPreventExitStatus=78", "DynamicUser=yes",
            "StateDirectory=ddrouter", "ConfigurationDirectory=ddrouter", "UMask=0077",
            "LoadCredential=broker-password", "LoadCredential=store-key", "LoadCredential=broker-tls-key",
            "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes", "NoNewPrivileges=yes",
            "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
        ] {
            #expect(lines.contains(required), "deploy/ddrouter.service lacks \(required)")
        }
        #expect(lines.contains { $0.hasPrefix("WatchdogSec=") })
        #expect(lines.contains { $0.hasPrefix("RestrictAddressFamilies=") })
        #expect(lines.contains { $0.hasPrefix("ExecStartPre=") && $0.contains(" check-config ") })
        // Secrets come only as credentials, never through the environment.
        #expect(!lines.contains { $0.hasPrefix("Environment=") && ($0.contains("PASSWORD") || $0.contains("KEY")) })
    }

    @Test func adminWrapperUsesTheServiceIdentityAndCredentials() throws {
        let text = try Self.file("deploy/ddrouter-admin")
        for required in ["DynamicUser=yes", "User=ddrouter", "StateDirectory=ddrouter", "LoadCredential=store-key",
                         "LoadCredential=broker-password", "DDROUTER_STORE_PATH=/var/lib/ddrouter/ddrouter.sqlite"] {
            #expect(text.contains(required), "deploy/ddrouter-admin lacks \(required)")
        }
        let install = try Self.file("deploy/install.sh")
        #expect(install.contains("if [[ -e \"$DESTDIR/etc/ddrouter/ddrouter.yaml\" ]]"), "install.sh must not overwrite the configuration")
        #expect(install.contains("deploy/ddrouter-admin"))
    }
}

/// deploy/install.sh into a staging root (DESTDIR), with an already built binary.
@Suite("deploy/install.sh")
struct InstallScriptTests {
    static func install(into root: URL) throws -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [DaemonSettingsTests.repoRoot.appendingPathComponent("deploy/install.sh").path]
        var env = ProcessInfo.processInfo.environment
        env["DESTDIR"] = root.path
        env["DDROUTER_BIN"] = "/bin/true"   // the script only copies it
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func installsEverythingAndNeverOverwritesTheConfiguration() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-install-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let first = try Self.install(into: root)
        #expect(first.status == 0, "\(first.out)")
        let fm = FileManager.default
        for path in ["usr/local/bin/ddrouter", "usr/local/sbin/ddrouter-admin", "etc/systemd/system/ddrouter.service",
                     "etc/ddrouter/ddrouter.yaml"] {
            #expect(fm.fileExists(atPath: root.appendingPathComponent(path).path), "\(path) not installed")
        }
        let credstore = try fm.attributesOfItem(atPath: root.appendingPathComponent("etc/credstore").path)
        #expect(credstore[.posixPermissions] as? Int == 0o700)
        #expect(first.out.contains("Next steps"))

        let config = root.appendingPathComponent("etc/ddrouter/ddrouter.yaml")
        try "# the operator's own\n".write(to: config, atomically: true, encoding: .utf8)
        let second = try Self.install(into: root)
        #expect(second.status == 0, "\(second.out)")
        #expect(try String(contentsOf: config, encoding: .utf8) == "# the operator's own\n")
        #expect(second.out.contains("keeping existing /etc/ddrouter/ddrouter.yaml"))
    }
}
