import Foundation
import PostgresDB
import Stores

/// A minimal Ed-Fi ODS with the LMSX extension in a test world's PostgreSQL database, written for
/// these tests (not upstream's DDL): the tables and columns the harmonizer reads and writes
/// (spec/harmonizer.md section 8), with a real ODS's NOT NULL columns, keys, unique `Id` indexes and
/// the extension's foreign keys. Rows go in through the helpers below, as upstream's tests insert them.
struct ODS {
    let c: PostgresConnection

    init(_ w: World) throws {
        c = try PostgresConnection(parameters: [("host", TestPostgres.host), ("port", TestPostgres.port), ("user", TestPostgres.user),
                                                ("password", TestPostgres.password), ("dbname", w.database)])
    }

    /// Creates the `edfi` and `lmsx` tables (before or after the agent's first run).
    func install() throws { try c.executeBatch(try ODS.ddl) }

    /// A student; returns its StudentUSI.
    @discardableResult
    func student(_ uniqueId: String, email: String? = nil) throws -> Int {
        let usi = Int(try c.execute("""
            INSERT INTO edfi.student (studentuniqueid, firstname, lastsurname, birthdate) VALUES ($1, 'First', 'Last', '2011-04-01')
            RETURNING studentusi
            """, [uniqueId]).rows[0][0]!)!
        if let email { try self.email(usi, email) }
        return usi
    }

    func email(_ usi: Int, _ address: String) throws {
        try c.execute("""
            INSERT INTO edfi.studenteducationorganizationassociationelectronicmail
                (educationorganizationid, electronicmailaddress, electronicmailtypedescriptorid, studentusi) VALUES (255901, $1, 1, $2)
            """, [address, String(usi)])
    }

    /// An ODS section; its other key columns are fixed (course ALG-1, school 255901001, 2027, Fall).
    func section(_ identifier: String, year: Int = 2027) throws {
        try c.execute("""
            INSERT INTO edfi.section (localcoursecode, schoolid, schoolyear, sectionidentifier, sessionname)
            VALUES ('ALG-1', 255901001, $2, $1, 'Fall')
            """, [identifier, String(year)])
    }

    /// Enrolls a student in the ODS section(s) with this identifier.
    func enroll(_ usi: Int, in section: String, endDate: String? = nil) throws {
        try c.execute("""
            INSERT INTO edfi.studentsectionassociation (begindate, localcoursecode, schoolid, schoolyear, sectionidentifier, sessionname, studentusi, enddate)
            SELECT DATE '2026-08-20', localcoursecode, schoolid, schoolyear, sectionidentifier, sessionname, $2, CAST($3 AS date)
            FROM edfi.section WHERE sectionidentifier = $1
            """, [section, String(usi), endDate])
    }

    /// A descriptor, registered in `table` (`lmsx.submissionstatusdescriptor`, ...) unless nil.
    @discardableResult
    func descriptor(_ namespace: String, _ code: String, in table: String?) throws -> Int {
        let id = Int(try c.execute("""
            INSERT INTO edfi.descriptor (namespace, codevalue, shortdescription) VALUES ($1, $2, $2) RETURNING descriptorid
            """, [namespace, code]).rows[0][0]!)!
        if let table { try c.execute("INSERT INTO \(table) VALUES ($1)", [String(id)]) }
        return id
    }

    static let sourceSystemNamespace = "uri://ed-fi.org/edfilms/LMSSourceSystem"
    static func categoryNamespace(_ system: String) -> String { "uri://ed-fi.org/edfilms/AssignmentCategoryDescriptor/" + system }
    static func statusNamespace(_ system: String) -> String { "uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/" + system }

    /// The descriptors the LMSX extension ships for an LMS (spec/harmonizer.md section 9).
    func shippedDescriptors(_ systems: [String] = ["Canvas", "Google", "Schoology"]) throws {
        let categories = ["Canvas": ["Assignment"], "Schoology": ["Assignment", "Discussion", "Assessment"],
                          "Google": ["COURSE_WORK_TYPE_UNSPECIFIED", "Assignment", "SHORT_ANSWER_QUESTION", "MULTIPLE_CHOICE_QUESTION"]]
        let statuses = ["Schoology": ["late", "draft", "on-time", "missing", "Upcoming"],
                        "Canvas": ["late", "missing", "graded", "on-time", "Upcoming"],
                        "Google": ["SUBMISSION_STATE_UNSPECIFIED", "NEW", "CREATED", "TURNED_IN", "RETURNED", "RECLAIMED_BY_STUDENT", "LATE", "MISSING"]]
        for s in systems {
            try descriptor(ODS.sourceSystemNamespace, s, in: "lmsx.lmssourcesystemdescriptor")
            for v in categories[s] ?? [] { try descriptor(ODS.categoryNamespace(s), v, in: "lmsx.assignmentcategorydescriptor") }
            for v in statuses[s] ?? [] { try descriptor(ODS.statusNamespace(s), v, in: "lmsx.submissionstatusdescriptor") }
        }
    }

    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] { try c.execute(sql, parameters).rows }
    func value(_ sql: String, _ parameters: [String?] = []) throws -> String? { try c.execute(sql, parameters).rows.first?.first ?? nil }
    func int(_ sql: String, _ parameters: [String?] = []) throws -> Int { Int(try value(sql, parameters) ?? "") ?? -1 }

    /// The DDL, in a file of its own so that scripts (demo-postgres.sh, harmonize-bench.sh) load the
    /// same ODS with psql: Tests/Fixtures/minimal-ods-postgresql.sql, outside every target's folder.
    static let ddlPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/minimal-ods-postgresql.sql").path
    static var ddl: String {
        get throws { try String(contentsOfFile: ddlPath, encoding: .utf8) }
    }
}

extension World {
    /// A PostgreSQL world with the minimal ODS installed, whose own runs load without harmonizing
    /// (`harmonizes` false): for the harmonizer's tests, whose passes are the ones under test.
    static func harmonizerWorld() throws -> (World, ODS) {
        let w = try World(engine: .postgresql)
        w.harmonizes = false
        let ods = try ODS(w)
        try ods.install()
        return (w, ods)
    }
}
