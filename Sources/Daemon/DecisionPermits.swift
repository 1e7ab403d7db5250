import Synchronization

/// How many decisions made ahead of the writer may exist at once (decided, not yet written):
/// each holds a step's new case states, history and outbound bodies (a few MiB for a
/// 500-entry contact-status). Without a bound, every journal answer taken while the writer
/// is busy was decided and kept until its turn, and the 100,000-citizen list peaked at
/// 241 MiB instead of 165-170 (docs/performance.md, 3e). A delivery that finds no permit
/// waits before it is decided, so the pipeline takes no further delivery meanwhile: the
/// writer sets the pace, as its queue bound (`batchLimit`) does.
final class DecisionPermits: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(_ count: Int) {
        state = Mutex(State(available: max(1, count)))
    }

    /// Takes a permit, waiting until one is returned if none is free.
    func acquire() async {
        let free = state.withLock { s -> Bool in
            guard s.available > 0 else { return false }
            s.available -= 1
            return true
        }
        if free { return }
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(waiter)
                return false
            }
            if now { waiter.resume() }
        }
    }

    /// Returns a permit: to the longest waiter, or to the pool.
    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.available += 1
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Permits free now, and acquirers waiting (for tests).
    var available: Int { state.withLock { $0.available } }
    var waiting: Int { state.withLock { $0.waiters.count } }
}
