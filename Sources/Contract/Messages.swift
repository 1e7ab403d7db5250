// Codable value types of the contract, one per schema object (Config/schemas).
// Field names, optionality and enum values mirror the schemas exactly; ContractTests check
// that every example decodes and re-encodes to the same JSON.

public enum ListKind: String, Sendable, Hashable, Codable, CaseIterable {
    case list1 = "list-1"
    case list2 = "list-2"
}

public enum ConsentStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case given
    case refused
    case absent
    case withdrawn
}

public enum ConsentDirection: String, Sendable, Hashable, Codable, CaseIterable {
    case municipalityToRegion = "municipality-to-region"
    case regionToMunicipality = "region-to-municipality"
}

/// Consent (health act § 43) to the dialogue between municipality and region about the citizen's
/// dual-diagnosis course. Deny by default: only status given opens data exchange (R4).
public struct Consent: Sendable, Hashable, Codable {
    /// given: consent to the dialogue is recorded; refused: the citizen said no; absent: not (yet)
    /// asked or not recorded; withdrawn: given earlier and withdrawn.
    public var status: ConsentStatus
    /// Date the consent was given, refused or withdrawn. Required unless status is absent.
    public var date: CalendarDate?
    /// Directions the consent covers. Required when status is given; for refused/withdrawn, absent
    /// means both directions.
    public var directions: [ConsentDirection]?
    /// Reference to the signed declaration in the sender's own system (document number, not its
    /// content). Required when status is given.
    public var declarationRef: String?

    public init(
        status: ConsentStatus,
        date: CalendarDate? = nil,
        directions: [ConsentDirection]? = nil,
        declarationRef: String? = nil
    ) {
        self.status = status
        self.date = date
        self.directions = directions
        self.declarationRef = declarationRef
    }
}

/// A staff contact person (never the citizen).
public struct ContactPerson: Sendable, Hashable, Codable {
    /// Name of the staff member.
    public var name: String
    /// Role or team, e.g. "rusmiddelkonsulent".
    public var role: String?
    /// Work phone number.
    public var phone: String?
    /// Work e-mail address (use a secure mail address).
    public var email: String?

    public init(
        name: String,
        role: String? = nil,
        phone: String? = nil,
        email: String? = nil
    ) {
        self.name = name
        self.role = role
        self.phone = phone
        self.email = email
    }
}

public enum TreatmentSetting: String, Sendable, Hashable, Codable, CaseIterable {
    case outpatient
    case day
    case residential
}

public enum Substance: String, Sendable, Hashable, Codable, CaseIterable {
    case alcohol
    case cannabis
    case opioids
    case stimulants
    case benzodiazepines
    case other
}

public enum SubstitutionDrug: String, Sendable, Hashable, Codable, CaseIterable {
    case methadone
    case buprenorphine
    case other
}

/// Current opioid substitution treatment, if any.
public struct SubstitutionTreatment: Sendable, Hashable, Codable {
    /// Substitution drug.
    public var drug: SubstitutionDrug
    /// Start of the substitution treatment.
    public var since: CalendarDate

    public init(
        drug: SubstitutionDrug,
        since: CalendarDate
    ) {
        self.drug = drug
        self.since = since
    }
}

/// The citizen's current municipal substance treatment (health act §§ 141-142).
public struct SubstanceTreatment: Sendable, Hashable, Codable {
    /// Start of the current municipal substance treatment course.
    public var since: CalendarDate
    /// Form of the current course.
    public var setting: TreatmentSetting?
    /// Substances the course addresses.
    public var substances: [Substance]?
    /// Current opioid substitution treatment, if any.
    public var substitutionTreatment: SubstitutionTreatment?

    public init(
        since: CalendarDate,
        setting: TreatmentSetting? = nil,
        substances: [Substance]? = nil,
        substitutionTreatment: SubstitutionTreatment? = nil
    ) {
        self.since = since
        self.setting = setting
        self.substances = substances
        self.substitutionTreatment = substitutionTreatment
    }
}

public enum OfferOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    case completed
    case droppedOut = "dropped-out"
    case noEffect = "no-effect"
    case ongoing
    case unknown
}

/// An earlier, lower-level offer and its outcome (relevant to the target group: did not benefit
/// over a period).
public struct EarlierOffer: Sendable, Hashable, Codable {
    /// The offer, e.g. "ambulant behandling, 1 x ugentligt".
    public var offer: String
    /// Start of the offer.
    public var from: CalendarDate
    /// End of the offer, if ended.
    public var to: CalendarDate?
    /// How it went.
    public var outcome: OfferOutcome

    public init(
        offer: String,
        from: CalendarDate,
        to: CalendarDate? = nil,
        outcome: OfferOutcome
    ) {
        self.offer = offer
        self.from = from
        self.to = to
        self.outcome = outcome
    }
}

public enum FunctionalLevel: String, Sendable, Hashable, Codable, CaseIterable {
    case mildlyImpaired = "mildly-impaired"
    case moderatelyImpaired = "moderately-impaired"
    case severelyImpaired = "severely-impaired"
}

/// What psychiatry needs from the municipality to assess the target group (the template of workflow
/// A step 2).
public struct MunicipalInformation: Sendable, Hashable, Codable {
    /// The citizen's current municipal substance treatment (health act §§ 141-142).
    public var substanceTreatment: SubstanceTreatment
    /// Earlier lower-level offers and their outcome.
    public var earlierOffers: [EarlierOffer]?
    /// The municipality's assessment of the citizen's functioning.
    public var functionalLevel: FunctionalLevel?
    /// What makes everyday life complex (housing, debt, network, ...).
    public var complexityNotes: String?
    /// A staff contact person (never the citizen).
    public var contactPerson: ContactPerson

    public init(
        substanceTreatment: SubstanceTreatment,
        earlierOffers: [EarlierOffer]? = nil,
        functionalLevel: FunctionalLevel? = nil,
        complexityNotes: String? = nil,
        contactPerson: ContactPerson
    ) {
        self.substanceTreatment = substanceTreatment
        self.earlierOffers = earlierOffers
        self.functionalLevel = functionalLevel
        self.complexityNotes = complexityNotes
        self.contactPerson = contactPerson
    }
}

