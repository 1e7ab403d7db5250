/// Why a list-1 citizen goes to Central Visitation instead of a clinic's assessment queue.
public enum CentralVisitationReason: Sendable, Hashable, Codable {
    /// R1: a psychiatric course closed within the last year (365 days inclusive), so the
    /// citizen is not in current treatment.
    case courseClosedWithinYear(clinic: ClinicID, closedOn: LocalDate)
    /// R1: an acute contact within the year that was followed by an outpatient course;
    /// that counts as a course.
    case acuteContactFollowedByOutpatientCourse(date: LocalDate)
    /// R1 exception: two or more admissions/acute contacts within the year after which
    /// motivation for outpatient treatment failed or treatment was rejected.
    case repeatedAcuteContactsWithoutEngagement(count: Int)
    /// R1: the journal did not answer within the configured wait; manual visitation.
    case statusUnknownTimedOut
}

/// The one outcome of routing a list-1 citizen (R1). Exactly one applies.
public enum RoutingOutcome: Sendable, Hashable, Codable {
    /// In current treatment at this clinic: an assessment case in its assessment queue.
    case clinicAssessment(ClinicID)
    /// Not in current treatment but with qualifying contact within the year (or status
    /// unknown for too long): a referral to Central Visitation.
    case centralVisitation(CentralVisitationReason)
    /// No qualifying contact within the year, before group 3's start date: the
    /// municipality is told "not group 2".
    case notGroup2
    /// No qualifying contact within the year, on or after group 3's start date (R8): a
    /// group-3 referral to Central Visitation.
    case group3Referral
    /// Psychiatric status not known: wait for the journal, ask it, time out to Central
    /// Visitation (`Routing.statusTimedOut`).
    case awaitingJournalStatus

    /// A short stable name, e.g. for metrics labels: `clinic-assessment`,
    /// `central-visitation`, `not-group-2`, `group-3-referral`, `awaiting-journal-status`.
    public var name: String {
        switch self {
        case .clinicAssessment: return "clinic-assessment"
        case .centralVisitation: return "central-visitation"
        case .notGroup2: return "not-group-2"
        case .group3Referral: return "group-3-referral"
        case .awaitingJournalStatus: return "awaiting-journal-status"
        }
    }
}

/// A routing outcome and why.
public struct RoutingDecision: Sendable, Hashable, Codable {
    public var outcome: RoutingOutcome
    public var explanation: Explanation

    public init(outcome: RoutingOutcome, explanation: Explanation) {
        self.outcome = outcome
        self.explanation = explanation
    }
}

/// What a case keeps of its routing: the outcome. The decision's explanation went out with
/// the routed event and stays in the case's history (`ddrouter explain`): kept in the state
/// too, it was a quarter of a routed case's snapshot, written again and decoded again on
/// every later message about the case (docs/performance.md, 3d). A state written before
/// this keeps its `explanation` key; decoding ignores it.
public struct RoutingRecord: Sendable, Hashable, Codable {
    public var outcome: RoutingOutcome

    public init(_ decision: RoutingDecision) {
        self.outcome = decision.outcome
    }
}

/// R1: routing of a list-1 citizen, a pure function of the journal facts, the list's own
/// as-of date and the configuration. Never reads the wall clock.
public enum Routing {
    /// "Within the last year" is 365 days inclusive: a course closed exactly 365 days
    /// before the as-of date counts, one closed 366 days before does not.
    public static let contactWindowDays = 365

