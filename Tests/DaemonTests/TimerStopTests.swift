@testable import Daemon
import Foundation
import Logging
import Store
import Testing

/// A pass of the timer runner stops at `stop()` (the soak found a shutdown held up for
/// minutes by a backlog of due timers): the timers not fired stay due for the next start.
@Suite("TimerRunner stops between timers")
struct TimerStopTests {
    /// `count` timers without a case, due before `ListSliceTests.now` (each fires as an orphan).
    static func schedule(_ count: Int, in store: Store) throws {
        try store.write { tx in
            for i in 0..<count {
                _ = try tx.schedule(TimerRecord(
                    timerID: "timer/none/test/\(i)", caseID: nil, kind: "assessment-reminder",
                    dueAt: ListSliceTests.now.addingTimeInterval(-3600), payload: Data(#"{"kind":"assessment-reminder"}"#.utf8),
                    createdAt: ListSliceTests.now.addingTimeInterval(-7200)))
            }
        }
    }

    @Test("after stop() a pass fires nothing and every due timer stays due; a runner not stopped fires them all")
    func stopBetweenTimers() throws {
        let rig = try ListSliceTests.Rig()
        defer { rig.close() }
        try Self.schedule(5, in: rig.store)
        let stopped = TimerRunner(pipeline: rig.pipeline, store: rig.store, logger: Logger(label: "test.timers"), batchSize: 2)
        stopped.stop()
        #expect(stopped.fireDue() == 0)
        #expect(try rig.store.dueTimers(at: ListSliceTests.now, limit: 100).count == 5, "nothing fired after stop")
        let running = TimerRunner(pipeline: rig.pipeline, store: rig.store, logger: Logger(label: "test.timers"), batchSize: 2)
        _ = running.fireDue()
        #expect(try rig.store.dueTimers(at: ListSliceTests.now, limit: 100).isEmpty, "a pass fires every due timer")
    }
}