/// Why the router did this: rule, outcome, facts used, rules version.
public struct Explanation: Sendable, Hashable, Codable {
    /// The DOMAIN rule that fired, e.g. R1.
    public var rule: String
    /// Machine-readable outcome name, e.g. closed-course-within-year.
    public var outcome: String
    /// The facts the rule used, as sentences without CPR numbers, e.g. "course at clinic
    /// amb-syd-aalborg closed 2025-12-02, 356 days before 2026-11-23".
    public var facts: [String]
    /// Version of the rule set that decided.
    public var rulesVersion: String

    public init(
        rule: String,
        outcome: String,
        facts: [String],
        rulesVersion: String
    ) {
        self.rule = rule
        self.outcome = outcome
        self.facts = facts
        self.rulesVersion = rulesVersion
    }
}

/// A sender as identified by the inbound exchange.
public struct SenderRef: Sendable, Hashable, Codable {
    /// Kind of sender.
    public var kind: SenderKind
    /// Municipality code, clinic id or journal id.
    public var id: String

    public init(
        kind: SenderKind,
        id: String
    ) {
        self.kind = kind
        self.id = id
    }
}

/// The inbound message an outbound message derives from.
public struct MessageSource: Sendable, Hashable, Codable {
    /// message_id of the inbound message this derives from.
    public var messageId: String
    /// AMQP type of that message.
    public var messageType: String
    /// A sender as identified by the inbound exchange.
    public var sender: SenderRef

    public init(
        messageId: String,
        messageType: String,
        sender: SenderRef
    ) {
        self.messageId = messageId
        self.messageType = messageType
        self.sender = sender
    }
}

/// One citizen on the list.
public struct MunicipalListEntry: Sendable, Hashable, Codable {
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// Consent (health act § 43) to the dialogue between municipality and region about the
    /// citizen's dual-diagnosis course. Deny by default: only status given opens data exchange
    /// (R4).
    public var consent: Consent
    /// What psychiatry needs from the municipality to assess the target group (the template of
    /// workflow A step 2).
    public var municipalInformation: MunicipalInformation
    /// Anything else psychiatry should know.
    public var note: String?

    public init(
        cpr: CPR,
        consent: Consent,
        municipalInformation: MunicipalInformation,
        note: String? = nil
    ) {
        self.cpr = cpr
        self.consent = consent
        self.municipalInformation = municipalInformation
        self.note = note
    }
}

/// A municipality's list 1 (potential group 2) or list 2 (continue coordinated) for one clinic or
/// all clinics, as of a date (workflow A step 1; R1, R2, R3).
public struct MunicipalList: ContractMessage {
    public static let messageType = MessageType.municipalList

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The sending municipality; must be the municipality of the exchange it is sent to.
    public var municipality: String
    /// The clinic the list was made with. Absent: the list covers all clinics.
    public var clinic: String?
    /// list-1: potential target group for phase-in as group 2 (primary list). list-2: citizens who
    /// continue in a coordinated (parallel) course.
    public var listKind: ListKind
    /// The list's own date; routing (R1) is evaluated as of this date, never the wall clock.
    public var asOf: CalendarDate
    /// One entry per citizen; each entry is validated and answered on its own (R11).
    /// Empty in a decoded message whose entries stayed in the body
    /// (`DecodedMessage.deferredEntries`; read them with `DecodedMessage.municipalEntries(_:)`).
    public var entries: [MunicipalListEntry]

    public init(
        schemaVersion: String = contractSchemaVersion,
        municipality: String,
        clinic: String? = nil,
        listKind: ListKind,
        asOf: CalendarDate,
        entries: [MunicipalListEntry]
    ) {
        self.schemaVersion = schemaVersion
        self.municipality = municipality
        self.clinic = clinic
        self.listKind = listKind
        self.asOf = asOf
        self.entries = entries
    }
}

/// One citizen on the clinic's list.
public struct ClinicListEntry: Sendable, Hashable, Codable {
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// Start of the citizen's current course at the clinic, if any.
    public var courseSince: CalendarDate?
    /// Consent (health act § 43) to the dialogue between municipality and region about the
    /// citizen's dual-diagnosis course. Deny by default: only status given opens data exchange
    /// (R4).
    public var consent: Consent?
    /// Anything else the municipality should know (sent on only with consent, R4).
    public var note: String?

    public init(
        cpr: CPR,
        courseSince: CalendarDate? = nil,
        consent: Consent? = nil,
        note: String? = nil
    ) {
        self.cpr = cpr
        self.courseSince = courseSince
        self.consent = consent
        self.note = note
    }
}

/// A clinic's own list 1 or list 2 for one municipality, for reconciliation against the municipal
/// list (R3). Psychiatry's list is for comparison so nobody is missed.
public struct ClinicList: ContractMessage {
    public static let messageType = MessageType.clinicList

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The sending clinic; must be the clinic of the exchange it is sent to.
    public var clinic: String
    /// The municipality the list concerns (the municipality-clinic pair).
    public var municipality: String
    /// list-1: potential target group for phase-in as group 2 (primary list). list-2: citizens who
    /// continue in a coordinated (parallel) course.
    public var listKind: ListKind
    /// The list's own date.
    public var asOf: CalendarDate
    /// One entry per citizen, validated one by one (R11).
    public var entries: [ClinicListEntry]

    public init(
        schemaVersion: String = contractSchemaVersion,
        clinic: String,
        municipality: String,
        listKind: ListKind,
        asOf: CalendarDate,
        entries: [ClinicListEntry]
    ) {
        self.schemaVersion = schemaVersion
        self.clinic = clinic
        self.municipality = municipality
        self.listKind = listKind
        self.asOf = asOf
        self.entries = entries
    }
}

