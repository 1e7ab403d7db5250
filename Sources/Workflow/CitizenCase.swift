/// Which municipal list an entry is on (workflow A step 1).
public enum ListKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// List 1: potential target group for phase-in as group 2 (R1).
    case list1
    /// List 2: continues in a coordinated course (R2).
    case list2
}

/// One entry of a municipal list, as the case needs it.
public struct ListEntry: Sendable, Hashable, Codable {
    public var list: ListKind
    /// The listing municipality.
    public var municipality: MunicipalityCode
    /// The clinic the list (or entry) is for; required for list 2 (R2 shares with it).
    public var clinic: ClinicID?
    /// The list's own as-of date (R1 is evaluated at it).
    public var asOf: LocalDate
    /// The consent the municipality recorded for dialogue with the region (R4), for the
    /// directions in `consentDirections` and all purposes. `.absent` states nothing and
    /// leaves an earlier recorded consent in place.
    public var consent: ConsentStatus
    /// The directions the entry's consent covers (the wire's `consent.directions`); `nil`
    /// means both. A direction not named keeps what was recorded for it, which is deny
    /// unless a consent was given for it (R4, I15).
    public var consentDirections: [ConsentDirection]?

    public init(
        list: ListKind, municipality: MunicipalityCode, clinic: ClinicID?, asOf: LocalDate, consent: ConsentStatus,
        consentDirections: [ConsentDirection]? = nil
    ) {
        self.list = list
        self.municipality = municipality
        self.clinic = clinic
        self.asOf = asOf
        self.consent = consent
        self.consentDirections = consentDirections
    }
}

/// A `consent-update` (R4).
public struct ConsentUpdate: Sendable, Hashable, Codable {
    public var status: ConsentStatus
    public var directions: [ConsentDirection]
    public var purposes: [ConsentPurpose]

    public init(
        status: ConsentStatus, directions: [ConsentDirection] = ConsentDirection.allCases,
        purposes: [ConsentPurpose] = ConsentPurpose.allCases
    ) {
        self.status = status
        self.directions = directions
        self.purposes = purposes
    }
}

/// A `referral` of one citizen to integrated treatment from a regional party (e.g. a
/// journal system), routed by the same rules as a list-1 entry (R1).
public struct ReferralInput: Sendable, Hashable, Codable {
    /// The citizen's municipality (needed for R9 and the dialogue of workflow A).
    public var municipality: MunicipalityCode
    /// The clinic the referral names, if any (breaks ties between open courses).
    public var clinic: ClinicID?
    /// The referral's own date: R1 is evaluated at it.
    public var asOf: LocalDate
    /// The referring party; must be regional. It receives a "not group 2" reply.
    public var from: Party

    public init(municipality: MunicipalityCode, clinic: ClinicID?, asOf: LocalDate, from: Party) {
        self.municipality = municipality
        self.clinic = clinic
        self.asOf = asOf
        self.from = from
    }
}

/// A `transition-proposal`: the clinic finds the patient stable (workflow B start).
public struct TransitionProposal: Sendable, Hashable, Codable {
    public var municipality: MunicipalityCode
    public var clinic: ClinicID

    public init(municipality: MunicipalityCode, clinic: ClinicID) {
        self.municipality = municipality
        self.clinic = clinic
    }
}

/// Every input a citizen's case takes; one per inbound message (or list entry) or timer.
public enum CaseInput: Sendable, Hashable, Codable {
    /// `municipal-list` entry (list 1: R1 routing; list 2: R2 coordinated course).
    case listed(ListEntry)
    /// `referral` from a regional party (R1; regional data, so no consent is needed to
    /// route it within the region).
    case referral(ReferralInput)
    /// `contact-status` from the journal (R1).
    case contactStatus(ContactFacts)
    /// `consent-update` (R4).
    case consentUpdate(ConsentUpdate)
    /// `assessment` from a clinic or Central Visitation (workflow A, R5).
    case assessment(AssessmentInput)
    /// `municipal-position` (workflow A or B).
    case municipalPosition(MunicipalPosition)
    /// `meeting-outcome`.
    case meetingOutcome(MeetingOutcome)
    /// `transition-proposal` (workflow B).
    case transitionProposal(TransitionProposal)
    /// `joint-plan` (workflow B, R7).
    case jointPlan(JointPlanKind)
    /// `knowledge-handover` (workflow B, R7).
    case knowledgeHandover
    /// `patient-choice` (R6).
    case patientChoice
    /// `treatment-started` (R10).
    case treatmentStarted(on: LocalDate)
    /// A timer the case scheduled has come due.
    case timerFired(TimerKind)

