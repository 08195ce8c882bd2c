/// The eight resource schemas, from the extractor column lists (spec/extract-layout.md section 7).
extension ResourceSchema {
    public static func of(_ resource: Resource) -> ResourceSchema {
        switch resource {
        case .users: return users
        case .sections: return sections
        case .sectionAssociations: return sectionAssociations
        case .assignments: return assignments
        case .submissions: return submissions
        case .attendanceEvents: return attendanceEvents
        case .sectionActivities: return sectionActivities
        case .systemActivities: return systemActivities
        }
    }

    // Columns every file has.
    private static let key = [
        Column("SourceSystemIdentifier", .text(maxLength: 255), header: true, notNull: true),
        Column("SourceSystem", .text(maxLength: 255), header: true, notNull: true),
    ]
    private static let audit = [
        Column("CreateDate", .dateTime, header: true, notNull: true),
        Column("LastModifiedDate", .dateTime, header: true, notNull: true),
        Column("SourceCreateDate", .dateTime, header: true),
        Column("SourceLastModifiedDate", .dateTime, header: true),
    ]
    private static func ref(_ name: String) -> Column { Column(name, .text(maxLength: 255), notNull: true) }
    private static let userLink = ParentLink(column: "LMSUserSourceSystemIdentifier", parent: .users, foreignKey: "LMSUserIdentifier")
    private static let sectionLink = ParentLink(column: "LMSSectionSourceSystemIdentifier", parent: .sections, foreignKey: "LMSSectionIdentifier")

    static let users = ResourceSchema(
        resource: .users, table: "LMSUser", identity: "LMSUserIdentifier",
        columns: key + [
            Column("UserRole", .text(maxLength: 60), notNull: true),
            Column("LocalUserIdentifier", .text(maxLength: 255)),
            Column("SISUserIdentifier", .text(maxLength: 255)),
            Column("Name", .text(maxLength: 255), notNull: true),
            Column("EmailAddress", .text(maxLength: 255), notNull: true),
        ] + audit,
        parents: [], deleteScope: .sourceSystem, linksEnrollment: false)

    static let sections = ResourceSchema(
        resource: .sections, table: "LMSSection", identity: "LMSSectionIdentifier",
        columns: key + [
            Column("SISSectionIdentifier", .text(maxLength: 255)),
            Column("Title", .text(maxLength: 255), notNull: true),
            Column("SectionDescription", .text(maxLength: 1024)),
            Column("Term", .text(maxLength: 60)),
            Column("LMSSectionStatus", .text(maxLength: 60)),
        ] + audit,
        parents: [], deleteScope: .sourceSystem, linksEnrollment: false)

    static let sectionAssociations = ResourceSchema(
        resource: .sectionAssociations, table: "LMSUserLMSSectionAssociation", identity: "LMSUserLMSSectionAssociationIdentifier",
        columns: key + [
            Column("EnrollmentStatus", .text(maxLength: 60), notNull: true),
            ref("LMSUserSourceSystemIdentifier"),
            ref("LMSSectionSourceSystemIdentifier"),
        ] + audit,
        parents: [sectionLink, userLink], deleteScope: .section, linksEnrollment: false)

    static let assignments = ResourceSchema(
        resource: .assignments, table: "Assignment", identity: "AssignmentIdentifier",
        columns: key + [
            Column("Title", .text(maxLength: 255), notNull: true),
            Column("AssignmentCategory", .text(maxLength: 60), notNull: true),
            Column("AssignmentDescription", .truncatedText(maxLength: 1024)),
            Column("StartDateTime", .wallClockDateTime),
            Column("EndDateTime", .wallClockDateTime),
            Column("DueDateTime", .wallClockDateTime),
            Column("SubmissionType", .submissionTypes, header: true),
            Column("MaxPoints", .integer),
            ref("LMSSectionSourceSystemIdentifier"),
        ] + audit,
        parents: [sectionLink], deleteScope: .section, linksEnrollment: false)

    static let submissions = ResourceSchema(
        resource: .submissions, table: "AssignmentSubmission", identity: "AssignmentSubmissionIdentifier",
        columns: key + [
            Column("SubmissionStatus", .text(maxLength: 255)),
            Column("SubmissionDateTime", .dateTime, header: true),
            Column("EarnedPoints", .integer),
            Column("Grade", .text(maxLength: 20)),
            ref("AssignmentSourceSystemIdentifier"),
            ref("LMSUserSourceSystemIdentifier"),
        ] + audit,
        parents: [ParentLink(column: "AssignmentSourceSystemIdentifier", parent: .assignments, foreignKey: "AssignmentIdentifier"), userLink],
        deleteScope: .assignment, linksEnrollment: false)

    static let attendanceEvents = ResourceSchema(
        resource: .attendanceEvents, table: "LMSUserAttendanceEvent", identity: "LMSUserAttendanceEventIdentifier",
        columns: key + [
            Column("EventDate", .date, header: true, notNull: true),
            Column("AttendanceStatus", .text(maxLength: 60), notNull: true),
            ref("LMSSectionSourceSystemIdentifier"),
            ref("LMSUserSourceSystemIdentifier"),
        ] + audit,
        parents: [sectionLink, userLink], deleteScope: .section, linksEnrollment: true)

    private static let activity = [
        Column("ActivityType", .text(maxLength: 60), notNull: true),
        Column("ActivityDateTime", .dateTime, header: true, notNull: true),
        Column("ActivityStatus", .text(maxLength: 60), notNull: true),
        Column("ParentSourceSystemIdentifier", .text(maxLength: 255)),
        Column("ActivityTimeInMinutes", .integer),
    ]

    static let sectionActivities = ResourceSchema(
        resource: .sectionActivities, table: "LMSSectionActivity", identity: "LMSSectionActivityIdentifier",
        columns: key + activity + [ref("LMSSectionSourceSystemIdentifier"), ref("LMSUserSourceSystemIdentifier")] + audit,
        parents: [sectionLink, userLink], deleteScope: .section, linksEnrollment: false)

    static let systemActivities = ResourceSchema(
        resource: .systemActivities, table: "LMSSystemActivity", identity: "LMSSystemActivityIdentifier",
        columns: key + activity + [ref("LMSUserSourceSystemIdentifier")] + audit,
        parents: [userLink], deleteScope: .previousSnapshot, linksEnrollment: false)
}

/// Assignment submission types, as the Canvas extractor writes them.
public enum SubmissionTypes {
    /// `online_upload` is one type; `['online_text_entry', 'online_upload']` is two. Duplicates are
    /// dropped (upstream aborts the whole run on them).
    public static func parse(_ value: String?) -> [String] {
        guard let value, !value.isEmpty else { return [] }
        guard value.contains("'") else { return [value] }
        var types: [String] = []
        var current: String? = nil
        for ch in value {
            if ch == "'" {
                if let c = current { if !types.contains(c) { types.append(c) }; current = nil } else { current = "" }
            } else if current != nil {
                current!.append(ch)
            }
        }
        return types
    }
}
