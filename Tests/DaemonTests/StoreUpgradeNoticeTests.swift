@testable import Daemon
import Foundation
import Logging
import Store
import Testing

@Suite("Before a schema upgrade: the log says so and systemd is asked for start time")
struct StoreUpgradeNoticeTests {
    @Test("a minute, plus 30 s for every 100 MiB begun")
    func budget() {
        let mib: Int64 = 1 << 20
        #expect(StoreUpgradeNotice.budget(fileBytes: 0) == .seconds(60))
        #expect(StoreUpgradeNotice.budget(fileBytes: 1) == .seconds(90))
        #expect(StoreUpgradeNotice.budget(fileBytes: 100 * mib) == .seconds(90))
        #expect(StoreUpgradeNotice.budget(fileBytes: 100 * mib + 1) == .seconds(120))
        #expect(StoreUpgradeNotice.budget(fileBytes: 1024 * mib) == .seconds(60 + 11 * 30))
    }

    @Test("an older store file: EXTEND_TIMEOUT_USEC and STATUS= before it is opened, the file unchanged; nothing for an up-to-date or a missing store")
    func announcesOnlyARealUpgrade() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-upgrade-notice-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("store.sqlite").path
        let listener = try NotifyListener(abstract: false)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path])
        let logger = Logger(label: "test")
        func marker(_ text: String) -> String? {
            notifier.send(text)
            return listener.receive()
        }

        // No file yet: a new store, nothing to say.
        #expect(StoreUpgradeNotice.announce(storePath: path, notifier: notifier, logger: logger).isEmpty)
        #expect(marker("STATUS=m1") == "STATUS=m1", "no datagram before the marker")

        // A store written by 987ea6c (schema v2).
        try FileManager.default.copyItem(at: SenderScopedIDTests.upgradeFixture, to: URL(fileURLWithPath: path))
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let pending = StoreUpgradeNotice.announce(storePath: path, notifier: notifier, logger: logger)
        let known = Store.knownMigrations
        #expect(pending == Array(known[known.firstIndex(of: "v3-list-slices-and-sent-bodies")!...]))
        #expect(listener.receive() == "EXTEND_TIMEOUT_USEC=90000000\nSTATUS=upgrading the store: \(pending.count) schema migration(s)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "reading the version changes nothing")

        // Opened (migrated): up to date, nothing to say.
        try Store(path: path, auditKey: Data(repeating: 7, count: 32)).close()
        #expect(try Store.pendingMigrations(path: path).isEmpty)
        #expect(StoreUpgradeNotice.announce(storePath: path, notifier: notifier, logger: logger).isEmpty)
        #expect(marker("STATUS=m2") == "STATUS=m2", "no datagram before the marker")
    }
}
