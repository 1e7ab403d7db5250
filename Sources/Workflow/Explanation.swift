/// The rules of docs/domain.md, by number.
public enum RuleID: String, Sendable, Hashable, Codable, CaseIterable {
    case r1 = "R1", r2 = "R2", r3 = "R3", r4 = "R4", r5 = "R5", r6 = "R6"
    case r7 = "R7", r8 = "R8", r9 = "R9", r10 = "R10", r11 = "R11"
}

/// Why the core decided what it did: the rule that fired, the facts it used, in words a
/// caseworker can read, and the version of the rule set.
///
/// Facts name clinics, municipality codes, dates and day counts; they never contain the
/// citizen's key, name or free text from a message, so an explanation may be logged and
/// shown to both sectors' operators.
public struct Explanation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The rule that decided the outcome.
    public var rule: RuleID
    /// One-line summary of the outcome, e.g. "referral to Central Visitation".
    public var summary: String
    /// The facts the rule used, in the order it used them.
    public var facts: [String]
    /// `WorkflowConfiguration.rulesVersion` at the time of the decision.
    public var rulesVersion: String

    public init(rule: RuleID, summary: String, facts: [String], rulesVersion: String) {
        self.rule = rule
        self.summary = summary
        self.facts = facts
        self.rulesVersion = rulesVersion
    }

    public var description: String {
        "\(rule.rawValue) [\(rulesVersion)] \(summary): " + facts.joined(separator: "; ")
    }
}
