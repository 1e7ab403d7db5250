/// A psychiatric outpatient course that is still open.
public struct CurrentCourse: Sendable, Hashable, Codable {
    /// The clinic that runs the course.
    public var clinic: ClinicID
    /// The date the course began.
    public var since: LocalDate

    public init(clinic: ClinicID, since: LocalDate) {
        self.clinic = clinic
        self.since = since
    }
}

/// A psychiatric course that was closed.
public struct ClosedCourse: Sendable, Hashable, Codable {
    /// The clinic that ran the course.
    public var clinic: ClinicID
    /// The date the course was closed.
    public var closedOn: LocalDate

    public init(clinic: ClinicID, closedOn: LocalDate) {
        self.clinic = clinic
        self.closedOn = closedOn
    }
}

/// An acute psychiatric contact (R1).
public struct AcuteContact: Sendable, Hashable, Codable {
    /// The kinds of acute contact the journal reports.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A visit to the psychiatric emergency room (akutmodtagelse).
        case emergencyRoom
        /// A short stabilising admission.
        case shortStabilisingAdmission
    }

    /// The date of the contact (for an admission: the admission date).
    public var date: LocalDate
    /// What kind of contact it was.
    public var kind: Kind
    /// `true` if an outpatient course followed the contact. Such a contact counts as a
    /// course in psychiatry (R1), unlike an acute-only contact.
    public var followedByOutpatientCourse: Bool
    /// `true` if psychiatry did not manage to motivate the patient for outpatient treatment
    /// after the contact, or the patient rejected treatment shortly after it.
    public var motivationFailedOrTreatmentRejected: Bool

    public init(
        date: LocalDate, kind: Kind, followedByOutpatientCourse: Bool = false,
        motivationFailedOrTreatmentRejected: Bool = false
    ) {
        self.date = date
        self.kind = kind
        self.followedByOutpatientCourse = followedByOutpatientCourse
        self.motivationFailedOrTreatmentRejected = motivationFailedOrTreatmentRejected
    }
}

/// What the region's journal knows about a citizen's contact with psychiatry
/// (the `contact-status` message).
public struct ContactFacts: Sendable, Hashable, Codable {
    /// Open outpatient courses (normally zero or one).
    public var currentCourses: [CurrentCourse]
    /// Closed courses, any age; routing picks those within the year.
    public var closedCourses: [ClosedCourse]
    /// Acute contacts, any age; routing picks those within the year.
    public var acuteContacts: [AcuteContact]

    public init(
        currentCourses: [CurrentCourse] = [], closedCourses: [ClosedCourse] = [],
        acuteContacts: [AcuteContact] = []
    ) {
        self.currentCourses = currentCourses
        self.closedCourses = closedCourses
        self.acuteContacts = acuteContacts
    }

    /// No contact at all on record.
    public static let none = ContactFacts()
}

/// Whether the citizen's psychiatric status is known (R1).
public enum ContactKnowledge: Sendable, Hashable, Codable {
    /// The journal has not (yet) answered: routing waits and asks for it.
    case unknown
    /// The journal's facts.
    case known(ContactFacts)
}
