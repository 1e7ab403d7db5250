import Contract
import Foundation
import Store
import Workflow

/// R3: a clinic's list is compared with the municipal list of the same municipality–clinic
/// pair and kind (the municipality's lists for that clinic and for all clinics), and each
/// side gets a `reconciliation-report`: counts always, citizens named only as far as
/// consent (course overview) allows (`Workflow.Reconciliation`).
extension Pipeline {
    /// A clinic list: records its members and reconciles its pair (municipality, clinic, kind).
    func reconcile(
        _ list: Contract.ClinicList, decoded: DecodedMessage, accepted: Set<String>, in tx: StoreTransaction,
        at now: Date, summary: inout ListSummary
    ) throws {
        var known: [Pseudonym: KnownCitizen] = [:]
        var members = UnitOfWork()
        for entry in list.entries where accepted.contains(entry.cpr.digits) {
            let pseudonym = try options.pseudonymizer.pseudonym(forCPR: entry.cpr.digits)
            var consent: Workflow.ConsentRecord?
            if let stated = entry.consent {
                var record = Workflow.ConsentRecord()
                let update = Self.consentUpdate(stated)
                record.record(update.status, directions: update.directions)
                consent = record
            }
            known[pseudonym] = KnownCitizen(cpr: entry.cpr.digits, consent: consent)
            members.listMembers.append(ListMember(
                side: .clinic, municipality: list.municipality, clinic: list.clinic, listKind: list.listKind.rawValue,
                pseudonym: pseudonym, asOf: list.asOf.description, messageID: decoded.messageID))
        }
        try members.apply(in: tx)
        try reconcile(
            municipality: list.municipality, clinic: list.clinic, listKind: list.listKind, trigger: decoded,
            perClinicIDs: false, known: known, in: tx, at: now, summary: &summary)
    }

    /// A municipal list (its members already recorded by the slices): reconciles every pair
    /// it belongs to that has a clinic list of the same kind: the list's clinic (or the
    /// serving clinic of a list 2), or, for a list to all clinics, every clinic that has sent
    /// one for the municipality.
    func reconcile(
        municipalList list: Contract.MunicipalList, clinic: String?, decoded: DecodedMessage, in tx: StoreTransaction,
        at now: Date, summary: inout ListSummary
    ) throws {
        let clinics = try clinic.map { [$0] }
            ?? tx.listClinics(side: .clinic, municipality: list.municipality, listKind: list.listKind.rawValue)
        for clinic in clinics {
            try reconcile(
                municipality: list.municipality, clinic: clinic, listKind: list.listKind, trigger: decoded,
                perClinicIDs: true, known: [:], in: tx, at: now, summary: &summary)
        }
    }

    /// What a clinic list tells of a citizen who may have no case: the CPR and the consent
    /// the entry states.
    struct KnownCitizen {
        var cpr: String
        var consent: Workflow.ConsentRecord?
    }

    /// R3 for one municipality–clinic pair and kind, after a new list of either side
    /// (`trigger`): compares the members of both sides (the municipality's lists for this
    /// clinic and for all clinics, against the clinic's lists) and queues a
    /// `reconciliation-report` to each side. Nothing is sent while one side has no list of
    /// the pair and kind. A citizen is named only with a CPR the router knows: from the
    /// trigger (`known`) or from the citizen's case; a clinic-only citizen without a case,
    /// known from an earlier clinic list only, is counted as withheld (the router keeps no
    /// CPR without a case). Report ids: `<sender>/<message_id>/reconciliation-report/<recipient>`
    /// for a clinic list; `.../reconciliation-report/<clinic>/<recipient>` for a municipal
    /// list (`perClinicIDs`), which may reconcile several pairs.
    // swiftlint:disable:next function_body_length function_parameter_count
    func reconcile(
        municipality: String, clinic: String, listKind contractKind: Contract.ListKind, trigger decoded: DecodedMessage,
        perClinicIDs: Bool, known: [Pseudonym: KnownCitizen], in tx: StoreTransaction, at now: Date,
        summary: inout ListSummary
    ) throws {
        let kind = contractKind.rawValue
        var cprs: [Pseudonym: String] = [:]
        var consents: [CitizenKey: Workflow.ConsentRecord] = [:]
        var caseIDs: [Pseudonym: String] = [:]
        for (pseudonym, citizen) in known {
            cprs[pseudonym] = citizen.cpr
            if let consent = citizen.consent { consents[CitizenKey(pseudonym.hex)] = consent }
        }
        // The clinic's side first: without a clinic list of the pair there is nothing to
        // compare, and the municipality's side (every citizen its lists ever named for the
        // pair) is not read at all. Read first, it made every municipal list load all its
        // predecessors' members: in the soak, with no clinic lists, tens of MB a list after
        // an hour, and CPU growing with it.
        let clinical = try tx.listMembers(side: .clinic, municipality: municipality, clinics: [clinic], listKind: kind)
        guard !clinical.isEmpty else { return }
        let municipal = try tx.listMembers(
            side: .municipality, municipality: municipality, clinics: [clinic, ""], listKind: kind)
        guard !municipal.isEmpty else { return }
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
        let unit = try decide.reconciliation(
            municipality: municipality, clinic: clinic, listKind: contractKind, trigger: decoded, perClinicIDs: perClinicIDs,
            municipal: municipal, clinical: clinical, cprs: cprs, consents: consents, caseIDs: caseIDs, at: now)
        try unit.apply(in: tx)
        summary.merge(unit.summary)
    }
}