    /// The wire name of the input, for rejections and audit.
    public var name: String {
        switch self {
        case .listed: return "municipal-list"
        case .referral: return "referral"
        case .contactStatus: return "contact-status"
        case .consentUpdate: return "consent-update"
        case .assessment: return "assessment"
        case .municipalPosition: return "municipal-position"
        case .meetingOutcome(let outcome):
            switch outcome {
            case .overview: return "meeting-outcome(overview)"
            case .decision: return "meeting-outcome(decision)"
            case .network: return "meeting-outcome(network)"
            case .collaboration: return "meeting-outcome(collaboration)"
            }
        case .transitionProposal: return "transition-proposal"
        case .jointPlan: return "joint-plan"
        case .knowledgeHandover: return "knowledge-handover"
        case .patientChoice: return "patient-choice"
        case .treatmentStarted: return "treatment-started"
        case .timerFired(let kind): return "timer(\(kind.rawValue))"
        }
    }
}

/// The answer to one input (R11): accepted with the events and timers it caused, or
/// rejected with a reason.
public struct CaseResult: Sendable, Hashable, Codable {
    public enum Outcome: Sendable, Hashable, Codable {
        case accepted
        case rejected(CaseRejection)
    }

    public var outcome: Outcome
    /// Events to publish (already through the consent gate), in order.
    public var events: [OutboundEvent]
    /// Timer instructions, in order.
    public var timers: [TimerAction]
    /// Remarks for the receipt and audit (no citizen data).
    public var notes: [String]

    /// The per-entry receipt line (R11).
    public var entryResult: EntryResult {
        switch outcome {
        case .accepted: return .accepted(notes: notes)
        case .rejected(let rejection): return .rejected(reason: rejection.description)
        }
    }
}

/// R11: the receipt line for one list entry or one single-citizen message.
public enum EntryResult: Sendable, Hashable, Codable {
    case accepted(notes: [String])
    case rejected(reason: String)
}

/// R10: a running treatment-start deadline.
public struct TreatmentDeadline: Sendable, Hashable, Codable {
    /// The last day treatment may start.
    public var due: LocalDate
    /// The regional party that received the referral and is warned.
    public var party: Party
}

/// One citizen's case: consent (R4), the current track (list 2, workflow A or B), held
/// events and the R10 deadline.
///
/// `apply` is the only entry point. It dispatches the input to the track's state machine,
/// passes every resulting event through the consent gate (R4), releases held events when
/// consent arrives, notifies parties when it is withdrawn and runs the R10 deadline.
///
/// The case does not remember the inputs it has applied: the store is what answers a
/// message that comes again (its inbox, by sender and `message_id`, in the transaction that
/// applies the input; a fired timer is marked fired in it), so the snapshot holds the state
/// alone (docs/performance.md, section 3b).
public struct CitizenCase: Sendable, Hashable, Codable {
    private enum Track: Sendable, Hashable, Codable {
        case none
        case coordinatedCourse(CoordinatedCourse)
        case workflowA(WorkflowA)
        case workflowB(WorkflowB)
    }

    /// R2: a list-2 citizen's coordinated course.
    public struct CoordinatedCourse: Sendable, Hashable, Codable {
        public var municipality: MunicipalityCode
        public var clinic: ClinicID
        public var asOf: LocalDate
    }

    private struct Informed: Sendable, Hashable, Codable {
        var party: Party
        var direction: ConsentDirection
        var purpose: ConsentPurpose
    }

    /// The citizen. Never printed (see `CitizenKey`).
    public let citizen: CitizenKey
    /// R4 consent per direction and purpose.
    public private(set) var consent = ConsentRecord()
    /// The journal's latest facts (R1).
    public private(set) var contact: ContactKnowledge = .unknown
    /// Events held by the consent gate, in order; released when consent permits.
    public private(set) var held: [OutboundEvent] = []
    /// R10: the running deadline, if a referral waits for a treatment start.
    public private(set) var deadline: TreatmentDeadline?
    private var track: Track = .none
    private var informed: [Informed] = []

    /// A new, empty case.
    public init(citizen: CitizenKey) {
        self.citizen = citizen
    }

