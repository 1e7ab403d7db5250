import Configuration
import Foundation
public import Logging
import SystemPackage

/// How the daemon is watched: the HTTP endpoints, the log format and level, and how often
/// gauges are sampled. Same file and `DDROUTER_*` overrides as `DaemonSettings`.
///
/// Keys (every one optional, with its default):
/// - `http.bind` (`127.0.0.1:9464`): `HOST:PORT` of `/metrics`, `/livez` and `/readyz`
///   (`DDROUTER_HTTP_BIND`). Port 0 picks a free port (logged as `http.port`). `off`
///   disables the endpoints. Bind to loopback (or a management interface) only: the
///   endpoints carry no personal data but have no authentication.
/// - `logging.format` (`json`): `json` (one JSON object per line on standard output, which
///   journald keeps) or `text` (human-readable lines, for a terminal).
/// - `logging.level` (`info`): `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
/// - `metrics.sample_seconds` (5): how often the outbox depth, open timers, broker queue
///   depths and the store's writability are sampled (1-300).
public struct ObservabilitySettings: Sendable, Equatable {
    /// The configuration keys this file reads (for `check-config`'s unknown-key check).
    public static let keys: [String] = ["http.bind", "logging.format", "logging.level", "metrics.sample_seconds"]

    public enum LogFormat: String, Sendable, Equatable, CaseIterable {
        case json
        case text
    }

    /// Host of the HTTP endpoints; nil when `http.bind: off`.
    public var bindHost: String?
    public var bindPort: Int
    public var logFormat: LogFormat
    public var logLevel: Logger.Level
    public var sampleInterval: Duration

    public init(
        bindHost: String? = "127.0.0.1", bindPort: Int = 9464, logFormat: LogFormat = .json,
        logLevel: Logger.Level = .info, sampleInterval: Duration = .seconds(5)
    ) {
        self.bindHost = bindHost
        self.bindPort = bindPort
        self.logFormat = logFormat
        self.logLevel = logLevel
        self.sampleInterval = sampleInterval
    }

    /// Loads the YAML file at `path`, with `DDROUTER_*` variables from `environment` on top.
    public static func load(path: String, environment: [String: String]) async throws -> ObservabilitySettings {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw DaemonSettings.Problem(message: "configuration file \(path) does not exist or is not readable")
        }
        let file = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
        var overrides: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix("DDROUTER_") {
            overrides[String(key.dropFirst("DDROUTER_".count))] = value
        }
        let reader = ConfigReader(providers: [EnvironmentVariablesProvider(environmentVariables: overrides), file])
        return try settings(from: reader)
    }

    static func settings(from r: ConfigReader) throws -> ObservabilitySettings {
        var settings = ObservabilitySettings()
        let bind = r.string(forKey: "http.bind", default: "127.0.0.1:9464")
        if bind.lowercased() == "off" {
            settings.bindHost = nil
        } else {
            guard let (host, port) = parseBind(bind) else {
                throw DaemonSettings.Problem(
                    message: "http.bind must be HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464) or off, got \(bind)")
            }
            settings.bindHost = host
            settings.bindPort = port
        }
        let format = r.string(forKey: "logging.format", default: "json")
        guard let logFormat = LogFormat(rawValue: format.lowercased()) else {
            throw DaemonSettings.Problem(message: "logging.format must be json or text, got \(format)")
        }
        settings.logFormat = logFormat
        let level = r.string(forKey: "logging.level", default: "info")
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw DaemonSettings.Problem(
                message: "logging.level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \(level)")
        }
        settings.logLevel = logLevel
        let seconds = r.int(forKey: "metrics.sample_seconds", default: 5)
        guard (1...300).contains(seconds) else {
            throw DaemonSettings.Problem(message: "metrics.sample_seconds must be 1-300, got \(seconds)")
        }
        settings.sampleInterval = .seconds(seconds)
        return settings
    }

    /// `host:port` or `[v6]:port`; nil when malformed or the port is outside 0-65535.
    static func parseBind(_ text: String) -> (String, Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }  // IPv6 needs brackets
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// The effective settings as `check-config` prints them.
    public var effectiveDescription: String {
        [
            "http.bind: \(bindHost.map { $0.contains(":") ? "[\($0)]:\(bindPort)" : "\($0):\(bindPort)" } ?? "off")",
            "logging.format: \(logFormat.rawValue)",
            "logging.level: \(logLevel.rawValue)",
            "metrics.sample_seconds: \(sampleInterval.components.seconds)",
        ].joined(separator: "\n")
    }
}
