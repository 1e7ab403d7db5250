import Foundation
import Store
import Testing
import Workflow

/// The admin commands that read the store, run as subprocesses of the built binary
/// against a temporary store filled through the Store API. No broker needed.
@Suite("Admin commands (store)", .serialized)
struct AdminCommandTests {
    static let cprA = "0101901234"   // listed in Aalborg, consent given, in treatment → clinic
    static let cprB = "0202802345"   // listed in Frederikshavn, consent given, course closed → CV
    static let cprC = "0303703456"   // listed in Aalborg, no consent → held

    /// A store with three cases; returns the CLI and the case ids.
    static func fixture() throws -> (AdminCLI, [String]) {
        let cli = try AdminCLI()
        let (store, pseudonymizer) = try cli.openStore()
        defer { try? store.close() }
        let a = try AdminFixtures.listedCase(
            store: store, pseudonymizer: pseudonymizer, cpr: cprA, municipality: "851", consent: true,
            facts: ContactFacts(currentCourses: [CurrentCourse(clinic: ClinicID("amb-syd-aalborg"), since: AdminFixtures.date("2025-01-01"))]))
        let b = try AdminFixtures.listedCase(
            store: store, pseudonymizer: pseudonymizer, cpr: cprB, municipality: "813", consent: true,
            facts: ContactFacts(closedCourses: [ClosedCourse(clinic: ClinicID("amb-nord-hjoerring"), closedOn: AdminFixtures.date("2025-03-01"))]))
        let c = try AdminFixtures.listedCase(
            store: store, pseudonymizer: pseudonymizer, cpr: cprC, municipality: "851", consent: false, facts: nil)
        return (cli, [a, b, c])
    }

    static func noCPR(_ text: String) -> Bool {
        ![cprA, cprB, cprC].contains { text.contains($0) || text.contains(String($0.prefix(6)) + "-" + String($0.suffix(4))) }
    }

