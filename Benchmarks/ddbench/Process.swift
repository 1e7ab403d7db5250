import Foundation
import Synchronization

/// Runs `body` on a thread of its own (blocking calls must not hold a cooperative-pool thread:
/// this machine has two).
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (cont: CheckedContinuation<T, Never>) in
        let thread = Thread { cont.resume(returning: body()) }
        thread.start()
    }
}

func now() -> ContinuousClock.Instant { ContinuousClock.now }

extension Duration {
    var ms: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
    var s: Double { ms / 1000 }
}

/// A `NOTIFY_SOCKET` datagram listener, as systemd's (sd_notify(3)).
final class NotifyListener: Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("notify socket: errno \(errno)") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes + [0]) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else { throw BenchError("notify socket bind \(path): errno \(errno)") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Waits (blocking) until a datagram containing READY=1 arrives; false on timeout.
    func waitReady(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pfd, 1, left) > 0 else { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0, String(decoding: buf[0..<n], as: UTF8.self).contains("READY=1") { return true }
        }
        return false
    }
}

/// Memory of a process from /proc/PID/status, in MiB.
enum ProcStatus {
    static func kib(_ pid: Int32, _ field: String) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let number = line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            return number.flatMap { Double($0) }
        }
        return nil
    }
    static func rssMiB(_ pid: Int32) -> Double? { kib(pid, "VmRSS").map { $0 / 1024 } }
    static func hwmMiB(_ pid: Int32) -> Double? { kib(pid, "VmHWM").map { $0 / 1024 } }

    /// User + system CPU seconds the process has used so far (/proc/PID/stat, fields 14
    /// and 15, counted after the command name, which may hold spaces and parentheses).
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After ") ": field 3 (state) is the first; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Samples VmRSS every 20 ms on its own thread; `peak` is the highest seen.
final class RSSSampler: Sendable {
    let pid: Int32
    private let running = Atomic<Bool>(true)
    private let peakKiB = Atomic<Int>(0)

    init(pid: Int32) {
        self.pid = pid
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                if let k = ProcStatus.kib(pid, "VmRSS") {
                    let v = Int(k)
                    if v > peakKiB.load(ordering: .relaxed) { peakKiB.store(v, ordering: .relaxed) }
                }
                usleep(20_000)
            }
        }
        thread.start()
    }

    func stop() -> Double {
        running.store(false, ordering: .relaxed)
        return Double(peakKiB.load(ordering: .relaxed)) / 1024
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The daemon under test: `ddrouter run --config FILE` as a subprocess with its own store
/// directory and a NOTIFY_SOCKET listener.
final class Daemon: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let startupSeconds: Double
    var pid: Int32 { process.processIdentifier }

    /// Starts the daemon and waits for READY=1; `startupSeconds` is spawn → READY.
    init(binary: String, directory: URL, settings: BenchSettings, queueType: String, extraYAML: String = "",
         environment extra: [String: String] = [:]) async throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("ddrouter.yaml")
        let yaml = """
            broker:
              host: \(settings.host)
              port: \(settings.port)
              vhost: \(settings.vhost)
              user: \(settings.user)
              password: \(settings.password)
            inbound:
              prefetch: \(settings.prefetch)
              queue_type: \(queueType)
            http:
              bind: 127.0.0.1:0
            store:
              path: \(directory.appendingPathComponent("store/ddrouter.sqlite").path)
              dev_key: "ddbench-store-key-benchmark-only-0123456789"

            """ + extraYAML
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        let notifyPath = directory.appendingPathComponent("notify.sock").path
        let listener = try NotifyListener(path: notifyPath)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--config", config.path]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DDROUTER_") }
        environment["NOTIFY_SOCKET"] = notifyPath
        environment.merge(extra) { $1 }
        process.environment = environment
        let log = directory.appendingPathComponent("daemon.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        let t0 = now()
        try process.run()
        let ready = await onThread { listener.waitReady(timeout: 30) }
        startupSeconds = (now() - t0).s
        guard ready else {
            process.terminate()
            throw BenchError("ddrouter sent no READY=1 within 30 s; see \(log.path)")
        }
    }

    var logPath: String { directory.appendingPathComponent("daemon.log").path }

    /// SIGTERM and wait for the exit.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        let p = process
        _ = await onThread { p.waitUntilExit(); return 0 }
    }
}
