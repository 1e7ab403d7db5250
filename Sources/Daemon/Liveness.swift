import Foundation
import Synchronization

/// A one-way flag, set once from any thread (a graceful-shutdown request).
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// How long a loop has been busy with one piece of work (0 while it waits for the next).
final class BusyClock: Sendable {
    private let since = Atomic<Int64>(0)  // ns of the monotonic clock, 0 = idle

    func enter() { since.store(Self.now(), ordering: .relaxed) }
    func leave() { since.store(0, ordering: .relaxed) }

    /// How long the current piece of work has taken so far; zero when idle (waiting is healthy).
    var busyFor: Duration {
        let start = since.load(ordering: .relaxed)
        return start == 0 ? .zero : .nanoseconds(max(0, Self.now() - start))
    }

    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// Whether `ddrouter run` may tell systemd it is alive (`WATCHDOG=1`, issue 5). A ping
/// proves liveness, not just that a timer task runs: the AMQP I/O thread must have gone round
/// its loop within `limit` (it does so at least every 100 ms, connected or not) and the
/// pipeline must not have been busy with one delivery for `limit` or longer (waiting for a
/// delivery is healthy: an idle daemon pings). Without pings systemd restarts the service
/// `WatchdogSec` after the last one.
public struct WatchdogGate: Sendable, Hashable {
    public var limit: Duration

    public init(limit: Duration) { self.limit = limit }

    /// The limit for a ping interval (half of `WATCHDOG_USEC`): one interval.
    public init(pingInterval: Duration) { self.limit = pingInterval }

    /// Nil when alive, else why no ping is due (for a log line).
    public func problem(ioLoopSilence: Duration?, pipelineBusy: Duration) -> String? {
        guard let silence = ioLoopSilence else { return "the AMQP I/O thread is not running" }
        if silence >= limit { return "the AMQP I/O thread has not gone round its loop for \(silence)" }
        if pipelineBusy >= limit { return "the pipeline has been processing one delivery for \(pipelineBusy)" }
        return nil
    }
}
