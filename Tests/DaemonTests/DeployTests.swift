import Foundation
import Testing

/// The systemd unit in deploy/ is checked with systemd's own tools (Debian 12's systemd 252).
@Suite("deploy/ddrouter.service")
struct DeployTests {
    static var unitWithRunnableBinary: URL {
        get throws {
            let text = try String(contentsOf: DaemonSettingsTests.repoRoot.appendingPathComponent("deploy/ddrouter.service"), encoding: .utf8)
            // verify checks that ExecStart's binary exists; the installed path does not here.
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-unit-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let url = dir.appendingPathComponent("ddrouter.service")
            try text.replacingOccurrences(of: "/usr/bin/ddrouter", with: "/usr/bin/true").write(to: url, atomically: true, encoding: .utf8)
            return url
        }
    }

    static func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func verifyIsSilent() throws {
        let unit = try Self.unitWithRunnableBinary
        let r = try Self.run(["verify", unit.path])
        #expect(r.status == 0)
        #expect(r.err.isEmpty, "systemd-analyze verify: \(r.err)")
    }

    @Test func securityExposureAtMostTwo() throws {
        let unit = try Self.unitWithRunnableBinary
        let r = try Self.run(["security", "--offline=yes", unit.path])
        let line = try #require((r.out + r.err).split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
        #expect(score <= 2.0, "exposure \(score): \(line)")
        #expect(score > 0, "a score of 0 would mean nothing was parsed")
    }
}
