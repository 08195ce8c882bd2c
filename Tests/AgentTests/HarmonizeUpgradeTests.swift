import Agent
import Foundation
import LMSSQLScripts
import PostgresDB
import Stores
import Testing

@Suite("Harmonizer on PostgreSQL: a database the upstream harmonizer prepared", .enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct HarmonizeUpgradeTests {
    static let upstreamHarmonizerScripts = [
        "0001_initialize_lms_database", "0002_harmonize_lmsuser_canvas", "0003_harmonize_lmsuser_schoology",
        "0004_harmonize_lmsuser_google-classroom", "0005_harmonize_lmssection_canvas", "0006_harmonize_lmssection_google_classroom",
        "0007_harmonize_lmssection_schoology", "0008_view_exceptions_lmssection", "0009_view_exceptions_lmsuser",
        "0010_harmonize_assignment", "0011_harmonize_assignment_submissions", "0012_view_missing_assignment_category_descriptors",
        "0013_view_missing_assignmentsubmission_status_descriptors", "0014_view_assignment_submissions_exceptions",
        "0015_view_assignments_exceptions",
    ]

    /// Built here as the upstream loader and harmonizer leave a database: the loader's tables and
    /// journal, the harmonizer's journal with its fifteen scripts, procedures with its names and
    /// parameters (stand-ins that fail when called) and its views (SELECT * where upstream has it).
    /// The agent's migrations replace them in place, and a view of the operator's built on an
    /// upstream view keeps working.
    @Test func theUpstreamProceduresAndViewsAreReplacedInPlace() throws {
        let w = try World(engine: .postgresql)
        w.harmonizes = false  // these tests run the harmonizer themselves
        let ods = try ODS(w)
        for script in try SQLScripts.scripts(engine: "postgresql") where PostgresTests.upstreamScripts.contains(script.name) {
            try ods.c.executeBatch(script.sql)
            try ods.execute("INSERT INTO lms.migrationjournal (script) VALUES ($1)", [script.name])
        }
        try ods.install()
        try ods.execute("""
            CREATE TABLE lms.MigrationJournal_Harmonizer (Script VARCHAR(250) NOT NULL, InstallDate TIMESTAMP NOT NULL DEFAULT now(),
                CONSTRAINT PK_MigrationJournal_Harmonizer PRIMARY KEY (Script))
            """)
        for s in Self.upstreamHarmonizerScripts { try ods.execute("INSERT INTO lms.migrationjournal_harmonizer (script) VALUES ($1)", [s]) }
        let stub = "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the upstream procedure ran'; END $$"
        for p in PostgresHarmonizerNames.parameterless { try ods.execute("CREATE PROCEDURE \(p)() \(stub)") }
        for p in ["lms.harmonize_assignment", "lms.harmonize_assignment_submissions"] {
            try ods.execute("CREATE PROCEDURE \(p)(_sourcesystem VARCHAR(255), _namespace VARCHAR(255)) \(stub)")
        }
        try ods.c.executeBatch("""
            CREATE VIEW lmsx.exceptions_LMSSection AS SELECT LMSSectionIdentifier, SourceSystemIdentifier, SourceSystem, SISSectionIdentifier
                FROM lms.LMSSection WHERE EdFiSectionId IS NULL AND DeletedAt IS NULL;
            CREATE VIEW lmsx.exceptions_LMSUser AS SELECT LMSUserIdentifier, SourceSystemIdentifier, SourceSystem, SISUserIdentifier,
                LocalUserIdentifier, UserRole FROM lms.LMSUser WHERE EdFiStudentId IS NULL AND DeletedAt IS NULL;
            CREATE VIEW lmsx.missing_assignment_category_descriptors AS SELECT * FROM lms.Assignment;
            CREATE VIEW lmsx.missing_assignment_submission_status_descriptors AS SELECT * FROM lms.AssignmentSubmission;
            CREATE VIEW lmsx.assignment_submissions_exceptions AS SELECT * FROM lms.AssignmentSubmission WHERE DeletedAt IS NULL;
            CREATE VIEW lmsx.assignments_exceptions AS SELECT * FROM lms.Assignment WHERE DeletedAt IS NULL;
            CREATE VIEW lmsx.operator_summary AS SELECT count(*) AS n FROM lmsx.assignments_exceptions
            """)

        try ods.shippedDescriptors(["Canvas"])
        try ods.student("S1")
        try ods.section("SIS-1")
        try w.write("users/\(w.stamp(1))", .users, [LMSRow.user("c1", "Canvas", sis: "S1")])
        try w.write("sections/\(w.stamp(1))", .sections, [LMSRow.section("cs1", "Canvas", sis: "SIS-1")])
        try w.write("section=cs1/assignments/\(w.stamp(1))", .assignments, [LMSRow.assignment("a1", "Canvas", section: "cs1"),
                                                                         LMSRow.assignment("a2", "Canvas", section: "cs1", category: "Quiz")])
        try w.write("section=cs1/assignment=a1/submissions/\(w.stamp(1))", .submissions, [
            LMSRow.submission("s1", "Canvas", assignment: "a1", user: "c1", status: "graded"),
        ])
        #expect(try w.flush().exitCode == .success)

        // Our scripts ran in our journal; upstream's journal is as it was.
        #expect(try w.query("SELECT script FROM lms.migrationjournal WHERE script LIKE '2%' ORDER BY script").map { $0[0]! }
                == HarmonizeTests.harmonizerScripts)
        #expect(try w.query("SELECT script FROM lms.migrationjournal_harmonizer ORDER BY script").map { $0[0]! } == Self.upstreamHarmonizerScripts)
        // One procedure of each name (replaced, not overloaded), and ours run.
        #expect(try ods.int("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'lms' AND p.proname LIKE 'harmonize%'") == 8)
        try w.harmonize(["Canvas"])
        #expect(try w.userLinks() == ["c1": "S1"])
        #expect(try w.lmsxAssignments() == ["a1 uri://instructure.com/canvas": "Assignment a1"])
        #expect(try w.lmsxSubmissions() == ["s1": "graded - 8"])
        #expect(try w.query("SELECT sourcesystemidentifier FROM lmsx.assignments_exceptions") == [["a2"]])
        #expect(try w.value("SELECT n FROM lmsx.operator_summary") == "1")
    }
}

enum PostgresHarmonizerNames {
    static let parameterless = [
        "lms.harmonize_lmsuser_canvas", "lms.harmonize_lmsuser_schoology", "lms.harmonize_lmsuser_google_classroom",
        "lms.harmonize_lmssection_canvas", "lms.harmonize_lmssection_google_classroom", "lms.harmonize_lmssection_schoology",
    ]
}