/// The current outpatient course, if any.
public struct CurrentCourse: Sendable, Hashable, Codable {
    /// Clinic running the current outpatient course (must be in the code book).
    public var clinic: String
    /// Start of the course.
    public var since: CalendarDate

    public init(
        clinic: String,
        since: CalendarDate
    ) {
        self.clinic = clinic
        self.since = since
    }
}

/// A closed psychiatric course.
public struct ClosedCourse: Sendable, Hashable, Codable {
    /// Clinic that ran the course (may be outside the code book).
    public var clinic: String
    /// Start of the course.
    public var openedOn: CalendarDate?
    /// Date the course was closed.
    public var closedOn: CalendarDate

    public init(
        clinic: String,
        openedOn: CalendarDate? = nil,
        closedOn: CalendarDate
    ) {
        self.clinic = clinic
        self.openedOn = openedOn
        self.closedOn = closedOn
    }
}

public enum AcuteContactKind: String, Sendable, Hashable, Codable, CaseIterable {
    case emergencyRoom = "emergency-room"
    case shortStabilisingAdmission = "short-stabilising-admission"
    case admission
}

/// One acute contact.
public struct AcuteContact: Sendable, Hashable, Codable {
    /// Date of the contact (admission date).
    public var date: CalendarDate
    /// Kind of contact.
    public var kind: AcuteContactKind
    /// An outpatient course followed the contact.
    public var outpatientFollowUp: Bool
    /// Psychiatry did not manage to motivate the patient for outpatient treatment.
    public var motivationFailed: Bool
    /// The patient rejected treatment shortly after.
    public var treatmentRejectedShortlyAfter: Bool

    public init(
        date: CalendarDate,
        kind: AcuteContactKind,
        outpatientFollowUp: Bool,
        motivationFailed: Bool,
        treatmentRejectedShortlyAfter: Bool
    ) {
        self.date = date
        self.kind = kind
        self.outpatientFollowUp = outpatientFollowUp
        self.motivationFailed = motivationFailed
        self.treatmentRejectedShortlyAfter = treatmentRejectedShortlyAfter
    }
}

/// The journal facts for one citizen.
public struct ContactStatusEntry: Sendable, Hashable, Codable {
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The case from a contact-status-request, if this answers one.
    public var caseId: String?
    /// false: the journal has no psychiatric record of the citizen (then the lists below must be
    /// empty or absent).
    public var known: Bool
    /// The current outpatient course, if any.
    public var currentCourse: CurrentCourse?
    /// Psychiatric courses closed (any time; the router looks at the last 365 days).
    public var closedCourses: [ClosedCourse]?
    /// Acute contacts and admissions.
    public var acuteContacts: [AcuteContact]?

    public init(
        cpr: CPR,
        caseId: String? = nil,
        known: Bool,
        currentCourse: CurrentCourse? = nil,
        closedCourses: [ClosedCourse]? = nil,
        acuteContacts: [AcuteContact]? = nil
    ) {
        self.cpr = cpr
        self.caseId = caseId
        self.known = known
        self.currentCourse = currentCourse
        self.closedCourses = closedCourses
        self.acuteContacts = acuteContacts
    }
}

/// The region's journal facts per citizen as of a date: current outpatient course, closed courses,
/// acute contacts (input to R1). Sent on request (contact-status-request) or unsolicited.
public struct ContactStatus: ContractMessage {
    public static let messageType = MessageType.contactStatus

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The date the facts are true for.
    public var asOf: CalendarDate
    /// One entry per citizen, validated one by one (R11).
    /// Empty in a decoded message whose entries stayed in the body
    /// (`DecodedMessage.deferredEntries`; read them with `DecodedMessage.contactStatusEntries(_:)`).
    public var entries: [ContactStatusEntry]

    public init(
        schemaVersion: String = contractSchemaVersion,
        asOf: CalendarDate,
        entries: [ContactStatusEntry]
    ) {
        self.schemaVersion = schemaVersion
        self.asOf = asOf
        self.entries = entries
    }
}

public enum GroundsLevel: String, Sendable, Hashable, Codable, CaseIterable {
    case diagnosed
    case suspected
}

/// Both problems, diagnosed or suspected (a diagnosis is not required).
public struct ReferralGrounds: Sendable, Hashable, Codable {
    /// Mental disorder diagnosed or suspected.
    public var mentalDisorder: GroundsLevel
    /// Substance-use problem diagnosed or suspected.
    public var substanceUse: GroundsLevel

    public init(
        mentalDisorder: GroundsLevel,
        substanceUse: GroundsLevel
    ) {
        self.mentalDisorder = mentalDisorder
        self.substanceUse = substanceUse
    }
}

public enum ReferrerKind: String, Sendable, Hashable, Codable, CaseIterable {
    case municipality
    case clinic
    case generalPractitioner = "general-practitioner"
    case hospital
    case other
}

/// The referring party.
public struct Referrer: Sendable, Hashable, Codable {
    /// Who referred.
    public var kind: ReferrerKind
    /// Name of the referring unit or professional.
    public var name: String
    /// A staff contact person (never the citizen).
    public var contactPerson: ContactPerson?

    public init(
        kind: ReferrerKind,
        name: String,
        contactPerson: ContactPerson? = nil
    ) {
        self.kind = kind
        self.name = name
        self.contactPerson = contactPerson
    }
}

/// A referral of one citizen to integrated dual-diagnosis treatment, routed by the same rules (R1)
/// and carrying the 14-day deadline (R10). A suspicion of both problems is enough.
public struct Referral: ContractMessage {
    public static let messageType = MessageType.referral

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The citizen's municipality (for a municipal sender: itself).
    public var municipality: String
    /// For a clinic sender: itself. Otherwise a preferred clinic, if any.
    public var clinic: String?
    /// When the referral was made.
    public var referredAt: Timestamp
    /// Both problems, diagnosed or suspected (a diagnosis is not required).
    public var grounds: ReferralGrounds
    /// Known SKS diagnosis codes (chapter F), e.g. DF200, DF102.
    public var diagnoses: [String]?
    /// The referring party.
    public var referrer: Referrer
    /// Consent (health act § 43) to the dialogue between municipality and region about the
    /// citizen's dual-diagnosis course. Deny by default: only status given opens data exchange
    /// (R4).
    public var consent: Consent
    /// What psychiatry needs from the municipality to assess the target group (the template of
    /// workflow A step 2).
    public var municipalInformation: MunicipalInformation?
    /// The referral text.
    public var text: String?