    /// The case's state, e.g. `workflowA.inAssessment`.
    public var stateName: String {
        switch track {
        case .none: return "none"
        case .coordinatedCourse: return "coordinatedCourse"
        case .workflowA(let a): return "workflowA.\(a.stateName)"
        case .workflowB(let b): return "workflowB.\(b.stateName)"
        }
    }

    /// Workflow A, if the case is in it.
    public var workflowA: WorkflowA? {
        switch track {
        case .workflowA(let a): return a
        case .none, .coordinatedCourse, .workflowB: return nil
        }
    }

    /// Workflow B, if the case is in it.
    public var workflowB: WorkflowB? {
        switch track {
        case .workflowB(let b): return b
        case .none, .coordinatedCourse, .workflowA: return nil
        }
    }

    /// R2: the coordinated course, if recorded.
    public var coordinatedCourse: CoordinatedCourse? {
        switch track {
        case .coordinatedCourse(let course): return course
        case .none, .workflowA, .workflowB: return nil
        }
    }

    /// The municipality whose case this is while it is open (R4): the municipality of a
    /// running workflow A or B, of a recorded coordinated course (list 2), or of a workflow B
    /// that ended with the patient staying integrated. `nil` when nothing is open: no track,
    /// or a closed workflow A or B that a new listing or referral may replace.
    ///
    /// Only this municipality may list, refer or (via the region) propose the citizen while
    /// the case is open: another municipality's list entry or referral must not take the case
    /// over (its data and the case's later messages would go to it). The domain has no
    /// "citizen moved" step; a new municipality takes over once the case is closed.
    public var owningMunicipality: MunicipalityCode? {
        switch track {
        case .none: return nil
        case .coordinatedCourse(let course): return course.municipality
        case .workflowA(let a): return a.isClosed ? nil : a.listing.municipality
        case .workflowB(let b): return b.isClosed && !b.staysIntegrated ? nil : b.municipality
        }
    }

    private var municipalityParty: Party? {
        switch track {
        case .none: return nil
        case .coordinatedCourse(let course): return .municipality(course.municipality)
        case .workflowA(let a): return .municipality(a.listing.municipality)
        case .workflowB(let b): return .municipality(b.municipality)
        }
    }

    private var regionParty: Party? {
        switch track {
        case .none: return nil
        case .coordinatedCourse(let course): return .clinic(course.clinic)
        case .workflowA(let a): return a.regionParty
        case .workflowB(let b): return .clinic(b.clinic)
        }
    }

    private var dialogueInForce: Bool {
        consent.permits(.municipalityToRegion, .treatmentDialogue)
            && consent.permits(.regionToMunicipality, .treatmentDialogue)
    }

    // MARK: - apply

    /// Applies one input. Pure: the result depends only on the case, the input, the
    /// context and the configuration.
    public mutating func apply(
        _ input: CaseInput, context: CaseContext, configuration: WorkflowConfiguration
    ) -> CaseResult {
        var next = self
        let result: CaseResult
        do {
            let (step, consentBefore) = try next.dispatch(input, context: context, config: configuration)
            let (events, timers) = next.publish(
                step, consentBefore: consentBefore, senders: (municipalityParty, regionParty), context: context,
                config: configuration)
            result = CaseResult(
                outcome: .accepted, events: events, timers: timers, notes: step.notes)
            self = next
        } catch {
            result = CaseResult(outcome: .rejected(error), events: [], timers: [], notes: [])
        }
        return result
    }

    private func reject(_ input: CaseInput, _ reason: String, _ rule: RuleID? = nil) -> CaseRejection {
        CaseRejection(state: stateName, input: input.name, reason: reason, rule: rule)
    }

