import Foundation
import GRDB
import Testing

@testable import Store

@Suite("A new store hands its free pages back when it closes")
struct FreePagesTests {
    static func freePages(_ path: String) throws -> (mode: Int, free: Int) {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") ?? -1, try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? -1)
        }
    }

    @Test("the outbox's sent rows leave free pages; close gives them back to the file system")
    func freePagesGoAtClose() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let body = String(repeating: "x", count: 3000)
        for batch in 0..<5 {
            let ids = (0..<40).map { "e-\(batch)-\($0)" }
            try store.write { tx in for id in ids { _ = try tx.enqueue(event(id, body: body)) } }
            _ = try store.markSent(messageIDs: ids)
        }
        try store.checkpoint()
        let before = try Self.freePages(scratch.dbPath)
        #expect(before.mode == 2, "incremental auto-vacuum on a new file")
        #expect(before.free > 20)
        let size = try FileManager.default.attributesOfItem(atPath: scratch.dbPath)[.size] as? Int ?? 0
        try store.close()
        let after = try Self.freePages(scratch.dbPath)
        #expect(after.free == 0)
        let smaller = try FileManager.default.attributesOfItem(atPath: scratch.dbPath)[.size] as? Int ?? 0
        #expect(smaller <= size - before.free * 4096)
        // It opens and works as before.
        let again = try scratch.open()
        try again.write { tx in _ = try tx.enqueue(event("e-late")) }
        #expect(try again.pendingOutbox(limit: 10).map(\.messageID) == ["e-late"])
    }
}
