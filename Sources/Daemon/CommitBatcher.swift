import Dispatch
import Foundation
import Logging
import Store
import Synchronization

/// What `CommitBatcher` needs of a store: one transaction, savepoints in it, and which
/// failures are transient. A protocol so that the batching logic is unit-tested without I/O.
protocol BatchTarget: Sendable {
    associatedtype Transaction
    /// Runs `body` in one transaction: committed (durably) when it returns, rolled back
    /// (nothing written) when it throws.
    func transaction(_ body: (Transaction) throws -> Void) throws
    /// Runs `body` in a savepoint of `tx`: when it throws, only its writes are undone.
    func savepoint<T>(in tx: Transaction, _ body: (Transaction) throws -> T) throws -> T
    /// Whether `tx` is still an open transaction (SQLite rolls the whole transaction back
    /// on some errors, such as a full disk; then nothing of it can be committed).
    func isOpen(_ tx: Transaction) -> Bool
    /// Whether `error` is a transient store failure (busy, disk full): retried in-process.
    func isTransient(_ error: any Error) -> Bool
}

/// The store as a `BatchTarget`.
struct StoreBatchTarget: BatchTarget {
    let store: Store

    func transaction(_ body: (StoreTransaction) throws -> Void) throws { try store.write(body) }
    func savepoint<T>(in tx: StoreTransaction, _ body: (StoreTransaction) throws -> T) throws -> T {
        try tx.savepoint(body)
    }
    func isOpen(_ tx: StoreTransaction) -> Bool { tx.isActive }
    func isTransient(_ error: any Error) -> Bool { (error as? StoreError)?.isTransient ?? false }
}

/// Group commit: the store writes of deliveries handled close together share one
/// transaction, so one fsync (`synchronous = FULL`, ~10 ms on the benchmark disk) serves
/// many messages instead of one.
///
/// - Writes are applied in the order they were submitted, each in its own savepoint: one
///   that throws is undone alone and the others of its transaction go on (a rejection, a
///   refusal or a racing duplicate never changes another message's outcome).
/// - A submitter gets its result only after the transaction holding its write has
///   committed: a delivery is never acked before its write is on disk.
/// - The writer never waits for company: it starts a transaction as soon as there is a
///   write and it is idle. Writes submitted while a transaction commits are taken together
///   by the next one, at most `Limits.writes` of them, and no further write is added once
///   the transaction has run for `Limits.duration`.
/// - A transient failure (busy, disk full) of the transaction, or one that made SQLite roll
///   the whole transaction back, fails the transaction: nothing of it was written, and
///   every write in it is tried again after the backoff of `retryDelays`; a write whose
///   tries are used up gets the error (its delivery is requeued, never acked). A transient
///   failure of one write whose transaction is still open: the writes before it commit, it
///   and the ones after it are tried again (in order) after the backoff.
/// - A non-transient failure of one write: that write gets the error, the others commit.
/// - `waitUntilSettled(key:)` waits until no submitted write with that key is unresolved:
///   the pipeline's dedupe lookup of a message_id thus sees an earlier copy's commit.
///
/// The writes run on one dedicated thread (a serial dispatch queue), never on the
/// cooperative pool: SQLite I/O and fsync block.
final class CommitBatcher<Target: BatchTarget, Output>: Sendable {
    typealias Body = (Target.Transaction) throws -> Output

    struct Limits: Sendable {
        /// At most this many writes per transaction, and at most this many waiting for one:
        /// beyond that, a submitter is told it may go on (`submitted`) only once the writer
        /// has taken writes off the queue.
        var writes: Int = 100
        /// No further write joins a transaction that has run this long.
        var duration: Duration = .milliseconds(100)
    }

    /// The result of a write that was still waiting for a transaction when `stop()` was
    /// called: nothing of it was written.
    struct Stopped: Error {}

    /// A submitted write. `body` is set while its submitter is suspended in `submit` and
    /// cleared before the submitter is resumed; `result`, `failures` and `body` are only
    /// touched by the writer while the submitter is suspended.
    private final class Job: @unchecked Sendable {
        var body: Body?
        let key: String?
        var failures = 0
        var result: Result<Output, any Error>?
        var resume: CheckedContinuation<Void, Never>?

        init(body: @escaping Body, key: String?) {
            self.body = body
            self.key = key
        }
    }

