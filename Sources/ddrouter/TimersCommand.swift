import AMQP
import ArgumentParser
import Daemon
import Foundation
import Logging
import Store
import Workflow

/// `ddrouter timers list|run`: the cases' pending timers (R1 status-unknown timeout,
/// reminders, the transition date, R10 warnings), and, on a TEST installation only, firing
/// them as of a later date so an integrator can see a timeout, a reminder or a deadline
/// warning without waiting days (docs/operations.md, "Trying the timers").
struct TimersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timers", abstract: "List pending timers; fire them as of a later date (test installations only).",
        subcommands: [List.self, Run.self])

    /// `YYYY-MM-DD` (00:00 Europe/Copenhagen, the moment timers of that day are due) or an
    /// ISO 8601 timestamp with its offset.
    static func instant(_ text: String) throws -> Date {
        if let day = LocalDate(iso: text), let date = Pipeline.startOfDay(day) { return date }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let date = f.date(from: text) { return date }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = f.date(from: text) { return date }
        throw ValidationError("--as-of '\(text)' is neither a date (2026-12-20) nor a timestamp (2026-12-20T08:00:00+01:00)")
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pending timers due by a date (default: all): kind, due, case. No citizen data.")

        @OptionGroup var options: AdminOptions
        @Option(help: "Only timers due by then: a date (00:00 Europe/Copenhagen) or an ISO 8601 timestamp.")
        var asOf: String?
        @Option(help: "At most this many timers (earliest first).") var limit: Int = 100

        func run() async throws {
            let until = try asOf.map(TimersCommand.instant) ?? .distantFuture
            let context = try await AdminContext.open(config: options.config)
            defer { try? context.store.close() }
            let due = try context.store.dueTimers(at: until, limit: max(1, limit))
            var rows = [["kind", "due", "case"]]
            for timer in due { rows.append([timer.kind, Format.time(timer.dueAt), timer.caseID ?? "-"]) }
            print(Format.table(rows))
            print("\(due.count) pending timer(s)")
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fire every timer due by --as-of, with the clock at --as-of (daemon stopped; test installations only).",
            discussion: """
                For a test installation: the daemon must be stopped, and the store must be keyed with \
                store.dev_key (a store keyed from store.key_file or the store-key credential holds \
                production data and is refused, as is any run under systemd). Each due timer fires \
                as the daemon would fire it at that moment: its events are queued in the outbox \
                and published when the daemon starts again. Follow-up timers count from --as-of. \
                The clock only moves forward: --as-of must not be in the past.
                """)

        @OptionGroup var options: AdminOptions
        @Option(help: "The moment to fire timers at: a date (00:00 Europe/Copenhagen) or an ISO 8601 timestamp.")
        var asOf: String
        @OptionGroup var access: AccessOptions

        func run() async throws {
            let asOf = try TimersCommand.instant(self.asOf)
            let environment = ProcessInfo.processInfo.environment
            // A unit's process: credentials, a notify socket, or an invocation id with systemd
            // itself as the parent (a shell of a user session may carry INVOCATION_ID too).
            if environment["CREDENTIALS_DIRECTORY"] != nil || environment["NOTIFY_SOCKET"] != nil
                || environment["INVOCATION_ID"] != nil && getppid() == 1
            {
                fail("timers run moves the clock of a test installation and is refused under systemd; nothing was changed", code: 77)
            }
            let settings = try await DaemonSettings.loadOrExit(config: options.config)
            let storeSettings = try await StoreSettings.loadOrExit(config: options.config)
            guard storeSettings.usesDevelopmentKey else {
                fail("""
                    timers run is for test installations only: the store \(storeSettings.path) is keyed from \
                    store.key_file or the store-key credential, so it is treated as holding production data; \
                    nothing was changed (a test installation uses store.dev_key)
                    """, code: 77)
            }
            let now = Date()
            guard asOf >= now.addingTimeInterval(-1) else {
                fail("--as-of \(Format.time(asOf)) is in the past: the clock only moves forward (timers already due fire when the daemon runs); nothing was changed", code: 64)
            }
            let lock: StoreLock
            do {
                lock = try StoreLock(store: storeSettings.path)
            } catch {
                fail("\(error); nothing was changed", code: 75)
            }
            defer { withExtendedLifetime(lock) {} }
            var logger = Logger(label: "ddrouter.timers")
            logger.logLevel = .warning
            // No broker: the client is never started; the events wait in the outbox for the daemon.
            let client = AMQPClient(configuration: settings.amqp, topology: settings.topology, logger: logger)
            let service: Service
            do {
                service = try Service(
                    settings: settings, storeSettings: storeSettings, client: client, logger: logger,
                    workflow: settings.workflow, clock: { asOf }, userForSender: settings.directory.brokerUser(for:))
            } catch {
                fail("store \(storeSettings.path): \(error)", code: 74)
            }
            defer { try? service.store.close() }
            let due = try service.store.dueTimers(at: asOf, limit: 100_000)
            let pendingBefore = try service.store.pendingOutbox(limit: 1_000_000).count
            try service.store.write { tx in
                _ = try tx.appendAudit(AuditRecord(
                    at: now, actor: access.actor, action: "timers-run", pseudonym: nil, messageType: "timer",
                    messageID: "as-of \(Format.time(asOf))", purpose: access.purpose))
            }
            let fired = service.timers.fireDue()
            let remaining = try service.store.dueTimers(at: asOf, limit: 100_000)
            let queued = try service.store.pendingOutbox(limit: 1_000_000).count - pendingBefore
            var rows = [["kind", "due", "case"]]
            for timer in due { rows.append([timer.kind, Format.time(timer.dueAt), timer.caseID ?? "-"]) }
            print(Format.table(rows))
            print("""
                as of \(Format.time(asOf)): \(due.count) timer(s) were due, \(fired) fired with an effect \
                (the rest were stale or had no case), \(queued) outbound message(s) queued; \
                \(remaining.count) still due (a failure is logged above)
                start the daemon to publish the queued messages
                """)
            if !remaining.isEmpty { throw ExitCode(1) }
        }
    }
}
