import Foundation
import Synchronization
import Workflow

/// The decoded `CitizenCase` of recently written cases, by the exact bytes stored for them,
/// so that the next message about a case (a journal's contact status after its list entry,
/// seconds later) does not decode the state its own write encoded a moment ago: decoding the
/// snapshot was 6 % of the store thread's time over a 10,000-citizen list
/// (docs/performance.md, 3d).
///
/// Correct by construction: a state is handed out only for a case whose stored blob is,
/// byte for byte, the blob the state was encoded to (`UnitOfWork.apply`) or decoded from
/// (`CaseSnapshot.load`), and `StoreBinary` decodes a blob to the value it was encoded from
/// (`StateEncodingTests`). A write that rolls back after `apply` leaves an entry whose bytes
/// the store does not hold: it is never handed out, and the next write of the case replaces
/// it. Whatever else changes a case (another process, a key rotation) changes its bytes.
///
/// Bounded: at most `capacity` cases, the oldest remembered case forgotten first; a miss
/// costs what no cache costs (one decode). Safe from any thread (one `Mutex`); the pipeline
/// uses it on the store's thread only.
final class CaseStateCache: Sendable {
    private struct Entry {
        var blob: Data
        var state: CitizenCase
    }

    private struct Storage {
        var entries: [String: Entry] = [:]
        /// Case ids in the order they were first remembered; `next` is the oldest.
        var ring: [String?]
        var next = 0
        var hits = 0
        var misses = 0
    }

    let capacity: Int
    private let storage: Mutex<Storage>

    /// 2,048 cases, about 6 MiB of decoded states and their bytes: over the bench's
    /// 10,000-citizen list the journal's answers came 1,000-2,000 citizens behind the slices
    /// that asked, and every one was a hit (1,024 cases: 693 of 8,750). Answers that come
    /// later (a journal answering in minutes) miss and cost one decode, as without a cache.
    init(capacity: Int = 2_048) {
        let capacity = max(1, capacity)
        self.capacity = capacity
        storage = Mutex(Storage(ring: Array(repeating: nil, count: capacity)))
    }

    /// The state stored as `blob` for `caseID`, if it is the one remembered.
    func state(caseID: String, blob: Data) -> CitizenCase? {
        storage.withLock { storage in
            guard let entry = storage.entries[caseID], entry.blob == blob else {
                storage.misses += 1
                return nil
            }
            storage.hits += 1
            return entry.state
        }
    }

    /// Remembers that `blob` is `state`, encoded, for `caseID`.
    func remember(caseID: String, blob: Data, state: CitizenCase) {
        storage.withLock { storage in
            if storage.entries[caseID] != nil {
                storage.entries[caseID] = Entry(blob: blob, state: state)
                return
            }
            if let oldest = storage.ring[storage.next] { storage.entries[oldest] = nil }
            storage.ring[storage.next] = caseID
            storage.next = (storage.next + 1) % capacity
            storage.entries[caseID] = Entry(blob: blob, state: state)
        }
    }

    /// Lookups answered from the cache and not, since the start.
    var counts: (hits: Int, misses: Int) { storage.withLock { ($0.hits, $0.misses) } }

    /// How many cases are remembered.
    var count: Int { storage.withLock { $0.entries.count } }
}
