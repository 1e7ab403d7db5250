public import Foundation
import GRDB

/// What deciding about a case reads of it: its record and its input history. Both a write
/// transaction (`StoreTransaction`) and a read snapshot (`StoreReader`) answer it, so the
/// same loading code serves a decision made inside the writer's transaction and one made
/// ahead of it on a reader (`Store.read`).
public protocol CaseReading {
    func `case`(id: String) throws -> CaseRecord?
    /// The payloads of the case's `input` history rows, oldest first.
    func caseInputPayloads(id: String) throws -> [Data]
    /// Whether an earlier delivery of a sender's list message committed the slice at `start`.
    func hasListSlice(sender: String, messageID: String, start: Int) throws -> Bool
}

/// One read transaction, handed to the closure of `Store.read`: a consistent snapshot of
/// the last committed state, taken on one of the pool's reader connections, so it runs
/// beside the writer instead of behind it. Do not keep it after the closure returns.
/// Not `Sendable`: use it on the thread that runs the closure.
public final class StoreReader: CaseReading {
    let db: Database
    let path: String

    init(db: Database, path: String) {
        self.db = db
        self.path = path
    }

    private func run<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw StoreError.wrap(error, operation, path: path)
        }
    }

    public func `case`(id: String) throws -> CaseRecord? {
        try run("reading case \(id)") { try Queries.caseRecord(db, id: id) }
    }

    public func caseInputPayloads(id: String) throws -> [Data] {
        try run("reading inputs of case \(id)") { try Queries.caseInputPayloads(db, caseID: id) }
    }

    public func hasListSlice(sender: String, messageID: String, start: Int) throws -> Bool {
        try run("reading a list slice") { try Queries.hasListSlice(db, sender: sender, messageID: messageID, start: start) }
    }
}

extension StoreTransaction: CaseReading {}