    /// Routes one list-1 citizen (R1).
    ///
    /// - Parameters:
    ///   - contact: the journal's facts, or `.unknown` if the journal has not answered.
    ///   - listClinic: the clinic the municipal list was addressed to, if one; used only to
    ///     break a tie between several open courses.
    ///   - asOf: the list's own as-of date. Facts dated after it are treated as described in
    ///     the explanation (an open course begun later is not current as of the list; a
    ///     course closed later was still open on the list's date, which is contact within
    ///     the year but not a place in a clinic's queue, so Central Visitation decides).
    ///   - configuration: phasing calendar (R8) and rules version.
    public static func route(
        contact: ContactKnowledge, listClinic: ClinicID? = nil, asOf: LocalDate,
        configuration: WorkflowConfiguration
    ) -> RoutingDecision {
        let version = configuration.rulesVersion
        let facts: ContactFacts
        switch contact {
        case .unknown:
            return RoutingDecision(
                outcome: .awaitingJournalStatus,
                explanation: Explanation(
                    rule: .r1, summary: "waiting for the journal's contact status",
                    facts: [
                        "psychiatric status not known as of \(asOf)",
                        "contact status requested from the journal; after \(configuration.timers.statusUnknownWaitDays) days without an answer the case goes to Central Visitation for manual visitation",
                    ], rulesVersion: version))
        case .known(let known):
            facts = known
        }

        var used: [String] = []

        // 1. Current treatment at a clinic as of the list's date.
        let current = facts.currentCourses.filter { $0.since <= asOf }
        for course in facts.currentCourses where course.since > asOf {
            used.append(
                "open course at clinic \(course.clinic) began \(course.since), after the list's date \(asOf): not current as of the list")
        }
        if let chosen = current.min(by: { lhs, rhs in
            // Prefer the list's clinic, then the most recent course, then the lowest id.
            let l = (lhs.clinic == listClinic ? 0 : 1, -lhs.since.daysSinceEpoch, lhs.clinic.rawValue)
            let r = (rhs.clinic == listClinic ? 0 : 1, -rhs.since.daysSinceEpoch, rhs.clinic.rawValue)
            return l < r
        }) {
            used.append("in current treatment at clinic \(chosen.clinic) since \(chosen.since)")
            if current.count > 1 {
                used.append(
                    "\(current.count) open courses; chose clinic \(chosen.clinic)"
                        + (chosen.clinic == listClinic ? " (the list's clinic)" : " (most recent)"))
            }
            return RoutingDecision(
                outcome: .clinicAssessment(chosen.clinic),
                explanation: Explanation(
                    rule: .r1, summary: "assessment case in clinic \(chosen.clinic)'s assessment queue",
                    facts: used, rulesVersion: version))
        }
        if facts.currentCourses.isEmpty {
            used.append("no open psychiatric course")
        }

        // 2. Qualifying contact within the year (365 days inclusive).
        func within(_ date: LocalDate) -> Bool {
            let age = asOf.days(since: date)
            return age >= 0 && age <= contactWindowDays
        }
        var reason: CentralVisitationReason?

        let closed = facts.closedCourses.sorted { ($1.closedOn, $0.clinic) < ($0.closedOn, $1.clinic) }
        for course in closed {
            let age = asOf.days(since: course.closedOn)
            if age < 0 {
                used.append(
                    "course at clinic \(course.clinic) closed \(course.closedOn), after the list's date \(asOf): still open on that date, counts as contact within the year")
                reason = reason ?? .courseClosedWithinYear(clinic: course.clinic, closedOn: course.closedOn)
            } else if age <= contactWindowDays {
                used.append(
                    "course at clinic \(course.clinic) closed \(course.closedOn), \(age) days before \(asOf): within the year")
                reason = reason ?? .courseClosedWithinYear(clinic: course.clinic, closedOn: course.closedOn)
            } else {
                used.append(
                    "course at clinic \(course.clinic) closed \(course.closedOn), \(age) days before \(asOf): more than \(contactWindowDays) days, does not count")
            }
        }

        let acute = facts.acuteContacts.sorted { $0.date < $1.date }
        var failedEngagement: [AcuteContact] = []
        for contact in acute {
            let label = contact.kind == .emergencyRoom ? "emergency-room visit" : "short stabilising admission"
            let age = asOf.days(since: contact.date)
            guard within(contact.date) else {
                used.append(
                    age < 0
                        ? "\(label) \(contact.date) is after the list's date \(asOf): not considered"
                        : "\(label) \(contact.date), \(age) days before \(asOf): outside the year")
                continue
            }
            if contact.followedByOutpatientCourse {
                used.append(
                    "\(label) \(contact.date), \(age) days before \(asOf), followed by an outpatient course: counts as a course")
                reason = reason ?? .acuteContactFollowedByOutpatientCourse(date: contact.date)
            } else if contact.motivationFailedOrTreatmentRejected {
                used.append(
                    "\(label) \(contact.date), \(age) days before \(asOf), motivation failed or treatment rejected after it")
                failedEngagement.append(contact)
            } else {
                used.append("\(label) \(contact.date), \(age) days before \(asOf): acute only, does not count")
            }
        }
        if failedEngagement.count >= 2 {
            used.append(
                "\(failedEngagement.count) acute contacts within the year without engagement: counts as contact (exception in R1)")
            reason = reason ?? .repeatedAcuteContactsWithoutEngagement(count: failedEngagement.count)
        } else if failedEngagement.count == 1 {
            used.append("only one acute contact without engagement: the exception needs two or more")
        }

        if let reason {
            used.append("not in current treatment")
            return RoutingDecision(
                outcome: .centralVisitation(reason),
                explanation: Explanation(
                    rule: .r1, summary: "referral to Central Visitation", facts: used,
                    rulesVersion: version))
        }

        // 3. No qualifying contact: group 3 from its start date (R8), else "not group 2".
        used.append("no qualifying contact with psychiatry within \(contactWindowDays) days before \(asOf)")
        let group3Start = configuration.phasing.group3Start
        if asOf >= group3Start {
            used.append("group 3 is phased in from \(group3Start) (R8); the list's date \(asOf) is on or after it")
            return RoutingDecision(
                outcome: .group3Referral,
                explanation: Explanation(
                    rule: .r1, summary: "group-3 referral to Central Visitation", facts: used,
                    rulesVersion: version))
        }
        used.append("group 3 is phased in from \(group3Start) (R8); the list's date \(asOf) is before it")
        return RoutingDecision(
            outcome: .notGroup2,
            explanation: Explanation(
                rule: .r1, summary: "not group 2: reply to the municipality", facts: used,
                rulesVersion: version))
    }

    /// R1: the journal did not answer in time. The case goes to Central Visitation for
    /// manual visitation; it is never dropped.
    ///
    /// - Parameters:
    ///   - waitingSince: the date the case began to wait (the contact-status request).
    ///   - on: the date the timeout fired.
    public static func statusTimedOut(
        waitingSince: LocalDate, on: LocalDate, configuration: WorkflowConfiguration
    ) -> RoutingDecision {
        RoutingDecision(
            outcome: .centralVisitation(.statusUnknownTimedOut),
            explanation: Explanation(
                rule: .r1, summary: "referral to Central Visitation for manual visitation",
                facts: [
                    "contact status requested from the journal on \(waitingSince)",
                    "no answer by \(on), \(on.days(since: waitingSince)) days later (configured wait \(configuration.timers.statusUnknownWaitDays) days)",
                ], rulesVersion: configuration.rulesVersion))
    }
}
