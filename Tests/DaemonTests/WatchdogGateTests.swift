import Daemon
import Testing

/// Issue 5: WATCHDOG=1 depends on liveness (WatchdogGate), not on a free-running timer.
@Suite("Watchdog gate")
struct WatchdogGateTests {
    let gate = WatchdogGate(pingInterval: .seconds(15))

    @Test("alive: I/O loop recent, pipeline idle or briefly busy")
    func alive() {
        #expect(gate.problem(ioLoopSilence: .milliseconds(100), pipelineBusy: .zero) == nil)
        #expect(gate.problem(ioLoopSilence: .milliseconds(100), pipelineBusy: .seconds(3)) == nil)
    }

    @Test("no ping when the I/O thread is stuck or gone")
    func ioStuck() {
        #expect(gate.problem(ioLoopSilence: .seconds(15), pipelineBusy: .zero)?.contains("I/O thread") == true)
        #expect(gate.problem(ioLoopSilence: nil, pipelineBusy: .zero)?.contains("not running") == true)
    }

    @Test("no ping when the pipeline is stuck on one delivery")
    func pipelineStuck() {
        #expect(gate.problem(ioLoopSilence: .milliseconds(50), pipelineBusy: .seconds(16))?.contains("pipeline") == true)
    }
}
