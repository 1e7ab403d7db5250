import Foundation
import Testing

/// Headless Chromium (Debian's `chromium`), installed with scripts/apt-install.sh when missing.
enum Chromium {
    struct Found: Sendable {
        var path: String?
        var why: String
    }

    /// Looked for (and installed) once per test run.
    static let found: Found = {
        for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return Found(path: candidate, why: "")
        }
        let script = Broker.repoRoot.appendingPathComponent("scripts/apt-install.sh").path
        let r = try? AdminCLI.spawn([script, "chromium"])
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") {
            return Found(path: "/usr/bin/chromium", why: "")
        }
        return Found(path: nil, why: "chromium is not installed and `scripts/apt-install.sh chromium` failed: \(r?.err.suffix(400) ?? "could not run it")")
    }()

    /// Skip only where chromium cannot be had; CI (CI=true, root, apt) must run the test.
    static var runnable: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true" || found.path != nil
    }

    struct Run {
        var result: AdminCLI.Result
        /// URLs the page itself asked the network stack for (from Chromium's net log).
        var pageRequests: [String]
    }

    /// Opens `file` headless with `args` (e.g. `--dump-dom`). Every request is sent to a proxy
    /// on a port nothing listens on and every host name resolves to nothing, so no request can
    /// leave the machine; Chromium's net log records the requests the page made all the same.
    static func open(_ file: String, _ args: [String], in directory: URL) throws -> Run {
        let chromium = try #require(found.path, "\(found.why)")
        let profile = directory.appendingPathComponent("profile-\(UUID().uuidString.prefix(8))").path
        let netLog = directory.appendingPathComponent("netlog-\(UUID().uuidString.prefix(8)).json").path
        let argv = [
            "/usr/bin/timeout", "120", chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--user-data-dir=\(profile)", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--log-net-log=\(netLog)",
        ] + args + [URL(fileURLWithPath: file).absoluteString]
        let result = try AdminCLI.spawn(argv)
        return Run(result: result, pageRequests: try pageRequests(netLog: netLog))
    }

    /// The URL requests of the net log made for a page loaded from file:// (its network
    /// isolation key is file://, its initiator the file's opaque origin). Chromium's own
    /// background requests (component updater, time, accounts) have other keys: not the page's.
    static func pageRequests(netLog: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: netLog))
        let log = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let constants = try #require(log["constants"] as? [String: Any])
        let types = try #require(constants["logEventTypes"] as? [String: Int])
        let startJob = try #require(types["URL_REQUEST_START_JOB"])
        let events = try #require(log["events"] as? [[String: Any]])
        return events.compactMap { event in
            guard event["type"] as? Int == startJob, let params = event["params"] as? [String: Any],
                  let url = params["url"] as? String else { return nil }
            let key = params["network_isolation_key"] as? String ?? ""
            let initiator = params["initiator"] as? String ?? ""
            return key.contains("file://") || initiator == "null" ? url : nil
        }
    }
}

/// `ddrouter report --html FILE` rendered in a real browser (issue 16, item 4): the DOM has a
/// chart per municipality × clinic with the report's numbers and the table, a screenshot is
/// produced, and the page makes no request. A control page with two external images checks
/// that the request check sees requests at all.
@Suite("report --html in Chromium", .serialized, .enabled(if: Chromium.runnable, "chromium cannot be installed here"))
struct ReportHTMLTests {
    @Test func thePageRendersWithTheCountsAndFetchesNothing() throws {
        let (cli, _) = try AdminCommandTests.fixture()
        defer { cli.cleanUp() }
        let page = cli.directory.appendingPathComponent("report.html").path
        let r = try cli.run(["report", "--html", page, "--as-of", "2026-12-01"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("report written to \(page) (11 municipality × clinic rows"))
        let text = try String(contentsOfFile: page, encoding: .utf8)
        #expect(AdminCommandTests.noCPR(text))
        #expect(!text.contains("http:") && !text.contains("https:"), "no URL in the file")

        // The DOM as Chromium built it.
        let dom = try Chromium.open(page, ["--dump-dom"], in: cli.directory)
        #expect(dom.result.status == 0, "\(dom.result.err.suffix(2000))")
        let html = dom.result.out
        #expect(html.components(separatedBy: "<figure class=\"chart").count - 1 == 12, "the region and 11 rows")
        #expect(html.components(separatedBy: "<svg").count - 1 == 12)
        #expect(html.components(separatedBy: "<tr data-municipality=").count - 1 == 12, "11 rows and the total")
        func chart(_ municipality: String) -> String {
            guard let start = html.range(of: "<figure class=\"chart\" data-municipality=\"\(municipality)\"") else { return "" }
            let rest = html[start.lowerBound...]
            return String(rest[..<(rest.range(of: "</figure>")?.lowerBound ?? rest.endIndex)])
        }
        let aalborg = chart("851")
        for (stage, n) in [("listed", 2), ("held for consent", 1), ("routed", 1), ("assessed", 0), ("overdue", 0)] {
            #expect(aalborg.contains("<g data-stage=\"\(stage)\" data-count=\"\(n)\">"), "Aalborg \(stage) = \(n)")
        }
        #expect(chart("813").contains("<g data-stage=\"routed\" data-count=\"1\">"), "Frederikshavn routed to CV")
        #expect(html.contains("<td class=\"n\" data-column=\"listed\">3</td>"), "the total listed")
        #expect(!html.contains("<script") && AdminCommandTests.noCPR(html))
        #expect(dom.pageRequests.isEmpty, "the page requested \(dom.pageRequests)")

        // A screenshot: a PNG of the window's width.
        let shot = cli.directory.appendingPathComponent("report.png").path
        let s = try Chromium.open(page, ["--screenshot=\(shot)", "--window-size=1280,1800", "--hide-scrollbars"], in: cli.directory)
        #expect(s.result.status == 0, "\(s.result.err.suffix(2000))")
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.count > 10_000, "a screenshot of \(png.count) bytes")
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "PNG signature")
        let width = png.count >= 24 ? png[16..<20].reduce(0) { $0 << 8 | Int($1) } : 0
        #expect(width == 1280, "screenshot width \(width)")
        #expect(s.pageRequests.isEmpty, "the page requested \(s.pageRequests)")
    }

    /// The request check must see a page that does fetch: otherwise an empty list proves nothing.
    @Test func theRequestCheckSeesAPageThatFetches() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-html-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("control.html").path
        try """
            <!DOCTYPE html><html><head><style>body { background: url(https://ddrouter-test.invalid/bg.png) }</style></head>
            <body><img src="http://ddrouter-test.invalid/a.png"></body></html>
            """.write(toFile: page, atomically: true, encoding: .utf8)
        let run = try Chromium.open(page, ["--dump-dom"], in: directory)
        #expect(run.result.status == 0, "\(run.result.err.suffix(2000))")
        #expect(Set(run.pageRequests) == ["http://ddrouter-test.invalid/a.png", "https://ddrouter-test.invalid/bg.png"])
    }
}
