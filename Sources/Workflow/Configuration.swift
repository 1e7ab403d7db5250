/// The phasing calendar of the integrated offer (R8). Rules read these dates; another
/// region may configure its own.
///
/// Keys (for the daemon's configuration file): `group1Start`, `group2Start`,
/// `group2PhaseInEnd`, `group3Start`, all `yyyy-MM-dd`.
public struct PhasingCalendar: Sendable, Hashable, Codable {
    /// Group 1 (only in psychiatry, registered with a substance-use diagnosis) is visited
    /// to the regional offer from this date. Default 2024-09-01.
    public var group1Start: LocalDate
    /// Group 2 (in current treatment in both sectors) from this date. Default 2025-07-01.
    public var group2Start: LocalDate
    /// End of group 2's phase-in period. Default 2026-07-01.
    public var group2PhaseInEnd: LocalDate
    /// Group 3 (only in municipal substance treatment, known with a concurrent psychiatric
    /// problem) from this date; from it on, R1 refers a citizen without qualifying contact
    /// to Central Visitation instead of replying "not group 2". Default 2026-07-01.
    public var group3Start: LocalDate

    public init(
        group1Start: LocalDate = LocalDate(year: 2024, month: 9, day: 1)!,
        group2Start: LocalDate = LocalDate(year: 2025, month: 7, day: 1)!,
        group2PhaseInEnd: LocalDate = LocalDate(year: 2026, month: 7, day: 1)!,
        group3Start: LocalDate = LocalDate(year: 2026, month: 7, day: 1)!
    ) {
        self.group1Start = group1Start
        self.group2Start = group2Start
        self.group2PhaseInEnd = group2PhaseInEnd
        self.group3Start = group3Start
    }

    /// The defaults of docs/domain.md (Region Nordjylland).
    public static let nordjylland = PhasingCalendar()
}

/// Durations, in civil days, of the timers the case machines ask the daemon to run.
///
/// Keys: `statusUnknownWaitDays`, `assessmentReminderDays`, `meetingReminderDays`,
/// `treatmentStartLimitDays`, `deadlineWarningLeadDays`.
public struct TimerDurations: Sendable, Hashable, Codable {
    /// R1: how long a list-1 case waits for the journal's contact status before it goes to
    /// Central Visitation for manual visitation. Default 7.
    public var statusUnknownWaitDays: Int
    /// Workflow A: days after an assessment request before the clinic is reminded.
    /// Default 14.
    public var assessmentReminderDays: Int
    /// Workflow A and B: days a case may wait for the next meeting outcome or position
    /// before both parties are reminded. Default 14.
    public var meetingReminderDays: Int
    /// R10: treatment must start no later than this many days after the region receives
    /// the referral (§ 82 c, § 87 stk. 2). Default 14; change it only if the law changes.
    public var treatmentStartLimitDays: Int
    /// R10: how many days before the deadline the "approaching" warning is raised.
    /// Default 3.
    public var deadlineWarningLeadDays: Int

    public init(
        statusUnknownWaitDays: Int = 7,
        assessmentReminderDays: Int = 14,
        meetingReminderDays: Int = 14,
        treatmentStartLimitDays: Int = 14,
        deadlineWarningLeadDays: Int = 3
    ) {
        self.statusUnknownWaitDays = statusUnknownWaitDays
        self.assessmentReminderDays = assessmentReminderDays
        self.meetingReminderDays = meetingReminderDays
        self.treatmentStartLimitDays = treatmentStartLimitDays
        self.deadlineWarningLeadDays = deadlineWarningLeadDays
    }
}

/// Everything the rules read. One value per daemon; pass it to every call.
///
/// Keys: `rulesVersion`, `phasing` (see `PhasingCalendar`), `timers` (see `TimerDurations`).
public struct WorkflowConfiguration: Sendable, Hashable, Codable {
    /// Version of the rule set, carried by every explanation so a decision can be traced to
    /// the rules that made it. Default `"ddrouter-rules-1"`.
    public var rulesVersion: String
    /// R8 phasing calendar.
    public var phasing: PhasingCalendar
    /// Timer durations.
    public var timers: TimerDurations

    public init(
        rulesVersion: String = "ddrouter-rules-1",
        phasing: PhasingCalendar = .nordjylland,
        timers: TimerDurations = TimerDurations()
    ) {
        self.rulesVersion = rulesVersion
        self.phasing = phasing
        self.timers = timers
    }

    /// Problems that make the configuration unusable, one sentence each; empty when valid.
    /// The daemon's `check-config` should print these and refuse to start.
    public var problems: [String] {
        var result: [String] = []
        if rulesVersion.isEmpty { result.append("rulesVersion must not be empty") }
        if phasing.group2Start < phasing.group1Start {
            result.append("phasing.group2Start must not be before phasing.group1Start")
        }
        if phasing.group2PhaseInEnd < phasing.group2Start {
            result.append("phasing.group2PhaseInEnd must not be before phasing.group2Start")
        }
        if phasing.group3Start < phasing.group2Start {
            result.append("phasing.group3Start must not be before phasing.group2Start")
        }
        let t = timers
        if t.statusUnknownWaitDays < 1 { result.append("timers.statusUnknownWaitDays must be at least 1") }
        if t.assessmentReminderDays < 1 { result.append("timers.assessmentReminderDays must be at least 1") }
        if t.meetingReminderDays < 1 { result.append("timers.meetingReminderDays must be at least 1") }
        if t.treatmentStartLimitDays < 1 { result.append("timers.treatmentStartLimitDays must be at least 1") }
        if t.deadlineWarningLeadDays < 1 || t.deadlineWarningLeadDays >= t.treatmentStartLimitDays {
            result.append(
                "timers.deadlineWarningLeadDays must be at least 1 and less than treatmentStartLimitDays")
        }
        return result
    }
}
