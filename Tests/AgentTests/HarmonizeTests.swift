import Agent
import Extract
import Foundation
import Stores
import Testing

/// LMS rows of one source system, for the harmonizer tests (Row's defaults, another SourceSystem).
enum LMSRow {
    static func user(_ id: String, _ system: String, sis: String?, email: String? = nil, role: String = "student",
                     modified: String = "2026-09-01 08:00:00") -> [String: String] {
        var r = Row.user(id, modified: modified).merging(["SourceSystem": system, "UserRole": role]) { $1 }
        if let sis { r["SISUserIdentifier"] = sis }
        if let email { r["EmailAddress"] = email }
        return r
    }
    static func section(_ id: String, _ system: String, sis: String?) -> [String: String] {
        var r = Row.section(id).merging(["SourceSystem": system]) { $1 }
        if let sis { r["SISSectionIdentifier"] = sis }
        return r
    }
    static func assignment(_ id: String, _ system: String, section: String, title: String? = nil, category: String = "Assignment",
                           due: String? = "2026-09-10 23:59:00") -> [String: String] {
        var r = Row.assignment(id, section: section, title: title).merging(["SourceSystem": system, "AssignmentCategory": category]) { $1 }
        r["DueDateTime"] = due ?? ""
        return r
    }
    static func submission(_ id: String, _ system: String, assignment: String, user: String, status: String,
                           grade: String? = nil, points: String = "8") -> [String: String] {
        var r = Row.submission(id, assignment: assignment, user: user, status: status)
            .merging(["SourceSystem": system, "EarnedPoints": points]) { $1 }
        if let grade { r["Grade"] = grade }
        return r
    }
}

extension World {
    func stamp(_ day: Int) -> String { "2026-09-0\(day)-06-00-00.csv" }

    /// The PostgreSQL LMS-DS as the harmonizer (a store of its own, as the agent opens one).
    func harmonizer() throws -> PostgresStore { try PostgresStore(target: settings.postgresTarget) }

    /// One harmonization pass over every LMS; expects no step to fail.
    @discardableResult
    func harmonize(_ systems: [String] = ["Canvas", "Google", "Schoology"], sourceLocation: SourceLocation = #_sourceLocation) throws -> HarmonizeReport {
        let report = try harmonizer().harmonize(sourceSystems: systems)
        #expect(report.failures.isEmpty, "\(report.failures)", sourceLocation: sourceLocation)
        return report
    }

    /// `lms.LMSUser.EdFiStudentId` resolved to the student's StudentUniqueId, per SourceSystemIdentifier.
    func userLinks() throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try query("SELECT u.sourcesystemidentifier, s.studentuniqueid FROM lms.lmsuser u LEFT JOIN edfi.student s ON s.id = u.edfistudentid") {
            out[r[0]!] = r[1] ?? "-"
        }
        return out
    }

    func sectionLinks() throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try query("SELECT l.sourcesystemidentifier, e.sectionidentifier FROM lms.lmssection l LEFT JOIN edfi.section e ON e.id = l.edfisectionid") {
            out[r[0]!] = r[1] ?? "-"
        }
        return out
    }

    /// lmsx.Assignment as "identifier namespace-tail" -> title.
    func lmsxAssignments() throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try query("SELECT assignmentidentifier, namespace, title FROM lmsx.assignment") { out["\(r[0]!) \(r[1]!)"] = r[2]! }
        return out
    }

    /// lmsx.AssignmentSubmission as "identifier" -> "status grade points" (namespace of `namespace`).
    func lmsxSubmissions(_ namespace: String = "uri://instructure.com/canvas") throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try query("""
            SELECT s.assignmentsubmissionidentifier, d.codevalue, s.grade, s.earnedpoints FROM lmsx.assignmentsubmission s
            JOIN edfi.descriptor d ON d.descriptorid = s.submissionstatusdescriptorid WHERE s.namespace = '\(namespace)'
            """) {
            out[r[0]!] = "\(r[1]!) \(r[2] ?? "-") \(r[3] ?? "-")"
        }
        return out
    }
}

