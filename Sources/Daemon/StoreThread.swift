import Foundation

/// A thread of the store's own for blocking calls (SQLite I/O, fsync) made from async code:
/// Swift concurrency's cooperative pool has one thread per core (two here), and a store call
/// that waits for a lock or the disk on it stalls every task scheduled there (the AMQP
/// client's, the HTTP endpoint's). The group commit writes on its own queue
/// (`CommitBatcher`); the outbox relay, the timer runner and the pipeline's dedupe read run
/// their store calls here, one after another.
final class StoreThread: Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label, qos: .userInitiated)
    }

    /// Runs `body` on this thread and returns its result to the caller's task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
