import Foundation
import Testing

@testable import AMQP

/// The write watchdog on a local socket pair (no broker, no network): a write blocked on a
/// peer that reads nothing is cut after `silence` when nothing arrives either (a dead path),
/// and left alone while the peer keeps sending (a live broker's heartbeats during an alarm).
@Suite("AMQP write watchdog")
struct WriteWatchdogTests {
    /// Blocks a thread writing into `fd` (the peer reads nothing) and returns when the write
    /// fails, with how long it took; `nil` if it was still blocked after `within`.
    static func blockedWrite(_ fd: Int32, watchdog: Watchdog, within: Duration) async -> Duration? {
        let done = DispatchSemaphore(value: 0)
        let start = ContinuousClock.now
        let thread = Thread {
            var small: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            let chunk = [UInt8](repeating: 7, count: 64 * 1024)
            watchdog.enter(fd: fd)
            defer { watchdog.leave() }
            // MSG_NOSIGNAL as rabbitmq-c sends: the shut-down socket fails the call, no SIGPIPE.
            while chunk.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) > 0 {}
            done.signal()
        }
        thread.start()
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if done.wait(timeout: .now()) == .success { return ContinuousClock.now - start }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
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
        watchdog.start(limit: .seconds(60), silence: .seconds(1))
        defer { watchdog.stop() }
        let took = await Self.blockedWrite(a, watchdog: watchdog, within: .seconds(10))
        #expect(took != nil, "the blocked write was not cut within 10 s")
        if let took { #expect(took < .seconds(3), "cut after \(took), silence bound 1 s") }
    }

    @Test("a write blocked while the peer keeps sending (heartbeats) is left until the publish bound")
    func livePeerIsNotCut() async {
        let (a, b) = Self.pair()
        defer { close(a); close(b) }
        let watchdog = Watchdog()
        watchdog.start(limit: .seconds(4), silence: .seconds(1))
        defer { watchdog.stop() }
        let beating = Task.detached {
            var byte: UInt8 = 8
            while !Task.isCancelled {
                _ = send(b, &byte, 1, Int32(MSG_NOSIGNAL))
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
        defer { beating.cancel() }
        let took = await Self.blockedWrite(a, watchdog: watchdog, within: .seconds(10))
        #expect(took != nil, "the publish bound did not cut the write either")
        if let took { #expect(took >= .seconds(4) && took < .seconds(6), "cut after \(took): the live peer's bytes should have kept it") }
    }
}
