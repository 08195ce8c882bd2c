import Agent
import Foundation
import Logging
import Stores
import Testing

/// The agent harmonizes on a real PostgreSQL with the minimal ODS (ODSFixture.swift): when it runs,
/// what `--no-harmonize`, `lms-agent harmonize`, a failing or an overriding script of the operator's,
/// and `--exceptions-report-directory` do, and what `status` shows.
@Suite(.enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct HarmonizeAgentTests {
    /// Canvas users u1-u3 (SIS ids S1-S3) and sections c1, c2 (SIS SEC-1, SEC-2), with one assignment.
    func writeCanvas(_ w: World, day: Int = 1, users: Int = 3) throws {
        try w.write("users/\(w.stamp(day))", .users, (1...users).map { LMSRow.user("u\($0)", "Canvas", sis: "S\($0)", email: "u\($0)@school.example") })
        try w.write("sections/\(w.stamp(day))", .sections, [LMSRow.section("c1", "Canvas", sis: "SEC-1"), LMSRow.section("c2", "Canvas", sis: "SEC-2")])
        try w.write("section=c1/assignments/\(w.stamp(day))", .assignments, [LMSRow.assignment("a1", "Canvas", section: "c1")])
    }

    /// A world with the ODS: students S1, S2, section SEC-1, the shipped descriptors.
    func world(log: LogCapture? = nil) throws -> (World, ODS) {
        let w = try World(engine: .postgresql)
        if let log { w.logger = log.logger }
        let ods = try ODS(w)
        try ods.install()
        try ods.student("S1", email: "u1@school.example")
        try ods.student("S2")
        try ods.section("SEC-1")
        try ods.shippedDescriptors(["Canvas"])
        return (w, ods)
    }

    @Test func aFlushThatChangedDataHarmonizesAndOneThatChangedNothingDoesNot() throws {
        let (w, ods) = try world()
        try writeCanvas(w)
        let first = try w.flush()
        #expect(first.exitCode == .success)
        let pass = try #require(first.harmonization)
        #expect(pass.trigger == .changedData && pass.sourceSystems == ["Canvas"] && !pass.failed, "\(pass)")
        #expect(try w.userLinks() == ["u1": "S1", "u2": "S2", "u3": "-"])
        #expect(try w.sectionLinks() == ["c1": "SEC-1", "c2": "-"])
        #expect(pass.exceptions?.unmatchedUsers == 1 && pass.exceptions?.unmatchedSections == 1)
        // The ODS gains S3, but no LMS data changes: no pass.
        try ods.student("S3")
        let second = try w.flush()
        #expect(second.exitCode == .success && second.harmonization == nil)
        #expect(try w.userLinks()["u3"] == "-")
        // A new users snapshot (u4): a pass, and u3 is linked now.
        try w.write("users/\(w.stamp(2))", .users, (1...4).map { LMSRow.user("u\($0)", "Canvas", sis: "S\($0)") })
        let third = try w.flush()
        #expect(third.harmonization != nil)
        #expect(try w.userLinks()["u3"] == "S3")
    }

    @Test func noHarmonizeSkipsItAndTheHarmonizeCommandRunsItAlone() throws {
        let (w, _) = try world()
        try writeCanvas(w)
        let flush = try w.runAgent(["flush", "--no-harmonize"], logLevel: "INFO")
        #expect(flush.code == 0, "\(flush.output)")
        #expect(!flush.stdout.contains("harmonize:"))
        #expect(try w.userLinks() == ["u1": "-", "u2": "-", "u3": "-"])
        let status = try w.runAgent(["status"], logLevel: "INFO")
        #expect(status.stdout.contains("harmonization: no pass yet") && status.stdout.contains("the next flush, resume or watch round harmonizes"))

        let run = try w.runAgent(["harmonize"], logLevel: "INFO")
        #expect(run.code == 0, "\(run.output)")
        #expect(run.stdout.contains("harmonize: Canvas:"), "\(run.stdout)")
        #expect(try w.userLinks() == ["u1": "S1", "u2": "S2", "u3": "-"])
        #expect(try w.agent(csvPath: false).status().harmonization?.trigger == .command)
        #expect(try w.agent(csvPath: false).status().harmonizationDue == false)
    }

    @Test func aDatabaseWithoutTheODSSaysSoOnceAndLoads() throws {
        let w = try World(engine: .postgresql)
        let log = LogCapture()
        w.logger = log.logger
        try writeCanvas(w)
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.count("LMSUser") == 3)
        #expect(try w.count("LMSSection") == 2)
        let said = log.messages(atLeast: .notice).filter { $0.contains("harmonization") }
        #expect(said.count == 1 && said[0].contains("harmonization skipped") && said[0].contains("edfi."), "\(said)")
        #expect(try w.agent(csvPath: false).status().harmonization?.skipped?.contains("ODS") == true)
        // Through the binary: exit 0, the one line on standard error.
        try w.write("users/\(w.stamp(2))", .users, (1...4).map { LMSRow.user("u\($0)", "Canvas", sis: "S\($0)") })
        let cli = try w.runAgent(["flush"], logLevel: "INFO")
        #expect(cli.code == 0)
        #expect(cli.stderr.components(separatedBy: "harmonization skipped").count == 2, "\(cli.stderr)")
        #expect(try w.count("LMSUser") == 4)
    }

    /// An operator's script that breaks one procedure: the others still run, the failure names the
    /// procedure and the server's message, and the exit code is 7.
    @Test func aFailingProcedureIsNamedTheOthersRunAndTheExitCodeIsSeven() throws {
        let (w, _) = try world()
        w.migrationsDir = w.dir + "/migrations"
        try FileManager.default.createDirectory(atPath: w.migrationsDir!, withIntermediateDirectories: true)
        try """
            CREATE OR REPLACE PROCEDURE lms.harmonize_lmssection_canvas() LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'section matching is broken on purpose'; END $$;
            """.write(toFile: w.migrationsDir! + "/5000_break_sections.sql", atomically: true, encoding: .utf8)
        let log = LogCapture()
        w.logger = log.logger
        try writeCanvas(w)
        let run = try w.flush()
        #expect(run.exitCode == .harmonizationFailed && run.exitCode.rawValue == 7)
        #expect(try w.count("LMSUser") == 3)   // loaded all the same
        #expect(try w.count("Assignment") == 1)
        #expect(try w.userLinks()["u1"] == "S1")                                     // the users' procedure ran
        #expect(try w.sectionLinks()["c1"] == "-")
        let failures = run.harmonization?.report?.failures ?? []
        #expect(failures.map(\.procedure) == ["lms.harmonize_lmssection_canvas"], "\(failures)")
        #expect(failures.first?.failure?.contains("section matching is broken on purpose") == true)
        #expect(log.messages(atLeast: .error).contains { $0.contains("lms.harmonize_lmssection_canvas") && $0.contains("broken on purpose") })
        // Still owed: the next run tries again, and exits 7 again; status names it.
        let status = try w.agent(csvPath: false).status()
        #expect(status.harmonizationDue && status.harmonization?.failed == true)
        let cli = try w.runAgent(["flush"], logLevel: "INFO")
        #expect(cli.code == 7, "\(cli.output)")
        #expect(cli.stdout.contains("harmonization failed") && cli.stdout.contains("lms.harmonize_lmssection_canvas"))
        let text = try w.runAgent(["status"], logLevel: "INFO")
        #expect(text.stdout.contains("FAILED") && text.stdout.contains("broken on purpose"))
    }

    /// Customisation without code: a script of the operator's replaces the Canvas users' matching
    /// (by e-mail instead of SIS id), and the links change.
    @Test func anOperatorsScriptReplacingAProcedureChangesTheLinks() throws {
        let (w, _) = try world()
        // u1 has no SIS id, but its e-mail is S1's.
        try w.write("users/\(w.stamp(1))", .users, [LMSRow.user("u1", "Canvas", sis: nil, email: "u1@school.example")])
        try w.write("sections/\(w.stamp(1))", .sections, [LMSRow.section("c1", "Canvas", sis: "SEC-1")])
        #expect(try w.flush().exitCode == .success)
        #expect(try w.userLinks() == ["u1": "-"])
        w.migrationsDir = w.dir + "/migrations"
        try FileManager.default.createDirectory(atPath: w.migrationsDir! + "/postgresql", withIntermediateDirectories: true)
        try """
            CREATE OR REPLACE PROCEDURE lms.harmonize_lmsuser_canvas() LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE lms.LMSUser u SET EdFiStudentId = s.Id
                FROM edfi.StudentEducationOrganizationAssociationElectronicMail e JOIN edfi.Student s ON s.StudentUSI = e.StudentUSI
                WHERE u.SourceSystem = 'Canvas' AND u.EdFiStudentId IS NULL AND u.DeletedAt IS NULL
                  AND lower(u.EmailAddress) = lower(e.ElectronicMailAddress);
            END $$;
            """.write(toFile: w.migrationsDir! + "/postgresql/5000_match_canvas_users_by_email.sql", atomically: true, encoding: .utf8)
        let run = try w.runAgent(["harmonize"], logLevel: "INFO")
        #expect(run.code == 0, "\(run.output)")
        #expect(try w.userLinks() == ["u1": "S1"])
    }

    @Test func exceptionReportsAreWrittenAndTheCountsAreInStatusJSON() throws {
        let (w, _) = try world()
        try writeCanvas(w)
        let reports = w.dir + "/exceptions"
        let flush = try w.runAgent(["flush", "--exceptions-report-directory", reports], logLevel: "INFO")
        #expect(flush.code == 0, "\(flush.output)")
        #expect(flush.stderr.contains("WARNING") && flush.stderr.contains("1 LMS user(s) and 1 section(s) are not linked"), "\(flush.stderr)")
        for folder in ["sections", "users", "descriptors"] {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: reports + "/" + folder)) ?? []
            #expect(files.count == 1 && files[0].hasSuffix(".csv"), "\(folder): \(files)")
        }
        let users = try String(contentsOfFile: reports + "/users/" + FileManager.default.contentsOfDirectory(atPath: reports + "/users")[0], encoding: .utf8)
        #expect(users.contains("u3") && !users.contains("u1,"))

        let status = try w.runAgent(["status", "--json"], logLevel: "INFO")
        #expect(status.code == 0)
        struct Out: Decodable { var harmonization: HarmonizationPass?; var harmonizationDue: Bool }
        let out = try JSONDecoder().decode(Out.self, from: Data(status.stdout.utf8))
        let counts = try #require(out.harmonization?.exceptions)
        #expect(counts.unmatchedUsers == 1 && counts.unmatchedSections == 1)
        #expect(out.harmonization?.reportFiles.count == 3 && out.harmonizationDue == false)
    }
}