    /// Routes the input to the track; returns the step and the consent before the input.
    private mutating func dispatch(
        _ input: CaseInput, context: CaseContext, config: WorkflowConfiguration
    ) throws(CaseRejection) -> (Step, ConsentRecord) {
        let consentBefore = consent
        var step = Step()
        switch input {
        case .listed(let entry):
            try listed(entry, input: input, context: context, config: config, step: &step)

        case .referral(let referral):
            // A regional referral is the region's own data (routing needs no consent); a
            // municipal one is municipal data, routed like a list-1 entry only once consent
            // to the dialogue is in force (R4). Only the citizen's own municipality refers.
            if case .municipality(let code) = referral.from, code != referral.municipality {
                throw reject(input, "a municipality refers only its own citizens", .r1)
            }
            let source: ListingSource =
                referral.from.sector == .region ? .regionalReferral(from: referral.from) : .municipalList
            let startNew: Bool
            switch track {
            case .none, .coordinatedCourse: startNew = true
            case .workflowA(let a): startNew = a.isClosed
            case .workflowB:
                throw reject(input, "the citizen is in integrated treatment with a transition proposal open")
            }
            if startNew {
                discardHeld(step: &step, reason: "a new referral replaces the closed case")
                track = .workflowA(
                    WorkflowA(
                        listing: ListingFacts(
                            municipality: referral.municipality, listClinic: referral.clinic, asOf: referral.asOf,
                            listedBy: context.ref, source: source, receivedAt: context.at, receivedOn: context.on)))
                step.notes.append("referral registered")
                try consentChanged(from: consentBefore, context: context, config: config, step: &step)
            } else {
                step.notes.append("already in workflow A; case in state \(stateName)")
            }

        case .contactStatus(let facts):
            contact = .known(facts)
            switch track {
            case .workflowA(var a):
                step = try a.handle(.contactStatus(facts), context: context, configuration: config)
                track = .workflowA(a)
            case .none, .coordinatedCourse, .workflowB:
                step.notes.append("contact status recorded")
            }

        case .consentUpdate(let update):
            consent.record(update.status, directions: update.directions, purposes: update.purposes)
            try consentChanged(from: consentBefore, context: context, config: config, step: &step)
            step.notes.append("consent recorded")

        case .assessment(let assessment):
            guard case .workflowA(var a) = track else {
                throw reject(input, "no workflow A case to assess")
            }
            step = try a.handle(.assessment(assessment), context: context, configuration: config)
            track = .workflowA(a)

        case .municipalPosition(let position):
            guard consent.permits(.municipalityToRegion, .treatmentDialogue) else {
                throw reject(input, "no consent in force for municipal data to reach the region", .r4)
            }
            switch track {
            case .workflowA(var a):
                step = try a.handle(.municipalPosition(position), context: context, configuration: config)
                track = .workflowA(a)
            case .workflowB(var b):
                step = try b.handle(.municipalPosition(position), context: context, configuration: config)
                track = .workflowB(b)
            case .none, .coordinatedCourse:
                throw reject(input, "no assessment or proposal awaits a municipal position")
            }

        case .meetingOutcome(let outcome):
            switch (outcome, track) {
            case (.overview, .workflowA(var a)):
                step = try a.handle(.overviewMeeting, context: context, configuration: config)
                track = .workflowA(a)
            case (.decision(let decision), .workflowA(var a)):
                step = try a.handle(.decisionMeeting(decision), context: context, configuration: config)
                track = .workflowA(a)
            case (.network(let on), .workflowB(var b)):
                step = try b.handle(.networkMeeting(transitionOn: on), context: context, configuration: config)
                track = .workflowB(b)
            case (.collaboration(let outcome), .workflowB(var b)):
                step = try b.handle(.collaborationMeeting(outcome), context: context, configuration: config)
                track = .workflowB(b)
            case (.overview, .none), (.overview, .coordinatedCourse), (.overview, .workflowB),
                (.decision, .none), (.decision, .coordinatedCourse), (.decision, .workflowB):
                throw reject(input, "overview and decision meetings belong to workflow A")
            case (.network, .none), (.network, .coordinatedCourse), (.network, .workflowA),
                (.collaboration, .none), (.collaboration, .coordinatedCourse), (.collaboration, .workflowA):
                throw reject(input, "network and collaboration meetings belong to workflow B", .r7)
            }

        case .transitionProposal(let proposal):
            let start: Bool
            switch track {
            case .none: start = true
            case .workflowA(let a): start = a.isIntegrated
            case .workflowB(let b): start = b.staysIntegrated
            case .coordinatedCourse: start = false
            }
            guard start else {
                throw reject(input, "the citizen is not in integrated treatment, or a proposal is already open")
            }
            let (b, first) = WorkflowB.propose(
                municipality: proposal.municipality, clinic: proposal.clinic, dialogueConsent: dialogueInForce,
                context: context, configuration: config)
            track = .workflowB(b)
            step = first

        case .jointPlan(let kind):
            guard case .workflowB(var b) = track else { throw reject(input, "no workflow B case", .r7) }
            step = try b.handle(.jointPlan(kind), context: context, configuration: config)
            track = .workflowB(b)

        case .knowledgeHandover:
            guard case .workflowB(var b) = track else { throw reject(input, "no workflow B case", .r7) }
            step = try b.handle(.knowledgeHandover, context: context, configuration: config)
            track = .workflowB(b)

        case .patientChoice:
            switch track {
            case .workflowA(var a):
                step = try a.handle(.patientChoice, context: context, configuration: config)
                track = .workflowA(a)
            case .workflowB(var b):
                step = try b.handle(.patientChoice, context: context, configuration: config)
                track = .workflowB(b)
            case .none, .coordinatedCourse:
                throw reject(input, "there is no integrated track to end", .r6)
            }
            stopDeadline(step: &step, note: "patient's choice: the treatment-start deadline no longer applies")
            discardHeld(step: &step, reason: "the patient's choice ended the track")

        case .treatmentStarted(let startedOn):
            let hadDeadline = deadline != nil
            stopDeadline(step: &step, note: "treatment start recorded \(startedOn) (R10 deadline met or overdue ended)")
            switch track {
            case .workflowA(var a):
                do {
                    let more = try a.handle(.treatmentStarted(on: startedOn), context: context, configuration: config)
                    track = .workflowA(a)
                    step.drafts += more.drafts
                    step.timers += more.timers
                    step.notes += more.notes
                } catch {
                    if !hadDeadline { throw error }
                }
            case .none, .coordinatedCourse, .workflowB:
                if !hadDeadline { throw reject(input, "no referral awaits a treatment start", .r10) }
            }

        case .timerFired(let kind):
            switch kind {
            case .treatmentStartWarning, .treatmentStartOverdue:
                try deadlineTimer(kind, input: input, context: context, config: config, step: &step)
            case .statusUnknownTimeout, .assessmentReminder, .meetingReminder, .transitionDue, .phaseInEnd:
                switch track {
                case .workflowA(var a):
                    step = try a.handle(.timerFired(kind), context: context, configuration: config)
                    track = .workflowA(a)
                case .workflowB(var b):
                    step = try b.handle(.timerFired(kind), context: context, configuration: config)
                    track = .workflowB(b)
                case .none, .coordinatedCourse:
                    throw reject(input, "stale timer: no workflow runs it")
                }
            }
        }

        // A case that ends (coordinated course decided, patient's choice) has no referral
        // left to start treatment for.
        if let a = workflowA, a.isClosed {
            stopDeadline(step: &step, note: "the integrated track is closed: the treatment-start deadline ends")
        }
        return (step, consentBefore)
    }

