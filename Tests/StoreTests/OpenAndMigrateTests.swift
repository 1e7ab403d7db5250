import Foundation
import Testing

@testable import Store

@Suite("Opening, migrations, file modes, durability settings")
struct OpenAndMigrateTests {
    @Test func migratesEmptyFileAndReopensWithData() throws {
        let scratch = Scratch()
        do {
            let store = try scratch.open()
            #expect(try store.appliedMigrations() == Store.knownMigrations)
            #expect(!Store.knownMigrations.isEmpty)
            try store.write { tx in
                _ = try tx.recordInbox(
                    InboxEntry(sender: "s", messageID: "m", type: "list-1", receivedAt: t(0), receipt: Data([1, 2])))
            }
            try store.close()
        }
        let reopened = try scratch.open()
        #expect(try reopened.appliedMigrations() == Store.knownMigrations)
        #expect(try reopened.receipt(forSender: "s", messageID: "m") == Data([1, 2]))
    }

    @Test func refusesFileFromNewerVersion() throws {
        let scratch = Scratch()
        do {
            let store = try scratch.open()
            try store.executeRaw("INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
            try store.close()
        }
        #expect(storeErrorCode { _ = try scratch.open() } == .schemaTooNew)
    }

    @Test func databaseAndWALFilesAreOwnerOnly() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in try tx.appendAudit(audit(1)) }
        let path = scratch.dbPath
        for file in [path, path + "-wal", path + "-shm"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o600, "\(file) has mode \(String(mode ?? -1, radix: 8))")
        }
        let dirAttributes = try FileManager.default.attributesOfItem(
            atPath: (path as NSString).deletingLastPathComponent)
        #expect((dirAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    }

    @Test func existingWorldReadableFileIsMadeOwnerOnly() throws {
        let scratch = Scratch()
        let path = scratch.dbPath
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644]))
        _ = try scratch.open()
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
    }

    @Test func walModeFullSyncAndBusyTimeout() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        #expect(try store.pragma("journal_mode") == "wal")
        #expect(try store.pragma("synchronous") == "2")  // FULL
        #expect(try store.pragma("busy_timeout") == "5000")
        #expect(try store.pragma("recursive_triggers") == "1")
    }

    @Test func unusablePathGivesOperatorMessage() throws {
        let scratch = Scratch()
        try FileManager.default.createDirectory(at: scratch.directory, withIntermediateDirectories: true)
        let blocker = scratch.directory.appendingPathComponent("not-a-directory").path
        #expect(FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8)))
        let path = blocker + "/ddrouter.sqlite"
        do {
            _ = try Store(path: path, auditKey: testKey)
            Issue.record("opening under a regular file succeeded")
        } catch let error as StoreError {
            #expect(error.code == .cannotOpen || error.code == .notWritable)
            #expect(error.description.contains(path) || error.description.contains(blocker))
        }
    }

    @Test func shortKeysAreRefused() {
        let scratch = Scratch()
        #expect(storeErrorCode { _ = try scratch.open(key: Data(repeating: 1, count: 16)) } == .invalidKey)
        #expect(storeErrorCode { _ = try Pseudonymizer(key: Data(repeating: 1, count: 31)) } == .invalidKey)
    }

    @Test func timestampsRoundTripExactly() {
        let dates = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_700_000_000.123),
            Date(timeIntervalSince1970: -86_400.5), Date(timeIntervalSince1970: 1_709_208_000.999),
            Date(timeIntervalSince1970: 4_102_444_799.001),
        ]
        for date in dates {
            let text = Timestamp.string(date)
            let back = Timestamp.date(text)
            #expect(back != nil)
            #expect(Timestamp.string(back!) == text)
            #expect(abs(back!.timeIntervalSince(date)) < 0.001)
        }
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_700_000_000.123)) == "2023-11-14T22:13:20.123Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp.date("2023-11-14 22:13:20.123Z") == nil)
    }
}

@Suite("Maintenance: close, backup, checkpoint, integrity")
struct MaintenanceTests {
    @Test func closedStoreRefusesWork() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.close()
        #expect(storeErrorCode { try store.write { tx in try tx.appendAudit(audit(1)) } } != nil)
        #expect(storeErrorCode { _ = try store.pendingOutbox(limit: 1) } != nil)
    }

    @Test func backupIsCompleteVerifiableAndOwnerOnly() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in
            for i in 1...50 { try tx.appendAudit(audit(i)) }
            try tx.enqueue(event("e1"))
        }
        let copy = scratch.directory.appendingPathComponent("backup/copy.sqlite").path
        try store.backup(to: copy)
        let mode = (try FileManager.default.attributesOfItem(atPath: copy)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let restored = try Store(path: copy, auditKey: testKey)
        #expect(try restored.verifyAudit() == .ok(count: 50, head: try store.auditHead()))
        #expect(try restored.pendingOutbox(limit: 10).map(\.messageID) == ["e1"])
    }

    @Test func checkpointAndQuickCheck() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        try store.write { tx in for i in 1...100 { try tx.appendAudit(audit(i)) } }
        try store.checkpoint(truncate: true)
        let walSize = (try FileManager.default.attributesOfItem(atPath: scratch.dbPath + "-wal")[.size] as? NSNumber)?.intValue
        #expect(walSize == 0)
        #expect(try store.quickCheck() == [])
        #expect(try store.pragma("journal_size_limit") == "67108864")
        #expect(try store.verifyAudit().isOK)
    }
}

/// A clean stop leaves no WAL behind (GRDB closes the writer before its readers, so SQLite's
/// own checkpoint on the last close never ran), and nothing written is lost by truncating it.
@Suite("Store.close checkpoints the WAL")
struct CloseCheckpointTests {
    @Test("after writes and a read, close leaves an empty WAL; reopened, every row is there")
    func closeTruncatesWAL() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        for i in 0..<20 {
            try store.write { tx in
                for j in 0..<50 { _ = try tx.enqueue(event("e\(i)-\(j)", body: String(repeating: "x", count: 2_000))) }
            }
        }
        _ = try store.read { reader in try reader.case(id: "none") }
        let wal = scratch.dbPath + "-wal"
        func size() -> Int { (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0 }
        #expect(size() > 1_000_000, "the writes went to the WAL first")
        try store.close()
        #expect(size() == 0, "the WAL is checkpointed and truncated on close")
        let again = try scratch.open()
        #expect(try again.pendingOutbox(limit: 2_000).count == 1_000)
        try again.close()
    }
}
