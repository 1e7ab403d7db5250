import Foundation
public import Logging
import Store

/// Said before the store is opened. A schema upgrade copies tables in its transaction
/// (docs/operations.md, Upgrade): on a large store that can outlast systemd's
/// `TimeoutStartSec` (60 s in deploy/ddrouter.service), and systemd would kill the daemon in
/// the middle of the migration at every start (rolled back each time: nothing lost, nothing
/// done). So the daemon logs that it upgrades and asks systemd for time in proportion to the
/// file (`EXTEND_TIMEOUT_USEC`), with a `STATUS=` line saying why.
public enum StoreUpgradeNotice {
    /// The start time asked for to upgrade a store file of `fileBytes`: a minute, plus 30 s per
    /// 100 MiB. The v11-v14 migrations took 1.5 s for a 45 MB file on the bench machine
    /// (docs/performance.md, 3g): this is about twenty times that, for slower disks.
    public static func budget(fileBytes: Int64) -> Duration {
        let started = (max(0, fileBytes) + (100 << 20) - 1) / (100 << 20)  // 100 MiB, begun ones count
        return .seconds(60 + started * 30)
    }

    /// Logs and tells systemd (when it listens) if opening the store will migrate an existing
    /// file; returns the migrations it announced (none for an up-to-date or a new store).
    @discardableResult
    public static func announce(storePath: String, notifier: SystemdNotifier, logger: Logger) -> [String] {
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: storePath)[.size]) as? NSNumber)?.int64Value ?? 0
        guard bytes > 0 else { return [] }
        let pending: [String]
        do {
            pending = try Store.pendingMigrations(path: storePath)
        } catch {
            // Opening the store reports this properly right after.
            return []
        }
        guard !pending.isEmpty else { return [] }
        let budget = budget(fileBytes: bytes)
        logger.notice("upgrading the store's schema before starting; on a large store this takes a while", metadata: [
            "store.path": "\(storePath)", "store.bytes": "\(bytes)", "store.migrations": "\(pending.joined(separator: ","))",
            "systemd.extend_timeout_seconds": "\(budget.components.seconds)",
        ])
        let micros = budget.components.seconds * 1_000_000
        notifier.send("EXTEND_TIMEOUT_USEC=\(micros)\nSTATUS=upgrading the store: \(pending.count) schema migration(s)")
        return pending
    }
}
