import Dispatch
import Foundation
import Logging
import Synchronization
import Testing

@testable import Daemon

/// `CommitBatcher` against an in-memory stand-in for the store (no I/O): what commits, in
/// which order, in how many transactions, and when each submitter learns its outcome.
@Suite("CommitBatcher (group commit)")
struct CommitBatcherTests {
    struct Permanent: Error, Equatable {}
    struct Busy: Error, Equatable {}

    /// A store whose transactions are arrays of writes. `hold` keeps the first transaction
    /// open until signalled, so the test can queue writes behind it deterministically.
    final class FakeStore: BatchTarget, Sendable {
        final class Tx {
            var writes: [String] = []
            var open = true
        }
        struct State {
            var committed: [String] = []
            var transactions: [[String]] = []
            var begun = 0
            var failBegin = 0
            var failCommit = 0
            var commitError: any Error = Busy()
        }
        let state = Mutex(State())
        let hold: DispatchSemaphore?

        init(holdFirst: Bool = false) { hold = holdFirst ? DispatchSemaphore(value: 0) : nil }

        var committed: [String] { state.withLock { $0.committed } }
        var transactions: [[String]] { state.withLock { $0.transactions } }
        var begun: Int { state.withLock { $0.begun } }

        func transaction(_ body: (Tx) throws -> Void) throws {
            let (first, failBegin) = state.withLock { s -> (Bool, Bool) in
                s.begun += 1
                if s.failBegin > 0 {
                    s.failBegin -= 1
                    return (s.begun == 1, true)
                }
                return (s.begun == 1, false)
            }
            if failBegin { throw Busy() }
            let tx = Tx()
            try body(tx)
            if first { hold?.wait() }
            guard tx.open else { throw Permanent() }  // a rolled-back transaction cannot commit
            let failure = state.withLock { s -> (any Error)? in
                if s.failCommit > 0 {
                    s.failCommit -= 1
                    return s.commitError
                }
                s.committed += tx.writes
                s.transactions.append(tx.writes)
                return nil
            }
            if let failure { throw failure }
        }

        func savepoint<T>(in tx: Tx, _ body: (Tx) throws -> T) throws -> T {
            let mark = tx.writes.count
            do {
                return try body(tx)
            } catch {
                if tx.open { tx.writes.removeSubrange(mark...) }
                throw error
            }
        }

        func isOpen(_ tx: Tx) -> Bool { tx.open }
        func isTransient(_ error: any Error) -> Bool { error is Busy }
    }

    typealias Batcher = CommitBatcher<FakeStore, Int>

    static func batcher(_ store: FakeStore, writes: Int = 100, duration: Duration = .seconds(10),
                        retries: Int = 3) -> Batcher {
        Batcher(target: store, limits: .init(writes: writes, duration: duration),
                retryDelays: Array(repeating: .zero, count: retries),
                logger: Logger(label: "test.batcher", factory: { _ in SwiftLogNoOpLogHandler() }), sleep: { _ in })
    }

    /// What each submitter saw: its result, and whether its write was committed when it got it.
    struct Seen: Sendable {
        var index: Int
        var value: Int?
        var error: String?
        var committedBefore: Bool
    }

    /// Submits `count` writes the way `Pipeline.run` does (each after the previous one has
    /// been queued); write i appends "m<i>" and then runs `fail(i, tx)`. With a held store the
    /// first write is submitted alone and the others are queued once its transaction is open.
    /// Submits `count` writes one after another. With a holding store the first transaction
    /// is held until all are submitted, or until `releaseAfter` are: a batcher admits at most
    /// `writes` waiting writes, so a test with more must release the hold before that.
    static func run(_ batcher: Batcher, _ store: FakeStore, count: Int, releaseAfter: Int? = nil,
                    fail: @escaping @Sendable (Int, FakeStore.Tx) throws -> Void = { _, _ in }) async -> [Seen] {
        await withTaskGroup(of: Seen.self) { group in
            for i in 0..<count {
                let queued = Handoff()
                let key = "k\(i)"
                group.addTask {
                    let result = await batcher.submit(key: key, { tx in
                        tx.writes.append("m\(i)")
                        try fail(i, tx)
                        return i
                    }, submitted: { queued.open() })
                    let committed = store.committed.contains("m\(i)")
                    switch result {
                    case .success(let value): return Seen(index: i, value: value, committedBefore: committed)
                    case .failure(let error): return Seen(index: i, error: "\(error)", committedBefore: committed)
                    }
                }
                await queued.wait()
                if i == 0, store.hold != nil {
                    while store.begun == 0 { try? await Task.sleep(for: .milliseconds(1)) }
                }
                if i + 1 == releaseAfter { store.hold?.signal() }
            }
            if let hold = store.hold, releaseAfter.map({ $0 > count }) ?? true {
                hold.signal()
            }
            var seen: [Seen] = []
            for await s in group { seen.append(s) }
            return seen.sorted { $0.index < $1.index }
        }
    }

