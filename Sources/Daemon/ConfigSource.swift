import Configuration
public import Foundation
import SystemPackage
import Yams

/// One configuration key a settings type reads, as `check-config` knows it.
///
/// A `*` segment stands for one id (a municipality code, a clinic or journal id), e.g.
/// `directory.clinics.*.serves`.
public struct ConfigKeySpec: Sendable, Hashable {
    public var name: String
    /// The default as documented (Config/ddrouter.yaml); empty when there is none.
    public var defaultValue: String
    /// Never printed: `check-config` shows `(redacted)`.
    public var isSecret: Bool

    public init(_ name: String, default defaultValue: String = "", secret: Bool = false) {
        self.name = name
        self.defaultValue = defaultValue
        self.isSecret = secret
    }
}

/// A settings type that reads configuration keys. Each one lists its keys, so the set of
/// known keys grows with the settings types instead of living in one long list: add a
/// new type to `ConfigSchema.contributors`.
public protocol ConfigKeyContributor: Sendable {
    static var configKeys: [ConfigKeySpec] { get }
}

/// The keys `check-config` accepts.
public enum ConfigSchema {
    /// Every settings type that reads keys from the configuration. A settings type in this
    /// module adds itself here; one in another module is passed to `ConfigCheck.run`.
    public static let contributors: [any ConfigKeyContributor.Type] = [
        DaemonSettings.self, DirectorySettings.self, WorkflowSettings.self, StoreSettings.self,
        ProvisionalConfigKeys.self,
    ]

    public static var keys: [ConfigKeySpec] { contributors.flatMap { $0.configKeys } }

    /// Whether `key` (dotted, concrete) is one `pattern` describes.
    static func matches(_ pattern: String, _ key: String) -> Bool {
        let p = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let k = key.split(separator: ".", omittingEmptySubsequences: false)
        guard p.count == k.count else { return false }
        return zip(p, k).allSatisfy { $0 == "*" || $0 == $1 }
    }

    /// Whether `key` is a known key or a section above known keys (a YAML `tls:` whose
    /// children are all commented out is a null leaf named `broker.tls`).
    static func isKnown(_ key: String, orSection: Bool, in specs: [ConfigKeySpec]) -> Bool {
        specs.contains { spec in
            if matches(spec.name, key) { return true }
            guard orSection else { return false }
            let depth = key.split(separator: ".").count
            let prefix = spec.name.split(separator: ".").prefix(depth).joined(separator: ".")
            return depth < spec.name.split(separator: ".").count && matches(prefix, key)
        }
    }