    private struct State {
        var queue: [Job] = []
        var writing = false
        var stopped = false
        /// The `submitted` of a write queued while the queue was full.
        var admission: (@Sendable () -> Void)?
        /// Keys of submitted writes not yet resolved, with their count.
        var keys: [String: Int] = [:]
        var keyWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let target: Target
    private let limits: Limits
    private let retryDelays: [Duration]
    private let logger: Logger
    private let sleep: @Sendable (Duration) -> Void
    private let writer = DispatchQueue(label: "ddrouter.commit")
    private let state = Mutex(State())
    /// Transactions committed (for tests and logs).
    private let commits = Atomic<Int>(0)

    init(
        target: Target, limits: Limits = Limits(), retryDelays: [Duration], logger: Logger,
        sleep: @escaping @Sendable (Duration) -> Void = { Thread.sleep(forTimeInterval: Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) }
    ) {
        self.target = target
        self.limits = Limits(writes: max(1, limits.writes), duration: limits.duration)
        self.retryDelays = retryDelays
        self.logger = logger
        self.sleep = sleep
    }

    /// How many transactions have committed.
    var committedTransactions: Int { commits.load(ordering: .relaxed) }

    /// Queues `body` after every write submitted before, calls `submitted` once it is queued
    /// and the queue has room (at once, or when the writer has taken writes off it), and
    /// returns its result once its transaction has committed (or it failed for good, or with
    /// `Stopped`). `key` (a sender's message_id) is what `waitUntilSettled(key:)` waits for.
    func submit(key: String? = nil, _ body: Body, submitted: @escaping @Sendable () -> Void = {}) async
        -> Result<Output, any Error>
    {
        await withoutActuallyEscaping(body) { body in
            let job = Job(body: body, key: key)
            await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
                job.resume = resume
                let (start, admit) = state.withLock { s -> (Bool, Bool) in
                    s.queue.append(job)
                    if let key { s.keys[key, default: 0] += 1 }
                    let admit = s.queue.count <= limits.writes
                    if !admit { s.admission = submitted }
                    if s.writing { return (false, admit) }
                    s.writing = true
                    return (true, admit)
                }
                if admit { submitted() }
                if start { writer.async { self.drain() } }
            }
            // The writer cleared `job.body` before resuming: the closure has not escaped.
            return job.result ?? .failure(CancellationError())
        }
    }

