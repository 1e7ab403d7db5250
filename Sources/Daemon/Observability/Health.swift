public import AMQP
import Foundation
import Synchronization

/// What `/readyz` answers: ready only while the broker connection is up (topology declared,
/// consumers subscribed), the pipeline is consuming and the last store probe could write.
/// The broker and consumer parts are read live; the store part comes from the monitor's
/// last probe (a probe takes the write lock, which must not happen on an HTTP thread).
public final class DaemonHealth: Sendable {
    let isBrokerConnected: @Sendable () -> Bool
    let isConsuming: @Sendable () -> Bool
    private let state = Mutex(State())

    struct State {
        var storeChecked = false
        var storeProblem: String?
        var stopping = false
    }

    /// Connected: every one of `clients` (the consuming and the publishing connection).
    public init(clients: [AMQPClient]) {
        self.isBrokerConnected = { clients.allSatisfy(\.isConnected) }
        self.isConsuming = { Observe.isConsuming }
    }

    public convenience init(client: AMQPClient) {
        self.init(clients: [client])
    }

    /// For tests: any source of the two live facts.
    init(brokerConnected: @escaping @Sendable () -> Bool, consuming: @escaping @Sendable () -> Bool) {
        self.isBrokerConnected = brokerConnected
        self.isConsuming = consuming
    }

    /// The result of a store probe: nil when writable, else why not.
    public func storeProbed(problem: String?) {
        state.withLock {
            $0.storeChecked = true
            $0.storeProblem = problem
        }
    }

    /// The last probe's problem (nil when writable or not probed yet).
    var storeProblem: String? { state.withLock { $0.storeProblem } }

    /// From now on not ready (graceful shutdown has begun).
    public func markStopping() {
        state.withLock { $0.stopping = true }
    }

    /// Ready or not, with a short reason (no personal data: it is served over HTTP).
    public func readiness() -> (ready: Bool, reason: String) {
        let s = state.withLock { $0 }
        if s.stopping { return (false, "stopping") }
        if !isBrokerConnected() { return (false, "broker not connected") }
        if !isConsuming() { return (false, "not consuming ddrouter.inbound") }
        if !s.storeChecked { return (false, "store not checked yet") }
        if let problem = s.storeProblem { return (false, problem) }
        return (true, "ready")
    }
}
