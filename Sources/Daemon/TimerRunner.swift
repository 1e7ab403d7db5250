import Foundation
public import Logging
public import Store
import Synchronization
import Workflow
import Contract

/// Fires the cases' timers (R1 status-unknown timeout, assessment and meeting reminders,
/// the agreed transition date, the R10 treatment-start warnings).
///
/// Every `interval` it takes the timers due at the injected clock's now (`Store.dueTimers`)
/// and fires each in ONE store transaction: mark it fired (`StoreTransaction.markFired`,
/// true exactly once per timer), apply `CaseInput.timerFired(kind)` to the case with the
/// timer's id as the inbound reference, and record the case, its history, the outbox rows,
/// audit entries and follow-up timers. A crash before the commit leaves the timer pending
/// (it fires after the restart); after the commit it is fired and never fires again. A
/// timer the case no longer expects (stale: the input it waited for came) is marked fired
/// and noted in the history; it publishes nothing.
///
/// Durations come from `WorkflowConfiguration.timers` (days; due at midnight
/// Europe/Copenhagen of the due day). Tests inject a clock and move it forward.
public final class TimerRunner: Sendable {
    let pipeline: Pipeline
    let store: Store
    let logger: Logger
    let interval: Duration
    let batchSize: Int
    private let state = Mutex(false)
    let storeThread = StoreThread(label: "ddrouter.timers.store")

    public init(pipeline: Pipeline, store: Store, logger: Logger, interval: Duration = .seconds(1), batchSize: Int = 256) {
        self.pipeline = pipeline
        self.store = store
        self.logger = logger
        self.interval = interval
        self.batchSize = batchSize
    }

    /// Fires due timers every `interval` until `stop` (or cancellation).
    public func run() async {
        while !state.withLock({ $0 }) && !Task.isCancelled {
            // Store calls block: run the pass on the runner's own thread, not the cooperative pool.
            _ = try? await storeThread.run { [self] in fireDue() }
            try? await Task.sleep(for: interval)
        }
    }

    /// Asks `run` to return: a pass in hand stops after the timer it is firing (the rest
    /// stay due and fire on the next start), so a backlog of due timers cannot hold up a
    /// shutdown.
    public func stop() {
        state.withLock { $0 = true }
    }

    var stopping: Bool { state.withLock { $0 } }

    /// One pass: fires every timer due now (in batches) until `stop`; returns how many
    /// published or changed their case (stale timers are marked fired but not counted).
    @discardableResult
    public func fireDue() -> Int {
        var fired = 0
        while !stopping {
            let due: [TimerRecord]
            do {
                due = try store.dueTimers(at: pipeline.options.clock(), limit: batchSize)
            } catch {
                logger.warning("reading due timers failed", metadata: ["error": "\(error)"])
                return fired
            }
            if due.isEmpty { return fired }
            var progressed = false
            for timer in due {
                if stopping { return fired }
                do {
                    switch try fire(timer) {
                    case .fired: fired += 1; progressed = true
                    case .stale, .orphan: progressed = true
                    case .alreadyFired: break
                    }
                } catch {
                    logger.warning("firing a timer failed; it stays due", metadata: [
                        "timer.kind": "\(timer.kind)", "error": "\(error)",
                    ])
                }
            }
            if !progressed || due.count < batchSize { return fired }
        }
        return fired
    }

    enum Outcome: Equatable {
        case fired
        /// The case no longer expects it (workflow's rejection); nothing published.
        case stale
        /// No case or an unknown kind: marked fired, logged.
        case orphan
        /// Another pass fired it first.
        case alreadyFired
    }

    func fire(_ timer: TimerRecord) throws -> Outcome {
        let now = pipeline.options.clock()
        var decided = (events: 0, held: 0)
        let outcome: Outcome
        do {
            outcome = try store.write { tx -> Outcome in
                let snapshot = try timer.caseID.map { try CaseSnapshot.load($0, in: tx, cache: pipeline.stateCache) } ?? CaseSnapshot()
                let (unit, outcome) = try pipeline.decide.timer(timer, snapshot: snapshot, at: now)
                try unit.apply(in: tx, remembering: pipeline.stateCache)
                for why in unit.summary.unmapped {
                    logger.error("timer event not published: its wire message cannot be built", metadata: ["event": "\(why)"])
                }
                decided = (unit.summary.events, unit.summary.held)
                return outcome
            }
        } catch is UnitOfWork.TimerAlreadyFired {
            outcome = .alreadyFired
        }
        switch outcome {
        case .fired:
            Observe.decided(events: decided.events, held: decided.held)
            logger.info("timer fired", metadata: [
                "timer.kind": "\(timer.kind)", "case.id": "\(timer.caseID ?? "-")", "events": "\(decided.events)",
                "held": "\(decided.held)",
            ])
        case .stale:
            logger.info("stale timer marked fired", metadata: ["timer.kind": "\(timer.kind)", "case.id": "\(timer.caseID ?? "-")"])
        case .orphan:
            logger.warning("timer without a case or of an unknown kind marked fired", metadata: ["timer.kind": "\(timer.kind)"])
        case .alreadyFired:
            break
        }
        return outcome
    }
}
