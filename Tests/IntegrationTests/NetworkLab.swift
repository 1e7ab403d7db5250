import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The namespace lab of `make test-faults` (`scripts/netns-lab.sh`, whose `env` sets the
/// variables read here): `ddrouter run` in the namespace `daemonNamespace`, which reaches the
/// test broker at `brokerAddress` over veth pairs through `middleNamespace`. Every fault is
/// made inside the lab's namespaces and removed by `reset()`.
enum NetLab {
    static let env = ProcessInfo.processInfo.environment

    /// The lab is up (the variables are set): NetworkFaultTests run only then.
    static var configured: Bool { env["DDR_NETNS_DAEMON"] != nil && env["DDR_NETNS_BROKER_ADDRESS"] != nil }

    static var daemonNamespace: String { env["DDR_NETNS_DAEMON"] ?? "" }
    static var middleNamespace: String { env["DDR_NETNS_MIDDLE"] ?? "" }
    static var daemonLink: String { env["DDR_NETNS_DAEMON_LINK"] ?? "" }
    /// The middle namespace's two links: towards the daemon, towards the host.
    static var middleLinks: (daemonSide: String, hostSide: String) {
        let parts = (env["DDR_NETNS_MIDDLE_LINKS"] ?? "").split(separator: " ").map(String.init)
        return (parts.first ?? "", parts.dropFirst().first ?? "")
    }
    static var brokerAddress: String { env["DDR_NETNS_BROKER_ADDRESS"] ?? "" }

    /// The nftables table of the faults, in the daemon's namespace.
    static let faultTable = "ddrouter_faults"

    /// `tc` of iproute2.
    static var tc: String {
        ["/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/tc"
    }

    @discardableResult
    static func ip(_ args: String...) throws -> String { try Broker.run([DaemonProcess.ipCommand] + args) }

    /// `nft -f` of `script` in the daemon's namespace.
    static func nft(_ script: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ddr-nft-\(UUID().uuidString).nft")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try ip("netns", "exec", daemonNamespace, "nft", "-f", file.path)
    }

    /// A daemon in the lab: the broker at the lab's host end, on the test broker's port.
    static func daemon(heartbeatSeconds: Int) throws -> DaemonProcess {
        try DaemonProcess(brokerHost: brokerAddress, heartbeatSeconds: heartbeatSeconds, namespace: daemonNamespace)
    }

    // MARK: faults

    /// `ip link set <daemon link> down|up` in the daemon's namespace.
    static func setDaemonLink(up: Bool) throws {
        try ip("-n", daemonNamespace, "link", "set", "dev", daemonLink, up ? "up" : "down")
    }

    /// Every packet on the daemon's link dropped silently, both ways: netdev ingress and
    /// egress hooks, below IP, so no socket sees an error (a half-open connection).
    static func dropEverything() throws {
        try nft("""
            table netdev \(faultTable) {
              chain in { type filter hook ingress device "\(daemonLink)" priority 0; policy accept; counter drop; }
              chain out { type filter hook egress device "\(daemonLink)" priority 0; policy accept; counter drop; }
            }
            """)
    }

    /// `percent` % of the packets dropped at random, each way (nftables numgen).
    static func randomLoss(percent: Int) throws {
        try nft("""
            table netdev \(faultTable) {
              chain in { type filter hook ingress device "\(daemonLink)" priority 0; policy accept; numgen random mod 100 < \(percent) counter drop; }
              chain out { type filter hook egress device "\(daemonLink)" priority 0; policy accept; numgen random mod 100 < \(percent) counter drop; }
            }
            """)
    }

    /// The packets the fault table dropped so far (in, out), nil without the table.
    static func droppedPackets() -> (in: Int, out: Int)? {
        guard let text = try? ip("netns", "exec", daemonNamespace, "nft", "list", "table", "netdev", faultTable) else { return nil }
        var counts: [Int] = []
        for line in text.split(separator: "\n") where line.contains("counter packets") {
            let words = line.split(separator: " ")
            if let i = words.firstIndex(of: "packets"), i + 1 < words.count, let n = Int(words[i + 1]) { counts.append(n) }
        }
        return counts.count == 2 ? (counts[0], counts[1]) : nil
    }

    static func removeFaultTable() {
        _ = try? ip("netns", "exec", daemonNamespace, "nft", "delete", "table", "netdev", faultTable)
    }

    /// Whether this kernel has `sch_netem` (`tc qdisc add ... netem` on a middle link, removed again).
    static var netemAvailable: Bool {
        let link = middleLinks.daemonSide
        guard (try? Broker.run([tc, "-n", middleNamespace, "qdisc", "add", "dev", link, "root", "netem", "delay", "1ms"])) != nil
        else { return false }
        _ = try? Broker.run([tc, "-n", middleNamespace, "qdisc", "del", "dev", link, "root"])
        return true
    }

    /// One-way `delay` on both middle links with netem (the bridge stays).
    static func netemDelay(_ delay: Duration) throws {
        let ms = "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)ms"
        for link in [middleLinks.daemonSide, middleLinks.hostSide] {
            try Broker.run([tc, "-n", middleNamespace, "qdisc", "add", "dev", link, "root", "netem", "delay", ms])
        }
    }

    /// Takes the middle links out of the bridge (for a delay line) or puts them back.
    static func bridgeMiddle(_ bridged: Bool) throws {
        for link in [middleLinks.daemonSide, middleLinks.hostSide] {
            if bridged {
                try ip("-n", middleNamespace, "link", "set", "dev", link, "master", "br0")
            } else {
                try ip("-n", middleNamespace, "link", "set", "dev", link, "nomaster")
            }
        }
    }

    private typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    /// <sched.h>: not imported by Glibc.
    private static let cloneNewNet: Int32 = 0x4000_0000

    /// Moves the calling thread (only it: setns(2)) into network namespace `name`.
    static func joinNamespace(_ name: String) throws {
        // glibc's symbol, found at run time.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
            throw BrokerError(message: "setns not found in libc")
        }
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let nsFD = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard nsFD >= 0 else { throw BrokerError(message: "open /run/netns/\(name): errno \(errno)") }
        defer { close(nsFD) }
        guard setns(nsFD, cloneNewNet) == 0 else { throw BrokerError(message: "setns(\(name)): errno \(errno)") }
    }

    /// Runs `body` on a new thread that has joined the daemon's namespace: threads it starts
    /// (an AMQPClient's I/O thread) are in that namespace too, and so are their sockets.
    static func inDaemonNamespace(_ body: @escaping @Sendable () -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        let thread = Thread {
            do {
                try joinNamespace(daemonNamespace)
                body()
            } catch {
                failure.set("\(error)")
            }
            done.signal()
        }
        thread.start()
        done.wait()
        if let message = failure.get() { throw BrokerError(message: message) }
    }

    final class FailureBox: Sendable {
        private let value = Mutex<String?>(nil)
        func set(_ s: String) { value.withLock { $0 = s } }
        func get() -> String? { value.withLock { $0 } }
    }

    /// Back to the plain lab: no fault table, the daemon's link up, no qdisc on the middle
    /// links, both in the bridge. Idempotent; run before and after every test.
    static func reset() {
        removeFaultTable()
        _ = try? setDaemonLink(up: true)
        for link in [middleLinks.daemonSide, middleLinks.hostSide] {
            _ = try? Broker.run([tc, "-n", middleNamespace, "qdisc", "del", "dev", link, "root"])
            _ = try? ip("-n", middleNamespace, "link", "set", "dev", link, "master", "br0")
        }
    }
}

// MARK: - the daemon's log

/// The `ddrouter run` JSON log lines with a given `msg`, with their timestamps.
enum DaemonLog {
    /// Lines of `text` whose `msg` is `message`, with their `ts`.
    static func times(of message: String, in text: Substring) -> [Date] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var out: [Date] = []
        for line in text.split(separator: "\n") where line.contains("\"msg\":\"\(message)\"") {
            guard let start = line.range(of: "{\"ts\":\"") else { continue }
            let ts = line[start.upperBound...].prefix(while: { $0 != "\"" })
            if let date = formatter.date(from: String(ts)) { out.append(date) }
        }
        return out
    }

    /// Waits until the log after byte `offset` has `count` lines with `msg == message`; their
    /// times (fewer after `timeout`).
    static func waitFor(_ message: String, count: Int, in daemon: DaemonProcess, after offset: Int,
                        timeout: Duration) async -> [Date] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let text = daemon.logText()
            let tail = Substring(text.utf8.dropFirst(offset))
            let found = times(of: message, in: tail)
            if found.count >= count || ContinuousClock.now >= deadline { return found }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    static func size(of daemon: DaemonProcess) -> Int { daemon.logText().utf8.count }
}

