@testable import Daemon
import Foundation
import Testing

/// A datagram listener standing in for systemd's notify socket.
final class NotifyListener {
    let fd: Int32
    let path: String

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        let name = "ddrouter-notify-test-\(UUID().uuidString.prefix(8))"
        path = abstract ? "@\(name)" : FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }

    func receive() -> String? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buf, buf.count, 0)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }
}

@Suite("systemd notify protocol")
struct SystemdNotifierTests {
    @Test(arguments: [false, true])
    func sequenceReachesTheSocket(abstract: Bool) throws {
        let listener = try NotifyListener(abstract: abstract)
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "10000000"])
        #expect(n.isEnabled)
        #expect(n.watchdogInterval == .seconds(5), "half of WATCHDOG_USEC")
        n.ready(status: "consuming ddrouter.inbound")
        n.watchdog()
        n.stopping(status: "stopping on SIGTERM")
        #expect(listener.receive() == "READY=1\nSTATUS=consuming ddrouter.inbound")
        #expect(listener.receive() == "WATCHDOG=1")
        #expect(listener.receive() == "STOPPING=1\nSTATUS=stopping on SIGTERM")
    }

    /// A receiver that does not read (a busy or stuck systemd, or a test) fills the socket's
    /// short queue (net.unix.max_dgram_qlen, 10 in a fresh network namespace): the sender
    /// must drop the datagram and return, never block its thread.
    @Test(.timeLimit(.minutes(1))) func aFullQueueDropsInsteadOfBlocking() async throws {
        let listener = try NotifyListener(abstract: false)
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path])
        let outcome = await withCheckedContinuation { (cont: CheckedContinuation<(sent: Int, dropped: Int), Never>) in
            Thread {
                var sent = 0, dropped = 0
                for i in 0..<2_000 {
                    if n.send("STATUS=sample \(i)") { sent += 1 } else { dropped += 1 }
                }
                cont.resume(returning: (sent, dropped))
            }.start()
        }
        #expect(outcome.sent > 0)
        #expect(outcome.dropped > 0, "2,000 unread datagrams cannot all fit in the queue")
        #expect(listener.receive() == "STATUS=sample 0", "what fit arrives in order")
    }

    @Test func withoutNotifySocketNothingIsSent() {
        let n = SystemdNotifier(environment: ["WATCHDOG_USEC": "10000000"])
        #expect(!n.isEnabled)
        #expect(n.watchdogInterval == nil)
        #expect(n.send("READY=1") == false)
    }

    @Test func aMissingSocketIsNotFatal() {
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify.sock"])
        #expect(n.send("READY=1") == false)
    }
}