    public init(
        schemaVersion: String = contractSchemaVersion,
        cpr: CPR,
        municipality: String,
        clinic: String? = nil,
        referredAt: Timestamp,
        grounds: ReferralGrounds,
        diagnoses: [String]? = nil,
        referrer: Referrer,
        consent: Consent,
        municipalInformation: MunicipalInformation? = nil,
        text: String? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.referredAt = referredAt
        self.grounds = grounds
        self.diagnoses = diagnoses
        self.referrer = referrer
        self.consent = consent
        self.municipalInformation = municipalInformation
        self.text = text
    }
}

/// A new consent state for one citizen (R4): given releases held entries, withdrawn stops all
/// further exchange and notifies the parties that had data.
public struct ConsentUpdate: ContractMessage {
    public static let messageType = MessageType.consentUpdate

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The citizen's municipality (for a municipal sender: itself).
    public var municipality: String
    /// For a clinic sender: itself.
    public var clinic: String?
    /// The case, if known.
    public var caseId: String?
    /// Consent (health act § 43) to the dialogue between municipality and region about the
    /// citizen's dual-diagnosis course. Deny by default: only status given opens data exchange
    /// (R4).
    public var consent: Consent

    public init(
        schemaVersion: String = contractSchemaVersion,
        cpr: CPR,
        municipality: String,
        clinic: String? = nil,
        caseId: String? = nil,
        consent: Consent
    ) {
        self.schemaVersion = schemaVersion
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.caseId = caseId
        self.consent = consent
    }
}

public enum AssessmentOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    case integrated
    case coordinated
    case needsMoreInformation = "needs-more-information"
}

/// Psychiatry's assessment of one citizen under its visitation right (workflow A step 3; R5).
public struct Assessment: ContractMessage {
    public static let messageType = MessageType.assessment

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// From the assessment-request.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The assessing clinic; must be the sender.
    public var clinic: String
    /// The citizen's municipality.
    public var municipality: String
    /// Date of the assessment.
    public var assessedOn: CalendarDate
    /// Integrated course, coordinated course, or more information needed.
    public var outcome: AssessmentOutcome
    /// Psychiatry's reasoning.
    public var statement: String
    /// For outcome coordinated: what it would take for the patient to be offered integrated
    /// treatment (R5). Required then.
    public var whatItWouldTake: String?
    /// For outcome needs-more-information: what is needed. Required then.
    public var informationNeeded: String?
    /// For outcome integrated: proposed date of the move.
    public var proposedTransitionDate: CalendarDate?

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        clinic: String,
        municipality: String,
        assessedOn: CalendarDate,
        outcome: AssessmentOutcome,
        statement: String,
        whatItWouldTake: String? = nil,
        informationNeeded: String? = nil,
        proposedTransitionDate: CalendarDate? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.clinic = clinic
        self.municipality = municipality
        self.assessedOn = assessedOn
        self.outcome = outcome
        self.statement = statement
        self.whatItWouldTake = whatItWouldTake
        self.informationNeeded = informationNeeded
        self.proposedTransitionDate = proposedTransitionDate
    }
}

public enum PositionSubject: String, Sendable, Hashable, Codable, CaseIterable {
    case assessment
    case transitionProposal = "transition-proposal"
}

public enum PositionValue: String, Sendable, Hashable, Codable, CaseIterable {
    case agree
    case disagree
}

/// The municipality's agreement or disagreement with psychiatry's assessment (workflow A) or
/// transition proposal (workflow B). Disagreement does not override psychiatry (R5).
public struct MunicipalPosition: ContractMessage {
    public static let messageType = MessageType.municipalPosition

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The case.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The sending municipality.
    public var municipality: String
    /// What the position is about.
    public var regarding: PositionSubject
    /// Agree or disagree.
    public var position: PositionValue
    /// The municipality's view; required when position is disagree.
    public var comment: String?
    /// Date of the position.
    public var statedOn: CalendarDate

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        regarding: PositionSubject,
        position: PositionValue,
        comment: String? = nil,
        statedOn: CalendarDate
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.regarding = regarding
        self.position = position
        self.comment = comment
        self.statedOn = statedOn
    }
}

public enum MeetingKind: String, Sendable, Hashable, Codable, CaseIterable {
    case overview
    case decision
    case network
    case collaboration
}

public enum MeetingParticipant: String, Sendable, Hashable, Codable, CaseIterable {
    case municipality
    case psychiatry
    case patient
    case relatives
}

public enum Agreement: String, Sendable, Hashable, Codable, CaseIterable {
    case agreed
    case disagreed
}

public enum MeetingDecision: String, Sendable, Hashable, Codable, CaseIterable {
    case integrated
    case coordinated
    case undecided
}