// MARK: - memory

/// Samples a process's `VmRSS` from `/proc/<pid>/status` every `interval` on its own thread,
/// following the daemon across restarts (`pid` asked each time).
final class RSSSampler: Sendable {
    private let samples = Mutex<[(at: ContinuousClock.Instant, kib: Int)]>([])
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)

    init(interval: Duration = .milliseconds(250), pid: @escaping @Sendable () -> pid_t?) {
        let pause = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                if let p = pid(), let kib = Self.status(p, field: "VmRSS") {
                    samples.withLock { $0.append((ContinuousClock.now, kib)) }
                }
                Thread.sleep(forTimeInterval: pause)
            }
            done.signal()
        }
        thread.start()
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    static func status(_ pid: pid_t, field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }

    func stop() {
        if running.exchange(false, ordering: .relaxed) { done.wait() }
    }

    var all: [(at: ContinuousClock.Instant, kib: Int)] { samples.withLock { $0 } }
    var peakKiB: Int { all.map(\.kib).max() ?? 0 }
}

// MARK: - delay line

/// A delay in the middle namespace without netem (a kernel without `sch_netem`): a thread
/// that has joined that namespace reads every frame of one middle link with an `AF_PACKET`
/// socket and writes it to the other one `delay` later, both ways. The sockets carry the
/// virtio-net header (`PACKET_VNET_HDR`), so segmentation-offloaded frames and checksums
/// that the sending kernel left to the device pass through unchanged. The links must be out
/// of the bridge while it runs (`NetLab.bridgeMiddle(false)`).
final class DelayLine: @unchecked Sendable {
    // @unchecked: the counters are only touched under `lock`; the rest is immutable or used
    // by the forwarding thread alone.
    private let namespace: String
    private let links: (String, String)
    private let delay: Duration
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var forwardedCount = [0, 0]
    private var peakQueuedBytes = 0
    private var sendErrors = 0
    private var setupFailure: String?

