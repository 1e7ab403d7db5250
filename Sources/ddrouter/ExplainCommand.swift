import ArgumentParser
import Daemon
import Foundation
import Store
import Workflow

/// `ddrouter explain CASE`: why a case was routed where: its inputs and every decision with
/// the stored explanation (rule, facts, rules version). Recorded in the audit trail.
/// Prints no free text from messages: inputs show their type only.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain", abstract: "Why a case was routed where (from its stored explanations). Audited.")

    @OptionGroup var options: AdminOptions
    @OptionGroup var access: AccessOptions
    @Argument(help: "The case id (case-…; see `ddrouter cases list`).") var caseID: String

    func run() async throws {
        let context = try await AdminContext.open(config: options.config)
        guard let (record, history) = try context.store.viewCaseHistory(
            id: caseID, viewer: access.actor, purpose: access.purpose, at: Date())
        else { fail("no case \(caseID)", code: 1) }
        print("case \(record.caseID): \(record.status), municipality \(record.municipality), clinic \(record.clinic ?? "-")")
        for entry in history {
            let at = Format.time(entry.at)
            if entry.kind == .decision {
                let why = entry.explanation.flatMap { try? StoreBinary.decode(Explanation.self, from: $0) }
                print("\(at)  decision  \(Self.inputType(entry.payload) ?? "event")  \(Format.messageID(entry.messageID))")
                print("    why: \(why.map(\.description) ?? "(no explanation stored)")")
            } else {
                print("\(at)  \(entry.kind.rawValue)  \(Self.inputType(entry.payload) ?? "-")  \(Format.messageID(entry.messageID))")
                if let why = entry.explanation.flatMap({ try? StoreBinary.decode(Explanation.self, from: $0) }) {
                    print("    why: \(why.description)")
                }
            }
        }
    }

    /// The type names in a history payload, never its other (possibly free-text) fields.
    static func inputType(_ payload: Data) -> String? {
        // Rows written since issue 15 are in the store's binary encoding, older ones JSON.
        let fields: [(key: String, string: String?)]
        if let binary = StoreBinary.topLevelFields(payload) {
            fields = binary
        } else if let object = (try? JSONSerialization.jsonObject(with: payload)) as? [String: Any] {
            fields = object.map { ($0.key, $0.value as? String) }
        } else {
            return nil
        }
        var parts: [String] = []
        for key in ["type", "list", "kind", "purpose"] {
            if let value = fields.first(where: { $0.key == key })?.string, value.count <= 64, !value.contains(" ") {
                parts.append(value)
            }
        }
        if parts.isEmpty, fields.count == 1, let key = fields.first?.key { parts.append(key) }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }
}