    private mutating func listed(
        _ entry: ListEntry, input: CaseInput, context: CaseContext, config: WorkflowConfiguration, step: inout Step
    ) throws(CaseRejection) {
        let consentBefore = consent
        switch entry.list {
        case .list1:
            let startNew: Bool
            switch track {
            case .none, .coordinatedCourse: startNew = true
            case .workflowA(let a): startNew = a.isClosed
            case .workflowB:
                throw reject(input, "the citizen is in integrated treatment with a transition proposal open")
            }
            recordListedConsent(entry)
            if startNew {
                let listing = ListingFacts(
                    municipality: entry.municipality, listClinic: entry.clinic, asOf: entry.asOf,
                    listedBy: context.ref)
                discardHeld(step: &step, reason: "a new listing replaces the closed case")
                track = .workflowA(WorkflowA(listing: listing))
                step.notes.append("list-1 entry registered")
                // R8: a group-2 candidate still undecided when the phase-in period ends is reported.
                if context.on < config.phasing.group2PhaseInEnd {
                    step.timers.append(.schedule(.phaseInEnd, on: config.phasing.group2PhaseInEnd))
                }
                // Consent decides whether routing may start now (R4); the rest is
                // the consent change handled like any other.
                try consentChanged(from: consentBefore, context: context, config: config, step: &step)
            } else {
                step.notes.append("already listed; case in state \(stateName)")
                try consentChanged(from: consentBefore, context: context, config: config, step: &step)
            }
        case .list2:
            guard let clinic = entry.clinic else {
                throw reject(input, "a list-2 entry needs the clinic its coordinated course is shared with", .r2)
            }
            switch track {
            case .none, .coordinatedCourse: break
            case .workflowA(let a):
                guard a.isClosed else {
                    throw reject(input, "the citizen is on list 1 and the case is open; list 2 not applied", .r2)
                }
            case .workflowB(let b):
                guard b.isClosed, !b.staysIntegrated else {
                    throw reject(input, "the citizen is in integrated treatment; list 2 not applied", .r2)
                }
            }
            recordListedConsent(entry)
            track = .coordinatedCourse(
                CoordinatedCourse(municipality: entry.municipality, clinic: clinic, asOf: entry.asOf))
            step.send(
                .coordinatedCourse(clinic: clinic, asOf: entry.asOf, listedBy: context.ref), to: [.clinic(clinic)],
                config.explanation(.r2, "coordinated course shared for overview", [
                    "list 2 of municipality \(entry.municipality) as of \(entry.asOf)",
                    "no assessment is started for list-2 citizens",
                ]))
            try consentChanged(from: consentBefore, context: context, config: config, step: &step)
        }
    }

