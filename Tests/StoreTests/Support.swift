import Foundation
import GRDB
import Testing

@testable import Store

/// A fresh directory under the system temp dir, removed when the value goes away.
final class Scratch {
    let directory: URL

    init() {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ddrouter-store-tests-\(UUID().uuidString)", isDirectory: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// A database path inside a directory that does not exist yet.
    var dbPath: String { directory.appendingPathComponent("var/ddrouter.sqlite").path }

    func open(key: Data = testKey) throws -> Store {
        try Store(path: dbPath, auditKey: key)
    }
}

let testKey = Data((0..<32).map { UInt8($0) })
let otherKey = Data((0..<32).map { UInt8(255 - $0) })

/// A fixed instant plus `seconds` (whole seconds, so dates survive the store's ms form).
func t(_ seconds: Int) -> Date {
    Date(timeIntervalSince1970: 1_790_000_000 + Double(seconds))
}

let pA = Pseudonym(hex: "0123456789abcdef0123456789abcdef")!
let pB = Pseudonym(hex: "fedcba9876543210fedcba9876543210")!

/// A scratch store file left at `migration`, as an earlier release left it, with the rows
/// `fill` writes; opening it (`scratch.open()`) applies the later migrations.
func scratchStore(at migration: String, _ fill: (Database) throws -> Void) throws -> Scratch {
    let scratch = Scratch()
    try FileManager.default.createDirectory(
        at: URL(fileURLWithPath: scratch.dbPath).deletingLastPathComponent(), withIntermediateDirectories: true)
    let queue = try DatabaseQueue(path: scratch.dbPath)
    try Schema.migrator.migrate(queue, upTo: migration)
    try queue.write(fill)
    try queue.close()
    return scratch
}

struct Boom: Error, Equatable {}

func storeErrorCode<T>(_ body: () throws -> T) -> StoreError.Code? {
    do {
        _ = try body()
        return nil
    } catch let error as StoreError {
        return error.code
    } catch {
        return nil
    }
}

func audit(_ i: Int, pseudonym: Pseudonym? = pA, action: AuditAction = .received) -> AuditRecord {
    AuditRecord(
        at: t(i), actor: "kommune-851", action: action, pseudonym: pseudonym,
        messageType: "list-1", messageID: "msg-\(i)", purpose: "sundhedsloven § 43, samtykke")
}

func event(_ id: String, body: String = "{}", at: Int = 0) -> OutboxEvent {
    OutboxEvent(
        messageID: id, exchange: "ddrouter.events", routingKey: "region.visitation",
        type: "assessment-request", correlationID: "in-1", headers: ["x-reason": "R1"],
        body: Data(body.utf8), createdAt: t(at))
}
