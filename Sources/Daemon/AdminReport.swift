public import Foundation
public import Store
public import Workflow

/// `ddrouter report`: phase-in progress per municipality × clinic, from the cases' stored
/// state. Counts only: no citizen, no free text.
///
/// Columns (a case counts in every stage it has reached, so each column is at most the one
/// before it, except the side columns):
/// - `listed`: list-1 citizens and referrals (workflow A or later);
/// - `consent-held`: events held by the consent gate, or listed and waiting for consent (R4);
/// - `routed-cv` / `routed-clinic`: routed by R1 to Central Visitation / a clinic's
///   assessment queue (or further);
/// - `assessed`: psychiatry's assessment recorded (R5);
/// - `decided-integrated` / `decided-coordinated`: the decision meeting's outcome;
/// - `transferred`: responsibility moved to the region (R9);
/// - `handed-over`: treatment started in the integrated offer (and any workflow-B case);
/// - `overdue`: the R10 treatment-start deadline passed, or a timer is due and not fired;
/// - `list-2`: coordinated courses recorded from list 2 (R2).
public struct AdminReport: Sendable {
    public static let columns = [
        "listed", "consent-held", "routed-cv", "routed-clinic", "assessed", "decided-integrated",
        "decided-coordinated", "transferred", "handed-over", "overdue", "list-2",
    ]

    public struct Row: Sendable, Hashable {
        public var municipality: String
        public var clinic: String
        public var counts: [String: Int]
    }

    public var rows: [Row]
    /// Cases whose stored state this build cannot read (counted, not shown).
    public var unreadable: Int

    /// Builds the report from every case; `today` is the civil date for R10 deadlines.
    public static func make(store: Store, directory: Directory, now: Date, today: LocalDate) throws -> AdminReport {
        let overdueTimerCases = Set(try store.overdueTimers(at: now).compactMap(\.caseID))
        var counts: [String: [String: Int]] = [:]  // "m|c" → column → n
        var unreadable = 0
        // Every municipality × its clinic appears, with zeros.
        for m in directory.municipalities {
            counts["\(m.code)|\(directory.clinic(serving: m.code)?.id ?? "-")"] = [:]
        }
        for record in try store.allCases() {
            guard let citizenCase = try? record.decodeState(as: CitizenCase.self) else {
                unreadable += 1
                continue
            }
            let clinic = record.clinic ?? directory.clinic(serving: record.municipality)?.id ?? "-"
            var stages = Self.stages(citizenCase, today: today)
            if overdueTimerCases.contains(record.caseID) { stages.insert("overdue") }
            let key = "\(record.municipality)|\(clinic)"
            for stage in stages { counts[key, default: [:]][stage, default: 0] += 1 }
            if counts[key] == nil { counts[key] = [:] }
        }
        let rows = counts.keys.sorted().map { key in
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            return Row(municipality: parts[0], clinic: parts[1], counts: counts[key] ?? [:])
        }
        return AdminReport(rows: rows, unreadable: unreadable)
    }

    /// The stages one case has reached (see the type's documentation).
    static func stages(_ c: CitizenCase, today: LocalDate) -> Set<String> {
        var stages: Set<String> = []
        if !c.held.isEmpty { stages.insert("consent-held") }
        if let due = c.deadline?.due, due < today { stages.insert("overdue") }
        if c.coordinatedCourse != nil { stages.insert("list-2") }
        if c.workflowB != nil {
            stages.formUnion(["listed", "assessed", "decided-integrated", "transferred", "handed-over"])
            stages.insert("routed-clinic")
            return stages
        }
        guard let a = c.workflowA else { return stages }
        stages.insert("listed")
        if a.isAwaitingConsent { stages.insert("consent-held") }
        let rank: Int
        switch a.stateName {
        case "inAssessment", "referredToCentralVisitation": rank = 1
        case "assessed", "positioned": rank = 2
        case "awaitingTransition", "coordinated": rank = 3
        case "inTransition": rank = 4
        case "integrated": rank = 5
        default: rank = 0  // listed, awaitingJournalStatus, notGroup2, endedByPatientChoice
        }
        if rank >= 1 {
            switch a.routing?.outcome {
            case .centralVisitation, .group3Referral: stages.insert("routed-cv")
            case .clinicAssessment: stages.insert("routed-clinic")
            case .notGroup2, .awaitingJournalStatus, .none:
                stages.insert(a.regionParty == .centralVisitation ? "routed-cv" : "routed-clinic")
            }
        }
        if rank >= 2 { stages.insert("assessed") }
        if rank >= 3 { stages.insert(a.stateName == "coordinated" ? "decided-coordinated" : "decided-integrated") }
        if rank >= 4 { stages.insert("transferred") }
        if rank >= 5 { stages.insert("handed-over") }
        return stages
    }

    /// Tab-separated: a header, one line per municipality × clinic (codes and ids), no totals.
    public var tsv: String {
        let head = (["municipality", "clinic"] + Self.columns).joined(separator: "\t")
        let lines = rows.map { row in
            ([row.municipality, row.clinic] + Self.columns.map { "\(row.counts[$0] ?? 0)" }).joined(separator: "\t")
        }
        return ([head] + lines).joined(separator: "\n")
    }

    /// A fixed-width table: one line per municipality × clinic, then the totals.
    public func table(directory: Directory) -> String {
        let heads = ["municipality", "clinic"] + Self.columns
        var lines: [[String]] = rows.map { row in
            let name = directory.municipalities.first { $0.code == row.municipality }.map { "\(row.municipality) \($0.name)" }
                ?? row.municipality
            return [name, row.clinic] + Self.columns.map { "\(row.counts[$0] ?? 0)" }
        }
        lines.append(["total", ""] + Self.columns.map { column in "\(rows.reduce(0) { $0 + ($1.counts[column] ?? 0) })" })
        let widths = heads.indices.map { i in max(heads[i].count, lines.map { $0[i].count }.max() ?? 0) }
        func render(_ cells: [String]) -> String {
            cells.indices.map { i in
                i < 2 ? cells[i].padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[i] - cells[i].count) + cells[i]
            }.joined(separator: "  ")
        }
        var out = [render(heads)] + lines.map(render)
        if unreadable > 0 { out.append("(\(unreadable) case(s) with a state this build cannot read are not counted)") }
        return out.joined(separator: "\n")
    }
}