@Suite("Harmonizer on PostgreSQL: linking the LMS-DS to an Ed-Fi ODS", .enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct HarmonizeTests {
    static let harmonizerScripts = ["2001_harmonizer_journal", "2002_harmonize_users", "2003_harmonize_sections",
                                    "2004_exception_views_users_sections", "2005_harmonize_assignment",
                                    "2006_harmonize_assignment_submissions", "2007_exception_views_assignments"]

    @Test func theScriptsWaitForTheODSAndArriveWithIt() throws {
        let w = try World(engine: .postgresql)
        w.harmonizes = false  // these tests run the harmonizer themselves
        try w.writeBase()
        #expect(try w.flush().exitCode == .success)
        // No ODS: the LMS-DS is as before, and the harmonizer says what it lacks.
        let journal = try w.query("SELECT script FROM lms.migrationjournal ORDER BY script").map { $0[0]! }
        #expect(journal.last == "1002_lms_agent_processed_files_applied")
        #expect(try w.value("SELECT to_regclass('lms.migrationjournal_harmonizer')") == nil)
        guard case .unavailable(let reason) = try w.harmonizer().harmonizeSupport() else { Issue.record("ready without an ODS"); return }
        #expect(reason.contains("edfi.student") && reason.contains("lmsx.assignment"), "\(reason)")

        // The ODS appears: the next run deploys the harmonizer.
        let ods = try ODS(w)
        try ods.install()
        #expect(try w.flush().exitCode == .success)
        let after = try w.query("SELECT script FROM lms.migrationjournal WHERE script LIKE '2%' ORDER BY script").map { $0[0]! }
        #expect(after == Self.harmonizerScripts)
        #expect(try w.harmonizer().harmonizeSupport() == .ready)
        // The upstream harmonizer, run on this database, finds every script of its own applied.
        #expect(try ods.int("SELECT count(*) FROM lms.migrationjournal_harmonizer") == 15)
        // H15: no procedure creates an extension.
        #expect(try ods.int("SELECT count(*) FROM pg_proc WHERE prosrc ILIKE '%create extension%'") == 0)
    }

    @Test func theEmbeddedSQLiteLMSDSSaysItCannotHarmonize() throws {
        let w = try World(engine: .sqlite)
        try w.writeBase()
        try w.flush()
        let store = try SQLiteStore(path: w.dir + "/lms-ds.sqlite")
        guard case .unavailable(let reason) = try store.harmonizeSupport() else { Issue.record("SQLite ready"); return }
        #expect(reason.contains("no Ed-Fi ODS"))
        #expect(throws: StoreError.self) { try store.harmonize(sourceSystems: ["Canvas"]) }
    }

    /// Canvas and Schoology users by SIS id, Google users by e-mail; sections by SIS section id.
    @Test func usersAndSectionsAreLinkedForEachLMS() throws {
        let (w, ods) = try World.harmonizerWorld()
        try ods.student("S1")
        try ods.student("S2")
        try ods.student("S3", email: "Grace.Hopper@Students.example.org")
        try ods.student("S4", email: "ada@students.example.org")
        for s in ["SIS-C1", "SIS-G1", "SIS-S1"] { try ods.section(s) }
        try w.write("users/\(w.stamp(1))", .users, [
            LMSRow.user("c1", "Canvas", sis: "S1"),
            LMSRow.user("c2", "Canvas", sis: "S404"),                       // no such student
            LMSRow.user("c3", "Canvas", sis: nil, email: "ada@students.example.org"), // Canvas is never matched by e-mail
            LMSRow.user("t1", "Canvas", sis: "S2", role: "teacher"),        // upstream does not look at the role
            LMSRow.user("s1", "Schoology", sis: "S2"),
            LMSRow.user("g1", "Google", sis: nil, email: "grace.hopper@students.example.org"), // e-mail case differs
            LMSRow.user("g2", "Google", sis: "S1", email: "nobody@example.org"),               // Google is never matched by SIS id
        ])
        try w.write("sections/\(w.stamp(1))", .sections, [
            LMSRow.section("cs1", "Canvas", sis: "SIS-C1"), LMSRow.section("cs2", "Canvas", sis: nil),
            LMSRow.section("gs1", "Google", sis: "SIS-G1"), LMSRow.section("ss1", "Schoology", sis: "SIS-S1"),
            LMSRow.section("ss2", "Schoology", sis: "SIS-NONE"),
        ])
        #expect(try w.flush().exitCode == .success)
        let report = try w.harmonize()
        #expect(report.steps.map(\.procedure) == [
            "lms.harmonize_lmsuser_canvas", "lms.harmonize_lmsuser_google_classroom", "lms.harmonize_lmsuser_schoology",
            "lms.harmonize_lmssection_canvas", "lms.harmonize_lmssection_google_classroom", "lms.harmonize_lmssection_schoology",
            "lms.harmonize_assignment", "lms.harmonize_assignment", "lms.harmonize_assignment",
            "lms.harmonize_assignment_submissions", "lms.harmonize_assignment_submissions", "lms.harmonize_assignment_submissions",
        ])
        #expect(report.steps.compactMap(\.sourceSystem) == ["Canvas", "Google", "Schoology", "Canvas", "Google", "Schoology"])
        #expect(try w.userLinks() == ["c1": "S1", "c2": "-", "c3": "-", "t1": "S2", "s1": "S2", "g1": "S3", "g2": "-"])
        #expect(try w.sectionLinks() == ["cs1": "SIS-C1", "cs2": "-", "gs1": "SIS-G1", "ss1": "SIS-S1", "ss2": "-"])
        // What is left unmatched is in the views, and counted.
        #expect(Set(try w.query("SELECT sourcesystemidentifier FROM lmsx.exceptions_lmsuser").map { $0[0]! }) == ["c2", "c3", "g2"])
        #expect(Set(try w.query("SELECT sourcesystemidentifier FROM lmsx.exceptions_lmssection").map { $0[0]! }) == ["cs2", "ss2"])
        #expect(report.exceptions?.unmatchedUsers == 3)
        #expect(report.exceptions?.unmatchedSections == 2)
    }

    /// Only the LMSs asked for run; a name without procedures is a failed step, and the rest still run.
    @Test func onlyTheSourceSystemsAskedForRun() throws {
        let (w, ods) = try World.harmonizerWorld()
        try ods.student("S1")
        try w.write("users/\(w.stamp(1))", .users, [LMSRow.user("c1", "Canvas", sis: "S1"), LMSRow.user("s1", "Schoology", sis: "S1")])
        try w.flush()
        let report = try w.harmonizer().harmonize(sourceSystems: ["Schoology", "Moodle"])
        #expect(report.steps.count == 5)
        #expect(report.failures.map(\.sourceSystem) == ["Moodle"])
        #expect(report.failures.first?.failure?.contains("Moodle") == true)
        #expect(try w.userLinks() == ["c1": "-", "s1": "S1"])
    }
}
