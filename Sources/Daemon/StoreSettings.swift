import Configuration
public import Foundation
import SystemPackage

/// The store's configuration keys (same file and `DDROUTER_*` overrides as `DaemonSettings`):
/// - `store.path` (`var/ddrouter.sqlite`): the SQLite file; its directory is created.
/// - `store.key_file`: the master secret (at least 32 bytes; a file of 64 hex digits is
///   read as hex) from which the audit-chain and pseudonym keys are derived. Production sets this.
/// - `store.dev_key`: DEVELOPMENT ONLY, used when `store.key_file` is not set; a fixed key
///   in the configuration file protects nothing. `ddrouter run` logs a warning when it uses it.
public struct StoreSettings: Sendable {
    public var path: String
    public var masterKey: Data
    /// True when the key came from `store.dev_key`.
    public var usesDevelopmentKey: Bool

    public static func load(path: String, environment: [String: String]) async throws -> StoreSettings {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw DaemonSettings.Problem(message: "configuration file \(path) does not exist or is not readable")
        }
        let file = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
        var overrides: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix("DDROUTER_") {
            overrides[String(key.dropFirst("DDROUTER_".count))] = value
        }
        let r = ConfigReader(providers: [EnvironmentVariablesProvider(environmentVariables: overrides), file])
        let storePath = r.string(forKey: "store.path", default: "var/ddrouter.sqlite")
        if let keyFile = r.string(forKey: "store.key_file") {
            guard let raw = FileManager.default.contents(atPath: keyFile) else {
                throw DaemonSettings.Problem(message: "store.key_file \(keyFile) cannot be read")
            }
            return StoreSettings(path: storePath, masterKey: Self.key(from: raw), usesDevelopmentKey: false)
        }
        if let devKey = r.string(forKey: "store.dev_key", isSecret: true) {
            return StoreSettings(path: storePath, masterKey: Data(devKey.utf8), usesDevelopmentKey: true)
        }
        throw DaemonSettings.Problem(message: "store.key_file is not set (store.dev_key is for development only)")
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
