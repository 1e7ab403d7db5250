@testable import Daemon
import Testing
import Workflow

/// `AdminReport.html`: the page the steering group opens (issue 16, item 4). Rendered in a
/// real browser by IntegrationTests/ReportHTMLTests; here the text itself.
@Suite("report --html page")
struct ReportHTMLUnitTests {
    static let hostile = "<script>alert('x')</script> & \"Ø\""

    static func report() -> (AdminReport, Directory) {
        var directory = Directory.nordjylland
        directory.municipalities[0].name = hostile   // 851
        directory.clinics[0].name = "Syd <b>&</b>"
        let rows = [
            AdminReport.Row(municipality: "851", clinic: "amb-syd-aalborg", counts: [
                "listed": 40, "consent-held": 5, "routed-cv": 3, "routed-clinic": 30, "assessed": 20,
                "decided-integrated": 8, "decided-coordinated": 4, "transferred": 6, "overdue": 2,
            ]),
            AdminReport.Row(municipality: "825", clinic: "amb-nord-hjoerring", counts: [:]),
        ]
        return (AdminReport(rows: rows, unreadable: 1), directory)
    }

    @Test func everyDirectoryStringIsEscaped() {
        let (report, directory) = Self.report()
        let page = report.html(directory: directory, asOf: LocalDate(iso: "2026-12-01")!, generated: "2026-12-01T10:00:00Z")
        #expect(!page.contains("<script"), "a name must not become markup")
        #expect(!page.contains("<b>"))
        #expect(page.contains("851 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Ø&quot;"))
        #expect(page.contains("Syd &lt;b&gt;&amp;&lt;/b&gt; (amb-syd-aalborg)"))
        #expect(AdminReport.htmlEscape(#"a&b<c>d"e'f"#) == "a&amp;b&lt;c&gt;d&quot;e&#39;f")
    }

    @Test func chartsAddUpTheReportColumnsAndTheTableHasThemAll() {
        let (report, directory) = Self.report()
        let page = report.html(directory: directory, asOf: LocalDate(iso: "2026-12-01")!, generated: "now")
        // One chart for the region and one per row, seven bars each.
        #expect(page.components(separatedBy: "<figure class=\"chart").count - 1 == 3)
        #expect(page.components(separatedBy: "<g data-stage=").count - 1 == 3 * 7)
        for (stage, n) in [("listed", 40), ("held for consent", 5), ("routed", 33), ("assessed", 20),
                           ("decided", 12), ("transferred", 6), ("overdue", 2)] {
            #expect(page.contains("<g data-stage=\"\(stage)\" data-count=\"\(n)\">"), "\(stage) = \(n)")
        }
        for column in AdminReport.columns {
            #expect(page.contains("<th>\(column)</th>"))
        }
        #expect(page.contains("<td class=\"n\" data-column=\"routed-clinic\">30</td>"))
        #expect(page.contains("1 case(s) with a state this build cannot read"))
    }

    @Test func thePageFetchesNothing() {
        let (report, directory) = Self.report()
        let page = report.html(directory: directory, asOf: LocalDate(iso: "2026-12-01")!, generated: "now")
        for needle in ["http:", "https:", "//", "src=", "href=", "url(", "@import", "<script", "<link"] {
            #expect(!page.contains(needle), "\(needle) in the page")
        }
        #expect(page.contains("Content-Security-Policy\" content=\"default-src 'none'"))
    }
}