extension Decide {
    /// R3 for one municipality–clinic pair and kind: the members of both sides (`municipal`:
    /// the municipality's lists for this clinic and for all clinics; `clinical`: the clinic's),
    /// what the router knows of them (`cprs` to name a citizen, `consents` by pseudonym hex,
    /// `caseIDs`), compared; a `reconciliation-report` to each side (see `Pipeline.reconcile`).
    // swiftlint:disable:next function_body_length function_parameter_count
    func reconciliation(
        municipality: String, clinic: String, listKind contractKind: Contract.ListKind, trigger decoded: DecodedMessage,
        perClinicIDs: Bool, municipal: [ListMember], clinical: [ListMember], cprs: [Pseudonym: String],
        consents: [CitizenKey: Workflow.ConsentRecord], caseIDs: [Pseudonym: String], at now: Date
    ) throws -> UnitOfWork {
        var unit = UnitOfWork()
        let listKind: Workflow.ListKind = contractKind == .list1 ? .list1 : .list2
        func listed(_ members: [ListMember]) -> [ListedCitizen] {
            members.map { ListedCitizen(citizen: CitizenKey($0.pseudonym.hex), list: listKind) }
        }
        let today = Pipeline.civilDate(of: now)
        let report = Reconciliation.reconcile(
            municipality: MunicipalityCode(municipality), clinic: ClinicID(clinic), asOf: today,
            municipalList: listed(municipal), clinicList: listed(clinical), consents: consents,
            configuration: options.workflow)
        let explanation = Contract.Explanation(
            rule: report.explanation.rule.rawValue, outcome: "lists-compared",
            facts: report.explanation.facts.map { String($0.prefix(500)) }, rulesVersion: report.explanation.rulesVersion)
        let day = CalendarDate(iso: today.iso) ?? CalendarDate(year: 1970, month: 1, day: 1)!
        let municipalAsOf = municipal.compactMap { CalendarDate(iso: $0.asOf) }.max() ?? day
        let clinicAsOf = clinical.compactMap { CalendarDate(iso: $0.asOf) }.max() ?? day
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
            (.municipality(municipality), "municipality.\(municipality)", Contract.ReconciliationReport(
                municipality: municipality, clinic: clinic, listKind: contractKind,
                municipalListAsOf: municipalAsOf, clinicListAsOf: clinicAsOf,
                counts: ReconciliationCounts(
                    onBoth: both, municipalOnly: report.counts.onlyMunicipal, clinicOnly: report.counts.onlyClinic,
                    withheld: report.withheldFromMunicipality + toMunicipality.unknown + toMunicipalityClinicOnly.unknown),
                municipalOnly: toMunicipality.citizens, clinicOnly: toMunicipalityClinicOnly.citizens,
                explanation: explanation)),
            (.clinic(clinic), "clinic.\(clinic)", Contract.ReconciliationReport(
                municipality: municipality, clinic: clinic, listKind: contractKind,
                municipalListAsOf: municipalAsOf, clinicListAsOf: clinicAsOf,
                counts: ReconciliationCounts(
                    onBoth: both, municipalOnly: report.counts.onlyMunicipal, clinicOnly: report.counts.onlyClinic,
                    withheld: report.withheldFromClinic + toClinic.unknown + toClinicClinicOnly.unknown),
                municipalOnly: toClinic.citizens, clinicOnly: toClinicClinicOnly.citizens, explanation: explanation)),
        ]
        for (audience, actor, message) in reports {
            let row = OutboxEvent(
                messageID: perClinicIDs
                    ? "\(Pipeline.sourceKey(decoded))/reconciliation-report/\(clinic)/\(actor)"
                    : "\(Pipeline.sourceKey(decoded))/reconciliation-report/\(actor)", exchange: options.names.outboundExchange,
                routingKey: options.names.routingKey(for: .reconciliationReport, to: audience),
                type: MessageType.reconciliationReport.rawValue, correlationID: decoded.messageID,
                headers: mapper.headers(explanation), body: try message.encodedBody(), createdAt: now,
                audit: OutboxAudit(actor: actor, pseudonym: nil, purpose: AuditPurpose.courseOverview.recorded))
            unit.outbox.append((row, AuditRecord(
                at: now, actor: actor, action: "queued", pseudonym: nil, messageType: row.type,
                messageID: row.messageID, purpose: AuditPurpose.courseOverview.recorded)))
            unit.summary.events += 1
        }
        return unit
    }
}
