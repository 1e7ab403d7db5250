import AMQP
import Foundation
import Testing

/// Issue 4, graceful shutdown: `ddrouter run` as a subprocess gets SIGTERM while a list is
/// in flight. It stops consuming, finishes only the message in hand, flushes the outbox and
/// exits 0 well within the unit's `TimeoutStopSec`; a second SIGTERM exits at once (143).
/// Either way, after a restart every citizen ends exactly once where R1 puts them and every
/// inbound message has its receipt (`ScaleHarness.verify`). Part of the serialized broker suite.
extension ClientTests {
    /// Small batches: many contact-status messages are prefetched when the signal comes.
    static let shutdownWorkload = ScaleWorkload(name: "shutdown3k", count: 3_000, batchSize: 25)

    @Test("daemon subprocess: SIGTERM mid-list exits 0 quickly after the message in hand; a restart completes everything exactly once")
    func daemonSigtermMidList() async throws {
        let (result, daemon) = try await ScaleHarness.run(Self.shutdownWorkload, disturbance: .sigterm(atShare: 0.3, twice: false))
        defer { daemon.removeFiles() }
        let stop = try #require(result.stops.first, "the SIGTERM happened")
        print("SIGTERM mid-list: exit \(stop.exitCode.map(String.init) ?? "none") after \(String(format: "%.2f", stop.seconds)) s, \(stop.processedAfterStop) message(s) processed after it, \(stop.inHandAtStop.map(String.init) ?? "?") in hand")
        #expect(stop.exitCode == 0, "graceful stop exits 0")
        #expect(stop.seconds < 20, "stop well within TimeoutStopSec=45s")
        // With group commit several deliveries can be in hand (one being handled, the others'
        // writes in the open transaction); none is taken after the stop. One more may have been
        // taken between the daemon's last check and its reading of the count.
        let inHand = try #require(stop.inHandAtStop, "the stopping line names the deliveries in hand")
        #expect(stop.processedAfterStop <= inHand + 1, "only the deliveries in hand are finished, not the prefetched ones")
        #expect(inHand <= 101, "at most one being handled and the group commit's 100 waiting writes")
        try ScaleHarness.verify(result)
    }

    /// Issue 14, item 14: every graceful stop used to log "Waiting on child channel:
    /// CancellationError()" at error level (Hummingbird, its accept loop cancelled), so the
    /// DDRouterErrors alert fired on every planned restart.
    @Test("daemon subprocess: a clean SIGTERM stop exits 0 and logs nothing at error or critical level")
    func cleanStopLogsNoError() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.removeFiles() }
        try await daemon.start()
        let port = try await daemon.httpPort()
        // A scrape first, as Prometheus does: the server has served a connection.
        let (status, _) = try await offPool { try httpGet(port: port, path: "/metrics") }
        #expect(status == 200)
        #expect(try await daemon.terminate() == 0)
        let lines = daemon.logLines
        #expect(lines.contains { $0.object?["msg"] as? String == "stopped" }, "the stop completed:\n\(daemon.logTail())")
        let alarming = lines.filter { line in
            guard let object = line.object else { return line.text.lowercased().contains("error") }
            return ["error", "critical"].contains(object["level"] as? String ?? "")
        }
        #expect(alarming.isEmpty, "error lines on a clean stop:\n\(alarming.map(\.text).joined(separator: "\n"))")
    }

    @Test("daemon subprocess: a second SIGTERM during the stop exits at once (143); a restart completes everything exactly once")
    func daemonDoubleSigterm() async throws {
        let (result, daemon) = try await ScaleHarness.run(Self.shutdownWorkload, disturbance: .sigterm(atShare: 0.3, twice: true))
        defer { daemon.removeFiles() }
        let stop = try #require(result.stops.first, "the SIGTERMs happened")
        print("double SIGTERM: exit \(stop.exitCode.map(String.init) ?? "none") after \(String(format: "%.2f", stop.seconds)) s")
        #expect(stop.exitCode == 143, "the second signal exits at once with 128+SIGTERM")
        #expect(stop.seconds < 5, "immediately, not after the graceful stop")
        try ScaleHarness.verify(result)
    }
}
