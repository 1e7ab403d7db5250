import Dispatch
import Foundation

/// SIGTERM/SIGINT handling of `ddrouter run` (issue 4: "a second signal exits at once
/// without losing anything").
///
/// The first signal starts the graceful shutdown (`onFirst` is called with its number). A
/// second one ends the process at once with `_exit(128 + signal)` (143 for SIGTERM, 130 for
/// SIGINT: non-zero, so systemd's `Restart=on-failure` applies when it was not a stop).
/// Nothing is lost: the store is the truth (a transaction not committed is rolled back on the
/// next open), unacked deliveries are redelivered by the broker, and outbox rows not
/// confirmed are sent again on the next start.
enum Signals {
    /// Replaces the default action of `signals` (so the first one does not kill the process)
    /// and handles them as described above. Keep the returned object alive while they matter.
    static func handle(_ signals: [Int32], onFirst: @escaping @Sendable (Int32) -> Void) -> Handler {
        let handler = Handler(onFirst: onFirst)
        handler.queue.sync {
            for s in signals {
                Foundation.signal(s, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: s, queue: handler.queue)
                source.setEventHandler { handler.fire(s) }
                source.resume()
                handler.sources[s] = source
            }
        }
        return handler
    }

    // @unchecked Sendable: every mutable field is read and written only on `queue`.
    final class Handler: @unchecked Sendable {
        let queue = DispatchQueue(label: "ddrouter.signals")
        let onFirst: @Sendable (Int32) -> Void
        var received = 0
        var sources: [Int32: any DispatchSourceSignal] = [:]

        init(onFirst: @escaping @Sendable (Int32) -> Void) {
            self.onFirst = onFirst
        }

        func fire(_ signal: Int32) {
            // Signals that arrived together are counted together.
            let count = max(1, Int(sources[signal]?.data ?? 1))
            received += count
            if received > 1 {
                // The second signal: leave now. _exit skips atexit handlers and buffered
                // output on purpose; the store needs no flush.
                let line = "ddrouter: second signal \(signal): exiting at once without finishing the shutdown\n"
                line.withCString { _ = write(2, $0, strlen($0)) }
                _exit(128 + signal)
            }
            onFirst(signal)
        }
    }
}