    @Test func casesListShowsStatesAndNoCitizenData() throws {
        let (cli, ids) = try Self.fixture()
        defer { cli.cleanUp() }
        let r = try cli.run(["cases", "list"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("3 case(s)"))
        #expect(r.out.contains(ids[0]) && r.out.contains("workflowA.inAssessment"))
        #expect(r.out.contains("workflowA.referredToCentralVisitation"))
        #expect(r.out.contains("workflowA.listed"))
        #expect(Self.noCPR(r.out + r.err) && !r.out.contains("FREE TEXT"))
        let filtered = try cli.run(["cases", "list", "--municipality", "813"])
        #expect(filtered.out.contains("1 case(s)") && filtered.out.contains(ids[1]))
    }

    @Test func casesShowByCPRIsAuditedAndShowsTheCPROnlyAsTyped() throws {
        let (cli, ids) = try Self.fixture()
        defer { cli.cleanUp() }
        let missingPurpose = try cli.run(["cases", "show", "--cpr", Self.cprA])
        #expect(missingPurpose.status != 0)
        #expect(missingPurpose.err.contains("--purpose"))

        let r = try cli.run(["cases", "show", "--cpr", Self.cprA, "--purpose", "ticket 17", "--operator", "alice"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("case \(ids[0])"))
        #expect(r.out.contains("citizen:      \(Self.cprA) (as typed)"))
        #expect(r.out.contains("state:        workflowA.inAssessment"))
        #expect(r.out.contains("routing:      clinic-assessment"))
        #expect(!r.out.contains("FREE TEXT"))
        // By case id: the CPR is not shown (not typed).
        let byID = try cli.run(["cases", "show", ids[1], "--purpose", "ticket 18", "--operator", "bob"])
        #expect(byID.status == 0, "\(byID.err)")
        #expect(Self.noCPR(byID.out))
        #expect(byID.out.contains("routing:      central-visitation"))

        let (store, pseudonymizer) = try cli.openStore()
        defer { try? store.close() }
        let entries = try store.auditEntries(pseudonym: try pseudonymizer.pseudonym(forCPR: Self.cprA))
        let view = try #require(entries.last)
        #expect(view.action == .viewed && view.actor == "operator:alice" && view.purpose == "ticket 17")
        let other = try store.auditEntries(pseudonym: try pseudonymizer.pseudonym(forCPR: Self.cprB))
        #expect(other.last?.actor == "operator:bob")
        let unknown = try cli.run(["cases", "show", "--cpr", "0404604567", "--purpose", "x"])
        #expect(unknown.status == 1 && unknown.err.contains("no case found"))
    }

    @Test func explainShowsTheStoredExplanationAndNoFreeText() throws {
        let (cli, ids) = try Self.fixture()
        defer { cli.cleanUp() }
        let r = try cli.run(["explain", ids[1], "--purpose", "why CV?", "--operator", "carol"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("input  municipal-list/list1"))
        #expect(r.out.contains("decision  cvReferral"))
        #expect(r.out.contains("why: R1 [ddrouter-rules-1]"))
        // The same from rows in the binary encoding (issue 15): type names, never free text.
        #expect(r.out.contains("input  contact-status"))
        #expect(r.out.contains("decision  notGroup2"))
        #expect(r.out.components(separatedBy: "why: R1 [ddrouter-rules-1]").count == 3, "\(r.out)")
        #expect(!r.out.contains("FREE TEXT") && Self.noCPR(r.out))
        let (store, pseudonymizer) = try cli.openStore()
        defer { try? store.close() }
        let last = try store.auditEntries(pseudonym: try pseudonymizer.pseudonym(forCPR: Self.cprB)).last
        #expect(last?.actor == "operator:carol" && last?.action == .viewed)
        #expect(try cli.run(["explain", "case-nope", "--purpose", "x"]).status == 1)
    }

    @Test func reportCountsPerMunicipalityAndClinic() throws {
        let (cli, _) = try Self.fixture()
        defer { cli.cleanUp() }
        let r = try cli.run(["report"])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n").map(String.init)
        let header = try #require(lines.first).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        func row(_ prefix: String) -> [String: Int] {
            guard let line = lines.first(where: { $0.hasPrefix(prefix) }) else { return [:] }
            let cells = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            let numbers = cells.suffix(header.count - 2)
            return Dictionary(uniqueKeysWithValues: zip(header.dropFirst(2), numbers.map { Int($0) ?? -1 }))
        }
        let aalborg = row("851 Aalborg")
        #expect(aalborg["listed"] == 2 && aalborg["consent-held"] == 1 && aalborg["routed-clinic"] == 1 && aalborg["routed-cv"] == 0)
        let frederikshavn = row("813 Frederikshavn")
        #expect(frederikshavn["listed"] == 1 && frederikshavn["routed-cv"] == 1)
        #expect(row("total")["listed"] == 3)
        #expect(lines.contains { $0.hasPrefix("825 Læsø") && $0.contains("amb-nord-hjoerring") }, "every municipality has a row")
        #expect(Self.noCPR(r.out))
        let tsv = try cli.run(["report", "--tsv"])
        let tsvLines = tsv.out.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(tsvLines.first?.count == 13 && tsvLines.count == 12)
        #expect(tsvLines.contains(["851", "amb-syd-aalborg", "2", "1", "0", "1", "0", "0", "0", "0", "0", "0", "0"]))
    }

    @Test func auditCitizenListsWhoReceivedWhatAndIsItselfAudited() throws {
        let (cli, _) = try Self.fixture()
        defer { cli.cleanUp() }
        let r = try cli.run(["audit", "citizen", Self.cprB, "--purpose", "citizen's request 9", "--operator", "dave"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("audit trail for citizen \(Self.cprB)"))
        #expect(r.out.contains("municipality.813") && r.out.contains("received"))
        #expect(r.out.contains("cv") && r.out.contains("queued") && r.out.contains("cv-referral"))
        #expect(r.out.contains("operator:dave") && r.out.contains("audit-lookup") && r.out.contains("citizen's request 9"))
        #expect(!r.out.contains(Self.cprA))
        let bad = try cli.run(["audit", "citizen", "12345", "--purpose", "x"])
        #expect(bad.status != 0 && bad.err.contains("not a CPR number"))
    }

    @Test func auditVerifyPassesThenNamesTheFirstBrokenEntry() throws {
        let (cli, _) = try Self.fixture()
        defer { cli.cleanUp() }
        let ok = try cli.run(["audit", "verify"])
        #expect(ok.status == 0, "\(ok.err)")
        #expect(ok.out.contains("audit trail verified: 6 entries"))
        // Tamper with entry 2 behind the store's back (triggers dropped, as an attacker would).
        let sqlite = "/usr/bin/sqlite3"
        try #require(FileManager.default.isExecutableFile(atPath: sqlite), "sqlite3 is needed to tamper with the store")
        _ = try AdminCLI.spawn([sqlite, cli.storePath,
                                "DROP TRIGGER audit_no_update; UPDATE audit SET purpose = 'forged' WHERE seq = 2;"])
        let broken = try cli.run(["audit", "verify"])
        #expect(broken.status == 1)
        // Entries 1 and 2 were written together: their seal names both.
        #expect(broken.err.contains("audit trail broken at entry 1") && broken.err.contains("up to 2"), "\(broken.err)")
    }

    @Test func backupWritesAVerifiedCopy() throws {
        let (cli, ids) = try Self.fixture()
        defer { cli.cleanUp() }
        let copy = cli.directory.appendingPathComponent("backup.sqlite").path
        let r = try cli.run(["backup", "--output", copy])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("audit trail verified: 6 entries"))
        let keys = try StoreKeys(master: Data(AdminCLI.devKey.utf8))
        let store = try Store(path: copy, auditKey: keys.auditKey)
        defer { try? store.close() }
        #expect(try store.case(id: ids[0])?.status == "workflowA.inAssessment")
        let mode = try FileManager.default.attributesOfItem(atPath: copy)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func checkConfigExitsSeventyEightWithOneLinePerProblem() throws {
        let cli = try AdminCLI { $0.replacingOccurrences(of: "  heartbeat_seconds: 30", with: "  heartbeat_secs: 30") }
        defer { cli.cleanUp() }
        let r = try cli.run(["check-config"], env: ["DDROUTER_INBOUND_PREFETCH": "0"])
        #expect(r.status == 78)
        let problems = r.err.split(separator: "\n").filter { !$0.hasSuffix("problem(s)") }
        #expect(problems.count == 2)
        #expect(problems.contains { $0.contains("unknown key broker.heartbeat_secs") && $0.contains("did you mean broker.heartbeat_seconds?") })
        #expect(problems.contains { $0.contains("inbound.prefetch must be 1-65535, got 0") })
        #expect(!r.out.contains("ddrouter-dev") && !r.out.contains(AdminCLI.devKey))
        let good = try AdminCLI()
        defer { good.cleanUp() }
        let g = try good.run(["check-config"])
        #expect(g.status == 0, "\(g.err)")
        #expect(g.out.contains("broker.password = (redacted)"))
    }
}
