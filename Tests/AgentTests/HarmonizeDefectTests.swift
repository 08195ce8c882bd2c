import Agent
import Extract
import Foundation
import Glibc
import SampleExtract
import Stores
import Testing

/// Upstream harmonizer defects (spec/harmonizer.md section 11) that each test shows fixed, and the
/// exception reports.
@Suite("Harmonizer on PostgreSQL: upstream defects fixed, reports", .enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct HarmonizeDefectTests {
    /// H5 and H9: two LMSs with the same identifiers keep their own lmsx rows; a submission deleted in
    /// one LMS takes only its own row away.
    @Test func twoLMSsWithEqualIdentifiersKeepTheirOwnRows() throws {
        let (w, ods) = try World.harmonizerWorld()
        try ods.shippedDescriptors(["Canvas", "Schoology"])
        try ods.student("S1")
        try ods.student("S2")
        try ods.student("S3")
        try ods.section("SIS-1")
        let day1 = w.stamp(1)
        try w.write("users/\(day1)", .users, [LMSRow.user("u1", "Canvas", sis: "S1"), LMSRow.user("u2", "Canvas", sis: "S3"),
                                            LMSRow.user("u1", "Schoology", sis: "S2")])
        try w.write("sections/\(day1)", .sections, [LMSRow.section("x1", "Canvas", sis: "SIS-1"), LMSRow.section("x1", "Schoology", sis: "SIS-1")])
        let assignments = { (canvasTitle: String) in
            [LMSRow.assignment("a1", "Canvas", section: "x1", title: canvasTitle), LMSRow.assignment("a1", "Schoology", section: "x1", title: "Schoology a1")]
        }
        try w.write("section=x1/assignments/\(day1)", .assignments, assignments("Canvas a1"))
        try w.write("section=x1/assignment=a1/submissions/\(day1)", .submissions, [
            LMSRow.submission("sub1", "Canvas", assignment: "a1", user: "u1", status: "graded"),
            LMSRow.submission("sub2", "Canvas", assignment: "a1", user: "u2", status: "graded"),
            LMSRow.submission("sub1", "Schoology", assignment: "a1", user: "u1", status: "on-time"),
        ])
        #expect(try w.flush().exitCode == .success)
        try w.harmonize()
        #expect(try w.lmsxAssignments() == ["a1 uri://instructure.com/canvas": "Canvas a1", "a1 uri://schoology.com": "Schoology a1"])
        #expect(try w.lmsxSubmissions() == ["sub1": "graded - 8", "sub2": "graded - 8"])
        #expect(try w.lmsxSubmissions("uri://schoology.com") == ["sub1": "on-time - 8"])

        // Day 2: Canvas retitles its a1 and drops its sub1.
        try w.write("section=x1/assignments/\(w.stamp(2))", .assignments, assignments("Canvas a1, revised"))
        try w.write("section=x1/assignment=a1/submissions/\(w.stamp(2))", .submissions, [
            LMSRow.submission("sub2", "Canvas", assignment: "a1", user: "u2", status: "graded"),
            LMSRow.submission("sub1", "Schoology", assignment: "a1", user: "u1", status: "on-time"),
        ])
        #expect(try w.flush().exitCode == .success)
        try w.harmonize()
        #expect(try w.lmsxAssignments() == ["a1 uri://instructure.com/canvas": "Canvas a1, revised", "a1 uri://schoology.com": "Schoology a1"])
        #expect(try w.lmsxSubmissions() == ["sub2": "graded - 8"])
        #expect(try w.lmsxSubmissions("uri://schoology.com") == ["sub1": "on-time - 8"])
    }

    /// H13: descriptors match without regard to case (Canvas writes `graded`, an ODS may hold
    /// `Graded`; upstream's own report writes lower-case namespaces); the exact spelling wins over
    /// another case. H17: the source-system descriptor is the one in the LMSSourceSystem namespace;
    /// a second `Canvas` descriptor elsewhere (upstream's tests put one in the category namespace)
    /// neither duplicates rows nor is used.
    @Test func descriptorsMatchByNamespaceAndWithoutCase() throws {
        let (w, ods) = try World.harmonizerWorld()
        let elsewhere = try ods.descriptor(ODS.categoryNamespace("Canvas"), "Canvas", in: "lmsx.lmssourcesystemdescriptor")
        let canvas = try ods.descriptor(ODS.sourceSystemNamespace, "Canvas", in: "lmsx.lmssourcesystemdescriptor")
        let category = try ods.descriptor("uri://ed-fi.org/edfilms/assignmentcategorydescriptor/canvas", "ASSIGNMENT", in: "lmsx.assignmentcategorydescriptor")
        let graded = try ods.descriptor(ODS.statusNamespace("Canvas"), "Graded", in: "lmsx.submissionstatusdescriptor")
        try ods.descriptor(ODS.statusNamespace("Canvas"), "Late", in: "lmsx.submissionstatusdescriptor")
        let late = try ods.descriptor(ODS.statusNamespace("Canvas"), "late", in: "lmsx.submissionstatusdescriptor")
        try ods.descriptor(ODS.statusNamespace("Canvas"), "missing", in: nil)   // not registered in lmsx: not usable
        try ods.student("S1")
        try ods.student("S2")
        try ods.student("S3")
        try ods.section("SIS-1")
        try w.write("users/\(w.stamp(1))", .users, (1...3).map { LMSRow.user("c\($0)", "Canvas", sis: "S\($0)") })
        try w.write("sections/\(w.stamp(1))", .sections, [LMSRow.section("cs1", "Canvas", sis: "SIS-1")])
        try w.write("section=cs1/assignments/\(w.stamp(1))", .assignments, [LMSRow.assignment("a1", "Canvas", section: "cs1", category: "assignment")])
        try w.write("section=cs1/assignment=a1/submissions/\(w.stamp(1))", .submissions, [
            LMSRow.submission("s1", "Canvas", assignment: "a1", user: "c1", status: "graded"),
            LMSRow.submission("s2", "Canvas", assignment: "a1", user: "c2", status: "late"),
            LMSRow.submission("s3", "Canvas", assignment: "a1", user: "c3", status: "missing"),
        ])
        #expect(try w.flush().exitCode == .success)
        let report = try w.harmonize()
        #expect(try w.query("SELECT lmssourcesystemdescriptorid, assignmentcategorydescriptorid FROM lmsx.assignment")
                == [[String(canvas), String(category)]])
        #expect(canvas != elsewhere)
        #expect(Dictionary(uniqueKeysWithValues: try w.query("SELECT assignmentsubmissionidentifier, submissionstatusdescriptorid FROM lmsx.assignmentsubmission")
            .map { ($0[0]!, $0[1]!) }) == ["s1": String(graded), "s2": String(late)])
        // The unregistered `missing` is what the views and the counts report.
        #expect(try w.query("SELECT sourcesystemidentifier FROM lmsx.missing_assignment_submission_status_descriptors") == [["s3"]])
        #expect(try w.query("SELECT count(*) FROM lmsx.missing_assignment_category_descriptors") == [["0"]])
        #expect(report.exceptions?.missingDescriptors == 1)
        #expect(report.exceptions?.unmatchedSubmissions == 1)
    }

    /// H16: a failing procedure is reported with its name and the server's message, and every other
    /// procedure still runs (upstream skips the rest of its group).
    @Test func aFailingProcedureDoesNotHideTheOthers() throws {
        let (w, ods) = try World.harmonizerWorld()
        try ods.student("S1")
        for s in ["SIS-C", "SIS-G", "SIS-S"] { try ods.section(s) }
        try w.write("users/\(w.stamp(1))", .users, [LMSRow.user("c1", "Canvas", sis: "S1")])
        try w.write("sections/\(w.stamp(1))", .sections, [LMSRow.section("c", "Canvas", sis: "SIS-C"), LMSRow.section("g", "Google", sis: "SIS-G"),
                                                        LMSRow.section("s", "Schoology", sis: "SIS-S")])
        try w.flush()
        // An operator's customisation gone wrong.
        try ods.execute("""
            CREATE OR REPLACE PROCEDURE lms.harmonize_lmssection_canvas() LANGUAGE plpgsql AS $$
            BEGIN UPDATE lms.lmssection SET edfisectionid = gen_random_uuid(); RAISE EXCEPTION 'customised badly'; END $$
            """)
        let report = try w.harmonizer().harmonize(sourceSystems: ["Canvas", "Google", "Schoology"])
        #expect(report.failures.map(\.procedure) == ["lms.harmonize_lmssection_canvas"])
        let failure = report.failures.first?.failure ?? ""
        #expect(failure.contains("lms.harmonize_lmssection_canvas") && failure.contains("customised badly"), "\(failure)")
        #expect(report.steps.count == 12)
        // Its own work is rolled back; the sections after it in the group are linked.
        #expect(try w.sectionLinks() == ["c": "-", "g": "SIS-G", "s": "SIS-S"])
        #expect(try w.userLinks() == ["c1": "S1"])
        #expect(report.exceptions?.unmatchedSections == 1)
    }

    /// A generated extract (hundreds of assignments, thousands of submissions) in one pass: each new
    /// lmsx row gets its own Id under the ODS's unique index on Id (upstream's gen_random_uuid() was
    /// one value per statement, and a real ODS refused the second row).
    @Test func manyNewRowsInOneCallEachGetTheirOwnId() throws {
        let w = try World(engine: .postgresql)
        w.harmonizes = false  // these tests run the harmonizer themselves
        var options = SampleOptions()
        options.users = 120
        options.sections = 8
        options.assignmentsPerSection = 6
        _ = try SampleGenerator.write(to: w.root, options: options)
        let ods = try ODS(w)
        try ods.install()
        #expect(try w.flush().exitCode == .success)
        try HarmonizeSeed.seed(ods)
        let report = try w.harmonize(["Canvas"])
        let assignments = try ods.int("SELECT count(*) FROM lmsx.assignment")
        let submissions = try ods.int("SELECT count(*) FROM lmsx.assignmentsubmission")
        #expect(assignments >= 40)
        #expect(submissions >= 1_000)
        #expect(try ods.int("SELECT count(DISTINCT id) FROM lmsx.assignment") == assignments)
        #expect(try ods.int("SELECT count(DISTINCT id) FROM lmsx.assignmentsubmission") == submissions)
        // Everything live is linked: teachers are the only unmatched users, nothing else is missing.
        #expect(report.exceptions?.unmatchedSections == 0)
        #expect(report.exceptions?.unmatchedAssignments == 0)
        #expect(report.exceptions?.unmatchedSubmissions == 0)
        #expect(report.exceptions?.missingDescriptors == 0)
        #expect(report.exceptions?.unmatchedUsers == (try ods.int("SELECT count(*) FROM lms.lmsuser WHERE userrole = 'teacher' AND deletedat IS NULL")))
        #expect(assignments == (try ods.int("""
            SELECT count(*) FROM lms.assignment a JOIN lms.lmssection s ON s.lmssectionidentifier = a.lmssectionidentifier
            WHERE a.deletedat IS NULL AND s.deletedat IS NULL
            """)))
    }

    /// The three upstream report files: folders, local-time names, lower-case columns, header always.
    @Test func exceptionReportsAreWrittenAsUpstream() throws {
        let (w, ods) = try World.harmonizerWorld()
        try ods.shippedDescriptors(["Canvas"])
        try ods.student("S1")
        try w.write("users/\(w.stamp(1))", .users, [LMSRow.user("c1", "Canvas", sis: "S1"),
                                                  LMSRow.user("c2", "Canvas", sis: "S2, with a comma", role: "teacher")])
        try w.write("sections/\(w.stamp(1))", .sections, [LMSRow.section("cs1", "Canvas", sis: nil)])
        try w.write("section=cs1/assignments/\(w.stamp(1))", .assignments, [LMSRow.assignment("a1", "Canvas", section: "cs1", category: "Quiz")])
        try w.write("section=cs1/assignment=a1/submissions/\(w.stamp(1))", .submissions, [
            LMSRow.submission("s1", "Canvas", assignment: "a1", user: "c1", status: "submitted"),
        ])
        try w.flush()
        try w.harmonize(["Canvas"])
        let store = try w.harmonizer()
        let at = Date(timeIntervalSince1970: 1_790_000_000)
        let dir = w.dir + "/reports"
        let paths = try store.writeExceptionReports(to: dir, at: at)
        // Named by the local time, `%Y-%m-%d-%H-%M-%S.csv`.
        var parts = tm()
        var t = time_t(1_790_000_000)
        localtime_r(&t, &parts)
        let name = String(format: "%04d-%02d-%02d-%02d-%02d-%02d.csv", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                          Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        #expect(paths == ["sections", "users", "descriptors"].map { "\(dir)/\($0)/\(name)" })
        let read = { (i: Int) in try String(contentsOfFile: paths[i], encoding: .utf8) }
        let section = try w.value("SELECT lmssectionidentifier FROM lms.lmssection")!
        #expect(try read(0) == "lmssectionidentifier,sourcesystemidentifier,sourcesystem,sissectionidentifier\n\(section),cs1,Canvas,\n")
        let teacher = try w.value("SELECT lmsuseridentifier FROM lms.lmsuser WHERE sourcesystemidentifier = 'c2'")!
        #expect(try read(1) == "lmsuseridentifier,sourcesystemidentifier,sourcesystem,sisuseridentifier,localuseridentifier,userrole\n"
                + "\(teacher),c2,Canvas,\"S2, with a comma\",,teacher\n")
        #expect(try read(2) == """
            missingvalue,descriptor,namespace
            Quiz,assignmentcategorydescriptor,uri://ed-fi.org/edfilms/AssignmentCategoryDescriptor/Canvas
            submitted,submissionstatusdescriptor,uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/Canvas

            """)

        // With nothing to report, each file still has its header.
        try w.execute("DELETE FROM lms.assignmentsubmission")
        try w.execute("DELETE FROM lms.assignment")
        try w.execute("DELETE FROM lms.lmssection")
        try w.execute("DELETE FROM lms.lmsuser WHERE userrole = 'teacher'")
        let later = try store.writeExceptionReports(to: dir, at: at.addingTimeInterval(1))
        #expect(try later.map { try String(contentsOfFile: $0, encoding: .utf8) } == [
            "lmssectionidentifier,sourcesystemidentifier,sourcesystem,sissectionidentifier\n",
            "lmsuseridentifier,sourcesystemidentifier,sourcesystem,sisuseridentifier,localuseridentifier,userrole\n",
            "missingvalue,descriptor,namespace\n",
        ])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/users").count == 2)
    }
}

/// Fills the ODS fixture from what the agent loaded, as a district's ODS would have it: a student for
/// every student's SIS id, an ODS section for every SIS section id, every enrollment, the shipped
/// descriptors. Set-based, so that it fits the benchmark's size too.
enum HarmonizeSeed {
    /// The LMSX descriptors, then `sync`.
    static func seed(_ ods: ODS) throws {
        try ods.shippedDescriptors()
        try sync(ods)
    }

    /// What a nightly SIS sync would add: a student for every LMS student with a SIS id, their
    /// e-mails, a section for every LMS section with a SIS id, and their enrollments. Only what is
    /// not there yet, so that it runs again after a day's load.
    static func sync(_ ods: ODS) throws {
        try ods.c.executeBatch("""
            INSERT INTO edfi.student (studentuniqueid, firstname, lastsurname, birthdate)
            SELECT DISTINCT sisuseridentifier, 'First', 'Last', DATE '2011-04-01' FROM lms.lmsuser
            WHERE userrole = 'student' AND sisuseridentifier IS NOT NULL
            ON CONFLICT DO NOTHING;
            INSERT INTO edfi.studenteducationorganizationassociationelectronicmail
                (educationorganizationid, electronicmailaddress, electronicmailtypedescriptorid, studentusi)
            SELECT DISTINCT ON (u.emailaddress) 255901, u.emailaddress, 1, s.studentusi
            FROM lms.lmsuser u JOIN edfi.student s ON s.studentuniqueid = u.sisuseridentifier ORDER BY u.emailaddress, s.studentusi
            ON CONFLICT DO NOTHING;
            INSERT INTO edfi.section (localcoursecode, schoolid, schoolyear, sectionidentifier, sessionname)
            SELECT DISTINCT 'ALG-1', 255901001, 2027, sissectionidentifier, 'Fall' FROM lms.lmssection WHERE sissectionidentifier IS NOT NULL
            ON CONFLICT DO NOTHING;
            INSERT INTO edfi.studentsectionassociation (begindate, localcoursecode, schoolid, schoolyear, sectionidentifier, sessionname, studentusi)
            SELECT DISTINCT DATE '2026-08-20', e.localcoursecode, e.schoolid, e.schoolyear, e.sectionidentifier, e.sessionname, st.studentusi
            FROM lms.lmsuserlmssectionassociation a
            JOIN lms.lmsuser u ON u.lmsuseridentifier = a.lmsuseridentifier
            JOIN lms.lmssection l ON l.lmssectionidentifier = a.lmssectionidentifier
            JOIN edfi.section e ON e.sectionidentifier = l.sissectionidentifier
            JOIN edfi.student st ON st.studentuniqueid = u.sisuseridentifier
            ON CONFLICT DO NOTHING;
            ANALYZE edfi.student; ANALYZE edfi.section; ANALYZE edfi.studentsectionassociation; ANALYZE edfi.descriptor
            """)
    }
}