    /// Returns once no write submitted with `key` is waiting or in an uncommitted transaction.
    func waitUntilSettled(key: String) async {
        await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                guard s.keys[key] != nil else { return true }
                s.keyWaiters[key, default: []].append(resume)
                return false
            }
            if now { resume.resume() }
        }
    }

    /// Whether a write with `key` is unresolved.
    func isPending(key: String) -> Bool { state.withLock { $0.keys[key] != nil } }

    /// Returns once no write is waiting or being written.
    func waitUntilIdle() async {
        await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                guard s.writing else { return true }
                s.idleWaiters.append(resume)
                return false
            }
            if now { resume.resume() }
        }
    }

    /// Graceful shutdown: the transaction being written finishes (commits, or fails as
    /// usual); every write still waiting for a transaction, and every one submitted later,
    /// gets `Stopped` without being run.
    func stop() {
        let start = state.withLock { s -> Bool in
            s.stopped = true
            if s.writing || s.queue.isEmpty { return false }
            s.writing = true
            return true
        }
        if start { writer.async { self.drain() } }
    }

    // MARK: - the writer

    /// Writes transactions until nothing is queued (on `writer`).
    private func drain() {
        var pause: Duration?
        while true {
            if let pause, !state.withLock({ $0.stopped }) { sleep(pause) }
            var idle: [CheckedContinuation<Void, Never>] = []
            let (jobs, stopped, admission) = state.withLock { s -> ([Job], Bool, (@Sendable () -> Void)?) in
                if s.queue.isEmpty {
                    s.writing = false
                    idle = s.idleWaiters
                    s.idleWaiters = []
                    return ([], false, nil)
                }
                let count = s.stopped ? s.queue.count : min(limits.writes, s.queue.count)
                let jobs = Array(s.queue.prefix(count))
                s.queue.removeFirst(count)
                let admission = s.queue.count <= limits.writes ? s.admission : nil
                if admission != nil { s.admission = nil }
                return (jobs, s.stopped, admission)
            }
            admission?()
            if jobs.isEmpty {
                for waiter in idle { waiter.resume() }
                return
            }
            if stopped {
                resolve(jobs, jobs.map { _ in .failure(Stopped()) })
                continue
            }
            pause = write(jobs)
        }
    }

    /// One transaction over (a prefix of) `jobs`. Resolves what it can; puts the rest back
    /// at the head of the queue, in order. Returns the backoff before the next transaction.
    private func write(_ jobs: [Job]) -> Duration? {
        var outcomes: [Result<Output, any Error>] = []
        var retry: (index: Int, error: any Error)?
        do {
            try target.transaction { tx in
                let started = ContinuousClock.now
                for job in jobs {
                    if !outcomes.isEmpty && ContinuousClock.now - started >= limits.duration { break }
                    guard let body = job.body else { break }
                    do {
                        outcomes.append(.success(try target.savepoint(in: tx, body)))
                    } catch {
                        // Nothing of the transaction can commit any more: fail it as a whole.
                        guard target.isOpen(tx) else { throw error }
                        if target.isTransient(error) {
                            retry = (outcomes.count, error)
                            return  // commit the writes before it
                        }
                        outcomes.append(.failure(error))
                    }
                }
            }
        } catch {
            // Nothing of this transaction was written.
            return failed(jobs, error)
        }
        commits.add(1, ordering: .relaxed)
        let done = Array(jobs.prefix(outcomes.count))
        var rest = Array(jobs.dropFirst(outcomes.count))
        var pause: Duration?
        if let retry {
            let job = rest[0]
            job.failures += 1
            if job.failures > retryDelays.count {
                logger.warning("store write failed on every retry", metadata: ["error": "\(retry.error)"])
                rest.removeFirst()
                resolve([job], [.failure(retry.error)])
            } else {
                let delay = retryDelays[job.failures - 1]
                pause = delay
                logStoreRetry(retry.error, delay)
            }
        }
        requeue(rest)
        resolve(done, outcomes)
        return pause
    }

    /// The transaction of `jobs` failed as a whole: retry them after the backoff, or give
    /// the error to the ones whose tries are used up (to all of them if it is not transient).
    private func failed(_ jobs: [Job], _ error: any Error) -> Duration? {
        guard target.isTransient(error) else {
            resolve(jobs, jobs.map { _ in .failure(error) })
            return nil
        }
        var exhausted: [Job] = []
        var again: [Job] = []
        var tries = 0
        for job in jobs {
            job.failures += 1
            if job.failures > retryDelays.count {
                exhausted.append(job)
            } else {
                again.append(job)
                tries = max(tries, job.failures)
            }
        }
        if !exhausted.isEmpty {
            logger.warning("store write failed on every retry", metadata: ["error": "\(error)", "writes": "\(exhausted.count)"])
        }
        requeue(again)
        resolve(exhausted, exhausted.map { _ in .failure(error) })
        guard tries > 0 else { return nil }
        let pause = retryDelays[tries - 1]
        logStoreRetry(error, pause)
        return pause
    }

    private func logStoreRetry(_ error: any Error, _ pause: Duration) {
        let code = (error as? StoreError)?.code.rawValue ?? "\(error)"
        logger.notice("store busy; retrying", metadata: ["error": "\(code)", "in": "\(pause)"])
    }

    /// Puts `jobs` back at the head of the queue, in their order.
    private func requeue(_ jobs: [Job]) {
        guard !jobs.isEmpty else { return }
        state.withLock { s in s.queue.insert(contentsOf: jobs, at: 0) }
    }

    /// Hands each job its outcome and resumes its submitter, then wakes whoever waits for
    /// a key no unresolved write has any more.
    private func resolve(_ jobs: [Job], _ outcomes: [Result<Output, any Error>]) {
        var waiters: [CheckedContinuation<Void, Never>] = []
        var resumes: [CheckedContinuation<Void, Never>] = []
        for (job, outcome) in zip(jobs, outcomes) {
            job.result = outcome
            job.body = nil  // before resuming: the submitter's closure must not outlive `submit`
            if let resume = job.resume { resumes.append(resume) }
            job.resume = nil
        }
        state.withLock { s in
            for job in jobs {
                guard let key = job.key, let count = s.keys[key] else { continue }
                if count > 1 {
                    s.keys[key] = count - 1
                } else {
                    s.keys[key] = nil
                    waiters += s.keyWaiters.removeValue(forKey: key) ?? []
                }
            }
        }
        for resume in resumes { resume.resume() }
        for waiter in waiters { waiter.resume() }
    }
}

/// Opened once the delivery in hand has submitted its store write (or is finished):
/// `Pipeline.run` then takes the next delivery, so writes are submitted in delivery order.
final class Handoff: Sendable {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var writesInTurn = false
    }
    private let state = Mutex(State())

    /// Said by a delivery before its first write when it submits several writes one after
    /// another (a list in slices): its sender's next delivery must wait until it is settled,
    /// or its write would land between them.
    func willWriteInTurns() { state.withLock { $0.writesInTurn = true } }
    var writesInTurns: Bool { state.withLock { $0.writesInTurn } }
    var isOpen: Bool { state.withLock { $0.open } }

    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `open` was called; any number of tasks may wait.
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}
