/// glibc malloc parameters for `ddrouter run` (docs/performance.md, section 4).
///
/// Two defaults of glibc's allocator made a big list cost far more memory than it holds:
/// it raises its mmap threshold after the first large block is freed (up to 32 MiB), so
/// later 16 MiB message bodies and entry arrays come from the heap and their pages stay with
/// the process after `free`; and it creates up to 8 arenas per core, one per thread that
/// allocates, each keeping its own freed memory. With the threshold fixed at 256 KiB (so the
/// allocator no longer adjusts it: every block from that size up is its own mapping, returned
/// on `free`) and at most 2 arenas, the 100,000-citizen list peaked at 171 MiB instead of
/// 234-238 MiB (measured twice each, same build, same machine).
///
/// An operator's `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` in the environment (which
/// glibc reads itself) wins: that parameter is then left alone.
public struct MallocSettings: Sendable, Equatable {
    /// `M_ARENA_MAX`, or nil to leave it to glibc.
    public var arenaMax: Int32?
    /// `M_MMAP_THRESHOLD` in bytes, or nil to leave it to glibc.
    public var mmapThreshold: Int32?

    public static let arenaMaxDefault: Int32 = 2
    public static let mmapThresholdDefault: Int32 = 256 * 1024

    public init(arenaMax: Int32?, mmapThreshold: Int32?) {
        self.arenaMax = arenaMax
        self.mmapThreshold = mmapThreshold
    }

    /// The daemon's settings, minus what `environment` already sets.
    public static func forDaemon(environment: [String: String]) -> MallocSettings {
        MallocSettings(
            arenaMax: environment["MALLOC_ARENA_MAX"] == nil ? arenaMaxDefault : nil,
            mmapThreshold: environment["MALLOC_MMAP_THRESHOLD_"] == nil ? mmapThresholdDefault : nil)
    }
}
