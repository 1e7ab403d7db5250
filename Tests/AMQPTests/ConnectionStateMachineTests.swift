@testable import AMQP
import Testing

@Suite("ConnectionStateMachine")
struct ConnectionStateMachineTests {
    let backoff = AMQPConfiguration.Backoff(initial: .milliseconds(100), maximum: .seconds(10), multiplier: 2)

    @Test func startConnectsOnce() {
        var m = ConnectionStateMachine(backoff: backoff)
        #expect(m.start() == .connect)
        #expect(m.start() == .none)
        #expect(m.attempt == 1)
        #expect(!m.isConnected)
    }

    @Test func successServes() throws {
        var m = ConnectionStateMachine(backoff: backoff)
        _ = m.start()
        #expect(try m.connectSucceeded() == .serve)
        #expect(m.isConnected)
    }

    @Test func failedAttemptsBackOffExponentiallyUpToTheCap() throws {
        var m = ConnectionStateMachine(backoff: backoff)
        _ = m.start()
        var delays: [Duration] = []
        for expectedAttempt in 1...10 {
            #expect(m.attempt == expectedAttempt)
            guard case .scheduleReconnect(let d, let failInFlight) = try m.connectFailed(jitter: 0) else {
                Issue.record("expected a reconnect")
                return
            }
            #expect(!failInFlight, "nothing was in flight before the first connect")
            delays.append(d)
            #expect(try m.backoffElapsed() == .connect)
        }
        // jitter 0 gives half the nominal delay: 100 ms · 2^(n-1) / 2, capped at 10 s / 2.
        let expected: [Duration] = [.milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400),
                                    .milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(5000),
                                    .milliseconds(5000), .milliseconds(5000)]
        #expect(delays == expected)
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.999])
    func jitterStaysWithinHalfAndFullNominal(jitter: Double) {
        let m = ConnectionStateMachine(backoff: backoff)
        for n in 0..<12 {
            let d = m.delay(forAttempt: n, jitter: jitter)
            let nominal = min(Duration.seconds(10), .milliseconds(100) * (1 << n))
            #expect(d >= nominal / 2 && d <= nominal, "attempt \(n): \(d) outside [\(nominal / 2), \(nominal)]")
        }
    }

    @Test func lossFailsInFlightAndRestartsTheAttemptCount() throws {
        var m = ConnectionStateMachine(backoff: backoff)
        _ = m.start()
        _ = try m.connectFailed(jitter: 0)
        _ = try m.backoffElapsed()
        _ = try m.connectSucceeded()
        #expect(try m.connectionLost(jitter: 0) == .scheduleReconnect(after: .milliseconds(50), failInFlight: true))
        #expect(!m.isConnected)
        #expect(try m.backoffElapsed() == .connect)
        #expect(m.attempt == 1)
    }

    @Test func blockedHoldsAndUnblockedResumes() throws {
        var m = ConnectionStateMachine(backoff: backoff)
        _ = m.start()
        _ = try m.connectSucceeded()
        #expect(try m.unblocked() == .none, "unblocked while not blocked changes nothing")
        #expect(try m.blocked(reason: "low on memory") == .holdPublishes(reason: "low on memory"))
        #expect(m.blockedReason == "low on memory")
        #expect(try m.unblocked() == .resumePublishes)
        #expect(m.blockedReason == nil)
        _ = try m.blocked(reason: "low on disk")
        _ = try m.connectionLost(jitter: 0)
        #expect(m.blockedReason == nil, "a new connection starts unblocked")
    }

    @Test func closeFromEveryStateShutsDownOnce() throws {
        var idle = ConnectionStateMachine(backoff: backoff)
        #expect(idle.closeRequested() == .shutDown)
        #expect(idle.closeRequested() == .none)
        #expect(idle.start() == .none, "a closed machine does not start again")

        var connecting = ConnectionStateMachine(backoff: backoff)
        _ = connecting.start()
        #expect(connecting.closeRequested() == .shutDown)
        #expect(try connecting.connectSucceeded() == .shutDown, "a connect that completes after close is shut down")

        var connected = ConnectionStateMachine(backoff: backoff)
        _ = connected.start()
        _ = try connected.connectSucceeded()
        #expect(connected.closeRequested() == .shutDown)
        #expect(try connected.connectionLost(jitter: 0.5) == .shutDown)
        #expect(connected.isClosed)

        var waiting = ConnectionStateMachine(backoff: backoff)
        _ = waiting.start()
        _ = try waiting.connectFailed(jitter: 0)
        #expect(waiting.closeRequested() == .shutDown)
        #expect(try waiting.backoffElapsed() == .shutDown)
    }

    @Test func impossibleEventsAreRejectedNotIgnored() throws {
        var m = ConnectionStateMachine(backoff: backoff)
        #expect(throws: ConnectionStateMachine.Failure.self) { try m.connectSucceeded() }
        #expect(throws: ConnectionStateMachine.Failure.self) { try m.connectionLost(jitter: 0) }
        #expect(throws: ConnectionStateMachine.Failure.self) { try m.blocked(reason: "x") }
        _ = m.start()
        #expect(throws: ConnectionStateMachine.Failure.self) { try m.backoffElapsed() }
        _ = try m.connectSucceeded()
        #expect(throws: ConnectionStateMachine.Failure.self) { try m.connectFailed(jitter: 0) }
        #expect(throws: ConnectionStateMachine.Failure.self) { try m.backoffElapsed() }
    }
}
