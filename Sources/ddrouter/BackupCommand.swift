import ArgumentParser
import Daemon
import Foundation
import Store

/// `ddrouter backup --output FILE`: a consistent copy of the store, safe while the daemon
/// runs (one read snapshot; writes continue). The copy is owner-only; it holds citizens'
/// data and is useless without the store key, which is backed up separately.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Copy the store consistently (safe while the daemon runs), then verify the copy.")

    @OptionGroup var options: AdminOptions
    @Option(help: "The copy to write (an existing file is replaced).") var output: String

    func run() async throws {
        let context = try await AdminContext.open(config: options.config)
        do {
            try context.store.backup(to: output)
            try context.store.close()
        } catch {
            fail("backup to \(output) failed: \(error)", code: 74)
        }
        // The copy opens with the same key and its audit chain verifies.
        let storeSettings = try await StoreSettings.loadOrExit(config: options.config)
        let keys = try StoreKeys(master: storeSettings.masterKey)
        let copy = try Store(path: output, auditKey: keys.auditKey)
        defer { try? copy.close() }
        let problems = try copy.quickCheck()
        let audit = try copy.verifyAudit()
        guard problems.isEmpty, audit.isOK else {
            fail("the copy at \(output) does not check out: \(problems.joined(separator: "; ")) \(audit)", code: 1)
        }
        print("backed up to \(output); \(audit)")
    }
}
