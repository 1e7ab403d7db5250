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
        // check-config runs first in the main process (not ExecStartPre=, whose exit 78 systemd
        // restarts regardless of RestartPreventExitStatus=), then run is exec'd.
        let start = try #require(lines.first { $0.hasPrefix("ExecStart=") })
        #expect(start.contains(" check-config ") && start.contains("&& exec /usr/bin/ddrouter run "), "\(start)")
        #expect(!lines.contains { $0.hasPrefix("ExecStartPre=") && $0.contains(" check-config ") }, "an ExecStartPre= exiting 78 is restarted for ever")
        // Secrets come only as credentials, never through the environment.
        #expect(!lines.contains { $0.hasPrefix("Environment=") && ($0.contains("PASSWORD") || $0.contains("KEY")) })
    }

    @Test func adminWrapperUsesTheServiceIdentityAndCredentials() throws {
        let text = try Self.file("deploy/ddrouter-admin")
        for required in ["DynamicUser=yes", "User=ddrouter", "StateDirectory=ddrouter", "LoadCredential=store-key",
                         "LoadCredential=broker-password", "DDROUTER_STORE_PATH=/var/lib/ddrouter/ddrouter.sqlite"] {
            #expect(text.contains(required), "deploy/ddrouter-admin lacks \(required)")
        }
        #expect(text.contains("/usr/bin/ddrouter \"$@\""), "ddrouter-admin runs the packaged binary")
    }
}
