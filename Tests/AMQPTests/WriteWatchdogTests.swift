import Foundation
import Synchronization
import Testing

@testable import AMQP

/// The write watchdog on a local socket pair (no broker, no network): a write blocked on a
/// peer that reads nothing is cut after `silence` when nothing arrives either (a dead path),
/// and left alone while the peer keeps sending (a live broker's heartbeats during an alarm).
@Suite("AMQP write watchdog")
struct WriteWatchdogTests {
    /// Blocks a thread writing into `fd` (the peer reads nothing) and returns how long the
    /// write was blocked before it failed, timed on that thread (the async caller may be
    /// scheduled late on a busy machine); `nil` if it was still blocked after `within`.
    static func blockedWrite(_ fd: Int32, watchdog: Watchdog, within: Duration) async -> Duration? {
        let took = Mutex<Duration?>(nil)
        let thread = Thread {
            var small: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            let chunk = [UInt8](repeating: 7, count: 64 * 1024)
            let start = ContinuousClock.now
            watchdog.enter(fd: fd)
            defer { watchdog.leave() }
            // MSG_NOSIGNAL as rabbitmq-c sends: the shut-down socket fails the call, no SIGPIPE.
            while chunk.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) > 0 {}
            let elapsed = ContinuousClock.now - start
            took.withLock { $0 = elapsed }
        }
        thread.start()
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if let elapsed = took.withLock({ $0 }) { return elapsed }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return took.withLock { $0 }
    }

    static func pair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
        precondition(rc == 0)
        return (fds[0], fds[1])
    }

    @Test("a write blocked with nothing arriving is cut after the silence bound, long before the publish bound")
    func silentPathIsCut() async {
        let (a, b) = Self.pair()
        defer { close(a); close(b) }
        let watchdog = Watchdog()
        watchdog.start(limit: .seconds(60), silence: .seconds(2))
        defer { watchdog.stop() }
        let took = await Self.blockedWrite(a, watchdog: watchdog, within: .seconds(30))
        #expect(took != nil, "the blocked write was not cut within 30 s")
        if let took { #expect(took < .seconds(8), "cut after \(took), silence bound 2 s, publish bound 60 s") }
    }

    @Test("a write blocked while the peer keeps sending (heartbeats) is left until the publish bound")
    func livePeerIsNotCut() async {
        let (a, b) = Self.pair()
        defer { close(a); close(b) }
        let watchdog = Watchdog()
        watchdog.start(limit: .seconds(5), silence: .seconds(2))
        defer { watchdog.stop() }
        // An OS thread, not a task: the peer's bytes must not wait for a busy cooperative pool.
        let stop = Atomic<Bool>(false)
        let beating = Thread {
            var byte: UInt8 = 8
            while !stop.load(ordering: .relaxed) {
                _ = send(b, &byte, 1, Int32(MSG_NOSIGNAL))
                usleep(200_000)
            }
        }
        beating.start()
        defer { stop.store(true, ordering: .relaxed) }
        let took = await Self.blockedWrite(a, watchdog: watchdog, within: .seconds(30))
        #expect(took != nil, "the publish bound did not cut the write either")
        if let took { #expect(took >= .seconds(5) && took < .seconds(15), "cut after \(took): the live peer's bytes should have kept it to the 5 s bound") }
    }
}
