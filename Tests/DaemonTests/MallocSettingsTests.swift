import Daemon
import Testing

@Suite("glibc malloc settings of `ddrouter run`")
struct MallocSettingsTests {
    @Test("both parameters are set when the environment names neither")
    func defaults() {
        let s = MallocSettings.forDaemon(environment: ["PATH": "/usr/bin"])
        #expect(s == MallocSettings(arenaMax: 2, mmapThreshold: 256 * 1024))
    }

    @Test("an operator's MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_ wins: that one is left to glibc")
    func environmentWins() {
        #expect(MallocSettings.forDaemon(environment: ["MALLOC_ARENA_MAX": "4"])
            == MallocSettings(arenaMax: nil, mmapThreshold: 256 * 1024))
        #expect(MallocSettings.forDaemon(environment: ["MALLOC_MMAP_THRESHOLD_": "1048576"])
            == MallocSettings(arenaMax: 2, mmapThreshold: nil))
    }
}