    /// R4: lets the track react to a consent change (routing starts; workflow B opens or
    /// closes the dialogue). Release of held events and withdrawal notices happen in
    /// `publish`, for every input alike.
    private mutating func consentChanged(
        from before: ConsentRecord, context: CaseContext, config: WorkflowConfiguration, step: inout Step
    ) throws(CaseRejection) {
        switch track {
        case .workflowA(var a):
            if a.isAwaitingConsent {
                // A regional referral is the region's own data: routing it within the
                // region needs no consent (the gate still guards anything sent outward).
                if a.listing.source.sector == .region || consent.permits(.municipalityToRegion, .treatmentDialogue) {
                    let more = try a.handle(.consentInForce(contact: contact), context: context, configuration: config)
                    track = .workflowA(a)
                    step.drafts += more.drafts
                    step.timers += more.timers
                    step.notes += more.notes
                } else {
                    step.notes.append("held: no consent in force for the entry to reach the region (R4)")
                    step.send(
                        .heldForConsent(direction: .municipalityToRegion, purpose: .treatmentDialogue),
                        to: [.municipality(a.listing.municipality)],
                        config.explanation(.r4, "entry held for lack of consent", [
                            "consent status: \(Self.describe(consent.status(.municipalityToRegion, .treatmentDialogue)))",
                            "psychiatry works from its own list until consent is given",
                        ]))
                }
            }
        case .workflowB(var b):
            let wasInForce =
                before.permits(.municipalityToRegion, .treatmentDialogue)
                && before.permits(.regionToMunicipality, .treatmentDialogue)
            if wasInForce != dialogueInForce {
                let more = try b.handle(.consentChanged(dialogueInForce: dialogueInForce), context: context, configuration: config)
                track = .workflowB(b)
                step.drafts += more.drafts
                step.timers += more.timers
                step.notes += more.notes
            }
        case .none, .coordinatedCourse:
            break
        }
    }

    /// A list entry's consent replaces the record for the directions it names (both when it
    /// names none), like a `consent-update` (R4, I15): consent municipality-to-region only
    /// leaves region-to-municipality as recorded, deny unless given. `.absent` states
    /// nothing: it must not erase a consent recorded by an earlier `consent-update`.
    private mutating func recordListedConsent(_ entry: ListEntry) {
        switch entry.consent {
        case .absent: break
        case .given, .refused, .withdrawn:
            consent.record(entry.consent, directions: entry.consentDirections ?? ConsentDirection.allCases)
        }
    }

    private static func describe(_ status: ConsentStatus) -> String {
        switch status {
        case .absent: return "absent"
        case .given(let on, _): return "given \(on)"
        case .refused(let on): return "refused \(on)"
        case .withdrawn(let on): return "withdrawn \(on)"
        }
    }

    /// Held events of a track that has ended are stale: releasing them later (say, a
    /// referral once consent comes) would restart work the patient or a new listing ended.
    private mutating func discardHeld(step: inout Step, reason: String) {
        guard !held.isEmpty else { return }
        step.notes.append("\(held.count) held event(s) discarded: \(reason)")
        held.removeAll()
    }

    /// `true` while the case has a referral that can still lead to a treatment start.
    private var canStartTreatment: Bool {
        switch track {
        case .workflowA(let a): return !a.isClosed
        case .none, .coordinatedCourse, .workflowB: return false
        }
    }

