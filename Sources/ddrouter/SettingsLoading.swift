import ArgumentParser
import Daemon
import Foundation

extension DaemonSettings {
    /// Loads the configuration for a command, or prints each problem on its own line to
    /// standard error and exits 78 (EX_CONFIG), which the systemd unit treats as "do not
    /// restart".
    static func loadOrExit(config: String) async throws -> DaemonSettings {
        do {
            return try await DaemonSettings.load(path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            reportConfigProblems(config: config, error: error)
            throw ExitCode(78)
        }
    }
}

extension StoreSettings {
    /// As `DaemonSettings.loadOrExit`, for commands that open the store.
    static func loadOrExit(config: String) async throws -> StoreSettings {
        do {
            return try await StoreSettings.load(path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            reportConfigProblems(config: config, error: error)
            throw ExitCode(78)
        }
    }
}

func reportConfigProblems(config: String, error: any Error) {
    let problems = (error as? ConfigSource.Failure)?.problems ?? ["\(error)"]
    for problem in problems {
        FileHandle.standardError.write(Data("ddrouter: configuration \(config): \(problem)\n".utf8))
    }
}
