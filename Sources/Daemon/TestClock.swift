public import Foundation
import Synchronization

/// A clock for a TEST installation that an outside driver moves forward while the daemon
/// runs: `DDR_TEST_CLOCK_FILE` names a file holding a number of seconds (decimal, ≥ 0) that
/// the daemon adds to the wall clock. The soak (`make soak`, docs/operations.md) uses it to
/// make timers due without stopping the daemon; `ddrouter timers run --as-of` does the same
/// for a stopped one.
///
/// The file is read at most once a second; the offset only grows (a smaller or unreadable
/// value keeps the last one), so the clock never runs backwards. `RunCommand` accepts the
/// variable only with `store.dev_key` and outside systemd, like `timers run`; nothing in the
/// daemon reads it otherwise.
public final class TestClock: Sendable {
    public static let variable = "DDR_TEST_CLOCK_FILE"

    public let path: String
    let wall: @Sendable () -> Date
    private struct State {
        var offset: TimeInterval = 0
        var readAt: Date = .distantPast
    }
    private let state = Mutex(State())

    /// `wall` is the clock the offset is added to (tests pass their own).
    public init(path: String, wall: @escaping @Sendable () -> Date = { Date() }) {
        self.path = path
        self.wall = wall
        _ = now()
    }

    /// The offset in force (seconds).
    public var offset: TimeInterval { state.withLock { $0.offset } }

    public func now() -> Date {
        let wall = self.wall()
        return state.withLock { s in
            if wall.timeIntervalSince(s.readAt) >= 1 {
                s.readAt = wall
                if let text = try? String(contentsOfFile: path, encoding: .utf8),
                    let value = TimeInterval(text.trimmingCharacters(in: .whitespacesAndNewlines)), value.isFinite,
                    value > s.offset
                {
                    s.offset = value
                }
            }
            return wall.addingTimeInterval(s.offset)
        }
    }
}
