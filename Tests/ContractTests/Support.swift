import Foundation
import Testing

@testable import Contract

/// Files of the repository, found from this source file (the dev package reaches the
/// tests through a symlink, so symlinks are resolved first).
enum Repo {
    static let root: URL = {
        let candidates = [
            URL(fileURLWithPath: #filePath).resolvingSymlinksInPath(),
            URL(fileURLWithPath: #filePath),
        ]
        for start in candidates {
            var directory = start.deletingLastPathComponent()
            while directory.path != "/" {
                let marker = directory.appendingPathComponent("Config/schemas/common.schema.json").path
                if FileManager.default.fileExists(atPath: marker) { return directory }
                directory = directory.deletingLastPathComponent()
            }
        }
        fatalError("repository root (with Config/schemas) not found above \(#filePath)")
    }()

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func data(_ relative: String) throws -> Data { try Data(contentsOf: url(relative)) }

    static func files(in relative: String, suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url(relative).path)
            .filter { $0.hasSuffix(suffix) }.sorted()
    }
}

enum Fixtures {
    /// The clinics and journal the examples and bad fixtures use.
    static let codeBook = CodeBook(clinics: ["amb-syd-aalborg", "amb-nord-hjoerring"], journals: ["journal-rn"])
    static let decoder = MessageDecoder(codeBook: codeBook)

    static func properties(_ type: String, sender: Sender, messageID: String = "test-1") -> InboundProperties {
        InboundProperties(
            type: type, messageID: messageID, userID: "user-\(sender.id)", contentType: "application/json",
            exchange: Topology().exchange(for: sender))
    }

    /// The sender an inbound example is sent by: the municipality or clinic it names, else the journal.
    static func sender(for type: MessageType, body: JSONValue) -> Sender {
        guard case .object(let object) = body else { return .journal("journal-rn") }
        if type.allowedSenders.contains(.municipality), case .string(let code)? = object["municipality"] {
            return .municipality(code)
        }
        if type.allowedSenders.contains(.clinic), case .string(let id)? = object["clinic"] { return .clinic(id) }
        return .journal("journal-rn")
    }

    /// `value` with every `cpr` string reduced to its digits (the decoder normalises CPRs).
    static func normalisingCPR(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var out: [String: JSONValue] = [:]
            for (key, child) in object {
                if key == "cpr", case .string(let text) = child {
                    out[key] = .string(text.replacingOccurrences(of: "-", with: ""))
                } else {
                    out[key] = normalisingCPR(child)
                }
            }
            return .object(out)
        case .array(let items): return .array(items.map(normalisingCPR))
        case .null, .bool, .number, .string: return value
        }
    }
}
