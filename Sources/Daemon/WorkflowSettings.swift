public import Workflow

/// Reads the rules' configuration (`WorkflowConfiguration`): the R8 phasing calendar and
/// the timer durations.
///
/// Keys (defaults from docs/domain.md):
/// - `workflow.rules_version` (ddrouter-rules-1)
/// - `workflow.phasing.group1_start` (2024-09-01), `.group2_start` (2025-07-01),
///   `.group2_phase_in_end` (2026-07-01), `.group3_start` (2026-07-01), all `yyyy-MM-dd`
/// - `workflow.timers.status_unknown_wait_days` (7), `.assessment_reminder_days` (14),
///   `.meeting_reminder_days` (14), `.treatment_start_limit_days` (14),
///   `.deadline_warning_lead_days` (3)
public enum WorkflowSettings: ConfigKeyContributor {
    static let defaults = WorkflowConfiguration()

    public static let configKeys: [ConfigKeySpec] = [
        .init("workflow.rules_version", default: defaults.rulesVersion),
        .init("workflow.phasing.group1_start", default: defaults.phasing.group1Start.description),
        .init("workflow.phasing.group2_start", default: defaults.phasing.group2Start.description),
        .init("workflow.phasing.group2_phase_in_end", default: defaults.phasing.group2PhaseInEnd.description),
        .init("workflow.phasing.group3_start", default: defaults.phasing.group3Start.description),
        .init("workflow.timers.status_unknown_wait_days", default: "\(defaults.timers.statusUnknownWaitDays)"),
        .init("workflow.timers.assessment_reminder_days", default: "\(defaults.timers.assessmentReminderDays)"),
        .init("workflow.timers.meeting_reminder_days", default: "\(defaults.timers.meetingReminderDays)"),
        .init("workflow.timers.treatment_start_limit_days", default: "\(defaults.timers.treatmentStartLimitDays)"),
        .init("workflow.timers.deadline_warning_lead_days", default: "\(defaults.timers.deadlineWarningLeadDays)"),
    ]

    public static func read(_ r: SettingsReader) -> WorkflowConfiguration {
        let d = defaults
        func date(_ key: String, _ fallback: LocalDate) -> LocalDate {
            let raw = r.string("workflow.phasing.\(key)", default: fallback.description) ?? fallback.description
            guard let value = LocalDate(iso: raw) else {
                r.problem("workflow.phasing.\(key) must be a date yyyy-MM-dd, got \"\(raw)\"")
                return fallback
            }
            return value
        }
        func days(_ key: String, _ fallback: Int) -> Int {
            r.int("workflow.timers.\(key)", default: fallback, range: 1...3650)
        }
        let configuration = WorkflowConfiguration(
            rulesVersion: r.string("workflow.rules_version", default: d.rulesVersion) ?? d.rulesVersion,
            phasing: PhasingCalendar(
                group1Start: date("group1_start", d.phasing.group1Start),
                group2Start: date("group2_start", d.phasing.group2Start),
                group2PhaseInEnd: date("group2_phase_in_end", d.phasing.group2PhaseInEnd),
                group3Start: date("group3_start", d.phasing.group3Start)),
            timers: TimerDurations(
                statusUnknownWaitDays: days("status_unknown_wait_days", d.timers.statusUnknownWaitDays),
                assessmentReminderDays: days("assessment_reminder_days", d.timers.assessmentReminderDays),
                meetingReminderDays: days("meeting_reminder_days", d.timers.meetingReminderDays),
                treatmentStartLimitDays: days("treatment_start_limit_days", d.timers.treatmentStartLimitDays),
                deadlineWarningLeadDays: days("deadline_warning_lead_days", d.timers.deadlineWarningLeadDays)))
        for problem in configuration.problems { r.problem("workflow." + snakeCase(problem)) }
        return configuration
    }

    /// `phasing.group2Start must …` → `phasing.group2_start must …`: the rules name their
    /// fields in Swift; the file names them in snake case.
    static func snakeCase(_ text: String) -> String {
        var out = ""
        var previous: Character?
        for c in text {
            if c.isUppercase, let p = previous, p.isLowercase || p.isNumber {
                out.append("_")
                out.append(contentsOf: c.lowercased())
            } else {
                out.append(c)
            }
            previous = c
        }
        return out
    }
}
