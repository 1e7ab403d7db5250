public import Foundation

extension AuditAction {
    /// An operator looked up the audit trail about a citizen (`ddrouter audit citizen`).
    public static let auditLookup: AuditAction = "audit-lookup"
}

/// Reads for the operator's commands (`ddrouter cases`, `explain`, `report`, `audit`).
///
/// Every look at one citizen's data is itself audited — who, when and why — in the same
/// transaction as the read, so no look goes unrecorded (the citizen's right to know who
/// looked them up).
extension Store {
    /// The cases of a citizen, each view audited (`viewed`, actor `viewer`).
    public func viewCases(pseudonym: Pseudonym, viewer: String, purpose: String, at date: Date) throws -> [CaseRecord] {
        try write { tx in
            let records = try tx.cases(pseudonym: pseudonym)
            for record in records {
                try tx.appendAudit(AuditRecord(
                    at: date, actor: viewer, action: .viewed, pseudonym: record.pseudonym,
                    messageType: nil, messageID: record.caseID, purpose: purpose))
            }
            return records
        }
    }

    /// A case with its history (inputs and decisions with their explanations), the view
    /// audited; nil when there is no such case.
    public func viewCaseHistory(id: String, viewer: String, purpose: String, at date: Date) throws
        -> (CaseRecord, [CaseHistoryEntry])?
    {
        try write { tx in
            guard let record = try tx.case(id: id) else { return nil }
            try tx.appendAudit(AuditRecord(
                at: date, actor: viewer, action: .viewed, pseudonym: record.pseudonym,
                messageType: nil, messageID: record.caseID, purpose: purpose))
            return (record, try tx.caseHistory(id: id))
        }
    }

    /// Every audit entry about a citizen, oldest first, after recording this lookup as an
    /// `audit-lookup` entry (so the answer includes it).
    public func lookUpAudit(pseudonym: Pseudonym, viewer: String, purpose: String, at date: Date) throws -> [AuditEntry] {
        try write { tx in
            _ = try tx.appendAudit(AuditRecord(
                at: date, actor: viewer, action: .auditLookup, pseudonym: pseudonym,
                messageType: nil, messageID: nil, purpose: purpose))
        }
        return try auditEntries(pseudonym: pseudonym)
    }

    /// Every case, for reports: municipality, clinic, status and state, oldest update first.
    public func allCases() throws -> [CaseRecord] {
        try cases(limit: Int(Int32.max))
    }

    /// Pending timers of every case that are due at or before `date` (overdue work).
    public func overdueTimers(at date: Date, limit: Int = 100_000) throws -> [TimerRecord] {
        try dueTimers(at: date, limit: limit)
    }
}