    // MARK: - R10

    private mutating func stopDeadline(step: inout Step, note: String) {
        guard deadline != nil else { return }
        deadline = nil
        step.timers += [.cancel(.treatmentStartWarning), .cancel(.treatmentStartOverdue)]
        step.notes.append(note)
    }

    private func deadlineTimer(
        _ kind: TimerKind, input: CaseInput, context: CaseContext, config: WorkflowConfiguration, step: inout Step
    ) throws(CaseRejection) {
        guard let deadline else {
            throw reject(input, "stale timer: no treatment-start deadline is running", .r10)
        }
        let warning: DeadlineWarningKind = kind == .treatmentStartOverdue ? .passed : .approaching
        let facts = [
            "referral received; treatment must start no later than \(deadline.due) (\(config.timers.treatmentStartLimitDays) days)",
            warning == .passed
                ? "no treatment start recorded by \(context.on): the deadline has passed"
                : "no treatment start recorded by \(context.on): \(deadline.due.days(since: context.on)) days left",
        ]
        var recipients = [deadline.party]
        if warning == .passed && deadline.party != .centralVisitation { recipients.append(.centralVisitation) }
        step.send(
            .deadlineWarning(kind: warning, deadline: deadline.due), to: recipients,
            config.explanation(.r10, warning == .passed ? "treatment-start deadline passed" : "treatment-start deadline near", facts))
    }

    // MARK: - R4 gate, release, withdrawal; R10 start

    /// Gives drafts their ids, passes each through the consent gate, holds what may not
    /// cross, tells the sender, releases held events that now may cross, and tells parties
    /// that had data when consent is withdrawn.
    private mutating func publish(
        _ step: Step, consentBefore: ConsentRecord, senders: (municipality: Party?, region: Party?),
        context: CaseContext, config: WorkflowConfiguration
    ) -> ([OutboundEvent], [TimerAction]) {
        var events: [OutboundEvent] = []
        var timers = step.timers
        var index = 0
        func nextID(_ payload: EventPayload) -> EventID {
            defer { index += 1 }
            return EventID(inbound: context.ref, index: index, kind: payload.kind)
        }

        // 1. Withdrawal: parties that received data under a consent no longer in force, and
        //    the party whose data it was (I14), whoever sent the withdrawal.
        var stopped: [Informed] = []
        for entry in informed where consentBefore.permits(entry.direction, entry.purpose)
            && !consent.permits(entry.direction, entry.purpose)
        {
            stopped.append(entry)
        }
        informed.removeAll { stopped.contains($0) }
        var told: [(party: Party, direction: ConsentDirection, why: String)] = stopped.map {
            ($0.party, $0.direction, "\($0.party) received data about the citizen and must stop the dialogue")
        }
        for entry in stopped {
            let owner = entry.direction.source == .municipality
                ? (municipalityParty ?? senders.municipality) : (regionParty ?? senders.region)
            if let owner {
                told.append((owner, entry.direction, "\(owner)'s data about the citizen reached the other sector; it must stop the dialogue"))
            }
        }
        var notified: Set<Party> = []
        for entry in told where !notified.contains(entry.party) {
            notified.insert(entry.party)
            let payload = EventPayload.consentWithdrawn(direction: entry.direction)
            events.append(
                OutboundEvent(
                    id: nextID(payload), recipient: entry.party, citizen: citizen, payload: payload,
                    explanation: config.explanation(.r4, "consent withdrawn: stop the dialogue", [
                        "consent for \(entry.direction.rawValue) is no longer in force on \(context.on)", entry.why,
                    ])))
        }

        // 2. Release held events that may cross now (consent given later).
        var stillHeld: [OutboundEvent] = []
        for var event in held {
            switch ConsentGate.verdict(for: event.payload, to: event.recipient, consent: consent) {
            case .pass:
                event.payload = event.payload.restampingDeadline(
                    context.on.adding(days: config.timers.treatmentStartLimitDays))
                event.explanation.facts.append("held for consent; released on \(context.on) (R4)")
                deliver(event, into: &events, timers: &timers, config: config)
            case .hold:
                stillHeld.append(event)
            }
        }
        held = stillHeld

        // 3. The step's own drafts.
        var holds: [ConsentDirection: ConsentPurpose] = [:]
        for draft in step.drafts {
            let event = OutboundEvent(
                id: nextID(draft.payload), recipient: draft.recipient, citizen: citizen, payload: draft.payload,
                explanation: draft.explanation)
            switch ConsentGate.verdict(for: event.payload, to: event.recipient, consent: consent) {
            case .pass:
                deliver(event, into: &events, timers: &timers, config: config)
            case .hold(let direction, let purpose):
                held.append(event)
                if holds[direction] == nil { holds[direction] = purpose }
            }
        }
        // 4. Tell the sender that its data is held.
        for direction in ConsentDirection.allCases {
            guard let purpose = holds[direction] else { continue }
            // The party whose data is held; a case that just closed still names the
            // parties it had before the input.
            let sender =
                direction.source == .municipality
                ? (municipalityParty ?? senders.municipality) : (regionParty ?? senders.region)
            guard let sender else { continue }
            let payload = EventPayload.heldForConsent(direction: direction, purpose: purpose)
            events.append(
                OutboundEvent(
                    id: nextID(payload), recipient: sender, citizen: citizen, payload: payload,
                    explanation: config.explanation(.r4, "data held for lack of consent", [
                        "no consent in force for \(direction.rawValue) (\(purpose.rawValue)) on \(context.on)",
                        "held until consent is given",
                    ])))
        }
        return (events, timers)
    }