    /// The known key closest to a mistyped one, if one is close enough to be a typo.
    static func suggestion(for key: String, in specs: [ConfigKeySpec]) -> String? {
        let segments = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var best: (String, Int)?
        for spec in specs {
            // Put the key's own ids into the pattern's `*` segments.
            let pattern = spec.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let candidate = pattern.enumerated().map { index, part in
                part == "*" && index < segments.count ? segments[index] : part
            }.joined(separator: ".")
            let distance = editDistance(candidate, key)
            if distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
        }
        guard let (candidate, distance) = best, distance <= max(2, key.count / 4) else { return nil }
        return candidate
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The environment variable that overrides `key`: `DDROUTER_` + the key in upper case,
    /// every character other than a letter or digit as `_` (swift-configuration's rule).
    public static func environmentName(_ key: String) -> String {
        "DDROUTER_" + key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// The file in `$CREDENTIALS_DIRECTORY` that provides `key`: the key with `.` as `-`
    /// (swift-configuration's `DirectoryFilesProvider`), e.g. `broker.password` →
    /// `broker-password`.
    public static func credentialName(_ key: String) -> String {
        key.split(separator: ".").map { $0.map { $0.isLetter || $0.isNumber || $0 == "-" ? String($0) : "_" }.joined() }
            .joined(separator: "-")
    }
}

/// Keys other settings types are still being written for (HTTP endpoint, logging), known
/// provisionally so a file that sets them passes `check-config`. Remove each once its
/// settings type contributes it.
public enum ProvisionalConfigKeys: ConfigKeyContributor {
    public static let configKeys: [ConfigKeySpec] = [
        // No defaults here: the settings type that reads them owns those.
        .init("http.enabled"), .init("http.bind"), .init("logging.format"), .init("logging.level"),
    ]
}

/// The configuration as read once: the YAML file, `DDROUTER_*` environment overrides and
/// secrets from `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`), in that order of
/// precedence: environment, then credentials, then the file, then the default.
///
/// Settings types read their keys through it (`SettingsReader`); it remembers what each
/// key's effective value is and where it came from, for `check-config`.
public struct ConfigSource: Sendable {
    public let path: String
    let reader: ConfigReader
    /// Every leaf of the YAML file (dotted key → node), sequences as leaves.
    let tree: [String: FileLeaf]
    /// The `DDROUTER_*` variables, without the prefix.
    let overrides: [String: String]
    /// `$CREDENTIALS_DIRECTORY`, when set.
    public let credentialsDirectory: String?

    struct FileLeaf: Sendable, Hashable {
        var isNull: Bool
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var problems: [String]
        public var description: String { problems.joined(separator: "; ") }
        public init(_ problems: [String]) { self.problems = problems }
    }

    /// Reads the file at `path` and the overrides in `environment`. Throws `Failure` when
    /// the file is missing or is not YAML.
    public static func load(path: String, environment: [String: String]) async throws -> ConfigSource {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw Failure(["configuration file \(path) does not exist or is not readable"])
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure(["configuration file \(path) is not UTF-8 text"])
        }
        var tree: [String: FileLeaf] = [:]
        do {
            if let root = try Yams.compose(yaml: text) {
                guard let mapping = root.mapping else {
                    throw Failure(["configuration file \(path): the top level must be a mapping of sections (broker:, directory:, ...)"])
                }
                flatten(mapping, prefix: "", into: &tree)
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(["configuration file \(path) is not valid YAML: \(error)"])
        }
        let file: FileProvider<YAMLSnapshot>
        do {
            file = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
        } catch {
            throw Failure(["configuration file \(path) cannot be read: \(error)"])
        }
        var overrides: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix("DDROUTER_") {
            overrides[String(key.dropFirst("DDROUTER_".count))] = value
        }
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider(environmentVariables: overrides)]
        var credentials: String?
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            credentials = directory
            do {
                providers.append(try await DirectoryFilesProvider(directoryPath: FilePath(directory), allowMissing: true))
            } catch {
                throw Failure(["credentials directory \(directory) ($CREDENTIALS_DIRECTORY) cannot be read: \(error)"])
            }
        }
        providers.append(file)
        return ConfigSource(
            path: path, reader: ConfigReader(providers: providers), tree: tree, overrides: overrides,
            credentialsDirectory: credentials)
    }

    static func flatten(_ mapping: Node.Mapping, prefix: String, into tree: inout [String: FileLeaf]) {
        for (keyNode, value) in mapping {
            let key = prefix.isEmpty ? (keyNode.string ?? "") : prefix + "." + (keyNode.string ?? "")
            if let child = value.mapping {
                if child.isEmpty { tree[key] = FileLeaf(isNull: true) } else { flatten(child, prefix: key, into: &tree) }
            } else {
                tree[key] = FileLeaf(isNull: value.null != nil)
            }
        }
    }

    /// The ids under a mapping of the file (e.g. the clinic ids under `directory.clinics`),
    /// sorted; nil when the file has no such section.
    func children(of section: String) -> [String]? {
        let prefix = section + "."
        var ids: Set<String> = []
        for key in tree.keys where key.hasPrefix(prefix) {
            if let id = key.dropFirst(prefix.count).split(separator: ".").first { ids.insert(String(id)) }
        }
        return ids.isEmpty ? nil : ids.sorted()
    }

