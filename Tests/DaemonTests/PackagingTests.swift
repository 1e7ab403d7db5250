import Foundation
import Testing

/// The Debian packaging in deploy/debian/ (built by scripts/deb.sh, `make deb`): the maintainer
/// scripts run against a scratch root through `DPKG_ROOT`, as dpkg runs them, and the files the
/// package ships agree with each other. The installed package itself is checked by
/// `make package-test` (a debootstrap root) and `make systemd-test` (a booted one).
@Suite("deploy/debian")
struct PackagingTests {
    static func file(_ path: String) throws -> String {
        try String(contentsOf: DaemonSettingsTests.repoRoot.appendingPathComponent(path), encoding: .utf8)
    }

    /// Runs deploy/debian/SCRIPT with ARGS and DPKG_ROOT=root.
    static func maintainerScript(_ script: String, _ args: [String], root: URL) throws -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [DaemonSettingsTests.repoRoot.appendingPathComponent("deploy/debian/\(script)").path] + args
        var env = ProcessInfo.processInfo.environment
        env["DPKG_ROOT"] = root.path
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func scratchRoot() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-dpkg-root-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        return root
    }

    static func mode(_ url: URL) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
    }

    @Test func postinstCreatesTheStoreKeyOnceAndNeverOverwritesIt() throws {
        let root = try Self.scratchRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let key = root.appendingPathComponent("etc/credstore/store-key")

        let first = try Self.maintainerScript("postinst", ["configure", ""], root: root)
        #expect(first.status == 0, "\(first.out)")
        let created = try String(contentsOf: key, encoding: .utf8)
        #expect(created.range(of: "^[0-9a-f]{64}\n$", options: .regularExpression) != nil, "store-key: \(created.count) characters, not 64 hex digits")
        #expect(try Self.mode(key) == 0o600)
        #expect(try Self.mode(key.deletingLastPathComponent()) == 0o700)
        #expect(first.out.contains("not started"), "the first installation says the service is not started")

        // An upgrade (configure with the old version) and a reinstall keep the key.
        let upgrade = try Self.maintainerScript("postinst", ["configure", "0.0.9"], root: root)
        #expect(upgrade.status == 0, "\(upgrade.out)")
        #expect(try String(contentsOf: key, encoding: .utf8) == created)

        // The operator's own key, or a symlink to one elsewhere (even a dangling one), stays.
        try "the operator's key\n".write(to: key, atomically: true, encoding: .utf8)
        _ = try Self.maintainerScript("postinst", ["configure", ""], root: root)
        #expect(try String(contentsOf: key, encoding: .utf8) == "the operator's key\n")
        try FileManager.default.removeItem(at: key)
        try FileManager.default.createSymbolicLink(atPath: key.path, withDestinationPath: "/nonexistent/store-key")
        _ = try Self.maintainerScript("postinst", ["configure", ""], root: root)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: key.path) == "/nonexistent/store-key")
    }

    @Test func removeKeepsTheStateAndPurgeDeletesIt() throws {
        let root = try Self.scratchRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        #expect(try Self.maintainerScript("postinst", ["configure", ""], root: root).status == 0)
        let state = root.appendingPathComponent("var/lib/private/ddrouter")
        try fm.createDirectory(at: state, withIntermediateDirectories: true)
        try "store".write(to: state.appendingPathComponent("ddrouter.sqlite"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("var/lib/ddrouter").path, withDestinationPath: "private/ddrouter")
        let password = root.appendingPathComponent("etc/credstore/broker-password")
        try "secret".write(to: password, atomically: true, encoding: .utf8)
        let wants = root.appendingPathComponent("etc/systemd/system/multi-user.target.wants")
        try fm.createDirectory(at: wants, withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: wants.appendingPathComponent("ddrouter.service").path, withDestinationPath: "/lib/systemd/system/ddrouter.service")

        #expect(try Self.maintainerScript("prerm", ["remove"], root: root).status == 0)
        #expect(try Self.maintainerScript("postrm", ["remove"], root: root).status == 0)
        #expect(fm.fileExists(atPath: root.appendingPathComponent("var/lib/ddrouter/ddrouter.sqlite").path), "remove keeps the store")
        #expect(fm.fileExists(atPath: root.appendingPathComponent("etc/credstore/store-key").path), "remove keeps the store key")

        let purge = try Self.maintainerScript("postrm", ["purge"], root: root)
        #expect(purge.status == 0, "\(purge.out)")
        #expect(!fm.fileExists(atPath: state.path), "purge deletes the store")
        #expect((try? fm.destinationOfSymbolicLink(atPath: root.appendingPathComponent("var/lib/ddrouter").path)) == nil, "purge deletes the state symlink")
        #expect(!fm.fileExists(atPath: root.appendingPathComponent("etc/credstore/store-key").path), "purge deletes the store key it created")
        #expect((try? fm.destinationOfSymbolicLink(atPath: wants.appendingPathComponent("ddrouter.service").path)) == nil, "purge deletes the enable link")
        #expect(fm.fileExists(atPath: password.path), "the operator's credential is the operator's")
    }

    @Test func unknownArgumentsFailAsPolicyAsks() throws {
        let root = try Self.scratchRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        for script in ["postinst", "prerm", "postrm"] {
            #expect(try Self.maintainerScript(script, ["bogus"], root: root).status != 0, "\(script) bogus")
        }
    }

    /// The paths the build script installs are those the unit, the admin wrapper and the
    /// conffile list name, and the packaged configuration drops the development secrets.
    @Test func filesAgreeWithEachOther() throws {
        let build = try Self.file("scripts/deb.sh")
        let conffiles = try Self.file("deploy/debian/conffiles").split(separator: "\n").map(String.init)
        #expect(conffiles == ["/etc/ddrouter/ddrouter.yaml"])
        for path in conffiles {
            #expect(build.contains("\"$root\(path)\"") || build.contains("$root\(path)"), "scripts/deb.sh does not install the conffile \(path)")
        }
        #expect(build.contains("\"$root/usr/bin/ddrouter\""))
        #expect(build.contains("\"$root/usr/sbin/ddrouter-admin\""))
        #expect(build.contains("\"$root/lib/systemd/system/ddrouter.service\""))
        let unit = try Self.file("deploy/ddrouter.service")
        let exec = unit.split(separator: "\n").filter { $0.hasPrefix("ExecStart") }
        #expect(!exec.isEmpty && exec.allSatisfy { $0.contains(" /usr/bin/ddrouter run ") || $0.contains("=/usr/bin/ddrouter ") }, "the unit runs /usr/bin/ddrouter: \(exec)")
        for edit in ["'^  password: ddrouter-dev '", "'^  dev_key: '"] {
            #expect(build.contains("edit \(edit)"), "scripts/deb.sh no longer drops \(edit) from the packaged configuration")
        }
        let control = try Self.file("deploy/debian/control.in")
        #expect(control.contains("Depends: @DEPENDS@"), "Depends comes from dpkg-shlibdeps")
    }
}
