import Configuration
public import Foundation
import SystemPackage

/// The store's configuration keys (same file and `DDROUTER_*` overrides as `DaemonSettings`):
/// - `store.path` (`var/ddrouter.sqlite`): the SQLite file; its directory is created.
/// - `store.key` (secret): the master secret (at least 32 bytes; 64 hex digits are read
///   as hex) from which the audit-chain and pseudonym keys are derived, normally the
///   credential file `store-key` in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
/// - `store.key_file`: the same secret from a file path (used when `store.key` is not set).
/// - `store.dev_key` (secret): DEVELOPMENT ONLY, used when neither is set; a fixed key in
///   the configuration file protects nothing. `ddrouter run` logs a warning when it uses it.
public struct StoreSettings: Sendable {
    public var path: String
    public var masterKey: Data
    /// True when the key came from `store.dev_key`.
    public var usesDevelopmentKey: Bool

    public init(path: String, masterKey: Data, usesDevelopmentKey: Bool) {
        self.path = path
        self.masterKey = masterKey
        self.usesDevelopmentKey = usesDevelopmentKey
    }

    public static func load(path: String, environment: [String: String]) async throws -> StoreSettings {
        let reader = SettingsReader(try await ConfigSource.load(path: path, environment: environment))
        let settings = read(reader)
        if !reader.problems.isEmpty { throw ConfigSource.Failure(reader.problems) }
        return settings
    }

    /// Reads the keys; problems are collected in `r`.
    public static func read(_ r: SettingsReader) -> StoreSettings {
        let storePath = r.string("store.path", default: "var/ddrouter.sqlite") ?? "var/ddrouter.sqlite"
        if storePath.isEmpty { r.problem("store.path is empty") }
        var settings = StoreSettings(path: storePath, masterKey: Data(), usesDevelopmentKey: false)
        if let bytes = r.secretBytes("store.key") {
            settings.masterKey = key(from: bytes)
        } else if let keyFile = r.string("store.key_file") {
            if let raw = FileManager.default.contents(atPath: keyFile) {
                settings.masterKey = key(from: raw)
            } else {
                r.problem("store.key_file \(keyFile) cannot be read")
                return settings
            }
        } else if let devKey = r.string("store.dev_key", secret: true) {
            settings.masterKey = Data(devKey.utf8)
            settings.usesDevelopmentKey = true
        } else {
            r.problem("no store key: provide the credential store-key (LoadCredential=), or set store.key_file (store.dev_key is for development only)")
            return settings
        }
        if settings.masterKey.count < 32 {
            r.problem("the store key has \(settings.masterKey.count) bytes; at least 32 random bytes are needed (e.g. openssl rand -hex 32)")
        }
        return settings
    }

    /// The key bytes of a key file: 64 hex digits (optionally with a trailing newline) are
    /// decoded; anything else is taken as raw bytes.
    static func key(from raw: Data) -> Data {
        let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count >= 64, text.count % 2 == 0, text.allSatisfy(\.isHexDigit) {
            var bytes: [UInt8] = []
            var index = text.startIndex
            while index < text.endIndex {
                let next = text.index(index, offsetBy: 2)
                guard let byte = UInt8(text[index..<next], radix: 16) else { return raw }
                bytes.append(byte)
                index = next
            }
            return Data(bytes)
        }
        return raw
    }
}

extension StoreSettings: ConfigKeyContributor {
    public static let configKeys: [ConfigKeySpec] = [
        .init("store.path", default: "var/ddrouter.sqlite"), .init("store.key", secret: true),
        .init("store.key_file"), .init("store.dev_key", secret: true),
    ]
}
