import Foundation
import Synchronization
import Testing

@testable import Store

@Suite("Outbox observer: called once per committing write, at the same depth every time")
struct OutboxObserverTests {
    /// Swift 6.3 re-wrapped a function value read out of a `Mutex` in one more thunk on
    /// every read, so the observer ran one stack frame deeper after each commit (and leaked
    /// the thunk): after about a million commits the daemon's stack overflowed. The depth
    /// at which the observer runs must not grow with the number of commits.
    @Test("the observer's stack depth does not grow with the number of commits")
    func depthStaysFlat() throws {
        let scratch = Scratch()
        let store = try scratch.open()
        let depths = Mutex<[UInt]>([])
        store.observeOutbox {
            var marker = 0
            let address = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
            depths.withLock { $0.append(address) }
        }
        let commits = 400
        for i in 0..<commits {
            try store.write { tx in _ = try tx.enqueue(event("observer-\(i)")) }
        }
        // A write that enqueues nothing does not wake the relay.
        try store.write { _ in }
        let seen = depths.withLock { $0 }
        #expect(seen.count == commits)
        let first = try #require(seen.first), last = try #require(seen.last)
        let drift = first > last ? first - last : last - first
        #expect(drift < 1024, "the observer ran \(drift) bytes deeper after \(commits) commits")
    }
}