    @Test("writes queued behind an open transaction share the next one, in submission order; each submitter learns its outcome only after the commit")
    func groupsInOrder() async {
        let store = FakeStore(holdFirst: true)
        let seen = await Self.run(Self.batcher(store), store, count: 50)
        #expect(store.transactions == [["m0"], (1..<50).map { "m\($0)" }])
        #expect(seen.map(\.value) == (0..<50).map { Optional($0) })
        #expect(seen.allSatisfy { $0.committedBefore }, "a result was handed out before its transaction committed")
    }

    @Test("a transaction takes at most `writes` writes; the rest follow in order")
    func boundedByCount() async {
        let store = FakeStore(holdFirst: true)
        // At most 10 writes wait for a transaction, so the held first one is released once
        // 10 are submitted; how the rest split depends on timing, never beyond 10 each.
        _ = await Self.run(Self.batcher(store, writes: 10), store, count: 26, releaseAfter: 10)
        #expect(store.transactions.first == ["m0"])
        #expect(store.transactions.allSatisfy { $0.count <= 10 }, "\(store.transactions.map(\.count))")
        #expect(store.transactions.count >= 4, "\(store.transactions.map(\.count))")
        #expect(store.committed == (0..<26).map { "m\($0)" })
    }

    @Test("no further write joins a transaction that has run for `duration`")
    func boundedByTime() async {
        let store = FakeStore(holdFirst: true)
        _ = await Self.run(Self.batcher(store, duration: .milliseconds(5)), store, count: 12) { _, _ in
            Thread.sleep(forTimeInterval: 0.004)
        }
        #expect(store.committed == (0..<12).map { "m\($0)" })
        #expect(store.transactions.allSatisfy { $0.count <= 2 }, "\(store.transactions.map(\.count))")
    }

    @Test("a lone write is committed at once, in a transaction of its own")
    func loneWrite() async {
        let store = FakeStore()
        let seen = await Self.run(Self.batcher(store), store, count: 1)
        #expect(seen.first?.value == 0)
        #expect(store.transactions == [["m0"]])
    }

    @Test("a write that fails is undone alone: the others of its transaction commit, in order, and keep their outcome")
    func failureIsolated() async {
        let store = FakeStore(holdFirst: true)
        let seen = await Self.run(Self.batcher(store), store, count: 10) { i, tx in
            if i == 3 { throw Permanent() }
            if i == 5 {
                tx.writes.append("m5-more")
                throw Permanent()
            }
        }
        #expect(store.committed == ["m0", "m1", "m2", "m4", "m6", "m7", "m8", "m9"])
        #expect(store.transactions.count == 2)
        #expect(seen.filter { $0.error != nil }.map(\.index) == [3, 5])
        #expect(seen.filter { $0.value != nil }.map(\.index) == [0, 1, 2, 4, 6, 7, 8, 9])
    }

    @Test("a transient commit failure: nothing of the transaction is handed out, every write is tried again and committed once")
    func commitFailureRetried() async {
        let store = FakeStore(holdFirst: true)
        store.state.withLock { $0.failCommit = 2 }  // the held one and the next transaction
        let seen = await Self.run(Self.batcher(store), store, count: 20)
        #expect(store.committed == (0..<20).map { "m\($0)" })
        #expect(seen.allSatisfy { $0.value != nil && $0.committedBefore })
    }

