public import Foundation
import GRDB

/// What the daemon's metrics sample from the store: cheap counts over indexed columns.
public struct StoreGauges: Sendable, Equatable {
    /// Outbox rows not yet confirmed by the broker.
    public var outboxPending: Int
    /// When the oldest of them was enqueued; nil when the outbox is empty.
    public var oldestPendingAt: Date?
    /// Timers pending (neither fired nor cancelled).
    public var timersPending: Int
    /// Pending timers due at or before the sampling time.
    public var timersOverdue: Int

    public init(outboxPending: Int, oldestPendingAt: Date?, timersPending: Int, timersOverdue: Int) {
        self.outboxPending = outboxPending
        self.oldestPendingAt = oldestPendingAt
        self.timersPending = timersPending
        self.timersOverdue = timersOverdue
    }
}

extension Store {
    /// Counts for the metrics, from one read snapshot (the partial indexes on pending
    /// outbox rows and pending timers keep this cheap however large the tables grow).
    public func gauges(at date: Date) throws -> StoreGauges {
        do {
            return try pool.read { db in
                let outbox = try Row.fetchOne(
                    db,
                    sql: "SELECT COUNT(*), (SELECT created_at FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1) FROM outbox WHERE state = 'pending'")
                let timers = try Row.fetchOne(
                    db,
                    sql: "SELECT COUNT(*), COALESCE(SUM(due_at <= ?), 0) FROM timers WHERE state = 'pending'",
                    arguments: [CompactColumn.due(date)])
                let oldest: String? = outbox?[1]
                return StoreGauges(
                    outboxPending: outbox?[0] ?? 0, oldestPendingAt: oldest.flatMap(Timestamp.date),
                    timersPending: timers?[0] ?? 0, timersOverdue: timers?[1] ?? 0)
            }
        } catch {
            throw StoreError.wrap(error, "sampling gauges", path: path)
        }
    }

    /// Whether the store can take a write now: an empty write transaction (which takes the
    /// write lock, waiting at most the busy timeout) and at least `minimumFreeBytes` free
    /// on the file system of the database. Returns nil when writable, else the reason.
    public func writeProbe(minimumFreeBytes: UInt64 = 16 << 20) -> String? {
        do {
            try pool.write { _ in }
        } catch {
            return "store write failed: \(StoreError.wrap(error, "probing", path: path))"
        }
        var fs = statvfs()
        let directory = (path as NSString).deletingLastPathComponent
        if statvfs(directory.isEmpty ? "." : directory, &fs) == 0 {
            let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
            if free < minimumFreeBytes { return "store disk nearly full (\(free / 1_048_576) MiB free)" }
        }
        return nil
    }
}