/// The outcome of a meeting about one citizen: overview or decision meeting (workflow A), network
/// or collaboration meeting (workflow B; R7).
public struct MeetingOutcome: ContractMessage {
    public static let messageType = MessageType.meetingOutcome

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The case.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The municipality in the meeting.
    public var municipality: String
    /// The clinic in the meeting.
    public var clinic: String
    /// overview/decision: workflow A steps 2 and 4; network (with the patient): workflow B
    /// agreement; collaboration (without the patient): workflow B disagreement.
    public var meetingKind: MeetingKind
    /// Date of the meeting.
    public var heldOn: CalendarDate
    /// Who took part. A network meeting includes the patient; a collaboration meeting does not.
    public var participants: [MeetingParticipant]
    /// Whether municipality and psychiatry agreed.
    public var agreement: Agreement
    /// The decision reached. Required for decision, network and collaboration meetings.
    public var decision: MeetingDecision?
    /// Agreed date of the move, if decided.
    public var transitionDate: CalendarDate?
    /// On disagreement: psychiatry's statement of what it would take (R5). Required when agreement
    /// is disagreed at a decision or collaboration meeting.
    public var psychiatryStatement: String?
    /// Whether another meeting is needed.
    public var furtherMeetingNeeded: Bool
    /// Minutes or summary.
    public var summary: String?

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        clinic: String,
        meetingKind: MeetingKind,
        heldOn: CalendarDate,
        participants: [MeetingParticipant],
        agreement: Agreement,
        decision: MeetingDecision? = nil,
        transitionDate: CalendarDate? = nil,
        psychiatryStatement: String? = nil,
        furtherMeetingNeeded: Bool,
        summary: String? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.meetingKind = meetingKind
        self.heldOn = heldOn
        self.participants = participants
        self.agreement = agreement
        self.decision = decision
        self.transitionDate = transitionDate
        self.psychiatryStatement = psychiatryStatement
        self.furtherMeetingNeeded = furtherMeetingNeeded
        self.summary = summary
    }
}

/// Workflow B start: the clinic finds a patient in integrated treatment stable over time and
/// proposes a coordinated course.
public struct TransitionProposal: ContractMessage {
    public static let messageType = MessageType.transitionProposal

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The case, if the patient came through the router; otherwise the router opens one.
    public var caseId: String?
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The proposing clinic; must be the sender.
    public var clinic: String
    /// The citizen's municipality.
    public var municipality: String
    /// Date of the proposal.
    public var proposedOn: CalendarDate
    /// Why the patient is ready and stable over time, treated/medicated (principle 1).
    public var stabilityStatement: String
    /// Consent (health act § 43) to the dialogue between municipality and region about the
    /// citizen's dual-diagnosis course. Deny by default: only status given opens data exchange
    /// (R4).
    public var consent: Consent
    /// Proposed date of the move to a coordinated course.
    public var proposedTransitionDate: CalendarDate?

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String? = nil,
        cpr: CPR,
        clinic: String,
        municipality: String,
        proposedOn: CalendarDate,
        stabilityStatement: String,
        consent: Consent,
        proposedTransitionDate: CalendarDate? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.clinic = clinic
        self.municipality = municipality
        self.proposedOn = proposedOn
        self.stabilityStatement = stabilityStatement
        self.consent = consent
        self.proposedTransitionDate = proposedTransitionDate
    }
}

public enum JointPlanKind: String, Sendable, Hashable, Codable, CaseIterable {
    case udskrivningsaftale
    case koordinationsplan
    case koordinerendeIndsatsplan = "koordinerende-indsatsplan"
}

/// A joint plan made or revised after the network meeting (workflow B step 3; R7).
public struct JointPlan: ContractMessage {
    public static let messageType = MessageType.jointPlan

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The case.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The municipality.
    public var municipality: String
    /// The clinic.
    public var clinic: String
    /// Discharge agreement, coordination plan, or coordinating action plan.
    public var planKind: JointPlanKind
    /// true: an existing plan was revised; false: a new plan was made.
    public var revision: Bool
    /// Date the plan was agreed.
    public var agreedOn: CalendarDate
    /// Reference to the plan in the sender's system.
    public var documentRef: String

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        clinic: String,
        planKind: JointPlanKind,
        revision: Bool,
        agreedOn: CalendarDate,
        documentRef: String
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.planKind = planKind
        self.revision = revision
        self.agreedOn = agreedOn
        self.documentRef = documentRef
    }
}

public enum HandoverTopic: String, Sendable, Hashable, Codable, CaseIterable {
    case medication
    case treatmentHistory = "treatment-history"
    case riskAssessment = "risk-assessment"
    case crisisPlan = "crisis-plan"
    case substitutionTreatment = "substitution-treatment"
    case socialCircumstances = "social-circumstances"
    case other
}

/// Municipality and region agreed the handover of knowledge (workflow B step 3, last step; R7).
public struct KnowledgeHandover: ContractMessage {
    public static let messageType = MessageType.knowledgeHandover

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The case.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The municipality.
    public var municipality: String
    /// The clinic.
    public var clinic: String
    /// Date the handover was agreed.
    public var agreedOn: CalendarDate
    /// Date the knowledge is (was) handed over.
    public var handoverDate: CalendarDate
    /// What the handover covers.
    public var topics: [HandoverTopic]
    /// Anything else.
    public var note: String?

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        clinic: String,
        agreedOn: CalendarDate,
        handoverDate: CalendarDate,
        topics: [HandoverTopic],
        note: String? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.agreedOn = agreedOn
        self.handoverDate = handoverDate
        self.topics = topics
        self.note = note
    }
}

public enum PatientChoiceValue: String, Sendable, Hashable, Codable, CaseIterable {
    case coordinated
}

/// The patient chose a coordinated course; this ends the integrated track with the reason
/// "patient's choice" (R6).
public struct PatientChoice: ContractMessage {
    public static let messageType = MessageType.patientChoice

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The case, if known.
    public var caseId: String?
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The citizen's municipality.
    public var municipality: String
    /// The clinic, if any.
    public var clinic: String?
    /// The course the patient chose.
    public var choice: PatientChoiceValue
    /// Date the patient made the choice.
    public var chosenOn: CalendarDate
    /// Anything else.
    public var note: String?

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String? = nil,
        cpr: CPR,
        municipality: String,
        clinic: String? = nil,
        choice: PatientChoiceValue,
        chosenOn: CalendarDate,
        note: String? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.choice = choice
        self.chosenOn = chosenOn
        self.note = note
    }
}

/// Treatment started in the integrated offer; stops the 14-day deadline (R10).
public struct TreatmentStarted: ContractMessage {
    public static let messageType = MessageType.treatmentStarted

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The case, if known.
    public var caseId: String?
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The clinic where treatment started; for a clinic sender, itself.
    public var clinic: String
    /// Date treatment started.
    public var startedOn: CalendarDate

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String? = nil,
        cpr: CPR,
        clinic: String,
        startedOn: CalendarDate
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.clinic = clinic
        self.startedOn = startedOn
    }
}

