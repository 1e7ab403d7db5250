import CMalloc
import Daemon

extension MallocSettings {
    /// Sets the parameters that are not nil (glibc `mallopt`); returns those it could not set.
    func apply() -> [String] {
        var failed: [String] = []
        if let arenaMax, mallopt(M_ARENA_MAX, arenaMax) != 1 { failed.append("M_ARENA_MAX") }
        if let mmapThreshold, mallopt(M_MMAP_THRESHOLD, mmapThreshold) != 1 { failed.append("M_MMAP_THRESHOLD") }
        return failed
    }
}
