public import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// ddrouter's durable state: one SQLite file in WAL mode (through GRDB).
///
/// All writes go through `write { tx in … }`: one transaction, committed when the
/// closure returns, rolled back when it throws. Reads outside a write each run in
/// their own snapshot and may run concurrently with a write.
///
/// The pipeline writes each delivery in ONE savepoint of a transaction that several
/// deliveries share (group commit, `CommitBatcher` in the daemon) and acks a delivery only
/// after that `write` has returned; a list's entries are recorded entry by entry inside
/// that one savepoint (a bad entry is answered in the receipt, the good ones go on). For
/// a single message it amounts to this:
///
/// ```swift
/// // Before: `receipt(forSender:messageID:)` answered → resend that receipt, ack, done.
/// do {
///     try store.write { tx in
///         let outcome = workflow(state, message)             // pure
///         if case .duplicate(let stored) = try tx.recordInbox(InboxEntry(…, receipt: outcome.receipt)) {
///             throw DuplicateInbound(receipt: stored)        // a racing copy: roll back, resend it
///         }
///         try tx.upsertCase(…); try tx.appendHistory(…)      // input, decision + why
///         try tx.recordConsent(…)
///         try tx.enqueue(…)                                  // receipt and events
///         try tx.schedule(…); try tx.cancelTimer(id: …)
///         try tx.appendAudit(AuditRecord(…, action: .received, …))
///     }
///     ack(delivery)
/// } catch let duplicate as DuplicateInbound {
///     resend(duplicate.receipt); ack(delivery)
/// } catch {
///     nack(delivery, requeue: true)                          // nothing committed; delivered again
/// }
/// ```
///
/// The outbox relay: `pendingOutbox(limit:)` → publish with confirms → on each ack
/// `write { tx in tx.markSent(…); tx.appendAudit(… .sent …) }`. The timer service:
/// `dueTimers(at:limit:)` → `write { tx in guard try tx.markFired(…) else { return }; … }`.
///
/// Every method blocks the calling thread (SQLite I/O, fsync). Call them from a
/// thread of your own or wrap them; never from a cooperative-pool task in a hot loop.
///
/// `Sendable`: the only state is GRDB's `DatabasePool` (thread-safe; it serialises
/// writers and pools readers) and immutable values.
public final class Store: Sendable {
    public struct Options: Sendable {
        /// The database file; its directory is created (mode 0700) when missing.
        public var path: String
        /// Key of the audit chain's HMAC (at least 32 bytes). Keep it outside the
        /// database file: whoever holds it can forge a chain.
        public var auditKey: Data
        /// How long a write waits for a lock held by another connection before
        /// failing with `.busy` (transient).
        public var busyTimeout: TimeInterval
        /// Concurrent read connections.
        public var maximumReaders: Int

        public init(
            path: String, auditKey: Data, busyTimeout: TimeInterval = 5, maximumReaders: Int = 4
        ) {
            self.path = path
            self.auditKey = auditKey
            self.busyTimeout = busyTimeout
            self.maximumReaders = maximumReaders
        }
    }

    /// The database file.
    public let path: String
    let pool: DatabasePool  // internal: StoreGauges.swift reads it
    private let key: KeyBytes
    /// The observer sits in the mutex inside a class, never as a bare function value:
    /// with Swift 6.3, reading an optional `@Sendable () -> Void` out of a `Mutex` with
    /// `withLock { $0 }` wrapped the stored closure in one more reabstraction thunk on every
    /// call. Each commit then leaked 32 bytes and made the next call one frame deeper, so
    /// a daemon that had committed about a million times would overflow its stack
    /// (`Tests/StoreTests/OutboxObserverTests.swift`).
    private final class OutboxObserver: Sendable {
        let call: @Sendable () -> Void
        init(_ call: @escaping @Sendable () -> Void) { self.call = call }
    }
    private let outboxObserver = Mutex<OutboxObserver?>(nil)
    /// The `audit_terms` ids of committed writes (`AuditColumns`).
    let auditTerms = AuditTerms()

    /// Called after every committed `write` that enqueued an outbox row, on the writing
    /// thread (keep it short): the outbox relay wakes up instead of polling.
    public func observeOutbox(_ observer: @escaping @Sendable () -> Void) {
        let box = OutboxObserver(observer)
        outboxObserver.withLock { $0 = box }
    }

