/// The eight standard resource schemas, from the extractor folder layout and column lists
/// (spec/extract-layout.md sections 2 and 7).
extension ResourceSchema {
    /// The schema of a standard resource (`ResourceRegistry.standard`).
    public static func of(_ resource: Resource) -> ResourceSchema { resource.schema }

    /// The eight, in forward order (parents before children).
    static var standard: [ResourceSchema] {
        [users, sections, sectionAssociations, assignments, submissions, attendanceEvents, sectionActivities, systemActivities]
    }

    /// Folders of the extract tree that hold no LMS-DS resource.
    static let standardIgnoredFolders = [
        IgnoredFolder("section={id}/grades", "grades are not loaded into the LMS-DS"),
        IgnoredFolder("system-activities", "system activity files belong in a date= folder"),
    ]

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
    private static let assignmentLink = ParentLink(column: "AssignmentSourceSystemIdentifier", parent: .assignments, foreignKey: "AssignmentIdentifier")

    static let users = ResourceSchema(
        resource: .users, folder: "users", table: "LMSUser", identity: "LMSUserIdentifier",
        columns: key + [
            Column("UserRole", .text(maxLength: 60), notNull: true),
            Column("LocalUserIdentifier", .text(maxLength: 255)),
            Column("SISUserIdentifier", .text(maxLength: 255)),
            Column("Name", .text(maxLength: 255), notNull: true),
            Column("EmailAddress", .text(maxLength: 255), notNull: true),
        ] + audit,
        deleteScope: .sourceSystem)

    static let sections = ResourceSchema(
        resource: .sections, folder: "sections", table: "LMSSection", identity: "LMSSectionIdentifier",
        columns: key + [
            Column("SISSectionIdentifier", .text(maxLength: 255)),
            Column("Title", .text(maxLength: 255), notNull: true),
            Column("SectionDescription", .text(maxLength: 1024)),
            Column("Term", .text(maxLength: 60)),
            Column("LMSSectionStatus", .text(maxLength: 60)),
        ] + audit,
        deleteScope: .sourceSystem)

    static let sectionAssociations = ResourceSchema(
        resource: .sectionAssociations, folder: "section={id}/section-associations", table: "LMSUserLMSSectionAssociation", identity: "LMSUserLMSSectionAssociationIdentifier",
        columns: key + [
            Column("EnrollmentStatus", .text(maxLength: 60), notNull: true),
            ref("LMSUserSourceSystemIdentifier"),
            ref("LMSSectionSourceSystemIdentifier"),
        ] + audit,
        parents: [sectionLink, userLink], deleteScope: .section, scopeParent: sectionLink)

    static let assignments = ResourceSchema(
        resource: .assignments, folder: "section={id}/assignments", table: "Assignment", identity: "AssignmentIdentifier",
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
        parents: [sectionLink], deleteScope: .section, scopeParent: sectionLink,
        childTables: [ChildTable(table: "AssignmentSubmissionType", column: "SubmissionType", valueColumn: "SubmissionType")])

    static let submissions = ResourceSchema(
        resource: .submissions, folder: "section={id}/assignment={id}/submissions", table: "AssignmentSubmission", identity: "AssignmentSubmissionIdentifier",
        columns: key + [
            Column("SubmissionStatus", .text(maxLength: 255)),
            Column("SubmissionDateTime", .dateTime, header: true),
            Column("EarnedPoints", .integer),
            Column("Grade", .text(maxLength: 20)),
            ref("AssignmentSourceSystemIdentifier"),
            ref("LMSUserSourceSystemIdentifier"),
        ] + audit,
        parents: [assignmentLink, userLink], deleteScope: .assignment, scopeParent: assignmentLink)

    static let attendanceEvents = ResourceSchema(
        resource: .attendanceEvents, folder: "section={id}/attendance-events", table: "LMSUserAttendanceEvent", identity: "LMSUserAttendanceEventIdentifier",
        columns: key + [
            Column("EventDate", .date, header: true, notNull: true),
            Column("AttendanceStatus", .text(maxLength: 60), notNull: true),
            ref("LMSSectionSourceSystemIdentifier"),
            ref("LMSUserSourceSystemIdentifier"),
        ] + audit,
        parents: [sectionLink, userLink], deleteScope: .section, scopeParent: sectionLink,
        throughLinks: [ThroughLink(resource: .sectionAssociations, foreignKey: "LMSUserLMSSectionAssociationIdentifier",
                                   matching: ["LMSUserIdentifier", "LMSSectionIdentifier"])])

    private static let activity = [
        Column("ActivityType", .text(maxLength: 60), notNull: true),
        Column("ActivityDateTime", .dateTime, header: true, notNull: true),
        Column("ActivityStatus", .text(maxLength: 60), notNull: true),
        Column("ParentSourceSystemIdentifier", .text(maxLength: 255)),
        Column("ActivityTimeInMinutes", .integer),
    ]

    static let sectionActivities = ResourceSchema(
        resource: .sectionActivities, folder: "section={id}/section-activities", table: "LMSSectionActivity", identity: "LMSSectionActivityIdentifier",
        columns: key + activity + [ref("LMSSectionSourceSystemIdentifier"), ref("LMSUserSourceSystemIdentifier")] + audit,
        parents: [sectionLink, userLink], deleteScope: .section, scopeParent: sectionLink)

    static let systemActivities = ResourceSchema(
        resource: .systemActivities, folder: "system-activities/{date}", table: "LMSSystemActivity", identity: "LMSSystemActivityIdentifier",
        columns: key + activity + [ref("LMSUserSourceSystemIdentifier")] + audit,
        parents: [userLink], deleteScope: .previousSnapshot)
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
