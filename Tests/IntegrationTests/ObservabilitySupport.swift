import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension DaemonProcess {
    /// The log's lines (standard output and error), each parsed as a JSON object (nil for a
    /// line that is not one).
    var logLines: [(text: String, object: [String: Any]?)] {
        logText().split(separator: "\n").map { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (String(line), object)
        }
    }

    /// The port of the HTTP endpoints, from the `serving /metrics, /livez, /readyz` log line.
    func httpPort(within: Duration = .seconds(60)) async throws -> Int {
        var port: Int?
        _ = await eventually(within: within) {
            port = logLines.lazy.compactMap(\.object).first { $0["msg"] as? String == "serving /metrics, /livez, /readyz" }
                .flatMap { ($0["http.port"] as? String).flatMap(Int.init) }
            return port != nil || !isRunning
        }
        guard let port else { throw BrokerError(message: "the daemon did not log its HTTP port:\n\(logTail())") }
        return port
    }

    /// Polls the notify socket every 20 ms until cancelled, so each datagram's time is its
    /// arrival time (± 20 ms).
    func pollNotifications() -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                _ = notifications()
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}

/// A plain HTTP/1.1 GET on 127.0.0.1 (one request per connection).
func httpGet(port: Int, path: String) throws -> (status: Int, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BrokerError(message: "socket: errno \(errno)") }
    defer { close(fd) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { throw BrokerError(message: "connect 127.0.0.1:\(port): errno \(errno)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var response: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buf, buf.count, 0)
        if n <= 0 { break }
        response.append(contentsOf: buf[0..<n])
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let headerEnd = text.range(of: "\r\n\r\n"),
        let statusText = text.split(separator: " ", maxSplits: 2).dropFirst().first, let status = Int(statusText)
    else { throw BrokerError(message: "not an HTTP response from :\(port)\(path): \(text.prefix(200))") }
    return (status, String(text[headerEnd.upperBound...]))
}

/// One sample of the Prometheus text format.
struct PromSample {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// Parses the Prometheus text exposition format (0.0.4) strictly: every line must be a
/// `# HELP`, a `# TYPE`, a comment, blank, or a valid sample. Returns the samples and types,
/// or the first offending line.
func parsePrometheus(_ text: String) -> (samples: [PromSample], types: [String: String], errors: [String]) {
    var samples: [PromSample] = []
    var types: [String: String] = [:]
    var errors: [String] = []
    func isNameStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_" || c == ":") }
    func isName(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }
    for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = String(rawLine)
        if line.isEmpty { continue }
        if line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
            if parts.count >= 2, parts[1] == "TYPE" {
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                    errors.append(line)
                    continue
                }
                types[parts[2]] = parts[3]
            } else if parts.count >= 2, parts[1] == "HELP" {
                if parts.count < 3 { errors.append(line) }
            }
            continue
        }
        var chars = Array(line)[...]
        var name = ""
        guard let first = chars.first, isNameStart(first) else {
            errors.append(line)
            continue
        }
        while let c = chars.first, isName(c) {
            name.append(c)
            chars = chars.dropFirst()
        }
        var labels: [String: String] = [:]
        var ok = true
        if chars.first == "{" {
            chars = chars.dropFirst()
            while ok, let c = chars.first, c != "}" {
                var key = ""
                while let c = chars.first, isName(c), c != ":" {
                    key.append(c)
                    chars = chars.dropFirst()
                }
                guard !key.isEmpty, chars.first == "=" else {
                    ok = false
                    break
                }
                chars = chars.dropFirst()
                guard chars.first == "\"" else {
                    ok = false
                    break
                }
                chars = chars.dropFirst()
                var value = ""
                var closed = false
                while let c = chars.first {
                    chars = chars.dropFirst()
                    if c == "\\" {
                        guard let e = chars.first, ["\\", "\"", "n"].contains(e) else {
                            ok = false
                            break
                        }
                        value.append(e == "n" ? "\n" : e)
                        chars = chars.dropFirst()
                    } else if c == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(c)
                    }
                }
                guard ok, closed else {
                    ok = false
                    break
                }
                labels[key] = value
                if chars.first == "," { chars = chars.dropFirst() }
                _ = c
            }
            guard ok, chars.first == "}" else {
                errors.append(line)
                continue
            }
            chars = chars.dropFirst()
        }
        guard chars.first == " " else {
            errors.append(line)
            continue
        }
        let rest = String(chars.dropFirst()).split(separator: " ")
        guard (1...2).contains(rest.count) else {
            errors.append(line)
            continue
        }
        let valueText = String(rest[0])
        let value: Double?
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default: value = Double(valueText)
        }
        guard let value, rest.count == 1 || Int64(rest[1]) != nil else {
            errors.append(line)
            continue
        }
        samples.append(PromSample(name: name, labels: labels, value: value))
    }
    return (samples, types, errors)
}

/// CPR-shaped strings to look for: each CPR as written with a hyphen, and its ten digits.
func cprForms(_ cprs: [String]) -> [String] {
    cprs.flatMap { cpr -> [String] in
        let digits = cpr.filter(\.isNumber)
        return [digits, String(digits.prefix(6)) + "-" + String(digits.suffix(4))]
    }
}

/// Whether a label value looks like a CPR number (ten digits, optionally DDMMYY-SSSS).
func looksLikeCPR(_ value: String) -> Bool {
    let digits = value.filter(\.isNumber)
    return digits.count >= 10 && value.range(of: #"\d{6}-?\d{4}"#, options: .regularExpression) != nil
}