    /// Opens (creating when missing) and migrates the store.
    public convenience init(path: String, auditKey: Data) throws {
        try self.init(options: Options(path: path, auditKey: auditKey))
    }

    /// Opens (creating when missing) and migrates the store.
    public init(options: Options) throws {
        guard !options.path.isEmpty else {
            throw StoreError(.invalidArgument, "the store path is empty; set store.path in the configuration")
        }
        guard options.auditKey.count >= 32 else {
            throw StoreError(
                .invalidKey,
                "the audit key has \(options.auditKey.count) bytes; at least 32 random bytes are required (check the key file in the configuration)",
                path: options.path)
        }
        let path = options.path
        self.path = path
        self.key = KeyBytes(options.auditKey)
        try Store.prepareFile(path)

        var config = Configuration()
        config.label = "ddrouter.store"
        config.busyMode = .timeout(options.busyTimeout)
        config.maximumReaderCount = max(1, options.maximumReaders)
        // GRDB starts pool writes with BEGIN IMMEDIATE: a writer takes the lock up
        // front instead of failing at its first write.
        config.prepareDatabase { db in
            // REPLACE conflict resolution deletes rows; with recursive triggers on, that
            // delete fires the audit table's DELETE trigger too.
            try db.execute(sql: "PRAGMA recursive_triggers = ON")
            // A new file keeps a map of its pages so that `close` can hand free pages back to
            // the file system (`PRAGMA incremental_vacuum`): the outbox's rows are deleted once
            // sent and their pages stay free inside the file. Only possible before the first
            // table and before GRDB turns WAL on, which is after this closure; a file created
            // by an earlier build keeps its mode (free pages are reused by new rows either way).
            if try Int.fetchOne(db, sql: "PRAGMA page_count") == 0 {
                try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            }
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw Store.openError(error, path: path)
        }
        do {
            // Durability. In WAL mode, synchronous=NORMAL fsyncs only at checkpoints: a
            // committed transaction survives a process crash but can be lost on power
            // failure or kernel panic. The daemon acks a delivery (and the broker then
            // forgets the message) right after our commit, so a commit that is later
            // lost would be a lost referral. FULL fsyncs the WAL at every commit; the
            // cost is paid per transaction, not per message, so the daemon batches
            // several messages per `write` to keep throughput.
            // Set here, on the pool's single writer connection, because GRDB sets
            // NORMAL when it enables WAL, after `prepareDatabase` has run.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // After a checkpoint, cut a WAL that grew large during a burst back to
                // 64 MiB instead of keeping it at its peak size.
                try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
                // A transaction dirties many pages across the indexes; SQLite's default
                // 2 MiB cache spills them to the WAL mid-transaction and rewrites them.
                // 16 MiB holds a message's pages; a large list's transaction (hundreds of
                // MiB) spills at any size, and a bigger cache only adds to the peak RSS
                // (64 MiB did: docs/performance.md, "Memory").
                try db.execute(sql: "PRAGMA cache_size = -16384")
            }
        } catch {
            throw Store.openError(error, path: path)
        }
        // The file existed before (or SQLite created -wal/-shm): make all owner-only.
        try Store.restrictModes(path)
        do {
            let migrator = Schema.migrator
            let superseded = try pool.read { db in try migrator.hasBeenSuperseded(db) }
            if superseded {
                throw StoreError(
                    .schemaTooNew,
                    "store at \(path) was written by a newer ddrouter (unknown schema migrations); run that version or restore a backup",
                    path: path)
            }
            try migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch {
            let wrapped = StoreError.wrap(error, "migrating the schema", path: path)
            if var storeError = wrapped as? StoreError, storeError.code == .database {
                storeError.code = .migrationFailed
                throw storeError
            }
            throw wrapped
        }
        try Store.restrictModes(path)
    }

