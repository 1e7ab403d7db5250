import GRDB

/// The one error type of the store.
///
/// Messages are written for an operator: they say what failed, where, and what to look
/// at. They never contain a CPR number, a name or message content: only paths, table
/// names, message ids, case ids and SQLite's own diagnostics (which never quote values,
/// because every statement binds its values as arguments).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The file or its directory could not be created or opened.
        case cannotOpen
        /// The file exists but cannot be written (permissions, read-only mount, owner).
        case notWritable
        /// The file was migrated by a newer ddrouter than this one.
        case schemaTooNew
        /// A migration failed; the file is left at its previous version.
        case migrationFailed
        /// The database was locked longer than the busy timeout. Transient: retry.
        case busy
        /// The disk or quota is full. Transient once space is freed.
        case diskFull
        /// SQLite reports the file as damaged or not a database.
        case corrupt
        /// A constraint of the schema refused the write (includes the audit
        /// trail's append-only triggers).
        case constraint
        /// The write contradicts what is stored (same event id with other content,
        /// a case that changed under the caller, a case id of another citizen).
        case conflict
        /// A caller passed a value the store cannot accept.
        case invalidArgument
        /// A key for HMAC is missing or too short.
        case invalidKey
        /// A CPR number is not ten digits (the number itself is never reported).
        case invalidCPR
        /// A stored blob could not be encoded or decoded.
        case encoding
        /// The store was used after `close()` or a transaction outside its `write`.
        case misuse
        /// Any other SQLite failure.
        case database
    }

    public var code: Code
    /// What happened, for an operator.
    public var message: String
    /// The database file concerned, when known.
    public var path: String?
    /// SQLite's extended result code, when the failure came from SQLite.
    public var sqliteCode: Int32?

    public init(_ code: Code, _ message: String, path: String? = nil, sqliteCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.sqliteCode = sqliteCode
    }

    /// True when retrying the same work later may succeed (the daemon should not
    /// reject the message; it should leave it unacknowledged and retry).
    public var isTransient: Bool {
        switch code {
        case .busy, .diskFull: true
        case .cannotOpen, .notWritable, .schemaTooNew, .migrationFailed, .corrupt,
            .constraint, .conflict, .invalidArgument, .invalidKey, .invalidCPR, .encoding,
            .misuse, .database:
            false
        }
    }

    public var description: String {
        var text = "store error (\(code.rawValue)): \(message)"
        if let sqliteCode { text += " [sqlite \(sqliteCode)]" }
        return text
    }
}

extension StoreError {
    /// Maps an error thrown while `operation` ran into a `StoreError`.
    /// Errors that are neither `StoreError` nor SQLite errors (a caller's own error
    /// thrown from inside a `write` closure) are returned unchanged.
    static func wrap(_ error: any Error, _ operation: String, path: String) -> any Error {
        if error is StoreError { return error }
        if error is RowDecodingError {
            // Its description quotes the row's values (possibly personal data): drop it.
            return StoreError(
                .encoding,
                "store at \(path) holds a value of an unexpected type (\(operation)); the file was edited outside ddrouter or is damaged",
                path: path)
        }
        guard let dbError = error as? DatabaseError else { return error }
        // GRDB's `message` is SQLite's text (never bound values). GRDB only adds
        // statement arguments to `description`, which is not used here.
        let detail = dbError.message ?? "unknown SQLite error"
        let code = dbError.extendedResultCode.rawValue
        let where_ = "store at \(path)"
        switch dbError.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(
                .busy,
                "\(where_) stayed locked during \(operation): \(detail); another process may hold it (is a second ddrouter or an sqlite3 shell open?)",
                path: path, sqliteCode: code)
        case .SQLITE_FULL:
            return StoreError(
                .diskFull, "\(where_) could not grow during \(operation): \(detail); free disk space",
                path: path, sqliteCode: code)
        case .SQLITE_READONLY, .SQLITE_PERM:
            return StoreError(
                .notWritable,
                "\(where_) is not writable (\(operation)): \(detail); check the owner and mode of the file, its -wal/-shm files and its directory",
                path: path, sqliteCode: code)
        case .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_AUTH:
            return StoreError(
                .cannotOpen,
                "\(where_) cannot be opened or written (\(operation)): \(detail); check that the directory exists, is writable and the disk is healthy",
                path: path, sqliteCode: code)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return StoreError(
                .corrupt,
                "\(where_) is damaged or not a ddrouter database (\(operation)): \(detail); stop ddrouter and restore from backup",
                path: path, sqliteCode: code)
        case .SQLITE_CONSTRAINT:
            return StoreError(
                .constraint, "\(where_) refused a write during \(operation): \(detail)",
                path: path, sqliteCode: code)
        case .SQLITE_MISUSE:
            return StoreError(
                .misuse, "\(where_) was misused during \(operation): \(detail)", path: path,
                sqliteCode: code)
        default:
            return StoreError(
                .database, "\(where_) failed during \(operation): \(detail)", path: path,
                sqliteCode: code)
        }
    }
}
