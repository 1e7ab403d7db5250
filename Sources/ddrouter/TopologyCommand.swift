import ArgumentParser
import Daemon
import Foundation

/// `ddrouter topology --definitions`: writes the RabbitMQ definitions for the configured
/// directory (vhost, users without passwords, permissions, exchanges, queues, bindings).
struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology", abstract: "Write RabbitMQ definitions (users, permissions, topology) for the directory.")

    @Option(name: .long, help: "Configuration file (YAML).")
    var config: String = "/etc/ddrouter/ddrouter.yaml"

    @Flag(name: .long, help: "Write the definitions JSON (the only output format so far).")
    var definitions = false

    @Option(name: .long, help: "Write to this file instead of standard output.")
    var output: String?

    func run() async throws {
        guard definitions else { throw ValidationError("say what to write: --definitions") }
        let settings = try await DaemonSettings.loadOrExit(config: config)
        let data = try BrokerDefinitions.json(settings: settings)
        if let output {
            try data.write(to: URL(fileURLWithPath: output))
        } else {
            FileHandle.standardOutput.write(data)
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }
}