public enum CVReferralReason: String, Sendable, Hashable, Codable, CaseIterable {
    case closedCourseWithinYear = "closed-course-within-year"
    case repeatedAcuteContacts = "repeated-acute-contacts"
    case group3 = "group-3"
    case statusUnknownTimeout = "status-unknown-timeout"
    case referral
}

/// A citizen referred to psychiatry's Central Visitation for visitation (R1 closed course /
/// repeated acute contacts / group 3 / status-unknown timeout, or an inbound referral), with its
/// 14-day deadline (R10).
public struct CVReferral: ContractMessage {
    public static let messageType = MessageType.cvReferral

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The citizen's municipality.
    public var municipality: String
    /// Why the citizen goes to Central Visitation.
    public var reason: CVReferralReason
    /// When the region received the referral (the list or referral message): the 14-day clock
    /// starts here.
    public var receivedAt: Timestamp
    /// Latest date treatment must start: receivedAt's date + 14 days (R10).
    public var treatmentDeadline: CalendarDate
    /// As in the inbound referral, if there was one.
    public var grounds: ReferralGrounds?
    /// The municipality's information; present only with consent in force (R4).
    public var municipalInformation: MunicipalInformation?
    /// Why the router did this: rule, outcome, facts used, rules version.
    public var explanation: Explanation
    /// The inbound message an outbound message derives from.
    public var source: MessageSource

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        reason: CVReferralReason,
        receivedAt: Timestamp,
        treatmentDeadline: CalendarDate,
        grounds: ReferralGrounds? = nil,
        municipalInformation: MunicipalInformation? = nil,
        explanation: Explanation,
        source: MessageSource
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.reason = reason
        self.receivedAt = receivedAt
        self.treatmentDeadline = treatmentDeadline
        self.grounds = grounds
        self.municipalInformation = municipalInformation
        self.explanation = explanation
        self.source = source
    }
}

/// A list-1 citizen in current treatment at the clinic: assess integrated vs coordinated (R1 first
/// branch; workflow A step 3). Answer with an assessment quoting caseId.
public struct AssessmentRequest: ContractMessage {
    public static let messageType = MessageType.assessmentRequest

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The citizen's municipality.
    public var municipality: String
    /// The clinic asked to assess.
    public var clinic: String
    /// The list's date.
    public var asOf: CalendarDate
    /// Date by which an assessment is expected (configured reminder).
    public var assessBy: CalendarDate?
    /// For a referral: latest date treatment must start, the date the router received the
    /// referral + 14 days (R10). Absent for a list entry (its deadline starts at the
    /// responsibility transfer, R9).
    public var treatmentDeadline: CalendarDate?
    /// The municipality's information; present only with consent in force (R4).
    public var municipalInformation: MunicipalInformation?
    /// Whether consent to the dialogue is in force now; without it psychiatry works from its own
    /// information (R4).
    public var consentInForce: Bool
    /// Why the router did this: rule, outcome, facts used, rules version.
    public var explanation: Explanation
    /// The inbound message an outbound message derives from.
    public var source: MessageSource

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        clinic: String,
        asOf: CalendarDate,
        assessBy: CalendarDate? = nil,
        treatmentDeadline: CalendarDate? = nil,
        municipalInformation: MunicipalInformation? = nil,
        consentInForce: Bool,
        explanation: Explanation,
        source: MessageSource
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.asOf = asOf
        self.assessBy = assessBy
        self.treatmentDeadline = treatmentDeadline
        self.municipalInformation = municipalInformation
        self.consentInForce = consentInForce
        self.explanation = explanation
        self.source = source
    }
}

/// A list-2 citizen recorded as continuing in a coordinated course, shared with the clinic for
/// overview (R2). Starts no assessment.
public struct CoordinatedCourse: ContractMessage {
    public static let messageType = MessageType.coordinatedCourse

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The citizen's municipality.
    public var municipality: String
    /// The clinic informed.
    public var clinic: String
    /// The list's date.
    public var asOf: CalendarDate
    /// The municipality's information; present only with consent in force (R4).
    public var municipalInformation: MunicipalInformation?
    /// The inbound message an outbound message derives from.
    public var source: MessageSource
    /// Why the router sends this: rule, outcome, facts, rules version. Optional for readers:
    /// earlier router versions did not send it.
    public var explanation: Explanation?

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        clinic: String,
        asOf: CalendarDate,
        municipalInformation: MunicipalInformation? = nil,
        source: MessageSource,
        explanation: Explanation? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.asOf = asOf
        self.municipalInformation = municipalInformation
        self.source = source
        self.explanation = explanation
    }
}

/// The router does not know the citizen's psychiatric status: please answer with a contact-status
/// (R1 status-unknown branch). After the configured wait the case goes to Central Visitation.
public struct ContactStatusRequest: ContractMessage {
    public static let messageType = MessageType.contactStatusRequest

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The date the status is needed for.
    public var asOf: CalendarDate
    /// When the request was made.
    public var requestedAt: Timestamp
    /// After this instant the case goes to Central Visitation for manual visitation.
    public var replyBy: Timestamp

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        asOf: CalendarDate,
        requestedAt: Timestamp,
        replyBy: Timestamp
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.asOf = asOf
        self.requestedAt = requestedAt
        self.replyBy = replyBy
    }
}

public enum DecisionOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    case integrated
    case coordinated
    case notGroup2 = "not-group-2"
}

public enum DecisionBasis: String, Sendable, Hashable, Codable, CaseIterable {
    case agreement
    case visitationRight = "visitation-right"
    case patientChoice = "patient-choice"
    case routing
}

