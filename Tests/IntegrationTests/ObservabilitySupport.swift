import Foundation
import Testing

/// `ddrouter run` as a subprocess (posix_spawn, not Foundation.Process: see `Broker.run`), with
/// its standard output and error in files, for the observability tests.
final class DaemonProcess: @unchecked Sendable {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private var exitStatus: Int32?

    /// The `ddrouter` binary next to the test bundle (`swift build --build-tests` builds both),
    /// else `.build/debug/ddrouter`; `DDR_DDROUTER_BIN` overrides.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["DDR_DDROUTER_BIN"] { return path }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("ddrouter").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return Broker.repoRoot.appendingPathComponent(".build/debug/ddrouter").path
    }

    init(arguments: [String], environment extra: [String: String], directory: URL) throws {
        let binary = Self.binary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BrokerError(message: "no ddrouter binary at \(binary): run swift build --build-tests first")
        }
        stdoutPath = directory.appendingPathComponent("stdout.log").path
        stderrPath = directory.appendingPathComponent("stderr.log").path
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DDROUTER_") }
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        environment.removeValue(forKey: "WATCHDOG_USEC")
        for (k, v) in extra { environment[k] = v }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = [binary] + arguments
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, binary, &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw BrokerError(message: "cannot start \(binary): error \(rc)") }
        self.pid = pid
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        }
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Standard output's lines, each parsed as a JSON object (nil for a line that is not one).
    var logLines: [(text: String, object: [String: Any]?)] {
        stdout.split(separator: "\n").map { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (String(line), object)
        }
    }

    /// Waits for a JSON log line whose `msg` is `message`; returns it.
    func waitForLog(_ message: String, within: Duration) async -> [String: Any]? {
        var found: [String: Any]?
        _ = await eventually(within: within) {
            found = logLines.lazy.compactMap(\.object).first { $0["msg"] as? String == message }
            return found != nil || !isRunning
        }
        return found
    }

    /// The port of the HTTP endpoints, from the `serving /metrics, /livez, /readyz` log line.
    func httpPort(within: Duration = .seconds(60)) async throws -> Int {
        guard let line = await waitForLog("serving /metrics, /livez, /readyz", within: within),
            let port = (line["http.port"] as? String).flatMap(Int.init)
        else {
            throw BrokerError(message: "the daemon did not log its HTTP port; stdout:\n\(stdout)\nstderr:\n\(stderr)")
        }
        return port
    }

    var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            exitStatus = status
            return false
        }
        return true
    }

    /// Sends `signal` and waits for the exit; returns the exit code (nil: killed by a signal or timed out).
    func stop(signal: Int32 = SIGTERM, within: Duration = .seconds(60)) async -> Int32? {
        kill(pid, signal)
        _ = await eventually(within: within) { !isRunning }
        guard let status = exitStatus else { return nil }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
    }
}

/// A datagram socket standing in for systemd's `NOTIFY_SOCKET`; a thread collects every
/// datagram with its arrival time.
final class NotifyCollector: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [(at: ContinuousClock.Instant, text: String)] = []
    private var closed = false

    init(directory: URL) throws {
        path = directory.appendingPathComponent("notify.sock").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw BrokerError(message: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { throw BrokerError(message: "cannot bind \(path): errno \(errno)") }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in self.loop() }
        thread.start()
    }

    private func loop() {
        var buf = [UInt8](repeating: 0, count: 4096)
        while !(lock.withLock { closed }) {
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 {
                let text = String(decoding: buf[0..<n], as: UTF8.self)
                lock.withLock { received.append((ContinuousClock.now, text)) }
            }
        }
    }

    func close() {
        lock.withLock { closed = true }
        Thread.sleep(forTimeInterval: 0.3)
        Foundation.close(fd)
        unlink(path)
    }

    var datagrams: [(at: ContinuousClock.Instant, text: String)] { lock.withLock { received } }
    var texts: [String] { datagrams.map(\.text) }
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
