import Foundation
public import Logging

/// How the daemon is watched: the HTTP endpoints, the log format and level, and how often
/// gauges are sampled. Same file, `DDROUTER_*` overrides and credentials as `DaemonSettings`
/// (read through `ConfigSource`); `check-config` validates these keys with the others.
///
/// Keys (every one optional, with its default):
/// - `http.bind` (`127.0.0.1:9464`): `HOST:PORT` of `/metrics`, `/livez` and `/readyz`
///   (`DDROUTER_HTTP_BIND`); `[::1]:9464` for IPv6. Port 0 picks a free port (logged as
///   `http.port`). `off` disables the endpoints. Bind to loopback (or a management
///   interface) only: the endpoints carry no personal data but have no authentication.
/// - `logging.format` (`json`): `json` (one JSON object per line on standard output, which
///   journald keeps) or `text` (human-readable lines, for a terminal).
/// - `logging.level` (`info`): `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
/// - `metrics.sample_seconds` (5): how often the outbox depth, open timers, broker queue
///   depths and the store's writability are sampled (1-300).
/// - `memory.trim_seconds` (30): how often the daemon hands the allocator's free pages back
///   to the kernel (glibc `malloc_trim`), 0 = never (0-3600). Without it the pages freed
///   after a burst stay counted in the daemon's RSS (docs/operations.md, "Soak").
///
/// The key of the citizen pseudonym in log lines is not configured here: it is the store's
/// pseudonym key, derived from the `store-key` credential (`StoreKeys`), so a log line's
/// `citizen.pseudonym` is the pseudonym the store, the audit trail and `cases show` use.
public struct ObservabilitySettings: Sendable, Equatable {
    public enum LogFormat: String, Sendable, Equatable, CaseIterable {
        case json
        case text
    }

    static let defaultBind = "127.0.0.1:9464"

    /// Host of the HTTP endpoints; nil when `http.bind: off`.
    public var bindHost: String?
    public var bindPort: Int
    public var logFormat: LogFormat
    public var logLevel: Logger.Level
    public var sampleInterval: Duration
    /// How often free heap pages go back to the kernel; nil: never (`memory.trim_seconds: 0`).
    public var trimInterval: Duration?

    public init(
        bindHost: String? = "127.0.0.1", bindPort: Int = 9464, logFormat: LogFormat = .json,
        logLevel: Logger.Level = .info, sampleInterval: Duration = .seconds(5), trimInterval: Duration? = .seconds(30)
    ) {
        self.bindHost = bindHost
        self.bindPort = bindPort
        self.logFormat = logFormat
        self.logLevel = logLevel
        self.sampleInterval = sampleInterval
        self.trimInterval = trimInterval
    }

    /// Loads the configuration at `path` with the overrides in `environment`; throws
    /// `ConfigSource.Failure` with every problem of these keys.
    public static func load(path: String, environment: [String: String]) async throws -> ObservabilitySettings {
        let reader = SettingsReader(try await ConfigSource.load(path: path, environment: environment))
        let settings = read(reader)
        if !reader.problems.isEmpty { throw ConfigSource.Failure(reader.problems) }
        return settings
    }

    /// Reads the keys; problems (one sentence each) are collected in `r`.
    public static func read(_ r: SettingsReader) -> ObservabilitySettings {
        var settings = ObservabilitySettings()
        let bind = (r.string("http.bind", default: defaultBind) ?? defaultBind).trimmingCharacters(in: .whitespaces)
        if bind.lowercased() == "off" {
            settings.bindHost = nil
        } else {
            switch parseBind(bind) {
            case .success(let (host, port)):
                settings.bindHost = host
                settings.bindPort = port
            case .failure(let problem):
                r.problem(problem.message)
            }
        }
        let format = r.string("logging.format", default: LogFormat.json.rawValue) ?? LogFormat.json.rawValue
        if let logFormat = LogFormat(rawValue: format.lowercased()) {
            settings.logFormat = logFormat
        } else {
            r.problem("logging.format must be json or text, got \"\(format)\"")
        }
        let level = r.string("logging.level", default: Logger.Level.info.rawValue) ?? Logger.Level.info.rawValue
        if let logLevel = Logger.Level(rawValue: level.lowercased()) {
            settings.logLevel = logLevel
        } else {
            r.problem(
                "logging.level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(level)\"")
        }
        settings.sampleInterval = .seconds(r.int("metrics.sample_seconds", default: 5, range: 1...300))
        let trim = r.int("memory.trim_seconds", default: 30, range: 0...3600)
        settings.trimInterval = trim == 0 ? nil : .seconds(trim)
        return settings
    }

    struct BindProblem: Error {
        var message: String
    }

    /// `HOST:PORT` or `[IPv6]:PORT`: the host an IP address or a host name, the port 0-65535.
    static func parseBind(_ text: String) -> Result<(String, Int), BindProblem> {
        let usage = "http.bind must be HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464) or off, got \"\(text)\""
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(BindProblem(message: usage))
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = text[text.index(close, offsetBy: 2)...]
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else {
                return .failure(BindProblem(message: "http.bind: \(host) is not an IPv6 address, got \"\(text)\""))
            }
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                return .failure(BindProblem(message: usage))
            }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            guard isHost(host) else {
                return .failure(BindProblem(message: "http.bind: \"\(host)\" is not an IP address or host name, got \"\(text)\""))
            }
        }
        guard let port = Int(portText) else { return .failure(BindProblem(message: usage)) }
        guard (0...65535).contains(port) else {
            return .failure(BindProblem(message: "http.bind port must be 0-65535, got \(port)"))
        }
        return .success((host, port))
    }

    /// An IPv4 address, or a host name (letters, digits, hyphens, dots; labels of 1-63).
    static func isHost(_ text: String) -> Bool {
        var address = in_addr()
        if inet_pton(AF_INET, text, &address) == 1 { return true }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard !text.isEmpty, text.count <= 253 else { return false }
        // All-digit dotted text that is not a valid IPv4 address (999.1.1.1) is a mistake.
        if labels.allSatisfy({ $0.allSatisfy(\.isNumber) }) { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}

extension ObservabilitySettings: ConfigKeyContributor {
    public static let configKeys: [ConfigKeySpec] = [
        .init("http.bind", default: defaultBind),
        .init("logging.format", default: LogFormat.json.rawValue),
        .init("logging.level", default: Logger.Level.info.rawValue),
        .init("metrics.sample_seconds", default: "5"),
        .init("memory.trim_seconds", default: "30"),
    ]
}
