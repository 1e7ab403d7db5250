import Daemon
import Foundation
import Synchronization
import Testing

/// `DDR_TEST_CLOCK_FILE` (issue 17, the soak): the daemon's clock is the wall clock plus the
/// seconds in a file an outside driver writes; read at most once a second, never backwards.
@Suite struct TestClockTests {
    final class Wall: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_796_300_000))
        func advance(_ seconds: TimeInterval) { now.withLock { $0.addTimeInterval(seconds) } }
        var date: Date { now.withLock { $0 } }
    }

    static func file(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("test-clock-\(getpid())-\(name)").path
    }

    @Test("the offset in the file is added to the wall clock, re-read at most once a second")
    func offsetFromFile() throws {
        let path = Self.file("offset")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "0\n".write(toFile: path, atomically: true, encoding: .utf8)
        let wall = Wall()
        let clock = TestClock(path: path, wall: { wall.date })
        #expect(clock.now() == wall.date)

        try "86400\n".write(toFile: path, atomically: true, encoding: .utf8)
        wall.advance(0.5)
        #expect(clock.now() == wall.date, "read at most once a second")
        wall.advance(0.6)
        #expect(clock.now() == wall.date.addingTimeInterval(86_400))
        #expect(clock.offset == 86_400)
    }

    @Test("the clock never runs backwards: a smaller, garbled or missing value keeps the offset")
    func onlyForward() throws {
        let path = Self.file("forward")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "7200".write(toFile: path, atomically: true, encoding: .utf8)
        let wall = Wall()
        let clock = TestClock(path: path, wall: { wall.date })
        #expect(clock.offset == 7_200)
        for text in ["3600", "soon", "-1", "nan", "inf"] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            wall.advance(2)
            #expect(clock.now() == wall.date.addingTimeInterval(7_200), "after \(text)")
        }
        try FileManager.default.removeItem(atPath: path)
        wall.advance(2)
        #expect(clock.now() == wall.date.addingTimeInterval(7_200), "file gone")
    }
}
