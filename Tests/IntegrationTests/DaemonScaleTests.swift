import AMQP
import Foundation
import Testing

/// Issue 4, tests 1–3: `ddrouter run` as a subprocess with a municipal list 1 of 10,000
/// citizens over the 11 Nordjylland municipalities and a journal peer answering its
/// contact-status requests; undisturbed, with `kill -9` of the daemon, and with a broker
/// `stop_app`/`start_app` in the middle of the traffic. Part of the serialized broker suite.
extension ClientTests {
    static let scaleCitizens = 10_000

    @Test("daemon subprocess: a list 1 of 10,000 citizens ends each citizen in the right queue (issue 4, test 1)")
    func daemonScaleList() async throws {
        let workload = ScaleWorkload(name: "scale10k", count: Self.scaleCitizens)
        #expect(Set(workload.citizens.map(\.cpr)).count == Self.scaleCitizens)
        #expect(Set(workload.citizens.map(\.municipality)) == Set(ScaleDirectory.municipalities))
        #expect(Set(workload.citizens.map(\.category)) == Set(ScaleWorkload.Category.allCases))
        let (result, daemon) = try await ScaleHarness.run(workload)
        defer { daemon.removeFiles() }
        print("scale run \(workload.name): \(workload.citizens.count) citizens, \(result.messages.count) outbound messages, \(String(format: "%.1f", result.seconds)) s")
        try ScaleHarness.verify(result)
        await Baselines.shared.store(result)
    }

    @Test("daemon subprocess: kill -9 in the middle of the list, restart: same outputs, nothing missing or doubled (issue 4, test 2)")
    func daemonScaleKill9() async throws {
        let workload = ScaleWorkload(name: "scale10k", count: Self.scaleCitizens)
        let (result, daemon) = try await ScaleHarness.run(workload, disturbance: .kill9(atShare: 0.3))
        defer { daemon.removeFiles() }
        print("scale run \(workload.name) with \(result.disturbances): \(String(format: "%.1f", result.seconds)) s")
        #expect(result.disturbances.count == 1, "the kill happened")
        try ScaleHarness.verify(result)
        try await compareWithUndisturbed(result)
    }

    @Test("daemon subprocess: broker stop_app/start_app in the middle of the list: same outputs (issue 4, test 3)")
    func daemonScaleBrokerRestart() async throws {
        let workload = ScaleWorkload(name: "scale10k", count: Self.scaleCitizens)
        let (result, daemon) = try await ScaleHarness.run(workload, disturbance: .brokerRestart(atShare: 0.3))
        defer { daemon.removeFiles() }
        print("scale run \(workload.name) with \(result.disturbances): \(String(format: "%.1f", result.seconds)) s")
        #expect(result.disturbances.count == 1, "the broker restart happened")
        try ScaleHarness.verify(result)
        try await compareWithUndisturbed(result)
    }

    /// The disturbed run's distinct outbound messages (ids and bodies without wall-clock
    /// fields) equal an undisturbed run's of the same workload (test 1's, or a new one).
    func compareWithUndisturbed(_ result: ScaleResult) async throws {
        var baseline = await Baselines.shared.fingerprint(result.workload.name)
        if baseline == nil {
            let (clean, daemon) = try await ScaleHarness.run(result.workload)
            daemon.removeFiles()
            await Baselines.shared.store(clean)
            baseline = ScaleHarness.fingerprint(clean)
        }
        let mine = ScaleHarness.fingerprint(result)
        let base = try #require(baseline)
        let missing = Set(base.keys).subtracting(mine.keys)
        let extra = Set(mine.keys).subtracting(base.keys)
        let different = base.keys.filter { mine[$0] != nil && mine[$0] != base[$0] }
        #expect(missing.isEmpty, "\(missing.count) messages of the undisturbed run missing: \(missing.sorted().prefix(5))")
        #expect(extra.isEmpty, "\(extra.count) messages the undisturbed run did not send: \(extra.sorted().prefix(5))")
        #expect(different.isEmpty, "\(different.count) messages differ: \(different.sorted().prefix(5))")
    }
}