    init(namespace: String, links: (String, String), delay: Duration) {
        self.namespace = namespace
        self.links = links
        self.delay = delay
    }

    /// Starts the thread; returns once its sockets are bound, throws if that failed.
    func start() throws {
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            do {
                let sockets = try openSockets()
                ready.signal()
                forward(sockets)
                close(sockets.0)
                close(sockets.1)
            } catch {
                lock.withLock { setupFailure = "\(error)" }
                ready.signal()
            }
            finished.signal()
        }
        thread.name = "netlab-delay-line"
        thread.start()
        ready.wait()
        if let message = lock.withLock({ setupFailure }) { throw BrokerError(message: "delay line: \(message)") }
    }

    func stop() {
        if running.exchange(false, ordering: .relaxed) { finished.wait() }
    }

    /// Frames forwarded (daemon side → host side, host side → daemon side).
    var forwarded: (toHost: Int, toDaemon: Int) { lock.withLock { (forwardedCount[0], forwardedCount[1]) } }
    var peakQueued: Int { lock.withLock { peakQueuedBytes } }
    var errors: Int { lock.withLock { sendErrors } }

    /// <linux/if_ether.h>: not imported by Glibc.
    private static let ethPAll: UInt16 = 0x0003

    /// `struct sockaddr_ll` of <linux/if_packet.h> (same layout: 20 bytes).
    private struct PacketAddress {
        var family: UInt16 = 0
        var protocolNumber: UInt16 = 0
        var ifindex: Int32 = 0
        var hatype: UInt16 = 0
        var pkttype: UInt8 = 0
        var halen: UInt8 = 0
        var address: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    private func openSockets() throws -> (Int32, Int32) {
        try NetLab.joinNamespace(namespace)
        return (try packetSocket(links.0), try packetSocket(links.1))
    }

    private func packetSocket(_ link: String) throws -> Int32 {
        let index = if_nametoindex(link)
        guard index > 0 else { throw BrokerError(message: "no link \(link) in \(namespace)") }
        // Protocol 0 until bound: no frame of another link in between.
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BrokerError(message: "AF_PACKET socket: errno \(errno)") }
        var one: Int32 = 1
        let packetVnetHdr: Int32 = 15, packetIgnoreOutgoing: Int32 = 23
        guard setsockopt(fd, Int32(SOL_PACKET), packetVnetHdr, &one, socklen_t(MemoryLayout<Int32>.size)) == 0,
              setsockopt(fd, Int32(SOL_PACKET), packetIgnoreOutgoing, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
        else {
            close(fd)
            throw BrokerError(message: "PACKET_VNET_HDR/PACKET_IGNORE_OUTGOING on \(link): errno \(errno)")
        }
        var buffer: Int32 = 8 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, socklen_t(MemoryLayout<Int32>.size))
        var address = PacketAddress()
        address.family = UInt16(AF_PACKET)
        address.protocolNumber = Self.ethPAll.bigEndian
        address.ifindex = Int32(index)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<PacketAddress>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw BrokerError(message: "bind AF_PACKET to \(link): errno \(errno)")
        }
        return fd
    }

    private struct Queued {
        var due: ContinuousClock.Instant
        var frame: [UInt8]
    }

    private func forward(_ sockets: (Int32, Int32)) {
        let fds = [sockets.0, sockets.1]
        // queues[i]: frames read from fds[i], to be written to fds[1 - i].
        var queues: [[Queued]] = [[], []]
        var heads = [0, 0]
        var queuedBytes = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        while running.load(ordering: .relaxed) {
            let now = ContinuousClock.now
            var timeout: Int32 = 20
            for i in 0..<2 where heads[i] < queues[i].count {
                let wait = queues[i][heads[i]].due - now
                timeout = min(timeout, max(0, Int32(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)))
            }
            var polled = [pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0),
                          pollfd(fd: fds[1], events: Int16(POLLIN), revents: 0)]
            _ = poll(&polled, 2, timeout)
            for i in 0..<2 where polled[i].revents != 0 {
                while true {
                    let n = recv(fds[i], &buffer, buffer.count, Int32(MSG_DONTWAIT))
                    guard n > 0 else { break }
                    queues[i].append(Queued(due: ContinuousClock.now + delay, frame: Array(buffer[0..<n])))
                    queuedBytes += n
                }
            }
            lock.withLock { peakQueuedBytes = max(peakQueuedBytes, queuedBytes) }
            let sendTime = ContinuousClock.now
            for i in 0..<2 {
                while heads[i] < queues[i].count, queues[i][heads[i]].due <= sendTime {
                    let frame = queues[i][heads[i]].frame
                    let sent = frame.withUnsafeBytes { send(fds[1 - i], $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if sent < 0, errno == EAGAIN || errno == ENOBUFS { break }  // the device's queue is full: later
                    lock.withLock {
                        if sent < 0 { sendErrors += 1 } else { forwardedCount[i] += 1 }
                    }
                    queuedBytes -= frame.count
                    heads[i] += 1
                }
                if heads[i] > 4096, heads[i] * 2 > queues[i].count {
                    queues[i].removeFirst(heads[i])
                    heads[i] = 0
                }
            }
        }
    }
}
