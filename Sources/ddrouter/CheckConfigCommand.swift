import ArgumentParser
import Daemon
import Foundation

/// `ddrouter check-config`: loads the configuration as `run` would, prints the effective
/// values with secrets redacted, and exits 0, or 78 (EX_CONFIG) with one line per problem.
/// The systemd unit runs it as ExecStartPre, so a bad file never reaches `run`.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and print the effective values (secrets redacted).")

    @Option(name: .long, help: "Configuration file (YAML); DDROUTER_* variables override its keys.")
    var config: String = "/etc/ddrouter/ddrouter.yaml"

    func run() async throws {
        print(try await DaemonSettings.loadOrExit(config: config).effectiveDescription)
    }
}
