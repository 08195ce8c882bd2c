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
    func install() throws { try c.executeBatch(ODS.ddl) }

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

    static let ddl = """
-- A minimal Ed-Fi ODS with the LMSX extension, written for lms-agent's tests: only the tables and
-- columns the harmonizer reads and writes (spec/harmonizer.md section 8), with the NOT NULL columns,
-- keys, unique Id indexes and extension foreign keys of a real ODS 5.x.
CREATE SCHEMA edfi;
CREATE SCHEMA lmsx;

CREATE TABLE edfi.Descriptor (
    DescriptorId INT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    Namespace VARCHAR(255) NOT NULL,
    CodeValue VARCHAR(50) NOT NULL,
    ShortDescription VARCHAR(75) NOT NULL,
    Description VARCHAR(1024) NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    Id UUID NOT NULL DEFAULT gen_random_uuid(),
    CONSTRAINT Descriptor_AK UNIQUE (CodeValue, Namespace)
);
CREATE UNIQUE INDEX UX_Descriptor_Id ON edfi.Descriptor (Id);

CREATE TABLE edfi.Student (
    StudentUSI INT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    StudentUniqueId VARCHAR(32) NOT NULL,
    FirstName VARCHAR(75) NOT NULL,
    LastSurname VARCHAR(75) NOT NULL,
    BirthDate DATE NOT NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    Id UUID NOT NULL DEFAULT gen_random_uuid()
);
CREATE UNIQUE INDEX Student_UI_StudentUniqueId ON edfi.Student (StudentUniqueId);
CREATE UNIQUE INDEX UX_Student_Id ON edfi.Student (Id);

CREATE TABLE edfi.StudentEducationOrganizationAssociationElectronicMail (
    EducationOrganizationId INT NOT NULL,
    ElectronicMailAddress VARCHAR(128) NOT NULL,
    ElectronicMailTypeDescriptorId INT NOT NULL,
    StudentUSI INT NOT NULL,
    PrimaryEmailAddressIndicator BOOLEAN NULL,
    DoNotPublishIndicator BOOLEAN NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    PRIMARY KEY (EducationOrganizationId, ElectronicMailAddress, ElectronicMailTypeDescriptorId, StudentUSI)
);

CREATE TABLE edfi.Section (
    LocalCourseCode VARCHAR(60) NOT NULL,
    SchoolId INT NOT NULL,
    SchoolYear SMALLINT NOT NULL,
    SectionIdentifier VARCHAR(255) NOT NULL,
    SessionName VARCHAR(60) NOT NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    Id UUID NOT NULL DEFAULT gen_random_uuid(),
    PRIMARY KEY (LocalCourseCode, SchoolId, SchoolYear, SectionIdentifier, SessionName)
);
CREATE UNIQUE INDEX UX_Section_Id ON edfi.Section (Id);

CREATE TABLE edfi.StudentSectionAssociation (
    BeginDate DATE NOT NULL,
    LocalCourseCode VARCHAR(60) NOT NULL,
    SchoolId INT NOT NULL,
    SchoolYear SMALLINT NOT NULL,
    SectionIdentifier VARCHAR(255) NOT NULL,
    SessionName VARCHAR(60) NOT NULL,
    StudentUSI INT NOT NULL,
    EndDate DATE NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    Id UUID NOT NULL DEFAULT gen_random_uuid(),
    PRIMARY KEY (BeginDate, LocalCourseCode, SchoolId, SchoolYear, SectionIdentifier, SessionName, StudentUSI)
);
CREATE UNIQUE INDEX UX_StudentSectionAssociation_Id ON edfi.StudentSectionAssociation (Id);

CREATE TABLE lmsx.LMSSourceSystemDescriptor (
    LMSSourceSystemDescriptorId INT PRIMARY KEY REFERENCES edfi.Descriptor (DescriptorId) ON DELETE CASCADE);
CREATE TABLE lmsx.AssignmentCategoryDescriptor (
    AssignmentCategoryDescriptorId INT PRIMARY KEY REFERENCES edfi.Descriptor (DescriptorId) ON DELETE CASCADE);
CREATE TABLE lmsx.SubmissionStatusDescriptor (
    SubmissionStatusDescriptorId INT PRIMARY KEY REFERENCES edfi.Descriptor (DescriptorId) ON DELETE CASCADE);
CREATE TABLE lmsx.SubmissionTypeDescriptor (
    SubmissionTypeDescriptorId INT PRIMARY KEY REFERENCES edfi.Descriptor (DescriptorId) ON DELETE CASCADE);

CREATE TABLE lmsx.Assignment (
    AssignmentIdentifier VARCHAR(255) NOT NULL,
    Namespace VARCHAR(255) NOT NULL,
    LMSSourceSystemDescriptorId INT NOT NULL REFERENCES lmsx.LMSSourceSystemDescriptor,
    Title VARCHAR(255) NOT NULL,
    AssignmentCategoryDescriptorId INT NOT NULL REFERENCES lmsx.AssignmentCategoryDescriptor,
    AssignmentDescription VARCHAR(1024) NULL,
    StartDateTime TIMESTAMP NULL,
    EndDateTime TIMESTAMP NULL,
    DueDateTime TIMESTAMP NULL,
    MaxPoints INT NULL,
    SectionIdentifier VARCHAR(255) NOT NULL,
    LocalCourseCode VARCHAR(60) NULL,
    SessionName VARCHAR(60) NULL,
    SchoolYear SMALLINT NULL,
    SchoolId INT NULL,
    Discriminator VARCHAR(128) NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    Id UUID NOT NULL DEFAULT gen_random_uuid(),
    PRIMARY KEY (AssignmentIdentifier, Namespace),
    FOREIGN KEY (LocalCourseCode, SchoolId, SchoolYear, SectionIdentifier, SessionName)
        REFERENCES edfi.Section (LocalCourseCode, SchoolId, SchoolYear, SectionIdentifier, SessionName) ON UPDATE CASCADE
);
CREATE UNIQUE INDEX UX_Assignment_Id ON lmsx.Assignment (Id);

CREATE TABLE lmsx.AssignmentSubmission (
    AssignmentSubmissionIdentifier VARCHAR(255) NOT NULL,
    Namespace VARCHAR(255) NOT NULL,
    StudentUSI INT NOT NULL REFERENCES edfi.Student,
    AssignmentIdentifier VARCHAR(255) NOT NULL,
    SubmissionStatusDescriptorId INT NOT NULL REFERENCES lmsx.SubmissionStatusDescriptor,
    SubmissionDateTime TIMESTAMP NULL,
    EarnedPoints INT NULL,
    Grade VARCHAR(20) NULL,
    Discriminator VARCHAR(128) NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    Id UUID NOT NULL DEFAULT gen_random_uuid(),
    PRIMARY KEY (AssignmentSubmissionIdentifier, Namespace, StudentUSI),
    FOREIGN KEY (AssignmentIdentifier, Namespace) REFERENCES lmsx.Assignment (AssignmentIdentifier, Namespace)
);
CREATE UNIQUE INDEX UX_AssignmentSubmission_Id ON lmsx.AssignmentSubmission (Id);

CREATE TABLE lmsx.AssignmentSubmissionType (
    AssignmentIdentifier VARCHAR(255) NOT NULL,
    Namespace VARCHAR(255) NOT NULL,
    SubmissionTypeDescriptorId INT NOT NULL REFERENCES lmsx.SubmissionTypeDescriptor,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    PRIMARY KEY (AssignmentIdentifier, Namespace, SubmissionTypeDescriptorId),
    FOREIGN KEY (AssignmentIdentifier, Namespace) REFERENCES lmsx.Assignment (AssignmentIdentifier, Namespace) ON DELETE CASCADE
);
"""
}
