import ArgumentParser
import Daemon
import Foundation
import Store

/// `ddrouter audit verify|citizen`: the audit trail. `verify` recomputes the keyed hash
/// chain and exits 1 naming the first bad entry; `citizen` answers a citizen's right to
/// know who received or looked at what about them, when and why (itself audited).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify the audit trail, or list a citizen's entries (audited).",
        subcommands: [Verify.self, Citizen.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the audit chain; exit 1 naming the first entry that does not verify.")

        @OptionGroup var options: AdminOptions
        @Option(help: "A head logged earlier (audit#SEQ:HASH): also detects entries cut from the end.")
        var anchor: String?

        func run() async throws {
            let context = try await AdminContext.open(config: options.config)
            var parsed: AuditAnchor?
            if let anchor {
                let text = anchor.hasPrefix("audit#") ? String(anchor.dropFirst("audit#".count)) : anchor
                let parts = text.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let seq = Int64(parts[0]) else {
                    throw ValidationError("--anchor must look like audit#SEQ:HASH (as `audit verify` prints it)")
                }
                parsed = AuditAnchor(seq: seq, hash: String(parts[1]))
            }
            let result = try context.store.verifyAudit(anchor: parsed)
            if result.isOK {
                print(result.description)
            } else {
                fail(result.description, code: 1)
            }
        }
    }

    struct Citizen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Who received or looked at what about a citizen, when and why. Recorded in the audit trail.")

        @OptionGroup var options: AdminOptions
        @OptionGroup var access: AccessOptions
        @Argument(help: "The citizen's CPR number (DDMMYYSSSS or DDMMYY-SSSS).") var cpr: String

        func run() async throws {
            let context = try await AdminContext.open(config: options.config)
            let subject = try context.pseudonym(cpr: cpr)
            let entries = try context.store.lookUpAudit(
                pseudonym: subject, viewer: access.actor, purpose: access.purpose, at: Date())
            print("audit trail for citizen \(cpr) (pseudonym \(subject.hex)): \(entries.count) entries")
            var rows = [["seq", "when", "who", "what", "message", "id", "why"]]
            for e in entries {
                rows.append([
                    "\(e.seq)", Format.time(e.at), e.actor, e.action.rawValue, e.messageType ?? "-",
                    Format.messageID(e.messageID), e.purpose,
                ])
            }
            print(Format.table(rows))
        }
    }
}