/// The decision for one citizen: integrated, coordinated, or not group 2 (R1, R5, R6).
public struct Decision: ContractMessage {
    public static let messageType = MessageType.decision

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The citizen's municipality.
    public var municipality: String
    /// The clinic, if any.
    public var clinic: String?
    /// Date of the decision.
    public var decidedOn: CalendarDate
    /// The decision.
    public var outcome: DecisionOutcome
    /// agreement: both agreed; visitation-right: psychiatry decided over the municipality's
    /// disagreement (R5); patient-choice: R6; routing: R1 (not group 2).
    public var basis: DecisionBasis
    /// true when the municipality disagreed (R5).
    public var overMunicipalDisagreement: Bool
    /// Psychiatry's statement of what it would take (R5). Present when overMunicipalDisagreement is
    /// true.
    public var psychiatryStatement: String?
    /// Date of the move, if decided.
    public var transitionDate: CalendarDate?
    /// Why the router did this: rule, outcome, facts used, rules version.
    public var explanation: Explanation

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        clinic: String? = nil,
        decidedOn: CalendarDate,
        outcome: DecisionOutcome,
        basis: DecisionBasis,
        overMunicipalDisagreement: Bool,
        psychiatryStatement: String? = nil,
        transitionDate: CalendarDate? = nil,
        explanation: Explanation
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.decidedOn = decidedOn
        self.outcome = outcome
        self.basis = basis
        self.overMunicipalDisagreement = overMunicipalDisagreement
        self.psychiatryStatement = psychiatryStatement
        self.transitionDate = transitionDate
        self.explanation = explanation
    }
}

public enum HandoverDirection: String, Sendable, Hashable, Codable, CaseIterable {
    case toIntegrated = "to-integrated"
    case toCoordinated = "to-coordinated"
}

/// The joint plan (workflow B).
public struct HandoverJointPlan: Sendable, Hashable, Codable {
    /// Plan kind.
    public var planKind: JointPlanKind
    /// Date agreed.
    public var agreedOn: CalendarDate
    /// Reference to the plan.
    public var documentRef: String

    public init(
        planKind: JointPlanKind,
        agreedOn: CalendarDate,
        documentRef: String
    ) {
        self.planKind = planKind
        self.agreedOn = agreedOn
        self.documentRef = documentRef
    }
}

/// The knowledge handover (workflow B).
public struct HandoverKnowledge: Sendable, Hashable, Codable {
    /// Date agreed.
    public var agreedOn: CalendarDate
    /// Date of the handover.
    public var handoverDate: CalendarDate

    public init(
        agreedOn: CalendarDate,
        handoverDate: CalendarDate
    ) {
        self.agreedOn = agreedOn
        self.handoverDate = handoverDate
    }
}

public enum HandoverStep: String, Sendable, Hashable, Codable, CaseIterable {
    case decision
    case collaborationMeeting = "collaboration-meeting"
    case networkMeeting = "network-meeting"
    case jointPlan = "joint-plan"
    case knowledgeHandover = "knowledge-handover"
}

/// Published only when every step of the transition is complete (R7): network meeting (or
/// collaboration meeting and then agreement/decision), joint plan, knowledge handover.
public struct Handover: ContractMessage {
    public static let messageType = MessageType.handover

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The municipality.
    public var municipality: String
    /// The clinic.
    public var clinic: String
    /// to-integrated: workflow A; to-coordinated: workflow B.
    public var direction: HandoverDirection
    /// Date the patient moves.
    public var effectiveOn: CalendarDate
    /// The joint plan (workflow B).
    public var jointPlan: HandoverJointPlan?
    /// The knowledge handover (workflow B).
    public var knowledgeHandover: HandoverKnowledge?
    /// The steps completed, in order.
    public var completedSteps: [HandoverStep]
    /// Why the router did this: rule, outcome, facts used, rules version.
    public var explanation: Explanation

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        clinic: String,
        direction: HandoverDirection,
        effectiveOn: CalendarDate,
        jointPlan: HandoverJointPlan? = nil,
        knowledgeHandover: HandoverKnowledge? = nil,
        completedSteps: [HandoverStep],
        explanation: Explanation
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.direction = direction
        self.effectiveOn = effectiveOn
        self.jointPlan = jointPlan
        self.knowledgeHandover = knowledgeHandover
        self.completedSteps = completedSteps
        self.explanation = explanation
    }
}

public enum ResponsibleParty: String, Sendable, Hashable, Codable, CaseIterable {
    case municipality
    case region
}

/// Responsibility for the substance treatment moves (R9): to the region when psychiatry visits the
/// citizen to the integrated offer (health act § 82 c; the municipality's duty under §§ 141-142
/// ends), back to the municipality on a move to a coordinated course.
public struct ResponsibilityTransfer: ContractMessage {
    public static let messageType = MessageType.responsibilityTransfer

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The municipality.
    public var municipality: String
    /// The clinic.
    public var clinic: String
    /// Who had responsibility.
    public var from: ResponsibleParty
    /// Who has it from transferredAt.
    public var to: ResponsibleParty
    /// The moment responsibility moved.
    public var transferredAt: Timestamp
    /// E.g. "sundhedsloven § 82 c".
    public var legalBasis: String
    /// Why the router did this: rule, outcome, facts used, rules version.
    public var explanation: Explanation

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        municipality: String,
        clinic: String,
        from: ResponsibleParty,
        to: ResponsibleParty,
        transferredAt: Timestamp,
        legalBasis: String,
        explanation: Explanation
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.municipality = municipality
        self.clinic = clinic
        self.from = from
        self.to = to
        self.transferredAt = transferredAt
        self.legalBasis = legalBasis
        self.explanation = explanation
    }
}

/// Aggregate counts (always complete).
public struct ReconciliationCounts: Sendable, Hashable, Codable {
    /// Citizens on both lists.
    public var onBoth: Int
    /// Citizens only on the municipal list.
    public var municipalOnly: Int
    /// Citizens only on the clinic list.
    public var clinicOnly: Int
    /// Of the one-list citizens, how many are not named to this recipient for lack of consent.
    public var withheld: Int