    /// Publishes one event that passed the gate: records which parties now hold data from
    /// the other sector (for withdrawal) and starts the R10 deadline of a referral.
    private mutating func deliver(
        _ event: OutboundEvent, into events: inout [OutboundEvent], timers: inout [TimerAction],
        config: WorkflowConfiguration
    ) {
        events.append(event)
        for origin in event.payload.dataOrigins {
            guard let direction = ConsentDirection(from: origin, to: event.recipient.sector) else { continue }
            let entry = Informed(party: event.recipient, direction: direction, purpose: event.payload.purpose)
            if !informed.contains(entry) { informed.append(entry) }
        }
        if event.recipient.sector == .region, let due = event.payload.treatmentStartDeadline, deadline == nil,
            canStartTreatment
        {
            deadline = TreatmentDeadline(due: due, party: event.recipient)
            timers.append(
                .schedule(.treatmentStartWarning, on: due.adding(days: -config.timers.deadlineWarningLeadDays)))
            timers.append(.schedule(.treatmentStartOverdue, on: due.adding(days: 1)))
        }
    }
}

extension EventPayload {
    /// R10: the treatment-start deadline a referral carries, if this is one.
    public var treatmentStartDeadline: LocalDate? {
        switch self {
        case .centralVisitationReferral(_, let deadline, _, _): return deadline
        case .responsibilityTransfer(_, _, _, _, let deadline): return deadline
        case .assessmentRequest(_, _, _, let deadline): return deadline
        case .notGroup2, .contactStatusRequest, .coordinatedCourse, .heldForConsent,
            .consentWithdrawn, .assessmentShared, .moreInformationRequested, .decision, .transitionProposed,
            .collaborationMeetingNeeded, .psychiatryProceedsAlone, .handover, .trackEnded, .deadlineWarning,
            .reminder:
            return nil
        }
    }

    /// A held referral counts its 14 days from its release (the day the region receives it).
    func restampingDeadline(_ due: LocalDate) -> EventPayload {
        switch self {
        case .centralVisitationReferral(let reason, _, let listedBy, let origin):
            return .centralVisitationReferral(
                reason: reason, treatmentStartDeadline: due, listedBy: listedBy, origin: origin)
        case .responsibilityTransfer(let from, let to, let at, let effectiveOn, let deadline):
            return .responsibilityTransfer(
                from: from, to: to, at: at, effectiveOn: effectiveOn, treatmentStartDeadline: deadline.map { _ in due })
        case .assessmentRequest(let clinic, let listedBy, let origin, let deadline):
            return .assessmentRequest(
                clinic: clinic, listedBy: listedBy, origin: origin, treatmentStartDeadline: deadline.map { _ in due })
        case .notGroup2, .contactStatusRequest, .coordinatedCourse, .heldForConsent,
            .consentWithdrawn, .assessmentShared, .moreInformationRequested, .decision, .transitionProposed,
            .collaborationMeetingNeeded, .psychiatryProceedsAlone, .handover, .trackEnded, .deadlineWarning,
            .reminder:
            return self
        }
    }
}
