import ArgumentParser
import Daemon
import Foundation
import Workflow

/// `ddrouter report`: phase-in progress per municipality × clinic (counts only). The
/// columns are documented on `AdminReport` and in docs/operations.md.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Phase-in progress per municipality × clinic (counts only).")

    @OptionGroup var options: AdminOptions
    @Option(help: "Count R10 deadlines as overdue before this date (yyyy-MM-dd; default today).")
    var asOf: String?
    @Flag(help: "Tab-separated values (for a spreadsheet) instead of a table.") var tsv = false
    @Option(help: ArgumentHelp(
        "Write one self-contained HTML page (a chart per municipality × clinic, the table beneath; counts only) to this file instead of printing a table.",
        valueName: "file"))
    var html: String?

    func validate() throws {
        if tsv && html != nil { throw ValidationError("--tsv and --html exclude each other") }
        if html?.isEmpty == true { throw ValidationError("--html needs a file name") }
    }

    func run() async throws {
        let context = try await AdminContext.open(config: options.config)
        let now = Date()
        let today: LocalDate
        if let asOf {
            guard let date = LocalDate(iso: asOf) else { throw ValidationError("--as-of must be yyyy-MM-dd") }
            today = date
        } else {
            today = Pipeline.civilDate(of: now)
        }
        let report = try AdminReport.make(store: context.store, directory: context.settings.directory, now: now, today: today)
        if let html {
            let page = report.html(
                directory: context.settings.directory, asOf: today,
                generated: Format.time(now))
            do {
                try Data(page.utf8).write(to: URL(fileURLWithPath: html), options: .atomic)
            } catch {
                fail("cannot write \(html): \(error.localizedDescription)", code: 73)  // EX_CANTCREAT
            }
            print("report written to \(html) (\(report.rows.count) municipality × clinic rows, as of \(today))")
            return
        }
        print(tsv ? report.tsv : report.table(directory: context.settings.directory))
    }
}