    /// Closes every connection. Further calls throw.
    ///
    /// The WAL is checkpointed and truncated to zero bytes first. SQLite does that itself when
    /// the last connection closes, but GRDB closes the writer before the readers, and a reader
    /// cannot checkpoint, so the WAL stayed on disk at its last size (up to
    /// `journal_size_limit`, 64 MiB) after every clean stop, and the next start replayed it.
    /// A checkpoint that cannot run (a read still open) leaves the WAL as it is; nothing is lost.
    /// Before it, the file's free pages are handed back (a store created with incremental
    /// auto-vacuum, see `init`; a no-op for others).
    public func close() throws {
        try wrap("closing") {
            _ = try? pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA incremental_vacuum") }
            _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            try pool.close()
        }
    }

    private func wrap<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw StoreError.wrap(error, operation, path: path)
        }
    }

    // MARK: writing

    /// Runs `body` in one write transaction: everything it writes commits together
    /// when it returns, nothing when it throws. A `StoreError` with `isTransient` (busy,
    /// disk full) means: nothing was written, retry later. Errors thrown by `body`
    /// itself are rethrown unchanged.
    ///
    /// Inside the closure use only the transaction's methods: calling any `Store`
    /// method (a read, another `write`) from inside it is a programmer error that GRDB
    /// stops with a fatal "Database methods are not reentrant".
    @discardableResult
    public func write<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        let (result, enqueued, terms) = try wrap("writing") {
            try pool.write { db in
                let tx = StoreTransaction(db: db, key: key, path: path, terms: auditTerms)
                defer { tx.isOpen = false }
                let result = try body(tx)
                try tx.sealAudit()
                return (result, tx.enqueued, tx.audit?.pendingTerms ?? [:])
            }
        }
        // Committed: the terms this write added now name rows that exist for every later one.
        auditTerms.commit(terms)
        if enqueued, let observer = outboxObserver.withLock({ $0 }) { observer.call() }
        return result
    }

    /// Runs `body` on a snapshot of the last committed state (a reader connection: it does
    /// not wait for the writer, nor the writer for it). What it reads may be changed by a
    /// write committed meanwhile: a decision made on it is checked against the case
    /// revisions it read (`StoreTransaction.caseRevision`) before it is written.
    public func read<T>(_ body: (StoreReader) throws -> T) throws -> T {
        try wrap("reading") { try pool.read { db in try body(StoreReader(db: db, path: path)) } }
    }

    // MARK: inbox

    /// The receipt stored for a message, or nil if it was never seen (dedupe).
    public func receipt(forSender sender: String, messageID: String) throws -> Data? {
        try wrap("reading inbox") {
            try pool.read { db in try Queries.receipt(db, sender: sender, messageID: messageID) }
        }
    }

    public func inboxEntry(sender: String, messageID: String) throws -> InboxEntry? {
        try wrap("reading inbox") {
            try pool.read { db in try Queries.inboxEntry(db, sender: sender, messageID: messageID) }
        }
    }

    // MARK: outbox

    /// Events not yet confirmed by the broker, in the order they were enqueued.
    /// After a restart this includes events published before the crash but never
    /// confirmed: they are published again with the same message id.
    public func pendingOutbox(limit: Int) throws -> [OutboxEvent] {
        try wrap("reading outbox") { try pool.read { db in try Queries.pendingOutbox(db, limit: limit) } }
    }

    public func outboxEvent(messageID: String) throws -> OutboxEvent? {
        try wrap("reading outbox") {
            try pool.read { db in try Queries.outboxEvent(db, messageID: messageID) }
        }
    }

    /// Deletes events confirmed by the broker; returns how many were pending. To audit
    /// the sending in the same transaction, use `confirmSent` instead.
    @discardableResult
    public func markSent(messageIDs: some Sequence<String>) throws -> Int {
        try wrap("marking events sent") {
            try pool.write { db in try Queries.markSent(db, messageIDs: messageIDs) }
        }
    }

    /// Counts a publish attempt (for metrics and operators); does not change state.
    public func recordPublishAttempt(messageIDs: some Sequence<String>) throws {
        try wrap("counting publish attempts") {
            try pool.write { db in try Queries.recordAttempt(db, messageIDs: messageIDs) }
        }
    }

    /// Pending rows the relay may publish at `now` (see `recordFailedPublish`): rows never
    /// tried first, in enqueue order, then retried rows whose back-off has passed.
    public func dueOutbox(at now: Date, limit: Int) throws -> [OutboxEvent] {
        try wrap("reading outbox") { try pool.read { db in try Queries.dueOutbox(db, at: now, limit: limit) } }
    }

    /// The broker confirmed these rows: deletes each (with its body) and appends its `sent`
    /// audit entry (recipient, citizen pseudonym, type, message id, purpose from
    /// `OutboxEvent.audit`) in one transaction; the entry is what the store keeps of a sent
    /// event. A row no longer pending gets no second entry. Returns how many were confirmed.
    @discardableResult
    public func confirmSent(_ events: [OutboxEvent], at date: Date) throws -> Int {
        try write { tx in
            var marked = 0
            for event in events {
                guard try tx.markSent(messageIDs: [event.messageID]) == 1 else { continue }
                marked += 1
                let audit = event.audit ?? OutboxAudit(
                    actor: Self.recipient(ofRoutingKey: event.routingKey, type: event.type), pseudonym: nil,
                    purpose: "delivery")
                _ = try tx.appendAudit(AuditRecord(
                    at: date, actor: audit.actor, action: .sent, pseudonym: audit.pseudonym,
                    messageType: event.type, messageID: event.messageID, purpose: audit.purpose))
            }
            return marked
        }
    }

    /// A failed publish: counts the attempt and pushes the row back by an exponential
    /// back-off (`baseDelay` doubled per earlier attempt, at most `maxDelay`).
    public func recordFailedPublish(
        messageIDs: some Sequence<String>, at now: Date, baseDelay: TimeInterval, maxDelay: TimeInterval
    ) throws {
        try wrap("recording failed publishes") {
            try pool.write { db in
                let read = try db.cachedStatement(sql: "SELECT attempts FROM outbox WHERE message_id = ? AND state = 'pending'")
                let update = try db.cachedStatement(
                    sql: "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE message_id = ? AND state = 'pending'")
                for id in messageIDs {
                    guard let attempts = try Int.fetchOne(read, arguments: [id]) else { continue }
                    let delay = min(maxDelay, baseDelay * pow(2, Double(min(attempts, 30))))
                    try update.execute(arguments: [Timestamp.string(now.addingTimeInterval(delay)), id])
                }
            }
        }
    }

    /// `municipality.851.decision` → `municipality.851`; `cv.cv-referral` → `cv`.
    static func recipient(ofRoutingKey key: String, type: String) -> String {
        key.hasSuffix(".\(type)") ? String(key.dropLast(type.count + 1)) : key
    }

    // MARK: timers

    /// Pending timers due at or before `date`, earliest first. Fire each with
    /// `StoreTransaction.markFired` in the same write as its effects.
    public func dueTimers(at date: Date, limit: Int) throws -> [TimerRecord] {
        try wrap("reading timers") { try pool.read { db in try Queries.dueTimers(db, at: date, limit: limit) } }
    }

    public func timer(id: String) throws -> TimerRecord? {
        try wrap("reading timers") { try pool.read { db in try Queries.timer(db, id: id) } }
    }

    /// Every timer of a case (any state), earliest due first.
    public func timers(caseID: String) throws -> [TimerRecord] {
        try wrap("reading timers") { try pool.read { db in try Queries.timers(db, caseID: caseID) } }
    }

    // MARK: cases

    /// A case without auditing the read (for the daemon's own processing). For an
    /// operator looking at a case, use `viewCase`.
    public func `case`(id: String) throws -> CaseRecord? {
        try wrap("reading case") { try pool.read { db in try Queries.caseRecord(db, id: id) } }
    }

    public func cases(pseudonym: Pseudonym) throws -> [CaseRecord] {
        try wrap("reading cases") { try pool.read { db in try Queries.cases(db, pseudonym: pseudonym) } }
    }

    /// Cases filtered by any of municipality, clinic and status (nil: any), oldest
    /// update first; for queues and the `cases` command.
    public func cases(
        municipality: String? = nil, clinic: String? = nil, status: String? = nil, limit: Int
    ) throws -> [CaseRecord] {
        try wrap("reading cases") {
            try pool.read { db in
                try Queries.cases(
                    db, municipality: municipality, clinic: clinic, status: status, limit: limit)
            }
        }
    }

    public func caseHistory(id: String) throws -> [CaseHistoryEntry] {
        try wrap("reading case history") { try pool.read { db in try Queries.caseHistory(db, caseID: id) } }
    }

    /// An operator's look at a case: reads it and appends a `viewed` audit entry
    /// (who, when, why) in the same transaction, so no view goes unrecorded.
    public func viewCase(id: String, viewer: String, purpose: String, at date: Date) throws
        -> CaseRecord?
    {
        try write { tx in
            guard let record = try tx.case(id: id) else { return nil }
            try tx.appendAudit(
                AuditRecord(
                    at: date, actor: viewer, action: .viewed, pseudonym: record.pseudonym,
                    messageType: nil, messageID: nil, purpose: purpose))
            return record
        }
    }

    /// Case counts grouped by municipality × clinic × status.
    public func caseCounts() throws -> [CaseCount] {
        try wrap("counting cases") { try pool.read { db in try Queries.caseCounts(db) } }
    }

    // MARK: consent

    /// Every consent statement about a citizen, oldest first.
    public func consents(pseudonym: Pseudonym) throws -> [ConsentRecord] {
        try wrap("reading consent") { try pool.read { db in try Queries.consents(db, pseudonym: pseudonym) } }
    }

    /// The current (latest) statement per direction and purpose.
    public func currentConsents(pseudonym: Pseudonym) throws -> [ConsentRecord] {
        try wrap("reading consent") {
            try pool.read { db in try Queries.currentConsents(db, pseudonym: pseudonym) }
        }
    }

    /// Deny by default; see `StoreTransaction.consentAllows`.
    public func consentAllows(
        pseudonym: Pseudonym, direction: ConsentDirection, purpose: String, at date: Date
    ) throws -> Bool {
        try wrap("reading consent") {
            try pool.read { db in
                try Queries.currentConsent(db, pseudonym: pseudonym, direction: direction, purpose: purpose)?
                    .allows(at: date) ?? false
            }
        }
    }

    // MARK: audit

    /// Every audit entry about a citizen, in order (the citizen's right to know who
    /// looked at their data, when and why).
    public func auditEntries(pseudonym: Pseudonym) throws -> [AuditEntry] {
        try wrap("reading the audit trail") {
            try pool.read { db in try Queries.auditEntries(db, pseudonym: pseudonym) }
        }
    }

    /// A page of the trail: entries with seq > `afterSeq`, at most `limit`.
    public func auditEntries(afterSeq: Int64, limit: Int) throws -> [AuditEntry] {
        try wrap("reading the audit trail") {
            try pool.read { db in try Queries.auditEntries(db, afterSeq: afterSeq, limit: limit) }
        }
    }

    /// The last entry's seq and hash; log it to anchor later verifications.
    public func auditHead() throws -> AuditAnchor? {
        try wrap("reading the audit trail") { try pool.read { db in try Queries.auditHead(db) } }
    }

    /// Recomputes the whole chain. With an `anchor` (a head logged earlier), also
    /// detects entries removed from the end.
    public func verifyAudit(anchor: AuditAnchor? = nil) throws -> AuditVerification {
        try wrap("verifying the audit trail") {
            try pool.read { db in try AuditChain.verify(db: db, key: key, anchor: anchor) }
        }
    }

    // MARK: maintenance

    /// Applied migrations, in order.
    public func appliedMigrations() throws -> [String] {
        try wrap("reading the schema version") {
            try pool.read { db in try Schema.migrator.appliedMigrations(db) }
        }
    }

    /// All migrations this build knows, in order.
    public static var knownMigrations: [String] { Schema.migrationNames }

    /// The migrations opening the store at `path` would apply, read without changing the
    /// file: empty when it is up to date, every migration when there is no file yet (which
    /// costs nothing to migrate). For the daemon to say so before a long upgrade.
    public static func pendingMigrations(path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { return knownMigrations }
        var config = Configuration()
        config.readonly = true
        config.label = "ddrouter.store.schema-check"
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            let applied = Set(try queue.read { db in try Schema.migrator.appliedIdentifiers(db) })
            return knownMigrations.filter { !applied.contains($0) }
        } catch {
            throw StoreError.wrap(error, "reading the schema version", path: path)
        }
    }

    /// Copies the whole database, consistently, to `path` (created owner-only; an
    /// existing file there is overwritten). Safe while the daemon runs: the copy is
    /// taken from one read snapshot and writes continue meanwhile.
    public func backup(to destination: String) throws {
        try Store.prepareFile(destination)
        do {
            let target = try DatabaseQueue(path: destination)
            try pool.backup(to: target)
            try target.close()
        } catch {
            throw StoreError.wrap(error, "backing up to \(destination)", path: path)
        }
        try Store.restrictModes(destination)
    }

    /// Moves the WAL's content into the database file. With `truncate`, also empties
    /// the WAL file (waits for readers; use when idle). SQLite checkpoints by itself
    /// every 1000 pages; call this from a maintenance timer to bound the WAL's size.
    public func checkpoint(truncate: Bool = false) throws {
        try wrap("checkpointing") {
            try pool.writeWithoutTransaction { db in
                _ = try db.checkpoint(truncate ? .truncate : .passive)
            }
        }
    }

    /// SQLite's `PRAGMA quick_check`; returns the problems found (empty when healthy).
    public func quickCheck() throws -> [String] {
        try wrap("checking integrity") {
            try pool.read { db in
                let rows = try String.fetchAll(db, sql: "PRAGMA quick_check")
                return rows == ["ok"] ? [] : rows
            }
        }
    }

    // MARK: file

    static let fileMode: mode_t = 0o600

    /// Creates the directory (0700) and an empty database file (0600) when missing.
    /// SQLite gives its -wal and -shm files the mode of the database file, so creating
    /// the file ourselves makes all three owner-only regardless of the process umask.
    static func prepareFile(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError(
                    .cannotOpen,
                    "cannot create the store directory \(directory): \((error as NSError).localizedDescription); create it (owner ddrouter, mode 0700) or fix store.path",
                    path: path)
            }
        }
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, fileMode)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw StoreError(
                .notWritable,
                "store at \(path) is not writable: \(reason); check the owner and mode of the file and of \(directory.isEmpty ? "the current directory" : directory)",
                path: path)
        }
        defer { posixClose(fd) }
        if fchmod(fd, fileMode) != 0 {
            let reason = String(cString: strerror(errno))
            throw StoreError(
                .notWritable,
                "cannot make store at \(path) owner-only (mode 0600): \(reason); the file belongs to another user?",
                path: path)
        }
    }

    /// Makes the database, -wal and -shm owner-only (files left by older versions or
    /// created by hand).
    static func restrictModes(_ path: String) throws {
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            if info.st_mode & 0o777 != fileMode, chmod(file, fileMode) != 0 {
                let reason = String(cString: strerror(errno))
                throw StoreError(
                    .notWritable,
                    "cannot make \(file) owner-only (mode 0600): \(reason); the file belongs to another user?",
                    path: path)
            }
        }
    }

    static func openError(_ error: any Error, path: String) -> any Error {
        let wrapped = StoreError.wrap(error, "opening", path: path)
        guard var storeError = wrapped as? StoreError else { return wrapped }
        if storeError.code == .database { storeError.code = .cannotOpen }
        return storeError
    }
}

/// `close(2)`; a free function because inside `Store` the name means `Store.close()`.
private func posixClose(_ fd: Int32) {
    _ = close(fd)
}

// Hooks for tests and repair tooling; internal, so the daemon cannot reach them.
extension Store {
    /// Runs raw SQL outside any API guarantee (no implicit transaction).
    func executeRaw(_ sql: String) throws {
        try wrap("raw SQL") { try pool.writeWithoutTransaction { db in try db.execute(sql: sql) } }
    }

    /// The integer a raw SQL query returns (0 for none).
    func rawCount(_ sql: String) throws -> Int {
        try wrap("raw SQL") { try pool.read { db in try Int.fetchOne(db, sql: sql) ?? 0 } }
    }

    /// The value of a pragma on a writer connection (where durability settings apply).
    func pragma(_ name: String) throws -> String? {
        try wrap("reading pragma") {
            try pool.writeWithoutTransaction { db in
                try String.fetchOne(db, sql: "PRAGMA \(name)")
            }
        }
    }
}
