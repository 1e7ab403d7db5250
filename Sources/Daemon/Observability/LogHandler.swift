import Foundation
public import Logging
import Metrics
import Synchronization

/// ddrouter's swift-log handler: one line per log call on standard output (journald keeps it).
///
/// `json` (the default) writes one JSON object per line:
/// `{"ts":"2026-11-23T14:30:00.123Z","level":"info","logger":"ddrouter","msg":"message processed","message.id":"…",…}`
/// with the metadata as flat, dotted keys (`message.id`, `message.type`, `citizen.pseudonym`,
/// `case.id`, `amqp.queue`, `store.path`, `error`, …). `text` writes
/// `2026-11-23T14:30:00.123Z info ddrouter: message processed message.id=… …` for a terminal.
///
/// Safety net, on top of the rule that code never logs personal data: any stand-alone CPR-shaped
/// token (ten digits, or six digits, a hyphen and four digits) in the message or a metadata
/// value is replaced by `(redacted-cpr)`. A pseudonym is hex and never stands alone as digits.
///
/// A few older metadata keys are renamed to the dotted scheme on the way out
/// (`message_id` → `message.id`, `type` → `message.type`, `sender` → `message.sender`,
/// `exchange` → `amqp.exchange`, `code` → `rejection.code`).
public struct DaemonLogHandler: LogHandler {
    public typealias Format = ObservabilitySettings.LogFormat

    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    let label: String
    let format: Format
    let sink: LogSink

    public init(label: String, format: Format, level: Logger.Level, sink: LogSink = .standardOutput) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var fields: [(String, Logger.Metadata.Value)] = []
        flatten(merged, prefix: "", into: &fields)
        fields.sort { $0.0 < $1.0 }
        let line = Self.render(
            format: format, date: Date(), level: event.level, label: label, message: "\(event.message)", fields: fields)
        sink.write(line)
        Counter(label: DaemonMetric.logMessages.name, dimensions: [("level", event.level.rawValue)]).increment()
    }

    static let aliases: [String: String] = [
        "message_id": "message.id", "type": "message.type", "sender": "message.sender",
        "exchange": "amqp.exchange", "code": "rejection.code",
    ]

    private func flatten(_ metadata: Logger.Metadata, prefix: String, into fields: inout [(String, Logger.Metadata.Value)]) {
        for (key, value) in metadata {
            let name = prefix.isEmpty ? (Self.aliases[key] ?? key) : prefix + "." + key
            if case .dictionary(let nested) = value {
                flatten(nested, prefix: name, into: &fields)
            } else {
                fields.append((name, value))
            }
        }
    }

    static func render(
        format: Format, date: Date, level: Logger.Level, label: String, message: String,
        fields: [(String, Logger.Metadata.Value)]
    ) -> String {
        let ts = timestamp(date)
        switch format {
        case .json:
            var out = "{\"ts\":\"\(ts)\",\"level\":\"\(level.rawValue)\",\"logger\":"
            appendJSONString(label, to: &out)
            out += ",\"msg\":"
            appendJSONString(redactingCPR(message), to: &out)
            for (key, value) in fields where !["ts", "level", "logger", "msg"].contains(key) {
                out += ","
                appendJSONString(key, to: &out)
                out += ":"
                appendJSON(value, to: &out)
            }
            out += "}\n"
            return out
        case .text:
            var out = "\(ts) \(level.rawValue) \(label): \(redactingCPR(message))"
            for (key, value) in fields {
                out += " \(key)=\(textValue(value))"
            }
            out += "\n"
            return out
        }
    }

    private static func appendJSON(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let s): appendJSONString(redactingCPR(s), to: &out)
        case .stringConvertible(let c): appendJSONString(redactingCPR(c.description), to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                appendJSON(item, to: &out)
            }
            out += "]"
        case .dictionary(let d):
            out += "{"
            for (i, key) in d.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                appendJSONString(key, to: &out)
                out += ":"
                appendJSON(d[key]!, to: &out)
            }
            out += "}"
        }
    }

    private static func textValue(_ value: Logger.Metadata.Value) -> String {
        let raw: String
        switch value {
        case .string(let s): raw = s
        case .stringConvertible(let c): raw = c.description
        case .array, .dictionary: raw = "\(value)"
        }
        let safe = redactingCPR(raw)
        return safe.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || safe.isEmpty
            ? "\"" + safe.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : safe
    }

    static func appendJSONString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        let millis = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), min(999, max(0, millis)))
    }

    /// Replaces every stand-alone CPR-shaped token (`DDMMYYSSSS`, `DDMMYY-SSSS`: digits not
    /// touching another letter or digit) with `(redacted-cpr)`.
    public static func redactingCPR(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count >= 10 else { return text }
        func isDigit(_ i: Int) -> Bool { i >= 0 && i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        func isWordByte(_ i: Int) -> Bool {
            guard i >= 0 && i < bytes.count else { return false }
            let b = bytes[i]
            return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b >= 0x80
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var changed = false
        while i < bytes.count {
            if isDigit(i) && !isWordByte(i - 1) {
                var j = i
                while isDigit(j) { j += 1 }
                var end: Int? = nil
                if j - i == 10 {
                    end = j
                } else if j - i == 6, j < bytes.count, bytes[j] == UInt8(ascii: "-") {
                    var k = j + 1
                    while isDigit(k) { k += 1 }
                    if k - (j + 1) == 4 { end = k }
                }
                if let e = end, !isWordByte(e) {
                    out.append(contentsOf: Array("(redacted-cpr)".utf8))
                    i = e
                    changed = true
                    continue
                }
                out.append(contentsOf: bytes[i..<j])
                i = j
                continue
            }
            out.append(bytes[i])
            i += 1
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }
}

/// Where log lines go: standard output (one `write(2)` per line, serialised), or a buffer (tests).
public final class LogSink: Sendable {
    enum Target { case fd(Int32), buffer }
    private let target: Target
    private let lock = Mutex<[String]>([])

    private init(_ target: Target) { self.target = target }

    public static let standardOutput = LogSink(.fd(STDOUT_FILENO))

    /// Collects lines in memory (`lines`).
    public static func memory() -> LogSink { LogSink(.buffer) }

    public var lines: [String] { lock.withLock { $0 } }

    func write(_ line: String) {
        lock.withLock { buffered in
            switch target {
            case .buffer:
                buffered.append(line)
            case .fd(let fd):
                let bytes = Array(line.utf8)
                var offset = 0
                while offset < bytes.count {
                    let n = bytes.withUnsafeBytes { raw in
                        Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    }
                    if n > 0 {
                        offset += n
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
            }
        }
    }
}
