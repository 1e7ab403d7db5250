import Contract
import Foundation
import Store
import Workflow

/// R3: a clinic's list is compared with the municipal list of the same municipality–clinic
/// pair and kind (the municipality's lists for that clinic and for all clinics), and each
/// side gets a `reconciliation-report`: counts always, citizens named only as far as
/// consent (course overview) allows (`Workflow.Reconciliation`).
extension Pipeline {
    func reconcile(
        _ list: Contract.ClinicList, decoded: DecodedMessage, accepted: Set<String>, in tx: StoreTransaction,
        at now: Date, summary: inout ListSummary
    ) throws {
        let kind = list.listKind.rawValue
        var cprs: [Pseudonym: String] = [:]
        var consents: [CitizenKey: Workflow.ConsentRecord] = [:]
        var caseIDs: [Pseudonym: String] = [:]
        for entry in list.entries where accepted.contains(entry.cpr.digits) {
            let pseudonym = try options.pseudonymizer.pseudonym(forCPR: entry.cpr.digits)
            cprs[pseudonym] = entry.cpr.digits
            if let consent = entry.consent {
                var record = Workflow.ConsentRecord()
                let update = Self.consentUpdate(consent)
                record.record(update.status, directions: update.directions)
                consents[CitizenKey(pseudonym.hex)] = record
            }
            try tx.recordListMember(ListMember(
                side: .clinic, municipality: list.municipality, clinic: list.clinic, listKind: kind,
                pseudonym: pseudonym, asOf: list.asOf.description, messageID: decoded.messageID))
        }
        let municipal = try tx.listMembers(
            side: .municipality, municipality: list.municipality, clinics: [list.clinic, ""], listKind: kind)
        let clinical = try tx.listMembers(side: .clinic, municipality: list.municipality, clinics: [list.clinic], listKind: kind)
        // What the cases know: the CPR (to name a citizen) and the recorded consent (R4).
        for member in municipal + clinical where caseIDs[member.pseudonym] == nil {
            let caseID = Self.caseID(member.pseudonym)
            guard let record = try tx.case(id: caseID),
                let citizenCase = try? record.decodeState(as: CitizenCase.self)
            else { continue }
            caseIDs[member.pseudonym] = caseID
            cprs[member.pseudonym] = citizenCase.citizen.rawValue
            consents[CitizenKey(member.pseudonym.hex)] = citizenCase.consent
        }
        let listKind: Workflow.ListKind = list.listKind == .list1 ? .list1 : .list2
        func listed(_ members: [ListMember]) -> [ListedCitizen] {
            members.map { ListedCitizen(citizen: CitizenKey($0.pseudonym.hex), list: listKind) }
        }
        let today = Self.civilDate(of: now)
        let report = Reconciliation.reconcile(
            municipality: MunicipalityCode(list.municipality), clinic: ClinicID(list.clinic), asOf: today,
            municipalList: listed(municipal), clinicList: listed(clinical), consents: consents,
            configuration: options.workflow)
        let explanation = Contract.Explanation(
            rule: report.explanation.rule.rawValue, outcome: "lists-compared",
            facts: report.explanation.facts.map { String($0.prefix(500)) }, rulesVersion: report.explanation.rulesVersion)
        let municipalAsOf = municipal.compactMap { CalendarDate(iso: $0.asOf) }.max() ?? list.asOf
        // A line is named only with a CPR the router knows (from this list or a case).
        func named(_ lines: [Workflow.ReconciliationReport.Line]) -> (citizens: [ReconciledCitizen], unknown: Int) {
            var citizens: [ReconciledCitizen] = []
            var unknown = 0
            for line in lines {
                guard let pseudonym = Pseudonym(hex: line.citizen.rawValue), let digits = cprs[pseudonym],
                    let cpr = CPR(digits)
                else {
                    unknown += 1
                    continue
                }
                citizens.append(ReconciledCitizen(cpr: cpr, caseId: caseIDs[pseudonym]))
            }
            return (citizens, unknown)
        }
        // R3: each side is told the one-list citizens of both lists (`municipalOnly` and
        // `clinicOnly`), as far as consent towards it allows; a citizen on both lists (the
        // same kind here) is only counted.
        let toMunicipality = named(report.toMunicipality.filter { $0.clinicList == nil })
        let toMunicipalityClinicOnly = named(report.toMunicipality.filter { $0.municipalList == nil })
        let toClinic = named(report.toClinic.filter { $0.clinicList == nil })
        let toClinicClinicOnly = named(report.toClinic.filter { $0.municipalList == nil })
        let both = report.counts.onBothSameList + report.counts.onBothDifferentList
        let mapper = OutboundMapper(names: options.names, codeBook: options.codeBook, workflow: options.workflow)
        let reports: [(Audience, String, Contract.ReconciliationReport)] = [
            (.municipality(list.municipality), "municipality.\(list.municipality)", Contract.ReconciliationReport(
                municipality: list.municipality, clinic: list.clinic, listKind: list.listKind,
                municipalListAsOf: municipalAsOf, clinicListAsOf: list.asOf,
                counts: ReconciliationCounts(
                    onBoth: both, municipalOnly: report.counts.onlyMunicipal, clinicOnly: report.counts.onlyClinic,
                    withheld: report.withheldFromMunicipality + toMunicipality.unknown + toMunicipalityClinicOnly.unknown),
                municipalOnly: toMunicipality.citizens, clinicOnly: toMunicipalityClinicOnly.citizens,
                explanation: explanation)),
            (.clinic(list.clinic), "clinic.\(list.clinic)", Contract.ReconciliationReport(
                municipality: list.municipality, clinic: list.clinic, listKind: list.listKind,
                municipalListAsOf: municipalAsOf, clinicListAsOf: list.asOf,
                counts: ReconciliationCounts(
                    onBoth: both, municipalOnly: report.counts.onlyMunicipal, clinicOnly: report.counts.onlyClinic,
                    withheld: report.withheldFromClinic + toClinic.unknown + toClinicClinicOnly.unknown),
                municipalOnly: toClinic.citizens, clinicOnly: toClinicClinicOnly.citizens, explanation: explanation)),
        ]
        for (audience, actor, message) in reports {
            let row = OutboxEvent(
                messageID: "\(Self.sourceKey(decoded))/reconciliation-report/\(actor)", exchange: options.names.outboundExchange,
                routingKey: options.names.routingKey(for: .reconciliationReport, to: audience),
                type: MessageType.reconciliationReport.rawValue, correlationID: decoded.messageID,
                headers: mapper.headers(explanation), body: try message.encodedBody(), createdAt: now,
                audit: OutboxAudit(actor: actor, pseudonym: nil, purpose: AuditPurpose.courseOverview.recorded))
            _ = try tx.enqueue(row)
            _ = try tx.appendAudit(AuditRecord(
                at: now, actor: actor, action: "queued", pseudonym: nil, messageType: row.type,
                messageID: row.messageID, purpose: AuditPurpose.courseOverview.recorded))
            summary.events += 1
        }
    }
}
