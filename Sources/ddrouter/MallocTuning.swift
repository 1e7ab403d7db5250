import CMalloc
import Daemon
import Dispatch
import Foundation
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
/// on a thread of its own that lives as long as the daemon: never on Swift concurrency's
/// cooperative pool, since the call holds each arena's lock while it walks the free chunks,
/// and not on a dispatch queue, whose worker threads come and go (the soak counts threads).
///
/// glibc returns memory to the kernel on its own only from the top of an arena. The pages a
/// burst frees in the middle (a list's entries, a batch's rows between live ones) stay with
/// the process: in the soak they were a third of the daemon's anonymous RSS
/// (docs/operations.md, "Soak"). `malloc_trim(0)` releases every whole free page
/// (`MADV_DONTNEED`) and keeps the chunks, so the next allocation there costs a page fault,
/// not a system call. `memory.trim_seconds` sets the interval (30 s by default, 0 = never).
final class MemoryTrimmer: Sendable {
    let interval: Duration
    private let stopSignal = DispatchSemaphore(value: 0)
    private let started = Mutex(false)

    init(interval: Duration) { self.interval = interval }

    func start() {
        guard started.withLock({ let was = $0; $0 = true; return !was }) else { return }
        let (seconds, attoseconds) = interval.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        let stopSignal = stopSignal
        let thread = Thread {
            while stopSignal.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut {
                _ = malloc_trim(0)
            }
        }
        thread.name = "ddr-malloc-trim"  // at most 15 characters: a longer name is not set (pthread)
        thread.start()
    }

    /// No trim starts after this returns (one already running finishes); the thread ends.
    func stop() { stopSignal.signal() }
}
