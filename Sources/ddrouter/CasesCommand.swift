import ArgumentParser
import Daemon
import Foundation
import Store
import Workflow

/// `ddrouter cases list|show`: the cases in the store. `list` shows ids, states and
/// parties only (no citizen, no free text); `show` looks at one citizen's cases and is
/// recorded in the audit trail (who, when, why).
struct CasesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cases", abstract: "List cases, or show one citizen's cases (audited).",
        subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List cases: id, state, municipality, clinic, last update. No citizen data.")

        @OptionGroup var options: AdminOptions
        @Option(help: "Only this municipality (code).") var municipality: String?
        @Option(help: "Only this clinic (id).") var clinic: String?
        @Option(help: "Only this state, e.g. workflowA.inAssessment.") var status: String?
        @Option(help: "At most this many cases (oldest update first).") var limit: Int = 100

        func run() async throws {
            let context = try await AdminContext.open(config: options.config)
            let records = try context.store.cases(
                municipality: municipality, clinic: clinic, status: status, limit: max(1, limit))
            var rows = [["case", "state", "municipality", "clinic", "updated"]]
            for r in records {
                rows.append([r.caseID, r.status, r.municipality, r.clinic ?? "-", Format.time(r.updatedAt)])
            }
            print(Format.table(rows))
            print("\(records.count) case(s)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a citizen's cases by case id, pseudonym or CPR. Recorded in the audit trail.")

        @OptionGroup var options: AdminOptions
        @OptionGroup var access: AccessOptions
        @Argument(help: "A case id (case-…).") var caseID: String?
        @Option(help: "The citizen's CPR number (shown back only because you typed it).") var cpr: String?
        @Option(help: "The citizen's pseudonym (32 hex digits).") var pseudonym: String?

        func validate() throws {
            if [caseID, cpr, pseudonym].compactMap({ $0 }).count != 1 {
                throw ValidationError("name exactly one of: a case id, --cpr, --pseudonym")
            }
        }

        func run() async throws {
            let context = try await AdminContext.open(config: options.config)
            let now = Date()
            var records: [CaseRecord]
            if let caseID {
                records = try context.store.viewCase(id: caseID, viewer: access.actor, purpose: access.purpose, at: now).map { [$0] } ?? []
            } else {
                let subject: Pseudonym
                if let cpr {
                    subject = try context.pseudonym(cpr: cpr)
                } else if let p = pseudonym.flatMap(Pseudonym.init(hex:)) {
                    subject = p
                } else {
                    throw ValidationError("--pseudonym must be 32 hex digits")
                }
                records = try context.store.viewCases(pseudonym: subject, viewer: access.actor, purpose: access.purpose, at: now)
            }
            guard !records.isEmpty else { fail("no case found", code: 1) }
            for record in records {
                print(try CaseView.describe(record, context: context, typedCPR: cpr))
            }
        }
    }
}

enum CaseView {
    static func describe(_ record: CaseRecord, context: AdminContext, typedCPR: String?) throws -> String {
        let directory = context.settings.directory
        var lines = ["case \(record.caseID)"]
        if let typedCPR { lines.append("  citizen:      \(typedCPR) (as typed)") }
        lines.append("  pseudonym:    \(record.pseudonym.hex)")
        lines.append("  state:        \(record.status) (workflow \(record.workflow), revision \(record.revision))")
        lines.append("  municipality: \(record.municipality) \(directory.municipalityName(record.municipality))")
        lines.append("  clinic:       \(record.clinic ?? "-")")
        lines.append("  created:      \(record.createdAt.map(Format.time) ?? "-"); updated \(Format.time(record.updatedAt))")
        if let c = try? record.decodeState(as: CitizenCase.self) {
            lines.append("  held events:  \(c.held.count) (waiting for consent, R4)")
            if let deadline = c.deadline {
                lines.append("  R10 deadline: treatment start by \(deadline.due) (\(deadline.party))")
            }
            if let routing = c.workflowA?.routing {
                lines.append("  routing:      \(routing.outcome.name) (why: ddrouter explain \(record.caseID))")
            }
        }
        for consent in try context.store.currentConsents(pseudonym: record.pseudonym) {
            lines.append("  consent:      \(consent.direction.rawValue) \(consent.purpose): \(consent.state.rawValue) from \(Format.time(consent.validFrom))")
        }
        for timer in try context.store.timers(caseID: record.caseID) {
            lines.append("  timer:        \(timer.kind) due \(Format.time(timer.dueAt)) \(timer.state.rawValue)")
        }
        return lines.joined(separator: "\n")
    }
}
