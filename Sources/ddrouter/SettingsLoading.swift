import ArgumentParser
import Daemon
import Foundation

extension DaemonSettings {
    /// Loads the configuration for a command, or prints the problem to standard error and
    /// exits 78 (EX_CONFIG), which the systemd unit treats as "do not restart".
    static func loadOrExit(config: String) async throws -> DaemonSettings {
        do {
            return try await DaemonSettings.load(path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("ddrouter: configuration \(config): \(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}