    public init(
        onBoth: Int,
        municipalOnly: Int,
        clinicOnly: Int,
        withheld: Int
    ) {
        self.onBoth = onBoth
        self.municipalOnly = municipalOnly
        self.clinicOnly = clinicOnly
        self.withheld = withheld
    }
}

/// A citizen.
public struct ReconciledCitizen: Sendable, Hashable, Codable {
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String?

    public init(
        cpr: CPR,
        caseId: String? = nil
    ) {
        self.cpr = cpr
        self.caseId = caseId
    }
}

/// Comparison of the municipal and clinic lists for one municipality-clinic pair (R3). Citizens on
/// one list only are named to each side only as far as consent allows; counts always.
public struct ReconciliationReport: ContractMessage {
    public static let messageType = MessageType.reconciliationReport

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// The municipality of the pair.
    public var municipality: String
    /// The clinic of the pair.
    public var clinic: String
    /// list-1: potential target group for phase-in as group 2 (primary list). list-2: citizens who
    /// continue in a coordinated (parallel) course.
    public var listKind: ListKind
    /// asOf of the municipal list compared.
    public var municipalListAsOf: CalendarDate
    /// asOf of the clinic list compared.
    public var clinicListAsOf: CalendarDate
    /// Aggregate counts (always complete).
    public var counts: ReconciliationCounts
    /// Citizens only on the municipal list that may be named to this recipient.
    public var municipalOnly: [ReconciledCitizen]
    /// Citizens only on the clinic list that may be named to this recipient.
    public var clinicOnly: [ReconciledCitizen]
    /// Why the router did this: rule, outcome, facts used, rules version.
    public var explanation: Explanation

    public init(
        schemaVersion: String = contractSchemaVersion,
        municipality: String,
        clinic: String,
        listKind: ListKind,
        municipalListAsOf: CalendarDate,
        clinicListAsOf: CalendarDate,
        counts: ReconciliationCounts,
        municipalOnly: [ReconciledCitizen],
        clinicOnly: [ReconciledCitizen],
        explanation: Explanation
    ) {
        self.schemaVersion = schemaVersion
        self.municipality = municipality
        self.clinic = clinic
        self.listKind = listKind
        self.municipalListAsOf = municipalListAsOf
        self.clinicListAsOf = clinicListAsOf
        self.counts = counts
        self.municipalOnly = municipalOnly
        self.clinicOnly = clinicOnly
        self.explanation = explanation
    }
}

public enum WithdrawalInstruction: String, Sendable, Hashable, Codable, CaseIterable {
    case stopDialogue = "stop-dialogue"
}

/// The citizen withdrew consent (R4): stop the dialogue about this citizen; no further data will be
/// exchanged.
public struct ConsentWithdrawn: ContractMessage {
    public static let messageType = MessageType.consentWithdrawn

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// The citizen's municipality.
    public var municipality: String
    /// Open cases affected.
    public var caseIds: [String]
    /// Date of the withdrawal.
    public var withdrawnOn: CalendarDate
    /// Directions no longer covered.
    public var directions: [ConsentDirection]
    /// What the recipient must do.
    public var instruction: WithdrawalInstruction
    /// Why the router sends this: rule, outcome, facts, rules version. Optional for readers:
    /// earlier router versions did not send it.
    public var explanation: Explanation?

    public init(
        schemaVersion: String = contractSchemaVersion,
        cpr: CPR,
        municipality: String,
        caseIds: [String],
        withdrawnOn: CalendarDate,
        directions: [ConsentDirection],
        instruction: WithdrawalInstruction,
        explanation: Explanation? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.cpr = cpr
        self.municipality = municipality
        self.caseIds = caseIds
        self.withdrawnOn = withdrawnOn
        self.directions = directions
        self.instruction = instruction
        self.explanation = explanation
    }
}

public enum DeadlineKind: String, Sendable, Hashable, Codable, CaseIterable {
    case treatmentStart = "treatment-start"
    case assessment
    case meeting
    case phaseInEnd = "phase-in-end"
    case contactStatus = "contact-status"
}

public enum DeadlineState: String, Sendable, Hashable, Codable, CaseIterable {
    case approaching
    case passed
}

/// A deadline nears or has passed without the expected event: the 14-day treatment start (R10), or
/// a configured reminder (assessment, meeting, phase-in end). Raised, never hidden.
public struct DeadlineWarning: ContractMessage {
    public static let messageType = MessageType.deadlineWarning

    /// Contract version "<major>.<minor>". This is major version 1: any "1.<minor>" is accepted,
    /// any other major version is rejected with unsupported-schema-version.
    public var schemaVersion: String
    /// Case identifier assigned by the router (in outbound messages); quote it unchanged in
    /// replies.
    public var caseId: String
    /// CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS (normalised to ten digits). The first six
    /// digits must be a valid date, the century taken from the 7th digit per the CPR office's
    /// table. No modulus-11 check.
    public var cpr: CPR
    /// Which deadline.
    public var deadlineKind: DeadlineKind
    /// The deadline.
    public var deadline: CalendarDate
    /// Approaching or passed.
    public var state: DeadlineState
    /// Days from the evaluation date to the deadline; negative when passed.
    public var daysRemaining: Int
    /// When the router evaluated the deadline.
    public var evaluatedAt: Timestamp
    /// Why the router did this: rule, outcome, facts used, rules version.
    public var explanation: Explanation

    public init(
        schemaVersion: String = contractSchemaVersion,
        caseId: String,
        cpr: CPR,
        deadlineKind: DeadlineKind,
        deadline: CalendarDate,
        state: DeadlineState,
        daysRemaining: Int,
        evaluatedAt: Timestamp,
        explanation: Explanation
    ) {
        self.schemaVersion = schemaVersion
        self.caseId = caseId
        self.cpr = cpr
        self.deadlineKind = deadlineKind
        self.deadline = deadline
        self.state = state
        self.daysRemaining = daysRemaining
        self.evaluatedAt = evaluatedAt
        self.explanation = explanation
    }
}
