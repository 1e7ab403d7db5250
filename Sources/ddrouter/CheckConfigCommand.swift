import ArgumentParser
import Daemon
import Foundation

/// `ddrouter check-config`: loads the configuration as `run` would, prints the effective
/// values with secrets redacted (standard output), and exits 0, or 78 (EX_CONFIG) with one
/// line per problem (standard error): unknown keys (with a suggestion), bad values, a clinic
/// serving an unknown municipality, a municipality served by no clinic or by two, a sender
/// without a broker user, a broker user used twice. The systemd unit runs it as
/// ExecStartPre, so a bad file never reaches `run`.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and print the effective values (secrets redacted).")

    @Option(name: .long, help: "Configuration file (YAML); DDROUTER_* variables override its keys.")
    var config: String = "/etc/ddrouter/ddrouter.yaml"

    @Flag(name: .long, help: "Print only the problems, not the effective configuration.")
    var quiet = false

    func run() async throws {
        let check = await ConfigCheck.run(path: config, environment: ProcessInfo.processInfo.environment)
        if !quiet {
            print("# effective configuration of \(config) (secrets redacted)")
            for line in check.effective { print(line) }
        }
        for problem in check.problems {
            FileHandle.standardError.write(Data("ddrouter: configuration \(config): \(problem)\n".utf8))
        }
        if !check.isValid {
            FileHandle.standardError.write(Data("ddrouter: configuration \(config): \(check.problems.count) problem(s)\n".utf8))
            throw ExitCode(78)
        }
    }
}