    @Test("a commit that keeps failing transiently: every write of it gets the error (requeued), none succeeds")
    func commitFailureExhausted() async {
        let store = FakeStore(holdFirst: true)
        store.state.withLock { $0.failCommit = 1000 }
        let seen = await Self.run(Self.batcher(store, retries: 2), store, count: 10)
        #expect(store.committed.isEmpty)
        #expect(seen.allSatisfy { $0.value == nil && $0.error == "\(Busy())" })
        // Three tries per write: m0 in the held transaction and the next two, the others in
        // those two and one more.
        #expect(store.begun == 4)
    }

    @Test("a busy store at BEGIN and a permanent commit failure fail the whole transaction; later writes are unaffected")
    func beginBusyAndPermanentCommitFailure() async {
        let store = FakeStore()
        store.state.withLock {
            $0.failBegin = 2
            $0.failCommit = 1
            $0.commitError = Permanent()
        }
        let seen = await Self.run(Self.batcher(store), store, count: 1)
        #expect(seen.first?.error == "\(Permanent())", "busy twice, retried, then a permanent commit failure")
        let after = await Self.run(Self.batcher(store), store, count: 3)
        #expect(after.map(\.value) == [0, 1, 2])
        #expect(store.committed == ["m0", "m1", "m2"])
    }

    @Test("a write failing transiently: the writes before it commit, it and the ones after it are retried in order")
    func transientWriteRetried() async {
        let store = FakeStore(holdFirst: true)
        let tries = Mutex(0)
        let seen = await Self.run(Self.batcher(store), store, count: 10) { i, _ in
            if i == 4, tries.withLock({ $0 += 1; return $0 }) <= 2 { throw Busy() }
        }
        #expect(store.committed == (0..<10).map { "m\($0)" })
        #expect(seen.allSatisfy { $0.value != nil })
        #expect(tries.withLock { $0 } == 3)
    }

    @Test("a write failing transiently on every try gets the error alone; the others commit in order")
    func transientWriteExhausted() async {
        let store = FakeStore(holdFirst: true)
        let seen = await Self.run(Self.batcher(store, retries: 2), store, count: 10) { i, _ in
            if i == 4 { throw Busy() }
        }
        #expect(store.committed == ["m0", "m1", "m2", "m3", "m5", "m6", "m7", "m8", "m9"])
        #expect(seen.filter { $0.error != nil }.map(\.index) == [4])
    }

    @Test("a failure that rolled the whole transaction back fails it as a whole: all its writes are retried, none is handed out before the retry commits")
    func abortedTransaction() async {
        let store = FakeStore(holdFirst: true)
        let aborted = Mutex(false)
        let seen = await Self.run(Self.batcher(store), store, count: 8) { i, tx in
            if i == 5, aborted.withLock({ let first = !$0; $0 = true; return first }) {
                tx.open = false
                throw Busy()
            }
        }
        #expect(store.committed == (0..<8).map { "m\($0)" })
        #expect(seen.allSatisfy { $0.value != nil && $0.committedBefore })
    }

    @Test("waitUntilSettled(key:) returns only once the write with that key has committed")
    func keyBarrier() async {
        let store = FakeStore(holdFirst: true)
        let batcher = Self.batcher(store)
        let queued = Handoff()
        let writer = Task {
            await batcher.submit(key: "municipality.851 m-1", { tx in
                tx.writes.append("m-1")
                return 1
            }, submitted: { queued.open() })
        }
        await queued.wait()
        #expect(batcher.isPending(key: "municipality.851 m-1"))
        #expect(!batcher.isPending(key: "municipality.851 m-2"))
        let waiter = Task {
            await batcher.waitUntilSettled(key: "municipality.851 m-1")
            return store.committed
        }
        while store.begun == 0 { try? await Task.sleep(for: .milliseconds(1)) }
        try? await Task.sleep(for: .milliseconds(20))
        #expect(store.committed.isEmpty)
        store.hold?.signal()
        #expect(await waiter.value == ["m-1"])
        _ = await writer.value
        #expect(!batcher.isPending(key: "municipality.851 m-1"))
        await batcher.waitUntilSettled(key: "never submitted")
    }
}
