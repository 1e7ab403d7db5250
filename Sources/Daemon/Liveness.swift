import Foundation
import Synchronization

/// A one-way flag, set once from any thread (a graceful-shutdown request).
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// How long a loop with work in hand has gone without progress (0 while it has none). The
/// pipeline has several deliveries in hand at once (group commit): each counts from `enter`
/// to `leave`, and taking one, handing one's write over (`progress`), finishing a slice of
/// a list message (`progress`) or settling one is progress. So this is how long the slowest
/// step in hand has taken so far: one delivery's handling, one slice or one transaction,
/// not the time a delivery waited behind others.
final class BusyClock: Sendable {
    private struct State {
        var inHand = 0
        var since: Int64 = 0  // ns of the monotonic clock: the last progress
        var progressed = 0  // `progress()` calls (for tests)
    }
    private let state = Mutex(State())

    func enter() {
        let now = Self.now()
        state.withLock { s in
            s.inHand += 1
            s.since = now
        }
    }

    func progress() {
        let now = Self.now()
        state.withLock {
            $0.since = now
            $0.progressed += 1
        }
    }

    /// How many times `progress()` was called (for tests).
    var progressCount: Int { state.withLock { $0.progressed } }

    func leave() {
        let now = Self.now()
        state.withLock { s in
            s.inHand = max(0, s.inHand - 1)
            s.since = now
        }
    }

    /// How many deliveries are in hand (taken and not yet settled).
    var inHand: Int { state.withLock { $0.inHand } }

    /// When progress was last recorded (`now()`'s clock; for tests).
    var lastProgress: Int64 { state.withLock { $0.since } }

    /// How long since the last progress while work is in hand; zero when idle (waiting is healthy).
    var busyFor: Duration {
        let (inHand, since) = state.withLock { ($0.inHand, $0.since) }
        return inHand == 0 ? .zero : .nanoseconds(max(0, Self.now() - since))
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
/// pipeline must have made progress within `limit` while it has deliveries in hand (one
/// delivery, one slice of a list, one transaction; waiting for a delivery is healthy: an
/// idle daemon pings). Without pings systemd restarts the service
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
        if pipelineBusy >= limit { return "the pipeline has made no progress (a delivery, or a slice of a list) for \(pipelineBusy)" }
        return nil
    }
}