    /// Whether the file sets `key` itself (not a section below it).
    func fileHas(_ key: String) -> Bool { tree[key].map { !$0.isNull } ?? false }

    /// Where the effective value of `key` comes from.
    func origin(of key: String) -> String {
        let env = ConfigSchema.environmentName(key)
        if overrides[String(env.dropFirst("DDROUTER_".count))] != nil { return "env \(env)" }
        if let directory = credentialsDirectory,
            FileManager.default.fileExists(atPath: directory + "/" + ConfigSchema.credentialName(key))
        {
            return "credential \(ConfigSchema.credentialName(key))"
        }
        if fileHas(key) { return "file" }
        return "default"
    }

    /// File keys no settings type knows, each with a suggestion when one is close.
    func unknownFileKeys(_ specs: [ConfigKeySpec]) -> [String] {
        tree.keys.sorted().compactMap { key in
            let leaf = tree[key]!
            // A directory section given as a list is reported by DirectorySettings itself.
            if ConfigSchema.isKnown(key, orSection: leaf.isNull || key.hasPrefix("directory."), in: specs) { return nil }
            if let suggestion = ConfigSchema.suggestion(for: key, in: specs) {
                return "unknown key \(key) in \(path) (did you mean \(suggestion)?)"
            }
            return "unknown key \(key) in \(path)"
        }
    }

    /// `DDROUTER_*` variables that override no known key (for the ids the directory has).
    func unknownEnvironmentKeys(_ specs: [ConfigKeySpec], ids: [String]) -> [String] {
        var names: [String: String] = [:]
        for spec in specs {
            let concrete: [String] =
                spec.name.contains("*")
                ? ids.map { id in spec.name.split(separator: ".").map { $0 == "*" ? id : String($0) }.joined(separator: ".") }
                : [spec.name]
            for key in concrete { names[ConfigSchema.environmentName(key)] = key }
        }
        return overrides.keys.sorted().compactMap { rest in
            let variable = "DDROUTER_" + rest
            if names[variable] != nil { return nil }
            let close = names.keys.min { ConfigSchema.editDistance($0, variable) < ConfigSchema.editDistance($1, variable) }
            if let close, ConfigSchema.editDistance(close, variable) <= 2 {
                return "environment variable \(variable) overrides no key (did you mean \(close)?)"
            }
            return "environment variable \(variable) overrides no key"
        }
    }
}

/// Reads keys from a `ConfigSource`, collecting every problem instead of stopping at the
/// first, and recording each key's effective value for `check-config` (secrets redacted).
public final class SettingsReader {
    public let source: ConfigSource
    public private(set) var problems: [String] = []
    /// key → effective value as printed (secrets already redacted) and its origin.
    public private(set) var effective: [String: (value: String, origin: String)] = [:]

    public init(_ source: ConfigSource) {
        self.source = source
    }

    var reader: ConfigReader { source.reader }

    public func problem(_ text: String) { problems.append(text) }

    func record(_ key: String, _ value: String, secret: Bool = false) {
        let origin = source.origin(of: key)
        effective[key] = (secret ? (value.isEmpty ? "(not set)" : "(redacted)") : value, origin)
    }

    /// A string key; nil (and nothing recorded) when unset and there is no default.
    public func string(_ key: String, default defaultValue: String? = nil, secret: Bool = false) -> String? {
        let value = reader.string(forKey: ConfigKey(key), isSecret: secret) ?? defaultValue
        if let value { record(key, value, secret: secret) }
        return value
    }

