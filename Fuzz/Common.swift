// Shared by the fuzz targets (scripts/fuzz.sh compiles each target with the Contract
// module's sources into one module, so internals such as JSONParser are reachable).
import Foundation

enum FuzzSupport {
    /// The code book of Tests/Fixtures/bad/index.json (the seeds' municipalities, clinics, journal).
    static let codeBook = CodeBook(
        municipalities: ["773", "787", "810", "813", "820", "825", "840", "846", "849", "851", "860"],
        clinics: ["amb-nord-hjoerring", "amb-syd-aalborg"], journals: ["journal-rn"])
    /// Default limits (16 MiB bodies; entries deferred above 1 MiB).
    static let decoder = MessageDecoder(codeBook: codeBook)
    /// Entries deferred above 256 bytes: the deferred path is reached by small inputs too.
    static let deferringDecoder = MessageDecoder(
        codeBook: codeBook, limits: DecoderLimits(maxBodyBytes: 16 * 1024 * 1024, decodedEntriesMaxBytes: 256))

    static let inbound: [MessageType] = MessageType.allCases.filter { $0.direction == .inbound }

    /// The message an input stands for: its first byte picks the inbound type (modulo their
    /// number), the sender kind among those allowed to send it, and the decoder (bit 7: the
    /// one that defers list entries); the rest is the body. Nil for an empty input.
    static func delivery(_ data: Data) -> (decoder: MessageDecoder, properties: InboundProperties, body: Data)? {
        guard let first = data.first else { return nil }
        let type = inbound[Int(first & 0x7F) % inbound.count]
        let kinds = SenderKind.allCases.filter(type.allowedSenders.contains)
        let kind = kinds[(Int(first & 0x7F) / inbound.count) % kinds.count]
        let sender: Sender = switch kind {
        case .municipality: .municipality("851")
        case .clinic: .clinic("amb-syd-aalborg")
        case .journal: .journal("journal-rn")
        }
        let properties = InboundProperties(
            type: type.rawValue, messageID: "fuzz-1", userID: "user-\(sender.id)", contentType: "application/json",
            correlationID: "fuzz-correlation", exchange: Topology().exchange(for: sender), routingKey: "")
        return (first & 0x80 != 0 ? deferringDecoder : decoder, properties, Data(data.dropFirst()))
    }

    /// Stops the run with a message libFuzzer records next to the input (a failed property,
    /// not a crash of the code under test: the message says which).
    static func fail(_ what: String) -> Never {
        FileHandle.standardError.write(Data("fuzz property failed: \(what)\n".utf8))
        abort()
    }
}

/// The bytes libFuzzer hands over, as Data (a copy: the decoder keeps slices of it).
func fuzzInput(_ start: UnsafeRawPointer?, _ count: Int) -> Data {
    guard let start, count > 0 else { return Data() }
    return Data(bytes: start, count: count)
}
