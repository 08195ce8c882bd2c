import Agent
import Extract
import Foundation
import Stores
import Testing

/// The harmonizer over several days of extracts loaded by the agent: what changes in the LMS or the
/// ODS reaches the links and lmsx, and what goes away goes (upstream defects H3, H6, H7, H8).
@Suite("Harmonizer on PostgreSQL: changes over days", .enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct HarmonizeLifecycleTests {
    /// H3: upstream sets a link once and never corrects or clears it.
    @Test func linksFollowTheLMSAndTheODS() throws {
        let (w, ods) = try World.harmonizerWorld()
        for s in ["S1", "S2", "S3", "S4", "S9"] { try ods.student(s) }
        for s in ["SIS-1", "SIS-2", "SIS-3"] { try ods.section(s) }
        let users = { (c1: String, withC4: Bool) in
            [LMSRow.user("c1", "Canvas", sis: c1), LMSRow.user("c2", "Canvas", sis: "S2"), LMSRow.user("c3", "Canvas", sis: "S3")]
                + (withC4 ? [LMSRow.user("c4", "Canvas", sis: "S4")] : [])
        }
        try w.write("users/\(w.stamp(1))", .users, users("S1", true))
        try w.write("sections/\(w.stamp(1))", .sections, [LMSRow.section("cs1", "Canvas", sis: "SIS-1"), LMSRow.section("cs2", "Canvas", sis: "SIS-2")])
        try w.flush()
        try w.harmonize()
        #expect(try w.userLinks() == ["c1": "S1", "c2": "S2", "c3": "S3", "c4": "S4"])
        #expect(try w.sectionLinks() == ["cs1": "SIS-1", "cs2": "SIS-2"])

        // Day 2: c1's SIS id is corrected, c4 leaves the LMS, cs2 moves to another SIS section; in the
        // ODS, S3's unique id changes and S2 is removed.
        try w.write("users/\(w.stamp(2))", .users, users("S9", false))
        try w.write("sections/\(w.stamp(2))", .sections, [LMSRow.section("cs1", "Canvas", sis: "SIS-1"), LMSRow.section("cs2", "Canvas", sis: "SIS-3")])
        try ods.execute("UPDATE edfi.student SET studentuniqueid = 'S3-new' WHERE studentuniqueid = 'S3'")
        try ods.execute("DELETE FROM edfi.student WHERE studentuniqueid = 'S2'")
        try w.flush()
        try w.harmonize()
        #expect(try w.userLinks() == ["c1": "S9", "c2": "-", "c3": "-", "c4": "-"])
        #expect(try w.value("SELECT count(*) FROM lms.lmsuser WHERE edfistudentid IS NOT NULL AND sourcesystemidentifier IN ('c2', 'c3', 'c4')") == "0")
        #expect(try w.sectionLinks() == ["cs1": "SIS-1", "cs2": "SIS-3"])

        // Day 3: c4 is back, S2 is back in the ODS (a new row, a new Id).
        try w.write("users/\(w.stamp(3))", .users, users("S9", true))
        try ods.student("S2")
        try w.flush()
        try w.harmonize()
        #expect(try w.userLinks() == ["c1": "S9", "c2": "S2", "c3": "-", "c4": "S4"])
        // The soft-deleted user was not in the exceptions while it was gone, and its return is.
        #expect(Set(try w.query("SELECT sourcesystemidentifier FROM lmsx.exceptions_lmsuser").map { $0[0]! }) == ["c3"])
    }

    /// H6: the day-2 changes keep day 1's LastModifiedDate (an extractor's historical stamps), and
    /// still reach lmsx. H7: a soft-deleted section takes its assignments out of lmsx.
    @Test func assignmentsAndSubmissionsFollowTheLMS() throws {
        let (w, ods) = try World.harmonizerWorld()
        try ods.shippedDescriptors(["Canvas"])
        try ods.student("S1")
        try ods.student("S2")
        try ods.section("SIS-1")
        try ods.section("SIS-2")
        let day1 = w.stamp(1)
        try w.write("users/\(day1)", .users, [LMSRow.user("c1", "Canvas", sis: "S1"), LMSRow.user("c2", "Canvas", sis: "S2")])
        try w.write("sections/\(day1)", .sections, [LMSRow.section("cs1", "Canvas", sis: "SIS-1"), LMSRow.section("cs2", "Canvas", sis: "SIS-2")])
        try w.write("section=cs1/assignments/\(day1)", .assignments, [
            LMSRow.assignment("a1", "Canvas", section: "cs1", title: "Essay"),
            LMSRow.assignment("a3", "Canvas", section: "cs1", category: "Quiz"),   // no such category descriptor
        ])
        try w.write("section=cs2/assignments/\(day1)", .assignments, [LMSRow.assignment("a2", "Canvas", section: "cs2")])
        try w.write("section=cs1/assignment=a1/submissions/\(day1)", .submissions, [
            LMSRow.submission("sub-a1-c1", "Canvas", assignment: "a1", user: "c1", status: "graded", grade: "A"),
            LMSRow.submission("sub-a1-c2", "Canvas", assignment: "a1", user: "c2", status: "late"),
        ])
        try w.write("section=cs2/assignment=a2/submissions/\(day1)", .submissions, [
            LMSRow.submission("sub-a2-c1", "Canvas", assignment: "a2", user: "c1", status: "graded"),
            LMSRow.submission("sub-a2-c2", "Canvas", assignment: "a2", user: "c2", status: "submitted"), // no such status descriptor
        ])
        #expect(try w.flush().exitCode == .success)
        let first = try w.harmonize()
        #expect(try w.lmsxAssignments() == ["a1 uri://instructure.com/canvas": "Essay", "a2 uri://instructure.com/canvas": "Assignment a2"])
        #expect(try w.lmsxSubmissions() == ["sub-a1-c1": "graded A 8", "sub-a1-c2": "late - 8", "sub-a2-c1": "graded - 8"])
        // The section key comes from the ODS section.
        #expect(try w.query("SELECT sectionidentifier, localcoursecode, schoolid, schoolyear, sessionname FROM lmsx.assignment WHERE assignmentidentifier = 'a1'")
                == [["SIS-1", "ALG-1", "255901001", "2027", "Fall"]])
        #expect(first.exceptions == ExceptionCounts(unmatchedUsers: 0, unmatchedSections: 0, unmatchedAssignments: 1,
                                                    unmatchedSubmissions: 1, missingDescriptors: 2))
        #expect(try w.query("SELECT sourcesystemidentifier FROM lmsx.assignments_exceptions") == [["a3"]])
        #expect(try w.query("SELECT sourcesystemidentifier FROM lmsx.assignment_submissions_exceptions") == [["sub-a2-c2"]])
        let ids = try w.query("SELECT assignmentidentifier, id FROM lmsx.assignment ORDER BY 1")
        let untouched = try w.value("SELECT lastmodifieddate FROM lmsx.assignmentsubmission WHERE assignmentsubmissionidentifier = 'sub-a2-c1'")

        // Day 2: a1 retitled and sub-a1-c1 regraded, both with day 1's LastModifiedDate; sub-a1-c2 gone.
        let day2 = w.stamp(2)
        try w.write("section=cs1/assignments/\(day2)", .assignments, [
            LMSRow.assignment("a1", "Canvas", section: "cs1", title: "Essay (revised)"),
            LMSRow.assignment("a3", "Canvas", section: "cs1", category: "Quiz"),
        ])
        try w.write("section=cs1/assignment=a1/submissions/\(day2)", .submissions, [
            LMSRow.submission("sub-a1-c1", "Canvas", assignment: "a1", user: "c1", status: "graded", grade: "B", points: "7"),
        ])
        #expect(try w.flush().exitCode == .success)
        try w.harmonize()
        #expect(try w.lmsxAssignments()["a1 uri://instructure.com/canvas"] == "Essay (revised)")
        #expect(try w.lmsxSubmissions() == ["sub-a1-c1": "graded B 7", "sub-a2-c1": "graded - 8"])
        // Updated in place (same Id), and what did not change was not rewritten.
        #expect(try w.query("SELECT assignmentidentifier, id FROM lmsx.assignment ORDER BY 1") == ids)
        #expect(try w.value("SELECT lastmodifieddate FROM lmsx.assignmentsubmission WHERE assignmentsubmissionidentifier = 'sub-a2-c1'") == untouched)

        // Day 3: section cs2 is soft-deleted; a1 is soft-deleted and a4 arrives in cs1.
        let day3 = w.stamp(3)
        try w.write("sections/\(day3)", .sections, [LMSRow.section("cs1", "Canvas", sis: "SIS-1")])
        try w.write("section=cs1/assignments/\(day3)", .assignments, [
            LMSRow.assignment("a3", "Canvas", section: "cs1", category: "Quiz"), LMSRow.assignment("a4", "Canvas", section: "cs1"),
        ])
        #expect(try w.flush().exitCode == .success)
        // The LMS-DS keeps cs2's assignment live; only its section is gone.
        #expect(try w.value("SELECT deletedat IS NULL FROM lms.assignment WHERE sourcesystemidentifier = 'a2'") == "t")
        let third = try w.harmonize()
        #expect(try w.lmsxAssignments() == ["a4 uri://instructure.com/canvas": "Assignment a4"])
        #expect(try w.lmsxSubmissions() == [:])
        // Nothing of a deleted section or assignment is an exception.
        #expect(third.exceptions?.unmatchedAssignments == 1)
        #expect(third.exceptions?.unmatchedSubmissions == 0)
    }

    /// Schoology placeholders as upstream's verified example (spec 5.5), and H8: a placeholder goes when
    /// the real submission arrives, and is not rewritten on every pass.
    @Test func schoologyPlaceholdersComeAndGo() throws {
        let (w, ods) = try World.harmonizerWorld()
        try ods.shippedDescriptors(["Schoology"])
        try ods.section("SIS-S1")
        try ods.enroll(try ods.student("S1"), in: "SIS-S1")
        try ods.enroll(try ods.student("S2"), in: "SIS-S1")
        let day1 = w.stamp(1)
        try w.write("users/\(day1)", .users, [LMSRow.user("SU1", "Schoology", sis: "S1"), LMSRow.user("SU2", "Schoology", sis: "S2")])
        try w.write("sections/\(day1)", .sections, [LMSRow.section("SS1", "Schoology", sis: "SIS-S1")])
        try w.write("section=SS1/assignments/\(day1)", .assignments, [
            LMSRow.assignment("SA1", "Schoology", section: "SS1", due: "2026-09-10 23:59:00"),
            LMSRow.assignment("SA2", "Schoology", section: "SS1", due: "2999-06-01 23:59:00"),
            LMSRow.assignment("SA3", "Schoology", section: "SS1", due: nil),
        ])
        try w.write("section=SS1/assignment=SA1/submissions/\(day1)", .submissions, [
            LMSRow.submission("SUB1", "Schoology", assignment: "SA1", user: "SU1", status: "on-time"),
        ])
        #expect(try w.flush().exitCode == .success)
        try w.harmonize()
        let ns = "uri://schoology.com"
        #expect(try w.lmsxSubmissions(ns) == ["SUB1": "on-time - 8", "SS1#SA1#SU2": "missing - -", "SS1#SA2#SU1": "Upcoming - -",
                                                "SS1#SA2#SU2": "Upcoming - -", "SS1#SA3#SU1": "Upcoming - -", "SS1#SA3#SU2": "Upcoming - -"])
        let stamps = try w.query("SELECT assignmentsubmissionidentifier, lastmodifieddate, id FROM lmsx.assignmentsubmission ORDER BY 1")
        try w.harmonize()
        #expect(try w.query("SELECT assignmentsubmissionidentifier, lastmodifieddate, id FROM lmsx.assignmentsubmission ORDER BY 1") == stamps)

        // Day 2: SU2 hands SA1 in; its placeholder goes.
        try w.write("section=SS1/assignment=SA1/submissions/\(w.stamp(2))", .submissions, [
            LMSRow.submission("SUB1", "Schoology", assignment: "SA1", user: "SU1", status: "on-time"),
            LMSRow.submission("SUB2", "Schoology", assignment: "SA1", user: "SU2", status: "late"),
        ])
        #expect(try w.flush().exitCode == .success)
        try w.harmonize()
        #expect(try w.lmsxSubmissions(ns) == ["SUB1": "on-time - 8", "SUB2": "late - 8", "SS1#SA2#SU1": "Upcoming - -",
                                                "SS1#SA2#SU2": "Upcoming - -", "SS1#SA3#SU1": "Upcoming - -", "SS1#SA3#SU2": "Upcoming - -"])

        // Day 3: SU2 leaves the LMS: no placeholders for a user that is gone.
        try w.write("users/\(w.stamp(3))", .users, [LMSRow.user("SU1", "Schoology", sis: "S1")])
        #expect(try w.flush().exitCode == .success)
        try w.harmonize()
        #expect(try w.lmsxSubmissions(ns) == ["SUB1": "on-time - 8", "SS1#SA2#SU1": "Upcoming - -", "SS1#SA3#SU1": "Upcoming - -"])
    }
}
