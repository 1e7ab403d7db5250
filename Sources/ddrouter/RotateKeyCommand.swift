import ArgumentParser
import Daemon
import Foundation
import Store
import Workflow

/// `ddrouter rotate-key --new-key-file PATH --purpose TEXT`: re-keys the store OFFLINE
/// (daemon stopped) from the configured `store-key` to a new master key, in one SQLite
/// transaction (Store.rotateKey): the audit trail must verify with the current key; every
/// pseudonym and pseudonym-derived case id is recomputed from the CPR in its case state;
/// the trail is re-chained with the new audit key and ends with a `key-rotated` entry.
struct RotateKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Re-key the store's pseudonyms and audit chain to a new store key (daemon stopped).")

    @OptionGroup var options: AdminOptions
    @Option(help: "File with the new master key (64 hex digits or at least 32 raw bytes), e.g. from `openssl rand -hex 32`; `-` reads standard input (for ddrouter-admin, whose user cannot read root's files).")
    var newKeyFile: String
    @OptionGroup var access: AccessOptions

    func run() async throws {
        let storeSettings = try await StoreSettings.loadOrExit(config: options.config)
        let input = newKeyFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: newKeyFile)
        guard let raw = input else {
            fail("the new key file \(newKeyFile) cannot be read", code: 66)
        }
        let newKey = StoreSettings.key(from: raw)
        guard newKey.count >= 32 else {
            fail("the new key in \(newKeyFile) has \(newKey.count) bytes; at least 32 random bytes are needed (e.g. openssl rand -hex 32 > FILE); nothing was changed", code: 65)
        }
        guard newKey != storeSettings.masterKey else {
            fail("the new key is the current store key; generate a new one (openssl rand -hex 32); nothing was changed", code: 65)
        }
        // A running daemon holds the store's lock: refused at once.
        let lock: StoreLock
        do {
            lock = try StoreLock(store: storeSettings.path)
        } catch .held {
            Self.refuseBusy(storeSettings.path)
        } catch {
            fail("\(error); nothing was changed", code: 74)
        }
        defer { withExtendedLifetime(lock) {} }
        let store: Store
        let pseudonymizer: Pseudonymizer
        do {
            let keys = try StoreKeys(master: storeSettings.masterKey)
            // Short busy timeout: a store in use (daemon running) is refused, not waited for.
            store = try Store(options: Store.Options(path: storeSettings.path, auditKey: keys.auditKey, busyTimeout: 1))
            pseudonymizer = try Pseudonymizer(key: keys.pseudonymKey)
        } catch let error as StoreError where error.code == .busy {
            Self.refuseBusy(storeSettings.path)
        } catch {
            fail("store \(storeSettings.path): \(error)", code: 74)
        }
        defer { try? store.close() }
        let report: KeyRotationReport
        do {
            report = try store.rotateKey(
                newMasterKey: newKey, oldPseudonymizer: pseudonymizer, actor: access.actor, purpose: access.purpose,
                at: Date(), citizen: { try $0.decodeState(as: CitizenCase.self).citizen.rawValue },
                caseID: Pipeline.caseID)
        } catch let error as StoreError where error.code == .busy {
            Self.refuseBusy(storeSettings.path)
        } catch {
            fail("key rotation refused: \(error)", code: 1)
        }
        print("""
            store re-keyed: \(report.citizens) citizen(s), \(report.rowsRekeyed) row(s) rewritten, \(report.auditEntries) audit entries re-chained
            \(report.unmappedPseudonyms) pseudonym(s) without a case kept as they were (no CPR to re-key them from)
            old audit head: \(report.oldHead.map(\.description) ?? "none"); new head (key-rotated entry): \(report.newHead)
            next steps:
              1. replace the store-key credential with the new key (e.g. install -m 0600 NEW-KEY-FILE /etc/credstore/store-key)
              2. start the daemon (systemctl start ddrouter)
              3. ddrouter audit verify  (must succeed with the new key)
              4. destroy the old key and every copy of it; backups made before now need the old key
            """)
    }

    static func refuseBusy(_ path: String) -> Never {
        fail("the store \(path) is in use (is the daemon running?): stop the daemon and run rotate-key again; nothing was changed", code: 75)
    }
}