    public func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) -> Int {
        guard let raw = reader.string(forKey: ConfigKey(key)) else {
            record(key, "\(defaultValue)")
            return defaultValue
        }
        guard let value = Int(raw.trimmingCharacters(in: .whitespaces)) else {
            problem("\(key) must be a whole number, got \"\(raw)\"")
            return defaultValue
        }
        guard range.contains(value) else {
            problem("\(key) must be \(range.lowerBound)-\(range.upperBound), got \(value)")
            return defaultValue
        }
        record(key, "\(value)")
        return value
    }

    public func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let raw = reader.string(forKey: ConfigKey(key)) else {
            record(key, "\(defaultValue)")
            return defaultValue
        }
        switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on", "1":
            record(key, "true")
            return true
        case "false", "no", "off", "0":
            record(key, "false")
            return false
        default:
            problem("\(key) must be true or false, got \"\(raw)\"")
            return defaultValue
        }
    }

    public func stringArray(_ key: String, default defaultValue: [String]) -> [String] {
        if let values = reader.stringArray(forKey: ConfigKey(key)) {
            let trimmed = values.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            record(key, "[" + trimmed.joined(separator: ", ") + "]")
            return trimmed
        }
        if let raw = reader.string(forKey: ConfigKey(key)) {
            problem("\(key) must be a list (e.g. [\"a\", \"b\"]), got \"\(raw)\"")
            return defaultValue
        }
        record(key, "[" + defaultValue.joined(separator: ", ") + "]")
        return defaultValue
    }

    /// Raw bytes of a secret (a credential file's content; base64 in YAML or environment).
    public func secretBytes(_ key: String) -> Data? {
        guard let bytes = reader.bytes(forKey: ConfigKey(key), isSecret: true) else {
            if reader.string(forKey: ConfigKey(key), isSecret: true) != nil {
                problem("\(key) cannot be decoded (in YAML or the environment it must be base64)")
            }
            return nil
        }
        record(key, "set", secret: true)
        return Data(bytes)
    }
}

/// What `ddrouter check-config` reports: the effective configuration (secrets redacted),
/// and every problem, one sentence each.
public struct ConfigCheck: Sendable {
    /// `key = value  # origin`, sorted by key.
    public var effective: [String]
    public var problems: [String]
    public var isValid: Bool { problems.isEmpty }

    /// Reads everything `run` reads, plus the keys of every `ConfigSchema` contributor, and
    /// finds unknown keys in the file and the environment.
    /// `contributors`: the settings types whose keys are known; a type outside this module
    /// (e.g. in the executable) is passed as `ConfigSchema.contributors + [Mine.self]`.
    public static func run(
        path: String, environment: [String: String],
        contributors: [any ConfigKeyContributor.Type] = ConfigSchema.contributors
    ) async -> ConfigCheck {
        let source: ConfigSource
        do {
            source = try await ConfigSource.load(path: path, environment: environment)
        } catch let failure as ConfigSource.Failure {
            return ConfigCheck(effective: [], problems: failure.problems)
        } catch {
            return ConfigCheck(effective: [], problems: ["\(error)"])
        }
        let r = SettingsReader(source)
        let daemon = DaemonSettings.read(r)
        _ = StoreSettings.read(r)
        let specs = contributors.flatMap { $0.configKeys }
        // Keys no reader here reads yet (other settings types): their value or default.
        for spec in specs where !spec.name.contains("*") && r.effective[spec.name] == nil {
            if spec.isSecret {
                if r.reader.string(forKey: ConfigKey(spec.name), isSecret: true) != nil { r.record(spec.name, "set", secret: true) }
            } else if let value = r.string(spec.name) {
                _ = value
            } else if !spec.defaultValue.isEmpty {
                r.record(spec.name, spec.defaultValue)
            }
        }
        var problems = source.unknownFileKeys(specs)
        let ids = daemon.directory.municipalities.map(\.code) + daemon.directory.clinics.map(\.id)
            + daemon.directory.journals.map(\.id)
        problems += source.unknownEnvironmentKeys(specs, ids: ids)
        problems += r.problems
        let effective = r.effective.keys.sorted().map { key in
            let (value, origin) = r.effective[key]!
            return "\(key) = \(value)" + (origin == "file" ? "" : "  # \(origin)")
        }
        return ConfigCheck(effective: effective, problems: problems)
    }
}
