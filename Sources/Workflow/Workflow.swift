// Workflow: the pure rules core of ddrouter (docs/domain.md rules R1–R11).
//
// No I/O, no clock reads, no randomness: every function is a pure function of its inputs,
// so replaying an inbound message against the same stored state gives the same answer.
// Time comes in through `CaseContext` (an instant and its Europe/Copenhagen civil date,
// both computed by the daemon); timers go out as `TimerAction`s.
//
// How the daemon uses it
// ----------------------
// 1. Decode and validate a wire message (module Contract), authorize, dedupe.
// 2. Load the citizen's `CitizenCase` (or `CitizenCase(citizen:)` for a new one), keyed by
//    a `CitizenKey` (pseudonym or CPR; never logged: its description is redacted).
// 3. Map the message to a `CaseInput` and call `apply(_:context:configuration:)`. For a
//    `municipal-list`, call `ListProcessing.apply`, which does this per entry with the
//    inbound reference `messageID#index` and answers every entry (R11).
// 4. Store the case, the `CaseResult.events` (outbox) and the timers in one transaction.
//    Events have deterministic ids (`EventID`), a recipient `Party`, a payload whose
//    `wireType` names the outbound message, and an `Explanation` (rule, facts, version).
// 5. Answer the sender with `CaseResult.entryResult` (accepted / rejected with reason).
// 6. When a timer comes due, apply `CaseInput.timerFired(kind)` with a stable message id
//    such as `timer/<case>/<kind>/<due date>`.
//
// Map of the rules
// ----------------
// R1  `Routing.route`, `Routing.statusTimedOut`; driven by `WorkflowA` for list-1 entries
//     (`CaseInput.listed`) and regional referrals (`CaseInput.referral`).
// R2  `CaseInput.listed` with `ListKind.list2` → `EventPayload.coordinatedCourse`.
// R3  `Reconciliation.reconcile`.
// R4  `ConsentRecord`, `ConsentGate` (the one place), applied in `CitizenCase.apply`.
// R5  `DecisionInput`/`CollaborationOutcome` → `DecisionRecord` (disagreement, statement).
// R6  `CaseInput.patientChoice` → `EventPayload.trackEnded(.patientsChoice)`.
// R7  `WorkflowB` (network meeting → joint plan → knowledge handover → handover).
// R8  `PhasingCalendar` in `WorkflowConfiguration`.
// R9  `EventPayload.responsibilityTransfer`, time-stamped with `CaseContext.at`.
// R10 `TreatmentDeadline`, `TimerKind.treatmentStartWarning/Overdue`,
//     `EventPayload.deadlineWarning`; every referral payload carries its deadline.
// R11 `CaseResult.entryResult`, `EntryResult`, `ListEntryOutcome`, `CaseRejection`.
