import Contract
import Foundation
import Store
import Workflow

extension Decide {
    // MARK: - a slice of a municipal list

    /// The entries at `slice` of a municipal list (positions in the accepted entries;
    /// `entries` are those entries), against the cases of their citizens (`snapshots`, by
    /// citizen, for those who have one; a repeat's case is its earlier entry's): R4 first
    /// (an entry for another municipality's open case changes nothing and is answered as
    /// unknown), then the workflow on the slice (`ListProcessing`; entry references stay
    /// `<sender>/messageID#position`), and per accepted entry the case's new snapshot,
    /// history, audit, consent, list membership and events. Rejected and held entries go
    /// into `run` for the receipt.
    // swiftlint:disable:next function_body_length function_parameter_count
    func slice(
        _ slice: Range<Int>, entries: [MunicipalListEntry], of list: Contract.MunicipalList,
        _ workflowList: Workflow.MunicipalList, repeats: [Int: Int], decoded: DecodedMessage, source: MessageSource,
        today: LocalDate, pseudonyms: [CitizenKey: Pseudonym], snapshots: [CitizenKey: CaseSnapshot], at now: Date,
        run: inout Pipeline.ListRun
    ) throws -> UnitOfWork {
        let sender = decoded.sender
        let senderKey = Pipeline.senderKey(sender)
        var unit = UnitOfWork()
        var cases: [CitizenKey: CitizenCase] = [:]
        for (citizen, snapshot) in snapshots { cases[citizen] = snapshot.state }
        // The workflow sees the slice only; other positions are skipped (no outcome, no change).
        var skipping = Set<Int>(minimumCapacity: workflowList.entries.count - slice.count)
        for position in 0..<slice.lowerBound { skipping.insert(position) }
        for position in slice.upperBound..<workflowList.entries.count { skipping.insert(position) }
        for position in slice {
            let citizen = workflowList.entries[position].citizen
            let index = decoded.acceptedEntryIndices[position]
            if let earlier = repeats[position] {
                // As `ListProcessing` answers a repeat, or as R4 below if the first was foreign.
                skipping.insert(position)
                guard run.foreign.contains(earlier) else {
                    run.rejected.append(.init(
                        index: index, code: RejectionCode.duplicateEntry.rawValue, pointer: "/entries/\(index)",
                        reason: "the citizen is already entry \(earlier) of this list"))
                    continue
                }
            } else {
                // R4: an entry for a citizen whose open case belongs to another municipality
                // changes nothing (no consent, no listing, no takeover of the case) and is
                // answered like an entry about a citizen this municipality has no case for.
                guard let owner = cases[citizen]?.owningMunicipality, owner != workflowList.municipality else {
                    continue
                }
            }
            run.foreign.insert(position)
            skipping.insert(position)
            run.rejected.append(.init(
                index: index, code: RejectionCode.unknownCase.rawValue, pointer: "/entries/\(index)",
                reason: "The citizen has no case with municipality \(list.municipality) that this entry may change."))
            unit.audit.append(AuditRecord(
                at: now, actor: senderKey, action: .rejected, pseudonym: pseudonyms[citizen],
                messageType: decoded.type.rawValue, messageID: decoded.messageID,
                purpose: AuditPurpose.answerSender.recorded))
        }
        let outcomes = ListProcessing.apply(
            workflowList, at: now, on: today, cases: &cases, configuration: options.workflow, skipping: skipping)

        for outcome in outcomes {
            // Positions count the accepted entries only; receipts use the sent index.
            let originalIndex = decoded.acceptedEntryIndices[outcome.index]
            let entry = entries[outcome.index - slice.lowerBound]
            guard let pseudonym = pseudonyms[outcome.citizen] else { continue }
            switch outcome.result {
            case .rejected(let reason):
                // Repeats are answered above (`repeats`): what reaches here is the case
                // refusing the entry in its state, not a duplicate.
                run.rejected.append(.init(
                    index: originalIndex, code: RejectionCode.outOfOrder.rawValue,
                    pointer: "/entries/\(originalIndex)", reason: "The case cannot take this entry now: \(reason)"))
                continue
            case .accepted:
                break
            }
            guard let citizenCase = cases[outcome.citizen] else { continue }
            if outcome.events.contains(where: Pipeline.isHeldNotice) { run.held.append(originalIndex) }
            let caseID = Pipeline.caseID(pseudonym)
            let snapshot = snapshots[outcome.citizen]
            // A list to all clinics keeps the clinic an earlier message named.
            let clinic = Pipeline.clinicInCharge(citizenCase) ?? list.clinic ?? snapshot?.record?.clinic
            // The record's state and status come from `citizenCase` (`CaseWork.init`).
            var work = try UnitOfWork.CaseWork(
                caseID: caseID, at: now,
                record: CaseRecord(
                    caseID: caseID, pseudonym: pseudonym, workflow: citizenCase.workflowB != nil ? "B" : "A",
                    municipality: list.municipality, clinic: clinic, status: "", state: Data(), updatedAt: now),
                state: citizenCase)
            let listed = ListedInput(
                type: decoded.type.rawValue, list: list.listKind.rawValue, municipality: list.municipality,
                asOf: list.asOf, municipalInformation: entry.municipalInformation, source: source)
            work.history.append(CaseHistoryEntry(
                caseID: caseID, at: now, kind: .input, messageID: "\(Pipeline.sourceKey(decoded))#\(originalIndex)",
                payload: try StoreBinary.encodeUncompressed(listed), explanation: nil))
            // The case's stored inputs with this listing as the latest.
            var inputs = snapshot?.inputs ?? InputSummary()
            inputs.listed = listed
            let data = Self.caseData(
                inputs: inputs, municipality: list.municipality, clinic: clinic, citizenCase: citizenCase, on: today)
            work.audit.append(AuditRecord(
                at: now, actor: senderKey, action: .received, pseudonym: pseudonym,
                messageType: decoded.type.rawValue, messageID: decoded.messageID,
                purpose: AuditPurpose.received(decoded.type, from: sender, listTwo: list.listKind == .list2).recorded))
            work.consent = Self.consentStatements(
                entry.consent, pseudonym: pseudonym, messageID: Pipeline.sourceKey(decoded), at: now)
            work.listMember = ListMember(
                side: .municipality, municipality: list.municipality, clinic: list.clinic ?? "",
                listKind: list.listKind.rawValue, pseudonym: pseudonym, asOf: list.asOf.description,
                messageID: decoded.messageID)
            try events(outcome.events, timers: outcome.timers, caseID: caseID, cpr: entry.cpr, pseudonym: pseudonym,
                       data: data, source: source, at: now, into: &work, summary: &unit.summary)
            unit.cases.append(work)
        }
        return unit
    }
}
