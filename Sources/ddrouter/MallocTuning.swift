import CMalloc
import Daemon
import Dispatch
import Synchronization

extension MallocSettings {
    /// Sets the parameters that are not nil (glibc `mallopt`); returns those it could not set.
    func apply() -> [String] {
        var failed: [String] = []
        if let arenaMax, mallopt(M_ARENA_MAX, arenaMax) != 1 { failed.append("M_ARENA_MAX") }
        if let mmapThreshold, mallopt(M_MMAP_THRESHOLD, mmapThreshold) != 1 { failed.append("M_MMAP_THRESHOLD") }
        return failed
    }
}

/// Hands the heap's free pages back to the kernel every `interval` (glibc `malloc_trim(0)`),
/// on its own utility queue: never on Swift concurrency's cooperative pool, since the call
/// holds each arena's lock while it walks the free chunks.
///
/// glibc returns memory to the kernel on its own only from the top of an arena. The pages a
/// burst frees in the middle (a list's entries, a batch's rows between live ones) stay with
/// the process: in the one-hour soak they were a third of the daemon's anonymous RSS and made
/// it climb for as long as the store grew (docs/performance.md, section 4). `malloc_trim(0)`
/// releases every whole free page (`MADV_DONTNEED`) and keeps the chunks, so the next
/// allocation there costs a page fault, not a system call. `memory.trim_seconds` sets the
/// interval (30 s by default, 0 = never).
final class MemoryTrimmer: Sendable {
    let interval: Duration
    private let queue = DispatchQueue(label: "ddrouter.malloc-trim", qos: .utility)
    private let stopped = Mutex(false)

    init(interval: Duration) { self.interval = interval }

    func start() { schedule() }

    /// No trim starts after this returns (one already running finishes).
    func stop() { stopped.withLock { $0 = true } }

    private func schedule() {
        let (seconds, attoseconds) = interval.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            if stopped.withLock({ $0 }) { return }
            _ = malloc_trim(0)
            schedule()
        }
    }
}
