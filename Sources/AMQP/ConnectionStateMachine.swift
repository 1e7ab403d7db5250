/// The life cycle of one broker connection, as a pure value type: no I/O, no clock, no
/// randomness. The I/O thread feeds it what happened and performs the action it returns.
///
/// ```
///   idle ──start──▶ connecting ──succeeded──▶ connected ──lost──▶ waiting ──elapsed──▶ connecting
///                      │  ▲                      │                  ▲
///                      └──┴──failed──▶ waiting ──┘ (blocked/unblocked stay in connected)
///   any ──closeRequested──▶ closed
/// ```
public struct ConnectionStateMachine: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case idle
        case connecting(attempt: Int)
        case connected(blockedReason: String?)
        case waitingToReconnect(attempt: Int)
        case closed
    }

    public enum Action: Sendable, Equatable {
        /// Open a socket to the endpoints in order, log in, open channels, declare topology,
        /// resubscribe consumers.
        case connect
        /// Connected: run the I/O loop (publish, consume, confirms, heartbeats).
        case serve
        /// Wait this long, then report `backoffElapsed`. `failInFlight` says whether
        /// publishes written to the dead connection must be failed as unconfirmed.
        case scheduleReconnect(after: Duration, failInFlight: Bool)
        /// Stop publishing until unblocked; queued publishes keep their deadlines.
        case holdPublishes(reason: String)
        case resumePublishes
        /// Fail everything still pending and release the connection.
        case shutDown
        /// The event does not change anything (e.g. a close after close).
        case none
    }

    public enum Failure: Error, Sendable, Equatable {
        case unexpected(event: String, state: String)
    }

    private(set) var state: State = .idle
    public let backoff: AMQPConfiguration.Backoff

    public init(backoff: AMQPConfiguration.Backoff) {
        self.backoff = backoff
    }

    public var isConnected: Bool {
        switch state {
        case .connected: return true
        case .idle, .connecting, .waitingToReconnect, .closed: return false
        }
    }

    public var blockedReason: String? {
        switch state {
        case .connected(let reason): return reason
        case .idle, .connecting, .waitingToReconnect, .closed: return nil
        }
    }

    public var isClosed: Bool { state == .closed }

    /// Number of the connection attempt in progress or next (1 for the first).
    public var attempt: Int {
        switch state {
        case .connecting(let a), .waitingToReconnect(let a): return a
        case .idle, .connected, .closed: return 0
        }
    }

    public mutating func start() -> Action {
        switch state {
        case .idle:
            state = .connecting(attempt: 1)
            return .connect
        case .connecting, .connected, .waitingToReconnect, .closed:
            return .none
        }
    }

    public mutating func connectSucceeded() throws(Failure) -> Action {
        switch state {
        case .connecting:
            state = .connected(blockedReason: nil)
            return .serve
        case .closed:
            return .shutDown
        case .idle, .connected, .waitingToReconnect:
            throw .unexpected(event: "connectSucceeded", state: "\(state)")
        }
    }

    /// `jitter` is a number in [0, 1) drawn by the caller (tests pass fixed values).
    public mutating func connectFailed(jitter: Double) throws(Failure) -> Action {
        switch state {
        case .connecting(let attempt):
            state = .waitingToReconnect(attempt: attempt + 1)
            return .scheduleReconnect(after: delay(forAttempt: attempt - 1, jitter: jitter), failInFlight: false)
        case .closed:
            return .shutDown
        case .idle, .connected, .waitingToReconnect:
            throw .unexpected(event: "connectFailed", state: "\(state)")
        }
    }

    public mutating func connectionLost(jitter: Double) throws(Failure) -> Action {
        switch state {
        case .connected:
            state = .waitingToReconnect(attempt: 1)
            return .scheduleReconnect(after: delay(forAttempt: 0, jitter: jitter), failInFlight: true)
        case .closed:
            return .shutDown
        case .idle, .connecting, .waitingToReconnect:
            throw .unexpected(event: "connectionLost", state: "\(state)")
        }
    }

    public mutating func backoffElapsed() throws(Failure) -> Action {
        switch state {
        case .waitingToReconnect(let attempt):
            state = .connecting(attempt: attempt)
            return .connect
        case .closed:
            return .shutDown
        case .idle, .connecting, .connected:
            throw .unexpected(event: "backoffElapsed", state: "\(state)")
        }
    }

    public mutating func blocked(reason: String) throws(Failure) -> Action {
        switch state {
        case .connected:
            state = .connected(blockedReason: reason)
            return .holdPublishes(reason: reason)
        case .closed:
            return .none
        case .idle, .connecting, .waitingToReconnect:
            throw .unexpected(event: "blocked", state: "\(state)")
        }
    }

    public mutating func unblocked() throws(Failure) -> Action {
        switch state {
        case .connected(let reason):
            state = .connected(blockedReason: nil)
            return reason == nil ? .none : .resumePublishes
        case .closed:
            return .none
        case .idle, .connecting, .waitingToReconnect:
            throw .unexpected(event: "unblocked", state: "\(state)")
        }
    }

    public mutating func closeRequested() -> Action {
        switch state {
        case .closed:
            return .none
        case .idle, .connecting, .connected, .waitingToReconnect:
            state = .closed
            return .shutDown
        }
    }

    /// Delay before attempt `n + 1`: capped exponential growth with equal jitter, so the
    /// delay is never below half the nominal value (no reconnect storms at zero delay) and
    /// never above the cap.
    public func delay(forAttempt n: Int, jitter: Double) -> Duration {
        let initial = backoff.initial.seconds
        let cap = backoff.maximum.seconds
        let nominal = min(cap, initial * pow(backoff.multiplier, Double(max(0, n))))
        let j = min(max(jitter, 0), 0.999_999)
        let seconds = nominal / 2 + nominal / 2 * j
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    // Integer exponents only (attempt numbers); avoids importing Foundation here.
    var result = 1.0
    var e = Int(exponent)
    while e > 0 {
        result *= base
        e -= 1
        if result > 1e12 { break }
    }
    return result
}
